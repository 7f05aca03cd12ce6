"""Instructions per decision, counted by callgrind: the load-independent figure behind bench_eval.py.

Run:  python benchmarks/callgrind_eval.py                 (all cases, 2,000 transactions, ~10 min)
      python benchmarks/callgrind_eval.py decide_f hand_plain_f --n 1000

Timings on a machine shared with other work are noisy; the number of instructions a decision
executes is not. For each case this runs ``valgrind --tool=callgrind`` on a child process that
builds the transactions of :mod:`bench_eval` (same seed, same policies), runs the case once over all
of them (first-use compiles, the adaptive interpreter's specialisation and the date cache warm, as in
bench_eval's best-of-rounds timings), then once more inside ``collections.deque(map(fn, txs),
maxlen=0)``; callgrind collects only inside ``deque_init``, so the figure is the instructions of
that second loop divided by the number of transactions (the loop's own cost, about 200 of them per
call of a Python function, included in every case alike). ``PYTHONHASHSEED=0`` keeps runs identical.

Cases (``_f``: json floats, ``_d``: json Decimals): ``hand_f``/``hand_d`` (bench_eval.decide_by_hand),
``hand_plain_f``/``hand_plain_d`` (without validation, canonical facts), ``decide_*``, ``decision_*``,
``evaluate_*`` (the October-like policy), ``r25_decide``, ``r25_plain``, ``r250_decide``, ``r250_plain``
(generated policies against the engine's plain generated code).

Standard library and valgrind only, besides exportdsl.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ("hand_plain_f", "hand_plain_d", "hand_f", "hand_d", "decide_f", "decide_d", "decision_f", "evaluate_f",
         "evaluate_d", "r25_decide", "r25_plain", "r250_decide", "r250_plain")
#: (case, baseline, target) ratios printed after the counts.
RATIOS = (("decide_f", "hand_plain_f", 1.5), ("decide_d", "hand_plain_d", 1.5),
          ("evaluate_f", "hand_plain_f", 2.0), ("evaluate_d", "hand_plain_d", 2.0),
          ("evaluate_f", "hand_f", 1.0), ("evaluate_d", "hand_d", 1.0), ("r25_decide", "r25_plain", None), ("r250_decide", "r250_plain", 1.2))


def run_case(case: str, n: int) -> None:
    """In the child: build the case, warm it up, then the measured loop."""
    sys.path.insert(0, str(HERE))
    import bench_eval as bench

    import exportdsl
    texts = bench.make_transactions(n)
    if case.startswith("r25"):
        policy = exportdsl.compile(bench.synthetic_policy(250 if case.startswith("r250") else 25), "<synthetic>")
        plain, plain_input = bench.plain_generated(policy)
        txs = [json.loads(t) for t in texts]
        fn = plain if case.endswith("plain") else policy.decide
        if case.endswith("plain"):
            txs = [plain_input(t) for t in txs]
    else:
        what, tag = case.rsplit("_", 1)
        txs = [json.loads(t, parse_float=Decimal) if tag == "d" else json.loads(t) for t in texts]
        policy = exportdsl.load(bench.POLICY_PATH)
        fn = {"hand": bench.decide_by_hand, "hand_plain": bench.decide_by_hand_unvalidated,
              "decide": policy.decide, "decision": policy.decision, "evaluate": policy.evaluate}[what]
        if what == "hand_plain":
            txs = [bench.canonical(t) for t in txs]
    for tx in txs:      # warm up, not collected (callgrind collects only inside deque_init)
        fn(tx)
    collections.deque(map(fn, txs), maxlen=0)


def count(case: str, n: int) -> int:
    """Instructions per transaction of one case (a callgrind run of this script in child mode)."""
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help=f"default: all of {', '.join(CASES)}")
    ap.add_argument("--n", type=int, default=2000, help="transactions (default 2000)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        run_case(args.child, args.n)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        ap.error(f"unknown cases {unknown}")
    counts = {}
    for case in args.cases or CASES:
        counts[case] = count(case, args.n)
        print(f"  {case:14}{counts[case]:9,d} instructions per transaction", flush=True)
    for case, base, target in RATIOS:
        if case in counts and base in counts:
            goal = f"  (target <= {target})" if target else ""
            print(f"  {case} / {base}: {counts[case] / counts[base]:.2f}{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
