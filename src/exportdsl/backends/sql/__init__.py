"""The SQL backend: a policy compiled to one SQL syntax tree (sqlglot) over a relation of ledger rows.

``facts`` turns each fact's source column into its canonical value and a per-row error code (the
same E30x codes as ``semantics.validate_facts``); ``conditions`` turns IR conditions, tiers and
rule lists into expressions; ``query`` assembles the screening and error queries over a relation
and renders them for DuckDB or Spark; ``duckdb_engine`` runs them. Nothing here pastes policy text
into SQL: every name and value goes into the tree as a quoted identifier or a literal.
"""

from .query import ScreenQuery, build_screen_query, render

__all__ = ["ScreenQuery", "build_screen_query", "render"]
