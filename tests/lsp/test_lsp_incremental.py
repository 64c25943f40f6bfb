"""The server re-parses incrementally (gradlint/incremental.py) and merges edits that come while a lint
runs (lsp_notebook.schedule_lint): after any sequence of edits — incremental ranges or whole texts, ones
that break the syntax and ones that mend it — it publishes what a fresh open of the final text publishes."""

from __future__ import annotations

import ast
import asyncio
import random

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from gradlint import lsp_notebook  # noqa: E402
from gradlint.config import ConfigResolver, Overrides  # noqa: E402
from gradlint.linter import lint_source  # noqa: E402
from tests.lsp.helpers import (  # noqa: E402
    SERVER_COMMAND, close_document, initialize, make_workspace, open_document, wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = '''"""Training."""
import torch
import torch.nn as nn

model = nn.Linear(3, 1)
lr = 0.1


def step(m):
    for p in m.parameters():
        if p.grad is not None:
            p -= lr * p.grad


def train(loader):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for x, y in loader:
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
    step(model)


@torch.no_grad()
def evaluate(loader):
    model.eval()
    return sum(model(x).sum() for x, _ in loader)


w = torch.zeros(3, requires_grad=True)
w += 1
'''


def make_versioned_client():
    """pytest-lsp's test client, also keeping the document version each publication was for."""
    from pygls.protocol import default_converter
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient as Client, register_lsp_features

    def publish(ls, params: types.PublishDiagnosticsParams) -> None:  # (pygls passes the client as `ls`)
        ls.diagnostics[params.uri] = params.diagnostics
        ls.versions[params.uri] = params.version

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    client = Client(converter_factory=default_converter)
    client.versions = {}
    register_lsp_features(client, features)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:  # (as editors, and make_client, do)
        return None

    return client


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory, "lsp_incremental")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=SERVER_COMMAND,
        client_factory=make_versioned_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace):
    await initialize(lsp_client, workspace, {"debounce": 0})
    yield
    await lsp_client.shutdown_session()


def _key(diags):
    return sorted((d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
                   str(d.code), d.message) for d in diags)


def _position(text: str, offset: int) -> types.Position:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return types.Position(line=line, character=offset - start)  # (ASCII text: UTF-16 units = characters)


def _range_change(text: str, start: int, end: int, new: str):
    change = types.TextDocumentContentChangePartial(
        range=types.Range(start=_position(text, start), end=_position(text, end)), text=new)
    return text[:start] + new + text[end:], change


def _edits(seed: int, count: int):
    """Edits as typing makes them: characters typed, lines added in a function (a finding), a statement
    broken and mended by the next edit, lines deleted, the whole text replaced. Every text but the broken
    one parses."""
    rng = random.Random(seed)
    text = TEXT
    made = 0
    while made < count:
        kind = rng.randrange(5)
        if kind == 0:  # type a comment at the end of a line
            lines = text.split("\n")
            k = rng.randrange(len(lines) - 1)
            at = sum(len(x) + 1 for x in lines[:k]) + len(lines[k])
            new, change = _range_change(text, at, at, "  # note" if lines[k].strip() else "")
        elif kind == 1:  # a new in-place update inside train() (one more finding; those below it move)
            at = text.index("    step(model)\n")
            new, change = _range_change(text, at, at, "    for p in model.parameters():\n        p.add_(1)\n")
        elif kind == 2:  # a syntax error (a dangling bracket) ...
            at = text.index("model.eval()")
            broken, change = _range_change(text, at, at, "(")
            yield broken, change, False
            made += 1
            new, change = _range_change(broken, at, at + 1, "")  # ... mended by the next edit
        elif kind == 3:  # delete a line
            lines = text.split("\n")
            k = rng.randrange(1, len(lines) - 1)
            start = sum(len(x) + 1 for x in lines[:k])
            new, change = _range_change(text, start, start + len(lines[k]) + 1, "")
        else:  # the whole text at once (an editor's format-on-save)
            new = text.replace("lr = 0.1", "lr = 0.01") if "lr = 0.1\n" in text else text.replace("lr = 0.01", "lr = 0.1")
            change = types.TextDocumentContentChangeWholeDocument(text=new)
        try:
            ast.parse(new)
        except SyntaxError:
            continue  # (not this edit)
        text = new
        made += 1
        yield text, change, True


def _fresh(text: str, path) -> list:
    """What a fresh lint of the text reports, as the server publishes it (ASCII text: columns are
    UTF-16 units)."""
    settings = ConfigResolver(None, Overrides()).settings_for(path)
    return sorted((d.location.row - 1, d.location.column - 1, d.end_location.row - 1, d.end_location.column - 1,
                   d.code, d.message) for d in lint_source(text, str(path), settings).diagnostics)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_edit_sequences_publish_what_a_fresh_open_publishes(client: LanguageClient, workspace, seed):
    path = workspace / f"seq_{seed}.py"
    uri = open_document(client, path, TEXT)
    await wait_for_diagnostics(client, uri)
    version = 1
    checked = 0
    for text, change, parses in _edits(seed, 12):
        version += 1
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]))
        if seed != 3:  # seed 3 sends its edits at once: merged, only the last version is awaited
            got = await wait_for_diagnostics(client, uri, lambda d, v=version: client.versions.get(uri) == v)
            if parses:
                assert _key(got) == _fresh(text, path), f"edit {version - 1}"
                checked += 1
    assert seed == 3 or checked >= 8
    final = text
    await wait_for_diagnostics(client, uri, lambda d: client.versions.get(uri) == version)
    got = _key(client.diagnostics[uri])
    close_document(client, uri)
    fresh_uri = open_document(client, workspace / f"fresh_{seed}.py", final)
    expected = _key(await wait_for_diagnostics(client, fresh_uri))
    close_document(client, fresh_uri)
    assert got == expected


async def test_schedule_lint_runs_one_lint_at_a_time_and_ends_with_the_last():
    """Edits arriving while a lint runs do not start lints beside it: at most one runs, and after the
    burst one more runs (for the latest text), not one per edit."""
    running = 0
    most = 0
    seen: list[int] = []
    state = {"version": 0}

    async def lint(uri: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        seen.append(state["version"])
        await asyncio.sleep(0.05)  # a lint in its thread: cannot be stopped
        running -= 1

    pending: dict = {}
    lsp_notebook.schedule_lint(pending, "u", 0, lint)
    await asyncio.sleep(0.01)  # the first lint is running
    for v in range(1, 6):
        state["version"] = v
        lsp_notebook.schedule_lint(pending, "u", 0, lint)
        await asyncio.sleep(0.001)
    while pending:
        await asyncio.wait(list(pending.values()))
    assert most == 1
    assert seen == [0, 5]
