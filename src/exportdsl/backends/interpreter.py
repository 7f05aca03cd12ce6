"""The reference interpreter: walks the IR with the meaning in ``semantics``; slow, plain, and traced."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .. import ir
from ..combining import combine
from ..semantics import compare, is_empty, member, set_test, validate_facts


def holds(expr: ir.Expr, facts: Mapping) -> bool:
    """Whether a condition holds for canonical (validated) facts."""
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
            return all(holds(op, facts) for op in operands)
        case ir.Or(operands=operands):
            return any(holds(op, facts) for op in operands)
        case ir.Not(operand=operand):
            return not holds(operand, facts)
        case ir.Named(body=body):
            return holds(body, facts)
        case ir.Const(value=value):
            return value
    raise AssertionError(f"unknown IR node {expr!r}")


def applicable_rules(policy: ir.Policy, facts: Mapping) -> list[ir.Rule]:
    """Every rule whose condition (dates included) holds, in source order."""
    return [rule for rule in policy.rules if holds(rule.condition, facts)]


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


def trace(expr: ir.Expr, facts: Mapping) -> TraceNode:
    """Evaluate every node of a condition (no short-circuit) and record each value."""
    match expr:
        case ir.And(operands=operands) | ir.Or(operands=operands):
            children = tuple(trace(op, facts) for op in operands)
            values = [c.value for c in children]
            value = all(values) if isinstance(expr, ir.And) else any(values)
            return TraceNode(expr, value, children)
        case ir.Not(operand=operand):
            child = trace(operand, facts)
            return TraceNode(expr, not child.value, (child,))
        case ir.Named(body=body):
            child = trace(body, facts)
            return TraceNode(expr, child.value, (child,))
    return TraceNode(expr, holds(expr, facts))
