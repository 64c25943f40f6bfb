"""The language server's incremental re-parse (gradlint/incremental.py) against full parses.

Sequences of generated edits (as typing produces them: one after another, each on the previous text) over
real files: the test programs in tests/realistic, the benchmark's generated training file, a few
tutorials from /work/tut when present, and small texts built to hit the awkward cases (comments owned by
the block before them, tabs, CRLF, no final newline, decorators, the header). After every edit:

- if a full parse of the text fails, the incremental parser fails too;
- else its module `deep_equals` the full parse's and generates the same code (the text, where LibCST
  reproduces it) (the same tree, the
  same header, footer, default indentation and newline);
- its CPython check (`IncrementalParser.check`, which checks only the statements an edit touched) gives
  what `cpython_check` of the whole text gives: the same syntax error (message and position) or none, and
  the same statements with the same line numbers, every node's;
- on a sample of the edits, `lint_source` with the incremental parser gives the same diagnostics (codes,
  messages, positions, fixes) and the same project summary as a fresh `lint_source` of the text.
"""

from __future__ import annotations

import ast
import random
import sys
import zlib
from pathlib import Path

import pytest

from gradlint.config import ConfigResolver, Overrides
from gradlint.incremental import IncrementalParser
from gradlint.linter import _big_stack_executor, _Refused, cpython_check, lint_source, parse_module

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from synthetic import training_file  # noqa: E402

PROGRAMS = sorted((ROOT / "tests" / "realistic" / "programs").glob("*.py"))
TUT = Path("/work/tut")
TUTORIALS = sorted(TUT.glob("*/**/*.py"))[::23] if TUT.is_dir() else []

AWKWARD = [
    # comments after a block: indented ones belong to the block, the others to the next statement
    "import torch\n\n\ndef f(x):\n    y = x + 1\n\n    # inside\n\n# outside\n\n\ndef g():\n    return 2\n"
    "    # trailing, deeper\n\n\nclass A:\n    def m(self):\n        pass\n        # deep\n    # shallow\n# top\nz = 3\n",
    # tabs, a first block indented with two spaces, decorators, no final newline
    "# coding: utf-8\n# header\n\nimport torch\nif True:\n  a = 1\n\n@torch.no_grad()\ndef h(m):\n\treturn m(1)\n"
    "x = [\n    1,\n]\nw = 2",
    # CRLF
    "import torch\r\n\r\ndef f():\r\n    return 1\r\n\r\n# c\r\nx = f()\r\n",
    # one statement; semicolons; a backslash continuation
    "x = 1; y = 2\nz = x + \\\n    y\n\n\ndef f(a):\n    return a\n\n\nclass B:\n    c = 1\n",
]


def _full(text: str):
    return _big_stack_executor().submit(parse_module, text).result()


def _mutate(rng: random.Random, text: str, history: list[str]) -> str:
    """One edit of `text`, of a kind picked at random."""
    lines = text.splitlines(keepends=True) or [""]
    k = rng.randrange(len(lines))
    op = rng.randrange(14)
    nl = "\r\n" if "\r\n" in text else "\n"
    if op == 0:  # type a character (or a few) somewhere
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(["x", " ", "(", ")", ":", "#", "'", '"""', "1", "\\", "\t", nl]) + text[at:]
    if op == 1:  # delete a few characters
        at = rng.randrange(len(text) + 1)
        return text[:at] + text[at + rng.randint(1, 5):]
    if op == 2:  # a comment line, at some indentation
        lines.insert(k, " " * rng.choice([0, 2, 4, 8, 12]) + "# note" + nl)
    elif op == 3:  # a blank line (maybe with spaces)
        lines.insert(k, rng.choice(["", "    ", "\t"]) + nl)
    elif op == 4:  # delete a line
        del lines[k]
    elif op == 5:  # indent or dedent a line
        line = lines[k]
        lines[k] = "    " + line if rng.random() < 0.5 or not line.startswith("    ") else line[4:]
    elif op == 6:  # copy a line elsewhere
        lines.insert(rng.randrange(len(lines) + 1), lines[k] if lines[k].endswith(("\n", "\r")) else lines[k] + nl)
    elif op == 7:  # edit inside a line: a trailing comment, a renamed name
        line = lines[k]
        body = line.rstrip("\r\n")
        lines[k] = (body + "  # edited" if rng.random() < 0.5 else body.replace("x", "x_1", 1)) + line[len(body):]
    elif op == 8:  # duplicate a run of lines
        m = rng.randint(1, 12)
        lines[k:k] = lines[k:k + m]
    elif op == 9:  # a new top-level statement or definition
        lines.insert(k, rng.choice([f"y_new = 1{nl}", f"def added(a):{nl}    return a{nl}",
                                    f"@decorator{nl}", f"import os{nl}", f"if y:{nl}\tpass{nl}",
                                    f"from __future__ import annotations{nl}", f"class C:{nl}  pass{nl}"]))
    elif op == 10:  # the end of the file
        if text.endswith(("\n", "\r")):
            return text.rstrip("\r\n")
        return text + rng.choice([nl, f"{nl}# end{nl}", f"{nl}    # end{nl}"])
    elif op == 11 and history:  # back to an earlier text (undo)
        return rng.choice(history)
    elif op == 12:  # the first lines (header, encoding cookie, docstring)
        lines.insert(rng.randrange(min(3, len(lines)) + 1), rng.choice(["# -*- coding: latin-1 -*-", "# top",
                                                                          '"""doc"""', ""]) + nl)
    else:  # change a line's indentation style
        lines[k] = lines[k].replace("    ", "\t", 1)
    return "".join(lines)


def _positions(statements) -> list[tuple]:
    """Every node of the top-level statements with its (moved) position, in walk order."""
    out = []
    for offset, stmt in statements:
        for node in ast.walk(stmt):
            line = getattr(node, "lineno", None)
            out.append((type(node).__name__, None if line is None else line + offset, getattr(node, "col_offset", None),
                        None if line is None else node.end_lineno + offset, getattr(node, "end_col_offset", None)))
    return out


def _same_check(parser: IncrementalParser, text: str, where: str) -> None:
    """The parser's check of `text` is `cpython_check`'s: the same error, or the same tree and positions."""
    def run(check):
        keep: list = []
        try:
            error = _big_stack_executor().submit(check, text, "t.py", keep).result()
        except _Refused as exc:
            return ("refused", exc.reason, exc.row, exc.column), None
        if error is not None:
            return ("error", error.msg, error.lineno, error.offset), None
        tree = keep[0]
        return None, getattr(tree, "statements", None) or [(0, stmt) for stmt in tree.body]

    want_error, want = run(cpython_check)
    got_error, got = run(parser.check)
    assert got_error == want_error, where
    if want is not None:
        assert [ast.dump(s) for _, s in got] == [ast.dump(s) for _, s in want], where
        assert _positions(got) == _positions(want), where


def _check_sequence(text: str, seed: int, steps: int, lint_every: int = 0) -> tuple[int, int, int]:
    """Apply `steps` random edits; check every parse and CPython check. Returns (parses that succeeded, of
    them incremental, CPython checks that took the incremental path)."""
    rng = random.Random(seed)
    parser = IncrementalParser()
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    history: list[str] = []
    ok = incremental = checks = 0
    good = text
    for step in range(steps + 1):
        if step:
            history.append(text)
            text = _mutate(rng, text, history[-20:])
        where = f"seed {seed}, step {step}"
        _same_check(parser, text, where)  # (as the linter does: the check first, then the parse)
        checks += parser.checked == "incremental"
        try:
            expected = _full(text)
        except Exception:
            with pytest.raises(Exception):
                _big_stack_executor().submit(parser.parse, text).result()
            text = good  # the typo is fixed by the next edit
            continue
        good = text
        got = _big_stack_executor().submit(parser.parse, text).result()
        where = f"seed {seed}, step {step} ({parser.last})"
        # (LibCST itself does not always reproduce a text — e.g. indented comments at the end of a CRLF
        # file — then the incremental tree must be the full parse's all the same)
        assert got.code == expected.code, where
        assert got.deep_equals(expected), where
        assert (got.default_indent, got.default_newline, got.has_trailing_newline, got.encoding) == (
            expected.default_indent, expected.default_newline, expected.has_trailing_newline, expected.encoding), where
        ok += 1
        incremental += parser.last == "incremental"
        if lint_every and step % lint_every == 0:
            fresh = lint_source(text, "train.py", settings, project=True)
            again = lint_source(text, "train.py", settings, project=True, parse=parser)
            assert again.error == fresh.error, where
            assert again.diagnostics == fresh.diagnostics, where
            assert again.summary == fresh.summary, where
    return ok, incremental, checks


@pytest.mark.parametrize("index", range(len(AWKWARD)))
def test_awkward_texts(index):
    total = inc = checks = 0
    for seed in range(12):
        ok, n, c = _check_sequence(AWKWARD[index], 1000 * index + seed, 25)
        total, inc, checks = total + ok, inc + n, checks + c
    assert inc > total // 5, (inc, total)  # the incremental path is taken, not only the fallback
    assert checks > total // 5, (checks, total)


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_realistic_programs(path):
    ok, inc, checks = _check_sequence(path.read_text(), zlib.crc32(path.stem.encode()), 30, lint_every=3)
    assert inc > ok // 3, (inc, ok)
    assert checks > ok // 3, (checks, ok)


@pytest.mark.skipif(not TUTORIALS, reason="no tutorials at /work/tut")
def test_tutorial_files():
    ok = inc = 0
    for n, path in enumerate(TUTORIALS[:12]):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        a, b, _ = _check_sequence(text, n, 10, lint_every=5)
        ok, inc = ok + a, inc + b
    assert inc > ok // 3, (inc, ok)


def test_training_file_single_edits_are_incremental_and_identical():
    """The benchmark's 3,000-line file: an edit inside one function re-parses and re-checks two statements,
    keeps the parent maps of the others, and the lint with the incremental parse equals a fresh lint (36
    findings, positions below the edit moved; the same project summary)."""
    text = training_file(3000, True)
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    parser = IncrementalParser()
    first = lint_source(text, "train.py", settings, project=True, parse=parser)
    assert parser.last == "full" and parser.checked == "full" and len(first.diagnostics) >= 30
    maps = dict(parser.parent_cache)
    assert len(maps) == len(parser.module.body)
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if "p -= lr * p.grad" in line)
    lines.insert(k, lines[k])  # one more finding, and every one below it moves down a line
    edited = "\n".join(lines)
    got = lint_source(edited, "train.py", settings, project=True, parse=parser)
    # (the textual diff puts the copy after the original, at the end of the function: the statement after
    # it — whose leading blank lines follow — is re-parsed with it)
    assert parser.last == "incremental" and parser.reparsed == 2 and parser.checked == "incremental"
    kept = [key for key, (stmt, sub) in parser.parent_cache.items() if maps.get(key, (None, None))[1] is sub]
    assert len(kept) == len(parser.module.body) - 2
    fresh = lint_source(edited, "train.py", settings, project=True)
    assert got.diagnostics == fresh.diagnostics and got.summary == fresh.summary
    assert len(got.diagnostics) == len(first.diagnostics) + 1
