"""`gradlint verify [CODE]... [--backend engine|torch] [--output-format text|json]`

Runs each rule's fixtures and confirms the rule's diagnosis. A fixture is *confirmed* when

1. its outcome shows exactly what it declares (the exception, the warnings, the observations);
2. the outcome agrees with real PyTorch's recorded outcome (its ``.torch.json`` golden): same status,
   exception type and message, warnings, and observations (numbers within tolerance);
3. ``gradlint check`` with only the fixture's rule selected reports exactly the lines marked
   ``# gradlint-expect: CODE`` (none for a good fixture);
4. for a bad fixture of a fixable rule: after ``--fix --unsafe-fixes`` the fixed program, run on the same
   backend, no longer shows the symptom, and ``gradlint check`` is silent on it
   (:mod:`gradlint.verify.fixproof`).

A rule's diagnosis is confirmed when all its fixtures are. Exit status: 0 if every diagnosis is
confirmed, 1 if any is not, 2 for usage errors (an unknown code, the torch backend without torch).
"""

from __future__ import annotations

import json as jsonlib
import re
import sys
import time
from dataclasses import dataclass, field

import click

EXIT_CONFIRMED, EXIT_UNCONFIRMED, EXIT_USAGE = 0, 1, 2
_CODE_RE = re.compile(r"^GL\d{3}$")


@dataclass
class FixtureVerdict:
    fixture: object  # gradlint.fixtures.Fixture
    outcome: object  # gradlint.verify.runner.Outcome
    declaration_problems: list[str] = field(default_factory=list)
    golden_problems: list[str] = field(default_factory=list)
    lint_problems: list[str] = field(default_factory=list)
    lint_lines: list[int] = field(default_factory=list)
    fix_problems: list[str] = field(default_factory=list)
    fix_checked: bool = False  # a bad fixture of a fixable rule: its `--fix --unsafe-fixes` was run and judged

    @property
    def problems(self) -> list[str]:
        return (
            [f"outcome: {p}" for p in self.declaration_problems]
            + [f"differs from torch: {p}" for p in self.golden_problems]
            + [f"lint: {p}" for p in self.lint_problems]
            + [f"fix: {p}" for p in self.fix_problems]
        )

    @property
    def confirmed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        f, o = self.fixture, self.outcome
        return {
            "rule": f.rule,
            "kind": f.kind,
            "fixture": f.id,
            "confirmed": self.confirmed,
            "expected": {
                "exception": (
                    {"type": f.expect.exception.type, "message": f.expect.exception.message}
                    if f.expect.exception
                    else None
                ),
                "warnings": [{"category": w.category, "message": w.message} for w in f.expect.warnings],
                "observe": dict(f.expect.observe),
                "lines": list(f.expected_lines),
            },
            "outcome": {
                "backend": o.backend,
                "status": o.status,
                "exception": (
                    {"type": o.exception.type, "message": o.exception.message} if o.exception else None
                ),
                "warnings": [{"category": w.category, "message": w.message, "count": w.count} for w in o.warnings],
                "observations": o.observations,
                "duration": round(o.duration, 3),
                "error": o.error,
            },
            "lint_lines": self.lint_lines,
            "fix": {"checked": self.fix_checked, "proven": self.fix_checked and not self.fix_problems,
                    "problems": self.fix_problems},
            "problems": self.problems,
        }


def verify_fixtures(
    fixtures,
    backend: str = "engine",
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    fault: str | None = None,
    compare_golden: bool = True,
    check_lint_: bool = True,
    check_fixes: bool = True,
) -> list[FixtureVerdict]:
    """Run and judge fixtures (the work behind `gradlint verify`); verdicts in the fixtures' order."""
    from gradlint.verify.check import check_declaration, check_lint, compare_outcomes
    from gradlint.verify.golden import golden_is_current, load_golden
    from gradlint.verify.runner import DEFAULT_TIMEOUT, run_fixtures

    outcomes = run_fixtures(
        [f.path for f in fixtures], backend, jobs=jobs, timeout=timeout or DEFAULT_TIMEOUT, fault=fault
    )
    verdicts = []
    for fixture, outcome in zip(fixtures, outcomes):
        v = FixtureVerdict(fixture, outcome)
        v.declaration_problems = check_declaration(fixture, outcome)
        if compare_golden:
            golden = load_golden(fixture)
            if golden is None:
                v.golden_problems = ["no golden outcome recorded (python -m gradlint.verify.golden --update)"]
            else:
                v.golden_problems = compare_outcomes(golden, outcome)
                if not golden_is_current(fixture):
                    v.golden_problems.insert(
                        0, "the golden is stale: the fixture changed since it was recorded "
                        "(python -m gradlint.verify.golden --update)"
                    )
        if check_lint_:
            v.lint_problems, v.lint_lines = check_lint(fixture)
        verdicts.append(v)
    if check_fixes:  # issue 5: the fixed bad fixtures must no longer show their symptom (gradlint/verify/fixproof.py)
        from gradlint.verify.fixproof import prove_fixes

        proofs = prove_fixes(fixtures, backend, jobs=jobs, timeout=timeout, fault=fault)
        for v in verdicts:
            if v.fixture.id in proofs:
                v.fix_checked = True
                v.fix_problems = proofs[v.fixture.id]
    return verdicts


def _rule_names() -> dict[str, str]:
    try:
        from gradlint.rules import ALL_RULES
    except Exception:  # noqa: BLE001 - verification still runs; names are cosmetic
        return {}
    return {r.code: r.name for r in ALL_RULES}


def _resolve_codes(codes: tuple[str, ...]) -> list[str]:
    from gradlint.fixtures import rule_codes

    known_fixture_codes = set(rule_codes())
    rule_names = _rule_names()
    out: list[str] = []
    for raw in codes:
        for code in (c.strip().upper() for c in raw.replace(",", " ").split()):
            if not _CODE_RE.match(code) or (code not in known_fixture_codes and code not in rule_names):
                known = ", ".join(sorted(known_fixture_codes | set(rule_names)))
                raise click.UsageError(f"unknown rule code {code!r}; known: {known}")
            if code not in out:
                out.append(code)
    return out


def _text_report(verdicts: list[FixtureVerdict], rules: list[str], backend: str, elapsed: float,
                 missing: list[str]) -> str:
    names = _rule_names()
    lines = []
    width = max((len(v.fixture.id) for v in verdicts), default=10)
    for v in verdicts:
        f, o = v.fixture, v.outcome
        mark = "confirmed  " if v.confirmed else "UNCONFIRMED"
        lint = "lint: " + (", ".join(f"line {n}" for n in v.lint_lines) if v.lint_lines else "silent")
        if v.fix_checked:
            lint += " | fix: " + ("proven" if not v.fix_problems else "NOT PROVEN")
        lines.append(f"{f.rule} {f.kind:<4} {f.id:<{width}}  {mark}  {o.describe()} | {lint}")
        for p in v.problems:
            lines.append(f"    - {p}")
    lines.append("")
    all_ok = True
    for code in rules:
        vs = [v for v in verdicts if v.fixture.rule == code]
        n_bad = sum(1 for v in vs if v.fixture.kind == "bad")
        n_good = len(vs) - n_bad
        ok = bool(vs) and all(v.confirmed for v in vs) and n_bad > 0 and n_good > 0
        all_ok &= ok
        label = f"{code} {names.get(code, '')}".rstrip()
        if not vs:
            lines.append(f"{label}: diagnosis UNCONFIRMED (no fixtures)")
        elif ok:
            lines.append(f"{label}: diagnosis confirmed ({n_bad} bad, {n_good} good)")
        else:
            failed = sum(1 for v in vs if not v.confirmed)
            why = f"{failed} of {len(vs)} fixtures unconfirmed" if failed else "needs both bad and good fixtures"
            lines.append(f"{label}: diagnosis UNCONFIRMED ({why})")
    confirmed = sum(1 for v in verdicts if v.confirmed)
    lines.append(
        f"{len(verdicts)} fixtures on the {backend} backend: {confirmed} confirmed, {len(verdicts) - confirmed} "
        f"unconfirmed; {sum(1 for c in rules if _rule_ok(verdicts, c))} of {len(rules)} diagnoses confirmed "
        f"({elapsed:.1f}s)"
    )
    return "\n".join(lines)


def _rule_ok(verdicts: list[FixtureVerdict], code: str) -> bool:
    vs = [v for v in verdicts if v.fixture.rule == code]
    return (
        bool(vs)
        and all(v.confirmed for v in vs)
        and any(v.fixture.kind == "bad" for v in vs)
        and any(v.fixture.kind == "good" for v in vs)
    )


@click.command("verify")
@click.argument("codes", nargs=-1)
@click.option("--backend", type=click.Choice(["engine", "torch"]), default="engine", show_default=True,
              help="Run the fixtures on gradlint's bundled autograd engine or on real PyTorch.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Fixtures run in parallel (default: up to 4, by CPU count).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=20.0, show_default=True,
              help="Seconds before a fixture run is abandoned.")
def verify(codes, backend, output_format, jobs, timeout) -> None:
    """Run each rule's fixtures and confirm its diagnosis (all rules, or the given CODEs).

    Bad fixtures must show the declared symptom, good ones must not, the outcome must match real
    PyTorch's recorded outcome, and `gradlint check` must flag exactly the bad fixtures at their
    marked lines. Exit 0 only if every diagnosis is confirmed.
    """
    from gradlint.fixtures import FixtureError, all_fixtures
    from gradlint.verify.runner import torch_available

    try:
        wanted = _resolve_codes(codes)
        fixtures = all_fixtures()
    except FixtureError as exc:
        click.echo(f"gradlint: invalid fixture: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if backend == "torch" and not torch_available():
        click.echo("gradlint: --backend torch needs PyTorch installed (pip install torch)", err=True)
        sys.exit(EXIT_USAGE)
    rules = wanted or sorted({f.rule for f in fixtures})
    selected = [f for f in fixtures if f.rule in rules]
    start = time.monotonic()
    verdicts = verify_fixtures(selected, backend, jobs=jobs, timeout=timeout)
    elapsed = time.monotonic() - start
    missing = [c for c in rules if not any(f.rule == c for f in selected)]
    all_ok = all(_rule_ok(verdicts, c) for c in rules)
    if output_format == "json":
        names = _rule_names()
        doc = {
            "backend": backend,
            "confirmed": all_ok,
            "rules": [
                {
                    "code": c,
                    "name": names.get(c),
                    "confirmed": _rule_ok(verdicts, c),
                    "fixtures": sum(1 for v in verdicts if v.fixture.rule == c),
                }
                for c in rules
            ],
            "fixtures": [v.to_json() for v in verdicts],
            "summary": {
                "fixtures": len(verdicts),
                "confirmed": sum(1 for v in verdicts if v.confirmed),
                "unconfirmed": sum(1 for v in verdicts if not v.confirmed),
                "seconds": round(elapsed, 2),
            },
        }
        click.echo(jsonlib.dumps(doc, indent=2))
    else:
        click.echo(_text_report(verdicts, rules, backend, elapsed, missing))
    sys.exit(EXIT_CONFIRMED if all_ok else EXIT_UNCONFIRMED)
