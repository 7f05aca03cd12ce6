"""The fixed cost of ``exportdsl screen``: what a screening process spends besides scanning its ledger.

Run:  python benchmarks/bench_screen_start.py [--runs 10]

What it does, on a 10-row ledger (``make_ledger.py``), with the October policy and a generated
250-rule one (bench_eval's ``synthetic_policy``):

1. fresh processes, median wall and CPU (user + system, from ``wait4``) of ``--runs`` each: Python
   alone, Python importing duckdb (what a plain DuckDB copy pays before it scans), and ``exportdsl
   screen`` with a text and with a JSON summary;
2. the budget of one screening by phase, median over ``--runs`` children (``--child``) that time
   the package's functions by wrapping them (a phase's own time, without the phases inside it):
   the imports, loading the policy, DuckDB's connection, reading the ledger's columns, building the
   query trees, writing them as SQL, the input count, the COPY (DuckDB parsing and planning the
   query, then the scan), the summary aggregate, closing, printing, and the end of the process
   (from the command's return to the parent's ``wait4``).

Byte code is written and reused as in a normal installation (children run without
``PYTHONDONTWRITEBYTECODE``). The machine is shared: figures are as measured, with the load printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OCTOBER = HERE.parent / "policies" / "cn-rare-earths-2025-10.xpol"


class Phases:
    """Wall and CPU seconds per phase; a wrapped function's own time excludes the wrapped ones it calls."""

    def __init__(self):
        self.spent: dict[str, list[float]] = {}
        self._open: list[list[float]] = []

    def add(self, label: str, wall: float, cpu: float) -> None:
        total = self.spent.setdefault(label, [0.0, 0.0])
        total[0] += wall
        total[1] += cpu

    def wrap(self, owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            self._open.append([time.perf_counter(), time.process_time(), 0.0, 0.0])
            try:
                return inner(*args, **kwargs)
            finally:
                wall0, cpu0, inner_wall, inner_cpu = self._open.pop()
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                self.add(label, wall - inner_wall, cpu - inner_cpu)
                if self._open:
                    self._open[-1][2] += wall
                    self._open[-1][3] += cpu
        setattr(owner, name, timed)

    def step(self, label: str, action) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        self.add(label, time.perf_counter() - wall, time.process_time() - cpu)


class _ClosingTimed:
    """A DuckDB connection whose ``close`` is timed (the connection's own type cannot be patched)."""

    def __init__(self, con, phases: Phases):
        self._con, self._phases = con, phases

    def close(self):
        self._phases.step("closing DuckDB's connection", self._con.close)

    def __getattr__(self, name):
        return getattr(self._con, name)


def child(argv: list[str]) -> None:
    """Run one screening with its phases timed; print them, then end as the command line does."""
    import importlib
    phases = Phases()
    for label, module in (("import exportdsl (cli, policy)", "exportdsl.cli"), ("import screening", "exportdsl.screening"),
                          ("import duckdb", "duckdb"), ("import sqlglot", "sqlglot"),
                          ("import sqlglot's DuckDB dialect", "sqlglot.dialects.duckdb"),
                          ("import the SQL backend", "exportdsl.backends.sql.duckdb_engine")):
        phases.step(label, lambda module=module: importlib.import_module(module))
    if "--format" not in argv:      # the text summary's tables
        phases.step("import rich", lambda: [importlib.import_module(m) for m in ("rich.console", "rich.table", "rich.text")])
    from exportdsl import cli, policy, screening
    from exportdsl.backends.sql import duckdb_engine
    phases.wrap(policy, "load_with_tree", "loading the policy")
    connect = duckdb_engine.connect
    phases.wrap(duckdb_engine, "connect", "DuckDB's connection")
    timed_connect = duckdb_engine.connect
    duckdb_engine.connect = lambda *a, **k: _ClosingTimed(timed_connect(*a, **k), phases)
    for name, label in (("open_ledger", "reading the ledger's columns"), ("build_screen_query", "building the query trees"),
                        ("statement", "writing trees as SQL"), ("_scalar", "counting the input"),
                        ("_copy", "COPY: DuckDB parses, plans, scans"), ("_decision_counts", "the summary aggregate")):
        if hasattr(duckdb_engine, name):
            phases.wrap(duckdb_engine, name, label)
    phases.wrap(screening, "print_summary", "printing the summary")
    in_main = time.perf_counter(), time.process_time()
    status = cli.main(argv)
    main_wall, main_cpu = time.perf_counter() - in_main[0], time.process_time() - in_main[1]
    inside = [sum(v[i] for k, v in phases.spent.items() if not k.startswith("import")) for i in (0, 1)]
    phases.add("the rest of the command (arguments, checks)", main_wall - inside[0], main_cpu - inside[1])
    duckdb_engine.connect = connect
    print(json.dumps({"phases": phases.spent, "ended": time.time()}))
    ends_at_once = getattr(cli, "_ends_at_once", lambda words: False)
    if ends_at_once(argv):
        cli._exit_now(status)
    sys.exit(status)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def fresh(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall, CPU) seconds of one fresh process, and what it printed."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=_environment())
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 2):
        raise SystemExit(f"{argv}: exit status {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        return child(options.child)
    sys.path.insert(0, str(HERE))
    from bench_eval import synthetic_policy
    from make_ledger import make_ledger
    folder = Path(tempfile.mkdtemp(prefix="screen-start-"))
    make_ledger(str(folder / "ledger.parquet"), 10)
    (folder / "synthetic-250.xpol").write_text(synthetic_policy(250))
    python = [sys.executable]
    screen = {"October": [str(OCTOBER), "ledger.parquet", "-o", "out.parquet"],
              "250 rules": [str(folder / "synthetic-250.xpol"), "ledger.parquet", "-o", "out.parquet",
                            "--keep", "row_id", "--no-rules"]}
    commands = {"python -c pass": python + ["-c", "pass"], "python -c 'import duckdb'": python + ["-c", "import duckdb"]}
    for name, args in screen.items():
        commands[f"screen, {name}, text"] = python + ["-m", "exportdsl", "screen", *args]
        commands[f"screen, {name}, json"] = python + ["-m", "exportdsl", "screen", *args, "--format", "json"]
    print(f"{options.runs} fresh processes each, 2 cores shared (load average {os.getloadavg()[0]:.2f} at the start)")
    for argv in commands.values():
        fresh(argv, folder)         # byte code written, files cached
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(options.runs):   # interleaved: a change of load falls on every command alike
        for name, argv in commands.items():
            samples[name].append(fresh(argv, folder)[:2])
    for name, runs in samples.items():
        print(f"  {name:34s} wall {statistics.median(w for w, _ in runs):6.3f} s   "
              f"CPU {statistics.median(c for _, c in runs):6.3f} s   (median)")
    for name, args in screen.items():
        budget: dict[str, list[tuple[float, float]]] = {}
        argv = python + [str(Path(__file__).resolve()), "--child", "screen", *args]
        for _ in range(options.runs):
            out = fresh(argv, folder)[2]
            ended = time.time()
            report = json.loads(out.strip().split("\n")[-1])
            for label, (phase_wall, phase_cpu) in report["phases"].items():
                budget.setdefault(label, []).append((phase_wall, phase_cpu))
            budget.setdefault("the end of the process (wall only)", []).append((ended - report["ended"], 0.0))
        print(f"budget of one screening, {name}, text summary (median of {options.runs}; a phase's own time):")
        for label, runs in budget.items():
            print(f"  {label:44s} wall {1000 * statistics.median(w for w, _ in runs):7.1f} ms   "
                  f"CPU {1000 * statistics.median(c for _, c in runs):7.1f} ms")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
