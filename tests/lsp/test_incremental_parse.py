"""The language server's incremental re-parse (gradlint/incremental.py) against full parses.

Sequences of generated edits (as typing produces them: one after another, each on the previous text) over
real files: the test programs in tests/realistic, the benchmark's generated training file, a few
tutorials from /work/tut when present, and small texts built to hit the awkward cases (comments owned by
the block before them, tabs, CRLF, no final newline, decorators, the header). After every edit:

- if a full parse of the text fails, the incremental parser fails too;
- else its module `deep_equals` the full parse's and generates the same code (the text, where LibCST
  reproduces it) (the same tree, the
  same header, footer, default indentation and newline);
- on a sample of the edits, `lint_source` with the incremental parser gives the same diagnostics (codes,
  messages, positions, fixes) as a fresh `lint_source` of the text.
"""

from __future__ import annotations

import random
import zlib
import sys
from pathlib import Path

import pytest

from gradlint.config import ConfigResolver, Overrides
from gradlint.incremental import IncrementalParser
from gradlint.linter import _big_stack_executor, lint_source, parse_module

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


def _check_sequence(text: str, seed: int, steps: int, lint_every: int = 0) -> tuple[int, int]:
    """Apply `steps` random edits; check every parse. Returns (parses that succeeded, of them incremental)."""
    rng = random.Random(seed)
    parser = IncrementalParser()
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    history: list[str] = []
    ok = incremental = 0
    good = text
    for step in range(steps + 1):
        if step:
            history.append(text)
            text = _mutate(rng, text, history[-20:])
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
            fresh = lint_source(text, "train.py", settings)
            again = lint_source(text, "train.py", settings, parse=parser.parse)
            assert again.error == fresh.error, where
            assert again.diagnostics == fresh.diagnostics, where
    return ok, incremental


@pytest.mark.parametrize("index", range(len(AWKWARD)))
def test_awkward_texts(index):
    total = inc = 0
    for seed in range(12):
        ok, n = _check_sequence(AWKWARD[index], 1000 * index + seed, 25)
        total, inc = total + ok, inc + n
    assert inc > total // 5, (inc, total)  # the incremental path is taken, not only the fallback


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_realistic_programs(path):
    ok, inc = _check_sequence(path.read_text(), zlib.crc32(path.stem.encode()), 30, lint_every=3)
    assert inc > ok // 3, (inc, ok)


@pytest.mark.skipif(not TUTORIALS, reason="no tutorials at /work/tut")
def test_tutorial_files():
    ok = inc = 0
    for n, path in enumerate(TUTORIALS[:12]):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        a, b = _check_sequence(text, n, 10, lint_every=5)
        ok, inc = ok + a, inc + b
    assert inc > ok // 3, (inc, ok)


def test_training_file_single_edits_are_incremental_and_identical():
    """The benchmark's 3,000-line file: an edit inside one function re-parses two statements, and
    the lint with the incremental parse equals a fresh lint (36 findings, positions below the edit moved)."""
    text = training_file(3000, True)
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    parser = IncrementalParser()
    first = lint_source(text, "train.py", settings, parse=parser.parse)
    assert parser.last == "full" and len(first.diagnostics) >= 30
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if "p -= lr * p.grad" in line)
    lines.insert(k, lines[k])  # one more finding, and every one below it moves down a line
    edited = "\n".join(lines)
    got = lint_source(edited, "train.py", settings, parse=parser.parse)
    # (the textual diff puts the copy after the original, at the end of the function: the statement after
    # it — whose leading blank lines follow — is re-parsed with it)
    assert parser.last == "incremental" and parser.reparsed == 2
    assert got.diagnostics == lint_source(edited, "train.py", settings).diagnostics
    assert len(got.diagnostics) == len(first.diagnostics) + 1
