"""The compiled evaluator: one generated Python function per policy, compiled once.

The generated source contains only validated identifiers (fact names reach it through ``repr``)
and references to constants bound in its namespace; no policy text is ever evaluated. The fast
function reads each fact once into a local, checks it inline against its canonical form, and
evaluates the rules most severe first with early return (equivalent to most-severe-wins). Any
value that is not already canonical (a float, a ``"0.1%"`` string, a tuple, a missing or unknown
fact ...) sends the whole transaction through :func:`exportdsl.semantics.validate_facts`, which
either normalises it or raises an error naming each bad fact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from .. import ir
from ..combining import decisive_conditions
from ..operators import CompareOp, Quantifier
from ..semantics import (COMPARE_PYTHON, IS_EMPTY_PYTHON, MEMBER_PYTHON, MISSING, SET_TEST_PYTHON,
                         ValueProblem, coerce_value, valid_date, validate_facts)
from ..types import COUNTRY_CODES, Kind

#: Conditions nested deeper than this in generated code are split into temporaries.
_MAX_INLINE_DEPTH = 40
#: How many distinct valid date strings the date cache remembers before it starts over.
_DATE_CACHE_LIMIT = 100_000

Result = tuple[str, tuple[str, ...]]


@attrs.frozen
class CompiledPolicy:
    """A compiled evaluator: ``decide(facts) -> (decision, rule_ids)``, and its generated source."""

    decide: Callable[[Mapping], Result]
    source: str


class _Codegen:
    def __init__(self, policy: ir.Policy):
        self.policy = policy
        self.namespace: dict[str, object] = {}
        self.constants: dict[tuple, str] = {}
        self.local = {name: f"f{i}" for i, name in enumerate(policy.facts)}
        self.temp_counter = itertools.count()

    def const(self, value) -> str:
        key = (type(value), value)
        name = self.constants.get(key)
        if name is None:
            name = f"_K{len(self.constants)}"
            self.constants[key] = name
            self.namespace[name] = value
        return name

    # ---- conditions
    def expr(self, expr: ir.Expr, hoisted: list[str]) -> tuple[str, int]:
        """Python source of a condition over the fact locals, and its nesting depth."""
        match expr:
            case ir.Compare(fact=fact, op=op, value=value):
                local = self.local[fact]
                if value is True and op in (CompareOp.EQ, CompareOp.NE):
                    return (local if op is CompareOp.EQ else f"(not {local})"), 1
                if value is False and op in (CompareOp.EQ, CompareOp.NE):
                    return (f"(not {local})" if op is CompareOp.EQ else local), 1
                return f"({local} {COMPARE_PYTHON[op]} {self.const(value)})", 1
            case ir.Member(fact=fact, values=values):
                if len(values) == 1:
                    return f"({self.local[fact]} == {self.const(next(iter(values)))})", 1
                return MEMBER_PYTHON.format(fact=self.local[fact], values=self.const(values)), 1
            case ir.SetTest(fact=fact, quantifier=quantifier, values=values):
                if quantifier is Quantifier.ANY and len(values) == 1:
                    return f"({self.const(next(iter(values)))} in {self.local[fact]})", 1
                return SET_TEST_PYTHON[quantifier].format(fact=self.local[fact], values=self.const(values)), 1
            case ir.IsEmpty(fact=fact):
                return IS_EMPTY_PYTHON.format(fact=self.local[fact]), 1
            case ir.Const(value=value):
                return ("True" if value else "False"), 1
            case ir.Named(body=body):
                return self.expr(body, hoisted)
            case ir.Not(operand=operand):
                text, depth = self.expr(operand, hoisted)
                return self.hoist(f"(not {text})", depth + 1, hoisted)
            case ir.And() | ir.Or():
                joiner = " and " if isinstance(expr, ir.And) else " or "
                parts = [self.expr(op, hoisted) for op in _flatten(expr)]
                depth = 1 + max(d for _, d in parts)
                return self.hoist("(" + joiner.join(t for t, _ in parts) + ")", depth, hoisted)
        raise AssertionError(f"unknown IR node {expr!r}")

    def hoist(self, text: str, depth: int, hoisted: list[str]) -> tuple[str, int]:
        if depth < _MAX_INLINE_DEPTH:
            return text, depth
        name = f"t{next(self.temp_counter)}"
        hoisted.append(f"{name} = {text}")
        return name, 1

    # ---- fact validation (fast path: canonical values only)
    def check_fact(self, fact: ir.Fact, local: str) -> list[str]:
        kind = fact.type.kind
        slow = "return _slow(facts)"
        if kind is Kind.BOOL:
            return [f"if {local} is not True and {local} is not False: {slow}"]
        if kind is Kind.INTEGER:
            return [f"if {local}.__class__ is not int: {slow}"]
        if kind in (Kind.NUMBER, Kind.PERCENT):
            lines = [
                f"if {local}.__class__ is not int:",
                f"    if {local}.__class__ is float and {local} - {local} == 0: {local} = _Decimal(repr({local}))",
                f"    elif {local}.__class__ is not _Decimal or not {local}.is_finite(): {slow}",
            ]
            if kind is Kind.PERCENT:
                lines.append(f"if not 0 <= {local} <= 100: {slow}")
            return lines
        if kind is Kind.DATE:
            return [f"if {local} not in _DATES and not _remember_date({local}): {slow}"]
        if kind is Kind.COUNTRY:
            return [f"if {local} not in _COUNTRIES: {slow}"]
        if kind is Kind.STRING:
            return [f"if {local}.__class__ is not str: {slow}"]
        if kind is Kind.ENUM:
            return [f"if {local} not in {self.const(frozenset(fact.type.values))}: {slow}"]
        if kind is Kind.SET:
            element = fact.type.element
            if element.kind not in (Kind.ENUM, Kind.COUNTRY):
                return [f"{local} = _canonical_or_missing({self.const(fact.type)}, {local})",
                        f"if {local} is _MISSING: {slow}"]
            allowed = self.const(frozenset(element.values)) if element.kind is Kind.ENUM else "_COUNTRIES"
            return [
                f"if {local}.__class__ is not frozenset:",
                f"    if {local}.__class__ is list or {local}.__class__ is tuple: {local} = frozenset({local})",
                f"    else: {slow}",
                f"if not {local} <= {allowed}: {slow}",
            ]
        raise AssertionError(kind)

    # ---- the decision body
    def decide_lines(self) -> list[str]:
        policy = self.policy
        lines: list[str] = []
        decisive = decisive_conditions(policy)
        by_severity = sorted(
            (r for r in policy.rules),
            key=lambda r: -policy.severity(r.decision),
        )
        for decision, tier in itertools.groupby(by_severity, key=lambda r: r.decision):
            tier = list(tier)
            if len(tier) == 1:
                hoisted: list[str] = []
                cond, _ = self.expr(decisive[tier[0].id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: return {self.const((decision, (tier[0].id,)))}")
                continue
            lines.append("r = ()")
            for rule in tier:
                hoisted = []
                cond, _ = self.expr(decisive[rule.id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: r += {self.const((rule.id,))}")
            lines.append(f"if r: return ({self.const(decision)}, r)")
        lines.append(f"return {self.const((policy.default, ()))}")
        return lines

    def source(self) -> str:
        policy = self.policy
        out = ["def _decide(facts):", "    try:"]
        if not policy.facts:
            out.append("        if not isinstance(facts, _Mapping): return _slow(facts)")
        required = 0
        for name, fact in policy.facts.items():
            local = self.local[name]
            if fact.required:
                required += 1
                out.append(f"        {local} = facts[{name!r}]")
            else:
                out.append(f"        {local} = facts.get({name!r}, _MISSING)")
                out.append(f"        if {local} is _MISSING: {local} = {self.const(fact.default)}")
                out.append("        else: n += 1")
            out.extend("        " + line for line in self.check_fact(fact, local))
        if any(not f.required for f in policy.facts.values()):
            out.insert(2, f"        n = {required}")
            out.append("        if len(facts) != n: return _slow(facts)")
        else:
            out.append(f"        if len(facts) != {required}: return _slow(facts)")
        out.append("    except (KeyError, TypeError, AttributeError):")
        out.append("        return _slow(facts)")
        out.extend("    " + line for line in self.decide_lines())
        return "\n".join(out) + "\n"


def _flatten(expr: ir.Expr):
    """Operands of an and/or, with nested operands of the same connective (through names) spliced in."""
    cls = type(expr)
    for op in expr.operands:
        while isinstance(op, ir.Named):
            op = op.body
        if type(op) is cls:
            yield from _flatten(op)
        else:
            yield op


def _canonical_or_missing(ftype, value):
    try:
        return coerce_value(ftype, value)
    except ValueProblem:
        return MISSING


def compile_policy(policy: ir.Policy) -> CompiledPolicy:
    """Generate, compile and bind the evaluator of a checked policy."""
    gen = _Codegen(policy)
    source = gen.source()
    dates: set[str] = set()

    def remember_date(value) -> bool:
        if not valid_date(value):
            return False
        if len(dates) >= _DATE_CACHE_LIMIT:
            dates.clear()
        dates.add(value)
        return True

    namespace = dict(gen.namespace)
    namespace.update(
        __builtins__={},
        _MISSING=MISSING,
        _Decimal=Decimal, _Mapping=Mapping, isinstance=isinstance,
        _DATES=dates,
        _COUNTRIES=COUNTRY_CODES,
        _remember_date=remember_date,
        _canonical_or_missing=_canonical_or_missing,
        frozenset=frozenset, repr=repr, len=len, int=int, float=float, str=str, list=list, tuple=tuple,
        KeyError=KeyError, TypeError=TypeError, AttributeError=AttributeError,
    )
    code = compile(source, f"<exportdsl policy {policy.name or ''}>", "exec")
    exec(code, namespace)  # noqa: S102 - generated from validated identifiers and bound constants only
    decide = namespace["_decide"]

    def slow(facts):
        # Validated facts are canonical, so the fast path accepts them; never loop on a second rejection.
        if type(facts) is _Canonical:
            raise AssertionError("the compiled evaluator rejected validated facts")
        return decide(_Canonical(validate_facts(policy.facts, facts)))

    namespace["_slow"] = slow
    return CompiledPolicy(decide, source)


class _Canonical(dict):
    """Facts already validated and normalised by the reference validator."""

    __slots__ = ()
