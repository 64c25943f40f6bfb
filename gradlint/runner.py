"""Lint many files: one process for small runs, a process pool for large ones, and the result cache.

Output order never depends on scheduling: results come back in the order of the input files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
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
    return _lint_and_store(source, path, settings, cache, key)


def _lint_and_store(source: str, path: str, settings: Settings, cache: Cache | None, key: str | None,
                    **kwargs) -> tuple[FileResult, str | None]:
    """Lint (on a cache miss) and store the findings; never raises. Returns the result and, if there are
    findings, the source text."""
    from gradlint.linter import lint_source  # only on a cache miss: it imports LibCST

    try:
        result = lint_source(source, path, settings, **kwargs)
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
    """Lint every (path, settings), each file alone; `progress(done, total)` is called as results arrive."""
    return _map(_lint_star, [(path, settings, cache_root) for path, settings in jobs_in], jobs, progress)


def _map(fn: Callable, work: list, jobs: int, progress: Callable[[int, int], None] | None = None,
         offset: int = 0, total: int | None = None) -> list:
    """fn over work, in a process pool for large runs; results in the order of `work`."""
    total = len(work) if total is None else total
    out: list = []
    if jobs <= 1 or len(work) < POOL_THRESHOLD:
        results = map(fn, work)
        pool = None
    else:
        import multiprocessing  # (only here: a warm run never starts a pool)
        from concurrent.futures import ProcessPoolExecutor

        try:
            ctx = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - no fork on this platform
            ctx = multiprocessing.get_context()
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
        results = pool.map(fn, work, chunksize=max(1, min(32, len(work) // (jobs * 8))))
    try:
        for item in results:
            out.append(item)
            if progress is not None:
                progress(offset + len(out), total)
    finally:
        if pool is not None:
            pool.shutdown()
    return out


# ---------------------------------------------------------------------------------------- project-wide

def _read(path: str) -> tuple[str | None, FileError | None]:
    from gradlint.source import SourceError, read_source

    try:
        return read_source(path), None
    except SourceError as exc:
        return None, FileError(path, str(exc))
    except Exception as exc:  # pragma: no cover - defensive
        return None, FileError(path, f"cannot read: {exc}")


def _summary_key(source: str, settings: Settings, path: str) -> str:
    from gradlint.project import SUMMARY_VERSION

    return entry_key(source, settings_fingerprint(settings), path, [("summary", f"v{SUMMARY_VERSION}")])


def _project_first(args: tuple[str, Settings, str | None, bool]):
    """Step 1 of a project check, for one file: its summary and — for a file that is reported on — its
    findings as a file alone. Returns (result or None, source if it has findings, summary or None)."""
    path, settings, cache_root, report = args
    if path.lower().endswith(".ipynb"):
        return _project_first_notebook(path, settings, cache_root, report)
    source, error = _read(path)
    if source is None:
        return (FileResult(filename=path, error=error) if report else None), None, None
    cache = Cache(Path(cache_root)) if cache_root else None
    skey = _summary_key(source, settings, path) if cache else None
    summary = cache.get_summary(skey) if cache is not None and skey is not None else None
    try:
        if not report:
            if summary is None:
                from gradlint.linter import summarize_source

                summary = summarize_source(source, path, settings)
                if cache is not None and skey is not None and summary is not None:
                    cache.put_summary(skey, summary)
            return None, None, summary
        key = entry_key(source, settings_fingerprint(settings), path) if cache else None
        hit = cache.get(key, path, source) if cache is not None and key is not None else None
        if hit is not None and summary is not None:
            return FileResult(filename=path, diagnostics=hit), (source if hit else None), summary
        from gradlint.linter import lint_source

        result = lint_source(source, path, settings, project=True)
    except RecursionError:
        return (FileResult(filename=path, error=FileError(path, "too deeply nested to analyse")) if report
                else None), None, None
    except Exception as exc:  # an internal error must not stop the run
        if not report:
            return None, None, None
        return FileResult(filename=path, error=FileError(path, f"internal error: {type(exc).__name__}: {exc}")), \
            None, None
    summary, result.summary = result.summary, None
    if cache is not None and key is not None and result.error is None:
        cache.put(key, result.diagnostics)
        if summary is not None:
            cache.put_summary(skey, summary)
    return result, (source if result.diagnostics else None), summary


def _project_first_notebook(path: str, settings: Settings, cache_root: str | None, report: bool):
    """Step 1 for a notebook: its findings alone (if reported on) and its summary — one parse for both."""
    from gradlint.notebook import NotebookError, lint_notebook_one, load, notebook_summary

    try:
        nb = load(path)
    except (NotebookError, OSError, ValueError):
        nb = None
    except Exception:  # pragma: no cover - defensive
        nb = None
    cache = Cache(Path(cache_root)) if cache_root else None
    skey = None
    summary = None
    if nb is not None and nb.source and cache is not None:
        skey = _summary_key(nb.source, settings, path + "|ipynb")
        summary = cache.get_summary(skey)
    result = source = None
    if report:
        result, source = lint_notebook_one(path, settings, cache_root, project=summary is None)
        if summary is None and result.summary is not None:
            summary, result.summary = result.summary, None
            if cache is not None and skey is not None:
                cache.put_summary(skey, summary)
    if summary is None and nb is not None and nb.source:
        from gradlint.linter import summarize_source

        try:
            found = summarize_source(nb.source, path, settings)
        except Exception:
            found = None
        if found is not None:
            summary = notebook_summary(nb, found)
            if cache is not None and skey is not None:
                cache.put_summary(skey, summary)
    return result, source, summary


def _project_second(args: tuple[str, Settings, str | None, dict]):
    """Step 2, for a reported file the project tells something about: checked again with those facts."""
    path, settings, cache_root, facts = args
    if path.lower().endswith(".ipynb"):
        from gradlint.notebook import lint_notebook_one

        return lint_notebook_one(path, settings, cache_root, facts)
    from gradlint.project import facts_digest

    source, error = _read(path)
    if source is None:
        return FileResult(filename=path, error=error), None
    cache = Cache(Path(cache_root)) if cache_root else None
    key = entry_key(source, settings_fingerprint(settings), path, [("facts", facts_digest(facts))]) if cache else None
    if cache is not None and key is not None:
        hit = cache.get(key, path, source)
        if hit is not None:
            return FileResult(filename=path, diagnostics=hit), (source if hit else None)
    return _lint_and_store(source, path, settings, cache, key, prefilter=False, external=facts)


def lint_project(report: list[tuple[str, Settings]], others: list[tuple[str, Settings]], root: Path, jobs: int,
                 cache_root: str | None, progress: Callable[[int, int], None] | None = None
                 ) -> list[tuple[FileResult, str | None]]:
    """Check the `report` files as part of their project (`report` + `others`, see gradlint.project): every
    file's summary first, then the reported files that the rest of the project tells something about are
    checked again with those facts. Results in the order of `report`."""
    from gradlint.project import Project, mentioning, wanted

    work = [(p, s, cache_root, True) for p, s in report]
    firsts = _map(_project_first, work, jobs, progress)
    project = Project(root, [p for p, _ in report] + [p for p, _ in others],
                      {w[0]: f[2] for w, f in zip(work, firsts) if f[2] is not None})
    # The other files are read for facts only where they can matter: the files that spell the name of a
    # function of the reported files (its callers), and the modules the calls go through (packages,
    # re-export hubs, the files defining the imported functions), followed to a fixed point.
    settings_of = dict(others)
    if settings_of:
        # (only functions whose findings depend on their callers: the callers of the others tell nothing)
        # (a method's callers spell its class: `Trainer(...)`)
        names = wanted(project.summaries)
        project.complete(mentioning(sorted(settings_of), names, root), lambda paths: [
            g[2] for g in _map(_project_first, [(p, settings_of[p], cache_root, False) for p in paths], jobs)],
            readable=set(settings_of), focus={p for p, _ in report}, names=set(names))
    facts = project.link() if len(project.summaries) > 1 else {}
    out: list[tuple[FileResult, str | None]] = [(f[0], f[1]) for f in firsts]
    redo = [(i, (p, s, cache_root, facts[p])) for i, (p, s) in enumerate(report)
            if p in facts and out[i][0].error is None]
    if redo:
        again = _map(_project_second, [w for _, w in redo], jobs)
        for (i, _), res in zip(redo, again):
            out[i] = res
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
