"""Judging outcomes: against a fixture's declaration, against torch's golden outcome, and the linter.

All three return a list of problems (human sentences); an empty list means confirmed.
"""

from __future__ import annotations

import math
from typing import Any

from gradlint.fixtures import Fixture
from gradlint.verify.runner import EXCEPTION, OK, Outcome

REL_TOL = 1e-4
ABS_TOL = 1e-6


def values_match(expected: Any, got: Any, rel: float = REL_TOL, abs_: float = ABS_TOL) -> bool:
    """Equality, with floats compared within tolerance (recursively through lists/tuples/dicts)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, float) or isinstance(got, float):
            if math.isnan(expected) or math.isnan(got):
                return math.isnan(expected) and math.isnan(got)
            return math.isclose(expected, got, rel_tol=rel, abs_tol=abs_)
        return expected == got
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(expected) == len(got) and all(values_match(a, b, rel, abs_) for a, b in zip(expected, got))
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(values_match(expected[k], got[k], rel, abs_) for k in expected)
    return type(expected) is type(got) and expected == got


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_run(outcome: Outcome) -> str | None:
    if outcome.status in (OK, EXCEPTION):
        return None
    if outcome.status == "exit":
        return f"the program exited with status {outcome.exit_code}"
    return f"the program did not run to an outcome ({outcome.status}: {outcome.error or 'no details'})"


def check_declaration(fixture: Fixture, outcome: Outcome) -> list[str]:
    """Does the outcome show exactly what the fixture declares?"""
    problems: list[str] = []
    not_run = _not_run(outcome)
    if not_run:
        return [not_run]
    exp = fixture.expect
    if exp.exception is None:
        if outcome.status == EXCEPTION and outcome.exception is not None:
            problems.append(f"expected to run to completion, raised {outcome.exception.describe()}")
    else:
        want = exp.exception
        got = outcome.exception
        if outcome.status != EXCEPTION or got is None:
            problems.append(f"expected {want.type}: {want.message} — but it ran to completion")
        elif got.type != want.type or not got.message.startswith(want.message):
            problems.append(f"expected {want.type}: {want.message} — got {got.type}: {got.first_line}")
    # warnings: every declared one seen, and nothing undeclared
    for w in exp.warnings:
        if not any(g.category == w.category and g.message.startswith(w.message) for g in outcome.warnings):
            problems.append(f"expected warning {w.category}: {w.message} — not emitted")
    for g in outcome.warnings:
        if not any(g.category == w.category and g.message.startswith(w.message) for w in exp.warnings):
            problems.append(f"unexpected warning {g.category}: {g.message.splitlines()[0] if g.message else ''}")
    for name, value in exp.observe.items():
        if name not in outcome.observations:
            problems.append(f"observation {name} was not reported (expected {_short(value)})")
        elif not values_match(value, outcome.observations[name]):
            problems.append(f"observation {name}: expected {_short(value)}, got {_short(outcome.observations[name])}")
    return problems


def compare_outcomes(reference: Outcome | dict, outcome: Outcome, reference_name: str = "torch") -> list[str]:
    """Differential check: exception type and message, warnings, observations (numbers within tolerance)."""
    if isinstance(reference, dict):
        reference = Outcome.from_dict(reference)
    problems: list[str] = []
    if reference.status != outcome.status:
        problems.append(f"status: {reference_name} {reference.status}, {outcome.backend} {outcome.status}"
                        + (f" ({outcome.error})" if outcome.error else "")
                        + (f" ({outcome.exception.describe()})" if outcome.exception else ""))
    re_, oe = reference.exception, outcome.exception
    if (re_ is None) != (oe is None):
        if re_ is not None:
            problems.append(f"exception: {reference_name} raised {re_.describe()}, {outcome.backend} did not")
        else:
            problems.append(f"exception: {outcome.backend} raised {oe.describe()}, {reference_name} did not")
    elif re_ is not None and oe is not None:
        if re_.type != oe.type:
            problems.append(f"exception type: {reference_name} {re_.type}, {outcome.backend} {oe.type}")
        if re_.message != oe.message:
            problems.append(f"exception message: {reference_name} {re_.message!r}, {outcome.backend} {oe.message!r}")
    ref_w = [(w.category, w.message) for w in reference.warnings]
    got_w = [(w.category, w.message) for w in outcome.warnings]
    if ref_w != got_w:
        missing = [w for w in ref_w if w not in got_w]
        extra = [w for w in got_w if w not in ref_w]
        if missing or extra:
            for c, m in missing:
                problems.append(f"warning only under {reference_name}: {c}: {m}")
            for c, m in extra:
                problems.append(f"warning only under {outcome.backend}: {c}: {m}")
        else:
            problems.append(f"warnings in a different order: {reference_name} {ref_w}, {outcome.backend} {got_w}")
    for name in sorted(reference.observations.keys() | outcome.observations.keys()):
        if name not in outcome.observations:
            problems.append(f"observation {name}: {reference_name} {_short(reference.observations[name])}, "
                            f"{outcome.backend} did not report it")
        elif name not in reference.observations:
            problems.append(f"observation {name}: {outcome.backend} {_short(outcome.observations[name])}, "
                            f"{reference_name} did not report it")
        elif not values_match(reference.observations[name], outcome.observations[name]):
            problems.append(f"observation {name}: {reference_name} {_short(reference.observations[name])}, "
                            f"{outcome.backend} {_short(outcome.observations[name])}")
    return problems


def lint_lines(fixture: Fixture) -> tuple[list[int], str | None]:
    """Lines where gradlint reports the fixture's rule (only that rule selected), or an error."""
    try:
        from gradlint.linter import lint_source
        from gradlint.settings import Settings
    except Exception as exc:  # noqa: BLE001 - the linter may not be importable yet
        return [], f"the linter is not available: {type(exc).__name__}: {exc}"
    try:
        result = lint_source(fixture.source(), str(fixture.path), Settings(selected=frozenset({fixture.rule})))
    except Exception as exc:  # noqa: BLE001
        return [], f"the linter failed: {type(exc).__name__}: {exc}"
    if result.error is not None:
        return [], f"the linter could not check the file: {result.error.reason}"
    return sorted({d.location.row for d in result.diagnostics if d.code == fixture.rule}), None


def check_lint(fixture: Fixture) -> tuple[list[str], list[int]]:
    """gradlint flags a bad fixture exactly at its marked lines, and a good one nowhere."""
    lines, error = lint_lines(fixture)
    if error:
        return [error], lines
    want = list(fixture.expected_lines)
    problems = []
    if lines != want:
        missed = [ln for ln in want if ln not in lines]
        extra = [ln for ln in lines if ln not in want]
        if missed:
            problems.append(f"gradlint did not report {fixture.rule} at line(s) {', '.join(map(str, missed))}")
        if extra:
            problems.append(f"gradlint reported {fixture.rule} at unexpected line(s) {', '.join(map(str, extra))}")
    return problems, lines
