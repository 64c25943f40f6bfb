"""`gradlint lsp` with a stand-in *unsafe* fix on GL001 findings, for the code-action tests.

It wraps `gradlint.linter.lint_source` so every GL001 finding on a `NAME += ...` statement at the start
of a line carries an unsafe fix (wrap the statement in `with torch.no_grad():`) instead of the rule's
own safe one, then runs the real server: this exercises how the server treats unsafe fixes (offered as
a quick fix, left out of "Fix all" unless `unsafeFixes`), whatever the rules produce.
"""

from __future__ import annotations

import dataclasses
import re
import sys

import gradlint.linter as linter
from gradlint.diagnostic import Applicability, Edit, Fix

_real_lint_source = linter.lint_source
_STATEMENT = re.compile(r"(\w+ \+= .+)")


def lint_source(source, filename, settings, **kwargs):
    result = _real_lint_source(source, filename, settings, **kwargs)
    lines = re.split(r"\r\n|\r|\n", source)
    out = []
    for d in result.diagnostics:
        line = lines[d.location.row - 1]
        if d.code == "GL001" and d.location.column == 1 and _STATEMENT.fullmatch(line):
            edit = Edit(f"with torch.no_grad():\n    {line}", d.location,
                        dataclasses.replace(d.location, column=len(line) + 1))
            d = dataclasses.replace(d, fix=Fix(Applicability.UNSAFE, "Wrap in `with torch.no_grad():`", (edit,)))
        out.append(d)
    result.diagnostics = out
    return result


linter.lint_source = lint_source

if __name__ == "__main__":
    from gradlint.cli import main

    sys.argv = ["gradlint", "lsp"]
    main()
