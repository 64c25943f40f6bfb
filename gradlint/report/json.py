"""ruff's JSON format: an array of {cell, code, name, severity, tier, message, filename, location,
end_location, fix, noqa_row, url}, plus `related` (project-wide analysis: the places in other files that
make the finding a bug, [{filename, location, message}]) when there are any.

`severity` is the finding's tier as a severity (`error` for a bug, `warning` for hygiene) and `tier` the tier
itself (`bug` / `hygiene`); `cell` is null for a .py file and the cell number (1-based) in a notebook; `url`
is the rule's documentation page (gradlint/catalog.py `rule_url`).

`filename` is absolute (as ruff writes it); rows and columns are 1-based; `fix` is null or
{applicability, message, edits: [{content, location, end_location}]}. Nothing but the JSON document is written to stdout.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from gradlint.diagnostic import BUG, Diagnostic


def _loc(loc: Any) -> dict[str, int]:
    return {"row": loc.row, "column": loc.column}


def severity(d: Diagnostic) -> str:
    return "error" if d.tier == BUG else "warning"


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
        "cell": d.cell,
        "code": d.code,
        "name": d.name,
        "severity": severity(d),
        "tier": d.tier,
        "message": d.message,
        "filename": os.path.abspath(d.filename),
        "location": _loc(d.location),
        "end_location": _loc(d.end_location),
        "fix": fix,
        "noqa_row": d.noqa_row,
        "url": d.url,
    }
    if d.related:  # project-wide analysis: the places in other files that make it a bug
        out["related"] = [{"filename": os.path.abspath(r.filename), "location": {"row": r.row, "column": r.column},
                           "message": r.message} for r in d.related]
    return out


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool,
           **_: Any) -> None:
    json.dump([to_dict(d) for d in diagnostics], out, indent=2)
    out.write("\n")
