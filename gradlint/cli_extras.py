"""`gradlint check`'s habits from ruff: stdin (`-` with `--stdin-filename`), `--add-noqa`,
`--show-settings` and `--show-files`.

- stdin: `gradlint check - --stdin-filename src/train.py < train.py` checks the text read from stdin as if
  it were that file (its name in the output, the configuration that applies to it). Findings go to stdout
  as usual. With `--fix` (or `--fix-only`) the fixed source goes to stdout and the findings left to stderr
  (ruff's behaviour, so editors can pipe a buffer through it); with `--diff` the diff goes to stdout.
  With `--force-exclude`, a `--stdin-filename` the configuration excludes is not checked (nothing is
  reported; with `--fix` the source is echoed unchanged), as ruff does. Notebooks cannot be read from stdin.
- `--add-noqa`: adds `# noqa: GL001` at the end of the line each finding is suppressed from (its
  `noqa_row`), or extends the line's existing `# noqa: E501` into `# noqa: E501, GL001` (other tools'
  codes are kept, in their order); a bare `# noqa` is left alone. Files are rewritten atomically, keeping
  their encoding and line endings; in notebooks the directives go into the cells (outputs and metadata
  kept). Prints `Added N noqa directives.`; exit 0, or 2 if a file could not be checked or written.
- `--show-files`: the files `check` would read, one per line, sorted. `--show-settings`: the configuration
  file and the resolved settings for the first of them (or the first path), one `key = value` per line.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path

import click

from gradlint.diagnostic import Diagnostic, FileError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _err(message: str) -> None:
    click.echo(f"gradlint: {message}", err=True)


# ------------------------------------------------------------------------------------------- stdin
def check_stdin(stdin_filename: str | None, resolver, fixing, *, output_format: str, exit_zero: bool, quiet: bool,
                color: bool | None, statistics: bool, out, summary) -> int:
    from gradlint.report import MACHINE_READABLE, write_report
    from gradlint.report.style import use_color
    from gradlint.source import SourceError, decode_source

    name = stdin_filename or "-"
    if name.lower().endswith(".ipynb"):
        _err(f"{name}: notebooks cannot be read from stdin; name the .ipynb file instead")
        return EXIT_ERROR
    try:
        text = decode_source(sys.stdin.buffer.read())
    except SourceError as exc:
        _err(f"{name}: {exc}")
        return EXIT_ERROR
    if stdin_filename and _force_excluded(resolver, Path(stdin_filename)):
        # `--force-exclude` and an excluded name (ruff's behaviour): nothing to report; with --fix the
        # source goes back unchanged, so an editor piping its buffer through gradlint keeps it
        if fixing.apply and not fixing.diff:
            out.write(text)
        return EXIT_CLEAN
    settings = resolver.settings_for(Path(stdin_filename) if stdin_filename else Path.cwd() / "-")
    fixed = 0
    if fixing.apply:
        from gradlint.fix import unified_diff
        from gradlint.linter import lint_fix

        result = lint_fix(text, name, settings, unsafe=fixing.unsafe)
        if result.error is not None:  # not checkable, or fixes refused: the input goes out unchanged
            _err(f"{name}: {result.error}")
            if not fixing.diff:
                out.write(text)  # a pipe through gradlint never loses the buffer
            return EXIT_ERROR
        new_text = result.source if result.changed else text
        fixed = result.fixed if result.changed else 0
        diagnostics = result.remaining if result.changed else _lint(text, name, settings)
        if fixing.diff:
            if new_text != text:
                out.write(unified_diff(name, text, new_text))
            if not quiet:
                click.echo(f"Would fix {fixed} error{'s' if fixed != 1 else ''}." if fixed
                           else "No errors would be fixed.", err=True)
            return EXIT_FINDINGS if new_text != text else EXIT_CLEAN
        out.write(new_text)
        out.flush()
        if fixing.fix_only:
            return EXIT_FINDINGS if fixing.exit_non_zero_on_fix and fixed else EXIT_CLEAN
        report_to = sys.stderr  # stdout carries the fixed source
        sources = {name: new_text}
    else:
        try:
            diagnostics = _lint(text, name, settings)
        except _LintFailed as exc:
            _err(f"{name}: {exc}")
            return EXIT_ERROR
        report_to = out
        sources = {name: text}
    if statistics:
        from gradlint.report.statistics import write_statistics

        write_statistics(diagnostics, report_to, as_json=output_format in ("json", "json-lines"),
                         unsafe=fixing.unsafe)
    else:
        write_report(output_format, diagnostics, sources, report_to, use_color(report_to, color),
                     errors=[], files=[name], unsafe_fixes=fixing.unsafe, show_fixes=fixing.show_fixes)
    report_to.flush()
    if not quiet and output_format not in MACHINE_READABLE:
        summary(diagnostics, 0, 1, fixed=fixed)
    if fixing.exit_non_zero_on_fix and fixed:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN


def _force_excluded(resolver, path: Path) -> bool:
    """Would `check --force-exclude` skip a file of this name (the configuration's excludes, .gitignore)?"""
    from gradlint.discovery import _Walker

    return _Walker(resolver)._force_excluded(path)


class _LintFailed(Exception):
    pass


def _lint(text: str, name: str, settings) -> list[Diagnostic]:
    from gradlint.linter import lint_source

    res = lint_source(text, name, settings)
    if res.error is not None:
        e = res.error
        where = f"{e.row}:{e.column}: " if e.row else ""
        raise _LintFailed(f"{where}{e.reason}")
    return res.diagnostics


# --------------------------------------------------------------------------- show-files, show-settings
def show_files_text(files: list[Path]) -> str:
    return "".join(f"{f}\n" for f in sorted(files, key=str))


def show_settings_text(files: list[Path], paths: list[str], resolver) -> str:
    target = Path(files[0]) if files else Path(paths[0] if paths else ".")
    cfg = resolver.config_for(target)
    settings = resolver.settings_for(target)
    opts = settings.options
    lines = [
        f"Resolved settings for: {target}",
        f"Settings path: {cfg.path if cfg.path is not None else '(none: defaults)'}",
        "",
        f"root = {str(cfg.root)!r}",
        f"selected = {sorted(settings.selected)!r}",
        f"bugs-only = {str(settings.bugs_only).lower()}",
        f"exclude = {list(cfg.exclude) if cfg.exclude is not None else '(default)'}",
        f"extend-exclude = {list(cfg.extend_exclude)!r}",
        f"per-file-ignores = {dict(cfg.per_file_ignores)!r}",
        f"respect-gitignore = {str(resolver.respect_gitignore(cfg)).lower()}",
        f"force-exclude = {str(resolver.force_exclude(cfg)).lower()}",
        f"fix = {str(bool(cfg.fix)).lower()}",
        f"unsafe-fixes = {str(bool(cfg.unsafe_fixes)).lower()}",
        f"show-fixes = {str(bool(cfg.show_fixes)).lower()}",
        f"docs-url = {cfg.docs_url!r}",
        f"eval-function-patterns = {list(opts.all_eval_function_patterns)!r}",
        f"model-names = {list(opts.all_model_names)!r}",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------- add-noqa
# `# noqa` (bare: suppresses everything) or `# noqa: CODE[, CODE …]`, as flake8 and ruff read it
_NOQA = re.compile(r"#\s*noqa(?P<sep>\s*:\s*)?(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*)?",
                   re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


def _comments(source: str) -> dict[int, tuple[int, str]]:
    """row -> (column, text) of the comment token on that row (the text of the line after it)."""
    found: dict[int, tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = (tok.start[1], tok.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


def add_noqa_to_source(source: str, diagnostics: list[Diagnostic]) -> tuple[str, int]:
    """`source` with a `# noqa` directive for every finding; returns (new text, directives added or
    extended)."""
    wanted: dict[int, list[str]] = {}
    for d in diagnostics:
        if d.cell is not None:
            continue
        row = d.noqa_row or d.location.row
        codes = wanted.setdefault(row, [])
        if d.code not in codes:
            codes.append(d.code)
    if not wanted:
        return source, 0
    comments = _comments(source)
    lines = source.splitlines(keepends=True)
    added = 0
    for row, codes in sorted(wanted.items()):
        if not 1 <= row <= len(lines):
            continue
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        newline = line[len(body):]
        comment = comments.get(row)
        m = _NOQA.search(comment[1]) if comment else None
        if m is not None and m.group("codes") is None and not (m.group("sep") or "").strip():
            continue  # a bare `# noqa` already silences every code on the line
        if m is not None and m.group("codes"):
            existing = _CODE.findall(m.group("codes"))
            new_codes = [c for c in codes if c.upper() not in {e.upper() for e in existing}]
            if not new_codes:
                continue
            start = comment[0] + m.start("codes")
            end = comment[0] + m.end("codes")
            body = body[:start] + ", ".join([*existing, *new_codes]) + body[end:]
        elif m is not None:  # `# noqa:` with no codes
            end = comment[0] + m.end()
            body = body[:end].rstrip() + " " + ", ".join(codes) + body[end:]
        else:
            body = body.rstrip() + "  # noqa: " + ", ".join(codes)
        lines[row - 1] = body + newline
        added += 1
    return "".join(lines), added


def _add_noqa_to_notebook(name: str, settings) -> int:
    """--add-noqa in a notebook: the directives go into the cells (outputs and metadata kept); returns how
    many were added. Raises NotebookError / SourceError-like OSError when it cannot be read or written."""
    from gradlint import notebook as nbmod
    from gradlint.linter import lint_source

    nb = nbmod.load(name)
    if not nb.source:
        return 0
    res = lint_source(nb.source, name, settings)  # the cells joined, as the notebook's own lint does
    if res.error is not None:
        raise nbmod.NotebookError(nb.map_error(res.error).reason)
    new_source, added = add_noqa_to_source(nb.source, res.diagnostics)
    if added:
        nbmod.write_text(name, nb.fixed_text(new_source))
    return added


def add_noqa_to_files(found, results, *, quiet: bool, resolver=None) -> int:
    from gradlint.source import SourceError, atomic_write, load_source

    errors: list[FileError] = [FileError(p, reason) for p, reason in found.errors]
    total = 0
    for res in results:
        if res.error is not None:
            errors.append(res.error)
            continue
        if not res.diagnostics:
            continue
        name = res.filename
        if name.lower().endswith(".ipynb") or any(d.cell is not None for d in res.diagnostics):
            from gradlint.notebook import NotebookError

            try:
                total += _add_noqa_to_notebook(name, resolver.settings_for(Path(name)))
            except (NotebookError, OSError) as exc:
                errors.append(FileError(name, f"cannot add noqa: {exc}"))
            continue
        try:
            original = load_source(name)
        except SourceError as exc:
            errors.append(FileError(name, f"cannot add noqa: {exc}"))
            continue
        new_text, added = add_noqa_to_source(original.text, res.diagnostics)
        if not added:
            continue
        try:
            atomic_write(name, original.encode(new_text))
        except OSError as exc:
            errors.append(FileError(name, f"cannot write: {exc.strerror or exc}"))
            continue
        total += added
    for e in errors:
        where = f"{e.filename}:{e.row}:{e.column}" if e.row else e.filename
        _err(f"{where}: {e.reason}")
    if not quiet:
        click.echo(f"Added {total} noqa directive{'s' if total != 1 else ''}.", err=True)
    return EXIT_ERROR if errors else EXIT_CLEAN
