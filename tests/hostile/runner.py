"""The permanent hostile corpus (issue 9): every hostile input as data, run with a resource limit.

Each ``tests/hostile/cases/*.yaml`` file is a list of cases in the shared format (the JSON Schema
``CASE_SCHEMA`` below; a typo in a case is an error, never a skipped case). A case builds its
input files in memory, writes them into a fresh temporary folder, and runs one fresh process:

* ``kind: cli``: ``python -m exportdsl ARGS``;
* ``kind: python``: a small fixed harness runs the case's ``script`` and prints, as one JSON line,
  the codes of an ``exportdsl.Error`` that escapes it, or the type of any other exception.

``{dir}`` (the temporary folder) and ``{repo}`` (the repository root) are replaced in ``args``,
``script`` and the ``text`` parts of files and standard input. Case files are read with
``exportdsl.yaml_input`` (no anchors or aliases, no duplicate keys).

The process runs under ``RLIMIT_AS`` (generous, so that a case over its bound still finishes and
is measured) and a kill timeout (4x its bound); its wall time and peak RSS (``wait4`` rusage) are
measured by a small launcher process that starts it (``LAUNCHER``): Linux carries a process's peak
RSS across fork and exec, so a case started straight from pytest would report at least pytest's own
size (240 MB once the suite had grown; it failed cases bounded at 200 MB). The verdict checks: the exit status, the codes, ``contains``/``absent``, no
``Traceback``, no ``internal error``, every reported code registered, time <= ``seconds`` and peak
RSS <= ``megabytes``. A run over its time bound whose CPU time is within it (a loaded machine)
is run again, up to three runs, and judged on the last.

    python tests/hostile/runner.py [--only ID] [--report]

prints a table (id, exit, codes, seconds, MB, verdict); ``--report`` adds each failure's reasons.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import attrs
import jsonschema

from exportdsl.yaml_input import YamlProblem, read_yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASES = HERE / "cases"

#: Address-space limit of a case's process: far above every bound, so that a case over its
#: bound still finishes and reports how far over it went.
ADDRESS_SPACE = 2 * 1024**3
#: A case is killed after this many times its time bound.
KILL_FACTOR = 4
#: Output kept from a process; more is itself a finding (an echo of hostile input).
MAX_OUTPUT = 8 * 1024**2
MAX_SECONDS = 5
MAX_MEGABYTES = 500

_CONTENT = {
    "type": "object",
    "oneOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}, "additionalProperties": False},
        {
            "required": ["parts"],
            "additionalProperties": False,
            "properties": {
                "parts": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {"type": "object", "required": ["text"], "additionalProperties": False,
                             "properties": {"text": {"type": "string"}}},
                            {"type": "object", "required": ["repeat", "times"], "additionalProperties": False,
                             "properties": {"repeat": {"type": "string", "minLength": 1},
                                            "times": {"type": "integer", "minimum": 0, "maximum": 200_000_000}}},
                            {"type": "object", "required": ["hex"], "additionalProperties": False,
                             "properties": {"hex": {"type": "string", "pattern": r"^\s*([0-9a-fA-F]{2}\s*)*$"}}},
                        ]
                    },
                }
            },
        },
    ],
}

#: The shared case format (see /work/prompts/common.md, "The permanent hostile corpus").
CASE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "about", "kind", "expect"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": r"^[a-z0-9]+(-[a-z0-9]+)*$"},
            "about": {"type": "string", "minLength": 1},
            "kind": {"enum": ["cli", "python"]},
            "files": {
                "type": "object",
                "propertyNames": {"pattern": r"^[^/\\\x00]+(/[^/\\\x00]+)*$", "not": {"pattern": r"(^|/)\.\.?(/|$)"}},
                "additionalProperties": _CONTENT,
            },
            "args": {"type": "array", "items": {"type": "string"}},
            "stdin": _CONTENT,
            "script": {"type": "string", "minLength": 1},
            "expect": {
                "type": "object",
                "additionalProperties": False,
                "required": ["codes"],
                "properties": {
                    "exit": {"type": "integer", "minimum": 0, "maximum": 255},
                    "codes": {"type": "array", "items": {"type": "string", "pattern": r"^[EW]\d{3}$"}},
                    "contains": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "absent": {"type": "array", "items": {"type": "string", "minLength": 1}},
                },
            },
            "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SECONDS},
            "megabytes": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_MEGABYTES},
        },
        "allOf": [
            {"if": {"properties": {"kind": {"const": "cli"}}},
             "then": {"required": ["args"], "not": {"required": ["script"]}}},
            {"if": {"properties": {"kind": {"const": "python"}}},
             "then": {"required": ["script"], "not": {"anyOf": [{"required": ["args"]},
                                                                 {"properties": {"expect": {"required": ["exit"]}}}]}}},
        ],
    },
}

#: Runs a python case's script (argv[1]) and prints its outcome as the last line of standard output.
HARNESS = r"""
import json, sys
MARK = "@@hostile-outcome@@"
outcome = {"outcome": "ok", "codes": []}
try:
    exec(compile(sys.argv[1], "<case script>", "exec"), {"__name__": "__main__"})
except BaseException as exc:
    import exportdsl
    if isinstance(exc, exportdsl.Error):
        outcome = {"outcome": "error", "codes": [d.code for d in exc.diagnostics]}
    else:
        outcome = {"outcome": "exception", "codes": [], "type": type(exc).__name__, "message": str(exc)[:300]}
sys.stdout.flush()
print("\n" + MARK + json.dumps(outcome), flush=True)
"""
_MARK = "@@hostile-outcome@@"

#: Codes as the CLI prints them: ``error[E306]`` in text, ``"code": "E306"`` in JSON.
_CODE_PATTERN = re.compile(r"\[([EW]\d{3})\]|\"code\":\s*\"([EW]\d{3})\"")


@attrs.frozen
class Case:
    """One hostile case, as read from its file."""

    id: str
    about: str
    kind: str
    source: str
    files: dict = attrs.field(factory=dict)
    args: tuple = ()
    stdin: dict | None = None
    script: str | None = None
    exit: int | None = 2
    codes: tuple = ()
    contains: tuple = ()
    absent: tuple = ()
    seconds: float = MAX_SECONDS
    megabytes: float = MAX_MEGABYTES


@attrs.frozen
class Outcome:
    """What one run of a case did, and the verdict."""

    case: Case
    exit: int
    codes: tuple
    seconds: float
    cpu_seconds: float
    megabytes: float
    output: str
    problems: tuple
    runs: int = 1

    @property
    def passed(self) -> bool:
        """True when every check held."""
        return not self.problems

    def summary(self) -> str:
        """The measurements and the reasons of a failure, for a test message."""
        head = (f"{self.case.id} ({self.case.source}): exit {self.exit}, codes {list(self.codes)}, "
                f"{self.seconds:.2f} s wall ({self.cpu_seconds:.2f} s CPU), {self.megabytes:.0f} MB peak RSS"
                f"{f', {self.runs} runs' if self.runs > 1 else ''}")
        if self.passed:
            return head
        tail = self.output if len(self.output) < 3000 else self.output[:1500] + "\n[...]\n" + self.output[-1500:]
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems) + "\n--- output ---\n" + tail


def load_cases(folder: Path = CASES) -> tuple[list[Case], list[str]]:
    """Every case of every ``*.yaml`` file in ``folder``, and the problems of files that are not valid."""
    cases: list[Case] = []
    problems: list[str] = []
    validator = jsonschema.Draft202012Validator(CASE_SCHEMA)
    for path in sorted(folder.glob("*.yaml")):
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        try:  # the reader of policy test files: no aliases, no duplicate keys, bounded
            data = read_yaml(path).data
        except YamlProblem as exc:
            problems.append(f"{name}:{exc.line or ''}: {exc.message}")
            continue
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{name}: {where}: {error.message[:300]}")
        if errors:
            continue
        for raw in data:
            expect = raw["expect"]
            cases.append(Case(
                id=raw["id"], about=raw["about"], kind=raw["kind"], source=str(name),
                files=raw.get("files", {}), args=tuple(raw.get("args", ())), stdin=raw.get("stdin"),
                script=raw.get("script"), exit=expect.get("exit", 2) if raw["kind"] == "cli" else None,
                codes=tuple(expect["codes"]), contains=tuple(expect.get("contains", ())),
                absent=tuple(expect.get("absent", ())),
                seconds=float(raw.get("seconds", MAX_SECONDS)), megabytes=float(raw.get("megabytes", MAX_MEGABYTES)),
            ))
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            problems.append(f"{case.source}: case id {case.id!r} already used in {seen[case.id]}")
        seen.setdefault(case.id, case.source)
    return cases, problems


def _substitute(text: str, folder: Path) -> str:
    return text.replace("{dir}", str(folder)).replace("{repo}", str(REPO))


def build_content(content: dict, folder: Path) -> bytes:
    """The bytes of a file or standard input: ``text``, or ``parts`` (text, repeat/times, hex)."""
    if "text" in content:
        return _substitute(content["text"], folder).encode("utf-8")
    chunks = []
    for part in content["parts"]:
        if "text" in part:
            chunks.append(_substitute(part["text"], folder).encode("utf-8"))
        elif "repeat" in part:
            chunks.append(part["repeat"].encode("utf-8") * part["times"])
        else:
            chunks.append(bytes.fromhex("".join(part["hex"].split())))
    return b"".join(chunks)


#: Starts a case's command and reports its wait status, wall time and rusage as JSON in the file
#: ``argv[1]``; the command is ``argv[3:]``, limited to ``argv[2]`` bytes of address space. Being
#: small itself, its child's peak RSS is the case's own (see the module docstring).
LAUNCHER = r"""
import json, os, resource, subprocess, sys, time
report, limit, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
start = time.perf_counter()
process = subprocess.Popen(command)
_, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as out:
    json.dump({"status": status, "seconds": seconds, "maxrss_kib": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime}, out)
"""


def _run_once(case: Case) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        folder = Path(name)
        for relative, content in case.files.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(build_content(content, folder))
        if case.kind == "cli":
            command = [sys.executable, "-m", "exportdsl", *(_substitute(a, folder) for a in case.args)]
        else:
            command = [sys.executable, "-c", HARNESS, _substitute(case.script, folder)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONSTARTUP", "PYTHONINSPECT"))}
        env.update(PYTHONIOENCODING="utf-8", NO_COLOR="1", COLUMNS="100")
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out:
            if case.stdin is not None:
                stdin.write(build_content(case.stdin, folder))
                stdin.seek(0)
            report = Path(name + ".launch.json")   # beside the case's folder, out of its reach
            start = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-I", "-c", LAUNCHER, str(report), str(ADDRESS_SPACE),
                                        *command], cwd=folder, env=env,
                                       stdin=stdin if case.stdin is not None else subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            killed = threading.Event()

            def kill():
                killed.set()
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

            timer = threading.Timer(case.seconds * KILL_FACTOR, kill)
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
            seconds = time.perf_counter() - start
            megabytes, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # the launcher's, if killed
            try:
                launched = json.loads(report.read_text())
            except (OSError, ValueError):
                launched = None   # the launcher was killed (the time bound) or failed: its own figures stand
            report.unlink(missing_ok=True)
            if launched is not None:
                status, seconds, cpu = launched["status"], launched["seconds"], launched["cpu"]
                megabytes = launched["maxrss_kib"] / 1024  # KiB on Linux
            process.returncode = os.waitstatus_to_exitcode(status)
            size = out.seek(0, os.SEEK_END)
            out.seek(0)
            raw = out.read(MAX_OUTPUT)
        output = raw.decode("utf-8", errors="replace")
        problems = []
        if killed.is_set():
            problems.append(f"killed after {case.seconds * KILL_FACTOR:g} s (bound {case.seconds:g} s)")
        if size > MAX_OUTPUT:
            problems.append(f"printed {size} bytes (more than {MAX_OUTPUT})")
        codes = _codes_of(case, output, problems)
        exit_status = process.returncode
        if case.kind == "cli" and exit_status != case.exit:
            problems.append(f"exit status {exit_status}, expected {case.exit}")
        if case.kind == "python" and exit_status != 0 and not killed.is_set():
            problems.append(f"the harness exited with status {exit_status}")
        for text in case.contains:
            if _substitute(text, folder) not in output:
                problems.append(f"output lacks {text!r}")
        for text in (*case.absent, "Traceback", "internal error"):
            if _substitute(text, folder) in output:
                problems.append(f"output contains {text!r}")
        if seconds > case.seconds:
            problems.append(f"took {seconds:.2f} s, bound {case.seconds:g} s")
        if megabytes > case.megabytes:
            problems.append(f"peak RSS {megabytes:.0f} MB, bound {case.megabytes:g} MB")
        return Outcome(case, exit_status, tuple(codes), seconds, cpu, megabytes,
                       output, tuple(problems))


def _codes_of(case: Case, output: str, problems: list[str]) -> list[str]:
    """The codes the run reported; a mismatch with the case's codes is appended to ``problems``."""
    from exportdsl.errors import CODES

    if case.kind == "python":
        last = output.rstrip("\n").rpartition("\n")[2]
        if not last.startswith(_MARK):
            problems.append("the harness reported no outcome (the process died?)")
            return []
        outcome = json.loads(last[len(_MARK):])
        if outcome["outcome"] == "exception":
            problems.append(f"raised {outcome['type']} (not an exportdsl.Error): {outcome['message']}")
        codes = outcome["codes"]
    else:
        codes = sorted({a or b for a, b in _CODE_PATTERN.findall(output)})
    errors = [c for c in codes if c.startswith("E")]
    if not case.codes and errors:
        problems.append(f"reported {errors}, expected no error")
    missing = [c for c in case.codes if c not in codes]
    if missing:
        problems.append(f"{missing} not reported (reported: {codes or 'nothing'})")
    unregistered = [c for c in codes if c not in CODES]
    if unregistered:
        problems.append(f"unregistered code(s) {unregistered}")
    return codes


#: Runs of a case whose only problem is wall time over the bound with its CPU time within it.
TIME_ATTEMPTS = 3


def run_case(case: Case) -> Outcome:
    """Run a case. A run over its time bound whose CPU time is within it (a loaded machine: most of
    a short case is interpreter start-up) runs again, up to TIME_ATTEMPTS runs in all."""
    outcome = _run_once(case)
    runs = 1
    while (outcome.problems and runs < TIME_ATTEMPTS and outcome.cpu_seconds <= case.seconds
           and all(p.startswith("took ") for p in outcome.problems)):
        runs += 1
        outcome = attrs.evolve(_run_once(case), runs=runs)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run the corpus (or one case) and print the table; exit 1 when a case fails, 2 on a bad case file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="ID", action="append", help="run only this case (repeatable)")
    parser.add_argument("--report", action="store_true", help="print each failure's reasons and output")
    args = parser.parse_args(argv)
    cases, problems = load_cases()
    for problem in problems:
        print(f"bad case file: {problem}", file=sys.stderr)
    if args.only:
        unknown = set(args.only) - {c.id for c in cases}
        if unknown:
            print(f"no such case: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.id in args.only]
    width = max((len(c.id) for c in cases), default=2)
    print(f"{'id':<{width}}  exit  {'codes':<18} {'seconds':>7} {'MB':>6}  verdict")
    failed = []
    for case in cases:
        outcome = run_case(case)
        verdict = "ok" if outcome.passed else "FAIL"
        codes = ",".join(outcome.codes) or "-"
        print(f"{case.id:<{width}}  {outcome.exit:>4}  {codes:<18} {outcome.seconds:>7.2f} {outcome.megabytes:>6.0f}"
              f"  {verdict}{f' ({outcome.runs} runs)' if outcome.runs > 1 else ''}", flush=True)
        if not outcome.passed:
            failed.append(outcome)
    print(f"{len(cases) - len(failed)} passed, {len(failed)} failed")
    if args.report:
        for outcome in failed:
            print("\n" + outcome.summary())
    return 2 if problems else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
