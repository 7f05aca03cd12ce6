"""Golden diagnostics: the rendered error (``str(exc)``) of each broken policy in tests/golden/diagnostics.

``pytest --update-goldens`` rewrites the .txt files from the current output; review the diff by hand
before committing it. The source name is the repository-relative path, so goldens do not depend on
the machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import exportdsl

GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "diagnostics"
POLICIES = sorted(GOLDEN_DIR.glob("*.xpol"))


def _render(path: Path) -> exportdsl.Error:
    name = f"tests/golden/diagnostics/{path.name}"
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.compile(path.read_text(encoding="utf-8"), name)
    assert type(info.value) in (exportdsl.ParseError, exportdsl.CheckError)
    return info.value


def test_there_are_goldens():
    assert len(POLICIES) >= 12
    with_help = [p for p in POLICIES if "\n  help: " in p.with_suffix(".txt").read_text(encoding="utf-8")]
    assert len(with_help) >= 12, "most goldens should show a help line"
    orphans = {p.stem for p in GOLDEN_DIR.glob("*.txt")} - {p.stem for p in POLICIES}
    assert not orphans, f"golden .txt files without a policy: {sorted(orphans)}"


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_golden(path: Path, update_goldens: bool):
    exc = _render(path)
    actual = str(exc) + "\n"
    golden = path.with_suffix(".txt")
    if update_goldens:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden for {path.name}: run pytest --update-goldens and review it"
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_golden_shape(path: Path):
    """Independently of the golden text: every diagnostic shows where, what, the line and a caret."""
    exc = _render(path)
    source_lines = path.read_text(encoding="utf-8").split("\n")
    rendered = str(exc)
    assert rendered == "\n\n".join(d.render() for d in exc.diagnostics)
    for diag in exc.diagnostics:
        block = diag.render().split("\n")
        line, col = diag.span.line, diag.span.column
        assert block[0] == (f"tests/golden/diagnostics/{path.name}:{line}:{col}: "
                            f"error[{diag.code}]: {diag.message}")
        # The quoted source line (long lines: a window of it, elided with "..."), then carets under
        # exactly the characters of the span.
        gutter, text = block[1].split(" | ", 1)
        source_line = source_lines[line - 1]
        assert int(gutter) == line
        shown = text.removeprefix("...").removesuffix("...")
        assert shown in source_line and (text == source_line or len(source_line) > len(shown))
        caret_gutter, carets = block[2].split("| ", 1)
        assert len(caret_gutter) == len(gutter) + 1 and not caret_gutter.strip()
        assert re.fullmatch(r"[ \t]*\^+", carets)
        pad = len(carets) - len(carets.lstrip(" \t"))
        width = len(carets) - pad
        assert [ch == "\t" for ch in carets[:pad]] == [ch == "\t" for ch in text[:pad]]
        start = diag.span.start - diag.span.source.text.rfind("\n", 0, diag.span.start) - 1
        assert start == col - 1
        assert text[pad:pad + width] == source_line[start:start + width]
        assert 1 <= width <= max(1, diag.span.end - diag.span.start)
        if diag.help:
            assert block[3] == f"  help: {diag.help}"


def test_long_line_window_marks_only_the_sides_that_were_cut():
    line = "rule R { " + "x = 1 and " * 40 + "y = 1 -> b }"     # the error (unknown fact y) near the end
    with pytest.raises(exportdsl.CheckError) as info:
        exportdsl.compile("decisions a < b\nfact x: integer\n" + line + "\n")
    shown = info.value.diagnostics[0].render().split("\n")[1].split(" | ", 1)[1]
    assert shown.startswith("...")             # the start of the line was cut ...
    assert line.endswith(shown[3:])            # ... but not its end
