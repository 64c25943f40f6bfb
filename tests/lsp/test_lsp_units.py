"""The language server's pure parts: positions, noqa edits, fixes, client options, the CLI entry."""

from __future__ import annotations

import os

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradlint import lsp
from gradlint.cli import main
from gradlint.config import ConfigError, parse_table
from gradlint.diagnostic import Applicability, Diagnostic, Edit, Fix, Location
from gradlint.fix import apply_edits
from gradlint.linter import lint_source
from gradlint.rules import ALL_RULES
from gradlint.settings import Settings

# ----------------------------------------------------------------------------- positions

LINE = 's = "😋é"; w += 1'  # 😋: 1 code point, 2 UTF-16 units, 4 UTF-8 bytes; é: 1, 1, 2


@pytest.mark.parametrize(("encoding", "expected"), [("utf-32", 10), ("utf-16", 11), ("utf-8", 14)])
def test_code_point_columns_become_client_units(encoding, expected):
    assert lsp.to_client_character(LINE, 10, encoding) == expected
    assert lsp.from_client_character(LINE, expected, encoding) == 10
    assert lsp.from_client_character(LINE, 10_000, encoding) == len(LINE)


def test_positions_round_trip_and_clamp():
    lines = lsp.split_lines("a\r\nb😋c\rd\n")
    assert lines == ["a", "b😋c", "d", ""]
    assert lsp.client_position(lines, Location(2, 3), "utf-16") == (1, 3)
    assert lsp.server_location(lines, 1, 3, "utf-16") == Location(2, 3)
    assert lsp.client_position(lines, Location(9, 1), "utf-16") == (3, 0)  # past the end: end of document


def test_form_feed_is_not_a_line_break():
    assert lsp.split_lines("a\x0cb\nc") == ["a\x0cb", "c"]


# ----------------------------------------------------------------------------- noqa edits


def _apply(source, edit):
    start, end, content = edit
    lines = source.split("\n")
    line = lines[start.row - 1]
    lines[start.row - 1] = line[: start.column - 1] + content + line[end.column - 1:]
    return "\n".join(lines)


@pytest.mark.parametrize(("line", "code", "fixed"), [
    ("w += 1", "GL001", "w += 1  # noqa: GL001"),
    ("w += 1   ", "GL001", "w += 1  # noqa: GL001"),
    ("w += 1  # noqa: GL003", "GL001", "w += 1  # noqa: GL003, GL001"),
    ("w += 1  #noqa:GL003,GL002 why", "GL001", "w += 1  #noqa:GL003,GL002, GL001 why"),
    ("w += 1  # NOQA : E501", "GL001", "w += 1  # NOQA : E501, GL001"),
    ("w += 1  # noqa:", "GL001", "w += 1  # noqa: GL001"),
    ("w += 1  # noqa: ", "GL001", "w += 1  # noqa: GL001"),
    ("w += 1  # type: ignore", "GL001", "w += 1  # type: ignore  # noqa: GL001"),
    ("w += 1  # type: ignore  # noqa: GL003", "GL001", "w += 1  # type: ignore  # noqa: GL003, GL001"),
    ('s = "# noqa: GL003"; w += 1', "GL001", 's = "# noqa: GL003"; w += 1  # noqa: GL001'),
    ("s = 'é😋'; w += 1", "GL001", "s = 'é😋'; w += 1  # noqa: GL001"),
])
def test_noqa_edit(line, code, fixed):
    source = f"import torch\n{line}\n"
    edit = lsp.noqa_edit(source, 2, code)
    assert edit is not None
    assert _apply(source, edit).splitlines()[1] == fixed


@pytest.mark.parametrize("line", ["w += 1  # noqa", "w += 1  # noqa: GL001", "w += 1  # noqa because",
                                  "w += 1 # noqa:gl001"])
def test_noqa_edit_none_when_already_suppressed(line):
    assert lsp.noqa_edit(f"import torch\n{line}\n", 2, "GL001") is None


def test_noqa_edit_keeps_crlf_and_unparsable_text():
    source = "import torch\r\nw += 1  # noqa: GL003\r\n"
    start, end, content = lsp.noqa_edit(source, 2, "GL001")
    assert (start, end, content) == (Location(2, 22), Location(2, 22), ", GL001")
    broken = "def f(:\n    w += 1  # noqa: GL003\n"
    assert lsp.noqa_edit(broken, 2, "GL001")[2] == ", GL001"


# ----------------------------------------------------------------------------- fixes


def _diag(row, col, end_col, edits, applicability=Applicability.SAFE, code="GL001"):
    return Diagnostic(code=code, name="inplace-on-leaf", message="m", filename="t.py",
                      location=Location(row, col), end_location=Location(row, end_col),
                      fix=Fix(applicability, "fix it", tuple(edits)))


def test_applicable_respects_safety():
    safe = _diag(1, 1, 2, [Edit("x", Location(1, 1), Location(1, 2))])
    unsafe = _diag(1, 1, 2, [Edit("x", Location(1, 1), Location(1, 2))], Applicability.UNSAFE)
    display = _diag(1, 1, 2, [Edit("x", Location(1, 1), Location(1, 2))], Applicability.DISPLAY_ONLY)
    assert lsp.applicable(safe, False) and not lsp.applicable(unsafe, False) and lsp.applicable(unsafe, True)
    assert not lsp.applicable(display, True)


def test_fix_all_uses_only_safe_fixes_by_default():
    # constructed fixes (the second pass re-lints the result: no finding is left in it)
    source = "import torch\nw += 1\nv += 1\n"
    d1 = _diag(2, 1, 7, [Edit("with torch.no_grad():\n    w += 1", Location(2, 1), Location(2, 7))])
    d2 = _diag(3, 1, 7, [Edit("v.add(1)", Location(3, 1), Location(3, 7))], Applicability.UNSAFE)
    settings = Settings(selected=frozenset({"GL001"}))
    assert lsp.fix_all(source, [d1, d2], "t.py", settings, unsafe=False) == (
        "import torch\nwith torch.no_grad():\n    w += 1\nv += 1\n")
    assert lsp.fix_all(source, [d1, d2], "t.py", settings, unsafe=True).endswith("v.add(1)\n")


def test_fix_all_with_the_rules_own_fixes():
    source = ("import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n"
              "    p -= 0.1 * p.grad\n")
    settings = Settings(selected=frozenset({"GL001"}))
    diags = lint_source(source, "train.py", settings).diagnostics
    assert [d.code for d in diags] == ["GL001"] and lsp.applicable(diags[0], unsafe=False)
    fixed = lsp.fix_all(source, diags, "train.py", settings, unsafe=False)
    assert "with torch.no_grad():\n    for p in model.parameters():" in fixed
    assert lint_source(fixed, "train.py", settings).diagnostics == []


@pytest.mark.parametrize(("old", "new"), [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc\n", "a\nb\nc\nd\n"),
    ("a\nb\nc", "x\na\nb\nc"),
    ("a\r\nb\r\n", "a\r\nwith x:\r\n    b\r\n"),
    ("", "a\n"),
    ("a\nb", "a\nc"),
])
def test_minimal_change_turns_old_into_new(old, new):
    start, end, content = lsp.minimal_change(old, new)
    fixed, _ = apply_edits(old, [Fix(Applicability.SAFE, "m", (Edit(content, start, end),))])
    assert fixed == new


# ----------------------------------------------------------------------------- options


def test_client_options_accept_camel_and_kebab_case_and_a_gradlint_section():
    opts, problems = lsp.ClientOptions.from_json({"gradlint": {
        "select": "GL001, GL003", "extend-select": ["GL005"], "ignore": ["GL003"], "unsafeFixes": True,
        "debounce": 0, "severity": {"GL00": "hint", "GL001": "error"}, "config": None,
        "settings": {"extend-model-names": ["policy"]}}})
    assert problems == []
    assert opts.select == ["GL001", "GL003"] and opts.extend_select == ["GL005"] and opts.ignore == ["GL003"]
    assert opts.unsafe_fixes and opts.debounce_ms == 0
    assert opts.severity_for("GL001") == "error" and opts.severity_for("GL004") == "hint"
    assert opts.severity_for("GL104") == "warning"
    resolver = opts.make_resolver()
    settings = resolver.settings_for(Path("/nonexistent/x.py"))
    assert settings.selected == frozenset({"GL001", "GL005"})
    assert "policy" in settings.options.extend_model_names


def test_client_option_problems_are_reported_not_fatal():
    opts, problems = lsp.ClientOptions.from_json({"select": 3, "debounce": "soon", "severity": "loud", "x": 1})
    assert len(problems) == 4 and all(p.startswith("initializationOptions.") for p in problems)
    assert opts == lsp.ClientOptions()
    assert lsp.ClientOptions.from_json(None) == (lsp.ClientOptions(), [])
    assert lsp.ClientOptions.from_json([1])[1]


def test_bad_settings_raise_a_config_error_naming_the_client_option():
    opts, _ = lsp.ClientOptions.from_json({"settings": {"selectt": ["GL001"]}})
    with pytest.raises(ConfigError, match="initializationOptions.settings.*selectt"):
        opts.make_resolver()
    opts, _ = lsp.ClientOptions.from_json({"select": ["GL999"]})
    with pytest.raises(ConfigError, match="initializationOptions.select"):
        opts.make_resolver()


def test_toml_values_round_trip_through_the_config_parser():
    table = {"per-file-ignores": {"tests/*.py": ["GL004"]}, "respect-gitignore": False,
             "extend-eval-function-patterns": ["score_\\w+", 'q"uote']}
    opts, _ = lsp.ClientOptions.from_json({"settings": table})
    resolver = opts.make_resolver()
    assert resolver._inline == table


def test_excluded_only_below_the_configurations_folder(tmp_path):
    cfg = parse_table({"extend-exclude": ["gen"]}, tmp_path / "pyproject.toml")
    assert lsp._excluded(cfg, tmp_path / "gen" / "m.py")
    assert lsp._excluded(cfg, tmp_path / "a" / ".venv" / "m.py")  # a default exclude
    assert not lsp._excluded(cfg, tmp_path / "src" / "m.py")
    assert not lsp._excluded(cfg, Path("/elsewhere/gen/m.py"))


# ----------------------------------------------------------------------------- docs and hover


def test_every_rule_has_a_docs_url_and_a_hover_explanation():
    for rule in ALL_RULES:
        url = lsp.rule_docs_url(rule.code, rule.name, rule.url())
        if rule.url():
            assert url == rule.url()
        else:
            from urllib.parse import urlparse
            from urllib.request import url2pathname

            path = url2pathname(urlparse(url).path)
            assert url.startswith("file://") and os.path.isfile(path), url
            assert f"{rule.code} {rule.name}".lower() in open(path, encoding="utf-8").read().lower()
        d = Diagnostic(code=rule.code, name=rule.name, message="the message", filename="t.py",
                       location=Location(1, 1), end_location=Location(1, 2))
        text = lsp.hover_markdown(d)
        assert text.startswith(f"**{rule.code}** `{rule.name}`") and "the message" in text
        assert "## What it does" in text and url in text


# ----------------------------------------------------------------------------- the command


def test_lsp_without_the_extra_exits_2_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)  # import pygls.lsp.server -> ImportError
    res = CliRunner().invoke(main, ["lsp"])
    assert res.exit_code == 2
    assert "install torch-gradlint[lsp]" in res.stderr
    assert res.stdout == ""


def test_lsp_is_listed_and_gradlint_help_does_not_import_pygls():
    import subprocess

    code = ("import sys; from click.testing import CliRunner; from gradlint.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert ' lsp ' in r.output, r.output; "
            "assert 'pygls' not in sys.modules and 'lsprotocol' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_relative_config_path_is_relative_to_the_workspace(tmp_path):
    (tmp_path / "lint.toml").write_text('select = ["GL003"]\n', encoding="utf-8")
    opts, _ = lsp.ClientOptions.from_json({"config": "lint.toml"})
    resolver = opts.make_resolver(str(tmp_path))
    assert resolver.settings_for(tmp_path / "x.py").selected == frozenset({"GL003"})
