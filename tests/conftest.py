"""Shared pytest configuration: the ``--update-goldens`` option and the Hypothesis profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# No example database: the suite must not write outside tests/, and every run stays independent.
settings.register_profile(
    "exportdsl",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("exportdsl-ci", parent=settings.get_profile("exportdsl"), derandomize=True)
settings.load_profile(os.environ.get("EXPORTDSL_HYPOTHESIS_PROFILE", "exportdsl"))


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/golden/**/*.txt from the current output instead of comparing with it",
    )


@pytest.fixture
def update_goldens(request) -> bool:
    """True when the run was asked to rewrite golden files."""
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (policy_file paths in the case corpus are relative to it)."""
    return REPO_ROOT
