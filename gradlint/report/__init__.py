"""Output formats: a registry of reporters, one module per format.

A reporter is a callable::

    report(diagnostics, sources, out, color, *, errors=(), files=()) -> None

- `diagnostics`: every finding of the run, sorted (`Diagnostic.sort_key`);
- `sources`: filename -> source text, for the files that have findings (snippets);
- `out`: the text stream to write to (stdout); `color`: whether ANSI colour is wanted;
- `errors`: the `FileError`s of the run (files that could not be checked) — the CLI also prints these
  to stderr, so most formats ignore them; `files`: every file that was checked (junit-style formats).

Formats are imported lazily. Add one by adding a module and an entry in `_BUILTIN`, or at run time
with `register_reporter(name, callable_or_"module:function")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import IO, Any

from gradlint.diagnostic import Diagnostic

Reporter = Callable[..., None]

_BUILTIN: dict[str, str] = {
    "full": "gradlint.report.full:report",
    "concise": "gradlint.report.concise:report",
    "json": "gradlint.report.json:report",
    "json-lines": "gradlint.report.jsonlines:report",
    "sarif": "gradlint.report.sarif:report",
    "github": "gradlint.report.github:report",
    "junit": "gradlint.report.junit:report",
}
_REGISTRY: dict[str, Reporter | str] = dict(_BUILTIN)

# Formats whose output is machine-readable: nothing else may be written to stdout, and no colour.
MACHINE_READABLE: set[str] = {"json", "json-lines", "sarif", "github", "junit"}


def register_reporter(name: str, reporter: Reporter | str, *, machine_readable: bool = False) -> None:
    _REGISTRY[name] = reporter
    if machine_readable:
        MACHINE_READABLE.add(name)


def formats() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get_reporter(name: str) -> Reporter:
    """The reporter for `name`; KeyError for an unknown format."""
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr or "report")
        _REGISTRY[name] = entry
    return entry


def write_report(name: str, diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str],
                 color: bool, **context: Any) -> None:
    get_reporter(name)(diagnostics, sources, out, color and name not in MACHINE_READABLE, **context)


FORMATS = formats()
