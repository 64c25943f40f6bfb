"""Issue 16 in the editor: a real client (pytest-lsp) drives `gradlint lsp` with bad requests and with
text that does not parse; the exit-code case speaks JSON-RPC over the server's stdio directly (a client
that sends `exit` without `shutdown` is exactly what is tested, and pytest-lsp always shuts down)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from concurrent.futures import Future
from pathlib import Path

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pygls.exceptions import JsonRpcException  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    BAD, SERVER_COMMAND, TIMEOUT, initialize, make_client, make_workspace, open_document, replace_text,
    wait_for_diagnostics,
)

ASYNC = pytest.mark.asyncio(loop_scope="module")  # (not module-wide: the exit-code test is synchronous)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory, "lsp_robust")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=SERVER_COMMAND,
        client_factory=make_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace):
    await initialize(lsp_client, workspace, {"debounce": 0})
    yield
    await lsp_client.shutdown_session()


@ASYNC
@pytest.mark.parametrize("method, params", [
    (types.TEXT_DOCUMENT_HOVER, {"bogus": 1}),
    (types.TEXT_DOCUMENT_CODE_ACTION, [1, 2, 3]),
    (types.TEXT_DOCUMENT_HOVER, {"textDocument": {"uri": 5}, "position": {"line": "x", "character": 0}}),
])
async def test_a_request_with_bad_params_gets_an_invalid_params_error(client: LanguageClient, method, params):
    # The typed client cannot build such a request: the raw message goes through its own connection, and
    # the reply is awaited the way pygls awaits any response (by id).
    msg_id = f"bad-{uuid.uuid4()}"
    reply: Future = Future()
    client.protocol._request_futures[msg_id] = reply
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    with pytest.raises(JsonRpcException) as err:
        await asyncio.wait_for(asyncio.wrap_future(reply), TIMEOUT)
    assert err.value.code == types.ErrorCodes.InvalidParams
    assert method in str(err.value.message)
    # and the server still answers well-formed requests
    uri = open_document(client, Path("/nonexistent-dir/after_bad.py"), BAD)
    diags = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert diags[0].code == "GL001"


@ASYNC
async def test_syntax_error_at_cpythons_position_and_last_good_findings_kept_stale(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "edit.py", BAD)
    (good,) = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1 and d[0].code == "GL001")
    # the user starts typing a function: line 5 (0-based 4) `def f(:` does not parse
    broken = BAD + "\ndef f(:\n"
    replace_text(client, uri, broken, 2)
    # (a bug-tier finding is an Error too: the syntax error is the one that says so)
    diags = await wait_for_diagnostics(client, uri, lambda d: any("syntax error" in x.message for x in d))
    errors = [d for d in diags if "syntax error" in d.message]
    (error,) = errors
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.range.start == types.Position(line=4, character=6)  # CPython: 5:7 (1-based)
    assert "syntax error" in error.message
    (stale,) = [d for d in diags if d is not error]
    assert stale.code == "GL001" and stale.range == good.range
    assert "stale" in stale.message and stale.data["stale"] is True and stale.data["fixable"] is False
    # a second broken version keeps the same last good findings
    replace_text(client, uri, "# a comment\n" + broken, 3)
    diags = await wait_for_diagnostics(client, uri, lambda d: any(
        "syntax error" in x.message and x.range.start.line == 5 for x in d))
    assert [d.code for d in diags if "stale" in d.message] == ["GL001"]
    # fixed: fresh findings only
    replace_text(client, uri, BAD, 4)
    diags = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1 and "stale" not in d[0].message)
    assert diags[0].code == "GL001" and diags[0].data["fixable"] is True


@ASYNC
async def test_a_refused_file_says_why(client: LanguageClient, workspace):
    text = "import torch\nx = " + " + ".join(["a"] * 2000) + "\n"
    uri = open_document(client, workspace / "chain.py", text)
    (diag,) = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert diag.severity == types.DiagnosticSeverity.Error and "nested more than" in diag.message


def _frame(obj) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("shutdown, code", [(False, 1), (True, 0)])
def test_exit_without_shutdown_exits_with_code_1(shutdown, code, tmp_path):
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"capabilities": {}, "rootUri": tmp_path.as_uri(), "processId": None}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    ]
    if shutdown:
        messages.append({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    messages.append({"jsonrpc": "2.0", "method": "exit"})
    proc = subprocess.run([sys.executable, "-m", "gradlint", "lsp"], input=b"".join(map(_frame, messages)),
                          capture_output=True, timeout=120)
    assert proc.returncode == code, proc.stderr.decode()[-2000:]
    assert b'"id": 1' in proc.stdout  # it did answer initialize
