"""Differential tests: every fixture behaves on the engine exactly as it did on real PyTorch.

Torch's outcomes are committed beside the fixtures (`<stem>.torch.json`), so these run without
torch; with torch installed, `test_goldens_are_current_with_live_torch` re-runs torch as well.
"""

from __future__ import annotations

import pytest

from gradlint.fixtures import all_fixtures
from gradlint.verify.check import check_declaration, compare_outcomes
from gradlint.verify.golden import golden_is_current, load_golden, read_golden
from gradlint.verify.runner import run_fixtures

FIXTURES = all_fixtures()
IDS = [f.id for f in FIXTURES]


@pytest.mark.parametrize("fixture", FIXTURES, ids=IDS)
def test_golden_is_recorded_from_the_current_fixture(fixture):
    data = read_golden(fixture)
    assert data is not None, "python -m gradlint.verify.golden --update"
    assert data["fixture"] == fixture.id
    assert golden_is_current(fixture, data), "the fixture changed since its golden was recorded"


@pytest.mark.parametrize("fixture", FIXTURES, ids=IDS)
def test_torch_golden_shows_the_declared_outcome(fixture):
    golden = load_golden(fixture)
    assert check_declaration(fixture, golden) == []


@pytest.mark.parametrize("fixture", FIXTURES, ids=IDS)
def test_engine_matches_torch_golden(fixture, engine_outcomes):
    outcome = engine_outcomes[fixture.id]
    golden = load_golden(fixture)
    problems = compare_outcomes(golden, outcome)
    assert problems == [], "\n".join(problems) + "\n--- engine stderr ---\n" + outcome.stderr[-3000:]


def test_compare_outcomes_reports_each_kind_of_difference(engine_outcomes):
    fixture = next(f for f in FIXTURES if f.expect.exception is not None and f.expect.observe)
    golden = load_golden(fixture)
    same = engine_outcomes[fixture.id]
    other = type(same).from_dict(same.to_dict())
    other.exception.message = "something else"
    other.observations = dict(other.observations, extra=1)
    first = next(iter(golden.observations))
    other.observations[first] = "changed"
    other.warnings = []
    from gradlint.verify.runner import WarningInfo

    other.warnings.append(WarningInfo("UserWarning", "new"))
    problems = compare_outcomes(golden, other)
    text = "\n".join(problems)
    assert "exception message" in text
    assert "observation extra" in text and f"observation {first}" in text
    assert "warning only under engine: UserWarning: new" in text


@pytest.mark.torch
def test_goldens_are_current_with_live_torch():
    pytest.importorskip("torch")
    outcomes = run_fixtures([f.path for f in FIXTURES], "torch")
    failures = {}
    for fixture, outcome in zip(FIXTURES, outcomes):
        problems = compare_outcomes(load_golden(fixture), outcome, reference_name="golden")
        if problems:
            failures[fixture.id] = problems
    assert not failures, failures
