"""Lint many files: one process for small runs, a process pool for large ones, and the result cache.

Output order never depends on scheduling: results come back in the order of the input files.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from gradlint.cache import Cache, entry_key, settings_fingerprint
from gradlint.diagnostic import FileError, FileResult
from gradlint.settings import Settings

# Below this many files a pool costs more than it saves.
POOL_THRESHOLD = 16


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def lint_one(path: str, settings: Settings, cache_root: str | None) -> tuple[FileResult, str | None]:
    """Lint one file; never raises. Returns the result and, if there are findings, the source text."""
    if path.lower().endswith(".ipynb"):
        from gradlint.notebook import lint_notebook_one

        return lint_notebook_one(path, settings, cache_root)
    from gradlint.source import SourceError, read_source

    try:
        source = read_source(path)
    except SourceError as exc:
        return FileResult(filename=path, error=FileError(path, str(exc))), None
    except Exception as exc:  # pragma: no cover - defensive
        return FileResult(filename=path, error=FileError(path, f"cannot read: {exc}")), None
    cache = Cache(Path(cache_root)) if cache_root else None
    key = entry_key(source, settings_fingerprint(settings), path) if cache else None
    if cache is not None and key is not None:
        hit = cache.get(key, path, source)
        if hit is not None:
            return FileResult(filename=path, diagnostics=hit), (source if hit else None)
    from gradlint.linter import lint_source  # only on a cache miss: it imports LibCST

    try:
        result = lint_source(source, path, settings)
    except RecursionError:
        return FileResult(filename=path, error=FileError(path, "too deeply nested to analyse")), None
    except Exception as exc:  # an internal error must not stop the run
        return FileResult(filename=path, error=FileError(path, f"internal error: {type(exc).__name__}: {exc}")), None
    if cache is not None and key is not None and result.error is None:
        cache.put(key, result.diagnostics)
    return result, (source if result.diagnostics else None)


def _lint_star(args: tuple[str, Settings, str | None]) -> tuple[FileResult, str | None]:
    return lint_one(*args)


def lint_many(jobs_in: list[tuple[str, Settings]], jobs: int, cache_root: str | None,
              progress: Callable[[int, int], None] | None = None) -> list[tuple[FileResult, str | None]]:
    """Lint every (path, settings); `progress(done, total)` is called as results arrive."""
    work = [(path, settings, cache_root) for path, settings in jobs_in]
    out: list[tuple[FileResult, str | None]] = []
    if jobs <= 1 or len(work) < POOL_THRESHOLD:
        results = map(_lint_star, work)
        pool = None
    else:
        try:
            ctx = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - no fork on this platform
            ctx = multiprocessing.get_context()
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
        results = pool.map(_lint_star, work, chunksize=max(1, min(32, len(work) // (jobs * 8))))
    try:
        for item in results:
            out.append(item)
            if progress is not None:
                progress(len(out), len(work))
    finally:
        if pool is not None:
            pool.shutdown()
    return out


class Progress:
    """A one-line progress report on a terminal's stderr, shown only for runs that last a while."""

    def __init__(self, stream, delay: float = 2.0) -> None:
        self.stream = stream
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self.start = time.monotonic()
        self.delay = delay
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.start < self.delay:
            return
        self.shown = True
        self.stream.write(f"\rgradlint: checked {done}/{total} files")
        self.stream.flush()

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
