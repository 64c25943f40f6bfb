"""Project-wide analysis in the language server (see gradlint.project for the analysis itself).

The server keeps, per project root, the summaries of the files it has read: open documents from their
buffers (the last lint of each; an open buffer overrides the file on disk) and other files from disk
(recomputed when their size or mtime changes). A document is linted with the facts the rest of the
project gives it (`lint`); when a lint changes what a document exports, the open documents whose facts
change are linted again (`dependents`), so editing `utils.py` updates `train.py`'s diagnostics.

Only the files that can matter are read: the modules the document's imports go through, and the files
that spell the name of one of its functions (its possible callers) — as in `gradlint check`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from gradlint.diagnostic import FileResult

_MAX_FILES = 20_000  # a workspace with more Python files than this is not indexed (files are linted alone)


@dataclass
class _Root:
    root: Path
    files: list[str]
    disk: dict[str, tuple[tuple[int, int], dict | None]] = field(default_factory=dict)  # path -> (stat, summary)
    buffers: dict[str, dict] = field(default_factory=dict)  # open documents' summaries
    facts_used: dict[str, str] = field(default_factory=dict)  # document -> digest of the facts of its last lint
    callers: dict[tuple[str, frozenset[str]], list[str]] = field(default_factory=dict)


class WorkspaceProjects:
    def __init__(self) -> None:
        self._roots: dict[str, _Root] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- roots and files

    def _root_for(self, filename: str, resolver) -> _Root | None:
        from gradlint.discovery import discover
        from gradlint.project import project_root

        try:
            cfg = resolver.config_for(Path(filename))
            root = project_root([filename], cfg.root if cfg.path is not None else None)
        except Exception:
            return None
        key = str(root)
        found = self._roots.get(key)
        if found is not None:
            return found
        try:
            files = [str(f) for f in discover([key], resolver).files if f.suffix == ".py"]
        except Exception:
            files = []
        if len(files) > _MAX_FILES:
            files = []
        found = self._roots[key] = _Root(root, files)
        return found

    def forget_files(self) -> None:
        """The set of files may have changed (files created, deleted, configuration changed): rediscover."""
        with self._lock:
            self._roots.clear()

    def _disk_summary(self, r: _Root, path: str, settings_for) -> dict | None:
        from gradlint.linter import summarize_source
        from gradlint.source import read_source

        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_size, st.st_mtime_ns)
        got = r.disk.get(path)
        if got is not None and got[0] == stamp:
            return got[1]
        try:
            summary = summarize_source(read_source(path), path, settings_for(path))
        except Exception:
            summary = None
        r.disk[path] = (stamp, summary)
        return summary

    def _project(self, r: _Root, filename: str, own: dict, settings_for):
        """The Project for `filename` with every summary its facts need."""
        from gradlint.project import Project, mentioning, wanted

        summaries = {p: s for p, s in r.buffers.items() if p != filename}
        summaries[filename] = own
        project = Project(r.root, r.files + [filename], summaries)
        # (callers matter only to these; a method's callers spell its class: `Trainer(...)`)
        names = wanted({filename: own})
        key = (filename, frozenset(names))
        callers = r.callers.get(key)
        if callers is None:
            others = [p for p in r.files if p != filename and p not in r.buffers]
            callers = r.callers[key] = mentioning(others, names, r.root)
        project.complete(callers, lambda paths: [self._disk_summary(r, p, settings_for) for p in paths],
                         focus={filename}, names=set(names))
        return project

    # ---------------------------------------------------------------- linting

    def lint(self, source: str, filename: str, settings, resolver, parse=None) -> tuple[FileResult, str]:
        """Lint a document's text as part of its project (on a worker thread). Returns the result and
        the digest of the facts it used. `parse`: the document's incremental parser (lint_source's `parse`)."""
        from gradlint.linter import lint_source
        from gradlint.project import facts_digest

        with self._lock:
            r = self._root_for(filename, resolver) if resolver is not None else None
            if r is None:
                return lint_source(source, filename, settings, parse=parse), ""
            settings_for = _settings_for(resolver, settings)
            if filename not in r.files and filename.endswith(".py") and os.path.exists(filename):
                r.files.append(filename)  # a file created since the folder was read
            own = r.buffers.get(filename)
            first = None
            if own is None:  # first lint of this document: its summary first
                first = lint_source(source, filename, settings, project=True, parse=parse)
                if first.summary is None:
                    return first, ""
                own = first.summary
            facts = self._project(r, filename, own, settings_for).link().get(filename)
            if first is not None and not facts:
                result = first
            else:
                result = lint_source(source, filename, settings, project=True, external=facts, prefilter=not facts,
                                     parse=parse)
            if result.summary is not None:
                changed = result.summary != own
                r.buffers[filename] = result.summary
                if changed and (result.summary["calls"] != own["calls"] or result.summary["defs"] != own["defs"]):
                    # what it imports changed: the facts may too (one more round, then it settles)
                    facts2 = self._project(r, filename, result.summary, settings_for).link().get(filename)
                    if facts_digest(facts2) != facts_digest(facts):
                        facts = facts2
                        result = lint_source(source, filename, settings, project=True, external=facts,
                                             prefilter=not facts, parse=parse)
                        if result.summary is not None:
                            r.buffers[filename] = result.summary
            digest = facts_digest(facts)
            r.facts_used[filename] = digest
            result.summary = None
            return result, digest

    def dependents(self, filename: str, open_files: list[str], resolver, settings_for_path) -> list[str]:
        """The open documents (other than `filename`) whose facts differ from those of their last lint."""
        from gradlint.project import facts_digest

        out = []
        with self._lock:
            r = None
            for cand in self._roots.values():
                if filename in cand.buffers:
                    r = cand
                    break
            if r is None:
                return []
            for other in open_files:
                if other == filename or other not in r.buffers:
                    continue
                try:
                    settings_for = _settings_for(resolver, settings_for_path(other))
                    facts = self._project(r, other, r.buffers[other], settings_for).link().get(other)
                except Exception:
                    continue
                if facts_digest(facts) != r.facts_used.get(other, ""):
                    out.append(other)
        return out

    def closed(self, filename: str) -> None:
        """A document was closed: its file on disk is what the project sees from now on."""
        with self._lock:
            for r in self._roots.values():
                r.buffers.pop(filename, None)
                r.facts_used.pop(filename, None)


def _settings_for(resolver, default):
    def get(path: str):
        try:
            return resolver.settings_for(Path(path))
        except Exception:
            return default
    return get
