"""`gradlint lsp`: a language server over stdio (pygls; `pip install 'torch-gradlint[lsp]'`).

What it does (see docs/editors.md for the editor configurations):

- publishes diagnostics when a Python document is opened, changed (debounced; re-parsing only the
  top-level statements an edit touched: gradlint/incremental.py) and saved, each with the
  rule code, a link to the rule's documentation (`codeDescription.href`, see `rule_docs_url`), a
  severity, and the exact range of the reported code (positions in the encoding negotiated with the
  client: UTF-16 unless the client offers UTF-8 or UTF-32);
- settings come from the nearest `pyproject.toml` / `gradlint.toml` of each document (exactly as
  `gradlint check` finds them; re-read when such a file changes — `workspace/didChangeWatchedFiles`,
  or on any save) and from the client's `initializationOptions` (or `workspace/didChangeConfiguration`
  with a `gradlint` section): `select`, `extendSelect`, `ignore` (as the command-line options),
  `config` (a configuration file, as `--config PATH`), `settings` (a table of `[tool.gradlint]` keys
  applied over the file, as `--config KEY=VALUE`), `debounce` (milliseconds, default 50; edits
  that come while a lint runs are merged into one lint after it),
  `unsafeFixes` (include unsafe fixes in "Fix all"), `severity` ("error", "warning", "information",
  "hint", or a table code -> severity; by default, and for codes the table does not name, the finding's
  tier: Error for a bug, Warning for hygiene);
- code actions: the quick fix of each fixable finding, "Disable GLxxx for this line" (adds or extends
  the line's `# noqa: ...`), and the source action "Fix all gradlint problems" (`source.fixAll.gradlint`,
  safe fixes only unless `unsafeFixes`);
- hover over a finding shows its message and the rule's documentation.

Documents whose path the configuration excludes (`exclude` / `extend-exclude`, e.g. `.venv`,
`site-packages`) get no diagnostics, as with ruff's server.

This module imports only the standard library, click and gradlint at import time; pygls and lsprotocol
are imported when the server starts, so `gradlint --help` stays fast and a missing extra is reported
clearly (exit 2).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from gradlint import __version__
from gradlint.diagnostic import Applicability, Diagnostic, Location

logger = logging.getLogger("gradlint.lsp")

# Where a rule's documentation lives: each finding's `url` (gradlint.catalog.rule_url — the page under
# the configured `docs-url` / $GRADLINT_DOCS_URL, else the page bundled with the package, gradlint/docs-site/).

SOURCE = "gradlint"
FIX_ALL_KIND = "source.fixAll.gradlint"
FIX_ALL_TITLE = "Fix all gradlint problems"
# The wait after a change before linting: long enough to merge the changes one editor action sends together
# (a paste, a multi-cursor edit, an undo of several steps: a few ms apart), far shorter than the analysis
# (~0.25 s on a 3,000-line file). A longer one would only add to every edit's latency: edits that come
# faster than the analysis are merged anyway, since a document has at most one lint running and one
# waiting (lsp_notebook.schedule_lint). ruff's server lints each change at once.
DEFAULT_DEBOUNCE_MS = 50
CONFIG_FILE_NAMES = ("pyproject.toml", "gradlint.toml", ".gradlint.toml")
MISSING_EXTRA = (
    "the language server needs the optional dependency pygls>=2.1: install torch-gradlint[lsp] "
    "(python -m pip install 'torch-gradlint[lsp]')"
)


def rule_docs_url(code: str, name: str, url: str | None = None) -> str:
    """The documentation link of a rule: the finding's `url` (its page under the configured `docs-url`,
    else the page bundled with the package: gradlint.catalog.rule_url); for a code without one, a file URI
    of the rule's own module in the installed package."""
    if url:
        return url
    import inspect
    from pathlib import Path

    from gradlint.rules import get_rule

    rule = get_rule(code)
    if rule is None:
        raise KeyError(code)
    return Path(inspect.getfile(rule)).resolve().as_uri()


# --------------------------------------------------------------------------- positions (pure helpers)

_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(source: str) -> list[str]:
    """The lines of `source` without their endings, split where Python (and LSP) end a line: `\\r\\n`,
    `\\r`, `\\n` only (not `str.splitlines`' form feeds and Unicode separators). A final newline yields a
    last empty line, as LSP counts it."""
    return _LINE_END.split(source)


def units(text: str, encoding: str) -> int:
    """Length of `text` in the code units of a position encoding ("utf-16", "utf-8" or "utf-32")."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def to_client_character(line: str, column0: int, encoding: str) -> int:
    """A 0-based code-point column (what LibCST reports) as an LSP `character` in `encoding` units."""
    return units(line[:column0], encoding)


def from_client_character(line: str, character: int, encoding: str) -> int:
    """An LSP `character` in `encoding` units as a 0-based code-point column (clamped to the line)."""
    if encoding == "utf-32":
        return min(character, len(line))
    count = 0
    for i, ch in enumerate(line):
        if count >= character:
            return i
        count += units(ch, encoding)
    return len(line)


def client_position(lines: list[str], loc: Location, encoding: str) -> tuple[int, int]:
    """gradlint's 1-based (row, column in code points) -> LSP's 0-based (line, character)."""
    line = loc.row - 1
    if line >= len(lines):
        return len(lines) - 1 if lines else 0, units(lines[-1], encoding) if lines else 0
    return line, to_client_character(lines[line], loc.column - 1, encoding)


def server_location(lines: list[str], line: int, character: int, encoding: str) -> Location:
    """LSP's 0-based (line, character) -> gradlint's 1-based Location."""
    if line >= len(lines):
        return Location(len(lines) + 1, 1)
    return Location(line + 1, from_client_character(lines[line], character, encoding) + 1)


# --------------------------------------------------------------------------- noqa edits (pure)

_NOQA_CODES = re.compile(
    r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)?", re.IGNORECASE)


def _comment_on_row(source: str, row: int) -> tuple[int, str] | None:
    """(0-based code-point column, text) of the comment that ends line `row` (1-based), if any."""
    text = source.replace("\r\n", "\n").replace("\r", "\n") if "\r" in source else source
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and tok.start[0] == row:
                return tok.start[1], tok.string
            if tok.start[0] > row:
                break
    except (tokenize.TokenError, SyntaxError, IndentationError):
        lines = split_lines(source)
        if row - 1 < len(lines):
            idx = lines[row - 1].find("#")
            if idx >= 0:
                return idx, lines[row - 1][idx:]
    return None


def noqa_edit(source: str, row: int, code: str) -> tuple[Location, Location, str] | None:
    """The text edit that makes line `row`'s `# noqa` cover `code`: extend `# noqa: GL001` to
    `# noqa: GL001, GL003`, or append `  # noqa: GL003` to the line (after any other comment, as
    `# type: ignore  # noqa: GL003`). None when the line already suppresses `code`."""
    from gradlint.noqa import ALL, parse_noqa

    lines = split_lines(source)
    if row - 1 >= len(lines):
        return None
    have = parse_noqa(source).codes_for_line(row)
    if have == ALL or code.upper() in have:
        return None
    line = lines[row - 1]
    comment = _comment_on_row(source, row)
    if comment is not None:
        start, text = comment
        m = _NOQA_CODES.search(text)
        if m is not None:
            at = Location(row, start + m.end() + 1)
            if m.group("codes"):
                return at, at, f", {code}"
            return at, at, code if text[: m.end()].endswith((" ", "\t")) else f" {code}"
    stripped = len(line.rstrip(" \t"))
    return Location(row, stripped + 1), Location(row, len(line) + 1), f"  # noqa: {code}"


# --------------------------------------------------------------------------- which findings a request is about


def requested_diagnostics(diagnostics: list[Diagnostic], lines: list[str], params: Any, encoding: str,
                          to_lsp) -> list[Diagnostic]:
    """The findings a `textDocument/codeAction` request asks about, in their order: those that overlap
    the requested range, and those the client sends in `context.diagnostics` (as ruff's server answers:
    a client such as Neovim sends every diagnostic of the cursor's line, wherever the cursor is on it).
    A client diagnostic is one of ours when its code and range are those of a current finding (and its
    `source`, if set, is gradlint); stale ones (from an older text) match nothing."""
    want = server_location(lines, params.range.start.line, params.range.start.character, encoding)
    want_end = server_location(lines, params.range.end.line, params.range.end.character, encoding)
    sent = set()
    for c in getattr(params.context, "diagnostics", None) or []:
        if c.source not in (None, SOURCE) or c.code is None:
            continue
        r = c.range
        sent.add((str(c.code), r.start.line, r.start.character, r.end.line, r.end.character))
    out = []
    for d in diagnostics:
        if not (d.end_location < want or d.location > want_end):
            out.append(d)
            continue
        if sent:
            r = to_lsp(d, lines).range
            if (d.code, r.start.line, r.start.character, r.end.line, r.end.character) in sent:
                out.append(d)
    return out


# --------------------------------------------------------------------------- applying fixes (pure)


def applicable(diag: Diagnostic, unsafe: bool) -> bool:
    """Would "Fix all" apply this finding's fix? (Safe fixes; unsafe ones with `unsafe`.)"""
    from gradlint.diagnostic import is_applicable

    return is_applicable(diag.fix, unsafe)


def fix_all(source: str, diagnostics: list[Diagnostic], filename: str, settings: Any, unsafe: bool) -> str:
    """The text after every applicable fix, as `gradlint check --fix` computes it (gradlint.linter.lint_fix:
    apply the non-overlapping fixes, re-lint, repeat; a result that does not parse is refused)."""
    from gradlint.linter import lint_fix

    result = lint_fix(source, filename, settings, unsafe=unsafe, first=list(diagnostics))
    if result.error is not None:
        logger.warning("%s: %s", filename, result.error)
        return source
    return result.source


def minimal_change(old: str, new: str) -> tuple[Location, Location, str]:
    """One edit turning `old` into `new`: the differing middle, in whole lines (rows/columns as gradlint
    counts them), so a client keeps the cursor and folds outside it."""
    a = [m.group(0) for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", old)]
    b = [m.group(0) for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", new)]
    pre = 0
    while pre < len(a) and pre < len(b) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < len(a) - pre and suf < len(b) - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    start = Location(pre + 1, 1)
    end_row = len(a) - suf  # the last replaced line (1-based), or `pre` when nothing is replaced
    if end_row > pre and not a[end_row - 1].endswith(("\n", "\r")):
        end = Location(end_row, len(a[end_row - 1]) + 1)  # the last line, without a newline
    else:
        end = Location(end_row + 1, 1)
    return start, end, "".join(b[pre:len(b) - suf])


# --------------------------------------------------------------------------- client settings


@dataclass
class ClientOptions:
    """What the client may set in `initializationOptions` (or a `gradlint` configuration section)."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    config: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    unsafe_fixes: bool = False
    severity: str | dict[str, str] | None = None  # None: by the finding's tier (bug: error, hygiene: warning)

    @classmethod
    def from_json(cls, raw: Any) -> tuple["ClientOptions", list[str]]:
        """Parse the client's options; unknown or ill-typed keys are reported (and ignored)."""
        problems: list[str] = []
        opts = cls()
        if raw is None:
            return opts, problems
        if not isinstance(raw, dict):
            return opts, [f"initializationOptions: expected an object, got {type(raw).__name__}"]
        if isinstance(raw.get("gradlint"), dict) and len(raw) == 1:
            raw = raw["gradlint"]
        for key, value in raw.items():
            norm = re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower().replace("_", "-")
            where = f"initializationOptions.{key}"
            if norm in ("select", "extend-select", "ignore"):
                if isinstance(value, str):
                    value = [c.strip() for c in value.replace(" ", ",").split(",") if c.strip()]
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    problems.append(f"{where}: expected a list of rule codes")
                    continue
                if norm == "select":
                    opts.select = value
                elif norm == "extend-select":
                    opts.extend_select = value
                else:
                    opts.ignore = value
            elif norm in ("config", "configuration", "config-path"):
                if value is not None and not isinstance(value, str):
                    problems.append(f"{where}: expected the path of a pyproject.toml or gradlint.toml")
                    continue
                opts.config = value or None
            elif norm == "settings":
                if not isinstance(value, dict):
                    problems.append(f"{where}: expected a table of [tool.gradlint] keys")
                    continue
                opts.settings = value
            elif norm == "debounce":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    problems.append(f"{where}: expected a number of milliseconds")
                    continue
                opts.debounce_ms = int(value)
            elif norm == "unsafe-fixes":
                if not isinstance(value, bool):
                    problems.append(f"{where}: expected true or false")
                    continue
                opts.unsafe_fixes = value
            elif norm == "severity":
                ok = (isinstance(value, str) and value.lower() in _SEVERITIES) or (
                    isinstance(value, dict)
                    and all(isinstance(v, str) and v.lower() in _SEVERITIES for v in value.values()))
                if not ok:
                    problems.append(f"{where}: expected one of {', '.join(_SEVERITIES)} (or a table code -> one)")
                    continue
                opts.severity = value
            else:
                problems.append(f"{where}: unknown option (known: select, extendSelect, ignore, config, "
                                "settings, debounce, unsafeFixes, severity)")
        return opts, problems

    def severity_for(self, code: str, tier: str = "hygiene") -> str:
        """The client's `severity` for this code; else the tier's (a bug is an error, hygiene a warning)."""
        if isinstance(self.severity, str):
            return self.severity.lower()
        table = {k.upper(): v.lower() for k, v in (self.severity or {}).items()}
        for key in sorted(table, key=len, reverse=True):  # most specific code / prefix wins
            if code.upper().startswith(key) or key == "ALL":
                return table[key]
        return "error" if tier == "bug" else "warning"

    def make_resolver(self, root: str | None = None):
        """The resolver for these options; a relative `config` path is relative to `root` (the workspace)."""
        from gradlint.config import ConfigError, ConfigResolver, Overrides

        inline = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in self.settings.items()]
        overrides = Overrides(select=self.select, extend_select=list(self.extend_select),
                              ignore=list(self.ignore), inline=inline)
        config = Path(self.config).expanduser() if self.config else None
        if config is not None and not config.is_absolute() and root:
            config = Path(root) / config
        try:
            return ConfigResolver(config, overrides)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("--config", "initializationOptions.settings")
                              .replace("--select", "initializationOptions.select")
                              .replace("--extend-select", "initializationOptions.extendSelect")
                              .replace("--ignore", "initializationOptions.ignore")) from None


_SEVERITIES = ("error", "warning", "information", "hint")


def _toml_value(value: Any) -> str:
    """A JSON value written as TOML (strings, booleans, numbers, arrays, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


# --------------------------------------------------------------------------- the server


def hover_markdown(diag: Diagnostic) -> str:
    from gradlint.rules import get_rule

    rule = get_rule(diag.code)
    parts = [f"**{diag.code}** `{diag.name}` (gradlint)", diag.message]
    if rule is not None and rule.docs:
        parts.append(textwrap.dedent(rule.docs).strip())
    parts.append(f"[{diag.code} documentation]({rule_docs_url(diag.code, diag.name, diag.url)})")
    return "\n\n".join(parts)


def create_server():
    """The pygls server, with every feature registered (imports pygls; raises ImportError without it)."""
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    from gradlint import lsp_notebook
    from gradlint.config import ConfigError

    severities = {
        "error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning,
        "information": t.DiagnosticSeverity.Information, "hint": t.DiagnosticSeverity.Hint,
    }

    @dataclass
    class Linted:
        version: int | None
        source: str
        diagnostics: list[Diagnostic]
        filename: str
        settings: Any = None  # None: not linted (excluded, not Python, or a configuration error)
        config_error: str | None = None
        error: Any = None  # a FileError: the text does not parse (or is refused); shown as a diagnostic
        stale: list[Diagnostic] = field(default_factory=list)  # the last good findings, shown meanwhile

    class GradlintServer(LanguageServer):
        def __init__(self) -> None:
            super().__init__("gradlint", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                             notebook_document_sync=lsp_notebook.sync_options(),
                             protocol_cls=robust_protocol_class())
            self.options = ClientOptions()
            self.resolver = None
            self.config_error: str | None = None
            self.results: dict[str, Linted] = {}
            self.pending: dict[str, asyncio.Task] = {}
            # per open document: the tree of its last parse, re-parsed only where an edit changed it
            self.parsers: dict[str, Any] = {}
            self.shown_errors: set[str] = set()
            from gradlint.lsp_project import WorkspaceProjects

            self.projects = WorkspaceProjects()  # project-wide analysis (gradlint/lsp_project.py)

        # ---------------------------------------------------------------- settings

        @property
        def encoding(self) -> str:
            enc = self.workspace.position_encoding
            return str(getattr(enc, "value", enc) or "utf-16")

        def set_options(self, raw: Any) -> None:
            self.options, problems = ClientOptions.from_json(raw)
            for p in problems:
                self.show_error(p)
            self.reload_config()

        def reload_config(self) -> None:
            try:
                self.resolver = self.options.make_resolver(self.workspace.root_path)
                self.config_error = None
            except ConfigError as exc:
                self.resolver = None
                self.config_error = str(exc)
                self.show_error(self.config_error)

        def show_error(self, message: str) -> None:
            logger.warning("%s", message)
            if message in self.shown_errors:
                return
            self.shown_errors.add(message)
            self.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=f"gradlint: {message}"))

        def document_path(self, uri: str, path: str | None) -> Path:
            if uri.startswith("file:") and path:
                return Path(path)
            root = self.workspace.root_path or os.getcwd()
            return Path(root) / (Path(path).name if path and path.endswith(".py") else "untitled.py")

        # ---------------------------------------------------------------- linting

        def prepare(self, uri: str):
            """On the event loop: snapshot the document and resolve its settings. Returns a finished
            `Linted` (excluded file, configuration error), None (no such document), or what to lint."""
            try:
                doc = self.workspace.get_text_document(uri)
                source, version, path = doc.source, doc.version, self.document_path(uri, doc.path)
            except Exception:
                return None
            filename = str(path)
            if doc.language_id not in (None, "python") and path.suffix not in (".py", ".pyi"):
                return Linted(version, source, [], filename, None)  # a TOML file the client shares with us
            if self.resolver is None and self.config_error is None:
                self.reload_config()
            if self.resolver is None:
                return Linted(version, source, [], filename, None)
            try:
                cfg = self.resolver.config_for(path)
                if _excluded(cfg, path):
                    return Linted(version, source, [], filename, None)
                settings = self.resolver.settings_for(path)
            except ConfigError as exc:
                self.show_error(str(exc))
                return Linted(version, source, [], filename, None, str(exc))
            return version, source, filename, settings

        async def lint(self, uri: str) -> Linted | None:
            prepared = self.prepare(uri)
            if prepared is None or isinstance(prepared, Linted):
                return prepared
            version, source, filename, settings = prepared
            parser = self.parsers.get(uri)
            if parser is None:
                from gradlint.incremental import IncrementalParser

                parser = self.parsers[uri] = IncrementalParser()
            # off the event loop; as part of the document's project (gradlint/lsp_project.py); parsed
            # incrementally (gradlint/incremental.py: the tree of a full parse, re-parsing what changed)
            result, _ = await asyncio.to_thread(self.projects.lint, source, filename, settings, self.resolver,
                                                parser)
            if result.error is not None:
                logger.info("%s: %s", filename, result.error.reason)
                return Linted(version, source, [], filename, settings, error=result.error,
                              stale=last_good(self.results.get(uri)))
            return Linted(version, source, list(result.diagnostics), filename, settings)

        async def lint_and_publish(self, uri: str) -> None:
            linted = await self.lint(uri)
            if linted is None:
                return
            try:
                current = self.workspace.get_text_document(uri).version
            except Exception:
                return
            if uri not in self.workspace.text_documents or current != linted.version:
                return  # the text moved on; a newer lint is on its way
            self.results[uri] = linted
            self.publish(uri, linted)
            parser = self.parsers.get(uri)
            if parser is not None and parser.needs_layout():
                # after a full parse, while the user reads the diagnostics: where each statement starts
                # (the first incremental re-parse needs it; ~1/3 of a parse)
                await asyncio.to_thread(parser.prepare)
            if linted.settings is not None:
                await self.relint_dependents(linted.filename)

        async def relint_dependents(self, filename: str) -> None:
            """Open documents whose project facts changed with this lint (they import it, or it calls them)."""
            opened: dict[str, str] = {}
            for u in list(self.workspace.text_documents):
                if notebooks.notebook_uri(u) is None:
                    try:
                        doc = self.workspace.get_text_document(u)
                        opened[str(self.document_path(u, doc.path))] = u
                    except Exception:
                        continue
            if len(opened) < 2 or self.resolver is None:
                return
            resolver = self.resolver
            deps = await asyncio.to_thread(self.projects.dependents, filename, list(opened), resolver,
                                           lambda p: resolver.settings_for(Path(p)))
            for path in deps:
                self.schedule(opened[path], 0)

        def publish(self, uri: str, linted: Linted) -> None:
            lines = split_lines(linted.source)
            diags = [self.to_lsp(d, lines) for d in linted.diagnostics]
            if linted.error is not None:
                diags = self.error_diagnostics(linted, lines)
            error = self.config_error or linted.config_error
            if error:
                diags.insert(0, t.Diagnostic(
                    range=t.Range(start=t.Position(line=0, character=0), end=t.Position(line=0, character=0)),
                    message=f"gradlint: configuration error: {error}", severity=t.DiagnosticSeverity.Error,
                    source=SOURCE))
            self.text_document_publish_diagnostics(
                t.PublishDiagnosticsParams(uri=uri, version=linted.version, diagnostics=diags))

        def error_diagnostics(self, linted: Linted, lines: list[str]) -> list:
            """A text that does not parse: the error at CPython's position, then the findings of the last
            version that parsed, marked stale (their positions are those of that version, kept within the
            current text; they carry no fix — code actions work on fresh results only)."""
            err = linted.error
            row = min(max(err.row or 1, 1), max(len(lines), 1))
            line = lines[row - 1] if lines else ""
            col = min(max(err.column or 1, 1), len(line) + 1)
            start, end = Location(row, col), Location(row, min(col + 1, len(line) + 1))
            out = [t.Diagnostic(range=self.to_range(lines, start, end), message=f"gradlint: {err.reason}",
                                severity=t.DiagnosticSeverity.Error, source=SOURCE,
                                data={"error": True})]
            for d in linted.stale:
                srow = min(max(d.location.row, 1), max(len(lines), 1))
                erow = min(max(d.end_location.row, srow), max(len(lines), 1))
                s_loc = Location(srow, min(d.location.column, len(lines[srow - 1]) + 1 if lines else 1))
                e_loc = Location(erow, min(d.end_location.column, len(lines[erow - 1]) + 1 if lines else 1))
                if e_loc < s_loc:
                    e_loc = s_loc
                diag = t.Diagnostic(
                    range=self.to_range(lines, s_loc, e_loc),
                    message=f"{d.message} (stale: from the last version that parsed)",
                    severity=severities[self.options.severity_for(d.code)], code=d.code,
                    code_description=t.CodeDescription(href=rule_docs_url(d.code, d.name, d.url)),
                    source=SOURCE, data={"name": d.name, "fixable": False, "stale": True})
                out.append(diag)
            return out

        def to_range(self, lines: list[str], start: Location, end: Location):
            sl, sc = client_position(lines, start, self.encoding)
            el, ec = client_position(lines, end, self.encoding)
            return t.Range(start=t.Position(line=sl, character=sc), end=t.Position(line=el, character=ec))

        def to_lsp(self, d: Diagnostic, lines: list[str]):
            return t.Diagnostic(
                range=self.to_range(lines, d.location, d.end_location),
                message=d.message,
                severity=severities[self.options.severity_for(d.code, d.tier)],
                code=d.code,
                code_description=t.CodeDescription(href=rule_docs_url(d.code, d.name, d.url)),
                source=SOURCE,
                data={"name": d.name, "fixable": d.fix is not None},
            )

        def schedule(self, uri: str, delay: float) -> None:
            lsp_notebook.schedule_lint(self.pending, uri, delay, self.lint_and_publish)

        def relint_all(self) -> None:
            for uri in list(self.workspace.text_documents):
                if notebooks.notebook_uri(uri) is None:  # a cell is linted with its notebook
                    self.schedule(uri, 0)
            notebooks.relint_all()

        async def current(self, uri: str) -> Linted | None:
            """The results for the document's current text (linting it now if they are stale)."""
            try:
                doc = self.workspace.get_text_document(uri)
            except Exception:
                return None
            got = self.results.get(uri)
            if got is not None and got.version == doc.version and got.source == doc.source:
                return got
            got = await self.lint(uri)
            if got is not None:
                self.results[uri] = got
            return got

        def text_edit(self, lines: list[str], start: Location, end: Location, content: str):
            return t.TextEdit(range=self.to_range(lines, start, end), new_text=content)

        def workspace_edit(self, uri: str, version: int | None, edits: list):
            caps = self.client_capabilities
            doc_changes = bool(caps and caps.workspace and caps.workspace.workspace_edit
                               and caps.workspace.workspace_edit.document_changes)
            if doc_changes:
                return t.WorkspaceEdit(document_changes=[t.TextDocumentEdit(
                    text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                    edits=edits)])
            return t.WorkspaceEdit(changes={uri: edits})

    server = GradlintServer()
    notebooks = lsp_notebook.register(server)

    @server.feature(t.INITIALIZE)
    def initialize(ls: GradlintServer, params: t.InitializeParams) -> None:
        ls.set_options(params.initialization_options)

    @server.feature(t.INITIALIZED)
    def initialized(ls: GradlintServer, params: t.InitializedParams) -> None:
        caps = ls.client_capabilities
        watch = caps and caps.workspace and caps.workspace.did_change_watched_files
        if watch and watch.dynamic_registration:
            reg = t.Registration(
                id="gradlint-config-files", method=t.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=t.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[t.FileSystemWatcher(glob_pattern=f"**/{n}") for n in CONFIG_FILE_NAMES]))
            try:
                fut = ls.client_register_capability(t.RegistrationParams(registrations=[reg]))
                fut.add_done_callback(lambda f: f.exception() and logger.info(
                    "the client did not accept the file watcher: %s", f.exception()))
            except Exception as exc:  # pragma: no cover - depends on the client
                logger.info("could not register the file watcher: %s", exc)

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GradlintServer, params: t.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: GradlintServer, params: t.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.options.debounce_ms / 1000)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE, t.SaveOptions(include_text=False))
    def did_save(ls: GradlintServer, params: t.DidSaveTextDocumentParams) -> None:
        # Re-read the configuration on every save: cheap, and it covers clients that do not watch files.
        ls.reload_config()
        if Path(params.text_document.uri).name in CONFIG_FILE_NAMES:
            ls.relint_all()
        else:
            ls.schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GradlintServer, params: t.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        ls.parsers.pop(uri, None)
        gone = ls.results.pop(uri, None)
        if gone is not None:
            ls.projects.closed(gone.filename)
        ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: GradlintServer, params: t.DidChangeWatchedFilesParams) -> None:
        if any(change.uri.rsplit("/", 1)[-1] in CONFIG_FILE_NAMES for change in params.changes):
            ls.shown_errors.clear()
            ls.reload_config()
            ls.projects.forget_files()
            ls.relint_all()

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: GradlintServer, params: t.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and isinstance(settings.get("gradlint"), dict):
            ls.shown_errors.clear()
            ls.set_options(settings["gradlint"])
            ls.relint_all()

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    async def hover(ls: GradlintServer, params: t.HoverParams):
        nb_uri = notebooks.notebook_uri(params.text_document.uri)
        if nb_uri is not None:
            return await notebooks.hover(nb_uri, params)
        linted = await ls.current(params.text_document.uri)
        if linted is None or not linted.diagnostics:
            return None
        lines = split_lines(linted.source)
        pos = server_location(lines, params.position.line, params.position.character, ls.encoding)
        hits = [d for d in linted.diagnostics if d.location <= pos <= d.end_location]
        if not hits:
            return None
        return t.Hover(
            contents=t.MarkupContent(kind=t.MarkupKind.Markdown,
                                     value="\n\n---\n\n".join(hover_markdown(d) for d in hits)),
            range=ls.to_range(lines, hits[0].location, hits[0].end_location))

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION,
                    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix, FIX_ALL_KIND,
                                                           lsp_notebook.NOTEBOOK_FIX_ALL_KIND]))
    async def code_action(ls: GradlintServer, params: t.CodeActionParams):
        uri = params.text_document.uri
        only = [str(getattr(k, "value", k)) for k in (params.context.only or [])]

        def wanted(kind: str, explicit: bool = False) -> bool:
            """Asked for (`explicit`: only when `only` names it or a parent kind)."""
            return (not only and not explicit) or any(kind == k or kind.startswith(k + ".") for k in only)

        nb_uri = notebooks.notebook_uri(uri)
        if nb_uri is not None:
            return await notebooks.code_actions(nb_uri, params, wanted, t.CodeActionKind.QuickFix.value,
                                                FIX_ALL_KIND, FIX_ALL_TITLE)
        linted = await ls.current(uri)
        if linted is None:
            return None

        lines = split_lines(linted.source)
        actions = []
        if wanted(t.CodeActionKind.QuickFix.value):
            for d in requested_diagnostics(linted.diagnostics, lines, params, ls.encoding, ls.to_lsp):
                lsp_diag = ls.to_lsp(d, lines)
                if d.fix is not None and d.fix.edits and d.fix.applicability != Applicability.DISPLAY_ONLY:
                    safe = d.fix.applicability == Applicability.SAFE
                    title = d.fix.message or f"Fix {d.code}"
                    actions.append(t.CodeAction(
                        title=f"{title} ({d.code})" if safe else f"{title} ({d.code}, unsafe)",
                        kind=t.CodeActionKind.QuickFix, diagnostics=[lsp_diag], is_preferred=safe,
                        edit=ls.workspace_edit(uri, linted.version, [
                            ls.text_edit(lines, e.location, e.end_location, e.content) for e in d.fix.edits])))
                row = d.noqa_row or d.location.row
                edit = noqa_edit(linted.source, row, d.code)
                if edit is not None:
                    actions.append(t.CodeAction(
                        title=f"Disable {d.code} for this line", kind=t.CodeActionKind.QuickFix,
                        diagnostics=[lsp_diag],
                        edit=ls.workspace_edit(uri, linted.version, [ls.text_edit(lines, *edit)])))
        if wanted(FIX_ALL_KIND):
            fixable = [d for d in linted.diagnostics if applicable(d, ls.options.unsafe_fixes)]
            if fixable and linted.settings is not None:
                new = await asyncio.to_thread(fix_all, linted.source, linted.diagnostics, linted.filename,
                                              linted.settings, ls.options.unsafe_fixes)
                if new != linted.source:
                    start, end, content = minimal_change(linted.source, new)
                    actions.append(t.CodeAction(
                        title=FIX_ALL_TITLE, kind=FIX_ALL_KIND,
                        diagnostics=[ls.to_lsp(d, lines) for d in fixable],
                        edit=ls.workspace_edit(uri, linted.version, [ls.text_edit(lines, start, end, content)])))
        return actions or None

    return server


def _excluded(cfg, path: Path) -> bool:
    """Does the configuration exclude this file (or a folder it is in, below the configuration's root)?"""
    absolute = Path(os.path.abspath(path))
    if cfg.root not in absolute.parents:
        return False  # outside the configuration's folder: patterns say nothing about it
    for q in (absolute, *absolute.parents):
        if q == cfg.root:
            break
        if cfg.is_excluded(q, q != absolute):
            return True
    return False


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin/stdout (the default and only transport).")
@click.option("--log-level", type=click.Choice(["error", "warning", "info", "debug"]), default="warning",
              show_default=True, help="What the server logs to stderr (your editor's LSP log).")
def lsp_command(stdio: bool, log_level: str) -> None:
    """Run the gradlint language server over stdio (needs the extra: pip install 'torch-gradlint[lsp]')."""
    try:
        import lsprotocol.types  # noqa: F401
        from pygls.lsp.server import LanguageServer  # noqa: F401
    except ImportError as exc:
        click.echo(f"gradlint: {MISSING_EXTRA} [{type(exc).__name__}: {exc}]", err=True)
        sys.exit(2)
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, log_level.upper()),
                        format="gradlint-lsp %(levelname)s %(name)s: %(message)s")
    server = create_server()
    server.start_io()
    # LSP: `exit` without a `shutdown` request first (or the client vanishing) ends with code 1
    sys.exit(exit_code(server))


def exit_code(server) -> int:
    """0 if the client asked for `shutdown` before the server stopped, else 1 (the LSP specification)."""
    return 0 if getattr(getattr(server, "protocol", None), "_shutdown", False) else 1


def last_good(linted) -> list[Diagnostic]:
    """The findings to keep showing while a document does not parse: those of its last version that did."""
    if linted is None:
        return []
    return list(linted.stale) if linted.error is not None else list(linted.diagnostics)


def robust_protocol_class():
    """pygls' protocol, answering a request whose params do not fit its method with a JSON-RPC error
    (-32602 InvalidParams) instead of leaving it unanswered."""
    from lsprotocol import types as t
    from pygls.exceptions import JsonRpcException
    from pygls.protocol import LanguageServerProtocol

    class _Unstructurable:
        __slots__ = ("id", "method", "reason")

        def __init__(self, msg_id, method, reason: str) -> None:
            self.id, self.method, self.reason = msg_id, method, reason

    class GradlintProtocol(LanguageServerProtocol):
        def structure_message(self, data):
            try:
                return super().structure_message(data)
            except JsonRpcException as exc:
                if isinstance(data, dict) and "id" in data and isinstance(data.get("method"), str):
                    return _Unstructurable(data["id"], data["method"], _leaf_reasons(exc.__cause__ or exc))
                raise

        def handle_message(self, message):
            if isinstance(message, _Unstructurable):
                reason = message.reason.splitlines()[0] if message.reason else "invalid params"
                logger.warning("invalid params for %s: %s", message.method, reason)
                self._send_response(message.id, error=t.ResponseError(
                    code=t.ErrorCodes.InvalidParams,
                    message=f"invalid params for {message.method}: {reason}"))
                return None
            return super().handle_message(message)

    return GradlintProtocol


def _leaf_reasons(exc: BaseException) -> str:
    """The innermost causes of a (cattrs) structuring error, briefly: `KeyError: 'textDocument'`."""
    leaves: list[str] = []

    def visit(e: BaseException) -> None:
        subs = getattr(e, "exceptions", None)
        if subs:
            for sub in subs:
                visit(sub)
        elif len(leaves) < 3 and f"{type(e).__name__}: {e}" not in leaves:
            leaves.append(f"{type(e).__name__}: {e}")

    visit(exc)
    return "; ".join(leaves) or str(exc)
