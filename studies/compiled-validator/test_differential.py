"""STUDY: Hypothesis differential of the C-validated decide (option (a)) against the reference
interpreter (``policy.interpret``) and today's generated ``policy.decide``, over random valid and
invalid transactions.

Run (from the worktree):
  timeout 1500 .venv/bin/python -m pytest -q -p no:cacheprovider studies/compiled-validator/test_differential.py
Examples per test: XPOL_EXAMPLES (default 2500).
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import os
import random
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(HERE))

import bench_eval as bench  # noqa: E402
import patched  # noqa: E402

import exportdsl  # noqa: E402
from exportdsl.types import COUNTRY_CODES, Kind  # noqa: E402

EXAMPLES = int(os.environ.get("XPOL_EXAMPLES", "2500"))
STATS: collections.Counter = collections.Counter()


# ---- lying subclasses: __class__ claims the base type; hash/eq may lie too
class LyingStr(str):
    @property
    def __class__(self):
        return str

    def __hash__(self):
        return hash("ship_date")

    def __eq__(self, other):
        return True


class QuietStr(str):      # a plain subclass that lies only in __class__
    @property
    def __class__(self):
        return str


class LyingInt(int):
    @property
    def __class__(self):
        return int


class LyingFloat(float):
    @property
    def __class__(self):
        return float


class LyingList(list):
    @property
    def __class__(self):
        return list


class LyingDict(dict):
    @property
    def __class__(self):
        return dict


class RaisingHashStr(str):
    def __hash__(self):
        raise RuntimeError("hash")


class LyingBool(int):
    @property
    def __class__(self):
        return bool


def _policies():
    october = exportdsl.load(bench.POLICY_PATH)
    mixed = exportdsl.load(HERE / "mixed.xpol")
    return {"october": october, "mixed": mixed}


POLICIES = _policies()
CHECKED = {name: patched.c_checked(p) for name, p in POLICIES.items()}


def outcome(fn, tx):
    try:
        return ("ok", fn(tx))
    except exportdsl.EvaluationError as exc:
        return ("error", tuple(sorted({d.code for d in exc.diagnostics})), str(exc))
    except exportdsl.Error as exc:      # any other documented error: compared as such
        return ("other-error", type(exc).__name__, str(exc))


# ---- valid values per fact kind
def valid_value(draw, policy, name, fact):
    kind = fact.type.kind
    if kind is Kind.BOOL:
        return draw(st.booleans())
    if kind is Kind.INTEGER:
        return draw(st.one_of(st.integers(-1000, 1000), st.sampled_from([0, 10, 11, 256, 255, 5, 4, 2**30 - 2, 2**30,
                                                                          10**18 - 1, -(10**18) + 1, 2**40])))
    if kind in (Kind.NUMBER, Kind.PERCENT):
        hi = 100 if kind is Kind.PERCENT else 1e6
        cuts = [0.1, 0.2, 0.3, 1.5, 2.5, 14.0, 25.0, 50.0, 100.0, 250.0, 300.0, 301.5, 0.0]
        near = [c for c in cuts if c <= hi] + [math.nextafter(c, math.inf) for c in cuts if c < hi] + \
               [math.nextafter(c, -math.inf) for c in cuts if c > 0]
        f = draw(st.one_of(st.floats(0 if kind is Kind.PERCENT else -hi, hi, allow_nan=False), st.sampled_from(near)))
        form = draw(st.integers(0, 3))
        if form == 0 and f == int(f):
            return int(f)
        if form == 1:
            return Decimal(repr(f))
        if form == 2:
            return draw(st.decimals(0 if kind is Kind.PERCENT else -hi, hi, allow_nan=False, allow_infinity=False,
                                    places=draw(st.integers(0, 6))))
        return f
    if kind is Kind.DATE:
        d = draw(st.one_of(st.dates(datetime.date(2024, 1, 1), datetime.date(2027, 12, 31)),
                           st.sampled_from([datetime.date(2025, 10, 9), datetime.date(2025, 10, 8),
                                            datetime.date(2025, 12, 1), datetime.date(2025, 11, 30),
                                            datetime.date(2025, 4, 4), datetime.date(2026, 1, 1)])))
        return d.isoformat()
    if kind is Kind.COUNTRY:
        return draw(st.one_of(st.sampled_from(["CN", "HK", "US", "JP"]), st.sampled_from(sorted(COUNTRY_CODES))))
    if kind is Kind.ENUM:
        return draw(st.sampled_from(list(fact.type.values)))
    if kind is Kind.STRING:
        return draw(st.one_of(st.sampled_from(["Acme", "red", "none", "BAE Systems, Inc.", "Epirus, Inc."]),
                              st.text(max_size=8)))
    if kind is Kind.SET:
        element = fact.type.element
        if element.kind is Kind.ENUM:
            pool = st.sampled_from(list(element.values))
        elif element.kind is Kind.COUNTRY:
            pool = st.one_of(st.sampled_from(["CN", "HK", "US"]), st.sampled_from(sorted(COUNTRY_CODES)))
        elif element.kind is Kind.STRING:
            pool = st.one_of(st.sampled_from(["hot", "cold", "warm"]), st.text(max_size=5))
        elif element.kind is Kind.INTEGER:
            pool = st.one_of(st.just(7), st.integers(-5, 20))
        else:
            pool = st.just(1)
        values = draw(st.lists(pool, max_size=5))
        container = draw(st.sampled_from([list, tuple, set, frozenset]))
        return container(values)
    raise AssertionError(kind)


HOSTILE_VALUES = [
    None, [], {}, "", "x", 0, 1, -1, True, False, 1.5, float("nan"), float("inf"), float("-inf"), -0.0, 5e-324,
    10**18, -(10**18), 10**18 - 1, 2**63, -(2**63) - 1, 10**30, 101, 100, 100.0, 100.00000000000001, -1e-300,
    Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-0"), Decimal("0E-500"), Decimal("1e40"),
    Decimal("1e-40"), Decimal("1" * 80), Decimal("100"), Decimal("100.0000001"), Decimal("-1e29"), Decimal("1e30"),
    # Decimal edges of the fast path's range (both the protocol and the layout reading)
    Decimal("100.000"), Decimal("1E+2"), Decimal("100.0000000000000000001"), Decimal("100.00000000000000001"),
    Decimal("1E-30"), Decimal("9.99E-31"), Decimal("0.99999E30"), Decimal("9" * 30), Decimal("1E30"),
    Decimal("-1E30"), Decimal("-9.9E29"), Decimal("-1E-30"), Decimal("-9E-31"), Decimal("-0E+5"),
    Decimal("1" * 30), Decimal("1" * 31), Decimal("99.99999"), Decimal("-0.0001"), Decimal("1E-400"),
    Decimal("1E+400"), Decimal("1E-401"), Decimal("-Infinity"), Decimal("0.1"), Decimal("0.10"), Decimal("50"),
    Decimal("5E+1"), Decimal("1" * 20 + "E-18"), Decimal("1" + "0" * 19 + "E-17"), Decimal("1" + "0" * 19 + "E-16"),
    "0.1%", "50%", "2025-10-09", "2025-02-30", "2025-1-1", "20251009", "2025-10-09T00:00", "CN", "cn", "CHN", "XK",
    "a", "c d", "y", "z", "p1", "Sm", "metal", "hot",
    LyingStr("CN"), QuietStr("2025-10-09"), QuietStr("a"), QuietStr("CN"), LyingInt(5), LyingInt(10**20),
    LyingFloat(2.5), LyingFloat(float("nan")), LyingBool(1), LyingList(["p1", "p2"]), LyingList(["Sm"]),
    ["p1", "p2"], ["p1", 1], [None], ["Sm", "Tb"], ["Sm", LyingStr("Tb")], ["Sm", QuietStr("Tb")],
    [RaisingHashStr("Sm")], ["Xx"], ("Sm",), {"Sm"}, frozenset({"p3"}), ["hot", "hot"], [7], [7.0], ["7"],
    ["CN", "HK"], ["cn"], [["Sm"]], {"Sm": 1}, b"CN", bytearray(b"x"), object(),
]


@st.composite
def transactions(draw, policy_name):
    policy = POLICIES[policy_name]
    facts = policy._ir.facts
    if policy_name == "october" and draw(st.booleans()):
        tx = bench._random_transaction(random.Random(draw(st.integers(0, 2**32))))
        if draw(st.booleans()):
            tx = json.loads(json.dumps(tx), parse_float=Decimal)
    else:
        tx = {}
        for name, fact in facts.items():
            if not fact.required and draw(st.integers(0, 2)) == 0:
                continue
            tx[name] = valid_value(draw, policy, name, fact)
    names = list(facts)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        what = draw(st.integers(0, 8))
        if what <= 5:
            tx[draw(st.sampled_from(names))] = draw(st.sampled_from(HOSTILE_VALUES))
        elif what == 6 and tx:
            del tx[draw(st.sampled_from(sorted(tx, key=repr)))]
        elif what == 7:
            key = draw(st.sampled_from(["extra", "Ship_date", LyingStr("zz"), QuietStr(names[0]), 1, ("k",)]))
            tx[key] = draw(st.sampled_from(["x", 1, True]))
        elif what == 8:
            # a str-subclass key standing for a declared name (value kept)
            name = draw(st.sampled_from(names))
            if name in tx:
                tx[QuietStr(name)] = tx.pop(name)
    if draw(st.integers(0, 9)) == 0:      # the transaction itself of another type
        tx = draw(st.sampled_from([LyingDict, dict, collections.OrderedDict, lambda t: list(t.items())]))(tx)
    return tx


def _compare(policy_name, tx):
    policy = POLICIES[policy_name]
    reference = outcome(policy.interpret, tx)
    today = outcome(policy.decide, tx)
    checked = outcome(CHECKED[policy_name], tx)
    STATS[(policy_name, reference[0] if reference[0] != "ok" else reference[1][0])] += 1
    # the C-validated function decides exactly as the interpreter, or raises the same codes
    assert checked[:2] == reference[:2], (tx, checked, reference)
    # and exactly as today's generated decide, error text included
    assert checked == today, (tx, checked, today)


@pytest.mark.parametrize("policy_name", ["october", "mixed"])
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_c_validator_matches_interpreter(policy_name, data):
    _compare(policy_name, data.draw(transactions(policy_name)))


def test_corpus_of_bench_transactions():
    """Every transaction of bench_eval (floats and Decimals) and its malformed ones."""
    policy = POLICIES["october"]
    texts = bench.make_transactions(3000)
    for parse in (None, Decimal):
        for text in texts:
            _compare("october", json.loads(text, parse_float=parse) if parse else json.loads(text))
    for tx in bench.bad_transactions():
        _compare("october", tx)
    assert policy.decide is not CHECKED["october"]


def test_c_path_taken_for_canonical_input():
    """The fast path is really the C one: canonical transactions never reach _slow."""
    for name, policy in POLICIES.items():
        ns = policy.decide.__globals__
        calls = []
        slow = ns["_slow"]
        ns["_slow"] = lambda facts: calls.append(facts) or slow(facts)
        try:
            texts = bench.make_transactions(200)
            if name == "october":
                for text in texts:
                    CHECKED[name](json.loads(text))
                    CHECKED[name](json.loads(text, parse_float=Decimal))
                assert calls == []
        finally:
            ns["_slow"] = slow


def teardown_module(module):
    import _xpolcheck
    print("\nDecimals read through _decimal's layout:",
          {name: _xpolcheck.uses_layout(p.decide.__globals__["_XPOL_SPEC"]) for name, p in POLICIES.items()})
    print("\noutcomes by (policy, decision or error):", dict(sorted(STATS.items(), key=str)))
