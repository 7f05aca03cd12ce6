"""The ``exportdsl`` command line's arguments: the top-level parser and one subparser per command.

A run of one core command, or of screen or compile, builds only that command's subparser
(argparse's parsers cost about a millisecond each to build, and the modules registering lsp,
studio, screen and compile much more);
``--help``, an unknown command or an option before the command get the full parser, with every
command. Either way a command's usage, help and errors read the same: a subparser's text depends
only on its own arguments and on the top-level prog.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Mapping

from . import __version__
from .errors import Diagnostic, UsageError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as our own (exit 2, no traceback)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        raise UsageError(Diagnostic("E402", message, help=f"see '{self.prog} --help'"))

    def _get_formatter(self):
        # argparse's formatter asks shutil for the terminal width, and importing shutil (with zlib,
        # bz2 and lzma) costs more than building a command's parser: the same width, read here.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """The terminal width as ``shutil.get_terminal_size().columns`` gives it: ``COLUMNS`` when it is
    a positive number, else the width of standard output's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def seconds(text: str) -> float:
    """A time budget in seconds: a finite number >= 0 (``nan``, ``inf``, ``1e999`` and negatives are usage errors)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds: give a finite number, 0 or more")
    return value


def count(text: str) -> int:
    """A count: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative: give 0 or more")
    return value


# ---- the core commands' subparsers (each returns its parser; the caller sets its handler) -------

def _check(sub):
    check = sub.add_parser("check", help="check policies and report diagnostics")
    check.add_argument("policies", nargs="+", metavar="POLICY")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--no-lint", action="store_true", help="do not run the linter (errors only)")
    return check


def _lint(sub):
    lint = sub.add_parser("lint", help="warnings about policies that check but are probably wrong; "
                                       "exit 1 on a warning")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="policy files, or folders of *.xpol files")
    lint.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    lint.add_argument("--budget", type=seconds, default=3.0, metavar="SECONDS",
                      help="time for the semantic checks of each policy; past it a note says what was skipped")
    return lint


def _eval(sub):
    ev = sub.add_parser("eval", help="evaluate transactions (a JSON object, an array, or JSONL)")
    ev.add_argument("policy", metavar="POLICY")
    ev.add_argument("--facts", required=True, metavar="FILE", help="facts file, or - for standard input")
    ev.add_argument("--format", choices=["text", "json"], default="text")
    ev.add_argument("--explain", action="store_true", help="explain each decision")
    return ev


def _explain(sub):
    ex = sub.add_parser("explain", help="explain the decision for each transaction")
    ex.add_argument("policy", metavar="POLICY")
    ex.add_argument("--facts", required=True, metavar="FILE", help="facts file, or - for standard input")
    return ex


def _schema(sub):
    schema = sub.add_parser("schema", help="print the JSON Schema of a policy's transactions")
    schema.add_argument("policy", metavar="POLICY")
    return schema


def _diff(sub):
    df = sub.add_parser("diff", help="which transactions change decision between two policies, and why")
    df.add_argument("old", metavar="OLD")
    df.add_argument("new", metavar="NEW", nargs="?", help="the new version (omit with --between)")
    df.add_argument("--group-by", choices=["citation"], help="group regions and changes under the legal "
                    "provision (cite) of the rules that cause them, as a checklist")
    df.add_argument("--replay", metavar="LEDGER", help="decide a ledger (.parquet, .csv, .jsonl) under both "
                    "versions and count its changed rows per region")
    df.add_argument("--value-column", metavar="COLUMN", help="with --replay: also sum this column per region")
    df.add_argument("--affected", metavar="OUT", help="with --replay: write the changed rows, both outcomes "
                    "and their region to OUT (.parquet, .csv, .jsonl)")
    df.add_argument("--between", nargs=2, metavar=("DAY1", "DAY2"),
                    help="compare one policy with itself: transactions dated DAY1 against DAY2")
    df.add_argument("--format", choices=["text", "markdown", "json", "html"], default="text")
    df.add_argument("--where", metavar="CONDITION", help="only transactions where this condition holds")
    df.add_argument("--as-of", metavar="DATE", help="only transactions dated DATE (the 'dated by' fact)")
    df.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    df.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    df.add_argument("--timeout", type=seconds, default=120.0, metavar="SECONDS",
                    help="time budget of the diff (default 120); past it the report says INCOMPLETE "
                         "and the exit code is 2")
    df.add_argument("--outline", action="store_true",
                    help="allow outline regions: a region's condition may be the tightest per-fact bounds "
                         "(membership stays exact through the changed rules)")
    df.add_argument("--detail", type=count, default=None, metavar="N",
                    help="region N in detail: every unchanged rule co-deciding in part of it (otherwise only "
                         "their count), and its breakdown by the full old outcome")
    return df


def _timeline(sub):
    tl = sub.add_parser("timeline", help="the days on which some decision of a policy changes; exit 1 if any")
    tl.add_argument("policy", metavar="POLICY")
    tl.add_argument("--from", dest="start", metavar="DAY", help="first day to look at (YYYY-MM-DD)")
    tl.add_argument("--to", dest="end", metavar="DAY", help="last day to look at (YYYY-MM-DD)")
    tl.add_argument("--format", choices=["text", "json"], default="text")
    tl.add_argument("--timeout", type=seconds, default=120.0, metavar="SECONDS",
                    help="time budget of each day's diff (default 120); past it: INCOMPLETE, exit 2")
    return tl


def _hash(sub):
    hs = sub.add_parser("hash", help="print the content hash of policies (their text and extends chain)")
    hs.add_argument("policies", nargs="+", metavar="POLICY")
    hs.add_argument("--format", choices=["text", "json"], default="text")
    return hs


def _test(sub):
    test = sub.add_parser("test", help="run policy tests (YAML files); exit 1 on a failure")
    test.add_argument("paths", nargs="*", metavar="PATH", help="test files or folders (default: policies)")
    test.add_argument("--coverage", action="store_true", help="report the rules no test made decide")
    return test


def _fmt(sub):
    fm = sub.add_parser("fmt", help="rewrite policies in the canonical layout (comments kept)",
                        description="Rewrite policies in the canonical layout, keeping comments. Exit 0 when "
                                    "done (or nothing would change), 1 when --check or --diff finds a file "
                                    "that would change, 2 on errors.")
    fm.add_argument("paths", nargs="+", metavar="PATH",
                    help="policy files, folders (searched for *.xpol) or - (standard input to standard output)")
    fm.add_argument("--check", action="store_true", help="write nothing; name the files that would change")
    fm.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    return fm


#: The core commands, in the order ``--help`` lists them, each with the function adding its subparser.
CORE_COMMANDS: dict[str, Callable] = {
    "check": _check, "lint": _lint, "eval": _eval, "explain": _explain, "schema": _schema, "diff": _diff,
    "timeline": _timeline, "hash": _hash, "test": _test, "fmt": _fmt,
}


#: The commands registered by the screening module, whose parsers are built alone like a core
#: command's (a screening then imports neither the language server's nor the studio's modules).
SCREENING_COMMANDS = ("screen", "compile")


def core_command(argv: list[str]) -> str | None:
    """The command ``argv`` runs (its first word that is not an option) when its subparser can be
    built alone: a core command, or screen or compile. None when the full parser must answer:
    another module's command (lsp, studio), an unknown word, ``--help`` or another option first
    (``--version`` aside), or no command at all."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in CORE_COMMANDS or word in SCREENING_COMMANDS else None
        if word != "--version":
            return None
    return None


def build_parser(handlers: Mapping[str, Callable], *, only: str | None = None,
                 full: bool = True) -> argparse.ArgumentParser:
    """The ``exportdsl`` argument parser, each core command's subparser running ``handlers[name]``
    (as ``args.run``). ``only`` builds that core (or screening) command's subparser alone (for a run of it);
    otherwise every core command's, and with ``full`` also the commands registered by other modules
    (lsp, studio, screen, compile)."""
    parser = ArgumentParser(
        prog="exportdsl",
        description="Policy-as-code for export controls: check, evaluate and explain .xpol policies.",
        epilog="Exit codes: 0 ok; 1 found something (a failing test, a lint warning, a changed decision, "
               "a file fmt --check would change); 2 errors (bad policy, bad facts, bad usage).",
    )
    parser.add_argument("--version", action="version", version=f"exportdsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, add in CORE_COMMANDS.items():
        if only is None or name == only:
            add(sub).set_defaults(run=handlers[name])
    if only in SCREENING_COMMANDS or (full and only is None):
        from .policy import load_with_tree
        from .screening import add_commands as add_screening_commands

        def load_for_sql(path):
            """A policy whose Python evaluator is generated only if asked for (``compile
            --target python``): screening and SQL never run it (50-80 ms at 250 rules)."""
            return load_with_tree(path, compile_now=False)[0]
        if only is None:
            from .lsp.command import register as register_lsp
            from .studio.command import register as register_studio
            register_lsp(sub)
            register_studio(sub)
        add_screening_commands(sub, load_for_sql, only=only)
    return parser
