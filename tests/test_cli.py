"""The command line: exit codes, output formats, fail-closed errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exportdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "policies" / "quickstart.xpol")

SHIPMENT = {"ship_date": "2025-12-01", "origin": "CN", "export_from": "JP", "re_content": 0.1,
            "end_use": "military", "elements": ["Nd"], "end_user": "Acme"}


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_clean_policy(capsys):
    code, out, err = run(["check", QUICKSTART], capsys)
    assert code == 0
    assert "ok" in out and err == ""


def test_check_reports_several_errors_with_location(tmp_path, capsys):
    bad = write(tmp_path, "bad.xpol", "decisions a < b\nfact origin: country\n"
                "rule R1 { origin >= 0.1% -> b }\nrule R2 { orign = CN -> c }\n")
    code, out, err = run(["check", bad], capsys)
    assert code == 2
    assert f"{bad}:3:11: error[E204]" in err
    assert f"{bad}:4:11: error[E201]: unknown fact 'orign'" in err
    assert "did you mean 'origin'?" in err
    assert f"{bad}:4:25: error[E205]" in err
    assert "^" in err and "Traceback" not in err


def test_check_json_format(tmp_path, capsys):
    bad = write(tmp_path, "bad.xpol", "decisions a < b\nfact x: enum {p, q}\nrule R { x = r -> b }\n")
    code, out, _ = run(["check", "--format", "json", bad], capsys)
    assert code == 2
    diagnostics = json.loads(out)
    assert [(d["code"], d["line"], d["column"]) for d in diagnostics] == [("E203", 3, 14)]


@pytest.mark.parametrize("re_content, expected", [(0.1, "deny"), ("0.1%", "deny"), (0.099, "not_controlled")])
def test_eval_design_card(tmp_path, capsys, re_content, expected):
    facts = write(tmp_path, "f.json", json.dumps({**SHIPMENT, "re_content": re_content}))
    code, out, _ = run(["eval", QUICKSTART, "--facts", facts, "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["decision"] == expected


def test_eval_jsonl_one_line_per_transaction_in_order(tmp_path, capsys):
    lines = [{**SHIPMENT, "re_content": v} for v in (0.1, 0.099, 5)]
    facts = write(tmp_path, "f.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    code, out, _ = run(["eval", QUICKSTART, "--facts", facts, "--format", "json"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["line"], r["decision"], r["rules"]) for r in rows] == [
        (1, "deny", ["Q1"]), (2, "not_controlled", []), (3, "deny", ["Q1"])]


def test_eval_reads_stdin(monkeypatch, capsys):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(SHIPMENT)))
    code, out, _ = run(["eval", QUICKSTART, "--facts", "-"], capsys)
    assert code == 0 and out.startswith("deny")


def test_eval_explain_json(tmp_path, capsys):
    facts = write(tmp_path, "f.json", json.dumps(SHIPMENT))
    code, out, _ = run(["eval", QUICKSTART, "--facts", facts, "--format", "json", "--explain"], capsys)
    assert code == 0
    data = json.loads(out)
    assert "re_content >= 0.1%" in data["explanation"] and "MOFCOM" in data["explanation"]


def test_explain_command(tmp_path, capsys):
    facts = write(tmp_path, "f.json", json.dumps(SHIPMENT))
    code, out, _ = run(["explain", QUICKSTART, "--facts", facts], capsys)
    assert code == 0
    assert "decided by: Q1" in out and "✓ end_use in defense" in out


def test_schema_command_validates_shipments(capsys):
    import jsonschema
    code, out, _ = run(["schema", QUICKSTART], capsys)
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(SHIPMENT, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**SHIPMENT, "end_use": "defence"}, schema)


# Acceptance 4 of issue 2: each error exits 2, names what is wrong, prints no decision and no traceback.
BAD_FACTS = [
    ({k: v for k, v in SHIPMENT.items() if k != "origin"}, ["E301", "origin"]),
    ({**SHIPMENT, "end_use": "defence"}, ["E303", "end_use", "'defence'"]),
    ({**SHIPMENT, "ship_date": "2025-02-30"}, ["E303", "ship_date", "'2025-02-30'"]),
    ({**SHIPMENT, "re_content": True}, ["E302", "re_content", "True"]),
    ({**SHIPMENT, "orign": "CN"}, ["E304", "orign", "did you mean 'origin'"]),
]


@pytest.mark.parametrize("facts, needles", BAD_FACTS)
def test_bad_facts_exit_2_without_decision(tmp_path, facts, needles):
    path = write(tmp_path, "f.json", json.dumps(facts))
    proc = subprocess.run([sys.executable, "-m", "exportdsl", "eval", QUICKSTART, "--facts", path],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    for needle in needles:
        assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_exit_2_with_location(tmp_path):
    bad = write(tmp_path, "bad.xpol", "decisions a < b\nfact x: bool\nrule R { x and -> b }\n")
    facts = write(tmp_path, "f.json", '{"x": true}')
    proc = subprocess.run([sys.executable, "-m", "exportdsl", "eval", bad, "--facts", facts],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{bad}:3:16: error[E100]: unexpected '->'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_jsonl_bad_line_is_reported_and_others_decided(tmp_path, capsys):
    facts = write(tmp_path, "f.jsonl", json.dumps(SHIPMENT) + "\n{not json\n"
                  + json.dumps({**SHIPMENT, "origin": "XX"}) + "\n")
    code, out, _ = run(["eval", QUICKSTART, "--facts", facts, "--format", "json"], capsys)
    assert code == 2
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["decision"] == "deny"
    assert rows[1]["line"] == 2 and rows[1]["error"][0]["code"] == "E305"
    assert rows[2]["line"] == 3 and rows[2]["error"][0]["code"] == "E303" and "decision" not in rows[2]


@pytest.mark.parametrize("argv", [[], ["eval", QUICKSTART], ["nonsense"], ["check"]])
def test_usage_errors_exit_2(argv, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2
    assert "Traceback" not in err


def test_missing_files_exit_2(tmp_path, capsys):
    code, _, err = run(["check", str(tmp_path / "none.xpol")], capsys)
    assert code == 2 and "E104" in err
    code, _, err = run(["eval", QUICKSTART, "--facts", str(tmp_path / "none.json")], capsys)
    assert code == 2 and "E401" in err


def test_policy_tests_exit_1_on_failure_and_show_explanation(tmp_path, capsys):
    suite = write(tmp_path, "t.yaml", f"""
policy: {QUICKSTART}
defaults: {json.dumps(SHIPMENT)}
tests:
  - name: design card
    facts: {{}}
    expect: deny
    rules: [Q1]
  - name: deliberately wrong
    facts: {{re_content: 0.099}}
    expect: deny
  - name: Norway is a country, not a boolean
    facts: {{origin: NO}}
    expect: not_controlled
""")
    code, out, _ = run(["test", suite], capsys)
    assert code == 1
    assert "FAIL" in out and "deliberately wrong" in out
    assert "expected: deny" in out and "actual:   not_controlled" in out
    assert "re_content >= 0.1%" in out  # the explanation
    assert "2 passed, 1 failed" in out


def test_policy_tests_coverage(tmp_path, capsys):
    suite = write(tmp_path, "t.yaml", f"""
policy: {QUICKSTART}
defaults: {json.dumps(SHIPMENT)}
tests:
  - name: design card
    facts: {{}}
    expect: deny
""")
    code, out, _ = run(["test", "--coverage", suite], capsys)
    assert code == 0
    assert "25% of 4 rules" in out and "not exercised: Q2, Q3, Q4" in out
