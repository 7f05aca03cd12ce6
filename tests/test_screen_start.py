"""The screen command's fixed cost (issue 11): what a screening imports, and that the shortcuts
taken in writing its SQL leave the text of every statement exactly as it was.

``duckdb_engine`` writes each statement's tree in place (``render(copy=False)``: no deep copy of
the tree), ``nodes.cast_to`` shares one type node among all its casts (an ENUM of every rule list
has thousands of values), and the DuckDB generator writes such a shared type once per rendering.
sqlglot's generator writes a copy by default, and a copy is a proper tree (one node per use, each
with its own parent): so every statement written the fast way must read exactly as its copy is
written. A differential test over the reference policies, a generated 250-rule policy (decided by
lookups) and random policies (policygen), over Parquet, CSV with bad rows and JSON Lines ledgers,
with and without the results' options.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings

import exportdsl
import policygen
from exportdsl.backends.sql import duckdb_engine
from exportdsl.backends.sql.nodes import render
from exportdsl.backends.sql.query import build_screen_query, compile_query, example_type

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_eval import synthetic_policy  # noqa: E402
from make_ledger import ledger_query  # noqa: E402

REFERENCE = ["cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol", "cn-rare-earths-2025-11.xpol"]
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    """The same 200 generated shipments as Parquet, as CSV with two bad cells, and as JSON Lines."""
    folder = tmp_path_factory.mktemp("ledgers")
    con = duckdb.connect()
    paths = {}
    for suffix, options in (("parquet", "FORMAT parquet"), ("csv", "FORMAT csv, HEADER"), ("jsonl", "FORMAT json")):
        paths[suffix] = folder / f"ledger.{suffix}"
        con.execute(f"COPY ({ledger_query(200)}) TO '{paths[suffix]}' ({options})")
    con.close()
    lines = paths["csv"].read_text().split("\n")
    lines[3] = lines[3].replace(",2025-", ",20x5-", 1)      # an unreadable date
    lines[7] = lines[7].replace(",CN,", ",XX,", 1)          # an unknown country
    paths["csv"].write_text("\n".join(lines))
    return paths


@pytest.fixture(scope="module")
def policies():
    found = {name: exportdsl.load(ROOT / "policies" / name) for name in REFERENCE}
    found["250 rules"] = exportdsl.compile(synthetic_policy(250), "<synthetic 250>")
    return found


class Recording:
    """A DuckDB connection that keeps the text of every statement run on it."""

    def __init__(self, con):
        self.con, self.statements = con, []

    def execute(self, text, *args):
        self.statements.append(text)
        return self.con.execute(text, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def _statements(policy, ledger: Path, folder: Path, options: dict) -> list[str]:
    con = duckdb_engine.connect(threads=2)
    recording = Recording(con)
    try:
        duckdb_engine.screen_file(recording, policy.ir, str(ledger), str(folder / "out.parquet"),
                                  str(folder / "errors.csv"), **options)
    finally:
        con.close()
    return recording.statements


@pytest.mark.parametrize("name", [*REFERENCE, "250 rules"])
@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
@pytest.mark.parametrize("options", [{}, {"keep": ["row_id"], "rules": False}, {"as_of": "2025-12-01"}],
                         ids=["all", "row_id-no-rules", "as-of"])
def test_screen_statements_read_as_their_copies(name, suffix, options, ledgers, policies, tmp_path, monkeypatch):
    fast = _statements(policies[name], ledgers[suffix], tmp_path, options)
    monkeypatch.setattr(duckdb_engine, "statement", lambda tree: render(tree, copy=True))
    copied = _statements(policies[name], ledgers[suffix], tmp_path, options)
    assert any(text.startswith("COPY (SELECT") for text in fast)       # the screening query was run
    if suffix == "csv":
        assert any(text.startswith("CREATE TEMPORARY TABLE") for text in fast)    # and the rejected one
    assert fast == copied


def _typed_columns(policy) -> dict[str, str]:
    return {name: example_type(fact.type.kind, fact.type) for name, fact in policy.facts.items()}


@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(policygen.policies())
def test_random_policies_queries_read_as_their_copies(spec):
    try:
        policy = exportdsl.compile(spec.text).ir
    except exportdsl.Error:
        return
    columns = _typed_columns(policy)

    def build():
        return build_screen_query(policy, duckdb_engine.exp.to_table("ledger"), columns, enum_decision=True,
                                  lookups=True)
    try:
        fast, copied = build(), build()
    except exportdsl.Error:     # E415: conditions too large once written out
        return
    assert render(fast.decided, copy=False) == render(copied.decided, copy=True)
    assert render(fast.rejected, copy=False) == render(copied.rejected, copy=True)


def test_the_rules_enum_is_one_node_written_once_per_rendering(policies):
    """The October query's ENUM of rule lists (1,030 values, the first of them '') is one node wherever
    it is cast to, whose text the generator reuses (and the text holds it once per cast)."""
    policy = policies["cn-rare-earths-2025-10.xpol"].ir
    tree = build_screen_query(policy, duckdb_engine.exp.to_table("ledger"), _typed_columns(policy),
                              enum_decision=True).decided
    enums = [node for node in tree.find_all(duckdb_engine.exp.DataType)
             if node.expressions and len(node.expressions) > 100 and node.expressions[0].this == ""]
    assert enums and len({id(node) for node in enums}) == 1
    text = render(tree, copy=False)
    assert text.count(render(enums[0])) == len(enums)


# ---- what a screening imports ------------------------------------------------------------------

def _modules_after(args: list[str], tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter holds after running the command line with ``args``."""
    script = ("import json, sys\nfrom exportdsl.cli import main\nstatus = main(json.loads(sys.argv[1]))\n"
              "print(json.dumps([status, sorted(sys.modules)]))")
    run = subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    status, modules = json.loads(run.stdout.strip().split("\n")[-1])
    assert status == 0, run.stderr
    return set(modules)


def test_a_screening_imports_neither_the_studio_nor_the_language_server_nor_rich_for_json(ledgers, tmp_path):
    modules = _modules_after(["screen", str(OCTOBER), str(ledgers["parquet"]), "-o", str(tmp_path / "o.parquet"),
                              "--format", "json"], tmp_path)
    assert "duckdb" in modules and "exportdsl.backends.sql.duckdb_engine" in modules
    unneeded = {m for m in modules if m.split(".")[0] in ("rich", "pyarrow", "pandas", "polars", "pyspark")
                or m.startswith(("exportdsl.studio", "exportdsl.lsp", "exportdsl.spark", "exportdsl.diff",
                                 "exportdsl.backends.python", "exportdsl.backends.interpreter",
                                 "sqlglot.dialects.spark"))}
    assert not unneeded


def test_a_text_summary_off_a_terminal_imports_no_progress_bar_and_no_emoji(ledgers, tmp_path):
    modules = _modules_after(["screen", str(OCTOBER), str(ledgers["parquet"]), "-o", str(tmp_path / "o.parquet")],
                             tmp_path)
    assert "rich.table" in modules
    assert not {"rich.progress", "rich._emoji_codes", "exportdsl.studio.command", "exportdsl.lsp.command"} & modules


def test_compiling_to_sql_does_not_start_duckdb(tmp_path):
    modules = _modules_after(["compile", str(OCTOBER)], tmp_path)
    assert "sqlglot" in modules and "duckdb" not in modules


# ---- the end of a screening process ---------------------------------------------------------------

def _run(args: list[str], cwd: Path, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exportdsl", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_screening_process_delivers_its_summary_and_status(fmt, ledgers, tmp_path):
    """screen and compile end their process without finalizing the interpreter (cli._ends_at_once):
    the summary, the files and the exit status are all there, as before."""
    args = ["screen", str(OCTOBER), str(ledgers["csv"]), "-o", str(tmp_path / "out.jsonl"),
            "--errors", str(tmp_path / "errors.csv"), "--format", fmt]
    run = _run(args, tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr      # the CSV has bad rows
    written = (tmp_path / "out.jsonl").read_text().count("\n")
    rejected = {line.split(",")[0] for line in (tmp_path / "errors.csv").read_text().split("\n")[1:] if line}
    if fmt == "json":
        summary = json.loads(run.stdout)
        assert (summary["rows"], summary["decided"], summary["rejected"]) == (200, written, len(rejected))
    else:
        assert f"200 rows = {written} decided + {len(rejected)} rejected" in run.stdout
        assert run.stdout.rstrip().endswith("┘")              # the last table, whole
    compiled = _run(["compile", str(OCTOBER)], tmp_path)
    assert compiled.returncode == 0 and compiled.stdout == compile_query(exportdsl.load(OCTOBER).ir)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_screening_whose_output_is_gone_says_so_with_status_2(fmt, ledgers, tmp_path):
    """Regression: with standard output's reader gone, the text summary ended the screening with
    status 1 ("found something") and no word (rich's Console exits so on a broken pipe)."""
    import os

    read, write = os.pipe()
    os.close(read)
    try:
        run = _run(["screen", str(OCTOBER), str(ledgers["parquet"]), "-o", str(tmp_path / "o.parquet"),
                    "--format", fmt], tmp_path, stdout=write)
    finally:
        os.close(write)
    assert run.returncode == 2
    assert "output was closed before the command finished" in run.stderr and "Traceback" not in run.stderr


def test_only_a_screening_without_spark_or_other_threads_ends_at_once(monkeypatch):
    import threading

    from exportdsl import cli
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)      # imported by the Spark tests in this process
    assert cli._ends_at_once(["screen", "p", "l.parquet"]) and cli._ends_at_once(["compile", "p"])
    assert not any(cli._ends_at_once(words) for words in (["check", "p"], ["eval", "p", "--facts", "f"],
                                                          ["studio"], ["lsp"], ["--help", "screen"], []))
    monkeypatch.setitem(sys.modules, "pyspark.sql", sys)          # a Spark session: its JVM stops at exit
    assert not cli._ends_at_once(["screen", "p", "l.parquet"])
    monkeypatch.delitem(sys.modules, "pyspark.sql")
    release = threading.Event()
    worker = threading.Thread(target=release.wait)                   # a thread the exit must wait for
    worker.start()
    try:
        assert not cli._ends_at_once(["screen", "p", "l.parquet"])
    finally:
        release.set()
        worker.join()
    assert cli._ends_at_once(["screen", "p", "l.parquet"])


def test_the_start_benchmark_times_functions_that_exist(ledgers, tmp_path):
    """benchmarks/bench_screen_start.py wraps the package's functions by name: a rename must not
    silently drop a phase from its budget."""
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_screen_start.py"), "--child", "screen",
                          str(OCTOBER), str(ledgers["parquet"]), "-o", str(tmp_path / "o.parquet")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    phases = json.loads(run.stdout.strip().split("\n")[-1])["phases"]
    for phase in ("import rich", "loading the policy", "DuckDB's connection", "reading the ledger's columns",
                  "building the query trees", "writing trees as SQL", "counting the input",
                  "COPY: DuckDB parses, plans, scans", "the summary aggregate", "closing DuckDB's connection",
                  "printing the summary"):
        assert phases[phase][1] > 0, phase
