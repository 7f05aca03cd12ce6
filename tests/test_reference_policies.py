"""The reference policies against the worked examples of ../shared/domain, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import exportdsl
from exportdsl import ast
from exportdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
EXAMPLES = ROOT.parent / "shared" / "domain" / "examples.jsonl"
VERSIONS = {"2025-04": "cn-rare-earths-2025-04.xpol", "2025-10": "cn-rare-earths-2025-10.xpol",
            "2025-11": "cn-rare-earths-2025-11.xpol"}


def _examples() -> list[dict]:
    if not EXAMPLES.exists():
        pytest.skip(f"{EXAMPLES} is not beside the repository")
    return [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_cli_eval_reproduces_the_worked_examples(version, tmp_path, capsys):
    examples = _examples()
    facts = tmp_path / "examples.jsonl"
    facts.write_text("".join(json.dumps(e["facts"]) + "\n" for e in examples), encoding="utf-8")
    code = main(["eval", str(POLICIES / VERSIONS[version]), "--facts", str(facts), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(e["id"], r["decision"]) for e, r in zip(examples, rows)] == \
           [(e["id"], e["expect"][version]) for e in examples]


def test_every_example_names_every_version():
    for example in _examples():
        assert set(example["expect"]) == set(VERSIONS), example["id"]


def test_november_adds_only_a_suspension():
    """The November version builds on October without copying any rule or condition."""
    text = (POLICIES / VERSIONS["2025-11"]).read_text(encoding="utf-8")
    own = exportdsl.parse(text).decls
    kinds = {type(d) for d in own}
    assert kinds <= {ast.ExtendsDecl, ast.PolicyDecl, ast.SuspensionDecl}
    november = exportdsl.load(POLICIES / VERSIONS["2025-11"])
    october = exportdsl.load(POLICIES / VERSIONS["2025-10"])
    assert [r.id for r in november.rules] == [r.id for r in october.rules]
    (suspension,) = november.ir.suspensions.values()
    assert (suspension.effective, suspension.until) == ("2025-11-07", "2026-11-10")
    assert suspension.rules == tuple(f"O{i}" for i in range(1, 13))


def test_policy_tests_pass_with_full_coverage(capsys):
    code = main(["test", "--coverage", str(POLICIES)])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in [*VERSIONS.values(), "us-ear-de-minimis.xpol", "quickstart.xpol"]:
        assert f"{name}: 100% of" in out
    assert " 0 failed" in out


def test_us_de_minimis_states_strictly_greater():
    """The US rule compares with > where China's de minimis rule compares with >=."""
    from exportdsl import ir
    from exportdsl.operators import CompareOp

    def comparisons(expr, fact):
        stack, found = [expr], []
        while stack:
            node = stack.pop()
            if isinstance(node, ir.Compare) and node.fact == fact:
                found.append(node.op)
            stack.extend(getattr(node, "operands", ()))
            stack.extend(x for x in (getattr(node, "operand", None), getattr(node, "body", None)) if x is not None)
        return found

    us = exportdsl.load(POLICIES / "us-ear-de-minimis.xpol")
    assert {op for r in us.rules for op in comparisons(r.when, "us_content")} == {CompareOp.GT}
    october = exportdsl.load(POLICIES / VERSIONS["2025-10"])
    assert comparisons(october.ir.rule("O7").when, "re_content") == [CompareOp.GE]
    subject = {"destination_group": "A", "us_content": 25}
    assert us.decide(subject) == ("not_subject", ())
    assert us.decide({**subject, "us_content": "25.01%"}) == ("subject_to_ear", ("US1",))
