"""The result cache and the worker pool: same results as a plain run, corruption tolerated."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gradlint.cli import main

BAD = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"
CLEAN = "import torch\nx = torch.randn(3)\nx += 1\n"


def _tree(tmp_path: Path, n: int = 20) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(n):
        (src / f"m{i:02d}.py").write_text(BAD if i % 3 == 0 else CLEAN)
    return src


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--output-format", "json", "-q", *args])


def test_cache_hit_gives_the_same_findings_and_tags_the_folder(tmp_path):
    src = _tree(tmp_path)
    cache = tmp_path / "cache"
    first = _check(str(src), "--cache-dir", str(cache), "-j", "1")
    second = _check(str(src), "--cache-dir", str(cache), "-j", "1")
    assert first.exit_code == second.exit_code == 1
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert len(json.loads(first.stdout)) == 7
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache / ".gitignore").read_text() == "*\n"
    assert list((cache / "v1").rglob("*.json"))


def test_cache_is_keyed_by_content_and_selection(tmp_path):
    src = _tree(tmp_path, 3)
    cache = tmp_path / "cache"
    _check(str(src), "--cache-dir", str(cache))
    (src / "m01.py").write_text(BAD)  # was clean
    out = json.loads(_check(str(src), "--cache-dir", str(cache)).stdout)
    assert sorted(Path(d["filename"]).name for d in out) == ["m00.py", "m01.py"]
    ignored = _check(str(src), "--cache-dir", str(cache), "--ignore", "GL001")
    assert ignored.exit_code == 0 and json.loads(ignored.stdout) == []


def test_corrupt_cache_entries_are_ignored_and_rewritten(tmp_path):
    src = _tree(tmp_path, 3)
    cache = tmp_path / "cache"
    expected = json.loads(_check(str(src), "--cache-dir", str(cache)).stdout)
    for entry in (cache / "v1").rglob("*.json"):
        entry.write_text("{not json")
    again = _check(str(src), "--cache-dir", str(cache))
    assert again.exit_code == 1 and json.loads(again.stdout) == expected
    assert all(json.loads(e.read_text()) for e in (cache / "v1").rglob("*.json"))


def test_no_cache_writes_nothing(tmp_path, monkeypatch):
    src = _tree(tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    _check(str(src), "--no-cache")
    assert not (tmp_path / ".gradlint_cache").exists()


def test_env_var_names_the_cache_dir(tmp_path, monkeypatch):
    src = _tree(tmp_path, 3)
    monkeypatch.setenv("GRADLINT_CACHE_DIR", str(tmp_path / "envcache"))
    _check(str(src))
    assert (tmp_path / "envcache" / "CACHEDIR.TAG").exists()


def test_parallel_run_is_deterministic_and_equal_to_serial(tmp_path):
    src = _tree(tmp_path, 40)
    serial = _check(str(src), "--no-cache", "-j", "1")
    parallel = _check(str(src), "--no-cache", "-j", "2")
    assert serial.exit_code == parallel.exit_code == 1
    assert serial.stdout == parallel.stdout


def test_progress_line_only_on_a_terminal_after_the_delay():
    import io

    from gradlint.runner import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    piped = io.StringIO()
    p = Progress(piped, delay=0)
    p(1, 2)
    assert piped.getvalue() == ""
    tty = Tty()
    p = Progress(tty, delay=0)
    p(1, 2)
    p.clear()
    assert "checked 1/2 files" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")
    slow = Tty()
    Progress(slow, delay=60)(1, 2)
    assert slow.getvalue() == ""
