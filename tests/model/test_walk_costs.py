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

