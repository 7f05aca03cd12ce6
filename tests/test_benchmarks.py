"""The benchmarks stay runnable: what they reach into the package for still exists.

Benchmarks are not run by ``make test`` (they are timed, and long), so a rename inside the package
can break one unseen: bench_diff's stage timer once wrapped ``exportdsl.policy.compile_policy`` after
that import had moved, and its 500- and 2,000-rule runs died. No timings here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_bench_diff_stage_timer_wraps_functions_that_exist():
    # in a fresh process: installing the timer replaces functions of the package in place
    script = "import bench_diff; stages = bench_diff.Stages(); stages.install(); print('installed')"
    done = subprocess.run([sys.executable, "-c", script], cwd=BENCHMARKS, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "installed", done.stderr


def test_bench_diff_counts_the_key_search_work_the_same_on_every_run():
    # the counters that make two runs on a loaded machine comparable: one solver call per key plus
    # the final proof that no key is left, and the solver's own counters, equal on a second run
    script = """
import bench_diff, exportdsl
stages = bench_diff.Stages(); stages.install()
old_text, new_text = bench_diff.generated_pair(80, seed=80)
old, new = exportdsl.compile(old_text, "old"), exportdsl.compile(new_text, "new")
runs = []
for _ in range(2):
    stages.work.clear()
    result = bench_diff.engine(old.ir, new.ir, engine="sat", workers=0)
    runs.append((len(result.regions), dict(stages.work["keys"])))
print(runs)
(regions, work), second = runs
assert regions > 0 and work["solver calls"] == regions + 1, runs
assert work["propagations"] > 0 and work["decisions"] > 0, runs
assert second == runs[0], runs
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=BENCHMARKS, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr


def test_callgrind_eval_cases_still_run():
    # the child mode is what valgrind runs; without valgrind it is the same loop, uncounted
    for case in ("decide_d", "hand_plain_f", "r25_plain"):
        done = subprocess.run([sys.executable, "callgrind_eval.py", "--child", case, "--n", "20"], cwd=BENCHMARKS,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
