"""Regions of a semantic diff: per-fact constraints, their policy-syntax text, and witness transactions.

The search works on partition variables; a region is reported per *fact* (a :class:`Dimension`):
a scalar fact's constraint is a set of its cells, a set fact's constraint is a set of assignments
of its element classes (a truth table), so that ``elements contains any {Sm, Gd}`` stays one
constraint instead of a disjunction of boxes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ..records import field, record
from .partition import OTHER, PRESENT, Interval, Variable, cell_of, other_value, representative
from ..errors import Error
from ..render import set_text, value_text
from ..semantics import MISSING, validate_facts
from ..types import COUNTRY_CODES, FactType, Kind

#: The outcome of a policy whose facts are outside its declared values (the other version may decide).
INVALID = "<invalid>"


class DiffError(Error):
    """Two policies that cannot be compared (incompatible fact types, a bad --where, a bad --detail),
    or an internal inconsistency found by checking a witness (E503)."""


#: A set fact with more element classes than this is reported class by class.
MAX_CLASSES_PER_DIMENSION = 10


@record
class Dimension:
    """One fact's share of the space: its variables and the number of cells of its joint domain."""

    fact: str
    vars: tuple[int, ...]
    size: int
    is_set: bool


def dimensions(space) -> list[Dimension]:
    """The dimensions of a diff space, in fact declaration order."""
    dims: list[Dimension] = []
    for fact, ftype in space.facts.items():
        var_indices = tuple(space.by_fact.get(fact, ()))
        if not var_indices:
            continue
        if not ftype.is_set:
            dims.append(Dimension(fact, var_indices, space.sizes[var_indices[0]], False))
        elif len(var_indices) <= MAX_CLASSES_PER_DIMENSION:
            dims.append(Dimension(fact, var_indices, 1 << len(var_indices), True))
        else:
            dims.extend(Dimension(fact, (v,), 2, True) for v in var_indices)
    return dims


def dimension_box(dims: list[Dimension], box: Mapping[int, frozenset]) -> dict[int, frozenset]:
    """A search box (variable -> cells) as a region box (dimension -> cells of its joint domain)."""
    result: dict[int, frozenset] = {}
    for index, dim in enumerate(dims):
        if not any(v in box for v in dim.vars):
            continue
        if not dim.is_set:
            result[index] = box[dim.vars[0]]
            continue
        allowed = [(bit, box[v]) for bit, v in enumerate(dim.vars) if v in box]
        result[index] = frozenset(a for a in range(dim.size)
                                  if all(((a >> bit) & 1) in cells for bit, cells in allowed))
    return result


def _cell_in(space, dim: Dimension, facts: Mapping) -> int:
    if not dim.is_set:
        return cell_of(space.variables[dim.vars[0]], facts)
    return sum(cell_of(space.variables[v], facts) << bit for bit, v in enumerate(dim.vars))


@record(eq=False)
class Region:
    """The transactions whose outcome changes with one key: (``old``, ``new``, ``old_rules``,
    ``new_rules``), where ``old_rules``/``new_rules`` are the *changed* rules among the deciders
    on each side (rules added, removed, or whose decision or applicability differs).

    ``old_always``/``new_always``: unchanged rules that co-decide at every transaction of the
    region; ``old_sometimes``/``new_sometimes``: those that co-decide at only some of them (empty
    when not computed, see ``sometimes_known``). ``condition`` is policy syntax (it parses back as
    a condition): exact when ``exact``, otherwise an *outline* (the tightest per-fact bounds, a
    superset of the region; "" when not computed); membership (:meth:`matches`) is always exact,
    through the key. ``alternatives`` lists an exact condition's disjoint parts after the shared
    ``common`` constraints, for display.
    """

    old: str
    new: str
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]
    condition: str
    witness: dict
    common: str = ""
    alternatives: tuple[str, ...] = ()
    old_always: tuple[str, ...] = ()
    new_always: tuple[str, ...] = ()
    old_sometimes: tuple[str, ...] = ()
    new_sometimes: tuple[str, ...] = ()
    sometimes_known: bool = True
    exact: bool = True
    boxes: tuple = field(default=(), repr=False)
    space: object = field(default=None, repr=False)   # diff.Space
    dims: tuple = field(default=(), repr=False)
    declared: Mapping = field(factory=dict, repr=False)
    keyer: object = field(default=None, repr=False)   # facts -> key of a changed transaction, or None

    @property
    def key(self) -> tuple:
        """(old decision, new decision, old changed deciders, new changed deciders)."""
        return (self.old, self.new, self.old_rules, self.new_rules)

    def matches(self, facts: Mapping) -> bool:
        """Whether a transaction (over the union of both policies' facts; defaults apply) lies here."""
        declared = self.declared
        canonical = validate_facts(declared, {k: v for k, v in facts.items() if k in declared})
        if self.keyer is not None:
            return self.keyer(canonical) == self.key
        cells = {}
        for box in self.boxes:
            for d in box:
                if d not in cells:
                    cells[d] = _cell_in(self.space, self.dims[d], canonical)
            if all(cells[d] in allowed for d, allowed in box.items()):
                return True
        return False

    def to_json(self) -> dict:
        """A JSON-ready dict of the region."""
        return {"old": self.old, "new": self.new, "old_rules": list(self.old_rules),
                "new_rules": list(self.new_rules), "condition": self.condition, "exact": self.exact,
                "alternatives": len(self.alternatives) or 1, "witness": self.witness,
                "old_always": list(self.old_always), "new_always": list(self.new_always),
                "old_sometimes": list(self.old_sometimes) if self.sometimes_known else None,
                "new_sometimes": list(self.new_sometimes) if self.sometimes_known else None}


def make_region(space, dims: list, boxes: list[dict], old: tuple, new: tuple, declared: Mapping,
                variant: int = 0, **extra) -> Region:
    """One region from disjoint boxes with the same key: shared constraints, then the alternatives
    (``extra``: the other :class:`Region` fields, such as ``old_always`` and ``keyer``)."""
    shared = {d: c for d, c in boxes[0].items() if all(b.get(d) == c for b in boxes[1:])}
    common = box_text(space, dims, shared) if shared else ""
    if len(boxes) > 1:
        texted = sorted((box_text(space, dims, {d: c for d, c in b.items() if d not in shared}), i)
                        for i, b in enumerate(boxes))
        alternatives = tuple(text for text, _ in texted)
        boxes = [boxes[i] for _, i in texted]
    else:
        alternatives = ()
    if alternatives:
        either = " or ".join(f"({a})" if " and " in a or " or " in a else a for a in alternatives)
        condition = f"{common} and ({either})" if common else either
    else:
        condition = common or "true"
    return Region(old[0], new[0], old[1], new[1], condition, witness(space, dims, boxes[0], variant), common,
                  alternatives, boxes=tuple(boxes), space=space, dims=tuple(dims), declared=declared, **extra)


@record
class Declared:
    """A fact of the union of two policies: its type and default (as :func:`validate_facts` reads them)."""

    type: FactType
    default: object = MISSING


# ---- text of scalar constraints -----------------------------------------------------------------

def _ordered_text(variable: Variable, cells: frozenset) -> str:
    ftype, name, all_cells = variable.type, variable.fact, variable.cells
    missing = [i for i in range(len(all_cells)) if i not in cells]
    if len(missing) == 1 and all_cells[missing[0]].point:
        return f"{name} != {value_text(ftype, all_cells[missing[0]].low)}"
    runs: list[list[int]] = []
    for i in sorted(cells):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    texts = []
    for run in runs:
        first, last = all_cells[run[0]], all_cells[run[-1]]
        if len(run) == 1 and first.point:
            texts.append(f"{name} = {value_text(ftype, first.low)}")
            continue
        bounds = []
        if run[0] != 0:
            bounds.append(f"{name} {'>=' if first.point else '>'} {value_text(ftype, first.low)}")
        if run[-1] != len(all_cells) - 1:
            bounds.append(f"{name} {'<=' if last.point else '<'} {value_text(ftype, last.high)}")
        texts.append(" and ".join(bounds) if bounds else "true")
    if len(texts) == 1:
        return texts[0]
    return "(" + " or ".join(f"({t})" if " and " in t else t for t in texts) + ")"


def _equality_text(variable: Variable, cells: frozenset, named: Mapping = {}) -> str:  # noqa: B006 - read only
    ftype, name = variable.type, variable.fact
    if ftype.kind is Kind.BOOL:
        return name if variable.cells[next(iter(cells))] else f"not {name}"
    inside = [variable.cells[i] for i in sorted(cells)]
    outside = [variable.cells[i] for i in range(len(variable.cells)) if i not in cells]
    use_not = OTHER in inside or (OTHER not in outside and len(outside) < len(inside))
    values = [v for v in (outside if use_not else inside) if v is not OTHER]
    for candidate, negated in ((values, use_not), ([v for v in (inside if use_not else outside) if v is not OTHER],
                                                   not use_not)):
        # the policy's own named set, where one holds exactly these values (and no "other" value is involved)
        set_name = named.get(frozenset(candidate)) if OTHER not in variable.cells and len(candidate) > 1 else None
        if set_name is not None:
            return f"{name} {'not in' if negated else 'in'} {set_name}"
    if len(values) == 1:
        return f"{name} {'!=' if use_not else '='} {value_text(ftype, values[0])}"
    return f"{name} {'not in' if use_not else 'in'} {set_text(ftype, values)}"


# ---- text of set constraints (truth tables over element classes) ------------------------------------

def _members(space, var_index: int) -> list | None:
    """The elements of a class variable; None for the unmentioned elements of a string set (unbounded)."""
    variable = space.variables[var_index]
    if variable.element is not OTHER:
        return list(variable.element)
    element = variable.type.element
    if element.kind is Kind.ENUM:
        return [v for v in element.values if v not in variable.mentioned]
    if element.kind is Kind.COUNTRY:
        return [v for v in sorted(COUNTRY_CODES) if v not in variable.mentioned]
    return None


def _is_single(space, var_index: int) -> bool:
    members = _members(space, var_index)
    return members is not None and len(members) == 1


def _values_text(space, element: FactType, values) -> str:
    """A set literal, or the policy's own named set holding exactly these values (``april_elements``)."""
    named = getattr(space, "named_sets", {})
    name = named.get(frozenset(str(v) for v in values)) if len(values) > 1 else None
    return name or set_text(element, values)


def _any_text(space, fact: str, var_indices, negated: bool = False) -> str:
    """``fact`` holds an element of one of the classes (or none of them, ``negated``).

    A union that includes the unmentioned elements is said through its complement,
    ``contains any not in {the other mentioned elements}``, when that is shorter or the only way.
    """
    element = space.facts[fact].element
    other = [v for v in var_indices if space.variables[v].element is OTHER]
    listed = [m for v in var_indices if v not in other for m in space.variables[v].element]
    explicit = listed + (_members(space, other[0]) or []) if other else listed
    if other:
        excluded = [m for m in space.variables[other[0]].mentioned if m not in listed]
        if _members(space, other[0]) is None or len(excluded) < len(explicit):
            if not excluded:
                return f"{fact} is empty" if negated else f"{fact} is not empty"
            text = f"{fact} contains any not in {_values_text(space, element, excluded)}"
            return f"not {text}" if negated else text
    if len(explicit) == 1:
        text = f"{fact} contains {value_text(element, explicit[0])}"
    else:
        text = f"{fact} contains any {_values_text(space, element, explicit)}"
    return f"not {text}" if negated else text


def _present_text(space, fact: str, var_indices) -> list[str]:
    """Every class present: singletons together as ``contains all``, larger classes one by one."""
    element = space.facts[fact].element
    singles = [_members(space, v)[0] for v in var_indices if _is_single(space, v)]
    texts = []
    if len(singles) == 1:
        texts.append(f"{fact} contains {value_text(element, singles[0])}")
    elif singles:
        texts.append(f"{fact} contains all {_values_text(space, element, singles)}")
    texts.extend(_any_text(space, fact, [v]) for v in var_indices if not _is_single(space, v))
    return texts


def _set_text(space, dim: Dimension, allowed: frozenset) -> str:
    k = len(dim.vars)
    bits = range(k)
    present = [b for b in bits if all((a >> b) & 1 for a in allowed)]
    absent = [b for b in bits if not any((a >> b) & 1 for a in allowed)]
    free = [b for b in bits if b not in present and b not in absent]
    fact = dim.fact
    if not present and not free:
        return f"{fact} is empty"
    parts = _present_text(space, fact, [dim.vars[b] for b in present])
    if absent:
        parts.append(_any_text(space, fact, [dim.vars[b] for b in absent], negated=True))
    # the remaining function over the free classes
    points = {tuple((a >> b) & 1 for b in free) for a in allowed}
    if len(points) < (1 << len(free)):
        parts.append(_free_text(space, fact, [dim.vars[b] for b in free], points))
    return " and ".join(parts)


def _free_text(space, fact: str, var_indices: list[int], points: set[tuple]) -> str:
    n = len(var_indices)
    every = [tuple((i >> b) & 1 for b in range(n)) for i in range(1 << n)]
    false = [p for p in every if p not in points]

    def ups(p):  # the points one element above p
        return [p[:i] + (1,) + p[i + 1:] for i in range(n) if not p[i]]

    def downs(p):
        return [p[:i] + (0,) + p[i + 1:] for i in range(n) if p[i]]
    # (anti)monotone over a Boolean lattice: closed under single steps up (down) is closed under all
    monotone = all(q in points for p in points for q in ups(p))
    if monotone:
        false_set = set(false)
        maximal_false = [p for p in false if not any(q in false_set for q in ups(p))]
        clauses = [_any_text(space, fact, [var_indices[i] for i in range(n) if not p[i]]) for p in maximal_false]
        return " and ".join(sorted(clauses))
    antitone = all(q in points for p in points for q in downs(p))
    if antitone:
        maximal_true = [p for p in points if not any(q in points for q in ups(p))]
        terms = [_any_text(space, fact, [var_indices[i] for i in range(n) if not p[i]], negated=True)
                 for p in maximal_true]
        return "(" + " or ".join(sorted(terms)) + ")" if len(terms) > 1 else terms[0]
    terms = []
    for implicant in _prime_implicants(points, n):
        on = [var_indices[i] for i, v in enumerate(implicant) if v == 1]
        off = [var_indices[i] for i, v in enumerate(implicant) if v == 0]
        parts = _present_text(space, fact, on) + ([_any_text(space, fact, off, negated=True)] if off else [])
        terms.append(" and ".join(parts) if parts else "true")
    return "(" + " or ".join(f"({t})" if " and " in t else t for t in sorted(terms)) + ")"


def _prime_implicants(points: set[tuple], n: int) -> list[tuple]:
    """A cover of the points by prime implicants (tuples of 0, 1 or None = either)."""
    current = {tuple(p) for p in points}
    primes: set[tuple] = set()
    while current:
        # Quine-McCluskey by lookup: an implicant merges with the one that differs in a single
        # fixed position (O(implicants x n) per round instead of all pairs)
        merged, used = set(), set()
        for a in current:
            for j in range(n):
                if a[j] is None:
                    continue
                b = a[:j] + (1 - a[j],) + a[j + 1:]
                if b in current:
                    merged.add(a[:j] + (None,) + a[j + 1:])
                    used.add(a)
                    used.add(b)
        primes.update(current - used)
        current = merged
    cover, remaining = [], set(points)
    for prime in sorted(primes, key=lambda p: (sum(v is None for v in p) * -1, str(p))):
        covered = {p for p in remaining if all(v is None or v == p[j] for j, v in enumerate(prime))}
        if covered:
            cover.append(prime)
            remaining -= covered
    return cover


def box_text(space, dims: list[Dimension], box: Mapping[int, frozenset]) -> str:
    """A region box as a condition in policy syntax (facts in declaration order)."""
    parts: list[str] = []
    for index in sorted(box):
        dim = dims[index]
        if dim.is_set:
            if len(dim.vars) < len(space.by_fact[dim.fact]):   # a set fact split class by class
                parts.append(_any_text(space, dim.fact, dim.vars, negated=PRESENT not in box[index]))
            else:
                parts.append(_set_text(space, dim, box[index]))
        else:
            variable = space.variables[dim.vars[0]]
            parts.append(_ordered_text(variable, box[index]) if isinstance(variable.cells[0], Interval)
                         else _equality_text(variable, box[index], getattr(space, "named_sets", {})))
    return " and ".join(parts) if parts else "true"


# ---- witnesses --------------------------------------------------------------------------------------

_FILLER = {Kind.BOOL: False, Kind.INTEGER: 0, Kind.NUMBER: 0, Kind.PERCENT: 0, Kind.DATE: "2025-01-01",
           Kind.COUNTRY: "US", Kind.STRING: "example"}


def _json_number(value):
    """Integral decimals become ints; others stay exact ``Decimal`` (see ``diff_report.dumps``)."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _json_ready(variable: Variable, cell: int, value):
    """A witness value that plain JSON carries exactly: a float only when reading its decimal text
    back lands in the same cell; else a percent as an exact "x%" string (a plain number between
    two literals closer than float precision stays a Decimal, written exactly by diff_report.dumps)."""
    if not isinstance(value, Decimal):
        return value
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if cell_of(variable, {variable.fact: Decimal(repr(as_float))}) == cell:
        return as_float
    if variable.type.kind is Kind.PERCENT:
        return format(value, "f") + "%"
    return value


def _other(ftype: FactType, mentioned, variant: int):
    """A value of the type outside ``mentioned``: the ``variant``-th one (cyclically), so that the
    witnesses of different regions do not all pick the first unmentioned country."""
    if ftype.kind is Kind.ENUM or ftype.kind is Kind.COUNTRY:
        taken = set(mentioned)
        universe = ftype.values if ftype.kind is Kind.ENUM else sorted(COUNTRY_CODES)
        free = [v for v in universe if v not in taken]
        if free:
            return free[variant % len(free)]
    return other_value(ftype, mentioned)


class Witnesses:
    """Witness transactions in the boxes of one diff space, each cell's value computed once (a report
    of thousands of regions draws thousands of witnesses from the same cells)."""

    def __init__(self, space, dims: list[Dimension]):
        self.space, self.dims = space, dims
        self._mentioned: dict[int, list] = {}
        self._values: dict[tuple[int, int], object] = {}
        self._filler: dict = {}
        for name, ftype in space.facts.items():
            if ftype.is_set:
                self._filler[name] = None
            elif ftype.kind is Kind.ENUM:
                self._filler[name] = ftype.values[0]
            else:
                self._filler[name] = _FILLER[ftype.kind]

    def _scalar(self, var_index: int, cell: int, variant: int):
        variable = self.space.variables[var_index]
        mentioned = self._mentioned.get(var_index)
        if mentioned is None:
            mentioned = self._mentioned[var_index] = [
                c for c in variable.cells if not isinstance(c, Interval) and c is not OTHER]
        if variable.cells[cell] is OTHER:   # varies with the region: not cached
            return _json_ready(variable, cell, _other(variable.type, mentioned, variant))
        key = (var_index, cell)
        if key not in self._values:
            self._values[key] = _json_ready(variable, cell, representative(variable, cell, mentioned))
        return self._values[key]

    def __call__(self, box: Mapping[int, frozenset], variant: int = 0) -> dict:
        """A complete transaction (over the union of facts) that lies in the box, JSON-ready; ``variant``
        (the region's number) varies the values chosen for "any other value" cells."""
        space = self.space
        facts = {name: [] if filler is None else filler for name, filler in self._filler.items()}
        for index, dim in enumerate(self.dims):
            cells = box.get(index)
            if not dim.is_set:
                facts[dim.fact] = self._scalar(dim.vars[0], min(cells) if cells is not None else 0, variant)
                continue
            assignment = min(cells) if cells is not None else 0
            for bit, var_index in enumerate(dim.vars):
                if (assignment >> bit) & 1:
                    variable = space.variables[var_index]
                    element = (_other(variable.type.element, variable.mentioned, variant) if variable.element is OTHER
                               else variable.element[0])
                    facts[dim.fact].append(_json_number(element))
        for name, filler in self._filler.items():
            if filler is None:
                facts[name] = sorted(facts[name], key=str)
        return facts


def witness(space, dims: list[Dimension], box: Mapping[int, frozenset], variant: int = 0) -> dict:
    """A complete transaction (over the union of facts) that lies in the box, JSON-ready; ``variant``
    (the region's number) varies the values chosen for "any other value" cells."""
    return Witnesses(space, dims)(box, variant)
