"""The compiled evaluator against the reference interpreter on hostile and boundary inputs.

Mappings that invent values, subclasses of the built-in value types, shared named conditions (a DAG
in the IR), floats one ulp either side of decimal thresholds, and the float cuts that replace Decimal
comparisons (checked against Decimal arithmetic).
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


import exportdsl
import policygen
from exportdsl import ir
from exportdsl.backends import interpreter
from exportdsl.backends.python import compile_policy
from exportdsl.backends.float_cuts import float_cut, float_value, shortest_decimal
from exportdsl.operators import CompareOp

POLICY_TEXT = """
decisions not_controlled < license_required < deny
fact origin: country
fact re_content: percent
fact weight: number = 0.5
fact layers: integer = 0
fact tags: set of enum {a, b, c} = {}
rule R1 { origin = CN and re_content >= 0.1% -> license_required }
rule R2 { weight > 0.3 and layers >= 256 -> deny }
rule R3 { tags contains a and weight <= 0.1 -> deny }
"""
POLICY = exportdsl.compile(POLICY_TEXT)

GOOD = {"origin": "CN", "re_content": 0.1}


def outcome(call, facts):
    """The decision, or the error class and its codes, or the foreign exception's type."""
    try:
        return ("decided", tuple(call(facts)))
    except exportdsl.EvaluationError as exc:
        return ("error", tuple(sorted(d.code for d in exc.diagnostics)), str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded so that both backends are compared on it
        return ("raised", type(exc).__name__)


def agree(policy, facts):
    compiled = outcome(policy.decide, facts)
    assert compiled == outcome(policy.interpret, facts), facts
    assert compiled[0] != "raised" or compiled[1] != "AssertionError"
    if compiled[0] == "decided":
        assert policy.decision(facts) == compiled[1][0]
        assert tuple(policy.evaluate(facts)[:2]) == compiled[1]
    return compiled


# ---- mappings ------------------------------------------------------------------------------------

def test_a_defaultdict_does_not_invent_a_missing_fact():
    facts = collections.defaultdict(int, {"origin": "CN"})
    got = agree(POLICY, facts)
    assert got[:2] == ("error", ("E301",))
    assert dict(facts) == {"origin": "CN"}          # not modified: no key was added


class _Inventing(dict):
    def __getitem__(self, key):
        return dict.get(self, key, 0)

    def __contains__(self, key):
        return True

    def get(self, key, default=None):
        return dict.get(self, key, 0)


class _ReadOnly(Mapping):
    def __init__(self, data):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


@pytest.mark.parametrize("wrap", [_Inventing, MappingProxyType, _ReadOnly, collections.OrderedDict,
                                  lambda d: collections.ChainMap(d), lambda d: collections.Counter(d)])
@pytest.mark.parametrize("facts", [GOOD, {"origin": "CN"}, {**GOOD, "layers": 300, "weight": 1},
                                   {**GOOD, "extra": 1}, {**GOOD, "origin": "cn"}])
def test_any_mapping_gives_the_interpreters_answer(wrap, facts):
    agree(POLICY, wrap(dict(facts)))


class LyingKey(str):
    """A key that hashes and compares like every declared name it is asked about."""

    def __init__(self, value):
        self.like = "re_content"

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return hash(self.like)


@pytest.mark.parametrize("key_sizes", [True, False])
def test_a_key_that_lies_is_read_as_its_base_value(monkeypatch, key_sizes):
    """A str-subclass key found by the lookup of a declared name is an unknown fact, as the reference
    reads it: the fast path checks that every key is an exact str (by the dict's size, or one by one)."""
    from exportdsl.backends import fact_checks
    if not key_sizes:
        monkeypatch.setattr(fact_checks, "KEY_SIZES_UP_TO", 0)
    policy = exportdsl.compile(POLICY_TEXT)
    facts = {"origin": "CN", LyingKey("zzz"): 50}
    got = agree(policy, facts)
    assert got[:2] == ("error", ("E301", "E304"))
    assert ("for k in facts:" in policy.generated_source) is not key_sizes
    other = {"origin": "CN", "re_content": 50, 7: 1}
    assert agree(policy, other)[:2] == ("error", ("E304",))


def test_exact_str_key_sizes_tell_a_dict_with_another_key():
    import json
    from exportdsl.backends.fact_checks import exact_str_key_sizes
    sizes = exact_str_key_sizes()
    if sizes is None:
        pytest.skip("the dict sizes do not tell on this interpreter")
    for n in (0, 1, 2, 5, 6, 17, 22, 43, 100, 1000):
        names = [f"fact_{i}" for i in range(n)]
        exact = [dict.fromkeys(names), json.loads(json.dumps(dict.fromkeys(names))),
                 {name: 0 for name in names}, dict(zip(names, names))]
        for built in exact:
            assert built.__sizeof__() in sizes, n
        if n:
            for odd in (LyingKey(names[0]), Str(names[0]), 1, None):
                other = {odd: 0, **dict.fromkeys(names[1:])}
                assert other.__sizeof__() not in sizes, (n, odd)
                assert dict(other).__sizeof__() not in sizes, (n, odd)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=60, unique=True), st.integers(0, 3), st.integers(0, 4), st.data())
def test_the_key_check_passes_exact_str_keys_only(names, build, removed, data):
    """Whatever way a dict is built and changed, its size passes the fast path's key check exactly when
    every key is an exact str (or it is refused, which only costs the slow way: never the reverse)."""
    from exportdsl.backends.fact_checks import exact_str_key_sizes
    sizes = exact_str_key_sizes()
    if sizes is None:
        pytest.skip("the dict sizes do not tell on this interpreter")
    odd = data.draw(st.sampled_from([None, 1, 2.5, ("t",), LyingKey("x"), Str("y")]), label="odd key") \
        if names and data.draw(st.booleans(), label="with an odd key") else None
    keys = list(names) if odd is None else [*names[:-1], odd]
    built = [dict.fromkeys(keys), {key: 0 for key in keys}, dict(zip(keys, keys)),
             dict.fromkeys(keys).copy()][build]
    for key in keys[:removed]:
        if key is not odd:
            del built[key]
    all_exact = all(type(key) is str for key in built)
    if built.__sizeof__() in sizes:
        assert all_exact, keys
    if odd is None:
        assert built.__sizeof__() in sizes or removed, keys


def test_a_plain_dict_is_never_changed():
    facts = {"origin": "CN", "re_content": 0.1, "tags": ["a"]}
    before = repr(facts)
    POLICY.decide(facts)
    POLICY.decision(facts)
    POLICY.evaluate(facts)
    assert repr(facts) == before


# ---- subclasses of the value types ----------------------------------------------------------------

class Int(int):
    pass


class Str(str):
    pass


class LyingStr(str):
    def __eq__(self, other):
        return True

    def __hash__(self):
        return hash("CN")


class Dec(Decimal):
    pass


class Flt(float):
    pass


class WeirdFlt(float):
    def __repr__(self):
        return "not a number"


class DisguisedStr(str):
    """Says its class is ``str`` (``x.__class__ is str`` holds) and equals every string."""
    __class__ = property(lambda self: str)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return hash("CN")


class DisguisedFlt(float):
    __class__ = property(lambda self: float)

    def __ge__(self, other):
        return True

    def __le__(self, other):
        return True

    def __gt__(self, other):
        return True

    def __lt__(self, other):
        return False


class DisguisedInt(int):
    __class__ = property(lambda self: int)

    def __ge__(self, other):
        return True

    def __gt__(self, other):
        return True


class DisguisedList(list):
    """Says it is a ``list`` and iterates over other elements than it holds."""
    __class__ = property(lambda self: list)

    def __iter__(self):
        return iter(["a"])


class DisguisedDict(dict):
    """Says it is a ``dict`` and answers other values than it holds."""
    __class__ = property(lambda self: dict)

    def __getitem__(self, key):
        return {"origin": "CN", "re_content": 50}.get(key) or dict.__getitem__(self, key)


SUBCLASSED = [
    {"origin": DisguisedStr("US"), "re_content": 0.1},
    {"origin": "CN", "re_content": DisguisedFlt(0.0)},
    {"origin": "CN", "re_content": 0.0, "layers": DisguisedInt(0), "weight": 1.0},
    {"origin": "CN", "re_content": 0.1, "tags": DisguisedList(["b"]), "weight": 0.05},
    {"origin": "CN", "re_content": 0.1, "tags": [DisguisedStr("zz")]},
    DisguisedDict({"origin": "US", "re_content": 0}),
    {"origin": "CN", "re_content": Int(1)},
    {"origin": Str("CN"), "re_content": 0.1},
    {"origin": LyingStr("US"), "re_content": 0.1},
    {"origin": "CN", "re_content": Dec("0.1")},
    {"origin": "CN", "re_content": Flt(0.1)},
    {"origin": "CN", "re_content": WeirdFlt(0.1)},
    {"origin": "CN", "re_content": 0.1, "layers": Int(300), "weight": Flt(1.0)},
    {"origin": "CN", "re_content": 0.1, "tags": [Str("a")]},
    {"origin": "CN", "re_content": 0.1, "tags": [LyingStr("zz")]},
    {"origin": "CN", "re_content": 0.1, "weight": True},
]


@pytest.mark.parametrize("facts", SUBCLASSED, ids=range(len(SUBCLASSED)))
def test_subclassed_values_go_through_validation(facts):
    agree(POLICY, facts)


def test_valid_facts_and_defaults_are_decided_without_the_validator(monkeypatch):
    """The fast path decides a valid transaction itself, defaults included (an optional set fact left
    out once sent every transaction to the reference validator); a bad one goes to the validator."""
    from exportdsl.backends import python as backend
    calls = []
    validate = backend.validate_facts
    monkeypatch.setattr(backend, "validate_facts", lambda *args: calls.append(args) or validate(*args))
    for facts in (GOOD, {**GOOD, "tags": ["a"], "weight": 0.05}, {**GOOD, "layers": 300, "weight": 2}):
        agree(POLICY, facts)
    assert calls == []
    agree(POLICY, {**GOOD, "tags": ["zz"]})
    assert calls


# ---- numbers at decimal boundaries -----------------------------------------------------------------

#: Number values at the edges of the compiled evaluator's fast checks and of validation's bounds (at most
#: 400 digits, magnitude 1e-400 .. 1e401): long coefficients kept inside and outside the Decimal object,
#: tiny and huge magnitudes, specials, ints beyond the fast range, every finite float's extremes.
EDGE_NUMBERS = [
    Decimal("9" * 76), Decimal("9" * 77), Decimal("1." + "0" * 75), Decimal("1." + "0" * 399),
    Decimal("1." + "0" * 400), Decimal(10**80), Decimal("1e-30"), Decimal("1e-31"), Decimal("-1e-31"),
    Decimal("1e30"), Decimal("1e31"), Decimal("-1e31"), Decimal("1e-400"), Decimal("1e-401"), Decimal("1e400"),
    Decimal("1e401"), Decimal("-0"), Decimal("0e-500"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"),
    Decimal("99.99"), Decimal("100.0"), Decimal("100.000000000000000000000000000001"), Decimal("-0.0"),
    10**18 - 1, 10**18, -10**18, 10**400, 10**401, 2**30 - 2, 2**30 - 1, 2**30, -(2**30 - 2), -(2**30 - 1), -2**30, 5e-324, -5e-324, 1.7976931348623157e308, 1e-320,
    float("inf"), float("nan"), -0.0, 100.0, 100.00000000000001, 0.0,
]


@pytest.mark.parametrize("value", EDGE_NUMBERS, ids=range(len(EDGE_NUMBERS)))
@pytest.mark.parametrize("fact", ["re_content", "weight", "layers"])
def test_numbers_at_the_edges_of_the_fast_checks(fact, value):
    agree(POLICY, {**GOOD, fact: value})


def _ulps(x: float, n: int = 2):
    out, below, above = [x], x, x
    for _ in range(n):
        below, above = math.nextafter(below, -math.inf), math.nextafter(above, math.inf)
        out += [below, above]
    return out


@pytest.mark.parametrize("threshold", ["0.1", "0.3", "0.30000000000000004", "14", "1e-7", "299.99", "100",
                                       "9007199254740993", "0.1000000000000000055511151231257827"])
def test_floats_one_ulp_around_thresholds(threshold):
    text = threshold if "e" not in threshold else format(Decimal(threshold), "f")
    policy = exportdsl.compile(f"""
decisions a < b < c < d < e < f < g
fact x: number
rule GE {{ x >= {text} -> g }}
rule GT {{ x > {text} -> f }}
rule LE {{ x <= {text} -> e }}
rule LT {{ x < {text} -> d }}
rule EQ {{ x = {text} -> c }}
rule NE {{ x != {text} -> b }}
""")
    values = _ulps(float(Decimal(threshold))) + [int(Decimal(threshold)), int(Decimal(threshold)) + 1, 0, -1]
    for value in values:
        for given in (value, Decimal(repr(value)) if isinstance(value, float) else Decimal(value)):
            agree(policy, {"x": given})
        for rule in policy.rules:
            single = exportdsl.compile(f"decisions a < b\nfact x: number\n"
                                       f"rule {rule.id} {{ x {_OPS[rule.id]} {text} -> b }}\n")
            agree(single, {"x": value})


_OPS = {"GE": ">=", "GT": ">", "LE": "<=", "LT": "<", "EQ": "=", "NE": "!="}
_PYTHON = {CompareOp.GE: ">=", CompareOp.GT: ">", CompareOp.LE: "<=", CompareOp.LT: "<", CompareOp.EQ: "==",
           CompareOp.NE: "!="}


def _apply(op: str, a, b) -> bool:
    return {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b, "==": a == b, "!=": a != b}[op]


thresholds = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Decimal(repr(f))),
    st.floats(allow_nan=False, allow_infinity=False).map(Decimal),      # the exact binary value
    st.integers(-2**60, 2**60),
    st.integers(-2**60, 2**60).map(lambda i: Decimal(i) / 7),
)


@settings(max_examples=400, deadline=None)
@given(thresholds, st.sampled_from(list(CompareOp)), st.data())
def test_float_cuts_are_exact(c, op, data):
    """``x cut f`` agrees with Decimal arithmetic on the shortest repr, for floats (one ulp either side
    of the threshold included) and ints."""
    cut = float_cut(op, c)
    if cut is None:
        return
    near = float(c) if abs(c) < Decimal("1e308") else 0.0
    floats = _ulps(near, 3) + [data.draw(st.floats(allow_nan=False, allow_infinity=False), label="x")]
    ints = [math.floor(c) - 1, math.floor(c), math.floor(c) + 1, math.ceil(c) + 1,
            data.draw(st.integers(), label="n")]
    for x in floats + ints:
        if isinstance(x, float) and math.isinf(x):
            continue
        exact = shortest_decimal(x) if isinstance(x, float) else x
        want = _apply(_PYTHON[op], exact, c)
        got = cut if isinstance(cut, bool) else _apply(cut[0], x, cut[1])
        assert got == want, (x, op, c, cut)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_value_means_the_decimal(x):
    d = shortest_decimal(x)
    f = float_value(d)
    assert f is not None and shortest_decimal(f) == d


def test_defaults_that_are_no_float_are_decided_exactly():
    policy = exportdsl.compile("""
decisions a < b
fact x: number = 0.30000000000000001
fact y: integer
rule R { x > 0.3 and y = 1 -> b }
""")
    assert agree(policy, {"y": 1}) == ("decided", ("b", ("R",)))
    assert agree(policy, {"y": 1, "x": 0.3})[1] == ("a", ())


# ---- shared named conditions ----------------------------------------------------------------------

def _dag_policy(levels: int):
    """c_i = (c_(i-1) and y != i) or (c_(i-1) and x != i): each named condition uses the previous one
    twice, one shared IR node per name (built directly: the checker's own handling is not tested here)."""
    base = exportdsl.compile("decisions a < b\nfact x: integer\nfact y: integer\n"
                             "condition c0 = x = 1 and y > 2\nrule R { c0 -> b }\n").ir
    named = base.rules[0].condition
    assert isinstance(named, ir.Named)
    for i in range(1, levels):
        left = ir.And((named, ir.Not(ir.Compare("y", CompareOp.EQ, i))))
        right = ir.And((named, ir.Not(ir.Compare("x", CompareOp.EQ, i))))
        named = ir.Named(f"c{i}", ir.Or((left, right)))
    rule = base.rules[0].evolve(when=named, condition=named)
    return base.evolve(rules=(rule,))


def test_a_dag_of_named_conditions_is_generated_once_each():
    """60 levels would be 2**60 uses if each named condition were expanded where it is used."""
    policy_ir = _dag_policy(60)
    started = time.process_time()
    compiled = compile_policy(policy_ir)
    assert len(compiled.source) < 20_000
    for x, y in ((1, 3), (1, 4), (1, 61)):   # chains that hold early: the interpreter is quick on them
        assert compiled.decide({"x": x, "y": y}) == interpreter.evaluate(policy_ir, {"x": x, "y": y}) == ("b", ("R",))
    for x, y in ((0, 3), (1, 2)):            # c0 false, so every level is false
        assert compiled.decide({"x": x, "y": y}) == ("a", ())
        assert compiled.decision({"x": x, "y": y}) == "a"
    assert time.process_time() - started < 60   # a bound on runaway work, not a timing target


def test_shared_conditions_agree_with_the_interpreter_at_small_depth():
    policy_ir = _dag_policy(8)
    compiled = compile_policy(policy_ir)
    for x in (0, 1, 2, 3):
        for y in range(0, 10):
            facts = {"x": x, "y": y}
            assert compiled.decide(facts) == interpreter.evaluate(policy_ir, facts)


# ---- a differential over weird inputs ------------------------------------------------------------

def _weird(value, draw):
    """The same value in another form: a subclass, a Decimal, a float, an int, or unchanged."""
    choice = draw(st.integers(0, 5))
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and choice == 0:
        return Int(value)
    if isinstance(value, float) and choice == 0:
        return Flt(value)
    if isinstance(value, float) and choice == 1:
        return draw(st.sampled_from(_ulps(value, 1)))
    if isinstance(value, float) and choice == 2:
        return Decimal(repr(value))
    if isinstance(value, Decimal) and choice == 0:
        return Dec(value)
    if isinstance(value, Decimal) and choice == 1 and value.is_finite():
        return float(value)
    if isinstance(value, str) and choice == 0:
        return Str(value)
    if isinstance(value, list) and choice == 0:
        return [_weird(v, draw) for v in value]
    return value


MAPPINGS = [dict, MappingProxyType, _ReadOnly, collections.OrderedDict,
            lambda d: collections.defaultdict(int, d), _Inventing]


@settings(max_examples=300, deadline=None)
@given(policygen.policies(), st.data())
def test_differential_over_weird_inputs(spec, data):
    policy = exportdsl.compile(spec.text)
    draw = data.draw
    tx = draw(policygen.transactions(spec), label="transaction")
    if draw(st.integers(0, 4)) == 0 and tx:
        del tx[draw(st.sampled_from(sorted(tx)))]
    weird = {name: _weird(value, draw) for name, value in tx.items()}
    wrap = draw(st.sampled_from(MAPPINGS), label="mapping")
    agree(policy, wrap(weird))


@settings(max_examples=150, deadline=None)
@given(policygen.policies(), st.data())
def test_differential_with_the_exact_variant_called(spec, data):
    """The same with the exact variant as its own function (a large policy's way), not inlined."""
    from exportdsl.backends import python as backend
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend, "_INLINE_EXACT_SIZE", 0)
        policy = exportdsl.compile(spec.text)
    assert "if d: return" in policy.generated_source
    draw = data.draw
    tx = draw(policygen.transactions(spec), label="transaction")
    weird = {name: _weird(value, draw) for name, value in tx.items()}
    agree(policy, draw(st.sampled_from(MAPPINGS), label="mapping")(weird))


def test_a_nul_or_newline_in_the_policy_name_compiles():
    """Found by the mutation fuzz: the name went into compile()'s filename, where a NUL is a ValueError."""
    for name in ("a\x00b", "a\\nb"):      # a raw NUL character; the escape \n (a newline)
        policy = exportdsl.compile(f'policy "{name}" version "1"\ndecisions a < b\nfact x: bool\nrule R {{ x -> b }}\n')
        assert policy.decide({"x": True}) == ("b", ("R",))


@pytest.mark.parametrize("inline", [True, False])
def test_evaluate_kept_before_its_first_use_is_generated_once(monkeypatch, inline):
    """``policy.evaluate`` is the generated function itself once compiled; a caller that kept it
    before the first evaluation is forwarded to it, and the variant is generated only once. Its
    exact variant (Decimal values) is inlined in a small policy, else generated once on first use."""
    from exportdsl.backends import python as backend
    if not inline:
        monkeypatch.setattr(backend, "_INLINE_EXACT_SIZE", 0)
    generated = []
    source = backend._Codegen.source
    monkeypatch.setattr(backend._Codegen, "source", lambda self, name: generated.append(name) or source(self, name))
    policy = exportdsl.compile("""
decisions not_controlled < license_required
fact origin: country
fact re_content: percent
rule R1 { origin = CN and re_content >= 0.1% -> license_required }
""")
    kept = policy.evaluate
    for value in (0.1, 0.05, 0.1, Decimal("0.1"), Decimal("0.099"), Decimal("0.1")):
        facts = {"origin": "CN", "re_content": value}
        decision = kept(facts)
        assert tuple(decision[:2]) == policy.interpret(facts) == tuple(policy.evaluate(facts)[:2])
        assert decision.policy is policy and decision.facts is facts
        assert kept(facts, explain=True) == decision
    assert generated.count("_evaluate") == 1 and generated.count("_exact_result") == (0 if inline else 1)
    assert policy.evaluate is not kept


def test_a_policy_compiled_on_first_use_evaluates_like_an_eager_one():
    from exportdsl.policy import Policy
    lazy = Policy(POLICY._module, POLICY.ir, compile_now=False)
    kept = lazy.evaluate
    for facts in (GOOD, {**GOOD, "re_content": Decimal("0.1")}, {**GOOD, "re_content": 0.05}):
        assert tuple(kept(facts)[:2]) == tuple(lazy.evaluate(facts)[:2]) == tuple(POLICY.evaluate(facts)[:2])
        assert kept(facts).policy is lazy
    with pytest.raises(exportdsl.EvaluationError):
        kept({**GOOD, "re_content": "x"})
