"""Project-wide analysis in the language server: a change in one file updates another open file's
diagnostics; open buffers override the files on disk (a real client, pytest-lsp)."""

from __future__ import annotations

import asyncio
import sys

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.lsp.helpers import (
    TIMEOUT,
    close_document,
    make_client,
    open_document,
    replace_text,
    wait_for_diagnostics,
)
from tests.project.test_project_cli import (
    OPS,
    TRAIN_AFTER_VALIDATE,
    TRAIN_OPS,
    VALIDATE,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

VALS = "import torch\n\nw = torch.zeros(3, requires_grad=True)\n"  # a module-level value another file imports
UPD = "import torch\nfrom vals import w\n\nw -= 0.1 * w.grad\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp_project")
    (root / "pyproject.toml").write_text("[tool.gradlint]\n", encoding="utf-8")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "ops.py").write_text(OPS, encoding="utf-8")
    (root / "train.py").write_text(TRAIN_OPS, encoding="utf-8")
    (root / "utils.py").write_text(VALIDATE, encoding="utf-8")
    (root / "loop.py").write_text(TRAIN_AFTER_VALIDATE, encoding="utf-8")
    (root / "vals.py").write_text(VALS, encoding="utf-8")
    (root / "upd.py").write_text(UPD, encoding="utf-8")
    return root


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gradlint", "lsp", "--stdio"],
                              client_factory=make_client),
)
async def client(lsp_client: LanguageClient, workspace):
    await asyncio.wait_for(lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        initialization_options={"debounce": 50},
    )), TIMEOUT)
    yield
    await lsp_client.shutdown_session()


def codes(*wanted):
    return lambda diags: sorted(str(d.code) for d in diags) == sorted(wanted)


async def test_facts_from_files_on_disk(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "pkg" / "ops.py", OPS)
    (diag,) = await wait_for_diagnostics(client, uri, codes("GL001"))
    assert "train.py:6" in diag.message
    close_document(client, uri)


async def test_editing_an_open_file_updates_another_open_file(client: LanguageClient, workspace):
    loop_uri = open_document(client, workspace / "loop.py", TRAIN_AFTER_VALIDATE)
    (diag,) = await wait_for_diagnostics(client, loop_uri, codes("GL016"))
    assert "utils.py:4" in diag.message
    utils_uri = open_document(client, workspace / "utils.py", VALIDATE)
    await wait_for_diagnostics(client, utils_uri, codes())
    # the helper now restores train mode (in the buffer only: the file on disk is unchanged)
    replace_text(client, utils_uri, VALIDATE + "    model.train()\n", 2)
    await wait_for_diagnostics(client, loop_uri, codes())
    # and back
    replace_text(client, utils_uri, VALIDATE, 3)
    await wait_for_diagnostics(client, loop_uri, codes("GL016"))
    close_document(client, utils_uri)
    close_document(client, loop_uri)


async def test_a_caller_edited_in_its_buffer_updates_the_helper(client: LanguageClient, workspace):
    ops_uri = open_document(client, workspace / "pkg" / "ops.py", OPS)
    await wait_for_diagnostics(client, ops_uri, codes("GL001"))
    train_uri = open_document(client, workspace / "train.py", TRAIN_OPS)
    await wait_for_diagnostics(client, train_uri, codes())
    guarded = TRAIN_OPS.replace("scale_(model.weight, 0.5)\n", "with torch.no_grad():\n    scale_(model.weight, 0.5)\n")
    replace_text(client, train_uri, guarded, 2)
    await wait_for_diagnostics(client, ops_uri, codes())
    close_document(client, train_uri)
    close_document(client, ops_uri)


async def test_editing_a_module_level_value_updates_the_file_that_imports_it(client: LanguageClient, workspace):
    upd_uri = open_document(client, workspace / "upd.py", UPD)
    (diag,) = await wait_for_diagnostics(client, upd_uri, codes("GL001"))
    assert "vals.py" in diag.message
    vals_uri = open_document(client, workspace / "vals.py", VALS)
    await wait_for_diagnostics(client, vals_uri, codes())
    replace_text(client, vals_uri, VALS.replace(", requires_grad=True", ""), 2)  # (the buffer only)
    await wait_for_diagnostics(client, upd_uri, codes())
    replace_text(client, vals_uri, VALS, 3)
    await wait_for_diagnostics(client, upd_uri, codes("GL001"))
    close_document(client, vals_uri)
    close_document(client, upd_uri)
