"""The diff reports and the lint output for reviewers: untrusted policy text escaped in every medium,
readable summaries, and the diff command's flags.

Issue 9: the Markdown report emitted titles, citations, names, versions and string values raw
(headings, images, ``<img onerror>``, a backtick closing the witness code span); the text report
and the lint output let ESC sequences and bidi controls from a policy reach the terminal.
Issue 10: long conditions as lists of conjuncts, a summary that says what a region is, groups
regions by transition and indexes them by changed rule, and renders the engine's extra region
fields (co-deciding rules, outline regions) when present.
"""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import exportdsl
from exportdsl import ir
from exportdsl.cli import main
from exportdsl.diff import report
from exportdsl.diff.search import diff as diff_ir
from exportdsl.errors import Diagnostic, Severity
from exportdsl.escape import BIDI_CONTROLS
from exportdsl.lint.report import to_json as lint_json
from exportdsl.lint.report import to_text as lint_text
from exportdsl.operators import CompareOp

BASE = """policy "p" version "1"
decisions ok < review < deny
default ok
fact end_user: string
fact x: number
rule R1 { title "t" cite "c" end_user = "acme" -> deny }
rule R2 { x > 10 -> review }
"""

#: Characters with a meaning in Markdown or HTML, controls, bidi controls, and some letters.
HOSTILE = st.text(alphabet=st.sampled_from(list("<>[]()!#*_`\\|~&=:/.\"' \n\tAbc-+1") + ["\x1b", "\x9b", "\x07",
                                                                                         *sorted(BIDI_CONTROLS)]),
                  min_size=1, max_size=25)


def _hostile_pair(name: str, version: str, title: str, cite: str, value: str, rule_id_value: str):
    base = exportdsl.compile(BASE).ir
    r1, r2 = base.rules
    when = ir.Compare("end_user", CompareOp.EQ, value)
    changed = r1.evolve(title=title, cite=cite, when=when, condition=when)
    other = ir.Compare("end_user", CompareOp.EQ, rule_id_value)
    added = ir.Rule("R3", "review", other, other, title=title, cite=cite)
    new = base.evolve(name=name, version=version, rules=(changed, r2, added))
    return diff_ir(base, new)


def _walk(tokens):
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


_SECTIONS = {"Summary", "Changed rules", "Structural changes", "Regions"}


@settings(max_examples=120)
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_markdown_carries_no_markup_from_the_policy(name, version, title, cite, value, other):
    result = _hostile_pair(name, version, title, cite, value, other)
    text = report.to_markdown(result)
    tokens = list(_walk(MarkdownIt("commonmark").enable("table").parse(text)))
    kinds = {t.type for t in tokens}
    assert not kinds & {"link_open", "image"}, text
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert all(h.strip() in ("<details><summary>witness</summary>", "</details>") for h in html), html
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[0].startswith("exportdsl diff: ")
    assert set(headings[1:]) <= _SECTIONS and len(headings[1:]) == len(set(headings[1:])), headings
    # nothing invisible or terminal-active survives either
    assert not set(text) & (BIDI_CONTROLS | {"\x1b", "\x9b", "\x07"})


@settings(max_examples=60)
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_text_html_and_json_escape_policy_text(name, title, cite, value):
    result = _hostile_pair(name, "2", title, cite, value, "zz")
    for rendered in (report.to_text(result), report.to_html(result),
                     report.dumps(report.to_json(result), indent=2)):
        assert not set(rendered) & (BIDI_CONTROLS | {"\x1b", "\x9b", "\x07"}), rendered
    page = report.to_html(result)
    assert "<img" not in page.lower().replace("&lt;img", "")
    data = json.loads(report.dumps(report.to_json(result)))
    assert data["new"]["name"] == name   # JSON escapes keep the value itself
    coloured = report.to_text(result, color=True)
    assert not set(coloured) & BIDI_CONTROLS
    assert coloured.count("\x1b") == coloured.count("\x1b[")   # only our own colour codes


def test_the_terminal_sees_escape_sequences_as_text():
    result = _hostile_pair("evil\x1b]0;pwned\x07", "2\u202e1", "\x1b[2J", "cite", "acme\x1b[31m", "zz")
    text = report.to_text(result)
    assert "\x1b" not in text and "\u202e" not in text
    assert "evil\\x1b]0;pwned\\x07" in text and "2\\u202e1" in text
    diagnostic = Diagnostic("W141", "\"a\x1b[31mb\" for fact 'c' differs by one letter from \"a\u202eb\"", None,
                            severity=Severity.WARNING)
    assert "\x1b" not in lint_text([diagnostic]) and "\u202e" not in lint_text([diagnostic])
    assert "\\x1b[31m" in lint_text([diagnostic])
    assert "\u202e" not in lint_json([diagnostic])
    assert json.loads(lint_json([diagnostic]))[0]["message"] == diagnostic.message


def test_markdown_witness_with_backticks_stays_one_code_span():
    result = _hostile_pair("p", "2", "t", "c", "a``b`", "zz")
    text = report.to_markdown(result)
    spans = [t for t in _walk(MarkdownIt("commonmark").parse(text)) if t.type == "code_inline"]
    assert any("a``b`" in s.content for s in spans)


# ---- readability (issue 10) -----------------------------------------------------------------------

def _policies(tmp_path, old_text: str, new_text: str):
    old, new = tmp_path / "old.xpol", tmp_path / "new.xpol"
    old.write_text(old_text, encoding="utf-8")
    new.write_text(new_text, encoding="utf-8")
    return str(old), str(new)


def test_summary_explains_regions_and_indexes_them(tmp_path, capsys):
    new_text = BASE.replace('version "1"', 'version "2"').replace("x > 10", "x > 20") \
        + 'rule R3 { title "Big ones" cite "Art. 3" x > 1000 -> deny }\n'
    old, new = _policies(tmp_path, BASE, new_text)
    assert main(["diff", old, new]) == 1
    out = capsys.readouterr().out
    assert report.REGION_MEANING in out
    assert "regions by changed rule:" in out
    assert "    R2: [" in out and "    R3: [" in out
    assert "R3: Big ones (Art. 3)" in out      # the changed rules with titles and citations
    for fmt in ("markdown", "html", "json"):
        assert main(["diff", old, new, "--format", fmt]) == 1
        rendered = capsys.readouterr().out
        assert "Big ones" in rendered and "Art. 3" in rendered
    data = json.loads(_run(capsys, ["diff", old, new, "--format", "json"]))
    numbers = data["summary"]["regions_by_changed_rule"]["R3"]
    assert all("R3" in data["regions"][n - 1]["new_rules"] for n in numbers)
    assert sum(len(v) for v in data["summary"]["regions_by_transition"].values()) == len(data["regions"])


def _run(capsys, argv) -> str:
    main(argv)
    return capsys.readouterr().out


def test_unnamed_policies_are_shown_by_file_name(tmp_path, capsys):
    unnamed = BASE.replace('policy "p" version "1"\n', "")
    old, new = _policies(tmp_path, unnamed, unnamed.replace("x > 10", "x > 11"))
    for fmt in ("text", "markdown", "html"):
        out = _run(capsys, ["diff", old, new, "--format", fmt]).replace("\\.", ".")   # Markdown escapes '.'
        assert "old.xpol" in out and "new.xpol" in out, out[:300]
        assert "None" not in out.split("\n")[0]


def test_name_and_version_removed_say_so(tmp_path, capsys):
    """Regression: "policy renamed: p → None" when the new version has no name."""
    old, new = _policies(tmp_path, BASE, BASE.replace('policy "p" version "1"\n', ""))
    out = _run(capsys, ["diff", old, new])
    assert "→ None" not in out and "None" not in out
    assert "name removed: p (the new version has no name)" in out
    assert "version removed: 1 (the new version has no version)" in out
    out = _run(capsys, ["diff", new, old])
    assert "name added: p (the old version had no name)" in out


def test_long_conditions_are_lists_of_conjuncts():
    ors = " or ".join(f'end_user = "user-{i}"' for i in range(40))
    old = exportdsl.compile(BASE)
    new = exportdsl.compile(BASE.replace('version "1"', 'version "2"')
                            + f"rule R4 {{ ({ors}) and x > 3 and x < 7 -> deny }}\n")
    result = exportdsl.diff(old, new)
    assert any(len(r.condition) > 400 for r in result.regions)
    for rendered in (report.to_markdown(result), report.to_text(result)):
        long_lines = [line for line in rendered.splitlines() if len(line) > 160 and "witness" not in line
                      and not line.strip().startswith("- `end_user") and "{" not in line]
        assert not long_lines, long_lines[0][:200]
    md = report.to_markdown(result)
    assert '`x > 3`' in md and "one of:" in md
    assert '- `end_user = "user-7"`' in md


# ---- the engine's extra region fields (helper diffsat), when present --------------------------------

def _with_fields(result, **fields):
    regions = []
    for region in result.regions:   # the engine's Region has these fields: set them as the test needs
        regions.append(region.evolve(**fields))
    return _Result(result, tuple(regions))


class _Result:
    """A diff result with regions carrying the new engine's fields, and ``changed_rules``."""

    def __init__(self, result, regions):
        self._result, self.regions, self.changed_rules = result, regions, ("R1",)

    def __getattr__(self, name):
        return getattr(self._result, name)

    def summary(self):
        return self._result.summary()

    def rule_summary(self):
        return self._result.rule_summary()


def test_co_deciding_rules_and_outline_regions_are_rendered():
    old = exportdsl.compile(BASE)
    new = exportdsl.compile(BASE.replace('version "1"', 'version "2"').replace('"acme"', '"acme2"'))
    result = _with_fields(exportdsl.diff(old, new), old_always=("R2",), new_always=(),
                          old_sometimes=("S1", "S2", "S3"), new_sometimes=(), exact=False)
    text = report.to_text(result)
    assert "old: also deciding throughout: R2" in text
    assert "old: 3 unchanged rule(s) also deciding in part" in text and "S1" not in text
    assert report.OUTLINE_MEANING in text
    detailed = report.to_text(result, detail=2)
    assert "in part: S1, S2 and 1 more" in detailed
    for rendered in (report.to_markdown(result, detail=5), report.to_html(result, detail=5)):
        assert "R2" in rendered and "S3" in rendered and "outline" in rendered
    data = report.to_json(result)
    assert data["regions"][0]["old_always"] == ["R2"] and data["regions"][0]["exact"] is False
    assert [r["id"] for r in data["changed_rules"]] == ["R1"]


def test_an_outline_not_computed_says_so_and_shows_no_empty_condition():
    """Regression: a report of more than 200 regions (outlines on request) printed "condition:
    outline ..." and then an empty "where:" line."""
    old = exportdsl.compile(BASE)
    new = exportdsl.compile(BASE.replace('version "1"', 'version "2"').replace('"acme"', '"acme2"'))
    result = _with_fields(exportdsl.diff(old, new), condition="", exact=False)
    text = report.to_text(result)
    assert report.NOT_OUTLINED in text and report.OUTLINE_MEANING not in text
    assert "where:" not in text.split("\nRegions\n", 1)[1]
    assert "where" not in report.to_markdown(result).split("### Regions", 1)[1]
    assert "<pre></pre>" not in report.to_html(result)


DECIDERS = """decisions a < b < c
default a
fact x: integer
rule U { x > 0 -> b }
"""


@pytest.mark.parametrize("engine", ["partition", "sat"])
def test_a_side_without_changed_deciders_says_what_decides(engine):
    """Regression: "old: no rule (default)" was printed whenever no *changed* rule decided, also
    where an unchanged rule gave a decision other than the default (U below, deciding b)."""
    old = exportdsl.compile(DECIDERS)
    new = exportdsl.compile(DECIDERS + "rule N { x > 5 -> c }\nrule M { x < -5 -> b }\n")
    result = diff_ir(old.ir, new.ir, engine=engine)
    lines = {line.split("]", 1)[1].split("   ")[0].strip(): line for line in report.to_text(result).splitlines()
             if line.startswith("  [")}
    assert "old: no changed rule (unchanged rules decide); new: N" in lines["b → c"]
    # on the default side: no rule at all decides there (known exactly when the co-deciding unchanged
    # rules were all computed: the partition engine, or the SAT engine with outline=True)
    default_side = "old: no rule (default); new: M" if engine == "partition" else \
        "old: no changed rule (the default or unchanged rules); new: M"
    assert default_side in lines["a → b"]
    if engine == "sat":
        outlined = report.to_text(diff_ir(old.ir, new.ir, engine=engine, outline=True))
        assert "old: no rule (default); new: M" in outlined


# ---- the diff command's flags --------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999", "-inf", "soon"])
def test_timeout_must_be_a_finite_number(tmp_path, capsys, value):
    old, new = _policies(tmp_path, BASE, BASE)
    assert main(["diff", old, new, f"--timeout={value}"]) == 2
    err = capsys.readouterr().err
    assert "E402" in err and "seconds" in err
    assert main(["lint", old, f"--budget={value}"]) == 2
    assert "E402" in capsys.readouterr().err


@pytest.mark.parametrize("accepts", [True, False])
def test_outline_and_detail_reach_an_engine_that_takes_them(tmp_path, capsys, monkeypatch, accepts):
    diff_package = sys.modules["exportdsl.diff"]

    seen = {}
    real = diff_package.diff
    if accepts:
        def engine(old, new, *, where=None, as_of=None, budget=None, outline=False, detail=0):
            seen.update(outline=outline, detail=detail)
            return real(old, new, where=where, as_of=as_of, budget=budget)
    else:
        def engine(old, new, *, where=None, as_of=None, budget=None):
            seen.update(called=True)
            return real(old, new, where=where, as_of=as_of, budget=budget)
    monkeypatch.setattr(diff_package, "diff", engine)
    old, new = _policies(tmp_path, BASE, BASE.replace("x > 10", "x > 11"))
    assert main(["diff", old, new, "--outline", "--detail", "3"]) == 1
    assert seen == ({"outline": True, "detail": 3} if accepts else {"called": True})
    assert main(["diff", old, new, "--detail", "-2"]) == 2
    assert "E402" in capsys.readouterr().err
