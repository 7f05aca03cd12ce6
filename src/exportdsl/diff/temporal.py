"""Change over time within one policy: what changes from one day to another, and on which days.

A policy with a ``dated by`` fact decides differently on different days: rules take effect
(``effective``) and expire (``until``), suspensions start and end, and conditions may compare the
date themselves. :func:`at_date` fixes the date: every comparison of the dated-by fact becomes the
constant it is on that day, so the policy *as of* a day is an ordinary policy without the date.
Comparing two such policies with the exact diff gives exactly the transactions (facts other than
the date) whose decision differs between the two days, so

- :func:`between` is ``diff(policy as of D1, policy as of D2)``, with the rules taking effect or
  expiring and the suspensions starting or ending in between as its structural changes;
- :func:`timeline` lists the days on which some decision changes: only a day on which some date
  comparison changes value can change a decision (:func:`boundary_days`), and each such day is kept
  only when the exact diff of it against the day before has a region (so a rule date that falls
  inside a suspension is no change), with a witness checked on both days by the compiled evaluator.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import attrs

from .. import ir
from ..errors import Diagnostic
from ..operators import CompareOp
from ..semantics import compare, valid_date
from .search import Budget, DiffError, DiffResult, diff
from .structure import Change

#: The earliest and latest days a timeline looks at when no bounds are given.
_FIRST_DAY = "0001-01-02"
_LAST_DAY = "9999-12-31"


def _day(text: str, what: str) -> str:
    if not isinstance(text, str) or not valid_date(text):
        raise DiffError(Diagnostic("E502", f"{what} {text!r} is not a date YYYY-MM-DD"))
    return text


def _shift(day: str, days: int) -> str | None:
    try:
        return (datetime.date.fromisoformat(day) + datetime.timedelta(days=days)).isoformat()
    except (OverflowError, ValueError):
        return None


def _need_dated_by(policy: ir.Policy) -> str:
    if policy.dated_by is None:
        raise DiffError(Diagnostic("E502", "comparing days needs a policy with a 'dated by' fact",
                               help="declare which fact dates a transaction, e.g. `dated by ship_date`"))
    return policy.dated_by


# ---- the policy as of one day --------------------------------------------------------------------

class _Specialiser:
    """Rewrites conditions with the dated-by fact fixed to one day; shared subconditions once."""

    def __init__(self, fact: str, day: str):
        self.fact, self.day = fact, day
        self.memo: dict[int, ir.Expr] = {}

    def expr(self, node: ir.Expr) -> ir.Expr:
        key = id(node)
        done = self.memo.get(key)
        if done is None:
            done = self.memo[key] = self._rewrite(node)
        return done

    def _rewrite(self, node: ir.Expr) -> ir.Expr:
        match node:
            case ir.Compare(fact=fact, op=op, value=value) if fact == self.fact:
                return ir.Const(compare(op, self.day, value), span=node.span)
            case ir.Member(fact=fact, values=values) if fact == self.fact:
                return ir.Const(self.day in values, span=node.span)
            case ir.Not(operand=operand):
                inner = self.expr(operand)
                if isinstance(inner, ir.Const):
                    return ir.Const(not inner.value, span=node.span)
                return node if inner is operand else ir.Not(inner, span=node.span)
            case ir.And(operands=operands) | ir.Or(operands=operands):
                neutral = isinstance(node, ir.And)     # True for And, False for Or
                kept = []
                for operand in operands:
                    part = self.expr(operand)
                    if isinstance(part, ir.Const):
                        if part.value is neutral:
                            continue
                        return ir.Const(not neutral, span=node.span)
                    kept.append(part)
                if not kept:
                    return ir.Const(neutral, span=node.span)
                if len(kept) == 1:
                    return kept[0]
                return node.evolve(operands=tuple(kept))
            case ir.Named(body=body):
                inner = self.expr(body)
                if isinstance(inner, ir.Const):
                    return inner
                return node if inner is body else node.evolve(body=inner)
        return node


def at_date(policy: ir.Policy, day: str) -> ir.Policy:
    """The policy as it decides on ``day``: every comparison of the dated-by fact replaced by its
    value that day, rule dates and suspensions folded into the conditions, and the dated-by fact
    no longer declared. Decisions agree with ``policy`` on every transaction dated ``day``."""
    fact = _need_dated_by(policy)
    day = _day(day, "day")
    rewrite = _Specialiser(fact, day).expr
    rules = tuple(rule.evolve(when=rewrite(rule.when), condition=rewrite(rule.condition),
                               effective=None, until=None, suspended_by=())
                  for rule in policy.rules)
    version = f"{policy.version} on {day}" if policy.version else f"on {day}"
    return policy.evolve(version=version, rules=rules, dated_by=None, suspensions={},
                        facts={name: f for name, f in policy.facts.items() if name != fact},
                        conditions={name: _still_named(body, rewrite(body))
                                    for name, body in policy.conditions.items()})


def _still_named(original: ir.Expr, rewritten: ir.Expr) -> ir.Expr:
    """A named condition stays a :class:`ir.Named` (reports list it by name) even when it folds to a constant."""
    if isinstance(original, ir.Named) and not isinstance(rewritten, ir.Named):
        return original.evolve(body=rewritten)
    return rewritten


# ---- what happens between two days ---------------------------------------------------------------

def _in_window(day: str, effective: str | None, until: str | None) -> bool:
    return (effective is None or day >= effective) and (until is None or day <= until)


def events(policy: ir.Policy, before: str, after: str) -> tuple[Change, ...]:
    """Rules taking effect or expiring, and suspensions starting or ending, from ``before`` to ``after``
    (as written; whether a decision changes is for the diff to say)."""
    found = []
    for kind, items in (("rule", policy.rules), ("suspension", tuple(policy.suspensions.values()))):
        for item in items:
            if item.effective is None and item.until is None:
                continue
            was, now = _in_window(before, item.effective, item.until), _in_window(after, item.effective, item.until)
            if was == now:
                continue
            if kind == "rule":
                verb = "takes effect" if now else "expires"
            else:
                verb = "starts" if now else "ends"
            details = tuple(d for d in (
                f"title: {item.title}" if item.title else "",
                f"cite: {item.cite}" if item.cite else "",
                f"effective: {item.effective}" if item.effective else "",
                f"until: {item.until}" if item.until else "",
                f"suspends: {', '.join(item.rules)}" if kind == "suspension" else "",
            ) if d)
            found.append(Change(f"{kind} {verb}", item.id, details))
    return tuple(found)


def between(policy: ir.Policy, before: str, after: str, *, where: str | None = None,
            budget: Budget = Budget()) -> DiffResult:
    """The exact diff of ``policy`` on day ``before`` against the same policy on day ``after``: a
    transaction (all facts but the date) changes decision exactly when it lies in a region."""
    before, after = _day(before, "--between"), _day(after, "--between")
    result = diff(at_date(policy, before), at_date(policy, after), where=where, budget=budget)
    return result.evolve(structural=events(policy, before, after))


def _date_tests(policy: ir.Policy, fact: str) -> Iterable[tuple[CompareOp | None, str]]:
    seen: set[int] = set()
    stack: list[ir.Expr] = [rule.condition for rule in policy.rules]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        match node:
            case ir.Compare(fact=name, op=op, value=value) if name == fact:
                yield op, value
            case ir.Member(fact=name, values=values) if name == fact:
                for value in values:
                    yield None, value
            case ir.Not(operand=operand):
                stack.append(operand)
            case ir.And(operands=operands) | ir.Or(operands=operands):
                stack.extend(operands)
            case ir.Named(body=body):
                stack.append(body)


def boundary_days(policy: ir.Policy) -> list[str]:
    """The days ``d`` on which some comparison of the dated-by fact differs from day ``d - 1``: the
    only days on which a decision can change. Sorted."""
    fact = _need_dated_by(policy)
    days = set()
    for op, value in _date_tests(policy, fact):
        if op in (CompareOp.GE, CompareOp.LT):
            days.add(value)
        elif op in (CompareOp.GT, CompareOp.LE):
            days.add(_shift(value, 1))
        else:                                   # =, != and membership: the day itself and the next
            days.update((value, _shift(value, 1)))
    days.discard(None)
    return sorted(day for day in days if day > "0001-01-01")


@attrs.frozen
class DayChange:
    """A day on which some outcome (decision, or the rules deciding it) changes: what happens that
    day, the exact diff against the day before, and a witness (a transaction dated that day) with its
    outcome that day (``after``) and the day before (``before``)."""

    day: str
    events: tuple[Change, ...]
    result: DiffResult
    witness: dict
    before: tuple[str, tuple[str, ...]]
    after: tuple[str, tuple[str, ...]]

    def summary(self) -> str:
        """One line: the events, or the regions' transitions when no rule date explains them."""
        regions = len(self.result.regions)
        what = "; ".join(f"{e.subject} {e.kind.split(' ', 1)[1]}" for e in self.events) or "decisions change"
        return f"{self.day}: {what} ({regions} region{'s' if regions != 1 else ''})"

    def to_json(self) -> dict:
        """A JSON-ready dict (the witness with its date, its decisions on the day before and on the day)."""
        return {"day": self.day, "events": [e.to_json() for e in self.events],
                "regions": len(self.result.regions), "summary": self.result.summary(),
                "complete": self.result.complete,
                "witness": self.witness,
                "before": {"decision": self.before[0], "rules": list(self.before[1])},
                "after": {"decision": self.after[0], "rules": list(self.after[1])}}


def timeline(policy: ir.Policy, *, start: str | None = None, end: str | None = None,
             budget: Budget = Budget()) -> tuple[list[DayChange], bool]:
    """The days in ``[start, end]`` on which some decision of ``policy`` changes, each against the
    day before, and whether every day was decided within the budget (each day gets the budget)."""
    from ..backends.interpreter import evaluate

    fact = _need_dated_by(policy)
    start = _day(start, "--from") if start is not None else _FIRST_DAY
    end = _day(end, "--to") if end is not None else _LAST_DAY
    changes, complete = [], True
    for day in boundary_days(policy):
        if not start <= day <= end:
            continue
        previous = _shift(day, -1)
        result = between(policy, previous, day, budget=budget)
        complete = complete and result.complete
        if not result.regions:
            continue
        # Prefer a region whose decision changes; otherwise only the deciding rules change.
        region = next((r for r in result.regions if r.old != r.new), result.regions[0])
        witness = {**region.witness, fact: day}
        old = evaluate(policy, {**witness, fact: previous})
        new = evaluate(policy, witness)
        if old == new:     # the diff promised a change: an engine bug must not pass silently
            raise DiffError(Diagnostic("E520", f"internal check failed: the witness for {day} has the "
                                       f"same outcome on the day before", help="please report this policy"))
        result = result.evolve(structural=events(policy, previous, day))
        changes.append(DayChange(day, result.structural, result, witness, old, new))
    return changes, complete
