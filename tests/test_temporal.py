"""Change over time (``exportdsl.diff.temporal``, ``diff --between``, ``timeline``) and policy hashes.

What is checked, against brute-force evaluation rather than expected outputs:

- ``at_date(P, d)`` decides every transaction exactly as ``P`` does on day ``d`` (Hypothesis, over
  random policies with rule dates, suspensions, overrides and ``applies``);
- ``between(P, d1, d2)``: a transaction changes outcome between the two days exactly when one region
  matches it;
- ``timeline(P)`` over two whole years: 2,000 generated transactions are evaluated on every day of
  2025 and 2026; a change on a day the timeline does not list fails the test, and every listed day's
  witness is decided differently the day before;
- the content hash is stable across processes and folders, and changes when any file of the
  ``extends`` chain changes.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
import policygen
from reference_facts import reference_transactions
from diffgen import base_policies
from exportdsl.diff.temporal import at_date, between, boundary_days, timeline

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
OCTOBER = POLICIES / "cn-rare-earths-2025-10.xpol"
NOVEMBER = POLICIES / "cn-rare-earths-2025-11.xpol"


def _days(first: str, last: str) -> list[str]:
    day, end = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    out = []
    while day <= end:
        out.append(day.isoformat())
        day += datetime.timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def transactions() -> list[dict]:
    return reference_transactions(2_000, seed=20251009)


# ---- between -------------------------------------------------------------------------------------

def test_between_shows_the_de_minimis_and_direct_product_rules_taking_effect_and_nothing_else():
    result = between(exportdsl.load(OCTOBER).ir, "2025-11-30", "2025-12-01")
    assert [(c.kind, c.subject) for c in result.structural] == [
        ("rule takes effect", "O7"), ("rule takes effect", "O8")]
    assert result.complete and result.regions
    for region in result.regions:       # every change names a rule that starts that day (or one reading it)
        assert set(region.new_rules) & {"O7", "O8", "O9", "O10", "O11", "O12"}, region


def test_between_agrees_with_evaluation_on_both_days(transactions):
    policy = exportdsl.load(OCTOBER)
    result = between(policy.ir, "2025-11-30", "2025-12-01")
    changed = 0
    for tx in transactions:
        before = policy.decide({**tx, "ship_date": "2025-11-30"})
        after = policy.decide({**tx, "ship_date": "2025-12-01"})
        matching = [i for i, r in enumerate(result.regions) if r.matches(tx)]
        if before != after:
            changed += 1
            assert len(matching) == 1, (tx, before, after, matching)
            region = result.regions[matching[0]]
            assert (region.old, region.new) == (before[0], after[0])
        else:
            assert not matching, (tx, before)
    assert changed > 0, "the generated transactions should reach the de minimis rule"


def test_between_on_a_day_without_changes_is_empty_and_the_same_day_is_empty():
    policy = exportdsl.load(NOVEMBER).ir
    assert not between(policy, "2025-11-30", "2025-12-01").regions     # O7/O8 start inside the suspension
    assert not between(policy, "2026-01-01", "2026-01-01").regions


# ---- timeline ------------------------------------------------------------------------------------

def test_timeline_lists_exactly_the_days_on_which_generated_transactions_change(transactions):
    policy = exportdsl.load(NOVEMBER)
    listed, complete = timeline(policy.ir, start="2025-01-01", end="2026-12-31")
    assert complete
    listed_days = {d.day for d in listed}
    decide, days = policy.decide, _days("2024-12-31", "2026-12-31")
    for tx in transactions:
        previous, dated = None, dict(tx)
        for day in days:
            dated["ship_date"] = day
            outcome = decide(dated)
            if previous is not None and outcome != previous:
                assert day in listed_days, f"{tx} changes on {day}, which the timeline does not list"
            previous = outcome
    for change in listed:
        day_before = (datetime.date.fromisoformat(change.day) - datetime.timedelta(days=1)).isoformat()
        assert policy.decide({**change.witness, "ship_date": day_before}) != policy.decide(change.witness)
        assert change.witness["ship_date"] == change.day
    assert listed_days <= set(boundary_days(policy.ir))


def test_timeline_of_november_leaves_out_rule_dates_inside_the_suspension():
    listed, _ = timeline(exportdsl.load(NOVEMBER).ir)
    days = [d.day for d in listed]
    assert "2025-11-08" not in days and "2025-12-01" not in days     # Nos. 55-58 and 61's later parts
    assert "2025-11-07" in days and "2026-11-11" in days              # the suspension starts and ends


# ---- at_date is the policy on that day -------------------------------------------------------------

@settings(max_examples=60)
@given(data=st.data())
def test_policy_as_of_a_day_decides_like_the_policy_on_that_day(data):
    model = data.draw(base_policies())
    if model.dated_by is None:
        return
    policy = exportdsl.compile(model.text())
    day = data.draw(st.sampled_from(policygen.DATE_POOL))
    fixed = exportdsl.Policy(policy.ast, at_date(policy.ir, day))
    for _ in range(5):
        tx = data.draw(policygen.transactions(model.spec()))
        tx[model.dated_by] = day
        try:
            expected = policy.decide(tx)
        except exportdsl.EvaluationError:
            continue
        rest = {k: v for k, v in tx.items() if k != model.dated_by}
        assert fixed.decide(rest) == expected


def test_bad_days_are_errors():
    policy = exportdsl.load(OCTOBER).ir
    with pytest.raises(exportdsl.Error) as caught:
        between(policy, "2025-02-30", "2025-03-01")
    assert caught.value.diagnostics[0].code == "E502"
    undated = exportdsl.compile("decisions a < b\nfact x: bool\nrule R { x -> b }").ir
    with pytest.raises(exportdsl.Error) as caught:
        timeline(undated)
    assert caught.value.diagnostics[0].code == "E502"


# ---- the command line ------------------------------------------------------------------------------

def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exportdsl", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_diff_between_and_timeline():
    run = _run("diff", str(OCTOBER), "--between", "2025-11-30", "2025-12-01", "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert [c["subject"] for c in report["structural"]] == ["O7", "O8"]
    run = _run("diff", str(OCTOBER), str(NOVEMBER), "--between", "2025-11-30", "2025-12-01")
    assert run.returncode == 2 and "E402" in run.stderr and "Traceback" not in run.stderr
    run = _run("diff", str(OCTOBER))
    assert run.returncode == 2 and "E402" in run.stderr
    run = _run("timeline", str(NOVEMBER), "--format", "json")
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert [d["day"] for d in data["days"]] == [d.day for d in timeline(exportdsl.load(NOVEMBER).ir)[0]]
    assert data["policy"]["hash"] == exportdsl.load(NOVEMBER).content_hash


# ---- content hashes -------------------------------------------------------------------------------

def _copy_chain(target: Path) -> Path:
    target.mkdir()
    for name in ("cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol", "cn-rare-earths-2025-11.xpol"):
        shutil.copy(POLICIES / name, target / name)
    return target


def test_hash_is_stable_across_processes_and_folders(tmp_path):
    copy = _copy_chain(tmp_path / "elsewhere")
    first = _run("hash", str(NOVEMBER))
    second = _run("hash", "cn-rare-earths-2025-11.xpol", cwd=copy)
    assert first.returncode == second.returncode == 0
    assert first.stdout.split()[0] == second.stdout.split()[0] == exportdsl.load(NOVEMBER).content_hash
    assert first.stdout.split()[0].startswith("sha256:")


@pytest.mark.parametrize("edited", ["cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol",
                                    "cn-rare-earths-2025-11.xpol"])
def test_hash_changes_when_any_file_of_the_chain_changes(tmp_path, edited):
    copy = _copy_chain(tmp_path / "chain")
    before = exportdsl.load(copy / "cn-rare-earths-2025-11.xpol").content_hash
    with (copy / edited).open("a", encoding="utf-8") as handle:
        handle.write("# a comment changes no decision, but it is another text\n")
    after = exportdsl.load(copy / "cn-rare-earths-2025-11.xpol").content_hash
    assert before != after
    hashes = {exportdsl.load(copy / name).content_hash for name in _names(copy)}
    assert len(hashes) == 3


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_decisions_carry_the_policy_record():
    policy = exportdsl.load(OCTOBER)
    tx = reference_transactions(1, seed=1)[0]
    record = policy.evaluate(tx).to_json()["policy"]
    assert record == {"name": "cn-rare-earths", "version": "2025-10", "hash": policy.content_hash}
