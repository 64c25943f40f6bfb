"""Shared helpers for the verifier's tests: the engine's outcomes are computed once per session."""

from __future__ import annotations

import pytest

from gradlint.fixtures import all_fixtures
from gradlint.verify.runner import run_fixtures


@pytest.fixture(scope="session")
def fixtures():
    return all_fixtures()


@pytest.fixture(scope="session")
def engine_outcomes(fixtures):
    """fixture id -> Outcome on the engine, all fixtures run once in parallel."""
    outcomes = run_fixtures([f.path for f in fixtures], "engine")
    return {f.id: o for f, o in zip(fixtures, outcomes)}
