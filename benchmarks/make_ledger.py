"""Generate a Parquet ledger of shipments shaped like the October 2025 facts (domain facts.md).

Run:  python benchmarks/make_ledger.py OUT.parquet [--rows N] [--seed S]

Written by one DuckDB query (no Python loop): ``row_id`` plus the 17 facts of the rare-earth
policies, typed as a data team would type them (DATE, DECIMAL(9, 4) percents, VARCHAR[] sets,
integers), values drawn by hashing the row number so that every rule fires on some rows.
"""

from __future__ import annotations

import argparse

import duckdb

COUNTRIES = ["CN", "CN", "CN", "DE", "US", "JP", "KR", "HK", "VN", "FR"]
ITEMS = ["metal", "alloy", "target", "oxide", "compound", "magnet", "magnet", "functional_material",
         "assembly", "technology", "line_technology", "equipment", "raw_material", "battery", "superhard",
         "other"]
ELEMENT_SETS = [["Dy"], ["Nd", "Pr"], ["Sm"], ["Tb", "Dy"], ["Ho"], ["Er", "Yb"], [], ["La", "Ce"], ["Gd"],
                ["Eu"]]
TECH_SETS = [[], [], [], ["separation"], ["magnet_manufacturing", "recycling"]]
END_USES = ["civil"] * 6 + ["military", "military_potential", "wmd", "terrorism", "logic_chips", "memory_chips",
                            "chip_equipment", "ai_rnd", "humanitarian"]
END_USERS = ["Acme GmbH", "Rheinmagnet GmbH", "Nordic Magnet Engineering AB", "TechInsights Inc.",
             "BAE Systems, Inc.", "Kyoto Motors KK", "Shenzhen Cells Ltd."]
DATES = ["2025-03-01", "2025-04-04", "2025-06-01", "2025-10-09", "2025-11-08", "2025-11-20", "2025-12-01",
         "2026-01-15", "2026-11-10", "2026-12-01"]


def _pick(values, salt: int) -> str:
    items = ", ".join(_sql(v) for v in values)
    return f"[{items}][CAST(1 + hash(i * 7919 + {salt}) % {len(values)} AS BIGINT)]"


def _sql(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_sql(v) for v in value) + "]::VARCHAR[]"
    return "'" + str(value).replace("'", "''") + "'"


def ledger_query(rows: int, seed: int = 1) -> str:
    """The SELECT producing the ledger (trusted benchmark text, not policy input)."""
    s = seed * 101
    return f"""
    SELECT
      i AS row_id,
      CAST({_pick(DATES, s + 1)} AS DATE) AS ship_date,
      {_pick(COUNTRIES, s + 2)} AS export_from,
      {_pick(COUNTRIES, s + 3)} AS export_to,
      {_pick(COUNTRIES, s + 4)} AS origin,
      {_pick(ITEMS, s + 5)} AS item,
      {_pick(["smco", "ndfeb", "other", "none"], s + 6)} AS magnet_family,
      {_pick(ELEMENT_SETS, s + 7)} AS elements,
      CAST((CAST(hash(i + {s + 8}) % 1000003 AS BIGINT) % 2000) / 10000.0 AS DECIMAL(9, 4)) AS re_content,
      {_pick(TECH_SETS, s + 9)} AS cn_re_tech,
      CAST(250 + CAST(hash(i + {s + 10}) % 1000003 AS BIGINT) % 101 AS INTEGER) AS battery_wh_per_kg,
      {_pick(END_USES, s + 11)} AS end_use,
      CAST({_pick([0, 7, 14, 16, 28], s + 12)} AS INTEGER) AS logic_node_nm,
      CAST({_pick([0, 128, 232, 256, 300], s + 13)} AS INTEGER) AS memory_layers,
      CAST(hash(i + {s + 14}) % 1000003 AS BIGINT) % 7 = 0 AS ai_military_potential,
      {_pick(END_USERS, s + 15)} AS end_user,
      CAST(hash(i + {s + 16}) % 1000003 AS BIGINT) % 11 = 0 AS end_user_military,
      CAST(CAST(hash(i + {s + 17}) % 1000003 AS BIGINT) % 101 AS DECIMAL(9, 4)) AS cn_listed_ownership
    FROM range({int(rows)}) AS t(i)
    """


def make_ledger(path: str, rows: int, seed: int = 1) -> None:
    """Write the ledger to ``path`` (Parquet, row groups of 122,880 rows)."""
    con = duckdb.connect()
    con.execute(f"COPY ({ledger_query(rows, seed)}) TO '{path.replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    make_ledger(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
