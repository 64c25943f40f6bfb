"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request:
`::error` for a bug, `::warning` for hygiene (the finding's tier).

    ::error title=gradlint (GL001),file=/abs/train.py,line=3,col=1,endLine=3,endColumn=7::train.py:3:1: GL001 message

(as ruff's `github` format: the annotation's text repeats the location, so the raw log reads well too).
`file` is absolute; the runner turns paths inside the workspace into repository paths. Escaping follows
GitHub's runner: in the message `%`, `\\r`, `\\n` become `%25`, `%0D`, `%0A`; in property values `:`
and `,` also become `%3A` and `%2C`. Files that could not be checked get an annotation too.
"""

from __future__ import annotations

import os
from typing import IO, Any

from gradlint.diagnostic import BUG, Diagnostic


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **props: Any) -> str:
    fields = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{level} {fields}::{escape_data(message)}" if fields else f"::{level}::{escape_data(message)}"


def level(d: Diagnostic) -> str:
    """The annotation level of a finding's tier: `error` for a bug, `warning` for hygiene."""
    return "error" if d.tier == BUG else "warning"


def line(d: Diagnostic) -> str:
    if d.cell is not None:
        # a notebook: rows are within the cell, not lines of the .ipynb file, so the annotation is put on
        # the file and the message says where
        return command(
            level(d), f"{d.filename}:cell {d.cell}:{d.location.row}:{d.location.column}: {d.code} {d.message}",
            title=f"gradlint ({d.code})", file=os.path.abspath(d.filename),
        )
    return command(
        level(d), f"{d.filename}:{d.location.row}:{d.location.column}: {d.code} {d.message}",
        title=f"gradlint ({d.code})", file=os.path.abspath(d.filename), line=d.location.row,
        col=d.location.column, endLine=d.end_location.row, endColumn=d.end_location.column,
    )


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool, *,
           errors: list | tuple = (), **_: Any) -> None:
    for e in errors:
        out.write(command("error", f"{e.filename}: {e.reason}", title="gradlint (file not checked)",
                          file=os.path.abspath(e.filename), line=e.row, col=e.column) + "\n")
    for d in diagnostics:
        out.write(line(d) + "\n")
