"""ruff's full format: the concise line, then the source around the finding with carets under it.

    bad.py:3:1: GL001 in-place operation on a leaf tensor that requires grad
      |
    1 | import torch
    2 | w = torch.randn(3, requires_grad=True)
    3 | w += 1
      | ^^^^^^ GL001
      |

Tabs are shown as spaces and the carets follow the display width of the text (wide characters count
twice). Lines are split the way Python counts them (`\\n`, `\\r\\n`, `\\r` only), so rows agree with
the parser even if a line holds a form feed or a Unicode line separator.
"""

from __future__ import annotations

import re
import unicodedata
from typing import IO, Any

from gradlint.diagnostic import Diagnostic
from gradlint.report.concise import line
from gradlint.report.style import Style

CONTEXT = 2  # lines shown before and after
TAB_WIDTH = 4
_NEWLINE = re.compile(r"\r\n|\r|\n")


def split_lines(source: str) -> list[str]:
    lines = _NEWLINE.split(source)
    if lines and lines[-1] == "" and source:
        lines.pop()  # the text after the final newline is not a line
    return lines


def _display(text: str) -> str:
    return text.expandtabs(TAB_WIDTH).replace("\f", " ").replace("\v", " ")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def snippet(d: Diagnostic, lines: list[str], style: Style) -> list[str]:
    row = d.location.row
    if not 1 <= row <= len(lines):
        return []
    first = max(1, row - CONTEXT)
    last = min(len(lines), row + CONTEXT)
    while first < row and not lines[first - 1].strip():
        first += 1
    while last > row and not lines[last - 1].strip():
        last -= 1
    gutter = len(str(last))
    pad = " " * gutter
    text = lines[row - 1]
    start = max(0, min(d.location.column - 1, len(text)))
    if d.end_location.row == row:
        end = max(start, min(d.end_location.column - 1, len(text)))
    else:
        end = len(text.rstrip())
    lead = _width(_display(text[:start]))
    width = max(1, _width(_display(text[:end])) - lead)
    out = [style.dim(f"{pad} |")]
    for n in range(first, last + 1):
        out.append(f"{style.dim(f'{n:>{gutter}} |')} {_display(lines[n - 1])}".rstrip())
        if n == row:
            out.append(f"{style.dim(f'{pad} |')} {' ' * lead}{style.red('^' * width + ' ' + d.code)}")
    out.append(style.dim(f"{pad} |"))
    if d.fix is not None and d.fix.message:
        out.append(f"{pad} = help: {d.fix.message}")
    return out


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool, *,
           unsafe_fixes: bool = False, show_fixes: bool = False, **_: Any) -> None:
    style = Style(color)
    lines_cache: dict[str, list[str]] = {}
    for d in diagnostics:
        out.write(line(d, style, unsafe_fixes) + "\n")
        src = sources.get(d.filename)
        if src is not None:
            key = d.filename if d.cell is None else f"{d.filename}\0{d.cell}"
            lines = lines_cache.get(key)
            if lines is None:
                if d.cell is None:
                    lines = split_lines(src)
                else:  # a notebook: `src` is the file's text, the rows are the cell's
                    from gradlint.notebook import cell_lines

                    lines = cell_lines(src, d.cell)
                lines_cache[key] = lines
            for text in snippet(d, lines, style):
                out.write(text + "\n")
            if show_fixes and d.fix is not None and d.fix.edits and d.cell is None:
                for text in fix_diff(d, src, style):
                    out.write(text + "\n")
        out.write("\n")


def fix_diff(d: Diagnostic, source: str, style: Style) -> list[str]:
    """`--show-fixes`: the finding's fix as a diff of the lines it touches (ruff's `ℹ Safe fix` block)."""
    from gradlint.fix import apply_edits

    new, _ = apply_edits(source, [d.fix])
    old_lines, new_lines = split_lines(source), split_lines(new)
    import difflib

    kind = "Safe" if d.fix.applicability.value == "safe" else "Unsafe"
    out = [f"{kind} fix"]
    for group in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_grouped_opcodes(1):
        for tag, i1, i2, j1, j2 in group:
            for k in range(i1, i2):
                if tag == "equal":
                    out.append(f"{k + 1:>4} {j1 + k - i1 + 1:>4}   {_display(old_lines[k])}".rstrip())
                else:
                    out.append(style.red(f"{k + 1:>4}      - {_display(old_lines[k])}".rstrip()))
            if tag != "equal":
                for k in range(j1, j2):
                    out.append(f"     {k + 1:>4} + {_display(new_lines[k])}".rstrip())
    return out
