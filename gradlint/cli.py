"""The `gradlint` command line: check, rules, explain, verify.

`gradlint check` conventions (modelled on ruff):

- stdout carries the findings only, in the chosen format (`full` — the default —, `concise`, `json`);
  with `json` stdout is exactly one JSON document. Everything else goes to stderr: one line
  `gradlint: path: reason` per file that could not be checked, configuration errors, and the summary
  (`Found N errors.` / `All checks passed!`, left out with `--quiet` and for machine-readable formats).
- Exit status: 0 nothing found, 1 findings (0 with `--exit-zero`), 2 a usage or configuration error, an
  internal error, or any file or path that could not be checked (missing, unreadable, undecodable,
  unparsable) — the other files are still checked and reported.
- Colour only when stdout is a terminal, unless `--color/--no-color`, `NO_COLOR` or `FORCE_COLOR` say
  otherwise; never in JSON.
- Fixes (rules build them with gradlint/edits.py, gradlint/fix.py applies them, gradlint.linter.lint_fix
  re-lints; the options and the `--fix` flow are at the end of this module): findings with a fix are marked `[*]` (safe ones; unsafe ones too with
  `--unsafe-fixes`) and the summary adds ruff's hint line. `--fix` writes the safe fixes (`--unsafe-fixes`
  also the unsafe ones) and reports what remains (`Found N errors (F fixed, R remaining).`; exit 0 if
  nothing remains, 1 otherwise or with `--exit-non-zero-on-fix` when something was fixed); `--diff`
  prints the unified diffs and writes nothing (exit 1 if there is a diff); `--fix-only` fixes without
  reporting (exit 0); `--show-fixes` lists the fixes applied (and, without `--fix`, shows each fix as a
  diff in the full format); `--no-fix` overrides `--fix`/`--fix-only`. A file whose fixes would not
  parse is left unchanged and reported (exit 2).
"""

from __future__ import annotations

import importlib
import json as jsonlib
import os
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click

from gradlint import __version__
from gradlint.config import ConfigError, ConfigResolver, Overrides
from gradlint.diagnostic import Applicability, Diagnostic, FileError, FileResult, is_applicable
from gradlint.report import FORMATS, MACHINE_READABLE, write_report
from gradlint.report.style import use_color

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_codes(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [c.strip() for c in v.replace(" ", ",").split(",") if c.strip()]
    return out


def _err(message: str) -> None:
    click.echo(f"gradlint: {message}", err=True)


# ------------------------------------------------------------------------------ fix options
# The `check` command's fix flags, hint line and `--show-fixes` list (as ruff's CLI holds them). Nothing
# here imports LibCST: an all-cached `gradlint check` never parses.


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


def fix_click_options(func):
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



class LazyGroup(click.Group):
    """A group whose heavier subcommands are imported only when used; one that cannot be imported
    becomes a command that explains why (exit 2) instead of breaking the whole CLI."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command:
        module, _, attr = self.lazy_subcommands[name].partition(":")
        try:
            cmd = getattr(importlib.import_module(module), attr)
            if not isinstance(cmd, click.Command):
                raise TypeError(f"{module}.{attr} is not a click command")
            return cmd
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"

            @click.command(name, context_settings={"ignore_unknown_options": True, "help_option_names": []},
                           help=f"(unavailable: {reason})")
            @click.argument("args", nargs=-1, type=click.UNPROCESSED)
            def unavailable(args: tuple[str, ...]) -> None:
                _err(f"the {name!r} command is unavailable: {reason}")
                sys.exit(EXIT_ERROR)

            return unavailable


@click.group(cls=LazyGroup,
             lazy_subcommands={"verify": "gradlint.verify.command:verify", "lsp": "gradlint.lsp:lsp_command"},
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gradlint")
def main() -> None:
    """gradlint: find PyTorch grad-mode misuse (in-place on leaves, lost updates, .data, eval mode, no_grad)."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES",
              help="Rule codes or prefixes to enable, replacing the configured selection (`ALL`: every rule). "
                   "Comma-separated; repeatable.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to disable.")
@click.option("--output-format", type=click.Choice(FORMATS), default="full", show_default=True,
              envvar="GRADLINT_OUTPUT_FORMAT", help="How findings are printed [env: GRADLINT_OUTPUT_FORMAT].")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_args", multiple=True, metavar="PATH|KEY=VALUE",
              help="A pyproject.toml / gradlint.toml to use instead of the nearest one, or an inline "
                   "`KEY = VALUE` TOML setting applied over it. Repeatable.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only: no summary.")
@click.option("--statistics", is_flag=True,
              help="Print how many findings each rule has (most first) instead of the findings.")
@click.option("--color/--no-color", default=None, help="Colour the output (default: only on a terminal).")
@click.option("--force-exclude/--no-force-exclude", default=None,
              help="Apply excludes to files named on the command line too (default: off, or the "
                   "`force-exclude` setting).")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None,
              help="Skip files that .gitignore ignores (default: on).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes (default 0: all cores; small runs use one process).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache folder (default .gradlint_cache, or $GRADLINT_CACHE_DIR).")
@click.option("--bugs-only/--no-bugs-only", "bugs_only", default=None,
              help="Report only findings of the `bug` tier (they raise or silently compute the wrong thing), "
                   "not `hygiene` ones (default: off, or the `bugs-only` setting).")
@click.option("--stdin-filename", metavar="PATH", default=None,
              help="The name of the file read from stdin (PATH `-`, or no PATH): for messages and the "
                   "configuration. With --fix the fixed source goes to stdout.")
@click.option("--add-noqa", is_flag=True,
              help="Add `# noqa: GLxxx` to every line with a finding (extending other tools' noqa codes); "
                   "report nothing else.")
@click.option("--no-project", is_flag=True,
              help="Check each file alone, without facts from the rest of its project (by default the files "
                   "are checked as part of their project: the configuration's root, or the nearest folder "
                   "with pyproject.toml/setup.py/.git; only the given paths are reported on).")
@click.option("--show-settings", is_flag=True, help="Print the settings that apply to the first file, and exit.")
@click.option("--show-files", is_flag=True, help="Print the files that would be checked, and exit.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              envvar="GRADLINT_OUTPUT_FILE",
              help="Write the findings to this file instead of stdout [env: GRADLINT_OUTPUT_FILE].")
@fix_click_options
def check(paths, select, extend_select, ignore, output_format, exit_zero, config_args, quiet, color,
          force_exclude, respect_gitignore, jobs, no_cache, cache_dir, statistics=False, bugs_only=None,
          stdin_filename=None, add_noqa=False, show_settings=False, show_files=False, output_file=None,
          no_project=False, **fix_flags) -> None:
    """Check PATHS (default: the current folder; `-`: stdin) for grad-mode misuse."""
    out = None
    try:
        if output_file:
            try:
                out = open(output_file, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise ConfigError(f"--output-file {output_file}: cannot write: {exc.strerror or exc}") from None
        status = _check(
            paths=list(paths) or (["-"] if stdin_filename else ["."]), select=select, extend_select=extend_select,
            ignore=ignore, output_format=output_format, exit_zero=exit_zero, config_args=config_args, quiet=quiet,
            color=color if out is None else False, force_exclude=force_exclude,
            respect_gitignore=respect_gitignore, jobs=jobs,
            cache_root=None if no_cache else str(_cache_dir(cache_dir)),
            statistics=statistics, fix_flags=fix_flags, bugs_only=bugs_only, stdin_filename=stdin_filename,
            add_noqa=add_noqa, show_settings=show_settings, show_files=show_files, out=out,
            no_project=no_project,
        )
    except ConfigError as exc:
        _err(str(exc))
        status = EXIT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        status = EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        status = 130
    except Exception as exc:  # never a traceback: say what broke, exit 2
        _err(f"internal error: {type(exc).__name__}: {exc} (please report this)")
        status = EXIT_ERROR
    finally:
        if out is not None:
            out.close()
    sys.exit(status)


def _cache_dir(explicit: str | None) -> Path:
    from gradlint.cache import cache_dir  # imported by `check` only: `--version` & co. start faster

    return cache_dir(explicit)


def _silence_stdout() -> None:
    """After a closed pipe (`gradlint check | head`), stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _split_config_args(config_args: tuple[str, ...]) -> tuple[Path | None, list[str]]:
    path: Path | None = None
    inline: list[str] = []
    for arg in config_args:
        if "=" in arg and not os.path.exists(arg):
            inline.append(arg)
            continue
        if path is not None:
            raise ConfigError(f"--config: only one configuration file can be given ({path}, {arg})")
        path = Path(arg)
        if path.is_dir():
            raise ConfigError(f"--config {arg}: is a directory; name the pyproject.toml or gradlint.toml")
    return path, inline


def _check(*, paths, select, extend_select, ignore, output_format, exit_zero, config_args, quiet, color,
           force_exclude, respect_gitignore, jobs, cache_root, statistics=False, fix_flags=None, bugs_only=None,
           stdin_filename=None, add_noqa=False, show_settings=False, show_files=False, out=None,
           no_project=False) -> int:
    config_path, inline = _split_config_args(config_args)
    overrides = Overrides(
        select=_split_codes(select) if select else None,
        extend_select=_split_codes(extend_select),
        ignore=_split_codes(ignore),
        inline=inline,
        respect_gitignore=respect_gitignore,
        force_exclude=force_exclude,
        bugs_only=bugs_only,
    )
    resolver = ConfigResolver(config_path, overrides)
    out = out if out is not None else sys.stdout
    # the fix keys of the configuration that applies where gradlint runs (ruff's rule); flags override
    fixing = FixOptions.from_flags(fix_flags, resolver.config_for(Path.cwd()))
    if "-" in paths:
        if len(paths) > 1:
            raise ConfigError("`-` (stdin) cannot be combined with other paths")
        if show_settings or show_files or add_noqa:
            raise ConfigError("--show-settings, --show-files and --add-noqa need paths, not `-` (stdin)")
        from gradlint.cli_extras import check_stdin

        return check_stdin(stdin_filename, resolver, fixing, output_format=output_format, exit_zero=exit_zero,
                           quiet=quiet, color=color, statistics=statistics, out=out, summary=_summary)
    from gradlint.discovery import discover

    found = discover(paths, resolver)
    if show_files or show_settings:
        from gradlint.cli_extras import show_files_text, show_settings_text

        for e in found.errors:
            _err(f"{e[0]}: {e[1]}")
        text = show_files_text(found.files) if show_files else show_settings_text(found.files, paths, resolver)
        out.write(text)
        out.flush()
        return EXIT_ERROR if found.errors else EXIT_CLEAN
    from gradlint.runner import default_jobs

    results, sources = run_files(found.files, resolver, jobs or default_jobs(), cache_root,
                                 project_paths=None if no_project else paths, real=found.real)
    if add_noqa:
        from gradlint.cli_extras import add_noqa_to_files

        return add_noqa_to_files(found, results, quiet=quiet, resolver=resolver)
    outcome = None
    if fixing.apply:  # `--fix` & co. (fix_files below): results and sources become those of the fixed files
        outcome = fix_files(results, sources, lambda p: resolver.settings_for(Path(p)), unsafe=fixing.unsafe,
                            write=not fixing.diff)
        if outcome.total and not fixing.diff and not no_project:
            # the fixer re-checks each fixed file alone; a fixed file can change what the others learn from
            # it: the remaining findings are those of the project as it is now
            results, sources = run_files(found.files, resolver, jobs or default_jobs(), cache_root,
                                         project_paths=paths, real=found.real)

    errors: list[FileError] = [FileError(p, reason) for p, reason in found.errors]
    errors += outcome.errors if outcome is not None else []
    diagnostics: list[Diagnostic] = []
    for res in results:
        if res.error is not None:
            errors.append(res.error)
        diagnostics.extend(res.diagnostics)
    diagnostics.sort(key=Diagnostic.sort_key)

    for e in errors:
        where = f"{e.filename}:{e.row}:{e.column}" if e.row else e.filename
        _err(f"{where}: {e.reason}")
    if outcome is not None and (fixing.diff or fixing.fix_only):
        return _fix_only_report(fixing, outcome, errors, quiet, out)
    if statistics:
        from gradlint.report.statistics import write_statistics

        write_statistics(diagnostics, out, as_json=output_format in ("json", "json-lines"), unsafe=fixing.unsafe)
    else:
        write_report(output_format, diagnostics, sources, out, use_color(out, color),
                     errors=errors, files=[str(f) for f in found.files],
                     unsafe_fixes=fixing.unsafe, show_fixes=fixing.show_fixes)
    out.flush()
    fixed = outcome.total if outcome is not None else 0
    if not quiet and output_format not in MACHINE_READABLE:
        if outcome is not None and fixing.show_fixes:

            for text in show_fixes_text(outcome):
                click.echo(text, err=True)
        _summary(diagnostics, len(errors), len(found.files), fixed=fixed)
        if any(d.fix is not None for d in diagnostics):

            hint = fix_hint(diagnostics, fixing.unsafe)
            if hint:
                click.echo(hint, err=True)
    if errors:
        return EXIT_ERROR
    if fixing.exit_non_zero_on_fix and fixed:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN


def _fix_only_report(fixing: FixOptions, outcome, errors: list[FileError], quiet: bool, out) -> int:
    """`--diff` (the diffs on stdout, nothing written) and `--fix-only` (no findings reported)."""

    total = outcome.total
    if fixing.diff:
        for text in outcome.diffs:
            out.write(text)
        out.flush()
    if not quiet:
        if fixing.show_fixes:
            for text in show_fixes_text(outcome, would=fixing.diff):
                click.echo(text, err=True)
        verb = "Would fix" if fixing.diff else "Fixed"
        if total:
            click.echo(f"{verb} {total} error{'s' if total != 1 else ''}.", err=True)
        elif not errors:
            click.echo("No errors would be fixed." if fixing.diff else "No errors fixed.", err=True)
    if errors:
        return EXIT_ERROR
    if fixing.diff:
        return EXIT_FINDINGS if outcome.diffs else EXIT_CLEAN
    return EXIT_FINDINGS if fixing.exit_non_zero_on_fix and total else EXIT_CLEAN


def tier_counts(diagnostics: list[Diagnostic]) -> str:
    """`2 bugs, 3 hygiene`: the findings per tier, bugs first (tiers without findings left out)."""
    from gradlint.diagnostic import BUG, HYGIENE

    bugs = sum(1 for d in diagnostics if d.tier == BUG)
    hygiene = sum(1 for d in diagnostics if d.tier == HYGIENE)
    parts = ([f"{bugs} bug{'s' if bugs != 1 else ''}"] if bugs else []) + ([f"{hygiene} hygiene"] if hygiene else [])
    return ", ".join(parts)


def _summary(diagnostics: list[Diagnostic], n_errors: int, n_files: int, fixed: int = 0) -> None:
    n = len(diagnostics)
    if n_files == 0 and n_errors == 0:
        click.echo("gradlint: warning: no Python files found under the given paths", err=True)
    if fixed:  # after --fix (ruff's wording), then the remaining findings per tier
        total = n + fixed
        tiers = f": {tier_counts(diagnostics)}" if n else ""
        click.echo(f"Found {total} error{'s' if total != 1 else ''} ({fixed} fixed, {n} remaining{tiers}).",
                   err=True)
    elif n:
        click.echo(f"Found {n} error{'s' if n != 1 else ''}: {tier_counts(diagnostics)}.", err=True)
    elif not n_errors:
        click.echo("All checks passed!", err=True)
    if n_errors:
        click.echo(f"{n_errors} file{'s' if n_errors != 1 else ''} could not be checked.", err=True)


def run_files(files: list[Path], resolver: ConfigResolver, jobs: int = 1, cache_root: str | None = None,
              project_paths: list[str] | None = None, real: dict[Path, str] | None = None
              ) -> tuple[list[FileResult], dict[str, str]]:
    """Lint every file; a file that fails for any reason becomes one error, never a traceback. With
    `project_paths` (the paths the user gave), the files are checked as part of their project
    (gradlint.project): the other files of the project are read for facts, and not reported on. `real`: the
    files' real paths, where discovery knows them."""
    from gradlint.runner import Progress, lint_many, lint_project

    results: list[FileResult] = []
    sources: dict[str, str] = {}
    work = []
    for path in files:
        name = str(path)
        try:
            work.append((name, resolver.settings_for(path)))
        except ConfigError as exc:
            results.append(FileResult(filename=name, error=FileError(name, str(exc))))
    project = project_paths is not None and bool(work)
    if project:
        root, others = _project_files(project_paths, files, resolver, real or {})
    # the run index (gradlint/runindex.py): when no file changed since the last run, its results as they were
    index = None
    done = None
    if cache_root is not None and work:
        from gradlint.runindex import RunIndex

        index = RunIndex(cache_root, work, others if project else [],
                         ["project", str(root)] if project else ["files"])
        done = index.lookup()
    if done is None:
        progress = Progress(sys.stderr)
        try:
            if project:
                done = lint_project(work, others, root, jobs, cache_root, progress)
            else:
                done = lint_many(work, jobs, cache_root, progress)
        finally:
            progress.clear()
        if index is not None:
            index.store(done)
    for res, source in done:
        results.append(res)
        if source is not None:
            sources[res.filename] = source
    return results, sources


def _real(f: Path, known: dict[Path, str]) -> str | None:
    got = known.get(f)
    if got is None:
        try:
            got = os.path.normcase(os.path.realpath(f))
        except (OSError, ValueError):
            return None
    return got


def _project_files(paths: list[str], files: list[Path], resolver: ConfigResolver, real: dict[Path, str]):
    """The project's root and its files that are not among `files` (read for facts only). `real`: the real
    paths of files, where known."""
    from gradlint.discovery import discover
    from gradlint.project import project_root

    def root_of(group: list[str]) -> Path:
        common = Path(os.path.commonpath([os.path.abspath(p) for p in group]))
        cfg = resolver.config_for(common)
        return project_root(group, cfg.root if cfg.path is not None else None)

    root = root_of(paths)
    # paths of different projects (`gradlint check ~/a ~/b`): the folder above them is no project of
    # theirs — read the other files of each path's own project, never everything under that folder
    own = sorted({str(root_of([p])) for p in paths}) if len(paths) > 1 else [str(root)]
    scan = [str(root)] if own == [str(root)] else [
        r for r in own if not any(r.startswith(o + os.sep) for o in own if o != r)]
    whole = {os.path.abspath(p) for p in paths if os.path.isdir(p)}
    scan = [r for r in scan if r not in whole]  # a whole project being checked: its files are all in `files`
    if not scan:
        return root, []
    reported = set()
    for f in files:
        reported.add(_real(f, real) or os.path.normcase(os.path.abspath(f)))
    others: list[tuple[str, object]] = []
    project = discover(scan, resolver)
    for f in project.files:
        key = _real(f, project.real)
        if key is None or key in reported or f.suffix not in (".py", ".ipynb"):
            continue
        reported.add(key)
        try:
            others.append((str(f), resolver.settings_for(f)))
        except ConfigError:
            continue
    return root, others


@main.command()
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List every rule: code, name, tier, on by default, fixable."""
    from gradlint.catalog import load  # the rules' metadata, without importing the rules (and LibCST)

    all_rules = load()
    if output_format == "json":
        click.echo(jsonlib.dumps([
            {"code": r.code, "name": r.name, "summary": r.summary, "tier": r.tier, "default": r.default_enabled,
             "fixable": r.fixable, "url": r.url()}
            for r in all_rules
        ], indent=2))
        return
    name_w = max([len("name")] + [len(r.name) for r in all_rules]) + 2
    click.echo(f"{'code':<7} {'name':<{name_w}} {'tier':<8} {'default':<8} {'fixable':<8} summary")
    for r in all_rules:
        click.echo(f"{r.code:<7} {r.name:<{name_w}} {r.tier:<8} {'on' if r.default_enabled else 'off':<8} "
                   f"{'yes' if r.fixable else 'no':<8} {r.summary}")


@main.command()
@click.argument("code")
@click.option("--run", is_flag=True, help="Also run the rule's fixtures on gradlint's autograd engine and say "
                                          "what they show (a few seconds).")
@click.option("--no-run", is_flag=True, hidden=True, help="Only print the docs (the default).")
def explain(code: str, run: bool, no_run: bool) -> None:
    """Show a rule's documentation (CODE or name), its tier; with --run, what running its fixtures shows."""
    from gradlint.catalog import TIER_TEXT, get, load

    rule = get(code)
    if rule is None:
        known = ", ".join(f"{r.code} ({r.name})" for r in load()) or "none"
        _err(f"unknown rule {code!r}; valid codes: {known}")
        sys.exit(EXIT_ERROR)
    click.echo(f"# {rule.code} {rule.name}\n")
    click.echo(f"Tier: {TIER_TEXT.get(rule.tier, rule.tier)}. On by default: "
               f"{'yes' if rule.default_enabled else 'no'}. Fixable: {'yes' if rule.fixable else 'no'}.\n")
    click.echo(textwrap.dedent(rule.docs).strip() + "\n")
    if not run or no_run:
        return
    click.echo("## What the fixtures show (run on gradlint's autograd engine)\n")
    try:
        from gradlint.verify import explain_outcomes

        lines = list(explain_outcomes(rule.code))
    except Exception as exc:  # the docs above are still useful
        click.echo(f"(the fixtures could not be run: {type(exc).__name__}: {exc})")
        return
    for line in lines or ["(no fixtures)"]:
        click.echo(f"- {line}")


if __name__ == "__main__":  # pragma: no cover
    main()


# ------------------------------------------------------------------------------ the `check --fix` flow


@dataclass
class FixOutcome:
    """What `fix_files` did: per file the fixes applied ((code, name) -> count), the diffs (with
    `write=False`), and the files whose fixes were refused or that could not be written."""

    fixed: dict[str, Counter] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    errors: list = field(default_factory=list)  # gradlint.diagnostic.FileError

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.fixed.values())


def fix_files(results: list, sources: dict[str, str], settings_for, *, unsafe: bool, write: bool) -> FixOutcome:
    """Fix the files of a `check` run in place of their results: each FileResult with an applicable fix
    gets the remaining diagnostics of its fixed text, and `sources` the fixed text. `settings_for(path)`
    gives a file's Settings. With `write`, fixed files are written back (atomically); else their diffs are
    collected. Files without an applicable fix are never touched. Notebooks: gradlint.notebook.fix_in_run."""
    from gradlint.fix import unified_diff, write_fixed
    from gradlint.linter import lint_fix
    from gradlint.source import SourceError, load_source

    outcome = FixOutcome()
    for res in results:
        if not any(is_applicable(d.fix, unsafe) for d in res.diagnostics):
            continue
        name = res.filename
        if name.lower().endswith(".ipynb") or any(d.cell is not None for d in res.diagnostics):
            # (a notebook may have findings and an error: a cell that does not parse, the others checked)
            from gradlint.notebook import fix_in_run  # cells joined, fixed, split back (gradlint/notebook.py)

            fix_in_run(res, sources, settings_for(name), unsafe=unsafe, write=write, outcome=outcome)
            continue
        if res.error is not None:
            continue
        try:
            original = load_source(name)
        except SourceError as exc:
            outcome.errors.append(FileError(name, f"cannot fix: {exc}"))
            continue
        if name in sources and original.text != sources[name]:
            outcome.errors.append(FileError(name, "changed while being checked; not fixed"))
            continue
        result = lint_fix(original.text, name, settings_for(name), unsafe=unsafe, first=res.diagnostics)
        if result.error is not None:
            outcome.errors.append(FileError(name, result.error))
            continue
        if not result.changed:
            continue
        if write:
            try:
                write_fixed(name, original, result.source)
            except OSError as exc:
                outcome.errors.append(FileError(name, f"cannot write the fixes: {exc.strerror or exc}"))
                continue
        else:
            outcome.diffs.append(unified_diff(name, original.text, result.source))
        outcome.fixed[name] = result.fixed_by_rule
        res.diagnostics = result.remaining
        if result.remaining:
            sources[name] = result.source
        else:
            sources.pop(name, None)
    return outcome
