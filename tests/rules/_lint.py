"""The one helper the rule tests share: lint a snippet with one rule selected, return the reported rows."""

from __future__ import annotations

import textwrap

from gradlint.linter import lint_source
from gradlint.settings import Settings


def rows(code: str, snippet: str, filename: str = "train.py") -> list[int]:
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({code})))
    assert res.error is None, res.error
    return [d.location.row for d in res.diagnostics]
