"""The single meaning of every operator and of every fact value (validation, normalisation, literals).

Every backend takes its meaning from here: the reference interpreter calls the functions, the
compiled evaluator inlines the Python expression templates next to them, and the SQL backend
(later) translates the same table. Canonical runtime values are:

========  ==========================================================
bool      ``True`` / ``False``
integer   ``int``
number    ``int`` or finite ``decimal.Decimal``
percent   ``int`` or ``Decimal`` percentage points in [0, 100] (``0.1`` is 0.1 %)
date      ISO ``YYYY-MM-DD`` string of a real calendar date (ISO strings order like dates)
country   upper-case ISO 3166-1 alpha-2 string
string    ``str``, exactly as given
enum      ``str``, one of the declared values
set of    ``frozenset`` of canonical element values
========  ==========================================================
"""

from __future__ import annotations

import datetime
import operator
import re
from collections.abc import Mapping
from decimal import Decimal

from .errors import Diagnostic, EvaluationError, did_you_mean
from .operators import CompareOp, LiteralKind, Quantifier
from .types import COUNTRY_CODES, FactType, Kind

# ---- operators -----------------------------------------------------------------------

#: What each comparison computes on two canonical values.
COMPARE_FUNCTIONS = {
    CompareOp.EQ: operator.eq,
    CompareOp.NE: operator.ne,
    CompareOp.LT: operator.lt,
    CompareOp.LE: operator.le,
    CompareOp.GT: operator.gt,
    CompareOp.GE: operator.ge,
}

#: The same comparisons as Python source operators, for generated code.
COMPARE_PYTHON = {
    CompareOp.EQ: "==",
    CompareOp.NE: "!=",
    CompareOp.LT: "<",
    CompareOp.LE: "<=",
    CompareOp.GT: ">",
    CompareOp.GE: ">=",
}


def compare(op: CompareOp, left, right) -> bool:
    """``left OP right`` on canonical values (numbers exactly, dates as ISO strings)."""
    return COMPARE_FUNCTIONS[op](left, right)


def member(value, values: frozenset) -> bool:
    """``value in values``."""
    return value in values


def set_test(quantifier: Quantifier, fact_value: frozenset, values: frozenset) -> bool:
    """``fact contains any values`` (they share an element), ``contains all values`` (a superset) or
    ``contains any not in values`` (an element outside the values: the fact is no subset of them)."""
    if quantifier is Quantifier.ANY:
        return not fact_value.isdisjoint(values)
    if quantifier is Quantifier.ANY_OTHER:
        return not fact_value <= values
    return values <= fact_value


def is_empty(fact_value: frozenset) -> bool:
    """``fact is empty``."""
    return not fact_value


#: Python expression templates with the same meaning, ``{fact}`` and ``{values}`` being local names.
MEMBER_PYTHON = "({fact} in {values})"
SET_TEST_PYTHON = {
    Quantifier.ANY: "(not {fact}.isdisjoint({values}))",
    Quantifier.ALL: "({values} <= {fact})",
    Quantifier.ANY_OTHER: "(not {fact} <= {values})",
}
IS_EMPTY_PYTHON = "(not {fact})"


# ---- literal values written in a policy ------------------------------------------------

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?\Z")


class ValueProblem(Exception):
    """A value that does not fit a type: a diagnostic code, a message and an optional help text."""

    def __init__(self, code: str, message: str, help: str | None = None):
        super().__init__(message)
        self.code, self.message, self.help = code, message, help


def valid_date(text: str) -> bool:
    """True for an ISO ``YYYY-MM-DD`` string that names a real calendar date."""
    if not isinstance(text, str) or not _DATE_RE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def decimal_of(text: str):
    """The exact value of a decimal text: an ``int`` when it has no fraction, else a ``Decimal``."""
    if "." in text:
        return Decimal(text)
    return int(text)


def _country(code: str, error: str, shown: str) -> str:
    if code not in COUNTRY_CODES:
        hint = did_you_mean(code.upper(), COUNTRY_CODES) if len(code) == 2 else None
        raise ValueProblem(error, f"unknown country code {shown}",
                           help=hint or "use an ISO 3166-1 alpha-2 code such as CN or US")
    return code


def literal_value(ftype: FactType, kind: LiteralKind, text: str):
    """The canonical value of a literal written for a fact of type ``ftype``; raises ValueProblem."""
    k = ftype.kind
    if k is Kind.SET:
        return literal_value(ftype.element, kind, text)
    shown = f'"{text}"' if kind is LiteralKind.STRING else text
    if k is Kind.BOOL:
        if kind is LiteralKind.BOOL:
            return text == "true"
    elif k is Kind.DATE:
        if kind is LiteralKind.DATE:
            if not valid_date(text):
                raise ValueProblem("E105", f"{text} is not a calendar date")
            return text
    elif k is Kind.PERCENT:
        if kind is LiteralKind.PERCENT:
            value = decimal_of(text[:-1])
            if not 0 <= value <= 100:
                raise ValueProblem("E203", f"percent {text} is outside 0%..100%")
            return value
        if kind is LiteralKind.NUMBER:
            raise ValueProblem("E204", f"{text} is a number but the fact is a percent",
                               help=f"write {text}% for {text} percent")
    elif k in (Kind.INTEGER, Kind.NUMBER):
        if kind is LiteralKind.NUMBER:
            value = decimal_of(text)
            return value
        if kind is LiteralKind.PERCENT:
            raise ValueProblem("E204", f"{text} is a percent but the fact is a {k.value}",
                               help="declare the fact as percent, or drop the %")
    elif k is Kind.COUNTRY:
        if kind in (LiteralKind.NAME, LiteralKind.STRING):
            return _country(text, "E203", shown)
    elif k is Kind.ENUM:
        if kind in (LiteralKind.NAME, LiteralKind.STRING):
            if text not in ftype.values:
                raise ValueProblem("E203", f"unknown value {shown}",
                                   help=did_you_mean(text, ftype.values) or
                                   "declared values: " + ", ".join(ftype.values))
            return text
    elif k is Kind.STRING:
        if kind is LiteralKind.STRING:
            return text
        if kind is LiteralKind.NAME:
            raise ValueProblem("E204", f"{text} is a bare name but the fact is a string",
                               help=f'quote string values: "{text}"')
    raise ValueProblem("E204", f"{shown} is a {kind.value} literal but the fact is {ftype.describe()}")


# ---- fact values given to an evaluation ---------------------------------------------------

MISSING = object()


def _show(value) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value) -> str:
    """``null``, or the JSON type name and the value: ``string 'x'``."""
    return "null" if value is None else f"{_type_name(value)} {_show(value)}"


def _type_name(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", Decimal: "number", str: "string",
            list: "list", tuple: "list", dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _number(value, what: str):
    if isinstance(value, bool):
        raise ValueProblem("E302", f"expected {what}, got boolean {_show(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueProblem("E303", f"expected {what} (finite), got {_show(value)}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueProblem("E303", f"expected {what} (finite), got {_show(value)}")
        return value
    raise ValueProblem("E302", f"expected {what}, got {_got(value)}")


def coerce_value(ftype: FactType, value):
    """The canonical form of a fact value of type ``ftype``; raises ValueProblem naming the value."""
    k = ftype.kind
    if k is Kind.BOOL:
        if value is True or value is False:
            return value
        raise ValueProblem("E302", f"expected true or false, got {_got(value)}")
    if k is Kind.INTEGER:
        number = _number(value, "an integer")
        if isinstance(number, Decimal):
            if number != number.to_integral_value():
                raise ValueProblem("E302", f"expected an integer, got {_show(value)}")
            return int(number)
        return number
    if k is Kind.NUMBER:
        return _number(value, "a number")
    if k is Kind.PERCENT:
        if isinstance(value, str):
            if not value.endswith("%") or not _DECIMAL_RE.match(value[:-1]):
                raise ValueProblem("E302", f"expected a percent like 0.1 or \"0.1%\", got {_show(value)}")
            number = decimal_of(value[:-1])
        else:
            number = _number(value, 'a percent (a number of percentage points, or a string like "0.1%")')
        if not 0 <= number <= 100:
            raise ValueProblem("E303", f"percent {_show(value)} is outside 0..100")
        return number
    if k is Kind.DATE:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, str):
            if valid_date(value):
                return value
            if _DATE_RE.match(value):
                raise ValueProblem("E303", f"{_show(value)} is not a calendar date")
            raise ValueProblem("E303", f"malformed date {_show(value)}", help="write dates as YYYY-MM-DD")
        raise ValueProblem("E302", f"expected a date string YYYY-MM-DD, got {_got(value)}")
    if k is Kind.COUNTRY:
        if not isinstance(value, str):
            raise ValueProblem("E302", f"expected a country code string, got {_got(value)}")
        return _country(value, "E303", _show(value))
    if k is Kind.STRING:
        if isinstance(value, str):
            return value
        raise ValueProblem("E302", f"expected a string, got {_got(value)}")
    if k is Kind.ENUM:
        if not isinstance(value, str):
            raise ValueProblem("E302", f"expected a string, got {_got(value)}")
        if value not in ftype.values:
            raise ValueProblem("E303", f"unknown value {_show(value)}",
                               help=did_you_mean(value, ftype.values) or "allowed: " + ", ".join(ftype.values))
        return value
    if k is Kind.SET:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise ValueProblem("E302", f"expected a list, got {_got(value)}")
        items = []
        for item in value:
            try:
                items.append(coerce_value(ftype.element, item))
            except ValueProblem as problem:
                raise ValueProblem(problem.code, f"element {_show(item)}: {problem.message}", problem.help) from None
        return frozenset(items)
    raise AssertionError(f"unhandled kind {k}")


def validate_facts(declared: Mapping, facts) -> dict:
    """Check and normalise a whole transaction against declared facts; every problem is reported.

    ``declared`` maps a fact name to an object with ``.type`` and ``.default`` (``MISSING`` when the
    fact is required). Raises :class:`EvaluationError` naming each bad fact and value.
    """
    if not isinstance(facts, Mapping):
        raise EvaluationError(Diagnostic(
            "E305", f"facts must be a JSON object (mapping), got {_type_name(facts)}"))
    problems: list[Diagnostic] = []
    result = {}
    for name, decl in declared.items():
        value = facts.get(name, MISSING)
        if value is MISSING:
            if decl.default is MISSING:
                problems.append(Diagnostic("E301", f"missing fact '{name}' ({decl.type.describe()})",
                                           help=f"add \"{name}\" to the transaction"))
                continue
            result[name] = decl.default
            continue
        try:
            result[name] = coerce_value(decl.type, value)
        except ValueProblem as problem:
            problems.append(Diagnostic(problem.code, f"fact '{name}': {problem.message}", help=problem.help))
    for name in facts:
        if name not in declared:
            problems.append(Diagnostic(
                "E304", f"unknown fact {_show(name)}: the policy does not declare it",
                help=did_you_mean(name, declared) or "remove it, or declare it in the policy"))
    if problems:
        raise EvaluationError(problems)
    return result
