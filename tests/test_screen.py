"""``exportdsl screen`` and ``Policy.screen``: formats in and out, bad rows, options, hostile names.

Decisions are always checked against the Python evaluator (``Policy.decide``) on the same rows.
"""

from __future__ import annotations

import csv
import json
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import exportdsl
from exportdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
REFERENCE = ["cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol", "cn-rare-earths-2025-11.xpol"]
EXAMPLES = ROOT.parent / "shared" / "domain" / "examples.jsonl"


def _loads(text: str):
    return json.loads(text, parse_float=Decimal)


def shipments() -> list[dict]:
    rows = [_loads(line) for line in (POLICIES / "samples" / "shipments.jsonl").read_text().split("\n") if line]
    if EXAMPLES.is_file():
        rows += [_loads(line)["facts"] for line in EXAMPLES.read_text().split("\n") if line.strip()]
    return rows


def generated_rows(count: int, seed: int = 11) -> list[dict]:
    """Rows mixing the values each field takes in the shipments, plus boundary values."""
    base = shipments()
    pools = {key: [row[key] for row in base if key in row] for key in base[0]}
    pools["ship_date"] += ["2025-04-03", "2025-04-04", "2025-10-09", "2025-11-07", "2025-11-08", "2025-11-10",
                           "2025-12-01", "2026-11-10", "2026-11-11"]
    pools["re_content"] += [Decimal("0.1"), Decimal("0.099"), Decimal("0.1000001"), 0, 100, Decimal("50")]
    pools["cn_listed_ownership"] += [50, Decimal("49.999"), 100]
    pools["end_use"] += ["humanitarian", "military", "logic_chips", "memory_chips", "ai_rnd", "chip_equipment"]
    pools["logic_node_nm"] += [14, 16, 0, 7]
    pools["memory_layers"] += [256, 232, 300]
    pools["battery_wh_per_kg"] += [300, 299, 301]
    pools["end_user"] += ["TechInsights Inc.", "BAE Systems, Inc.", "Acme"]
    rng = random.Random(seed)
    return [{key: rng.choice(values) for key, values in pools.items()} for _ in range(count)]


def write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(row, default=_number) + "\n" for row in rows), encoding="utf-8")


def _number(value):
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(value)


def read_rows(path: Path) -> list[dict]:
    suffix = path.suffix
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(path).to_pylist()


def expected(policy, row):
    decision, rules = policy.decide(row)
    return decision, ",".join(rules)


# ---- the reference policies over the shipments and 10,000 generated rows -------------------------

@pytest.mark.parametrize("name", REFERENCE)
def test_reference_policies_screen_like_the_evaluator(name, tmp_path):
    policy = exportdsl.load(POLICIES / name)
    rows = shipments() + generated_rows(10_000)
    ledger = tmp_path / "ledger.jsonl"
    write_jsonl(ledger, rows)
    result = policy.screen(ledger, tmp_path / "out.parquet", tmp_path / "errors.csv", threads=2)
    assert (result.rows, result.decided, result.rejected) == (len(rows), len(rows), 0)
    out = read_rows(tmp_path / "out.parquet")
    want = [expected(policy, json.loads(json.dumps(r, default=_number), parse_float=Decimal)) for r in rows]
    assert [(o["decision"], o["rules"]) for o in out] == want
    assert sum(result.decisions.values()) == len(rows)


# ---- formats in and out ----------------------------------------------------------------------------

def _to_csv(path: Path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, default=_number) if isinstance(v, (list, bool)) else v
                             for k, v in row.items()})


def _to_parquet(path: Path, rows) -> None:
    con = duckdb.connect()
    source = path.with_suffix(".jsonl")
    write_jsonl(source, rows)
    con.execute("COPY (SELECT * REPLACE (CAST(re_content AS DECIMAL(9, 4)) AS re_content, "
                "CAST(ship_date AS DATE) AS ship_date) FROM read_json(?)) TO '" + str(path).replace("'", "''")
                + "' (FORMAT parquet)", [str(source)])
    source.unlink()


WRITERS = {".jsonl": write_jsonl, ".csv": _to_csv, ".parquet": _to_parquet}


@pytest.mark.parametrize("source", sorted(WRITERS))
@pytest.mark.parametrize("target", sorted(WRITERS))
def test_round_trip_every_format(source, target, tmp_path):
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    rows = [{**row, "note": f"carried {i}"} for i, row in enumerate(generated_rows(300, seed=3))]
    ledger = tmp_path / f"ledger{source}"
    WRITERS[source](ledger, rows)
    out = tmp_path / f"out{target}"
    result = policy.screen(ledger, out, threads=1)
    assert result.rejected == 0 and result.decided == len(rows)
    got = read_rows(out)
    assert [g["note"] for g in got] == [r["note"] for r in rows]   # carried, in order
    want = [expected(policy, {k: v for k, v in r.items() if k != "note"}) for r in rows]
    assert [(g["decision"], g["rules"] or "") for g in got] == want


# ---- a ledger with 1 % bad rows ---------------------------------------------------------------------

BAD = [("re_content", "lots", "E302"), ("re_content", 150, "E303"), ("export_from", "cn", "E303"),
       ("ship_date", "2025-02-30", "E303"), ("elements", ["Dy", "Xx"], "E303"), ("item", 7, "E302"),
       ("end_user_military", "yes", "E302"), ("ship_date", None, "E301")]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_one_percent_bad_rows_all_reported(suffix, tmp_path):
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    rows = generated_rows(2_000, seed=5)
    rng = random.Random(7)
    bad_rows = sorted(rng.sample(range(len(rows)), 20))
    wanted = {}
    for index in bad_rows:
        fact, value, code = rng.choice(BAD)
        if suffix == ".csv" and code == "E302" and fact in ("item", "end_user_military", "re_content"):
            fact, value, code = "export_from", "XX", "E303"     # a CSV cell is text: 7 reads as "7"
        rows[index] = {**rows[index], fact: value}
        if value is None:
            del rows[index][fact]
            if suffix == ".csv":
                rows[index][fact] = ""
        wanted[index + 1] = [(fact, code)]
    ledger = tmp_path / f"ledger{suffix}"
    if suffix == ".csv":
        for row in rows:
            if row.get("ship_date") == "":
                row["ship_date"] = None
        _to_csv(ledger, rows)
    else:
        write_jsonl(ledger, rows)
    code = main(["screen", str(POLICIES / "cn-rare-earths-2025-10.xpol"), str(ledger), "-o",
                 str(tmp_path / "out.parquet"), "--errors", str(tmp_path / "errors.jsonl"), "--format", "json"])
    assert code == 2
    errors = read_rows(tmp_path / "errors.jsonl")
    got: dict[int, list] = {}
    for entry in errors:
        got.setdefault(entry["row"], []).append((entry["fact"], entry["code"]))
    assert got == wanted
    decided = read_rows(tmp_path / "out.parquet")
    assert len(decided) + len(got) == len(rows)


def test_summary_says_decided_plus_rejected(tmp_path, capsys):
    rows = generated_rows(50)
    rows[9]["origin"] = "Mars"
    write_jsonl(tmp_path / "l.jsonl", rows)
    code = main(["screen", str(POLICIES / "cn-rare-earths-2025-10.xpol"), str(tmp_path / "l.jsonl")])
    out = capsys.readouterr()
    assert code == 2
    assert "50 rows = 49 decided + 1 rejected" in out.out
    assert """row 10: error[E303]: fact 'origin': value '"Mars"'""" in out.err   # as written in the JSON


# ---- options ----------------------------------------------------------------------------------------

def test_keep_and_no_rules(tmp_path):
    rows = [{**row, "row_id": i} for i, row in enumerate(generated_rows(40))]
    write_jsonl(tmp_path / "l.jsonl", rows)
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    policy.screen(tmp_path / "l.jsonl", tmp_path / "o.parquet", keep=["row_id"], rules=False)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.column_names == ["row_id", "decision"]
    assert table.column("row_id").to_pylist() == list(range(40))


def test_as_of_decides_every_row_on_that_date(tmp_path):
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    rows = generated_rows(200)
    write_jsonl(tmp_path / "l.jsonl", rows)
    policy.screen(tmp_path / "l.jsonl", tmp_path / "o.jsonl", as_of="2025-12-02")
    got = read_rows(tmp_path / "o.jsonl")
    assert [(g["decision"], g["rules"]) for g in got] == [
        expected(policy, {**r, "ship_date": "2025-12-02"}) for r in rows]


@pytest.mark.parametrize("args, code", [
    (["--as-of", "2025-02-30"], "E414"),
    (["--keep", "nope"], "E412"),
    (["-o", "out.xlsx"], "E411"),
])
def test_bad_options(args, code, tmp_path, capsys):
    write_jsonl(tmp_path / "l.jsonl", generated_rows(3))
    status = main(["screen", str(POLICIES / "cn-rare-earths-2025-10.xpol"), str(tmp_path / "l.jsonl"),
                   *[a if not a.startswith("out") else str(tmp_path / a) for a in args]])
    assert status == 2
    assert f"error[{code}]" in capsys.readouterr().err


def test_ledger_with_a_decision_column_is_refused(tmp_path, capsys):
    write_jsonl(tmp_path / "l.jsonl", [{**generated_rows(1)[0], "decision": "allow"}])
    assert main(["screen", str(POLICIES / "cn-rare-earths-2025-10.xpol"), str(tmp_path / "l.jsonl")]) == 2
    assert "error[E412]" in capsys.readouterr().err


def test_missing_and_unknown_ledgers(tmp_path, capsys):
    assert main(["screen", str(POLICIES / "quickstart.xpol"), str(tmp_path / "nope.parquet")]) == 2
    (tmp_path / "x.txt").write_text("a")
    assert main(["screen", str(POLICIES / "quickstart.xpol"), str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("error[E410]") == 2 and "Traceback" not in err


# ---- hostile names and strings -------------------------------------------------------------------

HOSTILE = r'''
decisions ok < deny
fact who: string
fact kind: enum {"it's", "a\"b", "back\\slash", "x'); DROP TABLE t; --", plain}
rule R1 { who in {"O'Brien", "\\'; SELECT 1; --", "tab\there"} -> deny }
rule R2 { kind in {"it's", "x'); DROP TABLE t; --"} -> deny }
'''


def test_hostile_strings_are_literals(tmp_path):
    policy = exportdsl.compile(HOSTILE)
    rows = [{"who": w, "kind": k, 'col"umn': 1, "it's": 2}
            for w in ["O'Brien", "\\'; SELECT 1; --", "tab\there", "other", "O''Brien"]
            for k in ["it's", 'a"b', "back\\slash", "x'); DROP TABLE t; --", "plain"]]
    write_jsonl(tmp_path / "l'; --.jsonl", rows)
    result = policy.screen(tmp_path / "l'; --.jsonl", tmp_path / "o\"ut'.jsonl")
    assert result.rejected == 0
    got = read_rows(tmp_path / "o\"ut'.jsonl")
    assert [(g["decision"], g["rules"]) for g in got] == [
        expected(policy, {"who": r["who"], "kind": r["kind"]}) for r in rows]
    assert [(g['col"umn'], g["it's"]) for g in got] == [(1, 2)] * len(rows)
    for dialect in ("duckdb", "spark"):
        assert main(["compile", "--dialect", dialect, str(POLICIES / "quickstart.xpol")]) == 0


def test_evaluate_table_arrow(tmp_path):
    policy = exportdsl.load(POLICIES / "quickstart.xpol")
    rows = [_loads(line) for line in (POLICIES / "samples" / "quickstart.jsonl").read_text().split("\n") if line]
    keys = {key: None for row in rows for key in row}   # every column (from_pylist reads the first row's keys)
    table = pa.Table.from_pylist([{**keys, **r, "re_content": str(r["re_content"]) + "%"} for r in rows])
    result = policy.evaluate_table(table)
    assert result.column_names[-2:] == ["decision", "rules"]
    assert [(d, r) for d, r in zip(result.column("decision").to_pylist(), result.column("rules").to_pylist())] == [
        expected(policy, r) for r in rows]
    broken = table.set_column(0, "ship_date", pa.array(["2025-13-01"] * len(rows)))
    with pytest.raises(exportdsl.EvaluationError) as info:
        policy.evaluate_table(broken)
    assert {d.code for d in info.value.diagnostics} == {"E303"}


def test_row_numbers_and_order_across_row_groups_and_threads(tmp_path):
    """Bad rows spread over many Parquet row groups, two threads: each error names the right row,
    and the decided rows come out in ledger order."""
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_ledger import ledger_query
    ledger = tmp_path / "rg.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (CASE WHEN row_id % 997 = 5 THEN 'XX' ELSE origin END AS origin) "
                f"FROM ({ledger_query(60_000)})) TO '{ledger}' (FORMAT parquet, ROW_GROUP_SIZE 2000)")
    policy = exportdsl.load(POLICIES / "cn-rare-earths-2025-10.xpol")
    result = policy.screen(ledger, tmp_path / "out.parquet", tmp_path / "err.parquet", threads=2)
    bad = [i for i in range(60_000) if i % 997 == 5]
    assert result.rejected == len(bad) and result.decided == 60_000 - len(bad)
    assert pq.read_table(tmp_path / "err.parquet").column("row").to_pylist() == [i + 1 for i in bad]
    assert pq.read_table(tmp_path / "out.parquet").column("row_id").to_pylist() == [
        i for i in range(60_000) if i % 997 != 5]


@pytest.mark.parametrize("value", [None, {"a": None}, [None]])
def test_columns_of_json_nulls_screen(value, tmp_path):
    """DuckDB types a JSON Lines column holding only nulls as "NULL" (``STRUCT(a "NULL")``,
    ``"NULL"[]``), which no query can cast to: screening crashed with a sqlglot ParseError when a
    fact column had such a type. Now every row is decided or rejected as the evaluator says (a null
    cell is a missing fact, docs/cli.rst), and carried columns are written back as they came."""
    policy = exportdsl.load(POLICIES / "quickstart.xpol")
    good = {"ship_date": "2025-10-10", "origin": "CN", "export_from": "CN", "re_content": 5, "end_use": "civil",
            "elements": ["Dy"], "end_user": "Acme"}
    rows = [{**good, "quantity_kg": value, "note": value}, {**good, "quantity_kg": None, "note": None}]
    ledger = tmp_path / "ledger.jsonl"
    write_jsonl(ledger, rows)
    result = policy.screen(ledger, tmp_path / "out.jsonl", tmp_path / "errors.jsonl")
    decided, rejected = [], set()
    for number, row in enumerate(rows, 1):
        try:
            decided.append((row["note"],) + expected(policy, {k: v for k, v in row.items()
                                                              if k in policy.facts and v is not None}))
        except exportdsl.EvaluationError as error:
            rejected |= {(number, d.message.split("'")[1], d.code) for d in error.diagnostics}
    assert (result.rows, result.decided) == (2, len(decided))
    assert {(e["row"], e["fact"], e["code"]) for e in read_rows(tmp_path / "errors.jsonl")} == rejected
    assert [(o["note"], o["decision"], o["rules"]) for o in read_rows(tmp_path / "out.jsonl")] == decided
