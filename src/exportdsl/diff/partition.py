"""Finite partitions of fact domains: the cells on which every condition of the compared policies is constant.

Every IR atom reads one fact, so the space of transactions is a product of per-fact domains, and
each domain splits into finitely many *cells* that no atom can tell apart:

* ordered facts (integer, number, percent, date): the constants the policies compare with become
  points, and the open intervals between them (when not empty for the type) become cells;
* equality facts (bool, enum, country, string): each mentioned value is a cell, plus one cell for
  "any other value" when the type has more values;
* set-valued facts become one two-cell variable per mentioned element (absent / present), plus
  one for "holds some element not mentioned" when there can be such elements.

A :class:`Variable` is one such dimension; conditions become :class:`Atom` tests "the variable's
cell is one of these", which makes partial evaluation exact and cheap.
"""

from __future__ import annotations

import datetime
import weakref
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from .. import ir
from ..operators import CompareOp, Quantifier
from ..semantics import compare, member
from ..types import COUNTRY_CODES, FactType, Kind

#: Cell of an element variable: the element is absent from / present in the set.
ABSENT, PRESENT = 0, 1


@attrs.frozen(slots=True)
class Interval:
    """A cell of an ordered domain: a single point, or an open interval (``None`` = unbounded)."""

    low: object
    high: object
    point: bool = False


@attrs.frozen(slots=True, eq=False)
class Variable:
    """One dimension of the transaction space, with its cells in a fixed order."""

    name: str                 # unique: the fact, or "fact[element]" / "fact[*]" for set elements
    fact: str
    type: FactType            # the fact's type
    cells: tuple              # Interval for ordered facts; a value or OTHER for equality; ABSENT/PRESENT
    element: object = None    # for element variables: the class (a tuple of elements), or OTHER
    order: int = 0            # position for a stable split and render order
    mentioned: tuple = ()     # for a set's OTHER element variable: the elements that have variables

    @property
    def is_element(self) -> bool:
        """True for a set fact's element variable."""
        return self.type.kind is Kind.SET

    def __repr__(self) -> str:
        return f"Variable({self.name})"


class _Other:
    """The cell of every value not mentioned by the policies."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OTHER"

    def __reduce__(self):
        return (_Other, ())


OTHER = _Other()


# ---- collecting the constants the policies use ------------------------------------------

def constants(exprs: Iterable[ir.Expr]) -> dict[str, set]:
    """Fact name to the constants that conditions compare it with (elements, for set facts)."""
    found: dict[str, set] = {}
    for expr in _atoms(exprs):
        match expr:
            case ir.Compare(fact=fact, value=value):
                found.setdefault(fact, set()).add(value)
            case ir.Member(fact=fact, values=values) | ir.SetTest(fact=fact, values=values):
                found.setdefault(fact, set()).update(values)
            case ir.IsEmpty(fact=fact):
                found.setdefault(fact, set())
    return found


def element_groups(exprs: Iterable[ir.Expr]) -> dict[str, set[tuple[bool, frozenset]]]:
    """For each set fact, the element sets its atoms test: ``(is_all, elements)``."""
    found: dict[str, set] = {}
    for expr in _atoms(exprs):
        if isinstance(expr, ir.SetTest):
            found.setdefault(expr.fact, set()).add((expr.quantifier is Quantifier.ALL, expr.values))
    return found


def _atoms(exprs: Iterable[ir.Expr]):
    stack = list(exprs)
    while stack:
        expr = stack.pop()
        match expr:
            case ir.And(operands=ops) | ir.Or(operands=ops):
                stack.extend(ops)
            case ir.Not(operand=op) | ir.Named(body=op):
                stack.append(op)
            case _:
                yield expr


def element_classes(ftype: FactType, elements: Iterable, groups: Iterable[tuple[bool, frozenset]]) -> list[tuple]:
    """Elements that no atom tells apart, grouped (an element tested with ``contains all`` stands alone).

    ``elements`` are every element that must be distinguishable (the groups' members, plus any
    element that must stand alone for another reason); the rest form the "other" class.
    """
    groups = sorted(groups, key=lambda g: (g[0], sorted(map(str, g[1]))))
    key = _value_key(ftype.element)
    classes: dict[tuple, list] = {}
    for element in sorted(set(elements), key=key):
        signature = tuple(i for i, (_, values) in enumerate(groups) if element in values)
        if not signature or any(is_all and element in values for is_all, values in groups):
            signature = ("alone", element)
        classes.setdefault(signature, []).append(element)
    return [tuple(members) for members in classes.values()]


# ---- building the variables --------------------------------------------------------------

def _step(kind: Kind):
    """The gap between consecutive values of a discrete ordered type (None: dense)."""
    return 1 if kind in (Kind.INTEGER, Kind.DATE) else None


def _as_ordinal(kind: Kind, value):
    return datetime.date.fromisoformat(value).toordinal() if kind is Kind.DATE else value


def _bounds(kind: Kind):
    if kind is Kind.PERCENT:
        return 0, 100
    if kind is Kind.DATE:
        return datetime.date.min.toordinal(), datetime.date.max.toordinal()
    return None, None


def _gap_nonempty(kind: Kind, low, high) -> bool:
    """Whether the open interval (low, high) (None: unbounded, clamped to the type's bounds) has values."""
    lo_bound, hi_bound = _bounds(kind)
    step = _step(kind)
    lo = _as_ordinal(kind, low) if low is not None else None
    hi = _as_ordinal(kind, high) if high is not None else None
    if step is not None:
        first = lo + step if lo is not None else lo_bound
        last = hi - step if hi is not None else hi_bound
        return first is None or last is None or first <= last
    if lo is not None and hi is not None:
        return lo < hi
    if lo is None and hi is not None:
        return lo_bound is None or lo_bound < hi
    if lo is not None and hi is None:
        return hi_bound is None or lo < hi_bound
    return True


def ordered_cells(kind: Kind, points: Iterable) -> tuple[Interval, ...]:
    """The cells of an ordered domain cut at ``points``, skipping cells the type cannot fill."""
    lo_bound, hi_bound = _bounds(kind)
    values = sorted({p for p in points
                     if (lo_bound is None or _as_ordinal(kind, p) >= lo_bound)
                     and (hi_bound is None or _as_ordinal(kind, p) <= hi_bound)},
                    key=lambda p: _as_ordinal(kind, p))
    cells: list[Interval] = []
    previous = None
    for value in values:
        if _gap_nonempty(kind, previous, value):
            cells.append(Interval(previous, value))
        cells.append(Interval(value, value, point=True))
        previous = value
    if _gap_nonempty(kind, previous, None):
        cells.append(Interval(previous, None))
    return tuple(cells)


def _domain_values(ftype: FactType):
    """The finite set of values of a type, or None when it is unbounded (strings)."""
    if ftype.kind is Kind.ENUM:
        return ftype.values
    if ftype.kind is Kind.COUNTRY:
        return tuple(sorted(COUNTRY_CODES))
    if ftype.kind is Kind.BOOL:
        return (False, True)
    return None


def build_variables(facts: Mapping[str, FactType], used: Mapping[str, set],
                    groups: Mapping[str, set] | None = None) -> list[Variable]:
    """The variables of the space over ``facts`` (name -> type), given the constants and element groups in use."""
    variables: list[Variable] = []
    for order, (name, ftype) in enumerate(facts.items()):
        if name not in used:
            continue
        values = used[name]
        kind = ftype.kind
        if kind is Kind.SET:
            universe = _domain_values(ftype.element)
            mentioned = tuple(sorted(values, key=_value_key(ftype.element)))
            for members in element_classes(ftype, values, (groups or {}).get(name, ())):
                label = ",".join(map(str, members))
                variables.append(Variable(f"{name}[{label}]", name, ftype, (ABSENT, PRESENT), members, order))
            if universe is None or set(universe) - set(values):
                variables.append(Variable(f"{name}[*]", name, ftype, (ABSENT, PRESENT), OTHER, order, mentioned))
        elif ftype.is_ordered:
            variables.append(Variable(name, name, ftype, ordered_cells(kind, values), None, order))
        else:
            universe = _domain_values(ftype)
            if kind is Kind.BOOL:
                variables.append(Variable(name, name, ftype, (False, True), None, order))
                continue
            if universe is not None:
                cells = tuple(v for v in universe if v in values)
                rest = [v for v in universe if v not in values]
                if kind is Kind.ENUM:
                    cells = cells + tuple(rest)   # every enum value its own cell: few, and readable
                elif rest:
                    cells = cells + (OTHER,)
            else:
                cells = tuple(sorted(values)) + (OTHER,)
            variables.append(Variable(name, name, ftype, cells, None, order))
    return variables


def _value_key(ftype: FactType):
    if ftype.kind is Kind.ENUM:
        index = {v: i for i, v in enumerate(ftype.values)}
        return lambda v: (index.get(v, len(index)), str(v))
    return lambda v: (str(type(v)), v)


# ---- representatives and membership --------------------------------------------------------

def representative(variable: Variable, cell_index: int, avoid: Iterable = ()):
    """A concrete value (for element variables: True/False presence) lying in a cell."""
    cell = variable.cells[cell_index]
    if variable.is_element:
        return cell == PRESENT
    kind = variable.type.kind
    if isinstance(cell, Interval):
        return _interval_value(kind, cell)
    if cell is OTHER:
        return other_value(variable.type, avoid)
    return cell


def other_value(ftype: FactType, mentioned: Iterable):
    """A value of the type that is not among ``mentioned`` (deterministic)."""
    taken = set(mentioned)
    universe = _domain_values(ftype)
    if universe is not None:
        for value in universe:
            if value not in taken:
                return value
        raise ValueError("no other value")
    index = 1
    while f"other-{index}" in taken:
        index += 1
    return f"other-{index}"


def _interval_value(kind: Kind, cell: Interval):
    if cell.point:
        return cell.low
    lo_bound, hi_bound = _bounds(kind)
    low = _as_ordinal(kind, cell.low) if cell.low is not None else None
    high = _as_ordinal(kind, cell.high) if cell.high is not None else None
    step = _step(kind)
    if step is not None:
        if low is not None:
            value = low + step
        elif high is not None:
            value = high - step if hi_bound is None or high - step <= hi_bound else hi_bound
        else:
            value = 0 if kind is Kind.INTEGER else datetime.date(2025, 1, 1).toordinal()
        if low is None and lo_bound is not None and value < lo_bound:
            value = lo_bound
        return datetime.date.fromordinal(value).isoformat() if kind is Kind.DATE else value
    if low is not None and high is not None:
        middle = (Decimal(low) + Decimal(high)) / 2
        return _tidy(middle)
    if low is not None:
        return _tidy(Decimal(low) + 1) if hi_bound is None else _tidy((Decimal(low) + Decimal(hi_bound)) / 2)
    if high is not None:
        return _tidy(Decimal(high) - 1) if lo_bound is None else _tidy(Decimal(lo_bound))
    return 0 if lo_bound is None else lo_bound


def _tidy(value: Decimal):
    return int(value) if value == value.to_integral_value() else value.normalize()


def cell_of(variable: Variable, facts: Mapping) -> int:
    """The index of the cell holding a transaction's (canonical) value of this variable."""
    value = facts[variable.fact]
    if variable.is_element:
        if variable.element is OTHER:
            present = any(v not in variable.mentioned for v in value)
        else:
            present = any(v in value for v in variable.element)
        return PRESENT if present else ABSENT
    for index, cell in enumerate(variable.cells):
        if isinstance(cell, Interval):
            if cell.point:
                if compare(CompareOp.EQ, value, cell.low):
                    return index
            elif ((cell.low is None or compare(CompareOp.GT, value, cell.low))
                  and (cell.high is None or compare(CompareOp.LT, value, cell.high))):
                return index
        elif cell is OTHER:
            continue
        elif member(value, frozenset([cell])):
            return index
    for index, cell in enumerate(variable.cells):
        if cell is OTHER:
            return index
    raise ValueError(f"value {value!r} of {variable.fact} lies in no cell")


def atom_cells(expr: ir.Expr, variable: Variable) -> frozenset[int]:
    """The cells of a scalar variable on which an atom over its fact holds."""
    return frozenset(index for index, value in enumerate(representatives(variable)) if _atom_holds(expr, value))


def representatives(variable: Variable) -> tuple:
    """One value per cell of a scalar variable (computed once per variable)."""
    found = _REPRESENTATIVES.get(variable)
    if found is None:
        mentioned = _mentioned(variable)
        found = _REPRESENTATIVES[variable] = tuple(representative(variable, index, mentioned)
                                                   for index in range(len(variable.cells)))
    return found


#: Cell representatives per variable (variables compare by identity, so entries die with their space).
_REPRESENTATIVES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _mentioned(variable: Variable):
    return [c for c in variable.cells if not isinstance(c, Interval) and c is not OTHER]


def _atom_holds(expr: ir.Expr, value) -> bool:
    match expr:
        case ir.Compare(op=op, value=constant):
            return compare(op, value, constant)
        case ir.Member(values=values):
            return member(value, values)
    raise AssertionError(expr)


