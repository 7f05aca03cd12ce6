"""The pieces of the keyed diff at scale, each against brute force over every cell assignment.

- The CNF encoding (``diff/encode.py``): an atom over a one-hot or ordered variable enters its
  conjunction's or disjunction's gate as clauses, without a variable of its own; the literal of any
  expression must still be true in exactly the models whose cells satisfy the expression (checked
  by asking the solver under every assignment of the cells, and for the negation).
- ``Store.implies`` (``diff/boolexpr.py``), which lets the diff skip the solver for co-deciding rules
  implied by a region's changed deciders: whenever it says yes, the conclusion holds at every
  assignment where the premises do (it may say no to a true implication).
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from exportdsl.diff.boolexpr import FALSE, TRUE, Store
from exportdsl.diff.encode import Encoding
from exportdsl.diff.partition import Interval

#: Variable kinds by their cells: two cells are a Boolean, intervals are ordered, anything else one-hot.
KINDS = ("boolean", "ordered", "one-hot")


@st.composite
def spaces(draw):
    """A small space: 1 to 3 variables of every encoding kind (so that every cell assignment can be tried)."""
    variables = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(KINDS))
        if kind == "boolean":
            cells = (False, True)
        elif kind == "ordered":
            cells = tuple(Interval(i, i, True) for i in range(draw(st.integers(3, 5))))
        else:
            cells = tuple(f"v{i}" for i in range(draw(st.integers(3, 5))))
        variables.append(SimpleNamespace(cells=cells))
    store = Store(tuple(len(v.cells) for v in variables))
    return SimpleNamespace(store=store, variables=variables)


def expressions(draw, space, depth: int = 3) -> int:
    """A random expression of the space's store: atoms, conjunctions, disjunctions and negations."""
    store = space.store
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        var = draw(st.integers(0, len(space.variables) - 1))
        size = len(space.variables[var].cells)
        cells = draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=size))
        return store.atom(var, cells)
    parts = [expressions(draw, space, depth - 1) for _ in range(draw(st.integers(2, 3)))]
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return store.conj(parts)
    if choice == 1:
        return store.disj(parts)
    return store.negate(store.conj(parts))


def assignments(space):
    return itertools.product(*(range(len(v.cells)) for v in space.variables))


def cell_assumptions(encoding: Encoding, cells) -> list[int]:
    return [encoding.cell_is_literal(var, cell) for var, cell in enumerate(cells)]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_encoding_of_an_expression_holds_exactly_where_the_expression_does(data):
    space = data.draw(spaces(), label="space")
    exprs = [expressions(data.draw, space) for _ in range(data.draw(st.integers(1, 3), label="count"))]
    encoding = Encoding(space)
    try:
        literals = [encoding.literal(expr) for expr in exprs]
        for cells in assignments(space):
            fixed = cell_assumptions(encoding, cells)
            for expr, lit in zip(exprs, literals):
                holds = space.store.holds(expr, cells)
                assert encoding.solver.solve(assumptions=fixed + [lit]) == holds, (expr, cells)
                assert encoding.solver.solve(assumptions=fixed + [-lit]) == (not holds), (expr, cells)
    finally:
        encoding.delete()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_implies_is_sound(data):
    space = data.draw(spaces(), label="space")
    premises = [expressions(data.draw, space, 2) for _ in range(data.draw(st.integers(0, 3), label="count"))]
    conclusion = expressions(data.draw, space, 2)
    if not space.store.implies(premises, conclusion):
        return
    for cells in assignments(space):
        if all(space.store.holds(p, cells) for p in premises):
            assert space.store.holds(conclusion, cells), (premises, conclusion, cells)


def test_implies_finds_the_implications_the_diff_relies_on():
    """A premise's conjunct, an atom inside the premises' hull, and their conjunctions and disjunctions."""
    store = Store((4, 4))
    x_low, y_two = store.atom(0, {0, 1}), store.atom(1, {2})
    premise = store.conj([x_low, y_two])
    assert store.implies([premise], x_low)
    assert store.implies([premise], store.atom(0, {0, 1, 2}))
    assert store.implies([premise], store.disj([store.atom(0, {3}), store.atom(1, {2, 3})]))
    assert store.implies([premise], TRUE) and not store.implies([premise], FALSE)
    assert not store.implies([premise], store.atom(0, {0}))
    assert not store.implies([], x_low)


@settings(max_examples=60, deadline=None)
@given(spaces())
def test_the_cells_reader_reads_every_assignment_back(space):
    """``Encoding.cells_reader`` (all variables at once, as the key search reads a model) gives the
    cells that were assumed, for every assignment, and agrees with ``Encoding.cell``."""
    encoding = Encoding(space)
    try:
        selector = encoding.new_literal()   # as a search's selector: created after every fact literal
        encoding.add([selector, -selector])
        read = encoding.cells_reader()
        for cells in assignments(space):
            assert encoding.solver.solve(assumptions=cell_assumptions(encoding, cells))
            model = encoding.solver.get_model()
            assert read(model) == tuple(cells)
            assert read(model) == tuple(encoding.cell(model, var) for var in range(len(space.variables)))
    finally:
        encoding.delete()


def test_the_cells_reader_of_a_space_without_literals():
    """Regressions (found by the brute-force tests): a comparison whose rules read no fact has no
    variable, and the reader built an itemgetter of nothing; one whose only variable has a single
    cell (``x in {}`` on an integer) has a variable without a literal, and the reader then read no
    cell at all instead of its one cell."""
    single = SimpleNamespace(cells=(Interval(0, 0, True),))
    for variables, cells in (([], ()), ([single], (0,)), ([single, single], (0, 0))):
        space = SimpleNamespace(store=Store(tuple(len(v.cells) for v in variables)), variables=variables)
        encoding = Encoding(space)
        try:
            assert encoding.solver.solve()
            assert encoding.cells_reader()(encoding.solver.get_model() or []) == cells
        finally:
            encoding.delete()
