"""IR conditions as SQL expressions over canonical fact columns, and the decision and rules columns.

The meaning is ``semantics``' and ``combining``'s: comparisons exact on numbers (see
:func:`compare_number`), ``in`` and set tests exact on strings, dates as DATE. Combining follows
:func:`combining.decisive_conditions`: each rule's condition with its overriders' conditions
negated, so that most-severe-wins over severity tiers gives :func:`combining.combine`'s answer.
Each tier is one OR of Boolean columns, most severe first; the rules column lists the deciding
rule ids of the winning tier in source order, joined by commas (empty for the default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import decimal
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlglot import exp

from ... import ir
from ...combining import overridden_by
from ...operators import CompareOp, Quantifier
from ...semantics import compare
from ...types import Kind
from .facts import FactColumn, Numeric, enum_type, grid_literal, lowest_units
from .nodes import (and_, case, cast, cast_to, col, double_lit, exact_context, fn, in_list, is_null, lit, negate,
                    lam, not_null, or_, paren, var)

#: Separator of rule ids in the ``rules`` column.
RULES_SEPARATOR = ","

_SQL_OPS: dict[CompareOp, Callable[..., exp.Expression]] = {
    CompareOp.EQ: exp.EQ, CompareOp.NE: exp.NEQ, CompareOp.LT: exp.LT,
    CompareOp.LE: exp.LTE, CompareOp.GT: exp.GT, CompareOp.GE: exp.GTE,
}


def _op(op: CompareOp, left, right) -> exp.Expression:
    return _SQL_OPS[op](this=left, expression=right)


def compare_number(value: exp.Expression, numeric: Numeric, op: CompareOp, literal) -> exp.Expression:
    """``value OP literal`` exactly, for a canonical numeric column.

    On a decimal grid of scale s the literal is moved to the grid the way each operator allows
    (``x < 0.15`` on cents is ``x < 0.15``; on whole numbers it is ``x < 1``), and a bound beyond
    the column's range gives a constant. A DOUBLE x means the decimal r = shortest text of x (what
    the Python evaluator reads); for a literal L with f = float(L): when x != f, r and L lie in
    disjoint rounding intervals ordered like x and f, so ``r < L`` iff ``x < f``; when x == f,
    r is the constant shortest text of f, compared with L here, once.
    """
    literal = Decimal(literal)
    if numeric.mode == "double":
        compared = _compare_double(value, op, literal)
        if numeric.default is None:
            return compared
        at_default = exp.true() if compare(op, numeric.default, literal) else exp.false()
        return case([(is_null(value), at_default)], compared)
    grid = Decimal(1).scaleb(-numeric.scale)
    exact = exact_context(literal, numeric.scale)
    floor = literal.quantize(grid, ROUND_FLOOR, context=exact)
    ceiling = literal.quantize(grid, ROUND_CEILING, context=exact)
    wide = decimal.Context(prec=len(str(numeric.bound)) + 2)     # exact: 2**128 has 39 digits
    highest = Decimal(numeric.bound - 1).scaleb(-numeric.scale, context=wide)
    lowest = Decimal(lowest_units(numeric)).scaleb(-numeric.scale, context=wide)
    if op in (CompareOp.EQ, CompareOp.NE):
        if floor != literal or not lowest <= literal <= highest:
            return exp.false() if op is CompareOp.EQ else exp.true()
        return _op(op, value, grid_literal(literal, numeric))
    bound = ceiling if op in (CompareOp.LT, CompareOp.GE) else floor
    strict = op in (CompareOp.LT, CompareOp.GE)     # x < bound, or its negation
    if bound > highest or (bound == highest and not strict):      # holds for every value
        return exp.true() if op in (CompareOp.LT, CompareOp.LE) else exp.false()
    if bound < lowest or (bound == lowest and strict):             # holds for none
        return exp.false() if op in (CompareOp.LT, CompareOp.LE) else exp.true()
    return _op(op, value, grid_literal(bound, numeric))


def _compare_double(value, op: CompareOp, literal: Decimal) -> exp.Expression:
    nearest = float(literal)
    if nearest in (float("inf"), float("-inf")):
        above = nearest > 0     # the literal is beyond every finite double
        holds = {CompareOp.LT: above, CompareOp.LE: above, CompareOp.GT: not above,
                 CompareOp.GE: not above, CompareOp.EQ: False, CompareOp.NE: True}[op]
        return exp.true() if holds else exp.false()
    at_tie = {CompareOp.LT: Decimal(repr(nearest)) < literal, CompareOp.LE: Decimal(repr(nearest)) <= literal,
              CompareOp.GT: Decimal(repr(nearest)) > literal, CompareOp.GE: Decimal(repr(nearest)) >= literal,
              CompareOp.EQ: Decimal(repr(nearest)) == literal, CompareOp.NE: Decimal(repr(nearest)) != literal}[op]
    f = double_lit(nearest)
    if op in (CompareOp.LT, CompareOp.LE):
        return _op(CompareOp.LE if at_tie else CompareOp.LT, value, f)
    if op in (CompareOp.GT, CompareOp.GE):
        return _op(CompareOp.GE if at_tie else CompareOp.GT, value, f)
    if op is CompareOp.EQ:
        return _op(CompareOp.EQ, value, f) if at_tie else exp.false()
    return _op(CompareOp.NE, value, f) if not at_tie else exp.true()


def set_test(value: exp.Expression, quantifier: Quantifier, values) -> exp.Expression:
    """A set test on a VARCHAR[] value, written the way DuckDB runs fastest (measured: a filter
    over the elements beats ``list_has_any``, and ``list_contains`` per value beats ``list_has_all``)."""
    x = var("x")
    if quantifier is Quantifier.ALL:
        return and_(*(fn("list_contains", value, lit(v)) for v in sorted(values)))
    if quantifier is Quantifier.ANY and len(values) == 1:
        return fn("list_contains", value, lit(next(iter(values))))
    test = in_list(x, values) if quantifier is Quantifier.ANY else negate(in_list(x, values))
    return exp.GT(this=fn("len", fn("list_filter", value, lam("x", test))), expression=exp.Literal.number(0))


def mask_test(mask: exp.Expression, order: tuple[str, ...], quantifier: Quantifier, values) -> exp.Expression:
    """A set test on a bitmask (see ``facts.mask_of``): any = shares a bit, all = has every bit,
    any not in = has a bit outside (every element of a valid row is one of ``order``)."""
    bits = sum(1 << order.index(v) for v in values)
    if quantifier is Quantifier.ANY_OTHER:
        bits = ((1 << len(order)) - 1) & ~bits
    shared = exp.BitwiseAnd(this=mask, expression=cast(exp.Literal.number(bits), "BIGINT"))
    if quantifier is Quantifier.ALL:
        return exp.EQ(this=paren(shared), expression=cast(exp.Literal.number(bits), "BIGINT"))
    return exp.NEQ(this=paren(shared), expression=exp.Literal.number(0))


def string_tests(policy: ir.Policy, rules: set[str] | None = None) -> dict[str, set[frozenset]]:
    """Each fact's sets of literals in the policy's ``in`` tests and equalities (a set of one), when
    every literal is a string; ``rules``: only in the conditions of these rules."""
    return _tests(policy, rules)[1]


def tested_sets(policy: ir.Policy) -> set[str]:
    """The set facts that a rule tests with ``contains`` (any, all, any not in), not only ``is empty``."""
    return _tests(policy)[0]


def _tests(policy: ir.Policy, rules: set[str] | None = None) -> tuple[set[str], dict[str, set[frozenset]]]:
    sets: set[str] = set()
    groups: dict[str, set[frozenset]] = {}
    seen: set[int] = set()
    stack = [rule.condition for rule in policy.rules if rules is None or rule.id in rules]
    while stack:          # each node of the DAG once
        expr = stack.pop()
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        match expr:
            case ir.Compare(fact=name, value=value) if isinstance(value, str):
                groups.setdefault(name, set()).add(frozenset({value}))
            case ir.Member(fact=name, values=values):
                if all(isinstance(v, str) for v in values):
                    groups.setdefault(name, set()).add(frozenset(values))
            case ir.SetTest(fact=name):
                sets.add(name)
        stack.extend(ir._compound_parts(expr))
    return sets, groups


def condition(expr: ir.Expr, facts: Mapping[str, FactColumn],
              applied: Mapping[str, exp.Expression] | None = None) -> exp.Expression:
    """The SQL Boolean of an IR condition, over the canonical fact values in ``facts``; an
    ``applies(R)`` whose rule is in ``applied`` becomes that expression (a column computed before)."""
    match expr:
        case ir.Const(value=value):
            return exp.true() if value else exp.false()
        case ir.Compare(fact=name, op=op, value=value):
            fact = facts[name]
            kind = fact.type.kind
            if kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT):
                return compare_number(fact.value, fact.numeric, op, value)
            if kind is Kind.BOOL:
                return _op(op, fact.value, exp.true() if value else exp.false())
            if kind is Kind.DATE:
                return _op(op, fact.value, cast(lit(value), "DATE"))
            if fact.tests is not None and op in (CompareOp.EQ, CompareOp.NE):
                test = fact.tests[frozenset({value})]
                return negate(test) if op is CompareOp.NE else test
            return _op(op, fact.value, lit(value))
        case ir.Member(fact=name, values=values):
            fact = facts[name]
            if fact.type.kind is Kind.BOOL:
                return or_(*(_op(CompareOp.EQ, fact.value, exp.true() if v else exp.false()) for v in values))
            if fact.type.kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT):
                return or_(*(compare_number(fact.value, fact.numeric, CompareOp.EQ, v) for v in sorted(values)))
            if fact.type.kind is Kind.DATE:
                return or_(*(_op(CompareOp.EQ, fact.value, cast(lit(v), "DATE")) for v in sorted(values)))
            if fact.tests is not None:
                return fact.tests[frozenset(values)]
            return in_list(fact.value, values)
        case ir.SetTest(fact=name, quantifier=quantifier, values=values):
            if facts[name].mask is not None:
                return mask_test(facts[name].value, facts[name].mask, quantifier, values)
            return set_test(facts[name].value, quantifier, values)
        case ir.IsEmpty(fact=name) if facts[name].mask is not None:
            return exp.EQ(this=facts[name].value, expression=exp.Literal.number(0))
        case ir.IsEmpty(fact=name):
            return exp.EQ(this=fn("len", facts[name].value), expression=exp.Literal.number(0))
        case ir.Not(operand=operand):
            return negate(paren(condition(operand, facts, applied)))
        case ir.And(operands=operands):
            return paren(and_(*(paren(condition(o, facts, applied)) for o in operands)))
        case ir.Or(operands=operands):
            return paren(or_(*(paren(condition(o, facts, applied)) for o in operands)))
        case ir.Named(name=name, body=body):
            if applied and name.startswith("applies(") and name[len("applies("):-1] in applied:
                return applied[name[len("applies("):-1]]
            return condition(body, facts, applied)
    raise AssertionError(f"unknown IR node {expr!r}")


def tiers(policy: ir.Policy) -> list[tuple[str, list[ir.Rule]]]:
    """The decisions that rules give, most severe first, each with its rules in source order."""
    by_decision: dict[str, list[ir.Rule]] = {}
    for rule in policy.rules:
        by_decision.setdefault(rule.decision, []).append(rule)
    return sorted(by_decision.items(), key=lambda item: -policy.severity(item[0]))


def _applies_refs(expr: ir.Expr) -> set[str]:
    """The rule ids named by ``applies(...)`` in a condition (not looking inside them); each shared
    sub-condition once (conditions form a DAG)."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ir.Named) and node.name.startswith("applies("):
            found.add(node.name[len("applies("):-1])
            continue
        stack.extend(ir._compound_parts(node))
    return found


#: The most expression nodes that the rules written as SQL conditions may have together, named
#: conditions written out where they are used (a chain of conditions that each use the previous
#: one twice doubles at every step; measured: building and rendering take about 0.1 ms a node);
#: beyond it, plain rules are decided by lookups when the engine has them, else E415.
MAX_EXPANDED_NODES = 100_000


def expanded_size(expr: ir.Expr, memo: dict | None = None) -> int:
    """The nodes of a condition written out as a tree (an ``applies(...)`` counts one), computed on
    the DAG, saturating just above :data:`MAX_EXPANDED_NODES`."""
    memo = {} if memo is None else memo
    order, stack = [], [expr]
    while stack:                      # post-order over the DAG, without recursion
        node = stack.pop()
        if id(node) in memo:
            continue
        if isinstance(node, ir.Named) and node.name.startswith("applies("):
            memo[id(node)] = 1
            continue
        parts = ir._compound_parts(node)
        pending = [p for p in parts if id(p) not in memo]
        if pending:
            stack.append(node)
            stack.extend(pending)
            continue
        memo[id(node)] = min(MAX_EXPANDED_NODES + 1, 1 + sum(memo[id(p)] for p in parts))
    return memo[id(expr)]


def referenced_rules(policy: ir.Policy) -> set[str]:
    """The rules whose applying other rules test: named by an ``applies(...)``, or overriding a rule.
    Only these become Boolean columns; every other rule's condition is written inline where its
    tier is tested, so that DuckDB evaluates it on the rows still undecided, conjunct by conjunct."""
    named = set().union(set(), *(_applies_refs(rule.condition) for rule in policy.rules))
    return named | {o.id for overriders in overridden_by(policy).values() for o in overriders}


def rule_layers(policy: ir.Policy, only: set[str] | None = None) -> list[list[ir.Rule]]:
    """Rules (those in ``only``, default all) grouped so that a rule's ``applies(...)`` refer only to
    rules of earlier groups (the checker refuses cycles, E215): each group becomes one SELECT
    layer of Boolean columns, so a rule's condition is computed once however many rules test
    whether it applies. ``only`` must hold every rule its rules name (``referenced_rules`` does)."""
    depth: dict[str, int] = {}

    def of(rule: ir.Rule) -> int:
        if rule.id not in depth:
            depth[rule.id] = 0
            depth[rule.id] = 1 + max((of(policy.rule(r)) for r in _applies_refs(rule.condition)), default=-1)
        return depth[rule.id]

    layers: dict[int, list[ir.Rule]] = {}
    for rule in policy.rules:
        if only is None or rule.id in only:
            layers.setdefault(of(rule), []).append(rule)
    return [layers[k] for k in sorted(layers)]


def decisive_from(policy: ir.Policy, applies: Mapping[str, exp.Expression]) -> dict[str, exp.Expression]:
    """Each rule's decisive condition from the columns saying whether each rule applies: it applies
    and no rule overriding it applies (see ``combining.decisive_conditions``); only for the rules
    in ``applies``, which holds every rule that overrides one of them."""
    result = {}
    for rule_id, overriders in overridden_by(policy).items():
        if rule_id not in applies:      # decided by lookups (no rule overrides it)
            continue
        if overriders:
            result[rule_id] = and_(applies[rule_id], negate(or_(*(applies[o.id] for o in overriders))))
        else:
            result[rule_id] = applies[rule_id]
    return result


def decision_literal(policy: ir.Policy, decision: str, as_enum: bool = False) -> exp.Expression:
    """A decision as a string literal, or as a value of the ENUM of the policy's decisions."""
    return cast_to(lit(decision), enum_type(policy.decisions)) if as_enum else lit(decision)


def decision_column(policy: ir.Policy, holds: Mapping[str, exp.Expression], as_enum: bool = False,
                    tested: Mapping[str, exp.Expression] | None = None) -> exp.Expression:
    """``CASE WHEN <OR of the most severe tier> THEN 'deny' ... ELSE default END``, each tier's OR
    with its shared conjuncts pulled out (:func:`factored_or`). ``as_enum``: the decisions are
    values of an ENUM (DuckDB), which the CASE moves as one byte each and the Parquet writer
    writes from their codes (measured: a fifth of the CPU of ``--keep row_id --no-rules``); files
    read it back as strings. ``tested``: for a tier, the test of the rules that ``holds`` leaves
    out (``lookups``), ORed first."""
    tested = tested or {}
    branches = []
    for decision, rules in tiers(policy):
        own = [holds[r.id] for r in rules if r.id in holds]
        parts = ([paren(tested[decision])] if decision in tested else []) + ([paren(factored_or(own))] if own else [])
        branches.append((paren(or_(*parts)), decision_literal(policy, decision, as_enum)))
    return case(branches, decision_literal(policy, policy.default, as_enum))


def _conjuncts(expr: exp.Expression) -> list[exp.Expression]:
    """The operands of a (nested, parenthesised) AND; the expression itself otherwise."""
    while isinstance(expr, exp.Paren):
        expr = expr.this
    if isinstance(expr, exp.And):
        return _conjuncts(expr.this) + _conjuncts(expr.expression)
    return [expr]


def factored_or(terms: Sequence[exp.Expression]) -> exp.Expression:
    """The OR of ``terms`` with conjuncts that several terms share pulled out, greedily, the most
    shared first: ``a AND x OR a AND y OR z`` becomes ``a AND (x OR y) OR z``. Exact (AND
    distributes over OR in SQL's three-valued logic too), and a row that fails ``a`` is spared
    every term that has it: with 250 rules, most of the work (measured: issue 11's note)."""
    return _factor([_conjuncts(t) for t in terms])


def _factor(terms: list[list[exp.Expression]]) -> exp.Expression:
    if any(not t for t in terms):
        return exp.true()     # an empty conjunction holds
    first: dict[exp.Expression, int] = {}
    shared: dict[exp.Expression, int] = {}
    for t in terms:
        for atom in dict.fromkeys(t):
            first.setdefault(atom, len(first))
            shared[atom] = shared.get(atom, 0) + 1
    atom = min(shared, key=lambda a: (-shared[a], first[a])) if shared else None
    if atom is None or shared[atom] < 2:
        return or_(*(paren(and_(*t)) if len(t) > 1 else t[0] for t in terms))
    rest = [[a for a in t if a != atom] for t in terms if atom in t]
    pulled = and_(atom, paren(_factor(rest)))
    others = [t for t in terms if atom not in t]
    return or_(paren(pulled), paren(_factor(others))) if others else pulled


#: With ``as_enum``, the rules column is an ENUM of every list it can hold when no tier has more
#: rules than this (a tier of k rules can list 2**k - 1 of them).
RULES_ENUM_TIER = 10


def rules_column(policy: ir.Policy, holds: Mapping[str, exp.Expression],
                 decision: exp.Expression | None = None, as_enum: bool = False) -> exp.Expression:
    """The deciding rule ids of the winning tier, in source order, joined by commas ('' for none).
    With ``decision`` (the decision column computed before; an ENUM with ``as_enum``), a tier is
    found by its decision instead of by testing its rules again. ``as_enum`` (DuckDB), when every
    tier is small (:data:`RULES_ENUM_TIER`): the lists are values of an ENUM of every list a tier
    can give (measured, 2 M rows written to Parquet: 10 rules, 125 ns a row against 560 ns for
    ``concat_ws``; files read it back as text), found in one constant list of them all
    (:func:`_rules_enum`)."""
    by_tier = tiers(policy)
    if as_enum and all(len(rules) <= RULES_ENUM_TIER for _, rules in by_tier):
        return _rules_enum(policy, by_tier, holds, decision)
    branches = []
    for name, rules in by_tier:
        tier = paren(or_(*(holds[r.id] for r in rules)))
        if decision is not None and name != policy.default:
            tier = exp.EQ(this=decision, expression=decision_literal(policy, name, as_enum))
        if len(rules) == 1:
            listed = lit(rules[0].id)
        else:
            listed = fn("concat_ws", lit(RULES_SEPARATOR), *(case([(holds[r.id], lit(r.id))]) for r in rules))
        branches.append((tier, listed))
    return case(branches, lit(""))


def _rules_enum(policy: ir.Policy, by_tier, holds: Mapping[str, exp.Expression],
                decision: exp.Expression | None) -> exp.Expression:
    """The rules column as ``list_extract(CAST([every list] AS ENUM(...)[]), index + 1)``: index 0
    is '', a one-rule tier has one place, a tier of k rules 2**k places found by the bits of its
    holding rules. The ENUM of every list is written twice in the query (the list and its type),
    not once per tier and per literal: with a 10-rule tier it has 1,024 values, and DuckDB's
    parsing and binding of the query text was, measured with Cachegrind on 200,000 rows of the
    October screening, a sixth of its instructions."""
    entries = [""]
    branches = []
    for name, rules in by_tier:
        tier = paren(or_(*(holds[r.id] for r in rules)))
        if decision is not None and name != policy.default:
            tier = exp.EQ(this=decision, expression=decision_literal(policy, name, True))
        offset = len(entries)
        if len(rules) == 1:
            entries.append(rules[0].id)
            index: exp.Expression = exp.Literal.number(offset)
        else:
            entries.extend(_listed(rules, m) for m in range(1 << len(rules)))
            index = exp.Literal.number(offset)
            for i, r in enumerate(rules):
                index = exp.Add(this=index, expression=case([(holds[r.id], exp.Literal.number(1 << i))],
                                                            exp.Literal.number(0)))
        branches.append((tier, index))
    enum = enum_type(dict.fromkeys(entries))
    table = exp.Array(expressions=[lit(e) for e in entries])
    typed = paren(cast_to(table, exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[enum], nested=True)))
    return fn("list_extract", typed, exp.Add(this=paren(case(branches, exp.Literal.number(0))),
                                             expression=exp.Literal.number(1)))


def _listed(rules: Sequence[ir.Rule], bits: int) -> str:
    """The ids of the rules whose bits are set, in order, joined by commas."""
    return RULES_SEPARATOR.join(r.id for i, r in enumerate(rules) if bits >> i & 1)


def valid(facts: Mapping[str, FactColumn], masked: bool = False) -> exp.Expression:
    """True when no fact of the row has an error code. ``masked``: leave out the element checks
    of the sets whose bitmask makes them (``FactColumn.shape_code``); the query then keeps only
    the rows whose masks have no ``INVALID_BIT`` (``query.decide_select`` does)."""
    def code(f: FactColumn) -> exp.Expression:
        return f.shape_code if masked and f.shape_code is not None else f.code
    return and_(*(exp.Is(this=code(f), expression=exp.Null()) for f in facts.values()
                  if not isinstance(code(f), exp.Null))) if facts else exp.true()


__all__ = ["MAX_EXPANDED_NODES", "RULES_ENUM_TIER", "expanded_size", "RULES_SEPARATOR", "compare_number", "condition", "string_tests", "tested_sets", "decision_column", "factored_or", "not_null",
           "referenced_rules", "rule_layers", "rules_column", "tiers", "valid"]
