"""Helpers for the language-server tests (imported only when pygls and pytest-lsp are installed)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from lsprotocol import types

PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
TIMEOUT = 60  # seconds; generous: the test machines are shared and slow

# GL001 at 3:1-3:7 (in-place on a leaf that requires grad).
BAD = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"
CLEAN = "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w += 1\n"


async def wait_for_diagnostics(client, uri: str, predicate=lambda diags: True, timeout: float = TIMEOUT):
    """Wait until the diagnostics last published for `uri` satisfy `predicate`; return them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = client.diagnostics.get(uri)
        if got is not None and predicate(got):
            return list(got)
        # registered before we yield to the event loop: no notification can slip past
        future = client.protocol.wait_for_notification_async(PUBLISH)
        remaining = deadline - loop.time()
        try:
            await asyncio.wait_for(future, max(remaining, 0.01))
        except asyncio.TimeoutError:
            raise AssertionError(f"no matching diagnostics for {uri} within {timeout}s; last: {got!r}") from None


def open_document(client, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


def replace_text(client, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def close_document(client, uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))


def _offset(text: str, pos: types.Position) -> int:
    """LSP position (UTF-16 code units) -> index into `text`."""
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    if pos.line >= len(starts):
        return len(text)
    i = starts[pos.line]
    units = 0
    while units < pos.character and i < len(text) and text[i] not in "\r\n":
        units += 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    return i


def apply_workspace_edit(text: str, uri: str, edit: types.WorkspaceEdit) -> str:
    """What an editor does with a code action's edit (edits are non-overlapping; apply back to front)."""
    edits: list[types.TextEdit] = []
    if edit.document_changes:
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri
            edits += change.edits
    if edit.changes:
        edits += edit.changes.get(uri, [])
    assert edits, "the code action carries no edit"
    spans = sorted(((_offset(text, e.range.start), _offset(text, e.range.end), e.new_text) for e in edits),
                   reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


async def code_actions(client, uri: str, rng: types.Range, diagnostics=(), only=None):
    result = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
        context=types.CodeActionContext(diagnostics=list(diagnostics), only=only))), TIMEOUT)
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def make_client():
    """pytest-lsp's test client, which also accepts `client/registerCapability` (as editors do) and
    records the registrations."""
    from pytest_lsp import make_test_lsp_client

    client = make_test_lsp_client()
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)

    return client


SERVER_COMMAND = [sys.executable, "-m", "gradlint", "lsp", "--stdio"]


def make_workspace(tmp_path_factory, name: str) -> Path:
    """A workspace folder whose pyproject.toml has an empty `[tool.gradlint]` table."""
    root = tmp_path_factory.mktemp(name)
    (root / "pyproject.toml").write_text("[tool.gradlint]\n", encoding="utf-8")
    return root


async def initialize(lsp_client, workspace: Path, options: dict, capabilities=None):
    """Initialise a session as VS Code does (the workspace as root and only folder) with these
    initialization options; returns the server's InitializeResult."""
    from pytest_lsp import client_capabilities

    return await asyncio.wait_for(lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities or client_capabilities("visual-studio-code"),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        initialization_options=options,
    )), TIMEOUT)
