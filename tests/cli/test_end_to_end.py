"""The command line: exit codes, output formats, selection, configuration, noqa, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradlint.cli import main

from .conftest import BAD, BAD_TWO, CLEAN, write


def run(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is not None:
        old = os.getcwd()
        os.chdir(cwd)
        try:
            return runner.invoke(main, list(args))
        finally:
            os.chdir(old)
    return runner.invoke(main, list(args))


# ------------------------------------------------------------------ exit codes and formats


def test_exit_codes(tmp_path):
    bad = write(tmp_path, "bad.py", BAD)
    clean = write(tmp_path, "clean.py", CLEAN)
    assert run("check", "--no-cache", str(clean)).exit_code == 0
    assert run("check", "--no-cache", str(bad)).exit_code == 1
    assert run("check", "--no-cache", "--exit-zero", str(bad)).exit_code == 0
    assert run("check", "--no-cache", str(tmp_path / "missing.py")).exit_code == 2
    assert run("check", "--select", "GL999", str(clean)).exit_code == 2


def test_concise_and_full_formats(tmp_path):
    bad = write(tmp_path, "bad.py", BAD)
    concise = run("check", "--no-cache", "--output-format", "concise", str(bad))
    line = concise.stdout.strip().splitlines()[0]
    assert line.startswith(f"{bad}:3:1: GL001 ")
    full = run("check", "--no-cache", str(bad))
    lines = full.stdout.splitlines()
    assert lines[0] == line
    assert "3 | w += 1" in full.stdout
    assert "^^^^^^" in full.stdout
    assert "\x1b[" not in full.stdout  # no colour when not a terminal
    assert "Found 1 error: 1 bug." in full.stderr


def test_json_is_ruff_schema_and_pure(tmp_path):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = run("check", "--no-cache", "--output-format", "json", str(bad))
    data = json.loads(res.stdout)
    assert [d["code"] for d in data] == ["GL001", "GL003"]
    for d in data:
        assert set(d) == {"cell", "code", "name", "severity", "tier", "message", "filename", "location",
                          "end_location", "fix", "noqa_row", "url"}
        assert d["cell"] is None
        assert d["filename"] == str(bad.resolve())
        assert set(d["location"]) == {"row", "column"}
        assert d["fix"] is None or set(d["fix"]) == {"applicability", "message", "edits"}
    assert data[0]["location"] == {"row": 3, "column": 1}
    assert data[0]["end_location"] == {"row": 3, "column": 7}


def test_quiet_has_no_summary(tmp_path):
    bad = write(tmp_path, "bad.py", BAD)
    res = run("check", "--no-cache", "-q", str(bad))
    assert "Found" not in res.stderr


# ------------------------------------------------------------------ selection


@pytest.mark.parametrize(
    "args, codes",
    [
        ((), ["GL001", "GL003"]),
        (("--select", "GL001"), ["GL001"]),
        (("--select", "GL003,GL001"), ["GL001", "GL003"]),
        (("--ignore", "GL001"), ["GL003"]),
        (("--select", "ALL", "--ignore", "GL003"), ["GL001"]),
        (("--select", "GL00"), ["GL001", "GL003"]),
        (("--select", "GL002", "--extend-select", "GL003"), ["GL003"]),
    ],
)
def test_selection(tmp_path, args, codes):
    bad = write(tmp_path, "bad.py", BAD_TWO)
    res = run("check", "--no-cache", "--output-format", "json", *args, str(bad))
    assert sorted(d["code"] for d in json.loads(res.stdout)) == codes


# ------------------------------------------------------------------ noqa


@pytest.mark.parametrize(
    "suffix, expected",
    [
        ("  # noqa", 0),
        ("  # noqa: GL001", 0),
        ("  # NOQA:GL001,GL003", 0),
        ("  # noqa: GL003", 1),
        ("  # noqa: E501", 1),
        ("", 1),
    ],
)
def test_noqa_on_the_reported_line(tmp_path, suffix, expected):
    bad = write(tmp_path, "bad.py", BAD.replace("w += 1", "w += 1" + suffix))
    res = run("check", "--no-cache", "--output-format", "json", str(bad))
    assert len(json.loads(res.stdout)) == expected


def test_noqa_inside_a_string_does_not_count(tmp_path):
    bad = write(tmp_path, "bad.py", BAD.replace("w += 1", 'w += 1; s = "# noqa"'))
    res = run("check", "--no-cache", "--output-format", "json", str(bad))
    assert len(json.loads(res.stdout)) == 1


def test_file_level_exemption(tmp_path):
    bad = write(tmp_path, "bad.py", "# gradlint: noqa\n" + BAD)
    assert run("check", "--no-cache", str(bad)).exit_code == 0


# ------------------------------------------------------------------ configuration


def test_config_select_ignore_and_per_file_ignores(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL003"]\nper-file-ignores = { "scripts/*.py" = ["GL001"] }\n')
    write(tmp_path, "pkg/a.py", BAD_TWO)
    write(tmp_path, "scripts/b.py", BAD_TWO)
    res = run("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    found = sorted((Path(d["filename"]).name, d["code"]) for d in json.loads(res.stdout))
    assert found == [("a.py", "GL001")]


def test_config_exclude_and_explicit_file_beats_exclude(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nextend-exclude = ["legacy"]\n')
    legacy = write(tmp_path, "legacy/old.py", BAD)
    write(tmp_path, "new.py", CLEAN)
    assert run("check", "--no-cache", ".", cwd=tmp_path).exit_code == 0
    assert run("check", "--no-cache", str(legacy), cwd=tmp_path).exit_code == 1


def test_gradlint_toml_and_rule_options(tmp_path):
    code = "import torch\ndef score_holdout(policy, loader):\n    for x in loader:\n        policy(x)\n"
    write(tmp_path, "gradlint.toml", 'extend-eval-function-patterns = ["score_\\\\w+"]\nextend-model-names = ["policy"]\n')
    write(tmp_path, "m.py", code)
    res = run("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert sorted(d["code"] for d in json.loads(res.stdout)) == ["GL004", "GL005"]


@pytest.mark.parametrize(
    "table, needle",
    [
        ('selct = ["GL001"]', "unknown key 'selct' (did you mean 'select'?)"),
        ('select = "GL001"', "select: expected a list of strings"),
        ('select = ["GL9"]', "unknown rule code or prefix 'GL9'"),
        ('extend-model-names = ["("]', "invalid regular expression"),
        ("select = [", "invalid TOML"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, table, needle):
    write(tmp_path, "pyproject.toml", "[tool.gradlint]\n" + table + "\n")
    write(tmp_path, "a.py", CLEAN)
    res = run("check", "--no-cache", ".", cwd=tmp_path)
    assert res.exit_code == 2
    assert needle in res.stderr
    assert "pyproject.toml" in res.stderr
    assert "Traceback" not in res.stderr


def test_explicit_config_option(tmp_path):
    cfg = write(tmp_path, "conf/gradlint.toml", 'ignore = ["GL001"]\n')
    bad = write(tmp_path, "a.py", BAD)
    assert run("check", "--no-cache", "--config", str(cfg), str(bad)).exit_code == 0


# ------------------------------------------------------------------ discovery


def test_discovery_skips_venvs_caches_and_gitignored(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "generated/\n*_tmp.py\n!keep_tmp.py\n")
    write(tmp_path, "generated/g.py", BAD)
    write(tmp_path, "x_tmp.py", BAD)
    write(tmp_path, "keep_tmp.py", BAD)
    write(tmp_path, "env/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "env/lib/site.py", BAD)
    write(tmp_path, "build/b.py", BAD)
    write(tmp_path, "__pycache__/c.py", BAD)
    write(tmp_path, "src/real.py", BAD)
    res = run("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    names = sorted(Path(d["filename"]).name for d in json.loads(res.stdout))
    assert names == ["keep_tmp.py", "real.py"]


# ------------------------------------------------------------------ bad input


def test_bad_input_is_one_line_per_file_and_the_run_goes_on(tmp_path):
    write(tmp_path, "syntax.py", "import torch\ndef f(:\n")
    write(tmp_path, "latin1_declared.py", "# -*- coding: latin-1 -*-\n".encode() + BAD.encode() + b"s = '\xe9'\n")
    write(tmp_path, "latin1_undeclared.py", b"import torch\ns = '\xe9'\n")
    write(tmp_path, "bom.py", b"\xef\xbb\xbf" + BAD.encode())
    write(tmp_path, "nul.py", b"import torch\x00\n")
    (tmp_path / "dir.py").mkdir()
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    good_bad = write(tmp_path, "zz_bad.py", BAD)
    res = run("check", "--no-cache", "--output-format", "concise", ".", str(tmp_path / "missing.py"), cwd=tmp_path)
    assert res.exit_code == 2
    err = res.stderr
    assert "Traceback" not in err
    for name, reason in [("syntax.py", "syntax error"), ("latin1_undeclared.py", "cannot decode as utf-8"),
                         ("nul.py", "NUL bytes"), ("broken.py", "broken symbolic link"),
                         ("missing.py", "no such file")]:
        assert any(name in line and reason in line for line in err.splitlines()), (name, err)
    out = res.stdout
    assert "latin1_declared.py:4:1: GL001" in out  # PEP 263 honoured
    assert "bom.py:3:1: GL001" in out  # BOM stripped, rows unchanged
    assert f"{good_bad.name}:3:1: GL001" in out


def test_unreadable_file(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can read files without read permission")
    p = write(tmp_path, "secret.py", BAD)
    p.chmod(0)
    try:
        res = run("check", "--no-cache", str(p))
        assert res.exit_code == 2 and "permission denied" in res.stderr
    finally:
        p.chmod(0o644)


# ------------------------------------------------------------------ rules / explain / version


def test_rules_and_explain():
    res = run("rules")
    assert res.exit_code == 0
    assert "GL001   inplace-on-leaf" in res.stdout
    data = json.loads(run("rules", "--output-format", "json").stdout)
    assert [r["code"] for r in data][:5] == ["GL001", "GL002", "GL003", "GL004", "GL005"]
    exp = run("explain", "GL002", "--no-run")
    assert exp.exit_code == 0 and "## Why is this bad?" in exp.stdout and "## Use instead" in exp.stdout
    assert run("explain", "GL999").exit_code == 2


def test_explain_runs_the_fixtures():
    res = run("explain", "GL001")
    assert res.exit_code == 0
    assert "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation." in res.stdout


def test_version_and_module_entry_point(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gradlint", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "gradlint" in out.stdout
    bad = write(tmp_path, "bad.py", BAD)
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "GL001" in res.stdout
