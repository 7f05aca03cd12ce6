"""Generated transactions for the reference policies (shared/domain/facts.md), for tests that evaluate
many of them: each value drawn from a pool that straddles every threshold the rules test."""

from __future__ import annotations

import random
from pathlib import Path

import exportdsl

OCTOBER = Path(__file__).resolve().parent.parent / "policies" / "cn-rare-earths-2025-10.xpol"
_ELEMENTS = ["Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"]
_ENTITIES = ["Dedrone by Axon", "BAE Systems, Inc.", "TechInsights Inc.", "Acme Motors Inc."]


def reference_transactions(count: int, seed: int) -> list[dict]:
    """Transactions over the 17 facts of the reference policies (shared/domain/facts.md), each value
    drawn from a pool that straddles every threshold the rules test."""
    schema = exportdsl.load(OCTOBER).json_schema()["properties"]
    rng = random.Random(seed)
    countries = ["CN", "CN", "JP", "US", "DE", "HK", "TW"]
    out = []
    for _ in range(count):
        out.append({
            "ship_date": rng.choice(["2025-04-03", "2025-04-04", "2025-10-09", "2025-11-08", "2025-12-01", "2026-06-01"]),
            "export_from": rng.choice(countries), "export_to": rng.choice(countries),
            "origin": rng.choice(countries),
            "item": rng.choice(schema["item"]["enum"]),
            "magnet_family": rng.choice(schema["magnet_family"]["enum"]),
            "elements": rng.sample(_ELEMENTS, rng.randint(0, 3)),
            "re_content": rng.choice([0, 0.099, 0.1, "0.1%", 5, 100]),
            "cn_re_tech": rng.sample(["mining", "separation", "metal_smelting", "magnet_manufacturing",
                                      "recycling"], rng.randint(0, 2)),
            "battery_wh_per_kg": rng.choice([0, 299, 300, 301.5]),
            "end_use": rng.choice(schema["end_use"]["enum"]),
            "logic_node_nm": rng.choice([0, 7, 14, 16]),
            "memory_layers": rng.choice([0, 232, 256]),
            "ai_military_potential": rng.random() < 0.5,
            "end_user": rng.choice(_ENTITIES),
            "end_user_military": rng.random() < 0.2,
            "cn_listed_ownership": rng.choice([0, 49.99, "50%", 100]),
        })
    return out


