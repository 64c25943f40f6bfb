"""ruff's JSON format: an array of {code, message, filename, location, end_location, fix, noqa_row, url}.

`filename` is absolute (as ruff writes it); rows and columns are 1-based; `fix` is null or
{applicability, message, edits: [{content, location, end_location}]}. Notebook findings also carry
`cell`. Nothing but the JSON document is written to stdout.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from gradlint.diagnostic import Diagnostic


def _loc(loc: Any) -> dict[str, int]:
    return {"row": loc.row, "column": loc.column}


def to_dict(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "message": d.fix.message,
            "edits": [
                {"content": e.content, "location": _loc(e.location), "end_location": _loc(e.end_location)}
                for e in d.fix.edits
            ],
        }
    out: dict[str, Any] = {
        "code": d.code,
        "message": d.message,
        "filename": os.path.abspath(d.filename),
        "location": _loc(d.location),
        "end_location": _loc(d.end_location),
        "fix": fix,
        "noqa_row": d.noqa_row,
        "url": d.url,
    }
    if d.cell is not None:
        out["cell"] = d.cell
    return out


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool,
           **_: Any) -> None:
    json.dump([to_dict(d) for d in diagnostics], out, indent=2)
    out.write("\n")
