"""The command line's parsers built per command (issue 13, cold start): a run of one core command builds
that command's subparser alone, and every help text, usage line and usage error reads exactly as
the full parser's (a differential test: the one-command parser against the full one)."""

from __future__ import annotations

import contextlib
import io

import pytest

from exportdsl import cli_arguments, screening
from exportdsl.cli import HANDLERS, build_parser, main
from exportdsl.errors import Error

CORE = list(cli_arguments.CORE_COMMANDS)
#: Every command whose parser a run builds alone: the core ones, and screen and compile.
ALONE = CORE + list(cli_arguments.SCREENING_COMMANDS)

#: Argument lists after the command word: help, missing or bad arguments, unknown options.
TAILS = [["--help"], [], ["--bogus"], ["x", "--bogus"], ["--format", "xml", "x"], ["--timeout", "nan", "a", "b"],
         ["--budget", "-1", "x"], ["--detail", "-2", "a", "b"], ["a", "b", "c", "d"], ["--facts"], ["-h", "--bogus"]]


def _outcome(parser, argv: list[str]) -> tuple:
    """What parsing ``argv`` gives: the parsed arguments (without the handler), or the exit status /
    error messages, and everything printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            args = vars(parser.parse_args(argv))
            args.pop("run", None)
            result = ("parsed", sorted(args.items()))
        except SystemExit as exc:
            result = ("exit", exc.code)
        except Error as exc:
            result = ("error", [d.render() for d in exc.diagnostics])
    return result, out.getvalue()


@pytest.mark.parametrize("command", ALONE)
@pytest.mark.parametrize("tail", TAILS, ids=" ".join)
@pytest.mark.parametrize("columns", ["100", "52"])
def test_a_command_parses_and_explains_itself_as_with_the_full_parser(command, tail, columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    argv = [command, *tail]
    assert cli_arguments.core_command(argv) == command
    alone = cli_arguments.build_parser(HANDLERS, only=command)
    assert _outcome(alone, argv) == _outcome(build_parser(), argv)


@pytest.mark.parametrize("command", ALONE)
def test_a_run_of_one_command_builds_its_subparser_alone(command):
    parser = cli_arguments.build_parser(HANDLERS, only=command)
    assert set(parser._subparsers._group_actions[0].choices) == {command}
    assert parser.parse_args(_minimal(command)).run is (HANDLERS.get(command) or getattr(screening, f"cmd_{command}"))


def _minimal(command: str) -> list[str]:
    return {"diff": ["diff", "a", "b"], "eval": ["eval", "p", "--facts", "f"], "explain": ["explain", "p", "--facts", "f"],
            "test": ["test"], "screen": ["screen", "p", "l.parquet"]}.get(command, [command, "p"])


@pytest.mark.parametrize("argv, expected", [
    (["check", "p"], "check"), (["--version", "check"], "check"), (["fmt", "--check", "x"], "fmt"),
    (["--help", "check"], None), (["-h"], None), ([], None), (["--version"], None), (["screen", "a", "b"], "screen"),
    (["studio"], None), (["lsp"], None), (["compile", "p"], "compile"), (["--help", "screen"], None), (["chec", "p"], None), (["CHECK"], None),
    (["--bogus", "check"], None),
])
def test_which_argument_lists_run_a_core_command(argv, expected):
    assert cli_arguments.core_command(argv) == expected


def test_the_full_parser_answers_the_rest(capsys):
    assert main(["chec", "p"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'chec'" in err
    for command in (*CORE, "lsp", "studio", "screen", "compile"):
        assert repr(command) in err


@pytest.mark.parametrize("columns", ["", "0", "-3", "abc", "61", "140"])
def test_the_help_width_is_shutils(columns, monkeypatch):
    import shutil

    monkeypatch.setenv("COLUMNS", columns)
    assert cli_arguments._terminal_columns() == shutil.get_terminal_size().columns
