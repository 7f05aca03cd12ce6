"""The Lark path of the parser: the grammar's own LALR parser, its tree converted to the syntax tree,
and Lark's errors worded as our diagnostics.

:mod:`exportdsl.parser` reads most text with the hand-written :mod:`exportdsl.parser_fast` and comes
here for the rest: every text with a syntax error (so every syntax diagnostic is worded here), and
the rare valid text the fast reader leaves alone. Lark is imported by this module only."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import lark
from lark import Lark, Token, Tree
from lark.visitors import Transformer

from . import ast
from .errors import Diagnostic, ParseError
from .escape import BIDI_CONTROLS
from .operators import CompareOp, LiteralKind, Quantifier
from .parser_cache import private_cache_file
from .parser_fast import MAX_NESTING, MAX_NUMBER_CHARS
from .source import Source

_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_WORD = re.compile(r"[A-Za-z0-9_]*")
# Tokens after which `not` is part of `x not in`, `is not empty` or `contains any not in`.
_POSTFIX_NOT_AFTER = frozenset({"NAME", "IS", "ANY"})

_lexing = threading.local()


class _LexState:
    """What one parse's lexer callbacks and post-lexer need: the text, and where comments go."""

    __slots__ = ("source", "text", "comments")

    def __init__(self, source: Source, text: str):
        self.source, self.text, self.comments = source, text, []


def grammar_text() -> str:
    """The grammar: the copy shipped inside the package, else the repository's ``grammar/`` file."""
    shipped = resources.files("exportdsl").joinpath("grammar/exportdsl.lark")
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    repo_copy = Path(__file__).resolve().parents[2] / "grammar" / "exportdsl.lark"
    return repo_copy.read_text(encoding="utf-8")


def _collect_comment(token: Token) -> Token:
    state = getattr(_lexing, "state", None)
    if state is not None:
        state.comments.append(token)
    return token


class _Guard(lark.lark.PostLex):
    """Checks each token as it is lexed, before the parser sees it, so that hostile text fails fast:

    * a keyword must end at a word boundary (the contextual lexer would otherwise read ``setd`` as
      ``set d`` where only keywords are expected);
    * a number or percent literal is at most :data:`MAX_NUMBER_CHARS` long;
    * parentheses and ``not`` nested deeper than :data:`MAX_NESTING` stop the parse at once. What is
      counted here (open parentheses and the unbroken run of prefix ``not``) is never more than the
      depth that :func:`_check_nesting` measures exactly on the tree, so no valid text is refused.
    """

    always_accept = ()

    def process(self, stream):
        state: _LexState = _lexing.state
        text, source = state.text, state.source
        keywords = _keyword_types()
        parens: list[bool] = []   # per open parenthesis: does it count as a nesting level?
        depth = run = 0           # counted open parentheses; prefix `not`s in the current run
        previous = None
        for token in stream:
            kind = token.type
            if kind in keywords:
                end = token.end_pos
                if end < len(text) and _WORD_CHAR.match(text, end):
                    raise _glued_keyword(source, token)
            if kind == "NOT":
                if previous in _POSTFIX_NOT_AFTER:
                    run = 0
                elif previous in ("NOT", "LPAR"):
                    run += 1
                else:
                    run = 1
            elif kind == "LPAR":
                counted = previous != "APPLIES"
                parens.append(counted)
                depth += counted
                if previous not in ("NOT", "LPAR"):
                    run = 0
            elif kind == "RPAR":
                if parens and parens.pop():
                    depth -= 1
                run = 0
            else:
                run = 0
                if kind in ("NUMBER", "PERCENT") and len(token) > MAX_NUMBER_CHARS:
                    raise ParseError(Diagnostic(
                        "E106", f"number of {len(token):,} characters is longer than the limit of "
                                f"{MAX_NUMBER_CHARS}", source.span(token.start_pos, token.end_pos),
                        help="write the value with fewer digits",
                    ))
            if depth + run > MAX_NESTING:
                raise _too_deep(source, token.start_pos)
            previous = kind
            yield token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = grammar_text()
    return Lark(
        grammar,
        parser="lalr",
        start=["start", "condition_only"],
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": _collect_comment},
        cache=private_cache_file(grammar, lark.__version__) or False,   # LALR tables kept between runs
        postlex=_Guard(),
    )


_FRIENDLY = {
    "NAME": "a name",
    "STRING": 'a "string"',
    "NUMBER": "a number",
    "PERCENT": "a percentage like 0.1%",
    "DATE": "a date like 2025-12-01",
    "COMPARE_OP": "a comparison (=, !=, <, <=, >, >=)",
    "$END": "the end of the text",
}


@lru_cache(maxsize=None)
def _terminal_names() -> dict[str, str]:
    names = dict(_FRIENDLY)
    for term in _parser().terminals:
        if term.name not in names and isinstance(term.pattern, lark.lexer.PatternStr):
            names[term.name] = f"'{term.pattern.value}'"
    return names


def _describe_expected(expected) -> str:
    names = _terminal_names()
    shown = sorted({names.get(t, t) for t in expected if not t.startswith("__ANON") or t in names})
    if len(shown) > 8:
        shown = shown[:8] + ["..."]
    return ", ".join(shown)


@lru_cache(maxsize=1)
def _keywords() -> frozenset[str]:
    return frozenset(
        term.pattern.value
        for term in _parser().terminals
        if isinstance(term.pattern, lark.lexer.PatternStr) and term.pattern.value.isalpha()
    )


@lru_cache(maxsize=1)
def _keyword_types() -> frozenset[str]:
    return frozenset(
        term.name
        for term in _parser().terminals
        if isinstance(term.pattern, lark.lexer.PatternStr) and term.pattern.value.isalpha()
    )


def _glued_keyword(source: Source, token: Token) -> ParseError:
    word = _WORD.match(source.text, token.start_pos).group()
    return ParseError(Diagnostic(
        "E100", f"unexpected {word!r}", source.span(token.start_pos, token.start_pos + len(word)),
        help=f"a keyword such as '{token}' ends at a space or a symbol; "
             f"if you meant '{token}' followed by a name, write '{token} {word[len(token):]}'",
    ))


def _too_deep(source: Source, at: int) -> ParseError:
    return ParseError(Diagnostic(
        "E102", f"condition nested more than {MAX_NESTING} levels deep",
        source.span(at, at + 1),
        help="split the condition into named conditions",
    ))


def _syntax_error(source: Source, exc: lark.exceptions.UnexpectedInput) -> ParseError:
    pos = getattr(exc, "pos_in_stream", None)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = source.text[exc.pos_in_stream]
        if char == '"':
            return ParseError(Diagnostic(
                "E105", "unterminated string, or a string with a bad escape",
                source.span(exc.pos_in_stream, exc.pos_in_stream + 1),
                help='strings end on the same line; inside them write \\" \\\\ \\n or \\t',
            ))
        at = exc.pos_in_stream
        if char in BIDI_CONTROLS:
            return ParseError(Diagnostic(
                "E107", f"bidirectional control character U+{ord(char):04X} outside a string or comment",
                source.span(at, at + 1),
                help="delete it: it makes the code display in a different order from how it is read "
                     "(Trojan Source)",
            ))
        help_text = f"expected {_describe_expected(exc.allowed)}" if exc.allowed else None
        if char == "%" and source.text[:at].rstrip(" \t")[-1:].isdigit():
            number = re.search(r"[0-9.]+$", source.text[:at].rstrip(" \t")).group()
            help_text = f"write the percent sign right after the number, without a space: {number}%"
        return ParseError(Diagnostic(
            "E101", f"unexpected character {char!r}", source.span(at, at + 1), help=help_text,
        ))
    token = getattr(exc, "token", None)
    if isinstance(exc, lark.exceptions.UnexpectedEOF) or token is None or token.type == "$END":
        end = len(source.text.rstrip())
        return ParseError(Diagnostic(
            "E100", "unexpected end of text", source.span(end, end + 1),
            help=_missing_decision_help(source, end) or f"expected {_describe_expected(exc.expected)}",
        ))
    start = token.start_pos if token.start_pos is not None else (pos or 0)
    span = source.span(start, start + max(1, len(str(token))))
    expected = getattr(exc, "expected", None) or ()
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        try:
            expected = interactive.accepts() or expected
        except Exception:  # noqa: BLE001 - fall back to the parser table's own list
            pass
    help_text = f"expected {_describe_expected(expected)}"
    if str(token) in _keywords() and "NAME" in expected:
        help_text = f"'{token}' is a reserved word and cannot be used as a name; " + help_text
    if token.type in _RULE_META:
        help_text = (f"'{token}' goes at the top of the rule, before the condition: "
                     f"rule ID {{ title \"...\" cite \"...\" CONDITION -> DECISION }}")
    help_text = _missing_decision_help(source, start) or help_text
    return ParseError(Diagnostic("E100", f"unexpected {str(token)!r}", span, help=help_text))


_RULE_META = frozenset({"TITLE", "CITE", "EFFECTIVE", "UNTIL", "OVERRIDES"})
_DECISIONS_LINE = re.compile(r"^[ \t]*decisions[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:[ \t]*<[ \t]*[A-Za-z_][A-Za-z0-9_]*)*)",
                             re.MULTILINE)


def _missing_decision_help(source: Source, at: int) -> str | None:
    """For text that stops right after ``->``: what goes there, with the decisions the text declares."""
    if not source.text[:at].rstrip().endswith("->"):
        return None
    found = _DECISIONS_LINE.search(source.text)
    names = ", ".join(n.strip() for n in found.group(1).split("<")) if found else None
    listed = f"one of the declared decisions: {names}" if names else "a decision declared by 'decisions'"
    return f"a rule's condition ends with -> DECISION; after '->' write {listed}"


def _first_position(tree: Tree, source: Source) -> int:
    """The offset of the first token under a tree (found without recursion)."""
    stack, best = [tree], None
    while stack:
        node = stack.pop()
        if isinstance(node, Token):
            if node.start_pos is not None and (best is None or node.start_pos < best):
                best = node.start_pos
        elif isinstance(node, Tree):
            stack.extend(node.children)
    return best if best is not None else 0


def _check_nesting(source: Source, tree: Tree) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("or_expr", "and_expr", "not_expr", "paren"):
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(source, _first_position(node, source))
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


def _parse_tree(source: Source, text: str, start: str) -> tuple[Tree, list[Token]]:
    """The Lark tree of ``text`` (the source's text, size-checked, a leading BOM read as a space)."""
    state = _LexState(source, text)
    _lexing.state = state
    try:
        tree = _parser().parse(text, start=start)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(source, exc) from None
    finally:
        _lexing.state = None
    _check_nesting(source, tree)
    return tree, state.comments


def read_module(source: Source, text: str) -> tuple[tuple, tuple]:
    """The declarations and comments of a whole policy; raises :class:`ParseError`."""
    tree, comments = _parse_tree(source, text, "start")
    module = _transform(source, tree)
    kept = tuple(ast.Comment(str(tok), span=source.span(tok.start_pos, tok.end_pos)) for tok in comments)
    return module.decls, kept


def read_condition(source: Source, text: str) -> ast.Expr:
    """The syntax tree of a condition alone; raises :class:`ParseError`."""
    tree, _ = _parse_tree(source, text, "condition_only")
    return _transform(source, tree)


def _transform(source: Source, tree: Tree):
    try:
        return _ToAst(source).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, ParseError):
            raise exc.orig_exc from None
        raise


def _unescape(source: Source, token: Token) -> str:
    body = str(token)[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _leaves(items):
    for item in items:
        if isinstance(item, Token):
            if item.start_pos is not None:
                yield item.start_pos, item.end_pos
        elif isinstance(item, tuple):
            yield from _leaves(item)
        else:
            span = getattr(item, "span", None)
            if span is not None:
                yield span.start, span.end


class _ToAst(Transformer):
    """Lark tree to AST; every rule has a method, so no raw tree leaks through.

    Recursive, which is safe: the nesting check has bounded the tree's depth before it runs.
    """

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def __default__(self, data, children, meta):
        raise AssertionError(f"no AST conversion for grammar rule {data!r}")

    # ---- helpers
    def _span(self, items):
        """The span from the first to the last token under these children (keywords excepted)."""
        start = end = None
        for item in _leaves(items):
            if start is None or item[0] < start:
                start = item[0]
            if end is None or item[1] > end:
                end = item[1]
        return None if start is None else self.source.span(start, end)

    def _tok_span(self, tok: Token):
        return self.source.span(tok.start_pos, tok.end_pos)

    def _ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), span=self._tok_span(tok))

    # ---- module
    def start(self, items):
        return ast.Module(tuple(items), span=self._span(items))

    def condition_only(self, items):
        return items[0]

    def policy_decl(self, items):
        name = _unescape(self.source, items[0])
        version = _unescape(self.source, items[1]) if len(items) > 1 else None
        return ast.PolicyDecl(name, version, span=self._span(items))

    def decisions_decl(self, items):
        return ast.DecisionsDecl(tuple(self._ident(t) for t in items), span=self._span(items))

    def default_decl(self, items):
        return ast.DefaultDecl(self._ident(items[0]), span=self._span(items))

    def dated_decl(self, items):
        return ast.DatedDecl(self._ident(items[0]), span=self._span(items))

    def fact_decl(self, items):
        default = items[2] if len(items) > 2 else None
        return ast.FactDecl(self._ident(items[0]), items[1], default, span=self._span(items))

    def scalar_type(self, items):
        return ast.TypeExpr(name=str(items[0]), span=self._span(items))

    def enum_type(self, items):
        return ast.TypeExpr(enum_values=tuple(items), span=self._span(items))

    def set_type(self, items):
        return ast.TypeExpr(element=items[0], span=self._span(items))

    def set_decl(self, items):
        return ast.SetDecl(self._ident(items[0]), items[1], span=self._span(items))

    def condition_decl(self, items):
        return ast.ConditionDecl(self._ident(items[0]), items[1], span=self._span(items))

    @staticmethod
    def _metadata(what: str, metas) -> dict:
        fields: dict = {}
        for key, value, span in metas:
            if key in fields:
                raise ParseError(Diagnostic(
                    "E100", f"{what} has more than one '{key}'", span, help=f"keep a single '{key}' line",
                ))
            fields[key] = value
        return fields

    def rule_decl(self, items):
        rule_id, *metas, body = items
        fields = self._metadata(f"rule {rule_id}", metas)
        condition, decision = body
        return ast.RuleDecl(self._ident(rule_id), condition, decision, span=self._span(items), **fields)

    def overrides(self, items):
        return ("overrides", tuple(self._ident(t) for t in items), self._span(items))

    def suspends(self, items):
        return ("rules", tuple(self._ident(t) for t in items), self._span(items))

    def suspension_decl(self, items):
        ident, *metas = items
        fields = self._metadata(f"suspension {ident}", metas)
        if "rules" not in fields:
            raise ParseError(Diagnostic(
                "E100", f"suspension {ident} names no rules", self._span(items),
                help="add a line: suspends RULE_ID, RULE_ID",
            ))
        return ast.SuspensionDecl(self._ident(ident), span=self._span(items), **fields)

    def extends_decl(self, items):
        return ast.ExtendsDecl(_unescape(self.source, items[0]), span=self._span(items))

    def applies(self, items):
        return ast.Applies(tuple(self._ident(t) for t in items), span=self._span(items))

    def title(self, items):
        return ("title", _unescape(self.source, items[0]), self._span(items))

    def cite(self, items):
        return ("cite", _unescape(self.source, items[0]), self._span(items))

    def effective(self, items):
        return ("effective", self._literal(LiteralKind.DATE, items[0]), self._span(items))

    def until(self, items):
        return ("until", self._literal(LiteralKind.DATE, items[0]), self._span(items))

    def rule_body(self, items):
        return items[0], self._ident(items[1])

    # ---- conditions
    def paren(self, items):
        return items[0]

    def or_expr(self, items):
        return ast.Or(tuple(items), span=self._span(items))

    def and_expr(self, items):
        return ast.And(tuple(items), span=self._span(items))

    def not_expr(self, items):
        return ast.Not(items[0], span=self._span(items))

    def compare(self, items):
        fact, op, value = items
        return ast.Compare(self._ident(fact), CompareOp(str(op)), value, span=self._span(items))

    def in_set(self, items):
        return ast.InSet(self._ident(items[0]), items[1], False, span=self._span(items))

    def not_in_set(self, items):
        return ast.InSet(self._ident(items[0]), items[1], True, span=self._span(items))

    def contains(self, items):
        return ast.Contains(self._ident(items[0]), None, items[1], span=self._span(items))

    def contains_any(self, items):
        return ast.Contains(self._ident(items[0]), Quantifier.ANY, items[1], span=self._span(items))

    def contains_all(self, items):
        return ast.Contains(self._ident(items[0]), Quantifier.ALL, items[1], span=self._span(items))

    def contains_any_other(self, items):
        return ast.Contains(self._ident(items[0]), Quantifier.ANY_OTHER, items[1], span=self._span(items))

    def is_empty(self, items):
        return ast.IsEmpty(self._ident(items[0]), False, span=self._span(items))

    def is_not_empty(self, items):
        return ast.IsEmpty(self._ident(items[0]), True, span=self._span(items))

    def ref(self, items):
        return ast.Ref(str(items[0]), span=self._span(items))

    def const_true(self, items):
        return ast.BoolConst(True, span=self._span(items))

    def const_false(self, items):
        return ast.BoolConst(False, span=self._span(items))

    def true(self, items):
        return ast.Literal(LiteralKind.BOOL, "true", span=self._span(items))

    def false(self, items):
        return ast.Literal(LiteralKind.BOOL, "false", span=self._span(items))

    def set_literal(self, items):
        return ast.SetLiteral(tuple(items), span=self._span(items))

    def set_name(self, items):
        return ast.SetName(str(items[0]), span=self._span(items))

    # ---- values
    def _literal(self, kind: LiteralKind, tok: Token) -> ast.Literal:
        text = _unescape(self.source, tok) if kind is LiteralKind.STRING else str(tok)
        return ast.Literal(kind, text, span=self._tok_span(tok))

    def date(self, items):
        return self._literal(LiteralKind.DATE, items[0])

    def percent(self, items):
        return self._literal(LiteralKind.PERCENT, items[0])

    def number(self, items):
        return self._literal(LiteralKind.NUMBER, items[0])

    def string(self, items):
        return self._literal(LiteralKind.STRING, items[0])

    def name(self, items):
        return self._literal(LiteralKind.NAME, items[0])
