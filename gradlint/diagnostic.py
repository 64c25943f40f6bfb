"""Diagnostics: what a rule reports, with an optional fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


# Tiers (docs/rules.md, design.md): a *bug* raises or silently computes the wrong thing; *hygiene* is correct
# today but fragile or wasteful. Every rule has a default tier (`Rule.tier`); a finding may carry its own
# (`Finding.tier`), e.g. to escalate a hygiene rule's finding the model proves is a bug. Summaries count bugs first.
BUG, HYGIENE = "bug", "hygiene"
TIERS: tuple[str, ...] = (BUG, HYGIENE)


class Applicability(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, order=True)
class Location:
    """1-based row, 1-based column (ruff's convention)."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]


def is_applicable(fix: Fix | None, unsafe: bool) -> bool:
    """Is `fix` applied by `--fix`? Safe fixes always, unsafe ones only with `unsafe`, display-only never."""
    if fix is None or not fix.edits:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return unsafe and fix.applicability is Applicability.UNSAFE


@dataclass(frozen=True)
class Diagnostic:
    code: str  # "GL001"
    name: str  # "inplace-on-leaf"
    message: str
    filename: str
    location: Location
    end_location: Location
    fix: Fix | None = None
    noqa_row: int | None = None
    url: str | None = None
    cell: int | None = None  # notebooks: the cell (1-based); location/end_location/noqa_row are then within it
    tier: str = BUG  # "bug" or "hygiene" (TIERS)
    related: tuple[Related, ...] = ()  # other places (other files) that make it a bug

    def sort_key(self) -> tuple:
        return (self.filename, self.cell or 0, self.location.row, self.location.column, self.code)


@dataclass(frozen=True)
class Related:
    """Another place that makes a finding a bug (project-wide analysis: the call in another file that
    passes the parameters, or runs the helper with grad mode on). SARIF `relatedLocations`."""

    filename: str
    row: int
    column: int
    message: str


@dataclass
class FileError:
    """A file that could not be checked: unreadable, undecodable, unparsable, missing."""

    filename: str
    reason: str
    row: int | None = None
    column: int | None = None


@dataclass
class FileResult:
    filename: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: FileError | None = None
    summary: dict | None = None  # project-wide analysis: what the file exports (gradlint.project), not reported
