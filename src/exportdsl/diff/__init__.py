"""The semantic diff of two policy versions: which transactions change decision, and why.

Modules, lowest first:

- ``boolexpr``: hash-consed Boolean expressions over partition cells.
- ``partition``: the finite partition of each fact's values into cells that every rule respects.
- ``regions``: a region (a set of changed transactions sharing one outcome change), its condition
  text and its witness.
- ``structure``: the structural changes (rules added, removed, re-dated, re-decided, headers).
- ``encode``, ``keyed``, ``assemble``: the keyed diff at scale: the CNF encoding, the incremental SAT
  search for the keys, and regions from the keys with their witnesses and co-deciding rules.
- ``split``: the cut of a large comparison's space into two parts, whose key searches each hold
  only the rules that can apply there.
- ``workers``: forked worker processes that prove co-deciding rules beside the SAT search.
- ``search``: the exact partition search (memoised splitting over the cells) and ``diff()``.
- ``report``: the diff as text, Markdown, JSON and HTML.
"""

from __future__ import annotations

from .search import INVALID, Budget, DiffError, DiffResult, Space, diff, union_facts

__all__ = ["INVALID", "Budget", "DiffError", "DiffResult", "Space", "diff", "union_facts"]
