"""Every example program the repository has: fixtures, realistic programs, and the rules' VALID/INVALID."""

from __future__ import annotations

import glob
import os

from gradlint.rules import ALL_RULES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example_sources() -> list[tuple[str, str]]:
    """(name, source) of each fixture, realistic program and rule example."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures", "gl*", "*.py"))
                       + glob.glob(os.path.join(ROOT, "tests", "realistic", "programs", "*.py"))):
        with open(path, encoding="utf-8") as fh:
            out.append((os.path.relpath(path, ROOT), fh.read()))
    for rule in ALL_RULES:
        for i, src in enumerate([*rule.VALID, *rule.INVALID]):
            out.append((f"{rule.code} example {i}", src if isinstance(src, str) else src[0]))
    return out
