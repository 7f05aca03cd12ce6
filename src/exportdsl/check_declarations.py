"""The declaration passes of the checker: header, facts, literal values, named sets, dates and names."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from . import ast, ir
from .errors import Diagnostic, did_you_mean
from .operators import RESERVED, LiteralKind
from .semantics import MISSING, ValueProblem, coerce_value, literal_value
from .types import SCALAR_KINDS, FactType, Kind, country_suggestion, enum_of, set_of

#: Upper bounds that keep a policy's size sane.
MAX_RULES = 50_000
MAX_FACTS = 1_000
MAX_SET_MEMBERS = 100_000

_SET_ELEMENT_KINDS = frozenset({Kind.ENUM, Kind.STRING, Kind.COUNTRY, Kind.INTEGER, Kind.NUMBER,
                                Kind.PERCENT, Kind.DATE})


def _bare_number_for_percent(text: str) -> tuple[str, str]:
    """The message and help for a number without ``%`` written for a percent fact."""
    message = f"{text} is a number but the fact is a percent (written in percentage points, with %)"
    value = Decimal(text)
    if 0 < abs(value) <= 1:
        hundred = format((value * 100).normalize(), "f")
        return message, (f"write {text}% for {text} percent; if {text} is a fraction, that is {hundred} percent: "
                         f"write {hundred}%")
    return message, f"write {text}% for {text} percent"


class DeclarationChecks:
    """Mixin of the checker (:mod:`exportdsl.check`) for everything but conditions and rules.

    It reads and fills the checker's state (``module``, ``diagnostics``, ``facts``, ``sets``,
    ``typed_sets``); the checker itself calls these passes in order.
    """

    # ---- reporting
    def error(self, code: str, message: str, span=None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def _decls(self, kind) -> list:
        return [d for d in self.module.decls if isinstance(d, kind)]

    def _single(self, kind, what: str):
        found = self._decls(kind)
        for extra in found[1:]:
            self.error("E208", f"more than one '{what}' declaration", extra.span,
                       help=f"keep a single '{what}' line")
        return found[0] if found else None

    # ---- header
    def header(self):
        policy = self._single(ast.PolicyDecl, "policy")
        decisions_decl = self._single(ast.DecisionsDecl, "decisions")
        decisions: list[str] = []
        if decisions_decl is None:
            self.error("E208", "the policy declares no decisions", self.module.span,
                       help="add a line such as: decisions not_controlled < license_required < deny")
        else:
            for ident in decisions_decl.names:
                if ident.name in decisions:
                    self.error("E207", f"decision '{ident.name}' is listed twice", ident.span)
                else:
                    decisions.append(ident.name)
        default_decl = self._single(ast.DefaultDecl, "default")
        default = decisions[0] if decisions else None
        if default_decl is not None:
            default = self.decision(default_decl.decision, decisions)
        return policy, tuple(decisions), default

    def decision(self, ident: ast.Ident, decisions) -> str | None:
        if ident.name in decisions:
            return ident.name
        if decisions:
            self.error("E205", f"unknown decision '{ident.name}'", ident.span,
                       help=did_you_mean(ident.name, decisions) or "declared decisions: " + ", ".join(decisions))
        return None

    # ---- facts
    def type_of(self, texpr: ast.TypeExpr, *, element: bool = False) -> FactType | None:
        if texpr.element is not None:
            inner = self.type_of(texpr.element, element=True)
            if inner is None:
                return None
            if inner.kind not in _SET_ELEMENT_KINDS:
                self.error("E211", f"a set cannot hold {inner.describe()} values", texpr.element.span,
                           help="use set of enum {...}, set of string or set of country")
                return None
            return set_of(inner)
        if texpr.enum_values is not None:
            values: dict[str, None] = {}   # insertion-ordered, with constant-time lookups
            for lit in texpr.enum_values:
                if lit.kind not in (LiteralKind.NAME, LiteralKind.STRING):
                    self.error("E204", f"enum values are names or strings, not {lit.kind.value} {lit.text}", lit.span)
                elif lit.text in values:
                    self.error("E207", f"enum value '{lit.text}' is listed twice", lit.span)
                else:
                    values[lit.text] = None
            if not values:
                self.error("E211", "an enum needs at least one value", texpr.span or self.current_span)
                return None
            return enum_of(values)
        kind = SCALAR_KINDS.get(texpr.name)
        if kind is None:
            names = sorted(SCALAR_KINDS) + ["enum", "set of"]
            self.error("E211", f"unknown type '{texpr.name}'", texpr.span,
                       help=did_you_mean(texpr.name, names) or "types: " + ", ".join(names))
            return None
        return FactType(kind)

    def declare_facts(self):
        for decl in self._decls(ast.FactDecl):
            name = decl.name.name
            self.current_span = decl.span
            if name in self.facts:
                first = self.facts[name].span
                where = f" (first at {first.location()})" if first is not None else ""
                self.error("E207", f"fact '{name}' is declared twice{where}", decl.name.span)
                continue
            ftype = self.type_of(decl.type)
            if ftype is None:
                self.broken_facts.add(name)
                continue
            default = MISSING
            if decl.default is not None:
                default = self.default_value(ftype, decl.default)
                if default is None:
                    self.broken_facts.add(name)
                    continue
            self.facts[name] = ir.Fact(name, ftype, default, span=decl.span)
        if len(self.facts) > MAX_FACTS:
            self.error("E212", f"{len(self.facts)} facts exceed the limit of {MAX_FACTS}", self.module.span)

    def default_value(self, ftype: FactType, node):
        if isinstance(node, ast.SetLiteral):
            if not ftype.is_set:
                self.error("E204", f"a set default for a {ftype.describe()} fact", node.span)
                return None
            values = self.literal_set(ftype, node.items)
            return values
        if ftype.is_set:
            self.error("E204", "the default of a set fact is a set literal such as {}", node.span)
            return None
        value = self.literal(ftype, node)
        if value is None:
            return None
        try:
            return coerce_value(ftype, value)
        except ValueProblem as problem:
            self.error("E203", f"default {node.text}: {problem.message}", node.span, problem.help)
            return None

    # ---- values
    def literal(self, ftype: FactType, lit: ast.Literal):
        try:
            return literal_value(ftype, lit.kind, lit.text)
        except ValueProblem as problem:
            message, help_text = problem.message, problem.help
            element = ftype.element if ftype.is_set else ftype
            if element.kind is Kind.PERCENT and lit.kind is LiteralKind.NUMBER:
                message, help_text = _bare_number_for_percent(lit.text)
            elif element.kind is Kind.COUNTRY and problem.code == "E203":
                code = country_suggestion(lit.text)
                if code is not None:
                    help_text = f"the ISO 3166-1 code for {lit.text} is {code}: write {code}"
            self.error(problem.code, message, lit.span, help_text)
            return None

    def literal_set(self, ftype: FactType, items: Iterable[ast.Literal]) -> frozenset | None:
        values, ok = [], True
        for lit in items:
            value = self.literal(ftype, lit)
            if value is None:
                ok = False
            else:
                values.append(value)
        return frozenset(values) if ok else None

    def set_values(self, ftype: FactType, ref, fact_name: str) -> tuple[frozenset | None, str | None]:
        if isinstance(ref, ast.SetLiteral):
            return self.literal_set(ftype, ref.items), None
        decl = self.sets.get(ref.name)
        if decl is None:
            self.error("E202", f"unknown set '{ref.name}'", ref.span,
                       help=did_you_mean(ref.name, self.sets) or "declare it: set NAME = {...}")
            return None, ref.name
        key = (ref.name, ftype)
        if key not in self.typed_sets:
            before = len(self.diagnostics)
            values = self.literal_set(ftype, decl.members.items)
            found = self.diagnostics[before:]
            del self.diagnostics[before:]
            self.diagnostics.extend(
                Diagnostic(d.code, f"{d.message} in set '{ref.name}' (used with fact '{fact_name}')", d.span, d.help)
                for d in found)
            self.typed_sets[key] = values
        return self.typed_sets[key], ref.name

    def declare_sets(self):
        for decl in self._decls(ast.SetDecl):
            name = decl.name.name
            if name in self.sets:
                self.error("E207", f"set '{name}' is declared twice", decl.name.span)
                continue
            if name in self.facts:
                self.error("E207", f"set '{name}' has the name of a fact", decl.name.span,
                           help="sets and facts share one namespace; rename one of them")
                continue
            if len(decl.members.items) > MAX_SET_MEMBERS:
                self.error("E212", f"set '{name}' has more than {MAX_SET_MEMBERS} members", decl.span)
                continue
            self.sets[name] = decl
        for decl in self._decls(ast.ConditionDecl):
            name = decl.name.name
            if name in self.condition_decls:
                self.error("E207", f"condition '{name}' is declared twice", decl.name.span)
            elif name in self.sets or name in self.facts:
                other = "set" if name in self.sets else "fact"
                self.error("E207", f"condition '{name}' has the name of a {other}", decl.name.span)
            else:
                self.condition_decls[name] = decl

    def rule_date(self, lit: ast.Literal | None, dated_by: str | None):
        if lit is None:
            return None
        if dated_by is None:
            self.error("E209", "rule dates need a date fact to compare with", lit.span,
                       help="declare which fact holds the date: dated by ship_date")
            return False
        value = self.literal(self.facts[dated_by].type, lit)
        return False if value is None else value

    def dated_by(self) -> str | None:
        decl = self._single(ast.DatedDecl, "dated by")
        if decl is None:
            return None
        fact = self.fact(decl.fact)
        if fact is None:
            return None
        if fact.type.kind is not Kind.DATE:
            self.error("E204", f"'dated by' needs a date fact; '{fact.name}' is {fact.type.describe()}",
                       decl.fact.span)
            return None
        return fact.name

    def reserved_names(self) -> None:
        idents = []
        for decl in self.module.decls:
            match decl:
                case ast.DecisionsDecl(names=names):
                    idents.extend(names)
                case ast.FactDecl(name=name) | ast.SetDecl(name=name) | ast.ConditionDecl(name=name):
                    idents.append(name)
                case ast.RuleDecl(id=ident) | ast.SuspensionDecl(id=ident):
                    idents.append(ident)
        for ident in idents:
            if ident.name in RESERVED:
                self.error("E216", f"'{ident.name}' is a reserved word and cannot be a name", ident.span,
                           help="choose another name")
