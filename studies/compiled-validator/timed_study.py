"""STUDY: µs per decision of options (a) and (b), interleaved with their baselines, with
bench_eval.best_times (chunks of 1,000, round-robin, best of N rounds per chunk, gc off; wall and
CPU time). Noisy: the machine's 2 cores are shared with other work.

Run (from the worktree):  .venv/bin/python studies/compiled-validator/timed_study.py [--n 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import callgrind_study as study  # noqa: E402

sys.path.insert(0, str(study.BENCH))

GROUPS = (("hand_plain_f", "decide_f", "cdecide_f", "trusted_f", "hand_f", "evaluate_f", "cevaluate_f"),
          ("hand_plain_d", "decide_d", "cdecide_d", "cldecide_d", "trusted_d", "evaluate_d", "clevaluate_d"),
          ("r250_plain", "r250_decide", "r250_c", "r250_trusted"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    import bench_eval as bench
    for group in GROUPS:
        cases = {case: study.make_case(case, args.n) for case in group}
        cpu: dict = {}
        wall = bench.best_times(cases, args.repeat, cpu)
        base = group[0]
        for case in group:
            print(f"  {case:14} wall {wall[case]:6.2f} µs  ({wall[case] / wall[base]:.2f}x)   "
                  f"cpu {cpu[case]:6.2f} µs  ({cpu[case] / cpu[base]:.2f}x)", flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
