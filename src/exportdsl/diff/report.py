"""Renderings of a semantic diff for reviewers: text (optionally coloured), Markdown, JSON and one HTML page."""

from __future__ import annotations

import html
import json
import uuid
from decimal import Decimal

_TITLE = "exportdsl diff"


def dumps(data, **kwargs) -> str:
    """``json.dumps`` that writes ``Decimal`` numbers with their exact digits (never through a float)."""
    exact: dict[str, str] = {}
    nonce = uuid.uuid4().hex   # policy strings are untrusted: no value can guess the placeholders

    def mark(value):
        if isinstance(value, Decimal):
            key = f"__decimal_{nonce}_{len(exact)}__"
            exact[key] = format(value, "f")
            return key
        raise TypeError(f"cannot encode {type(value).__name__}")
    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(data, default=mark, **kwargs)
    for key, digits in exact.items():
        text = text.replace(f'"{key}"', digits)
    return text


def _label(policy) -> str:
    return " ".join(p for p in (policy.name, policy.version) if p) or "policy"


def _header_lines(result) -> list[str]:
    lines = [f"{_TITLE}: {_label(result.old)}  →  {_label(result.new)}"]
    if result.where:
        lines.append(f"only where: {result.where}")
    if not result.complete:
        lines.append("INCOMPLETE: the search budget ran out; the regions below are only part of the changes.")
    return lines


def _size_line(result) -> str:
    return (f"{len(result.regions)} region(s) of changed decisions "
            f"(lower bound {result.lower_bound}: distinct old/new decision-and-rule combinations)")


def _rules(rules) -> str:
    return ", ".join(rules) if rules else "no rule (default)"


def _condition_lines(region, pad: str) -> list[str]:
    if not region.alternatives:
        return [f"{pad}where: {region.condition}"]
    lines = [f"{pad}where: {region.common} and one of:" if region.common else f"{pad}where one of:"]
    lines += [f"{pad}  {'or ' if i else '   '}{alt}" for i, alt in enumerate(region.alternatives)]
    return lines


def to_json(result) -> dict:
    """The whole diff as JSON-ready data (stable key and region order)."""
    return {
        "old": {"name": result.old.name, "version": result.old.version},
        "new": {"name": result.new.name, "version": result.new.version},
        "complete": result.complete,
        "where": result.where,
        "summary": {"regions": len(result.regions), "lower_bound": result.lower_bound,
                    "transitions": result.summary(), "rules": result.rule_summary()},
        "structural": [change.to_json() for change in result.structural],
        "regions": [region.to_json() for region in result.regions],
    }


def to_text(result, color: bool = False) -> str:
    """A plain-text report: summary, structural changes, then each region with its witness."""
    def paint(text: str, style: str) -> str:
        codes = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "dim": "2", "cyan": "36"}
        return f"\033[{codes[style]}m{text}\033[0m" if color else text

    out = [paint(line, "bold") if i == 0 else paint(line, "red") if line.startswith("INCOMPLETE") else line
           for i, line in enumerate(_header_lines(result))]
    out += ["", paint("Summary", "bold"), f"  {_size_line(result)}"]
    for transition, count in result.summary().items():
        out.append(f"  {transition}: {count}")
    if result.rule_summary():
        out.append("  by rule: " + ", ".join(f"{rule} {count}" for rule, count in result.rule_summary().items()))
    out += ["", paint("Structural changes", "bold")]
    if not result.structural:
        out.append("  none")
    for change in result.structural:
        out.append(f"  {paint(change.kind, 'cyan')}: {change.subject}")
        out.extend(f"      {detail}" for detail in change.details)
    out += ["", paint("Regions", "bold")]
    if not result.regions:
        out.append("  no transaction changes decision" + (" (within the searched part)" if not result.complete else ""))
    for number, region in enumerate(result.regions, 1):
        out.append(f"  [{number}] {paint(region.old, 'yellow')} → {paint(region.new, 'green')}"
                   f"   old: {_rules(region.old_rules)}; new: {_rules(region.new_rules)}")
        out.extend(_condition_lines(region, "      "))
        out.append("      witness: " + paint(dumps(region.witness), "dim"))
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(result) -> str:
    """A Markdown report, suited to a pull-request comment."""
    header = _header_lines(result)
    out = [f"## {header[0]}", ""]
    out += [f"> **{line}**" if line.startswith("INCOMPLETE") else f"_{line}_" for line in header[1:]]
    out += ["", "### Summary", "", _size_line(result), "", "| transition | regions |", "|---|---|"]
    out += [f"| {t} | {c} |" for t, c in result.summary().items()]
    if result.rule_summary():
        out += ["", "| rule | regions |", "|---|---|"]
        out += [f"| {r} | {c} |" for r, c in result.rule_summary().items()]
    out += ["", "### Structural changes", ""]
    if not result.structural:
        out.append("None.")
    for change in result.structural:
        out.append(f"- **{change.kind}**: `{change.subject}`")
        out.extend(f"  - {_md_escape(detail)}" for detail in change.details)
    out += ["", "### Regions", ""]
    if not result.regions:
        out.append("No transaction changes decision.")
    for number, region in enumerate(result.regions, 1):
        out += [f"{number}. **{region.old} → {region.new}** (old: {_rules(region.old_rules)}; "
                f"new: {_rules(region.new_rules)})", "",
                "   ```", f"   {region.condition}", "   ```", "",
                "   <details><summary>witness</summary>", "",
                f"   `{dumps(region.witness)}`", "", "   </details>", ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
.old{color:#9a6700;font-weight:600}.new{color:#1a7f37;font-weight:600}
.incomplete{background:#ffebe9;border:1px solid #cf222e;padding:.6rem;font-weight:600}
.region{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.kind{color:#0969da;font-weight:600}
"""


def to_html(result) -> str:
    """One self-contained HTML page (no external assets): summary, structural changes, regions."""
    e = html.escape
    header = _header_lines(result)
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{e(header[0])}</title><style>{_CSS}</style></head><body>", f"<h1>{e(header[0])}</h1>"]
    for line in header[1:]:
        css = "incomplete" if line.startswith("INCOMPLETE") else ""
        parts.append(f"<p class=\"{css}\">{e(line)}</p>")
    parts += ["<h2>Summary</h2>", f"<p>{e(_size_line(result))}</p>",
              "<table><tr><th>transition</th><th>regions</th></tr>"]
    parts += [f"<tr><td>{e(t)}</td><td>{c}</td></tr>" for t, c in result.summary().items()]
    parts.append("</table>")
    if result.rule_summary():
        parts.append("<table><tr><th>rule</th><th>regions</th></tr>")
        parts += [f"<tr><td><code>{e(r)}</code></td><td>{c}</td></tr>" for r, c in result.rule_summary().items()]
        parts.append("</table>")
    parts.append("<h2>Structural changes</h2>")
    if not result.structural:
        parts.append("<p>None.</p>")
    else:
        parts.append("<ul>")
        for change in result.structural:
            details = "".join(f"<li><code>{e(d)}</code></li>" for d in change.details)
            parts.append(f"<li><span class=\"kind\">{e(change.kind)}</span>: <code>{e(change.subject)}</code>"
                         + (f"<ul>{details}</ul>" if details else "") + "</li>")
        parts.append("</ul>")
    parts.append("<h2>Regions</h2>")
    if not result.regions:
        parts.append("<p>No transaction changes decision.</p>")
    for number, region in enumerate(result.regions, 1):
        parts.append(
            f"<div class=\"region\" id=\"region-{number}\"><p><b>{number}.</b> "
            f"<span class=\"old\">{e(region.old)}</span> → <span class=\"new\">{e(region.new)}</span> "
            f"&nbsp; old: <code>{e(_rules(region.old_rules))}</code>; new: <code>{e(_rules(region.new_rules))}</code></p>"
            f"<pre>{e(region.condition)}</pre><details><summary>witness</summary>"
            f"<pre>{e(dumps(region.witness, indent=2))}</pre></details></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
