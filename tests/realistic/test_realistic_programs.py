"""Realistic tutorial-shaped programs (not fixtures): gradlint with its default rule selection must report
exactly the lines marked `# expect: CODE[, CODE]` — recall on the classic mistakes, and silence on
scripts written right (a finding on an unmarked line is a false positive)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradlint.config import ConfigResolver, Overrides
from gradlint.linter import lint_source

PROGRAMS = sorted((Path(__file__).parent / "programs").glob("*.py"))
EXPECT = re.compile(r"#\s*expect:\s*(GL\d{3}(?:\s*,\s*GL\d{3})*)")


def expected(text: str) -> set[tuple[int, str]]:
    out = set()
    for row, line in enumerate(text.splitlines(), 1):
        m = EXPECT.search(line)
        if m:
            out |= {(row, c.strip()) for c in m.group(1).split(",")}
    return out


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program_findings_are_exactly_the_marked_ones(path, tmp_path):
    text = path.read_text(encoding="utf-8")
    settings = ConfigResolver(None, Overrides()).settings_for(tmp_path / path.name)
    res = lint_source(text, path.name, settings)
    assert res.error is None, res.error
    got = {(d.location.row, d.code) for d in res.diagnostics}
    messages = "\n".join(f"{d.location.row}: {d.code} {d.message}" for d in res.diagnostics)
    assert got == expected(text), messages


def test_the_set_covers_buggy_and_clean_programs():
    marked = [p for p in PROGRAMS if expected(p.read_text(encoding="utf-8"))]
    assert len(marked) >= 5 and len(PROGRAMS) - len(marked) >= 2
