"""Exact semantic diff of two policies: the regions of transactions whose decision changes, and why.

The space of transactions is cut into finite cells (:mod:`exportdsl.partition`); each policy
becomes its rules' decisive conditions (overrides folded in) over those cells, most severe first.
A memoised search splits one variable at a time, partially evaluates both policies on every cell,
groups the cells that leave both policies in the same residual state, and stops where the two
policies provably agree (identical residual states, or the same determined outcome) or both
outcomes are determined. Leaves where the outcomes differ are the regions; they are disjoint by
construction, and adjacent regions with the same outcome are merged afterwards. No sampling: a
transaction changes decision exactly when it lies in one region.

The language has no arithmetic between facts, so every atom reads a single fact and the
partition is exact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from .. import ir
from ..records import record
from ..check import lower_condition
from ..collector import collector_paused
from .boolexpr import FALSE, TRUE, Store
from ..combining import decisive_conditions
from ..errors import Diagnostic
from ..operators import Quantifier
from .partition import (ABSENT, OTHER, PRESENT, OutOfTime, Variable, atom_cells, build_variables, check_clock,
                        constants, element_groups, signed_atom_cells)
from .regions import INVALID, Declared, DiffError, Region, dimensions
from ..semantics import MISSING
from ..types import FactType, Kind, enum_of, set_of

@record
class Budget:
    """Limits of one diff: search nodes, seconds, and the boxes one search step may hold (which bounds
    memory, merging and rendering). Exceeding any marks the result INCOMPLETE; the time limit covers
    the whole diff (past it, merging stops early: regions stay exact, only less compact)."""

    max_nodes: int = 2_000_000
    max_seconds: float = 120.0
    max_boxes: int = 20_000


class Space:
    """The variables of a comparison and the lowering of IR conditions onto them."""

    def __init__(self, facts: Mapping[str, FactType], used: Mapping[str, set], groups: Mapping[str, set],
                 deadline: float = float("inf")):
        self.facts = dict(facts)
        self.variables: list[Variable] = build_variables(self.facts, used, groups, deadline)
        self.sizes = tuple(len(v.cells) for v in self.variables)
        self.store = Store(self.sizes)
        self.deadline = deadline   # building and lowering raise OutOfTime past it
        self._lowered: dict[int, tuple] = {}
        self.index = {v.name: i for i, v in enumerate(self.variables)}
        self.by_fact: dict[str, list[int]] = {}
        self.class_of: dict[tuple[str, object], int] = {}
        self._atoms: dict[ir.Expr, int] = {}
        self._rules: dict[ir.Expr, int] = {}
        #: values -> the name of a named set holding exactly them, for conditions (see :func:`named_sets`)
        self.named_sets: dict[frozenset, str] = {}
        for i, v in enumerate(self.variables):
            self.by_fact.setdefault(v.fact, []).append(i)
            if v.is_element and v.element is not OTHER:
                for element in v.element:
                    self.class_of[(v.fact, element)] = i

    def class_vars(self, fact: str, elements) -> list[int]:
        """The class variables covering some elements of a set fact (each class lies inside or outside)."""
        return sorted({self.class_of[(fact, e)] for e in elements})

    def lower(self, expr: ir.Expr) -> int:
        """An IR condition as an expression id of :attr:`store`.

        Shared subtrees (a named condition used twice by the next one, 60 levels deep) are lowered
        once: the memo is keyed by node identity (hashing a DAG's nodes would expand it). Raises
        :class:`OutOfTime` past :attr:`deadline`, checked once per node lowered.
        """
        key = id(expr)
        found = self._lowered.get(key)
        if found is not None and found[0] is expr:
            return found[1]
        check_clock(self.deadline)
        result = self._lower(expr)
        self._lowered[key] = (expr, result)   # the node itself is kept, so that its id stays unique
        return result

    def lower_rule(self, expr: ir.Expr) -> int:
        """:meth:`lower` for a rule's whole condition, memoised by structural equality: the rules
        a new version keeps as they were (equal IR, but other objects) are lowered once."""
        found = self._rules.get(expr)
        if found is None:
            found = self._rules[expr] = self.lower(expr)
        return found

    def _lower(self, expr: ir.Expr) -> int:
        store = self.store
        match expr:
            case ir.Const(value=value):
                return TRUE if value else FALSE
            case ir.Named(body=body):
                return self.lower(body)
            case ir.Not(operand=operand):
                return store.negate(self.lower(operand))
            case ir.And(operands=ops):
                return store.conj(self._junction(ops, conjunction=True))
            case ir.Or(operands=ops):
                return store.disj(self._junction(ops, conjunction=False))
            case ir.Compare(fact=fact) | ir.Member(fact=fact):
                found = self._atoms.get(expr)   # rules share atoms: each one's cells are computed once
                if found is None:
                    var = self.by_fact[fact][0]
                    found = self._atoms[expr] = store.atom(var, atom_cells(expr, self.variables[var]))
                return found
            case ir.SetTest(fact=fact, quantifier=Quantifier.ANY_OTHER, values=values):
                # an element outside the values: a class of other mentioned elements, or an unmentioned one
                inside = set(self.class_vars(fact, values))
                return store.disj(store.atom(v, [PRESENT]) for v in self.by_fact[fact] if v not in inside)
            case ir.SetTest(fact=fact, quantifier=quantifier, values=values):
                atoms = [store.atom(v, [PRESENT]) for v in self.class_vars(fact, values)]
                return store.disj(atoms) if quantifier is Quantifier.ANY else store.conj(atoms)
            case ir.IsEmpty(fact=fact):
                return store.conj(store.atom(v, [ABSENT]) for v in self.by_fact.get(fact, []))
        raise AssertionError(f"unknown IR node {expr!r}")

    def _junction(self, ops, conjunction: bool) -> list[int]:
        """The operands of a conjunction or disjunction, lowered; atoms over one scalar fact are merged
        first (no atom per operand is stored), so that a chain of thousands stays linear."""
        parts: list[int] = []
        merged: dict[int, set] = {}
        for op in ops:
            if isinstance(op, ir.Not) and isinstance(op.operand, (ir.Compare, ir.Member)):
                atom, flip = op.operand, True
            else:
                atom, flip = op, False
            if not isinstance(atom, (ir.Compare, ir.Member)):
                parts.append(self.lower(op))
                continue
            check_clock(self.deadline)   # each operand costs up to the variable's cells: check each
            var = self.by_fact[atom.fact][0]
            negated, cells = signed_atom_cells(atom, self.variables[var])
            negated ^= flip
            current = merged.get(var)
            if current is None:
                current = merged[var] = set(range(self.sizes[var])) if conjunction else set()
            if conjunction:
                if negated:
                    current -= cells
                else:
                    current &= cells
            elif negated:
                current |= set(range(self.sizes[var])) - cells
            else:
                current |= cells
        parts.extend(self.store.atom(var, cells) for var, cells in merged.items())
        return parts


# ---- policy states -----------------------------------------------------------------------------

# A state is a tuple of entries (severity, rule_id, decision, condition), most severe first and by
# rule id within a severity, with every condition not False. Equal states decide alike everywhere
# below. Entries carry no source position, so that a rule added or removed in one version leaves
# the other rules' entries equal in both versions (and the versions' states equal where the changed
# rules are false); each version's source order is applied only to the rule ids of an outcome.

def _normal(entries) -> tuple:
    """A state from entries sorted most severe first: false ones dropped, and every tier below the
    first tier holding a rule that surely applies cut off (it can no longer change the outcome)."""
    out = []
    cut = None
    for entry in entries:
        if cut is not None and entry[0] < cut:
            break
        if entry[3] == FALSE:
            continue
        if entry[3] == TRUE and cut is None:
            cut = entry[0]
        out.append(entry)
    return tuple(out)


def _assign_state(state: tuple, var: int, cell: int, store: Store) -> tuple:
    assign = store.assign
    return _normal([(sev, rid, decision, assign(cond, var, cell)) for sev, rid, decision, cond in state])


def _outcome(state: tuple, default: str, order: Mapping[str, int]):
    """(decision, rule ids in the policy's source ``order``) when the state is determined, else None."""
    if not state:
        return (default, ())
    top = state[0][0]
    tier = [entry for entry in state if entry[0] == top]
    if all(entry[3] == TRUE for entry in tier):
        return (tier[0][2], tuple(sorted((entry[1] for entry in tier), key=order.__getitem__)))
    return None


def _blocking(state: tuple) -> list[int]:
    """Conditions that keep a state undetermined: the undecided ones of its top tier."""
    if not state:
        return []
    top = state[0][0]
    return [entry[3] for entry in state if entry[0] == top and entry[3] != TRUE]


# ---- the search ---------------------------------------------------------------------------------

class _Search:
    def __init__(self, space: Space, old: ir.Policy, new: ir.Policy, budget: Budget, deadline: float):
        self.space = space
        self.defaults = (old.default, new.default)
        self.orders = (_source_order(old), _source_order(new))
        self.memo: dict = {}
        self.nodes = 0
        self.budget = budget
        self.deadline = deadline   # the whole diff's: the attempt before the SAT search shares it
        self.complete = True

    def choose(self, old: tuple, new: tuple, guard: int) -> int:
        variables = self.space.store.vars
        counts: dict[int, int] = {}
        for cond in _blocking(old) + _blocking(new) or [guard]:
            for var in variables[cond]:
                counts[var] = counts.get(var, 0) + 1
        preferred: set[int] = set()
        for entry in set(old) ^ set(new):
            preferred |= variables[entry[3]]
        return min(counts, key=lambda v: (v not in preferred, -counts[v], self.space.variables[v].order, v))

    def explore(self, old: tuple, new: tuple, guard: int) -> list:
        if guard == FALSE or (old == new and self.defaults[0] == self.defaults[1]):
            return []
        key = (old, new, guard)
        cached = self.memo.get(key)
        if cached is not None:
            return cached
        self.nodes += 1
        if not self.complete or self.nodes > self.budget.max_nodes or time.monotonic() > self.deadline:
            self.complete = False
            return []
        o, n = _outcome(old, self.defaults[0], self.orders[0]), _outcome(new, self.defaults[1], self.orders[1])
        if o is not None and n is not None and (o == n or guard == TRUE):
            result = [] if o == n else [(frozenset(), o, n)]
        else:
            var = self.choose(old, new, guard)
            store = self.space.store
            groups: dict = {}
            for cell in range(self.space.sizes[var]):
                if cell & 255 == 255 and time.monotonic() > self.deadline:   # one variable can have 10^5 cells
                    self.complete = False
                    return []
                child = (_assign_state(old, var, cell, store), _assign_state(new, var, cell, store),
                         store.assign(guard, var, cell))
                groups.setdefault(child, []).append(cell)
            # Sub-boxes that recur under several cells of ``var`` become one box with their union.
            merged: dict[tuple, set] = {}
            for (o2, n2, g2), cells in groups.items():
                for sub in self.explore(o2, n2, g2):
                    merged.setdefault(sub, set()).update(cells)
            size = self.space.sizes[var]
            result = [(box if len(cells) == size else box | {(var, frozenset(cells))}, oo, nn)
                      for (box, oo, nn), cells in merged.items()]
            if len(result) > self.budget.max_boxes:   # too fragmented to report: keep a part, say INCOMPLETE
                self.complete = False
                result = result[:self.budget.max_boxes]
        self.memo[key] = result
        return result


# ---- comparing fact declarations ------------------------------------------------------------------

def union_facts(old: ir.Policy, new: ir.Policy) -> dict[str, FactType]:
    """The facts of both policies; enums (and sets of enums) take the union of their values."""
    facts: dict[str, FactType] = {}
    problems = []
    for name in [*old.facts, *(n for n in new.facts if n not in old.facts)]:
        a = old.facts.get(name)
        b = new.facts.get(name)
        if a is None or b is None:
            facts[name] = (a or b).type
            continue
        ta, tb = a.type, b.type
        if ta == tb:
            facts[name] = ta
            continue
        ea = ta.element if ta.is_set else ta
        eb = tb.element if tb.is_set else tb
        if ta.kind == tb.kind and ea.kind is Kind.ENUM and eb.kind is Kind.ENUM:
            values = enum_of([*ea.values, *(v for v in eb.values if v not in ea.values)])
            facts[name] = set_of(values) if ta.is_set else values
            continue
        problems.append(Diagnostic("E501", f"fact '{name}' is {ta} in the old policy but {tb} in the new one",
                                   b.span, help="a semantic diff needs the same type on both sides"))
    if problems:
        raise DiffError(problems)
    return facts


def _invalid_condition(space: Space, policy: ir.Policy):
    """Where a transaction over the union has a value the policy does not declare."""
    parts = []
    store = space.store
    for name, fact in policy.facts.items():
        own = fact.type
        for var_index in space.by_fact.get(name, []):
            variable = space.variables[var_index]
            if variable.is_element:
                element_type = own.element
                # values declared on one side only always have their own variable (see diff())
                if element_type.kind is Kind.ENUM and variable.element is not OTHER \
                        and any(e not in element_type.values for e in variable.element):
                    parts.append(store.atom(var_index, [PRESENT]))
            elif own.kind is Kind.ENUM:
                bad = frozenset(i for i, c in enumerate(variable.cells) if c is not OTHER and c not in own.values)
                parts.append(store.atom(var_index, bad))
    return store.disj(parts)


def _state(space: Space, policy: ir.Policy) -> tuple:
    conditions = decisive_conditions(policy)
    store = space.store
    entries = []
    invalid = _invalid_condition(space, policy)
    valid = store.negate(invalid)
    if invalid != FALSE:
        entries.append((len(policy.decisions), INVALID, INVALID, invalid))
    for rule in policy.rules:
        cond = store.conj([space.lower_rule(conditions[rule.id]), valid])
        entries.append((policy.severity(rule.decision), rule.id, rule.decision, cond))
    entries.sort(key=lambda e: (-e[0], e[1]))
    return _normal(entries)


def _source_order(policy: ir.Policy) -> dict[str, int]:
    """Rule id to its position in the policy (the order :meth:`Policy.decide` lists rules in)."""
    return {INVALID: -1, **{rule.id: index for index, rule in enumerate(policy.rules)}}


# ---- the public entry point -----------------------------------------------------------------------

@record(eq=False)
class DiffResult:
    """What changed from ``old`` to ``new``: structural changes, the changed rules, and one exact
    region per key of a changed transaction (see :class:`~.regions.Region`)."""

    old: ir.Policy
    new: ir.Policy
    regions: tuple[Region, ...]
    structural: tuple
    complete: bool
    lower_bound: int
    where: str | None = None
    seconds: float = 0.0
    nodes: int = 0
    changed_rules: tuple[str, ...] = ()
    detail: tuple | None = None
    engine: str = "partition"

    @property
    def changed(self) -> bool:
        """True when some transaction changes decision."""
        return bool(self.regions)

    def summary(self) -> dict[str, int]:
        """Regions per transition, ``"old → new": count``, in a stable order."""
        counts: dict[str, int] = {}
        for region in self.regions:
            key = f"{region.old} → {region.new}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def rule_summary(self) -> dict[str, int]:
        """Regions in which each changed rule decides (in either version)."""
        counts: dict[str, int] = {}
        for region in self.regions:
            for rule in sorted(set(region.old_rules) | set(region.new_rules)):
                counts[rule] = counts.get(rule, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict:
        """The whole result as JSON-ready data."""
        from .report import to_json
        return to_json(self)

    def to_text(self, color: bool = False) -> str:
        """A readable text report."""
        from .report import to_text
        return to_text(self, color=color)

    def to_markdown(self) -> str:
        """A Markdown report (for a pull-request comment)."""
        from .report import to_markdown
        return to_markdown(self)

    def to_html(self) -> str:
        """One self-contained HTML page."""
        from .report import to_html
        return to_html(self)


#: The exact partition search is tried first (it gives exact conditions) on pairs of at most this many
#: rules in all, within :data:`PARTITION_ATTEMPT` nodes and boxes; past either the SAT search runs. Both
#: limits are counts, never times, so that the engine (and so the report) does not depend on the load.
PARTITION_RULES = 400
PARTITION_ATTEMPT = Budget(max_nodes=20_000, max_boxes=2_000)

#: For pairs of more than this many rules in all, worker processes (:mod:`.workers`) prove the regions'
#: always co-deciding rules while the SAT search enumerates the keys, where ``fork`` and an idle core
#: are available; below, forking costs more than it saves. The report is the same either way.
PARALLEL_RULES = 1_500


def diff(old: ir.Policy, new: ir.Policy, *, where: ir.Expr | str | None = None,
         as_of: str | None = None, budget: Budget = Budget(), outline: bool = False,
         detail: int | None = None, engine: str = "auto", evaluators: tuple | None = None,
         workers: int | None = None) -> DiffResult:
    """Compare two checked policies exactly (optionally only where a condition holds, or on one date).

    One region per key (old decision, new decision, changed old deciders, changed new deciders).
    ``outline``: compute the outline conditions of a large report (more than
    :data:`~.assemble.OUTLINE_LIMIT` regions; smaller ones always have them). ``detail``: a region
    number (1-based) whose breakdown by the full old outcome goes to ``DiffResult.detail``.
    ``engine``: ``"auto"`` (the partition search for pairs of at most :data:`PARTITION_RULES` rules
    when it finishes within :data:`PARTITION_ATTEMPT`, else SAT), ``"partition"`` or ``"sat"``.
    ``evaluators``: the ``decide`` functions of the two policies already compiled (``Policy.decide``),
    which check the witnesses instead of compiling both policies again. ``workers``: how many worker
    processes may prove always co-deciding rules beside the SAT search (default: one per idle core,
    up to three, for pairs of more than :data:`PARALLEL_RULES` rules; 0: none). The report
    does not depend on it. The cyclic garbage collector is paused meanwhile (:mod:`exportdsl.collector`).
    """
    with collector_paused():
        return _diff(old, new, where=where, as_of=as_of, budget=budget, outline=outline, detail=detail,
                     engine=engine, evaluators=evaluators, workers=workers)


def _diff(old: ir.Policy, new: ir.Policy, *, where: ir.Expr | str | None, as_of: str | None,
          budget: Budget, outline: bool, detail: int | None, engine: str, evaluators: tuple | None,
          workers: int | None) -> DiffResult:
    """:func:`diff`, with the collector as the caller left it."""
    from .assemble import Keyer, check_witnesses, from_keys, from_partition
    from .keyed import KeySearch, OutOfBudget
    from .structure import CUT_SHORT, structural_changes

    started = time.monotonic()
    deadline = started + budget.max_seconds
    facts = union_facts(old, new)
    where_ir = _where(where, old, new, facts, as_of)
    # the constants and element groups of the conditions: a rule the new version kept as it was adds nothing
    kept = {r.id: r.condition for r in old.rules}
    exprs = [r.condition for r in old.rules] + [r.condition for r in new.rules if kept.get(r.id) != r.condition] + \
        ([where_ir] if where_ir is not None else [])
    try:
        used = constants(exprs, deadline)
        groups = element_groups(exprs, deadline)
        for name, ftype in facts.items():
            own = [p.facts[name].type for p in (old, new) if name in p.facts]
            if ftype.is_set and ftype.element.kind is Kind.ENUM and len(own) == 2 and own[0] != own[1]:
                differing = set(own[0].element.values) ^ set(own[1].element.values)
                used.setdefault(name, set()).update(differing)
            elif ftype.kind is Kind.ENUM and len(own) == 2 and own[0] != own[1]:
                used.setdefault(name, set())
        space = Space(facts, used, groups, deadline)
        space.named_sets = named_sets(new)
        guard = space.lower(where_ir) if where_ir is not None else TRUE
        sides = (_side(space, old), _side(space, new))
    except OutOfTime:   # the conditions alone outgrew the budget: nothing is known, say INCOMPLETE
        return DiffResult(old, new, (), tuple(structural_changes(old, new, deadline)), False, 0,
                          _where_text(where_ir, old, new), time.monotonic() - started, 0)
    orders = (_source_order(old), _source_order(new))
    search = KeySearch(space, *sides, deadline, budget.max_nodes)
    complete = True
    try:
        changed = _changed_rules(search, space, old, new, sides)
    except OutOfBudget:
        changed, complete = frozenset(orders[0]) | frozenset(orders[1]), False
    search.start(changed, guard)
    keyer = Keyer(space, sides, changed, guard, orders)
    dims = dimensions(space)
    declared = {name: Declared(ftype, _default(name, new, old)) for name, ftype in facts.items()}
    raw = None
    if engine == "partition" or (engine == "auto" and len(old.rules) + len(new.rules) <= PARTITION_RULES):
        attempt = budget if engine == "partition" else Budget(
            min(budget.max_nodes, PARTITION_ATTEMPT.max_nodes), budget.max_seconds,
            min(budget.max_boxes, PARTITION_ATTEMPT.max_boxes))
        partition = _Search(space, old, new, attempt, deadline)
        raw = partition.explore(_state(space, old), _state(space, new), guard)
        nodes = partition.nodes
        if not partition.complete:
            if engine == "partition":
                complete = False
            else:
                raw = None
    if raw is not None:
        regions, breakdown = from_partition(space, dims, raw, changed, declared, keyer, deadline, detail)
        check_witnesses([r.witness for r in regions], [r.key for r in regions], (old, new), changed, evaluators)
        used_engine = "partition"
    else:
        if workers is None and len(old.rules) + len(new.rules) > PARALLEL_RULES:
            from .workers import worker_count
            workers = worker_count()
        regions, breakdown, found_all = from_keys(search, space, dims, (old, new), changed, orders,
                                                  declared, keyer, outline, detail, evaluators, workers or 0)
        complete = complete and found_all
        nodes = search.calls
        used_engine = "sat"
    search.delete()
    where_text = _where_text(where_ir, old, new)
    structural = tuple(structural_changes(old, new, deadline))
    complete = complete and not any(change.kind == CUT_SHORT for change in structural)
    changed_sorted = tuple(sorted(changed & set(orders[0]), key=orders[0].__getitem__)) + tuple(
        sorted(changed - set(orders[0]), key=lambda r: orders[1].get(r, -1)))
    return DiffResult(old, new, tuple(regions), structural, complete,
                      len(regions), where_text, time.monotonic() - started, nodes, changed_sorted,
                      breakdown, used_engine)


def _where_text(where_ir, old: ir.Policy, new: ir.Policy) -> str | None:
    if where_ir is None:
        return None
    from ..render import condition_text
    return condition_text(where_ir, {**old.facts, **new.facts})


def named_sets(policy: ir.Policy) -> dict[frozenset, str]:
    """The policy's named sets of bare names (enum values, country codes) by their members, for
    writing ``destination in meu_countries`` instead of the expanded list (first declared wins)."""
    found: dict[frozenset, str] = {}
    for name, named in policy.sets.items():
        if named.members and all(m.replace("_", "").isalnum() and not m[0].isdigit() for m in named.members):
            found.setdefault(frozenset(named.members), name)
    return found


def _side(space: Space, policy: ir.Policy):
    """A version as the key search sees it: the rules' full applicability (overrides folded in) and,
    most severe, the ``<invalid>`` pseudo-rule."""
    from .keyed import Side
    conditions = decisive_conditions(policy)
    entries = []
    invalid = _invalid_condition(space, policy)
    if invalid != FALSE:
        entries.append((len(policy.decisions), INVALID, INVALID, invalid))
    entries += [(policy.severity(rule.decision), rule.id, rule.decision, space.lower_rule(conditions[rule.id]))
                for rule in policy.rules]
    return Side(tuple(entries), policy.default)


def _changed_rules(search, space: Space, old: ir.Policy, new: ir.Policy, sides) -> frozenset:
    """C: the rules present in one version only, or whose decision or applicability differs on some
    transaction both versions accept; ``<invalid>`` when the versions reject different transactions.
    When the decision line orders two shared decisions differently, every rule is changed."""
    common = [d for d in old.decisions if d in new.decisions]
    entries = [{rid: (decision, cond) for _, rid, decision, cond in side.entries} for side in sides]
    if common != [d for d in new.decisions if d in old.decisions]:
        return frozenset(entries[0]) | frozenset(entries[1])
    store = space.store
    valid = store.conj([store.negate(entries[i][INVALID][1]) for i in (0, 1) if INVALID in entries[i]])
    changed = set()
    for rid in [*entries[0], *(r for r in entries[1] if r not in entries[0])]:
        a, b = entries[0].get(rid), entries[1].get(rid)
        if rid == INVALID:
            a, b = a or (INVALID, FALSE), b or (INVALID, FALSE)
            if search.differ_somewhere(a[1], b[1], TRUE):
                changed.add(rid)
        elif a is None or b is None or a[0] != b[0] or search.differ_somewhere(a[1], b[1], valid):
            changed.add(rid)
    return frozenset(changed)


def _default(name: str, *policies: ir.Policy):
    """The default of a fact in the first policy that declares it (MISSING when required)."""
    for policy in policies:
        if name in policy.facts:
            return policy.facts[name].default
    return MISSING


def _where(where, old: ir.Policy, new: ir.Policy, facts: dict, as_of: str | None) -> ir.Expr | None:
    from ..operators import CompareOp
    from ..parser import parse_condition
    from ..semantics import valid_date

    parts = []
    if where is not None:
        if isinstance(where, str):
            where = lower_condition(parse_condition(where, "--where"), new if all(
                f in new.facts for f in old.facts) else _union_policy(old, new, facts))
        parts.append(where)
    if as_of is not None:
        dated_by = new.dated_by or old.dated_by
        if dated_by is None:
            raise DiffError(Diagnostic("E502", "--as-of needs a policy with a 'dated by' fact"))
        if not valid_date(as_of):
            raise DiffError(Diagnostic("E502", f"--as-of {as_of!r} is not a date YYYY-MM-DD"))
        parts.append(ir.Compare(dated_by, CompareOp.EQ, as_of))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ir.And(tuple(parts))


def _union_policy(old: ir.Policy, new: ir.Policy, facts: dict) -> ir.Policy:
    merged_facts = {name: ir.Fact(name, ftype) for name, ftype in facts.items()}
    return new.evolve(facts=merged_facts, conditions={**old.conditions, **new.conditions},
                        sets={**old.sets, **new.sets})
