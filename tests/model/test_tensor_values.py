"""The one abstract value, tensor side: what `ModelBuilder.evaluate(expr)` gives at a point of the walk
(`Value.kind` and its provenance `Value.prov`: leaf or not, the grad-mode conditions, dtype class, moved
copies, model outputs), over the one binding table (branches, loops, unpacking, dotted keys).

Each program calls `probe(expr)` where the value is asked; the probe extension records `evaluate(expr)`
there. Then the facts the tensor extension derives from those values (`TensorFacts`).
"""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import Kind, Mode, build_model
from gradlint.model.ext_tensors import TensorFacts
from gradlint.model.extension import Extension
from gradlint.model.values import GRAPH, MOVED, NONLEAF, PLAIN, RG, UNK_STATE, Prov, Value, join, join_prov
from gradlint.settings import RuleOptions


class Probe(Extension):
    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.values: list[Value] = []

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is cst.Name and node.func.value == "probe":
            self.values.append(self.b.evaluate(node.args[0].value))


def probe(code: str):
    m = build_model(cst.parse_module(textwrap.dedent(code)), RuleOptions(), "train.py",
                    extensions=(Probe, TensorFacts))
    return m, m.ext(Probe).values


def states(code: str) -> list[str]:
    return [v.prov.state for v in probe(code)[1]]


# ------------------------------------------------------------------ leaves and non-leaves


def test_factory_leaf_and_op_result():
    m, (w, y, d) = probe("""
        import torch
        w = torch.randn(3, requires_grad=True)
        y = w * 2
        probe(w); probe(y); probe(y.detach())
    """)
    assert w.kind is Kind.LEAF and w.prov.state == RG and w.leaf is True and w.prov.cpu_fresh
    assert y.kind is Kind.NONLEAF and y.prov.state == NONLEAF and y.leaf is False
    assert y.prov.how == "`* 2`" and y.prov.conds == frozenset()  # module level: grad mode on, no condition
    assert d.prov.state == PLAIN and d.leaf is True and d.prov.cut_from == "`y.detach()`"


def test_op_under_no_grad_is_a_plain_leaf():
    assert states("""
        import torch
        w = torch.randn(3, requires_grad=True)
        with torch.no_grad():
            y = w * 2
        probe(y)
    """) == [PLAIN]


def test_grad_mode_of_a_function_is_a_condition_resolved_through_callers():
    code = """
        import torch
        w = torch.randn(3, requires_grad=True)
        def f():
            y = w * 2
            probe(y)
            y.grad
        {call}
    """
    m, (y,) = probe(code.format(call="f()"))
    fn = next(f for f in m.functions if f.name == "f")
    assert y.prov.state == NONLEAF and y.prov.conds == {fn}
    facts = m.ext(TensorFacts)
    assert facts.is_nonleaf(facts.grad_reads[0].value)
    m, _ = probe(code.format(call="with torch.no_grad():\n            f()"))
    assert m.effective_mode(Mode.INHERITED, fn) is Mode.DISABLED
    facts = m.ext(TensorFacts)
    assert not facts.is_nonleaf(facts.grad_reads[0].value)


# ------------------------------------------------------------------ conversions: a copy or `self`


def test_to_and_float_copy_or_return_self():
    m, vals = probe("""
        import torch
        a = torch.randn(3, requires_grad=True)
        probe(a.to("cpu")); probe(a.float()); probe(a.double()); probe(a.to(torch.float64))
        probe(a.cuda()); probe(a.to(device)); probe(a.to("cpu", copy=True))
    """)
    assert [v.prov.state for v in vals] == [RG, RG, NONLEAF, NONLEAF, NONLEAF, MOVED, NONLEAF]
    assert vals[2].prov.dtype == "float64" and vals[2].prov.how == "`.double()`"
    assert vals[5].leaf is None  # a copy only when the device differs


def test_conversion_of_a_leaf_not_made_here_is_unknown():
    # a parameter's device is not known: `.cuda()` may or may not copy it
    assert states("""
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 2)
        for p in model.parameters():
            probe(p); probe(p.cuda()); probe(p.float())
    """) == [RG, UNK_STATE, UNK_STATE]


# ------------------------------------------------------------------ dtypes


def test_dtype_classes():
    _, vals = probe("""
        import torch
        probe(torch.tensor([1, 2])); probe(torch.arange(5)); probe(torch.zeros(3, dtype=torch.bool))
        probe(torch.tensor([1., 2.])); probe(torch.randint(0, 5, (3,))); probe(torch.ones(2).long())
        probe(torch.tensor(data))
    """)
    assert [v.dtype_class for v in vals] == ["int", "int", "bool", "float", "int", "int", None]
    assert vals[0].prov.dtype == "int64"


def test_integer_tensor_made_a_leaf_is_recorded():
    m, _ = probe("""
        import torch
        t = torch.tensor([1, 2])
        t.requires_grad_()
        u = torch.tensor([1., 2.])
        u.requires_grad = True
        probe(u)
    """)
    sets = m.ext(TensorFacts).requires_grad_sets
    assert [(s.value.state, s.value.dtype, s.form) for s in sets] == [(PLAIN, "int64", "method"),
                                                                      (PLAIN, "float32", "attr")]
    assert m.ext(Probe).values[0].prov.state == RG  # `u.requires_grad = True` made it a leaf from there on


# ------------------------------------------------------------------ model outputs, unpacking, loops


def test_model_output_carries_a_graph_unless_under_no_grad():
    _, (out, out2, loss, lin) = probe("""
        import torch
        import torch.nn as nn
        model = torchvision.models.resnet18()
        out = model(x)
        with torch.no_grad():
            out2 = model(x)
        loss = criterion(out, y)
        layer = nn.Linear(2, 2)
        lin = layer(x)
        probe(out); probe(out2); probe(loss); probe(lin)
    """)
    assert out.kind is Kind.TENSOR and out.prov.state == GRAPH
    assert out2.prov.state == PLAIN
    assert loss.prov.state == GRAPH  # an unknown function of a graph value may still be in the graph
    # a torch layer with trainable weights: a non-leaf for sure with grad mode on
    assert lin.prov.state == NONLEAF


def test_unpacked_tuples():
    _, (a, b, c, d) = probe("""
        import torch
        w = torch.randn(3, requires_grad=True)
        a, b = w * 2, torch.zeros(3)
        c, d = pair
        probe(a); probe(b); probe(c); probe(d)
    """)
    assert (a.prov.state, b.prov.state) == (NONLEAF, PLAIN)
    assert (c.prov.state, d.prov.state) == (UNK_STATE, UNK_STATE)


def test_loop_targets_and_bindings_changed_in_loops():
    _, (p, y_after, z_after) = probe("""
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 2)
        w = torch.randn(3, requires_grad=True)
        y = w * 2
        z = w * 3
        for p in model.parameters():
            probe(p)
            y = torch.zeros(3)
            z = w * 4
        probe(y); probe(z)
    """)
    assert p.kind is Kind.LEAF and p.prov.state == RG  # by its kind (a parameter)
    assert y_after.prov.state == UNK_STATE  # a non-leaf or a plain tensor, depending on the iterations
    assert z_after.prov.state == NONLEAF  # a non-leaf either way


def test_branches_join_provenance():
    _, (x, y) = probe("""
        import torch
        w = torch.randn(3, requires_grad=True)
        if cond:
            x = w * 2
            y = w * 2
        else:
            x = w + 1
            y = torch.zeros(3)
        probe(x); probe(y)
    """)
    assert x.prov.state == NONLEAF
    assert y.prov.state == UNK_STATE


def test_dotted_keys_and_rebinding_the_head():
    _, (a, b) = probe("""
        import torch
        w = torch.randn(3, requires_grad=True)
        opt.x = w * 2
        probe(opt.x)
        opt = make()
        probe(opt.x)
    """)
    assert a.prov.state == NONLEAF and a.kind is Kind.UNKNOWN  # tracked through the key `opt.x`
    assert b.prov.state == UNK_STATE  # `opt = ...` forgets what was known of `opt.x`


def test_comprehension_variables_are_local():
    assert states("""
        import torch
        x = torch.randn(3, requires_grad=True) * 2
        ys = [probe(x) for x in batch]
    """) == [UNK_STATE]


# ------------------------------------------------------------------ join


def test_join_keeps_provenance_only_when_every_value_agrees():
    a = Prov(NONLEAF, dtype="float32")
    b = Prov(NONLEAF, dtype="float32", how="`* 2`")
    assert join_prov([a, b]) is b
    assert join_prov([a, Prov(PLAIN)]).state == UNK_STATE
    assert join_prov([a, None]).state == UNK_STATE  # one of them known only by its kind
    assert join_prov([None, None]) is None
    v = join([Value(Kind.NONLEAF, prov=a), Value(Kind.NONLEAF, prov=b)])
    assert v.kind is Kind.NONLEAF and v.prov is b
    assert join([Value(Kind.LEAF), Value(Kind.TENSOR)]).kind is Kind.UNKNOWN


def test_global_name_has_unknown_provenance_until_assigned():
    m, (before, after) = probe("""
        import torch
        w = torch.randn(3, requires_grad=True)
        x = w * 2
        def f():
            global x
            probe(x)
            x = w * 3
            probe(x)
    """)
    assert (before.prov.state, after.prov.state) == (UNK_STATE, NONLEAF)
    assert before.kind is Kind.NONLEAF  # the kind is the outer binding's, as before
