"""Every rule: its own VALID/INVALID examples, its docs sections, and where it lives (found by its code alone)."""

from __future__ import annotations

import pytest

from ._lint import rows

import re
from pathlib import Path

from gradlint.fixtures import parse_markers
from gradlint.rules import ALL_RULES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_examples_and_docs(rule):
    # VALID: programs with no finding and no marker; INVALID: programs whose findings are exactly on the
    # lines marked `# gradlint-expect: <its code>` (at least one), as in the fixtures
    assert rule.VALID and rule.INVALID, rule.code
    for snippet in rule.VALID:
        assert parse_markers(snippet) == {}, snippet
        assert rows(rule.code, snippet) == [], snippet
    for snippet in rule.INVALID:
        marked = parse_markers(snippet)
        assert marked and set(marked.values()) == {(rule.code,)}, snippet
        assert sorted(set(rows(rule.code, snippet))) == sorted(marked), snippet
    assert re.fullmatch(r"GL\d{3}", rule.code) and re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in rule.docs, (rule.code, section)
    module = ROOT / "rules" / f"{rule.code.lower()}_{rule.name.replace('-', '_')}.py"
    assert module.is_file()



@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_found_by_code(rule):
    stem = f"{rule.code.lower()}_{rule.name.replace('-', '_')}"
    assert (ROOT / "rules" / f"{stem}.py").is_file()
    assert sorted((ROOT / "fixtures" / stem).glob("bad_*.py")), f"fixtures/{stem}/bad_*.py"
    assert sorted((ROOT / "fixtures" / stem).glob("good_*.py")), f"fixtures/{stem}/good_*.py"
    assert (ROOT / "tests" / "rules" / f"test_{stem}.py").is_file(), f"tests/rules/test_{stem}.py"
