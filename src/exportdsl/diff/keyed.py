"""The keyed diff at scale: every region key found by an incremental SAT search, and what a region shows.

A transaction's *key* is (old decision, new decision, old deciders ∩ C, new deciders ∩ C), where
C are the changed rules (see :func:`search.changed_rules`). Each version's rules (with the
``<invalid>`` pseudo-rule on top) are encoded once (:mod:`.encode`); a rule *decides* when it
applies and no rule of a more severe decision does. The solver is asked for a transaction whose
key's old half differs from its new half (its outcome changes); each model found is projected
on the literals that fix its key (each side's decision, and the changed rules of that decision:
no other rule can decide there) and a clause of their negations blocks that key, until the solver
proves that no further key exists. Only those literals and the facts' cells are read from a
model. The blocking clauses hang on one selector literal, so that later questions about one
region (its always co-deciding rules, its outline, its breakdown) can assume the region's key.

On a large comparison the enumeration runs in two parts of the space (:mod:`.split`), each with a
solver of its own holding only the rules that can apply there; the questions about one region are
asked of the solver holding every rule, so that they cover the whole region, except the always
co-deciding rules of a key found in the last part, whose region lies in that part (its solver
holds every rule that can apply there).
"""

from __future__ import annotations

import time

import attrs

from ..errors import Diagnostic
from .boolexpr import TRUE
from .encode import ENUMERATION_OPTIONS, Encoding, variable_kind
from .regions import DiffError


class OutOfBudget(Exception):
    """The time or call budget ran out (the caller reports INCOMPLETE)."""


@attrs.frozen(slots=True)
class Side:
    """One version as the search sees it: entries ``(severity, rule id, decision, condition id)``
    (the ``<invalid>`` pseudo-rule included, most severe) and the default decision."""

    entries: tuple
    default: str


@attrs.frozen(slots=True)
class Found:
    """One key: its decisions and changed deciders, the literals that fix it, and a model's cells
    (and, when asked for, the unchanged rules ``(side, rule)`` deciding in that model)."""

    old: str
    new: str
    old_changed: frozenset
    new_changed: frozenset
    assumptions: tuple
    cells: tuple
    deciding: tuple = ()
    part: int = 0   # the part of the space (:meth:`KeySearch.keys`) it was found in

    @property
    def key(self) -> tuple:
        """(old decision, new decision, old changed deciders, new changed deciders), rules as sets."""
        return self.old, self.new, self.old_changed, self.new_changed


class _SideLiterals:
    """One version's literals: each rule's applicability, each decision, and (made on demand, since
    only the changed rules' are needed for the keys) each rule's "decides" literal."""

    def __init__(self, enc: Encoding, side: Side):
        self.enc = enc
        self.applies: dict[str, int] = {}
        self._above: dict[str, int] = {}     # rule -> "a more severe rule applies" on this side
        self._decides: dict[str, int] = {}
        self.decision: dict[str, int] = {}
        self.decision_of: dict[str, str] = {}
        by_severity: dict[int, list] = {}
        for severity, rule_id, decision, condition in side.entries:
            lit = enc.literal(condition)
            self.applies[rule_id] = lit
            self.decision_of[rule_id] = decision
            by_severity.setdefault(severity, []).append((rule_id, decision, lit))
        above = -enc.true
        for severity in sorted(by_severity, reverse=True):
            rules = by_severity[severity]
            for rule_id, _, _ in rules:
                self._above[rule_id] = above
            tier = enc.disjunction(lit for _, _, lit in rules)
            self.decision[rules[0][1]] = enc.conjunction([tier, -above])
            above = enc.disjunction([above, tier])
        nothing = -above
        previous = self.decision.get(side.default)
        self.decision[side.default] = nothing if previous is None else enc.disjunction([previous, nothing])

    def decides(self, rule_id: str) -> int:
        """The literal "the rule applies and no more severe rule does" (the rule must be on this side)."""
        found = self._decides.get(rule_id)
        if found is None:
            found = self._decides[rule_id] = self.enc.conjunction([self.applies[rule_id], -self._above[rule_id]])
        return found


class _Reader:
    """The rules ``(side, rule)`` whose literal is true in a model, read at C speed (the scan runs
    once per key over every unchanged rule of the key's decision, about a thousand)."""

    def __init__(self, side: int, pairs: list[tuple[str, int]]):
        from operator import itemgetter
        self.pairs = [((side, rid), lit) for rid, lit in pairs]
        self.last = max(abs(lit) for _, lit in pairs) - 1
        self.groups = []
        for positive in (True, False):
            chosen = [(rid, abs(lit) - 1) for rid, lit in pairs if (lit > 0) == positive]
            if chosen:
                get = itemgetter(*(index for _, index in chosen))
                read = (lambda m, get=get: (get(m),)) if len(chosen) == 1 else get
                self.groups.append(([(side, rid) for rid, _ in chosen], read, (0).__lt__ if positive else (0).__gt__))

    def __call__(self, model: list[int]) -> list[tuple[int, str]]:
        from itertools import compress
        if self.last >= len(model):   # a literal the solver never saw (false)
            return [pair for pair, lit in self.pairs if Encoding.value(model, lit)]
        return [pair for pairs, read, true in self.groups for pair in compress(pairs, map(true, read(model)))]


class KeySearch:
    """The SAT search for the keys of one comparison, and per-region questions under a key."""

    def __init__(self, space, old: Side, new: Side, deadline: float, max_calls: int, part: bool = False):
        from .split import choose_split
        #: the parts the keys are searched in (:meth:`keys`): None (the whole space, also for a
        #: ``part`` search itself) or (variable, (cells, other cells))
        self.split: tuple | None = None if part else choose_split(
            space.store, [e[3] for side in (old, new) for e in side.entries],
            {var for var, v in enumerate(space.variables) if variable_kind(v) == "ordered"})
        # the solver that enumerates keys runs without inprocessing; split, this one only answers
        # the questions about one region and keeps CaDiCaL's defaults (see ENUMERATION_OPTIONS)
        self.enc = Encoding(space, None if self.split else ENUMERATION_OPTIONS)
        self.deadline = deadline
        self.max_calls = max_calls
        self.calls = 0
        self.versions = (old, new)
        self.sides = (_SideLiterals(self.enc, old), _SideLiterals(self.enc, new))
        self.changed: frozenset = frozenset()
        self.guard = TRUE
        #: the SAT solver's counters (propagations, decisions, conflicts) of the part searches, which
        #: are freed once the keys are found (:meth:`solver_stats`)
        self.part_stats: dict[str, int] = {}
        #: the search of the last part, kept after the enumeration: the region of a key found there
        #: lies in that part, which answers the questions about it (:meth:`_asked`)
        self.last_part: KeySearch | None = None
        self.key: list[tuple[int, int, str, str]] = []   # (literal, side, "decision" | "rule", name)
        #: per side: ([(decision, literal)], {decision: [(changed rule giving it, its decides literal)]})
        self.projection: list[tuple[list, dict]] = []
        self.selector = 0

    def differ_somewhere(self, a: int, b: int, within: int) -> bool:
        """Whether two expressions differ at some transaction where ``within`` holds (before :meth:`start`)."""
        enc = self.enc
        la, lb, lw = enc.literal(a), enc.literal(b), enc.literal(within)
        return la != lb and (self.solve([lw, la, -lb]) is not None or self.solve([lw, -la, lb]) is not None)

    def start(self, changed: frozenset, guard: int) -> None:
        """Fix the changed rules and the --where guard: from now on every model changes outcome."""
        enc = self.enc
        self.changed = changed
        self.guard = guard
        names = sorted(set(self.sides[0].decision) | set(self.sides[1].decision))
        for index, side in enumerate(self.sides):
            self.key += [(side.decision[n], index, "decision", n) for n in names if n in side.decision]
            self.key += [(side.decides(r), index, "rule", r) for r in sorted(changed) if r in side.applies]
            # a key is fixed by the side's decision and the changed rules giving that decision (a rule
            # decides only when its decision is the side's): the short projection of a model
            by_decision: dict[str, list[tuple[str, int]]] = {}
            for rule_id in sorted(changed):
                if rule_id in side.applies:
                    by_decision.setdefault(side.decision_of[rule_id], []).append((rule_id, side.decides(rule_id)))
            self.projection.append(([(n, side.decision[n]) for n in names if n in side.decision], by_decision))
        enc.add([enc.literal(guard)])
        enc.add(self._differs(names))
        self.selector = enc.new_literal()
        enc.add([self.selector, -self.selector])   # known to the solver even before a first key

    def _differs(self, names) -> list[int]:
        """A clause: the old half of the key differs from the new half (the outcome changes)."""
        enc = self.enc
        old, new = self.sides
        false = -enc.true
        witnesses = [self._both(old.decision.get(n, false), -new.decision.get(n, false)) for n in names]
        for rule_id in sorted(self.changed):
            a = old.decides(rule_id) if rule_id in old.applies else false
            b = new.decides(rule_id) if rule_id in new.applies else false
            witnesses += [self._both(a, -b), self._both(-a, b)]
        return witnesses

    def _both(self, a: int, b: int) -> int:
        """A literal that implies ``a`` and ``b`` (used only positively, so one direction suffices)."""
        enc = self.enc
        if a == -enc.true or b == -enc.true:
            return -enc.true
        aux = enc.new_literal()
        enc.add([-aux, a])
        enc.add([-aux, b])
        return aux

    def solve(self, assumptions, solver=None) -> list[int] | None:
        """A model under the assumptions, or None; counts against the budget. ``solver``: a part
        search's solver (:meth:`keys`), else this search's own."""
        if self.calls >= self.max_calls or time.monotonic() > self.deadline:
            raise OutOfBudget
        self.calls += 1
        solver = solver or self.enc.solver
        return solver.get_model() if solver.solve(assumptions=list(assumptions)) else None

    def key_literals(self, old: str, new: str, old_changed, new_changed) -> list[int] | None:
        """The literals that fix a key in this search (as :meth:`keys` assumes them), or None when no
        transaction of this search's space can have the key (a decision or a changed rule absent)."""
        literals = []
        for (decisions, by_decision), decision, rules in zip(self.projection, (old, new), (old_changed, new_changed)):
            lit = dict(decisions).get(decision)
            if lit is None:
                return None
            literals.append(lit)
            present = by_decision.get(decision, ())
            if not rules <= {rid for rid, _ in present}:
                return None
            literals += [lit if rid in rules else -lit for rid, lit in present]
        return literals

    def solver_stats(self) -> dict[str, int]:
        """The SAT solvers' counters so far (python-sat's ``accum_stats``: propagations, decisions,
        conflicts), this search's own and its part searches' summed (the last part's while it is kept)."""
        stats = dict(self.part_stats)
        for search in (self, self.last_part):
            if search is not None:
                for name, value in (search.enc.solver.accum_stats() or {}).items():
                    stats[name] = stats.get(name, 0) + value
        return stats

    # ---- enumeration of the keys
    def keys(self, found: list[Found], deciding: bool = False, on_found=None) -> None:
        """Append every key to ``found`` (raises :class:`OutOfBudget` with the ones found so far kept),
        calling ``on_found(key)`` (when given) on each one as it is found.

        On a large comparison the space is cut in two parts (:func:`.split.choose_split`), each
        searched by a solver holding only the rules that can apply there (a rule left out is false
        throughout the part, so each transaction keeps its key); a part's search starts with the
        keys of the parts before it blocked, so each key is found once, in the first part (in a
        fixed order) holding it. :attr:`Found.assumptions` are always this search's literals, for
        the questions about one region (:meth:`always`, :meth:`outline`, ...), which this search
        answers over the whole space (except :meth:`always` for the keys of the last part, whose
        regions lie in it: see :meth:`_asked`)."""
        from .split import admits
        store = self.enc.store
        if self.split is None:
            self._enumerate(self, found, deciding, on_found)
            return
        var, parts = self.split
        for index, cells in enumerate(parts):
            sides = [Side(tuple(e for e in side.entries if admits(store.hull(e[3]), var, cells)), side.default)
                     for side in self.versions]
            part = KeySearch(self.enc.space, *sides, self.deadline, self.max_calls, part=True)
            try:
                part.start(self.changed, store.conj([self.guard, store.atom(var, cells)]))
                for f in found:   # the keys of the parts before: blocked here
                    literals = part.key_literals(f.old, f.new, f.old_changed, f.new_changed)
                    if literals is not None:
                        part.enc.add([-part.selector, *(-lit for lit in literals)])
                if index == len(parts) - 1:
                    self.last_part = part
                self._enumerate(part, found, deciding, on_found, index)
            finally:
                if part is not self.last_part:
                    self._free(part)

    def _free(self, part: KeySearch) -> None:
        for name, value in (part.enc.solver.accum_stats() or {}).items():
            self.part_stats[name] = self.part_stats.get(name, 0) + value
        part.enc.delete()

    def delete(self) -> None:
        """Free the solvers."""
        if self.last_part is not None:
            self._free(self.last_part)
            self.last_part = None
        self.enc.delete()

    def _enumerate(self, part: KeySearch, found: list[Found], deciding: bool, on_found, part_index: int = 0) -> None:
        """:meth:`keys` in one part's search (``part``: this search, or one holding a part's rules).

        Only the literals that fix the key and the fact variables' cells are read from each model
        (with ``deciding``, also the applicability of the unchanged rules of the key's decisions:
        :attr:`Found.deciding`). Each key is blocked by a short clause: the negation of the sides'
        decision literals and of the changed rules of those decisions (the other changed rules
        cannot decide)."""
        enc = part.enc
        projection = [([(name, abs(lit) - 1, lit > 0, lit) for name, lit in decisions],
                       {d: [(rid, abs(lit) - 1, lit > 0, lit) for rid, lit in rules] for d, rules in by.items()})
                      for decisions, by in part.projection]
        unchanged: list[dict[str, list]] = [{}, {}]
        if deciding:   # a rule of the side's decision decides exactly where it applies
            for side, lits in enumerate(part.sides):
                by_decision: dict[str, list] = {}
                for rid, lit in lits.applies.items():
                    if rid not in self.changed:
                        by_decision.setdefault(lits.decision_of[rid], []).append((rid, lit))
                unchanged[side] = {d: _Reader(side, pairs) for d, pairs in by_decision.items()}
        read_cells = enc.cells_reader()   # the model covers every fact literal: the selector came after them
        solver = enc.solver
        while True:
            model = self.solve([part.selector], solver)
            if model is None:
                return
            size = len(model)
            decisions, changed, assumptions = ["", ""], (set(), set()), []
            for side, (literals, by_decision) in enumerate(projection):
                for name, index, positive, lit in literals:
                    if index < size and (model[index] > 0) == positive:
                        decisions[side] = name
                        assumptions.append(lit)
                        break
                for rid, index, positive, lit in by_decision.get(decisions[side], ()):
                    if index < size and (model[index] > 0) == positive:
                        changed[side].add(rid)
                        assumptions.append(lit)
                    else:
                        assumptions.append(-lit)
            deciders = tuple(pair for side in (0, 1) if decisions[side] in unchanged[side]
                             for pair in unchanged[side][decisions[side]](model))
            key = (decisions[0], decisions[1], frozenset(changed[0]), frozenset(changed[1]))
            own = assumptions if part is self else self.key_literals(*key)
            if own is None:   # a part's key that the whole space cannot have: a bug, never a silent skip
                raise DiffError(Diagnostic("E503", f"internal error: the key {key} found in a part of the "
                                           "space is not a key of the whole space",
                                           help="please report this with both policies; the diff is not trustworthy"))
            found.append(Found(*key, tuple(own), read_cells(model), deciders, part_index))
            if on_found is not None:
                on_found(found[-1])
            enc.add([-part.selector, *(-lit for lit in assumptions)])

    def _region(self, key: Found) -> list[int]:
        return [*key.assumptions, -self.selector]

    def _asked(self, key: Found, rules) -> tuple[KeySearch, list[int]]:
        """The search to ask about a key's region, and the assumptions that fix the region there: the
        last part's search for a key found in it (every key of the earlier parts was found before
        that part's search started, so this key's region lies in the last part; that solver holds
        fewer rules and is warm from the enumeration), when it holds every rule ``(side, rule)``
        asked about; else this search, which holds every rule."""
        part = self.last_part
        if part is not None and self.split is not None and key.part == len(self.split[1]) - 1 \
                and all(rid in part.sides[side].applies for side, rid in rules):
            literals = part.key_literals(*key.key)
            if literals is not None:
                return part, [*literals, -part.selector]
        return self, self._region(key)

    # ---- questions about one region
    def always(self, key: Found, candidates: list[tuple[int, str]], premises: list[int] = (),
               conditions: list[dict] | None = None) -> set[tuple[int, str]]:
        """The candidates ``(side, rule)`` (rules deciding at the region's witness) that apply at
        every transaction of the region. Those whose condition (``conditions[side][rule]``, a store
        expression) the ``premises`` imply (:meth:`Store.implies`; expressions holding throughout
        the region) need no solver call; for the others each question asks for a transaction where
        one of the open candidates fails, and drops the ones that fail there, until none can."""
        implied = {pair for pair in candidates
                   if conditions is not None and self.enc.store.implies(premises, conditions[pair[0]][pair[1]])}
        asked = [pair for pair in candidates if pair not in implied]
        search, region = self._asked(key, asked)
        enc = search.enc
        literal = {(side, rid): search.sides[side].applies[rid] for side, rid in asked}
        open_ = set(literal.values())
        while open_:
            if len(open_) == 1:   # one candidate: its failure is an assumption, no clause needed
                model = self.solve([*region, -next(iter(open_))], enc.solver)
            else:
                trigger = enc.new_literal()
                enc.add([-trigger, *(-lit for lit in sorted(open_))])
                model = self.solve([*region, trigger], enc.solver)
                enc.add([-trigger])
            if model is None:
                break
            open_ = {lit for lit in open_ if Encoding.value(model, lit)}
        return implied | {pair for pair, lit in literal.items() if lit in open_}

    def sometimes(self, key: Found, candidates: list[tuple[int, str]], seen: set) -> set[tuple[int, str]]:
        """The candidates ``(side, rule)`` that apply at some transaction of the region (``seen``:
        the ones known to)."""
        literal = {(side, rid): self.sides[side].applies[rid] for side, rid in candidates}
        seen = set(seen) & set(literal)
        remaining = [pair for pair in candidates if pair not in seen]
        while remaining:
            pair = remaining.pop(0)
            model = self.solve([*self._region(key), literal[pair]])
            if model is not None:
                seen.add(pair)
                seen.update(other for other in remaining if Encoding.value(model, literal[other]))
                remaining = [other for other in remaining if other not in seen]
        return seen

    def outline(self, key: Found, hull: dict[int, frozenset]) -> dict[int, frozenset]:
        """The tightest per-variable bounds of the region, for the variables of ``hull`` (cells that
        the region surely avoids outside of): for ordered variables the cells from the lowest to the
        highest possible one, for the others every possible cell."""
        enc = self.enc
        region = self._region(key)
        variables = sorted(hull)
        seen = {var: {key.cells[var]} for var in variables}

        def ask(var, literal) -> bool:
            model = self.solve([*region, literal])
            if model is None:
                return False
            for other in variables:
                seen[other].add(enc.cell(model, other))
            return True
        for var in variables:
            possible = hull[var]
            if enc.kind(var) == "ordered":
                while min(seen[var]) > min(possible) and ask(var, enc.below_literal(var, min(seen[var]))):
                    pass
                while max(seen[var]) < max(possible) and ask(var, -enc.below_literal(var, max(seen[var]) + 1)):
                    pass
                seen[var] = set(range(min(seen[var]), max(seen[var]) + 1))
                continue
            while not possible <= seen[var] and ask(var, enc.cells_literal(var, possible - seen[var])):
                pass
        return {var: frozenset(cells) for var, cells in seen.items()}

    def combinations(self, key: Found, side: int = 0) -> list[tuple[str, frozenset]]:
        """The region broken down by one version's full outcome: (decision, every deciding rule)."""
        enc, value = self.enc, Encoding.value
        lits = self.sides[side]
        decides = {rid: lits.decides(rid) for rid in lits.applies}
        projected = sorted(set(decides.values()) - {enc.true, -enc.true})
        names: dict[int, list[str]] = {}
        for rid, lit in decides.items():
            names.setdefault(lit, []).append(rid)
        breakdown = enc.new_literal()
        enc.add([breakdown, -breakdown])
        found = []
        decision = key.old if side == 0 else key.new
        while True:
            model = self.solve([*self._region(key), breakdown])
            if model is None:
                break
            true = [lit for lit in projected if value(model, lit)] + ([enc.true] if enc.true in names else [])
            found.append((decision, frozenset(rid for lit in true for rid in names[lit])))
            enc.add([-breakdown, *(-lit if value(model, lit) else lit for lit in projected)])
        enc.add([-breakdown])
        return found
