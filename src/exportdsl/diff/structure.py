"""Structural changes between two policy versions: rules, sets, facts, decisions and suspensions by name."""

from __future__ import annotations

import re
import time

import attrs

from .. import ir
from ..render import condition_text


@attrs.frozen
class Change:
    """One structural change: its kind (``rule added``, ``set changed`` ...), the subject and details."""

    kind: str
    subject: str
    details: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"kind": self.kind, "subject": self.subject, "details": list(self.details)}

    def __str__(self) -> str:
        text = f"{self.kind}: {self.subject}"
        return text + ("".join(f"\n    {d}" for d in self.details))


def _word(text: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) or re.fullmatch(r"[0-9.%-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _words(members) -> str:
    return " ".join(_word(m) for m in members)


def _members(members) -> str:
    return "{" + ", ".join(_word(m) for m in members) + "}"


def _rule_fields(rule: ir.Rule, policy: ir.Policy, known_equal: bool = False) -> dict[str, str]:
    """The fields a reviewer compares; ``known_equal``: the condition is known to read the same on
    both sides, so it is not rendered (rendering 4,000 conditions took a good part of a second)."""
    return {
        "condition": "" if known_equal else condition_text(rule.when, policy.facts),
        "decision": rule.decision,
        "effective": rule.effective or "-",
        "until": rule.until or "-",
        "cite": rule.cite or "-",
        "title": rule.title or "-",
        "overrides": ", ".join(rule.overrides) or "-",
        "suspended by": ", ".join(rule.suspended_by) or "-",
    }


def _describe_rule(rule: ir.Rule, policy: ir.Policy) -> tuple[str, ...]:
    fields = _rule_fields(rule, policy)
    return tuple(f"{k}: {v}" for k, v in fields.items() if v != "-")


#: The kind of the last change when the time budget ran out before every rule was compared.
CUT_SHORT = "not compared"


def _header_change(what: str, changed: str, before: str | None, after: str | None) -> list[Change]:
    """A policy's name or version changed, added or removed (never "renamed: p → None")."""
    if before == after:
        return []
    if after is None:
        return [Change(f"{what} removed", f"{before} (the new version has no {what})")]
    if before is None:
        return [Change(f"{what} added", f"{after} (the old version had no {what})")]
    return [Change(changed, f"{before} → {after}")]


def structural_changes(old: ir.Policy, new: ir.Policy, deadline: float = float("inf")) -> list[Change]:
    """Every declaration that differs between two policies, in a stable order. Past ``deadline``
    (checked every few hundred rules) the rules left are not compared: a last change of kind
    :data:`CUT_SHORT` says how many."""
    changes: list[Change] = []
    changes += _header_change("name", "policy renamed", old.name, new.name)
    changes += _header_change("version", "version changed", old.version, new.version)
    if old.decisions != new.decisions:
        gained = [d for d in new.decisions if d not in old.decisions]
        lost = [d for d in old.decisions if d not in new.decisions]
        details = [f"{' < '.join(old.decisions)}  →  {' < '.join(new.decisions)}"]
        details += [f"+ {d}" for d in gained] + [f"- {d}" for d in lost]
        changes.append(Change("decisions changed", "decisions", tuple(details)))
    if old.default != new.default:
        changes.append(Change("default changed", f"{old.default} → {new.default}"))
    for name in sorted(old.facts.keys() | new.facts.keys()):
        a, b = old.facts.get(name), new.facts.get(name)
        if a is None:
            changes.append(Change("fact added", name, (f"type: {b.type}",)))
        elif b is None:
            changes.append(Change("fact removed", name, (f"type: {a.type}",)))
        elif a.type != b.type or a.default != b.default:
            changes.append(Change("fact changed", name, (f"type: {a.type}  →  {b.type}",)))
    for name in sorted(old.sets.keys() | new.sets.keys()):
        a, b = old.sets.get(name), new.sets.get(name)
        if a is None:
            changes.append(Change("set added", name, (_members(b.members),)))
        elif b is None:
            changes.append(Change("set removed", name, (_members(a.members),)))
        elif set(a.members) != set(b.members):
            gained = [m for m in b.members if m not in a.members]
            lost = [m for m in a.members if m not in b.members]
            details = ([f"+ {_words(gained)}"] if gained else []) + ([f"- {_words(lost)}"] if lost else [])
            changes.append(Change("set changed", name, tuple(details)))
    for name in sorted(old.conditions.keys() | new.conditions.keys()):
        a, b = old.conditions.get(name), new.conditions.get(name)
        if a is None:
            changes.append(Change("condition added", name, (condition_text(b.body, new.facts),)))
        elif b is None:
            changes.append(Change("condition removed", name, (condition_text(a.body, old.facts),)))
        elif condition_text(a.body, old.facts) != condition_text(b.body, new.facts):
            changes.append(Change("condition changed", name, (
                f"- {condition_text(a.body, old.facts)}", f"+ {condition_text(b.body, new.facts)}")))
    old_rules = {r.id: r for r in old.rules}
    new_rules = {r.id: r for r in new.rules}
    same_facts = old.facts == new.facts   # then equal conditions (IR, spans aside) render equally
    for rule in old.rules:
        if rule.id not in new_rules:
            changes.append(Change("rule removed", rule.id, _describe_rule(rule, old)))
    for count, rule in enumerate(new.rules):
        if not count & 255 and time.monotonic() > deadline:
            left = len(new.rules) - count
            changes.append(Change(CUT_SHORT, f"{left} rule(s) of the new policy", (
                "the time budget ran out before they were compared with the old policy",)))
            return changes
        before = old_rules.get(rule.id)
        if before is None:
            changes.append(Change("rule added", rule.id, _describe_rule(rule, new)))
            continue
        known_equal = same_facts and before.when == rule.when
        fa, fb = _rule_fields(before, old, known_equal), _rule_fields(rule, new, known_equal)
        details = tuple(f"{k}: {fa[k]}  →  {fb[k]}" for k in fa if fa[k] != fb[k])
        if details:
            changes.append(Change("rule changed", rule.id, details))
    for sid in sorted(old.suspensions.keys() | new.suspensions.keys()):
        a, b = old.suspensions.get(sid), new.suspensions.get(sid)

        def describe(s: ir.Suspension) -> tuple[str, ...]:
            return (f"suspends: {', '.join(s.rules)}", f"window: {s.effective or '...'} to {s.until or '...'}",
                    *([f"cite: {s.cite}"] if s.cite else []))
        if a is None:
            changes.append(Change("suspension added", sid, describe(b)))
        elif b is None:
            changes.append(Change("suspension removed", sid, describe(a)))
        elif describe(a) != describe(b):
            changes.append(Change("suspension changed", sid, tuple(
                f"{x}  →  {y}" for x, y in zip(describe(a), describe(b)) if x != y)))
    return changes
