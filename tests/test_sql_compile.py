"""The SQL trees: exact number comparisons (Hypothesis, on DuckDB), quoting of hostile text in both
dialects, and the compiled query of ``exportdsl compile`` running on DuckDB as printed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import exportdsl
from exportdsl.backends.sql.conditions import compare_number
from exportdsl.backends.sql.facts import Numeric
from exportdsl.backends.sql.nodes import col, lit, render
from exportdsl.backends.sql.query import compile_query
from exportdsl.operators import CompareOp
from exportdsl.semantics import compare

POLICIES = Path(__file__).resolve().parent.parent / "policies"
OPS = list(CompareOp)
literals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e25"), max_value=Decimal("1e25")),
    st.sampled_from(["0.1", "0.30000000000000004", "0.3", "1e400", "-1e400", "0.10000000000000000001",
                     "99.99", "1", "-0", "123456789012345678901234567890.5"]).map(Decimal),
)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=150)
@given(literal=literals, values=st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                                      min_value=-10**6, max_value=10**6), min_size=1, max_size=8),
       op=st.sampled_from(OPS))
def test_decimal_column_compares_exactly(con, literal, values, op):
    rows = ", ".join(f"(CAST('{v}' AS DECIMAL(18, 4)))" for v in values)
    condition = compare_number(col("x"), Numeric("grid", 4, 10**18), op, literal)
    got = con.execute(f"SELECT {render(condition)} FROM (VALUES {rows}) AS t(x)").fetchall()
    assert [g[0] for g in got] == [compare(op, v, literal) for v in values]


@settings(max_examples=150)
@given(literal=literals, values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8),
       op=st.sampled_from(OPS))
def test_double_column_compares_like_the_evaluator_reads_floats(con, literal, values, op):
    values = values + [float(literal)] if abs(literal) < Decimal("1e300") else values
    rows = ", ".join(f"(CAST('{v!r}' AS DOUBLE))" for v in values)
    condition = compare_number(col("x"), Numeric("double"), op, literal)
    got = con.execute(f"SELECT {render(condition)} FROM (VALUES {rows}) AS t(x)").fetchall()
    assert [g[0] for g in got] == [compare(op, Decimal(repr(v)), literal) for v in values]


HOSTILE = ["it's", "back\\slash", "x'); DROP TABLE t; --", 'dq"uote', "\\'", "line\nbreak", "中文"]


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_one_literal_and_one_identifier(dialect, text):
    tree = exp.select(exp.alias_(lit(text), "v")).from_(exp.Table(this=exp.Identifier(this=text, quoted=True)))
    sql = render(tree, dialect)
    parsed = sqlglot.parse_one(sql, read="spark" if dialect == "spark" else "duckdb")
    assert [lit_.this for lit_ in parsed.find_all(exp.Literal)] == [text]
    assert parsed.find(exp.Table).name == text


def test_compiled_query_runs_on_duckdb_as_printed(con):
    policy = exportdsl.load(POLICIES / "quickstart.xpol")
    con.execute("""CREATE OR REPLACE TABLE ledger AS SELECT DATE '2025-12-01' AS ship_date, 'CN' AS origin,
                   'JP' AS export_from, CAST(0.1 AS DECIMAL(38, 18)) AS re_content, 'military' AS end_use,
                   ['Nd'] AS elements, 'Acme' AS end_user, CAST(0 AS DECIMAL(38, 18)) AS quantity_kg""")
    rows = con.execute(compile_query(policy.ir)).fetchall()
    assert [(r[-2], r[-1]) for r in rows] == [("deny", "Q1")]


def test_spark_rendering_uses_spark_functions():
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    sql = compile_query(policy.ir, "spark")
    assert "LIST_" not in sql.upper() and "REGEXP_FULL_MATCH" not in sql.upper()
    sqlglot.parse_one(sql, read="spark")   # parses back as Spark SQL
