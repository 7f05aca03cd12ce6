"""Highlighting: the Pygments lexer (``exportdsl.highlight``) and the TextMate grammar
(``editors/vscode``) both follow ``grammar/exportdsl.lark``.

The keyword and operator lists are read from the grammar here, so a word added to the grammar
(say ``contains any not in``) fails these tests until both highlighters know it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Error, Keyword, Name, Number, Operator, Punctuation, String, Token  # noqa: E402

from exportdsl.highlight import KEYWORDS, XpolLexer  # noqa: E402
from exportdsl.operators import RESERVED  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "exportdsl.lark"
VSCODE = ROOT / "editors" / "vscode"
TMLANGUAGE = VSCODE / "syntaxes" / "xpol.tmLanguage.json"


def grammar_literals() -> set[str]:
    """Every quoted literal of the grammar (keywords, operators, punctuation), comments and
    regular expressions left out."""
    literals = set()
    for line in GRAMMAR.read_text(encoding="utf-8").splitlines():
        line = line.split("//", 1)[0]
        line = re.sub(r"/(?:[^/\\\n]|\\.)+/[imslux]*", "", line)  # terminal regexps: /.../
        literals.update(re.findall(r'"((?:[^"\\]|\\.)*)"', line))
    return literals


def grammar_keywords() -> set[str]:
    return {lit for lit in grammar_literals() if re.fullmatch(r"[A-Za-z_]+", lit)}


def grammar_symbols() -> set[str]:
    return grammar_literals() - grammar_keywords()


def tokens(text: str) -> list[tuple]:
    return [(tt, value) for tt, value in XpolLexer().get_tokens(text) if value.strip()]


def test_grammar_literals_are_found():
    assert {"rule", "contains", "->", "<=", "{", ":"} <= grammar_literals()
    assert "STRING" not in grammar_literals() and not any('"' in lit for lit in grammar_literals())


def test_lexer_keywords_are_the_grammars_keywords():
    assert set(KEYWORDS) == grammar_keywords()
    assert set(KEYWORDS) == RESERVED  # the checker's reserved words (E216) agree too


@pytest.mark.parametrize("word", sorted(grammar_keywords()))
def test_every_grammar_keyword_is_highlighted_as_a_keyword(word):
    [(tt, value)] = tokens(word)
    assert value == word and (tt in Keyword or tt in Operator.Word), (word, tt)
    # inside a longer name it is not a keyword
    [(tt, value)] = tokens(f"{word}_x")
    assert tt is Name


@pytest.mark.parametrize("symbol", sorted(grammar_symbols()))
def test_every_grammar_operator_is_highlighted_as_an_operator_or_punctuation(symbol):
    [(tt, value)] = tokens(symbol)
    assert value == symbol and (tt in Operator or tt in Punctuation), (symbol, tt)


@pytest.mark.parametrize("path", sorted((ROOT / "policies").glob("*.xpol")), ids=lambda p: p.name)
def test_reference_policies_lex_without_errors(path):
    text = path.read_text(encoding="utf-8")
    toks = list(XpolLexer().get_tokens(text))
    assert not [v for tt, v in toks if tt in Error]
    assert "".join(v for _, v in toks) == text if text.endswith("\n") else text + "\n"


def test_token_kinds():
    text = '''# comment
policy "p\\"q" version "1"
decisions a < b
default a
dated by d
fact d: date
fact s: set of country
set S = {CN, "x"}
condition c = s contains any S
rule R1 { effective 2025-12-01 overrides R2, R3 applies(R2, R3) and p >= 0.1% and n > -3.5 or m = 2 -> b }
'''
    got = tokens(text)
    kinds = {value: tt for tt, value in got}
    assert kinds["# comment"] in Token.Comment
    assert (String.Escape, '\\"') in got
    assert kinds["2025-12-01"] is Token.Literal.Date
    assert kinds["0.1%"] in Number and kinds["-3.5"] in Number and kinds["2"] in Number
    assert kinds["R1"] is Name.Function and kinds["R3"] is Name.Function
    assert [v for tt, v in got if tt is Name.Function] == ["R1", "R2", "R3", "R2", "R3"]
    assert [v for tt, v in got if tt is Name.Constant] == ["a", "b", "a", "b"]  # decisions, default, -> b
    assert kinds["country"] in Keyword.Type and kinds["date"] in Keyword.Type
    assert [v for tt, v in got if tt is Name.Variable] == ["d", "s", "S", "c"]  # declared names
    assert kinds["->"] in Operator and kinds[">="] in Operator
    assert not [v for tt, v in got if tt in Error]


def test_errors_are_marked_where_the_parser_rejects_characters():
    assert (Error, "&") in tokens("a = CN & b")
    assert any(tt in Error for tt, _ in tokens('x = "bad\\r escape"'))
    assert any(tt in Error for tt, _ in XpolLexer().get_tokens('x = "unterminated\ny'))


def test_registered_with_pygments_by_entry_point():
    assert isinstance(get_lexer_by_name("xpol"), XpolLexer)
    assert isinstance(get_lexer_by_name("exportdsl"), XpolLexer)
    assert isinstance(get_lexer_for_filename("policy.xpol"), XpolLexer)


def test_the_package_does_not_import_the_lexer():
    """Pygments stays out of the core: only Pygments (via the entry point) imports the module."""
    for path in (ROOT / "src" / "exportdsl").rglob("*.py"):
        if path.name != "highlight.py":
            text = path.read_text(encoding="utf-8")
            assert "pygments" not in text and "highlight import" not in text, path


# ---- the TextMate grammar for VS Code-family editors ------------------------------------------

def _tm_patterns(node):
    """Every (key, regex) in the TextMate grammar."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end", "while") and isinstance(value, str):
                yield key, value
            else:
                yield from _tm_patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _tm_patterns(item)


def _tm_words(regex: str) -> set[str]:
    """The words of a ``\\b(?:a|b|c)\\b``-style alternation."""
    inner = re.search(r"\(\?:([A-Za-z_|]+)\)", regex)
    return set(inner.group(1).split("|")) if inner else set()


def test_vscode_extension_files_are_valid():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    [language] = package["contributes"]["languages"]
    assert language["id"] == "xpol" and ".xpol" in language["extensions"]
    [grammar] = package["contributes"]["grammars"]
    assert grammar["language"] == "xpol" and (VSCODE / grammar["path"]).resolve() == TMLANGUAGE.resolve()
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"]
    assert (VSCODE / "README.md").is_file()


def test_tmlanguage_regexes_compile():
    data = json.loads(TMLANGUAGE.read_text(encoding="utf-8"))
    assert data["scopeName"] == "source.xpol"
    patterns = list(_tm_patterns(data))
    assert len(patterns) > 10
    for key, regex in patterns:
        re.compile(regex)


def test_tmlanguage_keywords_match_the_grammar():
    data = json.loads(TMLANGUAGE.read_text(encoding="utf-8"))
    words = set()
    for name, rule in data["repository"].items():
        if name.startswith("keywords"):
            for pattern in rule["patterns"]:
                words |= _tm_words(pattern["match"])
    assert words == grammar_keywords()


def test_tmlanguage_scopes_on_a_policy():
    """A small TextMate-like tokenizer over the grammar's top-level patterns (no begin/end
    nesting beyond strings) finds keywords, decisions and rule ids where the lexer does."""
    data = json.loads(TMLANGUAGE.read_text(encoding="utf-8"))
    text = (ROOT / "policies" / "quickstart.xpol").read_text(encoding="utf-8")
    found = set()
    for name, rule in data["repository"].items():
        for pattern in rule.get("patterns", [rule]):
            if "match" in pattern:
                for m in re.finditer(pattern["match"], text):
                    found.add((name, m.group(0).split()[0] if m.group(0).split() else m.group(0)))
    assert ("keywords-declaration", "rule") in found
    assert ("keywords-operator", "contains") in found
    assert any(name == "rule-declaration" for name, _ in found)
    assert any(name == "decision" for name, _ in found)
