"""Screening benchmark: ``exportdsl screen`` against a plain copy, a hand-written query and NumPy pass.

Run:  python benchmarks/bench_screen.py            (10 M rows; minutes on 2 cores)
      python benchmarks/bench_screen.py --quick    (1 M rows)
Needs the ``bench`` extra (NumPy) for the NumPy pass: ``pip install -e '.[bench]'``.

What it does, in one run, each measurement in a fresh process (peak RSS from ``wait4``):

1. generates a Parquet ledger shaped like the October facts (``make_ledger.py``);
2. times (a) a plain DuckDB copy of the ledger to Parquet (the I/O bound), (b) a hand-written
   DuckDB query of the October rules (no validation, as one writes it by hand) in three modes
   (all columns with decision and rules; row_id with decision and rules; row_id with decision),
   and ``exportdsl screen`` in the same three modes; (c) a hand-written NumPy pass of the same
   rules writing (row_id, decision) (``screen_numpy.py``);
3. checks that screen's decisions equal the hand-written query's and the NumPy pass's on every
   row and the Python evaluator's on a 10,000-row sample;
4. times ``screen --keep row_id --no-rules`` with a generated 250-rule policy (bench_eval's
   ``synthetic_policy``);
5. prints rows/s, peak RSS and the ratios (screen / copy, screen / hand-written).

Each figure includes starting the process (about 1 s: Python, DuckDB and the policy), as a user
of the command sees it, with byte code written and reused as in a normal installation (every
child runs without ``PYTHONDONTWRITEBYTECODE``, which would make each start compile exportdsl's
modules again: about 0.2 s of CPU). The machine is shared: figures are as measured, with the load printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"

HAND_WRITTEN = """
WITH r AS (
  SELECT *,
    item IN ('metal','alloy','target','oxide','compound','magnet')
      AND list_has_any(elements, ['Sm','Gd','Tb','Dy','Lu','Sc','Y']) AS annex1,
    export_from <> 'CN' AND export_to <> 'CN' AS outside
  FROM read_parquet({ledger})
), s AS (
  SELECT *,
    export_from = 'CN' AND item IN ('metal','alloy','target','oxide','compound')
      AND list_has_any(elements, ['Sm','Gd','Tb','Dy','Lu','Sc','Y']) AND ship_date >= DATE '2025-04-04' AS A1,
    export_from = 'CN' AND item = 'magnet' AND ((magnet_family = 'smco' AND list_contains(elements, 'Sm'))
      OR (magnet_family = 'ndfeb' AND list_has_any(elements, ['Tb','Dy']))) AND ship_date >= DATE '2025-04-04' AS A2,
    export_from = 'CN' AND ((item IN ('metal','alloy','target','oxide','compound','functional_material')
      AND list_has_any(elements, ['Ho','Er','Tm','Eu','Yb'])) OR (item = 'magnet' AND list_contains(elements, 'Ho')))
      AND ship_date >= DATE '2025-11-08' AS O1,
    export_from = 'CN' AND item IN ('equipment','raw_material') AND ship_date >= DATE '2025-11-08' AS O2,
    export_from = 'CN' AND item = 'battery' AND battery_wh_per_kg >= 300 AND ship_date >= DATE '2025-11-08' AS O3,
    export_from = 'CN' AND item = 'superhard' AND ship_date >= DATE '2025-11-08' AS O4,
    export_from = 'CN' AND item IN ('technology','line_technology') AND ship_date >= DATE '2025-10-09' AS O5,
    outside AND origin = 'CN' AND annex1 AND ship_date >= DATE '2025-10-09' AS O6,
    outside AND origin <> 'CN' AND item IN ('magnet','target') AND re_content >= 0.1
      AND ship_date >= DATE '2025-12-01' AS O7,
    outside AND origin <> 'CN' AND annex1 AND len(cn_re_tech) > 0 AND ship_date >= DATE '2025-12-01' AS O8,
    end_user IN ('Dedrone by Axon','DZYNE Technologies','Elbit Systems of America, LLC','Epirus, Inc.',
      'AeroVironment, Inc.','Exelis Inc.','Alliant Techsystems Operations LLC','BAE Systems, Inc.',
      'Teledyne FLIR, LLC','VSE Corporation','Cubic Global Defense','Recorded Future, Inc.',
      'Halifax International Security Forum','TechInsights Inc.')
      AND (export_from = 'CN' OR export_to = 'CN') AND ship_date >= DATE '2025-10-09' AS O13
  FROM r
), t AS (
  SELECT *, (O6 OR O7 OR O8) AND ship_date >= DATE '2025-10-09' AND (end_user_military OR cn_listed_ownership >= 50) AS O9,
    (O6 OR O7 OR O8) AND ship_date >= DATE '2025-10-09'
      AND end_use IN ('military','military_potential','wmd','terrorism') AS O10,
    (O6 OR O7 OR O8) AND ship_date >= DATE '2025-10-09' AND ((end_use = 'logic_chips' AND logic_node_nm > 0
      AND logic_node_nm <= 14) OR (end_use = 'memory_chips' AND memory_layers >= 256) OR end_use = 'chip_equipment'
      OR (end_use = 'ai_rnd' AND ai_military_potential)) AS O11raw
  FROM s
), u AS (
  SELECT *, (O6 OR O7 OR O8) AND ship_date >= DATE '2025-10-09' AND end_use = 'humanitarian'
      AND NOT (O9 OR O10) AS O12
  FROM t
), v AS (
  SELECT *, O11raw AND NOT O12 AS O11, O6 AND NOT O12 AS O6d, O7 AND NOT O12 AS O7d, O8 AND NOT O12 AS O8d FROM u
)
SELECT {columns},
  CASE WHEN O13 THEN 'prohibited' WHEN O9 OR O10 THEN 'deny' WHEN O11 THEN 'case_by_case'
       WHEN A1 OR A2 OR O1 OR O2 OR O3 OR O4 OR O5 OR O6d OR O7d OR O8d THEN 'license_required'
       WHEN O12 THEN 'allow_with_report' ELSE 'not_controlled' END AS decision{rules}
FROM v
"""

HAND_RULES = """,
  CASE WHEN O13 THEN 'O13' WHEN O9 OR O10 THEN concat_ws(',', CASE WHEN O9 THEN 'O9' END, CASE WHEN O10 THEN 'O10' END)
       WHEN O11 THEN 'O11'
       WHEN A1 OR A2 OR O1 OR O2 OR O3 OR O4 OR O5 OR O6d OR O7d OR O8d THEN concat_ws(',',
         CASE WHEN A1 THEN 'A1' END, CASE WHEN A2 THEN 'A2' END, CASE WHEN O1 THEN 'O1' END,
         CASE WHEN O2 THEN 'O2' END, CASE WHEN O3 THEN 'O3' END, CASE WHEN O4 THEN 'O4' END,
         CASE WHEN O5 THEN 'O5' END, CASE WHEN O6d THEN 'O6' END, CASE WHEN O7d THEN 'O7' END,
         CASE WHEN O8d THEN 'O8' END)
       WHEN O12 THEN 'O12' ELSE '' END AS rules"""

COLUMNS = ("row_id, ship_date, export_from, export_to, origin, item, magnet_family, elements, re_content, "
           "cn_re_tech, battery_wh_per_kg, end_use, logic_node_nm, memory_layers, ai_military_potential, "
           "end_user, end_user_military, cn_listed_ownership")


def _quote(path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def hand_written(ledger, keep_all: bool, rules: bool) -> str:
    return HAND_WRITTEN.format(ledger=_quote(ledger), columns=COLUMNS if keep_all else "row_id",
                               rules=HAND_RULES if rules else "")


def measure(argv: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a child process (byte code written and reused)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0 and os.waitstatus_to_exitcode(status) not in (0,):
        raise SystemExit(f"failed: {' '.join(argv)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def duckdb_copy(sql: str, out, threads: int) -> list[str]:
    code = ("import duckdb, sys; con = duckdb.connect(); con.execute(f'SET threads = {int(sys.argv[2])}'); "
            "con.execute(\"SET memory_limit = '1GB'\"); "
            "con.execute('COPY (' + sys.argv[1] + ') TO ' + sys.argv[3] + ' (FORMAT parquet)')")
    return [sys.executable, "-c", code, sql, str(threads), _quote(out)]


def screen_argv(policy, ledger, out, threads: int, *extra) -> list[str]:
    return [sys.executable, "-m", "exportdsl", "screen", str(policy), str(ledger), "-o", str(out),
            "--threads", str(threads), "--format", "json", *extra]


def numpy_argv(ledger, out) -> list[str]:
    return [sys.executable, str(HERE / "screen_numpy.py"), str(ledger), str(out)]


def check_numpy(screened, numpy_out) -> None:
    import duckdb
    differ = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet({_quote(screened)}) a FULL JOIN read_parquet({_quote(numpy_out)}) b "
        f"USING (row_id) WHERE a.decision IS DISTINCT FROM CAST(b.decision AS VARCHAR)").fetchall()[0][0]
    print(f"  screen vs NumPy pass: {differ} rows differ")


def check_decisions(ledger, screened, hand, sample: int = 10_000) -> None:
    import duckdb

    import exportdsl
    con = duckdb.connect()
    differ = con.execute(f"SELECT count(*) FROM read_parquet({_quote(screened)}) a FULL JOIN "
                         f"read_parquet({_quote(hand)}) b USING (row_id) "
                         f"WHERE a.decision IS DISTINCT FROM b.decision OR a.rules IS DISTINCT FROM b.rules"
                         ).fetchall()[0][0]
    print(f"  screen vs hand-written query: {differ} rows differ")
    policy = exportdsl.load(OCTOBER)
    rows = con.sql(f"SELECT * FROM read_parquet({_quote(ledger)}) LIMIT {sample}").to_arrow_table().to_pylist()
    got = con.execute(f"SELECT decision, rules FROM read_parquet({_quote(screened)}) LIMIT {sample}").fetchall()
    wrong = 0
    for row, (decision, rules) in zip(rows, got):
        facts = {k: v for k, v in row.items() if k != "row_id"}
        want = policy.decide(facts)
        wrong += (want[0], ",".join(want[1])) != (decision, rules)
    print(f"  screen vs Python evaluator on {len(rows)} rows: {wrong} differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 M rows instead of 10 M")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", help="folder for the ledger and outputs (default: a temp folder)")
    args = parser.parse_args()
    if importlib.util.find_spec("numpy") is None:   # say so before generating the ledger, not after
        sys.exit("bench_screen: the hand-written NumPy baseline needs NumPy: pip install -e '.[bench]' "
                 "(or run `make bench`)")
    rows = 1_000_000 if args.quick else 10_000_000
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-screen-"))
    ledger = folder / f"ledger-{rows}.parquet"
    if not ledger.exists():
        # in a child: DuckDB's memory in this process would count in every later child's peak RSS
        # (a forked child's peak RSS starts at its parent's)
        print(f"generating {rows:,} rows into {ledger} ...")
        subprocess.run([sys.executable, str(HERE / "make_ledger.py"), str(ledger), "--rows", str(rows)], check=True)
    results = {}

    def run(label, argv):
        seconds, rss = measure(argv)
        results[label] = seconds
        print(f"  {label:<44} {seconds:7.2f} s  {rows / seconds / 1e6:6.2f} M rows/s  peak RSS {rss:6.0f} MB",
              flush=True)

    t = args.threads
    print(f"{rows:,} rows, {t} threads (shared machine: figures as measured; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start)")
    run("plain copy (all columns)", duckdb_copy(f"SELECT * FROM read_parquet({_quote(ledger)})", folder / "copy.parquet", t))
    modes = {"all columns, decision, rules": (True, True, ()),
             "row_id, decision, rules": (False, True, ("--keep", "row_id")),
             "row_id, decision": (False, False, ("--keep", "row_id", "--no-rules"))}
    for name, (keep_all, rules, extra) in modes.items():
        hand_out = folder / f"hand-{keep_all}-{rules}.parquet"
        run(f"hand-written query: {name}", duckdb_copy(hand_written(ledger, keep_all, rules), hand_out, t))
        run(f"exportdsl screen: {name}", screen_argv(OCTOBER, ledger, folder / f"screen-{keep_all}-{rules}.parquet",
                                                     t, *extra))
    run("NumPy pass: row_id, decision", numpy_argv(ledger, folder / "numpy.parquet"))
    big = folder / "synthetic-250.xpol"
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); from bench_eval import "
                    "synthetic_policy; open(sys.argv[2], 'w', encoding='utf-8').write(synthetic_policy(250))",
                    str(HERE), str(big)], check=True)
    run("screen, 250 rules: row_id, decision", screen_argv(big, ledger, folder / "s250.parquet", t,
                                                            "--keep", "row_id", "--no-rules"))
    # the checks last, in this process (they grow it: see the ledger generation above)
    check_decisions(ledger, folder / "screen-True-True.parquet", folder / "hand-True-True.parquet")
    check_numpy(folder / "screen-False-False.parquet", folder / "numpy.parquet")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("ratios (same run):")
    print(f"  screen all columns / plain copy throughput: "
          f"{results['plain copy (all columns)'] / results['exportdsl screen: all columns, decision, rules']:.2f}")
    for name in modes:
        print(f"  screen / hand-written time, {name}: "
              f"{results[f'exportdsl screen: {name}'] / results[f'hand-written query: {name}']:.2f}")
    print(f"  screen / NumPy pass time, row_id, decision: "
          f"{results['exportdsl screen: row_id, decision'] / results['NumPy pass: row_id, decision']:.2f}")


if __name__ == "__main__":
    main()
