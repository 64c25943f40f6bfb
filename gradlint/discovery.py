"""Which files to check: paths given on the command line, recursed for *.py, minus excluded paths.

Directories are walked in sorted order. Skipped: the default excludes (VCS folders, virtualenvs — any
folder with a pyvenv.cfg —, caches, build/dist …), `exclude`/`extend-exclude` patterns, and — inside a
git work tree — paths that .gitignore files (any level) and .git/info/exclude ignore. A file named
explicitly on the command line is always checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gradlint.config import ConfigResolver, _relpath
from gradlint.globmatch import PatternList

SOURCE_SUFFIXES = (".py", ".pyi")


@dataclass
class Discovered:
    files: list[Path]
    errors: list[tuple[str, str]]  # (path as given, reason)


class _GitIgnores:
    """The .gitignore rules of one git work tree, loaded lazily per folder."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._cache: dict[Path, PatternList | None] = {}
        exclude = top / ".git" / "info" / "exclude"
        self._info = PatternList(_read_lines(exclude)) if exclude.is_file() else None

    def _list(self, folder: Path) -> PatternList | None:
        if folder not in self._cache:
            gi = folder / ".gitignore"
            self._cache[folder] = PatternList(_read_lines(gi)) if gi.is_file() else None
        return self._cache[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        result: bool | None = None
        if self._info is not None:
            m = self._info.match(path.relative_to(self.top).as_posix(), is_dir)
            if m is not None:
                result = m
        rel_parts = path.relative_to(self.top).parts
        folder = self.top
        for i in range(len(rel_parts)):
            pl = self._list(folder)
            if pl is not None:
                m = pl.match("/".join(rel_parts[i:]), is_dir)
                if m is not None:
                    result = m
            folder = folder / rel_parts[i]
        return bool(result)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _git_top(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def discover(paths: list[str], resolver: ConfigResolver) -> Discovered:
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    gitignores: dict[Path, _GitIgnores] = {}

    def gi_for(p: Path) -> _GitIgnores | None:
        top = _git_top(p)
        if top is None:
            return None
        if top not in gitignores:
            gitignores[top] = _GitIgnores(top)
        return gitignores[top]

    def add(p: Path) -> None:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if not os.path.lexists(p):
            errors.append((raw, "no such file or directory"))
            continue
        if p.is_symlink() and not p.exists():
            errors.append((raw, "broken symbolic link"))
            continue
        if not p.is_dir():
            add(p)  # named explicitly: always checked
            continue
        root_real = p.resolve()
        visited: set[str] = {str(root_real)}
        for dirpath, dirnames, filenames in os.walk(p, followlinks=True):
            d = Path(dirpath)
            cfg = resolver.config_for(d)
            excludes = cfg.exclude_patterns()
            gi = gi_for(d.resolve())
            keep = []
            for name in sorted(dirnames):
                sub = d / name
                real = str(sub.resolve())
                if real in visited:
                    errors.append((str(sub), "symbolic link loop (skipped)"))
                    continue
                if (sub / "pyvenv.cfg").exists():
                    continue
                if excludes.match(_relpath(sub, cfg.root), True) or excludes.match(name, True):
                    continue
                if gi is not None and _under(sub.resolve(), gi.top) and gi.ignored(sub.resolve(), True):
                    continue
                visited.add(real)
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                f = d / name
                if f.is_symlink() and not f.exists():
                    errors.append((str(f), "broken symbolic link"))
                    continue
                if excludes.match(_relpath(f, cfg.root), False) or excludes.match(name, False):
                    continue
                if gi is not None and _under(f.resolve(), gi.top) and gi.ignored(f.resolve(), False):
                    continue
                add(f)
    return Discovered(files, errors)


def _under(path: Path, top: Path) -> bool:
    try:
        path.relative_to(top)
        return True
    except ValueError:
        return False
