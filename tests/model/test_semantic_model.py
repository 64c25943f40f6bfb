"""The shared semantic model: names, grad-mode regions, leaves, evaluation contexts."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradlint.model import Kind, Mode, build_model
from gradlint.settings import RuleOptions


def model_of(code: str, filename: str = "train.py"):
    return build_model(cst.parse_module(textwrap.dedent(code)), RuleOptions(), filename)


def inplace_modes(code: str) -> list[tuple[str, Mode]]:
    m = model_of(code)
    return [(m.code(op.target), m.mode_at(op)) for op in m.inplace_ops if op.value.kind is Kind.LEAF]


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "imports, expr, expected",
    [
        ("import torch", "torch.no_grad", "torch.no_grad"),
        ("import torch as T", "T.no_grad", "torch.no_grad"),
        ("from torch import no_grad as ng", "ng", "torch.no_grad"),
        ("import torch.nn as nn", "nn.Parameter", "torch.nn.Parameter"),
        ("from torch import nn", "nn.Linear", "torch.nn.Linear"),
        ("import torch.nn.functional as F", "F.dropout", "torch.nn.functional.dropout"),
        ("from torch.nn import functional as F", "F.relu", "torch.nn.functional.relu"),
        ("import torch.nn", "torch.nn.Module", "torch.nn.Module"),
        ("import numpy as np", "np.zeros", "numpy.zeros"),
    ],
)
def test_import_aliases(imports, expr, expected):
    m = model_of(imports + "\n")
    assert m.imports.resolve(cst.parse_expression(expr)) == expected


def test_unimported_name_does_not_resolve():
    m = model_of("import torch\n")
    assert m.imports.resolve(cst.parse_expression("nn.Linear")) is None


# ------------------------------------------------------------------ grad mode


def test_regions_context_managers_and_nesting():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    w += 1
    with torch.no_grad():
        w += 2
        with torch.enable_grad():
            w += 3
        w += 4
    with torch.inference_mode():
        w += 5
    with torch.set_grad_enabled(False):
        w += 6
    with torch.set_grad_enabled(True):
        w += 7
    with torch.set_grad_enabled(flag):
        w += 8
    with torch.inference_mode(False):
        w += 9
    """
    modes = [m for _, m in inplace_modes(code)]
    assert modes == [
        Mode.ENABLED, Mode.DISABLED, Mode.ENABLED, Mode.DISABLED, Mode.INFERENCE,
        Mode.DISABLED, Mode.ENABLED, Mode.UNKNOWN, Mode.ENABLED,
    ]


@pytest.mark.parametrize(
    "decorator, expected",
    [
        ("@torch.no_grad()", Mode.DISABLED),
        ("@torch.no_grad", Mode.DISABLED),
        ("@no_grad()", Mode.DISABLED),
        ("@torch.inference_mode()", Mode.INFERENCE),
        ("@torch.inference_mode", Mode.INFERENCE),
        ("@torch.inference_mode(mode=False)", Mode.ENABLED),
        ("@torch.enable_grad()", Mode.ENABLED),
        ("@torch.set_grad_enabled(False)", Mode.DISABLED),
        ("@functools.lru_cache()", Mode.ENABLED),
    ],
)
def test_decorators(decorator, expected):
    code = f"""
    import torch, functools
    from torch import no_grad
    {decorator}
    def step(model):
        for p in model.parameters():
            p.add_(p.grad, alpha=-0.1)
    """
    assert [m for _, m in inplace_modes(code)] == [expected]


def test_bare_set_grad_enabled_statement_switches_mode_for_what_follows():
    code = """
    import torch
    w = torch.zeros(2, requires_grad=True)
    w += 1
    torch.set_grad_enabled(False)
    w += 2
    """
    assert [m for _, m in inplace_modes(code)] == [Mode.ENABLED, Mode.DISABLED]


def test_function_mode_follows_its_call_sites_in_the_file():
    code = """
    import torch
    def update(params):
        for p in params:
            p -= 0.1 * p.grad
    def other(params):
        for p in params:
            p -= 0.1 * p.grad
    with torch.no_grad():
        update(model.parameters())
    other(model.parameters())
    """
    assert [m for _, m in inplace_modes(code)] == [Mode.DISABLED, Mode.ENABLED]


def test_constructor_call_site_gives_init_mode():
    code = """
    import torch, torch.nn as nn
    class M(nn.Module):
        def __init__(self, e):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.emb.weight.copy_(e)
    with torch.no_grad():
        m = M(e)
    """
    assert [m for _, m in inplace_modes(code)] == [Mode.DISABLED]


# ------------------------------------------------------------------ leaves


@pytest.mark.parametrize(
    "setup, target",
    [
        ("w = torch.randn(3, requires_grad=True)", "w"),
        ("w = nn.Parameter(torch.randn(3))", "w"),
        ("w = torch.randn(3).requires_grad_()", "w"),
        ("w = torch.randn(3)\nw.requires_grad = True", "w"),
        ("w = list(model.parameters())[0]", "w"),
        ("w = model.weight", "w"),
        ("w = nn.Linear(2, 2).bias", "w"),
    ],
)
def test_leaf_sources(setup, target):
    code = f"import torch\nimport torch.nn as nn\n{setup}\n{target} += 1\n"
    assert inplace_modes(code) == [(target, Mode.ENABLED)]


@pytest.mark.parametrize(
    "loop",
    [
        "for p in model.parameters():",
        "for name, p in model.named_parameters():",
        "for i, p in enumerate(model.parameters()):",
        "for p, g in zip(model.parameters(), grads):",
        "for p in filter(lambda q: q.requires_grad, model.parameters()):",
        "for p in [w for w in model.parameters() if w.requires_grad]:",
    ],
)
def test_parameter_loops(loop):
    code = f"import torch\n{loop}\n    p.mul_(0.9)\n"
    assert inplace_modes(code) == [("p", Mode.ENABLED)]


def test_param_groups():
    code = """
    import torch
    for group in optimizer.param_groups:
        group["lr"] *= 0.1
        for p in group["params"]:
            p.add_(p.grad, alpha=-group["lr"])
    """
    assert inplace_modes(code) == [("p", Mode.ENABLED)]


def test_self_attributes_from_init():
    code = """
    import torch
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(3))
            self.fc = nn.Linear(3, 3)
            self.buf = torch.zeros(3)
        def reset(self):
            self.w.normal_()
            self.fc.weight.uniform_()
            self.buf.zero_()
    """
    assert [t for t, _ in inplace_modes(code)] == ["self.w", "self.fc.weight"]


@pytest.mark.parametrize(
    "setup",
    [
        "w = torch.randn(3)",
        "w = nn.Parameter(torch.randn(3), requires_grad=False)",
        "w = torch.randn(3, requires_grad=True)\nw.requires_grad = False",
        "w = torch.randn(3, requires_grad=True)\nw = w.detach()",
        "w = torch.randn(3, requires_grad=True).clone()",
        "w = torch.randn(3, requires_grad=rg)",
        "w = something()",
    ],
)
def test_not_leaves(setup):
    code = f"import torch\nimport torch.nn as nn\n{setup}\nw += 1\n"
    assert inplace_modes(code) == []


def test_frozen_module_parameters_are_not_leaves():
    code = """
    import torch
    model.requires_grad_(False)
    for p in model.parameters():
        p.mul_(0.5)
    """
    assert inplace_modes(code) == []


# ------------------------------------------------------------------ evaluation contexts


def contexts(code: str, filename: str = "train.py"):
    m = model_of(code, filename)
    return [(c.reason, [mc.text for mc in c.model_calls]) for c in m.eval_contexts()]


def test_eval_function_by_name():
    ctx = contexts("""
    import torch
    def evaluate(model, loader):
        for x, y in loader:
            out = model(x)
    def run_validation(net, loader):
        return [net(x) for x in loader]
    def train(model, loader):
        for x, y in loader:
            out = model(x)
    """)
    assert [c[1] for c in ctx] == [["model"], ["net"]]


def test_eval_loop_by_loader_name_inside_training_function():
    ctx = contexts("""
    import torch
    def train(model, loaders):
        for x, y in loaders["train"]:
            model(x).sum().backward()
        for x, y in loaders["val"]:
            out = model(x)
        for i, (x, y) in enumerate(tqdm(val_loader)):
            out = model(x)
    """)
    assert len(ctx) == 2


def test_lightning_hooks_and_pytest_functions_are_not_eval_contexts():
    assert contexts("""
    import torch
    import lightning as L
    class Lit(L.LightningModule):
        def validation_step(self, batch, i):
            return self.net(batch)
    """) == []
    assert contexts("""
    import torch
    def test_model_accuracy():
        for x, y in loader:
            model(x)
    """, filename="tests/test_model.py") == []


def test_model_methods_are_not_eval_contexts():
    assert contexts("""
    import torch.nn as nn
    class Net(nn.Module):
        def predict(self, x):
            return self.forward(x).argmax(1)
    """) == []
