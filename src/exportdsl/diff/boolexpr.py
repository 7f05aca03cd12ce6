"""Hash-consed Boolean expressions over partition variables, with exact, memoised partial evaluation.

An expression is an integer id into one :class:`Store`: ``FALSE`` (0), ``TRUE`` (1), an atom
"variable ``v`` lies in one of these cells", or a flattened, sorted conjunction or disjunction of
other ids. Equal expressions get equal ids, so states built from them hash and compare in time
proportional to their length, and every node knows the variables below it, so assigning a
variable that an expression does not mention costs one set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

FALSE, TRUE = 0, 1

_ATOM, _AND, _OR = "atom", "and", "or"


class Store:
    """The unique table of one comparison's expressions."""

    def __init__(self, sizes: tuple[int, ...]):
        self.sizes = sizes
        self.nodes: list[tuple] = [("false",), ("true",)]
        self.vars: list[frozenset[int]] = [frozenset(), frozenset()]
        self._index: dict[tuple, int] = {}
        self._assigned: dict[tuple[int, int, int], int] = {}
        self._negated: dict[int, int] = {}
        self._hulls: dict[int, dict] = {}

    def _make(self, key: tuple, variables: frozenset[int]) -> int:
        found = self._index.get(key)
        if found is None:
            found = len(self.nodes)
            self.nodes.append(key)
            self.vars.append(variables)
            self._index[key] = found
        return found

    def atom(self, var: int, cells: Iterable[int]) -> int:
        """"Variable ``var`` lies in ``cells``" (TRUE or FALSE when that is all or none of them)."""
        cells = frozenset(cells)
        if not cells:
            return FALSE
        if len(cells) == self.sizes[var]:
            return TRUE
        return self._make((_ATOM, var, cells), frozenset([var]))

    def _junction(self, kind: str, parts: Iterable[int]) -> int:
        absorbing, neutral = (FALSE, TRUE) if kind == _AND else (TRUE, FALSE)
        items: set[int] = set()
        atoms: dict[int, frozenset] = {}
        for part in parts:
            if part == absorbing:
                return absorbing
            if part == neutral:
                continue
            node = self.nodes[part]
            children = node[1] if node[0] == kind else (part,)
            for child in children:
                cnode = self.nodes[child]
                if cnode[0] == _ATOM:
                    var, cells = cnode[1], cnode[2]
                    if var in atoms:
                        atoms[var] = (atoms[var] & cells) if kind == _AND else (atoms[var] | cells)
                    else:
                        atoms[var] = cells
                else:
                    items.add(child)
        for var, cells in atoms.items():
            merged = self.atom(var, cells)
            if merged == absorbing:
                return absorbing
            if merged != neutral:
                items.add(merged)
        if not items:
            return neutral
        if len(items) == 1:
            return next(iter(items))
        ordered = tuple(sorted(items))
        return self._make((kind, ordered), frozenset().union(*(self.vars[i] for i in ordered)))

    def conj(self, parts: Iterable[int]) -> int:
        """The conjunction of expressions."""
        return self._junction(_AND, parts)

    def disj(self, parts: Iterable[int]) -> int:
        """The disjunction of expressions."""
        return self._junction(_OR, parts)

    def negate(self, expr: int) -> int:
        """The negation, pushed down to the atoms (complemented cells)."""
        if expr <= TRUE:
            return TRUE - expr
        found = self._negated.get(expr)
        if found is not None:
            return found
        node = self.nodes[expr]
        if node[0] == _ATOM:
            result = self.atom(node[1], frozenset(range(self.sizes[node[1]])) - node[2])
        elif node[0] == _AND:
            result = self.disj(self.negate(e) for e in node[1])
        else:
            result = self.conj(self.negate(e) for e in node[1])
        self._negated[expr] = result
        return result

    def assign(self, expr: int, var: int, cell: int) -> int:
        """The expression with variable ``var`` fixed to ``cell``."""
        if var not in self.vars[expr]:
            return expr
        key = (expr, var, cell)
        found = self._assigned.get(key)
        if found is not None:
            return found
        node = self.nodes[expr]
        if node[0] == _ATOM:
            result = TRUE if cell in node[2] else FALSE
        elif node[0] == _AND:
            result = self.conj(self.assign(e, var, cell) for e in node[1])
        else:
            result = self.disj(self.assign(e, var, cell) for e in node[1])
        self._assigned[key] = result
        return result

    def holds(self, expr: int, cells, memo: dict | None = None) -> bool:
        """Whether an expression holds when every variable ``v`` lies in ``cells[v]``."""
        if expr <= TRUE:
            return expr == TRUE
        memo = {} if memo is None else memo
        found = memo.get(expr)
        if found is None:
            node = self.nodes[expr]
            if node[0] == _ATOM:
                found = cells[node[1]] in node[2]
            elif node[0] == _AND:
                found = all(self.holds(e, cells, memo) for e in node[1])
            else:
                found = any(self.holds(e, cells, memo) for e in node[1])
            memo[expr] = found
        return found

    def hull(self, expr: int) -> dict[int, frozenset[int]]:
        """Per variable, the cells outside which the expression is surely false (a variable left out
        may take any cell): the smallest box over the expression's atoms, read off its structure."""
        if expr <= TRUE:
            return {}
        found = self._hulls.get(expr)
        if found is None:
            node = self.nodes[expr]
            if node[0] == _ATOM:
                found = {node[1]: node[2]}
            elif node[0] == _AND:
                found = {}
                for child in node[1]:
                    for var, cells in self.hull(child).items():
                        found[var] = found[var] & cells if var in found else cells
            else:
                parts = [self.hull(child) for child in node[1]]
                common = set(parts[0]).intersection(*parts[1:])
                found = {var: frozenset().union(*(part[var] for part in parts)) for var in common}
            self._hulls[expr] = found
        return found

    def implies(self, premises: Iterable[int], expr: int) -> bool:
        """Whether the premises (all holding) surely imply ``expr``, read off their structure: a sound,
        incomplete test (False: not known). An atom is implied when the premises' hull on its
        variable lies inside its cells, a conjunct of a premise implies itself, a conjunction needs
        every part implied and a disjunction one."""
        conjuncts: set[int] = set()
        box: dict[int, frozenset] = {}
        for premise in premises:
            node = self.nodes[premise]
            conjuncts.update(node[1] if node[0] == _AND else (premise,))
            for var, cells in self.hull(premise).items():
                box[var] = box[var] & cells if var in box else cells

        def implied(e: int) -> bool:
            if e == TRUE or e in conjuncts:
                return True
            if e == FALSE:
                return False
            node = self.nodes[e]
            if node[0] == _ATOM:
                return node[1] in box and box[node[1]] <= node[2]
            if node[0] == _AND:
                return all(implied(child) for child in node[1])
            return any(implied(child) for child in node[1])
        return implied(expr)
