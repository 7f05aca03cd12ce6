"""Where each name of a policy is declared and used, across its ``extends`` chain, and its hover text.

Names are facts, sets, conditions, rules, decisions and suspensions. :class:`SymbolIndex` is
built from the syntax tree with ``extends`` resolved, so a name declared in a base policy is
found from a file that extends it; each occurrence keeps the span (and so the file) it came from.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from .. import ast
from ..escape import markdown_code, markdown_text
from ..semantics import MISSING
from ..source import Span
from .analysis import Analysis


@attrs.frozen
class Occurrence:
    """One declaration or use of a name."""

    kind: str            # fact, set, condition, rule, decision, suspension
    name: str
    span: Span
    declaration: bool


def _walk(expr) -> Iterator[tuple[str, str, Span]]:
    """``(kind, name, span)`` of every name a condition uses (kind ``ref`` for a bare name)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Compare, ast.InSet, ast.Contains, ast.IsEmpty)):
            yield "fact", node.fact.name, node.fact.span
            values = getattr(node, "values", None)
            if isinstance(values, ast.SetName):
                yield "set", values.name, values.span
        elif isinstance(node, ast.Ref):
            yield "ref", node.name, node.span
        elif isinstance(node, ast.Applies):
            for ident in node.rules:
                yield "rule", ident.name, ident.span
        elif isinstance(node, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, (ast.And, ast.Or)):
            stack.extend(reversed(node.operands))


def _occurrences(module: ast.Module) -> Iterator[tuple[str, str, Span, bool]]:
    for decl in module.decls:
        if isinstance(decl, ast.DecisionsDecl):
            for ident in decl.names:
                yield "decision", ident.name, ident.span, True
        elif isinstance(decl, ast.DefaultDecl):
            yield "decision", decl.decision.name, decl.decision.span, False
        elif isinstance(decl, ast.DatedDecl):
            yield "fact", decl.fact.name, decl.fact.span, False
        elif isinstance(decl, ast.FactDecl):
            yield "fact", decl.name.name, decl.name.span, True
        elif isinstance(decl, ast.SetDecl):
            yield "set", decl.name.name, decl.name.span, True
        elif isinstance(decl, ast.ConditionDecl):
            yield "condition", decl.name.name, decl.name.span, True
            for kind, name, span in _walk(decl.body):
                yield kind, name, span, False
        elif isinstance(decl, ast.RuleDecl):
            yield "rule", decl.id.name, decl.id.span, True
            for kind, name, span in _walk(decl.condition):
                yield kind, name, span, False
            yield "decision", decl.decision.name, decl.decision.span, False
            for ident in decl.overrides:
                yield "rule", ident.name, ident.span, False
        elif isinstance(decl, ast.SuspensionDecl):
            yield "suspension", decl.id.name, decl.id.span, True
            for ident in decl.rules:
                yield "rule", ident.name, ident.span, False


_OUTLINE_KINDS = ("fact", "set", "condition", "rule", "suspension")


class SymbolIndex:
    """Every declaration and use of a name in a policy and its bases."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        module = analysis.resolved or analysis.module
        self.declarations: dict[tuple[str, str], ast.Node] = {}
        found = list(_occurrences(module)) if module is not None else []
        if module is not None:
            for decl in module.decls:
                for key in _declared_keys(decl):
                    self.declarations.setdefault(key, decl)
        self.occurrences: list[Occurrence] = []
        for kind, name, span, declaration in found:
            if span is None:
                continue
            if kind == "ref":  # a bare name: a bool fact or a named condition
                kind = "fact" if ("fact", name) in self.declarations else "condition"
            self.occurrences.append(Occurrence(kind, name, span, declaration))

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence in this buffer under a character offset."""
        for occ in self.occurrences:
            if self.analysis.is_own(occ.span) and occ.span.start <= offset <= occ.span.end:
                return occ
        return None

    def definition(self, kind: str, name: str) -> Occurrence | None:
        """Where a name is declared (in this buffer or a base)."""
        return next((o for o in self.occurrences if o.declaration and o.kind == kind and o.name == name), None)

    def references(self, kind: str, name: str) -> list[Occurrence]:
        """Every occurrence of a name (its declaration included)."""
        return [o for o in self.occurrences if o.kind == kind and o.name == name]

    def names(self, kind: str) -> list[str]:
        """Declared names of one kind, in declaration order."""
        return [name for k, name in self.declarations if k == kind]

    def own_declarations(self) -> list[tuple[str, ast.Node]]:
        """``(kind, declaration)`` for the names declared in this buffer (for the outline)."""
        return [(kind, decl) for (kind, _), decl in self.declarations.items()
                if kind in _OUTLINE_KINDS and self.analysis.is_own(decl.span)]

    def hover(self, kind: str, name: str) -> str | None:
        """Markdown describing a name: a fact's type and default, a set's members, a rule's title,
        citation, dates and decision, a decision's rank. Policy text in it is escaped."""
        decl = self.declarations.get((kind, name))
        if decl is None:
            return None
        code, text = markdown_code, markdown_text
        if kind == "fact":
            lines = self._fact_hover(decl, name)
        elif kind == "set":
            members = ", ".join(lit.text for lit in decl.members.items)
            lines = [f"**set** {code(name)} ({len(decl.members.items)} members)", code(f"{{{members}}}")]
        elif kind == "condition":
            lines = [f"**condition** {code(name)}", code(_text_of(decl.body.span) or name)]
        elif kind == "rule":
            lines = [f"**rule** {code(name)}" + (f": {text(decl.title)}" if decl.title else "")]
            if decl.cite:
                lines.append(f"cite: {text(decl.cite)}")
            lines.append(_window("in force", decl))
            lines.append(f"decision: {code(decl.decision.name)}")
            if decl.overrides:
                lines.append("overrides: " + ", ".join(code(i.name) for i in decl.overrides))
        elif kind == "decision":
            order = [i.name for i in decl.names]
            lines = [f"**decision** {code(name)}: rank {order.index(name) + 1} of {len(order)} (1 = least severe)",
                     code(" < ".join(order))]
            default = self.declarations.get(("default", ""))
            if default is not None and default.decision.name == name:
                lines.append("the default decision (when no rule applies)")
        else:
            lines = [f"**suspension** {code(name)}" + (f": {text(decl.title)}" if decl.title else ""),
                     "suspends: " + ", ".join(code(i.name) for i in decl.rules), _window("suspended", decl)]
        if decl.span is not None:
            lines.append(f"declared at {code(decl.span.location())}")
        return "\n\n".join(lines)

    def _fact_hover(self, decl: ast.FactDecl, name: str) -> list[str]:
        policy = self.analysis.policy
        fact = policy.facts.get(name) if policy is not None else None
        ftype = str(fact.type) if fact is not None else type_text(decl.type)
        lines = [f"**fact** {markdown_code(name)}: {markdown_code(ftype)}"]
        if decl.default is not None:
            lines.append(f"default: {markdown_code(_value_text(decl.default))} (optional fact)")
        elif fact is None or fact.default is MISSING:
            lines.append("required (no default)")
        if policy is not None and policy.dated_by == name:
            lines.append("the `dated by` fact: rules' effective and until dates refer to it")
        return lines


def _window(label: str, decl) -> str:
    effective = decl.effective.text if decl.effective is not None else "always"
    until = f" until {decl.until.text}" if decl.until is not None else ""
    return f"{label}: from {effective}{until}" if decl.effective is not None else f"{label}: {effective}{until}"


def _declared_keys(decl) -> list[tuple[str, str]]:
    if isinstance(decl, ast.DecisionsDecl):
        return [("decision", ident.name) for ident in decl.names]
    if isinstance(decl, ast.FactDecl):
        return [("fact", decl.name.name)]
    if isinstance(decl, ast.SetDecl):
        return [("set", decl.name.name)]
    if isinstance(decl, ast.ConditionDecl):
        return [("condition", decl.name.name)]
    if isinstance(decl, ast.RuleDecl):
        return [("rule", decl.id.name)]
    if isinstance(decl, ast.SuspensionDecl):
        return [("suspension", decl.id.name)]
    if isinstance(decl, ast.DefaultDecl):
        return [("default", "")]
    return []


def type_text(texpr: ast.TypeExpr | None) -> str:
    """A declared type as written (``enum {a, b}``, ``set of country``)."""
    if texpr is None:
        return ""
    if texpr.enum_values is not None:
        return "enum {" + ", ".join(v.text for v in texpr.enum_values) + "}"
    if texpr.element is not None:
        return f"set of {type_text(texpr.element)}"
    return texpr.name or "?"


def _value_text(value) -> str:
    if isinstance(value, ast.SetLiteral):
        return "{" + ", ".join(lit.text for lit in value.items) + "}"
    return value.text


def _text_of(span: Span | None) -> str:
    return span.source.text[span.start:span.end] if span is not None else ""
