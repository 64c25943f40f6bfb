"""`gradlint check --fix` & co. (issue 5): flags, output, exit status, and the safety of writing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from gradlint.cli import main

SAFE = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"
SAFE_FIXED = "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w += 1\n"
UNSAFE = "import torch\nw = torch.tensor([1.0], requires_grad=True)\nw = w - 0.1 * w.grad\n"
CLEAN = "import torch\nx = torch.randn(3)\nx += 1\n"


def gl(*args: str):
    res = CliRunner().invoke(main, ["check", "--no-cache", *args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res


def put(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_markers_and_hint_without_fix(tmp_path):
    put(tmp_path, "a.py", SAFE)
    put(tmp_path, "b.py", UNSAFE)
    res = gl("--output-format", "concise", str(tmp_path))
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert " GL001 [bug] [*] " in lines[0] and " GL002 [bug] [*] " not in lines[1]
    assert res.stderr.splitlines()[-1] == (
        "[*] 1 fixable with the `--fix` option (1 hidden fix can be enabled with the `--unsafe-fixes` option).")
    res = gl("--output-format", "concise", "--unsafe-fixes", str(tmp_path))
    assert " GL002 [bug] [*] " in res.stdout.splitlines()[1]
    assert res.stderr.splitlines()[-1] == "[*] 2 fixable with the `--fix` option."
    put(tmp_path, "a.py", CLEAN)
    res = gl(str(tmp_path))
    assert res.stderr.splitlines()[-1] == "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."


def test_fix_applies_safe_only_and_exit_status(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--fix", str(a))
    assert res.exit_code == 0, res.stderr
    assert a.read_text() == SAFE_FIXED
    assert "Found 1 error (1 fixed, 0 remaining)." in res.stderr
    b = put(tmp_path, "b.py", UNSAFE)
    res = gl("--fix", str(b))
    assert res.exit_code == 1 and b.read_text() == UNSAFE  # unsafe: not applied, the finding remains
    res = gl("--fix", "--unsafe-fixes", str(b))
    assert res.exit_code == 0 and "w -= 0.1 * w.grad" in b.read_text()


def test_exit_non_zero_on_fix(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--fix", "--exit-non-zero-on-fix", str(a))
    assert res.exit_code == 1 and a.read_text() == SAFE_FIXED
    res = gl("--fix", "--exit-non-zero-on-fix", str(a))  # nothing left to fix
    assert res.exit_code == 0


def test_no_fix_overrides_fix(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--fix", "--no-fix", str(a))
    assert res.exit_code == 1 and a.read_text() == SAFE


def test_diff_writes_nothing(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    mtime = os.stat(a).st_mtime_ns
    res = gl("--diff", str(a))
    assert res.exit_code == 1
    assert res.stdout.startswith(f"--- {a}\n+++ {a}\n")
    assert "+with torch.no_grad():\n+    w += 1\n" in res.stdout
    assert a.read_text() == SAFE and os.stat(a).st_mtime_ns == mtime
    assert "Would fix 1 error." in res.stderr
    c = put(tmp_path, "c.py", CLEAN)
    res = gl("--diff", str(c))
    assert res.exit_code == 0 and res.stdout == ""


def test_fix_only_reports_nothing_and_exits_zero(tmp_path):
    put(tmp_path, "a.py", SAFE)
    put(tmp_path, "b.py", UNSAFE)
    res = gl("--fix-only", str(tmp_path))
    assert res.exit_code == 0 and res.stdout == ""
    assert "Fixed 1 error." in res.stderr


def test_show_fixes_lists_fixes(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--fix", "--show-fixes", str(a))
    assert f"Fixed 1 error:\n- {a}:\n    1 × GL001 (inplace-on-leaf)\n" in res.stderr
    b = put(tmp_path, "b.py", SAFE)
    res = gl("--show-fixes", str(b))  # without --fix: the fix as a diff under the snippet
    assert "Safe fix" in res.stdout and "3 + with torch.no_grad():" in res.stdout


def test_json_fix_object(tmp_path):
    a = put(tmp_path, "a.py", SAFE)
    data = json.loads(gl("--output-format", "json", str(a)).stdout)
    assert data[0]["fix"] == {
        "applicability": "safe",
        "message": "Wrap the update in `with torch.no_grad():`",
        "edits": [{"content": "with torch.no_grad():\n    w += 1\n",
                   "location": {"row": 3, "column": 1}, "end_location": {"row": 4, "column": 1}}],
    }


def test_files_without_fixes_are_not_rewritten(tmp_path):
    c = put(tmp_path, "c.py", CLEAN)
    s = put(tmp_path, "s.py", "import torch\nw = torch.randn(3, requires_grad=True)\ny = 2 * w; w += 1\n")  # no fix
    before = {p: os.stat(p).st_mtime_ns for p in (c, s)}
    res = gl("--fix", "--unsafe-fixes", str(tmp_path))
    assert res.exit_code == 1  # the finding without a fix remains
    assert {p: os.stat(p).st_mtime_ns for p in (c, s)} == before


def test_write_keeps_bom_crlf_encoding_and_permissions(tmp_path):
    bom = put(tmp_path, "bom.py", b"\xef\xbb\xbf" + SAFE.replace("\n", "\r\n").encode())
    os.chmod(bom, 0o640)
    latin = put(tmp_path, "latin.py", ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + SAFE).encode("latin-1"))
    res = gl("--fix", str(tmp_path))
    assert res.exit_code == 0, res.stderr
    data = bom.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data[3:] == SAFE_FIXED.replace("\n", "\r\n").encode()
    assert stat.S_IMODE(os.stat(bom).st_mode) == 0o640
    assert latin.read_bytes() == ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + SAFE_FIXED).encode("latin-1")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gradlint-")]  # no temp files left


def test_symlink_target_is_written_link_kept(tmp_path):
    real = put(tmp_path, "real.py", SAFE)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    res = gl("--fix", str(link))
    assert res.exit_code == 0
    assert link.is_symlink() and real.read_text() == SAFE_FIXED


def test_unparsable_result_is_refused(tmp_path, monkeypatch):
    import gradlint.fix as fixmod

    monkeypatch.setattr(fixmod, "apply_edits", lambda source, fixes: ("def broken(:\n", list(fixes)))
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--fix", str(a))
    assert res.exit_code == 2
    assert a.read_text() == SAFE
    assert "does not parse" in res.stderr and "file left unchanged" in res.stderr


def test_fixes_that_do_not_converge_are_refused(monkeypatch):
    # each pass offers a different fix (the text keeps growing) and none removes its finding
    import gradlint.fix as fixmod
    from gradlint.linter import lint_fix
    from gradlint.settings import Settings

    monkeypatch.setattr(fixmod, "apply_edits",
                        lambda source, fixes: (source.replace("w += 1", "w += 1 + 0"), list(fixes)))
    r = lint_fix(SAFE, "t.py", Settings(selected=frozenset({"GL001"})), max_passes=3)
    assert r.source == SAFE and r.error and "did not converge after 3 passes (GL001)" in r.error


def test_a_fix_that_does_not_remove_its_finding_is_dropped_not_stacked(monkeypatch):
    # the same fix offered again after it was applied (as GL005's decorator once was, under
    # `set_grad_enabled(True)`): the run starts over without it; the finding stays, with no fix
    import gradlint.fix as fixmod
    from gradlint.linter import lint_fix
    from gradlint.settings import Settings

    real = fixmod.apply_edits
    monkeypatch.setattr(fixmod, "apply_edits", lambda source, fixes: ("# tried\n" + source, real(source, fixes)[1]))
    r = lint_fix(SAFE, "t.py", Settings(selected=frozenset({"GL001"})), max_passes=10)
    assert r.error is None and r.source == SAFE and r.fixed == 0
    assert [d.code for d in r.remaining] == ["GL001"] and r.remaining[0].fix is None


# ---------------------------------------------------------------- the fix keys of the configuration


def test_config_fix_true_fixes_and_no_fix_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    put(tmp_path, "pyproject.toml", "[tool.gradlint]\nfix = true\n")
    a = put(tmp_path, "a.py", SAFE)
    res = gl("--no-fix", str(a))
    assert res.exit_code == 1 and a.read_text() == SAFE
    res = gl(str(a))
    assert res.exit_code == 0, res.stderr
    assert a.read_text() == SAFE_FIXED and "Found 1 error (1 fixed, 0 remaining)." in res.stderr


def test_config_unsafe_fixes_and_the_flag_over_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    put(tmp_path, "gradlint.toml", "unsafe-fixes = true\n")
    b = put(tmp_path, "b.py", UNSAFE)
    res = gl("--output-format", "concise", str(b))
    assert " GL002 [bug] [*] " in res.stdout and b.read_text() == UNSAFE  # marked fixable, nothing written
    res = gl("--fix", "--no-unsafe-fixes", str(b))
    assert res.exit_code == 1 and b.read_text() == UNSAFE
    res = gl("--fix", str(b))
    assert res.exit_code == 0 and "w -= 0.1 * w.grad" in b.read_text()


def test_config_fix_keys_only_from_where_gradlint_runs(tmp_path, monkeypatch):
    # a nested project's `fix = true` does not turn a check run from its parent into a fix run
    (tmp_path / "sub").mkdir()
    put(tmp_path, "sub/pyproject.toml", "[tool.gradlint]\nfix = true\n")
    a = put(tmp_path, "sub/a.py", SAFE)
    monkeypatch.chdir(tmp_path)
    res = gl(str(a))
    assert res.exit_code == 1 and a.read_text() == SAFE


def test_config_fix_key_must_be_a_bool(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    put(tmp_path, "pyproject.toml", '[tool.gradlint]\nfix = "yes"\n')
    a = put(tmp_path, "a.py", SAFE)
    res = gl(str(a))
    assert res.exit_code == 2 and "fix" in res.stderr and "true or false" in res.stderr
    assert a.read_text() == SAFE
