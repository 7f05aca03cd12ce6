"""A Parquet ledger whose fact column has a type that cannot hold the fact: every row is rejected.

A Parquet column has one type for every row, so a number fact in a BOOLEAN, list, struct, time or
blob column makes each row an E302 naming the fact (as the Python evaluator rejects a boolean or a
list given for a number), and the rest of the query still builds. Before the fix, building the
query failed on the first comparison of such a fact (``AttributeError`` inside ``screen``: an
internal error on the command line).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import exportdsl

ROOT = Path(__file__).resolve().parent.parent
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"

#: A valid October row: every fact compared by some rule, the number facts among them.
ROW = {"ship_date": "2025-12-05", "export_from": "CN", "export_to": "DE", "origin": "CN", "item": "battery",
       "magnet_family": "none", "elements": ["Dy"], "re_content": 0, "cn_re_tech": [], "battery_wh_per_kg": 350,
       "end_use": "logic_chips", "logic_node_nm": 7, "memory_layers": 300, "ai_military_potential": False,
       "end_user": "Acme GmbH", "end_user_military": False, "cn_listed_ownership": 0}

#: Column types that no number, integer or percent fact can be read from.
NOT_NUMBERS = ["TRUE", "['7']::VARCHAR[]", "{'a': 7}", "TIME '10:00:00'", "'\\x07'::BLOB", "[7]::INT[]"]


def _sql(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return f"{value!r}::VARCHAR[]" if value else "[]::VARCHAR[]"
    return "'" + value.replace("'", "''") + "'"


def _ledger(path: Path, fact: str, column: str, rows: int = 3) -> None:
    select = "SELECT " + ", ".join(f"{column if name == fact else _sql(value)} AS {name}"
                                   for name, value in ROW.items())
    duckdb.sql(f"COPY ({' UNION ALL '.join([select] * rows)}) TO '{path}' (FORMAT parquet)")


def test_the_valid_row_is_decided_by_the_comparisons_of_the_number_facts(tmp_path):
    policy = exportdsl.load(OCTOBER)
    ledger = tmp_path / "ledger.parquet"
    _ledger(ledger, "item", _sql("battery"))
    result = policy.screen(str(ledger), str(tmp_path / "out.jsonl"))
    assert (result.decided, result.rejected) == (3, 0)
    assert policy.evaluate(ROW).decision == "license_required"      # battery_wh_per_kg >= 300 decides


@pytest.mark.parametrize("fact", ["battery_wh_per_kg", "logic_node_nm", "re_content"])
@pytest.mark.parametrize("column", NOT_NUMBERS)
def test_a_number_fact_in_a_column_of_another_type_rejects_every_row(fact, column, tmp_path):
    policy = exportdsl.load(OCTOBER)
    with pytest.raises(exportdsl.EvaluationError) as error:
        policy.evaluate({**ROW, fact: True})
    assert [d.code for d in error.value.diagnostics] == ["E302"]    # the evaluator's answer for a boolean
    ledger, errors = tmp_path / "ledger.parquet", tmp_path / "errors.jsonl"
    _ledger(ledger, fact, column)
    result = policy.screen(str(ledger), str(tmp_path / "out.parquet"), str(errors))
    assert (result.decided, result.rejected) == (0, 3)
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["row"], r["fact"], r["code"]) for r in rejected] == [(n, fact, "E302") for n in (1, 2, 3)]


# ---- columns that are missing, or null-typed, and tables DuckDB cannot read ------------------------

REFERENCE = sorted((ROOT / "policies").glob("cn-rare-earths-2025-*.xpol"))


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.stem)
def test_a_ledger_without_the_number_columns_rejects_every_row_as_missing(path, tmp_path):
    policy = exportdsl.load(path)
    ledger, errors = tmp_path / "few.parquet", tmp_path / "errors.jsonl"
    duckdb.sql(f"COPY (SELECT DATE '2025-12-05' AS ship_date, 'CN' AS export_from) TO '{ledger}' (FORMAT parquet)")
    result = policy.screen(str(ledger), str(tmp_path / "out.parquet"), str(errors))
    assert (result.decided, result.rejected) == (0, 1)
    rejected = {(r["fact"], r["code"]) for r in map(json.loads, errors.read_text().splitlines())}
    assert rejected == {(name, "E301") for name, fact in policy.ir.facts.items()
                        if fact.required and name not in ("ship_date", "export_from")}


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.stem)
def test_arrow_columns_of_nulls_only_are_missing_values(path):
    pa = pytest.importorskip("pyarrow")
    policy = exportdsl.load(path)
    table = pa.table({name: pa.nulls(2) for name in policy.facts})
    with pytest.raises(exportdsl.EvaluationError) as error:
        policy.evaluate_table(table)
    assert {d.code for d in error.value.diagnostics} == {"E301"}


@pytest.mark.parametrize("table", [None, [1, 2], "ledger.parquet", {"item": ["metal"]}, "decimal256"])
def test_what_duckdb_cannot_read_as_a_table_is_e410(table):
    pa = pytest.importorskip("pyarrow")
    if table == "decimal256":
        from decimal import Decimal
        table = pa.table({"re_content": pa.array([Decimal(1)], pa.decimal256(40, 5))})
    with pytest.raises(exportdsl.UsageError) as error:
        exportdsl.load(OCTOBER).evaluate_table(table)
    assert [d.code for d in error.value.diagnostics] == ["E410"]


# ---- a fact's column given twice ---------------------------------------------------------------------

def _csv(path: Path, names: list[str], values: list[str]) -> None:
    import csv
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerow(values)


def _csv_row() -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, (list, bool)) else str(v) for k, v in ROW.items()}


@pytest.mark.parametrize("second_first", [False, True])
def test_a_csv_ledger_with_a_fact_column_twice_is_refused_whichever_comes_first(second_first, tmp_path):
    """DuckDB renames the second ``item`` to ``item_1``: the first one was read as the fact and the
    other carried along, so the decision depended on the column order (exit 0 either way)."""
    row = _csv_row()
    names, values = list(row) + ["item"], list(row.values()) + ["other"]
    if second_first:
        names, values = names[-1:] + names[:-1], values[-1:] + values[:-1]
    ledger, out = tmp_path / "ledger.csv", tmp_path / "out.csv"
    _csv(ledger, names, values)
    with pytest.raises(exportdsl.UsageError) as error:
        exportdsl.load(OCTOBER).screen(str(ledger), str(out))
    assert [d.code for d in error.value.diagnostics] == ["E412"] and "'item'" in str(error.value)
    assert not out.exists()


def test_a_repeated_column_that_is_not_a_fact_is_still_carried(tmp_path):
    row = _csv_row()
    ledger, out = tmp_path / "ledger.csv", tmp_path / "out.csv"
    _csv(ledger, list(row) + ["note", "note"], list(row.values()) + ["a", "b"])
    result = exportdsl.load(OCTOBER).screen(str(ledger), str(out))
    assert (result.decided, result.rejected) == (1, 0)


def test_parquet_and_arrow_with_a_fact_column_twice_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    columns = {name: pa.array([value]) for name, value in ROW.items()}
    table = pa.Table.from_arrays([*columns.values(), pa.array(["other"])], names=[*columns, "item"])
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(table, ledger)
    policy = exportdsl.load(OCTOBER)
    for run in (lambda: policy.screen(str(ledger), str(tmp_path / "out.parquet")), lambda: policy.evaluate_table(table)):
        with pytest.raises(exportdsl.UsageError) as error:
            run()
        assert [d.code for d in error.value.diagnostics] == ["E412"]


def test_the_header_of_a_parquet_ledger_is_its_top_level_columns(tmp_path):
    from exportdsl.backends.sql import duckdb_engine
    ledger = tmp_path / "nested.parquet"
    duckdb.sql(f"COPY (SELECT {{'a': [1, 2], 'b': {{'c': 1}}}} AS s, [[1]] AS ll, 3 AS z, MAP {{'k': 1}} AS m, "
               f"['Dy'] AS elements) TO '{ledger}' (FORMAT parquet)")
    assert duckdb_engine._header(duckdb.connect(), str(ledger), "parquet") == ["s", "ll", "z", "m", "elements"]


def test_a_column_that_spells_a_fact_in_other_case_is_refused(tmp_path):
    """DuckDB does not tell names apart by case: it read ``ITEM`` as the fact ``item`` (which the
    evaluator calls an unknown fact), and a JSON Lines ledger whose ``ITEM`` key came before ``item``
    failed as a whole with a binder error (found by test_sql_differential's Hypothesis run)."""
    policy = exportdsl.load(OCTOBER)
    row = _csv_row()
    for order in ("fact last", "alone"):
        names = [("ITEM" if n == "item" else n) for n in row] + (["item"] if order == "fact last" else [])
        ledger = tmp_path / f"{order}.csv"
        _csv(ledger, names, list(row.values()) + (["other"] if order == "fact last" else []))
        with pytest.raises(exportdsl.UsageError) as error:
            policy.screen(str(ledger), str(tmp_path / "out.csv"))
        assert [d.code for d in error.value.diagnostics] == ["E412"] and "'ITEM'" in str(error.value)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps({"ITEM": "other"}) + "\n" + json.dumps(ROW) + "\n", encoding="utf-8")
    with pytest.raises(exportdsl.UsageError) as error:
        policy.screen(str(ledger), str(tmp_path / "out.jsonl"))
    assert [d.code for d in error.value.diagnostics] == ["E412"]


def test_after_the_fact_a_key_in_other_case_is_carried_as_the_evaluator_ignores_it(tmp_path):
    policy = exportdsl.load(OCTOBER)
    ledger, out = tmp_path / "ledger.jsonl", tmp_path / "out.jsonl"
    ledger.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "ITEM": "other"}) + "\n", encoding="utf-8")
    result = policy.screen(str(ledger), str(out))
    assert (result.decided, result.rejected) == (2, 0)
    want = policy.evaluate(ROW).decision
    assert [json.loads(line)["decision"] for line in out.read_text().splitlines()] == [want, want]
