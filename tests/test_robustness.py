"""Crash-free on any Python file: generated programs, the whole standard library, and hostile inputs."""

from __future__ import annotations

import multiprocessing
import os
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from gradlint.cli import main
from gradlint.linter import lint_source
from gradlint.rules import ALL_RULES
from gradlint.settings import Settings

ALL = Settings(selected=frozenset(r.code for r in ALL_RULES))


def _lint_never_raises(source: str) -> None:
    result = lint_source(source, "generated.py", ALL, prefilter=False)
    assert result.error is None or result.error.reason  # a reported error is fine; an exception is not


try:
    import hypothesmith
except ImportError:  # pragma: no cover - part of the test extras
    hypothesmith = None


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith not installed")
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=hypothesmith.from_grammar() if hypothesmith else None)
def test_generated_programs_never_crash_the_analyzer(source):
    _lint_never_raises(source)


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith not installed")
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=hypothesmith.from_node() if hypothesmith else None)
def test_generated_syntax_trees_never_crash_the_analyzer(source):
    _lint_never_raises("import torch\n" + source)


def _stdlib_file(path: str) -> str | None:
    from gradlint.source import SourceError, read_source

    try:
        source = read_source(path)
    except SourceError:
        return None
    try:
        result = lint_source(source, path, ALL, prefilter=False)
    except Exception as exc:  # noqa: BLE001
        return f"{path}: {type(exc).__name__}: {exc}"
    if result.error is not None and "internal" in result.error.reason:
        return f"{path}: {result.error.reason}"
    return None


@pytest.mark.stdlib
def test_every_standard_library_file_is_analysed_without_a_crash():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        str(p) for p in stdlib.rglob("*.py")
        if "site-packages" not in p.parts and "dist-packages" not in p.parts
    )
    assert len(files) > 1000
    ctx = multiprocessing.get_context("fork") if sys.platform != "win32" else multiprocessing.get_context()
    with ctx.Pool(max(1, min(4, os.cpu_count() or 1))) as pool:
        problems = [p for p in pool.imap_unordered(_stdlib_file, files, chunksize=16) if p]
    assert problems == []


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", *args])


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("deep.py", "import torch\nx = " + "(" * 3000 + "1" + ")" * 3000 + "\n", None),
        ("deep_binop.py", "import torch\nx = " + " + ".join(["1"] * 4000) + "\n", None),
        ("long_line.py", "import torch\nx = '" + "a" * 2_000_000 + "'\n", None),
        ("binary.py", bytes(range(256)) * 4, "NUL bytes"),
        ("nul.py", b"import torch\nx = 1\x00\n", "NUL bytes"),
    ],
)
def test_hostile_files_are_reported_in_one_line_or_checked(tmp_path, name, content, reason):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    ok = tmp_path / "ok.py"
    ok.write_text("import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n")
    res = _check(str(p), str(ok))
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert "ok.py:3:1: GL001" in res.stdout  # the other file is still checked
    lines = [line for line in res.stderr.splitlines() if name in line]
    if reason is None:
        assert len(lines) <= 1  # either checked, or one line saying why not
    else:
        assert len(lines) == 1 and reason in lines[0]


def test_huge_file_is_checked(tmp_path):
    body = "".join(f"def f{i}(model, x):\n    return model(x) + {i}\n" for i in range(5000))
    p = tmp_path / "huge.py"
    p.write_text("import torch\n" + body + "w = torch.randn(3, requires_grad=True)\nw += 1\n")
    res = _check(str(p))
    assert res.exit_code == 1 and "GL001" in res.stdout


def test_symlink_loop_and_broken_symlink_are_reported(tmp_path):
    d = tmp_path / "pkg"
    d.mkdir()
    (d / "loop").symlink_to(d)
    (d / "dangling.py").symlink_to(tmp_path / "gone.py")
    (d / "a.py").write_text("import torch\n")
    res = _check(str(d))
    assert res.exit_code == 2
    assert "symbolic link loop" in res.stderr
    assert "broken symbolic link" in res.stderr
    assert "Traceback" not in res.stderr
