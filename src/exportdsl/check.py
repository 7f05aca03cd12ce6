"""Checks a syntax tree against its own declarations and lowers it to IR, collecting diagnostics.

The passes run in order: header (decisions, default, ``dated by``), facts, named sets
(:mod:`exportdsl.check_declarations`), named conditions (with cycle detection), then rules. Each
pass records every problem it finds and goes on, so one run reports as many independent errors as
it can.
"""

from __future__ import annotations

from types import MappingProxyType

from . import ast, ir
from .check_declarations import MAX_RULES, DeclarationChecks
from .errors import CheckError, Diagnostic, did_you_mean
from .operators import CompareOp, LiteralKind, Quantifier
from .types import BOOL, FactType, Kind


def _children(node: ir.Expr) -> tuple:
    if isinstance(node, (ir.And, ir.Or)):
        return node.operands
    if isinstance(node, ir.Not):
        return (node.operand,)
    if isinstance(node, ir.Named):
        return (node.body,)
    return ()


def ir_depth(expr: ir.Expr, memo: dict[int, int] | None = None) -> int:
    """Nesting depth of an IR condition (and, or, not and names count), computed without recursion.

    Conditions are DAGs (a named condition is one object wherever it is used): each node's depth is
    computed once and kept in ``memo`` (by node identity), so the work is linear in the DAG's size,
    not in the size of the tree it unfolds to. Share one memo across the rules of a policy.
    """
    memo = {} if memo is None else memo
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in memo:
            continue
        children = _children(node)
        if expanded or not children:
            memo[id(node)] = 1 + max((memo[id(c)] for c in children), default=0)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in memo)
    return memo[id(expr)]


#: Deepest a rule's condition may be once named conditions and applies(...) are inlined.
MAX_EXPANDED_DEPTH = 300

class _Checker(DeclarationChecks):
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
        memo: dict[int, int] = {}   # the rules' conditions stay alive meanwhile, so ids stay unique
        for rule in rules:
            for expr in (rule.condition,):
                depth = ir_depth(expr, memo)
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
