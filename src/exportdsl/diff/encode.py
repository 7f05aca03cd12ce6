"""CNF encoding of a diff space and its cell expressions, for an incremental SAT solver (python-sat).

Each partition variable (:mod:`.partition`) gets its literals once:

* a two-cell variable (a bool, a set's element class) is one Boolean: true = cell 1;
* an ordered variable (integer, number, percent, date) is in *order encoding*: literal ``i`` says
  "the cell is at most ``i``", so an interval of cells is at most two literals;
* any other variable (enum, country, string) is *one-hot*: one literal per cell, exactly one true.

Every expression of the space's :class:`~.boolexpr.Store` becomes one literal by Tseitin's
definitions (both directions, so it may be used in either polarity), memoised by expression id:
the store hash-conses expressions, so a rule that did not change between two versions is encoded
once and both versions share its literal. This is the only module, with :mod:`.keyed`, that
imports the SAT solver.
"""

from __future__ import annotations

from pysat.card import CardEnc, EncType
from pysat.solvers import Solver

from .boolexpr import FALSE, TRUE
from .partition import Interval

#: The solver: CaDiCaL 1.9.5 (incremental, with assumptions).
SOLVER = "cadical195"

#: CaDiCaL's options for a solver that enumerates keys, set before its first clause. Inprocessing
#: (probing, variable elimination, transitive reduction, ...) is off: the enumeration asks one short
#: question per key, and an inprocessing round, triggered by the conflicts so far, cost up to a
#: million propagations in one of them. Measured on the benchmark's 2,000-rule pair split in two
#: parts (:mod:`.split`): 10,372,307 propagations for the keys with inprocessing, 6,516,963 without.
#: (The questions about one region, asked of a solver that did not enumerate, took fewer
#: propagations with it: 8.7 million against 12.1 million; that solver keeps CaDiCaL's defaults.)
ENUMERATION_OPTIONS = {"inprocessing": 0}

_BOOLEAN, _ORDERED, _ONE_HOT = "boolean", "ordered", "one-hot"


def variable_kind(variable) -> str:
    """How a partition variable is encoded: ``boolean``, ``ordered`` or ``one-hot``."""
    if len(variable.cells) == 2:
        return _BOOLEAN
    return _ORDERED if isinstance(variable.cells[0], Interval) else _ONE_HOT


class Encoding:
    """A SAT solver holding the domain constraints of a space, and literals for its expressions
    (``options``: CaDiCaL's options, such as :data:`ENUMERATION_OPTIONS`)."""

    def __init__(self, space, options: dict | None = None):
        self.space = space
        self.store = space.store
        self.solver = Solver(name=SOLVER)
        if options:
            self.solver.configure(options)
        self.top = 0
        self.true = self.new_literal()
        self.solver.add_clause([self.true])
        self._expr: dict[int, int] = {FALSE: -self.true, TRUE: self.true}
        self._gates: dict[tuple, int] = {}
        #: per variable: (kind, literals): the Boolean, the order literals, or the cell literals
        self.layout: list[tuple[str, tuple[int, ...]]] = [self._encode_variable(v) for v in space.variables]

    # ---- literals and clauses
    def new_literal(self) -> int:
        """A fresh variable."""
        self.top += 1
        return self.top

    def add(self, clause) -> None:
        """A permanent clause."""
        self.solver.add_clause(list(clause))

    def _encode_variable(self, variable) -> tuple[str, tuple[int, ...]]:
        size = len(variable.cells)
        kind = variable_kind(variable)
        if kind == _BOOLEAN:
            return _BOOLEAN, (self.new_literal(),)
        if kind == _ORDERED:
            order = tuple(self.new_literal() for _ in range(size - 1))
            for lower, upper in zip(order, order[1:]):
                self.add([-lower, upper])          # cell <= i implies cell <= i + 1
            return _ORDERED, order
        cells = tuple(self.new_literal() for _ in range(size))
        self.add(cells)                            # at least one cell
        encoding = EncType.pairwise if size <= 6 else EncType.seqcounter
        at_most_one = CardEnc.atmost(list(cells), bound=1, top_id=self.top, encoding=encoding)
        self.top = max(self.top, at_most_one.nv)
        for clause in at_most_one.clauses:
            self.add(clause)
        return _ONE_HOT, cells

    def conjunction(self, literals) -> int:
        """A literal equivalent to the conjunction of ``literals`` (memoised)."""
        unique = set(literals)
        if -self.true in unique or any(-lit in unique for lit in unique):
            return -self.true
        literals = sorted(lit for lit in unique if lit != self.true)
        if not literals:
            return self.true
        if len(literals) == 1:
            return literals[0]
        key = ("and", tuple(literals))
        found = self._gates.get(key)
        if found is None:
            found = self._gates[key] = self.new_literal()
            for lit in literals:
                self.add([-found, lit])
            self.add([found, *(-lit for lit in literals)])
        return found

    def disjunction(self, literals) -> int:
        """A literal equivalent to the disjunction of ``literals`` (memoised)."""
        return -self.conjunction(-lit for lit in literals)

    # ---- expressions
    def cells_literal(self, var: int, cells) -> int:
        """A literal for "variable ``var`` lies in ``cells``"."""
        kind, literals = self.layout[var]
        size = len(self.space.variables[var].cells)
        cells = sorted(set(cells))
        if not cells:
            return -self.true
        if len(cells) == size:
            return self.true
        if kind == _BOOLEAN:
            return literals[0] if cells == [1] else -literals[0]
        if kind == _ONE_HOT:
            if len(cells) * 2 <= size:
                return self.disjunction(literals[c] for c in cells)
            return -self.disjunction(literals[c] for c in range(size) if c not in cells)
        runs: list[list[int]] = []
        for cell in cells:
            if runs and runs[-1][1] == cell - 1:
                runs[-1][1] = cell
            else:
                runs.append([cell, cell])
        return self.disjunction(self._run(literals, low, high, size) for low, high in runs)

    def _run(self, order, low: int, high: int, size: int) -> int:
        return self.conjunction(self._bounds(order, low, high, size))

    @staticmethod
    def _bounds(order, low: int, high: int, size: int) -> list[int]:
        """The order literals of "the cell lies in low..high" (a conjunction; empty: every cell)."""
        bounds = []
        if high < size - 1:
            bounds.append(order[high])             # cell <= high
        if low > 0:
            bounds.append(-order[low - 1])         # not cell <= low - 1
        return bounds

    def literal(self, expr: int) -> int:
        """The literal of a store expression."""
        found = self._expr.get(expr)
        if found is not None:
            return found
        node = self.store.nodes[expr]
        if node[0] == "atom":
            found = self.cells_literal(node[1], node[2])
        else:
            found = self._junction(node[0] == "and", [self._form(child) for child in node[1]])
        self._expr[expr] = found
        return found

    def _form(self, expr: int) -> tuple[bool, tuple[int, ...], tuple[int, ...]]:
        """How an operand enters the gate of a conjunction or disjunction: ``(is_disjunction, literals,
        negation)``, the negation always a disjunction of literals. An atom over a one-hot or ordered
        variable needs no variable of its own: "x in S" is the disjunction of S's cell literals (its
        negation that of the other cells), an interval of cells the conjunction of at most two order
        literals; any other operand is its literal."""
        node = self.store.nodes[expr]
        if node[0] == "atom" and expr not in self._expr:
            var, cells = node[1], node[2]
            kind, literals = self.layout[var]
            if kind == _ONE_HOT:
                return True, tuple(literals[c] for c in sorted(cells)), \
                    tuple(lit for c, lit in enumerate(literals) if c not in cells)
            if kind == _ORDERED:
                ordered = sorted(cells)
                if ordered[-1] - ordered[0] == len(ordered) - 1:   # one interval of cells
                    bounds = self._bounds(literals, ordered[0], ordered[-1], len(literals) + 1)
                    return False, tuple(bounds), tuple(-lit for lit in bounds)
        lit = self.literal(expr)
        return False, (lit,), (-lit,)

    def _junction(self, conjunction: bool, forms: list) -> int:
        """A fresh literal equivalent to the conjunction (else disjunction) of the operands' forms."""
        gate = self.new_literal()
        if conjunction:
            for is_any, literals, _ in forms:
                if is_any:
                    self.add([-gate, *literals])
                else:
                    for lit in literals:
                        self.add([-gate, lit])
            self.add([gate, *(lit for _, _, negation in forms for lit in negation)])
            return gate
        positive = []
        for is_any, literals, negation in forms:
            positive += literals if is_any or len(literals) == 1 else [self.conjunction(literals)]
            self.add([gate, *negation])
        self.add([-gate, *positive])
        return gate

    # ---- models
    @staticmethod
    def value(model: list[int], literal: int) -> bool:
        """The truth of a literal in a model (a variable the solver never saw is false)."""
        index = abs(literal) - 1
        truth = index < len(model) and model[index] > 0
        return truth if literal > 0 else not truth

    def cell(self, model: list[int], var: int) -> int:
        """The cell of variable ``var`` in a model."""
        kind, literals = self.layout[var]
        size = len(model)
        if kind == _BOOLEAN:
            index = literals[0] - 1
            return 1 if index < size and model[index] > 0 else 0
        for i, lit in enumerate(literals):
            if lit - 1 < size and model[lit - 1] > 0:
                return i
        if kind == _ONE_HOT:
            raise AssertionError("a one-hot variable without a cell")
        return len(literals)

    def cells_reader(self):
        """A function from a model to the cells of every variable (as :meth:`cell` gives them one by
        one), reading all the variables' literals at once. The model must cover them: a solver that
        has seen a variable created after them (a search's selector) gives such models."""
        from operator import itemgetter
        indices = [lit - 1 for _, literals in self.layout for lit in literals]
        if not indices:   # no variable has a literal: each has one cell (or there is no variable)
            single = (0,) * len(self.layout)
            return lambda model: single
        get = itemgetter(*indices, indices[0])   # at least two items: always a tuple
        plan = []
        start = 0
        for kind, literals in self.layout:
            plan.append((kind == _BOOLEAN, start, start + len(literals), kind == _ONE_HOT))
            start += len(literals)

        def read(model) -> tuple:
            values = get(model)
            cells = []
            for boolean, low, high, one_hot in plan:
                if boolean:
                    cells.append(1 if values[low] > 0 else 0)
                    continue
                for index in range(low, high):
                    if values[index] > 0:
                        cells.append(index - low)
                        break
                else:
                    if one_hot:
                        raise AssertionError("a one-hot variable without a cell")
                    cells.append(high - low)
            return tuple(cells)
        return read

    def cell_is_literal(self, var: int, cell: int) -> int:
        """A literal for "variable ``var`` is in ``cell``"."""
        return self.cells_literal(var, [cell])

    def below_literal(self, var: int, cell: int) -> int:
        """For an ordered variable: "the cell is below ``cell``" (``cell`` > 0)."""
        return self.layout[var][1][cell - 1]

    def kind(self, var: int) -> str:
        """``boolean``, ``ordered`` or ``one-hot``."""
        return self.layout[var][0]

    def delete(self) -> None:
        """Free the solver."""
        self.solver.delete()
