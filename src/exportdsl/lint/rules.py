"""The semantic lints of one policy: conditions that never hold, rules that never decide, duplicate, subsumed and overlapping rules."""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import ir
from ..diff.boolexpr import FALSE
from ..combining import overridden_by
from ..errors import Diagnostic, Severity
from .logic import Budget, Cover, Logic, OutOfBudget, OutOfTime

#: Most rules named in one message.
MAX_NAMED = 3


def switched_off(expr: ir.Expr) -> bool:
    """True for a condition written as ``false`` (or ``false and ...``): the documented way to turn a rule off."""
    if isinstance(expr, ir.Const):
        return not expr.value
    return isinstance(expr, ir.And) and any(isinstance(op, ir.Const) and not op.value for op in expr.operands)


def _names(ids) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def _applies_names(expr: ir.Expr) -> set[str]:
    """The rules that ``applies(...)`` names below a condition (each shared node visited once)."""
    names, stack, seen = set(), [expr], {}
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if isinstance(node, ir.Named):
            if node.name.startswith("applies(") and node.name.endswith(")"):
                names.add(node.name[len("applies("):-1])
            stack.append(node.body)
        elif isinstance(node, (ir.And, ir.Or)):
            stack.extend(node.operands)
        elif isinstance(node, ir.Not):
            stack.append(node.operand)
    return names


def _reference_kinds(users: dict[str, str]) -> str:
    kinds = sorted(set(users.values()))
    return " and ".join("through applies(...)" if k == "applies(...)" else "in 'overrides'" for k in kinds)


class RuleLinter:
    """Runs the semantic lints of one checked policy; ``span_of`` gives the span to report a rule or condition at."""

    def __init__(self, policy: ir.Policy, span_of: Callable[[str, str], object], budget: Budget | None = None,
                 empty_windows: frozenset = frozenset()) -> None:
        self.policy = policy
        self.span_of = span_of
        self.budget = budget if budget is not None else Budget()
        self.empty_windows = empty_windows   # rules whose until is before their effective (reported elsewhere)
        self.findings: list = []
        self.skipped: dict = {}   # check -> number of questions left undecided
        self.logic: Logic | None = None
        self.cover: Cover | None = None
        self.position: dict = {}
        self._references: dict | None = None

    def run(self) -> list[Diagnostic]:
        """Every semantic finding, then one note per check that ran out of budget."""
        try:   # building the space and lowering the rules get the budget once (then the checks get it)
            self.logic = Logic(self.policy, self.budget)
        except OutOfTime:   # the conditions alone outgrew the budget: no semantic check could run
            self.skipped["all semantic checks"] = len(self.policy.rules)
            return self._skipped_notes()
        started = time.monotonic()
        self.position = {rule.id: i for i, rule in enumerate(self.policy.rules)}
        spent = 0.0
        for share, phase in ((0.2, "never-holds"), (0.45, "never-decides"), (0.25, "subsumed"), (0.1, "overlap")):
            # each phase gets its share of the time budget, plus what earlier phases left unused
            spent += share * self.budget.max_seconds
            self.logic.deadline = started + spent
            if phase == "never-holds":
                dead = self.never_hold()
                self.named_never_hold()
                live = [r for r in self.policy.rules if r.id not in dead and not switched_off(r.when)]
            elif phase == "never-decides":
                shadowed = self.never_decide(live)
                deciding = [r for r in live if r.id not in shadowed]
            elif phase == "subsumed":
                self.subsumed(deciding)
            else:
                self.overlaps(deciding)
        return self._skipped_notes()

    def _skipped_notes(self) -> list[Diagnostic]:
        for check, count in self.skipped.items():
            self.findings.append(Diagnostic(
                "W191", f"lint check '{check}' skipped for {count} question(s): the policy is too large "
                        "for the lint budget", None,
                help="the other checks ran; split the policy or lint a smaller part to decide the rest",
                severity=Severity.NOTE))
        return self.findings

    # ---- helpers
    def warn(self, code: str, message: str, span, help: str | None, severity=Severity.WARNING) -> None:
        self.findings.append(Diagnostic(code, message, span, help, severity))

    def out_of_time(self, check: str) -> bool:
        """True (and the question counted as skipped) once the phase's time is spent: a per-rule loop
        asks this before its own work, which may be linear in the rules (so the loop stays bounded)."""
        if self.logic.expired():
            self.skipped[check] = self.skipped.get(check, 0) + 1
            return True
        return False

    def ask(self, check: str, question: Callable[..., bool], *args) -> bool | None:
        """The answer to a satisfiability question, or None (counted as skipped) past the budget."""
        if self.logic.expired():
            self.skipped[check] = self.skipped.get(check, 0) + 1
            return None
        try:
            return question(*args)
        except OutOfBudget:
            self.skipped[check] = self.skipped.get(check, 0) + 1
            return None

    # ---- W101, W103: rules that never apply
    def never_hold(self) -> set[str]:
        """Rules whose condition never holds (W101), or never within their dates and suspensions (W103)."""
        logic, dead = self.logic, set()
        for rule in self.policy.rules:
            if switched_off(rule.when):
                continue
            holds = self.ask("never-holds", logic.sat, logic.when[rule.id])
            if holds is False:
                dead.add(rule.id)
                self.warn("W101", f"the condition of rule {rule.id} can never hold", self.span_of("when", rule.id),
                          "no transaction satisfies it: look for contradictory tests on the same fact "
                          "(write 'false' to switch a rule off on purpose)")
                continue
            if rule.condition is rule.when or rule.id in self.empty_windows:
                if rule.id in self.empty_windows:
                    dead.add(rule.id)
                continue
            applies = self.ask("never-holds", logic.sat, logic.condition[rule.id])
            if applies is False:
                dead.add(rule.id)
                why = "its dates" if not rule.suspended_by else "its dates and suspensions"
                self.warn("W103", f"rule {rule.id} can never apply: its condition never holds within {why}",
                          self.span_of("rule", rule.id),
                          f"check its effective/until dates against the '{self.policy.dated_by}' tests of its "
                          "condition" + (f" and the suspensions {_names(rule.suspended_by)}"
                                         if rule.suspended_by else ""))
        return dead

    # ---- W102: named conditions that never hold
    def named_never_hold(self) -> None:
        """Named conditions that no transaction satisfies."""
        logic = self.logic
        for name, expr in self.policy.conditions.items():
            if switched_off(expr):
                continue
            if self.ask("never-holds", logic.sat, logic.named[name]) is False:
                self.warn("W102", f"the named condition '{name}' can never hold", self.span_of("condition", name),
                          "no transaction satisfies it: look for contradictory tests on the same fact")

    # ---- W111: rules that never decide
    def never_decide(self, live: list[ir.Rule]) -> set[str]:
        """Rules that apply somewhere but never decide: more severe rules, or rules overriding them, always win."""
        logic, store, policy = self.logic, self.logic.store, self.policy
        overriders = overridden_by(policy)
        rules = policy.rules
        live_ids = {rule.id for rule in live}
        try:
            cover = self.cover = Cover(logic, [logic.decisive[r.id] for r in rules])
        except OutOfTime:   # too many rules to index in the time left: the check (and the cover) is skipped
            self.skipped["never-decides"] = self.skipped.get("never-decides", 0) + len(live)
            return set()
        above = {severity: cover.mask(i for i, s in enumerate(rules) if policy.severity(s.decision) > severity)
                 for severity in range(len(policy.decisions))}
        shadowed = set()
        for index, rule in enumerate(rules):
            if rule.id not in live_ids:
                continue
            if self.out_of_time("never-decides"):
                continue
            mine = logic.decisive[rule.id]
            severity = policy.severity(rule.decision)
            if above[severity] is not None and cover.masks[index] is not None:
                decides = self.ask("never-decides", cover.escapes_any,
                                   [cover.boxes[bit] for bit in cover.members[index]], above[severity])
            else:
                higher = [s for s in rules if policy.severity(s.decision) > severity
                          and logic.decisive[s.id] != FALSE and logic.may_overlap(mine, logic.decisive[s.id])]
                question = store.conj([mine, *(store.negate(logic.decisive[s.id]) for s in higher)])
                decides = self.ask("never-decides", logic.sat, question)
            if decides is not False:
                continue
            higher = [s for s in rules if policy.severity(s.decision) > severity
                      and logic.decisive[s.id] != FALSE and logic.may_overlap(mine, logic.decisive[s.id])]
            if rule.overrides and not self._removable(rule):
                continue
            shadowed.add(rule.id)
            winners = self._first(higher, logic.decisive[rule.id], logic.decisive)
            blockers = self._first(overriders[rule.id], logic.condition[rule.id], logic.condition)
            parts = []
            if winners:
                parts.append(f"more severe rules (such as {', '.join(winners)})")
            if blockers:
                parts.append(f"rules overriding it (such as {', '.join(blockers)})")
            by = " or ".join(parts) or "other rules"
            self.warn("W111", f"rule {rule.id} can never decide: wherever it applies, {by} decide instead",
                      self.span_of("rule", rule.id),
                      "removing it changes no decision; if it is meant as an exception, give it 'overrides' "
                      "for the rules it should replace, or narrow the rules that win over it")
        return shadowed

    def _first(self, rules, expr: int, conditions: dict[str, int]) -> list[str]:
        """The ids of the first few rules whose condition (from ``conditions``) overlaps ``expr``."""
        found, store = [], self.logic.store
        for rule in rules:
            if len(found) == MAX_NAMED:
                break
            if self.ask("never-decides", self.logic.sat, store.conj([expr, conditions[rule.id]])):
                found.append(rule.id)
        return found

    def _removable(self, rule: ir.Rule) -> bool:
        """Whether removing a rule that overrides others changes no decision (asked of the exact diff)."""
        from ..diff.search import Budget as DiffBudget
        from ..diff.search import diff

        kept = tuple(r.evolve(overrides=tuple(t for t in r.overrides if t != rule.id))
                     for r in self.policy.rules if r.id != rule.id)
        reduced = self.policy.evolve(rules=kept)
        result = diff(self.policy, reduced, budget=DiffBudget(max_nodes=self.budget.max_nodes,
                                                                  max_seconds=min(1.0, self.logic.remaining())))
        if not result.complete:
            self.skipped["never-decides"] = self.skipped.get("never-decides", 0) + 1
            return False
        return not result.changed

    # ---- W112, W113: duplicate and subsumed rules
    def subsumed(self, deciding: list[ir.Rule]) -> None:
        """Rules that give the same decision as another rule wherever they count (same or narrower condition)."""
        logic, store = self.logic, self.logic.store
        by_decision: dict[str, list[ir.Rule]] = {}
        for rule in deciding:
            by_decision.setdefault(rule.decision, []).append(rule)
        order = {rule.id: index for index, rule in enumerate(self.policy.rules)}
        pairs = 0
        for group in by_decision.values():
            needs = {r.id: frozenset(logic.hull(logic.decisive[r.id])) for r in group}
            for rule in group:
                if rule.overrides:
                    continue   # it also sets other rules aside: not redundant even when subsumed
                if self.out_of_time("subsumed"):
                    continue
                mine = logic.decisive[rule.id]
                mentioned = store.vars[mine]
                for other in group:
                    if other is rule or not needs[other.id] <= mentioned:
                        continue
                    pairs += 1
                    if pairs > self.budget.max_pairs:
                        self.skipped["subsumed"] = self.skipped.get("subsumed", 0) + 1
                        continue
                    if not self.ask("subsumed", self._implies, rule, other):
                        continue
                    same = not other.overrides and self.ask("subsumed", self._implies, other, rule)
                    if same:
                        if order[rule.id] < order[other.id]:
                            continue   # reported on the later of the two
                        self.warn("W112", f"rule {rule.id} duplicates rule {other.id}: both give {rule.decision} "
                                          "on exactly the same transactions", self.span_of("rule", rule.id),
                                  f"remove one of them (keep {other.id}, or merge their titles and citations)")
                    else:
                        users = self.referenced_by().get(rule.id)
                        if users:
                            advice = (f"{rule.id} changes no decision, only the rules reported, but keep it: "
                                      f"{_names(users)} refer{'s' if len(users) == 1 else ''} to it "
                                      f"({_reference_kinds(users)}), so removing it would break or change "
                                      f"{'that rule' if len(users) == 1 else 'them'}; narrow the broader rule "
                                      "if it was meant to be narrower")
                        else:
                            advice = (f"{rule.id} changes no decision, only the rules reported: remove it, or "
                                      "narrow the broader rule if it was meant to be narrower")
                        self.warn("W113", f"rule {rule.id} is subsumed by rule {other.id}: wherever {rule.id} "
                                          f"applies, {other.id} applies too and gives the same decision "
                                          f"({rule.decision})", self.span_of("rule", rule.id), advice)
                    break

    def referenced_by(self) -> dict[str, dict[str, str]]:
        """Rule id -> {id of a rule or named condition referring to it: how ("applies(...)" or "overrides")}."""
        if self._references is None:
            found: dict[str, dict[str, str]] = {}
            roots = [(r.id, r.condition) for r in self.policy.rules] + list(self.policy.conditions.items())
            for user, root in roots:
                for name in _applies_names(root):
                    if name != user:
                        found.setdefault(name, {})[user] = "applies(...)"
            for rule in self.policy.rules:
                for target in rule.overrides:
                    found.setdefault(target, {}).setdefault(rule.id, "overrides")
            self._references = found
        return self._references

    def _implies(self, a: ir.Rule, b: ir.Rule) -> bool:
        """Whether rule ``a`` counts only where rule ``b`` counts (decisive conditions)."""
        cover, logic = self.cover, self.logic
        ia, ib = self.position[a.id], self.position[b.id]
        if cover is not None and cover.masks[ia] is not None and cover.masks[ib] is not None:
            return not any(cover.escapes(cover.boxes[bit], cover.masks[ib]) for bit in cover.members[ia])
        return logic.implies(logic.decisive[a.id], logic.decisive[b.id])

    # ---- W114: exceptions that do not take effect everywhere
    def overlaps(self, deciding: list[ir.Rule]) -> None:
        """Exception-like rules (with 'overrides', or the least severe decision) that a more severe rule
        they do not override beats on some transactions."""
        logic, store, policy = self.logic, self.logic.store, self.policy
        for rule in deciding:
            severity = policy.severity(rule.decision)
            exception_like = rule.overrides or severity == 0 or severity < policy.severity(policy.default)
            if not exception_like or self.out_of_time("overlap"):
                continue
            mine = logic.decisive[rule.id]
            beaten = [s.id for s in policy.rules
                      if policy.severity(s.decision) > severity and s.id not in rule.overrides
                      and logic.decisive[s.id] != FALSE and logic.may_overlap(mine, logic.decisive[s.id])
                      and self.ask("overlap", logic.sat, store.conj([mine, logic.decisive[s.id]]))]
            if beaten:
                what = "overrides other rules" if rule.overrides else "gives the least severe decision"
                others = (f"the more severe rule {beaten[0]} also applies and decides" if len(beaten) == 1
                          else f"the more severe rules {_names(beaten)} also apply and decide")
                self.warn("W114", f"rule {rule.id} ({rule.decision}) {what}, yet on some of the transactions "
                                  f"it matches, {others} instead",
                          self.span_of("rule", rule.id),
                          f"if {rule.id} is meant as an exception to them, add 'overrides {beaten[0]}'; "
                          "otherwise this is the intended most-severe-wins outcome",
                          severity=Severity.NOTE)
