"""STUDY: reference-count and memory discipline of _xpolcheck.check (leaks or over-releases show as
refcount drift of the objects it touches, or as RSS growth over many calls).

Run (from the worktree):  timeout 600 .venv/bin/python -m pytest -q -p no:cacheprovider studies/compiled-validator/test_refcounts.py
"""

from __future__ import annotations

import gc
import json
import resource
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(HERE))

import bench_eval as bench  # noqa: E402
import patched  # noqa: E402
import _xpolcheck  # noqa: E402

import exportdsl  # noqa: E402

OCTOBER = exportdsl.load(bench.POLICY_PATH)
MIXED = exportdsl.load(HERE / "mixed.xpol")


def _objects(tx):
    out = [tx]
    for k, v in tx.items():
        out += [k, v]
        if isinstance(v, (list, tuple, set, frozenset)):
            out += list(v)
    return out


def _inputs():
    texts = bench.make_transactions(50)
    txs = [json.loads(t) for t in texts] + [json.loads(t, parse_float=Decimal) for t in texts]
    base = txs[0]
    bad = []
    for name, value in [("re_content", float("nan")), ("re_content", Decimal("NaN")), ("re_content", 101),
                        ("memory_layers", 10**30), ("elements", ["Sm", 1]), ("elements", ["Xx"]),
                        ("elements", ("Sm", "Tb")), ("elements", {"Sm"}), ("ship_date", "2025-02-30"),
                        ("export_from", "cn"), ("item", "nothing"), ("battery_wh_per_kg", Decimal("1" * 90))]:
        tx = dict(base)
        tx[name] = value
        bad.append(tx)
    extra = dict(base)
    extra["extra"] = 1
    missing = dict(base)
    del missing["item"]
    return txs + bad + [extra, missing]


def test_no_refcount_drift():
    for policy in (OCTOBER,):
        spec = patched.build_spec(policy)
        for tx in _inputs():
            _xpolcheck.check(tx, spec)      # a new date is remembered in the date cache (one reference)
            objects = _objects(tx) + [spec]
            before = [sys.getrefcount(o) for o in objects]
            for _ in range(1000):
                r = _xpolcheck.check(tx, spec)
                del r
            after = [sys.getrefcount(o) for o in objects]
            # a leak or an over-release per call drifts by about 1,000; a shared small int (held by
            # other code of the process too) may move by one
            drift = [(o, b, a) for o, b, a in zip(objects, before, after) if abs(a - b) > 2]
            assert drift == [], tx


def test_mixed_defaults_no_drift():
    spec = patched.build_spec(MIXED)
    tx = {"day": "2025-11-01", "src": "CN", "kind": "a", "parts": ["p1"], "qty": 11, "weight": 2.5,
          "share": 30, "flag": True, "who": "Acme"}
    defaults = [MIXED._ir.facts[n].default for n in ("late", "mode", "team", "cap", "floor")]
    _xpolcheck.check(tx, spec)              # the date cache
    objects = _objects(tx) + defaults
    before = [sys.getrefcount(o) for o in objects]
    for _ in range(1000):
        assert _xpolcheck.check(tx, spec) is not None
    assert all(abs(a - b) <= 2 for a, b in zip(before, [sys.getrefcount(o) for o in objects]))


def test_rss_flat_over_many_calls():
    spec = patched.build_spec(OCTOBER)
    inputs = _inputs()
    gc.collect()
    for tx in inputs * 200:       # warm: date cache, allocator pools
        _xpolcheck.check(tx, spec)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(20):
        for tx in inputs * 200:
            _xpolcheck.check(tx, spec)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start
    assert grown < 2048, f"peak RSS grew {grown} KiB over {20 * 200 * len(inputs)} calls"


def test_spec_collected():
    import weakref
    policy = exportdsl.load(HERE / "mixed.xpol")
    spec = patched.build_spec(policy)
    ns = policy.decide.__globals__
    ns["_cycle"] = spec                      # spec -> new_date closure ... namespace -> spec
    ref = weakref.ref(ns["_new_date"])
    del spec, ns, policy
    gc.collect()
    assert ref() is None


def test_bad_spec_rejected():
    import pytest
    for entries in [(("x", 99, True, None, None, None, ()),), (("x", 7, True, None, {}, None, ()),),
                    (("x", 8, True, None, {"a": "notint"}, None, ()),), ((1, 0, True, None, None, None, ()),),
                    ("notatuple",), (("x", 2, True, None, None, None, (1,)),)]:
        with pytest.raises((TypeError, ValueError)):
            _xpolcheck.make_spec(Decimal, 104, entries)
    with pytest.raises(TypeError):
        _xpolcheck.check({}, object())
