"""Running the screening queries on DuckDB: ledger files (Parquet, CSV, JSON Lines) and Arrow tables.

Files stream: ``COPY (query) TO file`` reads the ledger in row groups and writes as it goes, under
``SET memory_limit`` and a thread count, so a ledger larger than memory screens. Paths enter the
SQL tree as string literals. DuckDB errors become :class:`UsageError` E410 (reading) or E413.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import duckdb
from sqlglot import exp

from ... import ir
from ...collector import collector_paused
from ...errors import Diagnostic, UsageError
from .nodes import col, fn, ident, lit, render
from .query import CODE, DECISION, FACT, ROW, RULES, VALUE, build_screen_query

#: File formats by extension.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl"}


def ledger_format(path: str, what: str = "ledger") -> str:
    """``parquet``, ``csv`` or ``jsonl`` by the file's extension; E410 (a ledger) or E411 otherwise."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(Diagnostic("E410" if what == "ledger" else "E411", f"{what} {path!r}: unknown file type",
                                    help="use .parquet, .csv or .jsonl (JSON Lines)"))
    return fmt


def statement(tree: exp.Expression) -> str:
    """The DuckDB text of a statement's tree, written in place (``render(copy=False)``): every tree
    run here is built for that one statement."""
    return render(tree, copy=False)


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with bounded memory (spilling to a temp dir) and threads."""
    con = duckdb.connect(":memory:")
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")  # an int, formatted: no text from outside
        if memory_limit:
            con.execute(statement(exp.Set(expressions=[exp.SetItem(this=exp.EQ(
                this=exp.column("memory_limit"), expression=lit(memory_limit)))])))
        con.execute("SET preserve_insertion_order = true")
    except duckdb.Error as exc:
        raise UsageError(Diagnostic("E413", f"cannot set up DuckDB: {exc}")) from None
    return con


def _reader(path: str, fmt: str, columns: dict[str, str] | None = None) -> exp.Expression:
    """The table function reading a ledger file, as a tree (the path is a literal)."""
    args: list[exp.Expression] = [lit(path)]

    def named(name: str, value: exp.Expression) -> exp.Expression:
        return exp.PropertyEQ(this=exp.column(name), expression=value)

    if fmt == "parquet":
        return fn("read_parquet", *args)
    if fmt == "csv":
        return fn("read_csv", *args, named("header", exp.true()), named("all_varchar", exp.true()))
    args.append(named("format", lit("newline_delimited")))
    if columns is not None:
        struct = exp.Struct(expressions=[exp.PropertyEQ(this=ident(name), expression=lit(sql_type))
                                         for name, sql_type in columns.items()])
        args.append(named("columns", struct))
    return fn("read_json", *args)


def _describe(con, source: exp.Expression, path: str) -> dict[str, str]:
    try:
        rows = con.execute(statement(exp.Describe(this=exp.select("*").from_(source)))).fetchall()
    except duckdb.Error as exc:
        raise UsageError(Diagnostic("E410", f"cannot read ledger {path!r}: {_first_line(exc)}")) from None
    return {row[0]: row[1] for row in rows}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _header(con, path: str, fmt: str) -> list[str]:
    """The ledger's column names as the file spells them: DuckDB renames a second ``item`` to
    ``item_1``, which would leave the first one read as the fact and the other carried along."""
    try:
        if fmt == "csv":     # the header line as a row, read with the same sniffed dialect
            first = exp.select(exp.Star()).from_(fn("read_csv", lit(path), exp.PropertyEQ(
                this=exp.column("header"), expression=exp.false()), exp.PropertyEQ(
                this=exp.column("all_varchar"), expression=exp.true()))).limit(1)
            rows = con.execute(render(first)).fetchall()
            return [str(name) for name in rows[0]] if rows else []
        # parquet_schema lists the root, then every field depth first: the root's children are the columns
        schema = con.execute(render(exp.select(exp.column("name"), exp.column("num_children")).from_(
            fn("parquet_schema", lit(path))))).fetchall()
    except duckdb.Error as exc:
        raise UsageError(Diagnostic("E410", f"cannot read ledger {path!r}: {_first_line(exc)}")) from None
    names, pending = [], [schema[0][1] or 0] if schema else []
    for name, children in schema[1:]:
        while pending and pending[-1] == 0:
            pending.pop()
        if not pending:
            break
        pending[-1] -= 1
        if len(pending) == 1:
            names.append(name)
        if children:
            pending.append(children)
    return names


def refuse_duplicate_facts(names, policy: ir.Policy, where: str) -> None:
    """E412 when a fact of the policy is the name of more than one column (which one holds the fact
    would be a guess; a JSON object with a key given twice is E307 in the evaluator), or a column
    spells a fact in other case: DuckDB does not tell names apart by case, so it would read ``Item``
    as the fact ``item``, which the evaluator calls an unknown fact."""
    facts = {name.lower(): name for name in policy.facts}
    seen: set[str] = set()
    for name in map(str, names):
        key = name.lower()
        if key in facts and name != facts[key]:
            raise UsageError(Diagnostic("E412", f"{where} has a column {name!r}, which DuckDB cannot tell from "
                                                f"the fact {facts[key]!r} (it ignores case in names)",
                                        help="rename the column: facts are named exactly as the policy declares"))
        if key in seen and key in facts:
            raise UsageError(Diagnostic("E412", f"{where} has more than one column named {facts[key]!r}",
                                        help="give each fact one column: which one counts would be a guess"))
        seen.add(key)


def open_ledger(con, path: str, policy: ir.Policy):
    """(table expression, column types, decode_text, carried types) of a ledger file. JSON Lines
    fact columns are read as JSON, whatever their values, so that a bad value anywhere is a per-row
    error; the carried types are the columns as DuckDB would type them, for writing them back."""
    fmt = ledger_format(path)
    if not Path(path).is_file():
        raise UsageError(Diagnostic("E410", f"cannot read ledger {path!r}: no such file"))
    source = _reader(path, fmt)
    columns = _describe(con, source, path)
    if fmt != "jsonl":     # (DuckDB refuses a JSON object with a key given twice)
        refuse_duplicate_facts(_header(con, path, fmt), policy, repr(path))
    if fmt == "jsonl":
        refuse_duplicate_facts(columns, policy, repr(path))    # keys that differ only in case
        if list(columns) == ["json"] and columns["json"].startswith("MAP("):
            raise UsageError(Diagnostic("E410", f"cannot read ledger {path!r} as a table: its objects have "
                                                "no consistent keys (or an empty key)",
                                        help="give every line the same keys, each a non-empty name"))
        detected = columns
        columns = {**columns, **{name: "JSON" for name in policy.facts}}
        source = _reader(path, fmt, columns)
        columns = _describe(con, source, path)
        return source, columns, False, detected
    return source, columns, fmt == "csv", columns


@attrs.frozen
class Outcome:
    """Counts of one screening: rows decided per decision, per deciding rule, rejected per code."""

    decided: int
    rejected: int
    decisions: dict[str, int]
    rules: dict[str, int]
    codes: dict[str, int]
    rejected_facts: int

    @property
    def rows(self) -> int:
        return self.decided + self.rejected


def _copy(con, query: exp.Expression, path: str, what: str) -> int:
    """COPY the query's rows into a file (format by extension); returns the number of rows."""
    fmt = ledger_format(path, what)
    options = {"parquet": [("FORMAT", "parquet")], "csv": [("FORMAT", "csv"), ("HEADER", "true")],
               "jsonl": [("FORMAT", "json")]}[fmt]
    into_file = exp.Copy(this=exp.Subquery(this=query), kind=False, files=[lit(path)],
                         params=[exp.CopyParameter(this=exp.var(k), expression=exp.var(v)) for k, v in options])
    try:
        return con.execute(statement(into_file)).fetchall()[0][0]
    except duckdb.Error as exc:
        raise UsageError(Diagnostic("E411" if "write" in str(exc).lower() or "open" in str(exc).lower() else "E413",
                                    f"screening into {path!r} failed: {_first_line(exc)}")) from None


def screen_file(con, policy: ir.Policy, path: str, output: str | None, errors: str | None, *,
                keep: Sequence[str] | None = None, rules: bool = True, as_of: str | None = None,
                error_sample: int = 20) -> tuple[Outcome, list[tuple]]:
    """Screen a ledger file into ``output`` (and ``errors``); returns the counts and the first rejected
    facts as (row, fact, value, code).

    One pass over the ledger when every row is valid: the decided rows are written while they are
    decided, the input is counted from the file (a Parquet footer), and the counts per decision
    and rule are one aggregate over the output's two result columns. The rejected facts are
    computed only when rows are missing from the output, and their rows must then make up the
    difference exactly (E413 otherwise).

    The cyclic garbage collector is paused meanwhile (``collector_paused``): building and writing
    the query allocate tens of thousands of tree nodes, and a full collection over them, when
    one falls there, cost 0.1-0.15 s (measured at 250 rules, on a loaded machine)."""
    with collector_paused():
        return _screen_file(con, policy, path, output, errors, keep=keep, rules=rules, as_of=as_of,
                            error_sample=error_sample)


def _screen_file(con, policy: ir.Policy, path: str, output: str | None, errors: str | None, *,
                 keep: Sequence[str] | None, rules: bool, as_of: str | None,
                 error_sample: int) -> tuple[Outcome, list[tuple]]:
    for target, what in ((output, "output"), (errors, "error output")):
        if target is not None:
            ledger_format(target, what)
    source, columns, decode_text, carried = open_ledger(con, path, policy)
    _check_columns(carried, keep, rules)
    row_number = exp.Window(this=exp.RowNumber())
    query = build_screen_query(policy, source, columns, decode_text=decode_text, keep=keep, rules=rules,
                               as_of=as_of, row_number=row_number, carried_types=carried, enum_decision=True,
                               lookups=True)
    total = _scalar(con, exp.select(exp.Count(this=exp.Star())).from_(source))
    if output is not None:
        written = _copy(con, query.decided, output, "output")
        counted = _reader(output, ledger_format(output))
        if ledger_format(output) == "jsonl":
            counted = fn("read_json", lit(output), exp.PropertyEQ(this=exp.column("format"),
                                                                  expression=lit("newline_delimited")))
    else:
        counted, written = exp.Subquery(this=query.decided), None
    # an empty JSON Lines output reads back without columns: nothing to count
    decisions, by_rule = _decision_counts(con, counted, rules) if written != 0 else ({}, {})
    if written is not None and sum(decisions.values()) != written:
        raise UsageError(Diagnostic("E413", f"screening into {output!r}: {written} rows written, "
                                            f"{sum(decisions.values())} read back"))
    decided = sum(decisions.values())
    if decided == total:
        if errors is not None:
            _copy(con, exp.select(exp.Star()).from_(exp.Subquery(this=query.rejected)).limit(0), errors,
                  "error output")
        return Outcome(decided, 0, decisions, by_rule, {}, 0), []
    table = exp.to_table(REJECTED_TABLE)
    _relation(con, exp.Create(this=table, kind="TABLE", expression=query.rejected,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()])))
    if errors is not None:
        _copy(con, exp.select(exp.Star()).from_(table), errors, "error output")
    rejected, codes, facts, sample = _rejected_counts(con, table, error_sample)
    if decided + rejected != total:
        _mismatch(total, decided, rejected)
    return Outcome(decided, rejected, decisions, by_rule, codes, facts), sample


#: The temporary table holding the rejected facts of a screening (only when there are some).
REJECTED_TABLE = "__xpol_rejected"


def _decision_counts(con, decided_source: exp.Expression, rules: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per decision and per deciding rule, from one aggregate over (decision, rules)."""
    keys = [col(DECISION)] + ([col(RULES)] if rules else [])
    grouped = _relation(con, exp.select(*keys, exp.Count(this=exp.Star())).from_(decided_source).group_by(*keys))
    by_decision: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    for record in grouped.fetchall():
        by_decision[record[0]] = by_decision.get(record[0], 0) + record[-1]
        for rule_id in (record[1] or "").split(",") if rules else ():
            if rule_id:
                by_rule[rule_id] = by_rule.get(rule_id, 0) + record[-1]
    return by_decision, by_rule


def _rejected_counts(con, rejected_source: exp.Expression, sample: int):
    """(rejected rows, bad facts per code, bad facts, the first ``sample`` bad facts) of the rejected
    facts (row, fact, value, code), by aggregates: the bad facts never all come into Python."""
    rows = _scalar(con, exp.select(exp.Count(this=exp.Distinct(expressions=[col(ROW)]))).from_(rejected_source))
    codes = dict(_relation(con, exp.select(col(CODE), exp.Count(this=exp.Star())).from_(rejected_source)
                           .group_by(col(CODE))).fetchall())
    first = _relation(con, exp.select(col(ROW), col(FACT), col(VALUE), col(CODE)).from_(rejected_source)
                      .limit(sample)).fetchall()      # the table holds them in order
    return rows, codes, sum(codes.values()), first


def _relation(con, tree):
    try:
        return con.execute(statement(tree))
    except duckdb.Error as exc:
        raise UsageError(Diagnostic("E413", f"screening failed: {_first_line(exc)}")) from None


def _scalar(con, tree) -> int:
    return _relation(con, tree).fetchall()[0][0]


def _mismatch(total, decided, rejected):
    raise UsageError(Diagnostic("E413", f"screening lost rows: {total} read, {decided} decided, {rejected} rejected"))


def _check_columns(columns: dict[str, str], keep: Sequence[str] | None, rules: bool) -> None:
    clash = [c for c in (DECISION, RULES) if c in columns and (c == DECISION or rules)]
    if clash:
        raise UsageError(Diagnostic("E412", f"the ledger already has a column named {clash[0]!r}",
                                    help="rename it: the screening adds 'decision' and 'rules'"))
    for name in keep or ():
        if name not in columns:
            raise UsageError(Diagnostic("E412", f"--keep names {name!r}, which is not a column of the ledger"))


def evaluate_arrow(policy: ir.Policy, table, *, rules: bool = True, as_of: str | None = None):
    """(decided, rejected) Arrow tables for an in-memory table (Arrow, pandas or Polars): the valid
    rows with ``decision`` and ``rules``, and one row per bad fact (row, fact, value, code)."""
    con = connect()
    try:
        try:    # DuckDB reads Arrow, pandas and Polars; anything else, or a column type it cannot read, is E410
            con.register("ledger", table)
        except (duckdb.Error, TypeError) as exc:
            raise UsageError(Diagnostic("E410", f"cannot read the table ({type(table).__name__}): "
                                                f"{_first_line(exc)}",
                                        help="pass a pyarrow Table, a pandas or a Polars DataFrame")) from None
        source = exp.to_table("ledger")
        columns = _describe(con, source, "<table>")
        names = getattr(table, "column_names", None)     # pyarrow; pandas and Polars: ``columns``
        refuse_duplicate_facts(list(names if names is not None else getattr(table, "columns", ())), policy,
                               "the table")
        _check_columns(columns, None, rules)
        with collector_paused():
            query = build_screen_query(policy, source, columns, rules=rules, as_of=as_of, lookups=True)
            decided_sql, rejected_sql = statement(query.decided), statement(query.rejected)
        try:
            return con.sql(decided_sql).to_arrow_table(), con.sql(rejected_sql).to_arrow_table()
        except duckdb.Error as exc:
            raise UsageError(Diagnostic("E413", f"screening failed: {_first_line(exc)}")) from None
    finally:
        con.close()


__all__ = ["CODE", "FORMATS", "Outcome", "connect", "evaluate_arrow", "ledger_format", "open_ledger",
           "screen_file", "statement"]
