"""gitignore-style patterns (used for .gitignore files and for `exclude` / `extend-exclude`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    source: str


@lru_cache(maxsize=4096)
def compile_pattern(line: str) -> Pattern | None:
    """One gitignore line -> Pattern (None for blanks and comments). Matched against a path relative to
    the directory holding the pattern, with forward slashes and no leading slash."""
    raw = line.rstrip("\n").rstrip("\r")
    if not raw.strip() or raw.startswith("#"):
        return None
    # trailing spaces are ignored unless escaped
    while raw.endswith(" ") and not raw.endswith("\\ "):
        raw = raw[:-1]
    negated = raw.startswith("!")
    if negated:
        raw = raw[1:]
    if raw.startswith("\\#") or raw.startswith("\\!"):
        raw = raw[1:]
    dir_only = raw.endswith("/")
    raw = raw.rstrip("/")
    if not raw:
        return None
    anchored = "/" in raw
    raw = raw.lstrip("/")
    regex = _translate(raw)
    prefix = "" if anchored else "(?:.*/)?"
    return Pattern(re.compile(f"^{prefix}{regex}$"), negated, dir_only, line)


def _translate(pat: str) -> str:
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                before_ok = i == 0 or pat[i - 1] == "/"
                after = pat[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if before_ok and i + 2 == n:
                    out.append(".*")
                    i += 2
                    continue
                out.append("[^/]*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pat[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class PatternList:
    """Patterns that apply below one directory; the last matching pattern decides."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns = [p for p in (compile_pattern(line) for line in lines) if p is not None]

    def match(self, relpath: str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a negation, None: no pattern matched."""
        result: bool | None = None
        for p in self.patterns:
            if p.dir_only and not is_dir:
                continue
            if p.regex.match(relpath):
                result = not p.negated
        return result
