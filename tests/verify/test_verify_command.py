"""`gradlint verify` end to end, `explain_outcomes`, and proof that verification can fail."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gradlint.fixtures import FIXTURES_DIR, fixtures_for, load_fixture
from gradlint.verify import explain_outcomes
from gradlint.verify.command import verify, verify_fixtures

CORE_RULES = ("GL001", "GL002", "GL003", "GL004", "GL005")


def invoke(*args):
    return CliRunner().invoke(verify, list(args))


def test_verify_engine_confirms_every_core_diagnosis():
    res = invoke(*CORE_RULES)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    n = sum(len(fixtures_for(c)) for c in CORE_RULES)
    fixture_lines = [ln for ln in lines if ln.startswith("GL0") and ".py " in ln]
    assert len(fixture_lines) == n
    assert all(" confirmed " in ln for ln in fixture_lines)
    for code in CORE_RULES:
        assert any(ln.startswith(f"{code} ") and "diagnosis confirmed" in ln for ln in lines), code
    assert lines[-1].startswith(f"{n} fixtures on the engine backend: {n} confirmed, 0 unconfirmed")


def test_verify_is_registered_on_the_cli():
    from gradlint.cli import main

    res = CliRunner().invoke(main, ["verify", "GL003", "--output-format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["backend"] == "engine" and doc["confirmed"] is True
    assert [r["code"] for r in doc["rules"]] == ["GL003"]
    assert doc["rules"][0]["name"] == "data-attribute"
    fx = doc["fixtures"]
    assert {f["kind"] for f in fx} == {"bad", "good"}
    assert all(f["confirmed"] and f["problems"] == [] for f in fx)
    bad = next(f for f in fx if f["kind"] == "bad")
    assert bad["lint_lines"] == bad["expected"]["lines"] != []
    assert doc["summary"]["unconfirmed"] == 0


def test_unknown_code_is_a_usage_error():
    res = invoke("GL999")
    assert res.exit_code == 2
    assert "unknown rule code 'GL999'" in res.output
    assert invoke("nonsense").exit_code == 2


def test_codes_are_case_insensitive_and_comma_separated():
    res = invoke("gl001,gl002")
    assert res.exit_code == 0, res.output
    rules = {ln.split()[0] for ln in res.output.splitlines() if ln.startswith("GL0")}
    assert rules == {"GL001", "GL002"}


# ------------------------------------------------------------------------------ the checks can fail


def test_without_the_leaf_check_gl001_is_unconfirmed():
    bad = [f for f in fixtures_for("GL001") if f.kind == "bad"]
    verdicts = verify_fixtures(bad, "engine", fault="no-leaf-check")
    sgd = next(v for v in verdicts if v.fixture.name == "bad_manual_sgd_param_loop.py")
    assert not sgd.confirmed
    assert any("expected RuntimeError: a leaf Variable" in p and "ran to completion" in p
               for p in sgd.declaration_problems)
    assert any("status: torch exception, engine ok" in p for p in sgd.golden_problems)
    # every bad fixture that relies on the leaf check alone is now unconfirmed
    assert sum(not v.confirmed for v in verdicts) >= 3


def test_without_the_version_bump_the_saved_tensor_check_is_unconfirmed():
    fixture = load_fixture(FIXTURES_DIR / "gl003_data_attribute" / "good_no_grad_write_detected.py")
    (verdict,) = verify_fixtures([fixture], "engine", fault="no-version-bump")
    assert not verdict.confirmed
    assert any("one of the variables needed for gradient computation" in p for p in verdict.declaration_problems)
    assert any("observation gain_version" in p for p in verdict.golden_problems)
    # and without the fault it is confirmed
    (clean,) = verify_fixtures([fixture], "engine")
    assert clean.confirmed, clean.problems


def test_a_lint_miss_makes_the_fixture_unconfirmed(tmp_path, monkeypatch):
    from gradlint.verify import check

    fixture = fixtures_for("GL002")[0]
    monkeypatch.setattr(check, "lint_lines", lambda f: ([], None))
    problems, _ = check.check_lint(fixture)
    assert problems == [f"gradlint did not report GL002 at line(s) {', '.join(map(str, fixture.expected_lines))}"]


# ------------------------------------------------------------------------------ explain


def test_explain_outcomes_runs_first_bad_and_first_good_on_the_engine():
    lines = explain_outcomes("GL001")
    assert lines[0] == (
        "bad (bad_manual_sgd_param_loop.py): "
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation."
    )
    assert lines[1].startswith("good (good_frozen_backbone_inplace_relu.py): ran; ")
    assert len(lines) == 2


def test_explain_outcomes_for_a_rule_without_fixtures():
    assert explain_outcomes("GL999") == ["no fixtures for GL999"]


# ------------------------------------------------------------------------------ real torch


@pytest.mark.torch
@pytest.mark.slow
def test_verify_torch_backend_confirms_gl001():
    pytest.importorskip("torch")
    res = invoke("GL001", "--backend", "torch")
    assert res.exit_code == 0, res.output
    assert "on the torch backend" in res.output.splitlines()[-1]
