"""gradlint.positions gives exactly LibCST's PositionProvider ranges, for the nodes asked for."""

from __future__ import annotations

import glob
import os

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from gradlint.model.walk import iter_nodes, parent_map
from gradlint.positions import Positions, resolve_positions

SOURCES = {
    "plain": "import torch\nw = torch.zeros(3, requires_grad=True)\nw += 1\n",
    "crlf": "import torch\r\nif x:\r\n    y = (1,\r\n         2)\r\n",
    "lone_cr": "a = 1\rb = [1,\r 2]\r",
    "tabs_unicode": "def f():\n\tx = 'é😋'  # ü\n\treturn x.data\n",
    "decorators_and_strings": '@torch.no_grad()\n@other\ndef f(a, *, b=2):\n    """doc\n    more"""\n    s = f"{a!r:>10}" + """x\ny"""\n    return [i for i in range(3) if i]\n',
    "no_trailing_newline": "x = (1 +\n     2)",
    "comments_and_blank_lines": "# head\n\n\nclass A(B):  # c\n\n    x: int = 1\n    # trailing\n",
    # the same statement text several times (located by order, or not at all: then the whole module)
    "repeated_statements": "x = 1\nx = 1\ny = x\nx = 1\nif x:\n    x = 1\nx = 1\n# end\n",
    "header_footer": "#!/usr/bin/env python\n# header\n\nx = 1\n\n# footer\n\n",
    "string_holding_statements": 'a = 1\ns = """\na = 1\nb = 2\n"""\nb = 2\na = 1\n',
    "decorated_last_no_newline": "import torch\n\n@torch.no_grad()\ndef f():\n    return 1",
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
    # with the source: only the statements holding the nodes are generated, and the ranges are the same
    assert resolve_positions(module, some, source) == {id(n): ref[n] for n in some}
    assert resolve_positions(module, some, source, parent_map(module)) == {id(n): ref[n] for n in some}
    for node in nodes[:: max(1, len(nodes) // 25)]:
        assert resolve_positions(module, [node], source) == {id(node): ref[node]}, (type(node).__name__, source)
    tail = nodes[-max(1, len(nodes) // 4):]
    assert resolve_positions(module, tail, source) == {id(n): ref[n] for n in tail}


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


def test_source_that_is_not_the_module_falls_back_to_generating_it():
    """Given a text that is not the module's (an edited copy), the statements are not found there: the
    ranges still come from the module's own code."""
    source = "import torch\nw = torch.zeros(3)\nw += 1\n"
    module = cst.parse_module(source)
    ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    node = module.body[2]
    assert resolve_positions(module, [node], "# edited\n" + source.replace("w +=", "w -=")) == {id(node): ref[node]}


def test_positions_with_source_agree_on_fixture_files():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = sorted(glob.glob(os.path.join(here, "fixtures", "**", "*.py"), recursive=True))[:60]
    for path in files:
        with open(path, encoding="utf-8", newline="") as fh:
            source = fh.read()
        try:
            module = cst.parse_module(source)
        except Exception:  # noqa: BLE001  (fixtures of syntax errors)
            continue
        ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        nodes = [n for n in iter_nodes(module) if not isinstance(n, cst.Module)]
        parents = parent_map(module)
        for some in (nodes[::7], nodes[-3:], nodes[len(nodes) // 2: len(nodes) // 2 + 2]):
            assert resolve_positions(module, some, source) == {id(n): ref[n] for n in some}, path
            assert resolve_positions(module, some, source, parents) == {id(n): ref[n] for n in some}, path


def test_statements_are_located_without_generating_the_module():
    from gradlint.positions import _by_statement

    source = SOURCES["repeated_statements"]
    module = cst.parse_module(source)
    ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    y, third_x = module.body[2], module.body[3]
    # `y = x` occurs once; the `x = 1` after it directly follows it
    got = _by_statement(module, [y, third_x], {id(y), id(third_x)}, source)
    assert got == {id(y): ref[y], id(third_x): ref[third_x]}
    # the first `x = 1` alone is ambiguous (it starts three lines): not guessed
    first = module.body[0]
    assert _by_statement(module, [first], {id(first)}, source) is None
    assert resolve_positions(module, [first], source) == {id(first): ref[first]}


def test_a_node_of_another_module_is_not_located_through_a_parent_map():
    module = cst.parse_module("a = 1\nb = a + 2\n")
    other = cst.parse_module("c = 3\n")
    assert resolve_positions(module, [other.body[0]], "a = 1\nb = a + 2\n", parent_map(module)) == {}


def test_parent_map_is_the_child_nodes_relation():
    from gradlint.model.walk import child_nodes

    source = SOURCES["decorators_and_strings"] + SOURCES["comments_and_blank_lines"] + 'z = f"{a!r} {\'b\'}"\n'
    module = cst.parse_module(source)
    expected = {id(child): node for node in iter_nodes(module) for child in child_nodes(node)}
    got = parent_map(module)
    assert got.keys() == expected.keys() and all(got[k] is expected[k] for k in got)
    assert got.root is module
    strings = [n for n in iter_nodes(module) if type(n) in (cst.SimpleString, cst.FormattedString)]
    assert len(strings) > 3 and sorted(map(id, got.strings)) == sorted(map(id, strings))



def test_statements_generated_once_are_reused_across_versions_of_a_document():
    """The language server keeps, per document, the code each statement holding a finding generated
    (`cache`): an unchanged statement (the same node in the next version's tree) is not generated again, and
    the ranges are still PositionProvider's — moved to where the statement now is."""
    source = "import torch\n\ndef f(w):\n    w += 1\n    return w.data\n\ndef g():\n    return 2\n"
    module = cst.parse_module(source)
    cache: dict = {}
    f, g = module.body[1], module.body[2]
    ret = f.body.body[1]
    got = resolve_positions(module, [ret, g], source, parent_map(module), cache)
    ref = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert got == {id(ret): ref[ret], id(g): ref[g]}
    assert set(cache) == {id(f), id(g)}
    first_text = cache[id(f)][2]

    # the next version: a line inserted at the top, `f` and `g` the same nodes (as gradlint.incremental
    # builds it), the first statement changed
    edited = "import torch\nimport os\n" + source[len("import torch\n"):]
    new = module.with_changes(body=[module.body[0], cst.parse_statement("import os\n"), f, g])
    assert new.code == edited
    got = resolve_positions(new, [ret, g], edited, parent_map(new), cache)
    ref = MetadataWrapper(new, unsafe_skip_copy=True).resolve(PositionProvider)
    assert got == {id(ret): ref[ret], id(g): ref[g]}
    assert got[id(ret)].start.line == 6
    assert cache[id(f)][2] is first_text  # reused, not generated again

    # a node of `f` not located before: `f` is generated again
    aug = f.body.body[0]
    assert resolve_positions(new, [aug], edited, parent_map(new), cache) == {id(aug): ref[aug]}
    assert cache[id(f)][2] is not first_text and set(cache) == {id(f)}

    # another default indentation changes what an unchanged statement generates: not reused
    tabbed = new.with_changes(default_indent="\t")
    text = tabbed.code
    first_text = cache[id(f)][2]
    got = resolve_positions(tabbed, [aug], text, parent_map(tabbed), cache)
    assert got == {id(aug): MetadataWrapper(tabbed, unsafe_skip_copy=True).resolve(PositionProvider)[aug]}
    assert cache[id(f)][2] is not first_text
