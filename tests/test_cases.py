"""The data-driven corpus: every case in tests/cases/**/*.yaml, on every backend.

A case file holds one or more YAML documents (``---``). Each document is a policy, given inline
(``policy: |``) or as ``policy_file:`` (relative to the repository root), and then either

* ``cases:``, a list of ``{name, facts, expect: {decision, rules}}`` or
  ``{name, facts, error: E3xx | [codes...], mentions: [text...]}``, or
* ``error: E2xx | [codes...]`` for a policy that must not compile, with optional ``at: "line:col"``
  (or a list, one per code) and ``mentions: [text...]`` that the rendered error must contain.

A case or a policy document may carry ``xfail: "BUG: ..."`` (for a case, also a mapping from backend
name to reason) for a known bug in src/: the test is then a strict xfail.

An ``error`` code list is the exact multiset of the diagnostics' codes (for a policy: in order).
Each valid case runs on the compiled evaluator (``Policy.evaluate``), the reference interpreter
(``Policy.interpret``) and ``evaluate(explain=True)`` (whose ``explain()`` text is checked too).
"""

from __future__ import annotations

import functools
import re

import pytest

import exportdsl
from _support import CASES_DIR, codes_of, load_documents, policy_text

# ---- collection ---------------------------------------------------------------------------------

CASE_FILES = sorted(CASES_DIR.rglob("*.yaml"))


def _collect():
    documents, cases, policy_errors = [], [], []
    for path in CASE_FILES:
        rel = path.relative_to(CASES_DIR).with_suffix("").as_posix()
        for index, doc in enumerate(load_documents(path)):
            label = f"{rel}#{doc.get('name', index)}"
            documents.append((label, doc))
            if "cases" in doc:
                assert "error" not in doc, f"{label}: a document has cases or a policy error, not both"
                for number, case in enumerate(doc["cases"]):
                    cases.append(pytest.param(doc, case, id=f"{label}/{case.get('name', number)}"))
            else:
                assert "error" in doc, f"{label}: a document needs 'cases' or 'error'"
                policy_errors.append(pytest.param(doc, id=label))
    return documents, cases, policy_errors


DOCUMENTS, CASES, POLICY_ERRORS = _collect()


@functools.lru_cache(maxsize=None)
def _compile(text: str, name: str) -> exportdsl.Policy:
    return exportdsl.compile(text, name)


def _policy(doc) -> exportdsl.Policy:
    return _compile(*policy_text(doc))


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ---- backends -----------------------------------------------------------------------------------

def _run_evaluate(policy, facts):
    decision = policy.evaluate(facts)
    assert decision.to_json() == {"decision": decision.decision, "rules": list(decision.rules),
                                  "policy": policy.record()}
    return decision.decision, tuple(decision.rules)


def _run_interpret(policy, facts):
    decision, rules = policy.interpret(facts)
    return decision, tuple(rules)


def _run_explain(policy, facts):
    result = policy.evaluate(facts, explain=True)
    text = result.explain()
    lines = text.splitlines()
    # The explanation must tell the same story as the decision it explains.
    assert lines[0].split()[:2] == ["decision:", result.decision], text
    if result.rules:
        assert lines[1] == "decided by: " + ", ".join(result.rules), text
        for rule_id in result.rules:
            assert re.search(rf"^  ✓ {re.escape(rule_id)}\b", text, re.MULTILINE), text
    else:
        assert lines[1].startswith("no rule applies"), text
    return result.decision, tuple(result.rules)


BACKENDS = {"compiled": _run_evaluate, "interpreter": _run_interpret, "explain": _run_explain}


# ---- the cases ------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("doc, case", CASES)
def test_case(doc, case, backend, request):
    xfail = case.get("xfail")
    if isinstance(xfail, dict):
        xfail = xfail.get(backend)
    if xfail:
        request.applymarker(pytest.mark.xfail(strict=True, reason=xfail))
    policy = _policy(doc)
    run = BACKENDS[backend]
    facts = case["facts"]
    if "expect" in case:
        expected = case["expect"]
        got = run(policy, facts)
        assert got == (expected["decision"], tuple(expected.get("rules", ()))), case.get("name")
        assert got[0] in policy.decisions
        return
    with pytest.raises(exportdsl.EvaluationError) as info:
        run(policy, facts)
    assert sorted(codes_of(info.value)) == sorted(_as_list(case["error"]))
    text = str(info.value)
    for needle in case.get("mentions", ()):
        assert str(needle) in text, f"{needle!r} not in the error:\n{text}"


@pytest.mark.parametrize("doc", POLICY_ERRORS)
def test_policy_error(doc, request):
    text, name = policy_text(doc)
    expected = _as_list(doc["error"])
    if "xfail" in doc:
        request.applymarker(pytest.mark.xfail(strict=True, reason=doc["xfail"]))
    if all(code.startswith("E1") for code in expected):
        # Syntax errors come from the parser already, and compile reports the same ones; only a
        # malformed literal (E105, e.g. a date that is no calendar date) may be found by the checker.
        try:
            exportdsl.parse(text, name)
        except exportdsl.ParseError as exc:
            parse_codes = codes_of(exc)
            with pytest.raises(exportdsl.ParseError) as info:
                exportdsl.compile(text, name)
            assert codes_of(info.value) == parse_codes
        else:
            assert set(expected) == {"E105"}, "the parser accepted a policy with a syntax error"
            with pytest.raises(exportdsl.CheckError) as info:
                exportdsl.compile(text, name)
    else:
        exportdsl.parse(text, name)  # well-formed: the problem is for the checker to find
        with pytest.raises(exportdsl.CheckError) as info:
            exportdsl.compile(text, name)
    exc = info.value
    assert codes_of(exc) == expected, str(exc)
    if "at" in doc:
        where = [(d.span.line, d.span.column) if d.span else None for d in exc.diagnostics]
        wanted = [tuple(int(p) for p in at.split(":")) for at in _as_list(doc["at"])]
        assert where[: len(wanted)] == wanted, str(exc)
    rendered = str(exc)
    for needle in doc.get("mentions", ()):
        assert str(needle) in rendered, f"{needle!r} not in the error:\n{rendered}"


# ---- the corpus itself ------------------------------------------------------------------------------

def test_corpus_is_not_empty():
    assert len(CASES) >= 150 and len(POLICY_ERRORS) >= 25


def test_every_fact_error_names_something():
    """Errors on E301-E304 cases must say which fact (and value) is wrong, so each lists mentions."""
    for param in CASES:
        doc, case = param.values
        if "error" in case and set(_as_list(case["error"])) & {"E301", "E302", "E303", "E304"}:
            assert case.get("mentions"), f"{param.id}: add the fact name and the value to 'mentions'"


REQUIRED_CODES = {
    "E100", "E101", "E105", "E201", "E202", "E203", "E204", "E205", "E206", "E207", "E209", "E210", "E211",
    "E301", "E302", "E303", "E304", "E305",
}


def test_corpus_covers_every_required_code():
    seen = set()
    for param in CASES:
        seen.update(_as_list(param.values[1].get("error", [])))
    for param in POLICY_ERRORS:
        seen.update(_as_list(param.values[0]["error"]))
    assert REQUIRED_CODES <= seen, sorted(REQUIRED_CODES - seen)


OPERATOR_PATTERNS = {
    "=": r"\w = ", "!=": r" != ", "<": r" < (?!\w+ <)", "<=": r" <= ", ">": r" > ", ">=": r" >= ",
    "in": r"\w in [{\w]", "not in": r" not in ", "contains": r" contains (?!any|all)",
    "contains any": r" contains any ", "contains all": r" contains all ", "is empty": r" is empty\b",
    "is not empty": r" is not empty\b", "and": r" and ", "or": r" or ", "not": r"\{ not |\(not |and not ",
    "parentheses": r"\(\w", "named set": r"^set \w+ =", "named condition": r"^condition \w+ =",
    "true": r"\btrue\b", "false": r"\bfalse\b", "effective": r"\beffective \d", "until": r"\buntil \d",
    "bool type": r": bool\b", "integer type": r": integer\b", "number type": r": number\b",
    "percent type": r": percent\b", "date type": r": date\b", "country type": r": country\b",
    "string type": r": string\b", "enum type": r": enum \{", "set of enum": r": set of enum\b",
    "set of string": r": set of string\b", "set of country": r": set of country\b", "default": r"^fact .+ = ",
}


def test_corpus_uses_every_operator_and_type():
    texts = [policy_text(doc)[0] for label, doc in DOCUMENTS if "cases" in doc]
    missing = [name for name, pattern in OPERATOR_PATTERNS.items()
               if not any(re.search(pattern, text, re.MULTILINE) for text in texts)]
    assert not missing
