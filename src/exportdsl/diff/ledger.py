"""A diff's effect on real shipments: past ledger rows counted per region (``diff --replay``).

The SQL backend decides every row under both versions (:mod:`exportdsl.backends.sql.replay`); this
module maps each changed row's outcome pair to the region with the same key, so every changed row
is counted in exactly one region. A changed row whose key no region has (possible only when the
diff was limited by ``--where``/``--as-of`` or is INCOMPLETE) is counted as unmatched, never lost.
"""

from __future__ import annotations

import attrs

from .checklist import RegionCount


@attrs.frozen
class LedgerImpact:
    """Rows read, changed, rejected (per code), unmatched, and the counts per region number."""

    rows: int
    changed: int
    rejected: int
    codes: dict[str, int]
    unmatched: int
    counts: dict[int, RegionCount]

    def to_json(self) -> dict:
        """A JSON-ready dict (region numbers as strings)."""
        return {"rows": self.rows, "changed": self.changed, "rejected": self.rejected, "codes": self.codes,
                "unmatched": self.unmatched,
                "regions": {str(n): attrs.asdict(c) for n, c in sorted(self.counts.items())}}

    def lines(self) -> list[str]:
        """Plain-text lines for a report."""
        out = [f"{self.rows} rows replayed: {self.changed} change outcome, {self.rejected} rejected "
               f"(invalid facts under either version)" + (f", {self.unmatched} outside the regions" if self.unmatched else "")]
        for code, count in sorted(self.codes.items()):
            out.append(f"  rejected facts with {code}: {count}")
        for number, count in sorted(self.counts.items()):
            out.append(f"  region {number}: {count.rows} row(s)" + (f", value {count.value}" if count.value is not None else ""))
        return out


def _key_function(result):
    changed = getattr(result, "changed_rules", None)
    keep = (lambda rules: frozenset(rules)) if changed is None else (lambda rules: frozenset(rules) & frozenset(changed))
    return lambda old, old_rules, new, new_rules: (old, keep(old_rules), new, keep(new_rules))


def replay(result, ledger: str, *, value_column: str | None = None, affected: str | None = None,
           threads: int | None = None, memory_limit: str | None = None) -> LedgerImpact:
    """Replay ``ledger`` through both versions of a diff and count its changed rows per region."""
    from ..backends.sql import duckdb_engine
    from ..backends.sql.replay import replay as replay_rows

    key = _key_function(result)
    numbers = {key(r.old, r.old_rules, r.new, r.new_rules): number for number, r in enumerate(result.regions, 1)}

    def region_of(pair):
        return numbers.get(key(*pair))

    con = duckdb_engine.connect(threads=threads, memory_limit=memory_limit)
    try:
        found = replay_rows(con, result.old, result.new, ledger, value_column=value_column, affected=affected,
                            region_of=region_of)
    finally:
        con.close()
    counts: dict[int, list] = {}
    unmatched = 0
    for pair, (rows, value) in found.groups.items():
        number = region_of(pair)
        if number is None:
            unmatched += rows
            continue
        total = counts.setdefault(number, [0, None])
        total[0] += rows
        if value is not None:
            total[1] = value if total[1] is None else total[1] + value
    return LedgerImpact(found.rows, found.changed, found.rejected, found.codes, unmatched,
                        {n: RegionCount(rows, value) for n, (rows, value) in sorted(counts.items())})
