"""The main job shown by ``make demo``: sample shipments decided under every version of a policy family."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .facts_input import read_transactions
from .errors import Error, render_text
from .policy import load

#: The policy versions compared by the demo, oldest first.
VERSIONS = ("cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol", "cn-rare-earths-2025-11.xpol")


def main(argv: list[str] | None = None) -> int:
    """Evaluate ``samples/shipments.jsonl`` against each version in FOLDER and print a table."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0] if argv else "policies")
    console = Console(width=max(Console().width, 150))
    try:
        policies = [load(folder / name) for name in VERSIONS if (folder / name).exists()]
        if not policies:
            policies = [load(folder / "quickstart.xpol")]
            samples = folder / "samples" / "quickstart.jsonl"
        else:
            samples = folder / "samples" / "shipments.jsonl"
        names_file = samples.with_suffix(".names.json")
        names = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
        shipments = list(read_transactions(str(samples)))
    except Error as exc:
        print(render_text(exc.diagnostics), file=sys.stderr)
        return 2
    table = Table(title=f"{len(shipments)} sample shipments under {len(policies)} policy versions",
                  show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("shipment")
    for policy in policies:
        table.add_column(policy.version or policy.name or "policy")
    failed = False
    for number, facts in shipments:
        cells = []
        for policy in policies:
            try:
                decision = policy.evaluate(facts)
                rules = f"\n[dim]{', '.join(decision.rules)}[/dim]" if decision.rules else ""
                cells.append(f"{decision.decision}{rules}")
            except Error as exc:
                failed = True
                cells.append("[red]error[/red] " + "; ".join(d.code for d in exc.diagnostics))
        table.add_row(str(number), names.get(str(number), _summary(facts)), *cells)
    console.print(table)
    return 2 if failed else 0


def _summary(facts) -> str:
    if not isinstance(facts, dict):
        return "?"
    keys = ("ship_date", "export_from", "export_to", "item", "end_use")
    return " ".join(str(facts[k]) for k in keys if k in facts)


if __name__ == "__main__":
    sys.exit(main())
