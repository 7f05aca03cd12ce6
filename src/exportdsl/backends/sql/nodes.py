"""Small constructors of sqlglot expression nodes, and the dialects the trees are rendered in.

Every string and name from a policy or a ledger enters a tree here, as a literal or a quoted
identifier; the dialect's generator escapes it. Functions are written with DuckDB's names and
mapped to Spark's at rendering time (``SPARK_FUNCTIONS``).
"""

from __future__ import annotations

import decimal
import functools
from decimal import Decimal

from sqlglot import errors as sqlglot_errors
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB


class DuckDBLambdas(DuckDB):
    """DuckDB with its current lambda syntax (``lambda x: body``; ``x -> body`` is deprecated), and
    each shared type node written once per rendering (see :func:`cast_to`)."""

    class Generator(DuckDB.Generator):
        def lambda_sql(self, expression: exp.Lambda, arrow_sep: str = "->", wrap: bool = True) -> str:
            args = self.expressions(expression, flat=True)
            return f"(lambda {args}: {self.sql(expression, 'this')})"

        def datatype_sql(self, expression: exp.DataType) -> str:
            """The text of a type with parameters (an ENUM of every rule list: thousands of literals,
            cast to several times) made once per rendering and reused for the same node. A flat
            type's text depends on the node alone; pretty or nested ones are written each time."""
            if self.pretty or not expression.expressions or expression.args.get("nested"):
                return super().datatype_sql(expression)
            written = self.__dict__.setdefault("_written_types", {})
            # the node is kept with its text, so that its id cannot be reused during the rendering
            node, text = written.get(id(expression), (None, ""))
            if node is not expression:
                text = super().datatype_sql(expression)
                written[id(expression)] = (expression, text)
            return text


def ident(name: str) -> exp.Identifier:
    """A quoted identifier (any text, escaped by the generator)."""
    return exp.Identifier(this=name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference."""
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def lit(text: str) -> exp.Literal:
    """A string literal."""
    return exp.Literal.string(text)


def num(value) -> exp.Expression:
    """A numeric literal written from an int or a finite Decimal (its exact text)."""
    if isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(int(value))
    if text.startswith("-"):
        return exp.Neg(this=exp.Literal.number(text[1:]))
    return exp.Literal.number(text)


def exact_context(value: Decimal, scale: int) -> decimal.Context:
    """A decimal context precise enough to move ``value`` to a grid of ``scale`` without rounding."""
    return decimal.Context(prec=len(value.as_tuple().digits) + abs(value.as_tuple().exponent) + scale + 2)


def decimal_lit(value: Decimal | int, scale: int) -> exp.Expression:
    """An exact DECIMAL(38, scale) literal (the value must already lie on that scale's grid)."""
    value = Decimal(value)
    text = format(value.quantize(Decimal(1).scaleb(-scale), context=exact_context(value, scale)), "f")
    return cast(lit(text), f"DECIMAL(38, {scale})")


def double_lit(value: float) -> exp.Expression:
    """A DOUBLE literal written as the shortest text that reads back as exactly ``value``."""
    return cast(lit(repr(value)), "DOUBLE")


@functools.lru_cache(maxsize=256)
def _data_type(to: str) -> exp.DataType:
    return exp.DataType.build(to)


def representable(sql_type: str) -> bool:
    """Whether a type DuckDB described can be written in a query: DuckDB describes a JSON column
    holding only nulls as ``"NULL"`` (and ``STRUCT(a "NULL")``, ``"NULL"[]``), a type it cannot cast to."""
    try:
        _data_type(sql_type)
    except sqlglot_errors.ParseError:
        return False
    return True


def _fresh_type(to: str) -> exp.DataType:
    """A new node of the type ``to``: a type without parameters (BIGINT, DATE) built directly,
    others copied from the parsed one (measured: sqlglot's deep copy was a quarter of building
    a 250-rule query, most of it for BIGINT literals)."""
    parsed = _data_type(to)
    if not parsed.expressions:
        return exp.DataType(this=parsed.this, nested=parsed.args.get("nested", False))
    return parsed.copy()


def cast(expr: exp.Expression, to: str) -> exp.Cast:
    return exp.Cast(this=expr, to=_fresh_type(to))


def cast_to(expr: exp.Expression, to: exp.DataType) -> exp.Cast:
    """A cast to a type built as a node (an ENUM of given values). The node is shared, not copied:
    the ENUM of a policy's rule lists has thousands of values and is cast to in every tier
    (measured: copying it was half of building the October query). A tree holding shared nodes
    renders as its copy does (tests/test_screen_start.py checks it); sqlglot's ``transform`` and
    ``replace`` assume a tree, so a tree to be rewritten is copied first (``render`` for Spark does:
    the copy holds one node per use)."""
    return exp.Cast(this=expr, to=to)


def try_cast(expr: exp.Expression, to: str) -> exp.TryCast:
    return exp.TryCast(this=expr, to=_fresh_type(to))


def fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    """A function call by its DuckDB name (mapped for Spark by :func:`render`)."""
    return exp.Anonymous(this=name, expressions=list(args))


def lam(var: str, body: exp.Expression) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(var)])


def var(name: str) -> exp.Column:
    """A lambda variable reference (unquoted, names chosen here)."""
    return exp.column(name)


def negate(expr: exp.Expression) -> exp.Expression:
    """``NOT (expr)``, parenthesised so that the generator cannot mis-associate it."""
    return exp.Not(this=exp.Paren(this=expr))


def _grouped(operands):
    return [exp.Paren(this=o) if isinstance(o, (exp.Connector, exp.Not)) else o for o in operands]


def is_null(expr: exp.Expression) -> exp.Expression:
    return exp.Is(this=expr, expression=exp.Null())


def not_null(expr: exp.Expression) -> exp.Expression:
    return exp.Not(this=is_null(expr))


def case(branches: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None = None):
    """``CASE WHEN c THEN v ... ELSE default END`` (the default alone when there is no branch)."""
    if not branches:
        return default if default is not None else exp.Null()
    # built in place: Case.when and Case.else_ copy the whole tree so far at each call (measured:
    # half of building a 250-rule query)
    return exp.Case(ifs=[exp.If(this=condition, true=value) for condition, value in branches], default=default)


def in_list(expr: exp.Expression, values) -> exp.Expression:
    """``expr IN ('a', 'b', ...)`` over string values (FALSE for no values)."""
    values = sorted(values)
    if not values:
        return exp.false()
    return exp.In(this=expr, expressions=[lit(v) for v in values])


def str_array(values) -> exp.Array:
    """A constant list of strings, sorted."""
    return exp.Array(expressions=[lit(v) for v in sorted(values)])


def and_(*operands: exp.Expression) -> exp.Expression:
    operands = [o for o in operands if o is not None]
    if not operands:
        return exp.true()
    return exp.and_(*_grouped(operands), copy=False) if len(operands) > 1 else operands[0]


def or_(*operands: exp.Expression) -> exp.Expression:
    if not operands:
        return exp.false()
    return exp.or_(*_grouped(operands), copy=False) if len(operands) > 1 else operands[0]


def paren(expr: exp.Expression) -> exp.Paren:
    return exp.Paren(this=expr)


#: DuckDB function names and how Spark spells each (a name or a builder of the node).
SPARK_FUNCTIONS = {
    "list_has_any": lambda a, b: exp.Anonymous(this="arrays_overlap", expressions=[a, b]),
    "list_has_all": lambda a, b: exp.EQ(this=exp.Anonymous(this="size", expressions=[
        exp.Anonymous(this="array_except", expressions=[b, a])]), expression=exp.Literal.number(0)),
    "len": lambda a: exp.Anonymous(this="size", expressions=[a]),
    "list_transform": lambda a, f: exp.Anonymous(this="transform", expressions=[a, f]),
    "list_filter": lambda a, f: exp.Anonymous(this="filter", expressions=[a, f]),
    "list_first": lambda a: exp.Anonymous(this="element_at", expressions=[a, exp.Literal.number(1)]),
    "list_extract": lambda a, i: exp.Anonymous(this="element_at", expressions=[a, i]),
    "regexp_full_match": lambda a, p: exp.RegexpLike(this=a, expression=lit("^(?:" + p.this + ")$")),
    "list_bit_or": lambda a: exp.Anonymous(this="aggregate", expressions=[
        a, cast(exp.Literal.number(0), "BIGINT"),
        exp.Lambda(this=exp.BitwiseOr(this=exp.column("acc"), expression=exp.column("b")),
                   expressions=[exp.to_identifier("acc"), exp.to_identifier("b")])]),
    "trunc": lambda a: exp.Anonymous(this="floor", expressions=[a]),   # only tested against x: same answer
    "ends_with": lambda a, b: exp.Anonymous(this="endswith", expressions=[a, b]),
    "list_contains": lambda a, b: exp.Anonymous(this="array_contains", expressions=[a, b]),
    "left": lambda a, n: exp.Anonymous(this="substring", expressions=[
        a, exp.Literal.number(1), exp.Add(this=exp.Anonymous(this="length", expressions=[a]), expression=n)]),
    "isinf": lambda a: exp.Or(this=exp.EQ(this=a, expression=cast(lit("Infinity"), "DOUBLE")),
                              expression=exp.EQ(this=a, expression=cast(lit("-Infinity"), "DOUBLE"))),
}


def _spark_enum_code(node: exp.Anonymous) -> exp.Expression:
    """``enum_code(TRY_CAST(x AS ENUM(v...)))`` (0-based, NULL when absent) without ENUMs, which Spark lacks."""
    cast_node = node.expressions[0]
    values = exp.Anonymous(this="array", expressions=[v.copy() for v in cast_node.to.expressions])
    position = exp.Anonymous(this="array_position", expressions=[values, cast_node.this])
    return exp.Paren(this=exp.Sub(this=exp.Anonymous(this="nullif", expressions=[position, exp.Literal.number(0)]),
                                  expression=exp.Literal.number(1)))


def _spark_function(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name == "enum_code":
        return _spark_enum_code(node)
    if isinstance(node, exp.Anonymous) and node.name in SPARK_FUNCTIONS:
        return SPARK_FUNCTIONS[node.name](*node.expressions)
    return node


def render(tree: exp.Expression, dialect: str = "duckdb", pretty: bool = False, copy: bool = True) -> str:
    """The SQL text of a tree in ``duckdb`` or ``spark``. sqlglot's generator may normalise the tree
    it writes, and so writes a copy; ``copy=False`` writes the tree itself (DuckDB only), for a
    statement built to be run once (measured: the copy was half of rendering the October query)."""
    if dialect == "duckdb":
        return tree.sql(dialect=DuckDBLambdas, pretty=pretty, copy=copy)
    if dialect == "spark":
        from sqlglot.dialects.spark import Spark     # here: importing it costs every screening 50 ms
        tree = tree.copy()
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)    # Spark SQL has no MATERIALIZED hint
        while any(isinstance(n, exp.Anonymous) and (n.name in SPARK_FUNCTIONS or n.name == "enum_code")
                  for n in tree.walk()):
            tree = tree.transform(_spark_function, copy=False)
        return tree.sql(dialect=Spark, pretty=pretty)
    raise ValueError(f"unknown SQL dialect {dialect!r}")
