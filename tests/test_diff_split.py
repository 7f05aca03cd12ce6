"""The keyed diff's search split into parts of the space (src/exportdsl/diff/split.py).

On large comparisons the SAT search for the keys cuts the space in two on one variable and
gives each part a solver holding only the rules whose condition's hull meets the part. The split
is sound only if a rule left out of a part is false throughout that part, including where its
applicability reads other rules (``applies(...)``), overrides, suspensions and dates. Checked
here against the brute-force oracle of tests/test_diff.py on Hypothesis pairs, with the split
forced on every pair, and on crafted policies: one where the parts leave rules out, one where a
rule whose own text pins the cut variable still reaches the other part through a reference, a
suspension or a date, and must be kept there.
"""

from __future__ import annotations

import contextlib

from hypothesis import assume, given, settings

import diffgen
import exportdsl
from exportdsl.diff import keyed, split
from test_diff import (check_regions, compile_pair, engine_diff, oracle_transactions, renderings,
                       _union_types)


@contextlib.contextmanager
def forced_split():
    """Every SAT diff in the block splits its key search (any cut is taken), and the parts' rule
    ids are recorded: a list of (the part's cells, its old rules, its new rules)."""
    saved = split.SPLIT_MIN_CONDITIONS, split.SPLIT_MAX_SHARE, keyed.KeySearch.__init__
    parts: list = []

    def init(self, space, old, new, deadline, max_calls, part=False):
        saved[2](self, space, old, new, deadline, max_calls, part)
        if part:
            parts.append(({rid for _, rid, _, _ in old.entries}, {rid for _, rid, _, _ in new.entries}))
    split.SPLIT_MIN_CONDITIONS, split.SPLIT_MAX_SHARE = 0, 1.0
    keyed.KeySearch.__init__ = init
    try:
        yield parts
    finally:
        split.SPLIT_MIN_CONDITIONS, split.SPLIT_MAX_SHARE, keyed.KeySearch.__init__ = saved


def _facts(region) -> tuple:
    return (region.key, region.old_always, region.new_always, region.old_sometimes, region.new_sometimes)


@settings(max_examples=40, deadline=None)
@given(diffgen.policy_pairs(max_facts=4, max_rules=5, change_default=True))
def test_split_search_agrees_with_brute_force(pair):
    """(E1-E5) with the split forced: the keys are exactly the brute force's, each witness gives its
    key, and the co-deciding rules are those of the unsplit search."""
    old, new = compile_pair(pair)
    transactions = oracle_transactions((old, new), _union_types(old, new))
    assume(transactions is not None)
    whole = engine_diff(old.ir, new.ir, engine="sat", outline=True)
    with forced_split():
        parted = engine_diff(old.ir, new.ir, engine="sat", outline=True)
    seen = check_regions(pair.new_text, old, new, parted, transactions)
    assert seen == {r.key for r in parted.regions}
    assert [_facts(r) for r in parted.regions] == [_facts(r) for r in whole.regions]


PINNED = """policy "p" version "{version}"
decisions ok < report < licence < deny
default ok
dated by ship_date
fact ship_date: date
fact export_from: country
fact item: enum {{magnet, oxide, metal, alloy}}
fact military: bool
{rules}
"""


def _pinned_rules(changed: bool) -> str:
    rules = []
    for index, item in enumerate(["magnet", "oxide", "metal", "alloy"] * 3):
        where = "export_from = CN" if index % 2 == 0 else "export_from in {US, DE}"
        decision = ["report", "licence", "deny"][index % 3]
        if changed and index == 5:
            decision = "report"
        rules.append(f"rule R{index:02d} {{ effective 2025-0{1 + index % 9}-01 {where} and item = {item} -> {decision} }}")
    return "\n".join(rules)


def _diff_both_ways(old_text: str, new_text: str):
    old = exportdsl.compile(old_text, "<old>")
    new = exportdsl.compile(new_text, "<new>")
    whole = engine_diff(old.ir, new.ir, engine="sat", outline=True)
    with forced_split() as parts:
        parted = engine_diff(old.ir, new.ir, engine="sat", outline=True)
    assert whole.complete and parted.complete
    assert [_facts(r) for r in parted.regions] == [_facts(r) for r in whole.regions]
    for region in parted.regions:   # each witness lies in its region: both evaluators give its key
        assert region.matches(region.witness)
    return whole, parts


def test_the_parts_leave_out_the_rules_pinned_elsewhere():
    """Rules pinned to export_from = CN or to {US, DE}: the cut separates them, each part's solver
    holds only its own half, and the report is the unsplit one."""
    whole, parts = _diff_both_ways(PINNED.format(version="1", rules=_pinned_rules(False)),
                                   PINNED.format(version="2", rules=_pinned_rules(True)))
    assert whole.regions   # R05 changed its decision
    assert len(parts) == 2
    every = {f"R{i:02d}" for i in range(12)}
    cn = {f"R{i:02d}" for i in range(0, 12, 2)}
    held = sorted(old_rules - {"<invalid>"} for old_rules, _ in parts)
    assert held == sorted([cn, every - cn]), held


def test_a_rule_reaching_a_part_through_a_reference_a_suspension_or_a_date_is_kept():
    """Rules whose own text reads only CN exports (or nothing of export_from) but that apply to
    US exports: through ``applies`` of a US rule, through an override that only subtracts, and
    through a suspension window; each must be in the US part, and the keys there must be found
    (with them left out, the US transactions they decide would be missing or keyed wrongly)."""
    head = PINNED.replace("{{", "{").replace("}}", "}").replace("{rules}", "")
    common = """
rule US1 { export_from in {US, DE} and item = magnet -> licence }
rule US2 { export_from in {US, DE} and item = oxide -> report }
rule CN1 { export_from = CN and item = metal -> licence }
rule CN2 { export_from = CN and item = alloy -> report }
rule CN3 { export_from = CN and item = oxide -> deny }
# reads export_from = CN, but also applies wherever US1 does
rule REF { effective 2025-01-01 (export_from = CN and military) or applies(US1) -> deny }
# applies everywhere outside CN: "not applies" of a CN rule, and an override of another CN rule
rule NEG { military and not applies(CN3) -> licence }
rule OVR { overrides CN1  military -> report }
"""
    suspension = """
suspension S1 { suspends REF, OVR  effective 2025-06-01  until 2025-09-01 }
"""
    old_text = head.replace("{version}", "1") + common
    new_text = head.replace("{version}", "2") + common.replace("-> deny }\n# applies everywhere", "-> licence }\n# applies everywhere") \
        + suspension
    whole, parts = _diff_both_ways(old_text, new_text)
    assert {"REF", "NEG"} <= {rid for r in whole.regions for rid in (*r.old_rules, *r.new_rules,
                                                                           *r.old_always, *r.new_always)}
    us_parts = [p for p in parts if "US1" in p[0]]
    assert us_parts, parts
    for old_rules, new_rules in us_parts:
        assert {"REF", "NEG", "OVR"} <= old_rules and {"REF", "NEG", "OVR"} <= new_rules, (old_rules, new_rules)
    assert any("CN1" not in old_rules for old_rules, _ in parts)   # the split did leave rules out


def test_the_split_is_chosen_by_counts_and_deterministic():
    """The benchmark's shape at a small scale: the cut is export_from = CN against the rest, and the
    same comparison reports byte-identically with the split forced, run after run."""
    old_text = PINNED.format(version="1", rules=_pinned_rules(False))
    new_text = PINNED.format(version="2", rules=_pinned_rules(True))
    old, new = exportdsl.compile(old_text, "<old>"), exportdsl.compile(new_text, "<new>")
    with forced_split():
        first = renderings(engine_diff(old.ir, new.ir, engine="sat"))
        again = renderings(engine_diff(old.ir, new.ir, engine="sat", workers=1))
    assert first == again


def test_choose_split_keeps_every_condition_that_may_hold_in_a_part():
    """choose_split's counts against the hulls directly: the cut minimises the larger part, and
    every condition whose hull meets a part is counted in it."""
    from exportdsl.diff.boolexpr import Store
    store = Store((4, 6))
    a = store.atom(0, [0])
    b = store.atom(0, [1, 2])
    c = store.atom(1, [0, 1, 2])
    conditions = [store.conj([a, c]), a, b, store.disj([a, b]), c, store.atom(1, [5])]
    found = split.choose_split(store, conditions, ordered={1}, min_conditions=0, max_share=1.0)
    assert found is not None
    var, (first, second) = found
    for part in (first, second):
        kept = [cond for cond in conditions if split.admits(store.hull(cond), var, part)]
        # the left-out conditions are false at every cell of the part
        for cond in set(conditions) - set(kept):
            for cell in part:
                for other in range(store.sizes[1 - var]):
                    cells = [0, 0]
                    cells[var], cells[1 - var] = cell, other
                    assert not store.holds(cond, cells)
    assert split.choose_split(store, conditions, ordered={1}, min_conditions=100) is None


def test_the_always_rules_of_the_last_parts_keys_are_proven_in_that_part():
    """The region of a key found in the last part lies in that part (the earlier parts' keys were all
    found first), so its always co-deciding rules are proven by that part's solver; the proofs are
    the unsplit search's. Regression: the part index of a key was clobbered by a loop variable, and
    no key was ever routed there."""
    routed = []
    asked = keyed.KeySearch._asked

    def recording(self, key, rules):
        search, region = asked(self, key, rules)
        routed.append(search is not self)
        return search, region
    keyed.KeySearch._asked = recording
    try:
        whole, parts = _diff_both_ways(PINNED.format(version="1", rules=_pinned_rules(False)),
                                       PINNED.format(version="2", rules=_pinned_rules(True)))
    finally:
        keyed.KeySearch._asked = asked
    assert len(parts) == 2 and any(routed), routed
