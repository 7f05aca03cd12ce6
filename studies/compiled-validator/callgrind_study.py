"""STUDY: instructions per decision (callgrind) of options (a) and (b), by the method of
benchmarks/callgrind_eval.py: a child builds bench_eval's transactions (same seed, same policies),
runs the case once over all of them (warm-up), then once inside ``collections.deque(map(fn, txs),
maxlen=0)``; callgrind collects only inside ``deque_init``; PYTHONHASHSEED=0.

Run (from the worktree):  .venv/bin/python studies/compiled-validator/callgrind_study.py [cases] [--n 2000]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
CASES = ("hand_plain_f", "hand_plain_d", "hand_f", "decide_f", "decide_d", "cdecide_f", "cdecide_d",
         "trusted_f", "trusted_d", "evaluate_f", "evaluate_d", "cevaluate_f", "cevaluate_d", "cldecide_f", "cldecide_d",
         "clevaluate_d", "r250_plain", "r250_decide", "r250_c", "r250_trusted")
RATIOS = (("decide_f", "hand_plain_f", 1.5), ("cdecide_f", "hand_plain_f", 1.5), ("trusted_f", "hand_plain_f", 1.5),
          ("decide_d", "hand_plain_d", 1.5), ("cdecide_d", "hand_plain_d", 1.5), ("trusted_d", "hand_plain_d", 1.5),
          ("evaluate_f", "hand_f", 1.0), ("cevaluate_f", "hand_f", 1.0),
          ("evaluate_f", "hand_plain_f", 2.0), ("cevaluate_f", "hand_plain_f", 2.0),
          ("evaluate_d", "hand_plain_d", 2.0), ("cevaluate_d", "hand_plain_d", 2.0),
          ("cldecide_f", "hand_plain_f", 1.5), ("cldecide_d", "hand_plain_d", 1.5),
          ("clevaluate_d", "hand_plain_d", 2.0),
          ("r250_decide", "r250_plain", 1.2), ("r250_c", "r250_plain", 1.2), ("r250_trusted", "r250_plain", 1.2))


def make_case(case: str, n: int):
    """(function, transactions) of a case."""
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(HERE))
    import bench_eval as bench
    import patched

    import exportdsl
    texts = bench.make_transactions(n)
    if case.startswith("r250"):
        policy = exportdsl.compile(bench.synthetic_policy(250), "<synthetic>")
        txs = [json.loads(t) for t in texts]
        if case == "r250_plain":
            plain, plain_input = bench.plain_generated(policy)
            return plain, [plain_input(t) for t in txs]
        fn = {"r250_decide": lambda: policy.decide, "r250_c": lambda: patched.c_checked(policy),
              "r250_trusted": lambda: patched.trusted(policy)}[case]()
        return fn, txs
    what, tag = case.rsplit("_", 1)
    txs = [json.loads(t, parse_float=Decimal) if tag == "d" else json.loads(t) for t in texts]
    policy = exportdsl.load(bench.POLICY_PATH)
    if what == "hand_plain":
        return bench.decide_by_hand_unvalidated, [bench.canonical(t) for t in txs]
    fn = {"hand": lambda: bench.decide_by_hand, "decide": lambda: policy.decide,
          "cdecide": lambda: patched.c_checked(policy), "trusted": lambda: patched.trusted(policy),
          "evaluate": lambda: policy.evaluate, "cevaluate": lambda: patched.c_checked_evaluate(policy, txs[0]),
          "cldecide": lambda: patched.c_checked(policy, True),
          "clevaluate": lambda: patched.c_checked_evaluate(policy, txs[0], True)}[what]()
    return fn, txs


def run_case(case: str, n: int) -> None:
    fn, txs = make_case(case, n)
    for tx in txs:      # warm up, not collected
        fn(tx)
    collections.deque(map(fn, txs), maxlen=0)


def count(case: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=deque_init",
                        f"--callgrind-out-file={out}", sys.executable, __file__, "--child", case, "--n", str(n)],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
        text = Path(out).read_text()
    totals = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(totals[1]) // n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--child")
    args = ap.parse_args(argv)
    if args.child:
        run_case(args.child, args.n)
        return 0
    counts = {}
    for case in args.cases or CASES:
        counts[case] = count(case, args.n)
        print(f"  {case:14}{counts[case]:9,d} instructions per transaction", flush=True)
    for case, base, target in RATIOS:
        if case in counts and base in counts:
            print(f"  {case} / {base}: {counts[case] / counts[base]:.3f}  (target <= {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
