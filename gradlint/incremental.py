"""Incremental re-parsing for the language server: after an edit, re-parse only the top-level statements
whose text changed, and reuse the previous tree's nodes for the rest.

    parser = IncrementalParser()
    module = parser.parse(text)      # the same tree `gradlint.linter.parse_module(text)` gives

The parser keeps the last module it returned, its text, and the line where each top-level statement's
code starts (a statement's text in LibCST is its leading blank and comment lines, its code, and — for a
compound statement — the comment lines its indented block owns after it). For a new text:

1. A textual diff (common prefix and suffix) gives the lines that changed.
2. They are widened to whole top-level statements: those the changed lines touch; the statement before
   too when the change reaches the first code line of the first one (a comment line there may belong to
   the previous statement's block, which LibCST decides by indentation); the header when the first
   statement is touched or the change is in the first two lines (the encoding cookie); the footer when
   the last one is.
3. That text is parsed alone, between two pieces that give it the context of the whole file: before it
   `if 1:` + an indented `pass` in the file's indentation and newline, and `pass` (so that the file's
   default indentation and newline are what the snippet's parse detects), and after it the blank and
   comment lines that follow it in the file and `pass` (so that the comment lines after a block are split
   between that block and the next statement exactly as in the whole file). The snippet's statements
   replace the old ones (`Module.with_changes(body=...)`); the next statement keeps its node, with the
   leading lines the snippet's parse gave it if those differ.
4. Anything that could make the result differ from a full parse falls back to one: the file's default
   indentation changes (the first indented block in the file is in the re-parsed text and is indented
   differently), its default newline changes, a lone carriage return, a byte-order mark, `__future__` in
   the re-parsed text, a snippet that does not parse alone, an unexpected shape of the snippet's tree —
   and, last, a check that the new statements generate exactly the new text.

The result is checked against full parses by tests/lsp/test_incremental_parse.py (generated edits of real
files: the tree's code is the text, the tree is `deep_equals` to the full parse's, and the diagnostics,
positions included, are those of a full lint).
"""

from __future__ import annotations

import ast
import re
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst
from libcst._nodes.internal import CodegenState

_LINE_END = re.compile(r"\r\n|\r|\n")
_LONE_CR = re.compile(r"\r(?!\n)")

# node types whose subtrees hold no indented block (skipped when looking for the first one)
_NO_BLOCKS = (cst.BaseExpression, cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.Decorator,
              cst.Parameters, cst.BaseParenthesizableWhitespace, cst.EmptyLine, cst.Name, cst.Annotation)


def _line_starts(text: str) -> list[int]:
    """Offsets where the lines of `text` start (a final newline starts an empty last line)."""
    return [0, *(m.end() for m in _LINE_END.finditer(text))]


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (comparisons of slices: memcmp speed)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while hi - lo > 1:  # invariant: a[:lo] == b[:lo], a[:hi] != b[:hi]
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most `limit`."""
    lo, hi = 0, limit
    if hi == 0 or a[len(a) - hi:] == b[len(b) - hi:]:
        return hi
    while hi - lo > 1:  # invariant: suffixes of length lo equal, of length hi differ
        mid = (lo + hi) // 2
        if a[len(a) - mid:len(a) - lo] == b[len(b) - mid:len(b) - lo]:
            lo = mid
        else:
            hi = mid
    return lo


def first_block(node: cst.CSTNode) -> cst.IndentedBlock | None:
    """The first indented block in `node`'s text (in source order), if any."""
    for child in node.children:
        if isinstance(child, cst.IndentedBlock):
            return child
        if isinstance(child, _NO_BLOCKS):
            continue
        found = first_block(child)
        if found is not None:
            return found
    return None


def _codegen(module: cst.Module, nodes) -> str:
    state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline)
    for node in nodes:
        node._codegen(state)
    return "".join(state.tokens)


@dataclass(frozen=True)
class _Region:
    """What an edit re-parses: the old tree's statements body[i..j] (the header too if i == 0, the footer if
    `last`), whose text is text[start:end_new] (`snippet`) in the new text. `line`: the (0-based) line where
    that text starts, in both texts; `end_line`: the line where the old text of body[j + 1] started (None
    when `last`)."""

    i: int
    j: int
    last: bool
    start: int
    end_new: int
    snippet: str
    line: int
    end_line: int | None
    old_starts: list
    code_lines: list


class _Fallback(Exception):
    """The incremental path cannot promise a full parse's tree: parse the whole text."""


class IncrementalParser:
    """Parses successive texts of one document, re-parsing only what changed (see the module docstring).

    `parse(text)` returns the tree of a full parse of `text` (or raises what the full parse raises).
    `last` says how the last call got it: "full", "incremental" or "same"; `reparsed` how many of the new
    module's statements came from a snippet's parse (all of them for a full parse)."""

    def __init__(self, full_parse: Callable[[str], cst.Module] | None = None) -> None:
        if full_parse is None:
            from gradlint.linter import parse_module as full_parse
        self._full = full_parse
        self._lock = threading.Lock()
        self.text: str | None = None
        self.module: cst.Module | None = None
        self._code_lines: list[int] | None = None  # per statement: the line (0-based) where its code starts
        self._first_indented = -1  # the first statement holding an indented block (-1: none, None: unknown)
        self.last = ""
        self.reparsed = 0
        self.fallbacks: dict[str, int] = {}  # reason -> count (for the benchmark and the tests)
        self._pending: tuple | None = None  # (text, module, _Region) of the last region computed
        # CPython's tree of `_ast_text`: each top-level statement as (its first line, 0-based; the statement;
        # what to add to its line numbers) — statements after an edit keep their nodes, moved by the offset
        self._ast: list[tuple[int, ast.stmt, int]] | None = None
        self._ast_text: str | None = None
        self.checked = ""  # how the last check() ran: "full", "incremental" or "same"
        # the parent maps (gradlint.model.walk.parent_map) of the last module's statements, by statement
        self.parent_cache: dict[int, tuple] = {}
        # the code each statement holding a finding generated, and the offsets of nodes in it (positions)
        self.position_cache: dict[int, tuple] = {}

    def needs_layout(self) -> bool:
        """Is there a tree whose statements' lines are not known yet (after a full parse)?"""
        return self.module is not None and self._code_lines is None

    def prepare(self) -> None:
        """Compute now what the next incremental parse needs (the statements' lines), on the parser's
        big-stack thread (code generation recurses as deep as the tree)."""
        from gradlint.linter import _big_stack_executor

        def run() -> None:
            with self._lock:
                if self.module is not None:
                    self._layout()

        _big_stack_executor().submit(run).result()

    def forget(self) -> None:
        with self._lock:
            self.text = self.module = self._code_lines = self._pending = self._ast = self._ast_text = None
            self.parent_cache = {}
            self.position_cache = {}

    def __call__(self, text: str) -> cst.Module:
        return self.parse(text)

    # ---------------------------------------------------------------- CPython's check, incrementally

    def check(self, text: str, filename: str = "<unknown>", keep: list | None = None) -> SyntaxError | None:
        """`gradlint.linter.cpython_check(text, filename, keep)` — the same answer — checking only the
        statements an edit touched when the last tree is this parser's last checked text: the snippet the
        parse would re-parse is checked alone (bounds included); the statements before and after keep their
        CPython nodes. Anything unusual (the snippet fails, a bound is hit, a text long enough to need the
        whole-file node count) checks the whole text. What goes to `keep` is a `CheckedStatements`."""
        from gradlint.linter import MAX_AST_NODES, _Refused, cpython_check

        with self._lock:
            pieces = None
            how = "full"
            if self._ast is not None and self._ast_text is not None and self._ast_text == self.text:
                if text == self._ast_text:
                    pieces, how = self._ast, "same"
                elif len(text) <= MAX_AST_NODES and self.module is not None:
                    try:
                        region = self._region(text)
                        end = region.end_new
                        if end < len(text) and text[end - 1:end] not in ("\n", "\r"):
                            raise _Fallback("the edit joined lines")  # (the snippet is not whole lines)
                        found: list = []
                        if cpython_check(region.snippet, filename, found) is None:
                            pieces, how = self._moved(text, region, found[0]), "incremental"
                    except (_Fallback, _Refused):
                        pieces = None
            if pieces is None:
                found = []
                error = cpython_check(text, filename, found)  # (raises _Refused for a text over a bound)
                if error is not None:
                    return error
                pieces = [(_first_line(stmt), stmt, 0) for stmt in found[0].body]
            self._ast, self._ast_text, self.checked = pieces, text, how
            if keep is not None:
                keep.append(CheckedStatements([(offset, stmt) for _, stmt, offset in pieces]))
            return None

    def _moved(self, text: str, region: _Region, tree: ast.Module) -> list[tuple[int, ast.stmt, int]]:
        """The statements of `text`: the snippet's (from `tree`, its own parse) between the old ones."""
        base = region.line
        out = [p for p in self._ast if p[0] < base]
        out.extend((_first_line(stmt) + base, stmt, base) for stmt in tree.body)
        if region.end_line is not None:
            shift = text.count("\n") - self._ast_text.count("\n")
            out.extend((line + shift, stmt, offset + shift) for line, stmt, offset in self._ast
                       if line >= region.end_line)
        return out

    def parse(self, text: str) -> cst.Module:
        with self._lock:
            if self.module is not None and text == self.text:
                self.last, self.reparsed = "same", 0
                return self.module
            if self.module is not None:
                try:
                    module = self._incremental(text)
                except _Fallback as why:
                    reason = str(why)
                    self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1
                else:
                    self.last = "incremental"
                    return module
            module = self._full(text)  # (raises on a syntax error: the previous state is kept)
            self.text, self.module, self._code_lines, self._first_indented = text, module, None, None
            self.last, self.reparsed = "full", len(module.body)
            return module

    # ---------------------------------------------------------------- the previous tree's layout

    def _layout(self) -> list[int]:
        """The line where each statement's code starts, by generating each statement once (after a full
        parse; incremental parses keep it up to date)."""
        if self._code_lines is None:
            module, out = self.module, []
            line = len(module.header)
            for stmt in module.body:
                out.append(line + len(stmt.leading_lines))
                line += _codegen(module, (stmt,)).count("\n")
            self._code_lines = out
        return self._code_lines

    def _first_indented_statement(self) -> int:
        if self._first_indented is None:
            self._first_indented = _first_indented(self.module.body, 0)
        return self._first_indented

    # ---------------------------------------------------------------- one edit

    def _region(self, text: str) -> _Region:
        """Steps 1 and 2: the top-level statements (of the last tree) an edit to `text` touches."""
        pending = self._pending
        if pending is not None and pending[0] is text and pending[1] is self.module:
            return pending[2]
        old_text, old = self.text, self.module
        body = old.body
        if not body:
            raise _Fallback("no statements")
        if text.startswith("\ufeff") or old_text.startswith("\ufeff"):
            raise _Fallback("byte-order mark")
        if ("\r" in text and _LONE_CR.search(text)) or ("\r" in old_text and _LONE_CR.search(old_text)):
            raise _Fallback("lone carriage return")
        code_lines = self._layout()
        n = len(body)
        old_starts = _line_starts(old_text)
        # the line where each statement's text starts (its leading lines first)
        span = [code_lines[k] - len(body[k].leading_lines) for k in range(n)]

        # 1. the changed text: old_text[d:len(old_text) - s] became text[d:len(text) - s]
        d = _common_prefix(old_text, text)
        s = _common_suffix(old_text, text, min(len(old_text), len(text)) - d)
        first_line = bisect_right(old_starts, d) - 1
        last_line = bisect_right(old_starts, max(d, len(old_text) - s - 1)) - 1

        # 2. whole statements: body[i..j] (and the header if i == 0, the footer if j is the last)
        i = max(bisect_right(span, first_line) - 1, 0)
        j = max(bisect_right(span, last_line) - 1, 0)
        if i > 0 and first_line <= code_lines[i]:
            i -= 1  # the change reaches the statement's first code line: the previous block may own lines
        if first_line <= 1:
            i = 0  # the encoding cookie (lines 1 and 2)
        last = j == n - 1
        delta = len(text) - len(old_text)
        start = old_starts[span[i]] if i > 0 else 0
        end_old = old_starts[span[j + 1]] if not last else len(old_text)
        end_new = end_old + delta
        if end_old < len(old_text) - s or start > d:
            raise _Fallback("diff outside the region")  # (cannot happen; a guard)
        snippet = text[start:end_new]
        if "__future__" in snippet:
            raise _Fallback("__future__")
        region = _Region(i, j, last, start, end_new, snippet, span[i] if i > 0 else 0,
                         span[j + 1] if not last else None, old_starts, code_lines)
        self._pending = (text, old, region)
        return region

    def _incremental(self, text: str) -> cst.Module:
        old_text, old = self.text, self.module
        body = old.body
        region = self._region(text)
        i, j, last, start, end_new, snippet = region.i, region.j, region.last, region.start, region.end_new, region.snippet
        old_starts, code_lines = region.old_starts, region.code_lines
        delta = len(text) - len(old_text)

        # 3. parse the snippet in context
        nl, indent = old.default_newline, old.default_indent
        prefix = f"if 1:{nl}{indent}pass{nl}pass{nl}" if i > 0 else ""
        next_code_new = len(text)
        after = ""
        if not last:
            next_code_new = old_starts[code_lines[j + 1]] + delta
            after = text[end_new:next_code_new] + "pass" + nl
        try:
            part = self._full(prefix + snippet + after)
        except Exception:
            raise _Fallback("the changed statements do not parse alone") from None
        new_stmts = list(part.body)
        if i > 0:
            if part.header or len(new_stmts) < 2 or not isinstance(new_stmts[0], cst.If):
                raise _Fallback("unexpected prefix")
            new_stmts = new_stmts[2:]
        next_stmt = None
        if not last:
            dummy = new_stmts.pop() if new_stmts else None
            if (part.footer or not part.has_trailing_newline or not isinstance(dummy, cst.SimpleStatementLine)
                    or len(dummy.body) != 1 or not isinstance(dummy.body[0], cst.Pass)):
                raise _Fallback("unexpected suffix")
            if not _same_lines(dummy.leading_lines, body[j + 1].leading_lines):
                next_stmt = body[j + 1].with_changes(leading_lines=dummy.leading_lines)
        if i == 0 and part.default_newline != nl:
            raise _Fallback("default newline")

        # the file's default indentation (that of its first indented block) must not change
        first = self._first_indented_statement()
        if first == -1 or first >= i:  # the file's first indented block may now be elsewhere
            k = _first_indented(new_stmts, 0)
            if k != -1:
                block = first_block(new_stmts[k])
                own = block.indent if i > 0 else (block.indent or part.default_indent)
                if own is not None and own != indent:
                    raise _Fallback("default indentation")
            elif first != -1 and first <= j:  # it was in the replaced statements: now the next one's
                k = _first_indented(body, j + 1)
                if k == -1 or first_block(body[k]).indent is not None:
                    raise _Fallback("default indentation")

        # 4. the new module, checked against the text
        tail = [next_stmt] if next_stmt is not None else []
        changes: dict = {"body": (*body[:i], *new_stmts, *tail, *body[j + 1 + len(tail):])}
        if i == 0:
            changes["header"] = part.header
            changes["encoding"] = part.encoding
        if last:
            changes["footer"] = part.footer
            changes["has_trailing_newline"] = part.has_trailing_newline
        module = old.with_changes(**changes)

        state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline)
        if i == 0:
            for h in module.header:
                h._codegen(state)
        lengths = []
        for stmt in new_stmts:
            before = len(state.tokens)
            stmt._codegen(state)
            lengths.append(sum(t.count("\n") for t in state.tokens[before:]))
        if not last:
            for line in (next_stmt or body[j + 1]).leading_lines:
                line._codegen(state)
        if last:
            for f in module.footer:
                f._codegen(state)
            if module.has_trailing_newline:
                if not state.tokens:
                    state.add_token(module.default_newline)
            else:
                state.pop_trailing_newline()
        if "".join(state.tokens) != text[start:next_code_new]:
            raise _Fallback("the new statements do not reproduce the text")

        # the new layout
        line = region.line if i > 0 else len(module.header)
        new_code_lines = code_lines[:i]
        for stmt, count in zip(new_stmts, lengths):
            new_code_lines.append(line + len(stmt.leading_lines))
            line += count
        line_delta = text.count("\n") - old_text.count("\n")
        new_code_lines.extend(c + line_delta for c in code_lines[j + 1:])
        self.text, self.module, self._code_lines, self._first_indented = text, module, new_code_lines, None
        self.reparsed = len(new_stmts) + len(tail)
        return module


class CheckedStatements:
    """CPython's tree of a text as its top-level statements, each with what to add to its line numbers
    (`statements`: [(offset, statement)]); what `IncrementalParser.check` keeps for the project summary
    (gradlint.project.summarize reads either this or an `ast.Module`)."""

    __slots__ = ("statements",)

    def __init__(self, statements: list[tuple[int, ast.stmt]]) -> None:
        self.statements = statements


def _first_line(stmt: ast.stmt) -> int:
    """The 0-based line where a top-level statement's code starts (its first decorator's, if any)."""
    line = stmt.lineno
    for d in getattr(stmt, "decorator_list", ()):
        line = min(line, d.lineno)
    return line - 1


def _first_indented(body, start: int) -> int:
    """The index of the first statement from `start` on that holds an indented block; -1 if none."""
    for k in range(start, len(body)):
        stmt = body[k]
        if not isinstance(stmt, cst.SimpleStatementLine) and first_block(stmt) is not None:
            return k
    return -1


def _same_lines(a, b) -> bool:
    return len(a) == len(b) and all(x.deep_equals(y) for x, y in zip(a, b))
