"""`path:row:col: GL001 message`, one line per finding."""

from __future__ import annotations

from typing import IO

from gradlint.diagnostic import Diagnostic
from gradlint.report.style import Style


def line(d: Diagnostic, style: Style) -> str:
    loc = f"{style.bold(d.filename)}{style.dim(':')}{d.location.row}{style.dim(':')}{d.location.column}{style.dim(':')}"
    return f"{loc} {style.red(d.code)} {d.message}"


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool) -> None:
    style = Style(color)
    for d in diagnostics:
        out.write(line(d, style) + "\n")
