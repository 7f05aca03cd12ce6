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
