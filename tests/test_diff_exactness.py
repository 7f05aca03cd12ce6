"""Exactness of the diff and the linter on literals with many digits (more than Decimal's default 28).

Both work on the diff's partition (src/exportdsl/diff/partition.py): cells between the literals a
policy compares with, one representative value per cell. A representative computed in the default
Decimal context rounds (``10000000000000000000000000000 + 1`` is ``1.000…E+28``), lands in the wrong
cell, and the diff then misses changes and the linter calls satisfiable conditions never-true. The
oracle here is brute force: the policies evaluated (by the reference evaluator) on every literal,
just above and just below each, and exact midpoints, which covers every cell of the partition.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl.compose import resolve
from exportdsl.lint import lint
from exportdsl.parser import MAX_NUMBER_CHARS

_HEAD = 'policy "p" version "{version}"\ndecisions ok < review < deny\ndefault ok\nfact x: {kind}\n'
_TINY = Decimal("1e-80")
_EXACT = decimal.Context(prec=400, traps=[decimal.Inexact])


def _policy(version: str, kind: str, rules: list[tuple[str, str, str]]) -> str:
    suffix = "%" if kind == "percent" else ""
    text = _HEAD.format(version=version, kind=kind)
    for index, (op, literal, decision) in enumerate(rules):
        text += f"rule R{index} {{ x {op} {literal}{suffix} -> {decision} }}\n"
    return text


def _probes(kind: str, literals: list[Decimal]) -> list:
    """Every literal, just above and below it, exact midpoints, and values outside them all."""
    points = sorted(set(literals))
    probes = set(points)
    for a, b in zip(points, points[1:]):
        probes.add(_EXACT.divide(_EXACT.add(a, b), 2))
    for p in points:
        probes.update({_EXACT.add(p, _TINY), _EXACT.subtract(p, _TINY)})
    if points:
        probes.update({_EXACT.add(points[-1], 1), _EXACT.subtract(points[0], 1)})
    probes.add(Decimal(0))
    if kind == "percent":
        probes = {p for p in probes if 0 <= p <= 100} | {Decimal(0), Decimal(100)}
    if kind == "integer":
        probes = {Decimal(int(p.to_integral_value(rounding=r))) for p in probes
                  for r in (decimal.ROUND_FLOOR, decimal.ROUND_CEILING)}
    return sorted(probes)


def _value(kind: str, probe: Decimal):
    if kind == "integer":
        return int(probe)
    return probe


@st.composite
def long_literal(draw, kind: str) -> Decimal:
    digits = draw(st.integers(min_value=20, max_value=60))
    body = draw(st.text("0123456789", min_size=digits, max_size=digits)).lstrip("0") or "1"
    if kind == "percent":
        # 0 <= value <= 100: up to two integer digits, the rest after the point
        split = draw(st.integers(min_value=0, max_value=2))
    else:
        split = draw(st.integers(min_value=0, max_value=len(body)))
    if kind == "integer" and draw(st.booleans()):
        split = len(body)
    whole, fraction = body[:split] or "0", body[split:]
    return Decimal(f"{whole}.{fraction}" if fraction else whole)


def _literal_text(value: Decimal) -> str:
    return format(value, "f")


@st.composite
def rule_sets(draw, kind: str):
    literals = draw(st.lists(long_literal(kind), min_size=1, max_size=4))
    # neighbours closer than any float can tell apart
    if draw(st.booleans()):
        base = literals[0]
        # 1e-45 past the base, or as far as a literal may be long (MAX_NUMBER_CHARS, E106)
        places = min(45, MAX_NUMBER_CHARS - 1 - len(_literal_text(base).split(".")[0]))
        literals.append(_EXACT.add(base, Decimal(1).scaleb(-places)) if kind != "integer" else base + 1)
    ops = st.sampled_from(["<", "<=", ">", ">=", "=", "!="])
    decisions = st.sampled_from(["review", "deny", "ok"])

    def rules():
        return draw(st.lists(st.tuples(ops, st.sampled_from(literals).map(_literal_text), decisions),
                             min_size=1, max_size=4))
    return literals, rules(), rules()


def _key(old_decision, old_rules, new_decision, new_rules, changed) -> tuple:
    """A region's key (issue 10): the decisions and the changed rules among the deciders, as sets."""
    return old_decision, frozenset(old_rules) & changed, new_decision, frozenset(new_rules) & changed


def _outcome(policy, value):
    decision = policy.evaluate({"x": value})
    return decision.decision, tuple(decision.rules)


@settings(max_examples=60)
@given(st.sampled_from(["number", "percent", "integer"]).flatmap(
    lambda kind: st.tuples(st.just(kind), rule_sets(kind))))
def test_diff_and_lint_agree_with_brute_force_on_long_literals(case):
    kind, (literals, old_rules, new_rules) = case
    if kind == "percent":
        literals = [v for v in literals if v <= 100]
        old_rules = [r for r in old_rules if Decimal(r[1]) <= 100] or [("<", "1", "deny")]
        new_rules = [r for r in new_rules if Decimal(r[1]) <= 100] or [("<", "1", "deny")]
    old = exportdsl.compile(_policy("1", kind, old_rules))
    new = exportdsl.compile(_policy("2", kind, new_rules))
    result = exportdsl.diff(old, new)
    assert result.complete
    changed = set(result.changed_rules)
    probes = _probes(kind, [Decimal(r[1]) for r in old_rules + new_rules])
    for probe in probes:
        value = _value(kind, probe)
        before, after = _outcome(old, value), _outcome(new, value)
        matching = [r for r in result.regions if r.matches({"x": value})]
        if before == after:
            assert not matching, (value, before, [r.condition for r in matching])
        else:
            assert len(matching) == 1, (value, before, after, [r.condition for r in result.regions])
            region = matching[0]
            assert _key(region.old, region.old_rules, region.new, region.new_rules, changed) == \
                _key(*before, *after, changed)
    for region in result.regions:   # every witness is a real change, with the region's key
        witness_old, witness_new = _outcome(old, region.witness["x"]), _outcome(new, region.witness["x"])
        assert _key(*witness_old, *witness_new, changed) == \
            _key(region.old, region.old_rules, region.new, region.new_rules, changed)
    # the linter: a rule is never-true (W101) exactly when no probe satisfies it
    found = lint(new.ir, resolve(new.ast))
    never = {d.message.split()[4] for d in found if d.code == "W101"}
    for index, (op, literal, _) in enumerate(new_rules):
        bound = Decimal(literal)
        holds = any(_compare(op, Decimal(_value(kind, p)), bound) for p in probes)
        assert (f"R{index}" in never) == (not holds), (op, literal, found)


def _compare(op: str, left: Decimal, right: Decimal) -> bool:
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
            "=": left == right, "!=": left != right}[op]


def test_thirty_digit_threshold_is_a_change():
    """Regression (issue 9): ``x > 10000000000000000000000000000`` against no rule was 'no change'."""
    old = exportdsl.compile(_policy("1", "number", [("<", "0", "deny")]))
    new = exportdsl.compile(_policy("2", "number", [("<", "0", "deny"),
                                                     (">", "10000000000000000000000000000", "deny")]))
    result = exportdsl.diff(old, new)
    changes = [r for r in result.regions if r.new_rules == ("R1",)]
    assert len(changes) == 1
    witness = changes[0].witness["x"]
    assert witness > 10**28
    assert _outcome(new, witness) == ("deny", ("R1",))
    assert not [d for d in lint(new.ir, resolve(new.ast)) if d.code == "W101"]


def test_percent_between_close_literals_is_a_change():
    """Regression (issue 9): a percent threshold 1e-29 above another one."""
    old = exportdsl.compile(_policy("1", "percent", [(">", "50", "deny")]))
    new = exportdsl.compile(_policy("2", "percent", [(">", "50.00000000000000000000000000001", "deny")]))
    result = exportdsl.diff(old, new)
    assert [(r.old, r.new) for r in result.regions] == [("deny", "ok")]
    witness = Decimal(str(result.regions[0].witness["x"]).rstrip("%"))
    assert Decimal(50) < witness <= Decimal("50.00000000000000000000000000001")
    between = Decimal("50.000000000000000000000000000005")
    assert result.regions[0].matches({"x": between})   # was reported as the single point 50.0…01
    assert "x > 50%" in result.regions[0].condition


def test_integer_fact_against_a_fractional_literal():
    """Regression: ``n > 1.5 and n < 3`` on an integer fact holds for n = 2 (was reported never-true)."""
    policy = exportdsl.compile(_HEAD.format(version="1", kind="integer")
                               + "rule R1 { x > 1.5 and x < 3 -> deny }\nrule R2 { x = 2.5 -> deny }\n")
    codes = {(d.code, d.message.split()[4]) for d in lint(policy.ir, resolve(policy.ast))}
    assert ("W101", "R1") not in codes
    assert ("W101", "R2") in codes    # no integer equals 2.5
