"""The model's shortcuts for speed give the answers of the plain code they replace."""

from __future__ import annotations

import re

import libcst as cst
import pytest

from gradlint.model.evaluate import _DEF_NAME, _is_loader_name
from gradlint.model.names import ImportMap, _tight_code, short_code
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


def _codegen_short(node: cst.CSTNode, limit: int) -> str:
    """`short_code` through the code generator only (what it did before its shortcut for plain chains)."""
    text = " ".join(cst.Module([]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@pytest.mark.parametrize(
    "code",
    [
        "loss",
        "loss.item()",
        "self.encoder.layer.weight",
        "a.b.c()",
        "a . b",
        "(a).b",
        "(a.b)",
        "a.b ()",
        "a.b( )",
        "a.b(x)",
        "(a.b())",
        "a.\\\nb",
        "(a.\n b)()",
        "x[0].item()",
        "f()()",
        "very_long_module_name.another_long_attribute_name.item()",
    ],
)
@pytest.mark.parametrize("limit", [5, 12, 40])
def test_short_code_shortcut_prints_what_the_code_generator_does(code: str, limit: int) -> None:
    node = cst.parse_expression(code)
    assert short_code(node, limit) == _codegen_short(node, limit)


def test_short_code_shortcut_is_taken_only_for_plain_chains() -> None:
    assert _tight_code(cst.parse_expression("a.b.c()")) == "a.b.c()"
    assert _tight_code(cst.parse_expression("a.b")) == "a.b"
    for code in ("a . b", "(a).b", "a.b ()", "a.b(x)", "(a.b)()", "a[0].b", "f()()"):
        assert _tight_code(cst.parse_expression(code)) is None, code


def test_resolve_of_a_name_as_its_chain() -> None:
    imports = ImportMap()
    imports.add_import(cst.parse_statement("import torch.nn as nn").body[0])  # type: ignore[attr-defined]
    imports.add_import_from(cst.parse_statement("from torch import no_grad").body[0])  # type: ignore[attr-defined]
    assert [imports.resolve(cst.Name(n)) for n in ("nn", "no_grad", "torch", "x")] == [
        "torch.nn", "torch.no_grad", "torch", None]
    assert imports.resolve(cst.parse_expression("f()")) is None
    imports.add_import_from(cst.parse_statement("from mylib import torch").body[0])  # type: ignore[attr-defined]
    assert imports.resolve(cst.Name("torch")) == "mylib.torch"


@pytest.mark.parametrize("name", ["train_loader", "testloader", "DataLoader", "LOADER", "loader", "Loaderr",
                                  "r", "", "val_LoAdEr", "İloader", "loadeR", "reader", "ΣLOADER"])
def test_loader_name_shortcut(name: str) -> None:
    assert _is_loader_name(name) == name.lower().endswith("loader")


def test_regions_of_assignments_where_the_right_hand_side_kind_decides() -> None:
    # `GradRegions.made` takes the kind of the right-hand side from the value the assignment binds (it does
    # not classify it again): a module, a class instance, parameters made under no_grad have no region;
    # computations there have the region's; a function referred to is no leaf
    from tests.model.test_gradmode_facts import probe

    m, values = probe("""
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            pass

        def helper(x):
            return x * 2

        def run(model, x):
            with torch.no_grad():
                lin = nn.Linear(3, 3)
                net = Net()
                ps = list(model.parameters())
                y = lin(x)
                h = helper(x)
                z = x * 2
                probe(lin); probe(net); probe(ps); probe(y); probe(h); probe(z)
            a = helper(x)
            b = Net()
            with torch.no_grad():
                f = helper
                g: nn.Module = nn.Linear(2, 2)
                k = (lambda t: t)(x)
            probe(a); probe(b); probe(f); probe(g); probe(k)
    """)
    offs = [v.off if v is not None else "unbound" for v in values]
    assert offs[:3] == [None, None, None]
    assert offs[3] == frozenset() and offs[5] == frozenset()
    assert [type(c).__name__ for c in offs[4]] == ["Returned"] and offs[4] == values[4].inference
    assert [type(c).__name__ for c in offs[6]] == ["Returned"]
    assert offs[7] is None
    assert offs[8:10] == [None, None]
    assert [m.made_without_grad(v) for v in values] == [False, False, False, True, True, True, False, False, False,
                                                        False, True]
