"""The screening queries of a policy over a relation of ledger rows: decided rows, and rejected facts.

``build_screen_query`` takes the relation as a sqlglot table expression (a table function such as
``read_parquet('x')`` or a view name) and its columns with their DuckDB types, and returns two
trees: ``decided`` (the valid rows, their carried columns, ``decision`` and ``rules``) and
``rejected`` (one row per bad fact of each invalid row: row number, fact, value as text, code).
Issue 12's ``diff --replay`` can reuse :func:`decide_select` over any relation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from sqlglot import exp

from ... import ir
from ...errors import Diagnostic, UsageError
from ...types import Kind
from . import conditions
from . import lookups as lookup_rules
from .facts import INVALID_BIT, FactColumn, checked_length, fact_column, mask_of, maskable, membership
from .nodes import and_, case, cast, col, fn, ident, is_null, lit, not_null, paren, render, representable, try_cast

DECISION, RULES = "decision", "rules"
ROW, FACT, VALUE, CODE = "row", "fact", "value", "code"


@attrs.frozen
class ScreenQuery:
    """The two queries of one screening, and what they were built from."""

    decided: exp.Expression
    rejected: exp.Expression
    facts: tuple[str, ...]
    carried: tuple[str, ...]


def internal_prefix(columns: Sequence[str]) -> str:
    """A column-name prefix that no ledger column starts with (for the query's own columns)."""
    prefix = "__xpol_"
    while any(c.startswith(prefix) for c in columns):
        prefix = "_" + prefix
    return prefix


def fact_columns(policy: ir.Policy, types: Mapping[str, str], decode_text: bool,
                 as_of: str | None = None) -> dict[str, FactColumn]:
    """Each fact's SQL value and code, from the ledger's column types (``as_of`` fixes the date)."""
    result = {}
    for name, fact in policy.facts.items():
        if as_of is not None and name == policy.dated_by:
            result[name] = FactColumn(name, fact.type, cast(lit(as_of), "DATE"), exp.Null(), None)
            continue
        result[name] = fact_column(fact, types.get(name), decode_text)
    return result


def membership_columns(policy: ir.Policy, facts: Mapping[str, FactColumn],
                       prefix: str, rules: set[str] | None = None) -> dict[str, dict[frozenset, str]]:
    """For each enum, country or string fact read from a column (not a constant: ``--as-of``), the
    sets of literals that rules (those in ``rules``, default all) test it against (an equality
    tests a set of one), each with the name of the Boolean column that holds the test
    (``facts.membership``)."""
    groups = conditions.string_tests(policy, rules)
    result = {}
    for i, (name, f) in enumerate(facts.items()):
        if f.raw is not None and f.type.kind in (Kind.ENUM, Kind.COUNTRY, Kind.STRING) and name in groups:
            result[name] = {values: f"{prefix}t{i}_{j}"
                            for j, values in enumerate(sorted(groups[name], key=sorted))}
    return result


def decide_select(policy: ir.Policy, source: exp.Expression, facts: Mapping[str, FactColumn],
                  carried: Sequence[str], prefix: str, rules: bool = True,
                  where: exp.Expression | None = None,
                  carried_as: Mapping[str, exp.Expression] | None = None, enum_decision: bool = False,
                  lookups: bool = False) -> exp.Select:
    """``SELECT carried..., decision[, rules] FROM source WHERE where``, in layers: canonical fact
    values; one Boolean column per rule that other rules test (``conditions.referenced_rules``);
    then the decision, one CASE over the severity tiers whose conditions hold the other rules
    inline (DuckDB evaluates a CASE condition on the rows still undecided and an AND or OR on the
    rows still open, so most rules cost a row one comparison, and none once a tier has decided it);
    then the rules of the winning tier. ``carried_as`` gives the expression of a carried column
    when it is not the column itself; ``enum_decision`` makes the decision an ENUM (DuckDB only:
    ``conditions.decision_column``). ``lookups`` (DuckDB only): the plain rules of a policy with
    many are decided by :mod:`.lookups`, the others as above."""
    value_names = {name: f"{prefix}v{i}" for i, name in enumerate(facts)}
    carried_as = carried_as or {}
    emptiness_only = {name for name, f in facts.items() if maskable(f.type)} - conditions.tested_sets(policy)
    sizes: dict = {}
    size = {r.id: conditions.expanded_size(r.condition, sizes) for r in policy.rules}
    too_large = sum(size.values()) > conditions.MAX_EXPANDED_NODES
    plan = lookup_rules.plan(policy, facts, {n: col(value_names[n]) for n in facts}, emptiness_only, prefix,
                             min_rules=1 if too_large else None) if lookups else None
    by_lookup = plan.rules if plan is not None else frozenset()
    if sum(n for rule_id, n in size.items() if rule_id not in by_lookup) > conditions.MAX_EXPANDED_NODES:
        largest = max((rule_id for rule_id in size if rule_id not in by_lookup), key=size.get)
        raise UsageError(Diagnostic(
            "E415", f"the rules' conditions, with their named conditions written out, have more than "
                    f"{conditions.MAX_EXPANDED_NODES:,} nodes in SQL (rule {largest!r}: "
                    f"{size[largest]:,}{' or more' if size[largest] > conditions.MAX_EXPANDED_NODES else ''})",
            help="screen with the DuckDB engine, which decides a rule by lookups when no rule overrides it "
                 "or names it in applies(...); or use a named condition fewer times inside another"))
    others = {rule.id for rule in policy.rules} - by_lookup

    tested = membership_columns(policy, facts, prefix, others if plan is not None else None)
    test_columns = [(name, values, column) for name, tests in tested.items() for values, column in tests.items()]

    def canonical(name: str, f: FactColumn) -> exp.Expression:
        if name in emptiness_only:
            return checked_length(f.value, f.type.element.values)
        if maskable(f.type):
            return mask_of(f.value, f.type.element.values)
        return f.value

    values = exp.select(*[exp.alias_(carried_as[c], ident(c), copy=False) if c in carried_as else col(c)
                          for c in carried],
                        *[exp.alias_(canonical(n, f), ident(value_names[n]), copy=False) for n, f in facts.items()],
                        *[exp.alias_(membership(facts[n].value, values), ident(c), copy=False)
                          for n, values, c in test_columns],
                        *[exp.alias_(sql, ident(name), copy=False) for name, sql in (plan.index_columns if plan else ())],
                        copy=False).from_(source, copy=False)
    if where is not None:
        values = values.where(where, copy=False)
    referenced = {n: attrs.evolve(f, value=col(value_names[n]),
                                  mask=f.type.element.values if maskable(f.type) else None,
                                  tests={v: col(c) for v, c in tested[n].items()} if n in tested else None)
                  for n, f in facts.items()}
    layer = values.subquery(ident(f"{prefix}values"), copy=False)
    masked = [value_names[n] for n, f in facts.items() if f.shape_code is not None]
    if masked:      # the element checks that ``where`` may have left to the masks (conditions.valid)
        invalid = cast(exp.Literal.number(INVALID_BIT), "BIGINT")
        layer = exp.select(exp.Star()).from_(layer, copy=False).where(and_(*(
            exp.EQ(this=paren(exp.BitwiseAnd(this=col(name), expression=invalid.copy())),
                   expression=exp.Literal.number(0)) for name in masked)), copy=False).subquery(
            ident(f"{prefix}checked"), copy=False)
    lookup_columns: list[str] = []

    def inner_columns() -> list[exp.Expression]:
        return [col(c) for c in carried] + [col(value_names[n]) for n in facts] + \
            [col(c) for _, _, c in test_columns] + [col(c) for c in lookup_columns]

    words: Mapping[str, exp.Expression] = {}
    if plan is not None:
        layer = exp.select(*inner_columns(), *[exp.alias_(sql, ident(name), copy=False) for name, sql in plan.keys],
                           copy=False).from_(layer, copy=False).subquery(ident(f"{prefix}keys"), copy=False)
        lookup_columns.extend(name for name, _ in plan.keys)
        # the words as columns (measured: ANDed inside the CASE, on the rows each WHEN leaves, they
        # cost twice as much)
        if True:
            layer = exp.select(*inner_columns(), *[exp.alias_(sql, ident(name), copy=False)
                                                   for name, sql in plan.words.items()],
                               copy=False).from_(layer, copy=False).subquery(ident(f"{prefix}words"), copy=False)
            lookup_columns.extend(plan.words)
            words = {name: col(name) for name in plan.words}

    applies: dict[str, exp.Expression] = {}
    index = {rule.id: i for i, rule in enumerate(policy.rules)}
    for depth, rules_here in enumerate(conditions.rule_layers(policy, conditions.referenced_rules(policy))):
        new = {r.id: f"{prefix}a{index[r.id]}" for r in rules_here}
        select = exp.select(*inner_columns(), *[col(c.name) for c in applies.values()],
                            *[exp.alias_(conditions.condition(r.condition, referenced, applies), ident(new[r.id]),
                                         copy=False) for r in rules_here], copy=False)
        layer = select.from_(layer, copy=False).subquery(ident(f"{prefix}layer{depth}"), copy=False)
        applies.update({rid: col(name) for rid, name in new.items()})
    columns = [col(c.name) for c in applies.values()]
    for rule in policy.rules:
        if rule.id not in applies and rule.id not in by_lookup:
            applies[rule.id] = paren(conditions.condition(rule.condition, referenced, applies))
    holds = conditions.decisive_from(policy, applies)
    tier_tests = {decision: lookup_rules.tier_test(plan, decision, words) for decision in plan.tier_words} \
        if plan is not None else None
    decision = exp.alias_(conditions.decision_column(policy, holds, enum_decision, tier_tests), ident(DECISION),
                          copy=False)
    if not rules:
        return exp.select(*[col(c) for c in carried], decision, copy=False).from_(layer, copy=False)
    holds.update({r: lookup_rules.holds(plan, r, words) for r in by_lookup})
    decided = exp.select(*inner_columns(), *columns, decision, copy=False).from_(layer, copy=False).subquery(
        ident(f"{prefix}decided"), copy=False)
    listed = conditions.rules_column(policy, holds, col(DECISION), enum_decision)
    return exp.select(*[col(c) for c in carried], col(DECISION), exp.alias_(listed, ident(RULES), copy=False),
                      copy=False).from_(decided, copy=False)


def rejected_select(facts: Mapping[str, FactColumn], source: exp.Expression, prefix: str,
                    row_number: exp.Expression | None = None) -> exp.Expression:
    """One row per bad fact of each invalid row: (row, fact, value, code), by row then fact order."""
    row = row_number if row_number is not None else exp.Window(this=exp.RowNumber())
    checked = [(name, f) for name, f in facts.items() if not isinstance(f.code, exp.Null)]
    codes = exp.select(exp.alias_(row, ident(f"{prefix}row")),
                       *[exp.alias_(f.code, ident(f"{prefix}c{i}")) for i, (_, f) in enumerate(checked)],
                       *[exp.alias_(cast(f.raw, "VARCHAR") if f.raw is not None else exp.Null(),
                                    ident(f"{prefix}x{i}")) for i, (_, f) in enumerate(checked)]
                       ).from_(source)
    bad_rows = exp.select(exp.Star()).from_(codes.subquery(ident(f"{prefix}codes"))).where(
        exp.or_(*[not_null(col(f"{prefix}c{i}")) for i in range(len(checked))]) if checked else exp.false())
    name = f"{prefix}bad"
    parts = []
    for i, (fact, _) in enumerate(checked):
        parts.append(exp.select(
            exp.alias_(col(f"{prefix}row"), ident(ROW)), exp.alias_(lit(fact), ident(FACT)),
            exp.alias_(col(f"{prefix}x{i}"), ident(VALUE)), exp.alias_(col(f"{prefix}c{i}"), ident(CODE)),
            exp.alias_(exp.Literal.number(i), ident(f"{prefix}order")),
        ).from_(exp.Table(this=ident(name))).where(not_null(col(f"{prefix}c{i}"))))
    if not parts:
        return exp.select(exp.alias_(cast(exp.Null(), "BIGINT"), ident(ROW)),
                          exp.alias_(cast(exp.Null(), "VARCHAR"), ident(FACT)),
                          exp.alias_(cast(exp.Null(), "VARCHAR"), ident(VALUE)),
                          exp.alias_(cast(exp.Null(), "VARCHAR"), ident(CODE))).where(exp.false())
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False, copy=False)
    ordered = exp.select(col(ROW), col(FACT), col(VALUE), col(CODE)).from_(
        union.subquery(ident(f"{prefix}all"))).order_by(col(ROW), col(f"{prefix}order"))
    cte = exp.CTE(this=bad_rows, alias=exp.TableAlias(this=ident(name)), materialized=True)
    ordered.set("with_", exp.With(expressions=[cte]))
    return ordered


def build_screen_query(policy: ir.Policy, source: exp.Expression, columns: Mapping[str, str], *,
                       decode_text: bool = False, keep: Sequence[str] | None = None, rules: bool = True,
                       as_of: str | None = None, row_number: exp.Expression | None = None,
                       carried_types: Mapping[str, str] | None = None, enum_decision: bool = False,
                       lookups: bool = False) -> ScreenQuery:
    """Both screening queries over ``source`` whose columns (in order) have the given DuckDB types.

    ``keep`` limits the carried columns (default: every column); ``decode_text`` reads text cells
    as CSV values (see :mod:`.facts`); ``as_of`` evaluates every row on that date.
    ``carried_types`` are the types to write carried columns back in, when the source reads some
    of them otherwise (JSON Lines facts are read as JSON); columns missing from it are not carried.
    A column whose type has no SQL spelling (DuckDB types a column of JSON nulls as ``"NULL"``) is
    carried as the JSON it was read as. ``enum_decision``: the decision is an ENUM of the policy's
    decisions (DuckDB; files read it back as text). ``lookups``: the plain rules of a policy
    with many are decided by table lookups (DuckDB; :mod:`.lookups`).
    """
    prefix = internal_prefix(list(columns))
    facts = fact_columns(policy, columns, decode_text, as_of)
    carried_types = dict(columns) if carried_types is None else dict(carried_types)
    carried = list(carried_types) if keep is None else list(keep)
    carried_as = {c: _back_to(c, carried_types[c]) for c in carried
                  if columns.get(c) == "JSON" and carried_types[c] != "JSON" and representable(carried_types[c])}
    decided = decide_select(policy, source, facts, carried, prefix, rules, where=conditions.valid(facts, masked=True),
                            carried_as=carried_as, enum_decision=enum_decision, lookups=lookups)
    rejected = rejected_select(facts, source, prefix, row_number)
    return ScreenQuery(decided, rejected, tuple(facts), tuple(carried))


def _back_to(name: str, sql_type: str) -> exp.Expression:
    """A column read as JSON, as the type DuckDB would have given it."""
    if sql_type.upper() == "VARCHAR":
        return fn("json_extract_string", col(name), lit("$"))
    return try_cast(col(name), sql_type)


def compile_query(policy: ir.Policy, dialect: str = "duckdb", rules: bool = True) -> str:
    """The screening query of a policy over a relation ``ledger`` whose columns are the facts, typed
    as a Parquet ledger would type them (what ``exportdsl compile --target sql`` prints)."""
    columns = {name: example_type(fact.type.kind, fact.type) for name, fact in policy.facts.items()}
    query = build_screen_query(policy, exp.to_table("ledger"), columns, rules=rules)
    return render(query.decided, dialect, pretty=True) + ";\n"


def example_type(kind: Kind, ftype) -> str:
    """The column type of a typed (Parquet) ledger for a fact of this kind."""
    return {Kind.BOOL: "BOOLEAN", Kind.INTEGER: "BIGINT", Kind.NUMBER: "DECIMAL(38, 18)",
            Kind.PERCENT: "DECIMAL(38, 18)", Kind.DATE: "DATE", Kind.SET: "VARCHAR[]"}.get(kind, "VARCHAR")


__all__ = ["CODE", "DECISION", "FACT", "ROW", "RULES", "VALUE", "ScreenQuery", "build_screen_query",
           "compile_query", "decide_select", "fact_columns", "internal_prefix", "rejected_select", "render",
           "and_", "case", "is_null"]
