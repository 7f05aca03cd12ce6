"""A diff reviewed by legal provision: regions and structural changes grouped under the ``cite`` of
the rules that cause them, as a checklist (Markdown task lists, or one self-contained HTML page).

A reviewer signs off provision by provision. Each group holds the structural changes of the rules
that carry that citation and the regions in which such a rule decides on the changed side (a region
caused by rules of several provisions is listed under each, saying which others share it). Rules
without a citation are grouped under "(no citation)", and changes of declarations that are not rules
(sets, facts, decisions) under "(declarations and headers, not rules)". With ledger counts from a replay, each region also
shows the number of affected rows (and a value sum). Every string that came from a policy is
escaped for the medium.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import attrs

from .. import ir
from ..escape import for_terminal, markdown_code, markdown_text
from .report import dumps

NO_CITATION = "(no citation)"
NOT_A_RULE = "(declarations and headers, not rules)"


@attrs.frozen
class RegionCount:
    """Rows of a replayed ledger that fall in one region, and the sum of a value column (or None)."""

    rows: int
    value: object = None


@attrs.frozen
class Provision:
    """One legal provision: its citation, the rules citing it, their structural changes and regions
    (1-based region numbers of the diff)."""

    cite: str
    rules: tuple[str, ...]
    changes: tuple
    regions: tuple[int, ...]


def _rule_in(policy: ir.Policy, rule_id: str) -> ir.Rule | None:
    return next((rule for rule in policy.rules if rule.id == rule_id), None)


def _cite_of(result, rule_id: str) -> str:
    rule = _rule_in(result.new, rule_id) or _rule_in(result.old, rule_id)
    if rule is None:
        return NOT_A_RULE
    return rule.cite or NO_CITATION


def _changed_rules(result) -> set[str]:
    changed = getattr(result, "changed_rules", None)
    if changed is not None:
        return set(changed)
    rule_ids = {r.id for r in result.old.rules} | {r.id for r in result.new.rules}
    return {c.subject for c in result.structural if c.subject in rule_ids}


def _region_rules(region, changed: set[str]) -> set[str]:
    deciders = set(region.old_rules) | set(region.new_rules)
    return (deciders & changed) or deciders


def provisions(result) -> list[Provision]:
    """The provisions of a diff, in order of first appearance (structural changes, then regions)."""
    changed = _changed_rules(result)
    groups: dict[str, dict] = {}

    def group(cite: str) -> dict:
        return groups.setdefault(cite, {"rules": [], "changes": [], "regions": []})

    for change in result.structural:
        cite = _cite_of(result, change.subject)
        entry = group(cite)
        entry["changes"].append(change)
        if cite != NOT_A_RULE and change.subject not in entry["rules"]:
            entry["rules"].append(change.subject)
    for number, region in enumerate(result.regions, 1):
        cites = sorted({_cite_of(result, rule) for rule in _region_rules(region, changed)})
        for cite in cites:
            entry = group(cite)
            if number not in entry["regions"]:
                entry["regions"].append(number)
            for rule in sorted(_region_rules(region, changed)):
                if _cite_of(result, rule) == cite and rule not in entry["rules"]:
                    entry["rules"].append(rule)
    return [Provision(cite, tuple(v["rules"]), tuple(v["changes"]), tuple(v["regions"]))
            for cite, v in groups.items()]


def _cites_of_region(result, region, changed) -> list[str]:
    return sorted({_cite_of(result, rule) for rule in _region_rules(region, changed)})


def _label(policy: ir.Policy, fallback: str) -> str:
    return " ".join(p for p in (policy.name, policy.version) if p) or fallback


def _count_text(count: RegionCount | None) -> str:
    if count is None:
        return ""
    text = f"{count.rows} affected row{'s' if count.rows != 1 else ''}"
    if count.value is not None:
        text += f", value {count.value}"
    return text


# ---- Markdown ------------------------------------------------------------------------------------

def to_markdown(result, counts: Mapping[int, RegionCount] | None = None) -> str:
    """The checklist as Markdown: a task-list item per provision, its changes and regions under it."""
    counts = counts or {}
    changed = _changed_rules(result)
    old, new = _label(result.old, "old"), _label(result.new, "new")
    lines = [f"# Review by provision: {markdown_text(old)} → {markdown_text(new)}", ""]
    if not result.complete:
        lines += ["**INCOMPLETE**: the diff ran out of budget; the regions listed are only part of the changes.", ""]
    groups = provisions(result)
    lines += [f"{len(groups)} provision(s), {len(result.regions)} region(s), "
              f"{len(result.structural)} structural change(s). Tick each provision once reviewed.", ""]
    for provision in groups:
        rules = ", ".join(markdown_code(r) for r in provision.rules)
        lines.append(f"- [ ] **{markdown_text(provision.cite)}**" + (f" (rules {rules})" if rules else ""))
        for change in provision.changes:
            lines.append(f"  - {markdown_text(change.kind)}: {markdown_code(change.subject)}")
        for number in provision.regions:
            region = result.regions[number - 1]
            others = [c for c in _cites_of_region(result, region, changed) if c != provision.cite]
            extra = [t for t in (_count_text(counts.get(number)),
                                 ("also under " + "; ".join(markdown_text(c) for c in others)) if others else "") if t]
            lines.append(f"  - region {number}: {markdown_text(region.old)} → {markdown_text(region.new)}"
                         + (f" ({'; '.join(extra)})" if extra else ""))
            lines.append(f"    - where: {markdown_code(region.condition)}")
            lines.append(f"    - witness: {markdown_code(dumps(region.witness))}")
        lines.append("")
    return "\n".join(lines)


def to_text(result, counts: Mapping[int, RegionCount] | None = None) -> str:
    """The checklist as terminal text (control characters from policies shown escaped)."""
    counts = counts or {}
    changed = _changed_rules(result)
    groups = provisions(result)
    lines = [f"Review by provision: {_label(result.old, 'old')}  →  {_label(result.new, 'new')}",
             f"{len(groups)} provision(s), {len(result.regions)} region(s), {len(result.structural)} structural change(s)"]
    if not result.complete:
        lines.append("INCOMPLETE: the diff ran out of budget; the regions listed are only part of the changes.")
    for provision in groups:
        lines += ["", f"[ ] {provision.cite}" + (f"  (rules {', '.join(provision.rules)})" if provision.rules else "")]
        lines += [f"      {change.kind}: {change.subject}" for change in provision.changes]
        for number in provision.regions:
            region = result.regions[number - 1]
            others = [c for c in _cites_of_region(result, region, changed) if c != provision.cite]
            extra = [t for t in (_count_text(counts.get(number)), ("also under " + "; ".join(others)) if others else "") if t]
            lines.append(f"      region {number}: {region.old} → {region.new}" + (f"  ({'; '.join(extra)})" if extra else ""))
            lines.append(f"          where: {region.condition}")
            lines.append(f"          witness: {dumps(region.witness)}")
    return for_terminal("\n".join(lines)) + "\n"


# ---- HTML ----------------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem} .summary{color:#555}
section.provision{border:1px solid #ccd;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
section.provision>label{font-weight:600;font-size:1.05rem;cursor:pointer}
section.provision input:checked+span{text-decoration:line-through;color:#777}
ul{margin:.3rem 0} code{background:#f3f3f6;padding:0 .2em;border-radius:3px;word-break:break-word}
.region{margin:.4rem 0} .count{color:#05620b;font-weight:600} .incomplete{color:#a00;font-weight:600}
"""


def to_html(result, counts: Mapping[int, RegionCount] | None = None) -> str:
    """The checklist as one self-contained HTML page (no scripts, no external resources): a checkbox
    per provision, with its structural changes and regions (condition, witness, affected rows)."""
    counts = counts or {}
    changed = _changed_rules(result)
    esc = html.escape
    title = f"Review by provision: {_label(result.old, 'old')} → {_label(result.new, 'new')}"
    groups = provisions(result)
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="summary">{len(groups)} provision(s), {len(result.regions)} region(s), '
            f"{len(result.structural)} structural change(s). Tick each provision once reviewed.</p>"]
    if not result.complete:
        body.append('<p class="incomplete">INCOMPLETE: the diff ran out of budget; the regions listed '
                    "are only part of the changes.</p>")
    for index, provision in enumerate(groups, 1):
        rules = ", ".join(provision.rules)
        body.append(f'<section class="provision" data-cite="{esc(provision.cite)}">'
                    f'<label><input type="checkbox" id="provision-{index}"> <span>{esc(provision.cite)}</span>'
                    + (f" <small>(rules {esc(rules)})</small>" if rules else "") + "</label><ul>")
        for change in provision.changes:
            details = "".join(f"<li>{esc(d)}</li>" for d in change.details)
            body.append(f"<li>{esc(change.kind)}: <code>{esc(change.subject)}</code>"
                        + (f"<ul>{details}</ul>" if details else "") + "</li>")
        for number in provision.regions:
            region = result.regions[number - 1]
            others = [c for c in _cites_of_region(result, region, changed) if c != provision.cite]
            count = _count_text(counts.get(number))
            body.append(
                f'<li class="region" data-region="{number}">region {number}: {esc(region.old)} → {esc(region.new)}'
                + (f' <span class="count">{esc(count)}</span>' if count else "")
                + (f" <small>also under {esc('; '.join(others))}</small>" if others else "")
                + f"<ul><li>where: <code>{esc(region.condition)}</code></li>"
                f"<li>witness: <code>{esc(dumps(region.witness))}</code></li></ul></li>")
        body.append("</ul></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def to_json(result, counts: Mapping[int, RegionCount] | None = None) -> dict:
    """The grouping as JSON-ready data: provisions with their rules, changes and region numbers."""
    counts = counts or {}
    return {"provisions": [{"cite": p.cite, "rules": list(p.rules), "changes": [c.to_json() for c in p.changes],
                            "regions": list(p.regions)} for p in provisions(result)],
            "counts": {str(n): attrs.asdict(c) for n, c in sorted(counts.items())}}


__all__ = ["NOT_A_RULE", "NO_CITATION", "Provision", "RegionCount", "provisions", "to_html", "to_json",
           "to_markdown", "to_text"]
