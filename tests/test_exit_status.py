"""The exit-status table of ``docs/cli.rst`` is what the command line returns.

The table is read from the page; each scenario below runs one command's main case and checks
both the status and that the table documents that status for that command. Every command of the
parser has a row, and every status a row documents is reached by some scenario.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from exportdsl.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
QUICKSTART = POLICIES / "quickstart.xpol"
SHIPMENT = {"ship_date": "2025-12-01", "origin": "CN", "export_from": "JP", "re_content": "0.1%",
            "end_use": "military", "elements": ["Nd"], "end_user": "Acme"}


def exit_table() -> dict[str, dict[int, str]]:
    """``{command: {status: meaning}}`` from the list-table under "Exit status" ("—" cells left out)."""
    text = (ROOT / "docs" / "cli.rst").read_text(encoding="utf-8")
    section = text[text.index("Exit status\n-----------"):]
    section = section[section.index(".. list-table::"):]
    rows = re.split(r"\n   \* - ", section.split("\n\n\n")[0])[1:]
    table = {}
    for row in rows[1:]:  # the first row is the header
        cells = [" ".join(c.split()) for c in re.split(r"\n     - ", row)]
        command = cells[0].strip("`")
        table[command] = {status: cell for status, cell in enumerate(cells[1:4]) if cell != "—"}
    return table


TABLE = exit_table()


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def write(name, text):
        (tmp_path / name).write_text(text, encoding="utf-8")
        return str(tmp_path / name)

    tests = f"policy: {QUICKSTART}\ndefaults: {json.dumps(SHIPMENT)}\ntests:\n"
    return {
        "good": str(QUICKSTART),
        "broken": write("broken.xpol", "decisions a < b\nrule R1 { nope = 1 -> b }\n"),
        "unparsable": write("unparsable.xpol", "decisions a <\nrule {\n"),
        "warned": write("warned.xpol", "decisions a < b\nfact x: integer\nrule R1 { x = 1 -> b }\n"
                                       "rule R2 { x = 1 -> b }\n"),
        "formatted": write("formatted.xpol", "decisions a < b\nfact x: integer\n\nrule R1 { x = 1 -> b }\n"),
        "messy": write("messy.xpol", "decisions a<b\nfact x:integer\nrule R1{x=1->b}\n"),
        "facts": write("facts.json", json.dumps(SHIPMENT)),
        "bad_facts": write("bad.jsonl", json.dumps(SHIPMENT) + "\n" + json.dumps({**SHIPMENT, "origin": "cn"}) + "\n"),
        "pass": write("pass.yaml", tests + "  - {name: a, facts: {}, expect: deny}\n"),
        "fail": write("fail.yaml", tests + "  - {name: a, facts: {}, expect: not_controlled}\n"),
        "bad_test": write("bad.yaml", tests + "  - {name: a, facts: {}, expect: deny, rules: Q1}\n"),
        "empty": str(tmp_path / "empty-folder"),
        "timeless": write("timeless.xpol", "decisions a < b\nfact d: date\nfact x: integer\ndated by d\n"
                                           "rule R1 { x = 1 -> b }\n"),
        "ledger": write("ledger.jsonl", json.dumps(SHIPMENT) + "\n"),
        "old": str(POLICIES / "cn-rare-earths-2025-04.xpol"),
        "new": str(POLICIES / "cn-rare-earths-2025-11.xpol"),
    }


SCENARIOS = [
    # (command, status, arguments with {placeholders} from the fixture)
    ("check", 0, ["check", "{good}"]),
    ("check", 0, ["check", "{warned}"]),
    ("check", 2, ["check", "{broken}"]),
    ("lint", 0, ["lint", "{good}"]),
    ("lint", 0, ["lint", "--budget", "0", "{new}"]),  # notes only
    ("lint", 1, ["lint", "{warned}"]),
    ("lint", 2, ["lint", "{broken}"]),
    ("eval", 0, ["eval", "{good}", "--facts", "{facts}"]),
    ("eval", 2, ["eval", "{good}", "--facts", "{bad_facts}"]),
    ("eval", 2, ["eval", "{broken}", "--facts", "{facts}"]),
    ("explain", 0, ["explain", "{good}", "--facts", "{facts}"]),
    ("explain", 2, ["explain", "{good}", "--facts", "{bad_facts}"]),
    ("schema", 0, ["schema", "{good}"]),
    ("schema", 2, ["schema", "{broken}"]),
    ("test", 0, ["test", "{pass}"]),
    ("test", 1, ["test", "{fail}"]),
    ("test", 2, ["test", "{pass}", "{bad_test}"]),
    ("test", 2, ["test", "{fail}", "{bad_test}"]),
    ("test", 2, ["test", "{empty}"]),
    ("diff", 0, ["diff", "{good}", "{good}"]),
    ("diff", 1, ["diff", "{old}", "{new}"]),
    ("diff", 2, ["diff", "{good}", "{broken}"]),
    ("diff", 2, ["diff", "{good}", "{good}", "--as-of", "2025-02-30"]),
    ("diff", 2, ["diff", "{old}", "{new}", "--timeout", "0"]),
    ("diff", 1, ["diff", "{old}", "--between", "2025-04-03", "2025-04-04"]),
    ("timeline", 0, ["timeline", "{timeless}"]),
    ("timeline", 1, ["timeline", "{good}"]),
    ("timeline", 2, ["timeline", "{warned}"]),       # no 'dated by' fact
    ("hash", 0, ["hash", "{good}", "{new}"]),
    ("hash", 2, ["hash", "{broken}"]),
    ("screen", 0, ["screen", "{good}", "{ledger}"]),
    ("screen", 2, ["screen", "{good}", "{bad_facts}"]),
    ("screen", 2, ["screen", "{broken}", "{ledger}"]),
    ("compile", 0, ["compile", "--target", "sql", "{good}"]),
    ("compile", 2, ["compile", "--target", "sql", "{broken}"]),
    ("studio", 2, ["studio", "{empty}-missing"]),
    ("lsp", 2, ["lsp", "--no-such-option"]),
    ("fmt", 0, ["fmt", "{formatted}"]),
    ("fmt", 0, ["fmt", "{messy}"]),
    ("fmt", 1, ["fmt", "--check", "{formatted}", "{new}"]),
    ("fmt", 1, ["fmt", "--diff", "{new}", "{formatted}"]),
    ("fmt", 0, ["fmt", "{broken}"]),  # parses: formatted although it does not check
    ("fmt", 2, ["fmt", "{unparsable}"]),
    ("fmt", 2, ["fmt", "--check", "{new}", "{unparsable}"]),
    ("(any)", 0, ["--version"]),
    ("(any)", 0, ["check", "--help"]),
    ("(any)", 2, []),
    ("(any)", 2, ["check"]),
    ("(any)", 2, ["frobnicate"]),
]


def run(argv) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        return main(argv)   # returns --help's and --version's status too: main() never raises


@pytest.mark.parametrize("command, status, argv", SCENARIOS,
                         ids=[f"{c}-{s}-{i}" for i, (c, s, _) in enumerate(SCENARIOS)])
def test_the_cli_returns_the_documented_status(files, command, status, argv):
    if "{empty}" in argv:
        Path(files["empty"]).mkdir()
    assert run([a.format(**files) for a in argv]) == status
    assert status in TABLE[command], f"docs/cli.rst documents no exit {status} for {command}"


def test_every_command_has_a_row_and_every_documented_status_is_reached():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert set(TABLE) == commands | {"(any)"}
    reached = {(c, s) for c, s, _ in SCENARIOS}
    documented = {(c, s) for c, statuses in TABLE.items() for s in statuses}
    assert documented == reached


def test_version_and_help_return_zero_from_main_instead_of_raising(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("exportdsl ")
    assert main(["diff", "--help"]) == 0
    assert "usage:" in capsys.readouterr().out


class _ClosedPipe(io.StringIO):
    """Standard output whose reader has gone (``| head`` after its lines)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("argv", [
    ["diff", str(POLICIES / "cn-rare-earths-2025-04.xpol"), str(POLICIES / "cn-rare-earths-2025-10.xpol")],
    ["diff", str(QUICKSTART), str(QUICKSTART)],   # no change: 0 when delivered, but this one was not
    ["check", str(QUICKSTART), "--format", "json"],
], ids=["diff-changed", "diff-unchanged", "check"])
def test_output_closed_early_is_the_error_status_never_success(argv, monkeypatch, capsys):
    """A diff cut short by a closed pipe returned 0 ("no transaction changes decision")."""
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert main(argv) == 2
    assert "output was closed before the command finished" in capsys.readouterr().err


def test_a_pipe_closed_after_the_first_lines_ends_eval_with_status_2_and_no_traceback(tmp_path):
    import subprocess
    import sys
    facts = tmp_path / "many.jsonl"
    facts.write_text((json.dumps(SHIPMENT) + "\n") * 20_000, encoding="utf-8")   # far beyond a pipe's buffer
    process = subprocess.Popen([sys.executable, "-m", "exportdsl", "eval", str(QUICKSTART), "--facts", str(facts)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 2
    assert first.startswith(str(facts).encode())
    assert "output was closed before the command finished" in error and "Traceback" not in error
