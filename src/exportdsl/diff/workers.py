"""Worker processes forked from the diff as it stands, for questions whose answers do not depend on
the solver's state.

A worker is forked (``fork``: a SAT solver holding the whole encoding cannot be pickled) and set
up by an initializer that receives its arguments in memory, unpickled. It then answers batches of
questions while the parent goes on; only the questions and answers are pickled. The diff sends
it only questions whose answer is a fact about the policies (which rules apply throughout a
region), never one whose answer depends on the models a solver happens to find, so the report is
the same with any number of workers. Where ``fork`` is missing, or no core is idle,
:func:`worker_count` says 0 and callers answer in-process.

Bounded: :meth:`Pool.results` waits until the deadline (plus :data:`GRACE_SECONDS`), then stops
the workers and leaves the unanswered batches out (the caller says INCOMPLETE); a worker that
raised or died is :class:`WorkerFailed`, never a silently missing answer.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_EXCEPTION, wait

#: At most this many workers (and never more than the cores this process may use, minus its own).
MAX_WORKERS = 3

#: Workers still busy this long after the deadline are stopped (they check the deadline themselves
#: before each solver call, but one call cannot be interrupted).
GRACE_SECONDS = 0.5


class WorkerFailed(Exception):
    """A worker raised or died; the message says how."""


def worker_count() -> int:
    """How many workers may run beside this process: one per core that nothing else keeps busy (by
    the one-minute load average), at most :data:`MAX_WORKERS`; 0 when ``fork`` is unavailable or no
    core is idle. (On a busy machine a worker only takes time from this process: the scheduler
    shares a core between the processes of a session, and a worker's solver starts cold.)"""
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods() or thread_count() > 1:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # no affinity API on this platform
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):   # no load average here: assume the cores are free
        load = 0.0
    idle = int(cores - load + 0.5)
    return max(0, min(cores - 1, idle, MAX_WORKERS))


def thread_count() -> int:
    """The threads of this process, native ones included where the system lists them (``/proc``):
    a process with other threads is never forked, since a lock one of them holds (the allocator's,
    a logging handler's, a library's pool) would stay locked forever in the child. An embedding
    service that serves requests from threads therefore diffs in-process."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:   # no /proc: Python's own threads are the ones we can count
        import threading
        return threading.active_count()


class Pool:
    """``workers`` forked processes, each set up by ``initializer(*initargs)`` (passed in memory), that
    run ``function(batch)`` on the batches given to :meth:`submit`."""

    def __init__(self, workers: int, function, initializer, initargs: tuple):
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor
        self.function = function
        self.executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=initializer, initargs=initargs)
        self.futures: list = []
        self._previous_hook = threading.excepthook
        self._hook = self._filter_thread_error   # one bound method, so that close() finds it again
        threading.excepthook = self._hook

    def submit(self, batch) -> None:
        """Queue one batch (pickled to a worker)."""
        from concurrent.futures.process import BrokenProcessPool
        try:
            self.futures.append(self.executor.submit(self.function, batch))
        except BrokenProcessPool as exc:
            self.close()
            raise WorkerFailed(f"a worker process died ({exc})") from None

    def take_back(self) -> int | None:
        """The index of the last batch submitted that no worker has started, withdrawn from the workers
        (for the caller to answer itself), or None when every batch is started or answered."""
        for index in range(len(self.futures) - 1, -1, -1):
            future = self.futures[index]
            if future.cancelled():
                continue
            return index if future.cancel() else None
        return None

    def results(self, deadline: float) -> list:
        """Each batch's result in the order submitted, None for those unanswered by the deadline or
        taken back."""
        from concurrent.futures.process import BrokenProcessPool
        try:
            done, _ = wait(self.futures, timeout=max(0.0, deadline + GRACE_SECONDS - time.monotonic()),
                           return_when=FIRST_EXCEPTION)
            answers = []
            for future in self.futures:
                if future not in done or future.cancelled():
                    answers.append(None)
                    continue
                try:
                    answers.append(future.result())
                except BrokenProcessPool as exc:
                    raise WorkerFailed(f"a worker process died ({exc})") from None
                except Exception as exc:   # noqa: BLE001 - any error of a worker is the diff's failure
                    raise WorkerFailed(f"a worker failed: {type(exc).__name__}: {exc}") from None
            return answers
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers, busy or not, and wait for the executor's own thread to end (its errors
        are filtered until then: see :meth:`_filter_thread_error`)."""
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        manager = getattr(self.executor, "_executor_manager_thread", None)
        try:
            self.executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.kill()
                process.join()
            if manager is not None:
                manager.join(timeout=10)
        finally:
            import threading
            if threading.excepthook is self._hook:
                threading.excepthook = self._previous_hook

    def _filter_thread_error(self, args) -> None:
        """From the pool's start to its close, the hook for errors no thread caught. When a worker
        dies or is killed, the executor's own thread marks the batches still queued as failed; on
        Python 3.11 it raises InvalidStateError for one already taken back (cancelled; fixed in
        3.12), and that uncaught error would print a traceback on the user's terminal. That one
        error, from that one thread, is let go; any other goes to the hook that was there before."""
        from concurrent.futures import InvalidStateError
        manager = getattr(self.executor, "_executor_manager_thread", None)
        if not (manager is not None and args.thread is manager and args.exc_type is InvalidStateError):
            self._previous_hook(args)
