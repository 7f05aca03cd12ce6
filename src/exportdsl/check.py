"""Checks a syntax tree against its own declarations and lowers it to IR, collecting diagnostics.

The passes run in order: header (decisions, default, ``dated by``), facts, named sets, named
conditions (with cycle detection), then rules. Each pass records every problem it finds and goes
on, so one run reports as many independent errors as it can.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from . import ast, ir
from .errors import CheckError, Diagnostic, did_you_mean
from .operators import RESERVED, CompareOp, LiteralKind, Quantifier
from .semantics import MISSING, ValueProblem, coerce_value, literal_value
from .types import SCALAR_KINDS, BOOL, FactType, Kind, enum_of, set_of

def ir_depth(expr: ir.Expr) -> int:
    """Nesting depth of an IR condition (and, or, not and names count), computed without recursion."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, (ir.And, ir.Or)):
            stack.extend((op, depth + 1) for op in node.operands)
        elif isinstance(node, ir.Not):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ir.Named):
            stack.append((node.body, depth + 1))
    return deepest


#: Deepest a rule's condition may be once named conditions and applies(...) are inlined.
MAX_EXPANDED_DEPTH = 300

#: Upper bounds that keep a policy's size sane.
MAX_RULES = 50_000
MAX_FACTS = 1_000
MAX_SET_MEMBERS = 100_000

_SET_ELEMENT_KINDS = frozenset({Kind.ENUM, Kind.STRING, Kind.COUNTRY, Kind.INTEGER, Kind.NUMBER,
                                Kind.PERCENT, Kind.DATE})


class _Checker:
    def __init__(self, module: ast.Module):
        self.module = module
        self.diagnostics: list[Diagnostic] = []
        self.facts: dict[str, ir.Fact] = {}
        self.sets: dict[str, ast.SetDecl] = {}
        self.typed_sets: dict[tuple[str, FactType], frozenset] = {}
        self.condition_decls: dict[str, ast.ConditionDecl] = {}
        self.conditions: dict[str, ir.Expr] = {}
        self.resolving: list[str] = []
        self.broken_facts: set[str] = set()
        self.current_span = None
        self.dated_by_fact: str | None = None
        self.rule_decls: dict[str, ast.RuleDecl] = {}
        self.rule_conditions: dict[str, ir.Expr | None] = {}
        self.rule_when: dict[str, ir.Expr] = {}
        self.rule_bounds: dict[str, tuple] = {}
        self.resolving_rules: list[str] = []
        self.suspensions: dict[str, ir.Suspension] = {}

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
            values: list[str] = []
            for lit in texpr.enum_values:
                if lit.kind not in (LiteralKind.NAME, LiteralKind.STRING):
                    self.error("E204", f"enum values are names or strings, not {lit.kind.value} {lit.text}", lit.span)
                elif lit.text in values:
                    self.error("E207", f"enum value '{lit.text}' is listed twice", lit.span)
                else:
                    values.append(lit.text)
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
            self.error(problem.code, problem.message, lit.span, problem.help)
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

    # ---- conditions
    def fact(self, ident: ast.Ident) -> ir.Fact | None:
        fact = self.facts.get(ident.name)
        if fact is None and ident.name in self.broken_facts:
            return None   # its declaration is already reported
        if fact is None:
            self.error("E201", f"unknown fact '{ident.name}'", ident.span,
                       help=did_you_mean(ident.name, self.facts) or "declare it: fact NAME: TYPE")
        return fact

    def _references(self, node) -> list[tuple[str, str]]:
        """Named conditions (``c``) and rules (``r``) that a condition refers to, read without recursion."""
        found, stack = [], [node]
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Ref) and item.name in self.condition_decls:
                found.append(("c", item.name))
            elif isinstance(item, ast.Applies):
                found.extend(("r", ident.name) for ident in item.rules if ident.name in self.rule_decls)
            elif isinstance(item, (ast.And, ast.Or)):
                stack.extend(reversed(item.operands))
            elif isinstance(item, ast.Not):
                stack.append(item.operand)
        return found

    def resolve_in_dependency_order(self) -> None:
        """Resolve named conditions and rule conditions dependencies first, so that resolving one
        never recurses through a long chain; report each reference cycle once."""
        bodies = {("c", n): d.body for n, d in self.condition_decls.items()}
        bodies.update({("r", r): d.condition for r, d in self.rule_decls.items()})
        state: dict[tuple, int] = {}   # 1 visiting, 2 done
        for root in bodies:
            if root in state:
                continue
            path, stack = [root], [iter(self._references(bodies[root]))]
            state[root] = 1
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    node = path.pop()
                    stack.pop()
                    state[node] = 2
                    self._resolve(node)
                    continue
                if state.get(nxt) == 1:
                    self._report_cycle(path[path.index(nxt):] + [nxt])
                    continue
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(self._references(bodies[nxt])))

    def _resolve(self, node: tuple) -> None:
        kind, name = node
        if kind == "c":
            self.named_condition(name, self.condition_decls[name].name.span)
        else:
            self.rule_condition(name, self.rule_decls[name].id.span)

    def _reference_span(self, node: tuple, target: tuple):
        """Where the body of ``node`` refers to ``target`` (for the caret of a cycle error)."""
        kind, name = node
        stack = [self.condition_decls[name].body if kind == "c" else self.rule_decls[name].condition]
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Ref) and target == ("c", item.name):
                return item.span
            if isinstance(item, ast.Applies):
                for ident in item.rules:
                    if target == ("r", ident.name):
                        return ident.span
            if isinstance(item, (ast.And, ast.Or)):
                stack.extend(item.operands)
            elif isinstance(item, ast.Not):
                stack.append(item.operand)
        return None

    def _report_cycle(self, cycle: list[tuple]) -> None:
        names = " -> ".join(name for _, name in cycle)
        # the caret goes under the reference that closes the cycle
        span = self._reference_span(cycle[-2], cycle[-1])
        if all(k == "c" for k, _ in cycle):
            self.error("E210", f"named conditions refer to each other in a cycle: {names}", span)
        else:
            self.error("E215", f"rules and conditions refer to each other in a cycle: {names}", span)
        for k, n in cycle:   # resolved as failing, so that nothing reports the cycle again
            (self.conditions if k == "c" else self.rule_conditions)[n] = None

    def check_expanded_depth(self, rules: list[ir.Rule]) -> None:
        """Named conditions and applies(...) inline other conditions; bound the depth this builds."""
        for rule in rules:
            for expr in (rule.condition,):
                depth = ir_depth(expr)
                if depth > MAX_EXPANDED_DEPTH:
                    self.error("E102", f"rule {rule.id}'s condition is nested {depth} levels deep once named "
                               f"conditions and applies(...) are expanded (the limit is {MAX_EXPANDED_DEPTH})",
                               rule.span, help="flatten chains of named conditions that each build on the last")

    def named_condition(self, name: str, span) -> ir.Expr | None:
        if name in self.conditions:
            return self.conditions[name]
        if name in self.resolving:
            cycle = " -> ".join(self.resolving[self.resolving.index(name):] + [name])
            self.error("E210", f"named conditions refer to each other in a cycle: {cycle}", span)
            return None
        self.resolving.append(name)
        try:
            body = self.expr(self.condition_decls[name].body)
        finally:
            self.resolving.pop()
        result = None if body is None else ir.Named(name, body, span=self.condition_decls[name].span)
        self.conditions[name] = result
        return result

    def expr(self, node) -> ir.Expr | None:
        """Lower a condition; returns None (after reporting) when it does not check."""
        span = node.span
        if isinstance(node, ast.And) or isinstance(node, ast.Or):
            parts = [self.expr(op) for op in node.operands]
            if any(p is None for p in parts):
                return None
            cls = ir.And if isinstance(node, ast.And) else ir.Or
            return cls(tuple(parts), span=span)
        if isinstance(node, ast.Not):
            inner = self.expr(node.operand)
            return None if inner is None else ir.Not(inner, span=span)
        if isinstance(node, ast.BoolConst):
            return ir.Const(node.value, span=span)
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Applies):
            return self.applies(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.InSet):
            return self.in_set(node)
        if isinstance(node, ast.Contains):
            return self.contains(node)
        if isinstance(node, ast.IsEmpty):
            fact = self.fact(node.fact)
            if fact is None:
                return None
            if not fact.type.is_set:
                self.error("E204", f"'is empty' needs a set fact; '{fact.name}' is {fact.type.describe()}", span)
                return None
            test = ir.IsEmpty(fact.name, span=span)
            return ir.Not(test, span=span) if node.negated else test
        raise AssertionError(f"unexpected condition node {node!r}")

    def ref(self, node: ast.Ref) -> ir.Expr | None:
        name = node.name
        if name in self.condition_decls:
            return self.named_condition(name, node.span)
        fact = self.facts.get(name)
        if fact is not None:
            if fact.type == BOOL:
                return ir.Compare(name, CompareOp.EQ, True, span=node.span)
            self.error("E204", f"'{name}' is a {fact.type.describe()} fact, not a condition", node.span,
                       help=f"compare it, e.g. {name} = ... or {name} in {{...}}")
            return None
        if name in self.sets:
            self.error("E204", f"'{name}' is a set, not a condition", node.span,
                       help=f"test membership: FACT in {name}")
            return None
        candidates = list(self.condition_decls) + [f for f, d in self.facts.items() if d.type == BOOL]
        self.error("E202", f"unknown condition or bool fact '{name}'", node.span,
                   help=did_you_mean(name, candidates) or did_you_mean(name, self.facts)
                   or "declare it: condition NAME = ...")
        return None

    def compare(self, node: ast.Compare) -> ir.Expr | None:
        fact = self.fact(node.fact)
        if fact is None:
            return None
        ftype = fact.type
        if ftype.is_set:
            self.error("E204", f"'{node.op.value}' does not apply to the set fact '{fact.name}'", node.span,
                       help=f"use {fact.name} contains ..., contains any {{...}}, or is empty")
            return None
        if node.op not in (CompareOp.EQ, CompareOp.NE) and not ftype.is_ordered:
            self.error("E204", f"'{node.op.value}' needs an ordered fact (integer, number, percent or date); "
                       f"'{fact.name}' is {ftype.describe()}", node.span,
                       help="use = or != (or in {...}) for this fact")
            return None
        if node.value.kind is LiteralKind.NAME and node.value.text in self.facts \
                and not (ftype.kind is Kind.ENUM and node.value.text in ftype.values):
            self.error("E204", f"'{node.value.text}' is a fact: comparing two facts is not supported", node.value.span,
                       help="compare a fact with a literal value; quote it if you meant the text")
            return None
        value = self.literal(ftype, node.value)
        if value is None:
            return None
        return ir.Compare(fact.name, node.op, value, span=node.span)

    def in_set(self, node: ast.InSet) -> ir.Expr | None:
        fact = self.fact(node.fact)
        if fact is None:
            return None
        if fact.type.is_set:
            self.error("E204", f"'in' tests a single value; '{fact.name}' is a set", node.span,
                       help=f"use {fact.name} contains any {{...}} or contains all {{...}}")
            return None
        if fact.type == BOOL:
            self.error("E204", f"'in' does not apply to the bool fact '{fact.name}'", node.span)
            return None
        values, set_name = self.set_values(fact.type, node.values, fact.name)
        if values is None:
            return None
        test = ir.Member(fact.name, values, set_name, span=node.span)
        return ir.Not(test, span=node.span) if node.negated else test

    def contains(self, node: ast.Contains) -> ir.Expr | None:
        fact = self.fact(node.fact)
        if fact is None:
            return None
        if not fact.type.is_set:
            self.error("E204", f"'contains' needs a set fact; '{fact.name}' is {fact.type.describe()}", node.span,
                       help=f"use {fact.name} = ... or {fact.name} in {{...}}")
            return None
        if node.quantifier is None:
            value = self.literal(fact.type, node.values)
            if value is None:
                return None
            return ir.SetTest(fact.name, Quantifier.ANY, frozenset([value]), span=node.span)
        values, set_name = self.set_values(fact.type, node.values, fact.name)
        if values is None:
            return None
        return ir.SetTest(fact.name, node.quantifier, values, set_name, span=node.span)

    # ---- rules
    def collect_rules(self) -> None:
        decls = self._decls(ast.RuleDecl)
        if len(decls) > MAX_RULES:
            self.error("E212", f"{len(decls)} rules exceed the limit of {MAX_RULES}", self.module.span)
            return
        for decl in decls:
            rid = decl.id.name
            if rid in self.rule_decls:
                first = self.rule_decls[rid].id.span
                where = f" (first at {first.location()})" if first is not None else ""
                self.error("E206", f"duplicate rule id '{rid}'{where}", decl.id.span,
                           help="give every rule a unique id")
                continue
            self.rule_decls[rid] = decl
        self.suspensions = self.check_suspensions()

    def rules(self, decisions) -> list[ir.Rule]:
        rules: list[ir.Rule] = []
        for rid, decl in self.rule_decls.items():
            decision = self.decision(decl.decision, decisions)
            condition = self.rule_condition(rid, decl.id.span)
            overrides = self.rule_refs(decl.overrides, f"rule {rid} overrides")
            if overrides is not None and rid in overrides:
                self.error("E214", f"rule {rid} overrides itself", decl.id.span)
            if decision is None or condition is None or overrides is None:
                continue
            when = self.rule_when[rid]
            rules.append(ir.Rule(
                rid, decision, when, condition, decl.title, decl.cite,
                self.rule_bounds[rid][0], self.rule_bounds[rid][1], tuple(overrides),
                tuple(s.id for s in self.suspensions.values() if rid in s.rules), span=decl.span))
        return rules

    def rule_refs(self, idents, what: str) -> list[str] | None:
        found, ok = [], True
        for ident in idents:
            if ident.name not in self.rule_decls:
                ok = False
                self.error("E214", f"{what} unknown rule '{ident.name}'", ident.span,
                           help=did_you_mean(ident.name, self.rule_decls) or "name a rule id of this policy")
            elif ident.name not in found:
                found.append(ident.name)
        return found if ok else None

    def window(self, effective, until, span) -> ir.Expr | None:
        bounds = []
        if effective is not None:
            bounds.append(ir.Compare(self.dated_by_fact, CompareOp.GE, effective, span=span))
        if until is not None:
            bounds.append(ir.Compare(self.dated_by_fact, CompareOp.LE, until, span=span))
        if not bounds:
            return None
        return bounds[0] if len(bounds) == 1 else ir.And(tuple(bounds), span=span)

    def check_suspensions(self) -> dict[str, ir.Suspension]:
        result: dict[str, ir.Suspension] = {}
        for decl in self._decls(ast.SuspensionDecl):
            sid = decl.id.name
            if sid in result:
                self.error("E207", f"suspension '{sid}' is declared twice", decl.id.span)
                continue
            rules = self.rule_refs(decl.rules, f"suspension {sid} suspends")
            if decl.effective is None and decl.until is None:
                self.error("E208", f"suspension {sid} has no dates", decl.span,
                           help="give it an 'effective' date, an 'until' date, or both")
                continue
            effective = self.rule_date(decl.effective, self.dated_by_fact)
            until = self.rule_date(decl.until, self.dated_by_fact)
            if rules is None or effective is False or until is False:
                continue
            result[sid] = ir.Suspension(sid, tuple(rules), effective, until, decl.title, decl.cite,
                                        span=decl.span)
        return result

    def rule_condition(self, rid: str, span) -> ir.Expr | None:
        """The full condition of a rule (its dates and suspensions included), resolved once."""
        if rid in self.rule_conditions:
            return self.rule_conditions[rid]
        if rid in self.resolving_rules:
            cycle = " -> ".join(self.resolving_rules[self.resolving_rules.index(rid):] + [rid])
            self.error("E215", f"rules refer to each other through applies(...) in a cycle: {cycle}", span)
            return None
        decl = self.rule_decls[rid]
        self.resolving_rules.append(rid)
        try:
            when = self.expr(decl.condition)
        finally:
            self.resolving_rules.pop()
        effective = self.rule_date(decl.effective, self.dated_by_fact)
        until = self.rule_date(decl.until, self.dated_by_fact)
        if when is None or effective is False or until is False:
            self.rule_conditions[rid] = None
            return None
        parts = []
        if effective is not None:
            parts.append(ir.Compare(self.dated_by_fact, CompareOp.GE, effective, span=decl.effective.span))
        if until is not None:
            parts.append(ir.Compare(self.dated_by_fact, CompareOp.LE, until, span=decl.until.span))
        for suspension in self.suspensions.values():
            if rid in suspension.rules:
                window = self.window(suspension.effective, suspension.until, suspension.span)
                parts.append(ir.Not(ir.Named(f"suspension {suspension.id}", window, span=suspension.span),
                                    span=suspension.span))
        body = when.operands if isinstance(when, ir.And) else (when,)
        condition = ir.And((*parts, *body), span=decl.condition.span) if parts else when
        self.rule_when[rid] = when
        self.rule_bounds[rid] = (effective, until)
        self.rule_conditions[rid] = condition
        return condition

    def applies(self, node: ast.Applies) -> ir.Expr | None:
        parts = []
        for ident in node.rules:
            if ident.name not in self.rule_decls:
                self.error("E214", f"applies(...) names unknown rule '{ident.name}'", ident.span,
                           help=did_you_mean(ident.name, self.rule_decls) or "name a rule id of this policy")
                return None
            condition = self.rule_condition(ident.name, ident.span)
            if condition is None:
                return None
            parts.append(ir.Named(f"applies({ident.name})", condition, span=ident.span))
        return parts[0] if len(parts) == 1 else ir.Or(tuple(parts), span=node.span)

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

    def run(self) -> ir.Policy | None:
        self.reserved_names()
        policy_decl, decisions, default = self.header()
        self.declare_facts()
        self.declare_sets()
        dated_by = self.dated_by_fact = self.dated_by()
        self.collect_rules()
        self.resolve_in_dependency_order()
        rules = self.rules(decisions)
        self.check_expanded_depth(rules)
        if self.diagnostics:
            return None
        return ir.Policy(
            name=policy_decl.name if policy_decl else None,
            version=policy_decl.version if policy_decl else None,
            decisions=decisions,
            default=default,
            facts=MappingProxyType(dict(self.facts)),
            rules=tuple(rules),
            sets=MappingProxyType({
                name: ir.NamedSet(name, tuple(lit.text for lit in decl.members.items), span=decl.span,
                                  literals=decl.members.items)
                for name, decl in self.sets.items()}),
            conditions=MappingProxyType({name: expr for name, expr in self.conditions.items() if expr is not None}),
            dated_by=dated_by,
            suspensions=MappingProxyType(dict(self.suspensions)),
        )


def check(module: ast.Module) -> tuple[ir.Policy | None, list[Diagnostic]]:
    """Check a module; returns the IR (None if any error) and every diagnostic found."""
    checker = _Checker(module)
    policy = checker.run()
    far = float("inf")
    ordered = sorted(checker.diagnostics, key=lambda d: (
        d.span.source.name if d.span else "", d.span.start if d.span else far))
    return policy, ordered


def lower(module: ast.Module) -> ir.Policy:
    """Check a module and return its IR; raises :class:`CheckError` with every diagnostic."""
    policy, diagnostics = check(module)
    if policy is None:
        raise CheckError(diagnostics)
    return policy


def lower_condition(expr: ast.Expr, policy: ir.Policy) -> ir.Expr:
    """Check a standalone condition (``--where``) against a policy's declarations."""
    checker = _Checker(ast.Module(()))
    checker.facts = dict(policy.facts)
    checker.sets = {name: ast.SetDecl(ast.Ident(name), ast.SetLiteral(s.literals), span=s.span)
                    for name, s in policy.sets.items()}
    checker.condition_decls = {name: None for name in policy.conditions}
    checker.conditions = dict(policy.conditions)
    checker.rule_decls = {rule.id: None for rule in policy.rules}
    checker.rule_conditions = {rule.id: rule.condition for rule in policy.rules}
    result = checker.expr(expr)
    if result is None or checker.diagnostics:
        raise CheckError(checker.diagnostics)
    return result
