"""The run index: the whole result of one `gradlint check`, reused as is when none of its inputs changed.

A check's findings are a function of: the files checked and the files read for facts (their paths, in
order, and their bytes), each file's settings (`cache.settings_fingerprint`, which includes gradlint's
build), whether the files are checked as a project and its root, and the working folder (messages name
other files relative to it). The per-file cache (gradlint/cache.py) already makes a warm run skip every
parse, but it still reads every file, looks up two entries per file and links the project's summaries.
The run index makes the common case — nothing changed since the last run — cost a `stat()` per file:

- its slot is keyed by the working folder, the mode and the project's root (or the paths given): one
  index per project, replaced by each run, so the cache folder does not grow with every set of files;
- it holds the digest of the run's inputs above (the file list and settings), and for every file its
  `stat()` signature (size, mtime, ctime, inode) and the SHA-256 of its bytes, and every reported file's
  findings;
- a file whose signature is unchanged is taken as unchanged (as git's index and ruff's cache do); any
  other file is read and hashed, so `touch` alone never costs a re-check. A file whose mtime or ctime was
  within `RACY_NS` of the run that wrote the index is never trusted by its signature (an edit in the same
  clock tick, of the same size, would otherwise go unseen: git's "racily clean" entries): it is hashed;
- any difference — a changed byte, a file added, removed or renamed, other settings, another build of
  gradlint — makes the index a miss: the run goes through the per-file cache (which re-checks exactly
  the files whose content or project facts changed) and writes a new index. A run in which a file changed
  while it was checked (its signature before and after differ) writes none;
- a run with a file that could not be checked (unreadable, undecodable, not parsable, an internal error)
  writes none either: such a result may depend on more than the file's bytes (its permissions);
- the index is untrusted input like every cache entry: it is validated, and the findings of each file are
  checked against that file's text (read anyway: the report quotes it) before they are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from gradlint.cache import Cache, diagnostics_from_json, diagnostics_to_json, _line_lengths, settings_fingerprint
from gradlint.diagnostic import FileResult
from gradlint.settings import Settings

INDEX_VERSION = 1
RACY_NS = 2_000_000_000  # a file changed this close to the index's run is hashed, never trusted by stat()
MAX_INDEX_BYTES = 256 * 1024 * 1024

Outcome = list[tuple[FileResult, "str | None"]]


def _sha(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, separators=(",", ":")).encode("utf-8", "surrogatepass")).hexdigest()


def _signature(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _digest(path: str) -> tuple[list[int], str] | None:
    """(signature, SHA-256 of the bytes) of a regular file, or None. The signature is taken before the
    bytes are read: an edit while reading makes the next run's signature differ."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None  # a FIFO or device: never opened here (reading could block)
        with open(path, "rb") as fh:
            data = fh.read()
    except (OSError, ValueError, MemoryError):
        return None
    return _signature(st), hashlib.sha256(data).hexdigest()


class RunIndex:
    """One check's run index. `report`: the files reported on (in output order) with their settings;
    `others`: files read for facts only; `mode`: what else the results depend on (project root or not)."""

    def __init__(self, cache_root: str, report: list[tuple[str, Settings]], others: list[tuple[str, Settings]],
                 mode: list[Any]) -> None:
        self.cache = Cache(Path(cache_root))
        self.paths = [p for p, _ in report] + [p for p, _ in others]
        self.reported = len(report)
        self.settings = [s for _, s in report]
        cwd = os.getcwd()
        self.slot = _sha(["run-index", INDEX_VERSION, cwd, mode])
        self.inputs = _sha([INDEX_VERSION, cwd, mode, [[p, settings_fingerprint(s)] for p, s in report],
                            [[p, settings_fingerprint(s)] for p, s in others]])
        self._stamps: list[tuple[list[int], str] | None] | None = None  # before the run: (signature, digest)
        self._started = 0

    # ----------------------------------------------------------------------------------- reading

    def lookup(self) -> Outcome | None:
        """The stored results if no input changed since they were stored; None otherwise."""
        self._started = time.time_ns()
        doc = self.cache.get_document(self.slot, MAX_INDEX_BYTES)
        same_run, known = self._known(doc)
        stamps: list[tuple[list[int], str] | None] = []
        unchanged = same_run
        refresh = False
        for path in self.paths:
            old = known.get(path)
            if old is not None and old[2]:  # trusted: an unchanged signature means unchanged bytes
                try:
                    st = os.stat(path)
                except (OSError, ValueError):
                    st = None
                if st is not None and _signature(st) == old[0]:
                    stamps.append((old[0], old[1]))
                    continue
            now = _digest(path)
            stamps.append(now)
            if now is None or old is None or now[1] != old[1]:
                unchanged = False
            elif not old[2] or now[0] != old[0]:
                refresh = True  # same bytes, another signature, or now old enough to be trusted
        self._stamps = stamps
        if not unchanged:
            return None
        assert doc is not None
        out = self._results(doc["results"])
        if out is not None and refresh:
            self._write(doc["results"])
        return out

    def _known(self, doc: Any) -> tuple[bool, dict[str, tuple[list[int], str, bool]]]:
        """(is `doc` an index of this very run?, the (signature, digest, trusted) it holds for each path).
        The files of an index of another run (a file added, other settings) are still known: only the
        files whose signature changed since are read."""
        if type(doc) is not dict or doc.get("v") != INDEX_VERSION:
            return False, {}
        files, results = doc.get("files"), doc.get("results")
        if type(files) is not list or type(results) is not list:
            return False, {}
        known: dict[str, tuple[list[int], str, bool]] = {}
        for f in files:
            if type(f) is not list or len(f) != 4 or type(f[0]) is not str or type(f[1]) is not list \
                    or len(f[1]) != 4 or not all(type(x) is int for x in f[1]) or type(f[2]) is not str \
                    or type(f[3]) is not bool:
                return False, {}
            known[f[0]] = (f[1], f[2], f[3])
        same = doc.get("inputs") == self.inputs and len(results) == self.reported \
            and [f[0] for f in files] == self.paths
        return same, known

    def _results(self, results: list) -> Outcome | None:
        """The stored findings, each file's checked against its text (which the report needs anyway)."""
        out: Outcome = []
        for path, data in zip(self.paths, results):
            if type(data) is not list:
                return None
            if not data:
                out.append((FileResult(filename=path), None))
                continue
            checked = _notebook_findings(path, data) if path.lower().endswith(".ipynb") else _source_findings(path, data)
            if checked is None:
                return None
            out.append((FileResult(filename=path, diagnostics=checked[0]), checked[1]))
        return out

    # ----------------------------------------------------------------------------------- writing

    def store(self, outcome: Outcome) -> None:
        """Store a run's results (those of `lookup()`'s miss), unless a file changed during the run or
        could not be checked."""
        if self._stamps is None or len(outcome) != self.reported:
            return
        if any(res.error is not None for res, _ in outcome) or any(s is None for s in self._stamps):
            return
        for path, (sig, _) in zip(self.paths, self._stamps):
            try:
                if _signature(os.stat(path)) != sig:
                    return  # changed while it was checked: which text the results are of is unknown
            except (OSError, ValueError):
                return
        self._write([diagnostics_to_json(res.diagnostics) for res, _ in outcome])

    def _write(self, results: list) -> None:
        assert self._stamps is not None
        horizon = self._started - RACY_NS
        files = []
        for path, stamp in zip(self.paths, self._stamps):
            assert stamp is not None
            sig, digest = stamp
            files.append([path, sig, digest, sig[1] < horizon and sig[2] < horizon])
        self.cache.put_document(self.slot, {"v": INDEX_VERSION, "inputs": self.inputs, "files": files,
                                            "results": results})


def _source_findings(path: str, data: list) -> tuple[list, str] | None:
    from gradlint.source import SourceError, read_source

    try:
        source = read_source(path)
    except (SourceError, OSError, ValueError):
        return None
    found = diagnostics_from_json(data, path, _line_lengths(source))
    return None if found is None else (found, source)


def _notebook_findings(path: str, data: list) -> tuple[list, str] | None:
    """A notebook's findings are placed in its cells: each is checked against its cell's text."""
    from gradlint.notebook import load

    try:
        nb = load(path)
    except Exception:
        return None
    cells = {c.number: _line_lengths(c.text) for c in nb.cells}
    out = []
    for d in data:
        cell = d.get("cell") if type(d) is dict else None
        if type(cell) is not int or cell not in cells:
            return None
        found = diagnostics_from_json([d], path, cells[cell])
        if found is None:
            return None
        out += found
    return out, nb.raw
