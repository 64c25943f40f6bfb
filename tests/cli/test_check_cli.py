"""`gradlint check` end to end: exit codes, output formats, selection, noqa, configuration, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

import gradlint.rules
from gradlint.rules import Finding, Rule

from .conftest import BAD, BAD_TWO, CLEAN, IS_ROOT, write

# ruff's JSON output: these keys (`cell` null for .py files), plus `name`, `severity` and `tier`.
RUFF_KEYS = {"cell", "code", "name", "severity", "tier", "message", "filename", "location", "end_location", "fix",
             "noqa_row", "url"}
ROOT = Path(__file__).resolve().parents[2]


def codes_of(res) -> list[tuple[str, int, str]]:
    return sorted((Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(res.stdout))


# ------------------------------------------------------------------ exit codes


def test_exit_codes(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD)
    clean = write(tmp_path, "clean.py", CLEAN)
    assert gl("check", str(clean)).exit_code == 0
    assert gl("check", str(bad)).exit_code == 1
    assert gl("check", "--exit-zero", str(bad)).exit_code == 0
    assert gl("check", str(bad), str(tmp_path / "missing.py")).exit_code == 2  # errors beat findings
    assert gl("check", "--exit-zero", str(tmp_path / "missing.py")).exit_code == 2
    assert gl("check", "--select", "GL999", str(clean)).exit_code == 2
    assert gl("check", "--no-such-option", str(clean)).exit_code == 2
    assert gl("check", "--output-format", "xml", str(clean)).exit_code == 2


def test_default_path_is_the_current_folder(gl, tmp_path):
    write(tmp_path, "pkg/bad.py", BAD)
    res = gl("check", "--output-format", "concise", cwd=tmp_path)
    assert res.exit_code == 1 and res.stdout.startswith("pkg/bad.py:3:1: GL001 ")


def test_summary_lines_go_to_stderr(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = gl("check", str(bad))
    assert res.err_lines == ["Found 2 errors: 1 bug, 1 hygiene.", "[*] 1 fixable with the `--fix` option (1 hidden fix can be "
                             "enabled with the `--unsafe-fixes` option)."]  # issue 5 hint
    assert "Found" not in res.stdout
    clean = gl("check", str(write(tmp_path, "clean.py", CLEAN)))
    assert clean.stdout == "" and clean.err_lines == ["All checks passed!"]
    (tmp_path / "empty").mkdir()
    empty = gl("check", str(tmp_path / "empty"))
    assert empty.exit_code == 0 and "no Python files found" in empty.stderr
    quiet = gl("check", "-q", str(bad))
    assert quiet.stderr == "" and quiet.exit_code == 1 and "GL001" in quiet.stdout


# ------------------------------------------------------------------ formats


def test_concise_format(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = gl("check", "--output-format", "concise", str(bad))
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:3:1: GL001 ")
    assert lines[1].startswith(f"{bad}:5:5: GL003 ")


def test_full_format_shows_context_and_carets(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = gl("check", str(bad))
    out = res.stdout.split("\n\n")
    first = out[0].splitlines()
    assert first[0].startswith(f"{bad}:3:1: GL001 ")
    assert first[1:] == [
        "  |",
        "1 | import torch",
        "2 | w = torch.randn(3, requires_grad=True)",
        "3 | w += 1",
        "  | ^^^^^^ GL001",
        "4 | for p in model.parameters():",
        "5 |     p.data.add_(p.grad, alpha=-0.1)",
        "  |",
        "  = help: Wrap the update in `with torch.no_grad():`",
    ]
    second = out[1].splitlines()
    assert "5 |     p.data.add_(p.grad, alpha=-0.1)" in second
    caret = second[second.index("5 |     p.data.add_(p.grad, alpha=-0.1)") + 1]
    assert caret.index("^") == len("5 |     ")  # under column 5
    assert "\x1b[" not in res.stdout  # no colour when stdout is not a terminal


def test_full_format_tabs_wide_characters_and_crlf(gl, tmp_path):
    src = "import torch\r\nw = torch.randn(3, requires_grad=True)\r\nif True:\r\n\tw += 1  # 重み\r\n"
    bad = write(tmp_path, "tabs.py", src)
    res = gl("check", "--output-format", "full", str(bad))
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:4:2: GL001 ")
    row = next(i for i, ln in enumerate(lines) if ln.startswith("4 |"))
    assert lines[row] == "4 |     w += 1  # 重み"
    assert lines[row + 1] == "  |     ^^^^^^ GL001"
    assert "\r" not in res.stdout


@pytest.mark.parametrize("env, flag, coloured", [
    ({"FORCE_COLOR": "1"}, None, True),
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, None, False),
    ({}, "--color", True),
    ({"FORCE_COLOR": "1"}, "--no-color", False),
])
def test_colour(gl, tmp_path, env, flag, coloured):
    bad = write(tmp_path, "bad.py", BAD)
    args = ["check"] + ([flag] if flag else []) + [str(bad)]
    res = gl(*args, env={"NO_COLOR": "", "FORCE_COLOR": "", **env})
    assert ("\x1b[" in res.stdout) is coloured
    js = gl("check", "--output-format", "json", *([flag] if flag else []), str(bad), env={"NO_COLOR": "", "FORCE_COLOR": "", **env})
    assert "\x1b[" not in js.stdout


def test_json_is_ruffs_schema(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = gl("check", "--output-format", "json", str(bad))
    assert res.exit_code == 1 and res.stderr == ""
    data = json.loads(res.stdout)
    assert [d["code"] for d in data] == ["GL001", "GL003"]
    for d in data:
        assert set(d) == RUFF_KEYS
        assert isinstance(d["code"], str) and isinstance(d["message"], str) and d["message"]
        assert d["filename"] == str(bad.resolve()) and os.path.isabs(d["filename"])
        for key in ("location", "end_location"):
            assert set(d[key]) == {"row", "column"}
            assert all(isinstance(v, int) and v >= 1 for v in d[key].values())
        assert d["fix"] is None or set(d["fix"]) == {"applicability", "message", "edits"}
        assert d["noqa_row"] == d["location"]["row"]
        assert d["url"].startswith(("http", "file://")) and d["url"].endswith(f"/{d['code']}.html")
        assert d["cell"] is None and d["severity"] in ("error", "warning") and d["tier"] in ("bug", "hygiene")
    assert data[0]["location"] == {"row": 3, "column": 1} and data[0]["end_location"] == {"row": 3, "column": 7}


def test_json_stays_pure_with_errors_and_relative_paths(gl, tmp_path):
    write(tmp_path, "bad.py", BAD)
    write(tmp_path, "broken.py", "def f(:\n  import torch\n")
    res = gl("check", "--output-format", "json", ".", "missing.py", cwd=tmp_path)
    assert res.exit_code == 2
    data = json.loads(res.stdout)  # stdout is exactly one JSON document
    assert [Path(d["filename"]) for d in data] == [tmp_path.resolve() / "bad.py"]
    assert "Found" not in res.stderr and "All checks" not in res.stderr
    assert len(res.err_lines) == 2
    clean = gl("check", "--output-format", "json", str(write(tmp_path, "c.py", CLEAN)))
    assert json.loads(clean.stdout) == [] and clean.exit_code == 0


def test_output_format_from_environment(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD)
    res = gl("check", str(bad), env={"GRADLINT_OUTPUT_FORMAT": "json"})
    assert json.loads(res.stdout)[0]["code"] == "GL001"


# ------------------------------------------------------------------ selection


@pytest.mark.parametrize(
    "args, codes",
    [
        ((), ["GL001", "GL003"]),
        (("--select", "GL001"), ["GL001"]),
        (("--select", "GL003,GL001"), ["GL001", "GL003"]),
        (("--select", "GL003", "--select", "GL001"), ["GL001", "GL003"]),
        (("--select", "gl001"), ["GL001"]),
        (("--ignore", "GL001"), ["GL003"]),
        (("--select", "ALL", "--ignore", "GL003"), ["GL001"]),
        (("--select", "GL00"), ["GL001", "GL003"]),
        (("--select", "GL"), ["GL001", "GL003"]),
        (("--ignore", "GL0"), []),
        (("--ignore", "GL00", "--extend-select", "GL003"), ["GL003"]),  # more specific wins
        (("--select", "GL002", "--extend-select", "GL003"), ["GL003"]),
        (("--select", "GL001", "--ignore", "GL001"), []),  # same specificity: ignore wins
    ],
)
def test_selection(gl, tmp_path, args, codes):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = gl("check", "--output-format", "json", *args, str(bad))
    assert sorted(d["code"] for d in json.loads(res.stdout)) == codes
    assert res.exit_code == (1 if codes else 0)


def test_unknown_selector_is_a_usage_error(gl, tmp_path):
    res = gl("check", "--extend-select", "GL00,XYZ1", str(write(tmp_path, "a.py", CLEAN)))
    assert res.exit_code == 2
    assert len(res.err_lines) == 1
    assert res.err_lines[0].startswith("gradlint: --extend-select: unknown rule code or prefix 'XYZ1' (known: GL001,")


def test_cli_select_overrides_config_ignore(gl, tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL001"]\n')
    write(tmp_path, "bad.py", BAD_TWO)
    assert codes_of(gl("check", "--output-format", "json", ".", cwd=tmp_path)) == [("bad.py", 5, "GL003")]
    assert codes_of(gl("check", "--output-format", "json", "--select", "GL001", ".", cwd=tmp_path)) == [("bad.py", 3, "GL001")]


# ------------------------------------------------------------------ noqa


@pytest.mark.parametrize(
    "suffix, expected",
    [
        ("  # noqa", 0),
        ("  # noqa: GL001", 0),
        ("  # noqa:GL001", 0),
        ("  # NOQA:GL001,GL003", 0),
        ("  # NOQA : GL001 GL002", 0),
        ("  # noqa: GL001 -- on purpose", 0),
        ("  # type: ignore  # noqa: GL001", 0),
        ("  # noqa because", 0),
        ("  # noqa: GL003", 1),
        ("  # noqa: E501", 1),  # unknown codes are left alone
        ("  # noqa:", 1),  # malformed: suppresses nothing
        ("  #noqaGL001", 1),
        ("  # noqa; GL001", 1),
        ("", 1),
    ],
)
def test_noqa_on_the_reported_line(gl, tmp_path, suffix, expected):
    bad = write(tmp_path, "bad.py", BAD.replace("w += 1", "w += 1" + suffix))
    res = gl("check", "--output-format", "json", str(bad))
    assert len(json.loads(res.stdout)) == expected
    assert res.exit_code == (1 if expected else 0)


def test_noqa_inside_a_string_does_not_count(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD.replace("w += 1", 'w += 1; s = "# noqa"'))
    assert len(json.loads(gl("check", "--output-format", "json", str(bad)).stdout)) == 1
    bad2 = write(tmp_path, "bad2.py", 'doc = """\n# gradlint: noqa\n"""\n' + BAD)
    assert len(json.loads(gl("check", "--output-format", "json", str(bad2)).stdout)) == 1


def test_noqa_on_another_line_does_not_count(gl, tmp_path):
    bad = write(tmp_path, "bad.py", BAD.replace("w += 1", "# noqa\nw += 1"))
    assert gl("check", str(bad)).exit_code == 1


@pytest.mark.parametrize("header, left", [
    ("# gradlint: noqa\n", []),
    ("#!/usr/bin/env python\n# gradlint: noqa: GL003\n", ["GL001"]),
    ("# gradlint: noqa: GL001, GL003\n", []),
    ("# ruff: noqa\n", ["GL001", "GL003"]),
])
def test_file_level_exemption(gl, tmp_path, header, left):
    bad = write(tmp_path, "bad.py", header + BAD_TWO)
    res = gl("check", "--output-format", "json", str(bad))
    assert sorted(d["code"] for d in json.loads(res.stdout)) == left


# ------------------------------------------------------------------ configuration


def test_config_select_ignore_and_per_file_ignores(gl, tmp_path):
    write(tmp_path, "pyproject.toml", (
        '[tool.gradlint]\nignore = ["GL003"]\n'
        '[tool.gradlint.per-file-ignores]\n"scripts/*" = ["GL001"]\n"__init__.py" = ["GL0"]\n'
    ))
    write(tmp_path, "pkg/a.py", BAD_TWO)
    write(tmp_path, "pkg/__init__.py", BAD_TWO)
    write(tmp_path, "scripts/deep/b.py", BAD_TWO)
    res = gl("check", "--output-format", "json", ".", cwd=tmp_path)
    assert codes_of(res) == [("a.py", 3, "GL001")]


def test_config_rule_options_reach_the_rules(gl, tmp_path):
    code = "import torch\ndef score_holdout(policy, loader):\n    for x in loader:\n        policy(x)\n"
    write(tmp_path, "m.py", code)
    assert codes_of(gl("check", "--output-format", "json", ".", cwd=tmp_path)) == []
    write(tmp_path, "gradlint.toml", '[options]\nextend-eval-function-patterns = ["score_\\\\w+"]\nextend-model-names = ["policy"]\n')
    assert [c for _, _, c in codes_of(gl("check", "--output-format", "json", ".", cwd=tmp_path))] == ["GL004", "GL005"]


@pytest.mark.parametrize(
    "table, needle",
    [
        ('selct = ["GL001"]', "[tool.gradlint] unknown key 'selct' (did you mean 'select'?)"),
        ('select = "GL001"', "[tool.gradlint] select: expected a list of strings"),
        ("ignore = 5", "[tool.gradlint] ignore: expected a list of strings, got an integer"),
        ('select = ["GL9"]', "[tool.gradlint] select: unknown rule code or prefix 'GL9'"),
        ('extend-model-names = ["("]', "extend-model-names: invalid regular expression"),
        ("select = [", "invalid TOML"),
    ],
)
def test_config_errors_exit_2_naming_file_and_key(gl, tmp_path, table, needle):
    write(tmp_path, "pyproject.toml", "[tool.gradlint]\n" + table + "\n")
    write(tmp_path, "a.py", BAD)
    res = gl("check", ".", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert len(res.err_lines) == 1 and res.err_lines[0].startswith("gradlint: ")
    assert needle in res.stderr and "pyproject.toml" in res.stderr
    assert "Traceback" not in res.stderr


def test_config_option(gl, tmp_path):
    cfg = write(tmp_path, "conf/gradlint.toml", 'ignore = ["GL001"]\n')
    bad = write(tmp_path, "a.py", BAD)
    assert gl("check", "--config", str(cfg), str(bad)).exit_code == 0
    assert gl("check", "--config", 'ignore = ["GL001"]', str(bad)).exit_code == 0
    assert gl("check", "--config", str(cfg), "--config", "ignore = []", str(bad)).exit_code == 1
    missing = gl("check", "--config", str(tmp_path / "nope.toml"), str(bad))
    assert missing.exit_code == 2 and "nope.toml: no such file" in missing.stderr
    folder = gl("check", "--config", str(tmp_path / "conf"), str(bad))
    assert folder.exit_code == 2 and "is a directory" in folder.stderr


def test_excludes_and_explicit_files(gl, tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nextend-exclude = ["legacy"]\n')
    legacy = write(tmp_path, "legacy/old.py", BAD)
    write(tmp_path, "new.py", CLEAN)
    assert gl("check", ".", cwd=tmp_path).exit_code == 0
    assert gl("check", str(legacy), cwd=tmp_path).exit_code == 1  # named: always checked
    assert gl("check", "--force-exclude", str(legacy), cwd=tmp_path).exit_code == 0
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nextend-exclude = ["legacy"]\nforce-exclude = true\n')
    assert gl("check", str(legacy), cwd=tmp_path).exit_code == 0
    assert gl("check", "--no-force-exclude", str(legacy), cwd=tmp_path).exit_code == 1


def test_gitignored_files_are_skipped(gl, tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "generated/\n*_tmp.py\n!keep_tmp.py\n")
    for name in ["generated/g.py", "x_tmp.py", "keep_tmp.py", "src/real.py", "env/lib/site.py", "build/b.py"]:
        write(tmp_path, name, BAD)
    write(tmp_path, "env/pyvenv.cfg", "home = /usr\n")
    res = gl("check", "--output-format", "json", ".", cwd=tmp_path)
    assert [n for n, _, _ in codes_of(res)] == ["keep_tmp.py", "real.py"]
    res = gl("check", "--output-format", "json", "--no-respect-gitignore", ".", cwd=tmp_path)
    assert [n for n, _, _ in codes_of(res)] == ["g.py", "keep_tmp.py", "real.py", "x_tmp.py"]


# ------------------------------------------------------------------ bad input


def test_bad_input_one_line_per_file_and_the_run_goes_on(gl, tmp_path):
    write(tmp_path, "syntax.py", "import torch\ndef f(:\n")
    write(tmp_path, "latin1_declared.py", b"# -*- coding: latin-1 -*-\n" + BAD.encode() + b"s = '\xe9'\n")
    write(tmp_path, "latin1_undeclared.py", b"import torch\ns = '\xe9'\n")
    write(tmp_path, "bom.py", b"\xef\xbb\xbf" + BAD.encode())
    write(tmp_path, "crlf.py", BAD.replace("\n", "\r\n"))
    write(tmp_path, "nul.py", b"import torch\x00\n")
    write(tmp_path, "dir.py/inner.py", CLEAN)  # a folder named like a module is searched, not an error
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    write(tmp_path, "zz_bad.py", BAD)
    res = gl("check", "--output-format", "concise", ".", "missing.py", "dir.py", cwd=tmp_path)
    assert res.exit_code == 2
    expected = {
        "syntax.py": "syntax error",
        "latin1_undeclared.py": "cannot decode as utf-8 (byte 0xe9 on line 2)",
        "nul.py": "NUL bytes",
        "broken.py": "broken symbolic link",
        "missing.py": "no such file or directory",
    }
    errors = [ln for ln in res.err_lines if ln.startswith("gradlint: ")]
    assert len(errors) == len(expected), res.stderr
    for name, reason in expected.items():
        assert sum(1 for ln in errors if ln.startswith(f"gradlint: {name}") and reason in ln) == 1, (name, res.stderr)
    assert "Traceback" not in res.stderr
    assert "5 files could not be checked." in res.err_lines
    out = res.stdout.splitlines()
    assert [ln.split(" GL")[0] for ln in out] == [
        "bom.py:3:1:", "crlf.py:3:1:", "latin1_declared.py:4:1:", "zz_bad.py:3:1:",
    ]


def test_bad_input_full_format_with_bom_and_latin1_snippets(gl, tmp_path):
    write(tmp_path, "latin.py", b"# -*- coding: latin-1 -*-\nimport torch  # caf\xe9\nw = torch.randn(3, requires_grad=True)\nw += 1\n")
    res = gl("check", "latin.py", cwd=tmp_path)
    assert "2 | import torch  # café" in res.stdout
    assert "4 | w += 1" in res.stdout


@pytest.mark.skipif(IS_ROOT, reason="root can read files without read permission")
def test_unreadable_file(gl, tmp_path):
    p = write(tmp_path, "secret.py", BAD)
    other = write(tmp_path, "other.py", BAD)
    p.chmod(0)
    try:
        res = gl("check", "--output-format", "concise", str(p), str(other))
    finally:
        p.chmod(0o644)
    assert res.exit_code == 2
    assert f"gradlint: {p}: permission denied" in res.err_lines
    assert res.stdout.startswith(f"{other}:3:1: GL001")


def test_internal_error_in_one_file_is_one_line(gl, tmp_path, monkeypatch):
    import gradlint.linter

    real = gradlint.linter.lint_source

    def flaky(source, filename, settings, **kwargs):
        if filename.endswith("boom.py"):
            raise ValueError("kaboom")
        return real(source, filename, settings, **kwargs)

    monkeypatch.setattr(gradlint.linter, "lint_source", flaky)
    write(tmp_path, "boom.py", BAD)
    write(tmp_path, "fine.py", BAD)
    res = gl("check", "--output-format", "concise", "-j", "1", ".", cwd=tmp_path)
    assert res.exit_code == 2
    assert "gradlint: boom.py: internal error: ValueError: kaboom" in res.err_lines
    assert res.stdout.startswith("fine.py:3:1: GL001")
    assert "Traceback" not in res.stderr


def test_internal_error_outside_files_is_exit_2(gl, tmp_path, monkeypatch):
    import gradlint.discovery

    def explode(paths, resolver):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gradlint.discovery, "discover", explode)
    res = gl("check", str(tmp_path))
    assert res.exit_code == 2
    assert res.err_lines == ["gradlint: internal error: RuntimeError: disk on fire (please report this)"]


# ------------------------------------------------------------------ whatever rules exist


class _EveryModuleRule(Rule):
    code = "GL900"
    name = "test-only"
    summary = "a test-only rule that flags the first statement"
    default_enabled = False
    docs = "## What it does\nTest only."

    def check(self, model, options):
        if model.module.body:
            yield Finding(model.module.body[0], "first statement")


def test_a_new_rule_is_picked_up_by_selection_and_reporters(gl, tmp_path, monkeypatch):
    monkeypatch.setattr(gradlint.rules, "ALL_RULES", gradlint.rules.ALL_RULES + (_EveryModuleRule,))
    bad = write(tmp_path, "a.py", "import torch\nx = 1\n")
    assert gl("check", str(bad)).exit_code == 0  # off by default
    res = gl("check", "--output-format", "json", "--select", "GL9", str(bad))
    assert [(d["code"], d["location"]["row"]) for d in json.loads(res.stdout)] == [("GL900", 1)]
    assert "GL900   test-only" in gl("rules").stdout
    assert cst.parse_module("x = 1").body  # libcst is what the rule receives nodes from


# ------------------------------------------------------------------ rules, explain, verify, version


def test_rules_table_and_json(gl):
    res = gl("rules")
    assert res.exit_code == 0
    header, *rows = res.stdout.splitlines()
    assert header.split()[:5] == ["code", "name", "tier", "default", "fixable"]
    assert rows[0].split()[:5] == ["GL001", "inplace-on-leaf", "bug", "on", "yes"]
    data = json.loads(gl("rules", "--output-format", "json").stdout)
    assert [r["code"] for r in data][:5] == ["GL001", "GL002", "GL003", "GL004", "GL005"]
    assert set(data[0]) >= {"code", "name", "summary", "tier", "default", "fixable"}


def test_explain(gl, monkeypatch):
    res = gl("explain", "GL002", "--no-run")
    assert res.exit_code == 0 and res.stdout.startswith("# GL002 rebind-loses-grad")
    assert "## Why is this bad?" in res.stdout and "## Use instead" in res.stdout
    assert gl("explain", "data-attribute", "--no-run").stdout.startswith("# GL003 data-attribute")
    assert gl("explain", "gl003", "--no-run").exit_code == 0
    unknown = gl("explain", "GL999")
    assert unknown.exit_code == 2 and "GL001 (inplace-on-leaf)" in unknown.stderr and "GL005" in unknown.stderr

    import gradlint.verify

    def broken(code):
        raise RuntimeError("engine missing")

    monkeypatch.setattr(gradlint.verify, "explain_outcomes", broken)
    assert "What the fixtures show" not in gl("explain", "GL001").stdout  # instant by default
    res = gl("explain", "GL001", "--run")
    assert res.exit_code == 0
    assert "## Why is this bad?" in res.stdout
    assert "(the fixtures could not be run: RuntimeError: engine missing)" in res.stdout


def test_explain_runs_the_fixtures(gl):
    res = gl("explain", "GL001", "--run")
    assert res.exit_code == 0
    assert "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation." in res.stdout


def test_cli_works_when_verify_cannot_be_imported(gl, tmp_path, monkeypatch):
    from gradlint.cli import main

    monkeypatch.setitem(main.lazy_subcommands, "verify", "gradlint.no_such_module:verify")
    monkeypatch.delitem(main.commands, "verify", raising=False)  # restored afterwards if it was loaded
    try:
        assert "verify" in gl("--help").stdout
        res = gl("verify", "GL001")
        assert res.exit_code == 2 and "the 'verify' command is unavailable: ModuleNotFoundError" in res.stderr
        assert gl("check", str(write(tmp_path, "a.py", CLEAN))).exit_code == 0
    finally:
        main.commands.pop("verify", None)  # drop the stand-in; the real one loads again on next use


def test_version(gl):
    res = gl("--version")
    assert res.exit_code == 0 and res.stdout.startswith("gradlint, version ")


# ------------------------------------------------------------------ real processes


def _python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "gradlint", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_python_m_gradlint_end_to_end(tmp_path):
    write(tmp_path, "bad.py", BAD)
    write(tmp_path, "syntax.py", "import torch\nx = (\n")
    res = _python_m("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert res.returncode == 2
    assert [d["code"] for d in json.loads(res.stdout)] == ["GL001"]
    assert res.stderr.startswith("gradlint: syntax.py:") and "Traceback" not in res.stderr
    ok = _python_m("check", "--no-cache", "bad.py", cwd=tmp_path)
    assert ok.returncode == 1 and ok.stdout.startswith("bad.py:3:1: GL001") and "Found 1 error: 1 bug." in ok.stderr
    version = _python_m("--version", cwd=tmp_path)
    assert version.returncode == 0 and "gradlint" in version.stdout


def test_closed_pipe_is_not_a_traceback(tmp_path):
    for i in range(200):  # more output than a pipe buffer holds
        write(tmp_path, f"m{i:03d}.py", BAD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(f"{sys.executable} -m gradlint check --no-cache -j 1 . | head -n 1", shell=True,
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.stdout.startswith("m000.py:3:1: GL001")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_unreadable_file_even_as_root(gl, tmp_path, monkeypatch):
    """The permission case simulated, so it runs as root too: one line, the other file still checked."""
    import builtins

    p = write(tmp_path, "secret.py", BAD)
    other = write(tmp_path, "other.py", BAD)
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    res = gl("check", "--output-format", "concise", "-j", "1", str(p), str(other))
    assert res.exit_code == 2
    assert f"gradlint: {p}: permission denied" in res.err_lines
    assert res.stdout.startswith(f"{other}:3:1: GL001")
