"""The same compiled policy on Spark: a few hundred rows on a local session (``local[2]``) get the
decisions and rules DuckDB gives, and bad rows the same (row, fact, code).

Skipped, saying why, when pyspark or a Java runtime is missing (``pip install 'exportdsl[spark]'``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (the 'spark' extra)")
if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH (Spark needs Java 17)", allow_module_level=True)

import pyarrow.parquet as pq  # noqa: E402

import exportdsl  # noqa: E402
from exportdsl import spark as exportdsl_spark  # noqa: E402
from test_screen import generated_rows, write_jsonl  # noqa: E402

pytestmark = pytest.mark.spark
POLICIES = Path(__file__).resolve().parent.parent / "policies"


@pytest.fixture(scope="module")
def session():
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("exportdsl-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    yield spark
    spark.stop()


def test_spark_decides_like_duckdb(session, tmp_path):
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    rows = [{**row, "row_id": i} for i, row in enumerate(generated_rows(300, seed=9))]
    rows[17]["origin"] = "Mars"
    rows[42]["re_content"] = 150
    ledger = tmp_path / "ledger.jsonl"
    write_jsonl(ledger, rows)
    decided, rejected = exportdsl_spark.evaluate(policy, session.read.json(str(ledger)))
    spark_rows = {r["row_id"]: (r["decision"], r["rules"]) for r in decided.collect()}
    spark_bad = sorted((r["row"], r["fact"], r["code"]) for r in rejected.collect())
    result = policy.screen(ledger, tmp_path / "duck.parquet", tmp_path / "duck-errors.parquet")
    duck_rows = {r["row_id"]: (r["decision"], r["rules"]) for r in pq.read_table(tmp_path / "duck.parquet").to_pylist()}
    assert len(spark_rows) == result.decided == 298
    assert spark_rows == duck_rows
    assert spark_bad == [(18, "origin", "E303"), (43, "re_content", "E303")]
    duck_bad = pq.read_table(tmp_path / "duck-errors.parquet").to_pylist()
    assert sorted((r["row"], r["fact"], r["code"]) for r in duck_bad) == spark_bad
    assert json.dumps(sorted(spark_rows.items()))  # decisions are plain strings
