"""Dates in the compiled evaluator: a date fact is read into its code (its place among the dates the
rules name, :func:`exportdsl.semantics.date_code`) and the rules compare codes.

Checked against string comparison of ISO dates (Hypothesis, every operator, dates on and next to
the thresholds) and against the reference interpreter, with the date cache cold, warm and full.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl.backends import python as backend
from exportdsl.backends.fact_checks import date_thresholds
from exportdsl.combining import decisive_conditions
from exportdsl.operators import CompareOp
from exportdsl.semantics import compare, date_code

_DAY = datetime.timedelta(days=1)
_ANCHORS = [datetime.date(2025, 4, 4), datetime.date(2025, 10, 9), datetime.date(2025, 11, 8),
            datetime.date(2025, 12, 1), datetime.date(2026, 11, 10)]
dates = st.one_of(
    st.sampled_from(_ANCHORS).flatmap(lambda d: st.sampled_from([d - _DAY, d, d + _DAY])),
    st.dates(min_value=datetime.date(1, 1, 2), max_value=datetime.date(9999, 12, 30)),
).map(datetime.date.isoformat)


@settings(max_examples=500, deadline=None)
@given(st.lists(dates, max_size=6), dates, st.sampled_from(list(CompareOp)), st.data())
def test_comparing_codes_is_comparing_dates(thresholds, day, op, data):
    thresholds = sorted(set(thresholds)) or ["2025-10-09"]
    t = data.draw(st.sampled_from(thresholds), label="threshold")
    assert compare(op, date_code(day, thresholds), date_code(t, thresholds)) == compare(op, day, t)


@given(st.lists(dates, min_size=1, max_size=6), dates)
def test_a_code_is_odd_exactly_on_a_threshold(thresholds, day):
    thresholds = sorted(set(thresholds))
    assert (date_code(day, thresholds) % 2 == 1) == (day in thresholds)


POLICY_TEXT = """
decisions no < low < high
dated by d
fact d: date
fact e: date = 2025-11-08
fact tag: enum {a, b}
rule GE { d >= 2025-10-09 and tag = a -> low }
rule GT { d > 2025-11-08 and tag = b -> low }
rule LT { d < 2025-04-04 -> low }
rule LE { d <= 2025-04-04 and tag = b -> high }
rule EQ { d = 2025-12-01 -> high }
rule NE { d != 2025-10-09 and e = 2025-10-09 -> high }
rule IN { d in {2026-01-01, 2025-12-31} -> high }
rule W { effective 2025-11-08 until 2026-11-10 e >= 2025-12-01 and tag = a -> high }
"""
_NAMED = ["2025-04-04", "2025-10-09", "2025-11-08", "2025-12-01", "2025-12-31", "2026-01-01", "2026-11-10"]


def _around() -> list[str]:
    out = {"0001-01-01", "9999-12-31", "2025-01-01", "2027-06-30"}
    for text in _NAMED:
        day = datetime.date.fromisoformat(text)
        out.update([(day - _DAY).isoformat(), text, (day + _DAY).isoformat()])
    return sorted(out)


def _agree(policy, facts):
    got = policy.decide(facts)
    assert got == policy.interpret(facts), facts
    assert policy.decision(facts) == got[0]
    assert tuple(policy.evaluate(facts)[:2]) == got
    return got


@pytest.mark.parametrize("tag", ["a", "b"])
def test_dates_on_and_next_to_every_threshold_decide_like_the_interpreter(tag):
    policy = exportdsl.compile(POLICY_TEXT)
    days = _around()
    for d in days:
        for e in [None, *days]:
            facts = {"d": d, "tag": tag} if e is None else {"d": d, "e": e, "tag": tag}
            _agree(policy, facts)
            _agree(policy, facts)          # the second time, both dates come from the cache
    assert {policy.decide({"d": d, "tag": tag})[0] for d in days} == {"no", "low", "high"}


@pytest.mark.parametrize("bad", ["2025-02-30", "2025-1-01", "20251009", "2025-10-09 ", "２０２５-10-09",
                                 20251009, None, ["2025-10-09"]])
def test_a_bad_date_fails_closed_cold_and_after_good_ones(bad):
    policy = exportdsl.compile(POLICY_TEXT)
    for _ in range(2):
        with pytest.raises(exportdsl.EvaluationError) as info:
            policy.decide({"d": bad, "tag": "a"})
        assert "'d'" in str(info.value) or '"d"' in str(info.value)
        policy.decide({"d": "2025-10-09", "tag": "a"})


def test_date_objects_and_str_subclasses_are_read_as_their_iso_text():
    class Lying(str):
        def __eq__(self, other):
            return True

        def __hash__(self):
            return hash("2025-12-01")

    policy = exportdsl.compile(POLICY_TEXT)
    policy.decide({"d": "2025-12-01", "tag": "a"})       # the true value is in the cache
    assert _agree(policy, {"d": datetime.date(2025, 12, 1), "tag": "a"}) == ("high", ("EQ",))
    assert _agree(policy, {"d": Lying("2025-01-01"), "tag": "a"}) == ("low", ("LT",))


def test_the_date_cache_starts_over_when_full(monkeypatch):
    monkeypatch.setattr(backend, "_DATE_CACHE_LIMIT", 5)
    policy = exportdsl.compile(POLICY_TEXT)
    cache = policy.decide.__globals__["_DATES"]
    days = _around()
    for d in days * 2:
        _agree(policy, {"d": d, "tag": "b"})
        assert 1 <= len(cache) <= 5
    thresholds = date_thresholds(policy.ir.facts, decisive_conditions(policy.ir).values())
    assert thresholds == tuple(_NAMED)
    assert all(code == date_code(d, thresholds) for d, code in cache.items())
