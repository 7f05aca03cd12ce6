"""A Pygments lexer for exportdsl policies (``.xpol``), for Sphinx and other Pygments users.

Pygments finds it through the ``pygments.lexers`` entry point declared in ``pyproject.toml``, so
``.. code-block:: xpol`` in Sphinx and ``pygmentize -l xpol`` work once exportdsl is installed.
Nothing else in the package imports this module, so Pygments is not a dependency of exportdsl
itself (it comes with the ``docs`` and ``test`` extras).

Keywords and operators follow ``grammar/exportdsl.lark``; ``tests/test_highlight.py`` checks every
literal of the grammar against this lexer, so the two cannot drift apart.

Token types, as a stylesheet sees them:

=========================  ==============================================================
``Comment.Single``         ``# ...`` to the end of the line
``String.Double``          ``"..."``, with ``String.Escape`` for ``\\" \\\\ \\n \\t``
``Literal.Date``           ``2025-12-01``
``Number.Percent``         ``0.1%`` (a subtype of ``Number``)
``Number.Integer/Float``   ``300``, ``301.5``
``Keyword.Declaration``    ``policy``, ``fact``, ``rule``, ``effective`` ... (declarations)
``Keyword.Type``           ``bool``, ``percent``, ``date`` ... in a fact's type
``Keyword.Constant``       ``true``, ``false``
``Keyword``                ``applies``
``Operator.Word``          ``and``, ``or``, ``not``, ``in``, ``contains``, ``any`` ...
``Operator``               ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` ``->``
``Name.Constant``          decisions: after ``->``, on the ``decisions`` and ``default`` lines
``Name.Function``          rule and suspension ids (declared, overridden, suspended, applies)
``Name.Variable``          the name declared by ``fact``, ``set`` or ``condition``
``Punctuation``            ``{ } ( ) , :``
``Error``                  a character that starts no token (the parser's E101)
=========================  ==============================================================
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import (
    Comment, Error, Keyword, Literal, Name, Number, Operator, Punctuation, String, Whitespace,
)

__all__ = ["XpolLexer", "KEYWORDS", "DECLARATION_KEYWORDS", "OPERATOR_WORDS", "CONSTANTS", "TYPE_NAMES"]

#: Keywords that start or qualify a declaration (``grammar/exportdsl.lark``).
DECLARATION_KEYWORDS = (
    "policy", "version", "decisions", "default", "dated", "by", "extends", "fact", "enum", "set", "of",
    "condition", "rule", "title", "cite", "effective", "until", "overrides", "suspension", "suspends",
)
#: Keywords that combine or test conditions.
OPERATOR_WORDS = ("and", "or", "not", "in", "contains", "any", "all", "is", "empty")
#: The constant conditions and values.
CONSTANTS = ("true", "false")
#: Every reserved word of the language.
KEYWORDS = DECLARATION_KEYWORDS + OPERATOR_WORDS + CONSTANTS + ("applies",)
#: Type names of facts (not reserved: highlighted only where a type is expected).
TYPE_NAMES = ("bool", "integer", "number", "percent", "date", "country", "string")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"          # a word ends here (names are ASCII, as in the grammar)
_WS = r"(\s+)"
_OWS = r"(\s*)"


class XpolLexer(RegexLexer):
    """Lexer for exportdsl policy files (``.xpol``)."""

    name = "exportdsl policy"
    aliases = ["xpol", "exportdsl"]
    filenames = ["*.xpol"]
    mimetypes = ["text/x-xpol"]
    version_added = "0.1.0 (exportdsl)"

    tokens = {
        "root": [
            include("space"),
            # declarations whose name gets its own token
            (r"(rule|suspension)" + _WS + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(fact|condition)" + _WS + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(set)" + _WS + "(?!of" + _END + ")(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(decisions)" + _WS + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Constant), "decision-list"),
            (r"(default)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (r"(overrides|suspends)" + _WS + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Function), "rule-list"),
            (r"(applies)" + _OWS + r"(\()", bygroups(Keyword, Whitespace, Punctuation), "applies"),
            # a fact's type
            (r"(:)" + _OWS + "(" + "|".join(TYPE_NAMES) + ")" + _END,
             bygroups(Punctuation, Whitespace, Keyword.Type)),
            (r"(of)" + _WS + "(" + "|".join(TYPE_NAMES) + ")" + _END,
             bygroups(Keyword.Declaration, Whitespace, Keyword.Type)),
            # the decision of a rule
            (r"(->)" + _OWS + "(" + _NAME + ")", bygroups(Operator, Whitespace, Name.Constant)),
            (words(DECLARATION_KEYWORDS, suffix=_END), Keyword.Declaration),
            (words(OPERATOR_WORDS, suffix=_END), Operator.Word),
            (words(CONSTANTS, suffix=_END), Keyword.Constant),
            (words(("applies",), suffix=_END), Keyword),
            include("literals"),
            (r"->|<=|>=|!=|=|<|>", Operator),
            (r"[{}(),:]", Punctuation),
            (_NAME, Name),
            (r".", Error),
        ],
        "space": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        "literals": [
            (r'"', String.Double, "string"),
            (r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _END, Literal.Date),
            (r"[+-]?[0-9]+(\.[0-9]+)?%", Number.Percent),
            (r"[+-]?[0-9]+\.[0-9]+" + _END, Number.Float),
            (r"[+-]?[0-9]+" + _END, Number.Integer),
        ],
        "string": [
            (r'[^"\\\n]+', String.Double),
            (r'\\["\\nt]', String.Escape),
            (r'"', String.Double, "#pop"),
            (r"\\.?", Error),              # an escape the language does not have (E105)
            (r"\n", Error, "#pop"),        # a string runs to the end of the line (E105)
        ],
        "decision-list": [
            (_OWS + "(<)" + _OWS + "(" + _NAME + ")", bygroups(Whitespace, Operator, Whitespace, Name.Constant)),
            default("#pop"),
        ],
        "rule-list": [
            (_OWS + "(,)" + _OWS + "(" + _NAME + ")", bygroups(Whitespace, Punctuation, Whitespace, Name.Function)),
            default("#pop"),
        ],
        "applies": [
            include("space"),
            (_NAME, Name.Function),
            (r",", Punctuation),
            (r"\)", Punctuation, "#pop"),
            default("#pop"),
        ],
    }
