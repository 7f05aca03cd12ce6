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
import decimal
import math
import time
import weakref
from collections.abc import Iterable, Mapping
from decimal import Decimal

from .. import ir
from ..records import record
from ..operators import CompareOp, Quantifier
from ..semantics import compare, member
from ..types import COUNTRY_CODES, FactType, Kind

#: Cell of an element variable: the element is absent from / present in the set.
ABSENT, PRESENT = 0, 1


@record
class Interval:
    """A cell of an ordered domain: a single point, or an open interval (``None`` = unbounded)."""

    low: object
    high: object
    point: bool = False


@record(eq=False)
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


class OutOfTime(Exception):
    """A diff's or a lint's time budget ran out while its space was being built or its conditions
    lowered (internal: ``diff()`` reports INCOMPLETE, the linter W191)."""


_NEVER = float("inf")


def check_clock(deadline: float) -> None:
    """Raise :class:`OutOfTime` past ``deadline`` (a ``time.monotonic()`` value)."""
    if deadline != _NEVER and time.monotonic() > deadline:
        raise OutOfTime()


# ---- collecting the constants the policies use ------------------------------------------

def constants(exprs: Iterable[ir.Expr], deadline: float = _NEVER) -> dict[str, set]:
    """Fact name to the constants that conditions compare it with (elements, for set facts)."""
    found: dict[str, set] = {}
    for expr in _atoms(exprs, deadline):
        match expr:
            case ir.Compare(fact=fact, value=value):
                found.setdefault(fact, set()).add(value)
            case ir.Member(fact=fact, values=values) | ir.SetTest(fact=fact, values=values):
                found.setdefault(fact, set()).update(values)
            case ir.IsEmpty(fact=fact):
                found.setdefault(fact, set())
    return found


def element_groups(exprs: Iterable[ir.Expr], deadline: float = _NEVER) -> dict[str, set[tuple[bool, frozenset]]]:
    """For each set fact, the element sets its atoms test: ``(is_all, elements)``."""
    found: dict[str, set] = {}
    for expr in _atoms(exprs, deadline):
        if isinstance(expr, ir.SetTest):
            found.setdefault(expr.fact, set()).add((expr.quantifier is Quantifier.ALL, expr.values))
    return found


def _atoms(exprs: Iterable[ir.Expr], deadline: float = _NEVER):
    """The atoms below some conditions; a subtree shared by several parents is visited once."""
    stack = list(exprs)
    seen: dict[int, ir.Expr] = {}   # id -> node (kept alive, so that ids stay unique)
    while stack:
        expr = stack.pop()
        if id(expr) in seen:
            continue
        seen[id(expr)] = expr
        if not len(seen) & 1023:
            check_clock(deadline)
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


# Literals may carry any number of digits (``x > 10000000000000000000000000000.5``), more than
# Decimal's default context keeps (28): every sum and midpoint here runs in a context sized to its
# operands, with rounding trapped, and discrete bounds use floor/ceiling (exact on any Decimal).

def exact_context(*values) -> decimal.Context:
    """A Decimal context in which adding, subtracting and halving ``values`` is exact (it traps
    rounding, so a mistake fails loudly instead of landing in the wrong cell)."""
    numbers = [Decimal(v) for v in values]
    top = max((n.adjusted() for n in numbers if n), default=0) + 2
    bottom = min((n.as_tuple().exponent for n in numbers), default=0)
    bottom = min(bottom, 0) - 1            # halving adds one digit below the last one
    return decimal.Context(prec=max(top - bottom, 28), Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                           traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])


def _exact_mean(low, high) -> Decimal:
    context = exact_context(low, high)
    return context.divide(context.add(Decimal(low), Decimal(high)), 2)


def _exact_add(value, delta) -> Decimal:
    return exact_context(value, delta).add(Decimal(value), Decimal(delta))


def _first_above(kind: Kind, low):
    """The least value of a discrete type strictly above ``low`` (a literal, maybe fractional)."""
    return math.floor(_as_ordinal(kind, low)) + 1


def _last_below(kind: Kind, high):
    """The greatest value of a discrete type strictly below ``high``."""
    return math.ceil(_as_ordinal(kind, high)) - 1


def _holds_point(kind: Kind, value) -> bool:
    """Whether a literal is a value of the type (an integer fact compared with 2.5 has no such value)."""
    if kind is not Kind.INTEGER:
        return True
    return value == math.floor(value)


def _gap_nonempty(kind: Kind, low, high) -> bool:
    """Whether the open interval (low, high) (None: unbounded, clamped to the type's bounds) has values."""
    lo_bound, hi_bound = _bounds(kind)
    if _step(kind) is not None:
        first = _first_above(kind, low) if low is not None else lo_bound
        last = _last_below(kind, high) if high is not None else hi_bound
        return first is None or last is None or first <= last
    lo = low
    hi = high
    if lo is not None and hi is not None:
        return lo < hi
    if lo is None and hi is not None:
        return lo_bound is None or lo_bound < hi
    if lo is not None and hi is None:
        return hi_bound is None or lo < hi_bound
    return True


def ordered_cells(kind: Kind, points: Iterable, deadline: float = _NEVER) -> tuple[Interval, ...]:
    """The cells of an ordered domain cut at ``points``, skipping cells the type cannot fill."""
    lo_bound, hi_bound = _bounds(kind)
    values = sorted({p for p in points
                     if (lo_bound is None or _as_ordinal(kind, p) >= lo_bound)
                     and (hi_bound is None or _as_ordinal(kind, p) <= hi_bound)},
                    key=lambda p: _as_ordinal(kind, p))
    cells: list[Interval] = []
    previous = None
    for count, value in enumerate(values):
        if not count & 1023:
            check_clock(deadline)
        if _gap_nonempty(kind, previous, value):
            cells.append(Interval(previous, value))
        if _holds_point(kind, value):   # an integer fact has no value 2.5: that literal only cuts
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
                    groups: Mapping[str, set] | None = None, deadline: float = _NEVER) -> list[Variable]:
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
            variables.append(Variable(name, name, ftype, ordered_cells(kind, values, deadline), None, order))
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
    if _step(kind) is not None:
        if cell.low is not None:
            value = _first_above(kind, cell.low)
        elif cell.high is not None:
            value = _last_below(kind, cell.high)
            if hi_bound is not None and value > hi_bound:
                value = hi_bound
        else:
            value = 0 if kind is Kind.INTEGER else datetime.date(2025, 1, 1).toordinal()
        if cell.low is None and lo_bound is not None and value < lo_bound:
            value = lo_bound
        return datetime.date.fromordinal(value).isoformat() if kind is Kind.DATE else value
    low, high = cell.low, cell.high
    if low is not None and high is not None:
        return _tidy(_exact_mean(low, high))
    if low is not None:
        return _tidy(_exact_add(low, 1)) if hi_bound is None else _tidy(_exact_mean(low, hi_bound))
    if high is not None:
        return _tidy(_exact_add(high, -1)) if lo_bound is None else _tidy(Decimal(lo_bound))
    return 0 if lo_bound is None else lo_bound


def _tidy(value: Decimal):
    """An integral value as an ``int`` (exactly), any other with its trailing zeros dropped (exactly)."""
    if value == math.floor(value):
        return math.floor(value)
    return value.normalize(exact_context(value))


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
    negated, cells = signed_atom_cells(expr, variable)
    return frozenset(range(len(variable.cells))) - cells if negated else cells


def signed_atom_cells(expr: ir.Expr, variable: Variable) -> tuple[bool, frozenset[int]]:
    """``(negated, cells)``: the atom holds on ``cells``, or (``negated``) on every cell but them.

    Found by looking the constant up among the cells (linear in the answer, not in the cells),
    so that a chain of thousands of atoms over one fact lowers in linear time; the complement
    form keeps ``x != 1 and x != 2 and ...`` small. Falls back to testing every representative.
    """
    index = _cell_index(variable)
    match expr:
        case ir.Compare(op=op, value=constant):
            at = index.get(constant)
            if at is not None and (op in (CompareOp.EQ, CompareOp.NE) or isinstance(variable.cells[at], Interval)):
                if op in (CompareOp.EQ, CompareOp.NE):
                    return op is CompareOp.NE, frozenset([at])
                if op in (CompareOp.LT, CompareOp.GE):   # the cells below the point (or all others)
                    return op is CompareOp.GE, frozenset(range(at))
                return op is CompareOp.GT, frozenset(range(at + 1))   # up to the point (or all others)
        case ir.Member(values=values):
            if all(value in index for value in values):
                return False, frozenset(index[value] for value in values)
    return False, frozenset(i for i, value in enumerate(representatives(variable)) if _atom_holds(expr, value))


def _cell_index(variable: Variable) -> dict:
    """A scalar variable's cells by the one value each point or value cell holds (computed once)."""
    found = _INDEXES.get(variable)
    if found is None:
        found = {}
        for i, cell in enumerate(variable.cells):
            if isinstance(cell, Interval):
                if cell.point:
                    found[cell.low] = i
            elif cell is not OTHER:
                found[cell] = i
        _INDEXES[variable] = found
    return found


_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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


