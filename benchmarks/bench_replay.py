"""Benchmark of ``exportdsl diff OLD NEW --replay LEDGER`` (issue 12): a generated ledger shaped like
the October facts, replayed through April and October, timed end to end from the command line, and
its per-region counts checked row by row against the Python evaluator.

    python benchmarks/bench_replay.py             # 1,000,000 rows
    python benchmarks/bench_replay.py --rows 200000 --no-verify

The baseline printed beside it is a plain DuckDB scan of the same ledger (reading every column
once), measured in the same run: no replay can read the ledger faster.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
APRIL = ROOT / "policies" / "cn-rare-earths-2025-04.xpol"
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"


def _pick(values: list, quote: bool = True) -> str:
    items = ", ".join((f"'{v}'" if quote else str(v)) for v in values)
    return f"([{items}])[1 + floor(random() * {len(values)})::INTEGER]"


def make_ledger(path: Path, rows: int, seed: float = 0.42) -> None:
    """A Parquet ledger of ``rows`` transactions over the 17 reference facts, values from pools that
    straddle every threshold the rules test (built in DuckDB, so a million rows take a second)."""
    import exportdsl
    props = exportdsl.load(OCTOBER).json_schema()["properties"]
    countries = ["CN", "CN", "JP", "US", "DE", "HK", "TW"]
    elements = ["Sc", "Y", "La", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Lu"]
    techs = ["mining", "separation", "metal_smelting", "magnet_manufacturing", "recycling"]
    select = f"""
      SELECT i AS row_id,
        {_pick(["2025-04-03", "2025-04-04", "2025-10-09", "2025-11-08", "2025-12-01", "2026-06-01"])}::DATE AS ship_date,
        {_pick(countries)} AS export_from, {_pick(countries)} AS export_to, {_pick(countries)} AS origin,
        {_pick(props["item"]["enum"])} AS item, {_pick(props["magnet_family"]["enum"])} AS magnet_family,
        list_distinct([{_pick(elements)}, {_pick(elements)}])[1:floor(random() * 3)::INTEGER] AS elements,
        {_pick(["0", "0.099", "0.1", "5", "100"], quote=False)}::DECIMAL(9, 3) AS re_content,
        list_distinct([{_pick(techs)}])[1:floor(random() * 2)::INTEGER] AS cn_re_tech,
        {_pick([0, 299, 300, 301.5], quote=False)}::DECIMAL(9, 1) AS battery_wh_per_kg,
        {_pick(props["end_use"]["enum"])} AS end_use,
        {_pick([0, 7, 14, 16], quote=False)}::DECIMAL(9, 1) AS logic_node_nm,
        {_pick([0, 232, 256], quote=False)}::BIGINT AS memory_layers,
        random() < 0.5 AS ai_military_potential,
        {_pick(["Dedrone by Axon", "BAE Systems, Inc.", "Acme Motors Inc.", "Nordwind GmbH"])} AS end_user,
        random() < 0.2 AS end_user_military,
        {_pick(["0", "49.99", "50", "100"], quote=False)}::DECIMAL(9, 3) AS cn_listed_ownership,
        (random() * 100000)::DECIMAL(12, 2) AS value_usd
      FROM range({int(rows)}) t(i)"""
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed})")
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()


def _timed(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_maxrss / 1024, run


def verify(ledger: Path, report: dict) -> tuple[bool, float]:
    """Decide every row with the Python evaluator under both versions and compare the counts."""
    import exportdsl
    started = time.perf_counter()
    old, new = exportdsl.load(APRIL), exportdsl.load(OCTOBER)
    diff = exportdsl.diff(old, new)
    changed_rules = getattr(diff, "changed_rules", None)

    def key(o, orules, n, nrules):
        a, b = frozenset(orules), frozenset(nrules)
        if changed_rules is not None:
            a, b = a & frozenset(changed_rules), b & frozenset(changed_rules)
        return o, a, n, b

    numbers = {key(r.old, r.old_rules, r.new, r.new_rules): i for i, r in enumerate(diff.regions, 1)}
    counts: dict[str, int] = {}
    con = duckdb.connect()
    cursor = con.execute(f"SELECT * EXCLUDE (row_id, value_usd) FROM read_parquet('{ledger}')")
    names = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(50_000):
        for values in batch:
            facts = dict(zip(names, values))
            facts["ship_date"] = facts["ship_date"].isoformat()
            a, b = old.decide(facts), new.decide(facts)
            if a[0] != b[0] or set(a[1]) != set(b[1]):
                number = str(numbers[key(a[0], a[1], b[0], b[1])])
                counts[number] = counts.get(number, 0) + 1
    replayed = {n: r["rows"] for n, r in report["replay"]["regions"].items()}
    return counts == replayed, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.parquet"
        started = time.perf_counter()
        make_ledger(ledger, args.rows)
        print(f"ledger: {args.rows:,} rows, {ledger.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - started:.1f} s")
        scan_started = time.perf_counter()
        con = duckdb.connect()
        con.execute(f"SELECT count(*), count(DISTINCT end_user), sum(value_usd) FROM read_parquet('{ledger}')").fetchall()
        con.close()
        scan = time.perf_counter() - scan_started
        wall, rss, run = _timed([sys.executable, "-m", "exportdsl", "diff", str(APRIL), str(OCTOBER),
                                 "--replay", str(ledger), "--value-column", "value_usd", "--format", "json"])
        if run.returncode not in (0, 1):
            sys.exit(f"replay failed: {run.stderr}")
        report = json.loads(run.stdout)
        replayed = report["replay"]
        print(f"diff --replay: {wall:.2f} s wall, peak RSS {rss:.0f} MB, {args.rows / wall:,.0f} rows/s; "
              f"{replayed['changed']:,} changed rows in {len(replayed['regions'])} of {len(report['regions'])} regions, "
              f"{replayed['rejected']} rejected")
        print(f"baseline (a plain DuckDB scan of every column): {scan:.2f} s; replay / scan = {wall / scan:.1f}x")
        print(f"target: < 10 s for 1,000,000 rows on 2 cores: {'MET' if wall < 10 or args.rows != 1_000_000 else 'MISSED'}")
        if not args.no_verify:
            same, seconds = verify(ledger, report)
            print(f"row-by-row check with the Python evaluator ({seconds:.0f} s): counts {'EQUAL' if same else 'DIFFER'}")
            if not same:
                sys.exit(1)


if __name__ == "__main__":
    main()
