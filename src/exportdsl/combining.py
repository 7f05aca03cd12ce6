"""The meaning of combining rules: most severe wins, after overrides; shared by every backend.

A rule that applies removes the rules it ``overrides`` from the applicable set (one step, not
transitively: an overriding rule's own effect does not depend on whether it is overridden). The
decision is the most severe decision among the remaining rules, and the rules reported are all of
the remaining rules that give it, in source order; with none remaining, the policy's default.
"""

from __future__ import annotations

from . import ir


def combine(policy: ir.Policy, applicable: list[ir.Rule]) -> tuple[str, tuple[str, ...]]:
    """The decision and deciding rule ids, given the rules whose conditions hold (source order)."""
    overridden = {target for rule in applicable for target in rule.overrides}
    remaining = [rule for rule in applicable if rule.id not in overridden]
    if not remaining:
        return policy.default, ()
    top = max(remaining, key=lambda rule: policy.severity(rule.decision)).decision
    return top, tuple(rule.id for rule in remaining if rule.decision == top)


def overridden_by(policy: ir.Policy) -> dict[str, tuple[ir.Rule, ...]]:
    """For each rule id, the rules that override it (possibly none)."""
    result: dict[str, list[ir.Rule]] = {rule.id: [] for rule in policy.rules}
    for rule in policy.rules:
        for target in rule.overrides:
            result[target].append(rule)
    return {rid: tuple(rules) for rid, rules in result.items()}


def decisive_conditions(policy: ir.Policy) -> dict[str, ir.Expr]:
    """For each rule id, when the rule counts in combining: it holds and no rule overriding it applies.

    With these conditions in place of the plain ones, most-severe-wins over them (with no
    overrides left) gives exactly :func:`combine`'s result, which lets the compiled evaluator and
    the diff keep evaluating rules most severe first.
    """
    result = {}
    for rule_id, overriders in overridden_by(policy).items():
        rule = policy.rule(rule_id) if overriders else None
        if not overriders:
            continue
        blockers = tuple(ir.Named(f"applies({o.id})", o.condition, span=o.span) for o in overriders)
        blocked = blockers[0] if len(blockers) == 1 else ir.Or(blockers)
        result[rule_id] = ir.And((rule.condition, ir.Not(blocked)), span=rule.condition.span)
    return {rule.id: result.get(rule.id, rule.condition) for rule in policy.rules}
