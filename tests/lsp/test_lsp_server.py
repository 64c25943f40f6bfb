"""End to end: a real LSP client process (pytest-lsp) drives `gradlint lsp` over stdio."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("pygls.lsp.server")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.lsp.helpers import (  # noqa: E402
    make_client, make_workspace, initialize, SERVER_COMMAND,
    BAD, CLEAN, TIMEOUT, apply_workspace_edit, close_document, code_actions, open_document, replace_text,
    wait_for_diagnostics,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory, "lsp_workspace")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=SERVER_COMMAND,
        client_factory=make_client,
    ),
)
async def client(lsp_client: LanguageClient, workspace):
    result = await initialize(lsp_client, workspace, {"debounce": 50})
    assert result.server_info.name == "gradlint"
    yield
    await lsp_client.shutdown_session()


def only(codes):
    return lambda diags: sorted(str(d.code) for d in diags) == sorted(codes)


async def test_open_publishes_exact_diagnostics(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "open.py", BAD)
    (diag,) = await wait_for_diagnostics(client, uri)
    assert diag.code == "GL001"
    assert diag.source == "gradlint"
    assert diag.severity == types.DiagnosticSeverity.Error  # GL001 is a bug: an Error by default
    assert diag.range == types.Range(start=types.Position(line=2, character=0), end=types.Position(line=2, character=6))
    assert diag.code_description.href.startswith("file://")
    assert diag.code_description.href.endswith("/docs-site/GL001.html")  # the rule page bundled with the package
    assert "a leaf Variable that requires grad is being used in an in-place operation" in diag.message
    close_document(client, uri)


async def test_ranges_are_utf16_on_non_ascii_lines(client: LanguageClient, workspace):
    # "😋" is one code point but two UTF-16 code units; "é" is one of each.
    text = 'import torch\nw = torch.randn(3, requires_grad=True)\ns = "😋é"; w += 1\n'
    uri = open_document(client, workspace / "unicode.py", text)
    (diag,) = await wait_for_diagnostics(client, uri)
    assert (diag.range.start.line, diag.range.start.character) == (2, 11)
    assert (diag.range.end.line, diag.range.end.character) == (2, 17)
    close_document(client, uri)


async def test_change_is_linted_and_save_republishes(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "change.py", CLEAN)
    assert await wait_for_diagnostics(client, uri) == []
    replace_text(client, uri, BAD, version=2)
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    # several quick edits (debounced): the last text wins
    for version in range(3, 8):
        replace_text(client, uri, BAD if version % 2 else CLEAN, version=version)
    replace_text(client, uri, CLEAN, version=8)
    await wait_for_diagnostics(client, uri, only([]))
    client.diagnostics.pop(uri)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert await wait_for_diagnostics(client, uri) == []
    close_document(client, uri)


@pytest.mark.parametrize(("line", "fixed"), [
    ("w += 1", "w += 1  # noqa: GL001"),
    ("w += 1  # noqa: GL003", "w += 1  # noqa: GL003, GL001"),
    ("w += 1  # type: ignore   ", "w += 1  # type: ignore  # noqa: GL001"),
])
async def test_disable_for_this_line_adds_or_extends_noqa(client: LanguageClient, workspace, line, fixed):
    text = BAD.replace("w += 1", line)
    uri = open_document(client, workspace / f"noqa_{len(line)}.py", text)
    (diag,) = await wait_for_diagnostics(client, uri, only(["GL001"]))
    actions = await code_actions(client, uri, diag.range, [diag])
    (action,) = [a for a in actions if a.title == "Disable GL001 for this line"]
    assert action.kind == types.CodeActionKind.QuickFix
    new_text = apply_workspace_edit(text, uri, action.edit)
    assert new_text.splitlines()[2] == fixed
    replace_text(client, uri, new_text, version=2)
    await wait_for_diagnostics(client, uri, only([]))
    close_document(client, uri)


async def test_no_fix_all_without_fixable_findings(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "nofix.py", CLEAN)
    await wait_for_diagnostics(client, uri)
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=4, character=0))
    assert await code_actions(client, uri, whole, only=[types.CodeActionKind.SourceFixAll]) == []
    close_document(client, uri)


async def test_hover_shows_the_rules_explanation(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "hover.py", BAD)
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    hover = await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=3))), TIMEOUT)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "GL001" in hover.contents.value and "inplace-on-leaf" in hover.contents.value
    assert "## What it does" in hover.contents.value and "## Use instead" in hover.contents.value
    assert hover.range.start == types.Position(line=2, character=0)
    nothing = await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=2))), TIMEOUT)
    assert nothing is None
    close_document(client, uri)


async def test_config_is_reloaded_when_pyproject_changes(client: LanguageClient, workspace):
    proj = workspace / "proj"
    proj.mkdir()
    pyproject = proj / "pyproject.toml"
    pyproject.write_text("[tool.gradlint]\n", encoding="utf-8")
    uri = open_document(client, proj / "train.py", BAD)
    await wait_for_diagnostics(client, uri, only(["GL001"]))

    pyproject.write_text('[tool.gradlint]\nignore = ["GL001"]\n', encoding="utf-8")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]))
    await wait_for_diagnostics(client, uri, only([]))

    # clients that do not watch files: the configuration is re-read on save
    pyproject.write_text("[tool.gradlint]\n", encoding="utf-8")
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    close_document(client, uri)


async def test_excluded_files_get_no_diagnostics(client: LanguageClient, workspace):
    proj = workspace / "excl"
    (proj / "gen").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[tool.gradlint]\nextend-exclude = ["gen"]\n', encoding="utf-8")
    uri = open_document(client, proj / "gen" / "model.py", BAD)
    assert await wait_for_diagnostics(client, uri) == []
    kept = open_document(client, proj / "model.py", BAD)
    await wait_for_diagnostics(client, kept, only(["GL001"]))
    close_document(client, uri)
    close_document(client, kept)


async def test_severity_follows_the_tier_and_links_the_rule_page(client: LanguageClient, workspace):
    text = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\ny = w.data * 2\n"
    uri = open_document(client, workspace / "tiers.py", text)
    diags = await wait_for_diagnostics(client, uri, only(["GL001", "GL003"]))
    by_code = {str(d.code): d for d in diags}
    assert by_code["GL001"].severity == types.DiagnosticSeverity.Error  # bug
    assert by_code["GL003"].severity == types.DiagnosticSeverity.Warning  # hygiene
    href = by_code["GL003"].code_description.href
    assert href.startswith("file://") and href.endswith("/GL003.html")


async def test_a_bad_configuration_is_reported_in_the_document(client: LanguageClient, workspace):
    proj = workspace / "broken"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[tool.gradlint]\nselect = ["GL999"]\n', encoding="utf-8")
    uri = open_document(client, proj / "x.py", BAD)
    (diag,) = await wait_for_diagnostics(client, uri)
    assert diag.severity == types.DiagnosticSeverity.Error
    assert "configuration error" in diag.message and "GL999" in diag.message
    assert any("GL999" in m.message for m in client.messages)
    close_document(client, uri)


async def test_close_clears_diagnostics(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "close.py", BAD)
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    close_document(client, uri)
    await wait_for_diagnostics(client, uri, only([]))


async def test_configuration_files_are_watched(client: LanguageClient):
    (reg,) = [r for r in client.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    patterns = {w["globPattern"] for w in reg.register_options["watchers"]}
    assert patterns == {"**/pyproject.toml", "**/gradlint.toml", "**/.gradlint.toml"}


LOOP = (
    "import torch\n"
    "model = torch.nn.Linear(2, 2)\n"
    "for p in model.parameters():\n"
    "    p -= 0.1 * p.grad\n"
)


async def test_the_rules_own_quick_fix_clears_the_finding(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "real_fix.py", LOOP)
    (diag,) = await wait_for_diagnostics(client, uri, only(["GL001"]))
    assert diag.data["fixable"] is True
    actions = await code_actions(client, uri, diag.range, [diag])
    titles = [a.title for a in actions]
    assert "Disable GL001 for this line" in titles
    (fix,) = [a for a in actions if a.is_preferred]
    assert fix.title == "Wrap the update loop in `with torch.no_grad():` (GL001)"
    fixed = apply_workspace_edit(LOOP, uri, fix.edit)
    assert fixed.endswith("with torch.no_grad():\n    for p in model.parameters():\n        p -= 0.1 * p.grad\n")
    replace_text(client, uri, fixed, version=2)
    await wait_for_diagnostics(client, uri, only([]))
    close_document(client, uri)


async def test_fix_all_source_action_with_the_rules_own_fixes(client: LanguageClient, workspace):
    text = LOOP + "w = torch.randn(3, requires_grad=True)\nw += 1\n"
    uri = open_document(client, workspace / "real_fix_all.py", text)
    await wait_for_diagnostics(client, uri, only(["GL001", "GL001"]))
    start = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    (action,) = await code_actions(client, uri, start, only=[types.CodeActionKind.SourceFixAll])
    assert (action.title, action.kind) == ("Fix all gradlint problems", "source.fixAll.gradlint")
    fixed = apply_workspace_edit(text, uri, action.edit)
    replace_text(client, uri, fixed, version=2)
    await wait_for_diagnostics(client, uri, only([]))
    close_document(client, uri)


async def test_incremental_changes_on_a_non_ascii_line(client: LanguageClient, workspace):
    text = 'import torch\nw = torch.randn(3, requires_grad=True)\ns = "😋"; w += 1  # noqa: GL001\n'
    uri = open_document(client, workspace / "incremental.py", text)
    assert await wait_for_diagnostics(client, uri) == []
    # delete "  # noqa: GL001": UTF-16 columns 16..31 of line 2 ("😋" counts 2)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=2, character=16), end=types.Position(line=2, character=31)),
            text="")]))
    (diag,) = await wait_for_diagnostics(client, uri, only(["GL001"]))
    assert (diag.range.start.character, diag.range.end.character) == (10, 16)
    close_document(client, uri)


async def test_did_change_configuration_applies_new_options(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "reconfigure.py", BAD)
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"gradlint": {"debounce": 50, "ignore": ["GL001"]}}))
    await wait_for_diagnostics(client, uri, only([]))
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"gradlint": {"debounce": 50}}))
    await wait_for_diagnostics(client, uri, only(["GL001"]))
    close_document(client, uri)
