"""The ``exportdsl`` command line: check, eval, explain, schema, test, diff, timeline, hash (exit 0 ok, 1 found, 2 errors)."""

from __future__ import annotations

import itertools
import sys

from . import cli_arguments
from .errors import Diagnostic, Error, UsageError, render_json, render_text
from .escape import for_terminal
from .policy import Policy, load

# Imported where used, so that a command pays only for what it runs: json, pathlib, the facts readers (eval,
# explain), the diff, the linter, the formatter. The arguments are in cli_arguments, which builds
# only the subparser of the command being run (the full parser for --help or an unknown command).

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_ERROR = 2


def _load_policies(paths: list[str], *, trees: bool = False, evaluate: bool = True) -> tuple[list, list[Diagnostic]]:
    """The policies that load, and the diagnostics of those that do not. With ``trees``, each policy comes
    as a pair with its syntax tree (for the linter); without ``evaluate``, no evaluator is generated."""
    from .policy import load_with_tree

    policies, problems = [], []
    for path in paths:
        try:
            loaded = load_with_tree(path, keep_tree=trees, compile_now=evaluate)
        except Error as exc:
            problems.extend(exc.diagnostics)
            continue
        policies.append(loaded if trees else loaded[0])
    return policies, problems


def _print_diagnostics(diagnostics, fmt: str) -> None:
    import json

    if fmt == "json":
        print(render_json(diagnostics))
    elif fmt == "jsonl":
        print(json.dumps({"error": [d.to_json() for d in diagnostics]}, ensure_ascii=False))
    else:
        print(render_text(diagnostics), file=sys.stderr)


# ---- commands -------------------------------------------------------------------------

def cmd_check(args) -> int:
    """Check policies; print diagnostics; exit 2 on any error."""
    loaded, problems = _load_policies(args.policies, trees=not args.no_lint, evaluate=False)
    if problems:
        _print_diagnostics(problems, args.format)
        return EXIT_ERROR
    policies = [p for p, _ in loaded] if not args.no_lint else loaded
    findings = [[] for _ in policies] if args.no_lint else _lint_policies(loaded)
    if args.format == "json":
        import json

        entries = []
        for path, p, found in zip(args.policies, policies, findings):
            entry = {"file": path, "policy": p.name, "version": p.version, "rules": len(p.rules),
                     "facts": len(p.facts)}
            if found:
                entry["lint"] = [d.to_json() for d in found]
            entries.append(entry)
        print(json.dumps(entries, indent=2, ensure_ascii=False))
    else:
        for path, policy, found in zip(args.policies, policies, findings):
            print(f"{path}: ok ({len(policy.rules)} rules, {len(policy.facts)} facts)")
            if found:
                print(render_text(found) + "\n")
    return EXIT_OK


def _lint_policies(loaded: list[tuple[Policy, object]], budget=None) -> list[list[Diagnostic]]:
    """The lint findings of each (policy, resolved syntax tree), linted together (see
    :func:`exportdsl.lint.lint_family`)."""
    from .lint import Budget, lint_family

    return lint_family([(p.ir, tree) for p, tree in loaded], budget=budget or Budget())


def cmd_lint(args) -> int:
    """Lint policies (files or folders); exit 1 when there is a warning, 0 with notes only, 2 on errors."""
    from .errors import Severity
    from .lint import Budget
    from pathlib import Path

    from .lint.report import render_sarif, summary, to_json, to_text

    paths: list[str] = []
    for path in args.paths:
        if Path(path).is_dir():
            paths.extend(sorted(str(p) for p in Path(path).rglob("*.xpol")
                                if not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            paths.append(path)
    loaded, problems = _load_policies(paths, trees=True, evaluate=False)
    if problems:
        _print_diagnostics(problems, "json" if args.format == "json" else "text")
        return EXIT_ERROR
    findings = [d for found in _lint_policies(loaded, Budget(max_seconds=args.budget)) for d in found]
    if args.format == "json":
        print(to_json(findings))
    elif args.format == "sarif":
        print(render_sarif(findings))
    else:
        if findings:
            print(to_text(findings) + "\n")
        print(summary(findings, len(loaded)))
    return EXIT_FOUND if any(d.severity is Severity.WARNING for d in findings) else EXIT_OK


def _single_policy(path: str) -> Policy:
    return load(path)


def cmd_eval(args) -> int:
    """Evaluate transactions as they are read (one output line per transaction, in order); exit 2
    if any transaction is bad, after deciding all the others."""
    import json

    from .facts_input import is_seekable_input, open_facts, read_transactions

    policy = _single_policy(args.policy)
    stream = open_facts(args.facts)
    transactions = read_transactions(args.facts, stream)
    # A file is read one transaction ahead, to leave out the line numbers when it holds just one;
    # a pipe or a terminal is never read ahead (its next line may wait for this result), so its
    # results always carry their line numbers, and each is flushed as soon as it is printed.
    interactive = not is_seekable_input(stream)
    head = [] if interactive else list(itertools.islice(transactions, 2))
    many = interactive or len(head) > 1
    failed = False
    shown_path = for_terminal(args.facts, keep_newlines=False)
    for number, facts in itertools.chain(head, transactions):
        prefix = f"{shown_path}:{number}: " if many else ""
        try:
            if isinstance(facts, Error):
                raise facts
            decision = policy.evaluate(facts, explain=args.explain)
            explanation = decision.explain() if args.explain else None
        except Error as exc:
            failed = True
            if args.format == "json":
                print(json.dumps({"line": number, "error": [d.to_json() for d in exc.diagnostics]},
                                 ensure_ascii=False))
            else:
                for diag in exc.diagnostics:
                    print(prefix + diag.render(), file=sys.stderr)
            continue
        if args.format == "json":
            out = decision.to_json()
            if many:
                out = {"line": number, **out}
            if explanation is not None:
                out["explanation"] = explanation
            print(json.dumps(out, ensure_ascii=False))
        elif explanation is not None:
            if many:
                print(prefix)
            print(explanation)
            if many:
                print()
        else:
            rules = f"  ({', '.join(decision.rules)})" if decision.rules else ""
            print(for_terminal(f"{prefix}{decision.decision}{rules}", keep_newlines=False))
        if interactive:
            sys.stdout.flush()
    return EXIT_ERROR if failed else EXIT_OK


def cmd_explain(args) -> int:
    """``eval --explain`` in text."""
    args.explain = True
    args.format = "text"
    return cmd_eval(args)


def cmd_schema(args) -> int:
    """Print the JSON Schema of a policy's transactions."""
    import json

    print(json.dumps(_single_policy(args.policy).json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_test(args) -> int:
    """Run policy tests; exit 1 when a test fails."""
    from . import testing

    test_files, policy_files = testing.discover(args.paths or ["policies"])
    cache: dict = {}
    results: dict[str, list] = {}
    loaded: dict = {}
    problems = []
    for path in policy_files:
        try:
            policy = load(path)
        except Error as exc:
            problems.extend(exc.diagnostics)
            continue
        loaded[testing.display_path(path.resolve())] = policy
        cache[path.resolve()] = policy
    passed = failed = bad = 0
    for path in test_files:
        try:
            suite = testing.load_suite(path, cache)
        except Error as exc:
            problems.extend(exc.diagnostics)
            continue
        loaded.setdefault(suite.policy_path, suite.policy)
        problems.extend(suite.problems)
        bad += suite.not_run
        suite_results = testing.run_suite(suite)
        results.setdefault(suite.policy_path, []).extend(suite_results)
        for result in suite_results:
            if result.passed:
                passed += 1
            else:
                failed += 1
                print(for_terminal(testing.format_failure(result)))
                print()
    if problems:
        print(render_text(problems), file=sys.stderr)
    if args.coverage:
        print("coverage (rules that some test made decide):")
        for cov in testing.coverage(sorted(loaded), results, loaded):
            missed = f"   not exercised: {', '.join(cov.missed)}" if cov.missed else ""
            print(for_terminal(f"  {cov.policy_path}: {cov.percent:.0f}% of {len(cov.rules)} rules{missed}",
                               keep_newlines=False))
    print(f"{passed} passed, {failed} failed" + (f", {bad} not run (bad tests, see above)" if bad else ""))
    if problems:
        return EXIT_ERROR
    if not test_files:
        print("no test files found", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FOUND if failed else EXIT_OK


def cmd_diff(args) -> int:
    """Semantic diff of two policies (or of one policy on two days); exit 1 when some transaction
    changes decision."""
    from .diff import Budget, diff, report

    budget = Budget(max_seconds=args.timeout)
    if args.between:
        if args.new is not None or args.as_of:
            raise UsageError(Diagnostic("E402", "--between compares one policy on two days: give one POLICY "
                                        "and no --as-of", help="exportdsl diff POLICY --between DAY1 DAY2"))
        from .diff.temporal import between
        policy = load(args.old)
        result = between(policy.ir, *args.between, where=args.where, budget=budget)
        labels = (report.label(result.old, args.old), report.label(result.new, args.old))
    else:
        if args.new is None:
            raise UsageError(Diagnostic("E402", "diff needs OLD and NEW policies, or one POLICY with --between",
                                        help="exportdsl diff OLD NEW, or exportdsl diff POLICY --between DAY1 DAY2"))
        old, new = load(args.old), load(args.new)
        options = {}
        import inspect

        accepted = inspect.signature(diff).parameters
        if "outline" in accepted:
            options["outline"] = args.outline
        if "detail" in accepted and args.detail is not None:
            options["detail"] = args.detail
        if "evaluators" in accepted:   # the policies are compiled already: the witness check reuses them
            options["evaluators"] = (old.decide, new.decide)
        result = diff(old.ir, new.ir, where=args.where, as_of=args.as_of, budget=budget, **options)
        labels = (report.label(old.ir, args.old), report.label(new.ir, args.new))
    impact = None
    if args.replay:
        from .diff.ledger import replay
        impact = replay(result, args.replay, value_column=args.value_column, affected=args.affected)
    elif args.value_column or args.affected:
        raise UsageError(Diagnostic("E402", "--value-column and --affected go with --replay LEDGER"))
    counts = impact.counts if impact is not None else None
    replayed = {"replay": impact.to_json()} if impact is not None else {}
    listed = 10 ** 6 if args.detail else 0      # with --detail: every co-deciding rule, not only their count
    breakdown = getattr(result, "detail", None)
    if args.group_by == "citation":
        from .diff import checklist
        if args.format == "json":
            text = report.dumps({**report.to_json(result, labels=labels),
                                 "by_citation": checklist.to_json(result, counts), **replayed}, indent=2) + "\n"
        else:
            text = {"markdown": checklist.to_markdown, "html": checklist.to_html,
                    "text": checklist.to_text}[args.format](result, counts)
    elif args.format == "json":
        text = report.dumps({**report.to_json(result, labels=labels), **replayed,
                             **({"detail": list(breakdown)} if breakdown else {})}, indent=2) + "\n"
    elif args.format == "markdown":
        text = report.to_markdown(result, labels=labels, detail=listed)
    elif args.format == "html":
        text = report.to_html(result, labels=labels, detail=listed)
    else:
        color = args.color == "always" or (args.color == "auto" and args.output is None and sys.stdout.isatty())
        text = report.to_text(result, color=color, labels=labels, detail=listed)
    if breakdown and args.format in ("text", "markdown"):
        heading = f"\nRegion {args.detail} by the full old outcome\n"
        text += heading + "".join(
            "  " + for_terminal(f"{entry['old']}: {', '.join(entry['old_rules']) or 'no rule (default)'}") + "\n"
            for entry in breakdown)
    if impact is not None and args.group_by is None and args.format in ("text", "markdown"):
        heading = "\nLedger replay\n" if args.format == "text" else "\n## Ledger replay\n\n"
        text += heading + "\n".join(("  " if args.format == "text" else "    ") + for_terminal(line)
                                     for line in impact.lines()) + "\n"
    if args.output:
        from pathlib import Path
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(Diagnostic("E401", f"cannot write {args.output!r}: {exc.strerror or exc}"))
        print(f"wrote {args.output}: {len(result.regions)} region(s)" + ("" if result.complete else ", INCOMPLETE"),
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    if not result.complete:
        return EXIT_ERROR
    return EXIT_FOUND if result.changed else EXIT_OK


def cmd_timeline(args) -> int:
    """The days on which a decision changes; exit 1 when there are some, 2 when incomplete."""
    from .diff import Budget
    from .diff.temporal import timeline
    from .escape import for_terminal

    policy = load(args.policy)
    days, complete = timeline(policy.ir, start=args.start, end=args.end,
                              budget=Budget(max_seconds=args.timeout))
    if args.format == "json":
        from .diff.report import dumps
        print(dumps({"policy": policy.record(), "days": [d.to_json() for d in days], "complete": complete},
                    indent=2))
    else:
        label = " ".join(p for p in (policy.name, policy.version) if p) or args.policy
        print(for_terminal(f"{label}: {len(days)} day(s) on which some decision changes"
                           + ("" if complete else " (INCOMPLETE: a day's diff ran out of time)")))
        for day in days:
            print(for_terminal(f"  {day.summary()}"))
            print(for_terminal(f"      e.g. {day.before[0]} ({', '.join(day.before[1]) or 'default'}) the day before, "
                               f"{day.after[0]} ({', '.join(day.after[1]) or 'default'}) on {day.day}"))
    if not complete:
        return EXIT_ERROR
    return EXIT_FOUND if days else EXIT_OK


def cmd_hash(args) -> int:
    """Print each policy's content hash (``sha256:...``) and path."""
    import json

    policies = [load(path) for path in args.policies]
    if args.format == "json":
        for path, policy in zip(args.policies, policies):
            print(json.dumps({"path": path, **policy.record()}, ensure_ascii=False))
    else:
        from .escape import for_terminal
        for path, policy in zip(args.policies, policies):
            print(for_terminal(f"{policy.content_hash}  {path}", keep_newlines=False))
    return EXIT_OK


def _xpol_paths(paths: list[str]) -> tuple[list[str], list[Diagnostic]]:
    """The files ``fmt`` works on: files as given, ``*.xpol`` under folders (hidden ones skipped), ``-``."""
    from pathlib import Path

    found, problems = [], []
    for path in paths:
        if path == "-" or Path(path).is_file():
            found.append(path)
        elif Path(path).is_dir():
            files = sorted(str(p) for p in Path(path).rglob("*.xpol")
                           if not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not files:
                print(f"exportdsl fmt: no .xpol files in {path}", file=sys.stderr)
            found.extend(files)
        else:
            problems.append(Diagnostic("E401", f"cannot read {path!r}: no such file or folder"))
    return found, problems


def cmd_fmt(args) -> int:
    """Format policies in place; ``--check``/``--diff`` write nothing and exit 1 when a file would change."""
    import difflib
    from pathlib import Path

    from .fmt import format_source

    paths, problems = _xpol_paths(args.paths)
    changed = False
    for path in paths:
        name = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Diagnostic("E401", f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}"))
            continue
        try:
            formatted = format_source(text, name)
        except Error as exc:
            problems.extend(exc.diagnostics)
            continue
        if args.diff and formatted != text:
            diff = difflib.unified_diff(text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                                        name, name, "(original)", "(formatted)")
            sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
        if args.check and formatted != text:
            print(f"would reformat {name}")
        if args.check or args.diff:
            changed = changed or formatted != text
        elif path == "-":
            sys.stdout.write(formatted)
        elif formatted != text:
            try:
                Path(path).write_text(formatted, encoding="utf-8")
            except OSError as exc:
                problems.append(Diagnostic("E401", f"cannot write {path!r}: {exc.strerror or exc}"))
                continue
            print(f"reformatted {path}", file=sys.stderr)
    if problems:
        print(render_text(problems), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FOUND if changed else EXIT_OK


#: The handler of each core command (the other commands' modules set their own).
HANDLERS = {
    "check": cmd_check, "lint": cmd_lint, "eval": cmd_eval, "explain": cmd_explain, "schema": cmd_schema,
    "diff": cmd_diff, "timeline": cmd_timeline, "hash": cmd_hash, "test": cmd_test, "fmt": cmd_fmt,
}


def build_parser(full: bool = True):
    """The argument parser of the ``exportdsl`` command with every command; ``full=False`` leaves out
    the commands registered by other modules (lsp, studio, screen, compile)."""
    return cli_arguments.build_parser(HANDLERS, full=full)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises, never prints a traceback)."""
    words = sys.argv[1:] if argv is None else list(argv)
    # a run of a core command builds that command's subparser alone; anything else, the full parser
    parser = cli_arguments.build_parser(HANDLERS, only=cli_arguments.core_command(words))
    try:
        args = parser.parse_args(words)
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return args.run(args)
    except Error as exc:
        args = locals().get("args")
        fmt = getattr(args, "format", "text")
        if fmt == "json" and getattr(args, "command", None) == "eval":
            fmt = "jsonl"  # eval's results are JSON Lines: its errors are one JSON document on one line too
        _print_diagnostics(exc.diagnostics, fmt if fmt in ("json", "jsonl") else "text")
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except SystemExit as exc:   # --help and --version: argparse prints, then exits
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except BrokenPipeError:
        return _output_closed()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches the user
        print(f"exportdsl: internal error: {type(exc).__name__}: {exc} (please report this)", file=sys.stderr)
        return EXIT_ERROR


def _output_closed() -> int:
    """The reader of standard output went away before the command finished (``| head``): not a
    success, since what the command found was not all delivered (a ``diff`` cut short must not read
    as "no change"). Standard output is pointed at the null device so that the interpreter's final
    flush cannot fail again, and the status is the error status."""
    import contextlib
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):   # no real descriptor behind sys.stdout (an embedding caller's stream)
        pass
    with contextlib.suppress(OSError, ValueError):
        print("exportdsl: the output was closed before the command finished", file=sys.stderr)
    return EXIT_ERROR


def entry_point() -> None:
    """Console-script entry point."""
    import gc

    # The objects of the modules imported so far live as long as the process: frozen, the garbage
    # collections that a command's own allocations trigger no longer walk them (some 4% of a check).
    gc.freeze()
    status = main()
    if _ends_at_once(sys.argv[1:]):
        _exit_now(status)
    sys.exit(status)


def _ends_at_once(words: list[str]) -> bool:
    """Whether the process may end without finalizing the interpreter: after screen or compile, which
    leave nothing to tear down (DuckDB's connection closed, its files written and closed), unless a
    Spark session was started (pyspark stops its JVM at exit) or another thread still runs.
    Finalizing tears down every module, sqlglot's thousands of classes and DuckDB's among them:
    measured after a screening, 0.3-0.45 s of wall time and 0.2 s of CPU, a fifth of a small one."""
    import threading

    return (cli_arguments.core_command(words) in cli_arguments.SCREENING_COMMANDS
            and not any(name == "pyspark" or name.startswith("pyspark.") for name in sys.modules)
            and all(thread.daemon or thread is threading.main_thread() for thread in threading.enumerate()))


def _exit_now(status: int) -> None:
    """End the process with ``status`` once standard output and error are delivered (a reader gone
    by then makes it the error status, as during the command: ``_output_closed``)."""
    import os

    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        status = _output_closed()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        status = EXIT_ERROR
    os._exit(status)
