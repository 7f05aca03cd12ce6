"""Policy-syntax text of IR conditions and canonical values (for explanations, diffs and messages)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from . import ir
from .operators import RESERVED, CompareOp, Quantifier
from .types import FactType, Kind

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")



def _decimal_text(value) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text
    return str(value)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def value_text(ftype: FactType, value) -> str:
    """A canonical value written as a policy literal for a fact of type ``ftype``."""
    kind = ftype.kind
    if kind is Kind.SET:
        return set_text(ftype.element, value)
    if kind is Kind.BOOL:
        return "true" if value else "false"
    if kind is Kind.PERCENT:
        return _decimal_text(value) + "%"
    if kind in (Kind.INTEGER, Kind.NUMBER):
        return _decimal_text(value)
    if kind is Kind.DATE:
        return value
    if kind in (Kind.ENUM, Kind.COUNTRY) and _BARE.match(value) and value not in RESERVED:
        return value
    return _quote(value)


def _sort_key(ftype: FactType):
    if ftype.kind is Kind.ENUM:
        order = {v: i for i, v in enumerate(ftype.values)}
        return lambda v: (order.get(v, len(order)), v)
    return lambda v: v


def set_text(element: FactType, values) -> str:
    """``{a, b, c}`` in a stable order (enum declaration order, else sorted)."""
    return "{" + ", ".join(value_text(element, v) for v in sorted(values, key=_sort_key(element))) + "}"


_PRECEDENCE = {ir.Or: 1, ir.And: 2, ir.Not: 3}


#: Most condition nodes that ``names=False`` spells out; past it named conditions keep their names.
MAX_SPELLED_NODES = 20_000


def _unfolded_size(expr: ir.Expr, limit: int) -> int:
    """How many nodes the condition has once named conditions are spelled out (shared named
    conditions counted at each use), computed on the DAG and capped just past ``limit``."""
    sizes: dict[int, int] = {}
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in sizes:
            continue
        match node:
            case ir.And(operands=parts) | ir.Or(operands=parts):
                pass
            case ir.Not(operand=part) | ir.Named(body=part):
                parts = (part,)
            case _:
                parts = ()
        if expanded or not parts:
            sizes[id(node)] = min(limit + 1, 1 + sum(sizes[id(p)] for p in parts))
            continue
        stack.append((node, True))
        stack.extend((p, False) for p in parts)
    return sizes[id(expr)]


def condition_text(expr: ir.Expr, facts: Mapping[str, ir.Fact], *, names: bool = True) -> str:
    """A condition in policy syntax; ``names=False`` spells named conditions and sets out (unless
    that would take more than :data:`MAX_SPELLED_NODES` nodes: then named conditions keep their names)."""
    if not names and _unfolded_size(expr, MAX_SPELLED_NODES) > MAX_SPELLED_NODES:
        names = True
    return _text(expr, facts, names, 0)


def _text(expr: ir.Expr, facts, names: bool, parent: int) -> str:
    match expr:
        case ir.Compare(fact=fact, op=op, value=value):
            ftype = facts[fact].type
            if ftype.kind is Kind.BOOL and op in (CompareOp.EQ, CompareOp.NE):
                positive = (op is CompareOp.EQ) == bool(value)
                return fact if positive else _wrap(f"not {fact}", 3, parent)
            return f"{fact} {op.value} {value_text(ftype, value)}"
        case ir.Member(fact=fact, values=values, set_name=set_name):
            target = set_name if (names and set_name) else set_text(facts[fact].type, values)
            return f"{fact} in {target}"
        case ir.SetTest(fact=fact, quantifier=quantifier, values=values, set_name=set_name):
            element = facts[fact].type.element
            if quantifier is Quantifier.ANY and len(values) == 1 and not (names and set_name):
                return f"{fact} contains {value_text(element, next(iter(values)))}"
            target = set_name if (names and set_name) else set_text(element, values)
            return f"{fact} contains {quantifier.value} {target}"
        case ir.IsEmpty(fact=fact):
            return f"{fact} is empty"
        case ir.Const(value=value):
            return "true" if value else "false"
        case ir.Named(name=name, body=body):
            return name if names else _text(body, facts, names, parent)
        case ir.Not(operand=operand):
            match operand:
                case ir.Member(fact=fact, values=values, set_name=set_name):
                    target = set_name if (names and set_name) else set_text(facts[fact].type, values)
                    return f"{fact} not in {target}"
                case ir.IsEmpty(fact=fact):
                    return f"{fact} is not empty"
            return _wrap("not " + _text(operand, facts, names, 3), 3, parent)
        case ir.And(operands=operands) | ir.Or(operands=operands):
            prec = _PRECEDENCE[type(expr)]
            joiner = " and " if isinstance(expr, ir.And) else " or "
            return _wrap(joiner.join(_text(op, facts, names, prec + 1) for op in operands), prec, parent)
    raise AssertionError(f"unknown IR node {expr!r}")


def _wrap(text: str, prec: int, parent: int) -> str:
    return f"({text})" if prec < parent else text
