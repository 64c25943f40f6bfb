"""Result cache: a file's diagnostics keyed by everything they depend on — its content hash, gradlint's
build, the effective settings (selected rules after per-file-ignores, rule options), the file's path as
the linter sees it (which decides, e.g., whether it is a test file: nine rules are silent in test files),
and, once project-wide analysis exists, the digests of the project summaries the file's analysis used
(`entry_key(..., summaries=...)`: empty today).

Layout: `<cache dir>/v1/<first two hex digits>/<key>.json`, plus `CACHEDIR.TAG` and a `.gitignore` of
`*` in the cache dir. Entries are written to a temporary file and renamed into place, so several gradlint
processes can share one cache.

The cache folder is untrusted input (a cloned repository can ship one): every entry is validated
(size, JSON depth, every field's type, positions within the file's text) and anything unexpected is a
miss, rewritten by the next put(); symbolic links are never followed — not the cache folder itself, not
its sub-folders, not an entry — so nothing is read or written outside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gradlint import __version__
from gradlint.catalog import rule_url
from gradlint.diagnostic import Applicability, Diagnostic, Edit, Fix, Location, Related
from gradlint.settings import Settings

CACHE_VERSION = "v1"
DEFAULT_DIR = ".gradlint_cache"
TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by gradlint.\n"


def cache_dir(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get("GRADLINT_CACHE_DIR") or DEFAULT_DIR)


_CODE_STAMP: str | None = None


def code_stamp() -> str:
    """Which build of gradlint this is: the version, plus the size and mtime of every module of the
    package (so an editable or development install that changed a rule never reads stale results)."""
    global _CODE_STAMP
    if _CODE_STAMP is None:
        import gradlint

        h = hashlib.sha256(__version__.encode())
        for base in sorted(set(gradlint.__path__)):
            for sub in ("", "model", "report", "verify", "rules"):
                folder = Path(base) / sub
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError:
                    continue
                for e in entries:
                    if e.name.endswith(".py"):
                        st = e.stat()
                        h.update(f"{sub}/{e.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        _CODE_STAMP = h.hexdigest()[:16]
    return _CODE_STAMP


_FINGERPRINTS: dict[Settings, str] = {}


def settings_fingerprint(settings: Settings) -> str:
    """A digest of everything in `settings` that findings depend on, plus gradlint's build (memoised: a
    run resolves one Settings per file, most of them equal)."""
    got = _FINGERPRINTS.get(settings)
    if got is None:
        got = _FINGERPRINTS[settings] = _fingerprint(settings)
    return got


def _fingerprint(settings: Settings) -> str:
    opts = settings.options
    data = json.dumps(
        [code_stamp(), sorted(settings.selected), opts.all_eval_function_patterns, opts.all_model_names,
         settings.bugs_only, rule_url("GL000", settings.docs_url)],
        separators=(",", ":"),
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def entry_key(source: str, fingerprint: str, path: str | None = None,
              summaries: Iterable[tuple[str, str]] = ()) -> str:
    """The entry's key: the text, the settings' fingerprint, the path exactly as the linter is given it
    (everything path-dependent — test-file status, path-dependent settings — follows from it), and the
    (name, digest) pairs of the project summaries the analysis used (a hook for project-wide analysis)."""
    h = hashlib.sha256(source.encode("utf-8", "surrogatepass"))
    h.update(b"\0" + fingerprint.encode())
    if path is not None:
        h.update(b"\0path\0" + path.encode("utf-8", "surrogatepass"))
    for name, digest in sorted(summaries):
        h.update(f"\0summary\0{name}\0{digest}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


MAX_ENTRY_BYTES = 4 * 1024 * 1024  # a larger entry is not one gradlint wrote for a file it analysed
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIR_FD = os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd and os.rename in os.supports_dir_fd
_KEY = re.compile(r"[0-9a-f]{64}")


class _Invalid(Exception):
    pass


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._ready = False

    # ---------------------------------------------------------------- folders, never through a link

    def _open_dir(self, parts: tuple[str, ...], create: bool) -> int | None:
        """A descriptor of root/parts..., each component a real folder (not a symbolic link); None if
        that is not so (or cannot be created)."""
        if not _DIR_FD or not _O_NOFOLLOW:
            return None  # no safe way to refuse links on this platform: no cache
        flags = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
        try:
            if create:
                os.makedirs(self.root, exist_ok=True)
            fd = os.open(self.root, flags)  # the cache folder itself must not be a link either
        except OSError:
            return None
        for part in parts:
            try:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError:
                os.close(fd)
                return None
            os.close(fd)
            fd = nfd
        return fd

    def _ensure(self) -> None:
        if self._ready:
            return
        fd = self._open_dir((CACHE_VERSION,), create=True)
        if fd is not None:
            os.close(fd)
        fd = self._open_dir((), create=False)
        if fd is not None:
            try:
                for name, text in (("CACHEDIR.TAG", TAG), (".gitignore", "*\n")):
                    try:  # O_EXCL + O_NOFOLLOW: never written through a planted link, never overwritten
                        wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC,
                                      0o644, dir_fd=fd)
                    except OSError:
                        continue
                    with os.fdopen(wfd, "w") as fh:
                        fh.write(text)
            finally:
                os.close(fd)
        self._ready = True

    def _path(self, key: str) -> Path:
        return self.root / CACHE_VERSION / key[:2] / f"{key}.json"

    # ---------------------------------------------------------------- entries

    def get(self, key: str, filename: str, source: str | None = None) -> list[Diagnostic] | None:
        """The cached diagnostics, or None (a miss) if there is no valid entry. With `source`, every
        position is also checked to lie within that text."""
        if not _KEY.fullmatch(key):
            return None
        raw = self._read(key)
        if raw is None or not _shallow(raw):
            return None
        try:
            data = json.loads(raw)
            # (the text's lines are split only when there is a position to check: most entries are empty)
            lines = _line_lengths(source) if source is not None and type(data) is dict and data.get("diagnostics") \
                else None
            return _validated(data, filename, lines)
        except (ValueError, KeyError, TypeError, IndexError, RecursionError, _Invalid):
            return None  # corrupt or unexpected: a miss, rewritten by put()

    def _read(self, key: str, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
        dfd = self._open_dir((CACHE_VERSION, key[:2]), create=False)
        if dfd is None:
            return None
        try:
            fd = os.open(f"{key}.json", os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK, dir_fd=dfd)
        except OSError:
            return None
        finally:
            os.close(dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            with os.fdopen(fd, "rb") as fh:
                fd = -1
                raw = fh.read(limit + 1)
                return raw if len(raw) <= limit else None
        except OSError:
            return None
        finally:
            if fd >= 0:
                os.close(fd)

    def put(self, key: str, diagnostics: list[Diagnostic]) -> None:
        if not _KEY.fullmatch(key):
            return
        try:
            self._ensure()
            payload = json.dumps({"diagnostics": diagnostics_to_json(diagnostics)}).encode()
            self._write(key, payload)
        except OSError:
            pass  # a cache that cannot be written is only slower

    def get_document(self, key: str, limit: int = MAX_ENTRY_BYTES):
        """Any JSON document stored under `key` (not validated: the caller does), or None. `limit`: its
        largest size in bytes."""
        if not _KEY.fullmatch(key):
            return None
        raw = self._read(key, limit)
        if raw is None or not _shallow(raw):
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return None

    def put_document(self, key: str, document: Any) -> None:
        if not _KEY.fullmatch(key):
            return
        try:
            self._ensure()
            self._write(key, json.dumps(document, separators=(",", ":")).encode())
        except (OSError, ValueError):
            pass

    def get_summary(self, key: str) -> dict | None:
        """A file's project summary (gradlint.project), validated; None on a miss."""
        from gradlint.project import valid_summary

        data = self.get_document(key)
        return data if data is not None and valid_summary(data) else None

    def put_summary(self, key: str, summary: dict) -> None:
        if not _KEY.fullmatch(key):
            return
        try:
            self._ensure()
            self._write(key, json.dumps(summary, separators=(",", ":")).encode())
        except (OSError, ValueError):
            pass

    def _write(self, key: str, payload: bytes) -> None:
        try:
            dfd = self._open_dir((CACHE_VERSION, key[:2]), create=True)
            if dfd is None:
                return
            try:
                tmp = f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
                wfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o644,
                              dir_fd=dfd)
                try:
                    with os.fdopen(wfd, "wb") as fh:
                        fh.write(payload)
                    # rename() replaces a link planted at the entry's name; it never writes through it
                    os.replace(tmp, f"{key}.json", src_dir_fd=dfd, dst_dir_fd=dfd)
                except BaseException:
                    try:
                        os.unlink(tmp, dir_fd=dfd)
                    except OSError:
                        pass
                    raise
            finally:
                os.close(dfd)
        except OSError:
            pass  # a cache that cannot be written is only slower


_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")
MAX_JSON_DEPTH = 8  # an entry is {"diagnostics": [{"fix": {"edits": [[...]]}}]}: 6 levels


def _shallow(raw: bytes) -> bool:
    """Is the JSON nested at most MAX_JSON_DEPTH deep? Checked before parsing: a deeply nested document
    makes json.loads recurse (a RecursionError, or worse with a raised recursion limit)."""
    depth = 0
    for ch in _NOT_BRACKETS.sub(b"", _JSON_STRINGS.sub(b"", raw)):
        depth += 1 if ch in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            return False
    return True


def diagnostics_to_json(diagnostics: list[Diagnostic]) -> list[dict]:
    """The diagnostics as cache entries hold them (read back by `diagnostics_from_json`)."""
    return [
        {"code": d.code, "name": d.name, "message": d.message,
         "location": [d.location.row, d.location.column],
         "end_location": [d.end_location.row, d.end_location.column],
         "noqa_row": d.noqa_row, "url": d.url, "fix": _fix_to(d.fix), "cell": d.cell,
         "tier": d.tier, "related": [[r.filename, r.row, r.column, r.message] for r in d.related]}
        for d in diagnostics
    ]


def diagnostics_from_json(data: Any, filename: str, lines: list[int] | None) -> list[Diagnostic] | None:
    """Diagnostics read back from untrusted JSON, validated (every position within `lines`, the lengths of
    the text's lines, when given); None if anything is unexpected."""
    try:
        return _validated({"diagnostics": data}, filename, lines)
    except (ValueError, KeyError, TypeError, IndexError, RecursionError, _Invalid):
        return None


def _line_lengths(source: str) -> list[int]:
    """Length (code points, newline excluded) of each line, as positions count them."""
    return [len(line) for line in re.split(r"\r\n|\r|\n", source)]


def _is_int(v: Any) -> bool:
    return type(v) is int


def _opt_int(v: Any) -> bool:
    return v is None or (type(v) is int and v >= 1)


def _loc(v: Any, lines: list[int] | None) -> Location:
    if type(v) is not list or len(v) != 2 or not all(_is_int(x) for x in v) or v[0] < 1 or v[1] < 1:
        raise _Invalid
    if lines is not None:
        # a position may be just past a line's end, or (an end) the start of the line after the last
        if v[0] > len(lines) + 1 or (v[0] <= len(lines) and v[1] > lines[v[0] - 1] + 1) \
                or (v[0] == len(lines) + 1 and v[1] != 1):
            raise _Invalid
    return Location(v[0], v[1])


def _str(v: Any, optional: bool = False) -> Any:
    if (v is None and optional) or type(v) is str:
        return v
    raise _Invalid


def _validated(data: Any, filename: str, lines: list[int] | None) -> list[Diagnostic]:
    if type(data) is not dict or set(data) != {"diagnostics"} or type(data["diagnostics"]) is not list:
        raise _Invalid
    out = []
    for d in data["diagnostics"]:
        if type(d) is not dict or set(d) != _FIELDS:
            raise _Invalid
        code = _str(d["code"])
        if not _CODE.fullmatch(code):
            raise _Invalid
        cell = d["cell"]
        if not _opt_int(cell) or not _opt_int(d["noqa_row"]):
            raise _Invalid
        # notebook cells are positioned within their cell: checked against the joined text's lines
        start, end = _loc(d["location"], lines), _loc(d["end_location"], lines)
        if end < start:
            raise _Invalid
        out.append(Diagnostic(
            code=code, name=_str(d["name"]), message=_str(d["message"]), filename=filename,
            location=start, end_location=end, fix=_fix_from(d["fix"], lines),
            noqa_row=d["noqa_row"], url=_str(d["url"], optional=True), cell=cell, tier=_tier(d["tier"]),
            related=_related(d["related"]),
        ))
    return out


_FIELDS = {"code", "name", "message", "location", "end_location", "noqa_row", "url", "fix", "cell", "tier", "related"}


def _related(value: Any) -> tuple[Related, ...]:
    if type(value) is not list or len(value) > 100:
        raise _Invalid
    out = []
    for r in value:
        if type(r) is not list or len(r) != 4 or not _is_int(r[1]) or not _is_int(r[2]) or r[1] < 1 or r[2] < 1:
            raise _Invalid
        out.append(Related(_str(r[0]), r[1], r[2], _str(r[3])))
    return tuple(out)


def _tier(value: Any) -> str:
    if value not in ("bug", "hygiene"):
        raise _Invalid
    return value
_CODE = re.compile(r"GL[0-9]{3}")


def _fix_to(fix: Fix | None) -> dict | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "message": fix.message,
        "edits": [[e.content, e.location.row, e.location.column, e.end_location.row, e.end_location.column]
                  for e in fix.edits],
    }


def _fix_from(data: Any, lines: list[int] | None) -> Fix | None:
    if data is None:
        return None
    if type(data) is not dict or set(data) != {"applicability", "message", "edits"} \
            or type(data["edits"]) is not list:
        raise _Invalid
    edits = []
    for e in data["edits"]:
        if type(e) is not list or len(e) != 5:
            raise _Invalid
        start, end = _loc(e[1:3], lines), _loc(e[3:5], lines)
        if end < start:
            raise _Invalid
        edits.append(Edit(_str(e[0]), start, end))
    return Fix(applicability=Applicability(_str(data["applicability"])), message=_str(data["message"]),
               edits=tuple(edits))
