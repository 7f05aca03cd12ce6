"""Renderings of a semantic diff for reviewers: text (optionally coloured), Markdown, JSON and one HTML page.

Every string that comes from a policy (names, versions, rule ids, titles, citations, decisions,
conditions, string values) is untrusted: the text report shows control bytes, escape sequences and
bidi controls escaped (:func:`escape.for_terminal`), Markdown escapes it as inline text or a code
span, HTML escapes it (and shows bidi controls), JSON writes them as ``\\uNNNN`` escapes.

A *region* is the set of transactions whose decision changes the same way (same old and new
decision) because of the same changed rules. Regions may carry, from the diff engine, the
unchanged rules co-deciding throughout (``old_always``/``new_always``) or in part
(``old_sometimes``/``new_sometimes``, shown as a count, listed up to ``detail``) and ``exact``
(False: the condition is an outline). Each is rendered when present.
"""

from __future__ import annotations

import html
import json
import uuid
from decimal import Decimal
from pathlib import Path

from ..escape import for_terminal, json_for_terminal, markdown_code, markdown_text

_TITLE = "exportdsl diff"

#: What a region is, in the words of the summary.
REGION_MEANING = ("a region is the set of transactions whose decision changes the same way "
                  "because of the same changed rules")
#: What an outline region's condition means.
OUTLINE_MEANING = "outline (tightest per-fact bounds); membership is exact through the changed rules"
#: What a large report says instead of an outline it did not compute.
NOT_OUTLINED = ("not computed for a report of this many regions (run with --outline, or --detail N for one "
                "region); membership is exact through the changed rules")
#: Conditions longer than this are shown as a list of their conjuncts.
LONG_CONDITION = 160


def dumps(data, **kwargs) -> str:
    """``json.dumps`` that writes ``Decimal`` numbers with their exact digits (never through a float),
    and bidi and C1 controls as ``\\uNNNN`` escapes."""
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
    return json_for_terminal(text)


# ---- what every format shows ------------------------------------------------------------------

def _source_file(policy) -> str | None:
    """The file name a policy was read from (from its declarations' spans), or None."""
    for item in [*policy.facts.values(), *policy.rules]:
        span = getattr(item, "span", None)
        if span is not None and not span.source.name.startswith("<"):
            return Path(span.source.name).name
    return None


def label(policy, path: str | None = None) -> str:
    """``name version``; a policy without a name is shown by its file name (``path``, else the file
    its declarations come from)."""
    name = policy.name or (Path(path).name if path else None) or _source_file(policy) or "unnamed policy"
    return " ".join(p for p in (name, policy.version) if p)


def _labels(result, labels) -> tuple[str, str]:
    return labels if labels is not None else (label(result.old), label(result.new))


def _size_line(result) -> str:
    return (f"{len(result.regions)} region(s) of changed decisions "
            f"(lower bound {result.lower_bound}: distinct old/new decision-and-rule combinations)")


def _transitions(result) -> dict[str, list[int]]:
    """``"old → new"`` -> the numbers of its regions, in a stable order."""
    found: dict[str, list[int]] = {}
    for number, region in enumerate(result.regions, 1):
        found.setdefault(f"{region.old} → {region.new}", []).append(number)
    return dict(sorted(found.items()))


def changed_rules(result) -> tuple[str, ...]:
    """The rules that changed between the versions (added, removed or changed; the engine's list when it has one)."""
    given = getattr(result, "changed_rules", None)
    if given is not None:
        return tuple(given)
    kinds = {"rule added", "rule removed", "rule changed"}
    changed = {c.subject for c in result.structural if c.kind in kinds}
    order = {rule.id: i for i, rule in enumerate([*result.new.rules, *result.old.rules]) if rule.id in changed}
    return tuple(sorted(changed, key=lambda rule_id: (order.get(rule_id, len(order)), rule_id)))


def _by_rule(result) -> dict[str, list[int]]:
    """Each changed rule -> the regions it decides in. A region where no changed rule decides (a set
    or a named condition changed under a rule) is indexed by the rules that start or stop deciding
    there."""
    changed = changed_rules(result)
    found: dict[str, list[int]] = {rule: [] for rule in changed}
    for number, region in enumerate(result.regions, 1):
        deciding = set(region.old_rules) | set(region.new_rules)
        causes = deciding & set(changed) or set(region.old_rules) ^ set(region.new_rules) or deciding
        for rule in causes:
            found.setdefault(rule, []).append(number)
    order = {rule: i for i, rule in enumerate([*changed, *(r.id for r in (*result.new.rules, *result.old.rules))])}
    return {rule: numbers for rule, numbers in sorted(found.items(), key=lambda item: order.get(item[0], 1 << 30))
            if numbers}


def _rule_notes(result) -> dict[str, str]:
    """Rule id -> "title (cite)" for the changed rules that have them (new version first)."""
    notes = {}
    by_id = [{r.id: r for r in policy.rules} for policy in (result.new, result.old)]
    for rule_id in changed_rules(result):
        for rules in by_id:
            rule = rules.get(rule_id)
            if rule is not None and (rule.title or rule.cite):
                notes[rule_id] = " ".join(filter(None, [rule.title, f"({rule.cite})" if rule.cite else None]))
                break
    return notes


def _numbers(numbers: list[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def _rules(region, side: str, default: str | None) -> str:
    """The changed rules deciding on one side; without any, what does decide there: the default (no
    rule at all, known when the co-deciding unchanged rules were computed and there are none), or
    unchanged rules."""
    rules = getattr(region, f"{side}_rules")
    if rules:
        return ", ".join(rules)
    decision = getattr(region, side)
    unchanged = tuple(getattr(region, f"{side}_always", ()) or ()) + tuple(getattr(region, f"{side}_sometimes", ()) or ())
    if decision != default or getattr(region, f"{side}_always", ()):
        return "no changed rule (unchanged rules decide)"
    if not unchanged and getattr(region, "sometimes_known", True):
        return "no rule (default)"
    return "no changed rule (the default or unchanged rules)"


def _deciders(result, region) -> tuple[str, str]:
    """The "old: ...; new: ..." texts of a region."""
    return _rules(region, "old", getattr(result.old, "default", None)), _rules(region, "new", getattr(result.new, "default", None))


def _co_deciding(region, detail: int) -> list[str]:
    """Lines about the unchanged rules deciding with the changed ones (when the engine gives them)."""
    lines = []
    for side in ("old", "new"):
        always = tuple(getattr(region, f"{side}_always", ()) or ())
        sometimes = tuple(getattr(region, f"{side}_sometimes", ()) or ())
        if always:
            lines.append(f"{side}: also deciding throughout: {', '.join(always)}")
        if sometimes:
            shown = f": {', '.join(sometimes[:detail])}" if detail else ""
            more = f" and {len(sometimes) - detail} more" if detail and len(sometimes) > detail else ""
            lines.append(f"{side}: {len(sometimes)} unchanged rule(s) also deciding in part{shown}{more}")
    if getattr(region, "exact", True) is False:
        lines.append(f"condition: {OUTLINE_MEANING if region.condition else NOT_OUTLINED}")
    return lines


def _outside_strings(text: str):
    """``(index, depth, char)`` of every character outside string literals, ``depth`` counting the
    parentheses and braces open before it."""
    depth, quoted, escaped = 0, False, False
    for index, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
            continue
        yield index, depth, char
        depth += (char in "({") - (char in ")}")


def _split_top(text: str, word: str) -> list[str]:
    """``text`` split at ``word`` (`` and ``/`` or ``) outside parentheses, braces and strings."""
    parts, start = [], 0
    for index, depth, _ in _outside_strings(text):
        if depth == 0 and index >= start and text.startswith(word, index):
            parts.append(text[start:index])
            start = index + len(word)
    parts.append(text[start:])
    return parts


def _unwrap(text: str) -> str | None:
    """The inside of a text wrapped in one pair of parentheses, or None."""
    if not (text.startswith("(") and text.endswith(")")):
        return None
    for index, depth, char in _outside_strings(text):
        if char == ")" and depth == 1 and index != len(text) - 1:
            return None   # "(a) and (b)": the first pair closes early
    return text[1:-1]


def _conjuncts(text: str, depth: int) -> list[tuple[int, str, bool]]:
    """Outline rows of a condition's conjuncts; a disjunction (``or`` binds looser than ``and``) as
    "one of:" and its options."""
    if not text or text == "true":
        return []
    options = _split_top(text, " or ")
    if len(options) > 1:
        rows = [(depth, "one of:", False)]
        for option in options:
            inner = _conjuncts(option, depth + 2)
            rows += [(depth + 1, option, True)] if len(inner) == 1 else [(depth + 1, "all of:", False), *inner]
        return rows
    rows = []
    for part in _split_top(text, " and "):
        inner = _unwrap(part)
        options = _split_top(inner, " or ") if inner is not None else [part]
        if len(options) > 1:
            rows.append((depth, "one of:", False))
            rows += [(depth + 1, _unwrap(option) or option, True) for option in options]
        else:
            rows.append((depth, part, True))
    return rows


def detail_outline(kind: str, detail: str) -> list[tuple[int, str, bool]]:
    """A structural change's detail line as outline rows: one code row when short or not a condition,
    else the conditions it holds (``condition: A  →  B``, ``- A``, ``+ B``) split into their conjuncts."""
    is_condition = kind.startswith("condition ") or detail.startswith("condition: ")
    if len(detail) <= LONG_CONDITION or not is_condition:
        return [(0, detail, True)]
    label, _, rest = detail.partition(": ") if detail.startswith("condition: ") else ("", "", detail)
    if detail[:2] in ("- ", "+ "):
        label, rest = detail[0], detail[2:]
    rows = []
    sides = rest.split("  →  ") if rest.count("  →  ") == 1 else [rest]
    for name, side in zip(("before", "after") if len(sides) == 2 else ("",), sides):
        heading = " ".join(p for p in (label, name) if p) or "condition"
        side_rows = _conjuncts(side, 1)
        if side_rows and side_rows[0][1] == "one of:" and all(d > 1 for d, _, _ in side_rows[1:]):
            rows += [(0, f"{heading}, one of:", False), *((d - 1, t, c) for d, t, c in side_rows[1:])]
        else:
            rows += [(0, f"{heading}, all of:", False), *side_rows]
    return rows


def condition_outline(region) -> list[tuple[int, str, bool]]:
    """A long condition as an outline: ``(depth, text, is_code)`` rows, depth 0 being the "where" line;
    its conjuncts one a row, a parenthesised disjunction as "one of:" with its options below."""
    conjuncts = _conjuncts
    if not region.alternatives:
        return [(0, "where all of:", False), *conjuncts(region.condition, 1)]
    rows = conjuncts(region.common, 1)
    depth = 1
    if rows:
        rows = [(0, "where all of:", False), *rows, (1, "one of:", False)]
        depth = 2
    else:
        rows = [(0, "where one of:", False)]
    for alternative in region.alternatives:
        parts = conjuncts(alternative, depth + 1)
        if len(parts) == 1 and parts[0][2]:
            rows.append((depth, parts[0][1], True))
        else:
            rows += [(depth, "all of:", False), *parts]
    return rows


def _is_long(region) -> bool:
    return len(region.condition) > LONG_CONDITION or bool(region.alternatives)


# ---- JSON -----------------------------------------------------------------------------------------

def _region_json(region, number: int) -> dict:
    data = {"number": number, **region.to_json()}
    for side in ("old", "new"):
        for kind in ("always", "sometimes"):
            key = f"{side}_{kind}"
            if hasattr(region, key) and key not in data:
                data[key] = list(getattr(region, key) or ())
    if hasattr(region, "exact") and "exact" not in data:
        data["exact"] = bool(region.exact)
    return data


def to_json(result, labels: tuple[str, str] | None = None) -> dict:
    """The whole diff as JSON-ready data (stable key and region order)."""
    old_label, new_label = _labels(result, labels)
    notes = _rule_notes(result)
    return {
        "old": {"name": result.old.name, "version": result.old.version, "label": old_label},
        "new": {"name": result.new.name, "version": result.new.version, "label": new_label},
        "complete": result.complete,
        "where": result.where,
        "summary": {"regions": len(result.regions), "lower_bound": result.lower_bound,
                    "region_meaning": REGION_MEANING,
                    "transitions": result.summary(), "rules": result.rule_summary(),
                    "regions_by_transition": _transitions(result), "regions_by_changed_rule": _by_rule(result)},
        "changed_rules": [{"id": rule, "note": notes.get(rule)} for rule in changed_rules(result)],
        "structural": [change.to_json() for change in result.structural],
        "regions": [_region_json(region, number) for number, region in enumerate(result.regions, 1)],
    }


# ---- text -----------------------------------------------------------------------------------------

def _header(result, labels) -> list[str]:
    old_label, new_label = _labels(result, labels)
    lines = [f"{_TITLE}: {old_label}  →  {new_label}"]
    if result.where:
        lines.append(f"only where: {result.where}")
    if not result.complete:
        lines.append("INCOMPLETE: the search budget ran out; the regions below are only part of the changes.")
    return lines


def _tree_lines(region, pad: str) -> list[str]:
    """The condition in text: one line when short, else an outline of its conjuncts (none when not computed)."""
    if not region.condition:
        return []
    if not _is_long(region):
        return [f"{pad}where: {region.condition}"]
    return [f"{pad}{text}" if depth == 0 else f"{pad}{'  ' * depth}- {text}"
            for depth, text, _ in condition_outline(region)]


def to_text(result, color: bool = False, labels: tuple[str, str] | None = None, detail: int = 0) -> str:
    """A plain-text report: summary, changed rules, structural changes, then each region with its witness."""
    def paint(text: str, style: str) -> str:
        codes = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "dim": "2", "cyan": "36"}
        return f"\033[{codes[style]}m{text}\033[0m" if color else text

    def t(text) -> str:   # untrusted text, safe for a terminal (escaped before any colour is added)
        return for_terminal(str(text), keep_newlines=False)

    header = [t(line) for line in _header(result, labels)]
    out = [paint(line, "bold") if i == 0 else paint(line, "red") if line.startswith("INCOMPLETE") else line
           for i, line in enumerate(header)]
    out += ["", paint("Summary", "bold"), f"  {_size_line(result)}", f"  ({REGION_MEANING})"]
    for transition, numbers in _transitions(result).items():
        out.append(f"  {t(transition)}: {len(numbers)}  {_numbers(numbers)}")
    by_rule = _by_rule(result)
    if by_rule:
        out.append("  regions by changed rule:")
        out += [f"    {t(rule)}: {_numbers(numbers)}" for rule, numbers in by_rule.items()]
    notes = _rule_notes(result)
    if notes:
        out += ["", paint("Changed rules", "bold")]
        out += [f"  {t(rule)}: {t(note)}" for rule, note in notes.items()]
    out += ["", paint("Structural changes", "bold")]
    if not result.structural:
        out.append("  none")
    for change in result.structural:
        out.append(f"  {paint(t(change.kind), 'cyan')}: {t(change.subject)}")
        for detail_line in change.details:
            out += [f"      {'  ' * depth}{'- ' if depth else ''}{t(text)}" for depth, text, _ in detail_outline(change.kind, detail_line)]
    out += ["", paint("Regions", "bold")]
    if not result.regions:
        out.append("  no transaction changes decision" + (" (within the searched part)" if not result.complete else ""))
    for number, region in enumerate(result.regions, 1):
        old_rules, new_rules = _deciders(result, region)
        out.append(f"  [{number}] {paint(t(region.old), 'yellow')} → {paint(t(region.new), 'green')}"
                   f"   old: {t(old_rules)}; new: {t(new_rules)}")
        out.extend(f"      {t(line)}" for line in _co_deciding(region, detail))
        out.extend(t(line) for line in _tree_lines(region, "      "))
        out.append("      witness: " + paint(t(dumps(region.witness)), "dim"))
    return "\n".join(out) + "\n"


# ---- Markdown -------------------------------------------------------------------------------------

def _md_tree(region, pad: str) -> list[str]:
    """The condition in Markdown: one code span when short, else nested lists of code spans."""
    if not region.condition:
        return []
    if not _is_long(region):
        return [f"{pad}where {markdown_code(region.condition)}"]
    lines = []
    for depth, text, is_code in condition_outline(region):
        shown = markdown_code(text) if is_code else markdown_text(text)
        lines += [f"{pad}{shown}", ""] if depth == 0 else [f"{pad}{'  ' * (depth - 1)}- {shown}"]
    return lines


def to_markdown(result, labels: tuple[str, str] | None = None, detail: int = 0) -> str:
    """A Markdown report, suited to a pull-request comment (policy text escaped: no raw HTML, links,
    images or headings can come from a policy)."""
    m = markdown_text
    header = _header(result, labels)
    out = [f"## {m(header[0])}", ""]
    out += [f"> **{m(line)}**" if line.startswith("INCOMPLETE") else f"_{m(line)}_" for line in header[1:]]
    out += ["", "### Summary", "", _size_line(result), "", f"_{m(REGION_MEANING.capitalize())}._", "",
            "| transition | regions |", "|---|---|"]
    out += [f"| {m(t)} | {len(n)}: {_numbers(n)} |" for t, n in _transitions(result).items()]
    by_rule = _by_rule(result)
    if by_rule:
        out += ["", "| changed rule | regions |", "|---|---|"]
        out += [f"| {m(r)} | {_numbers(n)} |" for r, n in by_rule.items()]
    notes = _rule_notes(result)
    if notes:
        out += ["", "### Changed rules", ""]
        out += [f"- {markdown_code(rule)}: {m(note)}" for rule, note in notes.items()]
    out += ["", "### Structural changes", ""]
    if not result.structural:
        out.append("None.")
    for change in result.structural:
        out.append(f"- **{m(change.kind)}**: {markdown_code(change.subject)}")
        for detail_line in change.details:
            out += [f"  {'  ' * depth}- {markdown_code(text) if code else markdown_text(text)}"
                    for depth, text, code in detail_outline(change.kind, detail_line)]
    out += ["", "### Regions", ""]
    if not result.regions:
        out.append("No transaction changes decision.")
    for number, region in enumerate(result.regions, 1):
        old_rules, new_rules = _deciders(result, region)
        out += [f"{number}. **{m(region.old)} → {m(region.new)}** (old: {m(old_rules)}; new: {m(new_rules)})", ""]
        out += [f"   {m(line)}" for line in _co_deciding(region, detail)]
        out += [*_md_tree(region, "   "), "", "   <details><summary>witness</summary>", "",
                f"   {markdown_code(dumps(region.witness))}", "", "   </details>", ""]
    return "\n".join(out).rstrip() + "\n"


# ---- HTML -----------------------------------------------------------------------------------------

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


def _e(text) -> str:
    """HTML-escaped, with control and bidi characters shown escaped (they would reorder the page)."""
    return html.escape(for_terminal(str(text)))


def _html_tree(region) -> str:
    if not region.condition:
        return ""
    if not _is_long(region):
        return f"<pre>{_e(region.condition)}</pre>"
    out, open_lists = [], 0
    for depth, text, is_code in condition_outline(region):
        shown = f"<code>{_e(text)}</code>" if is_code else _e(text)
        if depth == 0:
            out.append(f"<p>{shown}</p>")
            continue
        while open_lists < depth:
            out.append("<ul>")
            open_lists += 1
        while open_lists > depth:
            out.append("</ul>")
            open_lists -= 1
        out.append(f"<li>{shown}</li>")
    out.append("</ul>" * open_lists)
    return "".join(out)


def to_html(result, labels: tuple[str, str] | None = None, detail: int = 0) -> str:
    """One self-contained HTML page (no external assets): summary, changed rules, structural changes, regions."""
    e = _e
    header = _header(result, labels)
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{e(header[0])}</title><style>{_CSS}</style></head><body>", f"<h1>{e(header[0])}</h1>"]
    for line in header[1:]:
        css = "incomplete" if line.startswith("INCOMPLETE") else ""
        parts.append(f"<p class=\"{css}\">{e(line)}</p>")
    parts += ["<h2>Summary</h2>", f"<p>{e(_size_line(result))}</p>", f"<p><i>{e(REGION_MEANING.capitalize())}.</i></p>",
              "<table><tr><th>transition</th><th>regions</th></tr>"]
    parts += [f"<tr><td>{e(t)}</td><td>{len(n)}: {_html_numbers(n)}</td></tr>" for t, n in _transitions(result).items()]
    parts.append("</table>")
    by_rule = _by_rule(result)
    if by_rule:
        parts.append("<table><tr><th>changed rule</th><th>regions</th></tr>")
        parts += [f"<tr><td><code>{e(r)}</code></td><td>{_html_numbers(n)}</td></tr>" for r, n in by_rule.items()]
        parts.append("</table>")
    notes = _rule_notes(result)
    if notes:
        parts.append("<h2>Changed rules</h2><ul>")
        parts += [f"<li><code>{e(rule)}</code>: {e(note)}</li>" for rule, note in notes.items()]
        parts.append("</ul>")
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
        co = "".join(f"<p>{e(line)}</p>" for line in _co_deciding(region, detail))
        old_rules, new_rules = _deciders(result, region)
        parts.append(
            f"<div class=\"region\" id=\"region-{number}\"><p><b>{number}.</b> "
            f"<span class=\"old\">{e(region.old)}</span> → <span class=\"new\">{e(region.new)}</span> "
            f"&nbsp; old: <code>{e(old_rules)}</code>; new: <code>{e(new_rules)}</code></p>"
            f"{co}{_html_tree(region)}<details><summary>witness</summary>"
            f"<pre>{e(dumps(region.witness, indent=2))}</pre></details></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_numbers(numbers: list[int]) -> str:
    return ", ".join(f"<a href=\"#region-{n}\">[{n}]</a>" for n in numbers)
