"""Which files to check: the paths given on the command line, folders searched for `*.py` / `*.pyi`
and Jupyter notebooks (`*.ipynb`, as ruff does; see gradlint.notebook).

    discover(paths, resolver) -> Discovered(files, errors)

- A file named on the command line is always checked, whatever its name and whatever excludes say
  (unless `force-exclude` is on, as ruff's, for pre-commit style callers that pass every file).
- A folder is searched depth first, entries in sorted (code point) order, so the order never changes.
- Skipped inside folders: the default excludes (`.git`, `.hg`, `.svn`, `__pycache__`, `.venv`, `venv`,
  `build`, `dist`, `.tox`, `.nox`, `.mypy_cache`, `.pytest_cache`, `.ruff_cache`, `.gradlint_cache`,
  `node_modules`, `site-packages`, `.eggs`, `*.egg-info`, …) or the configured `exclude`, plus
  `extend-exclude` (gitignore-style patterns, matched against the path relative to the configuration's
  folder and against the name); any folder holding a `pyvenv.cfg` (a virtualenv, whatever its name);
  and — inside a git work tree, unless `respect-gitignore = false` — what `.gitignore` files at every
  level (negations and folder-only patterns included) and `.git/info/exclude` ignore. A nested work
  tree (a folder with its own `.git`) uses its own ignore files only.
- Symbolic links are followed. A link to a folder that encloses it (a loop) is reported and skipped;
  a second route to a folder already searched is skipped silently; a broken link named `*.py`, or one
  that loops on itself, is reported.
- Problems are returned as (path, reason) pairs — a missing path, a folder that cannot be listed — and
  the search goes on; the CLI prints each as `gradlint: path: reason` and exits 2.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from gradlint.config import Config, ConfigResolver, relpath
from gradlint.globmatch import PatternList

SOURCE_SUFFIXES = (".py", ".pyi")
NOTEBOOK_SUFFIXES = (".ipynb",)
SEARCHED_SUFFIXES = SOURCE_SUFFIXES + NOTEBOOK_SUFFIXES  # what a folder search picks up


@dataclass
class Discovered:
    files: list[Path] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path as shown, reason)
    real: dict[Path, str] = field(default_factory=dict)  # each file's real path (os.path.normcase'd)


class GitIgnores:
    """The ignore rules of one git work tree (.gitignore at any level, .git/info/exclude), loaded lazily."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._cache: dict[Path, PatternList | None] = {}
        exclude = top / ".git" / "info" / "exclude"
        self._info = PatternList(_read_lines(exclude)) if _is_file(exclude) else None

    def _list(self, folder: Path) -> PatternList | None:
        if folder not in self._cache:
            gi = folder / ".gitignore"
            self._cache[folder] = PatternList(_read_lines(gi)) if _is_file(gi) else None
        return self._cache[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Is `path` (inside the work tree, not resolved further) ignored? Deeper files take precedence."""
        try:
            parts = path.relative_to(self.top).parts
        except ValueError:
            return False
        result: bool | None = None
        if self._info is not None:
            m = self._info.match("/".join(parts), is_dir)
            if m is not None:
                result = m
        folder = self.top
        for i in range(len(parts)):
            pl = self._list(folder)
            if pl is not None:
                m = pl.match("/".join(parts[i:]), is_dir)
                if m is not None:
                    result = m
            folder = folder / parts[i]
        return bool(result)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def git_top(path: Path) -> Path | None:
    """The work tree holding `path` (a resolved folder), or None."""
    for folder in (path, *path.parents):
        if _exists(folder / ".git"):
            return folder
    return None


def _is_venv(path: Path) -> bool:
    return _is_file(path / "pyvenv.cfg")


# A folder we may not search (chmod 000, another user's) makes Path.is_file()/exists() raise
# PermissionError on what is inside it: such a probe answers "no" here, and the folder itself is
# reported once, when listing it fails ("cannot list folder: permission denied").
def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except OSError:
        return False


class _Walker:
    def __init__(self, resolver: ConfigResolver) -> None:
        self.resolver = resolver
        self.out = Discovered()
        self._seen_files: dict[str, Path] = {}  # real path -> the path it is checked under
        self._walked_dirs: set[str] = set()
        self._git: dict[Path, GitIgnores] = {}

    def add(self, p: Path, real: str | None = None) -> None:
        """Each real file is checked once, however many links lead to it (`b.py -> a.py`): under its own
        name if that is among the routes, else under the first link found. `real`: its real path, when the
        walk already knows it (a file that is not a link, in a resolved folder)."""
        if real is not None:
            key = os.path.normcase(real)
        else:
            try:
                key = os.path.normcase(os.path.realpath(p))
            except (OSError, ValueError):
                key = os.path.normcase(os.path.abspath(p))
        seen = self._seen_files.get(key)
        if seen is None:
            self._seen_files[key] = p
            self.out.files.append(p)
            self.out.real[p] = key
        elif _is_link_route(seen, key) and not _is_link_route(p, key):
            self._seen_files[key] = p
            self.out.files[self.out.files.index(seen)] = p
            self.out.real.pop(seen, None)
            self.out.real[p] = key

    def error(self, p: Path | str, reason: str) -> None:
        self.out.errors.append((str(p), reason))

    def gitignores(self, real_dir: Path) -> GitIgnores | None:
        top = git_top(real_dir)
        if top is None:
            return None
        gi = self._git.get(top)
        if gi is None:
            gi = self._git[top] = GitIgnores(top)
        return gi

    # -------------------------------------------------------------------- command-line paths

    def path(self, raw: str) -> None:
        p = Path(raw)
        try:
            os.lstat(p)
        except FileNotFoundError:
            self.error(raw, "no such file or directory")
            return
        except OSError as exc:  # a folder on the way that may not be searched, a name too long, …
            self.error(raw, _reason(exc))
            return
        except ValueError:  # a NUL in the name
            self.error(raw, "invalid file name")
            return
        try:
            st_is_dir = p.is_dir()
            exists = p.exists()
        except OSError as exc:  # ELOOP and friends on some Pythons
            self.error(raw, _reason(exc))
            return
        if not exists:
            self.error(raw, _broken_link_reason(p))
            return
        if not st_is_dir:
            if self._force_excluded(p):
                return
            self.add(p)  # named explicitly: checked whatever its name
            return
        if self._force_excluded(p):
            return
        try:
            real = p.resolve()
        except (OSError, RuntimeError) as exc:
            self.error(raw, _reason(exc) if isinstance(exc, OSError) else "symbolic link loop")
            return
        self.walk(p, real)

    def _force_excluded(self, p: Path) -> bool:
        cfg = self.resolver.config_for(p)
        if not self.resolver.force_exclude(cfg):
            return False
        absolute = Path(os.path.abspath(p))
        for q in (absolute, *absolute.parents):
            if q == cfg.root or q == q.parent:
                break
            if cfg.is_excluded(q, q != absolute or absolute.is_dir()):
                return True
        real = absolute.resolve()
        if self.resolver.respect_gitignore(cfg):
            gi = self.gitignores(real if real.is_dir() else real.parent)
            if gi is not None:
                for q in (real, *real.parents):
                    if q == gi.top:
                        break
                    if gi.ignored(q, q != real or real.is_dir()):
                        return True
        return False

    # -------------------------------------------------------------------- folders

    def walk(self, root: Path, root_real: Path) -> None:
        # Stack of (shown path, resolved path, resolved ancestors, the work tree's ignore rules).
        stack: list[tuple[Path, Path, frozenset[str], GitIgnores | None]] = []
        key = str(root_real)
        if key in self._walked_dirs:
            return
        first_file = len(self.out.files)
        self._walked_dirs.add(key)
        stack.append((root, root_real, frozenset({key}), self.gitignores(root_real)))
        while stack:
            shown, real, ancestors, gi = stack.pop()
            try:
                with os.scandir(shown) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self.error(shown, f"cannot list folder: {_reason(exc)}")
                continue
            cfg = self.resolver.config_for(shown)
            use_git = gi is not None and self.resolver.respect_gitignore(cfg)
            subdirs: list[tuple[Path, Path, frozenset[str], GitIgnores | None]] = []
            for entry in entries:
                child = shown / entry.name
                child_real = real / entry.name
                try:
                    is_dir = entry.is_dir()  # follows symlinks
                except OSError:
                    is_dir = False
                if entry.is_symlink():
                    try:
                        target = Path(os.path.realpath(child, strict=True))
                    except OSError as exc:
                        if entry.name.endswith(SOURCE_SUFFIXES):
                            self.error(child, "symbolic link loop" if exc.errno == errno.ELOOP
                                       else _broken_link_reason(child))
                        continue
                    except RuntimeError:  # Python < 3.10 reports loops this way
                        if entry.name.endswith(SOURCE_SUFFIXES):
                            self.error(child, "symbolic link loop")
                        continue
                    child_real = target
                if is_dir:
                    if self._skip_dir(child, real / entry.name, cfg, gi if use_git else None):
                        continue
                    rkey = str(child_real)
                    if rkey in ancestors:
                        self.error(child, "symbolic link loop (links to a folder that encloses it); skipped")
                        continue
                    if rkey in self._walked_dirs:
                        continue  # already searched by another route
                    self._walked_dirs.add(rkey)
                    child_gi = gi
                    if entry.is_symlink() or _exists(child_real / ".git"):
                        child_gi = self.gitignores(child_real)  # elsewhere, or a nested work tree
                    subdirs.append((child, child_real, ancestors | {rkey}, child_gi))
                    continue
                if not entry.name.endswith(SEARCHED_SUFFIXES):
                    continue
                if cfg.is_excluded(child, False):
                    continue
                if use_git and gi is not None and gi.ignored(real / entry.name, False):
                    continue
                self.add(child, str(child_real))
            stack.extend(reversed(subdirs))
        # Name order throughout, folders in place: what `find | sort` would list.
        self.out.files[first_file:] = sorted(self.out.files[first_file:], key=lambda f: f.parts)

    def _skip_dir(self, child: Path, in_tree: Path, cfg: Config, gi: GitIgnores | None) -> bool:
        """`in_tree`: the folder's path as git sees it (resolved parent + own name)."""
        if cfg.is_excluded(child, True):
            return True
        if _is_venv(child):
            return True
        return gi is not None and gi.ignored(in_tree, True)


def _is_link_route(p: Path, real: str) -> bool:
    """Is `p` reached through a symbolic link (its absolute path is not the real one)?"""
    return os.path.normcase(os.path.abspath(p)) != real


def _broken_link_reason(p: Path) -> str:
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
    return "broken symbolic link" if os.path.islink(p) else "no such file or directory"


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return exc.strerror or str(exc)


def discover(paths: list[str], resolver: ConfigResolver) -> Discovered:
    walker = _Walker(resolver)
    for raw in paths:
        walker.path(raw)
    return walker.out


__all__ = ["Discovered", "GitIgnores", "NOTEBOOK_SUFFIXES", "SEARCHED_SUFFIXES", "SOURCE_SUFFIXES", "discover", "git_top", "relpath"]
