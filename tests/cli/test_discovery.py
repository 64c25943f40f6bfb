"""gradlint.discovery: which files a folder holds, what is skipped, and problems as errors not crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gradlint.config import ConfigResolver, Overrides
from gradlint.discovery import discover

from .conftest import IS_ROOT, write


def found(paths, cwd: Path, monkeypatch, **overrides) -> tuple[list[str], list[tuple[str, str]]]:
    monkeypatch.chdir(cwd)
    d = discover([str(p) for p in paths], ConfigResolver(None, Overrides(**overrides)))
    return [Path(f).as_posix() for f in d.files], d.errors


def test_recurses_in_sorted_order_and_skips_default_excludes(tmp_path, monkeypatch):
    for name in ["b.py", "a.py", "stub.pyi", "notes.txt", "pkg/z.py", "pkg/sub/y.py", "Pkg2/x.py",
                 ".git/hooks/h.py", ".hg/h.py", "__pycache__/c.py", ".venv/lib/v.py", "venv/v.py",
                 "build/b.py", "dist/d.py", ".tox/t.py", ".nox/n.py", ".mypy_cache/m.py", ".pytest_cache/p.py",
                 ".ruff_cache/r.py", ".gradlint_cache/g.py", "node_modules/n.py", "lib/site-packages/s.py",
                 ".eggs/e.py", "thing.egg-info/e.py", "deep/er/build/b.py", ".hidden/h.py"]:
        write(tmp_path, name, "x = 1\n")
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr/bin\n")  # a virtualenv under any name
    write(tmp_path, "myenv/lib/m.py", "x = 1\n")
    files, errors = found(["."], tmp_path, monkeypatch)
    assert files == [".hidden/h.py", "Pkg2/x.py", "a.py", "b.py", "pkg/sub/y.py", "pkg/z.py", "stub.pyi"]
    assert errors == []


def test_exclude_and_extend_exclude(tmp_path, monkeypatch):
    write(tmp_path, "gradlint.toml", 'extend-exclude = ["legacy", "gen/*.py", "/top_only.py"]\n')
    for name in ["legacy/a.py", "src/legacy/b.py", "gen/c.py", "gen/keep/d.py", "top_only.py", "src/top_only.py", "build/e.py"]:
        write(tmp_path, name, "")
    files, _ = found(["."], tmp_path, monkeypatch)
    assert files == ["gen/keep/d.py", "src/top_only.py"]
    write(tmp_path, "gradlint.toml", 'exclude = ["legacy"]\n')  # replaces the defaults: build/ is searched
    files, _ = found(["."], tmp_path, monkeypatch)
    assert "build/e.py" in files and "gen/c.py" in files and not any("legacy" in f for f in files)


def test_explicit_file_beats_exclude_and_gitignore_unless_forced(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "ignored.py\n")
    write(tmp_path, "gradlint.toml", 'extend-exclude = ["legacy"]\n')
    old = write(tmp_path, "legacy/old.py", "")
    ign = write(tmp_path, "ignored.py", "")
    venv_file = write(tmp_path, ".venv/x.py", "")
    files, _ = found([old, ign, venv_file, "legacy"], tmp_path, monkeypatch)
    assert len(files) == 3  # legacy/old.py once, although named twice
    files, _ = found([old, ign, "legacy"], tmp_path, monkeypatch, force_exclude=True)
    assert files == []


def test_gitignore_levels_negation_and_folder_patterns(tmp_path, monkeypatch):
    (tmp_path / ".git" / "info").mkdir(parents=True)
    write(tmp_path, ".git/info/exclude", "private_*.py\n")
    write(tmp_path, ".gitignore", "# generated code\ngenerated/\n*_tmp.py\n!keep_tmp.py\n/rootonly.py\nlogs\n")
    write(tmp_path, "pkg/.gitignore", "local.py\n!private_ok.py\n")
    for name in ["generated/g.py", "x_tmp.py", "keep_tmp.py", "rootonly.py", "pkg/rootonly.py", "pkg/local.py",
                 "local.py", "private_a.py", "pkg/private_ok.py", "logs/l.py", "src/generated.py", "src/real.py"]:
        write(tmp_path, name, "")
    files, _ = found(["."], tmp_path, monkeypatch)
    assert files == ["keep_tmp.py", "local.py", "pkg/private_ok.py", "pkg/rootonly.py", "src/generated.py", "src/real.py"]
    # the same rules apply when a subfolder is named on the command line
    files, _ = found(["pkg"], tmp_path, monkeypatch)
    assert files == ["pkg/private_ok.py", "pkg/rootonly.py"]
    # switched off
    files, _ = found(["."], tmp_path, monkeypatch, respect_gitignore=False)
    assert "generated/g.py" in files and "x_tmp.py" in files


def test_gitignore_outside_a_work_tree_is_not_read(tmp_path, monkeypatch):
    write(tmp_path, ".gitignore", "*.py\n")
    write(tmp_path, "a.py", "")
    files, _ = found(["."], tmp_path, monkeypatch)
    assert files == ["a.py"]


def test_nested_work_tree_uses_its_own_ignores(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "vendored_*.py\n")
    (tmp_path / "sub" / ".git").mkdir(parents=True)
    write(tmp_path, "sub/.gitignore", "mine.py\n")
    for name in ["vendored_a.py", "sub/vendored_b.py", "sub/mine.py"]:
        write(tmp_path, name, "")
    files, _ = found(["."], tmp_path, monkeypatch)
    assert files == ["sub/vendored_b.py"]


def test_respect_gitignore_false_in_config(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "a.py\n")
    write(tmp_path, "a.py", "")
    write(tmp_path, "gradlint.toml", "respect-gitignore = false\n")
    assert found(["."], tmp_path, monkeypatch)[0] == ["a.py"]


def test_symlinks_loops_duplicates_and_broken(tmp_path, monkeypatch):
    write(tmp_path, "src/a.py", "")
    (tmp_path / "src" / "again").symlink_to(tmp_path / "src")  # a loop
    (tmp_path / "alias").symlink_to(tmp_path / "src")  # a second route: searched once, silently
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "broken_dir").symlink_to(tmp_path / "nowhere")  # not a .py name: nothing to say
    (tmp_path / "self.py").symlink_to(tmp_path / "self.py")
    (tmp_path / "link.py").symlink_to(tmp_path / "src" / "a.py")
    files, errors = found(["."], tmp_path, monkeypatch)
    # link.py and alias/a.py are the same real file (src/a.py): checked once, under the route found first
    assert files == ["link.py"]
    assert sorted(errors) == [
        ("alias/again", "symbolic link loop (links to a folder that encloses it); skipped"),
        ("broken.py", "broken symbolic link"),
        ("self.py", "symbolic link loop"),
    ]


def test_command_line_paths_that_are_missing_or_broken(tmp_path, monkeypatch):
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    write(tmp_path, "ok.py", "")
    files, errors = found(["missing.py", "broken.py", "ok.py", "missing_dir"], tmp_path, monkeypatch)
    assert files == ["ok.py"]
    assert errors == [("missing.py", "no such file or directory"), ("broken.py", "broken symbolic link"),
                      ("missing_dir", "no such file or directory")]


def test_folder_named_like_a_module_is_searched(tmp_path, monkeypatch):
    write(tmp_path, "weird.py/inner.py", "")
    files, errors = found(["."], tmp_path, monkeypatch)
    assert files == ["weird.py/inner.py"] and errors == []


@pytest.mark.skipif(IS_ROOT, reason="root lists folders without permission")
def test_unlistable_folder_is_reported(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    write(tmp_path, "locked/a.py", "")
    write(tmp_path, "b.py", "")
    locked.chmod(0)
    try:
        files, errors = found(["."], tmp_path, monkeypatch)
    finally:
        locked.chmod(0o755)
    assert files == ["b.py"]
    assert errors == [("locked", "cannot list folder: permission denied")]


def test_nearest_config_excludes_apply_below_it(tmp_path, monkeypatch):
    write(tmp_path, "gradlint.toml", 'extend-exclude = ["skipme"]\n')
    write(tmp_path, "sub/gradlint.toml", 'extend-exclude = ["other"]\n')
    for name in ["skipme/a.py", "sub/skipme/b.py", "sub/other/c.py", "other/d.py"]:
        write(tmp_path, name, "")
    files, _ = found(["."], tmp_path, monkeypatch)
    assert files == ["other/d.py", "sub/skipme/b.py"]
    assert os.path.exists(tmp_path / "sub" / "skipme" / "b.py")


def test_unlistable_folder_is_reported_even_as_root(tmp_path, monkeypatch):
    """The same as above, with the permission error simulated (tests may run as root)."""
    import gradlint.discovery as discovery

    write(tmp_path, "locked/a.py", "")
    write(tmp_path, "b.py", "")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(discovery.os, "scandir", scandir)
    files, errors = found(["."], tmp_path, monkeypatch)
    assert files == ["b.py"]
    assert errors == [("locked", "cannot list folder: permission denied")]
