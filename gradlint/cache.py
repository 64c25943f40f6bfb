"""Result cache: a file's diagnostics keyed by its content hash, gradlint's version and the effective
settings (selected rules and rule options).

Layout: `<cache dir>/v1/<first two hex digits>/<key>.json`, plus `CACHEDIR.TAG` and a `.gitignore` of
`*` in the cache dir. Entries are written to a temporary file and renamed into place, so several gradlint
processes can share one cache; an unreadable or corrupt entry counts as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from gradlint import __version__
from gradlint.catalog import rule_url
from gradlint.diagnostic import Applicability, Diagnostic, Edit, Fix, Location
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


def settings_fingerprint(settings: Settings) -> str:
    opts = settings.options
    data = json.dumps(
        [code_stamp(), sorted(settings.selected), opts.all_eval_function_patterns, opts.all_model_names,
         settings.bugs_only, rule_url("GL000", settings.docs_url)],
        separators=(",", ":"),
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def entry_key(source: str, fingerprint: str) -> str:
    h = hashlib.sha256(source.encode("utf-8", "surrogatepass"))
    h.update(fingerprint.encode())
    return h.hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        (self.root / CACHE_VERSION).mkdir(parents=True, exist_ok=True)
        for name, text in (("CACHEDIR.TAG", TAG), (".gitignore", "*\n")):
            p = self.root / name
            if not p.exists():
                try:
                    p.write_text(text)
                except OSError:
                    pass
        self._ready = True

    def _path(self, key: str) -> Path:
        return self.root / CACHE_VERSION / key[:2] / f"{key}.json"

    def get(self, key: str, filename: str) -> list[Diagnostic] | None:
        try:
            raw = self._path(key).read_bytes()
        except OSError:
            return None
        try:
            data = json.loads(raw)
            return [
                Diagnostic(
                    code=d["code"], name=d["name"], message=d["message"], filename=filename,
                    location=Location(*d["location"]), end_location=Location(*d["end_location"]),
                    fix=_fix_from(d.get("fix")), noqa_row=d["noqa_row"], url=d["url"], cell=d.get("cell"),
                    tier=d["tier"],
                )
                for d in data["diagnostics"]
            ]
        except (ValueError, KeyError, TypeError):
            return None  # corrupt: a miss, rewritten by put()

    def put(self, key: str, diagnostics: list[Diagnostic]) -> None:
        try:
            self._ensure()
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps({"diagnostics": [
                {"code": d.code, "name": d.name, "message": d.message,
                 "location": [d.location.row, d.location.column],
                 "end_location": [d.end_location.row, d.end_location.column],
                 "noqa_row": d.noqa_row, "url": d.url, "fix": _fix_to(d.fix), "cell": d.cell,
                 "tier": d.tier}
                for d in diagnostics
            ]})
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is only slower


def _fix_to(fix: Fix | None) -> dict | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "message": fix.message,
        "edits": [[e.content, e.location.row, e.location.column, e.end_location.row, e.end_location.column]
                  for e in fix.edits],
    }


def _fix_from(data: dict | None) -> Fix | None:
    if data is None:
        return None
    return Fix(
        applicability=Applicability(data["applicability"]),
        message=data["message"],
        edits=tuple(Edit(content, Location(r, c), Location(er, ec)) for content, r, c, er, ec in data["edits"]),
    )
