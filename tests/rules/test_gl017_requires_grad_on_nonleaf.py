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
