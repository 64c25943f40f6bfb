"""Fixes: turning a rule's node edits into text edits, and applying them to a file's text.

Public API:

    resolve_fix(spec, module, positions, source) -> Fix | None
        (used by the linter) a rule's `FixSpec` as a `gradlint.diagnostic.Fix`: text edits with 1-based
        `location`/`end_location` (end exclusive, ruff's convention); None when the spec cannot be
        resolved (a node that is not in the tree, a "whole lines" edit on a node that shares its line
        with other code, edits of one fix that overlap).
    is_applicable(fix, unsafe) -> bool
        safe fixes always, unsafe ones only with `unsafe`; display-only never.
    apply_edits(source, fixes) -> (new_source, applied)
        one pass: applies every fix whose edits do not overlap an edit already taken (fixes in source
        order; an edit identical to one already taken counts as shared). `applied` lists the fixes
        taken (or already fully present).
    apply_fixes(source, filename, settings, *, unsafe=False, max_passes=MAX_PASSES) -> FixResult
        lint -> apply the non-overlapping applicable fixes -> re-lint, until no applicable fix is left
        (at most `max_passes` passes). A result that does not parse (LibCST, and `compile` when the
        input compiled), or fixes that still apply after `max_passes` (a fix that does not remove its
        finding), are refused: FixResult.source is then the input and `error` says why.
    write_fixed(path, original, new_text) -> None
        atomic write (temp file in the same folder + rename) keeping permissions, encoding and BOM;
        `original` is the `gradlint.source.SourceFile` the text was read from.
    unified_diff(path, old, new) -> str

Text conventions of the edit primitives (rules/base.py): every "\\n" in an edit's content is written
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
from gradlint.fix_options import (  # noqa: F401  (the CLI's fix glue, kept free of LibCST; re-exported)
    FixOptions, click_options, fix_counts, fix_hint, is_applicable, show_fixes_text)
from gradlint.model.walk import ParentMap, iter_nodes, parent_map

if TYPE_CHECKING:
    from gradlint.settings import Settings
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
    from gradlint.rules.base import (InsertAfter, InsertBefore, InsertLinesAfter, InsertLinesBefore, Replace,
                                     ReplaceLines, WrapInBlock)

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


def _parses(text: str, compiled_before: bool, filename: str) -> str | None:
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


def _compiles(text: str, filename: str) -> bool:
    try:
        compile(text, filename, "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def apply_fixes(source: str, filename: str, settings: "Settings", *, unsafe: bool = False,
                max_passes: int = MAX_PASSES, first: list[Diagnostic] | None = None) -> FixResult:
    """Fix `source` (see the module docstring). `first`: the diagnostics of `source` if already known."""
    from gradlint.linter import lint_source

    if first is None:
        res = lint_source(source, filename, settings)
        if res.error is not None:
            return FixResult(source, error=res.error.reason)
        first = res.diagnostics
    diagnostics = first
    text = source
    fixed = 0
    by_rule: Counter = Counter()
    compiled_before: bool | None = None
    passes = 0
    while passes < max_passes:
        applicable = [d for d in diagnostics if is_applicable(d.fix, unsafe)]
        if not applicable:
            break
        passes += 1
        new, applied = apply_edits(text, [d.fix for d in applicable])
        if new == text:
            break
        if compiled_before is None:
            compiled_before = _compiles(source, filename)
        problem = _parses(new, compiled_before, filename)
        if problem is not None:
            return FixResult(source, remaining=list(first), passes=passes,
                             error=f"{problem}; fixes not applied, file left unchanged (please report this)")
        ids = {id(f) for f in applied}
        for d in applicable:
            if id(d.fix) in ids:
                ids.discard(id(d.fix))
                fixed += 1
                by_rule[(d.code, d.name)] += 1
        text = new
        res = lint_source(text, filename, settings)
        if res.error is not None:
            return FixResult(source, remaining=list(first), passes=passes,
                             error=f"the fixed code cannot be checked ({res.error.reason}); file left unchanged")
        diagnostics = res.diagnostics
    if passes >= max_passes and any(is_applicable(d.fix, unsafe) for d in diagnostics):
        codes = ", ".join(sorted({d.code for d in diagnostics if is_applicable(d.fix, unsafe)}))
        return FixResult(source, remaining=list(first), passes=passes,
                         error=f"the fixes did not converge after {max_passes} passes ({codes}); "
                               "file left unchanged (please report this)")
    return FixResult(text, fixed if text != source else 0, list(diagnostics), by_rule if text != source else Counter(),
                     None, passes)


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


# ============================================================================ helpers for rules' fixes
# Rules locate what to rewrite from the nodes the model recorded. The parent map below is built lazily,
# once per file, and only when a rule builds a fix (i.e. for files with findings): the walk for
# positions is of the same cost, so files without findings still pay nothing.


def parents(model) -> dict[int, cst.CSTNode]:
    """id(node) -> parent node, for the model's module (cached on the model)."""
    found = getattr(model, "_fix_parents", None)
    if found is None:
        found = parent_map(model.module)  # (LibCST's `.children` runs a visitor per node: far slower)
        model._fix_parents = found
    return found


def parent_of(model, node: cst.CSTNode) -> cst.CSTNode | None:
    return parents(model).get(id(node))


def statement_of(model, node: cst.CSTNode) -> cst.CSTNode | None:
    """The innermost statement holding `node`: a SimpleStatementLine, a compound statement, or — for a
    small statement in a one-line suite (`for p in ps: p -= x`) — that SimpleStatementSuite."""
    table = parents(model)
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, (cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.BaseCompoundStatement)):
            return current
        current = table.get(id(current))
    return None


def small_statement_of(model, node: cst.CSTNode) -> cst.BaseSmallStatement | None:
    table = parents(model)
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, cst.BaseSmallStatement):
            return current
        if isinstance(current, cst.BaseStatement):
            return None
        current = table.get(id(current))
    return None


def block_statements(model, stmt: cst.CSTNode) -> tuple[cst.CSTNode, ...] | None:
    """The statements of the block `stmt` belongs to (its siblings, itself included)."""
    parent = parent_of(model, stmt)
    if isinstance(parent, (cst.Module, cst.IndentedBlock)):
        return tuple(parent.body)
    return None


def enclosing_compound(model, stmt: cst.CSTNode) -> cst.BaseCompoundStatement | None:
    """The compound statement whose body directly holds `stmt` (through its IndentedBlock or suite)."""
    parent = parent_of(model, stmt)
    if isinstance(parent, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        owner = parent_of(model, parent)
        if isinstance(owner, cst.BaseCompoundStatement):
            return owner
    if isinstance(stmt, cst.SimpleStatementSuite):
        owner = parent_of(model, stmt)
        if isinstance(owner, cst.BaseCompoundStatement):
            return owner
    return None


def body_statements(compound: cst.BaseCompoundStatement) -> tuple[cst.CSTNode, ...]:
    """The statements of a compound statement's own body (small statements for a one-line suite)."""
    body = compound.body
    if isinstance(body, cst.IndentedBlock):
        return tuple(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return tuple(body.body)
    return ()


def no_grad_wrap(model, first: cst.CSTNode, last: cst.CSTNode | None = None, *, message: str, safe: bool):
    """A FixSpec wrapping the statements `first`..`last` in `with torch.no_grad():` (alias-aware, adds
    `import torch` when nothing binds it)."""
    from gradlint.rules.base import FixSpec, WrapInBlock, torch_ref

    ref, imports = torch_ref(model, "no_grad")
    return FixSpec(message, (WrapInBlock(first, last if last is not None else first, f"with {ref}():"),) + imports, safe)


def is_whole_line_statement(model, stmt: cst.CSTNode) -> bool:
    """A statement on lines of its own in an indented block or the module (wrappable)."""
    if not isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return False
    return isinstance(parent_of(model, stmt), (cst.Module, cst.IndentedBlock))


# ============================================================================ the `check --fix` flow


@dataclass
class FixOutcome:
    """What `fix_files` did: per file the fixes applied ((code, name) -> count), the diffs (with
    `write=False`), and the files whose fixes were refused or that could not be written."""

    fixed: dict[str, Counter] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    errors: list = field(default_factory=list)  # gradlint.diagnostic.FileError

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.fixed.values())


def fix_files(results: list, sources: dict[str, str], settings_for, *, unsafe: bool, write: bool) -> FixOutcome:
    """Fix the files of a `check` run in place of their results: each FileResult with an applicable fix
    gets the remaining diagnostics of its fixed text, and `sources` the fixed text. `settings_for(path)`
    gives a file's Settings. With `write`, fixed files are written back (atomically); else their diffs are
    collected. Files without an applicable fix are never touched. Notebooks: gradlint.notebook.fix_in_run."""
    from gradlint.diagnostic import FileError
    from gradlint.source import SourceError, load_source

    outcome = FixOutcome()
    for res in results:
        if res.error is not None or not any(is_applicable(d.fix, unsafe) for d in res.diagnostics):
            continue
        name = res.filename
        if name.lower().endswith(".ipynb") or any(d.cell is not None for d in res.diagnostics):
            from gradlint.notebook import fix_in_run  # cells joined, fixed, split back (gradlint/notebook.py)

            fix_in_run(res, sources, settings_for(name), unsafe=unsafe, write=write, outcome=outcome)
            continue
        try:
            original = load_source(name)
        except SourceError as exc:
            outcome.errors.append(FileError(name, f"cannot fix: {exc}"))
            continue
        if name in sources and original.text != sources[name]:
            outcome.errors.append(FileError(name, "changed while being checked; not fixed"))
            continue
        result = apply_fixes(original.text, name, settings_for(name), unsafe=unsafe, first=res.diagnostics)
        if result.error is not None:
            outcome.errors.append(FileError(name, result.error))
            continue
        if not result.changed:
            continue
        if write:
            try:
                write_fixed(name, original, result.source)
            except OSError as exc:
                outcome.errors.append(FileError(name, f"cannot write the fixes: {exc.strerror or exc}"))
                continue
        else:
            outcome.diffs.append(unified_diff(name, original.text, result.source))
        outcome.fixed[name] = result.fixed_by_rule
        res.diagnostics = result.remaining
        if result.remaining:
            sources[name] = result.source
        else:
            sources.pop(name, None)
    return outcome


def update_statements(model) -> set[int]:
    """ids of the small statements that hold an in-place op (model.inplace_ops) on a leaf that requires
    grad, on a `.grad` or through `.data`: parameter updates and their bookkeeping (`p.grad.zero_()`).
    In-place ops on activations (`h.relu_()`) are not updates: they must stay recorded."""
    from gradlint.model import Kind

    out: set[int] = set()
    for o in model.inplace_ops:
        target = o.target
        if o.value.kind is Kind.LEAF or (isinstance(target, cst.Attribute) and target.attr.value in ("grad", "data")):
            out.add(id(small_statement_of(model, o.node)))
    return out


def is_update_statement(model, stmt: cst.CSTNode, updates: set[int]) -> bool:
    """Does `stmt` only do in-place updates (and `for`/`if`/`continue` bookkeeping around them)?"""
    if isinstance(stmt, (cst.Pass, cst.Continue)):
        return True
    if isinstance(stmt, cst.BaseSmallStatement):
        return id(stmt) in updates
    if isinstance(stmt, cst.SimpleStatementLine):
        return all(is_update_statement(model, s, updates) for s in stmt.body)
    if isinstance(stmt, cst.For):
        return stmt.orelse is None and stmt.asynchronous is None and all(
            is_update_statement(model, s, updates) for s in body_statements(stmt))
    if isinstance(stmt, cst.If):
        if not all(is_update_statement(model, s, updates) for s in body_statements(stmt)):
            return False
        orelse = stmt.orelse
        if orelse is None:
            return True
        if isinstance(orelse, cst.If):
            return is_update_statement(model, orelse, updates)
        return all(is_update_statement(model, s, updates) for s in body_statements(orelse))
    return False


def update_wrap_target(model, node: cst.CSTNode, updates: set[int]
                       ) -> tuple[cst.CSTNode, cst.CSTNode, str] | None:
    """What to wrap in `no_grad` for the update at `node`: (first, last, what) — its statement and the
    update statements right before and after it in the same block, or the enclosing `for` loop(s) when
    every statement in them is an update; `what` is "the update(s)" / "the update loop". None when the
    statement holds other code (`y = 2 * w; w += 1`) or the op sits in a condition or header."""
    stmt = statement_of(model, node)
    if stmt is None:
        return None
    if isinstance(stmt, cst.SimpleStatementSuite):  # `for p in ps: p -= x`: the one-line compound
        owner = enclosing_compound(model, stmt)
        if owner is None or not is_update_statement(model, owner, updates):
            return None
        stmt = owner
    elif not is_update_statement(model, stmt, updates):
        return None
    what = "the update"
    outer = enclosing_compound(model, stmt)
    while isinstance(outer, cst.For) and is_update_statement(model, outer, updates):
        stmt, what = outer, "the update loop"
        outer = enclosing_compound(model, stmt)
    if not is_whole_line_statement(model, stmt):
        return None
    first = last = stmt
    siblings = block_statements(model, stmt)
    if siblings is not None and what == "the update":
        i = next(k for k, s in enumerate(siblings) if s is stmt)
        j = k = i
        while j > 0 and isinstance(siblings[j - 1], cst.SimpleStatementLine) and is_update_statement(model, siblings[j - 1], updates):
            j -= 1
        while k + 1 < len(siblings) and isinstance(siblings[k + 1], cst.SimpleStatementLine) and is_update_statement(model, siblings[k + 1], updates):
            k += 1
        first, last = siblings[j], siblings[k]
        if j != k:
            what = "the updates"
    return first, last, what


def is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def is_store_target(model, node: cst.CSTNode) -> bool:
    """Is `node` (an expression) written to — an assignment / `for` / `with ... as` / `del` target, also
    inside a tuple or list target (`p.data, meta = repack(...)`)? Such a node cannot become a call."""
    table = parents(model)
    child = node
    parent = table.get(id(node))
    while isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
        child, parent = parent, table.get(id(parent))
    if isinstance(parent, cst.AssignTarget):
        return parent.target is child
    if isinstance(parent, (cst.AugAssign, cst.AnnAssign)):
        return parent.target is child
    if isinstance(parent, (cst.For, cst.CompFor)):
        return parent.target is child
    if isinstance(parent, cst.AsName):
        return parent.name is child
    return isinstance(parent, cst.Del)
