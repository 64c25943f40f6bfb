"""Proof of fixes by execution: `gradlint verify` applies `--fix --unsafe-fixes` to every bad fixture of a
fixable rule, runs the fixed program on the same backend, and requires

1. the fixes to apply (the file changes), the result to parse, and a second fix pass to change nothing;
2. the symptom to be gone: a declared exception is no longer raised (the fixed program runs to completion),
   no declared warning is emitted, and — for a symptom declared only by observations — at least one
   declared observation no longer has its bad value. A fixed program may instead end with one of the
   rule's `fix_may_raise` errors (a silent bug made loud, as its "## Fix safety" documents);
3. `gradlint check` (the fixture's rule only) to be silent on the fixed file.

    fix_fixture(fixture) -> (fixed_text | None, problems)
    prove_fixes(fixtures, backend, jobs=None, timeout=None, fault=None) -> {fixture.id: problems}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fixable_codes() -> set[str]:
    from gradlint.rules import ALL_RULES

    return {r.code for r in ALL_RULES if r.fixable}


def _fix_may_raise(code: str) -> tuple[str, ...]:
    from gradlint.rules import ALL_RULES

    return next((tuple(r.fix_may_raise) for r in ALL_RULES if r.code == code), ())


def _settings(code: str):
    from gradlint.settings import Settings

    return Settings(selected=frozenset({code}))


def fix_fixture(fixture) -> tuple[str | None, list[str]]:
    """The fixture's text after `--fix --unsafe-fixes` (its own rule), and what is wrong with the fix."""
    from gradlint.linter import lint_fix

    source = Path(fixture.path).read_text(encoding="utf-8")
    settings = _settings(fixture.rule)
    result = lint_fix(source, str(fixture.path), settings, unsafe=True)
    problems: list[str] = []
    if result.error:
        return None, [f"the fix was refused: {result.error}"]
    if not result.changed:
        return None, ["no fix applied (the rule is fixable but offers no fix here)"]
    if result.remaining:
        rows = ", ".join(f"line {d.location.row}" for d in result.remaining)
        problems.append(f"gradlint check still reports {fixture.rule} on the fixed file ({rows})")
    again = lint_fix(result.source, str(fixture.path), settings, unsafe=True)
    if again.source != result.source:
        problems.append("not idempotent: a second --fix changes the fixed file again")
    return result.source, problems


def symptom_problems(fixture, outcome) -> list[str]:
    """Why the fixed program's outcome still shows the bad fixture's declared symptom (empty: gone)."""
    expect = fixture.expect
    problems: list[str] = []
    if outcome.status in ("timeout", "crash", "backend-error"):
        return [f"the fixed program could not be judged: {outcome.describe()}"]
    if outcome.status == "exception" and outcome.exception is not None:
        allowed = _fix_may_raise(fixture.rule)
        if any(outcome.exception.message.startswith(m) for m in allowed) and not (
                expect.exception is not None and outcome.exception.message.startswith(expect.exception.message)):
            return []  # the documented consequence of the fix: the silent bug is now an error at that line
    if expect.exception is not None:
        if outcome.status != "ok":
            problems.append(f"the fixed program does not run to completion: {outcome.describe()}")
    declared = {(w.category, w.message) for w in expect.warnings}
    for w in outcome.warnings:
        for category, message in declared:
            if w.category == category and w.message.startswith(message):
                problems.append(f"the fixed program still warns: {category}: {message}")
    if expect.exception is None and not expect.warnings and expect.observe:
        from gradlint.verify.check import values_match

        same = [k for k, v in expect.observe.items() if k in outcome.observations and values_match(v, outcome.observations[k])]
        if len(same) == len(expect.observe):
            problems.append("the fixed program still observes " + ", ".join(f"{k}={expect.observe[k]!r}" for k in same))
        if outcome.status != "ok":
            problems.append(f"the fixed program does not run to completion: {outcome.describe()}")
    return problems


def prove_fixes(fixtures, backend: str = "engine", *, jobs: int | None = None,
                timeout: float | None = None, fault: str | None = None) -> dict[str, list[str]]:
    """{fixture id: problems} for the bad fixtures of fixable rules (empty list: the fix is proven)."""
    from gradlint.verify.runner import DEFAULT_TIMEOUT, run_fixtures

    codes = fixable_codes()
    wanted = [f for f in fixtures if f.kind == "bad" and f.rule in codes]
    out: dict[str, list[str]] = {}
    if not wanted:
        return out
    with tempfile.TemporaryDirectory(prefix="gradlint-fixproof-") as tmp:
        runs = []
        for i, fixture in enumerate(wanted):
            fixed, problems = fix_fixture(fixture)
            out[fixture.id] = problems
            if fixed is None:
                continue
            folder = os.path.join(tmp, str(i))
            os.mkdir(folder)
            path = os.path.join(folder, Path(fixture.path).name)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(fixed)
            runs.append((fixture, path))
        if runs:
            outcomes = run_fixtures([p for _, p in runs], backend, jobs=jobs, timeout=timeout or DEFAULT_TIMEOUT,
                                    fault=fault)
            for (fixture, _), outcome in zip(runs, outcomes):
                out[fixture.id] += symptom_problems(fixture, outcome)
    return out
