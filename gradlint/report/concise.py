"""`path:row:col: GL001 [bug] message`, one line per finding (ruff's concise format, plus the finding's
tier: `[bug]` or `[hygiene]`)."""

from __future__ import annotations

from typing import IO, Any

from gradlint.diagnostic import BUG, Applicability, Diagnostic
from gradlint.report.style import Style


def line(d: Diagnostic, style: Style, unsafe_fixes: bool = False) -> str:
    """The one-line form; `[*]` marks a finding `--fix` would fix (unsafe ones too with --unsafe-fixes)."""
    sep = style.dim(":")
    cell = f"cell {d.cell}{sep}" if d.cell is not None else ""  # notebooks: `nb.ipynb:cell 3:2:5:` (ruff)
    loc = f"{style.bold(d.filename)}{sep}{cell}{d.location.row}{sep}{d.location.column}{sep}"
    fixable = ""
    if d.fix is not None and d.fix.edits and (
        d.fix.applicability == Applicability.SAFE or (unsafe_fixes and d.fix.applicability == Applicability.UNSAFE)
    ):
        fixable = " [*]"
    return f"{loc} {style.red(d.code)} {tier_tag(d, style)}{fixable} {d.message}"


def tier_tag(d: Diagnostic, style: Style) -> str:
    """`[bug]` (red) or `[hygiene]` (yellow): the finding's tier."""
    tag = f"[{d.tier}]"
    return style.red(tag) if d.tier == BUG else style.yellow(tag)


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool, *,
           unsafe_fixes: bool = False, **_: Any) -> None:
    style = Style(color)
    for d in diagnostics:
        out.write(line(d, style, unsafe_fixes) + "\n")
