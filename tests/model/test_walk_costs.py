"""The model's shortcuts for speed give the answers of the plain code they replace."""

from __future__ import annotations

import re

import libcst as cst
import pytest

from gradlint.model.evaluate import _DEF_NAME
from gradlint.model.names import ImportMap
from gradlint.model.values import UNK_PROV, Kind, Prov, Value

_PLAIN_DEF_NAME = re.compile(r"\b(?:def|class)\s+([A-Za-z_]\w*)")


@pytest.mark.parametrize(
    "text",
    [
        "def f(): pass\nclass C: pass",
        "undef class Foo",  # a `def` inside a word is not one, and the `class` after it still is
        "xdef y\n_class Z\n9def w",
        "  def  spaced(x)\n\tclass\tTabbed:",
        "é def accent\nédef no",
        "classy = 1\ndefault = 2\ndef\nname",
        "d",
        "",
        "(def a)(class b)def c",
    ],
)
def test_def_name_pattern_finds_what_the_plain_one_does(text: str) -> None:
    assert _DEF_NAME.findall(text) == _PLAIN_DEF_NAME.findall(text)


def test_value_and_prov_init_as_the_dataclass() -> None:
    v = Value(Kind.LEAF, "o", prov=UNK_PROV)
    assert (v.kind, v.origin, v.cls, v.ref, v.path, v.prov) == (Kind.LEAF, "o", None, None, (), UNK_PROV)
    assert v == Value(Kind.LEAF, "o", None, None, (), UNK_PROV) and hash(v) == hash(Value(Kind.LEAF, "o", prov=UNK_PROV))
    p = Prov("rg", "float32", cpu_fresh=True)
    assert p.conds == frozenset() and p.rewraps == frozenset() and p.off is None and p.cpu_fresh
    assert p == Prov(state="rg", dtype="float32", cpu_fresh=True) and p != Prov("rg")
    with pytest.raises(AttributeError):
        v.kind = Kind.TENSOR  # type: ignore[misc]


def test_resolve_per_node_forgets_on_a_new_import() -> None:
    imports = ImportMap()
    expr = cst.parse_expression("nn.Linear")
    assert imports.resolve(expr) is None
    imports.add_import(cst.parse_statement("import torch.nn as nn").body[0])  # type: ignore[attr-defined]
    assert imports.resolve(expr) == "torch.nn.Linear"
    imports.add_import_from(cst.parse_statement("from mylib import nn").body[0])  # type: ignore[attr-defined]
    assert imports.resolve(expr) == "mylib.nn.Linear"
    other = cst.parse_expression("nn.Linear")  # another node with the same text
    assert imports.resolve(other) == "mylib.nn.Linear"
