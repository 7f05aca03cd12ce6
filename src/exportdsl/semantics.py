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
from bisect import bisect_left
from collections.abc import Mapping
from decimal import Decimal
from itertools import islice

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


#: The Python expression of ``is empty`` on a set fact held as a frozenset, ``{fact}`` being a local name.
IS_EMPTY_PYTHON = "(not {fact})"


def set_mask(elements, bits: Mapping, other: int) -> int:
    """A set of canonical elements as a bit mask: each element's bit from ``bits``, ``other`` for an
    element that ``bits`` does not list (one bit shared by all of those)."""
    mask = 0
    for element in elements:
        mask |= bits.get(element, other)
    return mask


def date_code(text: str, thresholds) -> int:
    """A date's place among the sorted dates ``thresholds``: ``2i + 1`` for ``thresholds[i]`` itself,
    ``2i`` for a date after ``thresholds[i - 1]`` and before ``thresholds[i]``. Dates compare as
    their ISO strings, so for every threshold ``t`` and comparison ``OP``, ``text OP t`` holds exactly
    when ``date_code(text) OP date_code(t)``: the compiled evaluator compares codes (ints)."""
    i = bisect_left(thresholds, text)
    return 2 * i + (i < len(thresholds) and thresholds[i] == text)


#: The set tests over masks (:func:`set_mask`), ``{values}`` being the mask of the tested values
#: (all listed in ``bits``, so never ``other``) and ``{outside}`` the mask of every bit but those:
#: ``any`` shares a bit, ``all`` has every bit of the values, ``any not in`` has a bit outside them
#: (an unlisted element has the ``other`` bit, outside every value mask), ``is empty`` is mask 0.
SET_TEST_MASK_PYTHON = {
    Quantifier.ANY: "({fact} & {values})",
    Quantifier.ALL: "({fact} & {values} == {values})",
    Quantifier.ANY_OTHER: "({fact} & {outside})",
}


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

#: A number fact value has at most this many significant digits ...
MAX_NUMBER_DIGITS = 400
#: ... and, unless zero, a magnitude between 10**-MAX_NUMBER_EXPONENT and 10**(MAX_NUMBER_EXPONENT + 1).
MAX_NUMBER_EXPONENT = 400
_INT_LIMIT = 10 ** (MAX_NUMBER_EXPONENT + 1)
#: A transaction with more keys than this is refused whole (E305) before any key is examined further.
MAX_FACT_KEYS = 100_000
#: Unknown facts reported one by one; the rest are counted in one last diagnostic.
MAX_UNKNOWN_REPORTED = 20
#: How much of a value a message shows.
SHOWN_CHARS = 60


class NumberText:
    """A JSON number whose text is too long or too large to convert: read as text, rejected (E303)
    by :func:`coerce_value` with the fact's name. Readers of JSON produce it instead of converting."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"NumberText({_clip(self.text)})"


def _clip(text: str) -> str:
    """``text`` cut to SHOWN_CHARS with an ellipsis and its length when longer."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text)} characters)"


def show_value(value, depth: int = 0) -> str:
    """A value for a message: bounded, and never through a caller's own ``__repr__`` or ``__str__``."""
    if isinstance(value, (list, tuple, set, frozenset, dict)) and depth < 3:
        if isinstance(value, dict):
            items = [f"{show_value(k, depth + 1)}: {show_value(v, depth + 1)}" for k, v in islice(dict.items(value), 4)]
            opening, closing, count = "{", "}", dict.__len__(value)
        else:
            items = [show_value(item, depth + 1) for item in islice(_elements(value), 4)]
            opening, closing = ("[", "]") if isinstance(value, (list, tuple)) else ("{", "}")
            count = len(_elements(value)) if len(items) == 4 else len(items)
        more = ", …" if count > len(items) else ""
        return _clip(opening + ", ".join(items) + more + closing)
    if isinstance(value, bool):
        return repr(bool(value))
    if isinstance(value, str):
        text = str.__str__(value)
        if len(text) <= SHOWN_CHARS:
            return repr(text)
        return f"{text[:SHOWN_CHARS]!r}… ({len(text)} characters)"
    if isinstance(value, int):
        value = int.__int__(value)
        if -_INT_LIMIT < value < _INT_LIMIT:
            return str(value)
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, Decimal):
        return _clip(str(Decimal(value)))
    if isinstance(value, NumberText):
        return _clip(value.text)
    if value is None:
        return "null"
    return f"a {_type_name(value)}"


def _got(value) -> str:
    """``null``, or the JSON type name and the value: ``string 'x'``."""
    if value is None:
        return "null"
    shown = show_value(value)
    return shown if shown.startswith("a ") else f"{_type_name(value)} {shown}"


def _type_name(value) -> str:
    for base, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (Decimal, "number"),
                       (NumberText, "number"), (str, "string"), (list, "list"), (tuple, "list"),
                       (Mapping, "object"), (type(None), "null")):
        if isinstance(value, base):
            return name
    return type(value).__name__


def _bounded(value: Decimal, what: str, original) -> Decimal:
    """A finite Decimal within the digit and exponent bounds (checked before any costly conversion)."""
    if not value.is_finite():
        raise ValueProblem("E303", f"expected {what} (finite), got {show_value(original)}")
    if value and not -MAX_NUMBER_EXPONENT <= value.adjusted() <= MAX_NUMBER_EXPONENT:
        raise ValueProblem("E303", f"number {show_value(original)} is out of range",
                           help=f"numbers lie between 1e-{MAX_NUMBER_EXPONENT} and 1e+{MAX_NUMBER_EXPONENT}")
    if len(value.as_tuple().digits) > MAX_NUMBER_DIGITS:
        raise ValueProblem("E303", f"number {show_value(original)} has more than {MAX_NUMBER_DIGITS} digits")
    return value


def _number(value, what: str):
    """An ``int`` or finite ``Decimal`` of the exact base type (subclasses are read through the base
    type's own methods, never their overrides), within the bounds; raises ValueProblem."""
    if isinstance(value, bool):
        raise ValueProblem("E302", f"expected {what}, got boolean {show_value(value)}")
    if isinstance(value, int):
        number = int.__int__(value)
        if not -_INT_LIMIT < number < _INT_LIMIT:
            raise ValueProblem("E303", f"integer of {number.bit_length()} bits is out of range",
                               help=f"numbers lie between 1e-{MAX_NUMBER_EXPONENT} and 1e+{MAX_NUMBER_EXPONENT}")
        return number
    if isinstance(value, float):
        number = float.__float__(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueProblem("E303", f"expected {what} (finite), got {show_value(value)}")
        return _bounded(Decimal(float.__repr__(number)), what, value)
    if isinstance(value, Decimal):
        return _bounded(Decimal(value), what, value)
    if isinstance(value, NumberText):
        raise ValueProblem("E303", f"number {show_value(value)} is out of range or too long",
                           help=f"numbers have at most {MAX_NUMBER_DIGITS} digits and lie between "
                                f"1e-{MAX_NUMBER_EXPONENT} and 1e+{MAX_NUMBER_EXPONENT}")
    raise ValueProblem("E302", f"expected {what}, got {_got(value)}")


def _listed(values) -> str:
    shown = ", ".join(values[:20])
    return shown + (f", … ({len(values)} values)" if len(values) > 20 else "")


def _elements(value) -> list:
    """The elements of a list, tuple or set (subclasses iterated with the base type's iterator)."""
    for base in (list, tuple, frozenset, set):
        if isinstance(value, base):
            return list(base.__iter__(value))
    raise AssertionError(type(value))


def coerce_value(ftype: FactType, value):
    """The canonical form of a fact value of type ``ftype``; raises ValueProblem naming the value.

    Subclasses of ``int``, ``float``, ``Decimal``, ``str``, ``list``, ``tuple``, ``set`` and
    ``datetime.date`` are read as the exact base value (their overrides are never called).
    """
    k = ftype.kind
    if k is Kind.BOOL:
        if value is True or value is False:
            return value
        raise ValueProblem("E302", f"expected true or false, got {_got(value)}")
    if k is Kind.INTEGER:
        number = _number(value, "an integer")
        if isinstance(number, Decimal):
            if number != number.to_integral_value():
                raise ValueProblem("E302", f"expected an integer, got {show_value(value)}")
            return int(number)
        return number
    if k is Kind.NUMBER:
        return _number(value, "a number")
    if k is Kind.PERCENT:
        if isinstance(value, str):
            text = str.__str__(value)
            if (not text.endswith("%") or len(text) > MAX_NUMBER_DIGITS + 3
                    or not _DECIMAL_RE.match(text[:-1])):
                raise ValueProblem("E302", f"expected a percent like 0.1 or \"0.1%\", got {show_value(value)}")
            number = decimal_of(text[:-1])
        else:
            number = _number(value, 'a percent (a number of percentage points, or a string like "0.1%")')
        if not 0 <= number <= 100:
            raise ValueProblem("E303", f"percent {show_value(value)} is outside 0..100")
        return number
    if k is Kind.DATE:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return datetime.date.isoformat(value)
        if isinstance(value, str):
            text = str.__str__(value)
            if valid_date(text):
                return text
            if _DATE_RE.match(text):
                raise ValueProblem("E303", f"{show_value(text)} is not a calendar date")
            raise ValueProblem("E303", f"malformed date {show_value(text)}", help="write dates as YYYY-MM-DD")
        raise ValueProblem("E302", f"expected a date string YYYY-MM-DD, got {_got(value)}")
    if k is Kind.COUNTRY:
        if not isinstance(value, str):
            raise ValueProblem("E302", f"expected a country code string, got {_got(value)}")
        text = str.__str__(value)
        return _country(text, "E303", show_value(text))
    if k is Kind.STRING:
        if isinstance(value, str):
            return str.__str__(value)
        raise ValueProblem("E302", f"expected a string, got {_got(value)}")
    if k is Kind.ENUM:
        if not isinstance(value, str):
            raise ValueProblem("E302", f"expected a string, got {_got(value)}")
        text = str.__str__(value)
        if text not in ftype.values:
            raise ValueProblem("E303", f"unknown value {show_value(text)}",
                               help=did_you_mean(text, ftype.values) or "allowed: " + _listed(ftype.values))
        return text
    if k is Kind.SET:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise ValueProblem("E302", f"expected a list, got {_got(value)}")
        items = []
        for item in _elements(value):
            try:
                items.append(coerce_value(ftype.element, item))
            except ValueProblem as problem:
                raise ValueProblem(problem.code, f"element {show_value(item)}: {problem.message}", problem.help) from None
        return frozenset(items)
    raise AssertionError(f"unhandled kind {k}")


def _snapshot(facts: Mapping) -> tuple[dict, list, list[Diagnostic]]:
    """The caller's mapping read once, without changing it: string keys (exact ``str``) to values,
    the keys that are not strings, and the problems (a key given twice)."""
    read: dict = {}
    others: list = []
    problems: list[Diagnostic] = []
    items = iter(facts.items())
    for key, value in islice(items, MAX_FACT_KEYS):
        if not isinstance(key, str):
            others.append(key)
            continue
        key = str.__str__(key)
        if key in read:
            problems.append(Diagnostic("E307", f"fact {show_value(key)} is given twice",
                                       help="give each fact once: which value counts would be a guess"))
            continue
        read[key] = value
    if next(items, MISSING) is not MISSING:
        raise EvaluationError(Diagnostic("E305", f"facts with more than {MAX_FACT_KEYS} keys"))
    return read, others, problems


def validate_facts(declared: Mapping, facts) -> dict:
    """Check and normalise a whole transaction against declared facts; every problem is reported.

    ``declared`` maps a fact name to an object with ``.type`` and ``.default`` (``MISSING`` when the
    fact is required). Raises :class:`EvaluationError` naming each bad fact and value, and never any
    other exception, whatever the mapping and its values are; the caller's mapping is read, never
    changed (a ``defaultdict`` gains no key).
    """
    if not isinstance(facts, Mapping):
        raise EvaluationError(Diagnostic(
            "E305", f"facts must be a JSON object (mapping), got {_type_name(facts)}"))
    try:
        given, other_keys, problems = _snapshot(facts)
    except EvaluationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a caller's mapping type may raise anything: fail closed
        raise EvaluationError(Diagnostic(
            "E305", f"the facts mapping ({type(facts).__name__}) could not be read: {type(exc).__name__}")) from None
    result = {}
    for name, decl in declared.items():
        value = given.get(name, MISSING)
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
        except Exception as exc:  # noqa: BLE001 - a value's own type may raise anything: fail closed
            problems.append(Diagnostic("E302", f"fact '{name}': a {_type_name(value)} value that cannot be "
                                               f"read ({type(exc).__name__})"))
    unknown = [key for key in given if key not in declared] + other_keys
    for name in unknown[:MAX_UNKNOWN_REPORTED]:
        hint = did_you_mean(name, declared) if isinstance(name, str) else None
        problems.append(Diagnostic(
            "E304", f"unknown fact {show_value(name)}: the policy does not declare it",
            help=hint or "remove it, or declare it in the policy"))
    if len(unknown) > MAX_UNKNOWN_REPORTED:
        problems.append(Diagnostic(
            "E304", f"{len(unknown) - MAX_UNKNOWN_REPORTED} more unknown facts (not listed)"))
    if problems:
        raise EvaluationError(problems)
    return result
