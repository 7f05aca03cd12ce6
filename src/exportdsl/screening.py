"""Screening whole ledgers: ``exportdsl screen`` and ``exportdsl compile``, and the API behind
``Policy.screen`` and ``Policy.evaluate_table``, on the SQL backend (DuckDB by default, or Spark).

A screening reads a ledger (Parquet, CSV or JSON Lines, by extension), writes every valid row with
``decision`` and ``rules`` to the output, and every bad fact of every invalid row (row number, fact,
value, code) to the error output; decided + rejected = rows read, and the summary says so.
"""

from __future__ import annotations

import errno
import json
import sys
import threading
import time

import attrs

from . import ir
from .errors import Diagnostic, EvaluationError, UsageError
from .escape import for_terminal
from .semantics import valid_date

ENGINES = ("duckdb", "spark")
#: The columns of the error output (as in ``backends.sql.query``, which is imported only when used:
#: DuckDB and sqlglot take a second to import, and the other commands do not need them).
ROW, FACT, VALUE, CODE = "row", "fact", "value", "code"
#: DuckDB's own memory: with Python, sqlglot and Arrow around it the process stays under 1 GB of RSS
#: (measured on 10 M rows: 0.3-0.4 GB; with "1GB" a 250-rule screening once reached 1.02 GB).
DEFAULT_MEMORY_LIMIT = "768MB"


@attrs.frozen
class ScreenResult:
    """What a screening did: rows read, decided and rejected; counts per decision, per deciding rule
    and per error code; and the first rejected facts (row, fact, value, code)."""

    rows: int
    decided: int
    rejected: int
    decisions: dict
    rules: dict
    codes: dict
    sample: tuple

    @property
    def complete(self) -> bool:
        """True when every row was decided."""
        return self.rejected == 0

    def to_json(self) -> dict:
        """The summary as JSON-ready data."""
        return {"rows": self.rows, "decided": self.decided, "rejected": self.rejected,
                "decisions": self.decisions, "rules": self.rules, "rejected_by_code": self.codes,
                "first_rejected": [dict(zip((ROW, FACT, VALUE, CODE), row)) for row in self.sample]}


def check_as_of(policy: ir.Policy, as_of: str | None) -> None:
    """E414 for an ``as_of`` that is no date, or given for a policy without a ``dated by`` fact."""
    if as_of is None:
        return
    if policy.dated_by is None:
        raise UsageError(Diagnostic("E414", "--as-of needs a policy with a 'dated by' fact"))
    if not valid_date(as_of):
        raise UsageError(Diagnostic("E414", f"--as-of {for_terminal(as_of)!r} is not a date YYYY-MM-DD"))


def screen(policy: ir.Policy, source: str, output: str | None = None, errors: str | None = None, *,
           keep=None, rules: bool = True, as_of: str | None = None, engine: str = "duckdb",
           threads: int | None = None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
           progress=None) -> ScreenResult:
    """Screen the ledger file ``source`` into ``output`` and ``errors`` (files; either may be None)."""
    check_as_of(policy, as_of)
    if engine == "spark":
        from . import spark
        rows, decided, rejected, decisions, codes, sample = spark.screen_file(
            policy, source, output, errors, keep=keep, rules=rules, as_of=as_of)
        return ScreenResult(rows, decided, rejected, decisions, {}, codes, sample)
    if engine != "duckdb":
        raise UsageError(Diagnostic("E413", f"unknown engine {engine!r}", help="use duckdb or spark"))
    from .backends.sql import duckdb_engine
    con = duckdb_engine.connect(threads, memory_limit)
    try:
        if progress is not None:
            outcome, sample = progress(con, lambda: duckdb_engine.screen_file(
                con, policy, source, output, errors, keep=keep, rules=rules, as_of=as_of))
        else:
            outcome, sample = duckdb_engine.screen_file(con, policy, source, output, errors, keep=keep,
                                                        rules=rules, as_of=as_of)
    finally:
        con.close()
    return ScreenResult(outcome.rows, outcome.decided, outcome.rejected, outcome.decisions, outcome.rules,
                        outcome.codes, tuple(sample))


def evaluate_table(policy: ir.Policy, table, *, rules: bool = True, as_of: str | None = None):
    """The table (Arrow, pandas or Polars) with ``decision`` and ``rules`` columns added, in the input's
    kind; raises :class:`EvaluationError` naming the bad facts when any row cannot be decided."""
    check_as_of(policy, as_of)
    from .backends.sql import duckdb_engine
    decided, rejected = duckdb_engine.evaluate_arrow(policy, table, rules=rules, as_of=as_of)
    if rejected.num_rows:
        bad = rejected.to_pylist()
        rows = len({entry[ROW] for entry in bad})
        problems = [Diagnostic(entry[CODE], f"row {entry[ROW]}: fact '{entry[FACT]}': value "
                                            f"{_shown(entry[VALUE])}") for entry in bad[:20]]
        problems.append(Diagnostic(bad[0][CODE], f"{rows} of {decided.num_rows + rows} rows cannot be decided"))
        raise EvaluationError(problems)
    return _like(table, decided)


def _shown(value) -> str:
    if value is None:
        return "missing"
    text = for_terminal(str(value), keep_newlines=False)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _like(original, table):
    """``table`` (Arrow) converted to the library of ``original`` (pandas, Polars; else Arrow)."""
    module = type(original).__module__.split(".")[0]
    if module == "pandas":
        return table.to_pandas()
    if module == "polars":
        import polars
        return polars.from_arrow(table)
    return table


# ---- the command line ---------------------------------------------------------------------------

def _terminal_progress(con, run):
    """Run ``run()`` while a rich progress bar on standard error follows DuckDB's query progress."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    result: dict = {}

    def work():
        try:
            result["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    with Progress(TextColumn("screening"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("screen", total=100)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            try:
                done = con.query_progress()
            except Exception:  # noqa: BLE001 - progress is cosmetic; the work decides the outcome
                done = -1
            if done is not None and done >= 0:
                bar.update(task, completed=done)
    if "error" in result:
        raise result["error"]
    return result["value"]


def cmd_screen(args) -> int:
    """Screen a ledger; print the summary; exit 0 when every row was decided, else 2."""
    policy = args.load(args.policy)
    keep = [c.strip() for c in args.keep.split(",") if c.strip()] if args.keep else None
    progress = _terminal_progress if sys.stderr.isatty() and args.format == "text" else None
    started = time.perf_counter()
    result = screen(policy.ir, args.ledger, args.output, args.errors, keep=keep, rules=not args.no_rules,
                    as_of=args.as_of, engine=args.engine, threads=args.threads,
                    memory_limit=args.memory_limit, progress=progress)
    seconds = time.perf_counter() - started
    if args.format == "json":
        print(json.dumps({**result.to_json(), "seconds": round(seconds, 3)}, ensure_ascii=False, indent=2))
    else:
        print_summary(result, args.ledger, seconds)
    return 0 if result.complete else 2


def _summary_console():
    """A rich Console on standard output whose reader going away is a ``BrokenPipeError`` for the
    command line to report (exit 2: ``cli._output_closed``); rich's own answer was to exit with
    status 1, "found something", without a word."""
    from rich.console import Console

    class SummaryConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of standard output went away")

    # no emoji codes (":name:") in these fixed titles and headers: emoji=False spares importing
    # rich's table of them, 9 ms (ledger paths and rule ids are Text, never interpreted anyway)
    return SummaryConsole(file=sys.stdout, highlight=False, emoji=False)


def print_summary(result: ScreenResult, ledger: str, seconds: float) -> None:
    """The summary tables (rows per decision, per rule, rejected per code) on standard output."""
    from rich.table import Table
    from rich.text import Text
    console = _summary_console()
    rate = f", {result.rows / seconds:,.0f} rows/s" if seconds > 0 else ""
    console.print(Text(f"{for_terminal(ledger, keep_newlines=False)}: {result.rows} rows = {result.decided} "
                       f"decided + {result.rejected} rejected ({seconds:.2f} s{rate})"), soft_wrap=True)
    table = Table("decision", "rows", title="decided rows")
    for decision, count in sorted(result.decisions.items(), key=lambda item: -item[1]):
        table.add_row(Text(decision), str(count))
    console.print(table)
    if result.rules:
        rules = Table("rule", "rows", title="deciding rules")
        for rule, count in sorted(result.rules.items(), key=lambda item: (-item[1], item[0])):
            rules.add_row(Text(rule), str(count))
        console.print(rules)
    if result.rejected:
        codes = Table("code", "facts", title=f"rejected rows: {result.rejected}")
        for code, count in sorted(result.codes.items()):
            codes.add_row(code, str(count))
        console.print(codes)
        for row, fact, value, code in result.sample:
            print(f"row {row}: error[{code}]: fact '{fact}': value {_shown(value)}", file=sys.stderr)


def cmd_compile(args) -> int:
    """Print a policy compiled to SQL (a query over a relation ``ledger``) or to Python."""
    from .backends.sql.query import compile_query
    policy = args.load(args.policy)
    if args.target == "python":
        print(policy.generated_source)
    else:
        print(compile_query(policy.ir, args.dialect, rules=not args.no_rules), end="")
    return 0


def add_commands(sub, load, only: str | None = None) -> None:
    """Register ``screen`` and ``compile`` (or the one named ``only``) on the command line's
    subparsers; ``load`` reads a policy file into a :class:`exportdsl.Policy` (passed in: the Policy
    sits in a higher layer)."""
    if only in (None, "screen"):
        _add_screen(sub, load)
    if only in (None, "compile"):
        _add_compile(sub, load)


def _add_screen(sub, load) -> None:
    sc = sub.add_parser("screen", help="screen a ledger (Parquet, CSV, JSON Lines) on the SQL backend; "
                                       "exit 2 when rows were rejected",
                        description="Decide every row of a ledger. Each output row is the input row plus "
                                    "'decision' and 'rules'; rows with a missing, ill-typed or unknown fact "
                                    "value go to the error output with their row number and code. "
                                    "Exit 0 when every row was decided, 2 when rows were rejected or on errors.")
    sc.add_argument("policy", metavar="POLICY")
    sc.add_argument("ledger", metavar="LEDGER", help="a .parquet, .csv or .jsonl file")
    sc.add_argument("-o", "--output", metavar="OUT", help="decided rows (.parquet, .csv or .jsonl)")
    sc.add_argument("--errors", metavar="ERRS", help="rejected facts: row, fact, value, code")
    sc.add_argument("--keep", metavar="COLS", help="comma-separated columns to write (plus the results)")
    sc.add_argument("--no-rules", action="store_true", help="leave out the 'rules' column")
    sc.add_argument("--as-of", metavar="DATE", help="decide every row as if dated DATE (the 'dated by' fact)")
    sc.add_argument("--engine", choices=ENGINES, default="duckdb")
    sc.add_argument("--threads", type=int, metavar="N", help="DuckDB threads (default: all cores)")
    sc.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT, metavar="SIZE",
                    help=f"DuckDB memory limit, spilling to disk past it (default {DEFAULT_MEMORY_LIMIT})")
    sc.add_argument("--format", choices=["text", "json"], default="text", help="summary format")
    sc.set_defaults(run=cmd_screen, load=load)


def _add_compile(sub, load) -> None:
    cp = sub.add_parser("compile", help="print a policy compiled to SQL (or to Python)")
    cp.add_argument("policy", metavar="POLICY")
    cp.add_argument("--target", choices=["sql", "python"], default="sql")
    cp.add_argument("--dialect", choices=ENGINES, default="duckdb")
    cp.add_argument("--no-rules", action="store_true", help="leave out the 'rules' column")
    cp.set_defaults(run=cmd_compile, load=load)
