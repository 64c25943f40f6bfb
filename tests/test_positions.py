"""gradlint.positions gives exactly LibCST's PositionProvider ranges, for the nodes asked for."""

from __future__ import annotations

import glob
import os

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from gradlint.model.walk import iter_nodes
from gradlint.positions import Positions, resolve_positions

SOURCES = {
    "plain": "import torch\nw = torch.zeros(3, requires_grad=True)\nw += 1\n",
    "crlf": "import torch\r\nif x:\r\n    y = (1,\r\n         2)\r\n",
    "lone_cr": "a = 1\rb = [1,\r 2]\r",
    "tabs_unicode": "def f():\n\tx = 'é😋'  # ü\n\treturn x.data\n",
    "decorators_and_strings": '@torch.no_grad()\n@other\ndef f(a, *, b=2):\n    """doc\n    more"""\n    s = f"{a!r:>10}" + """x\ny"""\n    return [i for i in range(3) if i]\n',
    "no_trailing_newline": "x = (1 +\n     2)",
    "comments_and_blank_lines": "# head\n\n\nclass A(B):  # c\n\n    x: int = 1\n    # trailing\n",
}


def _check(source: str) -> None:
    module = cst.parse_module(source)
    ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = [n for n in iter_nodes(module) if not isinstance(n, cst.Module)]
    every = resolve_positions(module, None)
    for node in nodes:
        assert every[id(node)] == ref[node], (type(node).__name__, source)
    some = nodes[::3]
    picked = resolve_positions(module, some)
    assert set(picked) == {id(n) for n in some}
    for node in some:
        assert picked[id(node)] == ref[node]
    # one node, or the first few: generation stops once they are known, and still agrees
    for node in nodes[:: max(1, len(nodes) // 25)]:
        assert resolve_positions(module, [node]) == {id(node): ref[node]}, (type(node).__name__, source)
    head = nodes[: max(1, len(nodes) // 4)]
    early = resolve_positions(module, head)
    assert early == {id(n): ref[n] for n in head}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_same_ranges_as_position_provider(name):
    _check(SOURCES[name])


def test_real_files_agree():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = sorted(glob.glob(os.path.join(here, "gradlint", "**", "*.py"), recursive=True))[:15]
    for path in files:
        with open(path, encoding="utf-8") as fh:
            _check(fh.read())


def test_late_lookup_falls_back_to_every_node():
    module = cst.parse_module("a = 1\nb = a + 2\n")
    first, second = module.body
    pos = Positions(module, [first])
    assert pos.get(first).start.line == 1
    assert pos.get(second).start.line == 2  # not asked for up front: resolved on demand
    assert pos.get(cst.Name("elsewhere")) is None
