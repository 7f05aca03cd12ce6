"""Regions of a semantic diff: their boxes over partition variables, as policy text and witness transactions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from .partition import ABSENT, OTHER, PRESENT, Interval, Variable, cell_of, other_value, representative
from .render import set_text, value_text
from .semantics import MISSING, validate_facts
from .types import COUNTRY_CODES, FactType, Kind


# ---- regions ------------------------------------------------------------------------------------------

@attrs.frozen(eq=False)
class Region:
    """A set of transactions that all change from ``old`` to ``new`` decided by the same rules."""

    old: str
    new: str
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]
    condition: str
    witness: dict
    box: dict = attrs.field(repr=False)
    space: object = attrs.field(repr=False)  # diff.Space

    def matches(self, facts: Mapping) -> bool:
        """Whether a transaction (over the union of both policies' facts) lies in this region."""
        declared = {name: _Decl(t) for name, t in self.space.facts.items()}
        canonical = validate_facts(declared, {k: v for k, v in facts.items() if k in declared})
        return all(cell_of(self.space.variables[var], canonical) in cells for var, cells in self.box.items())

    def to_json(self) -> dict:
        """A JSON-ready dict of the region."""
        return {"old": self.old, "new": self.new, "old_rules": list(self.old_rules),
                "new_rules": list(self.new_rules), "condition": self.condition, "witness": self.witness}


@attrs.frozen(slots=True)
class _Decl:
    type: FactType
    default: object = MISSING


# ---- region text and witnesses ------------------------------------------------------------------------

def _ordered_text(variable: Variable, cells: frozenset) -> str:
    ftype = variable.type
    name = variable.fact
    all_cells = variable.cells
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


def _equality_text(variable: Variable, cells: frozenset) -> str:
    ftype = variable.type
    name = variable.fact
    if ftype.kind is Kind.BOOL:
        value = variable.cells[next(iter(cells))]
        return name if value else f"not {name}"
    inside = [variable.cells[i] for i in sorted(cells)]
    outside = [variable.cells[i] for i in range(len(variable.cells)) if i not in cells]
    use_not = OTHER in inside or (len(outside) < len(inside))
    values = [v for v in (outside if use_not else inside) if v is not OTHER]
    if len(values) == 1:
        return f"{name} {'!=' if use_not else '='} {value_text(ftype, values[0])}"
    return f"{name} {'not in' if use_not else 'in'} {set_text(ftype, values)}"


def _elements_text(space, fact: str, box: dict) -> list[str]:
    ftype = space.facts[fact]
    element_type = ftype.element
    present, absent, other = [], [], None
    for var_index in space.by_fact[fact]:
        if var_index not in box:
            continue
        variable = space.variables[var_index]
        is_present = PRESENT in box[var_index]
        if variable.element is OTHER:
            other = is_present
        else:
            (present if is_present else absent).append(variable.element)
    texts = []
    all_vars = space.by_fact[fact]
    if not present and other is False and len(absent) == len(all_vars) - 1:
        return [f"{fact} is empty"]
    if present:
        texts.append(f"{fact} contains {value_text(element_type, present[0])}" if len(present) == 1
                     else f"{fact} contains all {set_text(element_type, present)}")
    if absent:
        texts.append(f"not {fact} contains {value_text(element_type, absent[0])}" if len(absent) == 1
                     else f"not {fact} contains any {set_text(element_type, absent)}")
    if other is not None:
        variable = space.variables[all_vars[-1]]
        universe = element_type.values if element_type.kind is Kind.ENUM else None
        if universe is None:
            universe = sorted(COUNTRY_CODES) if element_type.kind is Kind.COUNTRY else None
        if universe is None:
            texts.append(f"{fact} is {'not ' if other else ''}empty")  # exact only when no element is listed
        else:
            rest = [v for v in universe if v not in variable.mentioned]
            texts.append(f"{'' if other else 'not '}{fact} contains any {set_text(element_type, rest)}")
    return texts


def box_text(space, box: dict) -> str:
    """A region's box as a condition in policy syntax (facts in declaration order)."""
    parts: list[str] = []
    done_sets = set()
    for var_index in sorted(box, key=lambda v: (space.variables[v].order, v)):
        variable = space.variables[var_index]
        if variable.is_element:
            if variable.fact not in done_sets:
                done_sets.add(variable.fact)
                parts.extend(_elements_text(space, variable.fact, box))
        elif isinstance(variable.cells[0], Interval):
            parts.append(_ordered_text(variable, box[var_index]))
        else:
            parts.append(_equality_text(variable, box[var_index]))
    return " and ".join(parts) if parts else "true"


_FILLER = {Kind.BOOL: False, Kind.INTEGER: 0, Kind.NUMBER: 0, Kind.PERCENT: 0, Kind.DATE: "2025-01-01",
           Kind.COUNTRY: "US", Kind.STRING: "example"}


def _json_number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def witness(space, box: dict) -> dict:
    """A complete transaction (over the union of facts) that lies in the box, JSON-ready."""
    facts: dict = {}
    for name, ftype in space.facts.items():
        var_indices = space.by_fact.get(name, [])
        if ftype.is_set:
            elements = []
            for var_index in var_indices:
                variable = space.variables[var_index]
                if box.get(var_index) == frozenset([PRESENT]):
                    if variable.element is OTHER:
                        elements.append(other_value(ftype.element, variable.mentioned))
                    else:
                        elements.append(variable.element)
            facts[name] = sorted(_json_number(e) for e in elements)
            continue
        if var_indices:
            variable = space.variables[var_indices[0]]
            cells = box.get(var_indices[0], frozenset(range(len(variable.cells))))
            mentioned = [c for c in variable.cells if not isinstance(c, Interval) and c is not OTHER]
            facts[name] = _json_number(representative(variable, min(cells), mentioned))
        elif ftype.kind is Kind.ENUM:
            facts[name] = ftype.values[0]
        else:
            facts[name] = _FILLER[ftype.kind]
    return facts
