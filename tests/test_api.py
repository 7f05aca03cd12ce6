"""The public API: load/compile/parse, Policy, Decision, explanations, JSON Schema, threads."""

from __future__ import annotations

import copy
import datetime
import json
import random
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from types import MappingProxyType

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
import policygen
from _support import REPO_ROOT

QUICKSTART = REPO_ROOT / "policies" / "quickstart.xpol"


@pytest.fixture(scope="module")
def quickstart() -> exportdsl.Policy:
    return exportdsl.load(QUICKSTART)


def tx(**changes) -> dict:
    """A quickstart transaction no rule applies to, with some facts changed."""
    base = {"ship_date": "2025-12-01", "origin": "JP", "export_from": "JP", "re_content": 0,
            "end_use": "civil", "elements": [], "end_user": "Acme Motors Inc."}
    base.update(changes)
    return base


# ---- load / compile / parse -----------------------------------------------------------------------

def test_load_describes_the_policy(quickstart):
    assert quickstart.name == "quickstart" and quickstart.version == "2025-10"
    assert quickstart.decisions == ("not_controlled", "license_required", "deny")
    assert quickstart.default == "not_controlled"
    assert list(quickstart.facts) == ["ship_date", "origin", "export_from", "re_content", "end_use", "elements",
                                      "end_user", "quantity_kg"]
    kinds = {name: t.kind for name, t in quickstart.facts.items()}
    assert kinds == {"ship_date": exportdsl.Kind.DATE, "origin": exportdsl.Kind.COUNTRY,
                     "export_from": exportdsl.Kind.COUNTRY, "re_content": exportdsl.Kind.PERCENT,
                     "end_use": exportdsl.Kind.ENUM, "elements": exportdsl.Kind.SET,
                     "end_user": exportdsl.Kind.STRING, "quantity_kg": exportdsl.Kind.NUMBER}
    assert quickstart.facts["end_use"].values == ("civil", "military", "military_potential", "wmd", "terrorism",
                                                  "humanitarian")
    assert str(quickstart.facts["elements"]).startswith("set of enum {Sc, Y, La")
    assert [r.id for r in quickstart.rules] == ["Q1", "Q2", "Q3", "Q4"]
    q3 = quickstart.rules[2]
    assert (q3.decision, q3.title, q3.cite, q3.effective, q3.until) == (
        "license_required", "Large shipments of samarium outside humanitarian use", None, "2025-04-04", "2026-11-10")
    assert quickstart.rules[0].cite == "MOFCOM 2025 No. 61 Art. 3 (simplified)"
    assert repr(quickstart) == "<Policy quickstart 2025-10: 4 rules>"


def test_load_accepts_str_and_path(quickstart):
    again = exportdsl.load(str(QUICKSTART))
    assert again.decide(tx(origin="CN", re_content=1, end_use="wmd")) == ("deny", ("Q1",))
    assert [r.id for r in again.rules] == [r.id for r in quickstart.rules]


def test_load_of_a_missing_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.xpol"
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.load(missing)
    assert [d.code for d in info.value.diagnostics] == ["E104"]
    assert "nope.xpol" in str(info.value)


def test_load_names_the_file_in_diagnostics(tmp_path):
    path = tmp_path / "broken.xpol"
    path.write_text("decisions a < b\nrule R { x = 1 -> b }\n", encoding="utf-8")
    with pytest.raises(exportdsl.CheckError) as info:
        exportdsl.load(path)
    assert str(info.value).startswith(f"{path}:2:10: error[E201]: unknown fact 'x'")


def test_compile_uses_the_given_name():
    with pytest.raises(exportdsl.CheckError) as info:
        exportdsl.compile("decisions a < b\nrule R { x = 1 -> b }\n", "my/policy.xpol")
    assert str(info.value).startswith("my/policy.xpol:2:10: error[E201]")
    diag = info.value.diagnostics[0].to_json()
    assert (diag["code"], diag["file"], diag["line"], diag["column"]) == ("E201", "my/policy.xpol", 2, 10)
    assert (diag["end_line"], diag["end_column"]) == (2, 11)


def test_parse_does_not_check():
    module = exportdsl.parse("decisions a < b\nrule R { unknown_fact = 1 -> nowhere }\n")
    assert len(module.decls) == 2
    rule = module.decls[1]
    assert rule.id.name == "R" and rule.decision.name == "nowhere"
    assert rule.condition.fact.name == "unknown_fact" and rule.condition.value.text == "1"
    with pytest.raises(exportdsl.CheckError):
        exportdsl.compile("decisions a < b\nrule R { unknown_fact = 1 -> nowhere }\n")


def test_parse_keeps_comments():
    module = exportdsl.parse("# one\ndecisions a < b # two\n")
    assert [c.text for c in module.comments] == ["# one", "# two"]


def test_error_classes():
    assert issubclass(exportdsl.ParseError, exportdsl.Error)
    assert issubclass(exportdsl.CheckError, exportdsl.Error)
    assert issubclass(exportdsl.EvaluationError, exportdsl.Error)
    with pytest.raises(exportdsl.ParseError):
        exportdsl.compile("decisions a <")
    with pytest.raises(exportdsl.CheckError):
        exportdsl.compile("decisions a < b\ndefault c")


# ---- evaluation --------------------------------------------------------------------------------------

def test_decision_object(quickstart):
    facts = tx(origin="CN", export_from="CN", re_content="0.1%", end_use="military",
               end_user="Example Defense Corp.")
    result = quickstart.evaluate(facts)
    assert result.decision == "deny" and result.rules == ("Q1", "Q4")
    assert result.policy is quickstart and result.facts is facts
    assert result.to_json() == {"decision": "deny", "rules": ["Q1", "Q4"], "policy": result.policy.record()}
    assert json.loads(json.dumps(result.to_json())) == result.to_json()
    assert repr(result) == "Decision(decision='deny', rules=('Q1', 'Q4'))"
    assert result == quickstart.evaluate(facts)
    assert quickstart.decide(facts) == ("deny", ("Q1", "Q4"))


def test_default_decision(quickstart):
    result = quickstart.evaluate(tx())
    assert (result.decision, result.rules) == ("not_controlled", ())
    assert result.to_json() == {"decision": "not_controlled", "rules": [], "policy": result.policy.record()}


def test_evaluate_with_explain_uses_the_interpreter_and_agrees(quickstart):
    facts = tx(export_from="CN", elements=["Sm"], quantity_kg=1001, ship_date="2026-11-10")
    fast, slow = quickstart.evaluate(facts), quickstart.evaluate(facts, explain=True)
    assert (fast.decision, fast.rules) == (slow.decision, slow.rules) == ("license_required", ("Q2", "Q3"))


def test_evaluation_errors_fail_closed(quickstart):
    for evaluate in (quickstart.evaluate, quickstart.decide, quickstart.interpret, quickstart.explain,
                     lambda f: quickstart.evaluate(f, explain=True)):
        with pytest.raises(exportdsl.EvaluationError) as info:
            evaluate(tx(re_content=True, origin="cn", ship_date=None, colour="red"))
        codes = sorted(d.code for d in info.value.diagnostics)
        assert codes == ["E302", "E302", "E303", "E304"]
        text = str(info.value)
        for needle in ("re_content", "True", "origin", "'cn'", "ship_date", "colour"):
            assert needle in text


def test_evaluation_does_not_change_the_facts(quickstart):
    facts = tx(elements=("Sm", "Dy"), re_content=Decimal("0.1"), ship_date=datetime.date(2025, 5, 1))
    before = copy.deepcopy(facts)
    quickstart.evaluate(facts)
    quickstart.interpret(facts)
    quickstart.explain(facts)
    assert facts == before


def test_evaluate_many(quickstart):
    batch = [tx(), tx(origin="CN", re_content=5, end_use="wmd"),
             tx(export_from="CN", elements=["Dy"], ship_date="2025-04-04")]
    results = list(quickstart.evaluate_many(batch))
    assert [(r.decision, r.rules) for r in results] == [
        ("not_controlled", ()), ("deny", ("Q1",)), ("license_required", ("Q2",))]
    assert [r.facts for r in results] == batch
    assert results == [quickstart.evaluate(f) for f in batch]


def test_evaluate_many_is_lazy_and_stops_at_the_first_bad_transaction(quickstart):
    seen = []

    def stream():
        for facts in (tx(), tx(origin="XX"), tx()):
            seen.append(facts)
            yield facts

    results = quickstart.evaluate_many(stream())
    assert seen == []
    assert next(results).decision == "not_controlled"
    with pytest.raises(exportdsl.EvaluationError) as info:
        next(results)
    assert [d.code for d in info.value.diagnostics] == ["E303"]
    assert len(seen) == 2


# ---- immutability ---------------------------------------------------------------------------------------

def test_policy_is_immutable(quickstart):
    with pytest.raises(AttributeError):
        quickstart.name = "other"
    with pytest.raises(AttributeError):
        quickstart._ir = None
    with pytest.raises(AttributeError):
        quickstart.new_attribute = 1
    with pytest.raises(AttributeError):
        del quickstart._compiled
    assert isinstance(quickstart.facts, MappingProxyType)
    with pytest.raises(TypeError):
        quickstart.facts["x"] = quickstart.facts["origin"]
    assert isinstance(quickstart.rules, tuple) and isinstance(quickstart.decisions, tuple)
    with pytest.raises(Exception):
        quickstart.rules[0].id = "changed"
    assert quickstart.decide(tx(origin="CN", re_content=5, end_use="wmd")) == ("deny", ("Q1",))


def test_decision_is_immutable(quickstart):
    result = quickstart.evaluate(tx())
    with pytest.raises(AttributeError):
        result.decision = "deny"
    with pytest.raises(TypeError):
        result[0] = "deny"
    assert result.decision == "not_controlled"


def test_policy_ir_cannot_be_mutated():
    policy = exportdsl.compile("decisions a < b\nfact x: integer\nrule R { x = 1 -> b }\n")
    try:
        policy.ir.facts.pop("x")
    except (TypeError, AttributeError):
        pass
    assert policy.interpret({"x": 1}) == policy.decide({"x": 1}) == ("b", ("R",))


# ---- explanations -----------------------------------------------------------------------------------------

def test_explanation_of_a_deny(quickstart):
    facts = tx(ship_date="2025-05-01", origin="CN", export_from="CN", re_content=0.1, end_use="military",
               elements=["Sm"], end_user="X")
    text = quickstart.evaluate(facts).explain()
    assert text == quickstart.explain(facts)
    lines = text.splitlines()
    assert lines[0] == "decision: deny   (policy quickstart 2025-10)"
    assert lines[1] == "decided by: Q1"
    # Q1 applies and decides: its title and citation, and each condition with the fact's value.
    assert ('  ✓ Q1 "De minimis content for a defence end use" [MOFCOM 2025 No. 61 Art. 3 (simplified)] -> deny'
            in lines)
    assert any(re.fullmatch(r"\s+✓ origin = CN\s+\(origin is CN\)", line) for line in lines)
    assert any(re.fullmatch(r"\s+✓ re_content >= 0\.1%\s+\(re_content is 0\.1%\)", line) for line in lines)
    assert any(re.fullmatch(r"\s+✓ end_use in defense\s+\(end_use is military\)", line) for line in lines)
    # Q2 applies too but is outranked; Q3 does not apply because of the default quantity 0.
    q2 = next(line for line in lines if " Q2 " in line)
    assert q2.startswith("  ✓ Q2") and "[MOFCOM/GAC 2025 No. 18]" in q2 and "outranked" in q2
    assert any(re.fullmatch(r"\s+✓ ship_date >= 2025-04-04\s+\(ship_date is 2025-05-01\)", line) for line in lines)
    assert any(re.fullmatch(r"\s+✗ quantity_kg > 1000\s+\(quantity_kg is 0\)", line) for line in lines)
    assert any(line.startswith("  ✗ Q3") for line in lines)
    assert any(line.startswith("  ✗ Q4") and "[Unreliable Entity List (example)]" in line for line in lines)
    assert any(re.fullmatch(r'\s+✗ end_user = "Example Defense Corp\."\s+\(end_user is "X"\)', line)
               for line in lines)
    # Applying rules come before the others.
    assert text.index("Q1") < text.index("Q2") < text.index("Q3") < text.index("Q4")


def test_explanation_of_the_default(quickstart):
    text = quickstart.explain(tx())
    assert text.splitlines()[0].startswith("decision: not_controlled")
    assert "default" in text.splitlines()[1] and "not_controlled" in text.splitlines()[1]
    for rule_id in ("Q1", "Q2", "Q3", "Q4"):
        assert re.search(rf"^  ✗ {rule_id}\b", text, re.MULTILINE)
    assert "✓ Q" not in text


def test_explanation_shows_named_conditions_and_negations():
    policy = exportdsl.compile(
        'decisions a < b\nfact x: integer\nfact flag: bool\ncondition small = x < 3\n'
        'rule R { cite "Art. 9" small and not flag -> b }\n')
    text = policy.explain({"x": 2, "flag": False})
    assert "decided by: R" in text and "[Art. 9]" in text
    assert "small" in text
    assert re.search(r"✓ x < 3\s+\(x is 2\)", text)
    assert re.search(r"✗ flag\s+\(flag is false\)", text)


def test_explanation_validates_the_facts(quickstart):
    with pytest.raises(exportdsl.EvaluationError):
        quickstart.explain(tx(end_use="nope"))


# ---- JSON Schema ------------------------------------------------------------------------------------------

def _validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_schema_is_a_valid_draft_2020_12_schema(quickstart):
    schema = quickstart.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert list(schema["properties"]) == list(quickstart.facts)
    assert sorted(schema["required"]) == sorted(set(quickstart.facts) - {"quantity_kg"})
    assert schema["properties"]["quantity_kg"]["default"] == 0
    assert schema["properties"]["end_use"]["enum"] == list(quickstart.facts["end_use"].values)


def test_schema_accepts_valid_and_rejects_invalid_transactions(quickstart):
    validator = _validator(quickstart.json_schema())
    good = [tx(), tx(re_content="0.1%", elements=["Dy", "Nd"], quantity_kg=301.5, ship_date="2024-02-29"),
            tx(re_content=100, end_use="wmd", origin="XK")]
    for facts in good:
        quickstart.decide(facts)
        assert validator.is_valid(facts), list(validator.iter_errors(facts))
    bad = [tx(colour="red"), {k: v for k, v in tx().items() if k != "origin"}, tx(re_content=True),
           tx(re_content=100.5), tx(origin="UK"), tx(end_use="Civil"), tx(elements="Dy"), tx(elements=["Xx"]),
           tx(ship_date="2025-02-30"), tx(ship_date="2025-4-4"), tx(quantity_kg="5"), tx(end_user=None)]
    for facts in bad:
        with pytest.raises(exportdsl.EvaluationError):
            quickstart.decide(facts)
        assert not validator.is_valid(facts), facts


def _as_json(value):
    if isinstance(value, (datetime.date,)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_as_json(v) for v in value]
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


@settings(max_examples=150, deadline=None)
@given(policygen.policies(), st.data())
def test_schema_accepts_every_valid_transaction_of_generated_policies(spec, data):
    policy = exportdsl.compile(spec.text)
    schema = policy.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    facts = {k: _as_json(v) for k, v in data.draw(policygen.transactions(spec)).items()}
    policy.decide(facts)  # valid for the policy ...
    errors = list(_validator(schema).iter_errors(facts))
    assert not errors, (facts, [e.message for e in errors])  # ... so valid for its schema


# ---- threads ----------------------------------------------------------------------------------------------

def _random_transactions(count: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    elements = ["Sc", "Y", "La", "Nd", "Pr", "Sm", "Dy", "Tb", "Lu"]
    out = []
    for i in range(count):
        facts = {
            "ship_date": rng.choice(["2025-04-03", "2025-04-04", "2026-11-10", "2026-11-11", "2025-12-01"]),
            "origin": rng.choice(["CN", "JP", "US"]), "export_from": rng.choice(["CN", "CN", "HK"]),
            "re_content": rng.choice([0, 0.099, 0.1, "0.1%", Decimal("0.1"), 50, "100%"]),
            "end_use": rng.choice(["civil", "military", "wmd", "humanitarian"]),
            "elements": rng.sample(elements, rng.randint(0, 3)),
            "end_user": rng.choice(["Acme", "Example Defense Corp."]),
        }
        if rng.random() < 0.5:
            facts["quantity_kg"] = rng.choice([0, 1000, 1000.5, Decimal("5000")])
        if i % 17 == 0:  # some broken ones
            facts[rng.choice(["origin", "re_content", "ship_date"])] = rng.choice(["XX", 101, "2025-02-30"])
        out.append(facts)
    return out


def _outcome(policy, facts):
    try:
        return policy.decide(facts)
    except exportdsl.EvaluationError as exc:
        return tuple(d.code for d in exc.diagnostics)


def test_thread_safety_of_evaluation(quickstart):
    transactions = _random_transactions(3000)
    expected = [_outcome(quickstart, f) for f in transactions]
    decided = [e for e in expected if len(e) == 2 and isinstance(e[1], tuple)]
    assert len(set(decided)) >= 4 and len(decided) < len(expected)  # many decisions, and some errors
    barrier = threading.Barrier(8)

    def worker(seed):
        order = list(range(len(transactions)))
        random.Random(seed).shuffle(order)
        barrier.wait()
        return {i: _outcome(quickstart, transactions[i]) for i in order}

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    for result in results:
        assert [result[i] for i in range(len(transactions))] == expected


def test_thread_safety_of_compilation():
    """Parsing keeps per-thread state (the comments it collects): compile different texts at once."""
    def text(i):
        return f"# policy {i}\ndecisions a < b\nfact x: integer\nrule R{i} {{ x = {i} -> b }} # rule {i}\n"

    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        out = []
        for _ in range(20):
            policy = exportdsl.compile(text(i))
            out.append(([c.text for c in policy.ast.comments], policy.decide({"x": i})))
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        for i, results in enumerate(pool.map(worker, range(8))):
            for comments, decision in results:
                assert comments == [f"# policy {i}", f"# rule {i}"]
                assert decision == ("b", (f"R{i}",))


# ---- behaviour that was or is wrong ----------------------------------------------------------------------

def test_duplicate_rule_metadata_is_a_parse_error():
    with pytest.raises(exportdsl.ParseError) as info:
        exportdsl.compile('decisions a < b\nrule R { title "x" title "y" true -> b }\n')
    assert [d.code for d in info.value.diagnostics] == ["E100"]
    assert "title" in str(info.value)


@pytest.mark.parametrize("name", ["not", "and", "rule", "in"])
def test_keywords_cannot_name_a_fact(name):
    # The grammar reserves its keywords; a fact called `not` could be declared but never used.
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.compile(f"decisions a < b\nfact {name}: integer\n")
    assert "reserved" in str(info.value)


@pytest.mark.parametrize("declaration", ["fact p: percent = 150%", "fact p: percent = -1%",
                                         "fact n: integer = 2.5"])
def test_a_default_must_be_a_value_of_the_type(declaration):
    with pytest.raises(exportdsl.CheckError):
        exportdsl.compile(f"decisions a < b\n{declaration}\n")


@pytest.mark.parametrize("facts", [[], "", ()], ids=["list", "str", "tuple"])
def test_policy_without_facts_rejects_non_mappings(facts):
    policy = exportdsl.compile("decisions a < b\nrule R { true -> b }\n")
    with pytest.raises(exportdsl.EvaluationError) as info:
        policy.interpret(facts)
    assert [d.code for d in info.value.diagnostics] == ["E305"]
    with pytest.raises(exportdsl.EvaluationError) as info:
        policy.decide(facts)
    assert [d.code for d in info.value.diagnostics] == ["E305"]


def test_compiling_restores_the_garbage_collector_setting():
    import gc
    assert gc.isenabled()
    exportdsl.compile("decisions a < b\n")
    assert gc.isenabled()
    with pytest.raises(exportdsl.ParseError):
        exportdsl.compile("decisions ?")
    assert gc.isenabled()
    gc.disable()
    try:
        exportdsl.compile("decisions a < b\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
