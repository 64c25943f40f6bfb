"""The rule base class. A rule is one small class with its docs and its own VALID/INVALID examples.

Rules do not walk the tree themselves: the shared semantic model (`gradlint.model`) walks each file once
and records the facts; a rule reads those facts in `check` and yields findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

if TYPE_CHECKING:
    from gradlint.model import SemanticModel
    from gradlint.model.extension import Extension
    from gradlint.settings import RuleOptions

# Text without which GL001-GL005 cannot fire (the default prefilter of a rule).
DEFAULT_PREFILTER = ("torch", "parameters(", ".data", "requires_grad", "no_grad")


# ----------------------------------------------------------------------------- fixes
# A rule describes a fix as edits on nodes of the parsed module; the linter turns them into text edits
# (1-based rows/columns, ruff's `fix.edits`) with the positions it computes for reported files only.


@dataclass(frozen=True)
class Replace:
    """Replace the source text of `node` (its own span, without leading/trailing whitespace) with `content`."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertBefore:
    """Insert `content` at the start of `node`'s span."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertAfter:
    """Insert `content` at the end of `node`'s span."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class ReplaceLines:
    """Replace whole lines: from the start of the line where `first` starts (its indentation included)
    to the end of the line where `last` ends (its newline included). `content` is complete lines, each
    ending with a newline, indented as it should stand (use `gradlint.fix` helpers for indentation)."""

    first: cst.CSTNode
    last: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertLinesBefore:
    """Insert complete lines (each ending with a newline) before the line where `node` starts."""

    node: cst.CSTNode
    content: str


NodeEdit = Replace | InsertBefore | InsertAfter | ReplaceLines | InsertLinesBefore


@dataclass(frozen=True)
class FixSpec:
    """A rule's fix: `safe` only if it cannot change what a correct program computes."""

    message: str
    edits: tuple[NodeEdit, ...]
    safe: bool = False


@dataclass
class Finding:
    """A rule's report: the node to point at and the message, and optionally a fix. Positions are
    computed by the linter, only for nodes that are reported."""

    node: cst.CSTNode
    message: str
    fix: FixSpec | None = None


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line, shown by `gradlint rules`
    default_enabled: ClassVar[bool] = True
    fixable: ClassVar[bool] = False
    # Markdown, with the sections: What it does / Why is this bad? / Example / Use instead / Fix safety / Options
    docs: ClassVar[str] = ""
    # Code snippets: each VALID must produce no finding, each INVALID at least one (tests run them all).
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[str, ...]] = ()
    # A file containing none of these substrings cannot hold a finding of this rule and is not parsed
    # (when no other selected rule's tokens appear either). Keep them cheap and sure: a missed token is a
    # missed finding.
    prefilter: ClassVar[tuple[str, ...]] = DEFAULT_PREFILTER
    # Model extensions (gradlint.model.extension.Extension subclasses) this rule reads via model.ext(...);
    # built in the same walk, only when a rule that needs them is selected.
    extensions: ClassVar[tuple[type["Extension"], ...]] = ()

    def check(self, model: "SemanticModel", options: "RuleOptions") -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def url(cls) -> str | None:
        # No public docs site yet: the docs ship with the tool (`gradlint explain CODE`, docs/rules.md).
        return None
