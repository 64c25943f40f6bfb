"""Output formats. Each reporter writes diagnostics for a whole run; more formats slot into REPORTERS."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from gradlint.diagnostic import Diagnostic

Reporter = Callable[[list[Diagnostic], dict[str, str], IO[str], bool], None]


def get_reporter(name: str) -> Reporter:
    from gradlint.report import concise, full, json

    reporters: dict[str, Reporter] = {"full": full.report, "concise": concise.report, "json": json.report}
    return reporters[name]


FORMATS = ("full", "concise", "json")
