"""Where a summary places each imported call (gradlint.summary): found in the text when the spellings and
the model's calls agree in number, else from CPython's tree (`_walk_calls`)."""

from __future__ import annotations

import ast

from gradlint.config import Settings, default_codes
from gradlint.linter import summarize_source
from gradlint.summary import _ast_dotted, _walk_calls

SOURCE = '''import torch
import utils
from helpers import make

def build(w):
    """Calls utils.scale_(w) and make(2), as in utils.scale_(v)."""
    utils.scale_(
        w)
    w.add_(1)
    return make(2,
                3)
'''


def test_calls_spelled_in_a_docstring_are_placed_from_the_tree():
    summary = summarize_source(SOURCE, "m.py", Settings(selected=frozenset(default_codes())))
    where = sorted((c["t"], c["line"], c["col"]) for c in summary["calls"])
    assert where == [("helpers.make", 10, 12), ("utils.scale_", 7, 5)]


def test_walk_calls_finds_what_ast_walk_finds():
    tree = ast.parse(SOURCE + "x = [utils.scale_(i) for i in range(3)]\ny = (lambda: make(1, 1))()\n")
    texts = {"utils.scale_", "make", "range"}
    expected: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _ast_dotted(node.func) in texts:
            expected.setdefault(_ast_dotted(node.func), []).append((node.lineno + 5, node.col_offset + 1))
    got: dict[str, list[tuple[int, int]]] = {}
    _walk_calls(tree, texts, got, 5)
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
    assert len(got["utils.scale_"]) == 2 and len(got["make"]) == 2 and len(got["range"]) == 1
