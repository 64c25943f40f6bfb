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
# (1-based rows/columns, ruff's `fix.edits`) with the positions it computes for reported files only
# (gradlint/fix.py `resolve_fix`). Conventions of the resolver:
# - a "\n" in `content` is written with the file's line ending (CRLF files stay CRLF);
# - relative lines (ReplaceLines, InsertLinesBefore/After) get the anchor line's indentation, and their
#   own indentation, written in units of four spaces, becomes the file's unit (tabs in a tab file);
# - a decorated def/class spans from its first decorator;
# - the edits of one fix must not overlap, except edits inside a WrapInBlock's lines: those are applied
#   to the wrapped text (e.g. Replace `p.data` by `p` + WrapInBlock of its statement in no_grad);
# - a fix that cannot be resolved (a node not in the module, whole-line edits on a node that shares
#   its line with other code) is dropped: the finding is reported without a fix.
# Helpers to find statements, loops and blocks for a node: gradlint/fix.py (statement_of,
# update_wrap_target, no_grad_wrap, ...).


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
    """Replace whole lines: from the start of the line where `first` starts to the end of the line where
    `last` ends (newline included). `content` is lines written *relative* to that block: the resolver
    prefixes every non-empty line with the indentation of `first`'s line and keeps the file's newline."""

    first: cst.CSTNode
    last: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertLinesBefore:
    """Insert lines before the line where `node` starts; `content` is relative lines, indented like `node`."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertLinesAfter:
    """Insert lines after the line where `node` ends (its whole statement, for a compound statement: after
    its last body line); `content` is relative lines, indented like the line where `node` starts."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class WrapInBlock:
    """Wrap the statements from `first` to `last` (whole lines, same block) in a compound statement:
    `header` (e.g. "with torch.no_grad():") goes at their indentation, the lines move one indentation
    unit (the file's own: spaces or tabs) deeper. Comments and blank lines between them move along."""

    first: cst.CSTNode
    last: cst.CSTNode
    header: str


NodeEdit = Replace | InsertBefore | InsertAfter | ReplaceLines | InsertLinesBefore | InsertLinesAfter | WrapInBlock


@dataclass(frozen=True)
class FixSpec:
    """A rule's fix: `safe` only if it cannot change what a correct program computes."""

    message: str
    edits: tuple[NodeEdit, ...]
    safe: bool = False


def torch_ref(model: "SemanticModel", attr: str) -> tuple[str, tuple[NodeEdit, ...]]:
    """How to write `torch.<attr>` (e.g. "no_grad") in this file, respecting its imports: `T.no_grad` after
    `import torch as T`, `ng` after `from torch import no_grad as ng`; else `torch.no_grad` plus the edit
    that adds `import torch` (after the module docstring and `__future__` imports) when nothing binds it."""
    aliases = model.imports.aliases
    for local, origin in aliases.items():
        if origin == f"torch.{attr}":
            return local, ()
    for local, origin in aliases.items():
        if origin == "torch":
            return f"{local}.{attr}", ()
    body = model.module.body
    index = 0
    while index < len(body) and _is_docstring_or_future(body[index], index):
        index += 1
    if index < len(body):
        return f"torch.{attr}", (InsertLinesBefore(body[index], "import torch\n"),)
    return f"torch.{attr}", (InsertAfter(body[-1], "\nimport torch"),) if body else ()


def _is_docstring_or_future(stmt: cst.CSTNode, index: int) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__"


@dataclass
class Finding:
    """A rule's report: the node to point at and the message, and optionally a fix. Positions are
    computed by the linter, only for nodes that are reported."""

    node: cst.CSTNode
    message: str
    fix: FixSpec | None = None
    # This finding's tier when it differs from the rule's default (`Rule.tier`): "bug" or "hygiene", e.g. a
    # hygiene rule escalating a finding the model proves is a bug. None: the rule's default.
    tier: str | None = None
    # other places, in other files of the project, that make it a bug (gradlint.diagnostic.Related)
    related: tuple = ()


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line, shown by `gradlint rules`
    default_enabled: ClassVar[bool] = True
    # The default tier of its findings: "bug" (raises, or silently computes the wrong thing) or "hygiene"
    # (correct today, fragile or wasteful). Every rule sets it; a Finding may override it (Finding.tier).
    tier: ClassVar[str] = ""
    fixable: ClassVar[bool] = False
    # Exception-message prefixes a fixed bad fixture may end with: the fix turned a silent bug into a loud
    # one (e.g. GL003: a `.data` write between forward and backward now trips autograd's version check).
    # `gradlint verify` accepts these as "symptom gone"; document them in the rule's "## Fix safety".
    fix_may_raise: ClassVar[tuple[str, ...]] = ()
    # Markdown, with the sections: What it does / Why is this bad? / Example / Use instead / Fix safety / Options
    docs: ClassVar[str] = ""
    # Code snippets: each VALID must produce no finding, each INVALID at least one (tests run them all).
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[str, ...]] = ()
    # A file containing none of these substrings cannot hold a finding of this rule and is not parsed
    # (when no other selected rule's tokens appear either). Keep them cheap and sure: a missed token is a
    # missed finding.
    prefilter: ClassVar[tuple[str, ...]] = DEFAULT_PREFILTER
    # What the file must also contain, besides one of the tokens: "import" for a rule that reports only when
    # `model.uses_torch` (an import statement of torch or a library built on it, gradlint.model.builder.
    # ECO_IMPORT); "torch" for one that reports only on calls that resolve to `torch.*`.
    prefilter_needs_torch: ClassVar[str | None] = None
    # Model extensions (gradlint.model.extension.Extension subclasses) this rule reads via model.ext(...);
    # built in the same walk, only when a rule that needs them is selected.
    extensions: ClassVar[tuple[type["Extension"], ...]] = ()

    def check(self, model: "SemanticModel", options: "RuleOptions") -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def url(cls) -> str | None:
        # A rule's own documentation address, if it has one; else the linter uses its generated page
        # (gradlint.catalog.rule_url: the configured `docs-url`, or the page bundled with the package).
        return None
