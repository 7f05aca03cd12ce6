"""Cold start and footprint (issue 13): what ``import exportdsl`` and ``exportdsl check`` load, the
syntax tree a loaded policy does not keep, and the records that replaced attrs in the AST and IR.

No timings here (they are ``benchmarks/bench_eval.py``'s): these tests pin the behaviour that makes
start-up cheap, so that an eager import creeping back fails a test.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import exportdsl
from exportdsl import ast, ir
from exportdsl.errors import Diagnostic
from exportdsl.records import FrozenError, field, record
from exportdsl.source import Source

REPO = Path(__file__).resolve().parent.parent
OCTOBER = REPO / "policies" / "cn-rare-earths-2025-10.xpol"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_import_exportdsl_loads_no_front_end_and_no_heavy_library():
    loaded = _modules_after("import exportdsl")
    heavy = {"lark", "attr", "attrs", "difflib", "json", "hashlib", "inspect", "exportdsl.parser",
             "exportdsl.check", "exportdsl.backends.interpreter", "exportdsl.diff", "exportdsl.lint"}
    assert not heavy & loaded, sorted(heavy & loaded)


def test_check_of_a_valid_policy_never_loads_lark_nor_the_other_commands():
    loaded = _modules_after("from exportdsl.cli import main\n"
                            f"assert main(['check', '--no-lint', {str(OCTOBER)!r}]) == 0")
    assert not {"lark", "hashlib", "exportdsl.parser_lark", "exportdsl.studio.command", "exportdsl.screening",
                "exportdsl.lsp.command", "exportdsl.facts_input", "socket"} & loaded


def test_check_with_its_lint_loads_neither_pathlib_nor_json_nor_shutil_nor_the_code_generator():
    # pathlib (with urllib.parse and ipaddress), json and shutil (argparse's help width) cost a
    # tenth of the check's budget: the check of a policy with extends reads paths with os.path
    loaded = _modules_after("from exportdsl.cli import main\n"
                            f"assert main(['check', {str(OCTOBER)!r}]) == 0")
    assert "exportdsl.lint" in loaded and "exportdsl.compose" in loaded
    unneeded = {"pathlib", "json", "shutil", "urllib.parse", "exportdsl.backends.python"}
    assert not unneeded & loaded, sorted(unneeded & loaded)


def test_screen_and_compile_to_sql_never_generate_the_python_evaluator(tmp_path):
    # screening runs the SQL backend only: generating the Python evaluator cost 0.05-0.25 s per run
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"ship_date": "2025-12-01", "origin": "CN", "export_from": "JP", "re_content": 0.5,'
                      ' "end_use": "civil", "elements": ["Nd"], "end_user": "Acme"}\n', encoding="utf-8")
    quickstart = REPO / "policies" / "quickstart.xpol"
    for argv in (["screen", str(quickstart), str(ledger), "-o", str(tmp_path / "out.csv")],
                 ["compile", "--target", "sql", str(quickstart)]):
        loaded = _modules_after("import contextlib, io\nfrom exportdsl.cli import main\n"
                                f"with contextlib.redirect_stdout(io.StringIO()): assert main({argv!r}) == 0")
        assert "exportdsl.screening" in loaded and "exportdsl.backends.python" not in loaded, argv


def test_a_syntax_error_still_reads_as_lark_words_it():
    code = ("from exportdsl.cli import main\n"
            "import exportdsl, sys\n"
            "try:\n    exportdsl.compile('decisions a < b\\nrule R { x -> }')\n"
            "except exportdsl.ParseError as e:\n    print(e.diagnostics[0].code, file=sys.stderr)\n")
    assert "lark" in _modules_after(code)


def test_the_full_help_still_lists_every_command(capsys):
    from exportdsl.cli import main
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("check", "lint", "eval", "diff", "fmt", "lsp", "studio", "screen", "compile"):
        assert command in out


def test_a_loaded_policy_keeps_no_syntax_tree_but_gives_it_back():
    policy = exportdsl.load(OCTOBER)
    assert isinstance(policy._module, Source)
    again = exportdsl.parse(OCTOBER.read_text(encoding="utf-8"), str(OCTOBER))
    assert policy.ast == again
    assert [c.text for c in policy.ast.comments] == [c.text for c in again.comments]
    assert policy.ast.span.source.text == OCTOBER.read_text(encoding="utf-8")
    built = exportdsl.Policy(policy.ast, policy.ir)        # a module given in is kept as given
    assert built.ast is built._module


# ---- records ------------------------------------------------------------------------------

@record
class _Point:
    x: int
    y: int = 0
    label: str = field(default="", eq=False, repr=False)
    tags: list = field(factory=list, eq=False, kw_only=True)


@record(cache_hash=True)
class _Point3(_Point):
    z: int = 0


def test_records_compare_hash_and_show_their_compared_fields():
    a, b = _Point(1, 2, "a"), _Point(1, 2, "b")
    assert a == b and hash(a) == hash(b) and a != _Point(1, 3)
    assert repr(a) == "_Point(x=1, y=2, tags=[])"
    assert _Point(1) != _Point3(1)                  # another class is never equal
    assert _Point3(1, 2, z=3) == _Point3(1, 2, "x", z=3) and hash(_Point3(1, z=3)) == hash(_Point3(1, z=3))
    assert _Point(1).tags is not _Point(1).tags      # a factory per instance
    assert _Point.__match_args__ == ("x", "y", "label") and _Point3.__match_args__ == ("x", "y", "label", "z")
    match _Point3(5, 6, z=7):
        case _Point3(x, y, z=z):
            assert (x, y, z) == (5, 6, 7)


def test_records_are_immutable_and_evolve_into_copies():
    a = _Point(1, 2, "a", tags=["t"])
    with pytest.raises(FrozenError):
        a.x = 5
    with pytest.raises(AttributeError):
        del a.y
    with pytest.raises(TypeError):
        _Point(1, 2, "a", ["t"])                    # keyword-only
    b = a.evolve(y=9)
    assert (b.x, b.y, b.label, b.tags) == (1, 9, "a", ["t"]) and (a.y == 2)
    assert not hasattr(a, "__dict__")


def test_records_pickle_copy_and_take_weak_references():
    policy = exportdsl.load(OCTOBER)
    rule = policy.ir.rules[0]
    for clone in (pickle.loads(pickle.dumps(rule)), copy.deepcopy(rule), copy.copy(rule)):
        assert clone == rule and hash(clone) == hash(rule)
    module = policy.ast
    assert pickle.loads(pickle.dumps(module)) == module
    assert weakref.ref(rule)() is rule
    diagnostic = Diagnostic("E201", "m", help="h")
    assert diagnostic.evolve(message="n") == Diagnostic("E201", "n", help="h")


def test_syntax_and_ir_nodes_keep_their_equality_rules():
    source = Source("s", "x")
    one, other = source.span(0, 1), source.span(0, 0)
    assert ast.Ident("x", span=one) == ast.Ident("x", span=other)      # spans take no part
    assert ir.And((ir.Const(True), ir.Const(False))) != ir.And((ir.Const(False), ir.Const(True)))
    named = ir.Named("c", ir.Const(True))
    assert named == ir.Named("c", ir.Const(True)) and hash(named) == hash(ir.Named("c", ir.Const(True)))


# ---- check and lint load policies without generating their evaluators ------------------------------

def _shipments() -> list[dict]:
    import json
    from decimal import Decimal
    text = (REPO / "policies" / "samples" / "shipments.jsonl").read_text(encoding="utf-8")
    return [json.loads(line, parse_float=Decimal) for line in text.split("\n") if line.strip()]


def test_check_and_lint_do_not_generate_the_evaluator(monkeypatch, capsys):
    import exportdsl.backends.python as generator   # imported by a Policy only when it compiles
    from exportdsl.cli import main

    generated = []
    real = generator.compile_policy
    monkeypatch.setattr(generator, "compile_policy", lambda *a, **k: generated.append(1) or real(*a, **k))
    assert main(["check", str(OCTOBER)]) == 0
    assert main(["lint", str(OCTOBER)]) == 0
    assert generated == []
    assert main(["eval", str(OCTOBER), "--facts", str(REPO / "policies" / "samples" / "shipments.jsonl")]) in (0, 1)
    assert generated == [1]     # a command that evaluates still compiles, once
    capsys.readouterr()


@pytest.mark.parametrize("name", ["cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol",
                                  "cn-rare-earths-2025-11.xpol"])
def test_a_policy_compiled_on_first_use_decides_like_one_compiled_at_once(name):
    from exportdsl.policy import load_with_tree
    eager = exportdsl.load(REPO / "policies" / name)
    for method in ("decide", "evaluate", "decision", "generated_source", "evaluate_many"):
        lazy, _ = load_with_tree(REPO / "policies" / name, compile_now=False)
        for facts in _shipments() + [{"origin": "CN"}]:
            def outcome(policy):
                try:
                    if method == "generated_source":
                        return policy.generated_source
                    if method == "evaluate_many":
                        return [tuple(d)[:2] for d in policy.evaluate_many([facts])]
                    result = getattr(policy, method)(facts)
                    return tuple(result)[:2] if method == "evaluate" else result   # (decision, rules)
                except exportdsl.EvaluationError as error:
                    return [d.code for d in error.diagnostics]
            assert outcome(lazy) == outcome(eager), (method, facts)


def test_a_policy_compiled_on_first_use_compiles_once_across_threads(monkeypatch):
    import threading

    import exportdsl.backends.python as generator
    from exportdsl.policy import load_with_tree

    generated = []
    real = generator.compile_policy
    monkeypatch.setattr(generator, "compile_policy", lambda *a, **k: generated.append(1) or real(*a, **k))
    lazy, _ = load_with_tree(OCTOBER, compile_now=False)
    facts = _shipments()[0]
    want = exportdsl.load(OCTOBER).decide(facts)
    barrier, results = threading.Barrier(8), []

    def worker():
        barrier.wait()
        results.append(lazy.evaluate(facts)[:2])
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [tuple(want)] * 8
    assert len(generated) == 2     # the eager policy above, and the lazy one once
    assert type(lazy.decide) is type(exportdsl.load(OCTOBER).decide)   # the generated function itself now


def test_the_command_line_freezes_what_its_imports_made(monkeypatch, capsys):
    # a process's later garbage collections skip the module objects (issue 13: a check's cold start)
    import gc

    from exportdsl.cli import entry_point
    monkeypatch.setattr(sys, "argv", ["exportdsl", "check", "--no-lint", str(OCTOBER)])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exited:
            entry_point()
        assert exited.value.code == 0
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
    capsys.readouterr()
