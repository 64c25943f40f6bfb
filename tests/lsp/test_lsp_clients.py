"""The server with other clients' capabilities (Neovim 0.11: UTF-8 positions, plain `changes` edits;
Emacs 29 eglot: UTF-32 positions) and with settings from `initializationOptions`."""

from __future__ import annotations

import asyncio
import sys

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    make_client,
    TIMEOUT, close_document, code_actions, open_document, wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# GL001 at 4:1 and GL003 at 5:5; the GL001 line has non-ASCII text before the finding.
TEXT = (
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "for p in model.parameters():\n"
    '    s = "😋é"; p.data.add_(p.grad, alpha=-0.1)\n'
    "w += 1\n"
)
# code points / UTF-8 bytes / UTF-16 units before `p.data` on line 4
PREFIX = '    s = "😋é"; '


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp_clients")
    (root / "pyproject.toml").write_text("[tool.gradlint]\n", encoding="utf-8")
    return root


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "emacs"],
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "gradlint", "lsp"],
        client_factory=make_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace, request):
    result = await asyncio.wait_for(lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=workspace.as_uri(),
        initialization_options={"gradlint": {
            "select": ["GL003"], "severity": {"GL003": "error"}, "debounce": 0, "unknownThing": 1,
        }},
    )), TIMEOUT)
    lsp_client.negotiated = result.capabilities.position_encoding
    yield
    await lsp_client.shutdown_session()


async def test_positions_follow_the_negotiated_encoding(client: LanguageClient, workspace):
    encoding = {"neovim": "utf-8", "emacs": "utf-32"}
    assert client.negotiated in tuple(encoding.values())
    uri = open_document(client, workspace / "enc.py", TEXT)
    (diag,) = await wait_for_diagnostics(client, uri)  # select = ["GL003"]: the GL001 is not reported
    assert diag.code == "GL003"
    assert diag.severity == types.DiagnosticSeverity.Error  # severity = {"GL003": "error"}
    expected = len(PREFIX.encode("utf-8")) if client.negotiated == "utf-8" else len(PREFIX)
    assert (diag.range.start.line, diag.range.start.character) == (3, expected)
    close_document(client, uri)


async def test_noqa_action_uses_plain_changes_without_document_changes(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "edits.py", TEXT)
    (diag,) = await wait_for_diagnostics(client, uri)
    (action,) = [a for a in await code_actions(client, uri, diag.range, [diag])
                 if a.title == "Disable GL003 for this line"]
    if client.capabilities.workspace.workspace_edit and client.capabilities.workspace.workspace_edit.document_changes:
        (change,) = action.edit.document_changes
        edits = change.edits
    else:
        assert action.edit.document_changes is None
        edits = action.edit.changes[uri]
    (edit,) = edits
    assert edit.new_text == "  # noqa: GL003"
    end_of_line_4 = TEXT.splitlines()[3]
    width = len(end_of_line_4.encode("utf-8")) if client.negotiated == "utf-8" else len(end_of_line_4)
    assert edit.range.start == types.Position(line=3, character=width)
    close_document(client, uri)


async def test_unknown_options_are_reported(client: LanguageClient):
    assert any("unknownThing" in m.message and m.type == types.MessageType.Error for m in client.messages)
