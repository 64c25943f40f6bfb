"""Notebook documents (LSP 3.17) through a real client (pytest-lsp): the cells of a Jupyter notebook are
linted together as `gradlint check` lints a notebook file, findings are published per cell, and code
actions (quick fixes, noqa, fix-all of a cell and of the notebook) edit the right cell."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    SERVER_COMMAND, TIMEOUT, apply_workspace_edit, code_actions, initialize, make_client, make_workspace,
    wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEFINE = "import torch\nw = torch.randn(3, requires_grad=True)\n"
MAGIC_THEN_BUG = "%timeit w.sum()\n!echo hi\nw += 1\n"  # GL001 on row 3 (0-based line 2), after two magics
NOQA = "w.data.add_(1)  # noqa: GL003\n"  # suppressed in the cell
BROKEN = "def f(:\n    pass\n"
DATA = "y = w.data\n"  # GL003: .data read, fixable (-> .detach())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory, "lsp_notebooks")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=SERVER_COMMAND,
        client_factory=make_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace):
    caps = client_capabilities("visual-studio-code")
    # as vscode-languageclient 9 sends it (pytest-lsp's recorded VS Code capabilities predate notebooks)
    caps.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities(dynamic_registration=True,
                                                                     execution_summary_support=True))
    result = await initialize(lsp_client, workspace, {"debounce": 50}, capabilities=caps)
    sync = result.capabilities.notebook_document_sync
    lsp_client.notebook_sync = sync
    lsp_client.code_action_kinds = result.capabilities.code_action_provider.code_action_kinds
    yield
    await lsp_client.shutdown_session()


class Notebook:
    """A notebook the test client holds: cell URIs and texts, as VS Code sends them."""

    def __init__(self, client, path, cells: list[tuple[str, str]]):
        self.client, self.uri, self.version = client, path.as_uri(), 1
        self.cells = []  # [uri, kind, text, version]
        for k, (kind, text) in enumerate(cells):
            # as VS Code names cells: a base64 fragment, escaped (pygls keys its documents unescaped)
            self.cells.append([f"vscode-notebook-cell:{path}#W{k}sZmlsZQ%3D%3D", kind, text, 1])
        for uri, *_ in self.cells:
            client.diagnostics.pop(uri, None)
        client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=self.uri, notebook_type="jupyter-notebook", version=1,
                cells=[types.NotebookCell(kind=self.kind(kind), document=uri) for uri, kind, _, _ in self.cells]),
            cell_text_documents=[types.TextDocumentItem(uri=uri, language_id=self.lang(kind), version=1, text=text)
                                 for uri, kind, text, _ in self.cells]))

    @staticmethod
    def kind(kind):
        return types.NotebookCellKind.Code if kind == "code" else types.NotebookCellKind.Markup

    @staticmethod
    def lang(kind):
        return "python" if kind == "code" else "markdown"

    def uri_of(self, k):
        return self.cells[k][0]

    def text_of(self, k):
        return self.cells[k][2]

    def edit_cell(self, k, text):
        self.version += 1
        cell = self.cells[k]
        cell[2], cell[3] = text, cell[3] + 1
        self.client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=self.uri, version=self.version),
            change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[
                types.NotebookDocumentCellContentChanges(
                    document=types.VersionedTextDocumentIdentifier(uri=cell[0], version=cell[3]),
                    changes=[types.TextDocumentContentChangeWholeDocument(text=text)])]))))

    def delete_cell(self, k):
        self.version += 1
        uri = self.cells.pop(k)[0]
        self.client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=self.uri, version=self.version),
            change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(
                structure=types.NotebookDocumentCellChangeStructure(
                    array=types.NotebookCellArrayChange(start=k, delete_count=1),
                    did_close=[types.TextDocumentIdentifier(uri=uri)])))))
        return uri

    def close(self):
        self.client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=self.uri),
            cell_text_documents=[types.TextDocumentIdentifier(uri=uri) for uri, *_ in self.cells]))


def codes(expected):
    return lambda diags: sorted(str(d.code) for d in diags) == sorted(expected)


def rng(line, start, end):
    return types.Range(start=types.Position(line=line, character=start), end=types.Position(line=line, character=end))


async def test_the_server_advertises_notebook_sync_for_python_cells(client: LanguageClient):
    sync = client.notebook_sync
    assert sync is not None and sync.save is True
    (selector,) = sync.notebook_selector
    assert selector.notebook == "jupyter-notebook"
    assert [c.language for c in selector.cells] == ["python"]
    assert "notebook.source.fixAll.gradlint" in client.code_action_kinds


async def test_diagnostics_per_cell_magics_noqa_and_a_broken_cell(client: LanguageClient, workspace):
    nb = Notebook(client, workspace / "cells.ipynb", [
        ("code", DEFINE), ("markdown", "# Title\nw += 1 is prose"), ("code", MAGIC_THEN_BUG),
        ("code", NOQA), ("code", BROKEN), ("code", DATA)])
    # the finding in cell 3 uses `w` from cell 1 (one joined text), on its row after two magics
    (gl001,) = await wait_for_diagnostics(client, nb.uri_of(2), codes(["GL001"]))
    assert gl001.range == rng(2, 0, 6)
    assert gl001.source == "gradlint"
    # a broken cell: one error in that cell, and the cell after it is still checked
    (err,) = await wait_for_diagnostics(client, nb.uri_of(4))
    assert err.severity == types.DiagnosticSeverity.Error and "syntax error" in err.message
    assert err.range.start.line == 0
    await wait_for_diagnostics(client, nb.uri_of(5), codes(["GL003"]))
    assert await wait_for_diagnostics(client, nb.uri_of(0)) == []
    assert await wait_for_diagnostics(client, nb.uri_of(3)) == []  # `# noqa: GL003` in the cell
    assert nb.uri_of(1) not in client.diagnostics  # markdown: nothing published
    # fix the broken cell: it is checked again (and its findings appear in it)
    nb.edit_cell(4, "w.data\n")
    await wait_for_diagnostics(client, nb.uri_of(4), codes(["GL003"]))
    # delete the cell with GL001: its diagnostics are cleared, the others stay
    gone = nb.delete_cell(2)
    await wait_for_diagnostics(client, gone, codes([]))
    await wait_for_diagnostics(client, nb.uri_of(4), codes(["GL003"]))  # (DATA, now at index 4)
    uris = [nb.uri_of(k) for k in range(len(nb.cells)) if nb.cells[k][1] == "code"]
    nb.close()
    for uri in uris:
        await wait_for_diagnostics(client, uri, codes([]))


async def test_quick_fix_and_noqa_edit_the_cell(client: LanguageClient, workspace):
    nb = Notebook(client, workspace / "quick.ipynb", [("code", DEFINE), ("code", MAGIC_THEN_BUG)])
    uri = nb.uri_of(1)
    (diag,) = await wait_for_diagnostics(client, uri, codes(["GL001"]))
    actions = await code_actions(client, uri, diag.range, [diag])
    titles = [a.title for a in actions]
    assert "Disable GL001 for this line" in titles
    (fix,) = [a for a in actions if a.is_preferred]
    fixed = apply_workspace_edit(nb.text_of(1), uri, fix.edit)
    # the fix edits this cell only, and the magics come back as written (not as the linter's placeholders)
    assert "with torch.no_grad():" in fixed and "w += 1" in fixed
    assert "%timeit w.sum()\n" in fixed and "!echo hi\n" in fixed and "gradlint" not in fixed
    (noqa,) = [a for a in actions if a.title == "Disable GL001 for this line"]
    assert apply_workspace_edit(nb.text_of(1), uri, noqa.edit).splitlines()[2] == "w += 1  # noqa: GL001"
    nb.edit_cell(1, fixed)
    await wait_for_diagnostics(client, uri, codes([]))
    nb.close()


async def test_fix_all_for_a_cell_and_for_the_notebook(client: LanguageClient, workspace):
    nb = Notebook(client, workspace / "fixall.ipynb", [
        ("code", DEFINE), ("code", DATA), ("markdown", "text"), ("code", "z = w.data\n"), ("code", BROKEN)])
    await wait_for_diagnostics(client, nb.uri_of(1), codes(["GL003"]))
    await wait_for_diagnostics(client, nb.uri_of(3), codes(["GL003"]))
    whole = rng(0, 0, 0)
    # source.fixAll on one cell: that cell's edits only
    (action,) = await code_actions(client, nb.uri_of(1), whole, only=["source.fixAll.gradlint"])
    assert action.kind == "source.fixAll.gradlint"
    (change,) = action.edit.document_changes
    assert change.text_document.uri == nb.uri_of(1)
    assert apply_workspace_edit(nb.text_of(1), nb.uri_of(1), action.edit) == "y = w.detach()\n"
    # no fix-all on a cell with nothing to fix, and none on the broken one
    assert await code_actions(client, nb.uri_of(0), whole, only=["source.fixAll"]) == []
    assert await code_actions(client, nb.uri_of(4), whole, only=["source.fixAll"]) == []
    # notebook.source.fixAll (VS Code asks on the first cell): every changed cell, nothing else
    (action,) = await code_actions(client, nb.uri_of(0), whole, only=["notebook.source.fixAll"])
    assert action.kind == "notebook.source.fixAll.gradlint"
    assert sorted(c.text_document.uri for c in action.edit.document_changes) == sorted(
        [nb.uri_of(1), nb.uri_of(3)])
    for change in action.edit.document_changes:
        k = next(i for i in range(len(nb.cells)) if nb.uri_of(i) == change.text_document.uri)
        one = types.WorkspaceEdit(document_changes=[change])
        nb.edit_cell(k, apply_workspace_edit(nb.text_of(k), nb.uri_of(k), one))
    assert nb.text_of(3) == "z = w.detach()\n"
    await wait_for_diagnostics(client, nb.uri_of(1), codes([]))
    await wait_for_diagnostics(client, nb.uri_of(3), codes([]))
    # the light bulb (no `only`) does not offer the notebook-wide action
    assert all(a.kind != "notebook.source.fixAll.gradlint"
               for a in await code_actions(client, nb.uri_of(0), whole))
    nb.close()


async def test_hover_on_a_cell(client: LanguageClient, workspace):
    nb = Notebook(client, workspace / "hover.ipynb", [("code", DEFINE), ("code", MAGIC_THEN_BUG)])
    await wait_for_diagnostics(client, nb.uri_of(1), codes(["GL001"]))
    hover = await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uri_of(1)), position=types.Position(line=2, character=1))),
        TIMEOUT)
    assert "GL001" in hover.contents.value
    assert await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=nb.uri_of(1)), position=types.Position(line=0, character=1))),
        TIMEOUT) is None
    nb.close()


async def test_quick_fix_in_a_cell_for_a_sent_diagnostic_away_from_the_cursor(client: LanguageClient, workspace):
    nb = Notebook(client, workspace / "line.ipynb", [("code", DEFINE), ("code", "w += 1  # a note, long enough\n")])
    uri = nb.uri_of(1)
    (diag,) = await wait_for_diagnostics(client, uri, codes(["GL001"]))
    cursor = rng(0, 18, 18)
    assert [a for a in await code_actions(client, uri, cursor) if a.kind == "quickfix"] == []
    titles = [a.title for a in await code_actions(client, uri, cursor, [diag]) if a.kind == "quickfix"]
    assert "Disable GL001 for this line" in titles and len(titles) == 2
    nb.close()
