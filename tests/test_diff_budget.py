"""Bounded work in the diff and the linter: budgets checked where the work is, shared conditions lowered once.

Issue 9: ``diff --timeout 1`` ran 21 s on long ``or``/``and`` chains and ``lint --budget 1`` ran past
120 s on 50,000 rules, because the clock was read only by the search, not while the partition was
built or conditions were lowered; and a named condition used twice by the next one, 60 levels deep,
was expanded into 2**60 nodes. The tests here count work instead of timing it (a zero budget must
stop at the first check; a shared condition must be lowered once), and the hostile corpus
(tests/hostile/cases/diffharden.yaml) runs the large inputs under wall-clock bounds.
"""

from __future__ import annotations

import pytest

from exportdsl import ir
from exportdsl.diff import Budget, diff
from exportdsl.diff.boolexpr import FALSE, Store
from exportdsl.diff.partition import constants, element_groups
from exportdsl.diff.search import Space
from exportdsl.diff import structure
from exportdsl.lint import Budget as LintBudget
from exportdsl.lint.rules import RuleLinter
from exportdsl.operators import CompareOp
from exportdsl.types import FactType, Kind

NUMBER = FactType(Kind.NUMBER)
FACTS = {"x": ir.Fact("x", NUMBER), "y": ir.Fact("y", NUMBER)}


def _policy(version: str, rules, conditions=None) -> ir.Policy:
    return ir.Policy("p", version, ("ok", "review", "deny"), "ok", FACTS, tuple(rules), conditions=conditions or {})


def _rule(rule_id: str, decision: str, condition: ir.Expr) -> ir.Rule:
    return ir.Rule(rule_id, decision, condition, condition)


def _dag(depth: int) -> tuple[ir.Named, dict]:
    """c0 = x > 1; c(i) = c(i-1) or (c(i-1) and y > i): each level uses the previous one twice."""
    node = ir.Named("c0", ir.Compare("x", CompareOp.GT, 1))
    conditions = {"c0": node}
    for level in range(1, depth + 1):
        body = ir.Or((node, ir.And((node, ir.Compare("y", CompareOp.GT, level)))))
        node = conditions[f"c{level}"] = ir.Named(f"c{level}", body)
    return node, conditions


def _count_atoms(monkeypatch) -> list[int]:
    calls = [0]
    original = Store.atom

    def counting(self, var, cells):
        calls[0] += 1
        return original(self, var, cells)
    monkeypatch.setattr(Store, "atom", counting)
    return calls


def test_shared_named_conditions_are_lowered_once(monkeypatch):
    """Regression: every use of a named condition was lowered again (2**depth atoms)."""
    top, conditions = _dag(16)
    calls = _count_atoms(monkeypatch)
    exprs = [top]
    space = Space({"x": NUMBER, "y": NUMBER}, constants(exprs), element_groups(exprs))
    space.lower(top)
    assert calls[0] <= 4 * 16 + 4, calls[0]


def test_diff_and_lint_of_a_60_level_dag():
    top, conditions = _dag(60)
    old = _policy("1", [_rule("R1", "deny", top)], conditions)
    narrowed = ir.And((top, ir.Compare("y", CompareOp.LT, 0)))
    new = _policy("2", [_rule("R1", "deny", narrowed)], conditions)
    result = diff(old, new)
    assert result.complete
    assert [(r.old, r.new, r.condition) for r in result.regions] == [("deny", "ok", "x > 1 and y >= 0")]
    assert result.regions[0].matches({"x": 2, "y": 5})
    assert not result.regions[0].matches({"x": 2, "y": -1})
    found = RuleLinter(new, lambda kind, name: None).run()
    assert [d.code for d in found] == []


def test_a_long_chain_over_one_fact_lowers_to_one_atom(monkeypatch):
    """Regression: every operand of ``x != 0 and x != 1 and ...`` was stored as its own atom
    (and its cells found by testing every cell: quadratic)."""
    chain = ir.And(tuple(ir.Not(ir.Compare("x", CompareOp.EQ, i)) for i in range(3000)))
    calls = _count_atoms(monkeypatch)
    space = Space({"x": NUMBER, "y": NUMBER}, constants([chain]), element_groups([chain]))
    expr = space.lower(chain)
    assert calls[0] <= 2   # the merged atom, and once more when the conjunction re-merges it
    cells = space.variables[0].cells
    false = [cell for i, cell in enumerate(cells) if space.store.assign(expr, 0, i) == FALSE]
    assert all(cell.point for cell in false)
    assert {cell.low for cell in false} == set(range(3000))


@pytest.mark.parametrize("op", list(CompareOp))
def test_fast_atom_cells_agree_with_testing_every_cell(op):
    from exportdsl.diff.partition import _atom_holds, atom_cells, representatives

    rule_exprs = [ir.Compare("x", CompareOp.GT, v) for v in (-3, 0, 2, 7)]
    space = Space({"x": NUMBER}, constants(rule_exprs), {})
    variable = space.variables[0]
    for value in (-3, 0, 2, 7):
        atom = ir.Compare("x", op, value)
        expected = {i for i, rep in enumerate(representatives(variable)) if _atom_holds(atom, rep)}
        assert atom_cells(atom, variable) == expected


def _chain_policies(length: int):
    chain = ir.Or(tuple(ir.Compare("x", CompareOp.EQ, i) for i in range(length)))
    longer = ir.Or((*chain.operands, ir.Compare("x", CompareOp.EQ, -5)))
    return _policy("1", [_rule("R1", "deny", chain)]), _policy("2", [_rule("R1", "deny", longer)])


def test_a_zero_budget_stops_before_lowering_and_says_incomplete():
    old, new = _chain_policies(2000)
    result = diff(old, new, budget=Budget(max_seconds=0))
    assert not result.complete
    assert result.regions == ()
    assert "INCOMPLETE" in result.to_text()


def test_structural_changes_stop_at_the_deadline():
    rules = [_rule(f"R{i}", "deny", ir.Compare("x", CompareOp.GT, i)) for i in range(600)]
    old = _policy("1", rules)
    new = _policy("2", [evolved(r, decision="review") for r in rules])
    result = diff(old, new, budget=Budget(max_seconds=0))
    assert not result.complete
    assert result.structural[-1].kind == structure.CUT_SHORT
    assert result.structural[-1].subject.startswith("600 rule(s)")


def evolved(rule: ir.Rule, **changes) -> ir.Rule:
    return rule.evolve(**changes)


def test_lint_with_no_time_left_says_what_it_skipped():
    """Regression: the linter built its space and lowered every rule before reading the clock."""
    rules = [_rule(f"R{i}", "deny" if i % 2 else "review",
                   ir.And((ir.Compare("x", CompareOp.GT, i), ir.Compare("y", CompareOp.LT, i))))
             for i in range(2000)]
    found = RuleLinter(_policy("1", rules), lambda kind, name: None, LintBudget(max_seconds=0)).run()
    assert [(d.code, d.message.split("'")[1]) for d in found] == [("W191", "all semantic checks")]
