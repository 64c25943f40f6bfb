"""Jupyter notebooks (`.ipynb`): lint the code cells as one Python text, report by cell, write fixes back.

    nb = load(path)                      # or parse(raw_text, path); raises NotebookError (a one-line reason)
    nb.source                            # the code cells joined into one Python text (what the linter sees)
    nb.locate(row) -> (cell, row)        # a row of `nb.source` -> (cell number, row within the cell), 1-based
    lint_notebook_one(path, settings, cache_root) -> (FileResult, text)  # diagnostics in cell coordinates
    nb.fixed_text(new_source) -> str     # the notebook file's text with `new_source` split back into cells
    fix_notebook(path, settings)         # gradlint.linter.lint_fix on `nb.source`, mapped back to the file

How the code cells become one Python text (as ruff does it):

- Only `cell_type == "code"` cells are used; a notebook whose `language_info` / kernelspec language is not
  Python has nothing to check. Cell numbers are positions among *all* cells (markdown included), 1-based,
  so `cell 3` is the third cell you see in Jupyter.
- IPython syntax that is not Python is replaced by a placeholder of the same line count
  (`pass  # gradlint-ipython-…`) keeping its indentation: line magics (`%timeit f()`, `x = %env`), shell
  escapes (`!pip install torch`, `files = !ls`), help (`obj?`, `??obj`), and backslash continuations of
  those. Only lines that start a statement count: a `%` or `!` continuing a bracketed expression is Python.
- A cell starting with a cell magic is skipped, except the magics whose body is Python (`%%time`,
  `%%timeit`, `%%capture`, `%%debug`, `%%prun`, `%%python`, `%%python3`, `%%pypy`): there only the magic's
  line is replaced.
- Cells are separated by a boundary comment line so that text a fix inserts lands in the right cell.

Writing back (`--fix`) changes the `source` of changed cells only, spliced into the original file text,
so outputs, metadata, key order, indentation, escaping and the final newline of everything else are kept
byte for byte; each changed cell keeps its original representation (list of lines, or one string) and
the placeholders get their original IPython lines back. The result is checked to be valid JSON whose
untouched parts are unchanged before it is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from gradlint.diagnostic import Diagnostic, FileError, FileResult, Location
from gradlint.settings import Settings


# The comment line that separates two cells in the joined text (`# gradlint-cell-boundary-<nonce>`): fixes
# never move a statement across it (gradlint/edits.py).
CELL_BOUNDARY = "# gradlint-cell-boundary-"

# Cell magics whose body is Python code (ruff's list).
PYTHON_CELL_MAGICS = frozenset({"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"})

_HELP = re.compile(r"(\?{1,2}[\w.*\[\]]+|[\w.*\[\]()]+\?{1,2})\s*(#.*)?")
_ASSIGN_ESCAPE = re.compile(r"[\w.\[\]]+(\s*,\s*[\w.\[\]]+)*\s*=\s*[%!]")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_ERROR_AT = re.compile(r"error at (\d+):(\d+)")


class NotebookError(Exception):
    """A notebook that cannot be checked or written; str(exc) is the reason, for one line of output."""


@dataclass
class CodeCell:
    number: int  # 1-based position among all cells
    text: str  # the cell's source as stored (lines joined)
    as_list: bool  # stored as a list of lines (nbformat's default) rather than one string
    lint_text: str  # the text given to the linter: placeholders for IPython syntax, ends with "\n" unless empty
    # placeholder id -> (indentation of the escape's first line, the original text, is a continuation line):
    # a first line is kept without its indentation, a continuation line whole
    escapes: dict[int, tuple[str, str, bool]] = field(default_factory=dict)
    opaque: bool = False  # a non-Python cell magic: nothing is linted, never rewritten


@dataclass
class Notebook:
    path: str
    raw: str  # the file's text
    cells: list[CodeCell]
    nonce: str
    source: str = ""
    rows: list[tuple[int, int]] = field(default_factory=list)  # index row-1 -> (cell number, row in cell)

    # ------------------------------------------------------------------ positions

    def locate(self, row: int) -> tuple[int, int]:
        """(cell number, row within the cell) of a 1-based row of `source`."""
        if not self.rows:
            return (1, row)
        if row > len(self.rows):  # the end of the text: past the last cell's last line
            cell, last = self.rows[-1]
            return (cell, last + row - len(self.rows))
        return self.rows[max(0, row - 1)]

    def map_diagnostic(self, d: Diagnostic) -> Diagnostic:
        cell, row = self.locate(d.location.row)
        end_cell, end_row = self.locate(d.end_location.row)
        end = Location(end_row, d.end_location.column) if end_cell == cell else Location(row, d.location.column)
        noqa_row = None
        if d.noqa_row is not None:
            noqa_cell, noqa_in_cell = self.locate(d.noqa_row)
            noqa_row = noqa_in_cell if noqa_cell == cell else row
        fix = d.fix
        if fix is not None:  # edits in cell coordinates too (as ruff's JSON); the fixer works on `source`
            fix = replace(fix, edits=tuple(
                replace(e, location=Location(self.locate(e.location.row)[1], e.location.column),
                        end_location=Location(self.locate(e.end_location.row)[1], e.end_location.column))
                for e in fix.edits))
        return replace(d, location=Location(row, d.location.column), end_location=end, noqa_row=noqa_row,
                       cell=cell, fix=fix)

    def map_error(self, e: FileError) -> FileError:
        if e.row is None:
            return e
        cell, row = self.locate(e.row)
        where = f"cell {cell}:{row}" + (f":{e.column}" if e.column else "")

        def in_cell(m: re.Match[str]) -> str:  # LibCST's own "error at ROW:COL" is in joined-text rows
            c, r = self.locate(int(m.group(1)))
            return f"error at cell {c}:{r}:{m.group(2)}"

        reason = _ERROR_AT.sub(in_cell, e.reason)
        return FileError(e.filename, f"{where}: {reason}")

    # ------------------------------------------------------------------ writing back

    def _marker(self) -> str:
        return f"{CELL_BOUNDARY}{self.nonce}"

    def split(self, new_source: str) -> list[str]:
        """`new_source` (a fixed `source`) cut back into one lint text per code cell."""
        marker = self._marker()
        parts = re.split(rf"(?m)^{re.escape(marker)}(?:\r\n|\r|\n|$)", new_source)
        if len(parts) != len(self.cells) or (len(self.cells) == 0 and new_source):
            raise NotebookError("a fix moved text across notebook cells; not written")
        return parts

    def restore(self, cell: CodeCell, lint_text: str) -> str:
        """The cell text for a (fixed) lint text: placeholders get their IPython lines back."""
        if lint_text == cell.lint_text:
            return cell.text
        if cell.opaque:
            raise NotebookError(f"cell {cell.number}: a fix changed a cell that is not Python; not written")
        pattern = re.compile(rf"^([ \t]*)pass  # gradlint-ipython-{self.nonce}-(\d+)$", re.M)

        def put_back(m: re.Match[str]) -> str:
            entry = cell.escapes.get(int(m.group(2)))
            if entry is None:
                raise NotebookError(f"cell {cell.number}: a fix moved an IPython line between cells; not written")
            base, original, continuation = entry
            indent = m.group(1)
            if not continuation:
                return indent + original
            # a continuation line keeps its own indentation, plus whatever a fix added to the block
            return (indent[len(base):] if indent.startswith(base) else "") + original

        text = pattern.sub(put_back, lint_text)
        if self.nonce in text:
            raise NotebookError(f"cell {cell.number}: a fix changed an IPython line; not written")
        if not cell.text.endswith(("\n", "\r")) and text.endswith("\n"):
            text = text[:-1]  # the newline added to join the cells
        return text

    def fixed_text(self, new_source: str) -> str:
        """The notebook file's text with the cells of `new_source` (a fixed `source`) written back."""
        if new_source == self.source:
            return self.raw
        parts = self.split(new_source)
        new_texts = {c.number: self.restore(c, part) for c, part in zip(self.cells, parts)}
        return self.with_cells({n: t for n, t in new_texts.items()
                                if t != next(c.text for c in self.cells if c.number == n)})

    def with_cells(self, changed: dict[int, str]) -> str:
        """The notebook file's text with the source of cells `changed` (number -> new text) replaced."""
        if not changed:
            return self.raw
        spans = _source_spans(self.raw)
        ensure_ascii = _uses_ascii_escapes(self.raw)
        out = self.raw
        for number in sorted(changed, reverse=True):
            if number - 1 >= len(spans) or spans[number - 1] is None:
                raise NotebookError(f"cell {number}: cannot locate its source in the file; not written")
            start, end = spans[number - 1]  # type: ignore[misc]
            cell = next(c for c in self.cells if c.number == number)
            value = _render_source(changed[number], out[start:end], cell.as_list, ensure_ascii,
                                   _key_indent(out, start))
            out = out[:start] + value + out[end:]
        _check_written(self.raw, out, changed)
        return out


# ---------------------------------------------------------------------- reading


def load(path: str | os.PathLike[str]) -> Notebook:
    from gradlint.source import SourceError, _read_bytes

    name = os.fspath(path)
    try:
        data = _read_bytes(name)
    except SourceError as exc:
        raise NotebookError(str(exc)) from None
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"not a valid Jupyter notebook: not UTF-8 (byte 0x{data[exc.start]:02x})") from None
    return parse(raw, name)


def parse(raw: str, path: str = "<notebook>") -> Notebook:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise NotebookError(f"not a valid Jupyter notebook: invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise NotebookError("not a valid Jupyter notebook: the top level is not a JSON object")
    cells_json = doc.get("cells")
    if cells_json is None and "worksheets" in doc:
        raise NotebookError("nbformat 3 notebooks are not supported; convert it with "
                            "`jupyter nbconvert --to notebook --nbformat 4`")
    if not isinstance(cells_json, list):
        raise NotebookError("not a valid Jupyter notebook: no `cells` list")
    nonce = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    nb = Notebook(path=path, raw=raw, cells=[], nonce=nonce)
    if not _is_python(doc.get("metadata")):
        return nb
    for i, cell in enumerate(cells_json, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            text, as_list = "".join(src), True
        elif isinstance(src, str):
            text, as_list = src, False
        else:
            raise NotebookError(f"not a valid Jupyter notebook: cell {i}: `source` is not text")
        nb.cells.append(_code_cell(i, text, as_list, nonce))
    _join(nb)
    return nb


def _is_python(metadata: object) -> bool:
    if not isinstance(metadata, dict):
        return True
    info = metadata.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        return info["name"].lower() == "python"
    kernel = metadata.get("kernelspec")
    if isinstance(kernel, dict) and isinstance(kernel.get("language"), str):
        return kernel["language"].lower() == "python"
    return True


def _code_cell(number: int, text: str, as_list: bool, nonce: str) -> CodeCell:
    cell = CodeCell(number=number, text=text, as_list=as_list, lint_text="")
    lines = _NEWLINES.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(None, 1)[0] if first[2:].strip() else ""
        if magic not in PYTHON_CELL_MAGICS:
            cell.opaque = True
            return cell
    out: list[str] = []
    state = _ScanState()
    continued_escape = False
    base = ""
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        at_statement = state.depth == 0 and state.quote is None and not state.backslash
        if continued_escape or (at_statement and _is_escape(stripped)):
            key = len(cell.escapes)
            if continued_escape:  # the placeholder takes the first line's indentation: valid Python
                cell.escapes[key] = (base, line, True)
            else:
                base = indent
                cell.escapes[key] = (base, stripped, False)
            out.append(f"{base}pass  # gradlint-ipython-{nonce}-{key}")
            continued_escape = line.endswith("\\")
            continue
        _scan(line, state)
        out.append(line)
    cell.lint_text = "".join(s + "\n" for s in out)
    return cell


def _is_escape(stripped: str) -> bool:
    if stripped.startswith(("%", "!")):
        return True
    if stripped.endswith("?") or stripped.startswith("?"):
        return _HELP.fullmatch(stripped) is not None
    return _ASSIGN_ESCAPE.match(stripped) is not None


@dataclass
class _ScanState:
    depth: int = 0
    quote: str | None = None  # the open string's quote (''' or """ for multi-line strings)
    backslash: bool = False  # the line ended with a backslash continuation


def _scan(line: str, st: _ScanState) -> None:
    """Advance the bracket depth / open string state over one line (an approximation of the tokenizer)."""
    i, n = 0, len(line)
    st.backslash = False
    while i < n:
        ch = line[i]
        if st.quote is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(st.quote, i):
                i += len(st.quote)
                st.quote = None
                continue
            i += 1
            continue
        if ch == "#":
            return
        if ch in "\"'":
            q = line[i : i + 3] if line[i : i + 3] in ('"""', "'''") else ch
            st.quote = q
            i += len(q)
            continue
        if ch in "([{":
            st.depth += 1
        elif ch in ")]}":
            st.depth = max(0, st.depth - 1)
        elif ch == "\\" and i == n - 1:
            st.backslash = True
        i += 1
    if st.quote in ("'", '"') and not line.endswith("\\"):
        st.quote = None  # an unterminated one-line string ends with the line (a syntax error anyway)


def _join(nb: Notebook) -> None:
    marker = nb._marker()
    pieces: list[str] = []
    rows: list[tuple[int, int]] = []
    for k, cell in enumerate(nb.cells):
        if k:
            pieces.append(marker + "\n")
            prev = nb.cells[k - 1]  # the boundary line: the end of the previous cell (where its last edit ends)
            rows.append((prev.number, prev.lint_text.count("\n") + 1))
        pieces.append(cell.lint_text)
        rows.extend((cell.number, r) for r in range(1, cell.lint_text.count("\n") + 1))
    nb.source = "".join(pieces)
    nb.rows = rows


# ---------------------------------------------------------------------- linting


def lint_notebook_one(path: str, settings: Settings, cache_root: str | None,
                      external: dict | None = None, project: bool = False) -> tuple[FileResult, str | None]:
    """Lint one notebook (the runner's entry point); never raises. Returns the result, and the file's
    text when there are findings (the full reporter reads cells from it). `external`: what the rest of the
    project tells about it (gradlint.project)."""
    from gradlint.cache import Cache, entry_key, settings_fingerprint
    from gradlint.linter import lint_source

    try:
        nb = load(path)
    except NotebookError as exc:
        return FileResult(filename=path, error=FileError(path, str(exc))), None
    except Exception as exc:  # pragma: no cover - defensive
        return FileResult(filename=path, error=FileError(path, f"cannot read: {exc}")), None
    if not nb.source:
        return FileResult(filename=path), None
    cache = Cache(Path(cache_root)) if cache_root else None
    digest = ""
    if external:
        from gradlint.project import facts_digest

        digest = facts_digest(external)
    key = entry_key(nb.source, settings_fingerprint(settings) + "|ipynb", path,
                    [("facts", digest)] if digest else ()) if cache else None
    raw_diags = cache.get(key, path, nb.source) if cache is not None and key is not None else None
    if raw_diags is None:
        try:
            res = lint_source(nb.source, path, settings, external=external, project=project)
        except RecursionError:
            return FileResult(filename=path, error=FileError(path, "too deeply nested to analyse")), None
        except Exception as exc:  # an internal error must not stop the run
            return FileResult(filename=path, error=FileError(path, f"internal error: {type(exc).__name__}: {exc}")), None
        if res.error is not None and res.error.row is not None:
            # a cell that does not parse (an unfinished exercise): report it, check the others (as the
            # language server does, with the same code: lint_cells)
            cells = lint_cells(path, [(c.number, c.text) for c in nb.cells], settings)
            return _cells_file_result(path, cells), (nb.raw if cells.diagnostics else None)
        if res.error is not None:
            return FileResult(filename=path, error=nb.map_error(res.error)), None
        raw_diags = res.diagnostics
        summary = res.summary
        if cache is not None and key is not None:
            cache.put(key, raw_diags)
    else:
        summary = None
    diags = [nb.map_diagnostic(d) for d in raw_diags]
    diags.sort(key=lambda d: (d.cell or 0, d.location.row, d.location.column, d.code))
    result = FileResult(filename=path, diagnostics=diags)
    if summary is not None:  # project-wide analysis (gradlint.project): the calls, placed in their cells
        result.summary = notebook_summary(nb, summary)
    return result, (nb.raw if diags else None)


def notebook_summary(nb: Notebook, summary: dict) -> dict:
    """A notebook's project summary: the calls its cells make (placed as cell and row within the cell);
    nothing imports a notebook, so it exports no functions, values or classes."""
    summary["defs"] = {}
    summary["values"] = {}
    summary["classes"] = {}
    for call in summary["calls"]:
        if call["line"]:
            call["cell"], call["line"] = nb.locate(call["line"])
    return summary


def _cells_file_result(path: str, cells: "CellsResult") -> FileResult:
    """A FileResult for `lint_cells`' result: the findings of the cells that parse, and one error naming
    the cells that do not (`cell 3:1:12: syntax error: invalid syntax`)."""
    diags = sorted(cells.diagnostics, key=lambda d: (d.cell or 0, d.location.row, d.location.column, d.code))
    reasons = [f"cell {n}:{row}:{col}: {reason}" for n, (row, col, reason) in sorted(cells.broken.items())]
    if cells.error is not None:
        reasons.append(cells.error)
    error = None
    if reasons:
        note = " (not checked; the other cells are)" if cells.error is None else ""
        error = FileError(path, "; ".join(reasons) + note)
    return FileResult(filename=path, diagnostics=diags, error=error)


def cell_lines(raw: str, cell: int) -> list[str]:
    """The lines of cell `cell` (1-based, among all cells) of a notebook file's text; [] if there is none."""
    try:
        cells = json.loads(raw).get("cells") or []
        src = cells[cell - 1].get("source", "")
    except (ValueError, AttributeError, IndexError, TypeError):
        return []
    text = "".join(src) if isinstance(src, list) else str(src)
    lines = _NEWLINES.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def fix_notebook(path: str, settings: Settings, *, unsafe: bool = False):
    """Fix a notebook with the fix-and-relint loop (gradlint.linter.lint_fix on `source`), without writing.

    Returns (result, original file text): `result` is a gradlint.fix.FixResult whose `source` is the new
    *file text* (the original when nothing changed or the fix was refused; `error` then says why) and whose
    `remaining` diagnostics are in cell coordinates. Write it with `write_text(path, result.source)`."""
    from gradlint.fix import FixResult
    from gradlint.linter import lint_fix

    try:
        nb = load(path)
    except NotebookError as exc:
        return FixResult("", error=str(exc)), None
    if not nb.source:
        return FixResult(nb.raw), nb.raw
    res = lint_fix(nb.source, path, settings, unsafe=unsafe)
    if res.error is not None and not res.remaining and not res.passes:
        # not checkable as a whole: fix the cells that parse, leave the others (see lint_notebook_one)
        return _fix_cells(nb, path, settings, unsafe), nb.raw
    if res.error is not None:
        if res.remaining:
            res.remaining = [nb.map_diagnostic(d) for d in res.remaining]
        res.source = nb.raw
        return res, nb.raw
    try:
        new_raw = nb.fixed_text(res.source)
        after = parse(new_raw, path) if new_raw != nb.raw else nb
    except NotebookError as exc:
        return FixResult(nb.raw, remaining=lint_notebook_one(path, settings, None)[0].diagnostics,
                         error=str(exc)), nb.raw
    res.remaining = [after.map_diagnostic(d) for d in res.remaining]
    res.remaining.sort(key=Diagnostic.sort_key)
    res.source = new_raw
    return res, nb.raw


def _fix_cells(nb: Notebook, path: str, settings: Settings, unsafe: bool):
    """fix_notebook for a notebook with cells that do not parse: lint_fix on the joined text of the others."""
    from gradlint.fix import FixResult
    from gradlint.linter import lint_fix

    cells = [(c.number, c.text) for c in nb.cells]
    before = lint_cells(path, cells, settings)
    if before.error is not None or not before.broken:
        return FixResult(nb.raw, error=before.error or "the notebook cannot be checked")
    res = lint_fix(before.notebook.source, path, settings, unsafe=unsafe, first=before.raw)
    if res.error is not None:
        res.remaining = before.diagnostics
        res.source = nb.raw
        return res
    try:
        changed = fixed_cells(before, res.source)
        new_raw = nb.with_cells(changed)
    except NotebookError as exc:
        return FixResult(nb.raw, remaining=before.diagnostics, error=str(exc))
    after = lint_cells(path, [(n, changed.get(n, text)) for n, text in cells], settings)
    res.remaining = sorted(after.diagnostics, key=Diagnostic.sort_key)
    res.source = new_raw
    return res


def fix_in_run(res: FileResult, sources: dict[str, str], settings: Settings, *, unsafe: bool, write: bool,
               outcome) -> None:
    """gradlint.cli.fix_files for one notebook of a `check --fix` / `--diff` run: fix, then write the file
    (or collect a per-cell diff) and replace the run's result and source (the file's text) for it."""
    name = res.filename
    result, old_raw = fix_notebook(name, settings, unsafe=unsafe)
    if result.error is not None:
        outcome.errors.append(FileError(name, result.error if old_raw is not None else f"cannot fix: {result.error}"))
        return
    if name in sources and sources[name] != old_raw:
        outcome.errors.append(FileError(name, "changed while being checked; not fixed"))
        return
    if not result.changed or result.source == old_raw:
        return
    if write:
        try:
            write_text(name, result.source)
        except OSError as exc:
            outcome.errors.append(FileError(name, f"cannot write the fixes: {exc.strerror or exc}"))
            return
    else:
        outcome.diffs.append(unified_diff(name, old_raw, result.source))
    outcome.fixed[name] = result.fixed_by_rule
    res.diagnostics = result.remaining
    if result.remaining:
        sources[name] = result.source
    else:
        sources.pop(name, None)


def unified_diff(name: str, old_raw: str, new_raw: str) -> str:
    """Per-cell unified diffs of two versions of a notebook (`--- nb.ipynb:cell 3`, as ruff prints them)."""
    import difflib

    old_cells = json.loads(old_raw).get("cells") or []
    new_cells = json.loads(new_raw).get("cells") or []
    out: list[str] = []
    for n, (a, b) in enumerate(zip(old_cells, new_cells), start=1):
        sa, sb = a.get("source", ""), b.get("source", "")
        ta = "".join(sa) if isinstance(sa, list) else sa
        tb = "".join(sb) if isinstance(sb, list) else sb
        if ta == tb:
            continue
        where = f"{name}:cell {n}"
        for line in difflib.unified_diff(ta.splitlines(keepends=True), tb.splitlines(keepends=True),
                                         fromfile=where, tofile=where):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a notebook's new file text atomically (temp file in the same folder + rename), same mode."""
    from gradlint.source import atomic_write

    atomic_write(os.fspath(path), text.encode("utf-8"))


# ---------------------------------------------------------------------- JSON splicing

_WS = re.compile(r"[ \t\n\r]*")


def _source_spans(raw: str) -> list[tuple[int, int] | None]:
    """The (start, end) offsets in `raw` of each cell's `source` value (None for a cell without one)."""
    dec = json.JSONDecoder()
    i = _WS.match(raw, 0).end()
    spans: list[tuple[int, int] | None] = []
    if raw[i : i + 1] != "{":
        raise NotebookError("not a valid Jupyter notebook")

    def members(i: int):
        """Yield (key, value start) of an object starting at raw[i] == '{'; the caller consumes each value
        and sends back where it ended."""
        i = _WS.match(raw, i + 1).end()
        if raw[i] == "}":
            return i + 1
        while True:
            key, i = json.decoder.scanstring(raw, i + 1)
            i = _WS.match(raw, i).end()
            assert raw[i] == ":"
            i = _WS.match(raw, i + 1).end()
            i = yield key, i
            i = _WS.match(raw, i).end()
            if raw[i] == ",":
                i = _WS.match(raw, i + 1).end()
                continue
            assert raw[i] == "}"
            return i + 1

    def skip(i: int) -> int:
        return dec.raw_decode(raw, i)[1]

    def walk_object(i: int, on_member) -> int:
        gen = members(i)
        try:
            item = next(gen)
            while True:
                key, start = item
                item = gen.send(on_member(key, start))
        except StopIteration as stop:
            return stop.value

    def cells_array(i: int) -> int:
        assert raw[i] == "["
        i = _WS.match(raw, i + 1).end()
        if raw[i] == "]":
            return i + 1
        while True:
            if raw[i] == "{":
                found: list[tuple[int, int] | None] = [None]

                def cell_member(key: str, start: int, found: list = found) -> int:
                    end = skip(start)
                    if key == "source":
                        found[0] = (start, end)
                    return end

                i = walk_object(i, cell_member)
                spans.append(found[0])
            else:
                i = skip(i)
                spans.append(None)
            i = _WS.match(raw, i).end()
            if raw[i] == ",":
                i = _WS.match(raw, i + 1).end()
                continue
            assert raw[i] == "]"
            return i + 1

    def top_member(key: str, start: int) -> int:
        if key == "cells" and raw[start] == "[":
            spans.clear()
            return cells_array(start)
        return skip(start)

    try:
        walk_object(i, top_member)
    except (AssertionError, IndexError, ValueError):
        raise NotebookError("cannot read the notebook's JSON layout; not written") from None
    return spans


def _uses_ascii_escapes(raw: str) -> bool:
    """Did the writer escape non-ASCII text (`ensure_ascii`)? nbformat does not; some tools do."""
    if any(ord(ch) > 127 for ch in raw):
        return False
    return re.search(r"\\u(?!00[0-7])[0-9a-fA-F]{4}", raw) is not None


def _key_indent(raw: str, value_start: int) -> str:
    line_start = raw.rfind("\n", 0, value_start) + 1
    line = raw[line_start:value_start]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _render_source(text: str, original: str, as_list: bool, ensure_ascii: bool, key_indent: str) -> str:
    """`text` as a JSON `source` value in the style of the `original` value text."""
    def dump(s: str) -> str:
        return json.dumps(s, ensure_ascii=ensure_ascii)

    if not as_list:
        return dump(text)
    lines = text.splitlines(keepends=True)
    if not lines:
        return "[]"
    m_open = re.match(r"\[([ \t\r\n]*)", original)
    m_close = re.search(r"([ \t\r\n]*)\]$", original)
    inner_open = m_open.group(1) if m_open else ""
    inner_close = m_close.group(1) if m_close else ""
    if original.strip() in ("[]", "") or not re.match(r"\[\s*\"", original):
        # no example to copy: nbformat's layout, one level deeper than the key
        newline = "\r\n" if "\r\n" in original else "\n"
        step = " " if len(key_indent) < 2 else key_indent[: max(1, len(key_indent) // 3)]
        inner_open, inner_close = newline + key_indent + step, newline + key_indent
    m_sep = re.search(r'",([ \t\r\n]*)"', original)
    sep = "," + (m_sep.group(1) if m_sep else inner_open)
    return "[" + inner_open + sep.join(dump(s) for s in lines) + inner_close + "]"


def _check_written(before: str, after: str, changed: dict[int, str]) -> None:
    try:
        old, new = json.loads(before), json.loads(after)
    except ValueError as exc:  # pragma: no cover - a bug in the splicer
        raise NotebookError(f"writing the fix would produce invalid JSON ({exc}); not written") from None
    for n, text in changed.items():
        src = new["cells"][n - 1].get("source")
        if ("".join(src) if isinstance(src, list) else src) != text:  # pragma: no cover
            raise NotebookError(f"cell {n}: writing the fix back failed; not written")
        new["cells"][n - 1]["source"] = old["cells"][n - 1].get("source")
    if old != new:  # pragma: no cover - only `source` of the changed cells may differ
        raise NotebookError("writing the fix would change more than the fixed cells; not written")


# ---------------------------------------------------------------------- cells from an editor


def from_cells(path: str, cells: list[tuple[int, str]], broken: frozenset[int] = frozenset()) -> Notebook:
    """A Notebook made of the code cells an editor holds (`(number, text)`, numbers 1-based): the same
    joined text, placeholders and cell mapping as `parse` gives for a file. The cells in `broken` are left
    out of the joined text (they stay in place, empty, and are never rewritten)."""
    nonce = hashlib.sha256("\0".join(t for _, t in cells).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    nb = Notebook(path=path, raw="", cells=[], nonce=nonce)
    for number, text in cells:
        if number in broken:
            nb.cells.append(CodeCell(number=number, text=text, as_list=False, lint_text="", opaque=True))
        else:
            nb.cells.append(_code_cell(number, text, False, nonce))
    _join(nb)
    return nb


@dataclass
class CellsResult:
    """What `lint_cells` found: `notebook` (the joined text the linter saw), `raw` (its diagnostics, in
    joined-text rows: what the fixer takes), `diagnostics` (the same in cell coordinates, `Diagnostic.cell`
    set), `broken` (cell number -> (row, column, reason) of a cell that is not valid Python) and `error`
    (a reason when nothing could be checked)."""

    notebook: Notebook
    raw: list[Diagnostic] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    broken: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    error: str | None = None


def _cell_syntax_error(cell: CodeCell) -> tuple[int, int, str] | None:
    """(row, column, reason) if the cell's lint text is not valid Python on its own (CPython's parser,
    top-level `await` allowed as IPython does), else None."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(cell.lint_text, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as exc:
        return (exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return (1, 1, f"cannot parse: {exc}")
    return None


def lint_cells(path: str, cells: list[tuple[int, str]], settings: Settings) -> CellsResult:
    """Lint an editor's code cells as `gradlint check` lints a notebook file (one joined text: magics
    replaced, `# noqa` per line, cross-cell analysis), except that a cell that is not valid Python is left
    out and reported on its own, so one bad cell does not hide the findings of the others."""
    from gradlint.linter import lint_source

    broken: dict[int, tuple[int, int, str]] = {}
    probe = from_cells(path, cells)
    for cell in probe.cells:
        if not cell.opaque:
            problem = _cell_syntax_error(cell)
            if problem is not None:
                broken[cell.number] = problem
    for _ in range(len(cells) + 1):  # LibCST may refuse what CPython accepts: leave that cell out too
        nb = from_cells(path, cells, frozenset(broken))
        if not nb.source.strip():
            return CellsResult(nb, broken=broken)
        try:
            res = lint_source(nb.source, path, settings)
        except RecursionError:
            return CellsResult(nb, broken=broken, error="too deeply nested to analyse")
        if res.error is None:
            diags = [nb.map_diagnostic(d) for d in res.diagnostics]
            return CellsResult(nb, raw=list(res.diagnostics), diagnostics=diags, broken=broken)
        if res.error.row is None:
            return CellsResult(nb, broken=broken, error=res.error.reason)
        number, row = nb.locate(res.error.row)
        if number in broken:
            return CellsResult(nb, broken=broken, error=nb.map_error(res.error).reason)
        reason = _ERROR_AT.sub(lambda m: "error at cell {}:{}:{}".format(*nb.locate(int(m.group(1))), m.group(2)),
                               res.error.reason)
        broken[number] = (row, res.error.column or 1, reason)
    return CellsResult(from_cells(path, cells, frozenset(broken)), broken=broken,
                       error="could not isolate the cells that do not parse")


def fixed_cells(result: CellsResult, new_source: str) -> dict[int, str]:
    """Cell number -> new text of each cell that `new_source` (a fixed `result.notebook.source`) changes.
    Raises NotebookError when a fix cannot be mapped back to the cells."""
    nb = result.notebook
    if new_source == nb.source:
        return {}
    parts = nb.split(new_source)
    out: dict[int, str] = {}
    for cell, part in zip(nb.cells, parts):
        text = nb.restore(cell, part)
        if text != cell.text:
            out[cell.number] = text
    return out
