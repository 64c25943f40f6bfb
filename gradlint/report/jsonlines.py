"""JSON Lines: one finding per line, each the same object as in the `json` format (ruff's `json-lines`).

Nothing else is written to stdout; a run without findings writes nothing.
"""

from __future__ import annotations

import json
from typing import IO, Any

from gradlint.diagnostic import Diagnostic
from gradlint.report.json import to_dict


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool,
           **_: Any) -> None:
    for d in diagnostics:
        out.write(json.dumps(to_dict(d)) + "\n")
