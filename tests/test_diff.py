"""The semantic diff (``exportdsl.diff``): properties over random policy pairs, an independent
brute-force oracle, the reference policies, golden reports and the ``exportdsl diff`` command.

What a diff promises (src/exportdsl/diff/): its regions are disjoint, a transaction changes
decision (or deciding rules) exactly when it lies in one region, and then the region's old/new
decisions and rules are what the two policies give; each region comes with a witness transaction
and a condition in policy syntax.

Properties (random pairs from tests/diffgen.py, the second a mutation of the first):

(a) every witness, filtered to each policy's facts, evaluates to the region's outcomes;
(b) exactness on random transactions: changed iff exactly one region matches, with its outcomes;
(c) regions are pairwise disjoint (witnesses and random transactions match at most one);
(d) ``diff(p, p)`` is empty;
(e) every condition parses back and, compiled as a rule of the new policy, holds exactly where
    the region matches (on the witness, and on every transaction the tests try);
(f) an independent oracle: brute force over every combination of per-fact values around the
    literals both policies use (also with ``where=``);
(g) the four renderings are byte-identical from one run to the next (and across hash seeds);
(h) ``len(regions) <= 3 * lower_bound`` (and the bound is the true number of outcome pairs).

``pytest --update-goldens`` rewrites tests/golden/diff/*; review the diff by hand before committing.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import itertools
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import diffgen
import exportdsl
import policygen
from exportdsl.cli import main
from exportdsl.diff import INVALID
from exportdsl.errors import EvaluationError
from exportdsl.diff.report import dumps
from exportdsl.parser import parse_condition
from exportdsl.types import Kind

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
APRIL = POLICIES / "cn-rare-earths-2025-04.xpol"
OCTOBER = POLICIES / "cn-rare-earths-2025-10.xpol"
NOVEMBER = POLICIES / "cn-rare-earths-2025-11.xpol"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "diff"
EXAMPLES = Path("/work/shared/domain/examples.jsonl")
if not EXAMPLES.exists():
    EXAMPLES = ROOT.parent / "shared" / "domain" / "examples.jsonl"

PROBE = "ZZZ_REGION"


# ---- helpers -------------------------------------------------------------------------------------

def _as_ir(policy):
    return (policy if isinstance(policy, exportdsl.Policy) else exportdsl.load(policy)).ir


def engine_diff(old_ir, new_ir, **kwargs):
    """The diff package's own ``diff()`` on checked IR (it takes ``engine=``, ``outline=``, ``detail=``)."""
    return importlib.import_module("exportdsl.diff").diff(old_ir, new_ir, **kwargs)


def run_diff(old, new, **kwargs):
    """``exportdsl.diff(old, new, ...)``, the public API (test_public_diff_function_survives_its_first_call
    guards against the submodule shadowing it again)."""
    return exportdsl.diff(old, new, **kwargs)


def restrict(policy: exportdsl.Policy, tx: dict) -> dict:
    """A union transaction cut down to the facts a policy declares (it rejects the others, E304)."""
    return {name: value for name, value in tx.items() if name in policy.facts}


def outcome(policy: exportdsl.Policy, tx: dict, interpret: bool = False) -> tuple[str, tuple[str, ...]]:
    """(decision, rule ids) by the compiled evaluator (or the reference interpreter); a value outside
    the policy's declared values is the diff's INVALID."""
    try:
        return (policy.interpret if interpret else policy.decide)(restrict(policy, tx))
    except EvaluationError as exc:
        if all(d.code == "E303" for d in exc.diagnostics):
            return INVALID, (INVALID,)
        raise


def complete(old: exportdsl.Policy, new: exportdsl.Policy, tx: dict) -> dict:
    """The transaction with the declared defaults filled in (Region.matches applies them itself since
    44e353b; filling them here keeps (b) independent of that: test_region_matches_applies_defaults)."""
    full = dict(tx)
    for policy in (old, new):
        for name, fact in policy.ir.facts.items():
            if name not in full and not fact.required:
                full[name] = fact.default
    return full


def region_outcomes(region):
    return (region.old, region.old_rules), (region.new, region.new_rules)


def outcome_changes(o, n) -> bool:
    """Whether two outcomes differ: the decision, or the SET of deciding rules (their order is no change)."""
    return (o[0], frozenset(o[1])) != (n[0], frozenset(n[1]))


def key_of(o, n, changed) -> tuple:
    """A transaction's key: (old decision, new decision, old deciders in C, new deciders in C)."""
    return (o[0], n[0], tuple(r for r in o[1] if r in changed), tuple(r for r in n[1] if r in changed))


def tx_key(result, old, new, tx, evaluate=outcome):
    """(outcomes, key) of a transaction by the policies' own evaluators (None when nothing changes)."""
    o, n = evaluate(old, tx), evaluate(new, tx)
    return (o, n), (key_of(o, n, set(result.changed_rules)) if outcome_changes(o, n) else None)


def interpreted(policy, tx):
    """``outcome`` by the reference interpreter instead of the compiled evaluator."""
    return outcome(policy, tx, interpret=True)


def check_co_deciders(region, o, n, changed):
    """(E5): the unchanged rules listed as always co-deciding do co-decide at this transaction (and
    every unchanged co-decider is listed as always or sometimes, when those were computed)."""
    for (decision, rules), always, sometimes in ((o, region.old_always, region.old_sometimes),
                                                 (n, region.new_always, region.new_sometimes)):
        unchanged = [r for r in rules if r not in changed]
        assert set(always) <= set(unchanged), (region.key, always, rules)
        if region.sometimes_known:
            assert set(unchanged) <= set(always) | set(sometimes), (region.key, rules, always, sometimes)


def probe_policy(new_text: str, conditions: list[str], top: str) -> exportdsl.Policy:
    """The new policy with one extra rule per region condition, deciding the most severe decision.

    A transaction satisfies region i's condition exactly when ``ZZZ_REGION<i>`` is among the rules
    the probe reports (nothing overrides the probe rules, and they give the top decision).
    """
    extra = "".join(f"rule {PROBE}{i} {{ {cond} -> {top} }}\n" for i, cond in enumerate(conditions))
    return exportdsl.compile(new_text + extra, "<probe>")


def probe_hits(probe: exportdsl.Policy, tx: dict) -> set[int]:
    _, rules = probe.decide(restrict(probe, tx))
    return {int(r[len(PROBE):]) for r in rules if r.startswith(PROBE)}


def renderings(result) -> dict[str, str]:
    return {
        "txt": result.to_text(),
        "md": result.to_markdown(),
        "json": dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n",
        "html": result.to_html(),
    }


def json_roundtrip(witness: dict) -> dict:
    """The witness as a JSON reader of the CLI sees it (numbers read from their decimal text)."""
    return json.loads(dumps(witness, ensure_ascii=False), parse_float=Decimal)


def check_regions(pair_text_new: str, old, new, result, transactions=(), where_holds=None):
    """Properties (a), (b), (c), (e), (h) of one diff result; returns the set of changed outcome pairs seen."""
    regions = result.regions
    assert result.complete
    changed = set(result.changed_rules)
    # (E3) one region per key: the count is the number of distinct keys
    keys = [r.key for r in regions]
    assert len(set(keys)) == len(keys) == result.lower_bound
    assert changed <= {r.id for r in old.rules} | {r.id for r in new.rules} | {INVALID}
    for region in regions:
        assert region_outcomes(region)[0] != region_outcomes(region)[1], "a region must change something"
        assert region.old in (*old.decisions, INVALID) and region.new in (*new.decisions, INVALID)
        assert set(region.old_rules) <= changed & ({r.id for r in old.rules} | {INVALID})
        assert set(region.new_rules) <= changed & ({r.id for r in new.rules} | {INVALID})
        dumps(region.witness)  # JSON-ready
        dumps(region.to_json())
        assert set(region.witness) == set(old.facts) | set(new.facts)
    # (e) the exact conditions parse back, and compile as rules of the new policy
    expressible = {i for i, r in enumerate(regions) if r.exact}
    conditions = [r.condition if r.exact else "false" for r in regions]
    for region in regions:
        if region.condition:
            parse_condition(region.condition)
    probe = probe_policy(pair_text_new, conditions, new.decisions[-1])
    seen = set()
    for index, region in enumerate(regions):
        for witness in (region.witness, json_roundtrip(region.witness)):
            # (E4) the witness has the region's key, by the compiled evaluator and by the interpreter
            for evaluate in (outcome, interpreted):
                (o, n), key = tx_key(result, old, new, witness, evaluate)
                assert key == region.key, (index, region.condition, witness, o, n)
            check_co_deciders(region, o, n, changed)
            # (c) it lies in its own region and in no other
            assert [i for i, r in enumerate(regions) if r.matches(witness)] == [index], (index, witness)
            # (e) its region's condition holds on it (and no other region's)
            assert probe_hits(probe, witness) == {index} & expressible, (index, region.condition, witness)
    outlines = [(i, exportdsl.compile(pair_text_new + f"rule {PROBE}0 {{ {r.condition} -> {new.decisions[-1]} }}\n",
                                      "<outline>")) for i, r in enumerate(regions) if not r.exact and r.condition]
    # (E1) (E2) exactness, (c) disjointness, (e) condition == region, on the given transactions
    for tx in transactions:
        full = complete(old, new, tx)
        (o, n), key = tx_key(result, old, new, tx)
        hits = [i for i, r in enumerate(regions) if r.matches(full)]
        assert len(hits) <= 1, f"regions {hits} overlap on {tx!r}"
        in_scope = where_holds is None or where_holds(full)
        assert bool(hits) == (key is not None and in_scope), (tx, o, n, [regions[i].condition for i in hits])
        if hits:
            region = regions[hits[0]]
            assert region.key == key, (tx, region.condition)
            check_co_deciders(region, o, n, changed)
            seen.add(key)
        assert probe_hits(probe, full) == set(hits) & expressible, (tx, [r.condition for r in regions])
        for i, outline in outlines:   # an outline holds on every transaction of its region
            if i in hits:
                assert probe_hits(outline, full) == {0}, (tx, regions[i].condition)
    return seen


def compile_pair(pair):
    return exportdsl.compile(pair.old_text, "<old>"), exportdsl.compile(pair.new_text, "<new>")


# ---- regression (was BUG 1): the public function was shadowed by its own submodule -------------------

def test_public_diff_function_survives_its_first_call():
    import exportdsl.diff  # noqa: F401 - what the first exportdsl.diff() call (or `exportdsl diff`) does
    assert callable(exportdsl.diff), f"exportdsl.diff is now {exportdsl.diff!r}"
    assert not exportdsl.diff(str(OCTOBER), str(OCTOBER)).regions


# ---- (a) (b) (c) (e) (g) (h): the main property ---------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(pair=diffgen.policy_pairs(), data=st.data())
def test_diff_properties(pair, data):
    old, new = compile_pair(pair)
    assert set(old.facts) <= set(new.facts), "diffgen only adds facts (the probe relies on it)"
    result = run_diff(old, new)
    transactions = data.draw(st.lists(diffgen.pair_transactions(pair), min_size=10, max_size=25),
                             label="transactions")
    check_regions(pair.new_text, old, new, result, transactions)
    if pair.old_text == pair.new_text:
        assert not result.regions and not result.structural
    # structural changes name exactly the rules added and removed
    old_ids, new_ids = {r.id for r in old.rules}, {r.id for r in new.rules}
    assert {c.subject for c in result.structural if c.kind == "rule added"} == new_ids - old_ids
    assert {c.subject for c in result.structural if c.kind == "rule removed"} == old_ids - new_ids
    # (g) determinism: a second run renders byte for byte the same
    assert renderings(run_diff(old, new)) == renderings(result)


# ---- (d) a policy against itself --------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(policygen.policies())
def test_diff_with_itself_is_empty(spec):
    policy = exportdsl.compile(spec.text)
    for other in (policy, exportdsl.compile(spec.text)):
        result = run_diff(policy, other)
        assert result.complete
        assert result.regions == () and result.structural == ()
        assert result.lower_bound == 0 and not result.changed
        assert "no transaction changes decision" in result.to_text()


# ---- (f) the independent oracle -----------------------------------------------------------------------

ORACLE_LIMIT = 3000
TINY = Decimal("1e-20")   # far below the gap between any two pool literals (0.3 vs 0.30000000000000004)


def _literals(expr, found: dict) -> None:
    """Fact name -> every constant an IR condition compares it with (set facts: the elements)."""
    from exportdsl import ir
    match expr:
        case ir.Compare(fact=fact, value=value):
            found.setdefault(fact, set()).add(value)
        case ir.Member(fact=fact, values=values) | ir.SetTest(fact=fact, values=values):
            found.setdefault(fact, set()).update(values)
        case ir.And(operands=ops) | ir.Or(operands=ops):
            for op in ops:
                _literals(op, found)
        case ir.Not(operand=op) | ir.Named(body=op):
            _literals(op, found)


def _unmentioned_country(mentioned) -> str:
    return next(c for c in ("ZW", "AD", "FR", "BR") if c not in mentioned)


def _date_shift(text: str, days: int):
    try:
        return (datetime.date.fromisoformat(text) + datetime.timedelta(days=days)).isoformat()
    except OverflowError:
        return None


EXACT = decimal.Context(prec=100, traps=[decimal.Inexact])


def value_pool(ftype, literals: set, one_sided: frozenset = frozenset()) -> list:
    """Every literal, the values just above and below the ordered ones, and one unmentioned value.

    ``one_sided``: enum values only one version declares (set elements: each one is added).
    """
    kind = ftype.kind
    if kind is Kind.BOOL:
        return [False, True]
    if kind is Kind.ENUM:
        return list(ftype.values)   # every value (few): the unmentioned ones and those one side lacks
    if kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT):
        step = 1 if kind is Kind.INTEGER else TINY
        values = {v + d if kind is Kind.INTEGER else EXACT.add(Decimal(v), d)
                  for v in literals or {0} for d in (-step, 0, step)}
        if kind is Kind.PERCENT:
            values = {v for v in values if 0 <= v <= 100}
        return sorted(values)
    if kind is Kind.DATE:
        values = {_date_shift(v, d) for v in literals or {"2025-01-01"} for d in (-1, 0, 1)}
        return sorted(values - {None})
    if kind is Kind.COUNTRY:
        return sorted(literals) + [_unmentioned_country(literals)]
    if kind is Kind.STRING:
        return sorted(literals) + ["zz unmentioned"]
    if kind is Kind.SET:
        element = ftype.element
        elements = sorted(literals, key=str)
        if element.kind is Kind.ENUM:
            elements += [v for v in element.values if v not in literals and v not in one_sided][:1]
            elements += [v for v in element.values if v in one_sided and v not in literals]
        elif element.kind is Kind.COUNTRY:
            elements.append(_unmentioned_country(literals))
        else:
            elements.append("zz unmentioned")
        return [list(c) for k in range(len(elements) + 1) for c in itertools.combinations(elements, k)]
    raise AssertionError(kind)


def _enum_values(ftype) -> frozenset:
    ftype = ftype.element if ftype.kind is Kind.SET else ftype
    return frozenset(ftype.values) if ftype.kind is Kind.ENUM else frozenset()


def oracle_transactions(policies, facts) -> list[dict] | None:
    """The product of the per-fact pools (None when larger than ORACLE_LIMIT)."""
    found: dict = {}
    for policy in policies:
        for rule in policy.ir.rules:
            _literals(rule.condition, found)
    names = list(facts)
    one_sided = {name: _enum_values(facts[name]) - frozenset.intersection(
        *(_enum_values(p.facts[name]) for p in policies if name in p.facts)) for name in names}
    pools = [value_pool(facts[name], found.get(name, set()), one_sided[name]) for name in names]
    size = 1
    for pool in pools:
        size *= len(pool)
    if size > ORACLE_LIMIT:
        return None
    return [dict(zip(names, combo)) for combo in itertools.product(*pools)]


def _union_types(old, new) -> dict:
    return {**dict(old.facts), **dict(new.facts)}   # diffgen only widens enums in the new version


def check_with_oracle(pair, where: str | None = None, as_of: str | None = None):
    old, new = compile_pair(pair)
    top = new.decisions[-1]
    # --where / --as-of, compiled as probe rules of the new policy: ZZZ_REGION0 and ZZZ_REGION1
    limits = [where or "true", f"{new.ir.dated_by} = {as_of}" if as_of else "true"]
    where_probe = probe_policy(pair.new_text, limits, top) if where or as_of else None
    pool_policies = (old, new) + ((where_probe,) if where_probe else ())
    transactions = oracle_transactions(pool_policies, _union_types(old, new))
    assume(transactions is not None)
    where_holds = (lambda tx: probe_hits(where_probe, tx) == {0, 1}) if where_probe else None
    results = {}
    for engine in ("partition", "sat"):   # both engines against the brute force (and so against each other)
        # (the SAT engine with outline=True, which also computes the sometimes co-deciding rules)
        result = results[engine] = engine_diff(old.ir, new.ir, where=where, as_of=as_of, engine=engine,
                                               outline=engine == "sat")
        assert result.regions == () or all(r.sometimes_known for r in result.regions)
        assert result.engine == engine
        seen = check_regions(pair.new_text, old, new, result, transactions, where_holds)
        # every key the brute force found is a region, and every region was found by it
        assert seen == {r.key for r in result.regions}, engine
    # the worker path (always co-deciding rules proven in a forked process) reports exactly the same
    forked = engine_diff(old.ir, new.ir, where=where, as_of=as_of, engine="sat", outline=True, workers=1)
    assert renderings(forked) == renderings(results["sat"])
    assert results["sat"].changed_rules == results["partition"].changed_rules
    assert [r.key for r in results["sat"].regions] == [r.key for r in results["partition"].regions]
    for a, b in zip(results["sat"].regions, results["partition"].regions):   # (E5) both engines, exactly
        assert (a.old_always, a.new_always, a.old_sometimes, a.new_sometimes) == \
               (b.old_always, b.new_always, b.old_sometimes, b.new_sometimes), a.key
    if results["sat"].regions:   # --detail: the breakdown by the full old outcome, the same from both engines
        number = len(results["sat"].regions)
        details = [engine_diff(old.ir, new.ir, where=where, as_of=as_of, engine=e, detail=number).detail
                   for e in ("partition", "sat")]
        assert details[0] == details[1] and details[0]
    assert renderings(run_diff(old, new, where=where, as_of=as_of)) == renderings(results["partition"])
    return results["sat"]


@pytest.fixture(scope="module")
def capped_shrinking():
    """Shrinking a failure of the brute-force tests took many minutes once (seed
    110547982317382981458250616113797904740); a minute is plenty to get a readable example."""
    from hypothesis.internal.conjecture import engine
    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = 60
    yield
    engine.MAX_SHRINKING_SECONDS = saved


@settings(max_examples=50, deadline=None)
@given(diffgen.policy_pairs(max_facts=4, max_rules=5, change_default=True))
def test_diff_agrees_with_brute_force(capped_shrinking, pair):
    check_with_oracle(pair)


@pytest.mark.parametrize("engine", ["partition", "sat"])
def test_a_change_of_only_the_order_of_co_deciding_rules_is_no_change(engine):
    """Regression (seed 110547982317382981458250616113797904740): two rules that co-decide, written
    in the other order in the new version, gave a region (its rule tuples differed only in order)."""
    head = "decisions a < b\nfact x: integer\nfact y: bool\n"
    first, second = "rule R0 { x > 1 -> b }\n", "rule R1 { x > 1 and y -> b }\n"
    old = exportdsl.compile(head + first + second)
    new = exportdsl.compile(head + second + first)
    tx = {"x": 5, "y": True}
    assert old.decide(tx) == ("b", ("R0", "R1")) and new.decide(tx) == ("b", ("R1", "R0"))
    assert not outcome_changes(old.decide(tx), new.decide(tx))   # the oracle compared tuples (the bug)
    result = engine_diff(old.ir, new.ir, engine=engine)
    assert result.complete and result.regions == () and result.changed_rules == ()


def test_co_deciding_rules_are_listed_in_policy_order_by_both_engines():
    """Regression (hypothesis seed 1028): the partition engine sorted the rules that co-decide in part
    by their place within some combination, so R3 (first of its combination) came before R2 (second
    of its one); the SAT engine lists them in the policy's order."""
    head = "decisions a < b\nfact s: set of enum {p, q}\nfact n: integer\n"
    rules = ("rule R1 { n > 0 -> a }\nrule R2 { s contains any {q} and n > 0 -> a }\n"
             "rule R3 { n < 0 -> a }\n")
    old = exportdsl.compile(head + rules + "rule R4 { true -> b }\n")
    new = exportdsl.compile(head + rules + "rule R4 { true -> a }\n")
    listed = {}
    for engine in ("partition", "sat"):
        result = engine_diff(old.ir, new.ir, engine=engine, outline=True)
        assert result.complete and result.engine == engine
        (region,) = result.regions
        assert region.key == ("b", "a", ("R4",), ("R4",))
        listed[engine] = (region.new_always, region.new_sometimes)
    assert listed["partition"] == listed["sat"] == ((), ("R1", "R2", "R3"))


@st.composite
def pairs_with_where(draw):
    """A small pair, a --where condition over the new policy's facts (literals only), and --as-of
    for dated policies (either may be None)."""
    pair = draw(diffgen.policy_pairs(max_facts=4, max_rules=5, change_default=True))
    spec = pair.new.spec()
    spec.sets = {}   # --where has literals only
    where = policygen._Exprs(draw, spec, []).expr(1)[0] if draw(st.integers(0, 3)) else None
    as_of = None
    if pair.new.dated_by and (where is None or draw(st.booleans())):
        as_of = draw(st.sampled_from(policygen.DATE_POOL))
    return pair, where, as_of


@settings(max_examples=40, deadline=None)
@given(pairs_with_where())
def test_diff_with_where_and_as_of_agrees_with_brute_force(capped_shrinking, pair_where_as_of):
    check_with_oracle(*pair_where_as_of)


# ---- (g) determinism across processes (hash seeds change set iteration order) --------------------------

_DETERMINISM_SCRIPT = r"""
import json, sys
import exportdsl
from exportdsl.diff import diff
from exportdsl.diff.report import dumps
texts = json.loads(sys.stdin.read())
out = []
for old, new in texts:
    a = exportdsl.load(old).ir if old.endswith(".xpol") else exportdsl.compile(old).ir
    b = exportdsl.load(new).ir if new.endswith(".xpol") else exportdsl.compile(new).ir
    r = diff(a, b)
    out.append([r.to_text(), r.to_markdown(), dumps(r.to_json(), ensure_ascii=False), r.to_html()])
print(json.dumps(out))
"""

_STRING_SETS_OLD = """decisions allow < review < deny
fact tags: set of string
fact who: string
fact dest: set of country
fact use: enum {civil, "all", "dual use", military}
rule R0 { tags contains any {"b", "a", "c d", "中文"} and who in {"x", "y\\"z", "w"} -> review }
rule R1 { dest contains any {US, CN, DE, JP} and use in {"all", "dual use"} -> deny }
"""
_STRING_SETS_NEW = _STRING_SETS_OLD.replace('{"b", "a", "c d", "中文"}', '{"b", "c d", "e"}').replace(
    "{US, CN, DE, JP}", "{CN, JP, KP}").replace("-> deny", "-> review")


def test_renderings_do_not_depend_on_the_hash_seed():
    cases = [[str(APRIL), str(OCTOBER)], [str(OCTOBER), str(NOVEMBER)], [_STRING_SETS_OLD, _STRING_SETS_NEW]]
    outputs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _DETERMINISM_SCRIPT], input=json.dumps(cases), env=env,
                              capture_output=True, text=True, check=True, cwd=ROOT)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][2][0].count("region(s)") == 1 and "[1]" in outputs[0][2][0]


# ---- the reference policies ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    return {name: exportdsl.load(path) for name, path in
            (("april", APRIL), ("october", OCTOBER), ("november", NOVEMBER))}


@pytest.fixture(scope="module")
def april_october(reference):
    return run_diff(reference["april"], reference["october"])


@pytest.fixture(scope="module")
def october_november(reference):
    return run_diff(reference["october"], reference["november"])


def test_april_october_has_the_de_minimis_region(april_october):
    found = [r for r in april_october.regions if r.new_rules == ("O7",)]
    assert len(found) == 1
    region = found[0]
    assert (region.old, region.old_rules, region.new) == ("not_controlled", (), "license_required")
    assert "re_content >= 0.1%" in region.condition
    assert "ship_date >= 2025-12-01" in region.condition
    assert region.witness["item"] in ("magnet", "target")
    assert region.witness["export_from"] != "CN" and region.witness["export_to"] != "CN"
    assert region.witness["origin"] != "CN"


VERSIONS = {"april": "2025-04", "october": "2025-10", "november": "2025-11"}
FILES = {"april": APRIL, "october": OCTOBER, "november": NOVEMBER}


def test_reference_diffs_are_exact(reference, april_october, october_november):
    """(a) (c) (e) (h) on the reference policies, and (b) on the worked examples of the domain notes."""
    examples = [json.loads(line, parse_float=Decimal)
                for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    for old_name, new_name, result in (("april", "october", april_october),
                                       ("october", "november", october_november)):
        old, new = reference[old_name], reference[new_name]
        assert result.complete and len(result.regions) <= 3 * result.lower_bound
        # the probe: the new file plus one rule per region condition (compiled under the file's own
        # name, so that its `extends` resolves)
        path = FILES[new_name]
        extra = "".join(f"rule {PROBE}{i} {{ {r.condition} -> prohibited }}\n" for i, r in enumerate(result.regions))
        probe = exportdsl.compile(path.read_text(encoding="utf-8") + extra, str(path))
        assert all(r.exact for r in result.regions), "the reference diffs keep their exact conditions"
        for index, region in enumerate(result.regions):
            parse_condition(region.condition)
            for witness in (region.witness, json_roundtrip(region.witness)):
                assert tx_key(result, old, new, witness)[1] == region.key, region.condition
                assert [i for i, r in enumerate(result.regions) if r.matches(witness)] == [index]
                assert probe_hits(probe, witness) == {index}
        for example in examples:
            tx = example["facts"]
            (o, n), key = tx_key(result, old, new, tx)
            assert (o[0], n[0]) == (example["expect"][VERSIONS[old_name]], example["expect"][VERSIONS[new_name]])
            hits = [i for i, r in enumerate(result.regions) if r.matches(tx)]
            assert len(hits) == (key is not None), example["id"]
            if hits:
                assert result.regions[hits[0]].key == key, example["id"]
            assert probe_hits(probe, tx) == set(hits), example["id"]
    # keyed by the changed rules O1-O13: 17 regions (19 outcome combinations before, two of which differed
    # only in the unchanged rule A2 co-deciding)
    assert april_october.changed_rules == tuple(f"O{i}" for i in range(1, 14))
    assert april_october.lower_bound == len(april_october.regions) == 17


def test_october_november_as_of_after_the_suspension_has_no_regions(reference):
    result = run_diff(reference["october"], reference["november"], as_of="2026-11-11")
    assert result.complete and result.regions == ()
    assert result.where == "ship_date = 2026-11-11"


def test_october_november_regions_lie_in_the_suspension_window(october_november):
    assert october_november.regions
    for region in october_november.regions:
        assert "2025-11-07" <= region.witness["ship_date"] <= "2026-11-10"
        assert region.old != "not_controlled" and region.new_rules != region.old_rules
        assert not set(region.new_rules) & {f"O{i}" for i in range(1, 13)}, "No. 70 suspends O1-O12"
    for day, expect_changes in (("2025-11-06", False), ("2025-11-07", True), ("2026-11-10", True),
                                ("2026-11-11", False)):
        assert bool(run_diff(OCTOBER, NOVEMBER, as_of=day).regions) == expect_changes, day


def test_where_export_from_cn(reference):
    result = run_diff(reference["april"], reference["october"], where="export_from = CN")
    assert result.regions and result.where == "export_from = CN"
    for region in result.regions:
        assert region.witness["export_from"] == "CN", region.condition
    # the regions are those of the whole diff, cut down to export_from = CN
    full = run_diff(reference["april"], reference["october"])
    for region in result.regions:
        matching = [r for r in full.regions if r.matches(region.witness)]
        assert len(matching) == 1 and matching[0].key == region.key
    assert {(r.new_rules) for r in result.regions} >= {("O1",), ("O2",), ("O3",), ("O4",), ("O5",), ("O13",)}
    assert not {r for r in result.regions for rule in r.new_rules if rule in {"O6", "O7", "O8", "O9", "O10"}}


def test_bad_where_is_a_diff_error(reference):
    with pytest.raises(exportdsl.Error) as info:
        run_diff(reference["april"], reference["october"], where="no_such_fact = 1")
    assert info.value.diagnostics


def test_an_exhausted_budget_is_reported_and_what_was_found_is_right(reference):
    from exportdsl.diff import Budget
    from exportdsl.diff import diff as engine
    old, new = reference["april"], reference["october"]
    for nodes in (1, 40):
        result = engine(old.ir, new.ir, budget=Budget(max_nodes=nodes))
        assert not result.complete
        assert "INCOMPLETE" in result.to_text() and "INCOMPLETE" in result.to_markdown()
        assert 'class="incomplete"' in result.to_html() and result.to_json()["complete"] is False
        for region in result.regions:   # sound, if not complete
            assert tx_key(result, old, new, region.witness)[1] == region.key
    tiny = engine(old.ir, new.ir, budget=Budget(max_nodes=1))
    assert bool(tiny.regions) or "(within the searched part)" in tiny.to_text()


def test_a_fragmented_diff_stops_at_the_box_budget_and_says_so():
    """Too many boxes in one search step (memory, merging and rendering would blow up): INCOMPLETE,
    and the boxes kept are still right."""
    from exportdsl.diff import Budget
    from exportdsl.diff import diff as engine
    head = "decisions a < b\nfact x: integer\nfact y: integer\n"
    old = exportdsl.compile(head + "rule R { x > 0 -> b }\n")
    new = exportdsl.compile(head + "rule R { " + " or ".join(f"x = {i} and y = {i}" for i in range(1, 9)) + " -> b }\n")
    full = engine(old.ir, new.ir)
    assert full.complete and sum(max(1, len(r.alternatives)) for r in full.regions) > 4
    cut = engine(old.ir, new.ir, budget=Budget(max_boxes=4), engine="partition")
    assert not cut.complete and "INCOMPLETE" in cut.to_text()
    for region in cut.regions:
        assert len(region.boxes) <= 4
        assert tx_key(cut, old, new, region.witness)[1] == region.key


# ---- golden reports ----------------------------------------------------------------------------------------

GOLDEN_CASES = {"april-october": (APRIL, OCTOBER), "october-november": (OCTOBER, NOVEMBER)}
FORMATS = {"txt": "text", "md": "markdown", "json": "json", "html": "html"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_reports(case, fmt, capsys, update_goldens):
    old, new = GOLDEN_CASES[case]
    old_rel, new_rel = (str(p.relative_to(ROOT)) for p in (old, new))
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        code = main(["diff", old_rel, new_rel, "--format", FORMATS[fmt], "--color", "never"])
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    # the API renders exactly what the command prints
    assert out == renderings(run_diff(old, new))[fmt]
    golden = GOLDEN_DIR / f"{case}.{fmt}"
    if update_goldens:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"no golden {golden.name}: run pytest --update-goldens and review it"
    assert out == golden.read_text(encoding="utf-8")


def test_golden_json_is_consistent():
    for case in GOLDEN_CASES:
        data = json.loads((GOLDEN_DIR / f"{case}.json").read_text(encoding="utf-8"))
        assert data["complete"] is True
        assert data["summary"]["regions"] == len(data["regions"]) >= data["summary"]["lower_bound"] > 0
        assert sum(data["summary"]["transitions"].values()) == len(data["regions"])


# ---- the command line ---------------------------------------------------------------------------------------

def cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_diff_exit_codes(capsys, tmp_path):
    code, out, err = cli(["diff", str(APRIL), str(OCTOBER), "--color", "never"], capsys)
    assert code == 1 and "17 region(s)" in out and err == ""
    code, out, err = cli(["diff", str(OCTOBER), str(NOVEMBER), "--as-of", "2026-11-11"], capsys)
    assert code == 0 and "no transaction changes decision" in out
    code, out, _ = cli(["diff", str(OCTOBER), str(OCTOBER), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["regions"] == []
    code, out, err = cli(["diff", str(APRIL), str(OCTOBER), "--where", "export_from = CN", "-o",
                          str(tmp_path / "r.md"), "--format", "markdown"], capsys)
    assert code == 1 and out == "" and "region(s)" in err
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("## exportdsl diff")


@pytest.mark.parametrize("where", ["no_such_fact = 1", "export_from = ", "export_from = ZZ", "item = spaceship",
                                   "re_content >= 5", "applies(NOPE)"])
def test_cli_diff_bad_where_exits_2(where, capsys):
    code, out, err = cli(["diff", str(APRIL), str(OCTOBER), "--where", where], capsys)
    assert code == 2
    assert "error[E" in err and "Traceback" not in err and "internal error" not in err
    assert out == ""


def test_cli_diff_bad_as_of_exits_2(capsys):
    code, _, err = cli(["diff", str(OCTOBER), str(NOVEMBER), "--as-of", "2026-02-30"], capsys)
    assert code == 2 and "E502" in err


# ---- bugs found by this file: regression tests for the fixed ones (44e353b), xfail(strict) for open ones ----

def test_region_matches_applies_defaults():
    old = exportdsl.compile("decisions a < b\nfact x: integer = 5\nfact y: bool\nrule R { x > 1 and y -> b }\n")
    new = exportdsl.compile("decisions a < b\nfact x: integer = 5\nfact y: bool\nrule R { x > 9 and y -> b }\n")
    result = run_diff(old, new)
    tx = {"y": True}
    assert old.decide(tx) != new.decide(tx)
    assert [r.matches(tx) for r in result.regions] == [True]


@pytest.mark.parametrize("new_rule, holds, fails", [
    ("false", [["x"], ["q"]], [[]]),
    ('s contains "x"', [["q"], ["q", "r"]], [[], ["x"], ["x", "q"]]),
    ('s contains "x" and not (s contains any not in {"x"})', [["x", "q"], ["q"]], [[], ["x"]]),
])
def test_string_set_other_element_is_expressible(new_rule, holds, fails):
    """A string set holding an element no policy mentions is stated with ``contains any not in``."""
    head = "decisions a < b\nfact s: set of string\n"
    old = exportdsl.compile(head + "rule R { s is not empty -> b }\n")
    new = exportdsl.compile(head + f"rule R {{ {new_rule} -> b }}\n")
    (region,) = run_diff(old, new).regions
    probe = exportdsl.compile(head + f"rule P {{ {region.condition} -> b }}\n")
    assert "#" not in region.condition
    for value in holds:
        assert probe.decide({"s": value})[0] == "b" and region.matches({"s": value}), (region.condition, value)
    for value in fails:
        assert probe.decide({"s": value})[0] == "a" and not region.matches({"s": value}), (region.condition, value)


@pytest.mark.parametrize("kind, low, high", [("number", "0.1", "0.1000000000000000001"),
                                             ("percent", "0.1%", "0.1000000000000000001%"),
                                             ("number", "0.3", "0.30000000000000004")])
def test_witness_between_close_literals_lies_in_its_region(kind, low, high):
    old = exportdsl.compile(f"decisions a < b\nfact x: {kind}\nrule R {{ x > {low} -> b }}\n")
    new = exportdsl.compile(f"decisions a < b\nfact x: {kind}\nrule R {{ x >= {high} -> b }}\n")
    (region,) = run_diff(old, new).regions          # low < x < high: b -> a
    assert region.matches(region.witness)
    assert (old.decide(region.witness), new.decide(region.witness)) == (("b", ("R",)), ("a", ()))


@pytest.mark.parametrize("rule", ["false -> allow", "x -> allow", "x -> review"])
def test_default_change_is_seen(rule):
    head = "decisions allow < review\nfact x: bool\n"
    old = exportdsl.compile(head + f"rule R {{ {rule} }}\n")
    new = exportdsl.compile(head + f"default review\nrule R {{ {rule} }}\n")
    tx = {"x": False}
    assert old.decide(tx) == ("allow", ()) and new.decide(tx) == ("review", ())
    result = run_diff(old, new)
    assert [r.matches(tx) for r in result.regions] == [True]


def test_region_text_of_a_set_with_many_classes_is_exact():
    """Nine element classes whose truth table is neither monotone nor antitone: the prime-implicant
    cover is exact on every one of the 2**9 + 1 subsets (the unmentioned element included). (This
    took ~3 s before Quine-McCluskey merged by lookup instead of over all pairs; timings belong in
    benchmarks/, not here.)"""
    import itertools
    elements = ["AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ"]
    pairs = " or ".join(f"(s contains {a} and not s contains {b})" for a, b in zip(elements[::2], elements[1::2]))
    head = "decisions a < b\nfact s: set of country\n"
    old = exportdsl.compile(head + f"rule R {{ s contains any {{{', '.join(elements)}}} -> b }}\n")
    new = exportdsl.compile(head + f"rule R {{ {pairs} -> b }}\n")
    result = run_diff(old, new)
    assert result.nodes < 100 and result.regions
    probes = [exportdsl.compile(head + f"rule P {{ {r.condition} -> b }}\n") for r in result.regions]
    for size in range(len(elements) + 1):
        for subset in itertools.combinations(elements, size):
            for value in (list(subset), [*subset, "ZW"]):
                changed = old.decide({"s": value}) != new.decide({"s": value})
                hits = [i for i, probe in enumerate(probes) if probe.decide({"s": value})[0] == "b"]
                assert hits == [i for i, r in enumerate(result.regions) if r.matches({"s": value})]
                assert len(hits) == (1 if changed else 0), (value, hits)


@pytest.mark.parametrize("engine", ["partition", "sat"])
def test_witnesses_are_checked_with_the_evaluators_given(engine):
    """The CLI and ``exportdsl.diff`` pass the policies' compiled ``decide`` functions, so that the
    run-time check of the witnesses does not compile both policies again; the check is really run
    with them (swapped, no witness gives its region's key: E503)."""
    old, new = exportdsl.load(APRIL), exportdsl.load(OCTOBER)
    given = engine_diff(old.ir, new.ir, engine=engine, evaluators=(old.decide, new.decide))
    assert given.regions and renderings(given) == renderings(engine_diff(old.ir, new.ir, engine=engine))
    with pytest.raises(exportdsl.Error) as info:
        engine_diff(old.ir, new.ir, engine=engine, evaluators=(new.decide, old.decide))
    assert [d.code for d in info.value.diagnostics] == ["E503"]
