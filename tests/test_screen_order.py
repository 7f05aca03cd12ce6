"""Screening writes the decided rows in ledger order: the query it runs holds no join.

DuckDB's ``in_clause`` optimizer rewrites an ``IN`` list of more than a few values into a MARK hash
join against the list, in a projection as in a ``WHERE``, and a hash join does not keep insertion
order even with ``preserve_insertion_order`` (duckdb/duckdb#24398). Screening tests long literal
lists inside list lambdas and ENUM lookups instead, so no plan needs a join; these tests keep it
so for the reference policies, a policy of long literal sets (countries, strings, enums) and a
generated 250-rule one (decided by lookups), over Parquet, CSV and JSON Lines, with and without
``--as-of``. The plan inspected is the one ``screen`` runs (captured where it writes the output).
``test_screen.py`` checks the order itself on a ledger of many row groups.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

import exportdsl
from exportdsl.backends.sql import duckdb_engine
from exportdsl.backends.sql.query import render

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_eval import synthetic_policy  # noqa: E402
from make_ledger import ledger_query  # noqa: E402

COUNTRY_CODES = ["AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD", "BE",
                 "BF", "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ", "CA", "CD",
                 "CF", "CG", "CH", "CI", "CL", "CM", "CO", "CR", "CU", "CV", "CY", "CZ", "DE", "DJ", "DK",
                 "DM", "DO", "DZ", "EC", "EE", "EG", "ER", "ES", "ET", "FI", "FJ", "FM", "FR", "GA", "GB",
                 "GD", "GE", "GH", "GM", "GN", "GQ", "GR", "GT", "GW", "GY", "HN", "HR", "HT", "HU"]

LONG_LISTS = f"""policy "long lists" version "1"
decisions not_controlled < license_required < deny
default not_controlled
dated by ship_date
fact ship_date: date
fact export_to: country
fact end_user: string
fact item: enum {{metal, alloy, target, oxide, compound, magnet, functional_material, assembly, technology,
                  line_technology, equipment, raw_material, battery, superhard, other}}
rule L1 {{ export_to in {{{", ".join(COUNTRY_CODES)}}} -> license_required }}
rule L2 {{ effective 2025-10-09 end_user in {{{", ".join(f'"user {i}"' for i in range(70))}, "Acme GmbH"}} -> deny }}
rule L3 {{ item in {{metal, alloy, target, oxide, compound, magnet, functional_material, assembly, technology,
                     line_technology, equipment}} and export_to not in {{{", ".join(COUNTRY_CODES[:40])}}}
           -> license_required }}
"""

POLICIES = {
    "april": ROOT / "policies" / "cn-rare-earths-2025-04.xpol",
    "october": ROOT / "policies" / "cn-rare-earths-2025-10.xpol",
    "november": ROOT / "policies" / "cn-rare-earths-2025-11.xpol",
    "long lists": LONG_LISTS,
    "250 rules": synthetic_policy(250),
}


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ledgers")
    paths = {}
    con = duckdb.connect()
    for suffix, options in (("parquet", "FORMAT parquet"), ("csv", "FORMAT csv, HEADER"), ("jsonl", "FORMAT json")):
        path = folder / f"ledger.{suffix}"
        con.execute(f"COPY ({ledger_query(300)}) TO '{path}' ({options})")
        paths[suffix] = path
    return paths


@pytest.mark.parametrize("as_of", [None, "2025-12-15"])
@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
@pytest.mark.parametrize("name", list(POLICIES))
def test_the_screening_plan_holds_no_join(name, suffix, as_of, ledgers, tmp_path, monkeypatch):
    plans = []
    write = duckdb_engine._copy

    def explained_copy(con, query, path, what):
        if what == "output":
            plans.append(con.execute("EXPLAIN " + render(query)).fetchall()[0][1])
        return write(con, query, path, what)

    monkeypatch.setattr(duckdb_engine, "_copy", explained_copy)
    source = POLICIES[name]
    policy = exportdsl.load(source) if isinstance(source, Path) else exportdsl.compile(source)
    result = policy.screen(ledgers[suffix], tmp_path / "out.parquet", tmp_path / "errors.parquet", as_of=as_of,
                           threads=2)
    assert result.decided + result.rejected == 300
    assert len(plans) == 1
    assert "join" not in plans[0].lower(), plans[0]


def test_a_long_in_list_in_a_projection_is_a_join_in_this_duckdb():
    """What the test above guards against: if DuckDB stops rewriting long ``IN`` lists into joins,
    this fails and the guard can be reconsidered."""
    con = duckdb.connect()
    values = ", ".join(f"'v{i}'" for i in range(12))
    plan = con.execute(f"EXPLAIN SELECT x IN ({values}) FROM (SELECT 'v' || (i % 20) AS x FROM range(1000) t(i))"
                       ).fetchall()[0][1]
    assert "join" in plan.lower()
