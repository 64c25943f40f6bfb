"""The rule base class. A rule is one small class with its docs and its own VALID/INVALID examples.

Rules do not walk the tree themselves: the shared semantic model (`gradlint.model`) walks each file once
and records the facts; a rule reads those facts in `check` and yields findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

from gradlint.edits import (  # noqa: F401  (the fix primitives, re-exported for the rules)
    FixSpec, InsertAfter, InsertBefore, InsertLinesAfter, InsertLinesBefore, NodeEdit, Replace, ReplaceLines, WrapInBlock,
    torch_ref)

if TYPE_CHECKING:
    from gradlint.model import SemanticModel
    from gradlint.model.extension import Extension
    from gradlint.settings import RuleOptions

# Text without which GL001-GL005 cannot fire (the default prefilter of a rule).
DEFAULT_PREFILTER = ("torch", "parameters(", ".data", "requires_grad", "no_grad")


# ----------------------------------------------------------------------------- fixes
# A rule describes a fix as a FixSpec of node edits (gradlint/edits.py, re-exported here): the primitives,
# their conventions, and the helpers that find what to edit for a node (statement_of, update_wrap_target,
# no_grad_wrap, torch_ref, ...).

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
    # Example programs, written as triple-quoted text: each VALID must produce no finding; each INVALID marks
    # the line of every finding with `# gradlint-expect: GLNNN` (as the fixtures do) and must produce
    # findings on exactly those lines (tests/rules/test_catalogue.py checks them by position).
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
