"""`# noqa` suppression comments, read the way ruff reads them.

Public API (stable; the linter, the fixer and the language server use it)::

    noqa_map = parse_noqa(source)            # once per file
    noqa_map.file_exempt                     # True: `# gradlint: noqa` -> report nothing in this file
    noqa_map.file_codes                      # codes from `# gradlint: noqa: GL001, GL003` (whole file)
    noqa_map.codes_for_line(row)             # ALL, or the set of codes named on that row (empty: none)
    noqa_map.noqa_row(row)                   # the row whose `# noqa` covers a finding on `row`
    is_suppressed(row, code, noqa_map)       # should a finding of `code` starting on `row` be dropped?

Rows are 1-based, as in `Diagnostic.location.row`.

Line directives (on the line of the finding):

- `# noqa` suppresses every finding on that line; so does `# noqa because reasons` (ruff: text after a
  blank `noqa` that does not start with `:` is a comment);
- `# noqa: GL001`, `# noqa:GL001,GL003`, `# NOQA : GL001 GL002`, `# noqa: GL001, GL003  why` suppress the
  named codes only. Codes are `[A-Za-z]+[0-9]+`, separated by commas and/or whitespace; the list ends at
  the first word that is not a code. Codes gradlint does not know (flake8's `E501`, ruff's `F401`) are
  kept but never match, so they suppress nothing here;
- the directive may follow other comment text: `# type: ignore  # noqa: GL003`;
- malformed directives are ignored rather than read as a blanket `noqa`: `#noqaGL001`, `# noqa; GL001`,
  `# noqa:` with no code.

File directives (a comment on a line of its own — any indentation —, anywhere in the file):

- `# gradlint: noqa` exempts the whole file;
- `# gradlint: noqa: GL001, GL003` exempts the file from those codes only.
  (`# ruff: noqa` / `# flake8: noqa` belong to those tools and do not silence gradlint.)

Which line a finding's `# noqa` must be on (`noqa_row`, as ruff): the finding's own line, except that a
finding inside a multi-line string, or on a line joined to the next by a backslash, is covered by the
`# noqa` on the last line of that string / backslash-continued line.

Only real comments count: the source is tokenized (only when it mentions "noqa" at all), so `# noqa`
inside a string does nothing. If the tokenizer rejects the file (it will not parse either) comments are
found line by line instead.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

ALL = "ALL"

_NOQA_WORD = re.compile(r"noqa", re.IGNORECASE)
_FILE_DIRECTIVE = re.compile(r"#\s*gradlint\s*:\s*(?=noqa)", re.IGNORECASE)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")
_EMPTY: frozenset[str] = frozenset()


@dataclass
class NoqaMap:
    """The suppression comments of one file."""

    file_exempt: bool = False
    file_codes: set[str] = field(default_factory=set)
    lines: dict[int, set[str] | str] = field(default_factory=dict)  # row -> codes, or ALL
    # row -> row holding its `# noqa` (only rows inside multi-line strings / backslash continuations)
    row_map: dict[int, int] = field(default_factory=dict)

    def codes_for_line(self, row: int) -> set[str] | frozenset[str] | str:
        """ALL for a blanket `# noqa` on `row`, else the codes it names (empty if no directive)."""
        return self.lines.get(row, _EMPTY)

    def noqa_row(self, row: int) -> int:
        """The row whose `# noqa` applies to a finding that starts on `row`."""
        return self.row_map.get(row, row)


def parse_noqa(source: str) -> NoqaMap:
    """Find every `# noqa` / `# gradlint: noqa` comment in `source` (text, line endings as read)."""
    result = NoqaMap()
    if "noqa" not in source.lower():
        return result
    try:
        # Rows as Python counts them: `\r\n`, `\r` and `\n` all end a line (tokenize only knows `\n`).
        text = source.replace("\r\n", "\n").replace("\r", "\n") if "\r" in source else source
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return _parse_noqa_by_lines(source)
    spans: list[tuple[int, int]] = []  # (first, last) rows that read as one line
    prev: tokenize.TokenInfo | None = None
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            own_line = tok.line[: tok.start[1]].strip() == ""
            _add_comment(result, tok.string, tok.start[0], own_line)
        elif tok.end[0] > tok.start[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
            spans.append((tok.start[0], tok.end[0]))  # a multi-line string
        if (
            prev is not None
            and tok.start[0] > prev.end[0]
            and prev.type not in _LINE_ENDS
            and tok.type not in (tokenize.DEDENT, tokenize.ENDMARKER)
        ):
            spans.append((prev.end[0], tok.start[0]))  # a backslash continuation
        prev = tok
    result.row_map = _row_map(spans)
    return result


_LINE_ENDS = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)


def _row_map(spans: list[tuple[int, int]]) -> dict[int, int]:
    """Merge overlapping row spans; every row of a merged span maps to its last row."""
    out: dict[int, int] = {}
    merged: list[list[int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    for first, last in merged:
        for r in range(first, last):
            out[r] = last
    return out


def _parse_noqa_by_lines(source: str) -> NoqaMap:
    """Fallback for files the tokenizer rejects (they will not parse either): read comments naively."""
    result = NoqaMap()
    for row, line in enumerate(re.split(r"\r\n|\r|\n", source), start=1):
        idx = line.find("#")
        if idx >= 0:
            _add_comment(result, line[idx:], row, own_line=not line[:idx].strip())
    return result


def _add_comment(result: NoqaMap, comment: str, row: int, own_line: bool) -> None:
    if not _NOQA_WORD.search(comment):
        return
    if own_line:
        file_directive = _lex_file_directive(comment)
        if file_directive is not None:
            if file_directive == ALL:
                result.file_exempt = True
            else:
                result.file_codes |= file_directive  # type: ignore[arg-type]
            return
    directive = _lex_inline(comment)
    if directive is None:
        return
    if directive == ALL:
        result.lines[row] = ALL
        return
    existing = result.lines.get(row)
    if existing == ALL:
        return
    result.lines[row] = set(existing or ()) | directive  # type: ignore[arg-type]


def _lex_file_directive(comment: str) -> set[str] | str | None:
    """`# gradlint: noqa[: codes]` anywhere in the comment (after other `#` text too)."""
    for m in _FILE_DIRECTIVE.finditer(comment):
        d = _lex_directive(comment, m.end() + 4)
        if d is not None:
            return d
    return None


def _lex_inline(comment: str) -> set[str] | str | None:
    """The first `# noqa...` in the comment: `#`, optional whitespace, `noqa` (any case), then the rest."""
    i = 0
    while True:
        i = comment.find("#", i)
        if i < 0:
            return None
        j = i + 1
        while j < len(comment) and comment[j].isspace():
            j += 1
        if comment[j : j + 4].lower() == "noqa":
            return _lex_directive(comment, j + 4)
        i += 1


def _lex_directive(text: str, pos: int) -> set[str] | str | None:
    """What follows `noqa` at text[pos:]: ALL, a set of codes, or None for a malformed directive."""
    rest = text[pos:]
    if not rest or rest[0] == "#":
        return ALL  # `# noqa`, `# noqa# comment`
    if rest[0] != ":":
        if not rest[0].isspace():
            return None  # `#noqaGL001`, `# noqa; GL001`: not a directive (ruff warns and ignores it)
        stripped = rest.lstrip()
        if not stripped.startswith(":"):
            return ALL  # `# noqa because ...`
        rest = stripped
    codes: set[str] = set()
    for word in re.split(r"[\s,]+", rest[1:].strip()):
        if not word:
            continue
        if word.startswith("#"):
            break
        m = _CODE.match(word)
        if m is None:
            break  # `# noqa: GL001 the reason`: the list ends at the first non-code
        codes.add(m.group(0).upper())
        if m.end() != len(word):
            # `GL001#comment` or `GL001GL002` (joined codes, as ruff reads them)
            tail = word[m.end():]
            joined = _CODE.findall(tail) if not tail.startswith("#") else []
            codes.update(c.upper() for c in joined)
            break
    return codes or None  # `# noqa:` with no code suppresses nothing


def is_suppressed(row: int, code: str, noqa_map: NoqaMap) -> bool:
    """True if a finding of `code` starting on `row` is silenced by a `# noqa` or a file directive.

    Also honours `noqa_map.file_exempt`, so a caller may skip that check (checking it first is faster).
    """
    code = code.upper()
    if noqa_map.file_exempt or code in noqa_map.file_codes:
        return True
    codes = noqa_map.lines.get(noqa_map.row_map.get(row, row))
    if codes is None:
        return False
    return codes == ALL or code in codes
