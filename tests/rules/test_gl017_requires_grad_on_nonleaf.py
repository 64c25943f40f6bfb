"""GL017 requires-grad-on-nonleaf: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings


def diags(snippet: str, filename: str = "train.py"):
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({"GL017"})))
    assert res.error is None, res.error
    return res.diagnostics


def rows(snippet: str, filename: str = "train.py") -> list[int]:
    return [d.location.row for d in diags(snippet, filename)]


BAD = {
    "attr_false": ("import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.requires_grad = False\n", [4]),
    "attr_true": ("import torch\nx = torch.randn(3, requires_grad=True)\ny = x.sum()\ny.requires_grad = True\n", [4]),
    "attr_variable": ("import torch\nx = torch.randn(3, requires_grad=True)\ny = x.exp()\ny.requires_grad = flag\n", [4]),
    "method_false": ("import torch\nx = torch.randn(3, requires_grad=True)\ny = x[0]\ny.requires_grad_(False)\n", [4]),
    "alias_torch": ("import torch as T\nw = T.zeros(2, requires_grad=True)\nh = T.tanh(w)\nh.requires_grad = False\n", [4]),
    "from_import_parameter": (
        "import torch\nfrom torch.nn import Parameter\nw = Parameter(torch.ones(2))\nf = w * 3\nf.requires_grad = False\n", [5]),
    "method_in_class": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(3))
            def step(self, x):
                feat = x @ self.w
                feat.requires_grad = False
                return feat
        """, [10]),
    "in_loop": (
        """
        import torch
        w = torch.ones(3, requires_grad=True)
        for batch in loader:
            out = batch * w
            out.requires_grad = False
        """, [6]),
    "nested_function": (
        """
        import torch
        def outer():
            w = torch.ones(3, requires_grad=True)
            def inner():
                z = (w + 1).to(torch.float64)
                z.requires_grad = False
            inner()
        """, [7]),
}

GOOD = {
    "computed_from_data": "import torch\na, b = torch.randn(3), torch.randn(3)\nc = a * b\nc.requires_grad = True\n",
    "plain_data_ops": "import torch\na = torch.randn(3)\nc = a.exp() + 1\nc.requires_grad = True\n",
    "detach": "import torch\nx = torch.randn(3, requires_grad=True)\nd = (x * 2).detach()\nd.requires_grad = True\n",
    "detach_method": "import torch\nx = torch.randn(3, requires_grad=True)\nd = (x * 2).detach()\nd.requires_grad_()\n",
    "no_grad": "import torch\nx = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    e = x * 2\ne.requires_grad_()\ne.requires_grad = True\n",
    "inference_mode_fn": "import torch\nx = torch.randn(3, requires_grad=True)\n@torch.inference_mode()\ndef f():\n    e = x * 2\n    e.requires_grad = False\n",
    "method_true": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.requires_grad_(True)\ny.requires_grad_()\n",
    "leaf_itself": "import torch\nx = torch.randn(3, requires_grad=True)\nx.requires_grad = False\n",
    "params_loop": "import torch\nfor p in model.parameters():\n    p.requires_grad = False\n",
    "model_output": "import torch\nout = model(x)\nout.requires_grad = False\n",
    "unknown": "import torch\ndef f(t):\n    t.requires_grad = True\n",
    "data_to_device": "import torch\nx = batch.to(device)\nx.requires_grad = True\nimg = torch.randn(3).to(device)\nimg.requires_grad = True\n",
    "to_cpu_leaf": "import torch\nc = torch.randn(3, requires_grad=True).to('cpu')\nc.requires_grad = False\n",
    "to_device_leaf_maybe": "import torch\nc = torch.randn(3, requires_grad=True).to(device)\nc.requires_grad = False\n",
    "branch": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x.detach()\nif cond:\n    y = x * 2\ny.requires_grad = True\n",
    "pytest_raises": (
        "import torch\nimport pytest\nx = torch.randn(3, requires_grad=True)\ny = x * 2\nwith pytest.raises(RuntimeError):\n"
        "    y.requires_grad = False\n"),
    "test_file": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.requires_grad = False\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_reported(name):
    snippet, expected = BAD[name]
    assert rows(snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_silent(name):
    filename = "tests/test_flags.py" if name == "test_file" else "train.py"
    assert rows(GOOD[name], filename) == []


def test_messages_quote_the_right_error():
    long = "If you want to use a computed variable in a subgraph"
    assert long in diags(BAD["attr_false"][0])[0].message
    assert long in diags(BAD["method_false"][0])[0].message
    msg = diags(BAD["attr_true"][0])[0].message
    assert "you can only change requires_grad flags of leaf variables." in msg and long not in msg


# ---------------------------------------------------------------- the flag set on a temporary: a no-op
# On torch 2.13: `m.weight.data.requires_grad = False`, `m.weight.data[:, :2].requires_grad = False`,
# `p.detach().requires_grad = False` and `m.weight.data.requires_grad_(False)` leave `m.weight.requires_grad`
# True; `x.float().requires_grad = True` of an int64 `x` and `x[0:2].requires_grad = True` of a plain `x` leave
# `x.requires_grad` False; `x.float()` of a float32 `x` and `x.to("cpu")` of a CPU `x` return `x` itself.

TEMP_BAD = {
    "data_freeze": (
        """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        model[0].weight.data.requires_grad = False
        """, [5]),
    # transformers' DAB-DETR: "freeze" two columns of an embedding
    "data_slice_freeze_in_init": (
        """
        import torch
        import torch.nn as nn
        class Detr(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.query_refpoint_embeddings = nn.Embedding(n, 4)
                self.query_refpoint_embeddings.weight.data[:, :2].requires_grad = False
        """, [8]),
    "detach_freeze_in_parameter_loop": (
        """
        import torch
        for p in model.backbone.parameters():
            p.detach().requires_grad = False
        """, [4]),
    "data_method_freeze": (
        """
        import torch
        lin = torch.nn.Linear(3, 2)
        lin.weight.data.requires_grad_(False)
        """, [4]),
    "float_of_int_tensor": (
        """
        import torch
        idx = torch.randint(0, 5, (3,))
        idx.float().requires_grad = True
        loss = (idx.float() * 2).sum()
        """, [4]),
    "cuda_of_cpu_factory": (
        """
        import torch
        x = torch.randn(8, 3)
        x.cuda().requires_grad = True
        """, [4]),
    "to_cuda_string": (
        """
        import torch
        x = torch.zeros(8, 3)
        x.to("cuda:0").requires_grad = True
        """, [4]),
    "slice_of_plain_tensor": (
        """
        import torch
        x = torch.randn(4, 3)
        x[:2].requires_grad = True
        """, [4]),
    "double_of_float_tensor": (
        """
        import torch
        x = torch.rand(4)
        x.double().requires_grad = True
        """, [4]),
}

TEMP_GOOD = {
    # the result is bound first: the flag is set on the tensor that is used
    "named_result": "import torch\nx = torch.randn(3)\nx = x.cuda()\nx.requires_grad = True\n",
    "chained_and_kept": "import torch\nx = torch.randn(3)\nt = x.clone().detach().requires_grad_(True)\n",
    "data_method_kept": "import torch\nlin = torch.nn.Linear(3, 2)\nw = lin.weight.data.requires_grad_(False)\n",
    # `.float()` of a float32 tensor returns the tensor itself: the flag is set on `x`
    "float_of_float32": "import torch\nx = torch.randn(3)\nx.float().requires_grad = True\n",
    "to_cpu_of_cpu": "import torch\nx = torch.randn(3)\nx.to('cpu').requires_grad = True\n",
    # an element of a list of parameters is the parameter itself
    "list_element": "import torch\nparams = list(model.parameters())\nparams[0].requires_grad = False\n",
    "module_dict_element": "import torch\nmodel._modules[name].requires_grad_(False)\n",
    # freezing what does not require grad / asking what already requires grad: harmless
    "data_of_plain_false": "import torch\nx = torch.randn(3)\nx.data.requires_grad = False\n",
    "detach_of_leaf_true": "import torch\nw = torch.randn(3, requires_grad=True)\nw.detach().requires_grad = True\n",
    # tensors the model does not know: `.data` of an argument (may be a PackedSequence's stored tensor)
    "unknown_argument": "import torch\ndef f(batch):\n    batch.data.requires_grad = True\n",
    "unknown_cuda": "import torch\ndef f(x):\n    x.cuda().requires_grad = True\n",
    "variable_flag": "import torch\nlin = torch.nn.Linear(3, 2)\nlin.weight.data.requires_grad = flag\n",
    "direct_freeze": "import torch\nfor p in model.parameters():\n    p.requires_grad = False\n",
    "in_raises": (
        "import torch\nimport pytest\nlin = torch.nn.Linear(3, 2)\nwith pytest.raises(RuntimeError):\n"
        "    lin.weight.data.requires_grad = False\n"),
}


@pytest.mark.parametrize("name", sorted(TEMP_BAD))
def test_flag_on_temporary_reported(name):
    snippet, expected = TEMP_BAD[name]
    assert rows(snippet) == expected


@pytest.mark.parametrize("name", sorted(TEMP_GOOD))
def test_flag_on_temporary_look_alikes_silent(name):
    assert rows(TEMP_GOOD[name]) == []


def test_flag_on_temporary_messages():
    msg = diags(TEMP_BAD["data_freeze"][0])[0].message
    assert "temporary tensor" in msg and "`model[0].weight` itself is unchanged" in msg
    assert "still requires grad and keeps training" in msg and "`model[0].weight.requires_grad = False`" in msg
    part = diags(TEMP_BAD["data_slice_freeze_in_init"][0])[0].message
    assert "part of one cannot be frozen" in part
    cast = diags(TEMP_BAD["float_of_int_tensor"][0])[0].message
    assert "`.float()` of a `int64` tensor" in cast and "does not require grad" in cast


def test_gl003_leaves_the_temporary_to_gl017():
    """`.detach()` in place of `.data` would keep the no-op: GL003 does not suggest it there."""
    res = lint_source(textwrap.dedent(TEMP_BAD["data_freeze"][0]), "train.py", Settings(selected=frozenset({"GL003"})))
    assert res.diagnostics == []
    res = lint_source(TEMP_GOOD["data_method_kept"], "train.py", Settings(selected=frozenset({"GL003"})))
    assert [d.location.row for d in res.diagnostics] == [3]


@pytest.mark.parametrize("freeze, reported", [
    ("", True),
    # frozen first (either form): what is computed from it is a leaf that accepts the flag
    ("w.requires_grad_(False)", False),
    ("w.requires_grad_(requires_grad=False)", False),
    ("w.requires_grad = False", False),
])
def test_a_tensor_computed_from_a_frozen_source(freeze, reported):
    code = f"""
        import torch
        w = torch.randn(3, requires_grad=True)
        {freeze}
        scaled = w * 2.0
        scaled.requires_grad = True
    """
    assert rows(code) == ([6] if reported else [])


@pytest.mark.parametrize("setup, reported", [
    ("", True),
    # look-alikes: the layer frozen (three ways), loaded frozen, or run with grad mode off
    ("emb.requires_grad_(False)", False),
    ("emb.weight.requires_grad = False", False),
    ("for p in emb.parameters():\n    p.requires_grad = False", False),
])
def test_the_output_of_a_trainable_torch_layer_is_a_non_leaf(setup, reported):
    code = (
        "import torch\nimport torch.nn as nn\n"
        "emb = nn.Embedding(10, 4)\n"
        f"{setup}\n"
        "tokens = torch.tensor([1, 2, 3])\n"
        "out = emb(tokens)\n"
        "out.requires_grad = True\n"
    )
    line = code.splitlines().index("out.requires_grad = True") + 1
    assert rows(code) == ([line] if reported else [])


@pytest.mark.parametrize("made", [
    "nn.Embedding.from_pretrained(torch.randn(10, 4))(tokens)",
    "with_no_grad",
    "unknown_layer(tokens)",
])
def test_outputs_that_may_be_leaves_stay_silent(made):
    code = (
        "import torch\nimport torch.nn as nn\n"
        "emb = nn.Embedding(10, 4)\n"
        "tokens = torch.tensor([1, 2, 3])\n"
        + ("with torch.no_grad():\n    out = emb(tokens)\n" if made == "with_no_grad" else f"out = {made}\n")
        + "out.requires_grad = True\n"
    )
    assert rows(code) == []


def test_a_layer_output_in_a_module_forward():
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(100, 8)
                self.fc = nn.Linear(8, 3)
            def forward(self, tokens):
                emb = self.embedding(tokens)
                emb.requires_grad = True
                return self.fc(emb)
    """)
    assert rows(code) == [11]


@pytest.mark.parametrize("pred, reported", [
    ("X @ w", True),
    # look-alikes: a prediction that does not require grad (the flag is accepted), or one made with grad off
    ("X @ w.detach()", False),
    ("(X @ w).detach()", False),
])
def test_a_loss_module_of_a_non_leaf_is_a_non_leaf(pred, reported):
    code = f"""
        import torch
        import torch.nn as nn
        X, y = torch.randn(8, 3), torch.randn(8)
        w = torch.randn(3, requires_grad=True)
        criterion = nn.MSELoss()
        pred = {pred}
        loss = criterion(pred, y)
        loss.requires_grad = True
    """
    assert rows(code) == ([9] if reported else [])
