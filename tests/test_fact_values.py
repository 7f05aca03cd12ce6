"""Fact values from strangers (issue 9): subclasses, odd mappings, huge numbers and strings, the
caller's mapping left unchanged; every input gives a decision or an EvaluationError and nothing
else, the same one from the interpreter and the compiled evaluator. Also: shared named conditions
are evaluated once per transaction (interpreter and explain), and explanations are terminal-safe."""

from __future__ import annotations

import collections
import datetime
import json
import types
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl import ir
from exportdsl.backends import interpreter
from exportdsl.cli import main
from exportdsl.errors import did_you_mean
from exportdsl.explain import explain
from exportdsl.operators import CompareOp
from exportdsl.semantics import MAX_FACT_KEYS, NumberText, validate_facts

POLICY = exportdsl.compile("""
decisions allow < review < deny
fact origin: country
fact n: integer
fact amount: number
fact share: percent
fact use: enum {civil, military}
fact day: date
fact who: string
fact tags: set of enum {a, b, c}
fact flag: bool
rule R1 { origin = CN and share >= 0.1% -> deny }
rule R2 { n > 10 or amount >= 1000.5 -> review }
rule R3 { use = military and tags contains any {a, b} and flag -> deny }
rule R4 { who = "Acme" and day >= 2025-01-01 -> review }
""")

GOOD = {"origin": "CN", "n": 3, "amount": Decimal("12.5"), "share": Decimal("0.1"), "use": "civil",
        "day": "2025-06-01", "who": "Acme", "tags": ["a"], "flag": False}


def outcome(run, facts):
    """``("ok", decision, rules)`` or ``("error", codes)``; any other exception fails the test."""
    try:
        decision, rules = run(facts)
    except exportdsl.EvaluationError as exc:
        assert exc.diagnostics
        return ("error", tuple(sorted(d.code for d in exc.diagnostics)))
    return ("ok", decision, rules)


def both(facts):
    interpreted = outcome(POLICY.interpret, facts)
    assert outcome(POLICY.decide, facts) == interpreted
    return interpreted


def error_codes(facts) -> list[str]:
    with pytest.raises(exportdsl.EvaluationError) as info:
        POLICY.interpret(facts)
    return [d.code for d in info.value.diagnostics]


# ---- subclasses are read as their exact base value ---------------------------------------------------

class LyingInt(int):
    def __int__(self):
        return 999

    def __index__(self):
        return 999

    def __repr__(self):
        raise RuntimeError("repr")

    def __gt__(self, other):
        return True


class WeirdFloat(float):
    def __repr__(self):
        return "not a number"

    def __str__(self):
        return "nope"


class LyingDecimal(Decimal):
    def __repr__(self):
        raise RuntimeError("repr")

    def is_finite(self):
        return True

    def as_tuple(self):
        raise RuntimeError("as_tuple")


class LyingStr(str):
    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __str__(self):
        return "CN"


class LyingList(list):
    def __iter__(self):
        raise RuntimeError("iter")


class LyingDate(datetime.date):
    def isoformat(self):
        return "not a date"


def test_subclass_values_decide_as_their_base_values():
    facts = {**GOOD, "n": LyingInt(11), "amount": WeirdFloat(1000.5), "share": LyingDecimal("0.1"),
             "origin": LyingStr("CN"), "use": LyingStr("military"), "tags": LyingList(["a"]),
             "day": LyingDate(2025, 6, 1), "who": LyingStr("Acme")}
    decision, rules = POLICY.interpret(facts)
    assert (decision, rules) == POLICY.interpret({**GOOD, "n": 11, "amount": Decimal("1000.5"), "use": "military",
                                                  "tags": ["a"], "day": "2025-06-01"})
    assert decision == "deny" and rules == ("R1",)
    POLICY.explain(facts)


class RaisingStr(str):
    def __hash__(self):
        raise ValueError("hash")

    def __eq__(self, other):
        raise ValueError("eq")


@pytest.mark.parametrize("fact", ["origin", "use", "who", "day", "share"])
def test_values_whose_own_methods_raise_are_read_as_base_values(fact):
    facts = {**GOOD, fact: RaisingStr({"share": "0.1%"}.get(fact, GOOD[fact]))}
    assert both(facts) == ("ok",) + POLICY.interpret({**GOOD, fact: str(facts[fact])})
    assert both({**GOOD, "tags": [RaisingStr("a")]}) == ("ok",) + POLICY.interpret(GOOD)


def test_subclass_values_outside_their_type_are_errors_not_crashes():
    assert error_codes({**GOOD, "origin": LyingStr("cn")}) == ["E303"]
    assert error_codes({**GOOD, "use": LyingStr("army")}) == ["E303"]
    assert error_codes({**GOOD, "share": LyingDecimal("NaN")}) == ["E303"]
    assert error_codes({**GOOD, "amount": WeirdFloat("inf")}) == ["E303"]
    assert error_codes({**GOOD, "n": WeirdFloat(1.5)}) == ["E302"]


class KeyStr(str):
    """A string that equals only itself and hashes apart: a dict keeps it next to the plain string."""

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


def test_string_subclass_keys_are_read_as_plain_strings_and_duplicates_are_e307():
    facts = {KeyStr(k): v for k, v in GOOD.items()}
    assert POLICY.interpret(facts) == POLICY.interpret(GOOD)
    twice = dict(GOOD)
    twice[KeyStr("origin")] = "US"  # a different dict key, the same fact
    assert error_codes(twice) == ["E307"]
    assert both(twice) == ("error", ("E307",))


# ---- odd mappings, and the caller's mapping is never changed ---------------------------------------------

def test_defaultdict_gains_no_key_and_missing_facts_are_errors():
    facts = collections.defaultdict(lambda: "CN", {k: v for k, v in GOOD.items() if k != "origin"})
    before = dict(facts)
    assert error_codes(facts) == ["E301"]
    with pytest.raises(exportdsl.EvaluationError):
        POLICY.explain(facts)
    with pytest.raises(exportdsl.EvaluationError):
        POLICY.evaluate(facts, explain=True)
    assert dict(facts) == before and "origin" not in facts


def test_read_only_mapping_is_accepted_and_unchanged():
    facts = types.MappingProxyType(dict(GOOD))
    assert POLICY.interpret(facts) == POLICY.interpret(GOOD)
    assert POLICY.evaluate(facts, explain=True).explain() == POLICY.explain(GOOD)
    assert dict(facts) == GOOD


class RaisingMapping(Mapping):
    def __init__(self, data, fail_on="items"):
        self.data, self.fail_on = data, fail_on

    def __getitem__(self, key):
        if self.fail_on == "getitem":
            raise ZeroDivisionError("getitem")
        return self.data[key]

    def __iter__(self):
        if self.fail_on == "iter":
            raise MemoryError("iter")
        return iter(self.data)

    def __len__(self):
        return len(self.data)


class EndlessMapping(Mapping):
    def __getitem__(self, key):
        return 1

    def __iter__(self):
        count = 0
        while True:
            count += 1
            yield f"k{count}"

    def __len__(self):
        return 10


@pytest.mark.parametrize("fail_on", ["getitem", "iter"])
def test_raising_mapping_is_e305(fail_on):
    assert both(RaisingMapping(GOOD, fail_on)) == ("error", ("E305",))


def test_endless_mapping_is_e305():
    assert both(EndlessMapping()) == ("error", ("E305",))


def test_many_unknown_keys_are_bounded():
    facts = {**GOOD, **{f"extra{i}": i for i in range(5000)}}
    codes = error_codes(facts)
    assert set(codes) == {"E304"} and len(codes) <= 21
    assert MAX_FACT_KEYS >= len(facts)


@pytest.mark.parametrize("key", [1, None, (1, 2), b"origin", 1.5])
def test_non_string_keys_are_unknown_facts(key):
    assert both({**GOOD, key: 1}) == ("error", ("E304",))


# ---- huge values: bounded before conversion, named, and echoed shortened -------------------------------

@pytest.mark.parametrize("fact, value", [
    ("n", 10 ** 5000), ("n", Decimal("1e1000000")), ("n", NumberText("1" * 5000)), ("amount", Decimal("1e-999999999")),
    ("share", Decimal("1e5000")), ("amount", Decimal("1e999999999")), ("n", -(10 ** 5000)),
    ("amount", Decimal("1." + "0" * 5000 + "1")),
], ids=["int-10e5000", "int-1e1000000", "text-5000-digits", "1e-999999999", "percent-1e5000", "1e999999999",
        "int-minus-10e5000", "5000-decimals"])
def test_huge_numbers_are_e303_naming_the_fact(fact, value):
    with pytest.raises(exportdsl.EvaluationError) as info:
        POLICY.interpret({**GOOD, fact: value})
    [diag] = info.value.diagnostics
    assert diag.code == "E303" and f"'{fact}'" in diag.message and len(diag.render()) < 400
    assert outcome(POLICY.decide, types.MappingProxyType({**GOOD, fact: value})) == ("error", ("E303",))


@pytest.mark.parametrize("fact, value", [("n", 10 ** 5000), ("amount", Decimal("1e999999999"))],
                         ids=["int-10e5000", "decimal-1e999999999"])
def test_compiled_evaluator_applies_the_number_bounds(fact, value):
    assert outcome(POLICY.decide, {**GOOD, fact: value}) == ("error", ("E303",))


def test_explain_of_a_huge_exponent_is_refused_quickly():
    with pytest.raises(exportdsl.EvaluationError):
        POLICY.explain({**GOOD, "amount": Decimal("1e999999999")})


def test_a_30_mb_unknown_value_is_echoed_shortened_without_suggestion():
    value = "military" + "x" * 30_000_000
    with pytest.raises(exportdsl.EvaluationError) as info:
        POLICY.interpret({**GOOD, "use": value, value: 1})
    text = str(info.value)
    assert len(text) < 2000 and "30000008 characters" in text and "did you mean" not in text


def test_did_you_mean_is_bounded_and_still_helps():
    assert did_you_mean("militray", ["civil", "military"]) == "did you mean 'military'?"
    assert did_you_mean("x" * 101, ["x" * 101]) is None
    assert did_you_mean("MILITARY", ["military"]) == "did you mean 'military'?"
    assert did_you_mean(3, ["3"]) is None


# ---- the property: any JSON-like value gives a decision or an EvaluationError, the same from both ------

# Numbers within the bounds of semantics (the compiled evaluator's handling of numbers beyond them is
# tested above); NumberText, floats and Decimals in integer facts go through validate_facts anyway.
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 400, 10 ** 400), st.floats(),
    st.decimals(allow_nan=True).filter(lambda d: not d.is_finite() or not d or -400 <= d.adjusted() <= 400
                                       and len(d.as_tuple().digits) <= 400),
    st.text(max_size=12),
    st.sampled_from(["CN", "cn", "civil", "military", "a", "2025-06-01", "2025-02-30", "0.1%", "101%", "Acme",
                     "", "1e5%"]),
    st.builds(NumberText, st.text("0123456789e.-", max_size=20)),
    st.builds(RaisingStr, st.sampled_from(["CN", "civil", "military", "a", "2025-06-01", "0.1%", "Acme", "x"])),
    st.builds(LyingStr, st.sampled_from(["CN", "cn", "military", "b"])),
    st.builds(WeirdFloat, st.floats()),
    st.builds(LyingInt, st.integers(-20, 20)),
)


def _containers(inner):
    return st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                     st.frozensets(st.sampled_from(["a", "b", "x"])),
                     st.dictionaries(st.text(max_size=5), inner, max_size=3))


# Values nested up to three levels (deeper nesting is the JSON reader's bound, tested with it).
json_values = st.one_of(json_scalars, _containers(st.one_of(json_scalars, _containers(json_scalars))))


@st.composite
def transactions(draw):
    facts = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(GOOD)), max_size=4, unique=True)):
        action = draw(st.integers(0, 3))
        if action == 0:
            del facts[name]
        else:
            facts[name] = draw(json_values)
    if draw(st.booleans()):
        facts[draw(st.text(max_size=8))] = draw(json_values)
    wrapper = draw(st.sampled_from(["dict", "proxy", "defaultdict", "ordered"]))
    if wrapper == "proxy":
        return types.MappingProxyType(facts)
    if wrapper == "defaultdict":
        return collections.defaultdict(lambda: "CN", facts)
    if wrapper == "ordered":
        return collections.OrderedDict(facts)
    return facts


@settings(max_examples=400, deadline=None)
@given(transactions())
def test_any_facts_give_a_decision_or_an_evaluation_error_and_both_backends_agree(facts):
    before = dict(facts)
    result = both(facts)
    assert dict(facts) == before
    if result[0] == "ok":
        assert POLICY.explain(facts).startswith(f"decision: {result[1]}")


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_a_transaction_that_is_no_mapping_is_e305(value):
    if isinstance(value, Mapping):
        return
    assert both(value) == ("error", ("E305",))


# ---- shared named conditions: at most once per transaction ---------------------------------------------

def _chain_policy(depth: int) -> ir.Policy:
    """A policy whose one rule is the top of a chain of named conditions, each using the previous twice."""
    base = exportdsl.compile("decisions allow < deny\nfact x: bool\nfact y: bool\nrule R { x -> deny }").ir
    cond: ir.Expr = ir.Named("c0", ir.Compare("x", CompareOp.EQ, True))
    y = ir.Compare("y", CompareOp.EQ, True)
    for level in range(1, depth + 1):
        cond = ir.Named(f"c{level}", ir.Or((ir.And((cond, y)), ir.And((ir.Not(cond), ir.Not(y))))))
    rule = base.rules[0].evolve(when=cond, condition=cond)
    return base.evolve(rules=(rule,))


def _reference(depth: int, x: bool, y: bool) -> bool:
    value = x
    for _ in range(depth):
        value = (value and y) or (not value and not y)
    return value


@pytest.mark.parametrize("x, y", [(True, True), (True, False), (False, True), (False, False)])
def test_named_conditions_are_evaluated_once_per_transaction(monkeypatch, x, y):
    calls = []
    real = interpreter.compare
    monkeypatch.setattr(interpreter, "compare", lambda *args: calls.append(args) or real(*args))
    depth = 60
    policy = _chain_policy(depth)
    decision, _ = interpreter.evaluate(policy, {"x": x, "y": y})
    assert decision == ("deny" if _reference(depth, x, y) else "allow")
    assert len(calls) <= 2 * depth + 2
    calls.clear()
    text = explain(policy, {"x": x, "y": y})
    assert len(calls) <= 2 * depth + 2
    assert text.count("(as above)") == depth and len(text.splitlines()) < 20 * depth


# ---- terminal safety ---------------------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07\u202e\r"


def test_explanations_and_diagnostics_show_control_characters_escaped(tmp_path, capsys):
    policy_path = tmp_path / "p.xpol"
    policy_path.write_text('decisions allow < deny\nfact who: string\n'
                           'rule R { title "t' + ESCAPES.replace("\r", "") + '" who = "Acme" -> deny }\n')
    facts = tmp_path / "f.jsonl"
    facts.write_text(json.dumps({"who": "Ac" + ESCAPES}) + "\n" + json.dumps({"who": 1, "x" + ESCAPES: 1}) + "\n")
    code = main(["explain", str(policy_path), "--facts", str(facts)])
    out, err = capsys.readouterr()
    assert code == 2
    for char in "\x1b\x07\u202e\r":
        assert char not in out and char not in err
    assert "\\x1b[2J" in out and "\\x1b" in err


def test_eval_json_errors_are_one_json_document_per_line(tmp_path, capsys):
    bad = tmp_path / "bad.xpol"
    bad.write_text("decisions a < b\nrule R { nope -> b }\n")
    facts = tmp_path / "f.json"
    facts.write_text(json.dumps(GOOD, default=str))
    for argv in (["eval", str(bad), "--facts", str(facts), "--format", "json"],
                 ["eval", str(tmp_path / "p.xpol"), "--facts", str(tmp_path / "none.json"), "--format", "json"]):
        assert main(argv) == 2
        out, _ = capsys.readouterr()
        lines = out.splitlines()
        assert len(lines) == 1, out
        assert json.loads(lines[0])["error"][0]["code"].startswith("E")


def test_policy_test_failures_show_control_characters_escaped(tmp_path, capsys):
    policy_path = tmp_path / "p.xpol"
    policy_path.write_text('decisions allow < deny\nfact who: string\nrule R { who = "Acme" -> deny }\n')
    suite = tmp_path / "t.yaml"
    suite.write_text(f'policy: "{policy_path}"\ntests:\n  - name: "evil \\e[2J\\u202e"\n'
                     '    facts: {who: "Acme\\e]0;x\\a"}\n    expect: deny\n')
    code = main(["test", str(suite), "--coverage"])
    out, err = capsys.readouterr()
    assert code == 1
    for char in "\x1b\x07\u202e":
        assert char not in out and char not in err
    assert "\\x1b[2J" in out


def test_evaluate_many_can_go_on_past_bad_transactions():
    rows = [GOOD, {**GOOD, "origin": "cn"}, types.MappingProxyType({**GOOD, "n": 11, "origin": "US"})]
    results = list(POLICY.evaluate_many(rows, stop_at_error=False))
    assert results[0].decision == "deny" and results[2].decision == "review"
    assert isinstance(results[1], exportdsl.EvaluationError)
    assert [d.code for d in results[1].diagnostics] == ["E303"]
    with pytest.raises(exportdsl.EvaluationError):
        list(POLICY.evaluate_many(rows))
