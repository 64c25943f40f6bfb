"""ruff's JSON schema: an array of {code, message, filename, location, end_location, fix, noqa_row, url}."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from gradlint.diagnostic import Diagnostic


def to_dict(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "message": d.fix.message,
            "edits": [
                {
                    "content": e.content,
                    "location": {"row": e.location.row, "column": e.location.column},
                    "end_location": {"row": e.end_location.row, "column": e.end_location.column},
                }
                for e in d.fix.edits
            ],
        }
    out: dict[str, Any] = {
        "code": d.code,
        "message": d.message,
        "filename": os.path.abspath(d.filename),
        "location": {"row": d.location.row, "column": d.location.column},
        "end_location": {"row": d.end_location.row, "column": d.end_location.column},
        "fix": fix,
        "noqa_row": d.noqa_row,
        "url": d.url,
    }
    if d.cell is not None:
        out["cell"] = d.cell
    return out


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool) -> None:
    json.dump([to_dict(d) for d in diagnostics], out, indent=2)
    out.write("\n")
