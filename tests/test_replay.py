"""``diff OLD NEW --replay LEDGER``: past rows counted per region through the SQL backend, checked
row by row against the Python evaluator.

Every changed row (its decision or its set of deciding rules differs between the versions) is
counted in exactly one region, the counts add up to the number of changed rows, rows with invalid
facts are counted as rejected with their codes, and ``--affected`` writes exactly the changed rows
with the region each falls in.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import exportdsl
from exportdsl.diff.ledger import replay
from reference_facts import reference_transactions

duckdb = pytest.importorskip("duckdb", reason="duckdb is a core dependency; this environment lacks it")

ROOT = Path(__file__).resolve().parent.parent
APRIL = ROOT / "policies" / "cn-rare-earths-2025-04.xpol"
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"


def _ledger(tmp_path: Path, count: int, bad_every: int = 0) -> tuple[Path, list[dict]]:
    rows = reference_transactions(count, seed=6120)
    rng = random.Random(7)
    for index, row in enumerate(rows):
        row["shipment_id"] = f"S{index:05d}"
        row["value_usd"] = rng.randint(1, 10_000)
        if bad_every and index % bad_every == 3:
            row["origin"] = "China"                       # not a country code: E303 under both versions
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


def _python_counts(result, rows):
    """Region number -> (rows, value) by deciding every row in Python; changed and rejected totals."""
    old, new = exportdsl.load(APRIL), exportdsl.load(OCTOBER)
    changed_rules = getattr(result, "changed_rules", None)

    def key(o, orules, n, nrules):
        keep = frozenset(orules), frozenset(nrules)
        if changed_rules is not None:
            keep = keep[0] & frozenset(changed_rules), keep[1] & frozenset(changed_rules)
        return o, keep[0], n, keep[1]

    numbers = {key(r.old, r.old_rules, r.new, r.new_rules): i for i, r in enumerate(result.regions, 1)}
    counts, changed, rejected = {}, 0, 0
    for row in rows:
        facts = {k: v for k, v in row.items() if k not in ("shipment_id", "value_usd")}
        try:
            before, after = old.decide(facts), new.decide(facts)
        except exportdsl.EvaluationError:
            rejected += 1
            continue
        if before[0] == after[0] and set(before[1]) == set(after[1]):
            continue
        changed += 1
        number = numbers[key(before[0], before[1], after[0], after[1])]
        total = counts.setdefault(number, [0, 0])
        total[0] += 1
        total[1] += row["value_usd"]
    return counts, changed, rejected


def test_replay_counts_equal_row_by_row_evaluation(tmp_path):
    path, rows = _ledger(tmp_path, 3_000, bad_every=100)
    result = exportdsl.diff(APRIL, OCTOBER)
    impact = replay(result, str(path), value_column="value_usd", affected=str(tmp_path / "affected.jsonl"))
    expected, changed, rejected = _python_counts(result, rows)
    assert impact.rows == len(rows)
    assert impact.rejected == rejected == 30
    assert impact.codes == {"E303": 30}
    assert impact.changed == changed > 0
    assert impact.unmatched == 0
    assert {n: (c.rows, int(c.value)) for n, c in impact.counts.items()} == {n: tuple(v) for n, v in expected.items()}
    assert sum(c.rows for c in impact.counts.values()) == changed
    affected = [json.loads(line) for line in (tmp_path / "affected.jsonl").read_text().splitlines()]
    assert len(affected) == changed
    by_region = {}
    for row in affected:
        by_region[row["region"]] = by_region.get(row["region"], 0) + 1
    assert by_region == {n: v[0] for n, v in expected.items()}
    assert len({row["shipment_id"] for row in affected}) == changed


def test_replay_from_the_command_line(tmp_path):
    path, _rows = _ledger(tmp_path, 400)
    parquet = tmp_path / "ledger.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited')) TO '{parquet}' (FORMAT parquet)")
    con.close()
    run = subprocess.run([sys.executable, "-m", "exportdsl", "diff", str(APRIL), str(OCTOBER), "--replay", str(parquet),
                          "--format", "json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    replayed = report["replay"]
    assert replayed["rows"] == 400 and replayed["rejected"] == 0
    assert sum(r["rows"] for r in replayed["regions"].values()) == replayed["changed"]
    run = subprocess.run([sys.executable, "-m", "exportdsl", "diff", str(APRIL), str(OCTOBER), "--value-column", "x"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "E402" in run.stderr and "Traceback" not in run.stderr
