"""Partial evaluation of a policy's conditions on one enum, country or bool fact, for dispatch.

The compiled evaluator may branch once on the value of a fact that many rules test for equality
(``export_from = CN``, ``item in {...}``) and, in each branch, evaluate only what is left of the
rules once that value is known: a rule whose condition becomes false disappears from the branch,
and the tests on that fact disappear from the others. :func:`specialise` rewrites a condition under
such an assumption (the fact has value ``v``, or none of the branch values), folding constants;
:func:`choose_dispatch` picks the fact with the fewest rules left per branch, if any is worth it.

Conditions are pure and total on validated facts, so a condition and its specialisation agree on
every transaction that satisfies the assumption. Shared sub-conditions (a DAG of named conditions)
stay shared: each node is rewritten once.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import ir
from ..operators import CompareOp
from ..types import Kind

#: A fact is dispatched on only when its tests name at most this many values (one branch each).
MAX_BRANCHES = 8
#: ... and when the branches keep on average at most this share of the rules (weighted by size) ...
MIN_GAIN = 0.75
#: ... and all branches together at most this many times the rules (the generated code's growth).
MAX_GROWTH = 2.0
_DISPATCH_KINDS = (Kind.ENUM, Kind.COUNTRY, Kind.BOOL)

_TRUE, _FALSE = ir.Const(True), ir.Const(False)


class Assumption:
    """``fact == value`` (``value`` given) or ``fact not in excluded`` (the other branch)."""

    __slots__ = ("fact", "value", "excluded", "known")

    def __init__(self, fact: str, *, value=None, excluded: frozenset | None = None):
        self.fact, self.value, self.excluded = fact, value, excluded
        self.known = excluded is None

    def compare(self, op: CompareOp, other):
        """The truth of ``fact OP other``: True, False, or None when the assumption leaves it open."""
        if op not in (CompareOp.EQ, CompareOp.NE):
            return None
        if self.known:
            return (self.value == other) is (op is CompareOp.EQ)
        if other in self.excluded:
            return op is CompareOp.NE
        return None

    def member(self, values: frozenset):
        """``fact in values`` as True or False, a smaller set that means the same, or None (unchanged)."""
        if self.known:
            return self.value in values
        if values <= self.excluded:
            return False
        if values.isdisjoint(self.excluded):
            return None
        return values - self.excluded


def specialise(expr: ir.Expr, assumption: Assumption, memo: dict[int, ir.Expr]) -> ir.Expr:
    """``expr`` rewritten under the assumption, with constants folded (``memo`` keeps DAG sharing).

    An unchanged sub-condition is returned as the same object. Iterative (post-order), so that deep
    conditions cost no recursion.
    """
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in memo:
            continue
        parts = ir._compound_parts(node)
        if parts and not expanded:
            stack.append((node, True))
            stack.extend((part, False) for part in parts if id(part) not in memo)
            continue
        memo[id(node)] = _rewrite(node, assumption, [memo[id(part)] for part in parts])
    return memo[id(expr)]


def _rewrite(node: ir.Expr, assumption: Assumption, parts: list[ir.Expr]) -> ir.Expr:
    match node:
        case ir.Compare(fact=fact, op=op, value=value) if fact == assumption.fact:
            truth = assumption.compare(op, value)
            return node if truth is None else (_TRUE if truth else _FALSE)
        case ir.Member(fact=fact, values=values) if fact == assumption.fact:
            result = assumption.member(values)
            if result is None:
                return node
            if result is True or result is False:
                return _TRUE if result else _FALSE
            return ir.Member(fact, result, node.set_name, span=node.span)
        case ir.Not():
            (operand,) = parts
            if isinstance(operand, ir.Const):
                return _FALSE if operand.value else _TRUE
            return node if operand is node.operand else ir.Not(operand, span=node.span)
        case ir.And() | ir.Or():
            absorbing = isinstance(node, ir.Or)      # True absorbs an or, False an and
            kept = []
            for part in parts:
                if isinstance(part, ir.Const):
                    if part.value is absorbing:
                        return part
                    continue
                kept.append(part)
            if not kept:
                return _FALSE if absorbing else _TRUE
            if len(kept) == 1:
                return kept[0]
            if len(kept) == len(node.operands) and all(a is b for a, b in zip(kept, node.operands)):
                return node
            return type(node)(tuple(kept), span=node.span)
        case ir.Named():
            (body,) = parts
            if body is node.body:
                return node
            if isinstance(body, ir.Const):
                return body
            return ir.Named(node.name, body, span=node.span)
    return node


def _ruled_out(conditions: Mapping[str, ir.Expr], fact: str, values: list) -> dict[str, frozenset]:
    """For each rule, the branches (indexes into ``values``; ``len(values)`` for the other values)
    in which its condition is false whatever the other facts are, as far as an and/or walk sees.

    One post-order walk over the DAG, each node once; a ``not`` is never ruled out (conservative).
    """
    everywhere = frozenset(range(len(values) + 1))
    other = len(values)
    memo: dict[int, frozenset] = {}
    stack = [(cond, False) for cond in conditions.values()]
    while stack:
        node, expanded = stack.pop()
        if id(node) in memo:
            continue
        if isinstance(node, (ir.And, ir.Or, ir.Named)):
            parts = ir._compound_parts(node)
            if not expanded:
                stack.append((node, True))
                stack.extend((part, False) for part in parts if id(part) not in memo)
                continue
            outs = [memo[id(part)] for part in parts]
            if isinstance(node, ir.Or):
                memo[id(node)] = frozenset.intersection(*outs)
            else:
                memo[id(node)] = frozenset().union(*outs)
            continue
        out: set = set()
        if isinstance(node, ir.Compare) and node.fact == fact and node.op is CompareOp.EQ:
            out.update(i for i, v in enumerate(values) if v != node.value)
            if node.value in values:
                out.add(other)
        elif isinstance(node, ir.Compare) and node.fact == fact and node.op is CompareOp.NE:
            out.update(i for i, v in enumerate(values) if v == node.value)
        elif isinstance(node, ir.Member) and node.fact == fact:
            out.update(i for i, v in enumerate(values) if v not in node.values)
            if node.values <= set(values):
                out.add(other)
        elif isinstance(node, ir.Const) and not node.value:
            out = set(everywhere)
        memo[id(node)] = frozenset(out)
    return {rule_id: memo[id(cond)] for rule_id, cond in conditions.items()}


def _mentioned(conditions) -> dict[str, set]:
    """For each fact, every value that an equality or membership test of it names."""
    values: dict[str, set] = {}
    seen: set[int] = set()
    stack = list(conditions)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ir.Compare) and node.op in (CompareOp.EQ, CompareOp.NE):
            values.setdefault(node.fact, set()).add(node.value)
        elif isinstance(node, ir.Member):
            values.setdefault(node.fact, set()).update(node.values)
        stack.extend(ir._compound_parts(node))
    return values


def choose_dispatch(facts: Mapping[str, ir.Fact], conditions: Mapping[str, ir.Expr],
                    sizes: Mapping[str, int]) -> tuple[str, list] | None:
    """The fact to branch on and its branch values (in a stable order), or None when none pays.

    A rule counts in a branch unless the branch's value makes its condition false; the fact
    whose branches keep the least rule size on average wins, if that is at most ``MIN_GAIN`` of the
    whole and all branches together at most ``MAX_GROWTH`` times it. ``sizes`` is a size estimate
    of each rule's condition.
    """
    total = sum(sizes.values()) or 1
    best = None
    mentioned = _mentioned(conditions.values())
    for name, fact in facts.items():
        if fact.type.kind not in _DISPATCH_KINDS or not 0 < len(mentioned.get(name, ())) <= MAX_BRANCHES:
            continue
        values = sorted(mentioned[name], key=repr)
        other = has_other_branch(fact, values)
        count = len(values) + other
        ruled_out = _ruled_out(conditions, name, values)
        kept = 0
        for rule_id, out in ruled_out.items():
            kept += sizes[rule_id] * (count - len(out if other else out - {len(values)}))
        average = kept / count
        if average <= MIN_GAIN * total and kept <= MAX_GROWTH * total and (best is None or average < best[0]):
            best = (average, name, values)
    return None if best is None else (best[1], best[2])


def _possible_values(fact: ir.Fact) -> frozenset | None:
    """Every value a validated fact can take, when there are few (enum, bool); else None."""
    if fact.type.kind is Kind.BOOL:
        return frozenset({True, False})
    if fact.type.kind is Kind.ENUM:
        return frozenset(fact.type.values)
    return None


def has_other_branch(fact: ir.Fact, values) -> bool:
    """Whether a validated value of ``fact`` can be none of ``values`` (an ``else`` branch is needed)."""
    possible = _possible_values(fact)
    return possible is None or not possible <= set(values)
