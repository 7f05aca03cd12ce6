"""Sphinx extension for the exportdsl documentation: content generated from the code at build time.

- ``.. exportdsl-diagnostics::`` renders every code of :data:`exportdsl.errors.CODES`, grouped by
  prefix (E1xx, E2xx, ..., W...), each with its one-line description from the registry and the
  hand-written explanation in ``docs/diagnostics/<CODE>.rst`` (first line: a short title; then
  the body). ``docs/diagnostics/<GROUP>.rst`` (``E1xx.rst`` ...) is an optional introduction to
  a group. With the ``:summary:`` flag it renders only a table of all codes, linked to their
  entries. ``tests/test_docs.py`` checks that every code has an explanation and that no
  explanation names a code the registry lacks.
- The worked diff example is computed when the build starts: ``exportdsl.diff`` of the April
  and October 2025 policies, written as text to ``docs/_generated/`` (for ``literalinclude``)
  and as an HTML page into the built site (``_static/diff-2025-04-to-2025-10.html``), so the
  documentation can never show a stale report.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
EXPLANATIONS = DOCS / "diagnostics"
GENERATED = DOCS / "_generated"

#: Section titles of the groups of codes, by prefix.
GROUP_TITLES = {
    "E1": "Reading policy text",
    "E2": "Checking a policy",
    "E3": "Evaluating facts",
    "E4": "Command line and files",
    "E5": "Comparing policies",
    "W": "Lint warnings",
}

#: The worked diff example: (old, new) policy files relative to the repository root, and outputs.
DIFF_OLD = "policies/cn-rare-earths-2025-04.xpol"
DIFF_NEW = "policies/cn-rare-earths-2025-10.xpol"
DIFF_TEXT = GENERATED / "diff-2025-04-to-2025-10.txt"
DIFF_HTML_NAME = "diff-2025-04-to-2025-10.html"


def group_of(code: str) -> str:
    """``E1xx`` for ``E104``; ``W1xx`` for ``W101``; the file stem of the group's introduction."""
    return f"{code[:2]}xx"


def group_title(code: str) -> str:
    """The section title of a code's group."""
    return GROUP_TITLES.get(code[:2]) or GROUP_TITLES.get(code[0], f"{code[0]} codes")


def explanation(code: str) -> tuple[str, str] | None:
    """``(short title, rst body)`` from ``docs/diagnostics/CODE.rst``, or None."""
    path = EXPLANATIONS / f"{code}.rst"
    if not path.is_file():
        return None
    title, _, body = path.read_text(encoding="utf-8").partition("\n")
    return title.strip(), body.strip("\n")


def _label(code_or_group: str) -> str:
    return f"diagnostics-{code_or_group.lower()}"


class DiagnosticsDirective(SphinxDirective):
    """``.. exportdsl-diagnostics::`` (``:summary:`` for the table only)."""

    has_content = False
    option_spec = {"summary": directives.flag}

    def run(self) -> list[nodes.Node]:
        from exportdsl.errors import CODES

        codes = sorted(CODES, key=lambda c: (c[0] != "E", c))
        self.env.note_dependency(str(ROOT / "src" / "exportdsl" / "errors.py"))
        lines: list[str] = []
        items: list[tuple[str, int]] = []  # where each line comes from, for warnings

        def add(new_lines, source=str(ROOT / "src" / "exportdsl" / "errors.py")):
            for offset, line in enumerate(new_lines):
                lines.append(line)
                items.append((source, offset))
        if "summary" in self.options:
            add([".. list-table::", "   :header-rows: 1", "   :widths: 12 88", "",
                 "   * - code", "     - meaning"])
            for code in codes:
                add([f"   * - :ref:`{code} <{_label(code)}>`", f"     - {_inline(CODES[code])}"])
        else:
            group = None
            for code in codes:
                if group_of(code) != group:
                    group = group_of(code)
                    title = f"{group_title(code)}: {group}"
                    add([f".. _{_label(group)}:", "", title, "-" * len(title), ""])
                    intro = EXPLANATIONS / f"{group}.rst"
                    if intro.is_file():
                        self.env.note_dependency(str(intro))
                        add(intro.read_text(encoding="utf-8").splitlines() + [""], str(intro))
                found = explanation(code)
                short = found[0] if found else CODES[code].rstrip(".").lower()
                title = f"{code}: {short}"
                add([f".. _{_label(code)}:", "", title, "~" * len(title), "",
                     f"*{_inline(CODES[code])}*", ""])
                if found:
                    path = EXPLANATIONS / f"{code}.rst"
                    self.env.note_dependency(str(path))
                    # the body starts on the file's third line (title, blank line)
                    body = found[1].splitlines() + [""]
                    for offset, line in enumerate(body):
                        lines.append(line)
                        items.append((str(path), offset + 2))
        container = nodes.section() if "summary" not in self.options else nodes.container()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, items=items), container)
        return list(container.children)


def _inline(text: str) -> str:
    """A registry description as inline rst: backquoted words stay literal."""
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


# ---- the worked diff example ---------------------------------------------------------------------

def _diff_result():
    import exportdsl

    return exportdsl.diff(ROOT / DIFF_OLD, ROOT / DIFF_NEW)


def generate_diff_text(app: Sphinx) -> None:
    """Write the text report before the sources are read (``builder-inited``)."""
    result = _diff_result()
    app.env_diff_result = result  # type: ignore[attr-defined]
    GENERATED.mkdir(exist_ok=True)
    text = f"$ exportdsl diff {DIFF_OLD} {DIFF_NEW}\n" + result.to_text(color=False)
    if not DIFF_TEXT.is_file() or DIFF_TEXT.read_text(encoding="utf-8") != text:
        DIFF_TEXT.write_text(text, encoding="utf-8")


def write_diff_html(app: Sphinx, exception: Exception | None) -> None:
    """Put the HTML report into the built site's static files (``build-finished``)."""
    if exception is not None or app.builder.format != "html":
        return
    result = getattr(app, "env_diff_result", None) or _diff_result()
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / DIFF_HTML_NAME).write_text(result.to_html(), encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_directive("exportdsl-diagnostics", DiagnosticsDirective)
    app.connect("builder-inited", generate_diff_text)
    app.connect("build-finished", write_diff_html)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
