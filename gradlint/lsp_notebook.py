"""Notebook documents (LSP 3.17) for `gradlint lsp`: the code cells of a Jupyter notebook open in the
editor are linted together, exactly as `gradlint check` lints a notebook file (gradlint.notebook: one
joined text, IPython magics and shell escapes skipped, `# noqa` per line, names defined in one cell known
in the next), and every finding is published on the cell it is in.

- The server advertises `notebookDocumentSync` for the Python cells of `jupyter-notebook` documents
  (VS Code, Cursor); `notebookDocument/didOpen`, `didChange` (debounced like text documents), `didSave`
  and `didClose` keep the cells and re-lint.
- A cell that is not valid Python gets one error diagnostic (the syntax error, in the cell) and is left
  out of the joined text, so the other cells are still checked (`gradlint check` reports the whole file
  as not checkable instead).
- Code actions on a cell: the quick fix and "Disable GLxxx for this line" of its findings (those in the
  requested range and those the client sends in `context.diagnostics`), `source.fixAll.gradlint` (every
  applicable fix, this cell's part of it) and `notebook.source.fixAll.gradlint` (every cell, one edit per
  changed cell: VS Code runs notebook-level actions of `notebook.codeActionsOnSave` on the first cell).
  A fix that would move text across cells is not offered, as `gradlint check --fix` refuses to write it.

pygls keeps the notebook and its cells in the workspace (`workspace.get_notebook_document(cell_uri=...)`);
this module registers the handlers (`register(server)`) and answers the requests the text-document
handlers of gradlint.lsp hand over for cell URIs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from gradlint.diagnostic import Applicability, Diagnostic, Location

logger = logging.getLogger("gradlint.lsp")

NOTEBOOK_TYPE = "jupyter-notebook"
NOTEBOOK_FIX_ALL_KIND = "notebook.source.fixAll.gradlint"


def sync_options():
    """The server capability `notebookDocumentSync`: the Python cells of Jupyter notebooks, and saves."""
    from lsprotocol import types as t

    return t.NotebookDocumentSyncOptions(
        notebook_selector=[t.NotebookDocumentFilterWithCells(
            notebook=NOTEBOOK_TYPE, cells=[t.NotebookCellLanguage(language="python")])],
        save=True)


def schedule_lint(pending: dict[str, "asyncio.Task[None]"], uri: str, delay: float, lint: Any) -> None:
    """Lint `uri` after `delay` seconds (`await lint(uri)`): the debounce the server uses for text documents
    and notebooks alike. A lint still waiting for its delay is cancelled (the new one replaces it); one
    already running is left to finish — its thread cannot be stopped, and a second lint started beside it
    would only queue behind it for the parser — and the new one starts when it is done (and its delay is
    over). So a document has at most one lint running and one waiting, however fast the edits come; a
    result for an older version is not published (the caller checks the version)."""
    loop = asyncio.get_event_loop()
    deadline = loop.time() + delay
    old = pending.pop(uri, None)
    blocker = None  # the lint of this document that is running, if any
    if old is not None and not old.done():
        if getattr(old, "gradlint_running", False):
            blocker = old
        else:
            blocker = getattr(old, "gradlint_blocker", None)
            old.cancel()

    async def run() -> None:
        try:
            if blocker is not None and not blocker.done():
                await asyncio.wait([blocker])  # (not cancelled with this task)
            wait = deadline - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            task.gradlint_running = True
            await lint(uri)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("linting %s failed", uri)
        finally:
            if pending.get(uri) is task:
                del pending[uri]

    task = asyncio.ensure_future(run())
    task.gradlint_blocker = blocker
    pending[uri] = task


@dataclass
class CellsLinted:
    version: int
    uris: list[str]  # the code cells linted, in notebook order
    texts: dict[str, str]  # cell URI -> the text that was linted
    numbers: dict[str, int]  # cell URI -> cell number (1-based, among the notebook's cells)
    filename: str
    result: Any = None  # gradlint.notebook.CellsResult; None: not linted (excluded, configuration error)
    settings: Any = None
    config_error: str | None = None

    def cell_of(self, uri: str) -> int | None:
        return self.numbers.get(uri)

    def canonical(self, uri: str) -> str | None:
        """The cell URI as the notebook named it, for a URI of that cell in any escaping (VS Code's cell
        URIs have a base64 fragment, `#W0sZmlsZQ%3D%3D`; pygls keys its documents unescaped)."""
        if uri in self.numbers:
            return uri
        key = unquote(uri)
        return next((u for u in self.uris if unquote(u) == key), None)


@dataclass
class Notebooks:
    """The notebook state of one server: results, pending lints, and the cells diagnostics went to."""

    ls: Any
    results: dict[str, CellsLinted] = field(default_factory=dict)
    pending: dict[str, asyncio.Task] = field(default_factory=dict)
    published: dict[str, set[str]] = field(default_factory=dict)

    # ---------------------------------------------------------------- documents

    def notebook_uri(self, cell_uri: str) -> str | None:
        """The URI of the open notebook that `cell_uri` is a cell of (None for any other document)."""
        try:
            nb = self.ls.workspace.get_notebook_document(cell_uri=cell_uri)
        except Exception:
            return None
        return nb.uri if nb is not None else None

    def snapshot(self, nb_uri: str):
        """(version, [(number, cell URI, text)], path) of the notebook's Python code cells, or None."""
        from lsprotocol import types as t

        ws = self.ls.workspace
        nb = ws.get_notebook_document(notebook_uri=nb_uri)
        if nb is None:
            return None
        cells = []
        for number, cell in enumerate(nb.cells, start=1):
            if cell.kind != t.NotebookCellKind.Code:
                continue
            doc = ws.text_documents.get(unquote(cell.document))
            if doc is None:
                continue
            if doc.language_id not in (None, "", "python"):
                continue
            cells.append((number, cell.document, doc.source))
        path = Path(ws.get_text_document(nb_uri).path) if nb_uri.startswith("file:") else None
        if path is None:
            root = ws.root_path or "."
            path = Path(root) / "untitled.ipynb"
        return nb.version, cells, path

    # ---------------------------------------------------------------- linting

    async def lint(self, nb_uri: str) -> CellsLinted | None:
        from gradlint.config import ConfigError
        from gradlint.lsp import _excluded
        from gradlint.notebook import lint_cells

        snap = self.snapshot(nb_uri)
        if snap is None:
            return None
        version, cells, path = snap
        linted = CellsLinted(version, [u for _, u, _ in cells], {u: s for _, u, s in cells},
                             {u: n for n, u, _ in cells}, str(path))
        ls = self.ls
        if ls.resolver is None and ls.config_error is None:
            ls.reload_config()
        if ls.resolver is None:
            return linted
        try:
            if _excluded(ls.resolver.config_for(path), path):
                return linted
            settings = ls.resolver.settings_for(path)
        except ConfigError as exc:
            ls.show_error(str(exc))
            linted.config_error = str(exc)
            return linted
        result = await asyncio.to_thread(lint_cells, str(path), [(n, s) for n, _, s in cells], settings)
        if result.error is not None:
            logger.info("%s: %s", path, result.error)
        linted.result, linted.settings = result, settings
        return linted

    def fresh(self, nb_uri: str, linted: CellsLinted) -> bool:
        snap = self.snapshot(nb_uri)
        return snap is not None and snap[0] == linted.version and {u: s for _, u, s in snap[1]} == linted.texts

    async def current(self, nb_uri: str) -> CellsLinted | None:
        got = self.results.get(nb_uri)
        if got is not None and self.fresh(nb_uri, got):
            return got
        got = await self.lint(nb_uri)
        if got is not None:
            self.results[nb_uri] = got
        return got

    async def lint_and_publish(self, nb_uri: str) -> None:
        linted = await self.lint(nb_uri)
        if linted is None or not self.fresh(nb_uri, linted):
            return  # closed, or the text moved on: a newer lint is on its way
        self.results[nb_uri] = linted
        self.publish(nb_uri, linted)

    def schedule(self, nb_uri: str, delay: float) -> None:
        schedule_lint(self.pending, nb_uri, delay, self.lint_and_publish)

    def relint_all(self) -> None:
        for nb_uri in list(self.ls.workspace.notebook_documents):
            self.schedule(nb_uri, 0)

    # ---------------------------------------------------------------- diagnostics

    def cell_diagnostics(self, linted: CellsLinted, uri: str) -> list[Diagnostic]:
        number = linted.cell_of(uri)
        if linted.result is None or number is None:
            return []
        return [d for d in linted.result.diagnostics if d.cell == number]

    def publish(self, nb_uri: str, linted: CellsLinted) -> None:
        from lsprotocol import types as t

        from gradlint.lsp import SOURCE, split_lines

        ls = self.ls
        ws = ls.workspace
        error = ls.config_error or linted.config_error
        for k, uri in enumerate(linted.uris):
            lines = split_lines(linted.texts[uri])
            diags = [ls.to_lsp(d, lines) for d in self.cell_diagnostics(linted, uri)]
            number = linted.numbers[uri]
            broken = linted.result.broken.get(number) if linted.result is not None else None
            if broken is not None:
                row, column, reason = broken
                at = ls.to_range(lines, Location(row, column), Location(row, column))
                diags.insert(0, t.Diagnostic(range=at, message=f"gradlint: {reason} (this cell is not checked)",
                                             severity=t.DiagnosticSeverity.Error, source=SOURCE))
            if error and k == 0:
                zero = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=0, character=0))
                diags.insert(0, t.Diagnostic(range=zero, message=f"gradlint: configuration error: {error}",
                                             severity=t.DiagnosticSeverity.Error, source=SOURCE))
            doc = ws.text_documents.get(unquote(uri))
            ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(
                uri=uri, version=doc.version if doc is not None else None, diagnostics=diags))
        before = self.published.get(nb_uri, set())
        for uri in before - set(linted.uris):  # cells deleted, or no longer Python: clear them
            ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        self.published[nb_uri] = set(linted.uris)

    def close(self, nb_uri: str, cell_uris: list[str]) -> None:
        from lsprotocol import types as t

        task = self.pending.pop(nb_uri, None)
        if task is not None:
            task.cancel()
        self.results.pop(nb_uri, None)
        for uri in self.published.pop(nb_uri, set()) | set(cell_uris):
            self.ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # ---------------------------------------------------------------- requests on a cell

    async def hover(self, nb_uri: str, params):
        from lsprotocol import types as t

        from gradlint.lsp import hover_markdown, server_location, split_lines

        linted = await self.current(nb_uri)
        uri = linted.canonical(params.text_document.uri) if linted is not None else None
        if linted is None or uri is None:
            return None
        lines = split_lines(linted.texts[uri])
        pos = server_location(lines, params.position.line, params.position.character, self.ls.encoding)
        hits = [d for d in self.cell_diagnostics(linted, uri) if d.location <= pos <= d.end_location]
        if not hits:
            return None
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown,
                                                value="\n\n---\n\n".join(hover_markdown(d) for d in hits)),
                       range=self.ls.to_range(lines, hits[0].location, hits[0].end_location))

    def cell_edit(self, linted: CellsLinted, uri: str, new_text: str):
        """A TextDocumentEdit (or the `changes` form) turning the cell's linted text into `new_text`."""
        from gradlint.lsp import minimal_change, split_lines

        old = linted.texts[uri]
        start, end, content = minimal_change(old, new_text)
        return self.ls.text_edit(split_lines(old), start, end, content)

    def workspace_edit(self, edits: dict[str, list]):
        """One WorkspaceEdit over several cells (each at the version that was linted)."""
        from lsprotocol import types as t

        ls = self.ls
        caps = ls.client_capabilities
        doc_changes = bool(caps and caps.workspace and caps.workspace.workspace_edit
                           and caps.workspace.workspace_edit.document_changes)
        if doc_changes:
            ws = ls.workspace
            return t.WorkspaceEdit(document_changes=[t.TextDocumentEdit(
                text_document=t.OptionalVersionedTextDocumentIdentifier(
                    uri=uri, version=ws.text_documents[unquote(uri)].version if unquote(uri) in ws.text_documents
                    else None),
                edits=e) for uri, e in edits.items()])
        return t.WorkspaceEdit(changes=dict(edits))

    def changed_cells(self, linted: CellsLinted, new_source: str) -> dict[str, str]:
        """Cell URI -> new text, for a fixed joined text; {} when the fix cannot go back into the cells."""
        from gradlint.notebook import NotebookError, fixed_cells

        try:
            by_number = fixed_cells(linted.result, new_source)
        except NotebookError as exc:
            logger.info("%s: %s", linted.filename, exc)
            return {}
        uri_of = {n: u for u, n in linted.numbers.items()}
        return {uri_of[n]: text for n, text in by_number.items() if n in uri_of}

    async def code_actions(self, nb_uri: str, params, wanted, quick_fix_kind: str, fix_all_kind: str,
                           fix_all_title: str):
        from lsprotocol import types as t

        from gradlint.fix import apply_edits
        from gradlint.lsp import applicable, fix_all, noqa_edit, requested_diagnostics, split_lines

        ls = self.ls
        linted = await self.current(nb_uri)
        uri = linted.canonical(params.text_document.uri) if linted is not None else None
        if linted is None or linted.result is None or uri is None:
            return None
        result = linted.result
        number = linted.numbers[uri]
        text = linted.texts[uri]
        lines = split_lines(text)
        cell = next((c for c in result.notebook.cells if c.number == number), None)
        pairs = [(raw, d) for raw, d in zip(result.raw, result.diagnostics) if d.cell == number]
        actions = []
        if wanted(quick_fix_kind) and cell is not None:
            chosen = requested_diagnostics([d for _, d in pairs], lines, params, ls.encoding, ls.to_lsp)
            for raw, d in pairs:
                if not any(d is c for c in chosen):
                    continue
                lsp_diag = ls.to_lsp(d, lines)
                if d.fix is not None and d.fix.edits and d.fix.applicability != Applicability.DISPLAY_ONLY:
                    new_source, _ = apply_edits(result.notebook.source, [raw.fix])
                    changed = self.changed_cells(linted, new_source)
                    if set(changed) == {uri}:
                        safe = d.fix.applicability == Applicability.SAFE
                        title = d.fix.message or f"Fix {d.code}"
                        actions.append(t.CodeAction(
                            title=f"{title} ({d.code})" if safe else f"{title} ({d.code}, unsafe)",
                            kind=t.CodeActionKind.QuickFix, diagnostics=[lsp_diag], is_preferred=safe,
                            edit=self.workspace_edit({uri: [self.cell_edit(linted, uri, changed[uri])]})))
                edit = noqa_edit(cell.lint_text, d.noqa_row or d.location.row, d.code)
                if edit is not None:
                    actions.append(t.CodeAction(
                        title=f"Disable {d.code} for this line", kind=t.CodeActionKind.QuickFix,
                        diagnostics=[lsp_diag],
                        edit=self.workspace_edit({uri: [ls.text_edit(lines, *edit)]})))
        want_cell, want_notebook = wanted(fix_all_kind), wanted(NOTEBOOK_FIX_ALL_KIND, explicit=True)
        if want_cell or want_notebook:
            unsafe = ls.options.unsafe_fixes
            fixable = [d for d in result.raw if applicable(d, unsafe)]
            changed: dict[str, str] = {}
            if fixable:
                new = await asyncio.to_thread(fix_all, result.notebook.source, result.raw, linted.filename,
                                              linted.settings, unsafe)
                changed = self.changed_cells(linted, new)
            if want_cell and uri in changed:
                actions.append(t.CodeAction(
                    title=fix_all_title, kind=fix_all_kind,
                    diagnostics=[ls.to_lsp(d, lines) for d in self.cell_diagnostics(linted, uri)
                                 if applicable(d, unsafe)],
                    edit=self.workspace_edit({uri: [self.cell_edit(linted, uri, changed[uri])]})))
            if want_notebook and changed:
                actions.append(t.CodeAction(
                    title=f"{fix_all_title} in this notebook", kind=NOTEBOOK_FIX_ALL_KIND,
                    edit=self.workspace_edit({u: [self.cell_edit(linted, u, changed[u])]
                                              for u in linted.uris if u in changed})))
        return actions or None


def register(server) -> Notebooks:
    """Register the notebookDocument/* handlers on the gradlint server; returns its notebook state."""
    from lsprotocol import types as t

    notebooks = Notebooks(server)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_OPEN)
    def did_open(ls, params: t.DidOpenNotebookDocumentParams) -> None:
        notebooks.schedule(params.notebook_document.uri, 0)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: t.DidChangeNotebookDocumentParams) -> None:
        notebooks.schedule(params.notebook_document.uri, ls.options.debounce_ms / 1000)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_SAVE)
    def did_save(ls, params: t.DidSaveNotebookDocumentParams) -> None:
        ls.reload_config()
        notebooks.schedule(params.notebook_document.uri, 0)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: t.DidCloseNotebookDocumentParams) -> None:
        notebooks.close(params.notebook_document.uri, [c.uri for c in params.cell_text_documents])

    return notebooks
