"""Exact comparisons of JSON floats with decimal thresholds, by one float comparison found at compile time.

A float fact value means the decimal its shortest ``repr`` spells (``0.1`` is exactly 1/10): call that
``D(x) = Decimal(repr(x))``. ``D`` is strictly increasing over the finite floats (each shortest repr
lies inside its float's rounding interval, and those intervals are disjoint and ordered), so for a
threshold ``c`` the floats with ``D(x) >= c`` are exactly those ``x >= t`` for the least float ``t``
with ``D(t) >= c``. This module finds that ``t`` for each operator, so the compiled evaluator
compares a float with a float literal instead of building a Decimal per value.

The same comparison must also hold for ``int`` values (ints compare with floats exactly in Python);
when no float cut is right for both (thresholds beyond 2**53, or beyond the float range), the
functions answer ``None`` and the caller compares exact decimals instead.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from ..operators import CompareOp


def shortest_decimal(x: float) -> Decimal:
    """The decimal a finite float stands for: the one its shortest repr spells."""
    return Decimal(repr(x))


def _least_float(holds, near: float) -> float | None:
    """The least finite float ``f`` with ``holds(D(f))`` for an upward-closed ``holds``; None if none.

    ``near`` is a float close to the answer (the threshold rounded), so only a few steps are taken.
    """
    f = near
    if holds(shortest_decimal(f)):
        while True:
            below = math.nextafter(f, -math.inf)
            if math.isinf(below) or not holds(shortest_decimal(below)):
                return f
            f = below
    while not holds(shortest_decimal(f)):
        f = math.nextafter(f, math.inf)
        if math.isinf(f):
            return None
    return f


def _nearest_float(c) -> float | None:
    try:
        f = float(c)
    except OverflowError:
        return None
    return None if math.isinf(f) else f


def float_cut(op: CompareOp, c) -> tuple[str, float] | bool | None:
    """How to decide ``D(x) OP c`` for a finite float ``x`` and ``x OP c`` for an int ``x`` at once.

    Returns ``(python_operator, f)`` (``x python_operator f`` is the answer for both), ``True`` or
    ``False`` (the answer for every value), or ``None`` when no single float comparison is exact for
    both floats and ints (compare decimals instead). ``c`` is an ``int`` or a finite ``Decimal``.
    """
    exact = Fraction(c)
    near = _nearest_float(c)
    if near is None:
        return None
    if op in (CompareOp.GE, CompareOp.LT, CompareOp.GT, CompareOp.LE):
        strict = op in (CompareOp.GT, CompareOp.LE)
        t = _least_float((lambda d: d > c) if strict else (lambda d: d >= c), near)
        if t is None:
            return None
        # Ints: n >= t must mean n >= c (or n > c): the least int on each side must agree.
        least_int = math.floor(exact) + 1 if strict else math.ceil(exact)
        if math.ceil(Fraction(t)) != least_int:
            return None
        return (">=" if op in (CompareOp.GE, CompareOp.GT) else "<"), t
    # = and !=: D(x) == c exactly when x is the float whose shortest repr spells c, if there is one.
    if shortest_decimal(near) == c:
        equal_float_is_integral = Fraction(near).denominator == 1
        if equal_float_is_integral and Fraction(near) != exact:
            return None      # e.g. 1e23: the float's repr says 10**23 but the float is another int
        if not equal_float_is_integral and exact.denominator == 1:
            return None
        return ("==" if op is CompareOp.EQ else "!="), near
    if exact.denominator == 1:
        return None          # no float means c, but the int c does
    return op is CompareOp.NE


def float_value(value) -> float | None:
    """A float ``x`` with ``D(x) == value`` (so every float cut treats it as ``value``), or None."""
    near = _nearest_float(value)
    if near is None or shortest_decimal(near) != value:
        return None
    return near
