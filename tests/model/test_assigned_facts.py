"""What built a name, recorded in the builder's one walk (`gradlint.model.assigned`), and the queries that
read it instead of walking the tree again: `ModeFree` (`gradlint.model.modes`, GL004's tier) and
`SemanticModel.runs_in_forward` (GL018)."""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import build_model
from gradlint.model.modes import ModeFree, self_sites
from gradlint.settings import RuleOptions


def model_of(code: str):
    src = textwrap.dedent(code)
    return build_model(cst.parse_module(src), RuleOptions(), "m.py", source=src)


def fn(model, name):
    return next(f for f in model.functions if f.name == name)


def code(model, node) -> str:
    return model.module.code_for_node(node) if node is not None else "?"


def test_assignments_by_scope_key_and_top_level_statement():
    m = model_of("""
        import torch.nn as nn
        net = nn.Linear(2, 2)
        if cond:
            net = nn.ReLU()
        def build(k):
            layer, act = nn.Linear(k, k), nn.ReLU()
            for net in nets:
                pass
            x: int = 3
            class Inner:
                net = 5
            def nested():
                net = 1
            return layer
        class M(nn.Module):
            def __init__(self, body):
                self.body = body
                self.head = nn.Linear(2, 2)
                if flag: self.head = nn.Identity()
    """)
    top = m.assignments(None, "net")
    assert [(code(m, a.value), a.direct, a.top) for a in top] == [("nn.Linear(2, 2)", True, 1), ("nn.ReLU()", False, 2)]
    build = fn(m, "build")
    assert [code(m, a.value) for a in m.assignments(build, "layer")] == ["nn.Linear(k, k)"]  # unpacked
    assert [a.value for a in m.assignments(build, "net")] == [None]  # a loop target: unknown; not the nested ones
    assert [a.value for a in m.assignments(build, "x")] == [None]  # annotated: unknown
    init = fn(m, "__init__")
    # (a one-line `if flag: ...` suite is not read as an assignment, as before)
    assert [code(m, a.value) for a in m.assignments(init, "self.head")] == ["nn.Linear(2, 2)"]
    assert [code(m, a.value) for a in m.assignments(init, "self.body")] == ["body"]


def test_top_level_statement_of_a_fact_and_of_classes():
    m = model_of("""
        import torch.nn as nn
        class Net(nn.Module):
            def forward(self, x):
                return x
        def evaluate(model, x):
            return model(x)
        class Net(nn.Module):
            def forward(self, x):
                return nn.functional.relu(x)
        net = Net()
        evaluate(net, 1)
    """)
    (mc,) = m.model_calls
    assert m.top_of(mc.seq) == 2  # `model(x)` is in the statement `def evaluate`
    (site,) = [c for c in m.local_calls if c.name == "evaluate"]
    assert m.top_of(site.seq) == 5
    assert [i for i, _ in m.top_classes["Net"]] == [1, 3]  # redefined: both, in order
    assert [m.class_tops[id(d)] for _, d in m.top_classes["Net"]] == [1, 3]


def test_class_syntax_holds_the_calls_and_handed_in_attributes_of_a_class():
    m = model_of("""
        import torch.nn as nn
        class Wrap(nn.Module):
            def __init__(self, rnn, n):
                super().__init__()
                self.rnn = rnn
                self.fc = nn.Linear(n, n)
            def forward(self, x):
                return self.fc(self.rnn(x))
        helper(1)
    """)
    cls = m.classes["Wrap"]
    events = m.class_syntax[id(cls.node)]
    calls = [code(m, e.node) for e in events if hasattr(e, "node")]
    # (in source order, an outer call before the calls inside it, as the walk meets them)
    assert calls == ["super().__init__()", "super()", "nn.Linear(n, n)", "self.fc(self.rnn(x))", "self.rnn(x)"]
    assigns = [(e.name, e.attrs) for e in events if not hasattr(e, "node")]
    assert assigns == [("rnn", ("rnn",))]
    init = fn(m, "__init__")
    assert all(e.function is init for e in events[:3] if hasattr(e, "node"))


def test_calls_through_the_module_itself_are_recorded_apart_from_the_call_graph():
    m = model_of("""
        import sys
        import torch.nn as nn
        d2l = sys.modules[__name__]
        def evaluate(net, x):
            return net(x)
        def main():
            d2l.evaluate(nn.Linear(2, 2), 1)
    """)
    (call,) = m.self_module_calls
    assert call.name == "evaluate" and call.function is fn(m, "main") and call.via == "module"
    assert self_sites(m, fn(m, "evaluate")) == [call]
    assert m.call_sites(fn(m, "evaluate")) == []  # not joined by the call graph
    (mc,) = m.model_calls
    assert ModeFree(m).call(mc)  # what the module-alias call passes: a Linear layer


def test_mode_free_reads_the_recorded_assignments():
    m = model_of("""
        import torch.nn as nn
        class Small(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        class Wrap(nn.Module):
            def __init__(self, rnn):
                super().__init__()
                self.rnn = rnn
            def forward(self, x):
                return self.rnn(x)
        net = Small()
        out = net(x)
        drop = Wrap(nn.Dropout(0.5))
        out = drop(x)
        free = Wrap(nn.Linear(2, 2))
        out = free(x)
        if cond:
            late = Small()
            out = late(x)
    """)
    free = ModeFree(m)
    verdicts = {mc.text: free.call(mc) for mc in m.model_calls}
    assert verdicts["self.fc"]  # `self.fc = nn.Linear(2, 2)` in `__init__`
    # (`late` is built in the same top-level statement that calls it: only earlier statements are read)
    assert {k: verdicts[k] for k in ("net", "drop", "free", "late")} == {
        "net": True, "drop": False, "free": True, "late": False}
    assert free.class_named("Small") and not free.class_named("Wrap")  # a layer handed in is unknown


def test_runs_in_forward():
    m = model_of("""
        import torch.nn as nn
        class Block(nn.Module):
            def forward(self, x):
                return self.attend(x)
            def attend(self, x):
                return x
            def unused(self, x):
                return x
        class Other(nn.Module):
            def attend(self, x):
                return x
        def attend(x):
            return x
    """)
    forward, attend, unused, other, plain = (f for f in m.functions)
    assert m.runs_in_forward(forward) and m.runs_in_forward(attend)
    assert not m.runs_in_forward(unused) and not m.runs_in_forward(other) and not m.runs_in_forward(plain)


def test_mode_free_does_not_walk_the_tree_again(monkeypatch):
    """ModeFree reads the facts the walk recorded: no parent map of the module, no search of its nodes."""
    from gradlint.model import walk

    m = model_of("""
        import sys
        import torch.nn as nn
        d2l = sys.modules[__name__]
        class Small(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        def evaluate(net, x):
            return net(x)
        net = Small()
        out = net(x)
        d2l.evaluate(net, 1)
    """)

    def no_walk(*args, **kwargs):
        raise AssertionError("walked the tree again")

    monkeypatch.setattr(walk, "iter_nodes", no_walk)
    monkeypatch.setattr(walk, "parent_map", no_walk)
    from gradlint import edits
    monkeypatch.setattr(edits, "parent_map", no_walk)
    free = ModeFree(m)
    assert all(free.call(mc) for mc in m.model_calls) and free.class_named("Small")
    assert getattr(m, "_fix_parents", None) is None
