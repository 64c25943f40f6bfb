"""The `check` command's fix glue: the fix flags (`FixOptions`, `click_options`), the hint line and the
`--show-fixes` list. Kept apart from gradlint/fix.py so the CLI can use it without importing LibCST (an
all-cached `gradlint check` never parses); gradlint.fix re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradlint.diagnostic import Applicability, Diagnostic, Fix

if TYPE_CHECKING:
    from gradlint.fix import FixOutcome


def is_applicable(fix: Fix | None, unsafe: bool) -> bool:
    if fix is None or not fix.edits:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return unsafe and fix.applicability is Applicability.UNSAFE


def fix_counts(diagnostics: list[Diagnostic], unsafe: bool) -> tuple[int, int]:
    """(applicable fixes, hidden unsafe fixes) among `diagnostics` (for the hint line)."""
    applicable = sum(1 for d in diagnostics if is_applicable(d.fix, unsafe))
    hidden = 0 if unsafe else sum(1 for d in diagnostics if d.fix is not None and d.fix.edits
                                  and d.fix.applicability is Applicability.UNSAFE)
    return applicable, hidden


def fix_hint(diagnostics: list[Diagnostic], unsafe: bool) -> str | None:
    """ruff's hint line: `[*] 2 fixable with the `--fix` option (1 hidden fix can be enabled with the
    `--unsafe-fixes` option).`, or `No fixes available (...)`; None when there is nothing to say."""
    applicable, hidden = fix_counts(diagnostics, unsafe)
    extra = (f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option"
             if hidden else "")
    if applicable:
        return f"[*] {applicable} fixable with the `--fix` option" + (f" ({extra})." if extra else ".")
    if hidden:
        return f"No fixes available ({extra})."
    return None


def show_fixes_text(outcome: FixOutcome, *, would: bool = False) -> list[str]:
    """ruff's `--show-fixes` enumeration."""
    total = outcome.total
    if not total:
        return []
    lines = [f"{'Would fix' if would else 'Fixed'} {total} error{'s' if total != 1 else ''}:"]
    for name in sorted(outcome.fixed):
        lines.append(f"- {name}:")
        for (code, rule_name), n in sorted(outcome.fixed[name].items()):
            lines.append(f"    {n} × {code} ({rule_name})")
    return lines


@dataclass(frozen=True)
class FixOptions:
    """The `check` command's fix flags (ruff's): see `click_options`."""

    fix: bool = False
    unsafe: bool = False
    show_fixes: bool = False
    diff: bool = False
    fix_only: bool = False
    exit_non_zero_on_fix: bool = False

    @property
    def apply(self) -> bool:
        """Are fixes computed and applied (or, with --diff, shown)?"""
        return self.fix or self.fix_only or self.diff

    @classmethod
    def from_flags(cls, flags: dict | None, config=None) -> "FixOptions":
        """The flags given (None: not given), over the configuration's `fix` / `unsafe-fixes` /
        `show-fixes` keys (a gradlint.config.Config, or None)."""
        f = dict(flags or {})
        no_fix = f.get("fix") is False

        def given_or_configured(flag: str) -> bool:
            value = f.get(flag)
            if value is None and config is not None:
                value = getattr(config, flag)
            return bool(value)

        return cls(
            fix=given_or_configured("fix") and not no_fix,
            unsafe=given_or_configured("unsafe_fixes"),
            show_fixes=given_or_configured("show_fixes"),
            diff=bool(f.get("diff")),
            fix_only=bool(f.get("fix_only")) and not no_fix,
            exit_non_zero_on_fix=bool(f.get("exit_non_zero_on_fix")),
        )


def click_options(func):
    """The `check` command's fix options, as one decorator (the values arrive as keyword arguments
    fix, unsafe_fixes, show_fixes, diff, fix_only, exit_non_zero_on_fix)."""
    import click

    options = [
        click.option("--fix/--no-fix", "fix", default=None,
                     help="Apply the safe fixes (`--no-fix` overrides `--fix` and `--fix-only`)."),
        click.option("--unsafe-fixes/--no-unsafe-fixes", "unsafe_fixes", default=None,
                     help="Also apply (and mark as fixable) the unsafe fixes."),
        click.option("--show-fixes/--no-show-fixes", "show_fixes", default=None,
                     help="List the fixes applied, and show each finding's fix as a diff (full format)."),
        click.option("--diff", is_flag=True,
                     help="Print a unified diff of what the fixes would change and write nothing "
                          "(exit 1 if there is a diff). Implies --fix-only."),
        click.option("--fix-only/--no-fix-only", "fix_only", default=None,
                     help="Apply fixes but do not report the findings left; exit 0 unless "
                          "--exit-non-zero-on-fix. Implies --fix."),
        click.option("--exit-non-zero-on-fix", is_flag=True,
                     help="Exit 1 if any file was fixed, even when no finding remains."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
