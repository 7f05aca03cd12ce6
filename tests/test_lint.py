"""The linter: golden findings per lint code, the reference policies, the command line and SARIF,
exactness properties on random policies, and the size budget.

``pytest --update-goldens`` rewrites tests/golden/lint/*.txt (and the .json/.sarif files that
exist) from the current output; review the diff by hand before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import jsonschema
import policygen
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl.backends import interpreter
from exportdsl.cli import main
from exportdsl.compose import resolve
from exportdsl.errors import CODES, Severity, render_text
from exportdsl.lint import Budget, lint, lint_family, near_miss
from exportdsl.lint.report import to_json, to_sarif
from exportdsl.lint.rules import switched_off
from exportdsl.semantics import validate_facts

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden" / "lint"
POLICIES = sorted(GOLDEN_DIR.glob("*.xpol"))
LINT_CODES = sorted(code for code in CODES if code.startswith("W"))


def _budget(path: Path) -> Budget:
    return Budget(max_nodes=0) if path.stem.startswith("W191") else Budget()


def _findings(path: Path):
    name = f"tests/golden/lint/{path.name}"
    policy = exportdsl.compile(path.read_text(encoding="utf-8"), name)
    return lint(policy.ir, resolve(policy.ast), budget=_budget(path))


def _lint_text(text: str, budget: Budget = Budget()):
    policy = exportdsl.compile(text)
    return policy, lint(policy.ir, resolve(policy.ast), budget=budget)


# ---- goldens ---------------------------------------------------------------------------------------

def test_every_lint_code_has_a_golden_and_is_registered():
    assert LINT_CODES, "lint codes are registered in errors.CODES"
    stems = {p.stem.split("-")[0] for p in POLICIES}
    assert stems == set(LINT_CODES), f"goldens {sorted(stems)} vs codes {LINT_CODES}"
    for path in POLICIES:
        assert re.fullmatch(r"W\d{3}-[a-z0-9-]+", path.stem), path.name
    orphans = {p.stem for p in GOLDEN_DIR.glob("*.txt")} - {p.stem for p in POLICIES}
    assert not orphans


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_golden(path: Path, update_goldens: bool):
    findings = _findings(path)
    code = path.stem.split("-")[0]
    assert code in {d.code for d in findings}, f"{path.name} does not trigger {code}"
    assert all(d.code in CODES and d.severity in (Severity.WARNING, Severity.NOTE) for d in findings)
    outputs = {".txt": render_text(findings) + "\n", ".json": to_json(findings) + "\n",
               ".sarif": json.dumps(to_sarif(findings), indent=2, ensure_ascii=False) + "\n"}
    for suffix, actual in outputs.items():
        golden = path.with_suffix(suffix)
        if suffix != ".txt" and not golden.exists():
            continue
        if update_goldens:
            golden.write_text(actual, encoding="utf-8")
        assert golden.exists(), f"no golden for {path.name}: run pytest --update-goldens and review it"
        expected = golden.read_text(encoding="utf-8")
        if suffix == ".sarif":   # the tool version changes with releases
            actual, expected = (re.sub(r'"version": "[^"]*",\n( *)"rules"', r'"rules"', t) for t in (actual, expected))
        assert actual == expected


def test_json_and_sarif_goldens_exist():
    assert any(GOLDEN_DIR.glob("*.json")) and any(GOLDEN_DIR.glob("*.sarif"))


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_golden_layout_matches_errors(path: Path):
    """Each finding renders like an error: location, severity[code], message, line, caret, help."""
    for diag in _findings(path):
        block = diag.render().split("\n")
        if diag.span is None:
            assert block[0] == f"{diag.severity.value}[{diag.code}]: {diag.message}"
            continue
        assert block[0] == (f"tests/golden/lint/{path.name}:{diag.span.line}:{diag.span.column}: "
                            f"{diag.severity.value}[{diag.code}]: {diag.message}")
        assert re.fullmatch(r" *\d+ \| .*", block[1]) and "^" in block[2]
        assert diag.help and block[-1] == f"  help: {diag.help}"


# ---- the reference policies ----------------------------------------------------------------------------

def test_reference_policies_lint_clean():
    paths = sorted((ROOT / "policies").glob("*.xpol"))
    policies = [exportdsl.load(p) for p in paths]
    results = lint_family([(p.ir, resolve(p.ast)) for p in policies])
    found = {(Path(d.span.source.name).name, d.code, d.message.split(":")[0]) for r in results for d in r}
    # (quickstart's Q3 used to lie inside Q2, W113; it now reads samarium from any exporter)
    assert not found, f"lint findings on the reference policies: {sorted(found)}"


def test_base_declarations_used_by_an_extending_policy_are_used():
    base = exportdsl.load(ROOT / "policies" / "cn-rare-earths-2025-04.xpol")
    alone = lint(base.ir, resolve(base.ast))
    assert {d.code for d in alone} == {"W121"} and any("'end_user'" in d.message for d in alone)
    october = exportdsl.load(ROOT / "policies" / "cn-rare-earths-2025-10.xpol")
    together = lint_family([(base.ir, resolve(base.ast)), (october.ir, resolve(october.ast))])
    assert together == [[], []]


# ---- the command line ----------------------------------------------------------------------------------

def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_exit_codes(tmp_path, capsys):
    clean = ROOT / "policies" / "us-ear-de-minimis.xpol"
    assert run(["lint", str(clean)], capsys)[0] == 0
    code, out, _ = run(["lint", str(GOLDEN_DIR / "W101-never-holds.xpol")], capsys)
    assert code == 1 and "warning[W101]" in out and "lint: 3 warning(s)" in out
    code, out, _ = run(["lint", str(GOLDEN_DIR / "W114-exception-beaten.xpol")], capsys)
    assert code == 0 and "note[W114]" in out           # notes alone do not fail
    broken = tmp_path / "bad.xpol"
    broken.write_text("decisions a < b\nrule R { x = 1 -> b }\n", encoding="utf-8")
    code, _, err = run(["lint", str(broken)], capsys)
    assert code == 2 and "error[E201]" in err
    code, out, _ = run(["lint", "--format", "json", str(broken)], capsys)
    assert code == 2 and json.loads(out)[0]["code"] == "E201"


def test_lint_json_format(capsys):
    code, out, _ = run(["lint", "--format", "json", str(GOLDEN_DIR / "W122-unused-set.xpol")], capsys)
    assert code == 1
    [finding] = json.loads(out)
    assert finding["code"] == "W122" and finding["severity"] == "warning" and finding["line"] == 5


def test_check_prints_warnings_but_exits_0(capsys):
    path = str(GOLDEN_DIR / "W112-duplicate.xpol")
    code, out, err = run(["check", path], capsys)
    assert code == 0 and out.startswith(f"{path}: ok (2 rules, 2 facts)") and "warning[W112]" in out
    code, out, _ = run(["check", "--no-lint", path], capsys)
    assert code == 0 and "warning[W112]" not in out
    code, out, _ = run(["check", "--format", "json", path], capsys)
    assert code == 0 and json.loads(out)[0]["lint"][0]["code"] == "W112"


# ---- SARIF -----------------------------------------------------------------------------------------------

def _strict(properties: dict, required=()) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:   # draft 4, like the official schema: "required" lists at least one name
        schema["required"] = list(required)
    return schema


_MESSAGE = _strict({"text": {"type": "string"}}, ["text"])
_LEVEL = {"enum": ["none", "note", "warning", "error"]}
#: The parts of the official SARIF 2.1.0 schema (sarif-schema-2.1.0.json, OASIS) that exportdsl
#: writes, transcribed: the same property names, types, enums, minimums and required lists, and no
#: other properties allowed (as in the official schema, where every object is additionalProperties: false).
SARIF_SUBSET = _strict({
    "$schema": {"type": "string", "format": "uri"},
    "version": {"enum": ["2.1.0"]},
    "runs": {"type": "array", "items": _strict({
        "tool": _strict({"driver": _strict({
            "name": {"type": "string"},
            "version": {"type": "string"},
            "rules": {"type": "array", "uniqueItems": True, "items": _strict({
                "id": {"type": "string"},
                "name": {"type": "string"},
                "shortDescription": _MESSAGE,
                "defaultConfiguration": _strict({"level": _LEVEL}),
            }, ["id"])},
        }, ["name"])}, ["driver"]),
        "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
        "results": {"type": "array", "items": _strict({
            "ruleId": {"type": "string"},
            "ruleIndex": {"type": "integer", "minimum": -1},
            "level": _LEVEL,
            "message": _MESSAGE,
            "locations": {"type": "array", "items": _strict({"physicalLocation": _strict({
                "artifactLocation": _strict({"uri": {"type": "string", "format": "uri-reference"}}),
                "region": _strict({key: {"type": "integer", "minimum": 1}
                                   for key in ("startLine", "startColumn", "endLine", "endColumn")},
                                  ["startLine"]),
            })})},
        }, ["message"])},
    }, ["tool"])},
}, ["version", "runs"])


@pytest.mark.parametrize("name", ["W101-never-holds.xpol", "W141-near-miss.xpol", "W191-skipped.xpol"])
def test_sarif_validates(name):
    log = to_sarif(_findings(GOLDEN_DIR / name))
    jsonschema.Draft4Validator.check_schema(SARIF_SUBSET)
    jsonschema.Draft4Validator(SARIF_SUBSET).validate(log)
    run_ = log["runs"][0]
    rules = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    assert rules == LINT_CODES
    for result in run_["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        for location in result.get("locations", []):
            region = location["physicalLocation"]["region"]
            assert (region["endLine"], region["endColumn"]) > (region["startLine"], region["startColumn"])


def test_sarif_schema_subset_rejects_what_sarif_rejects():
    log = to_sarif(_findings(GOLDEN_DIR / "W101-never-holds.xpol"))
    validator = jsonschema.Draft4Validator(SARIF_SUBSET)
    for broken in ({**log, "version": "2.0.0"},
                   {**log, "runs": [{**log["runs"][0], "results": [{"ruleId": "W101"}]}]},
                   {**log, "runs": [{**log["runs"][0], "tool": {"driver": {"rules": []}}}]}):
        assert not validator.is_valid(broken)


def test_cli_sarif(capsys):
    code, out, _ = run(["lint", "--format", "sarif", str(GOLDEN_DIR / "W131-until-before-effective.xpol")], capsys)
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SUBSET).validate(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["W131"] * 3


# ---- single lints -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, near", [
    ("Huawei", "Hauwei", True), ("Acme Corp", "ACME Corp.", True), ("Acme Corp", "Acme  Corp", True),
    ("Example Systems", "Example System", True), ("Acme", "Apex", False), ("x", "y", False),
    ("Exelis Inc.", "Epirus, Inc.", False), ("Huawei", "Huawei", False), ("abc", "abd", False),
])
def test_near_miss(a, b, near):
    assert (near_miss(a, b) is not None) == near
    assert (near_miss(b, a) is not None) == near


@pytest.mark.parametrize("condition, never", [
    ("n > 5 and n < 1", True), ("n >= 5 and n <= 5", False), ("n > 5 and n < 6", True),   # n is an integer
    ("p > 5% and p < 1%", True), ("p > 100%", True), ("p >= 100%", False), ("p < 0%", True),
    ("d > 2025-01-01 and d < 2025-01-02", True), ("d >= 2025-01-01 and d < 2025-01-02", False),
    ("x > 1 and x < 1.0001", False), ("e = a and e = b", True), ("e in {a, b} and e not in {a, b}", True),
    ("e != a and e != b and e != c", True), ("e != a and e != b", False),
    ("s contains a and s is empty", True), ("s contains all {a, b} and not s contains b", True),
    ("s contains any {a, b} and not s contains a and not s contains b", True),
    ("s is not empty and not s contains any {a, b, c}", True), ("t is not empty and not t contains \"q\"", False),
    ("flag and not flag", True), ("flag = true and flag != false", False), ("u = \"x\" and u = \"y\"", True),
    ("u = \"x\" or u = \"y\"", False), ("c = CN and c not in {CN, HK}", True), ("c != CN and c != HK", False),
    ("applies(BASE) and n < 0", True), ("applies(BASE) and n > 0", False),
    ("s contains any not in {a, b, c}", True), ("s contains any not in {a}", False),
    ("s contains any not in {a} and not s contains b and not s contains c", True),
    ("t contains any not in {\"q\"} and t is empty", True), ("t contains any not in {\"q\"}", False),
])
def test_never_holds_for_every_operator(condition, never):
    text = ("decisions a < b\nfact n: integer\nfact x: number\nfact p: percent\nfact d: date\n"
            "fact e: enum {a, b, c}\nfact s: set of enum {a, b, c}\nfact t: set of string\nfact flag: bool\n"
            "fact u: string\nfact c: country\n"
            f"rule BASE {{ n > 0 -> b }}\nrule R {{ {condition} -> b }}\n")
    _, findings = _lint_text(text)
    reported = any(d.code == "W101" and "rule R " in d.message for d in findings)
    assert reported == never


# ---- exactness on random policies ----------------------------------------------------------------------------

@st.composite
def policies_with_overrides(draw) -> policygen.PolicySpec:
    """Random policies (tests/policygen.py), more rules given ``overrides`` of others than policygen gives
    (a rule that has some keeps them: one ``overrides`` line per rule), and sometimes a suspension."""
    spec = draw(policygen.policies())
    ids = re.findall(r"^rule (R\d+) \{", spec.text, re.MULTILINE)
    lines = spec.text.split("\n")
    for index, line in enumerate(lines):
        match = re.match(r"rule (R\d+) \{", line)
        if match and "overrides" not in line and len(ids) > 1 and draw(st.integers(0, 2)) == 0:
            targets = [i for i in ids if i != match.group(1)]
            chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2, unique=True))
            lines[index] = line.replace("{", "{ overrides " + ", ".join(chosen) + " ", 1)
    text = "\n".join(lines)
    if "dated by" in text and draw(st.booleans()):
        effective = draw(st.sampled_from(policygen.DATE_POOL))
        text += f"suspension S {{ effective {effective} suspends {draw(st.sampled_from(ids))} }}\n"
    return dataclasses.replace(spec, text=text)


def _rule_of(diagnostic) -> str | None:
    """The rule a finding is about, when it is about a rule."""
    match = re.match(r"(?:the condition of )?rule (\w+)", diagnostic.message)
    return match.group(1) if match else None


def _without(policy, rule_id):
    kept = tuple(r.evolve(overrides=tuple(t for t in r.overrides if t != rule_id))
                 for r in policy.rules if r.id != rule_id)
    return policy.evolve(rules=kept)


@settings(max_examples=150, deadline=None)
@given(policies_with_overrides(), st.data())
def test_lint_findings_are_exact_on_random_policies(spec, data):
    policy = exportdsl.compile(spec.text)
    pir = policy.ir
    findings = lint(pir, resolve(policy.ast))
    never = {_rule_of(d) for d in findings if d.code in ("W101", "W103")}
    redundant = {_rule_of(d) for d in findings if d.code == "W111"}
    same = {_rule_of(d) for d in findings if d.code in ("W112", "W113")}
    assert not any(d.code == "W191" for d in findings), "small random policies fit the budget"
    if not (never or redundant or same):
        return
    # exact: the diff engine finds no transaction where removing the rule changes the decision
    from exportdsl.diff import diff
    for rule_id in redundant:
        assert not diff(pir, _without(pir, rule_id)).changed, f"removing {rule_id} changes decisions"
    for rule_id in same:
        result = diff(pir, _without(pir, rule_id))
        assert all(r.old == r.new for r in result.regions), f"removing {rule_id} changes decisions"
    # and on random transactions, evaluated by the reference interpreter
    reduced = {rule_id: _without(pir, rule_id) for rule_id in redundant | same}
    for _ in range(25):
        tx = data.draw(policygen.transactions(spec), label="transaction")
        facts = validate_facts(pir.facts, tx)
        for rule_id in never:
            rule = pir.rule(rule_id)
            expr = rule.when if any(d.code == "W101" and f"rule {rule_id} " in d.message for d in findings) \
                else rule.condition
            assert not interpreter.holds(expr, facts), f"{rule_id} was said never to hold"
        decision = interpreter.evaluate(pir, tx)
        for rule_id in redundant:
            assert interpreter.evaluate(reduced[rule_id], tx) == decision, f"removing {rule_id} changed {tx}"
        for rule_id in same:
            assert interpreter.evaluate(reduced[rule_id], tx)[0] == decision[0]


@settings(max_examples=100, deadline=None)
@given(policies_with_overrides())
def test_rules_not_reported_do_hold_somewhere(spec):
    """The converse, checked with the diff: a rule not reported as never holding changes the policy
    when replaced by 'false' (unless it never decides either), i.e. no false negatives of W111."""
    from exportdsl.diff import diff
    policy = exportdsl.compile(spec.text)
    pir = policy.ir
    findings = lint(pir, resolve(policy.ast))
    reported = {_rule_of(d) for d in findings if d.code in ("W101", "W103", "W111", "W131")}
    for rule in pir.rules:
        if rule.id in reported or rule.overrides or switched_off(rule.when):
            continue
        result = diff(pir, _without(pir, rule.id))
        assert result.changed, f"rule {rule.id} never decides but was not reported"


# ---- size ------------------------------------------------------------------------------------------------------

def test_a_thousand_rules_lint_under_a_budget():
    """A 1,000-rule policy lints under a time budget: the cheap checks all run, what did not fit is
    reported as skipped (timings themselves belong in benchmarks/, not in a test)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_eval import synthetic_policy
    finally:
        sys.path.pop(0)
    policy = exportdsl.compile(synthetic_policy(1000), "<synthetic 1000>")
    findings = lint(policy.ir, resolve(policy.ast), budget=Budget(max_seconds=3.0))
    codes = {d.code for d in findings}
    assert "W101" in codes          # the generator writes contradictory rules
    for note in (d for d in findings if d.code == "W191"):
        assert note.severity is Severity.NOTE and "skipped" in note.message


def test_budget_zero_reports_skipped_checks():
    _, findings = _lint_text("decisions a < b\nfact x: integer\nfact y: integer\n"
                                "rule R { (x > 1 or y > 1) and x < 0 and y < 0 -> b }\n",
                                Budget(max_nodes=0))
    notes = [d for d in findings if d.code == "W191"]
    assert notes and "never-holds" in notes[0].message and notes[0].span is None
    assert "W101" not in {d.code for d in findings}
