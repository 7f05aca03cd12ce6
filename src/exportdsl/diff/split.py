"""Splitting the keyed diff's space into parts, each searched by a SAT solver holding only the rules
that can apply there.

Every solve of the key search (:mod:`.keyed`) assigns every variable of its formula, so its cost
grows with the rules encoded. A rule whose condition pins a variable (``export_from = CN``) is
false wherever that variable lies elsewhere: in a part of the space where the variable lies in
other cells, the rule can be left out of the formula without changing any transaction's outcome
there. So the space is cut on one variable into two parts, and each part's solver encodes only
the rules whose condition's hull (:meth:`.boolexpr.Store.hull`: the cells outside which the
condition is surely false, read off its structure after overrides, ``applies``, suspensions and
dates are folded in) meets the part.

Sound by construction: a rule left out of a part is false at every transaction of that part, in
its version, so each part's formula gives every transaction of the part the same outcome (and
key) as the whole formula. The split is chosen by counting rules only (never by time), so the
same pair of policies always gets the same parts.

Measured on the benchmark's 2,000-rule pair (5 % changed, 98 changed rules), the cut is
``export_from = CN`` / ``export_from != CN``: 1,023 and 941 of the 1,909 unchanged rules. Leaving
out instead the unchanged rules that cannot apply together with any changed rule (the "cone" of
the changed rules, by the same hulls) removed none of the 1,909 there: each changed rule can
co-apply with a third of the rules on average, and together they reach all of them.
"""

from __future__ import annotations

#: Split only a comparison whose two versions hold at least this many distinct rule conditions:
#: below, a solver over the whole formula is cheap, and a second one costs more than it saves.
SPLIT_MIN_CONDITIONS = 300

#: Split only when the larger part keeps at most this fraction of the conditions.
SPLIT_MAX_SHARE = 0.75


def admits(hull: dict, var: int, cells: frozenset) -> bool:
    """Whether a condition with this hull may hold somewhere the variable lies in ``cells``."""
    allowed = hull.get(var)
    return allowed is None or not allowed.isdisjoint(cells)


def choose_split(store, conditions, ordered: set[int], min_conditions: int | None = None,
                 max_share: float | None = None) -> tuple[int, tuple[frozenset, frozenset]] | None:
    """The variable and its two cell sets that cut the space so that the larger part keeps the fewest
    of the ``conditions`` (store expressions), or None when no cut keeps at most ``max_share``
    (default :data:`SPLIT_MAX_SHARE`) of them, or there are fewer than ``min_conditions`` (default :data:`SPLIT_MIN_CONDITIONS`). ``ordered``: the variables in order encoding,
    cut into lower and upper cells; any other variable is cut into one cell and the rest. Ties go
    to the lowest variable, then the lowest cell, so the choice is deterministic."""
    unique = sorted(set(conditions))
    if len(unique) < max(SPLIT_MIN_CONDITIONS if min_conditions is None else min_conditions, 1):
        return None
    hulls = [store.hull(c) for c in unique]
    by_var: dict[int, list[frozenset]] = {}
    for hull in hulls:
        for var, cells in hull.items():
            by_var.setdefault(var, []).append(cells)
    total = len(unique)
    best = None
    for var in sorted(by_var):
        pinned = by_var[var]
        free = total - len(pinned)   # conditions that do not constrain the variable: in both parts
        for cut, first, second in _cuts(pinned, store.sizes[var], var in ordered):
            score = (free + max(first, second), 2 * free + first + second)
            if best is None or score < best[0]:
                best = (score, var, cut)
    if best is None or best[0][0] > (SPLIT_MAX_SHARE if max_share is None else max_share) * total:
        return None
    return best[1], best[2]


def _cuts(pinned: list[frozenset], size: int, ordered: bool):
    """Each cut of one variable ``(cells, other cells)`` with the number of the ``pinned`` cell sets
    (the conditions constraining the variable) that meet each side, counted in one pass per cut
    kind: an ordered variable is cut between two cells, any other one around one cell."""
    every = frozenset(range(size))
    if ordered:
        lowest = [0] * size    # per cell: the pinned sets whose lowest cell it is
        highest = [0] * size
        for cells in pinned:
            lowest[min(cells)] += 1
            highest[max(cells)] += 1
        below = 0                     # sets with a cell <= high
        above = len(pinned)           # sets with a cell > high
        for high in range(size - 1):
            below += lowest[high]
            above -= highest[high]
            low = frozenset(range(high + 1))
            yield (low, every - low), below, above
        return
    holding = [0] * size       # per cell: the pinned sets holding it
    only = [0] * size          # per cell: the pinned sets holding it alone
    for cells in pinned:
        for cell in cells:
            holding[cell] += 1
        if len(cells) == 1:
            only[next(iter(cells))] += 1
    for cell in range(size if size > 2 else 1):
        one = frozenset([cell])
        yield (one, every - one), holding[cell], len(pinned) - only[cell]
