"""Objects that cross files (gradlint/model/imported.py): what an imported name holds, instances of another
file's classes and their attributes, method calls on them recorded as imported calls, and what a file
exports (its module-level values, its classes' attributes) — with and without the project's facts."""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import Kind, build_model
from gradlint.model.imported import class_attrs, module_values
from gradlint.model.project_facts import (
    ExtClass,
    ExternalFacts,
    export_value,
    value_from_json,
)
from gradlint.model.values import Value
from gradlint.settings import RuleOptions


def model_of(code: str, external: ExternalFacts | None = None, project: bool = True):
    src = textwrap.dedent(code)
    return build_model(cst.parse_module(src), RuleOptions(), "train.py", source=src, project=project,
                       external=external)


TRAINER = ExtClass("engine.py", 6, "Trainer", False, False,
                   {"w": Value(Kind.LEAF, "an `nn.Parameter`"), "net": Value(Kind.MODULE, "a `Net`", "engine.py::Net")},
                   frozenset({"__init__", "evaluate", "fit"}))
NET = ExtClass("engine.py", 3, "Net", True, True, {}, frozenset({"__init__", "forward"}))


def test_an_imported_name_holds_what_the_project_says():
    code = """
        import torch
        from utils import w, model
        w -= 0.1 * w.grad
        model.eval()
    """
    alone = model_of(code)
    assert [op.value.kind for op in alone.inplace_ops] == [Kind.OTHER]  # some imported object
    assert alone.switches == []  # `model` is an imported name: a module or a function
    assert alone._builder.import_reads == {"w", "model"}  # (the summary's "reads")
    ext = ExternalFacts(values={"w": Value(Kind.LEAF, "created with `requires_grad=True` in utils.py"),
                                "model": Value(Kind.MODULE, "a `Net` in utils.py", "engine.py::Net")},
                        classes={"engine.py::Net": NET})
    m = model_of(code, ext)
    (op,) = m.inplace_ops
    assert op.value.kind is Kind.LEAF and "utils.py" in op.value.origin
    assert [(s.receiver, s.kind) for s in m.switches] == [("model", "eval")]


def test_a_relative_import_keeps_its_name_heuristics_without_facts():
    code = "from .utils import model\nout = model(x)\n"
    assert model_of(code)._builder.import_reads == {"model"}
    assert model_of(code, project=False).model_calls[0].value.kind is Kind.MODULE  # by its name, as before


def test_an_instance_of_an_imported_class():
    code = """
        import torch
        from engine import Trainer
        t = Trainer(0.1)
        t.w -= 0.1 * t.w.grad
        acc = t.evaluate(loader)
        t.net(x)
    """
    # without facts: the instance's kind is not known, its class is kept; its method calls are imported calls
    m = model_of(code)
    assert [(c.name, c.target) for c in m.imported_calls] == [
        ("Trainer", "engine.Trainer"), ("evaluate", "engine.Trainer.evaluate"), ("net", "engine.Trainer.net")]
    assert [op.value.kind for op in m.inplace_ops] == [Kind.UNKNOWN]
    # a file checked alone records none of it
    assert model_of(code, project=False).imported_calls == []
    # with the class's facts: `t.w` is the parameter Trainer's `__init__` makes, `t.net` a module of class Net
    m = model_of(code, ExternalFacts(classes={"engine.Trainer": TRAINER, "engine.py::Net": NET}))
    (op,) = m.inplace_ops
    assert op.value.kind is Kind.LEAF and op.value.origin == "`w`, an `nn.Parameter` of a `Trainer`"
    (mc,) = [c for c in m.model_calls if c.text == "t.net"]
    assert mc.value.kind is Kind.MODULE and mc.value.cls == "engine.py::Net"


def test_an_instance_of_an_imported_module_class_is_a_module():
    code = "from models import Net\nnet = Net()\nnet.eval()\n"
    m = model_of(code, ExternalFacts(classes={"models.Net": NET}))
    assert [s.receiver for s in m.switches] == ["net"]
    v = m._builder._scope.bindings["net"]
    assert (v.kind, v.cls) == (Kind.MODULE, "models.Net")


def test_module_values_and_class_attributes_are_exported():
    m = model_of("""
        import torch
        import torch.nn as nn
        from models import Net
        from .engine import Trainer

        class Local(nn.Module):
            def __init__(self, k):
                super().__init__()
                self.fc = nn.Linear(k, 2)
                self.w = nn.Parameter(torch.zeros(k))
                self.trainer = Trainer()
                self.k = k

        w = torch.zeros(3, requires_grad=True)
        params = [w]
        model = Net(4)
        local = Local(3)
        trainer = Trainer()
        n = 3
        name = "x"
    """)
    got = {k: export_value(v) for k, v in module_values(m).items()}
    assert got == {
        "w": ["leaf", "created with `requires_grad=True`", None],
        "params": ["params", "a list of leaf tensors", None],
        "model": ["unknown", "a `Net`", "models.Net"],
        "local": ["module", "a `Local`", "Local"],
        "trainer": ["unknown", "a `Trainer`", ".engine.Trainer"],
    }
    attrs = {k: export_value(v) for k, v in class_attrs(m.classes["Local"]).items()}
    assert attrs == {"fc": ["module", "an `nn.Linear`", None], "w": ["leaf", "an `nn.Parameter`", None],
                     "trainer": ["unknown", "a `Trainer`", ".engine.Trainer"]}


def test_values_cross_as_json_and_back():
    v = Value(Kind.MODULE, "a `Net`", "engine.py::Net")
    assert value_from_json(export_value(v)) == v
    assert export_value(Value(Kind.OTHER)) is None and export_value(Value(Kind.UNKNOWN)) is None
    facts = ExternalFacts.from_json({"values": {"w": ["leaf", "a parameter", None]}, "classes": {
        "engine.Trainer": {"file": "engine.py", "line": 6, "name": "Trainer", "module": False, "mode_free": False,
                           "attrs": {"w": ["leaf", "an `nn.Parameter`", None]}, "methods": ["fit"]}}})
    assert facts and facts.values["w"].kind is Kind.LEAF
    assert facts.classes["engine.Trainer"].methods == frozenset({"fit"})


# ---- what a file asks of other files' classes (`ImportedNames.ask_class`, `SemanticModel.class_asks`)

def test_a_layer_built_stored_and_called_inside_a_model_class_asks_nothing():
    code = """
        import torch.nn as nn
        from timm.layers import Mlp, PatchEmbed
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.mlp = Mlp(4)
                self.embed = PatchEmbed()
                n = self.embed.num_patches
            def forward(self, x):
                return self.mlp(x)
    """
    asks = model_of(code).class_asks()
    assert asks == {"timm.layers.PatchEmbed": ["num_patches"]}  # (an attribute chain, not the whole class)
    from gradlint.project import _asked

    embed = {"module": True, "attrs": {"proj": ["module", "an `nn.Conv2d`", None]}, "methods": []}
    assert not _asked(asks, "timm.layers.PatchEmbed", embed)  # (`num_patches` is nothing the class exports)
    assert not _asked(asks, "timm.layers.Mlp", embed)


def test_attribute_chains_through_a_layer_ask_for_what_they_reach():
    code = """
        import torch.nn as nn
        from layers import Head
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = Head(4)
                self.head.fc.weight.data.mul_(0.5)
    """
    asks = model_of(code).class_asks()
    assert "fc.weight.data" in asks["layers.Head"]
    from gradlint.project import _asked

    head = {"module": True, "attrs": {"fc": ["module", "an `nn.Linear`", None]}, "methods": ["forward"]}
    assert _asked(asks, "layers.Head", head)
    # a chain of one attribute reaches a submodule that is only stored or called: no facts needed
    assert not _asked({"layers.Head": ["fc"]}, "layers.Head", head)
    assert _asked({"layers.Head": ["w"]}, "layers.Head",
                  {"module": False, "attrs": {"w": ["leaf", "an `nn.Parameter`", None]}, "methods": []})


def test_an_instance_used_outside_the_model_classes_asks_for_the_whole_class():
    code = """
        import torch
        from model import Net
        from engine import Trainer
        model = Net(4)
        t = Trainer()
        def test(loader):
            with torch.no_grad():
                for x in loader:
                    out = model(x)
        t.w -= 0.1
    """
    asks = model_of(code).class_asks()
    assert asks == {"model.Net": None, "engine.Trainer": None}
    assert model_of(code, project=False).class_asks() == {}  # (a file checked alone asks nothing)
