"""Replaying a ledger through two policy versions: which past rows change outcome, and how.

Every row is decided under the old and the new version by the SQL backend in one DuckDB query
(the two decision queries joined on the row number). A row changes when its decision or the set of
its deciding rules differs. Changed rows are grouped by their full outcome pair; the caller maps
each group to the diff region whose key it has (:func:`exportdsl.diff.replay` does), so every
changed row is counted exactly once. A row with an invalid fact under either version is not
decided: it is counted as rejected, with its codes, never silently dropped. ``--affected`` writes
the changed rows with both outcomes and their region number.

This module knows nothing of the diff: regions come in as a mapping from outcome pairs to numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs
from sqlglot import exp

from ... import ir
from . import conditions
from .duckdb_engine import _copy, _relation, ledger_format, open_ledger
from .nodes import and_, col, fn, ident, lit, or_
from .query import DECISION, RULES, _back_to, decide_select, fact_columns, internal_prefix, rejected_select

#: An outcome pair: (old decision, old deciding rules, new decision, new deciding rules), rules as sets.
OutcomePair = tuple[str, frozenset, str, frozenset]


@attrs.frozen
class Replay:
    """What a replay found: rows read, changed, rejected (with codes), and the changed rows per
    outcome pair with their value sums (``None`` without a value column)."""

    rows: int
    changed: int
    rejected: int
    codes: dict[str, int]
    groups: dict[OutcomePair, tuple[int, object]]


def _rule_set(text: str | None) -> frozenset:
    return frozenset(t for t in (text or "").split(conditions.RULES_SEPARATOR) if t)


def _sorted_rules(column: exp.Expression) -> exp.Expression:
    """The comma-joined rule ids in a canonical order, so that order alone is never a change."""
    return fn("array_to_string", fn("list_sort", fn("string_split", column, lit(conditions.RULES_SEPARATOR))),
              lit(conditions.RULES_SEPARATOR))


def replay(con, old: ir.Policy, new: ir.Policy, path: str, *, value_column: str | None = None,
           affected: str | None = None,
           region_of: Callable[[OutcomePair], int | None] | None = None,
           carried: Sequence[str] | None = None) -> Replay:
    """Decide every row of the ledger at ``path`` under ``old`` and ``new``.

    ``region_of`` maps an outcome pair to its region number (for ``affected``); ``carried`` limits
    the ledger columns written to ``affected`` (default: all).
    """
    union = new.evolve(facts={**old.facts, **new.facts})
    source, columns, decode_text, detected = open_ledger(con, path, union)
    if value_column is not None and value_column not in columns:
        from ...errors import Diagnostic, UsageError
        raise UsageError(Diagnostic("E412", f"--value-column {value_column!r} is not a column of the ledger",
                                    help="columns: " + ", ".join(sorted(columns))[:300]))
    prefix = internal_prefix(list(columns))
    row = f"{prefix}row"
    numbered = exp.select(exp.alias_(exp.Window(this=exp.RowNumber()), ident(row)), exp.Star()
                          ).from_(source).subquery(ident(f"{prefix}numbered"))
    old_facts = fact_columns(old, columns, decode_text)
    new_facts = fact_columns(new, columns, decode_text)
    valid = and_(conditions.valid(old_facts), conditions.valid(new_facts))
    keep = [row] + ([value_column] if value_column else [])
    old_side = decide_select(old, numbered, old_facts, keep, prefix + "o", rules=True, where=valid)
    new_side = decide_select(new, numbered, new_facts, [row], prefix + "n", rules=True, where=valid)
    o, n = f"{prefix}old", f"{prefix}new"
    pairs = exp.select(
        col(row, o), *([col(value_column, o)] if value_column else []),
        exp.alias_(col(DECISION, o), ident("old_decision")), exp.alias_(_sorted_rules(col(RULES, o)), ident("old_rules")),
        exp.alias_(col(DECISION, n), ident("new_decision")), exp.alias_(_sorted_rules(col(RULES, n)), ident("new_rules")),
    ).from_(old_side.subquery(ident(o))).join(new_side.subquery(ident(n)), using=[row])
    changed_pairs = exp.select("*").from_(pairs.subquery(ident(f"{prefix}pairs"))).where(or_(
        exp.NEQ(this=col("old_decision"), expression=col("new_decision")),
        exp.NEQ(this=col("old_rules"), expression=col("new_rules"))))
    value_sum = [exp.alias_(exp.Sum(this=col(value_column)), ident("value"))] if value_column else []
    grouped = exp.select(col("old_decision"), col("old_rules"), col("new_decision"), col("new_rules"),
                         exp.alias_(exp.Count(this=exp.Star()), ident("n")), *value_sum
                         ).from_(changed_pairs.subquery(ident(f"{prefix}changed"))).group_by(
        col("old_decision"), col("old_rules"), col("new_decision"), col("new_rules"))
    groups: dict[OutcomePair, tuple[int, object]] = {}
    for record in _relation(con, grouped).fetchall():
        key = (record[0], _rule_set(record[1]), record[2], _rule_set(record[3]))
        groups[key] = (record[4], record[5] if value_column else None)
    total = _relation(con, exp.select(exp.Count(this=exp.Star())).from_(source)).fetchall()[0][0]
    rejected_rows = _relation(con, rejected_select({**old_facts, **{f"{k}": v for k, v in new_facts.items()}},
                                                   source, prefix)).fetchall()
    codes: dict[str, int] = {}
    for _row, _fact, _value, code in rejected_rows:
        codes[code] = codes.get(code, 0) + 1
    rejected = len({r[0] for r in rejected_rows})
    changed = sum(count for count, _ in groups.values())
    if affected is not None:
        back = {c: _back_to(c, detected[c]) for c in columns
                if columns.get(c) == "JSON" and detected.get(c, "JSON") != "JSON"}
        _write_affected(con, numbered, changed_pairs, row, affected, groups, region_of, carried,
                        [c for c in columns if c in detected], back)
    return Replay(total, changed, rejected, codes, groups)


def _write_affected(con, numbered, changed_pairs, row: str, path: str, groups: Mapping, region_of,
                    carried, columns: list[str], back: Mapping[str, exp.Expression]) -> None:
    ledger_format(path, "affected-rows output")
    numbers = []
    for (old_dec, old_rules, new_dec, new_rules) in groups:
        number = region_of((old_dec, old_rules, new_dec, new_rules)) if region_of else None
        numbers.append(exp.Tuple(expressions=[
            lit(old_dec), lit(conditions.RULES_SEPARATOR.join(sorted(old_rules))), lit(new_dec),
            lit(conditions.RULES_SEPARATOR.join(sorted(new_rules))),
            exp.Literal.number(number) if number is not None else exp.Null()]))
    regions_table = exp.Values(expressions=numbers, alias=exp.TableAlias(
        this=ident("regions"), columns=[ident(c) for c in ("od", "orr", "nd", "nr", "region")])) if numbers else None
    keep = [c for c in (carried if carried is not None else columns) if c != row]
    changed_alias = "changed_rows"
    def ledger_column(name: str) -> exp.Expression:
        if name not in back:
            return col(name, "ledger")
        expression = back[name].copy()
        for column in expression.find_all(exp.Column):
            column.set("table", ident("ledger"))
        return exp.alias_(expression, ident(name))

    query = exp.select(*[ledger_column(c) for c in keep],
                       col("old_decision", changed_alias), col("old_rules", changed_alias),
                       col("new_decision", changed_alias), col("new_rules", changed_alias),
                       *([col("region", "regions")] if regions_table is not None else [])
                       ).from_(numbered.this.subquery(ident("ledger"))).join(
        changed_pairs.subquery(ident(changed_alias)), on=exp.EQ(this=col(row, "ledger"), expression=col(row, changed_alias)))
    if regions_table is not None:
        query = query.join(regions_table, join_type="left", on=and_(
            exp.EQ(this=col("od", "regions"), expression=col("old_decision", changed_alias)),
            exp.EQ(this=col("orr", "regions"), expression=col("old_rules", changed_alias)),
            exp.EQ(this=col("nd", "regions"), expression=col("new_decision", changed_alias)),
            exp.EQ(this=col("nr", "regions"), expression=col("new_rules", changed_alias))))
    query = query.order_by(col(row, "ledger"))
    _copy(con, query, path, "affected-rows output")


__all__ = ["OutcomePair", "Replay", "replay"]
