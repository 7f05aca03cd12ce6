"""``make demo`` (the README's first command) runs ``python -m exportdsl.demo policies``: it must run.

It broke once unnoticed (an import from ``cli`` that cli had made lazy), since no test ran it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_decides_every_sample_shipment_under_every_version():
    samples = [line for line in (ROOT / "policies" / "samples" / "shipments.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    done = subprocess.run([sys.executable, "-m", "exportdsl.demo", "policies"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{len(samples)} sample shipments under 3 policy versions" in done.stdout
    for version in ("2025-04", "2025-10", "2025-11"):
        assert version in done.stdout
