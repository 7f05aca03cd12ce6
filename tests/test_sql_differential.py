"""Differential: the SQL backend on DuckDB decides exactly like the reference interpreter, row by row.

Random policies (policygen) and random rows, valid and broken, are screened from a JSON Lines file
and from a typed Arrow table, with and without the rule lookups (``backends/sql/lookups.py``); every decided row must have the interpreter's decision and rules (the
same ids in the same order), and every rejected row the interpreter's (fact, code) pairs. Rows
are shaped to what a table can say (see docs/cli.rst, "screen"): a null cell is a missing fact,
extra columns are carried through (never E304), and JSON numbers are read as doubles by DuckDB,
so the JSON test gives numbers at most 15 significant digits (exact decimals: the Arrow test).
"""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from unittest import mock

import pyarrow as pa
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import exportdsl
import policygen
from exportdsl.backends.sql import duckdb_engine, lookups

_FACT = re.compile(r"fact '([^']*)'")


def expected(policy, row: dict):
    """('decided', decision, rules) or ('rejected', sorted (fact, code) pairs) from the interpreter."""
    facts = {k: v for k, v in row.items() if k in policy.facts and v is not None}
    try:
        decision, rules = policy.interpret(facts)
    except exportdsl.EvaluationError as exc:
        return ("rejected", sorted((_FACT.search(d.message)[1], d.code) for d in exc.diagnostics))
    return ("decided", decision, ",".join(rules))


def _significant(value) -> int:
    digits = format(Decimal(value), "f").replace("-", "").replace(".", "").strip("0")
    return len(digits)


def _json_ready(value):
    """The value as a JSON Lines ledger can carry it exactly through DuckDB, or raise ValueError."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        if isinstance(value, str) and value.endswith("%") and re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", value[:-1]):
            if _significant(value[:-1]) > 15:
                raise ValueError("too many digits for a double")
        return value
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise ValueError("beyond a double")
        return value
    if isinstance(value, (float, Decimal)):
        if not Decimal(value).is_finite():
            raise ValueError("not JSON")
        number = Decimal(repr(float(value)))
        if Decimal(value) != number and _significant(value) > 15:
            raise ValueError("too many digits for a double")
        return float(value)
    if isinstance(value, datetime.datetime):
        raise ValueError("not JSON")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        return [_json_ready(v) for v in items]
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    raise ValueError("not JSON")


@st.composite
def policy_and_rows(draw, size=12):
    spec = draw(policygen.policies())
    rows = []
    for _ in range(draw(st.integers(1, size))):
        if draw(st.integers(0, 3)) == 0:
            row, _codes = draw(policygen.broken_transactions(spec))
            if not isinstance(row, dict):
                continue
        else:
            row = draw(policygen.transactions(spec))
        rows.append(row)
    return spec, rows


def _decimal_text(value) -> str:
    return format(value, "f") if isinstance(value, Decimal) else repr(value)


def _dumps(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, allow_nan=False)


def screened(policy, path, tmp_path):
    out = tmp_path / "out.jsonl"
    errors = tmp_path / "errors.jsonl"
    con = duckdb_engine.connect(threads=1)
    outcome, _ = duckdb_engine.screen_file(con, policy.ir, str(path), str(out), str(errors))
    decided = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    rejected = [json.loads(line) for line in errors.read_text(encoding="utf-8").split("\n") if line]
    return outcome, decided, rejected


@settings(max_examples=60, phases=[Phase.explicit, Phase.generate])
@given(policy_and_rows())
def test_jsonl_screening_equals_interpreter(tmp_path_factory, case):
    check_jsonl_screening(tmp_path_factory, case)


@settings(max_examples=40, phases=[Phase.explicit, Phase.generate])
@given(policy_and_rows())
def test_jsonl_screening_by_lookups_equals_interpreter(tmp_path_factory, case):
    """The same with every plain rule decided by lookups (``lookups.MIN_RULES`` is 1)."""
    with mock.patch.object(lookups, "MIN_RULES", 1):
        check_jsonl_screening(tmp_path_factory, case)


def check_jsonl_screening(tmp_path_factory, case):
    spec, raw_rows = case
    policy = exportdsl.compile(spec.text)
    rows = []
    for row in raw_rows:
        if "" in row:
            continue  # DuckDB reads such a file as one map column: refused with E410 (test_screen.py)
        try:
            rows.append({k: _json_ready(v) for k, v in row.items()})
        except ValueError:
            continue
    tmp_path = tmp_path_factory.mktemp("screen")
    path = tmp_path / "ledger.jsonl"
    # a first row with every fact and a non-fact column, so that every column exists
    path.write_text("".join(_dumps({**row, "zz_carried": i}) + "\n" for i, row in enumerate(rows)) or "\n",
                    encoding="utf-8")
    if not rows:
        return
    keys = {key for row in rows for key in row}
    try:
        outcome, decided, rejected = screened(policy, path, tmp_path)
    except exportdsl.UsageError as error:
        # a key that spells a fact in other case (DuckDB does not tell names apart by case) is
        # refused when DuckDB meets it before the fact's own key (tests/test_screen_column_types.py);
        # after it, DuckDB renames it and it is carried, as the evaluator reads only the exact key
        assert [d.code for d in error.diagnostics] == ["E412"], error
        assert any(key != fact and key.lower() == fact.lower() for key in keys for fact in policy.facts)
        return
    assert outcome.rows == len(rows)
    want = [expected(policy, json.loads(_dumps(row), parse_float=Decimal)) for row in rows]
    got_decided = iter(decided)
    by_row: dict[int, list] = {}
    for entry in rejected:
        by_row.setdefault(entry["row"], []).append((entry["fact"], entry["code"]))
    for number, (row, result) in enumerate(zip(rows, want), 1):
        if result[0] == "decided":
            assert number not in by_row, (row, by_row.get(number), result)
            out = next(got_decided)
            assert out["zz_carried"] == number - 1
            assert (out["decision"], out["rules"]) == result[1:], (spec.text, row)
        else:
            assert sorted(by_row.get(number, [])) == result[1], (spec.text, row)
    assert next(got_decided, None) is None
    assert outcome.decided + outcome.rejected == len(rows)


# ---- typed Arrow tables: exact decimals ---------------------------------------------------------------

SCALE = 20


def _arrow_type(fact_type):
    kind = fact_type.kind.value
    return {"bool": pa.bool_(), "integer": pa.int64(), "number": pa.decimal128(38, SCALE),
            "percent": pa.decimal128(38, SCALE), "date": pa.date32(), "set": pa.list_(pa.string())
            }.get(kind, pa.string())


def _arrow_value(fact_type, value):
    """The value in the column's type, or raise ValueError when that type cannot hold it."""
    kind = fact_type.kind.value
    if value is None:
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
            raise ValueError
        return value
    if kind in ("number", "percent"):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or not Decimal(value).is_finite():
            raise ValueError
        d = Decimal(value)
        if abs(d) >= 10**(38 - SCALE) or d.as_tuple().exponent < -SCALE:
            raise ValueError
        return d
    if kind == "date":
        if isinstance(value, str):
            return datetime.date.fromisoformat(value)
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        raise ValueError
    if kind == "set":
        if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
            raise ValueError
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if not isinstance(value, str):
        raise ValueError
    return value


@settings(max_examples=60, phases=[Phase.explicit, Phase.generate])
@given(policy_and_rows())
def test_arrow_screening_equals_interpreter(case):
    check_arrow_screening(case)


@settings(max_examples=60, phases=[Phase.explicit, Phase.generate])
@given(policy_and_rows())
def test_arrow_screening_by_lookups_equals_interpreter(case):
    """The same with every plain rule decided by lookups (``lookups.MIN_RULES`` is 1)."""
    with mock.patch.object(lookups, "MIN_RULES", 1):
        check_arrow_screening(case)


def check_arrow_screening(case):
    spec, raw_rows = case
    policy = exportdsl.compile(spec.text)
    rows = []
    for row in raw_rows:
        try:
            rows.append({name: _arrow_value(ftype, row.get(name)) for name, ftype in policy.facts.items()})
        except (ValueError, TypeError):
            continue
    if not rows:
        return
    schema = pa.schema([(name, _arrow_type(ftype)) for name, ftype in policy.facts.items()])
    table = pa.Table.from_pylist(rows, schema=schema)
    decided, rejected = duckdb_engine.evaluate_arrow(policy.ir, table)
    decided_rows = iter(decided.to_pylist())
    by_row: dict[int, list] = {}
    for entry in rejected.to_pylist():
        by_row.setdefault(entry["row"], []).append((entry["fact"], entry["code"]))
    for number, row in enumerate(rows, 1):
        result = expected(policy, row)
        if result[0] == "decided":
            assert number not in by_row, (spec.text, row, by_row.get(number))
            out = next(decided_rows)
            assert (out["decision"], out["rules"]) == result[1:], (spec.text, row)
        else:
            assert sorted(by_row.get(number, [])) == result[1], (spec.text, row)
    assert next(decided_rows, None) is None
