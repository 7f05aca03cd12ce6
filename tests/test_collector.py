"""The cyclic garbage collector is paused around compiling and diffing, and left as the caller had it."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

import exportdsl
from exportdsl.collector import collector_paused
from exportdsl.diff import diff

POLICIES = Path(__file__).resolve().parent.parent / "policies"


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_diff_runs_with_the_collector_paused_and_gives_it_back(collector_on):
    old, new = (exportdsl.load(POLICIES / f"cn-rare-earths-2025-{m}.xpol") for m in ("04", "10"))
    seen = []

    def watching(decide):
        def evaluate(facts):
            seen.append(gc.isenabled())
            return decide(facts)
        return evaluate

    result = diff(old.ir, new.ir, evaluators=(watching(old.decide), watching(new.decide)))
    assert result.regions and seen and not any(seen)   # every witness was checked with the collector off
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_off(collector_on):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
    exportdsl.compile((POLICIES / "quickstart.xpol").read_text(encoding="utf-8"))
    assert not gc.isenabled()


def test_nested_and_concurrent_pauses_share_one(collector_on):
    inside, release = threading.Event(), threading.Event()
    states = []

    def other():
        with collector_paused():
            inside.set()
            release.wait(10)
        states.append(gc.isenabled())   # the main thread's pause still holds

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert inside.wait(10)
        with collector_paused():
            assert not gc.isenabled()
        release.set()
        thread.join(10)
        assert not gc.isenabled()
    assert states == [False] and gc.isenabled()


def test_an_error_inside_ends_the_pause(collector_on):
    with pytest.raises(exportdsl.ParseError):
        exportdsl.compile("policy broken {")
    assert gc.isenabled()
