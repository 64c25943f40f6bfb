"""`path:row:col: GL001 message`, one line per finding (ruff's concise format)."""

from __future__ import annotations

from typing import IO, Any

from gradlint.diagnostic import Applicability, Diagnostic
from gradlint.report.style import Style


def line(d: Diagnostic, style: Style) -> str:
    sep = style.dim(":")
    loc = f"{style.bold(d.filename)}{sep}{d.location.row}{sep}{d.location.column}{sep}"
    fixable = " [*]" if d.fix is not None and d.fix.applicability == Applicability.SAFE else ""
    return f"{loc} {style.red(d.code)}{fixable} {d.message}"


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool,
           **_: Any) -> None:
    style = Style(color)
    for d in diagnostics:
        out.write(line(d, style) + "\n")
