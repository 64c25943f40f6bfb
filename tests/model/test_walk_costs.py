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


# --------------------------------------------------------------------------- shared work of the walk's handlers

_NET = """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
    def forward(self, x):
        h = self.enc(x)
        h = torch.from_numpy(h.detach().numpy())
"""


def _rewraps(tail: str):
    import textwrap

    from gradlint.model import build_model
    from gradlint.model.ext_tensors import TensorFacts
    from gradlint.settings import RuleOptions

    m = build_model(cst.parse_module(textwrap.dedent(_NET) + tail), RuleOptions(), "train.py", extensions=(TensorFacts,))
    return m.ext(TensorFacts).rewraps


@pytest.mark.parametrize(
    ("tail", "reached"),
    [
        ("        return self.head(h)\n", True),  # the callee's value: the one the core's visit_Call computed
        ("        y = self.head(h)\n        return y\n", True),
        # `.forward`: the core classified `self.head`, not the callee `self.head.forward` (not a module)
        ("        return self.head.forward(h)\n", False),
        ("        return torch.sigmoid(h)\n", False),
    ],
)
def test_module_call_in_forward_with_the_shared_callee_value(tail: str, reached: bool) -> None:
    (ev,) = _rewraps(tail)
    assert ev.reached_module is reached


def _same_in_all_plain(outcomes: list[dict]) -> tuple[dict, set]:
    same, differing = {}, set()
    for name in set().union(*outcomes):
        values = [o.get(name, outcomes) for o in outcomes]
        if all(v is values[0] for v in values):
            same[name] = values[0]
        else:
            differing.add(name)
    return same, differing


def test_branch_join_finds_the_names_every_branch_leaves_alone() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gradlint.model.bindings import _same_in_all

    pool = [Value(Kind.LEAF, "a"), Value(Kind.LEAF, "a"), Value(Kind.TENSOR), Value(Kind.MODULE, "m")]
    names = st.sampled_from(["a", "b", "c", "d", "e"])
    outcome = st.dictionaries(names, st.sampled_from(range(len(pool))), max_size=5)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(outcome, min_size=2, max_size=4), st.booleans())
    def check(raw: list[dict], shared: bool) -> None:
        outcomes = [{k: pool[i] for k, i in o.items()} for o in raw]
        if shared:
            outcomes.append(outcomes[0])  # one outcome twice (the same dict)
        same, differing = _same_in_all(outcomes)
        assert (same, differing) == _same_in_all_plain(outcomes)

    check()


def test_branch_join_of_names_bound_in_some_branches_only() -> None:
    import textwrap

    from gradlint.model import build_model
    from gradlint.settings import RuleOptions

    code = """
    import torch
    def f(c, d):
        w = torch.zeros(3, requires_grad=True)
        if c:
            a = w
            b = w * 2
        elif d:
            a = w
        else:
            b = 1
        a.add_(1)
        b.add_(1)
    """
    m = build_model(cst.parse_module(textwrap.dedent(code)), RuleOptions(), "train.py")
    kinds = {op.target.value: op.value.kind for op in m.inplace_ops}
    # `a`: the same leaf on the branches that bind it; `b`: a non-leaf on one branch, a number on another
    assert kinds == {"a": Kind.LEAF, "b": Kind.UNKNOWN}


@pytest.mark.parametrize(
    ("code", "recorded"),
    [
        ("x = utils.to_variable(t)", True),
        ("x = make_variable(t)", True),
        ("x = a.b.variable(t)", True),
        ("x = f().variable(t)", False),  # no dotted name: as before the shortcut
        ("x = variables(t)", False),
        ("x = autograd.Variable(t)", False),  # (the case counts: "Variable" does not end with "variable")
        ("x = Variable(t)", False),
        ("x = f(t, volatile=True)", True),
        ("x = f(t, retain_variables=True)", True),
        ("x = f(t, volatil=True)", False),
        ("x = f(a, b, c)", True),
    ],
)
def test_legacy_call_candidates(code: str, recorded: bool) -> None:
    from gradlint.model import build_model
    from gradlint.settings import RuleOptions
    from gradlint.rules.gl022_legacy_autograd_api import LegacyApiScan

    for source in (code, None):  # with the text (its words gate the keyword search) and without
        m = build_model(cst.parse_module(code), RuleOptions(), "train.py", extensions=(LegacyApiScan,), source=source)
        assert bool(m.ext(LegacyApiScan).calls) is recorded

