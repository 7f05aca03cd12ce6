"""Fact columns in SQL: each fact's canonical value and its per-row error code, from the source column.

This mirrors ``semantics.coerce_value`` for the column types a ledger arrives in (Parquet and Arrow
types, DuckDB's readings of JSON Lines and CSV). A row whose code is not NULL is never decided;
the codes are exactly the Python evaluator's: E301 missing, E302 wrong type, E303 out of range.

Tabular inputs differ from a JSON object in two documented ways:

* a NULL cell is a *missing* fact (the default when the fact has one, else E301), since a table
  cannot leave a key out; and a column the policy does not declare is carried through, never E304;
* ``text`` sources (CSV cells) are decoded: ``true``/``false``, decimal text (a percent may also be
  written ``0.1%``), ``YYYY-MM-DD``, and sets as JSON arrays of strings.

Numbers are never rounded. Integer and DECIMAL columns compare on their own decimal grid, DOUBLE
columns as the Python evaluator reads a float (the shortest decimal that reads back as it; see
``conditions.compare_number``). Decimal text is read as DECIMAL(38, 18); a text or JSON number
that does not fit exactly there is rejected with E601 rather than rounded.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from collections.abc import Mapping

import attrs
from sqlglot import exp

from ...types import COUNTRY_CODES, NUMERIC_KINDS, FactType, Kind
from .nodes import (negate, and_, case, cast, col, decimal_lit, fn, in_list, is_null, lam, lit, not_null, or_,
                    paren, try_cast, var)

#: Scale at which decimal text (CSV cells, percent strings, JSON numbers) is read, exactly.
TEXT_SCALE = 18
_TEXT_DECIMAL = r"[+-]?[0-9]{1,20}(\.[0-9]{1,18})?"
_ANY_DECIMAL = r"[+-]?[0-9]+(\.[0-9]+)?"
_DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_INT_RANGES = {
    "TINYINT": 2**7, "SMALLINT": 2**15, "INTEGER": 2**31, "BIGINT": 2**63, "HUGEINT": 2**127,
    "UTINYINT": 2**8, "USMALLINT": 2**16, "UINTEGER": 2**32, "UBIGINT": 2**64, "UHUGEINT": 2**128,
}
#: Integer types whose literals sqlglot can write (the smaller unsigned ones compare as DECIMAL(38, 0)).
_LITERAL_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UHUGEINT")
_DECIMAL_TYPE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)\Z")


@attrs.frozen
class Source:
    """What a fact's column holds: a class of SQL type (and its decimal grid), or ``absent``."""

    kind: str            # absent bool int decimal double text date list json other
    scale: int = 0       # decimal grid of int/decimal columns
    bound: int = 0       # exclusive bound of |value| * 10**scale for int/decimal columns
    element: "Source | None" = None
    sql_type: str = ""


def classify(sql_type: str | None) -> Source:
    """The class of a DuckDB column type (``DESCRIBE``'s spelling); None for a missing column."""
    if sql_type is None:
        return Source("absent")
    t = sql_type.upper().strip()
    if t.endswith("[]"):
        return Source("list", element=classify(t[:-2]), sql_type=t)
    if t == "BOOLEAN":
        return Source("bool", sql_type=t)
    if t in _INT_RANGES:
        return Source("int", 0, _INT_RANGES[t], sql_type=t)
    match = _DECIMAL_TYPE.match(t)
    if match:
        precision, scale = int(match[1]), int(match[2])
        return Source("decimal", scale, 10**precision, sql_type=t)
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return Source("double", sql_type=t)
    if t in ("VARCHAR", "STRING") or t.startswith("VARCHAR("):
        return Source("text", sql_type=t)
    if t == "DATE":
        return Source("date", sql_type=t)
    if t == "JSON":
        return Source("json", sql_type=t)
    if t.strip('"') == "NULL":     # DESCRIBE spells an Arrow null column's type '"NULL"'
        return Source("null", sql_type="NULL")
    return Source("other", sql_type=t)


@attrs.frozen
class Numeric:
    """How a numeric fact's canonical value compares: on a decimal grid, or as a double."""

    mode: str            # grid | double
    scale: int = 0
    bound: int = 0       # exclusive bound of |value| * 10**scale
    default: object = None   # double mode: a NULL value means this default (a Decimal), compared exactly
    sql_type: str | None = None   # grid mode: the column's own type, for literals that fit it


def grid_literal(value, numeric: Numeric) -> exp.Expression:
    """An exact literal of ``value`` (on the numeric's grid): in the column's own type when it fits
    its range, so that DuckDB does not widen the column to DECIMAL(38, s) for every comparison
    (measured: 7 % of the 250-rule screening), else as DECIMAL(38, scale)."""
    literal = decimal_lit(value, numeric.scale)
    return cast(literal.this, numeric.sql_type) if _fits(Decimal(value), numeric) else literal


def lowest_units(numeric: Numeric) -> int:
    """The smallest value of a grid column, in units of its grid: a signed integer type reaches
    ``-bound`` (TINYINT: -128), an unsigned one 0, a decimal ``-(bound - 1)``."""
    own = numeric.sql_type or ""
    if own in _INT_RANGES:
        return 0 if own.startswith("U") else -numeric.bound
    return -(numeric.bound - 1)


def _fits(value: Decimal, numeric: Numeric) -> bool:
    """True when ``value`` (on the grid) is a value of the numeric's own column type."""
    own = numeric.sql_type or ""
    return (own in _LITERAL_TYPES or own.startswith("DECIMAL(")) and \
        lowest_units(numeric) <= value.scaleb(numeric.scale, context=decimal.Context(prec=80)) < numeric.bound


@attrs.frozen
class FactColumn:
    """A fact in SQL: its canonical value, its error code (NULL when valid), and the raw value."""

    name: str
    type: FactType
    value: exp.Expression
    code: exp.Expression
    raw: exp.Expression | None
    numeric: Numeric | None = None
    mask: tuple[str, ...] | None = None   # set of enum: ``value`` is a BIGINT bitmask over these values
    #: enum, country or string: each ``in`` set (``=`` is a set of one) that rules test the fact
    #: against, with the Boolean column holding the test (see :func:`membership`)
    tests: "Mapping[frozenset, exp.Expression] | None" = None
    #: For a set of enum read as a list of strings: the code without its per-element checks, which
    #: the bitmask makes instead (:data:`INVALID_BIT`); None when ``code`` must be used whole.
    shape_code: exp.Expression | None = None


#: Enum sets with at most this many values are tested as bitmasks.
MASK_LIMIT = 62
#: The bit that :func:`mask_of` sets for an element that is NULL or no value of the enum.
INVALID_BIT = 1 << MASK_LIMIT


def maskable(ftype: FactType) -> bool:
    """True for a set of enum values small enough for a BIGINT bitmask."""
    return ftype.kind is Kind.SET and ftype.element.kind is Kind.ENUM and len(ftype.element.values) <= MASK_LIMIT


#: A list of a column with at most this many elements gets its bitmask (or its checked length) from
#: its elements one by one, found by its length (:func:`mask_of`, :func:`checked_length`); longer
#: ones through a lambda over the list.
UNROLLED = 4


def _by_length(value: exp.Expression, short, long: exp.Expression) -> exp.Expression:
    """``long`` of a list, or ``short(n, [value[1], ..., value[n]])`` for a list of n <= :data:`UNROLLED`
    elements (n = 0 included), when ``value`` is a column (an expression is not repeated)."""
    if not isinstance(value, exp.Column):
        return long
    length = fn("len", value.copy())
    return case([(exp.EQ(this=length.copy(), expression=exp.Literal.number(n)),
                  short(n, [fn("list_extract", value.copy(), exp.Literal.number(i)) for i in range(1, n + 1)]))
                 for n in range(UNROLLED + 1)], long)


def _or_all(parts: list[exp.Expression]) -> exp.Expression:
    result = parts[0]
    for part in parts[1:]:
        result = exp.BitwiseOr(this=result, expression=part)
    return result


def mask_of(value: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
    """The BIGINT bitmask of a set of enum values: bit i for ``values[i]``, 0 when empty, and
    :data:`INVALID_BIT` for an element that is NULL or no value of the enum. Measured: one pass
    over the list per row, which also checks the elements, then every set test is integer
    arithmetic, instead of one pass over the list per test; each element's bit found by a cast to
    an ENUM (:func:`enum_index`: 40 % cheaper than a CASE over the values); the bits ORed by
    ``list_bit_or`` (measured: 2 M rows of the benchmark's ``elements``, 133 ns a row against
    172 ns for ``list_aggregate(..., 'bit_or')``). A short list (:data:`UNROLLED`) ORs its elements'
    bits without the lambda and the list aggregate (measured, the same 2 M rows: about a quarter
    less CPU)."""
    invalid = cast(exp.Literal.number(INVALID_BIT), "BIGINT")

    def bit(element: exp.Expression) -> exp.Expression:
        if not values:
            return invalid.copy()
        return fn("coalesce", paren(exp.BitwiseLeftShift(this=cast(exp.Literal.number(1), "BIGINT"),
                                                         expression=enum_index(values, element))), invalid.copy())
    zero = cast(exp.Literal.number(0), "BIGINT")
    folded = fn("coalesce", fn("list_bit_or", fn("list_transform", value, lam("x", bit(var("x"))))), zero)
    return _by_length(value, lambda n, elements: _or_all([bit(e) for e in elements]) if n else zero.copy(), folded)


def checked_length(value: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
    """For a set of enum values that rules test only with ``is empty``: its length as a BIGINT (0
    when empty, like :func:`mask_of`), or :data:`INVALID_BIT` when an element is NULL or no value
    of the enum. Measured: 45 % cheaper than the bitmask, which folds a bit per element; an empty
    list is answered before its elements are looked at (the benchmark ledger's ``cn_re_tech`` is
    empty in 60 % of rows: its check 16 % cheaper, measured on 2 M rows). A short list
    (:data:`UNROLLED`) checks its elements without the lambda."""
    invalid = cast(exp.Literal.number(INVALID_BIT), "BIGINT")

    def bad(element: exp.Expression) -> exp.Expression:
        return is_null(enum_index(values, element)) if values else exp.true()

    def short(n: int, elements: list[exp.Expression]) -> exp.Expression:
        if not n:
            return cast(exp.Literal.number(0), "BIGINT")
        return case([(or_(*(bad(e) for e in elements)), invalid.copy())], cast(exp.Literal.number(n), "BIGINT"))
    no_bad = exp.EQ(this=fn("len", fn("list_filter", value, lam("x", bad(var("x"))))), expression=exp.Literal.number(0))
    empty = exp.EQ(this=fn("len", value), expression=exp.Literal.number(0))
    long = case([(empty, cast(exp.Literal.number(0), "BIGINT")), (no_bad, cast(fn("len", value), "BIGINT"))],
                invalid.copy())
    return _by_length(value, short, long)


def enum_type(values) -> exp.DataType:
    """``ENUM('a', 'b', ...)`` over ``values`` in their order (each a literal, escaped by the generator)."""
    return exp.DataType(this=exp.DataType.Type.ENUM, expressions=[lit(v) for v in values])


def enum_index(values, text) -> exp.Expression:
    """The 0-based index of ``text`` in ``values`` (distinct, not empty), NULL when absent or NULL:
    ``enum_code(TRY_CAST(text AS ENUM(values)))``, a hash lookup; on a dictionary-encoded column
    (Parquet strings) DuckDB runs it once per dictionary entry, where ``IN`` runs once per row
    (measured: 10x cheaper over 15 values). Rendered for Spark as an ``array_position``."""
    return fn("enum_code", exp.TryCast(this=text, to=enum_type(values)))


def membership(text: exp.Expression, values) -> exp.Expression:
    """``text IN values`` (strings, exact) as ``enum_code(TRY_CAST(text AS ENUM(values))) IS NOT NULL``,
    a hash lookup, which on a dictionary-encoded column (Parquet strings) DuckDB runs per dictionary
    entry. Each test is its own Boolean column, so that a rule's test is a column reference; each has
    its own ENUM, so that DuckDB does not compute a shared lookup once per row instead. Measured
    (interleaved, 2 M rows, shared machine): the October screening with ``--keep row_id --no-rules``
    takes 18 % less CPU than with one one-hot integer per fact tested by bit arithmetic."""
    return not_null(enum_index(tuple(sorted(values)), text)) if values else exp.false()


E301, E302, E303, E601 = lit("E301"), lit("E302"), lit("E303"), lit("E601")
_TEXT_GRID = Numeric("grid", TEXT_SCALE, 10**38)


#: Every country code, in order: the values of the ENUM that :func:`is_country` casts to.
_COUNTRIES = tuple(sorted(COUNTRY_CODES))


def is_country(text) -> exp.Expression:
    """``text`` is an ISO country code, exactly (case, spaces and all): a cast to the ENUM of every
    code (:func:`enum_index`), which on a dictionary-encoded column (Parquet strings) DuckDB runs
    once per dictionary entry. Measured (2 M rows of the benchmark ledger, its three country
    facts checked, min of 8 interleaved runs): 0.030 s of CPU against 0.061 s for the former
    substring search in ``|AD|AE|...|``, which ran once per row."""
    return not_null(enum_index(_COUNTRIES, text))


def _json_string(raw):
    return fn("json_extract_string", raw, lit("$"))


def _text_number(text, code_if_not_decimal, percent: bool, accept_plain: bool):
    """(value, problem branches) of a decimal text; percent texts may (or must) end with %."""
    branches = []
    if percent:
        has_pct = fn("ends_with", text, lit("%"))
        body = case([(has_pct, fn("left", text, exp.Neg(this=exp.Literal.number(1))))], text)
        shape_ok = fn("regexp_full_match", body, lit(_ANY_DECIMAL))
        if not accept_plain:
            shape_ok = and_(has_pct, shape_ok)
    else:
        body = text
        shape_ok = fn("regexp_full_match", body, lit(_ANY_DECIMAL))
    branches.append((negate(shape_ok), code_if_not_decimal))
    branches.append((negate(fn("regexp_full_match", body, lit(_TEXT_DECIMAL))), E601))
    return try_cast(body, f"DECIMAL(38, {TEXT_SCALE})"), branches


def _double_number(value):
    """(value, problem branches) of a DOUBLE: NaN and infinities are E303 as in the evaluator."""
    return value, [(or_(fn("isnan", value), fn("isinf", value)), E303)]


def _number(ftype: FactType, raw, source: Source, decode_text: bool):
    """(value, Numeric, problem branches) of an integer, number or percent fact."""
    kind = ftype.kind
    percent = kind is Kind.PERCENT
    if source.kind == "int":
        value, numeric, branches = raw, Numeric("grid", 0, source.bound, sql_type=source.sql_type), []
    elif source.kind == "decimal":
        value, numeric, branches = raw, Numeric("grid", source.scale, source.bound, sql_type=source.sql_type), []
        if kind is Kind.INTEGER:
            branches.append((exp.NEQ(this=raw, expression=fn("trunc", raw)), E302))
    elif source.kind == "double":
        value, branches = _double_number(cast(raw, "DOUBLE"))
        numeric = Numeric("double")
        if kind is Kind.INTEGER:
            branches.append((exp.NEQ(this=value, expression=fn("trunc", value)), E302))
    elif source.kind == "text" and (decode_text or percent):
        value, branches = _text_number(raw, E302, percent, accept_plain=decode_text)
        numeric = _TEXT_GRID
        if kind is Kind.INTEGER:
            branches.append((exp.NEQ(this=value, expression=fn("trunc", value)), E302))
    elif source.kind == "json":
        # DuckDB reads JSON numbers as doubles: compared as the evaluator compares a float. A percent
        # string ("0.1%") is read as a double too, when it has at most 15 significant digits (so
        # that it reads back exactly); longer ones are E601.
        jtype = fn("json_type", raw)
        is_string = exp.EQ(this=jtype, expression=lit("VARCHAR"))
        is_number = in_list(jtype, ["BIGINT", "UBIGINT", "DOUBLE"])
        text = _json_string(raw)
        body = fn("left", text, exp.Neg(this=exp.Literal.number(1)))
        value = case([(is_string, try_cast(body, "DOUBLE"))], try_cast(raw, "DOUBLE"))
        numeric = Numeric("double")
        significant = fn("regexp_replace", fn("regexp_replace", body, lit(r"[^0-9]"), lit(""), lit("g")),
                         lit(r"^0+|0+$"), lit(""), lit("g"))
        branches = [
            (negate(or_(is_number, and_(is_string, exp.true() if percent else exp.false()))), E302),
            (and_(is_string, negate(and_(fn("ends_with", text, lit("%")),
                                               fn("regexp_full_match", body, lit(_ANY_DECIMAL))))), E302),
            (and_(is_string, exp.GT(this=fn("length", significant), expression=exp.Literal.number(15))), E601),
            (and_(in_list(jtype, ["BIGINT", "UBIGINT"]),
                  exp.GT(this=fn("abs", value), expression=exp.Literal.number(2**53))), E601),
            (or_(fn("isnan", value), fn("isinf", value)), E303),
        ]
        if kind is Kind.INTEGER:
            branches.append((exp.NEQ(this=value, expression=fn("trunc", value)), E302))
    else:   # a column of another type (BOOLEAN, a list, a struct...): every row is E302; the value
        # stays a typed NULL that the conditions can still compare, so the query builds
        return cast(exp.Null(), "DOUBLE"), Numeric("double"), [(exp.true(), E302)]
    if percent:
        zero, hundred = exp.Literal.number(0), exp.Literal.number(100)
        branches.append((or_(exp.LT(this=value, expression=zero), exp.GT(this=value, expression=hundred)), E303))
    return value, numeric, branches


def _text_value(raw, source: Source):
    """The string of a text or JSON-string source, and the branch rejecting other JSON values."""
    if source.kind == "text":
        return raw, []
    if source.kind == "json":
        return _json_string(raw), [(exp.NEQ(this=fn("json_type", raw), expression=lit("VARCHAR")), E302)]
    return exp.Null(), [(exp.true(), E302)]


def _scalar(ftype: FactType, raw, source: Source, decode_text: bool):
    """(value, Numeric or None, problem branches in the evaluator's order) of a non-set fact."""
    kind = ftype.kind
    if kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT):
        return _number(ftype, raw, source, decode_text)
    if kind is Kind.BOOL:
        if source.kind == "bool":
            return raw, None, []
        if source.kind == "json":
            return (try_cast(raw, "BOOLEAN"), None,
                    [(exp.NEQ(this=fn("json_type", raw), expression=lit("BOOLEAN")), E302)])
        if source.kind == "text" and decode_text:
            return (exp.EQ(this=raw, expression=lit("true")), None,
                    [(negate(in_list(raw, ["true", "false"])), E302)])
        return exp.Null(), None, [(exp.true(), E302)]
    if kind is Kind.DATE:
        if source.kind == "date":
            return raw, None, []
        text, branches = _text_value(raw, source)
        value = try_cast(text, "DATE")
        branches = branches + [
            (negate(fn("regexp_full_match", text, lit(_DATE_SHAPE))), E303),
            (or_(is_null(value), exp.EQ(this=fn("left", text, exp.Literal.number(4)), expression=lit("0000"))), E303),
        ]
        return value, None, branches
    text, branches = _text_value(raw, source)
    if kind is Kind.COUNTRY:
        return text, None, branches + [(negate(is_country(text)), E303)]
    if kind is Kind.ENUM:
        return text, None, branches + [(is_null(enum_index(ftype.values, text)) if ftype.values else exp.true(), E303)]
    return text, None, branches  # string


def _element_code(element: FactType, x, source: Source):
    """The code of one set element (NULL when valid) and its canonical string."""
    if source.kind == "json":
        text = _json_string(x)
        branches = [(is_null(x), E302), (exp.NEQ(this=fn("json_type", x), expression=lit("VARCHAR")), E302)]
    elif source.kind == "text":
        text, branches = x, [(is_null(x), E302)]
    else:
        return exp.Null(), E302
    if element.kind is Kind.COUNTRY:
        branches.append((negate(is_country(text)), E303))
    elif element.kind is Kind.ENUM:
        branches.append((is_null(enum_index(element.values, text)) if element.values else exp.true(), E303))
    return text, case(branches)


def _set(ftype: FactType, raw, source: Source, decode_text: bool):
    """(value as VARCHAR[], problem branches, whether the last branch is the per-element check of
    a list of strings) of a set fact: the first bad element decides the code."""
    if source.kind == "text" and decode_text:
        raw = try_cast(raw, "JSON")
        source = Source("json")
        parse_branch = [(is_null(raw), E302)]
    else:
        parse_branch = []
    if source.kind == "json":
        is_array = exp.EQ(this=fn("json_type", raw), expression=lit("ARRAY"))
        items = case([(is_array, try_cast(raw, "JSON[]"))])
        element_source = Source("json")
        branches = parse_branch + [(negate(is_array), E302)]
    elif source.kind == "list" and source.element.kind in ("text", "json"):
        items, element_source, branches = raw, source.element, []
    elif source.kind == "list":
        # A list of numbers or Booleans: valid only when empty, as in the evaluator.
        return (cast(exp.Array(expressions=[]), "VARCHAR[]"),
                [(exp.NEQ(this=fn("len", raw), expression=exp.Literal.number(0)), E302)], False)
    else:
        return exp.Null(), [(exp.true(), E302)], False
    text, element_code = _element_code(ftype.element, var("x"), element_source)
    first_bad = fn("list_first", fn("list_filter", fn("list_transform", items, lam("x", element_code)),
                                    lam("c", not_null(var("c")))))
    branches.append((not_null(first_bad), first_bad))
    value = fn("list_transform", items, lam("x", text)) if element_source.kind == "json" else items
    return value, branches, element_source.kind == "text"


def fact_column(fact, sql_type: str | None, decode_text: bool, column: str | None = None) -> FactColumn:
    """The canonical value and error code of ``fact`` (an ``ir.Fact``) read from a column of
    ``sql_type`` (None: the ledger has no such column)."""
    source = classify(sql_type)
    ftype = fact.type
    missing = E301 if fact.required else None
    default, default_numeric = default_sql(fact)
    if source.kind == "absent":
        if missing is not None and ftype.kind in NUMERIC_KINDS:   # E301 on every row; a typed NULL the
            return FactColumn(fact.name, ftype, cast(exp.Null(), "DOUBLE"), missing, None,   # rules compare
                              Numeric("double"))
        return FactColumn(fact.name, ftype, default if default is not None else exp.Null(),
                          missing or exp.Null(), None, default_numeric)
    raw = col(column or fact.name)
    if source.kind == "null":   # an Arrow column of nulls only: read as text, so each row is E301
        raw, source = cast(raw, "VARCHAR"), classify("VARCHAR")   # (or takes the default) by the NULL check
    elements_checked = False
    if ftype.kind is Kind.SET:
        value, branches, elements_checked = _set(ftype, raw, source, decode_text)
        numeric = None
    else:
        value, numeric, branches = _scalar(ftype, raw, source, decode_text)
    if default is not None and numeric is not None and numeric.mode == "double":
        numeric = attrs.evolve(numeric, default=Decimal(fact.default))
    elif default is not None:
        if numeric is not None:
            value, numeric, more = _with_default_grid(value, numeric, default_numeric, Decimal(fact.default))
            branches = branches + more
            default = grid_literal(Decimal(fact.default), numeric)
        value = case([(is_null(raw), default)], value)
    code = case([(is_null(raw), missing or exp.Null())] + branches)
    shape_code = None
    if elements_checked and maskable(ftype):
        # mask_of marks exactly the elements that the last branch rejects (NULL or not in the enum)
        shape_code = case([(is_null(raw), missing or exp.Null())] + branches[:-1])
    return FactColumn(fact.name, ftype, value, code, raw, numeric, shape_code=shape_code)


def _with_default_grid(value, numeric: Numeric, default_numeric: Numeric, default: Decimal):
    """A grid value moved to a grid that also holds the fact's default (exactly, else E601); kept
    in its own type when the default fits it."""
    if default_numeric.scale <= numeric.scale and _fits(default, numeric):
        return value, numeric, []
    scale = max(numeric.scale, default_numeric.scale)
    more = []
    if scale != numeric.scale:
        value = try_cast(value, f"DECIMAL(38, {scale})")
        more.append((is_null(value), E601))
    return value, Numeric("grid", scale, 10**38), more


def default_sql(fact, scale: int | None = None) -> tuple[exp.Expression | None, Numeric | None]:
    """The SQL literal of a fact's default (None for a required fact), and its grid for numbers."""
    if fact.required:
        return None, None
    value, kind = fact.default, fact.type.kind
    if kind is Kind.BOOL:
        return (exp.true() if value else exp.false()), None
    if kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT):
        exponent = Decimal(value).as_tuple().exponent
        own = max(0, -exponent) if isinstance(exponent, int) else 0
        scale = own if scale is None else scale
        return decimal_lit(value, scale), Numeric("grid", scale, 10**38)
    if kind is Kind.DATE:
        return cast(lit(value), "DATE"), None
    if kind is Kind.SET:
        return cast(exp.Array(expressions=[lit(v) for v in sorted(value)]), "VARCHAR[]"), None
    return lit(value), None
