"""What makes screening fast must not change what it decides: literals in the column's own type,
shared conjuncts pulled out of each tier's OR, set elements checked by their bitmask, and the
one-pass screen that computes the rejected facts only when rows are missing from the output."""

from __future__ import annotations

import itertools
from pathlib import Path
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import exportdsl
from exportdsl.backends.sql.conditions import compare_number, factored_or
from exportdsl.backends.sql.facts import Numeric, classify
from exportdsl.backends.sql.nodes import and_, col, negate, or_, paren, render
from exportdsl.operators import CompareOp
from exportdsl.semantics import compare


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


# ---- literals in the column's own type ----------------------------------------------------------

COLUMN_TYPES = {"TINYINT": (-128, 127), "SMALLINT": (-2**15, 2**15 - 1), "INTEGER": (-2**31, 2**31 - 1),
                "UHUGEINT": (0, 2**128 - 1), "UINTEGER": (0, 2**32 - 1),
                "BIGINT": (-2**63, 2**63 - 1), "UTINYINT": (0, 255), "HUGEINT": (-2**127, 2**127 - 1)}


@settings(max_examples=200)
@given(sql_type=st.sampled_from([*COLUMN_TYPES, "DECIMAL(9,4)", "DECIMAL(4,1)"]), data=st.data(),
       op=st.sampled_from(list(CompareOp)))
def test_typed_columns_compare_exactly_near_their_bounds(con, sql_type, data, op):
    source = classify(sql_type)
    if source.kind == "int":
        low, high = COLUMN_TYPES[sql_type]
        edges = [v for v in (low, low + 1, -1, 0, 1, high - 1, high) if low <= v <= high]
        values = data.draw(st.lists(st.sampled_from(edges) | st.integers(low, high), min_size=1, max_size=6))
        values = [Decimal(v) for v in values]
    else:
        limit = Decimal(source.bound - 1).scaleb(-source.scale)
        values = data.draw(st.lists(st.sampled_from([-limit, limit, Decimal(0)])
                                    | st.decimals(min_value=-limit, max_value=limit, places=source.scale),
                                    min_size=1, max_size=6))
    near = [v + d for v in values for d in (Decimal("-0.5"), Decimal(0), Decimal("0.05"), Decimal(1))]
    literal = data.draw(st.sampled_from(near) | st.decimals(allow_nan=False, allow_infinity=False,
                                                            min_value=-10**40, max_value=10**40))
    numeric = Numeric("grid", source.scale, source.bound, sql_type=source.sql_type)
    condition = compare_number(col("x"), numeric, op, literal)
    rows = ", ".join(f"(CAST('{v}' AS {sql_type}))" for v in values)
    got = con.execute(f"SELECT {render(condition)} FROM (VALUES {rows}) AS t(x)").fetchall()
    assert [g[0] for g in got] == [compare(op, v, literal) for v in values], render(condition)


# ---- shared conjuncts pulled out ----------------------------------------------------------------

ATOMS = ["a", "b", "c", "d"]
atom = st.builds(lambda name, negated: negate(col(name)) if negated else col(name),
                 st.sampled_from(ATOMS), st.booleans())
terms = st.lists(st.lists(atom, min_size=1, max_size=4), min_size=1, max_size=8)


@settings(max_examples=200)
@given(terms=terms)
def test_factored_or_is_the_plain_or_in_three_valued_logic(con, terms):
    plain = or_(*(paren(and_(*(t.copy() for t in term))) for term in terms))
    factored = factored_or([and_(*(t.copy() for t in term)) for term in terms])
    values = ("TRUE", "FALSE", "NULL")
    rows = ", ".join("(" + ", ".join(f"CAST({v} AS BOOLEAN)" for v in combo) + ")"
                     for combo in itertools.product(values, repeat=len(ATOMS)))
    got = con.execute(f"SELECT {render(plain)}, {render(factored)} FROM (VALUES {rows}) "
                      f"AS t({', '.join(ATOMS)})").fetchall()
    assert all(p is f for p, f in got), (render(plain), render(factored))


def test_factoring_pulls_a_shared_conjunct_out_once():
    a, x, y, z = (col(n) for n in "axyz")
    factored = render(factored_or([and_(a, x), and_(a.copy(), y), z]))
    assert factored.count('"a"') == 1 and '"z"' in factored, factored
    assert render(factored_or([and_(a.copy(), x.copy()), a.copy()])) in ('"a" AND (TRUE)', '("a" AND (TRUE))'), \
        render(factored_or([and_(a.copy(), x.copy()), a.copy()]))


# ---- set elements checked by the bitmask, and the one-pass screen --------------------------------

POLICY = """
policy "masked" version "1"
decisions allow < deny
default allow
fact kind: enum {a, b, c}
fact tags: set of enum {x, y, z}
rule D { tags contains any {x} and kind = a -> deny }
"""
#: The same with ``tags`` tested only by ``is empty``: its elements are checked without a bitmask
#: (``facts.checked_length``), and must be rejected all the same.
EMPTINESS = POLICY.replace("tags contains any {x}", "tags is not empty")


def _interpreted(policy, row):
    facts = {k: v for k, v in row.items() if k in ("kind", "tags") and v is not None}
    try:
        decision, rules = policy.interpret(facts)
    except exportdsl.EvaluationError as exc:
        return sorted(d.code for d in exc.diagnostics)
    return decision


ROWS = [{"id": 1, "kind": "a", "tags": ["x"]}, {"id": 2, "kind": "a", "tags": ["x", None]},
        {"id": 3, "kind": "b", "tags": ["q"]}, {"id": 4, "kind": "a", "tags": None},
        {"id": 5, "kind": "a", "tags": ["y", "q", None]}, {"id": 6, "kind": "c", "tags": []},
        {"id": 7, "kind": "a", "tags": [None, "q"]}, {"id": 8, "kind": "d", "tags": ["x"]},
        {"id": 9, "kind": "a", "tags": ["z", "y"]}, {"id": 10, "kind": "a", "tags": []}]


@pytest.mark.parametrize("text", [POLICY, EMPTINESS], ids=["contains", "is-empty"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_set_elements_rejected_like_the_evaluator(tmp_path, suffix, text):
    policy = exportdsl.compile(text)
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS, schema=pa.schema(
        [("id", pa.int64()), ("kind", pa.string()), ("tags", pa.list_(pa.string()))])), ledger)
    out, errors = tmp_path / f"out{suffix}", tmp_path / "errors.parquet"
    result = policy.screen(str(ledger), str(out), str(errors))
    decided = dict(duckdb.sql(f"SELECT id, decision FROM '{out}'").fetchall()) if suffix != ".jsonl" else dict(
        duckdb.sql(f"SELECT id, decision FROM read_json('{out}', format = 'newline_delimited')").fetchall())
    bad: dict[int, list] = {}
    for row, code in duckdb.sql(f"SELECT row, code FROM '{errors}'").fetchall():
        bad.setdefault(row, []).append(code)
    for number, row in enumerate(ROWS, 1):
        want = _interpreted(policy, row)
        if isinstance(want, str):
            assert decided.get(row["id"]) == want and number not in bad, row
        else:
            assert sorted(bad.get(number, [])) == want and row["id"] not in decided, row
    assert result.rows == len(ROWS) == result.decided + result.rejected
    assert result.rejected == len(bad) > 0


ONEHOT = """
policy "onehot" version "1"
decisions allow < review < deny
default allow
fact to: country
fact user: string
fact kind: enum {a, b, c}
rule D { to in {CN, RU} and user != "ok" and kind != c -> deny }
rule R { to = US or user in {"x|y", "", "ok"} -> review }
"""

ONEHOT_ROWS = [{"to": t, "user": u, "kind": k} for t in ("CN", "RU", "US", "DE", "ZZ", "cn", " CN", "CN ", "C", "", None)
               for u in ("ok", "x|y", "", "x", "|x|y|", None) for k in ("a", "c", "d", None)]


def test_one_hot_facts_decide_like_the_evaluator(tmp_path):
    # countries, strings and enums compared with literals are tested as Boolean columns (ENUM lookups): values
    # outside the literals (and a bar, the separator of the country list) must behave as the evaluator
    policy = exportdsl.compile(ONEHOT)
    ledger = tmp_path / "ledger.parquet"
    rows = [{"id": i, **row} for i, row in enumerate(ONEHOT_ROWS)]
    pq.write_table(pa.Table.from_pylist(rows), ledger)
    out, errors = tmp_path / "out.parquet", tmp_path / "errors.parquet"
    result = policy.screen(str(ledger), str(out), str(errors))
    decided = dict(duckdb.sql(f"SELECT id, decision FROM '{out}'").fetchall())
    bad: dict[int, list] = {}
    for row, code in duckdb.sql(f"SELECT row, code FROM '{errors}'").fetchall():
        bad.setdefault(row - 1, []).append(code)
    for row in rows:
        facts = {k: v for k, v in row.items() if k != "id" and v is not None}
        try:
            want = policy.interpret(facts)[0]
        except exportdsl.EvaluationError as exc:
            assert sorted(bad[row["id"]]) == sorted(d.code for d in exc.diagnostics), row
            continue
        assert decided[row["id"]] == want, row
    assert result.rows == len(rows) == result.decided + result.rejected and 0 < result.rejected < len(rows)


def test_all_valid_ledger_writes_an_empty_error_file_with_its_columns(tmp_path):
    policy = exportdsl.compile(POLICY)
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist([{"kind": "a", "tags": ["x"]}, {"kind": "b", "tags": []}]), ledger)
    errors = tmp_path / "errors.parquet"
    result = policy.screen(str(ledger), str(tmp_path / "out.parquet"), str(errors))
    assert (result.rows, result.decided, result.rejected) == (2, 2, 0)
    assert result.decisions == {"deny": 1, "allow": 1} and result.rules == {"D": 1}
    table = pq.read_table(errors)
    assert table.num_rows == 0 and table.column_names == ["row", "fact", "value", "code"]


def test_screen_without_output_still_counts(tmp_path):
    policy = exportdsl.compile(POLICY)
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS, schema=pa.schema(
        [("id", pa.int64()), ("kind", pa.string()), ("tags", pa.list_(pa.string()))])), ledger)
    result = policy.screen(str(ledger))
    assert result.rows == len(ROWS) == result.decided + result.rejected
    assert sum(result.decisions.values()) == result.decided


def test_exp_helpers_do_not_leak_into_each_other():
    # the builders share nodes (copy=False); rendering copies, so a tree renders the same twice
    a = col("a")
    tree = exp.select(factored_or([and_(a, col("b")), and_(a, col("c"))]))
    assert render(tree) == render(tree)


# ---- short lists unrolled, long lists folded; countries and enums checked by ENUM casts ----------

SETS = """
policy "sets" version "1"
decisions allow < review < license < deny
default allow
fact tags: set of enum {x, y, z}
fact tech: set of enum {p, q}
fact places: set of country
rule D { tags contains any {x} -> deny }
rule L { tags contains all {y, z} or places contains any {CN} -> license }
rule R { tags contains any not in {x} or tech is not empty -> review }
"""

#: Every list of at most three elements over good, unknown, mis-cased and NULL elements, and longer
#: ones (four to seven elements: both sides of ``facts.UNROLLED``) with a bad element at each place.
_ELEMENTS = ["x", "y", "z", "q", "X", " x", None]
_LISTS = ([list(t) for n in range(4) for t in itertools.product(_ELEMENTS, repeat=n)]
          + [["y"] * n for n in range(4, 8)] + [["z", "x", "y", "z", "x", "y", "x"][:n] for n in range(4, 8)]
          + [["x"] * n + [bad] + ["z"] * (k - n - 1) for k in range(4, 8) for n in range(k) for bad in ("q", None)])
_TECH = [[], ["p"], ["q", "p"], ["p", "p", "q"], ["p", "q", "p", "q"], ["q"] * 5, ["p", "r"], ["p", None],
         ["p", "q", "p", "q", "P"], ["p", "q", "p", "q", "p", None], [None], ["r"]]
_PLACES = [[], ["CN"], ["US", "CN"], ["cn"], [" CN"], ["CN "], ["ZZ"], ["US", "DE", "JP", "CN", "KP"],
           ["US", "DE", "JP", "GB", "xx"], [None], ["US", None, "CN"], ["C|N"]]


def test_sets_of_every_length_decide_and_reject_like_the_evaluator(tmp_path):
    policy = exportdsl.compile(SETS)
    combos = ([(tags, [], ["US"]) for tags in _LISTS] + [(["y"], tech, []) for tech in _TECH]
              + [(["z", "y"], [], places) for places in _PLACES]
              + [(["x", "q"], tech, places) for tech in _TECH for places in _PLACES])
    rows = [{"id": i, "tags": tags, "tech": tech, "places": places} for i, (tags, tech, places) in enumerate(combos)]
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(
        [("id", pa.int64()), ("tags", pa.list_(pa.string())), ("tech", pa.list_(pa.string())),
         ("places", pa.list_(pa.string()))])), ledger)
    out, errors = tmp_path / "out.parquet", tmp_path / "errors.parquet"
    result = policy.screen(str(ledger), str(out), str(errors))
    decided = {i: (d, r) for i, d, r in duckdb.sql(f"SELECT id, decision, rules FROM '{out}'").fetchall()}
    bad: dict[int, list] = {}
    for row, fact, code in duckdb.sql(f"SELECT row, fact, code FROM '{errors}'").fetchall():
        bad.setdefault(row - 1, []).append((fact, code))
    for row in rows:
        facts = {k: v for k, v in row.items() if k != "id"}
        try:
            decision, fired = policy.interpret(facts)
        except exportdsl.EvaluationError as exc:
            want = sorted((d.message.split("'")[1], d.code) for d in exc.diagnostics)
            assert sorted(bad.get(row["id"], [])) == want and row["id"] not in decided, row
            continue
        assert decided.get(row["id"]) == (decision, ",".join(fired)) and row["id"] not in bad, row
    assert result.rows == len(rows) == result.decided + result.rejected
    assert 0 < result.rejected < len(rows)


def test_the_rules_enum_is_written_once_with_its_list():
    # DuckDB parses and binds every copy of the ENUM of the rules lists (1,024 values for a tier of
    # 10 rules): the query writes the list of them and its type once, not once per tier and literal
    from exportdsl.backends.sql.query import build_screen_query, example_type
    policy = exportdsl.load(str(Path(__file__).resolve().parent.parent / "policies" / "cn-rare-earths-2025-10.xpol")).ir
    columns = {name: example_type(fact.type.kind, fact.type) for name, fact in policy.facts.items()}
    query = build_screen_query(policy, exp.to_table("ledger"), columns, enum_decision=True, lookups=True)
    text = render(query.decided)
    longest = "'A1,A2,O1,O2,O3,O4,O5,O6,O7,O8'"
    assert text.count(longest) == 2, text.count(longest)
