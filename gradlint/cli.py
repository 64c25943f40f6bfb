"""The `gradlint` command line: check, rules, explain, verify."""

from __future__ import annotations

import json as jsonlib
import sys
import textwrap
from pathlib import Path

import click

from gradlint import __version__
from gradlint.config import ConfigError, ConfigResolver, Overrides
from gradlint.diagnostic import Diagnostic, FileError, FileResult
from gradlint.report import FORMATS, get_reporter
from gradlint.cache import cache_dir as cache_dir_for
from gradlint.report.style import use_color
from gradlint.runner import default_jobs

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_codes(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [c.strip() for c in v.replace(" ", ",").split(",") if c.strip()]
    return out


def _err(message: str) -> None:
    click.echo(f"gradlint: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gradlint")
def main() -> None:
    """gradlint: find PyTorch grad-mode misuse (in-place on leaves, lost updates, .data, eval mode, no_grad)."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the default). `ALL` for every rule.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--output-format", type=click.Choice(FORMATS), default="full", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Use this pyproject.toml / gradlint.toml.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option("--color/--no-color", default=None, help="Colour the output (default: only on a terminal).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes (default 0: all cores; small runs use one process).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache folder (default .gradlint_cache, or $GRADLINT_CACHE_DIR).")
def check(paths, select, extend_select, ignore, output_format, exit_zero, config_path, quiet, color, jobs,
          no_cache, cache_dir) -> None:
    """Check PATHS (default: the current folder) for grad-mode misuse."""
    overrides = Overrides(
        select=_split_codes(select) or None,
        extend_select=_split_codes(extend_select),
        ignore=_split_codes(ignore),
    )
    try:
        resolver = ConfigResolver(Path(config_path) if config_path else None, overrides)
        from gradlint.discovery import discover

        found = discover(list(paths) or ["."], resolver)
    except ConfigError as exc:
        _err(str(exc))
        sys.exit(EXIT_ERROR)

    results, sources = run_files(found.files, resolver, jobs or default_jobs(),
                                 None if no_cache else str(cache_dir_for(cache_dir)))
    errors: list[FileError] = [FileError(p, reason) for p, reason in found.errors]
    diagnostics: list[Diagnostic] = []
    for res in results:
        if res.error is not None:
            errors.append(res.error)
        diagnostics.extend(res.diagnostics)
    diagnostics.sort(key=Diagnostic.sort_key)

    for e in errors:
        where = f"{e.filename}:{e.row}:{e.column}" if e.row else e.filename
        _err(f"{where}: {e.reason}")
    out = sys.stdout
    get_reporter(output_format)(diagnostics, sources, out, use_color(out, color) and output_format != "json")
    out.flush()
    if not quiet and output_format != "json":
        n = len(diagnostics)
        if n:
            click.echo(f"Found {n} error{'s' if n != 1 else ''}.", err=True)
        elif not errors:
            click.echo("All checks passed!", err=True)
        if errors:
            click.echo(f"{len(errors)} file{'s' if len(errors) != 1 else ''} could not be checked.", err=True)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN)


def run_files(files: list[Path], resolver: ConfigResolver, jobs: int = 1,
              cache_root: str | None = None) -> tuple[list[FileResult], dict[str, str]]:
    """Lint every file; a file that fails for any reason becomes one error line, never a traceback."""
    from gradlint.runner import lint_many

    results: list[FileResult] = []
    sources: dict[str, str] = {}
    work = []
    for path in files:
        name = str(path)
        try:
            work.append((name, resolver.settings_for(path)))
        except ConfigError as exc:
            results.append(FileResult(filename=name, error=FileError(name, str(exc))))
    for res, source in lint_many(work, jobs, cache_root):
        results.append(res)
        if source is not None:
            sources[res.filename] = source
    return results, sources


@main.command()
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List every rule: code, name, on by default, fixable."""
    from gradlint.rules import ALL_RULES

    if output_format == "json":
        click.echo(jsonlib.dumps([
            {"code": r.code, "name": r.name, "summary": r.summary, "default": r.default_enabled, "fixable": r.fixable}
            for r in ALL_RULES
        ], indent=2))
        return
    click.echo(f"{'code':<7} {'name':<22} {'default':<8} {'fixable':<8} summary")
    for r in ALL_RULES:
        click.echo(f"{r.code:<7} {r.name:<22} {'on' if r.default_enabled else 'off':<8} "
                   f"{'yes' if r.fixable else 'no':<8} {r.summary}")


@main.command()
@click.argument("code")
@click.option("--no-run", is_flag=True, help="Only print the docs; do not run the rule's fixtures.")
def explain(code: str, no_run: bool) -> None:
    """Show a rule's documentation and what running its fixtures shows."""
    from gradlint.rules import ALL_RULES, get_rule

    rule = get_rule(code) or next((r for r in ALL_RULES if r.name == code.lower()), None)
    if rule is None:
        _err(f"unknown rule {code!r}; known: {', '.join(r.code for r in ALL_RULES)}")
        sys.exit(EXIT_ERROR)
    click.echo(f"# {rule.code} {rule.name}\n")
    click.echo(textwrap.dedent(rule.docs).rstrip() + "\n")
    if no_run:
        return
    click.echo("## What the fixtures show (run on gradlint's autograd engine)")
    try:
        from gradlint.verify import explain_outcomes

        for line in explain_outcomes(rule.code):
            click.echo(f"- {line}")
    except Exception as exc:  # the docs above are still useful
        click.echo(f"(could not run the fixtures: {type(exc).__name__}: {exc})")


def _register_verify() -> None:
    try:
        from gradlint.verify.command import verify
    except ImportError:  # pragma: no cover - the verifier ships with gradlint
        return
    main.add_command(verify)


_register_verify()
