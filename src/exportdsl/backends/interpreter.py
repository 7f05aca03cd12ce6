"""The reference interpreter: walks the IR with the meaning in ``semantics``; slow, plain, and traced.

Named conditions may be shared (the IR is a DAG: one ``ir.Named`` object used in many places), so
both :func:`holds` and :func:`trace` remember each named condition's value for the transaction at
hand: every named condition is evaluated at most once per transaction, however often it is used.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .. import ir
from ..combining import combine
from ..semantics import compare, is_empty, member, set_test, validate_facts


def holds(expr: ir.Expr, facts: Mapping, memo: dict | None = None) -> bool:
    """Whether a condition holds for canonical (validated) facts.

    ``memo`` (one dict per transaction, shared between the rules) keeps the value of each named
    condition already evaluated, keyed by the node's identity.
    """
    if memo is None:
        memo = {}
    match expr:
        case ir.Compare(fact=fact, op=op, value=value):
            return compare(op, facts[fact], value)
        case ir.Member(fact=fact, values=values):
            return member(facts[fact], values)
        case ir.SetTest(fact=fact, quantifier=quantifier, values=values):
            return set_test(quantifier, facts[fact], values)
        case ir.IsEmpty(fact=fact):
            return is_empty(facts[fact])
        case ir.And(operands=operands):
            return all(holds(op, facts, memo) for op in operands)
        case ir.Or(operands=operands):
            return any(holds(op, facts, memo) for op in operands)
        case ir.Not(operand=operand):
            return not holds(operand, facts, memo)
        case ir.Named(body=body):
            value = memo.get(id(expr))
            if value is None:
                value = memo[id(expr)] = holds(body, facts, memo)
            return value
        case ir.Const(value=value):
            return value
    raise AssertionError(f"unknown IR node {expr!r}")


def applicable_rules(policy: ir.Policy, facts: Mapping) -> list[ir.Rule]:
    """Every rule whose condition (dates included) holds, in source order."""
    memo: dict = {}
    return [rule for rule in policy.rules if holds(rule.condition, facts, memo)]


def decide(policy: ir.Policy, facts: Mapping) -> tuple[str, tuple[str, ...]]:
    """The decision and deciding rule ids for canonical facts."""
    return combine(policy, applicable_rules(policy, facts))


def evaluate(policy: ir.Policy, facts: Mapping) -> tuple[str, tuple[str, ...]]:
    """Validate raw facts (fail closed) then decide."""
    return decide(policy, validate_facts(policy.facts, facts))


@attrs.frozen(slots=True)
class TraceNode:
    """One condition node with the value it had, and its sub-conditions."""

    expr: ir.Expr
    value: bool
    children: tuple["TraceNode", ...] = ()


def trace(expr: ir.Expr, facts: Mapping, memo: dict | None = None) -> TraceNode:
    """Evaluate every node of a condition (no short-circuit) and record each value.

    A named condition used in several places gets one shared TraceNode (``memo``, one dict per
    transaction, maps the node's identity to it), so the trace is a DAG as small as the IR.
    """
    if memo is None:
        memo = {}
    match expr:
        case ir.And(operands=operands) | ir.Or(operands=operands):
            children = tuple(trace(op, facts, memo) for op in operands)
            values = [c.value for c in children]
            value = all(values) if isinstance(expr, ir.And) else any(values)
            return TraceNode(expr, value, children)
        case ir.Not(operand=operand):
            child = trace(operand, facts, memo)
            return TraceNode(expr, not child.value, (child,))
        case ir.Named(body=body):
            node = memo.get(id(expr))
            if node is None:
                child = trace(body, facts, memo)
                node = memo[id(expr)] = TraceNode(expr, child.value, (child,))
            return node
    return TraceNode(expr, holds(expr, facts))
