"""Fixture verification: run each rule's fixtures against the bundled engine (or real PyTorch) and
confirm the rule's diagnosis — bad fixtures show the symptom, good ones do not, and gradlint flags
exactly the bad ones at their marked lines.

    from gradlint.verify import run_fixture, explain_outcomes
    run_fixture("fixtures/gl001_inplace_on_leaf/bad_manual_sgd_param_loop.py", backend="engine")
    explain_outcomes("GL001")   # ["bad (bad_manual_sgd_param_loop.py): RuntimeError: ...", "good (...): ran; ..."]

The click command lives in :mod:`gradlint.verify.command` (imported by the CLI); this package itself
imports neither click nor libcst nor torch.
"""

from __future__ import annotations

from gradlint.verify.runner import BACKENDS, Outcome, run_fixture, run_fixtures, torch_available

__all__ = ["BACKENDS", "Outcome", "explain_outcomes", "run_fixture", "run_fixtures", "torch_available"]


def explain_outcomes(code: str, backend: str = "engine") -> list[str]:
    """Run the rule's first bad and first good fixture (file-name order) and describe what happened.

    Returns human lines such as
    ``bad (bad_manual_sgd_param_loop.py): RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.``
    and ``good (good_update_under_no_grad.py): ran; weight_updated=True, ...``. Never raises for a
    missing engine or missing fixtures: it says so in the lines instead.
    """
    from gradlint.fixtures import FixtureError, fixtures_for

    try:
        fixtures = fixtures_for(code)
    except FixtureError as exc:
        return [f"fixtures could not be read: {exc}"]
    picked = []
    for kind in ("bad", "good"):
        first = next((f for f in fixtures if f.kind == kind), None)
        if first is not None:
            picked.append(first)
    if not picked:
        return [f"no fixtures for {code.upper()}"]
    outcomes = run_fixtures([f.path for f in picked], backend)
    return [f"{f.kind} ({f.name}): {o.describe()}" for f, o in zip(picked, outcomes)]
