"""Rule lookups (backends/sql/lookups.py) decide exactly like the interpreter: sets looked up by
chunks of their elements, numbers and dates by their place among the thresholds (at, just below and
just above each, in integer, decimal and double columns), rules that stay per-atom conditions beside
them, and the 250-rule benchmark policy on a generated ledger."""

from __future__ import annotations

import datetime
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import exportdsl
from exportdsl.backends.sql import conditions, duckdb_engine, lookups, query
from exportdsl.backends.sql.facts import maskable

ROOT = Path(__file__).resolve().parent.parent
ELEMENTS = ("Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu")


def _plan(policy, table, min_rules: int = 1):
    """The lookup plan that screening ``table`` with ``policy`` builds."""
    con = duckdb.connect()
    con.register("ledger", table)
    columns = {row[0]: row[1] for row in con.execute("DESCRIBE SELECT * FROM ledger").fetchall()}
    facts = query.fact_columns(policy, columns, False)
    emptiness_only = {n for n, f in facts.items() if maskable(f.type)} - conditions.tested_sets(policy)
    return lookups.plan(policy, facts, {n: exp.column(n) for n in facts}, emptiness_only, "__p", min_rules)


def _decided_like_the_interpreter(policy, table) -> None:
    decided, rejected = duckdb_engine.evaluate_arrow(policy.ir, table)
    assert rejected.num_rows == 0
    for row, out in zip(table.to_pylist(), decided.to_pylist(), strict=True):
        decision, rules = policy.interpret(row)
        assert (out["decision"], out["rules"]) == (decision, ",".join(rules)), row


# ---- sets by chunks ------------------------------------------------------------------------------

SET_POLICY = f"""
decisions allow < review < deny
default allow
fact e: set of enum {{{", ".join(ELEMENTS)}}}
fact n: integer
rule A {{ e contains any {{Sc, Gd, Lu}} -> deny }}
rule B {{ e contains all {{Y, Eu, Yb}} -> deny }}
rule C {{ e contains any not in {{Sc, Y, La, Ce, Pr, Nd, Pm}} and n > 3 -> review }}
rule D {{ not (e contains any {{Pr, Tb, Tm}}) and n <= 3 -> review }}
rule E {{ e is empty -> review }}
rule F {{ not (e contains all {{Sc, Lu}}) and e contains Dy -> deny }}
rule G {{ (e contains Nd or n = 7) and (e contains Sm or n = 8) -> review }}
rule H {{ (e contains Sc or n = 1) and (e contains Y or n = 2) and (e contains La or n = 3)
          and (e contains Ce or n = 4) -> deny }}
"""


@pytest.fixture(scope="module")
def set_policy():
    return exportdsl.compile(SET_POLICY)


def _set_table(rows):
    return pa.table({"e": pa.array([sorted(r[0]) for r in rows], pa.list_(pa.string())),
                     "n": pa.array([r[1] for r in rows], pa.int64())})


def test_set_rules_are_looked_up_by_chunks_and_a_wide_rule_stays_a_condition(set_policy):
    plan = _plan(set_policy.ir, _set_table([(set(), 0)]))
    assert lookups.CHUNK_BITS < len(ELEMENTS)          # the elements span several chunks
    assert plan is not None and plan.rules == frozenset("ABCDEFG")   # H has 16 terms: a condition
    assert len(plan.keys) >= 1


@settings(max_examples=150)
@given(rows=st.lists(st.tuples(st.sets(st.sampled_from(ELEMENTS), max_size=6), st.integers(0, 9)),
                     min_size=1, max_size=30))
def test_set_lookups_decide_like_the_interpreter(set_policy, rows):
    with mock.patch.object(lookups, "MIN_RULES", 1):
        _decided_like_the_interpreter(set_policy, _set_table(rows))


# ---- numbers and dates by their place among the thresholds -----------------------------------------

ORDERED_POLICY = """
decisions allow < review < deny
default allow
fact i: integer
fact x: number
fact p: percent
fact d: date
rule A { i >= 10 and x < 2.5 -> deny }
rule B { i in {3, 4, 10} and p > 0.1% -> review }
rule C { x = 2.5 or x > 100.25 -> review }
rule D { d >= 2025-10-09 and d <= 2025-12-01 and p <= 25% -> deny }
rule E { d = 2025-04-04 and i != 4 -> review }
rule F { not (p >= 50%) and x >= -1 -> review }
"""
INTS = [2, 3, 4, 5, 9, 10, 11]
NUMBERS = [Decimal(v) for v in ("-1.000001", "-1", "-0.999999", "2.499999", "2.5", "2.500001", "100.25",
                                "100.250001", "100.249999", "0")]
PERCENTS = [Decimal(v) for v in ("0", "0.099999", "0.1", "0.100001", "25", "25.000001", "49.999999", "50",
                                 "100")]
DATES = [datetime.date(2025, 4, 3), datetime.date(2025, 4, 4), datetime.date(2025, 4, 5),
         datetime.date(2025, 10, 8), datetime.date(2025, 10, 9), datetime.date(2025, 12, 1),
         datetime.date(2025, 12, 2)]


@pytest.fixture(scope="module")
def ordered_policy():
    return exportdsl.compile(ORDERED_POLICY)


def _ordered_table(rows, number_type):
    return pa.table({"i": pa.array([r[0] for r in rows], pa.int32()),
                     "x": pa.array([r[1] if number_type != pa.float64() else float(r[1]) for r in rows],
                                   number_type),
                     "p": pa.array([r[2] for r in rows], pa.decimal128(9, 6)),
                     "d": pa.array([r[3] for r in rows], pa.date32())})


def test_ordered_rules_are_looked_up(ordered_policy):
    plan = _plan(ordered_policy.ir, _ordered_table([(2, NUMBERS[0], PERCENTS[0], DATES[0])], pa.decimal128(12, 6)))
    assert plan is not None and plan.rules == frozenset("ABCDEF")


@settings(max_examples=150)
@given(rows=st.lists(st.tuples(st.sampled_from(INTS), st.sampled_from(NUMBERS), st.sampled_from(PERCENTS),
                               st.sampled_from(DATES)), min_size=1, max_size=30),
       number_type=st.sampled_from([pa.decimal128(12, 6), pa.decimal128(38, 20), pa.float64()]))
def test_ordered_lookups_decide_like_the_interpreter(ordered_policy, rows, number_type):
    table = _ordered_table(rows, number_type)    # a double is read as its shortest decimal
    with mock.patch.object(lookups, "MIN_RULES", 1):
        _decided_like_the_interpreter(ordered_policy, table)


# ---- the 250-rule benchmark policy ---------------------------------------------------------------

def _benchmark_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def test_the_250_rule_policy_is_decided_by_lookups_like_the_evaluator(tmp_path):
    synthetic = _benchmark_module("bench_eval").synthetic_policy(250)
    policy = exportdsl.compile(synthetic)
    ledger = tmp_path / "ledger.parquet"
    _benchmark_module("make_ledger").make_ledger(str(ledger), 4000)
    table = duckdb.connect().sql(f"SELECT * EXCLUDE (row_id) FROM read_parquet('{ledger}')").to_arrow_table()
    plan = _plan(policy.ir, table, min_rules=None)
    assert plan is not None and len(plan.rules) >= 240      # the default MIN_RULES lets them through
    decided, rejected = duckdb_engine.evaluate_arrow(policy.ir, table)
    assert rejected.num_rows == 0
    for row, out in zip(table.to_pylist(), decided.to_pylist(), strict=True):
        decision, rules = policy.decide(row)
        assert (out["decision"], out["rules"]) == (decision, ",".join(rules)), row


# ---- named conditions used twice at each step -------------------------------------------------------

def _chain(rules: str, steps: int = 40) -> str:
    lines = ["decisions allow < deny", "default allow", "fact x: integer", "condition c0 = x > 1"]
    lines += [f"condition c{i} = c{i - 1} and c{i - 1}" for i in range(1, steps)]
    return "\n".join(lines) + "\n" + rules.replace("LAST", f"c{steps - 1}")


def test_a_doubling_chain_of_conditions_is_decided_by_lookups():
    policy = exportdsl.compile(_chain("rule R0 { LAST and x != 0 -> deny }\nrule R1 { LAST and x != 5 -> deny }\n"))
    assert conditions.expanded_size(policy.ir.rules[0].condition) > conditions.MAX_EXPANDED_NODES
    _decided_like_the_interpreter(policy, pa.table({"x": pa.array([0, 1, 2, 5], pa.int64())}))


def test_a_doubling_chain_that_lookups_cannot_take_is_e415():
    policy = exportdsl.compile(_chain("rule A { x = 3 -> deny }\nrule B { LAST and applies(A) -> deny }\n"))
    for build in (lambda: query.compile_query(policy.ir),
                  lambda: duckdb_engine.evaluate_arrow(policy.ir, pa.table({"x": pa.array([1], pa.int64())}))):
        with pytest.raises(exportdsl.UsageError) as caught:
            build()
        assert [d.code for d in caught.value.diagnostics] == ["E415"]


def test_a_small_chain_stays_per_atom_and_counts_its_nodes():
    policy = exportdsl.compile(_chain("rule R { LAST -> deny }\n", steps=5))
    # c0 is Named(Compare): 2 nodes; each ci is Named(And(c(i-1), c(i-1))): 2 + twice the previous
    assert conditions.expanded_size(policy.ir.rules[0].condition) == 2 ** 6 - 2
    assert "__xpol_k" not in query.compile_query(policy.ir)
