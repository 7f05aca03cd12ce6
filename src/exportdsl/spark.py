"""Screening on Apache Spark: the SQL backend's queries, rendered as Spark SQL, over a DataFrame.

``exportdsl.spark.evaluate(policy, dataframe)`` returns two DataFrames: the valid rows with
``decision`` and ``rules``, and the rejected facts (row, fact, value, code), exactly as the DuckDB
engine decides (same tree, other dialect). Row numbers follow the DataFrame's order
(``monotonically_increasing_id``). The session runs with ``spark.sql.ansi.enabled`` off, so that
a value that does not convert is NULL (and rejected), never a failed job.

pyspark is the ``spark`` extra; it and a Java 17 runtime are needed only when this module is used.
``exportdsl screen --engine spark`` reads the ledger on a local session and writes Spark output
folders (``OUT`` holds the part files).
"""

from __future__ import annotations

import re
import uuid

from .errors import Diagnostic, UsageError

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)\Z")


def _pyspark():
    try:
        import pyspark.sql
    except ImportError:
        raise UsageError(Diagnostic("E413", "the Spark engine needs pyspark",
                                    help="pip install 'exportdsl[spark]' (and a Java 17 runtime)")) from None
    return pyspark.sql


def column_type(data_type) -> str:
    """The DuckDB spelling of a Spark column type (what the SQL backend's fact columns expect)."""
    name = data_type.simpleString()
    simple = {"boolean": "BOOLEAN", "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER",
              "bigint": "BIGINT", "double": "DOUBLE", "float": "FLOAT", "string": "VARCHAR", "date": "DATE"}
    if name in simple:
        return simple[name]
    match = _DECIMAL.match(name)
    if match:
        return f"DECIMAL({match[1]}, {match[2]})"
    if name.startswith("array<") and name.endswith(">"):
        inner = simple.get(name[6:-1])
        return f"{inner}[]" if inner else "OTHER[]"
    return name.upper()


def evaluate(policy, dataframe, *, rules: bool = True, as_of: str | None = None):
    """(decided, rejected) DataFrames for ``dataframe`` screened by ``policy`` (a Policy or its IR)."""
    _pyspark()
    from sqlglot import exp

    from .backends.sql.nodes import fn, render
    from .backends.sql.query import build_screen_query
    policy_ir = getattr(policy, "ir", policy)
    spark = dataframe.sparkSession
    spark.conf.set("spark.sql.ansi.enabled", "false")
    view = f"exportdsl_ledger_{uuid.uuid4().hex}"
    dataframe.createOrReplaceTempView(view)
    columns = {field.name: column_type(field.dataType) for field in dataframe.schema.fields}
    row_number = exp.Window(this=exp.RowNumber(), order=exp.Order(
        expressions=[exp.Ordered(this=fn("monotonically_increasing_id"))]))
    query = build_screen_query(policy_ir, exp.Table(this=exp.Identifier(this=view, quoted=True)), columns,
                               rules=rules, as_of=as_of, row_number=row_number)
    return spark.sql(render(query.decided, "spark")), spark.sql(render(query.rejected, "spark"))


def screen_file(policy, source, output, errors, *, keep=None, rules=True, as_of=None):
    """Screen a ledger file on a local Spark session (``local[2]``); returns (rows, decided, rejected,
    rows per decision, rejected facts per code, first rejected facts)."""
    sql = _pyspark()
    from .backends.sql.duckdb_engine import ledger_format
    fmt = ledger_format(source)
    spark = sql.SparkSession.builder.master("local[2]").appName("exportdsl").getOrCreate()
    reader = {"parquet": spark.read.parquet, "csv": lambda p: spark.read.option("header", "true").csv(p),
              "jsonl": spark.read.json}[fmt]
    frame = reader(source)
    if keep:
        frame = frame.select(*keep, *[c for c in getattr(policy, "facts", {}) if c in frame.columns and c not in keep])
    decided, rejected = evaluate(policy, frame, rules=rules, as_of=as_of)
    if output:
        _writer(decided, ledger_format(output, "output"))(output)
    if errors:
        _writer(rejected, ledger_format(errors, "error output"))(errors)
    counts = dict(decided.groupBy("decision").count().collect())
    codes = dict(rejected.groupBy("code").count().collect())
    rejected_rows = rejected.select("row").distinct().count()
    sample = tuple(tuple(r) for r in rejected.limit(20).collect())
    decided_rows = sum(counts.values())
    return decided_rows + rejected_rows, decided_rows, rejected_rows, counts, codes, sample


def _writer(frame, fmt):
    write = frame.write.mode("overwrite")
    return {"parquet": write.parquet, "csv": lambda p: write.option("header", "true").csv(p),
            "jsonl": write.json}[fmt]
