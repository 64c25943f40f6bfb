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
    from gradlint.settings import RuleOptions


@dataclass
class Finding:
    """A rule's report: the node to point at and the message. Positions are computed by the linter,
    only for nodes that are reported."""

    node: cst.CSTNode
    message: str


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

    def check(self, model: "SemanticModel", options: "RuleOptions") -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def url(cls) -> str | None:
        # No public docs site yet: the docs ship with the tool (`gradlint explain CODE`, docs/rules.md).
        return None
