"""The canonical layout of policy text (``exportdsl fmt``): the syntax tree printed again, every comment kept.

The layout, decided once so that nobody has to:

* Declarations stay in the order written. One blank line separates groups (``policy``/``extends``;
  ``decisions``/``default``/``dated by``; facts; sets; named conditions) and surrounds every ``rule``
  and ``suspension`` block; elsewhere one blank line is kept where the author left one or more.
* Rules and suspensions are always blocks: ``rule ID {`` on its own line, 4-space indentation inside,
  metadata in the fixed order ``title``, ``cite``, ``effective``, ``until``, ``overrides``
  (``suspends`` for suspensions), then ``CONDITION -> DECISION``, then ``}``. When comments sit
  among the metadata lines, their written order is kept, so that a comment stays by its line.
* One space around comparison operators, ``->``, ``and``, ``or``, ``<`` between decisions and
  ``=`` in declarations; ``fact name: type``; ``{a, b}`` lists; ``applies(A, B)``.
* Literals: numbers, percents and dates exactly as written (never through a float); strings
  re-quoted with ``\\"``, ``\\\\``, ``\\n`` and ``\\t``; a quoted enum value stays quoted.
* Parentheses are decided by the tree, not copied: an ``and`` chain inside an ``or`` chain (and an
  ``or`` inside an ``and``, and a chain inside a chain of the same kind) is always parenthesized,
  so mixed ``and``/``or`` never relies on precedence; ``not`` is followed by parentheses unless its
  operand is a name, a constant, ``applies(...)`` or another ``not``; other parentheses are dropped.
* Lines are at most 100 columns where possible. A rule body that does not fit puts ``-> DECISION``
  on its own line; a condition that still does not fit is written one operand per line, every line
  after the first led by its ``and``/``or``, all at the same indentation; a parenthesized operand that
  does not fit opens ``(`` at the end of its line, indents its operands by 4 and closes ``)`` on a
  line of its own. A named condition that does not fit starts its chain on the next line. A list of
  values that does not fit is written one value per line with a trailing comma. Strings are never
  split, so a line may stay longer than 100 columns.
* Comments keep their text (trailing spaces removed) and their order. Each output line starts at a
  known source position; a comment goes after the last line starting before it: the first one at
  the end of that line (after two spaces) if it ended a line of code in the source, the others on
  lines of their own, indented like the line they come before (unindented between declarations,
  where the author's blank lines around them are kept). So a comment in the middle of a single test
  moves to the end of its line, and a comment inside a condition or a list keeps that condition or
  list broken over several lines.
* ``# fmt: off`` ... ``# fmt: on`` (each on its own line) keeps the text between them byte for byte;
  without ``# fmt: on`` it lasts to the end of the file. A region is widened to whole declarations.

The formatter re-parses its output and raises :class:`FormatError` instead of returning text whose
syntax tree or comments differ from the input's.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict

import attrs

from . import ast
from .errors import Diagnostic, Error
from .operators import LiteralKind
from .parser import parse
from .source import Source

#: The column limit lines are kept within where the text allows it.
WIDTH = 100
#: Spaces per level of indentation.
INDENT = 4

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>->|<=|>=|!=|[{}(),:=<>])
  | (?P<word>[+-]?[0-9][0-9.%-]*|[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_FMT_OFF = re.compile(r"#\s*fmt:\s*off")
_FMT_ON = re.compile(r"#\s*fmt:\s*on")
_RULE_META = ("title", "cite", "effective", "until", "overrides")
_SUSPENSION_META = ("title", "cite", "effective", "until", "suspends")
#: How many keywords precede the first token of each declaration's span.
_KEYWORDS_BEFORE = {ast.DatedDecl: 2}
_GROUPS = {
    ast.PolicyDecl: "file", ast.ExtendsDecl: "file", ast.DecisionsDecl: "header", ast.DefaultDecl: "header",
    ast.DatedDecl: "header", ast.FactDecl: "fact", ast.SetDecl: "set", ast.ConditionDecl: "condition",
    ast.RuleDecl: "block", ast.SuspensionDecl: "block",
}


class FormatError(Error):
    """The formatted text would not parse back to the same policy and comments; nothing should be written."""


def format_source(text: str, name: str = "<string>") -> str:
    """``text`` in the canonical layout; raises ``ParseError`` for bad input, :class:`FormatError` on a bug."""
    source = Source(name, text)
    module = parse(source)
    formatted = _Formatter(source, module).format()
    _verify(source, module, formatted)
    return formatted


def _verify(source: Source, module: ast.Module, formatted: str) -> None:
    """Refuse output that does not parse back to the same declarations and comment texts, in order."""
    problem = None
    try:
        again = parse(Source(source.name, formatted))
    except Error as exc:
        problem = f"the formatted text does not parse ({exc.diagnostics[0].message})"
    else:
        if again.decls != module.decls:
            problem = "the formatted text parses to a different policy"
        elif [c.text.rstrip() for c in again.comments] != [c.text.rstrip() for c in module.comments]:
            problem = "the formatted text does not keep every comment in order"
    if problem:
        raise FormatError(Diagnostic(
            "E403", f"{source.name}: not formatted: {problem}",
            help="this is a bug in exportdsl fmt; the file was left as it is (wrap the declaration in "
                 "'# fmt: off' / '# fmt: on' to work around it, and please report it)",
        ))


# ---- source positions the syntax tree does not keep ----------------------------------------------------

@attrs.frozen
class _Token:
    kind: str
    start: int
    end: int
    text: str


@attrs.frozen
class _Comment:
    start: int
    end: int
    text: str
    trailing: bool        # code precedes it on its line
    blank_before: bool    # a blank line separates it from what precedes it


@attrs.define
class _Line:
    indent: int
    text: str
    anchor: int | None               # source offset of what the line starts with; None: nothing written there
    closing: bool = False            # a line holding only a closing } or )
    starts_decl: bool = False        # first line of a declaration (or of a verbatim region)
    blank_before: bool = False       # the author left a blank line before it (or one is added)
    needs_blank: bool = False        # the layout wants a blank line before this declaration
    verbatim: bool = False


@attrs.define
class _List:
    """A ``{...}`` list of values inside a line: its item texts with their positions."""

    items: list[tuple[str, int]]
    explode: bool                    # a comment inside the braces: one item per line
    close_anchor: int | None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _literal(lit: ast.Literal) -> str:
    return _quote(lit.text) if lit.kind is LiteralKind.STRING else lit.text


def _is_chain(expr) -> bool:
    return isinstance(expr, (ast.And, ast.Or))


def _needs_parens(child, parent) -> bool:
    if _is_chain(parent):
        return _is_chain(child)
    if isinstance(parent, ast.Not):
        return not isinstance(child, (ast.Ref, ast.BoolConst, ast.Applies, ast.Not))
    return False


def _fits(indent: int, text: str) -> bool:
    return indent + len(text) <= WIDTH


class _Formatter:
    """Lays one parsed module out as lines, then places its comments and blank lines."""

    def __init__(self, source: Source, module: ast.Module):
        self.text = source.text
        self.module = module
        self.tokens: list[_Token] = []
        self.comments: list[_Comment] = []
        for match in _TOKEN.finditer(self.text):
            kind = match.lastgroup
            if kind == "comment":
                line_start = self.text.rfind("\n", 0, match.start()) + 1
                trailing = bool(self.text[line_start:match.start()].strip())
                self.comments.append(_Comment(match.start(), match.end(), match.group().rstrip(), trailing,
                                              self._blank_before(match.start())))
            elif kind != "space":
                self.tokens.append(_Token(kind, match.start(), match.end(), match.group()))
        self.token_at = {tok.start: i for i, tok in enumerate(self.tokens)}
        self.token_ending = {tok.end: i for i, tok in enumerate(self.tokens)}
        self.comment_starts = [c.start for c in self.comments]
        self.regions = self._decl_regions()

    # ---- positions
    def _blank_before(self, pos: int) -> bool:
        """Whether a blank line separates ``pos`` from the text before it."""
        start = pos
        while start > 0 and self.text[start - 1].isspace():
            start -= 1
        return self.text.count("\n", start, pos) >= 2

    def _has_comment(self, start: int | None, end: int | None) -> bool:
        """Whether a comment starts strictly between two offsets."""
        if start is None or end is None:
            return False
        i = bisect.bisect_right(self.comment_starts, start)
        return i < len(self.comment_starts) and self.comment_starts[i] < end

    def _next_token(self, end: int) -> _Token | None:
        index = self.token_ending.get(end)
        if index is None or index + 1 >= len(self.tokens):
            return None
        return self.tokens[index + 1]

    def _closing_paren(self, expr) -> int | None:
        """Where the author closed the parentheses around ``expr``, if they wrote them."""
        first, last = self.token_at[expr.span.start], self._last_token(expr)
        unclosed = 0
        for token in self.tokens[first:last + 1]:
            if token.text == "(":
                unclosed += 1
            elif token.text == ")":
                unclosed = max(0, unclosed - 1)
        index = last + 1 + unclosed
        if index < len(self.tokens) and self.tokens[index].text == ")":
            return self.tokens[index].start
        return None

    def _last_token(self, expr) -> int:
        """The index of an expression's last token (spans leave out trailing keywords and parentheses)."""
        while isinstance(expr, (ast.And, ast.Or, ast.Not)):
            expr = expr.operands[-1] if _is_chain(expr) else expr.operand
        index = self.token_ending[expr.span.end]
        if isinstance(getattr(expr, "values", None), ast.SetLiteral):
            index = self.token_at[expr.span.start]
            while self.tokens[index].text != "}":
                index += 1
            return index
        if isinstance(expr, ast.IsEmpty):
            return index + (3 if expr.negated else 2)
        return index + 1 if isinstance(expr, ast.Applies) else index

    def _decl_regions(self) -> list[tuple[int, int]]:
        """(first token start, last token end) of each declaration, keywords included."""
        firsts = [self.token_at[d.span.start] - _KEYWORDS_BEFORE.get(type(d), 1) for d in self.module.decls]
        regions = []
        for i, first in enumerate(firsts):
            last = firsts[i + 1] - 1 if i + 1 < len(firsts) else len(self.tokens) - 1
            regions.append((self.tokens[first].start, self.tokens[last].end))
        return regions

    def _line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def _line_end(self, pos: int) -> int:
        end = self.text.find("\n", pos)
        return len(self.text) if end < 0 else end

    def _verbatim_regions(self) -> list[tuple[int, int]]:
        """Whole-line ``# fmt: off`` ... ``# fmt: on`` regions, widened to whole declarations."""
        found: list[tuple[int, int]] = []
        index = 0
        while index < len(self.comments):
            comment = self.comments[index]
            index += 1
            if not _FMT_OFF.fullmatch(comment.text) or (found and comment.start < found[-1][1]):
                continue
            on = next((c for c in self.comments[index:] if _FMT_ON.fullmatch(c.text)), None)
            start = self._line_start(comment.start)
            end = self._line_end(on.end) if on else len(self.text.rstrip("\n"))
            changed = True
            while changed:
                changed = False
                for d_start, d_end in self.regions:
                    if d_start < end and d_end > start and not (start <= d_start and d_end <= end):
                        start, end = min(start, self._line_start(d_start)), max(end, self._line_end(d_end))
                        changed = True
            found.append((start, end))
        return found

    # ---- the whole module
    def format(self) -> str:
        """The formatted text."""
        verbatim = self._verbatim_regions()
        lines: list[_Line] = []
        previous = None
        pending = list(verbatim)
        for decl, (start, _) in zip(self.module.decls, self.regions):
            while pending and pending[0][0] <= start:
                lines.append(self._verbatim_line(*pending.pop(0), after=previous))
                previous = "verbatim"
            if any(v_start <= start < v_end for v_start, v_end in verbatim):
                continue
            decl_lines = self._decl_lines(decl, start)
            first = decl_lines[0]
            first.starts_decl = True
            first.blank_before = self._blank_before(start)
            group = _GROUPS[type(decl)]
            first.needs_blank = previous is not None and (group != _GROUPS.get(type(previous)) or group == "block")
            lines.extend(decl_lines)
            previous = decl
        lines.extend(self._verbatim_line(*region, after=previous) for region in pending)
        comments = [c for c in self.comments if not any(s <= c.start < e for s, e in verbatim)]
        return self._assemble(lines, comments)

    def _verbatim_line(self, start: int, end: int, after) -> _Line:
        """A ``# fmt: off`` region as one line of its own text; like a block, it gets blank lines around it."""
        return _Line(0, self.text[start:end], start, starts_decl=True, blank_before=self._blank_before(start),
                     needs_blank=after is not None, verbatim=True)

    def _assemble(self, lines: list[_Line], comments: list[_Comment]) -> str:
        """The lines with each comment in the gap after the last line starting before it, and blank lines."""
        anchored = [(line.anchor, i) for i, line in enumerate(lines) if line.anchor is not None]
        keys = [anchor for anchor, _ in anchored]
        gaps: dict[int, list[_Comment]] = defaultdict(list)
        for comment in comments:
            k = bisect.bisect_left(keys, comment.start)
            gaps[anchored[k - 1][1] if k else -1].append(comment)
        out: list[str] = []

        def emit(text: str, blank: bool) -> None:
            if blank and out and out[-1] != "":
                out.append("")
            out.append(text)

        for comment in gaps.get(-1, []):
            emit(comment.text, comment.blank_before)
        for i, line in enumerate(lines):
            gap = gaps.get(i, [])
            text = " " * line.indent + line.text
            if gap and gap[0].trailing and not line.verbatim:
                text += "  " + gap[0].text
                gap = gap[1:]
            emit(text, line.blank_before)
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if nxt is not None and not nxt.starts_decl:
                # Inside a declaration: at the indentation of the line the comments come before.
                indent = " " * (nxt.indent + (INDENT if nxt.closing else 0))
                for comment in gap:
                    emit(indent + comment.text, False)
                continue
            # Between declarations (where they are read back from): unindented, the author's blank lines kept.
            blank_first = False
            if nxt is not None and nxt.needs_blank and not nxt.blank_before and not any(c.blank_before for c in gap):
                if gap:
                    blank_first = True
                else:
                    nxt.blank_before = True
            for k, comment in enumerate(gap):
                emit(comment.text, comment.blank_before or (blank_first and k == 0))
        return "\n".join(out) + "\n" if out else ""

    # ---- declarations
    def _decl_lines(self, decl, start: int) -> list[_Line]:
        match decl:
            case ast.PolicyDecl(name=name, version=version):
                text = f"policy {_quote(name)}" + (f" version {_quote(version)}" if version is not None else "")
            case ast.ExtendsDecl(path=path):
                text = f"extends {_quote(path)}"
            case ast.DecisionsDecl(names=names):
                text = "decisions " + " < ".join(n.name for n in names)
            case ast.DefaultDecl(decision=decision):
                text = f"default {decision.name}"
            case ast.DatedDecl(fact=fact):
                text = f"dated by {fact.name}"
            case ast.FactDecl():
                return self._fact_lines(decl, start)
            case ast.SetDecl(name=name, members=members):
                return self._segment_lines([f"set {name.name} = ", self._list(members)], 0, start)
            case ast.ConditionDecl():
                return self._condition_lines(decl, start)
            case ast.RuleDecl() | ast.SuspensionDecl():
                return self._block_lines(decl, start)
            case _:
                raise AssertionError(f"no layout for {decl!r}")
        return [_Line(0, text, start)]

    def _fact_lines(self, decl: ast.FactDecl, start: int) -> list[_Line]:
        segments: list = [f"fact {decl.name.name}: "]
        type_expr = decl.type
        if type_expr.element is not None:
            segments.append("set of ")
            type_expr = type_expr.element
        if type_expr.enum_values is not None:
            segments += ["enum ", self._list_of(type_expr.enum_values)]
        else:
            segments.append(type_expr.name)
        if isinstance(decl.default, ast.SetLiteral):
            segments += [" = ", self._list(decl.default)]
        elif decl.default is not None:
            segments.append(f" = {_literal(decl.default)}")
        return self._segment_lines(segments, 0, start)

    def _list(self, literal: ast.SetLiteral) -> _List:
        return self._list_of(literal.items)

    def _list_of(self, items) -> _List:
        if not items:
            return _List([], False, None)
        texts = [(_literal(item), item.span.start) for item in items]
        open_index = self.token_at[items[0].span.start] - 1
        close = self._next_token(items[-1].span.end)
        if close is not None and close.text == ",":
            close = self._next_token(close.end)
        close_start = close.start if close is not None else None
        return _List(texts, self._has_comment(self.tokens[open_index].start, close_start), close_start)

    def _segment_lines(self, segments: list, indent: int, anchor: int | None) -> list[_Line]:
        """Text and ``{...}`` lists on one line; a list is written one value per line when what is left of
        the line does not fit, or a comment sits inside its braces."""
        def flat(segment) -> str:
            if isinstance(segment, str):
                return segment
            return "{" + ", ".join(text for text, _ in segment.items) + "}"

        lines: list[_Line] = []
        current, current_anchor = "", anchor
        for k, segment in enumerate(segments):
            if isinstance(segment, str) or not segment.items or (
                    not segment.explode and _fits(indent, current + "".join(flat(s) for s in segments[k:]))):
                current += flat(segment)
                continue
            lines.append(_Line(indent, current + "{", current_anchor))
            lines += [_Line(indent + INDENT, text + ",", pos) for text, pos in segment.items]
            current, current_anchor = "}", segment.close_anchor
        lines.append(_Line(indent, current, current_anchor, closing=bool(lines)))
        return lines

    def _condition_lines(self, decl: ast.ConditionDecl, start: int) -> list[_Line]:
        head = f"condition {decl.name.name} = "
        body = decl.body
        if not self._must_break(body) and _fits(0, head + self._flat(body)):
            return [_Line(0, head + self._flat(body), start)]
        if not _is_chain(body):
            return self._operand_lines(body, None, 0, head, start)
        return [_Line(0, head.rstrip(), start), *self._chain_lines(body, INDENT, body.span.start)]

    def _block_lines(self, decl, start: int) -> list[_Line]:
        is_rule = isinstance(decl, ast.RuleDecl)
        keyword, order = ("rule", _RULE_META) if is_rule else ("suspension", _SUSPENSION_META)
        open_index = self.token_at[decl.id.span.start] + 1
        index, metas = open_index + 1, []
        while index < len(self.tokens) and self.tokens[index].text in order:
            metas.append((self.tokens[index].text, self.tokens[index].start))
            index += 2
            while index < len(self.tokens) and self.tokens[index].text == ",":
                index += 2
        body_start = self.tokens[index].start if index < len(self.tokens) else None
        close_token = self._next_token(decl.decision.span.end) if is_rule else self.tokens[index]
        lines = [_Line(0, f"{keyword} {decl.id.name} {{", start)]
        texts = {key: self._meta_text(decl, key) for key, _ in metas}
        if metas and not self._has_comment(metas[0][1], body_start if is_rule else close_token.start):
            anchors = sorted(pos for _, pos in metas)
            metas = [(key, pos) for key, pos in zip(sorted(texts, key=order.index), anchors)]
        lines += [_Line(INDENT, texts[key], pos) for key, pos in metas]
        if is_rule:
            lines += self._body_lines(decl.condition, decl.decision, body_start)
        lines.append(_Line(0, "}", close_token.start, closing=True))
        return lines

    @staticmethod
    def _meta_text(decl, key: str) -> str:
        value = getattr(decl, "rules" if key == "suspends" else key)
        if key in ("title", "cite"):
            return f"{key} {_quote(value)}"
        if key in ("effective", "until"):
            return f"{key} {value.text}"
        return f"{key} " + ", ".join(ident.name for ident in value)

    def _body_lines(self, condition, decision: ast.Ident, anchor: int) -> list[_Line]:
        arrow = self.tokens[self.token_at[decision.span.start] - 1]
        tail = f"-> {decision.name}"
        flat = self._flat(condition)
        if not self._must_break(condition):
            if _fits(INDENT, f"{flat} {tail}"):
                return [_Line(INDENT, f"{flat} {tail}", anchor)]
            if _fits(INDENT, flat):
                return [_Line(INDENT, flat, anchor), _Line(INDENT, tail, arrow.start)]
        return [*self._statement_lines(condition, INDENT, anchor), _Line(INDENT, tail, arrow.start)]

    # ---- conditions
    def _flat(self, expr) -> str:
        match expr:
            case ast.And(operands=operands) | ast.Or(operands=operands):
                joiner = " and " if isinstance(expr, ast.And) else " or "
                return joiner.join(self._wrapped(op, expr) for op in operands)
            case ast.Not(operand=operand):
                return "not " + self._wrapped(operand, expr)
            case ast.Ref(name=name):
                return name
            case ast.BoolConst(value=value):
                return "true" if value else "false"
            case ast.Applies(rules=rules):
                return "applies(" + ", ".join(r.name for r in rules) + ")"
        head, values, tail = self._predicate_parts(expr)
        if values is None:
            return head + tail
        return head + (values.name if isinstance(values, ast.SetName) else
                       "{" + ", ".join(_literal(item) for item in values.items) + "}") + tail

    @staticmethod
    def _predicate_parts(expr) -> tuple[str, ast.SetName | ast.SetLiteral | None, str]:
        """A predicate as (text before its set, the set or None, text after)."""
        match expr:
            case ast.Compare(fact=fact, op=op, value=value):
                return f"{fact.name} {op.value} {_literal(value)}", None, ""
            case ast.InSet(fact=fact, values=values, negated=negated):
                return f"{fact.name} {'not in' if negated else 'in'} ", values, ""
            case ast.Contains(fact=fact, quantifier=None, values=value):
                return f"{fact.name} contains {_literal(value)}", None, ""
            case ast.Contains(fact=fact, quantifier=quantifier, values=values):
                return f"{fact.name} contains {quantifier.value} ", values, ""
            case ast.IsEmpty(fact=fact, negated=negated):
                return f"{fact.name} is {'not ' if negated else ''}empty", None, ""
        raise AssertionError(f"no layout for {expr!r}")

    def _wrapped(self, expr, parent) -> str:
        text = self._flat(expr)
        return f"({text})" if _needs_parens(expr, parent) else text

    def _must_break(self, expr) -> bool:
        """Whether comments force this condition over several lines."""
        if _is_chain(expr):
            first, last = expr.operands[0], expr.operands[-1]
            return (self._has_comment(first.span.start, last.span.start)
                    or any(self._must_break(op) for op in expr.operands))
        if isinstance(expr, ast.Not):
            return self._must_break(expr.operand)
        if isinstance(expr, (ast.InSet, ast.Contains)) and isinstance(expr.values, ast.SetLiteral):
            return expr.values.items != () and self._list(expr.values).explode
        return False

    def _statement_lines(self, expr, indent: int, anchor: int) -> list[_Line]:
        if _is_chain(expr):
            return self._chain_lines(expr, indent, anchor)
        return self._operand_lines(expr, None, indent, "", anchor)

    def _chain_lines(self, chain, indent: int, anchor: int) -> list[_Line]:
        word = "and " if isinstance(chain, ast.And) else "or "
        lines: list[_Line] = []
        for k, operand in enumerate(chain.operands):
            lines += self._operand_lines(operand, chain, indent, word if k else "",
                                         operand.span.start if k else anchor)
        return lines

    def _operand_lines(self, expr, parent, indent: int, prefix: str, anchor: int, suffix: str = "") -> list[_Line]:
        """One operand (after ``prefix``, before ``suffix``): on one line if it fits, else broken."""
        text = prefix + self._wrapped(expr, parent) + suffix
        if not self._must_break(expr) and _fits(indent, text):
            return [_Line(indent, text, anchor)]
        if isinstance(expr, ast.Not):
            inner = expr.operand
            if _needs_parens(inner, expr) and not _is_chain(inner):
                return self._operand_lines(inner, None, indent, prefix + "not (", anchor, ")" + suffix)
            return self._operand_lines(inner, expr, indent, prefix + "not ", anchor, suffix)
        if _is_chain(expr):
            return [_Line(indent, prefix + "(", anchor), *self._chain_lines(expr, indent + INDENT, expr.span.start),
                    _Line(indent, ")" + suffix, self._closing_paren(expr), closing=True)]
        if isinstance(expr, (ast.InSet, ast.Contains)) and isinstance(expr.values, ast.SetLiteral):
            head, values, tail = self._predicate_parts(expr)
            if values.items:
                return self._segment_lines([prefix + head, self._list(values), tail + suffix], indent, anchor)
        return [_Line(indent, text, anchor)]
