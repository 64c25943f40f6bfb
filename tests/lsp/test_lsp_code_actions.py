"""Code actions anywhere on a flagged line: the server answers for the diagnostics the client sends in
`context.diagnostics` (Neovim sends the cursor line's; ruff's server answers them), not only for the
findings that overlap the requested range."""

from __future__ import annotations

import asyncio
import sys

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    TIMEOUT, apply_workspace_edit, close_document, code_actions, make_client, open_document, wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# GL001 at 3:1-3:7; the line goes on after the flagged span
TEXT = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1  # a comment, long enough\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp_actions")
    (root / "pyproject.toml").write_text("[tool.gradlint]\n", encoding="utf-8")
    return root


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gradlint", "lsp", "--stdio"],
                              client_factory=make_client),
)
async def client(lsp_client: LanguageClient, workspace):
    await asyncio.wait_for(lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri(),
        initialization_options={"debounce": 50})), TIMEOUT)
    yield
    await lsp_client.shutdown_session()


def at(line, character):
    pos = types.Position(line=line, character=character)
    return types.Range(start=pos, end=pos)


def quick_fixes(actions):
    return sorted(a.title for a in actions if a.kind == types.CodeActionKind.QuickFix)


async def test_quick_fixes_for_the_sent_diagnostics_with_the_cursor_elsewhere_on_the_line(client, workspace):
    uri = open_document(client, workspace / "line.py", TEXT)
    (diag,) = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert diag.range.end.character == 6
    cursor = at(2, 20)  # in the comment, outside the flagged `w += 1`
    # without the diagnostic in the context: nothing for the finding (the range does not overlap it)
    assert quick_fixes(await code_actions(client, uri, cursor)) == []
    # with it, as Neovim sends the line's diagnostics: its quick fix and the noqa action
    actions = await code_actions(client, uri, cursor, [diag])
    assert quick_fixes(actions) == sorted(["Disable GL001 for this line", next(
        a.title for a in actions if a.is_preferred)])
    (fix,) = [a for a in actions if a.is_preferred]
    assert fix.diagnostics[0].code == "GL001"
    assert "with torch.no_grad():" in apply_workspace_edit(TEXT, uri, fix.edit)
    # the overlapping range still works alone, and the two are not answered twice
    assert quick_fixes(await code_actions(client, uri, diag.range)) == quick_fixes(actions)
    assert quick_fixes(await code_actions(client, uri, diag.range, [diag])) == quick_fixes(actions)
    close_document(client, uri)


@pytest.mark.parametrize("change", ["stale-range", "other-source", "other-code"])
async def test_sent_diagnostics_that_are_not_current_findings_get_nothing(client, workspace, change):
    uri = open_document(client, workspace / f"other_{change}.py", TEXT)
    (diag,) = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    if change == "stale-range":  # from an older text: the finding is not there any more
        diag.range = types.Range(start=types.Position(line=2, character=1), end=types.Position(line=2, character=7))
    elif change == "other-source":
        diag.source = "Pyright"
    else:
        diag.code = "GL003"
    assert quick_fixes(await code_actions(client, uri, at(2, 20), [diag])) == []
    close_document(client, uri)
