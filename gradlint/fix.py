"""Fixes: turning a rule's node edits into text edits, and applying them to a file's text.

This module never imports the linter (as ruff's `fix/mod.rs`): rules build fixes with gradlint/edits.py,
the linter resolves them here (`resolve_fix`) and runs the fix-and-relint loop (`gradlint.linter.lint_fix`)
with `apply_edits`; the `check` command's fix options and file writing live in gradlint/cli.py.

Public API:

    resolve_fix(spec, module, positions, source) -> Fix | None
        (used by the linter) a rule's `FixSpec` as a `gradlint.diagnostic.Fix`: text edits with 1-based
        `location`/`end_location` (end exclusive, ruff's convention); None when the spec cannot be
        resolved (a node that is not in the tree, a "whole lines" edit on a node that shares its line
        with other code, edits of one fix that overlap).
    apply_edits(source, fixes) -> (new_source, applied)
        one pass: applies every fix whose edits do not overlap an edit already taken (fixes in source
        order; an edit identical to one already taken counts as shared). `applied` lists the fixes
        taken (or already fully present).
    FixResult, parse_problem(text, compiled_before, filename), compiles(text, filename)
        what the fix-and-relint loop (gradlint.linter.lint_fix) returns and checks each pass with.
    write_fixed(path, original, new_text) -> None
        atomic write (temp file in the same folder + rename) keeping permissions, encoding and BOM;
        `original` is the `gradlint.source.SourceFile` the text was read from.
    unified_diff(path, old, new) -> str

Text conventions of the edit primitives (gradlint/edits.py): every "\\n" in an edit's content is written
with the file's line ending (the ending of the line the edit starts on; CRLF files stay CRLF); the
relative lines of `ReplaceLines`/`InsertLinesBefore` get the indentation of their anchor line, and
their own leading indentation, written in units of four spaces, is converted to the file's indentation
unit (tabs in a tab-indented file). A decorated `def`/`class` spans from its first decorator.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.diagnostic import Applicability, Diagnostic, Edit, Fix, Location
from gradlint.edits import (InsertAfter, InsertBefore, InsertLinesAfter, InsertLinesBefore, Replace, ReplaceLines,
                            WrapInBlock)
from gradlint.model.walk import ParentMap, iter_nodes

if TYPE_CHECKING:
    from gradlint.source import SourceFile

MAX_PASSES = 10
_NEWLINE = re.compile(r"\r\n|\r|\n")

# ============================================================================ resolving node edits


class _Unresolvable(Exception):
    pass


class _Text:
    """Line table of a source text: rows are split the way Python (and LibCST) split them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0]
        self.ends: list[int] = []  # end of each line's text (before its newline)
        for m in _NEWLINE.finditer(source):
            self.ends.append(m.start())
            self.starts.append(m.end())
        self.ends.append(len(source))

    def offset(self, loc: Location) -> int:
        return self.starts[loc.row - 1] + loc.column - 1

    def line(self, row: int) -> str:
        return self.source[self.starts[row - 1]:self.ends[row - 1]]

    def newline(self, row: int) -> str:
        """The ending of line `row` (the first ending of the file if the line has none)."""
        if row < len(self.starts):
            return self.source[self.ends[row - 1]:self.starts[row]]
        m = _NEWLINE.search(self.source)
        return m.group(0) if m else "\n"

    def line_end_location(self, row: int) -> Location:
        """Just after line `row`, its newline included: (row + 1, 1), or the end of the text."""
        if row < len(self.starts):
            return Location(row + 1, 1)
        return Location(row, len(self.line(row)) + 1)

    def indentation(self, row: int) -> str:
        text = self.line(row)
        return text[: len(text) - len(text.lstrip(" \t\f"))]


def _span(node: cst.CSTNode, positions) -> tuple[Location, Location]:
    decorators = getattr(node, "decorators", None)
    rng = positions.get(node)
    if rng is None:
        raise _Unresolvable(f"node {type(node).__name__} is not in the parsed module")
    start = rng.start
    if decorators:
        first = positions.get(decorators[0])
        if first is not None:
            start = first.start
    return Location(start.line, start.column + 1), Location(rng.end.line, rng.end.column + 1)


def _indent_unit(module: cst.Module, line_indent: str) -> str:
    if line_indent and set(line_indent) == {"\t"}:
        return "\t"
    unit = module.default_indent or "    "
    if line_indent and set(line_indent) == {" "} and "\t" in unit:
        return "    "
    return unit


def _with_newline(content: str, newline: str) -> str:
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    return content.replace("\n", newline) if newline != "\n" else content


def _relative_lines(content: str, indent: str, unit: str, newline: str) -> str:
    """Relative lines -> lines at `indent`, four-space units converted to `unit`, the file's newline."""
    out = []
    for line in content.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            stripped = line.lstrip(" ")
            n = len(line) - len(stripped)
            lead = unit * (n // 4) + " " * (n % 4) if unit != "    " else " " * n
            line = indent + lead + stripped
        out.append(line)
    return newline.join(out)


def _whole_lines(text: _Text, start: Location, end: Location) -> None:
    if text.line(start.row)[: start.column - 1].strip(" \t\f"):
        raise _Unresolvable("code before the node on its first line")
    rest = text.line(end.row)[end.column - 1:].strip(" \t\f")
    if rest and not rest.startswith("#"):
        raise _Unresolvable("code after the node on its last line")


def _string_continuation_rows(module: cst.Module, positions, first_row: int, last_row: int,
                               text: "_Text | None" = None) -> set[int]:
    """Rows in [first_row, last_row] that start inside a multi-line string literal (never re-indented).

    The rows of every multi-line string of the module are found once per file (one walk, one positions
    pass) and kept on `text`: a file with many block-wrapping fixes must not walk the whole module again
    for each of them (that made fixing quadratic in the file's length)."""
    table = getattr(text, "_string_rows", None) if text is not None else None
    if table is None or table[0] is not module:
        known = getattr(positions, "parents", None)  # (a ParentMap of the module has its strings already)
        candidates = known.strings if isinstance(known, ParentMap) and known.root is module else iter_nodes(module)
        strings = [n for n in candidates if type(n) in _STRING_TYPES and _is_multiline_string(n)]
        if strings and hasattr(positions, "ensure"):
            positions.ensure(strings)  # one extra pass for just these nodes
        spans: list[tuple[int, int]] = []
        for node in strings:
            rng = positions.get(node)
            if rng is not None and rng.start.line != rng.end.line:
                spans.append((rng.start.line + 1, rng.end.line))
        table = (module, sorted(spans))
        if text is not None:
            text._string_rows = table
    spans = table[1]  # disjoint (string literals do not overlap), sorted
    rows: set[int] = set()
    for first, last in spans[max(bisect.bisect_left(spans, (first_row, 0)) - 1, 0):]:
        if first > last_row:
            break
        if last >= first_row:
            rows.update(range(max(first, first_row), min(last, last_row) + 1))
    return rows


_STRING_TYPES = (cst.SimpleString, cst.FormattedString)


def _is_multiline_string(node: cst.CSTNode) -> bool:
    if type(node) is cst.SimpleString:
        return "\n" in node.value
    if type(node) is cst.FormattedString:
        return any(type(p) is cst.FormattedStringText and "\n" in p.value for p in node.parts)
    return False


def _resolve_edit(edit, module: cst.Module, positions, text: _Text) -> Edit:
    if isinstance(edit, Replace):
        start, end = _span(edit.node, positions)
        return Edit(_with_newline(edit.content, text.newline(start.row)), start, end)
    if isinstance(edit, InsertBefore):
        start, _ = _span(edit.node, positions)
        return Edit(_with_newline(edit.content, text.newline(start.row)), start, start)
    if isinstance(edit, InsertAfter):
        _, end = _span(edit.node, positions)
        return Edit(_with_newline(edit.content, text.newline(end.row)), end, end)
    if isinstance(edit, InsertLinesBefore):
        start, _ = _span(edit.node, positions)
        indent = text.indentation(start.row)
        newline = text.newline(start.row)
        body = _relative_lines(edit.content, indent, _indent_unit(module, indent), newline)
        if not body.endswith(newline):
            body += newline
        at = Location(start.row, 1)
        return Edit(body, at, at)
    if isinstance(edit, InsertLinesAfter):
        start, end = _span(edit.node, positions)
        indent = text.indentation(start.row)
        newline = text.newline(start.row)
        body = _relative_lines(edit.content, indent, _indent_unit(module, indent), newline)
        if not body.endswith(newline):
            body += newline
        at = text.line_end_location(end.row)
        if at.row == end.row:  # the last line has no newline: start a new one
            body = newline + body
        return Edit(body, at, at)
    if isinstance(edit, ReplaceLines):
        start, _ = _span(edit.first, positions)
        _, end = _span(edit.last, positions)
        if end < start:
            raise _Unresolvable("ReplaceLines: last before first")
        _whole_lines(text, start, end)
        indent = text.indentation(start.row)
        newline = text.newline(start.row)
        body = _relative_lines(edit.content, indent, _indent_unit(module, indent), newline)
        stop = text.line_end_location(end.row)
        if stop.row > end.row and not body.endswith(newline):
            body += newline
        return Edit(body, Location(start.row, 1), stop)
    if isinstance(edit, WrapInBlock):
        start, _ = _span(edit.first, positions)
        _, end = _span(edit.last, positions)
        if end < start:
            raise _Unresolvable("WrapInBlock: last before first")
        _whole_lines(text, start, end)
        indent = text.indentation(start.row)
        unit = _indent_unit(module, indent)
        in_string = _string_continuation_rows(module, positions, start.row, end.row, text)
        header = edit.header.strip()
        parts = [indent + header + text.newline(start.row)]
        shifted: set[int] = set()
        for row in range(start.row, end.row + 1):
            line = text.line(row)
            if row in in_string or not line.strip():
                parts.append(line)
            else:
                parts.append(unit + line)
                shifted.add(row)
            if row < len(text.starts):  # the line has a newline (the text's last line may not)
                parts.append(text.newline(row))
        wrapped = Edit("".join(parts), Location(start.row, 1), text.line_end_location(end.row))
        return _Wrapped(wrapped.content, wrapped.location, wrapped.end_location, start.row, len(unit), frozenset(shifted))
    raise _Unresolvable(f"unknown edit primitive {type(edit).__name__}")


@dataclass(frozen=True)
class _Wrapped(Edit):
    """A resolved WrapInBlock: the edit, plus how original rows moved (for edits nested inside it)."""

    first_row: int = 0
    shift: int = 0  # columns added to a re-indented row
    shifted_rows: frozenset = frozenset()

    def as_edit(self) -> Edit:
        return Edit(self.content, self.location, self.end_location)

    def contains(self, edit: Edit, text: _Text) -> bool:
        a, b = text.offset(self.location), text.offset(self.end_location)
        return a <= text.offset(edit.location) and text.offset(edit.end_location) <= b and edit != self

    def absorb(self, inner: list[Edit]) -> Edit:
        """This wrap with `inner` (edits of the same fix inside the wrapped lines) applied to its content."""
        if not inner:
            return self.as_edit()
        content = _Text(self.content)

        def moved(loc: Location) -> Location:
            col = loc.column + (self.shift if loc.row in self.shifted_rows else 0)
            return Location(loc.row - self.first_row + 2, col)

        out = self.content
        for e in sorted(inner, key=lambda e: (e.location, e.end_location), reverse=True):
            a, b = content.offset(moved(e.location)), content.offset(moved(e.end_location))
            out = out[:a] + e.content + out[b:]
        return Edit(out, self.location, self.end_location)


def _overlaps(a: Edit, b: Edit, text: _Text) -> bool:
    a0, a1 = text.offset(a.location), text.offset(a.end_location)
    b0, b1 = text.offset(b.location), text.offset(b.end_location)
    if a0 == a1 == b0 == b1:
        return a != b  # two insertions at one point: their order would be arbitrary
    return a0 < b1 and b0 < a1 or (a0 == a1 and b0 < a0 < b1) or (b0 == b1 and a0 < b0 < a1)


def resolve_fix(spec, module: cst.Module, positions, source: str, text: _Text | None = None) -> Fix | None:
    """A rule's FixSpec as text edits (see the module docstring); None if it cannot be resolved."""
    text = text or _Text(source)
    try:
        edits: list[Edit] = []
        for node_edit in spec.edits:
            edit = _resolve_edit(node_edit, module, positions, text)
            if edit not in edits:
                edits.append(edit)
    except _Unresolvable:
        if os.environ.get("GRADLINT_DEBUG_FIXES"):
            raise
        return None
    # Edits inside a wrapped region (e.g. `p.data` -> `p` in the statement wrapped in no_grad) are applied
    # to the wrapped text: the fix is then one edit there.
    for wrap in [e for e in edits if isinstance(e, _Wrapped)]:
        inner = [e for e in edits if not isinstance(e, _Wrapped) and wrap.contains(e, text)
                 and text.offset(e.location) < text.offset(wrap.end_location)
                 and not (e.location == e.end_location == wrap.location)]  # an insertion before the lines stays outside
        edits = [wrap.absorb(inner) if e is wrap else e for e in edits if e not in inner]
    edits = [e.as_edit() if isinstance(e, _Wrapped) else e for e in edits]
    edits.sort(key=lambda e: (e.location, e.end_location))
    for i, a in enumerate(edits):
        for b in edits[i + 1:]:
            if _overlaps(a, b, text):
                if os.environ.get("GRADLINT_DEBUG_FIXES"):
                    raise ValueError(f"the edits of one fix overlap: {a} / {b}")
                return None
    applicability = Applicability.SAFE if spec.safe else Applicability.UNSAFE
    return Fix(applicability, spec.message, tuple(edits))


# ============================================================================ applying text edits


def apply_edits(source: str, fixes: list[Fix]) -> tuple[str, list[Fix]]:
    """Apply, in one pass, every fix whose edits overlap no edit already taken (see module docstring)."""
    text = _Text(source)
    ordered = sorted(fixes, key=lambda f: (min(e.location for e in f.edits), f.message))
    taken: list[Edit] = []
    applied: list[Fix] = []
    for fix in ordered:
        new = [e for e in fix.edits if e not in taken]
        if any(_overlaps(e, t, text) for e in new for t in taken):
            continue
        taken.extend(new)
        applied.append(fix)
    out = source
    for edit in sorted(taken, key=lambda e: (text.offset(e.location), text.offset(e.end_location)), reverse=True):
        a, b = text.offset(edit.location), text.offset(edit.end_location)
        out = out[:a] + edit.content + out[b:]
    return out, applied


@dataclass
class FixResult:
    source: str  # the fixed text (the input itself when nothing was fixed or the result was refused)
    fixed: int = 0  # findings fixed
    remaining: list[Diagnostic] = field(default_factory=list)  # the findings of `source`
    fixed_by_rule: Counter = field(default_factory=Counter)  # (code, name) -> count
    error: str | None = None  # why the fixes were refused, or why the file could not be linted
    passes: int = 0

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed > 0


def parse_problem(text: str, compiled_before: bool, filename: str) -> str | None:
    """None if `text` parses; else the reason."""
    try:
        cst.parse_module(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure refuses the fix
        msg = str(getattr(exc, "message", exc)).strip().splitlines()
        return f"the fixed code does not parse ({msg[0] if msg else type(exc).__name__})"
    if compiled_before:
        try:
            compile(text, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return f"the fixed code does not compile ({exc})"
    return None


def compiles(text: str, filename: str) -> bool:
    try:
        compile(text, filename, "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


# ============================================================================ writing


def write_fixed(path: str, original: "SourceFile", new_text: str) -> None:
    """Write `new_text` to `path` atomically, encoded like `original` (encoding, BOM), same permissions."""
    from gradlint.source import atomic_write

    atomic_write(path, original.encode(new_text))


def unified_diff(path: str, old: str, new: str) -> str:
    """A unified diff of the fix (`--- path` / `+++ path`, as ruff prints it)."""
    a = _split_keepends(old)
    b = _split_keepends(new)
    lines = []
    for line in difflib.unified_diff(a, b, fromfile=path, tofile=path):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


def _split_keepends(text: str) -> list[str]:
    out, at = [], 0
    for m in _NEWLINE.finditer(text):
        out.append(text[at:m.end()])
        at = m.end()
    if at < len(text):
        out.append(text[at:])
    return out


