"""Unsafe fixes through a real client (server: tests/lsp/fix_server.py, whose GL001 fixes are unsafe):
offered as quick fixes, in "Fix all gradlint problems" only with `unsafeFixes`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    TIMEOUT, apply_workspace_edit, close_document, code_actions, make_client, open_document, replace_text,
    wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TWO = (
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "v = torch.zeros(2, requires_grad=True)\n"
    "w += 1\n"
    "v += 2\n"
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp_fixes")
    (root / "pyproject.toml").write_text("[tool.gradlint]\n", encoding="utf-8")
    return root


@pytest_lsp.fixture(
    scope="module",
    params=[False, True],
    ids=["safe-only", "unsafe-fixes"],
    config=ClientServerConfig(
        server_command=[sys.executable, str(Path(__file__).with_name("fix_server.py"))],
        client_factory=make_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace, request):
    await asyncio.wait_for(lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri(),
        initialization_options={"debounce": 50, "unsafeFixes": request.param})), TIMEOUT)
    lsp_client.unsafe = request.param
    yield
    await lsp_client.shutdown_session()


def codes(expected):
    return lambda diags: sorted(str(d.code) for d in diags) == sorted(expected)


async def test_an_unsafe_fix_is_offered_as_a_quick_fix(client: LanguageClient, workspace):
    uri = open_document(client, workspace / f"quick_{client.unsafe}.py", TWO)
    diags = await wait_for_diagnostics(client, uri, codes(["GL001", "GL001"]))
    first = min(diags, key=lambda d: d.range.start.line)
    actions = await code_actions(client, uri, first.range, [first])
    (fix,) = [a for a in actions if a.title.startswith("Wrap in")]
    assert fix.title == "Wrap in `with torch.no_grad():` (GL001, unsafe)"
    assert fix.kind == types.CodeActionKind.QuickFix and not fix.is_preferred
    assert [d.range for d in fix.diagnostics] == [first.range]
    fixed = apply_workspace_edit(TWO, uri, fix.edit)
    assert fixed == TWO.replace("w += 1\n", "with torch.no_grad():\n    w += 1\n")
    replace_text(client, uri, fixed, version=2)
    (left,) = await wait_for_diagnostics(client, uri, codes(["GL001"]))
    assert left.range.start.line == 5  # `v += 2`, one line lower now
    close_document(client, uri)


async def test_fix_all_takes_unsafe_fixes_only_when_enabled(client: LanguageClient, workspace):
    uri = open_document(client, workspace / f"fixall_{client.unsafe}.py", TWO)
    await wait_for_diagnostics(client, uri, codes(["GL001", "GL001"]))
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    actions = await code_actions(client, uri, whole, only=[types.CodeActionKind.SourceFixAll])
    if not client.unsafe:
        assert actions == []
        close_document(client, uri)
        return
    (action,) = actions
    assert action.title == "Fix all gradlint problems" and action.kind == "source.fixAll.gradlint"
    fixed = apply_workspace_edit(TWO, uri, action.edit)
    assert "with torch.no_grad():\n    w += 1\n" in fixed and "with torch.no_grad():\n    v += 2\n" in fixed
    # asking only for quick fixes does not offer it
    quick = await code_actions(client, uri, whole, only=[types.CodeActionKind.QuickFix])
    assert all(a.kind == types.CodeActionKind.QuickFix for a in quick)
    replace_text(client, uri, fixed, version=2)
    await wait_for_diagnostics(client, uri, codes([]))
    close_document(client, uri)
