"""Review by provision (``diff --group-by citation``): every region and structural change is filed
under the citation of the rules that cause it, nothing is lost, policy strings are escaped, and the
HTML page works in a real browser.

The browser test drives Debian's Chromium (``/usr/bin/chromium``, installed by ``make browser``)
with Playwright; it is skipped, saying why, where either is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl.diff import checklist

ROOT = Path(__file__).resolve().parent.parent
APRIL = ROOT / "policies" / "cn-rare-earths-2025-04.xpol"
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def april_october():
    return exportdsl.diff(APRIL, OCTOBER)


def test_every_region_and_change_is_filed_under_the_provisions_of_its_rules(april_october):
    result = april_october
    groups = checklist.provisions(result)
    filed_regions = {n for p in groups for n in p.regions}
    assert filed_regions == set(range(1, len(result.regions) + 1))
    filed_changes = [c for p in groups for c in p.changes]
    assert sorted(map(str, filed_changes)) == sorted(map(str, result.structural))
    cites = {rule.id: rule.cite for rule in result.new.rules} | {rule.id: rule.cite for rule in result.old.rules}
    for provision in groups:
        for rule in provision.rules:
            assert (cites[rule] or checklist.NO_CITATION) == provision.cite
        for number in provision.regions:
            region = result.regions[number - 1]
            deciders = set(region.old_rules) | set(region.new_rules)
            assert any((cites[r] or checklist.NO_CITATION) == provision.cite for r in deciders), (provision, region)
    assert "MOFCOM Announcement 2025 No. 61 §1(1)" in {p.cite for p in groups}       # O7, de minimis


def test_markdown_is_a_task_list_with_escaped_policy_strings():
    hostile = '# H\\n<img src=x onerror=alert(1)> [l](http://e) `x` **b**'
    old = exportdsl.compile("decisions a < b\nfact x: bool\nrule R { x -> b }")
    new = exportdsl.compile("decisions a < b\nfact x: bool\nrule R { cite %s\n x -> a }\nrule S { not x -> b }"
                            % json.dumps(hostile))
    result = exportdsl.diff(old, new)
    markdown = checklist.to_markdown(result)
    assert markdown.count("- [ ] ") == len(checklist.provisions(result))
    assert "<img" not in markdown and "](http" not in markdown and "\n# H" not in markdown
    page = checklist.to_html(result)
    assert "<img" not in page and "&lt;img" in page


@settings(max_examples=40)
@given(cite=st.text(min_size=1, max_size=40))
def test_any_citation_text_is_inert_in_every_format(cite):
    old = exportdsl.compile("decisions a < b\nfact x: bool\nrule R { x -> b }")
    source = "decisions a < b\nfact x: bool\nrule R { cite %s\n x -> a }" % json.dumps(cite)
    try:
        new = exportdsl.compile(source)
    except exportdsl.Error:
        return                       # a citation the language refuses (e.g. a bidi control) is not rendered
    result = exportdsl.diff(old, new)
    page = checklist.to_html(result)
    assert "<script" not in page.lower() and page.count("<section") == len(checklist.provisions(result))
    text = checklist.to_text(result)
    assert "\x1b" not in text


def test_cli_group_by_citation_formats(tmp_path):
    for fmt in ("text", "markdown", "html", "json"):
        out = tmp_path / f"review.{fmt}"
        run = subprocess.run([sys.executable, "-m", "exportdsl", "diff", str(APRIL), str(OCTOBER),
                              "--group-by", "citation", "--format", fmt, "-o", str(out)],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
    data = json.loads((tmp_path / "review.json").read_text())
    assert {n for p in data["by_citation"]["provisions"] for n in p["regions"]} == \
        set(range(1, len(data["regions"]) + 1))


def _browser_or_skip():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the test extra installs it)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make browser` (Debian's chromium package) to enable this test")
    return sync_api


def test_html_checklist_in_a_real_browser(tmp_path, april_october):
    sync_api = _browser_or_skip()
    page_file = tmp_path / "review.html"
    page_file.write_text(checklist.to_html(april_october), encoding="utf-8")
    groups = checklist.provisions(april_october)
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            sections = page.locator("section.provision")
            assert sections.count() == len(groups)
            shown = [sections.nth(i).get_attribute("data-cite") for i in range(sections.count())]
            assert shown == [p.cite for p in groups]
            numbers = {int(n) for n in page.eval_on_selector_all("li.region", "els => els.map(e => e.dataset.region)")}
            assert numbers == set(range(1, len(april_october.regions) + 1))
            box = page.locator("#provision-1")
            box.check()
            assert box.is_checked()
        finally:
            browser.close()
