"""The documentation's examples are tested: policy code, shell sessions and Python sessions.

Every page (``docs/*.rst``, plus the diagnostics explanations ``docs/diagnostics/*.rst`` read as
one page in the order the diagnostics reference shows them) is read top to bottom, in a fresh
sandbox directory holding a copy of ``policies/`` (so examples run "from the repository root"
without writing into the checkout). Each code block is checked according to its language and to
the rst comments written just above its ``.. code-block::`` line:

``.. code-block:: xpol``
    A policy. By default the block is appended to the page's current *preamble* (the last block
    marked ``.. xpol: preamble``) and the result must parse and check; on a page without a
    preamble the block must check on its own. Markers change this:

    ``.. xpol: preamble``     a complete policy that checks; later blocks of the page build on it
    ``.. xpol: standalone``   a complete policy that checks on its own
    ``.. xpol: fragment``     text that must parse as policy text but is not checked (a header
                              line, declarations repeated from the preamble)
    ``.. xpol: condition``    text that must parse as a condition (as ``--where`` takes it)
    ``.. xpol: rule-body``    ``CONDITION -> DECISION``, checked as the body of a rule added to
                              the preamble
    ``.. xpol-expect: E204``  the block must fail with this diagnostic code (in whichever mode
                              applies); such blocks may show invalid characters, and then need
                              the ``:force:`` option so that Sphinx highlights them leniently
    ``.. xpol-expect: W101``  a lint code: the block must check, and the linter must report it
    ``.. xpol: output``       on the (``none``) block after an ``xpol-expect`` block: the text of
                              the diagnostics with the expected code, as ``exportdsl check``
                              prints them for ``policy.xpol`` (``...`` lines allowed)

    Every ``xpol`` block must also lex without ``Error`` tokens under ``exportdsl.highlight``
    unless it has ``:force:`` (Sphinx's ``-W`` build would fail on it otherwise).

``.. file: NAME`` (any language)
    The block's text is also written to ``NAME`` in the sandbox, for the examples that follow.

``.. code-block:: console``
    Blocks with at least one ``$ exportdsl`` command are run in the sandbox, command by command:
    a plain ``exportdsl ...`` through ``exportdsl.cli.main`` in this process (fast), anything
    else (``sed``, ``echo $?``, redirections, pipes) with bash, the package's ``exportdsl`` first
    on PATH and ``$?`` carried over from the previous command. Commands start with ``$ ``; a line ending in ``\\`` or a here-document continues them. The
    lines up to the next command are the expected output (standard output and standard error
    together; trailing spaces ignored). A line ``...`` stands for any number of lines, for output
    the docs abbreviate. ``.. console: no-compare`` runs the block without comparing output
    (for output shortened in ways ``...`` cannot express); ``.. console: skip`` does not run it.

``.. code-block:: pycon`` / ``python`` with ``>>>`` prompts
    Run as doctests (``ELLIPSIS`` on), in the sandbox, with one namespace per page. Python blocks
    without prompts are not run.

Besides: every diagnostic code in ``exportdsl.errors.CODES`` has an explanation in
``docs/diagnostics/`` and no explanation names a missing code; the reserved words listed in the
language reference are the grammar's; and, when Sphinx is installed, the site builds with ``-W``
and policy blocks come out highlighted. None of this imports Sphinx.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

import exportdsl
from exportdsl import cli
from exportdsl.errors import CODES, render_text
from exportdsl.operators import RESERVED
from exportdsl.parser import parse_condition

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXPLANATIONS = DOCS / "diagnostics"
BIN = Path(sys.executable).parent

_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block::\s*(?P<lang>\S+)\s*$")
_MARKER = re.compile(r"^ *\.\. (?P<key>xpol|xpol-expect|file|console): *(?P<value>\S.*?)\s*$")


@attrs.frozen
class Block:
    """One ``.. code-block::`` of a page."""

    path: Path
    line: int
    lang: str
    text: str
    markers: tuple[tuple[str, str], ...]
    options: tuple[str, ...]

    def marker(self, key: str) -> list[str]:
        return [value for k, value in self.markers if k == key]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def read_blocks(path: Path) -> list[Block]:
    """The code blocks of one rst file, with their markers and options."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        markers = []
        above = number - 1
        while above >= 0 and (m := _MARKER.match(lines[above])):
            markers.insert(0, (m["key"], m["value"]))
            above -= 1
        options, body, i = [], [], number + 1
        while i < len(lines) and re.match(rf"^ {{{indent + 1},}}:\w[\w-]*:", lines[i]):
            options.append(lines[i].strip().split(":")[1])
            i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        text = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(path, number + 1, match["lang"], text, tuple(markers), tuple(options)))
    return blocks


def diagnostics_pages() -> list[Path]:
    """The explanations in the order the diagnostics reference renders them."""
    order = []
    for code in sorted(CODES, key=lambda c: (c[0] != "E", c)):
        group = EXPLANATIONS / f"{code[:2]}xx.rst"
        if group.is_file() and group not in order:
            order.append(group)
        order.append(EXPLANATIONS / f"{code}.rst")
    return [p for p in order if p.is_file()]


PAGES = {p.name: [p] for p in sorted(DOCS.glob("*.rst"))}
PAGES["diagnostics/"] = diagnostics_pages()


# ---- checking policy blocks -------------------------------------------------------------------

def _codes(exc: exportdsl.Error) -> list[str]:
    return [d.code for d in exc.diagnostics]


def lint_findings(policy) -> list:
    """What the linter reports for a policy."""
    from exportdsl.compose import resolve
    from exportdsl.lint import lint

    return lint(policy.ir, resolve(policy.ast))


def check_xpol(block: Block, preamble: str | None, sandbox: Path) -> tuple[str | None, list]:
    """Check one policy block; returns the page's preamble after it, and the diagnostics with the
    expected code (for a following ``.. xpol: output`` block)."""
    modes = block.marker("xpol")
    mode = modes[0] if modes else ("appended" if preamble is not None else "standalone")
    expect = block.marker("xpol-expect")
    name = (block.marker("file") or ["policy.xpol"])[0]  # relative: the sandbox is the working folder
    shown: list = []

    def run():
        if mode in ("preamble", "standalone"):
            return exportdsl.compile(block.text, name)
        if mode == "fragment":
            return exportdsl.parse(block.text, name)
        if mode == "condition":
            return parse_condition(block.text)
        if mode == "rule-body":
            assert preamble is not None, "a rule-body block needs a preamble above it"
            return exportdsl.compile(f"{preamble}rule doc_example {{\n{block.text}}}\n", name)
        if mode == "appended":
            return exportdsl.compile(preamble + block.text, name)  # the preamble ends with a newline
        raise AssertionError(f"unknown marker '.. xpol: {mode}'")

    if expect and expect[0].startswith("W"):  # a lint warning: the policy checks, and the linter reports it
        try:
            policy = run()
        except exportdsl.Error as exc:
            raise AssertionError(f"does not check:\n{exc}")
        found = lint_findings(policy)
        assert expect[0] in [d.code for d in found], f"expected lint {expect[0]}, got {[d.code for d in found]}"
        shown = [d for d in found if d.code == expect[0]]
    elif expect:
        with pytest.raises(exportdsl.Error) as info:
            run()
        assert expect[0] in _codes(info.value), f"expected {expect[0]}, got {_codes(info.value)}"
        shown = [d for d in info.value.diagnostics if d.code == expect[0]]
    else:
        try:
            run()
        except exportdsl.Error as exc:
            raise AssertionError(f"does not {'parse' if mode in ('fragment', 'condition') else 'check'}:\n{exc}")
    if importlib.util.find_spec("pygments") and "force" not in block.options:
        from pygments.token import Error

        from exportdsl.highlight import XpolLexer
        bad = [v for tt, v in XpolLexer().get_tokens(block.text) if tt in Error]
        assert not bad, f"lexes with Error tokens {bad}: add :force: if the example is meant to be invalid"
    return (block.text if mode == "preamble" else preamble), shown


def check_output(block: Block, shown: list) -> None:
    """An ``.. xpol: output`` block shows the diagnostics of the policy block above it."""
    assert shown, "an output block must follow a block with '.. xpol-expect:'"
    actual = render_text(shown).splitlines()
    expected = block.text.splitlines()
    assert matches(expected, actual), "--- expected\n" + block.text + "--- actual\n" + "\n".join(actual)


# ---- running shell sessions -------------------------------------------------------------------

def session(text: str) -> list[tuple[str, list[str]]]:
    """``[(command, expected output lines)]`` of a console block."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = [line[2:]]
            heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
            i += 1
            if heredoc:
                while i < len(lines) and lines[i].strip() != heredoc.group(1):
                    command.append(lines[i])
                    i += 1
                command.append(lines[i] if i < len(lines) else heredoc.group(1))
                i += 1
            while command[-1].endswith("\\") and i < len(lines):
                command.append(lines[i])
                i += 1
            steps.append(("\n".join(command), []))
        elif steps:
            steps[-1][1].append(line)
            i += 1
        else:
            raise AssertionError(f"console block does not start with a '$ ' command: {line!r}")
    return steps


_SHELL = re.compile(r"[|<>;&$`()\\]|\n")


def run_step(command: str, last_status: int, sandbox: Path) -> tuple[list[str], int]:
    """Run one command: ``exportdsl ...`` in this process (a subprocess costs a second of start-up
    each), anything else (``sed``, ``echo $?``, redirections) with bash; stdout and stderr together."""
    if command.startswith("exportdsl ") and not _SHELL.search(command):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            status = cli.main(shlex.split(command)[1:])
        return buffer.getvalue().splitlines(), status
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
           "COLUMNS": "80", "NO_COLOR": "1", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(["bash", "-c", f"exec 2>&1\n(exit {last_status})\n{command}"], cwd=sandbox, env=env,
                          stdout=subprocess.PIPE, text=True, timeout=120)
    return proc.stdout.splitlines(), proc.returncode


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line, trailing spaces ignored; a line ``...`` matches any number of lines."""
    expected = [e.rstrip() for e in expected]
    actual = [a.rstrip() for a in actual]
    while expected and not expected[-1]:
        expected.pop()
    while actual and not actual[-1]:
        actual.pop()

    def match(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == "...":
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and expected[i] == actual[j] and match(i + 1, j + 1)

    return match(0, 0)


def check_console(block: Block, sandbox: Path) -> None:
    if "skip" in block.marker("console"):
        return
    steps = session(block.text)
    if not any(cmd.startswith("exportdsl ") for cmd, _ in steps):
        return
    status = 0
    for command, expected in steps:
        actual, status = run_step(command, status, sandbox)
        if "no-compare" in block.marker("console"):
            continue
        assert matches(expected, actual), (
            f"$ {command}\n--- expected\n" + "\n".join(expected) + "\n--- actual\n" + "\n".join(actual))


# ---- doctests -----------------------------------------------------------------------------------

def check_doctest(block: Block, globs: dict) -> None:
    test = doctest.DocTestParser().get_doctest(block.text, globs, block.where, str(block.path), block.line)
    output: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=output.append, clear_globs=False)
    globs.update(test.globs)  # the next block of the page sees these names
    assert not runner.failures, "".join(output)


# ---- the pages --------------------------------------------------------------------------------

@pytest.mark.parametrize("page", sorted(PAGES))
def test_examples_of_page(page, tmp_path, monkeypatch):
    sandbox = tmp_path / "repo"
    shutil.copytree(ROOT / "policies", sandbox / "policies")
    monkeypatch.chdir(sandbox)
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps usage lines to the terminal width
    failures = []
    preamble: str | None = None
    shown: list = []
    globs: dict = {"__name__": "__docs__"}
    checked = 0
    for path in PAGES[page]:
        for block in read_blocks(path):
            try:
                for name in block.marker("file"):
                    (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
                    (sandbox / name).write_text(block.text, encoding="utf-8")
                if block.lang == "xpol":
                    preamble, shown = check_xpol(block, preamble, sandbox)
                elif "output" in block.marker("xpol"):
                    check_output(block, shown)
                elif block.lang == "console":
                    check_console(block, sandbox)
                elif block.lang in ("pycon", "python") and ">>>" in block.text:
                    check_doctest(block, globs)
                else:
                    continue
                checked += 1
            except AssertionError as exc:
                failures.append(f"{block.where} ({block.lang}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_conventions_are_used():
    """The checks above see the blocks they are meant to see."""
    all_blocks = [b for pages in PAGES.values() for p in pages for b in read_blocks(p)]
    langs = {b.lang for b in all_blocks}
    assert {"xpol", "console", "pycon"} <= langs
    assert not [b.where for b in all_blocks if b.lang == "text" and re.search(r"^\s*rule \w+ \{", b.text, re.MULTILINE)], \
        "policy code should use '.. code-block:: xpol'"
    assert sum(1 for b in all_blocks if b.marker("xpol-expect")) >= 15
    unknown = {v for b in all_blocks for v in b.marker("xpol")} - {
        "preamble", "standalone", "fragment", "condition", "rule-body", "output"}
    assert not unknown


# ---- the diagnostics reference ------------------------------------------------------------------

def test_every_code_has_an_explanation():
    missing = sorted(code for code in CODES if not (EXPLANATIONS / f"{code}.rst").is_file())
    assert not missing, f"write docs/diagnostics/<CODE>.rst for {missing}"


def test_no_explanation_names_a_missing_code():
    groups = {f"{code[:2]}xx" for code in CODES}
    for path in EXPLANATIONS.glob("*"):
        stem = path.stem
        assert path.suffix == ".rst", path
        assert stem in CODES or stem in groups, f"{path.name}: no such code or group in exportdsl.errors.CODES"
        if stem in CODES:
            title, _, body = path.read_text(encoding="utf-8").partition("\n")
            assert title.strip() and not title.startswith((" ", ".", "=")), f"{path.name}: first line is the title"
            assert body.startswith("\n"), f"{path.name}: a blank line after the title"


def test_reserved_words_listed_in_the_language_reference():
    text = (DOCS / "language.rst").read_text(encoding="utf-8")
    block = text.split("Reserved words", 1)[1].split(".. code-block:: none", 1)[1].split("\n\n   Type names")[0]
    assert set(block.split()) == RESERVED


# ---- the build --------------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("furo") is None,
                    reason="Sphinx and Furo are not installed (pip install -e '.[docs]')")
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    language = (out / "language.html").read_text(encoding="utf-8")
    policy_blocks = re.findall(r'<div class="highlight-xpol notranslate"><div class="highlight"><pre>(.*?)</pre>',
                               language, re.DOTALL)
    assert len(policy_blocks) >= 10
    assert all(re.search(r'<span class="(k\w*|ow)">', b) for b in policy_blocks), "every policy block is highlighted"
    assert sum('<span class="k' in b for b in policy_blocks) >= len(policy_blocks) - 2
    errors = (out / "errors.html").read_text(encoding="utf-8")
    for code in CODES:
        assert f'id="diagnostics-{code.lower()}"' in errors, code
    report = out / "_static" / "diff-2025-04-to-2025-10.html"
    assert report.is_file() and "cn-rare-earths 2025-04" in report.read_text(encoding="utf-8")


def test_readme_excerpt_of_the_quickstart_is_in_the_file_in_order():
    """The README's excerpt of policies/quickstart.xpol is the file's text (lines in order, some left out)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("An excerpt of `policies/quickstart.xpol`", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    lines = iter((ROOT / "policies" / "quickstart.xpol").read_text(encoding="utf-8").splitlines())
    for wanted in (line for line in excerpt.splitlines() if line.strip()):
        assert any(line == wanted for line in lines), f"README excerpt line not in quickstart.xpol (in order): {wanted!r}"
