"""The hand-written reader of policy text: the fast path of :mod:`exportdsl.parser`.

It reads the language of ``grammar/exportdsl.lark`` by recursive descent over a one-regex lexer, and
builds the same syntax tree (nodes, spans, comments) as the Lark parser, without a parse tree and
without importing Lark. It never reports an error itself: on anything it does not read (a syntax
error, a keyword used as a name, a number over the length limit, conditions nested past the limit,
a repeated ``title``...) it gives up with :class:`NotRead`, and the parser runs the grammar's own
Lark parser, which accepts or rejects the text and words the diagnostic. So every syntax error
reads exactly as before, and text this reader accepts is text Lark accepts with the same tree
(``tests/test_parser_fast.py`` checks both, differentially).

Its work is linear in the text, and its recursion is bounded by :data:`MAX_NESTING` (it gives up
past it, before recursing further).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat

from . import ast
from .operators import RESERVED, CompareOp, LiteralKind, Quantifier
from .source import Source, Span

#: Deepest nesting of ``not`` / ``and`` / ``or`` / parentheses a condition may have.
MAX_NESTING = 100
#: Largest policy text accepted, in characters.
MAX_SOURCE_CHARS = 8_000_000
#: Longest number or percent literal, in characters (sign, digits, point and ``%`` included).
MAX_NUMBER_CHARS = 100

_BOM = "\ufeff"

# The grammar's terminals after optional whitespace (the grammar's WS). DATE.3 and PERCENT.2 come
# before NUMBER as Lark's priorities order them; the other terminals never match at the same place.
# `bad` (anything else) makes the reader give up.
_TOKEN = re.compile(r"""[ \t\f\r\n]*(?:
  (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
| (?P<OP><=|>=|!=|->|[=<>{}(),:])
| (?P<STRING>"(?:[^"\\\n]|\\["\\nt])*")
| (?P<DATE>[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9A-Za-z_]))
| (?P<PERCENT>[+-]?[0-9]+(?:\.[0-9]+)?%)
| (?P<NUMBER>[+-]?[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z_]))
| (?P<comment>\#[^\n]*)
| (?P<bad>[\s\S])
)""", re.VERBOSE)

_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"n": "\n", "t": "\t"}
_COMPARE = {op.value: op for op in CompareOp}
_VALUE_KINDS = {"DATE": LiteralKind.DATE, "PERCENT": LiteralKind.PERCENT, "NUMBER": LiteralKind.NUMBER,
                "STRING": LiteralKind.STRING, "NAME": LiteralKind.NAME}
_META_KEYS = {"title": "title", "cite": "cite", "effective": "effective", "until": "until",
              "overrides": "overrides", "suspends": "rules"}
_RULE_META = frozenset({"title", "cite", "effective", "until", "overrides"})
_SUSPENSION_META = frozenset({"title", "cite", "effective", "until", "suspends"})
_END = ("$END", "", 0, 0)


class NotRead(Exception):
    """The fast reader does not read this text: the Lark parser decides (and words any error)."""


def _tokens(text: str, comments: list) -> Iterator[tuple[str, str, int, int]]:
    """(kind, text, start, end) of each token in turn (a keyword's kind is the keyword itself), then
    ``$END`` for ever; comments go to ``comments``. Lazy, so that a large policy's tokens are never
    all in memory at once."""
    reserved = RESERVED
    for match in _TOKEN.finditer(text, 0, len(text.rstrip(" \t\f\r\n"))):
        group = kind = match.lastgroup
        value = match[group]
        if kind == "NAME":
            if value in reserved:
                kind = value
        elif kind == "OP":
            kind = value
        elif kind == "comment":
            comments.append((value, match.start(group), match.end()))
            continue
        elif kind == "bad":
            raise NotRead
        elif (kind == "NUMBER" or kind == "PERCENT") and len(value) > MAX_NUMBER_CHARS:
            raise NotRead
        yield kind, value, match.start(group), match.end()
    yield from repeat(_END)


def _unescape(token_text: str) -> str:
    body = token_text[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(1)), body)


def _cover(source: Source, spans) -> Span | None:
    """The span from the first to the last of these spans (None ones skipped), as the Lark
    transformer's spans run from the first to the last named token under a node."""
    start = end = None
    for span in spans:
        if span is not None:
            if start is None or span.start < start:
                start = span.start
            if end is None or span.end > end:
                end = span.end
    return None if start is None else Span(source, start, end)


class _Reader:
    """Recursive descent over the token list; each method reads one grammar rule."""

    def __init__(self, source: Source, tokens: Iterator):
        self.source = source
        self.next_token = tokens.__next__
        self.current = self.next_token()     # the one token of lookahead
        self.open = 0     # parentheses and `not`s being read: bounds the recursion

    # ---- tokens
    def peek(self) -> str:
        return self.current[0]

    def advance(self) -> None:
        self.current = self.next_token()

    def take(self, kind: str):
        token = self.current
        if token[0] != kind:
            raise NotRead
        self.current = self.next_token()
        return token

    def span(self, token) -> Span:
        return Span(self.source, token[2], token[3])

    def ident(self, token) -> ast.Ident:
        return ast.Ident(token[1], span=Span(self.source, token[2], token[3]))

    def names(self) -> tuple[ast.Ident, ...]:
        """``NAME ("," NAME)*``."""
        found = [self.ident(self.take("NAME"))]
        while self.peek() == ",":
            self.advance()
            found.append(self.ident(self.take("NAME")))
        return tuple(found)

    # ---- declarations
    def module(self) -> tuple:
        decls = []
        read = {"policy": self.policy_decl, "decisions": self.decisions_decl, "default": self.default_decl,
                "dated": self.dated_decl, "fact": self.fact_decl, "set": self.set_decl,
                "condition": self.condition_decl, "rule": self.rule_decl, "extends": self.extends_decl,
                "suspension": self.suspension_decl}
        while (kind := self.peek()) != "$END":
            reader = read.get(kind)
            if reader is None:
                raise NotRead
            self.advance()
            decls.append(reader())
        return tuple(decls)

    def policy_decl(self):
        name = self.take("STRING")
        version = None
        if self.peek() == "version":
            self.advance()
            version = self.take("STRING")
        last = version or name
        return ast.PolicyDecl(_unescape(name[1]), _unescape(version[1]) if version else None,
                              span=Span(self.source, name[2], last[3]))

    def decisions_decl(self):
        found = [self.ident(self.take("NAME"))]
        while self.peek() == "<":
            self.advance()
            found.append(self.ident(self.take("NAME")))
        return ast.DecisionsDecl(tuple(found), span=Span(self.source, found[0].span.start, found[-1].span.end))

    def default_decl(self):
        ident = self.ident(self.take("NAME"))
        return ast.DefaultDecl(ident, span=ident.span)

    def dated_decl(self):
        self.take("by")
        ident = self.ident(self.take("NAME"))
        return ast.DatedDecl(ident, span=ident.span)

    def extends_decl(self):
        token = self.take("STRING")
        return ast.ExtendsDecl(_unescape(token[1]), span=self.span(token))

    def fact_decl(self):
        name = self.ident(self.take("NAME"))
        self.take(":")
        kind = self.peek()
        if kind == "set":
            self.advance()
            self.take("of")
            element = self.element_type()
            type_expr = ast.TypeExpr(element=element, span=element.span)
        else:
            type_expr = self.element_type()
        default = None
        if self.peek() == "=":
            self.advance()
            default = self.set_literal() if self.peek() == "{" else self.value()
        span = _cover(self.source, (name.span, type_expr.span, default.span if default is not None else None))
        return ast.FactDecl(name, type_expr, default, span=span)

    def element_type(self):
        """``NAME`` (a scalar type) or ``enum {values}``."""
        if self.peek() == "enum":
            self.advance()
            values = self.value_list()
            return ast.TypeExpr(enum_values=values, span=_cover(self.source, (v.span for v in values)))
        token = self.take("NAME")
        return ast.TypeExpr(name=token[1], span=self.span(token))

    def set_decl(self):
        name = self.ident(self.take("NAME"))
        self.take("=")
        members = self.set_literal()
        return ast.SetDecl(name, members, span=_cover(self.source, (name.span, members.span)))

    def condition_decl(self):
        name = self.ident(self.take("NAME"))
        self.take("=")
        body = self.condition()
        return ast.ConditionDecl(name, body, span=_cover(self.source, (name.span, body.span)))

    def metadata(self, allowed: frozenset) -> tuple[dict, list]:
        """The ``title``/``cite``/``effective``/``until``/``overrides``/``suspends`` lines of a rule or
        suspension, and the spans among them that count towards its span."""
        fields: dict = {}
        spans: list = []
        while (kind := self.peek()) in allowed:
            self.advance()
            key = _META_KEYS[kind]
            if key in fields:
                raise NotRead          # the Lark path words the error
            if kind == "title" or kind == "cite":
                fields[key] = _unescape(self.take("STRING")[1])
            elif kind == "effective" or kind == "until":
                token = self.take("DATE")
                literal = ast.Literal(LiteralKind.DATE, token[1], span=self.span(token))
                fields[key] = literal
                spans.append(literal.span)
            else:
                idents = self.names()
                fields[key] = idents
                spans.extend(i.span for i in idents)
        return fields, spans

    def rule_decl(self):
        rule_id = self.ident(self.take("NAME"))
        self.take("{")
        fields, spans = self.metadata(_RULE_META)
        condition = self.condition()
        self.take("->")
        decision = self.ident(self.take("NAME"))
        self.take("}")
        span = _cover(self.source, (rule_id.span, *spans, condition.span, decision.span))
        return ast.RuleDecl(rule_id, condition, decision, span=span, **fields)

    def suspension_decl(self):
        ident = self.ident(self.take("NAME"))
        self.take("{")
        fields, spans = self.metadata(_SUSPENSION_META)
        self.take("}")
        if "rules" not in fields:
            raise NotRead
        return ast.SuspensionDecl(ident, span=_cover(self.source, (ident.span, *spans)), **fields)

    # ---- conditions
    def condition(self):
        """A whole condition; gives up when it nests deeper than the limit (counted as the Lark
        parser's nesting check counts: or, and, not and parentheses)."""
        node, height = self.or_expr()
        if height > MAX_NESTING:
            raise NotRead
        return node

    def or_expr(self):
        return self.chain("or", self.and_expr, ast.Or)

    def and_expr(self):
        return self.chain("and", self.not_expr, ast.And)

    def chain(self, word: str, operand, node_class):
        """``operand (word operand)*``: the operand alone, or a node of two or more operands (one
        level of nesting more). Returns the node and its nesting height."""
        node, height = operand()
        if self.peek() != word:
            return node, height
        operands = [node]
        while self.peek() == word:
            self.advance()
            node, operand_height = operand()
            operands.append(node)
            height = max(height, operand_height)
        return node_class(tuple(operands), span=_cover(self.source, (o.span for o in operands))), height + 1

    def not_expr(self):
        nots = 0
        while self.peek() == "not":
            self.advance()
            nots += 1
            if self.open + nots > MAX_NESTING:
                raise NotRead       # at once: a million `not`s are not all read first
        self.open += nots
        node, height = self.atom()
        self.open -= nots
        for _ in range(nots):
            node = ast.Not(node, span=node.span)
        return node, height + nots

    def atom(self):
        kind = self.peek()
        if kind == "(":
            self.advance()
            self.open += 1
            if self.open > MAX_NESTING:
                raise NotRead
            node, height = self.or_expr()
            self.take(")")
            self.open -= 1
            return node, height + 1
        return self.predicate(), 0

    def predicate(self):
        token = self.current
        kind = token[0]
        self.advance()
        if kind == "NAME":
            following = self.peek()
            if following in _COMPARE:
                op = _COMPARE[following]
                self.advance()
                value = self.value()
                return ast.Compare(self.ident(token), op, value, span=Span(self.source, token[2], value.span.end))
            if following == "in" or following == "not":
                self.advance()
                negated = following == "not"
                if negated:
                    self.take("in")
                values = self.set_ref()
                return ast.InSet(self.ident(token), values, negated, span=self.cover_name(token, values))
            if following == "contains":
                self.advance()
                quantifier = None
                nxt = self.peek()
                if nxt == "any":
                    self.advance()
                    quantifier = Quantifier.ANY
                    if self.peek() == "not":
                        self.advance()
                        self.take("in")
                        quantifier = Quantifier.ANY_OTHER
                elif nxt == "all":
                    self.advance()
                    quantifier = Quantifier.ALL
                values = self.value() if quantifier is None else self.set_ref()
                return ast.Contains(self.ident(token), quantifier, values, span=self.cover_name(token, values))
            if following == "is":
                self.advance()
                negated = self.peek() == "not"
                if negated:
                    self.advance()
                self.take("empty")
                return ast.IsEmpty(self.ident(token), negated, span=self.span(token))
            return ast.Ref(token[1], span=self.span(token))
        if kind == "applies":
            self.take("(")
            rules = self.names()
            self.take(")")
            return ast.Applies(rules, span=Span(self.source, rules[0].span.start, rules[-1].span.end))
        if kind == "true" or kind == "false":
            return ast.BoolConst(kind == "true", span=self.span(token))
        raise NotRead

    def cover_name(self, token, values) -> Span:
        end = values.span.end if values.span is not None else token[3]
        return Span(self.source, token[2], max(end, token[3]))

    # ---- sets and values
    def set_ref(self):
        if self.peek() == "NAME":
            token = self.take("NAME")
            return ast.SetName(token[1], span=self.span(token))
        return self.set_literal()

    def set_literal(self):
        values = self.value_list()
        return ast.SetLiteral(values, span=_cover(self.source, (v.span for v in values)))

    def value_list(self) -> tuple:
        """``"{" (value ("," value)* ","?)? "}"``."""
        self.take("{")
        values = []
        while self.peek() != "}":
            values.append(self.value())
            if self.peek() == ",":
                self.advance()
            elif self.peek() != "}":
                raise NotRead
        self.advance()
        return tuple(values)

    def value(self) -> ast.Literal:
        token = self.current
        kind = token[0]
        self.advance()
        literal_kind = _VALUE_KINDS.get(kind)
        if literal_kind is not None:
            text = _unescape(token[1]) if kind == "STRING" else token[1]
            return ast.Literal(literal_kind, text, span=self.span(token))
        if kind == "true" or kind == "false":
            return ast.Literal(LiteralKind.BOOL, kind, span=self.span(token))
        raise NotRead


def read_module(source: Source, text: str) -> tuple[tuple, tuple]:
    """The declarations and comments of a whole policy (``text`` is the source's text, a leading BOM
    read as a space); raises :class:`NotRead` for text this reader leaves to the Lark parser."""
    comments: list = []
    reader = _Reader(source, _tokens(text, comments))
    decls = reader.module()
    return decls, tuple(ast.Comment(value, span=Span(source, start, end)) for value, start, end in comments)


def read_condition(source: Source, text: str):
    """The syntax tree of a condition alone; raises :class:`NotRead` as :func:`read_module` does."""
    reader = _Reader(source, _tokens(text, []))
    node = reader.condition()
    if reader.peek() != "$END":
        raise NotRead
    return node
