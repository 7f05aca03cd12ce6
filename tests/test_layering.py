"""The package's layering: a module imports only from its own layer or lower ones, never from a
higher one; the modules' imports form no cycle; and only the parser's Lark path imports Lark.

Imports are read with the stdlib ``ast`` module (nothing is imported), including imports inside
functions. Every module must be listed in LAYERS, so that a new module gets a place on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "exportdsl"

#: Layer of each module (dotted name relative to the package). Layers 0-5 as designed; the modules
#: marked "assigned here" were not in the design's list and are placed by what they are for.
LAYERS = {
    # 0: vocabulary with no dependencies
    "source": 0, "types": 0, "operators": 0,
    "collector": 0,                       # assigned here: pausing the cyclic garbage collector around bulk work
    "records": 0,                         # assigned here: the immutable slotted classes of the AST, IR and diagnostics
    "escape": 0,                          # assigned here: escaping untrusted text for terminals and Markdown
    "highlight": 0,                       # assigned here: the Pygments lexer; imports nothing from the package
    # 1: diagnostics, syntax tree, IR and the meaning of values and operators
    "errors": 1, "ast": 1, "ir": 1, "semantics": 1,
    # 2: front end and rendering
    "parser": 2, "check": 2,
    "check_declarations": 2, "render": 2,
    "parser_fast": 2,                     # assigned here: the hand-written reader, the parser's fast path
    "parser_lark": 2,                     # assigned here: the grammar's Lark parser, and every syntax error
    "parser_cache": 2,                    # assigned here: the private file that caches the parser's tables
    "combining": 2,                       # assigned here: most-severe-wins over the IR, used by every backend
    "yaml_input": 2,                      # assigned here: reading untrusted YAML (policy test files), bounded
    "facts_input": 2,                     # assigned here: reading JSON facts files (the front end of evaluation)
    # 3: backends and everything built on one checked policy
    "backends": 3, "backends.interpreter": 3, "backends.python": 3, "schema": 3,
    "backends.fact_checks": 3,            # assigned here: how the compiled evaluator's code reads and checks facts
    "backends.float_cuts": 3,             # assigned here: exact float thresholds for the compiled evaluator
    "backends.specialise": 3,             # partial evaluation on one fact for the compiled evaluator's dispatch
    "backends.sql": 3, "backends.sql.nodes": 3, "backends.sql.facts": 3, "backends.sql.conditions": 3,
    "backends.sql.lookups": 3,
    "backends.sql.query": 3, "backends.sql.duckdb_engine": 3, "backends.sql.replay": 3,  # the SQL backend (sqlglot trees; DuckDB)
    "compose": 3,                         # assigned here: resolves `extends` with the parser
    # the diff package's building blocks (diff/): one checked policy at a time
    "diff.partition": 3, "diff.regions": 3, "diff.structure": 3, "diff.boolexpr": 3,
    # 4: explanations, diffs, formatting
    "explain": 4, "fmt": 4,
    "diff": 4, "diff.search": 4, "diff.report": 4, "diff.temporal": 4, "diff.checklist": 4, "diff.ledger": 4,  # the diff package: search, reports, days, review by provision
    "screening": 4,                       # assigned here: ledger files and the screen/compile commands
    "spark": 4,                           # assigned here: the documented Spark helper (pyspark only here)
    "diff": 4, "diff.search": 4, "diff.report": 4,  # the diff package: the search over two policies, reports
    "diff.encode": 4, "diff.keyed": 4, "diff.assemble": 4,  # the keyed diff: CNF encoding, SAT search, regions
    "diff.split": 4,  # the keyed diff's space cut in parts, each searched with only the rules that can apply there
    "diff.workers": 4,  # forked worker processes proving the keyed diff's always co-deciding rules
    "lint": 4, "lint.logic": 4, "lint.rules": 4, "lint.checks": 4, "lint.report": 4,  # built on the diff's partition
    # 5: the public API and the programs
    "policy": 5, "__init__": 5, "cli": 5, "__main__": 5, "demo": 5,
    "cli_arguments": 5,                   # assigned here: the command line's argparse parsers, built per command
    "testing": 5,                         # assigned here: runs authors' YAML tests through Policy
    # the language server and the studio (programs, like the CLI; the CLI registers their commands)
    "lsp": 5, "lsp.analysis": 5, "lsp.symbols": 5, "lsp.completion": 5, "lsp.command": 5, "lsp.server": 5,
    "studio": 5, "studio.paths": 5, "studio.app": 5, "studio.command": 5,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, level: int, module: str | None) -> str:
    """The package-relative target of a relative import, or '' for the package itself."""
    path = MODULES[importer]
    package_parts = list(path.relative_to(PACKAGE).parent.parts)
    if level > 1:
        package_parts = package_parts[: len(package_parts) - (level - 1)]
    parts = package_parts + (module.split(".") if module else [])
    return ".".join(parts)


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(package modules, top-level external packages) that a module imports, anywhere in it."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"), filename=str(MODULES[name]))
    internal, external = set(), set()

    def add_internal(target: str):
        target = target or "__init__"
        # `from . import ast` names a module; `from .errors import X` names one too.
        internal.add(target if target in MODULES else target.rsplit(".", 1)[0] if "." in target else target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "exportdsl" or alias.name.startswith("exportdsl."):
                    add_internal(alias.name.partition(".")[2])
                else:
                    external.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module == "exportdsl" or (node.module or "").startswith("exportdsl."):
                    base = node.module.partition(".")[2]
                    for alias in node.names:
                        candidate = f"{base}.{alias.name}" if base else alias.name
                        add_internal(candidate if candidate in MODULES else base)
                else:
                    external.add((node.module or "").split(".")[0])
            else:
                base = _resolve(name, node.level, node.module)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}" if base else alias.name
                    add_internal(candidate if candidate in MODULES else base)
    internal.discard(name)
    return internal, external


def test_the_package_is_found():
    assert {"parser", "check", "policy", "backends.python", "__init__"} <= set(MODULES)


def test_import_reader_understands_every_import_form():
    assert imports_of("explain")[0] >= {"ir", "backends.interpreter", "render"}
    assert "ir" in imports_of("backends.interpreter")[0]  # `from .. import ir`
    assert "lark" in imports_of("parser_lark")[1]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_layer(name):
    assert name in LAYERS, f"place src/exportdsl/{name.replace('.', '/')}.py in a layer (tests/test_layering.py)"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports_only_its_own_layer_or_lower(name):
    if name not in LAYERS:
        pytest.skip("not placed in a layer (see test_every_module_has_a_layer)")
    internal, _ = imports_of(name)
    upward = sorted(f"{target} (layer {LAYERS[target]})" for target in internal
                    if target in LAYERS and LAYERS[target] > LAYERS[name])
    assert not upward, f"{name} (layer {LAYERS[name]}) imports from higher layers: {', '.join(upward)}"
    unknown = sorted(target for target in internal if target not in MODULES)
    assert not unknown, f"{name} imports modules that do not exist: {unknown}"


def test_no_import_cycles():
    graph = {name: imports_of(name)[0] & set(MODULES) for name in MODULES}
    graph["__init__"].discard("__init__")
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str):
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if target == "__init__":
                continue  # submodules may read the package's metadata (__version__); the package imports them
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_parser_imports_lark(name):
    _, external = imports_of(name)
    if name == "parser_lark":
        assert "lark" in external
    else:
        assert "lark" not in external, f"{name} imports lark; only parser_lark.py may"


def test_the_screening_engines_load_only_when_used():
    """`exportdsl check` and friends must not pay for importing DuckDB and sqlglot (about a second)."""
    import subprocess
    import sys
    code = "import sys, exportdsl.cli; print(sorted(m for m in ('duckdb', 'sqlglot', 'pyspark') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
#: The modules that may import the SAT solver (python-sat): the diff's search modules.
SAT_MODULES = {"diff.encode"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_diff_search_imports_the_sat_solver(name):
    _, external = imports_of(name)
    if name in SAT_MODULES:
        assert "pysat" in external, f"{name} is listed as a SAT module but does not import pysat"
    else:
        assert "pysat" not in external, f"{name} imports pysat; only {sorted(SAT_MODULES)} may"
