"""`# noqa` comments, as ruff reads them.

- `# noqa` on a line suppresses every finding reported on that line;
- `# noqa: GL001` / `# noqa:GL001,GL003` / `# NOQA: GL001 GL002` suppress those codes only (whole
  codes; codes gradlint does not know, such as flake8's `E501`, are left alone);
- `# gradlint: noqa` on a line of its own exempts the whole file.

Only real comments count: the source is tokenized (only when it mentions "noqa" at all), so the text
`# noqa` inside a string does nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

_NOQA = re.compile(r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE_EXEMPT = re.compile(r"^#\s*gradlint\s*:\s*noqa\s*$", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

ALL = "ALL"


@dataclass
class NoqaMap:
    file_exempt: bool = False
    lines: dict[int, set[str] | str] = field(default_factory=dict)  # row -> codes, or ALL

    def codes_for_line(self, row: int) -> set[str] | str | None:
        return self.lines.get(row)


def parse_noqa(source: str) -> NoqaMap:
    result = NoqaMap()
    if "noqa" not in source.lower():
        return result
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return _parse_noqa_by_lines(source)
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        _add_comment(result, tok.string, tok.start[0], own_line=tok.line.strip() == tok.string.strip())
    return result


def _parse_noqa_by_lines(source: str) -> NoqaMap:
    """Fallback for files the tokenizer rejects (they will not parse either): read comments naively."""
    result = NoqaMap()
    for row, line in enumerate(source.splitlines(), start=1):
        idx = line.find("#")
        if idx >= 0:
            comment = line[idx:]
            _add_comment(result, comment, row, own_line=not line[:idx].strip())
    return result


def _add_comment(result: NoqaMap, comment: str, row: int, own_line: bool) -> None:
    if own_line and _FILE_EXEMPT.match(comment.strip()):
        result.file_exempt = True
        return
    m = _NOQA.search(comment)
    if m is None:
        return
    codes = m.group("codes")
    if codes is None:
        result.lines[row] = ALL
        return
    existing = result.lines.get(row)
    if existing == ALL:
        return
    found = {c.upper() for c in _CODE.findall(codes)}
    result.lines[row] = (existing or set()) | found  # type: ignore[operator]


def is_suppressed(row: int, code: str, noqa_map: NoqaMap) -> bool:
    codes = noqa_map.lines.get(row)
    if codes is None:
        return False
    return codes == ALL or code.upper() in codes
