"""Helpers shared by the test modules: the YAML case loader and the backends a case runs on."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import yaml

import exportdsl

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
CASES_DIR = TESTS_DIR / "cases"


# ---- YAML: no implicit dates, only true/false as booleans, explicit tags for Python-only values ----

class CaseLoader(yaml.SafeLoader):
    """SafeLoader where ``2025-04-04`` stays a string and ``NO``/``yes``/``off`` are not booleans.

    Explicit tags give the Python values JSON cannot spell: ``!decimal "0.1"``, ``!date 2025-04-04``,
    ``!datetime 2025-04-04T10:00:00``, ``!tuple [a, b]``, ``!set [a, b]``, ``!frozenset [a, b]``.
    """


CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CaseLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def _scalar(loader, node):
    return loader.construct_scalar(node)


CaseLoader.add_constructor("!decimal", lambda l, n: Decimal(_scalar(l, n)))
CaseLoader.add_constructor("!date", lambda l, n: datetime.date.fromisoformat(_scalar(l, n)))
CaseLoader.add_constructor("!datetime", lambda l, n: datetime.datetime.fromisoformat(_scalar(l, n)))
CaseLoader.add_constructor("!tuple", lambda l, n: tuple(l.construct_sequence(n, deep=True)))
CaseLoader.add_constructor("!set", lambda l, n: set(l.construct_sequence(n, deep=True)))
CaseLoader.add_constructor("!frozenset", lambda l, n: frozenset(l.construct_sequence(n, deep=True)))


def load_documents(path: Path) -> list[dict]:
    """Every YAML document of a case file (a file may hold several, separated by ``---``)."""
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.load_all(fh, Loader=CaseLoader) if doc is not None]


def policy_text(doc: dict) -> tuple[str, str]:
    """(text, source name) of a case document's policy: inline ``policy`` or ``policy_file``."""
    if "policy_file" in doc:
        path = REPO_ROOT / doc["policy_file"]
        return path.read_text(encoding="utf-8"), doc["policy_file"]
    return doc["policy"], "<case>"


def codes_of(exc: exportdsl.Error) -> list[str]:
    """The diagnostic codes of an error, in the order reported."""
    return [d.code for d in exc.diagnostics]
