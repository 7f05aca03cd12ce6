"""Regions from keys: the exact partition search's boxes grouped by key, or the SAT search's keys
with their witnesses, always co-deciding rules and outlines; and the run-time check of every witness.

A key is (old decision, new decision, old deciders ∩ C, new deciders ∩ C) with the rule ids in
each version's source order (C: the changed rules). :class:`Keyer` computes the key of one
transaction directly on the partition cells, which is how a region decides membership.
"""

from __future__ import annotations

import time

from ..backends.python import compile_policy
from ..errors import Diagnostic, EvaluationError
from .keyed import OutOfBudget
from .partition import cell_of
from .regions import INVALID, DiffError, Region, Witnesses, box_text, dimension_box, make_region

#: Reports with at most this many regions get outline conditions without being asked.
OUTLINE_LIMIT = 200


class Keyer:
    """The key of a (canonical) transaction, or None when its outcome does not change (or --where fails)."""

    def __init__(self, space, sides, changed: frozenset, guard: int, orders):
        self.space, self.sides, self.changed, self.guard, self.orders = space, sides, changed, guard, orders

    def outcome(self, side: int, cells, memo: dict) -> tuple[str, tuple[str, ...]]:
        """(decision, every deciding rule in source order) of one version at the cells."""
        holds = self.space.store.holds
        applicable = [(sev, rid, dec) for sev, rid, dec, cond in self.sides[side].entries if holds(cond, cells, memo)]
        if not applicable:
            return self.sides[side].default, ()
        top = max(sev for sev, _, _ in applicable)
        deciders = [(rid, dec) for sev, rid, dec in applicable if sev == top]
        return deciders[0][1], tuple(sorted((rid for rid, _ in deciders), key=self.orders[side].__getitem__))

    def __call__(self, facts) -> tuple | None:
        cells = [cell_of(variable, facts) for variable in self.space.variables]
        memo: dict = {}
        if not self.space.store.holds(self.guard, cells, memo):
            return None
        return key_of(self.outcome(0, cells, memo), self.outcome(1, cells, memo), self.changed)


def key_of(old: tuple, new: tuple, changed) -> tuple | None:
    """The key of two outcomes (decision, deciders in source order); None when they are the same."""
    old_part = (old[0], tuple(r for r in old[1] if r in changed))
    new_part = (new[0], tuple(r for r in new[1] if r in changed))
    return None if old_part == new_part else (old_part[0], new_part[0], old_part[1], new_part[1])


# ---- the exact partition search, grouped by key --------------------------------------------------------

def merge_boxes(regions: list, sizes, deadline: float = float("inf")) -> list:
    """Merge regions (frozenset boxes of ``(dimension, cells)``) with the same outcome whose boxes
    differ in one dimension only, until none do (or the deadline passes: unmerged boxes are still exact)."""
    regions = list(dict.fromkeys(regions))
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        dims = sorted({d for box, _ in regions for d, _ in box})
        for dim in dims:
            buckets: dict[tuple, list] = {}
            for box, key in regions:
                own = next((item for item in box if item[0] == dim), None)
                rest = box - {own} if own is not None else box
                buckets.setdefault((rest, key), []).append(own)
            if len(buckets) == len(regions):
                continue
            changed = True
            regions = []
            for (rest, key), owns in buckets.items():
                if any(own is None for own in owns):
                    regions.append((rest, key))
                    continue
                union = frozenset().union(*(own[1] for own in owns))
                regions.append((rest if len(union) == sizes[dim] else rest | {(dim, union)}, key))
    return regions


def _co_deciding(combos, changed, index: int, order: dict[str, int]) -> tuple[tuple, tuple]:
    """(always, sometimes): unchanged deciders of every / of only some of the combinations, each in
    the policy's own rule order (``order``), as the SAT search lists them. (Sorting by a rule's place
    within some combination, which depends on which combinations occur, once listed R1, R3, R2.)"""
    sets = [{r for r in combo[index] if r not in changed} for combo in combos]
    always = set.intersection(*sets)
    sometimes = set.union(*sets) - always
    return tuple(sorted(always, key=order.__getitem__)), tuple(sorted(sometimes, key=order.__getitem__))


def from_partition(space, dims, raw, changed, declared, keyer, deadline, detail):
    """Regions from the partition search's boxes (full outcomes) grouped by key: exact conditions,
    and always / sometimes co-deciding rules from the full outcomes met in each region."""
    boxes: list = []
    combos: dict[tuple, set] = {}
    for box, o, n in raw:
        key = key_of(o, n, changed)
        if key is None:
            continue
        boxes.append((frozenset(dimension_box(dims, dict(box)).items()), key))
        combos.setdefault(key, set()).add((o[1], n[1]))
    merged = merge_boxes(boxes, tuple(d.size for d in dims), deadline)
    by_key: dict = {}
    for box, key in merged:
        by_key.setdefault(key, []).append(dict(box))
    regions = []
    for number, key in enumerate(sorted(by_key)):
        found = sorted(combos[key])
        old_always, old_sometimes = _co_deciding(found, changed, 0, keyer.orders[0])
        new_always, new_sometimes = _co_deciding(found, changed, 1, keyer.orders[1])
        regions.append(make_region(space, dims, by_key[key], (key[0], key[2]), (key[1], key[3]), declared,
                                   old_always=old_always, new_always=new_always, old_sometimes=old_sometimes,
                                   new_sometimes=new_sometimes, keyer=keyer, variant=number))
    breakdown = None
    if detail is not None:
        key = _detail_key(regions, detail).key
        breakdown = tuple({"old": key[0], "old_rules": list(rules)} for rules in sorted({c[0] for c in combos[key]}))
    return regions, breakdown


def _detail_key(regions, detail: int) -> Region:
    if not 1 <= detail <= len(regions):
        raise DiffError(Diagnostic("E504", f"--detail {detail}: the diff has {len(regions)} region(s)",
                               help="give the number of a region of the report, counting from 1"))
    return regions[detail - 1]


# ---- the SAT search's keys -------------------------------------------------------------------------------

def _point_box(dims, cells) -> dict:
    box = {}
    for index, dim in enumerate(dims):
        if dim.is_set:
            box[index] = frozenset([sum(cells[v] << bit for bit, v in enumerate(dim.vars))])
        else:
            box[index] = frozenset([cells[dim.vars[0]]])
    return box


def _hull(space, key: tuple, conditions) -> dict:
    """The variables that the region's changed deciders read, each with the cells those rules allow
    (the region lies inside: each rule applies on its side)."""
    store = space.store
    hull: dict = {}
    for side, rules in ((0, key[2]), (1, key[3])):
        for rid in rules:
            if rid == INVALID:
                continue
            cond = conditions[side][rid]
            for var in store.vars[cond]:
                hull.setdefault(var, frozenset(range(len(space.variables[var].cells))))
            for var, cells in store.hull(cond).items():
                hull[var] = hull[var] & cells
    return hull


def from_keys(search, space, dims, policies, changed, orders, declared, keyer, outline: bool, detail,
              decides: tuple | None = None, workers: int = 0):
    """Regions from every key the SAT search finds: a witness from the key's model, checked through
    both compiled evaluators (``decides``, else compiled here); the always co-deciding rules proven
    under the key among those deciding at the witness; outlines for reports of at most
    :data:`OUTLINE_LIMIT` regions or on request, sometimes co-deciding rules on request.
    With ``workers`` > 0, that many worker processes prove the always co-deciding rules while the
    keys are being enumerated (:func:`keys_with_proofs`).
    Returns (regions, breakdown, complete)."""
    conditions = [{rid: cond for _, rid, _, cond in side.entries} for side in keyer.sides]
    if workers > 0:
        found, proven, complete = keys_with_proofs(search, conditions, keyer.guard, workers)
    else:
        found, proven, complete = [], {}, True
        try:
            search.keys(found)
        except OutOfBudget:
            complete = False

    def ordered(rules, side):
        return tuple(sorted(rules, key=orders[side].__getitem__))
    keyed = sorted(((f.old, f.new, ordered(f.old_changed, 0), ordered(f.new_changed, 1)), f) for f in found)
    make_witness = Witnesses(space, dims)
    witnesses = [make_witness(_point_box(dims, f.cells), number) for number, (_, f) in enumerate(keyed)]
    outcomes = check_witnesses(witnesses, [key for key, _ in keyed], policies, changed, decides)
    unchanged = [[rule for rule in policy.rules if rule.id not in changed] for policy in policies]
    shown = outline or len(keyed) <= OUTLINE_LIMIT
    regions = []
    for number, ((key, f), outcome) in enumerate(zip(keyed, outcomes)):
        # the unchanged rules deciding at the witness: the candidates for deciding throughout
        at_witness = [(side, rid) for side in (0, 1) for rid in outcome[side][1] if rid not in changed]
        # those implied by the conditions of the region's changed deciders (and --where) decide
        # throughout without a question to the solver; the others are asked
        premises = _premises(conditions, f, keyer.guard)
        always, sometimes, condition, known = set(), set(), "", False
        try:
            # a worker proved them for the rules deciding in the key's model: the same as at the witness
            proof = proven.get(f.key)
            if proof is None or set(f.deciding) != set(at_witness):
                proof = search.always(f, at_witness, premises, conditions)
            always = proof
            if outline:
                every = [(side, rule.id) for side in (0, 1) for rule in unchanged[side] if rule.decision == key[side]]
                sometimes = search.sometimes(f, every, set(at_witness)) - always
            if shown:
                bounds = {v: c for v, c in search.outline(f, _hull(space, key, conditions)).items()
                          if len(c) < len(space.variables[v].cells)}
                condition = box_text(space, dims, dimension_box(dims, bounds))
            known = outline
        except OutOfBudget:
            complete = False

        def side_of(pairs, side):
            return ordered((rid for s, rid in pairs if s == side), side)
        regions.append(Region(
            key[0], key[1], key[2], key[3], condition, witnesses[number],
            old_always=side_of(always, 0), new_always=side_of(always, 1),
            old_sometimes=side_of(sometimes, 0), new_sometimes=side_of(sometimes, 1),
            sometimes_known=known, exact=False, space=space, dims=tuple(dims), declared=declared, keyer=keyer))
    breakdown = None
    if detail is not None:
        region = _detail_key(regions, detail)
        f = next(f for key, f in keyed if key == region.key)
        try:
            combos = search.combinations(f, 0)
        except OutOfBudget:
            combos, complete = [], False
        breakdown = tuple({"old": d, "old_rules": list(ordered(rules, 0))}
                          for d, rules in sorted(combos, key=lambda c: (c[0], ordered(c[1], 0))))
    return regions, breakdown, complete


def _premises(conditions, found, guard: int) -> list[int]:
    """Expressions that hold throughout a key's region: its changed deciders' conditions and --where."""
    return [conditions[side][rid] for side, rules in ((0, found.old_changed), (1, found.new_changed))
            for rid in sorted(rules)] + [guard]


#: Keys a worker proves at a time (:func:`keys_with_proofs`): enough to make pickling them cheap
#: against the proofs, few enough that the workers keep pace with the enumeration.
PROOF_BATCH = 24

_proving: tuple = ()   # in a worker: (search, conditions, guard), set by _start_prover


def _start_prover(search, conditions, guard) -> None:
    global _proving
    _proving = (search, conditions, guard)


def _prove(batch: list) -> tuple[list, int]:
    """In a worker: the always co-deciding rules of each key of the batch among the rules deciding in
    its model (None from the first key past the budget on), and the solver calls they took."""
    return _prove_with(_proving, batch)


def _prove_with(proving: tuple, batch: list) -> tuple[list, int]:
    search, conditions, guard = proving
    start, proofs = search.calls, []
    try:
        for found in batch:
            proofs.append(search.always(found, list(found.deciding), _premises(conditions, found, guard), conditions))
    except OutOfBudget:
        proofs += [None] * (len(batch) - len(proofs))
    return proofs, search.calls - start


def keys_with_proofs(search, conditions, guard: int, workers: int) -> tuple[list, dict, bool]:
    """Every key, enumerated here as :meth:`KeySearch.keys` does alone, while ``workers`` processes
    forked from the search (:mod:`.workers`) prove the always co-deciding rules of the keys found
    so far (their answer does not depend on the solver's state, so neither does the report).
    Returns (the keys, {key: always co-deciding (side, rule) pairs}, complete); ``search.calls``
    counts the workers' calls too, and the call budget holds for their sum. A failed worker is E505."""
    from .workers import Pool, WorkerFailed

    pool = Pool(workers, _prove, _start_prover, (search, conditions, guard))
    found: list = []
    batches: list[list] = []
    complete = True

    def offer(key) -> None:
        batch = batches[-1] if batches and len(batches[-1]) < PROOF_BATCH else None
        if batch is None:
            batches.append(batch := [])
        batch.append(key)
        if len(batch) == PROOF_BATCH:
            pool.submit(batch)
    try:
        try:
            search.keys(found, deciding=True, on_found=offer)
        except OutOfBudget:
            complete = False
        if batches and len(batches[-1]) < PROOF_BATCH:
            pool.submit(batches[-1])
        # the batches no worker has started yet are proven here meanwhile, last first (after the keys
        # this solver has learned much about the formula, and proves faster than a worker)
        here = {}
        while (index := pool.take_back()) is not None:
            here[index] = _prove_with((search, conditions, guard), batches[index])
            search.calls -= here[index][1]   # counted with the workers' below
        answers = [here.get(index, answer) for index, answer in enumerate(pool.results(search.deadline))]
    except WorkerFailed as exc:
        raise DiffError(Diagnostic("E505", f"internal error: {exc}",
                                   help="please report this with both policies; no partial report is given"))
    finally:
        pool.close()
    proven = {}
    for batch, answer in zip(batches, answers):
        if answer is None:   # unanswered by the deadline: those keys' proofs are tried here, in budget
            continue
        proofs, calls = answer
        search.calls += calls
        proven.update((f.key, pairs) for f, pairs in zip(batch, proofs) if pairs is not None)
    return found, proven, complete and search.calls <= search.max_calls


# ---- the run-time check of the witnesses -------------------------------------------------------------------

#: Without the caller's compiled evaluators, up to this many witnesses are checked by the reference
#: interpreter; more, and both policies are compiled first. Compiling costs about as much as
#: interpreting a few dozen transactions (both grow with the policy), and it is not bounded by the
#: diff's budget: a diff out of time with one region of a 30,000-operand rule spent 4 s compiling.
INTERPRET_WITNESSES = 32


def check_witnesses(witnesses, keys, policies, changed, decides: tuple | None = None) -> list[tuple]:
    """Run every witness through both versions' evaluators: ``decides`` (the policies' compiled
    ``decide`` functions) when the caller has them, else the reference interpreter for a few
    witnesses or evaluators compiled here for many. Each witness must give its key, else E503.
    Returns each witness's two outcomes ``(decision, deciding rules)``."""
    if not witnesses:
        return []
    if decides is None and len(witnesses) <= INTERPRET_WITNESSES:
        from functools import partial

        from ..backends.interpreter import evaluate
        decides = tuple(partial(evaluate, p) for p in policies)
    elif decides is None:
        decides = tuple(compile_policy(p).decide for p in policies)
    evaluators = [(decide, frozenset(p.facts)) for decide, p in zip(decides, policies)]

    def outcome(decide, facts, tx):
        try:
            return decide({k: v for k, v in tx.items() if k in facts})
        except EvaluationError as exc:
            if all(d.code == "E303" for d in exc.diagnostics):
                return INVALID, (INVALID,)
            raise
    outcomes = []
    for index, (tx, key) in enumerate(zip(witnesses, keys), 1):
        both = tuple(outcome(decide, facts, tx) for decide, facts in evaluators)
        got = key_of(*both, changed)
        if got != key:
            raise DiffError(Diagnostic("E503", f"internal error: the witness of region {index} does not give its "
                                   f"key ({got} instead of {key})",
                                   help="please report this with both policies; the diff is not trustworthy"))
        outcomes.append(both)
    return outcomes
