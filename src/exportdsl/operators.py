"""The operator vocabulary shared by the AST and the IR (what is written, not what it means)."""

from __future__ import annotations

import enum


#: Words the grammar reserves: no fact, set, condition, rule or decision may be named so, and an
#: enum value spelled like one must be quoted.
RESERVED = frozenset(
    "policy version decisions default dated by extends fact enum set of condition rule title cite effective "
    "until overrides suspension suspends applies and or not in contains any all is empty true false".split()
)


class CompareOp(enum.Enum):
    """Comparison operators, by their policy spelling."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def negated(self) -> "CompareOp":
        """The operator that holds exactly when this one does not."""
        return _NEGATED[self]

    @property
    def flipped(self) -> "CompareOp":
        """The operator with its operands swapped (``a < b`` is ``b > a``)."""
        return _FLIPPED[self]


_NEGATED = {
    CompareOp.EQ: CompareOp.NE, CompareOp.NE: CompareOp.EQ,
    CompareOp.LT: CompareOp.GE, CompareOp.GE: CompareOp.LT,
    CompareOp.GT: CompareOp.LE, CompareOp.LE: CompareOp.GT,
}
_FLIPPED = {
    CompareOp.EQ: CompareOp.EQ, CompareOp.NE: CompareOp.NE,
    CompareOp.LT: CompareOp.GT, CompareOp.GT: CompareOp.LT,
    CompareOp.LE: CompareOp.GE, CompareOp.GE: CompareOp.LE,
}


class Quantifier(enum.Enum):
    """How a set-valued fact is tested against a set of values."""

    ANY = "any"   # the fact shares at least one element with the values
    ALL = "all"   # the fact holds every one of the values
    ANY_OTHER = "any not in"   # the fact holds an element that is not one of the values


class LiteralKind(enum.Enum):
    """The lexical kinds of a literal value as written."""

    DATE = "date"
    PERCENT = "percent"
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    BOOL = "bool"
