"""The SAT diff with worker processes (``diff/workers.py``): while the keys are enumerated, forked
workers prove each region's always co-deciding rules.

- The report is the same, byte for byte in every format, with no worker, one or two, and on the
  reference-like generated pairs of benchmarks/bench_diff.py (many regions, many batches of proofs);
  the brute-force tests of test_diff.py run the worker path too on every Hypothesis pair.
- A worker that raises or dies is E505 (fail closed, no partial report); a worker still busy past
  the budget leaves the result INCOMPLETE within the budget, never a hang.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest

import exportdsl
from exportdsl.diff import Budget, assemble, diff, workers
from exportdsl.diff.search import PARALLEL_RULES

from test_diff import renderings

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_diff.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_diff_for_tests", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated():
    """The benchmark's generated pair at 300 rules (seeded): dozens of regions, several batches of proofs."""
    old_text, new_text = _bench().generated_pair(300, seed=300)
    return exportdsl.compile(old_text, "old.xpol"), exportdsl.compile(new_text, "new.xpol")


def _sat(pair, **kwargs):
    old, new = pair
    return diff(old.ir, new.ir, engine="sat", evaluators=(old.decide, new.decide), **kwargs)


def test_workers_change_nothing_in_the_report(generated):
    alone = _sat(generated, workers=0)
    assert len(alone.regions) > 2 * assemble.PROOF_BATCH and alone.complete
    assert any(r.old_always or r.new_always for r in alone.regions)   # the proofs matter here
    for count in (1, 2):
        forked = _sat(generated, workers=count)
        assert forked.complete
        assert renderings(forked) == renderings(alone), count
        assert [(r.old_always, r.new_always) for r in forked.regions] == \
               [(r.old_always, r.new_always) for r in alone.regions]


def test_only_large_pairs_fork_by_default(generated, monkeypatch):
    """Below PARALLEL_RULES rules the default makes no worker (a pool would cost more than it saves)."""
    old, new = generated
    assert len(old.rules) + len(new.rules) <= PARALLEL_RULES
    monkeypatch.setattr(workers, "Pool", None)   # any attempt to make one fails
    assert _sat(generated).complete


def _raises(batch):
    raise RuntimeError("a worker's bug")


def _dies(batch):
    os._exit(3)


@pytest.mark.parametrize("failure", [_raises, _dies])
def test_a_failing_worker_is_E505(generated, monkeypatch, failure):
    monkeypatch.setattr(assemble, "_prove", failure)   # the workers are forked after this
    with pytest.raises(exportdsl.Error) as info:
        _sat(generated, workers=1)
    assert [d.code for d in info.value.diagnostics] == ["E505"]


def _slow(batch):
    time.sleep(30)


def test_a_worker_past_the_budget_makes_the_result_incomplete_in_time(generated, monkeypatch):
    import threading
    escaped = []   # an uncaught error of a thread prints a traceback on the user's terminal
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    monkeypatch.setattr(assemble, "_prove", _slow)
    started = time.monotonic()
    result = _sat(generated, workers=1, budget=Budget(max_seconds=2.0))
    assert not result.complete
    # the executor's thread raised InvalidStateError for a batch cancelled then failed (Python 3.11)
    assert not escaped, [f"{a.exc_type.__name__}: {a.exc_value}" for a in escaped]
    assert time.monotonic() - started < 2.0 + workers.GRACE_SECONDS + 2.0   # not the worker's 30 s
    alone = _sat(generated, workers=0)
    # what is listed stays exact: every region reported is one of the complete diff's regions
    assert {r.key for r in result.regions} <= {r.key for r in alone.regions}


def _sluggish(batch):
    time.sleep(0.3)
    return assemble._prove_with(assemble._proving, batch)


def test_batches_no_worker_started_are_proven_here(generated, monkeypatch):
    """With a slow worker most batches are still queued when the keys are all found: the diff takes
    them back and proves them itself; the report is the same."""
    alone = _sat(generated, workers=0)
    taken = []
    take_back = workers.Pool.take_back

    def counting(self):
        index = take_back(self)
        taken.append(index)
        return index
    monkeypatch.setattr(assemble, "_prove", _sluggish)
    monkeypatch.setattr(workers.Pool, "take_back", counting)
    forked = _sat(generated, workers=1)
    assert len([i for i in taken if i is not None]) >= 1
    assert renderings(forked) == renderings(alone)


def test_a_process_running_other_threads_is_never_forked(monkeypatch):
    """A fork copies only the calling thread: a lock another thread holds (allocator, logging, a
    library's pool) would stay held in the worker, so a threaded service diffs in-process."""
    import threading
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))   # every core idle
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(workers, "thread_count", lambda: 1)
    assert workers.worker_count() == 3
    monkeypatch.undo()
    release = threading.Event()
    before = workers.thread_count()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert workers.thread_count() == before + 1
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
        assert workers.worker_count() == 0
    finally:
        release.set()
        thread.join()


def _no_setup():
    pass


def test_stopping_busy_workers_with_batches_still_queued_prints_no_thread_traceback(monkeypatch):
    """Python 3.11's executor thread raised InvalidStateError when a killed worker left batches that
    had been taken back (cancelled) still queued (uncaught in a thread: a traceback on the user's
    terminal; seen once as a warning of the full suite)."""
    import threading
    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    pool = workers.Pool(1, _slow, _no_setup, ())
    for batch in range(6):   # one running, two in the executor's call queue, three waiting behind
        pool.submit(batch)
    deadline = time.monotonic() + 0.5
    while not pool.futures[0].running() and time.monotonic() < deadline + 5:
        time.sleep(0.01)
    assert (pool.take_back(), pool.take_back()) == (5, 4)   # the diff proves these two itself: cancelled
    manager = pool.executor._executor_manager_thread   # the thread that raised, joined before looking
    started = time.monotonic()
    assert pool.results(deadline=time.monotonic() - workers.GRACE_SECONDS) == [None] * 6
    assert time.monotonic() - started < 5   # not the batch's 30 s
    manager.join(timeout=10)
    assert not escaped, [f"{a.exc_type.__name__}: {a.exc_value}" for a in escaped]


def test_a_closed_pool_gives_the_thread_error_hook_back(monkeypatch):
    import threading
    mine = []
    monkeypatch.setattr(threading, "excepthook", mine.append)
    pool = workers.Pool(1, _sluggish, _no_setup, ())
    assert threading.excepthook is not mine.append   # filtered while the pool lives
    pool.close()
    pool.close()   # the diff closes twice (after its results, and on the way out)
    assert threading.excepthook == mine.append
