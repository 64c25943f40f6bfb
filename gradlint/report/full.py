"""`path:row:col: GL001 message`, then the source line with a caret under the column (ruff's full format)."""

from __future__ import annotations

from typing import IO

from gradlint.diagnostic import Diagnostic
from gradlint.report.concise import line
from gradlint.report.style import Style


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool) -> None:
    style = Style(color)
    lines_cache: dict[str, list[str]] = {}
    for d in diagnostics:
        out.write(line(d, style) + "\n")
        src = sources.get(d.filename)
        if src is None:
            continue
        lines = lines_cache.setdefault(d.filename, src.splitlines())
        if not 1 <= d.location.row <= len(lines):
            continue
        text = lines[d.location.row - 1].expandtabs(1)
        gutter = str(d.location.row)
        pad = " " * len(gutter)
        width = 1
        if d.end_location.row == d.location.row:
            width = max(1, d.end_location.column - d.location.column)
        else:
            width = max(1, len(text) - d.location.column + 1)
        out.write(f"{style.dim(pad + ' |')}\n")
        out.write(f"{style.dim(gutter + ' |')} {text}\n")
        out.write(f"{style.dim(pad + ' |')} {' ' * (d.location.column - 1)}{style.red('^' * width)}\n")
        out.write("\n")
