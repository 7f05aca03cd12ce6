"""Exact satisfiability over a policy's partition space: the decision procedure behind the semantic lints."""

# A policy's conditions are lowered once onto the diff's finite partition (diff.Space): every atom
# reads one fact, the cells of different variables combine freely and every cell holds a real value,
# so an expression is satisfiable exactly when some assignment of cells makes it true. Logic answers
# that by a memoised search (a disjunction split into its operands, a conjunction one variable at a
# time); Cover answers "does this box escape that union of boxes" with bit masks. Both have budgets.

from __future__ import annotations

import time

from .. import ir
from ..records import record
from ..diff.boolexpr import FALSE, TRUE
from ..combining import decisive_conditions
from ..diff.search import Space
from ..diff.partition import OutOfTime, constants, element_groups


@record
class Budget:
    """Limits of the semantic lints: search nodes per question, seconds in all, rule pairs compared."""

    max_nodes: int = 5_000
    max_seconds: float = 3.0
    max_pairs: int = 400_000


class OutOfBudget(Exception):
    """One satisfiability question needed more search nodes than its budget."""


__all__ = ["Budget", "Cover", "Logic", "OutOfBudget", "OutOfTime"]


class Cover:
    """Rule conditions as unions of boxes (their disjunctive normal forms), indexed by bit masks: for
    each variable and cell, the boxes that allow it. Decides exactly whether a box escapes a union."""

    def __init__(self, logic: Logic, exprs: list[int], max_boxes: int = 64):
        self.logic = logic
        sizes = logic.store.sizes
        self.boxes: list[dict[int, frozenset]] = []
        self.masks: list[int | None] = []   # expression -> mask of its boxes (None: too many boxes)
        self.members: list[list[int]] = []  # expression -> indices of its boxes
        for index, expr in enumerate(exprs):
            if logic.expired():
                raise OutOfTime()
            boxes = logic.boxes(expr, max_boxes)
            if boxes is None:
                self.masks.append(None)
                self.members.append([])
                continue
            mask, members = 0, []
            for box in boxes:
                mask |= 1 << len(self.boxes)
                members.append(len(self.boxes))
                self.boxes.append(box)
            self.masks.append(mask)
            self.members.append(members)
        everyone = (1 << len(self.boxes)) - 1
        self.allow = [[everyone] * size for size in sizes]
        self.constrains = [0] * len(sizes)   # variable -> boxes with an atom on it
        uses = [0] * len(sizes)
        for bit, box in enumerate(self.boxes):
            if not bit & 63 and logic.expired():
                raise OutOfTime()
            for var, cells in box.items():
                uses[var] += 1
                self.constrains[var] |= 1 << bit
                row = self.allow[var]
                for cell in range(sizes[var]):
                    if cell not in cells:
                        row[cell] &= ~(1 << bit)
        self.order = [v for v in sorted(range(len(sizes)), key=lambda v: (-uses[v], v)) if uses[v]]

    def mask(self, indices) -> int | None:
        """The boxes of some expressions, or None when one of them has too many boxes."""
        total = 0
        for index in indices:
            if self.masks[index] is None:
                return None
            total |= self.masks[index]
        return total

    def escapes_any(self, insides: list[dict[int, frozenset]], avoid: int) -> bool:
        """Whether some point of one of the boxes ``insides`` lies in none of the boxes of ``avoid``."""
        return any(self.escapes(inside, avoid) for inside in insides)

    def escapes(self, inside: dict[int, frozenset], avoid: int) -> bool:
        """Whether some point of the box ``inside`` lies in none of the boxes of the mask ``avoid`` (exact)."""
        sizes, allow, order, constrains = self.logic.store.sizes, self.allow, self.order, self.constrains
        budget = self.logic.budget.max_nodes
        memo: set[tuple[int, int]] = set()
        cells_of = [sorted(inside[v]) if v in inside else range(sizes[v]) for v in order]
        # covering[i]: boxes that hold every cell of ``inside`` on the variables from order[i] on
        covering = [0] * (len(order) + 1)
        covering[len(order)] = (1 << len(self.boxes)) - 1
        for i in range(len(order) - 1, -1, -1):
            row, whole = allow[order[i]], covering[i + 1]
            for cell in cells_of[i]:
                whole &= row[cell]
            covering[i] = whole

        def go(i: int, alive: int) -> bool:
            nonlocal budget
            if not alive:
                return True
            while i < len(order) and not alive & constrains[order[i]]:
                i += 1   # no box still in play reads this variable
            if i == len(order) or alive & covering[i] or (i, alive) in memo:
                return False   # some box still in play holds everything that remains
            budget -= 1
            if budget < 0:
                raise OutOfBudget()
            row = allow[order[i]]
            for rest in sorted({alive & row[cell] for cell in cells_of[i]}, key=int.bit_count):
                if go(i + 1, rest):
                    return True
            memo.add((i, alive))
            return False

        return go(0, avoid)


class Logic:
    """A policy's rule and named conditions as expressions of one store, with exact satisfiability."""

    def __init__(self, policy: ir.Policy, budget: Budget = Budget()):
        self.policy = policy
        self.budget = budget
        self.deadline = time.monotonic() + budget.max_seconds
        exprs = [rule.condition for rule in policy.rules] + list(policy.conditions.values())
        facts = {name: fact.type for name, fact in policy.facts.items()}
        # building the space and lowering raise OutOfTime past the deadline (see RuleLinter.run)
        self.space = Space(facts, constants(exprs, self.deadline), element_groups(exprs, self.deadline),
                           self.deadline)
        self.store = self.space.store
        lower = self.space.lower
        self.when = {rule.id: lower(rule.when) for rule in policy.rules}
        self.condition = {rule.id: lower(rule.condition) for rule in policy.rules}
        decisive = decisive_conditions(policy)
        self.decisive = {rule.id: (self.condition[rule.id] if decisive[rule.id] is rule.condition
                                   else lower(decisive[rule.id])) for rule in policy.rules}
        self.named = {name: lower(expr) for name, expr in policy.conditions.items()}
        self._unsat: set[int] = set()
        self._sat: set[int] = set()
        self._nodes = 0
        self._hulls: dict[int, dict[int, frozenset]] = {}

    # ---- questions
    def expired(self) -> bool:
        """True once the overall time budget is spent."""
        return time.monotonic() > self.deadline

    def remaining(self) -> float:
        """Seconds left before the deadline (0 when past it)."""
        return max(0.0, self.deadline - time.monotonic())

    def sat(self, expr: int) -> bool:
        """Whether some transaction satisfies ``expr``; raises :class:`OutOfBudget` past the node budget."""
        self._nodes = 0
        return self._search(expr)

    def implies(self, a: int, b: int) -> bool:
        """Whether every transaction satisfying ``a`` satisfies ``b``."""
        if b == TRUE or a == FALSE or a == b:
            return True
        hull_a, box_a = self.hull(a), self.is_box(a)
        for var, cells in self.hull(b).items():
            if var not in hull_a or not hull_a[var] <= cells:
                if box_a:
                    return False   # a box is satisfiable everywhere inside it
                break
        else:
            if self.is_box(b):
                return True
        return not self.sat(self.store.conj([a, self.store.negate(b)]))

    def may_overlap(self, a: int, b: int) -> bool:
        """A cheap necessary condition for ``a and b`` to be satisfiable (their top-level atoms meet)."""
        hull_a, hull_b = self.hull(a), self.hull(b)
        if len(hull_b) < len(hull_a):
            hull_a, hull_b = hull_b, hull_a
        return all(cells & hull_b[var] for var, cells in hull_a.items() if var in hull_b)

    def is_box(self, expr: int) -> bool:
        """True when ``expr`` is one atom or a conjunction of atoms (on distinct variables)."""
        node = self.store.nodes[expr]
        if node[0] == "atom":
            return True
        return node[0] == "and" and all(self.store.nodes[c][0] == "atom" for c in node[1])

    def hull(self, expr: int) -> dict[int, frozenset]:
        """The top-level atoms of ``expr``, variable to cells: every satisfying assignment lies inside them."""
        found = self._hulls.get(expr)
        if found is None:
            node = self.store.nodes[expr]
            found = {}
            if node[0] == "atom":
                found = {node[1]: node[2]}
            elif node[0] == "and":
                for child in node[1]:
                    cnode = self.store.nodes[child]
                    if cnode[0] == "atom":
                        found[cnode[1]] = cnode[2]
            self._hulls[expr] = found
        return found

    def boxes(self, expr: int, cap: int) -> list[dict[int, frozenset]] | None:
        """``expr`` as a union of boxes (variable to cells, every variable's cells non-empty), or None
        past ``cap`` boxes."""
        nodes = self.store.nodes
        node = nodes[expr]
        kind = node[0]
        if kind == "false":
            return []
        if kind == "true":
            return [{}]
        if kind == "atom":
            return [{node[1]: node[2]}]
        parts = []
        for child in node[1]:
            found = self.boxes(child, cap)
            if found is None:
                return None
            parts.append(found)
        if kind == "or":
            result = [box for part in parts for box in part]
            return result if len(result) <= cap else None
        result = [{}]
        for part in sorted(parts, key=len):
            merged = []
            for left in result:
                for right in part:
                    box = dict(left)
                    for var, cells in right.items():
                        box[var] = box[var] & cells if var in box else cells
                        if not box[var]:
                            break
                    else:
                        merged.append(box)
            if len(merged) > cap:
                return None
            result = merged
            if not result:
                break
        return result

    def holds(self, expr: int, point: dict[int, int]) -> bool:
        """Whether ``expr`` is true at a point that assigns a cell to each of its variables."""
        node = self.store.nodes[expr]
        kind = node[0]
        if kind == "atom":
            return point[node[1]] in node[2]
        if kind == "and":
            return all(self.holds(child, point) for child in node[1])
        if kind == "or":
            return any(self.holds(child, point) for child in node[1])
        return kind == "true"

    def witness(self, expr: int) -> dict[int, int] | None:
        """Cells of some variables that make ``expr`` true whatever the others are, or None when unsatisfiable."""
        self._nodes = 0
        return self._witness(expr)

    def _witness(self, expr: int) -> dict[int, int] | None:
        if expr == TRUE:
            return {}
        if not self._search(expr):
            return None
        node = self.store.nodes[expr]
        if node[0] == "atom":
            return {node[1]: min(node[2])}
        if node[0] == "or":
            for child in node[1]:
                if self._search(child):
                    return self._witness(child)
        var = self._choose(node[1])
        for cell in self._cells(node[1], var):
            child = self.store.assign(expr, var, cell)
            if self._search(child):
                found = self._witness(child)
                found[var] = cell
                return found
        raise AssertionError("satisfiable but no witness")

    # ---- the search
    def _search(self, expr: int) -> bool:
        if expr == TRUE or expr in self._sat:
            return True
        if expr == FALSE or expr in self._unsat:
            return False
        self._nodes += 1
        if self._nodes > self.budget.max_nodes:
            raise OutOfBudget()
        store = self.store
        node = store.nodes[expr]
        if node[0] == "atom":
            found = True
        elif node[0] == "or":
            found = any(self._search(child) for child in node[1])
        else:
            found = False
            var = self._choose(node[1])
            tried: set[int] = set()
            for cell in self._cells(node[1], var):
                child = store.assign(expr, var, cell)
                if child in tried:
                    continue
                tried.add(child)
                if self._search(child):
                    found = True
                    break
        (self._sat if found else self._unsat).add(expr)
        return found

    def _choose(self, children) -> int:
        """The variable to split a conjunction on: that of an atom operand, else the most shared one."""
        nodes, variables = self.store.nodes, self.store.vars
        counts: dict[int, int] = {}
        for child in children:
            if nodes[child][0] == "atom":
                return nodes[child][1]
            for var in variables[child]:
                counts[var] = counts.get(var, 0) + 1
        return max(counts, key=lambda v: (counts[v], -v))

    def _cells(self, children, var: int):
        """The cells worth trying for ``var`` (those its atom operand allows, if any)."""
        nodes = self.store.nodes
        for child in children:
            node = nodes[child]
            if node[0] == "atom" and node[1] == var:
                return sorted(node[2])
        return range(self.store.sizes[var])
