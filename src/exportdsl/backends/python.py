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
transaction with a ``Decimal`` value, once checked, or one that needed validation is decided by the
*exact* variant of the same rules, which is given the checked locals (no fact is read or checked
twice) and compares ``Decimal`` values (generated and compiled on first use). The *decision-only*
variant stops at the first rule that applies and does not collect rule ids.

A set fact is read into a bit mask, a date into its place among the policy's dates
(:mod:`.fact_checks`), so that a set test or a date comparison is one integer operation. When many rules test one enum, country or bool fact for equality, the body
first branches on that fact's value and each branch holds the rules specialised to it
(:mod:`.specialise`), at most two levels deep.

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
from ..operators import CompareOp
from ..semantics import (COMPARE_PYTHON, IS_EMPTY_PYTHON, MISSING, SET_TEST_MASK_PYTHON, date_code, valid_date,
                         validate_facts)
from ..types import COUNTRY_CODES, Kind
from .fact_checks import _NUMERIC, FactChecks, date_thresholds, sub_conditions
from .float_cuts import float_cut
from .specialise import Assumption, choose_dispatch, has_other_branch, specialise

#: Conditions nested deeper than this in generated code are split into temporaries.
_MAX_INLINE_DEPTH = 40
#: How many distinct valid date strings the date cache (date -> code) remembers before it starts over.
_DATE_CACHE_LIMIT = 100_000
#: Ints written as literals in generated code (larger ones are bound constants).
_LITERAL_INT_LIMIT = 10**18
#: A named condition used more than once is inlined at each use when it is at most this many nodes.
_INLINE_SHARED_SIZE = 6
#: Dispatch (partial evaluation on a fact's value) nests at most this deep ...
_DISPATCH_DEPTH = 2
#: ... and only over at least this many rules.
_DISPATCH_MIN_RULES = 4
#: Rule sizes for the dispatch choice are counted up to this many nodes ...
_SIZE_LIMIT = 200
#: ... and the choice is made only for policies up to this size in all (it walks the conditions
#: once per candidate fact: a bound on compile time; a larger policy runs its rules undispatched).
_DISPATCH_MAX_SIZE = 5000
#: A policy up to this many condition nodes has the exact variant's rules inlined in its main
#: function (a transaction with a Decimal then costs no second call); a larger one calls the exact
#: variant, compiled on first use (compile time and code size).
_INLINE_EXACT_SIZE = 2000
_NEVER = ir.Const(False)
Result = tuple[str, tuple[str, ...]]


class CompiledPolicy:
    """A compiled evaluator: ``decide(facts) -> (decision, rule_ids)``, ``decision(facts) -> decision``
    and, given a result type and once :meth:`bind` names the owner,
    ``evaluate(facts, *, explain=False) -> result((decision, rule_ids, owner, facts))``."""

    __slots__ = ("decide", "decision", "evaluate", "source", "bind")

    def __init__(self, decide: Callable[[Mapping], Result], decision: Callable[[Mapping], str], source: str):
        self.decide, self.decision, self.source = decide, decision, source
        self.evaluate = self.bind = None


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
        stack.extend(sub_conditions(expr))
    return counts


def _size(expr: ir.Expr, limit: int) -> int:
    """Nodes of a condition once names are expanded, counted up to ``limit + 1``."""
    total, stack = 0, [expr]
    while stack and total <= limit:
        total += 1
        stack.extend(sub_conditions(stack.pop()))
    return total


class _Codegen(FactChecks):
    """The source of one variant: ``exact`` (Decimal comparisons) or not, rule ids or decision only."""

    def __init__(self, policy: ir.Policy, decisive: dict[str, ir.Expr], *, exact: bool, ids: bool, prefix: str,
                 result: bool = False):
        self.policy, self.decisive, self.exact, self.ids, self.result = policy, decisive, exact, ids, result
        self.prefix = prefix
        self.namespace: dict[str, object] = {}
        self.constants: dict[tuple, str] = {}
        self.local = {name: f"f{i}" for i, name in enumerate(policy.facts)}
        self.temp_counter = itertools.count()
        self.shared: set[int] = set()          # shared named conditions of the rules being generated
        self.masks = {name: self.set_bits(name, fact) for name, fact in policy.facts.items()
                      if fact.type.kind is Kind.SET}
        self.dates = date_thresholds(policy.facts, decisive.values())
        self.computed: dict[int, str] = {}     # shared named condition -> its local, once emitted
        arguments = ", ".join(["facts", *self.local.values()])
        if result:      # the caller's result object, built from (decision, rule ids, policy, facts)
            self.slow = "return _result((*_slow(facts), _owner, facts))"
            self.to_exact = f"return _exact_result({arguments})"
        else:
            suffix = "[0]" if not ids else ""
            self.slow = f"return _slow(facts){suffix}"
            self.to_exact = f"return _exact({arguments}){suffix}"

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
        return f"(_Decimal(repr({local})) if type({local}) is float else {local})"

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
                kind = self.policy.facts[fact].type.kind
                if kind is Kind.DATE:       # the local holds the date's code: compare codes
                    return f"({local} {COMPARE_PYTHON[op]} {date_code(value, self.dates)})", 1
                if not self.exact and kind in _NUMERIC:
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
                if self.policy.facts[fact].type.kind is Kind.DATE:
                    return f"({local} in {self.set_literal(frozenset(date_code(v, self.dates) for v in values))})", 1
                if not self.exact and self.policy.facts[fact].type.kind in _NUMERIC:
                    return f"({self.exact_number(local)} in {self.const(values)})", 1
                return f"({local} in {self.set_literal(values)})", 1
            case ir.SetTest(fact=fact, quantifier=quantifier, values=values):
                _, _, every = self.masks[fact]
                mask = self.mask_of(fact, values)
                return SET_TEST_MASK_PYTHON[quantifier].format(
                    fact=self.local[fact], values=mask, outside=every & ~mask), 1
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

    # ---- the decision body
    def decide_lines(self) -> list[str]:
        """The rules, most severe first, after a dispatch on one fact's value when that pays."""
        return self.dispatch_lines(self.decisive, _DISPATCH_DEPTH)

    def dispatch_lines(self, conditions: dict[str, ir.Expr], depth: int) -> list[str]:
        """Branch on the fact :func:`.specialise.choose_dispatch` picks (each branch decides with
        the conditions specialised to it), or decide directly."""
        dispatch = None
        if depth > 0 and len(conditions) >= _DISPATCH_MIN_RULES:
            sizes = {rule_id: _size(cond, _SIZE_LIMIT) for rule_id, cond in conditions.items()}
            if sum(sizes.values()) <= _DISPATCH_MAX_SIZE:
                dispatch = choose_dispatch(self.policy.facts, conditions, sizes)
        if dispatch is None:
            return self.rule_lines(conditions)
        name, values = dispatch
        fact, local = self.policy.facts[name], self.local[name]
        branches = [(f"{local} is {value!r}" if value is True or value is False
                     else f"{local} == {self.literal(value)}", Assumption(name, value=value)) for value in values]
        if has_other_branch(fact, values):
            branches.append((None, Assumption(name, excluded=frozenset(values))))
        lines: list[str] = []
        for i, (test, assumption) in enumerate(branches):
            last = i == len(branches) - 1
            lines.append("else:" if last and i else f"{'elif' if i else 'if'} {test}:")
            memo: dict[int, ir.Expr] = {}
            specialised = {rule_id: specialise(cond, assumption, memo) for rule_id, cond in conditions.items()}
            lines.extend("    " + line for line in self.dispatch_lines(specialised, depth - 1))
        return lines

    def rule_lines(self, conditions: dict[str, ir.Expr]) -> list[str]:
        """Most severe tier first; with rule ids, every rule of the deciding tier is evaluated."""
        policy = self.policy
        counts = _shared_named(conditions.values())
        self.shared = {key for key, n in counts.items() if n > 1}
        self.computed = {}
        lines: list[str] = []
        by_severity = sorted((rule for rule in policy.rules if conditions[rule.id] != _NEVER),
                             key=lambda r: -policy.severity(r.decision))
        for decision, tier in itertools.groupby(by_severity, key=lambda r: r.decision):
            tier = list(tier)
            if not self.ids:
                for rule in tier:
                    hoisted: list[str] = []
                    cond, _ = self.expr(conditions[rule.id], hoisted)
                    lines.extend(hoisted)
                    lines.append(f"if {cond}: {self.ret(decision, '')}")
                continue
            if len(tier) == 1:
                hoisted = []
                cond, _ = self.expr(conditions[tier[0].id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: {self.ret(decision, f'({tier[0].id!r},)')}")
                continue
            for i, rule in enumerate(tier):
                hoisted = []
                cond, _ = self.expr(conditions[rule.id], hoisted)
                lines.extend(hoisted)
                lines.append(f"if {cond}: r = ({rule.id!r},)" if i == 0 else f"if {cond}: r += ({rule.id!r},)")
                if i == 0:
                    lines.append("else: r = ()")
            lines.append(f"if r: {self.ret(decision, 'r')}")
        lines.append(self.ret(policy.default, "()"))
        return lines

    def ret(self, decision: str, rules: str) -> str:
        """The return statement of a decision with the rule ids ``rules`` (Python source)."""
        if not self.ids:
            return f"return {decision!r}"
        if self.result:
            return f"return _result(({decision!r}, {rules}, _owner, facts))"
        return f"return ({decision!r}, {rules})"

    def prologue(self) -> list[str]:
        """Read and check every fact of an exact dict into its local; anything else goes the slow way.

        A valid Decimal among the numbers sets ``d``: the exact variant then decides (see
        :meth:`source`).
        """
        policy = self.policy
        out = [f"if type(facts) is not dict: {self.slow}", "d = False", "try:", "    pass"]
        optional = any(not f.required for f in policy.facts.values())
        if optional:
            out.append(f"    n = {sum(f.required for f in policy.facts.values())}")
        numbers = [name for name, fact in policy.facts.items() if fact.type.kind in _NUMERIC]
        others = [name for name in policy.facts if name not in numbers]
        for name in numbers:
            out.extend("    " + line for line in self.read_fact(policy.facts[name]))
            out.extend("    " + line for line in self.check_fact(policy.facts[name], self.local[name]))
        for name in others:
            out.extend("    " + line for line in self.read_fact(policy.facts[name]))
        out.append(f"except KeyError: {self.slow}")
        out.append(f"if len(facts) != {'n' if optional else len(policy.facts)}: {self.slow}")
        out.extend(self.check_keys())
        return out + [line for name in others for line in self.check_fact(policy.facts[name], self.local[name])]

    def guarded(self, prologue: list[str]) -> list[str]:
        """The prologue inside ``try``: it reads the caller's values with exact-type checks, but a
        value inside a list (a ``str`` subclass whose ``__hash__`` raises ...) can still run code of
        its own. Whatever that raises sends the transaction to the reference validator, which reads
        such values safely and names every bad fact; an ``EvaluationError`` from it passes through.
        (``try`` costs nothing in CPython 3.11 until something raises.)"""
        return (["try:"] + ["    " + line for line in prologue]
                + ["except _EvaluationError: raise", f"except Exception: {self.slow}"])

    def source(self, function: str) -> str:
        """The main function (``facts``: reads, checks, decides; a transaction with a Decimal is
        passed on to the exact variant once checked), or the exact variant's (``facts`` and the
        checked locals, as the main function or the slow way leaves them: it reads floats as their
        decimal and decides with Decimal comparisons)."""
        body = self.decide_lines()   # first: it decides which shared conditions exist
        if self.exact:
            lines = [f"def {function}({', '.join(['facts', *self.local.values()])}):"]
            lines.extend("    " + line for line in self.exact_body())
            return "\n".join(lines) + "\n"
        lines = [f"def {function}({'facts, *, explain=False' if self.result else 'facts'}):"]
        if self.result:     # explain=True: the owner's reference interpreter decides
            lines.append("    if explain: return _explained(facts)")
        lines.extend("    " + line for line in self.guarded(self.prologue()))
        if sum(_size(cond, _INLINE_EXACT_SIZE) for cond in self.decisive.values()) > _INLINE_EXACT_SIZE:
            lines.append(f"    if d: {self.to_exact}")
            lines.extend("    " + line for line in body)
            return "\n".join(lines) + "\n"
        # The float rules first (every path through them returns), then the exact ones: the float
        # rules' constants and jumps come first in the code object, with the shortest arguments.
        exact = _Codegen(self.policy, self.decisive, exact=True, ids=self.ids, prefix=self.prefix + "x",
                         result=self.result)
        lines.append("    if not d:")
        lines.extend("        " + line for line in body)
        lines.extend("    " + line for line in exact.exact_body())
        self.namespace.update(exact.namespace)
        return "\n".join(lines) + "\n"

    def exact_body(self) -> list[str]:
        """The exact variant's statements over the checked locals: floats read as their decimal,
        then the rules with Decimal comparisons."""
        floats = [self.local[name] for name, fact in self.policy.facts.items() if fact.type.kind in _NUMERIC]
        return [f"if type({x}) is float: {x} = _Decimal(repr({x}))" for x in floats] + self.decide_lines()


def compile_policy(policy: ir.Policy, result: Callable[[tuple], object] | None = None) -> CompiledPolicy:
    """Generate, compile and bind the evaluator of a checked policy (other variants on first use).

    With ``result`` (a type taking one 4-tuple, such as a tuple subclass), ``bind(owner, explained,
    install)`` enables ``evaluate(facts, *, explain=False)``, which returns ``result((decision,
    rule_ids, owner, facts))``, built in the generated code itself, or ``explained(facts)`` when
    ``explain`` is true. ``install(function)`` is called with the generated ``evaluate`` once it is
    compiled (on first use), so that the owner can call it directly from then on.
    """
    decisive = decisive_conditions(policy)
    thresholds = date_thresholds(policy.facts, decisive.values())
    dates: dict[str, int] = {}      # valid dates only: a date found here needs no other check

    def new_date(value: str) -> int:
        """The code of a date string not yet in ``dates``; ValueError (the slow way) if invalid."""
        if not valid_date(value):
            raise ValueError("not a date")
        if len(dates) >= _DATE_CACHE_LIMIT:
            dates.clear()
        code = dates[value] = date_code(value, thresholds)
        return code

    namespace: dict[str, object] = {
        "__builtins__": {}, "_MISSING": MISSING, "_Decimal": Decimal, "_DATES": dates,
        "_COUNTRIES": COUNTRY_CODES, "_new_date": new_date,
        "frozenset": frozenset, "type": type, "repr": repr, "len": len, "int": int, "float": float, "str": str,
        "list": list, "tuple": tuple, "set": set, "dict": dict, "KeyError": KeyError,
        "Exception": Exception, "_EvaluationError": EvaluationError, "_result": result,
        "_owner": None, "_explained": None,
    }
    lock = threading.Lock()
    built: set[str] = set()
    title = f"<exportdsl policy {policy.name or ''!r}>"   # repr: a NUL or newline in the name stays inert

    def build(function: str, *, exact: bool, ids: bool, prefix: str, result: bool = False,
              generator: _Codegen | None = None) -> tuple[Callable, str]:
        gen = generator or _Codegen(policy, decisive, exact=exact, ids=ids, prefix=prefix, result=result)
        source = gen.source(function)
        code = compile(source, title, "exec")
        with lock:
            if function not in built:
                namespace.update(gen.namespace)
                exec(code, namespace)  # noqa: S102 - generated from validated identifiers and bound constants only
                built.add(function)
        return namespace[function], source

    def exact_first(facts, *checked):
        # Replaces itself in the namespace by the exact variant, compiled on first use.
        build("_exact", exact=True, ids=True, prefix="E")
        return namespace["_exact"](facts, *checked)

    def exact_result_first(facts, *checked):
        # The same for the exact variant that builds the result object (evaluate on Decimal values).
        build("_exact_result", exact=True, ids=True, prefix="X", result=True)
        return namespace["_exact_result"](facts, *checked)

    def slow(facts):
        """Validate (or raise an error naming every bad fact); the exact variant decides."""
        valid = validate_facts(policy.facts, facts)
        return namespace["_exact"](facts, *[main.local_value(name, valid[name]) for name in policy.facts])

    namespace["_exact"], namespace["_slow"], namespace["_exact_result"] = exact_first, slow, exact_result_first
    main = _Codegen(policy, decisive, exact=False, ids=True, prefix="K")   # its masks and date codes
    decide, source = build("_decide", exact=False, ids=True, prefix="K", generator=main)
    compiled = CompiledPolicy(decide, None, source)

    def decision_first(facts):
        function, _ = build("_decision", exact=False, ids=False, prefix="D")
        compiled.decision = function
        return function(facts)

    compiled.decision = decision_first
    if result is None:
        return compiled
    installs: list[Callable] = []

    def evaluate_first(facts, *, explain=False):
        # Generates the evaluate variant on first use, once; a caller that kept this function
        # (``f = policy.evaluate`` before any evaluation) is forwarded from then on.
        function = namespace.get("_evaluate")
        if function is None:
            function, _ = build("_evaluate", exact=False, ids=True, prefix="V", result=True)
            compiled.evaluate = function
            for install in installs:
                install(function)
        return function(facts, explain=explain)

    def bind(owner, explained: Callable, install: Callable) -> None:
        namespace["_owner"], namespace["_explained"] = owner, explained
        installs.append(install)

    compiled.evaluate, compiled.bind = evaluate_first, bind
    return compiled
