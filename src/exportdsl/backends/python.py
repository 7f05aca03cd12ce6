"""The compiled evaluator: generated Python functions per policy, each compiled once.

The generated source contains only validated identifiers and Python literals (fact names and
string values reach it through ``repr``) and references to constants bound in its namespace; no
policy text is ever evaluated. The main function reads each fact of an exact ``dict`` once into a
local, checks it inline against its canonical form (exact built-in types only: a subclass, another
Mapping, a ``"0.1%"`` string ... goes to :func:`exportdsl.semantics.validate_facts`, which
normalises it or raises an error naming each bad fact), then evaluates the rules most severe first
with early return (equivalent to most-severe-wins).

Numbers: a JSON float means the decimal its shortest repr spells. The main function compares floats
and ints with float literals chosen at compile time (:mod:`.float_cuts`), which is exact; a
``Decimal`` value, or a transaction that needed validation, is decided by the *exact* variant of the
same rules, which compares ``Decimal`` values (generated and compiled on first use). The
*decision-only* variant stops at the first rule that applies and does not collect rule ids.

A named condition used more than once is computed once per transaction into a local, so the code
stays linear in the size of the IR even where named conditions form a DAG.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal

from .. import ir
from ..combining import decisive_conditions
from ..errors import EvaluationError
from ..operators import CompareOp, Quantifier
from ..semantics import COMPARE_PYTHON, IS_EMPTY_PYTHON, MISSING, SET_TEST_PYTHON, valid_date, validate_facts
from ..types import COUNTRY_CODES, Kind
from .float_cuts import float_cut, float_value

#: Conditions nested deeper than this in generated code are split into temporaries.
_MAX_INLINE_DEPTH = 40
#: How many distinct valid date strings the date cache remembers before it starts over.
_DATE_CACHE_LIMIT = 100_000
#: Ints written as literals in generated code (larger ones are bound constants).
_LITERAL_INT_LIMIT = 10**18
#: A named condition used more than once is inlined at each use when it is at most this many nodes.
_INLINE_SHARED_SIZE = 6

Result = tuple[str, tuple[str, ...]]
_NUMERIC = (Kind.NUMBER, Kind.PERCENT)
#: The fast path takes ints, floats and Decimals within these bounds (well inside what validation
#: accepts); anything larger, smaller or longer is checked by validate_facts.
_FAST_INT = 10**18
_FAST_FLOAT = 1e30
_FAST_TINY = 1e-30
_FAST_EXPONENT = 30
_FAST_DIGITS = 30


class CompiledPolicy:
    """A compiled evaluator: ``decide(facts) -> (decision, rule_ids)``, ``decision(facts) -> decision``."""

    __slots__ = ("decide", "decision", "source")

    def __init__(self, decide: Callable[[Mapping], Result], decision: Callable[[Mapping], str], source: str):
        self.decide, self.decision, self.source = decide, decision, source


def _children(expr: ir.Expr) -> tuple[ir.Expr, ...]:
    """The sub-conditions of a condition node (a named condition's body included)."""
    if isinstance(expr, (ir.And, ir.Or)):
        return expr.operands
    if isinstance(expr, ir.Not):
        return (expr.operand,)
    if isinstance(expr, ir.Named):
        return (expr.body,)
    return ()


def _shared_named(conditions) -> dict[int, int]:
    """How many times each named condition (by the identity of its body) is referred to, DAG-wise."""
    counts: dict[int, int] = {}
    stack = list(conditions)
    while stack:
        expr = stack.pop()
        if isinstance(expr, ir.Named):
            key = id(expr.body)
            counts[key] = counts.get(key, 0) + 1
            if counts[key] > 1:
                continue          # its body was counted at the first reference
        stack.extend(_children(expr))
    return counts


def _size(expr: ir.Expr, limit: int) -> int:
    """Nodes of a condition once names are expanded, counted up to ``limit + 1``."""
    total, stack = 0, [expr]
    while stack and total <= limit:
        total += 1
        stack.extend(_children(stack.pop()))
    return total


class _Codegen:
    """The source of one variant: ``exact`` (Decimal comparisons) or not, rule ids or decision only."""

    def __init__(self, policy: ir.Policy, decisive: dict[str, ir.Expr], *, exact: bool, ids: bool, prefix: str):
        self.policy, self.decisive, self.exact, self.ids = policy, decisive, exact, ids
        self.prefix = prefix
        self.namespace: dict[str, object] = {}
        self.constants: dict[tuple, str] = {}
        self.local = {name: f"f{i}" for i, name in enumerate(policy.facts)}
        self.temp_counter = itertools.count()
        counts = _shared_named(decisive.values())
        self.shared = {key for key, n in counts.items() if n > 1}
        self.computed: dict[int, str] = {}     # shared named condition -> its local, once emitted
        suffix = "[0]" if not ids else ""
        self.slow = f"return _slow(facts){suffix}"
        self.to_exact = f"return _exact(facts, False){suffix}"

    def const(self, value) -> str:
        key = (type(value), value)
        name = self.constants.get(key)
        if name is None:
            name = f"_{self.prefix}{len(self.constants)}"
            self.constants[key] = name
            self.namespace[name] = value
        return name

    def literal(self, value) -> str:
        """A Python literal of a canonical value where one is exact, else a bound constant."""
        cls = value.__class__
        if cls is str or cls is bool:
            return repr(value)
        if cls is int and -_LITERAL_INT_LIMIT < value < _LITERAL_INT_LIMIT:
            return f"({value})" if value < 0 else repr(value)
        if cls is float:
            return f"({value!r})" if value < 0 or repr(value).startswith("-") else repr(value)
        return self.const(value)

    def set_literal(self, values: frozenset) -> str:
        """``{...}`` after ``in`` (CPython folds it into a frozenset constant) or a bound constant."""
        if values and all(v.__class__ is str or (v.__class__ is int and abs(v) < _LITERAL_INT_LIMIT)
                          for v in values):
            return "{" + ", ".join(sorted(map(repr, values))) + "}"
        return self.const(values)

    def exact_number(self, local: str) -> str:
        """The exact value of a numeric local in the float variant (floats become their decimal)."""
        return f"(_Decimal(repr({local})) if {local}.__class__ is float else {local})"

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
                if not self.exact and self.policy.facts[fact].type.kind in _NUMERIC:
                    cut = float_cut(op, value)
                    if cut is True or cut is False:
                        return repr(cut), 1
                    if cut is None:
                        return f"({self.exact_number(local)} {COMPARE_PYTHON[op]} {self.const(value)})", 1
                    return f"({local} {cut[0]} {self.literal(cut[1])})", 1
                return f"({local} {COMPARE_PYTHON[op]} {self.literal(value)})", 1
            case ir.Member(fact=fact, values=values):
                local = self.local[fact]
                if not values:
                    return "False", 1
                if not self.exact and self.policy.facts[fact].type.kind in _NUMERIC:
                    return f"({self.exact_number(local)} in {self.const(values)})", 1
                return f"({local} in {self.set_literal(values)})", 1
            case ir.SetTest(fact=fact, quantifier=quantifier, values=values):
                if quantifier is Quantifier.ANY and len(values) == 1:
                    return f"({self.literal(next(iter(values)))} in {self.local[fact]})", 1
                return SET_TEST_PYTHON[quantifier].format(fact=self.local[fact], values=self.const(values)), 1
            case ir.IsEmpty(fact=fact):
                return IS_EMPTY_PYTHON.format(fact=self.local[fact]), 1
            case ir.Const(value=value):
                return ("True" if value else "False"), 1
            case ir.Named(body=body):
                if self.is_computed_once(expr):
                    return self.computed_named(expr, hoisted), 1
                return self.expr(body, hoisted)
            case ir.Not(operand=operand):
                text, depth = self.expr(operand, hoisted)
                return self.hoist(f"(not {text})", depth + 1, hoisted)
            case ir.And() | ir.Or():
                joiner = " and " if isinstance(expr, ir.And) else " or "
                parts = [self.expr(op, hoisted) for op in self.flatten(expr)]
                depth = 1 + max(d for _, d in parts)
                return self.hoist("(" + joiner.join(t for t, _ in parts) + ")", depth, hoisted)
        raise AssertionError(f"unknown IR node {expr!r}")

    def is_computed_once(self, named: ir.Named) -> bool:
        key = id(named.body)
        return key in self.shared and _size(named.body, _INLINE_SHARED_SIZE) > _INLINE_SHARED_SIZE

    def computed_named(self, named: ir.Named, hoisted: list[str]) -> str:
        """The local holding a shared named condition, computed (once) before the statement needing it.

        Conditions are pure, so computing one ahead of a short-circuit that might skip it changes
        no answer; it is placed just before the first rule that refers to it, so earlier exits skip it.
        """
        key = id(named.body)
        local = self.computed.get(key)
        if local is None:
            text, _ = self.expr(named.body, hoisted)
            local = f"n{len(self.computed)}"
            hoisted.append(f"{local} = {text}")
            self.computed[key] = local
        return local

    def flatten(self, expr):
        """Operands of an and/or, with nested operands of the same connective (through names) spliced in."""
        cls = type(expr)
        for op in expr.operands:
            while isinstance(op, ir.Named) and not self.is_computed_once(op):
                op = op.body
            if type(op) is cls:
                yield from self.flatten(op)
            else:
                yield op

    def hoist(self, text: str, depth: int, hoisted: list[str]) -> tuple[str, int]:
        if depth < _MAX_INLINE_DEPTH:
            return text, depth
        name = f"t{next(self.temp_counter)}"
        hoisted.append(f"{name} = {text}")
        return name, 1

    # ---- fact validation (fast path: exact built-in types in canonical form only)
    def check_fact(self, fact: ir.Fact, x: str) -> list[str]:
        kind, slow = fact.type.kind, self.slow
        if kind is Kind.BOOL:
            return [f"if {x} is not True and {x} is not False: {slow}"]
        if kind is Kind.INTEGER:
            return [f"if {x}.__class__ is not int or not {-_FAST_INT} < {x} < {_FAST_INT}: {slow}"]
        if kind in _NUMERIC:
            return self.check_number(kind, x)
        if kind is Kind.DATE:
            return [f"if {x}.__class__ is not str or ({x} not in _DATES and not _remember_date({x})): {slow}"]
        if kind is Kind.COUNTRY:
            return [f"if {x}.__class__ is not str or {x} not in _COUNTRIES: {slow}"]
        if kind is Kind.STRING:
            return [f"if {x}.__class__ is not str: {slow}"]
        if kind is Kind.ENUM:
            return [f"if {x}.__class__ is not str or {x} not in {self.set_literal(frozenset(fact.type.values))}: {slow}"]
        if kind is Kind.SET:
            element = fact.type.element
            lines = [f"if {x}.__class__ is not frozenset:",
                     f"    if {x}.__class__ is not list and {x}.__class__ is not tuple and {x}.__class__ is not set: {slow}",
                     f"    for e in {x}:",
                     f"        if e.__class__ is not str: {slow}",
                     f"    {x} = frozenset({x})",
                     "else:",
                     f"    for e in {x}:",
                     f"        if e.__class__ is not str: {slow}"]
            if element.kind is Kind.ENUM:
                lines.append(f"if not {x} <= {self.const(frozenset(element.values))}: {slow}")
            elif element.kind is Kind.COUNTRY:
                lines.append(f"if not {x} <= _COUNTRIES: {slow}")
            return lines
        raise AssertionError(kind)

    def check_number(self, kind: Kind, x: str) -> list[str]:
        """Exact ints, floats and Decimals within the fast range.

        The range is narrower than what :func:`validate_facts` accepts, so the fast path never
        accepts a value that validation would refuse; values outside it take the slow way.
        """
        slow = self.slow
        if kind is Kind.PERCENT:
            float_range = f"not 0 <= {x} <= 100 or ({x} and {x} < {_FAST_TINY!r})"
            int_range = f"not 0 <= {x} <= 100"
        else:
            float_range = f"not {-_FAST_FLOAT!r} < {x} < {_FAST_FLOAT!r} or ({x} and {-_FAST_TINY!r} < {x} < {_FAST_TINY!r})"
            int_range = f"not {-_FAST_INT} < {x} < {_FAST_INT}"
        lines = []
        if not self.exact:
            # A Decimal that is the shortest text of a float is that float here (exact under the float
            # cuts); any other Decimal is decided by the exact variant.
            lines += [f"if {x}.__class__ is _Decimal:",
                      f"    if not {x}.is_finite() or len(str({x})) > {_FAST_DIGITS}: {slow}",
                      f"    if _Decimal(repr({x}f := float({x}))) != {x}: {self.to_exact}",
                      f"    {x} = {x}f"]
        lines += [f"if {x}.__class__ is float:",
                  f"    if {float_range}: {slow}"]
        if self.exact:
            lines.append(f"    {x} = _Decimal(repr({x}))")
        lines += [f"elif {x}.__class__ is int:",
                  f"    if {int_range}: {slow}"]
        if self.exact:
            # Fewer than _FAST_DIGITS characters: fewer digits (str is much cheaper than as_tuple).
            lines += [f"elif {x}.__class__ is not _Decimal or not {x}.is_finite() or len(str({x})) > {_FAST_DIGITS}"
                      f" or ({x} and not {-_FAST_EXPONENT} <= {x}.adjusted() <= {_FAST_EXPONENT}): {slow}"]
            if kind is Kind.PERCENT:
                lines.append(f"elif not 0 <= {x} <= 100: {slow}")
        else:
            lines.append(f"else: {slow}")
        return lines

    def default_literal(self, fact: ir.Fact) -> str | None:
        """The default as this variant's local value; None when the float variant cannot hold it."""
        default = fact.default
        if not self.exact and fact.type.kind in _NUMERIC and default.__class__ is not int:
            as_float = float_value(default)
            return None if as_float is None else self.literal(as_float)
        if fact.type.kind is Kind.SET:
            return self.const(default)
        return self.literal(default)

    # ---- the decision body
    def decide_lines(self) -> list[str]:
        policy = self.policy
        lines: list[str] = []
        by_severity = sorted(policy.rules, key=lambda r: -policy.severity(r.decision))
        for decision, tier in itertools.groupby(by_severity, key=lambda r: r.decision):
            tier = list(tier)
            if not self.ids:
                for rule in tier:
                    hoisted: list[str] = []
                    cond, _ = self.expr(self.decisive[rule.id], hoisted)
                    lines.extend(hoisted)
                    lines.append(f"if {cond}: return {decision!r}")
                continue
            if len(tier) == 1:
                hoisted = []
                cond, _ = self.expr(self.decisive[tier[0].id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: return ({decision!r}, ({tier[0].id!r},))")
                continue
            for i, rule in enumerate(tier):
                hoisted = []
                cond, _ = self.expr(self.decisive[rule.id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: r = ({rule.id!r},)" if i == 0 else f"if {cond}: r += ({rule.id!r},)")
                if i == 0:
                    lines.append("else: r = ()")
            lines.append(f"if r: return ({decision!r}, r)")
        lines.append(f"return ({policy.default!r}, ())" if self.ids else f"return {policy.default!r}")
        return lines

    def prologue(self) -> list[str]:
        """Read and check every fact of an exact dict into its local; anything else goes the slow way."""
        policy = self.policy
        out = [f"if facts.__class__ is not dict: {self.slow}", "try:", "    pass"]
        optional = any(not f.required for f in policy.facts.values())
        if optional:
            out.append(f"    n = {sum(f.required for f in policy.facts.values())}")
        checks: list[str] = []
        for name, fact in policy.facts.items():
            x = self.local[name]
            if fact.required:
                out.append(f"    {x} = facts[{name!r}]")
            else:
                out.append(f"    {x} = facts.get({name!r}, _MISSING)")
                default = self.default_literal(fact)
                out.append(f"    if {x} is _MISSING: {x} = {default}" if default is not None
                           else f"    if {x} is _MISSING: {self.to_exact}")
                out.append("    else: n += 1")
            checks.append((fact.type.kind not in _NUMERIC, self.check_fact(fact, x)))
        out.append(f"except KeyError: {self.slow}")
        out.append(f"if len(facts) != {'n' if optional else sum(1 for _ in policy.facts)}: {self.slow}")
        # Numbers first: a Decimal among them sends the whole transaction to the exact variant,
        # best found before the other facts are checked for nothing.
        checks.sort(key=lambda check: check[0])
        return out + [line for _, lines in checks for line in lines]

    def guarded(self, prologue: list[str]) -> list[str]:
        """The prologue inside ``try``: it reads the caller's values with exact-type checks, but a
        value inside a list (a ``str`` subclass whose ``__hash__`` raises ...) can still run code of
        its own. Whatever that raises sends the transaction to the reference validator, which reads
        such values safely and names every bad fact; an ``EvaluationError`` from it passes through.
        (``try`` costs nothing in CPython 3.11 until something raises.)"""
        return (["try:"] + ["    " + line for line in prologue]
                + ["except _EvaluationError: raise", f"except Exception: {self.slow}"])

    def source(self, function: str) -> str:
        body = self.decide_lines()   # first: it decides which shared conditions exist
        lines = [f"def {function}(facts, checked=False):" if self.exact else f"def {function}(facts):"]
        if self.exact:
            lines.append("    if checked:")
            lines.extend(f"        {self.local[name]} = facts[{name!r}]" for name in self.policy.facts)
            lines.append("    else:")
            lines.extend("        " + line for line in self.guarded(self.prologue()))
        else:
            lines.extend("    " + line for line in self.guarded(self.prologue()))
        lines.extend("    " + line for line in body)
        return "\n".join(lines) + "\n"


def compile_policy(policy: ir.Policy) -> CompiledPolicy:
    """Generate, compile and bind the evaluator of a checked policy (other variants on first use)."""
    decisive = decisive_conditions(policy)
    dates: set[str] = set()

    def remember_date(value) -> bool:
        if not valid_date(value):
            return False
        if len(dates) >= _DATE_CACHE_LIMIT:
            dates.clear()
        dates.add(value)
        return True

    namespace: dict[str, object] = {
        "__builtins__": {}, "_MISSING": MISSING, "_Decimal": Decimal, "_DATES": dates,
        "_COUNTRIES": COUNTRY_CODES, "_remember_date": remember_date,
        "frozenset": frozenset, "repr": repr, "len": len, "int": int, "float": float, "str": str,
        "list": list, "tuple": tuple, "set": set, "dict": dict, "KeyError": KeyError,
        "Exception": Exception, "_EvaluationError": EvaluationError,
    }
    lock = threading.Lock()
    built: set[str] = set()
    title = f"<exportdsl policy {policy.name or ''!r}>"   # repr: a NUL or newline in the name stays inert

    def build(function: str, *, exact: bool, ids: bool, prefix: str) -> tuple[Callable, str]:
        gen = _Codegen(policy, decisive, exact=exact, ids=ids, prefix=prefix)
        source = gen.source(function)
        code = compile(source, title, "exec")
        with lock:
            if function not in built:
                namespace.update(gen.namespace)
                exec(code, namespace)  # noqa: S102 - generated from validated identifiers and bound constants only
                built.add(function)
        return namespace[function], source

    def exact_first(facts, checked=False):
        # Replaces itself in the namespace by the exact variant, compiled on first use.
        build("_exact", exact=True, ids=True, prefix="E")
        return namespace["_exact"](facts, checked)

    def slow(facts):
        return namespace["_exact"](validate_facts(policy.facts, facts), True)

    namespace["_exact"], namespace["_slow"] = exact_first, slow
    decide, source = build("_decide", exact=False, ids=True, prefix="K")
    compiled = CompiledPolicy(decide, None, source)

    def decision_first(facts):
        function, _ = build("_decision", exact=False, ids=False, prefix="D")
        compiled.decision = function
        return function(facts)

    compiled.decision = decision_first
    return compiled
