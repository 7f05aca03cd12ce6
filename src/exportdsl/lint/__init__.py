"""The linter: warnings and notes with stable W-codes about policies that check but are probably wrong.

Modules, lowest first:

- ``logic``: exact reasoning over conditions on the diff's partition (never-true, covers), with a budget.
- ``rules``: the semantic lints of rules (never holds, never decides, duplicate, subsumed, exceptions).
- ``checks``: ``lint()`` and ``lint_family()``: every lint of one policy or of an extends family,
  including unused declarations, date windows and near-miss strings.
- ``report``: text, JSON and SARIF output.
"""

from __future__ import annotations

from .checks import Budget, lint, lint_family, near_miss

__all__ = ["Budget", "lint", "lint_family", "near_miss"]
