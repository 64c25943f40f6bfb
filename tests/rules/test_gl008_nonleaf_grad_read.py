"""GL008 nonleaf-grad-read: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings


def rows(snippet: str, filename: str = "train.py") -> list[int]:
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({"GL008"})))
    assert res.error is None, res.error
    return [d.location.row for d in res.diagnostics]


BAD = {
    "op_result": ("import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.sum().backward()\nprint(y.grad)\n", [5]),
    "alias_torch": ("import torch as T\nx = T.ones(3, requires_grad=True)\nh = T.sigmoid(x)\nh.sum().backward()\ng = h.grad\n", [5]),
    "from_import_factory": ("from torch import randn\nx = randn(3, requires_grad=True)\nh = x.exp()\nh.sum().backward()\nprint(h.grad)\n", [5]),
    "parameter_op": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(3))
            def saliency(self, x):
                h = x * self.w
                h.sum().backward()
                return h.grad
        """, [11]),
    "nested_function": (
        """
        import torch
        def outer():
            w = torch.zeros(2, requires_grad=True)
            def inner():
                z = w + 1
                z.sum().backward()
                return z.grad
            return inner()
        """, [8]),
    "in_loop": (
        """
        import torch
        w = torch.randn(3, requires_grad=True)
        for step in range(3):
            out = (w * 2).relu()
            out.sum().backward()
            print(out.grad)
        """, [7]),
    "double_cast_grad": ("import torch\nw = torch.ones(2, requires_grad=True).double()\nw.sum().backward()\nprint(w.grad)\n", [4]),
    "param_from_model_indexed": ("import torch\nfor p in model.parameters():\n    q = p[0]\n    print(q.grad)\n", [4]),
    "scaled_to_optimizer": ("import torch\nb = torch.randn(3, requires_grad=True) * 0.01\nopt = torch.optim.SGD([b], lr=0.1)\n", [2]),
    "to_dtype_to_optimizer_from_import": (
        "import torch\nfrom torch.optim import Adam\nw = torch.randn(3, requires_grad=True).to(torch.float64)\nopt = Adam([w])\n", [3]),
    "cuda_to_optimizer": ("import torch\nw = torch.randn(3, requires_grad=True).cuda()\nopt = torch.optim.Adam([w])\n", [2]),
    "to_device_to_optimizer": ("import torch\nw = torch.randn(3, requires_grad=True).to(device)\nopt = torch.optim.Adam([w], lr=1e-3)\n", [2]),
    "param_groups_dict": (
        "import torch\nw = torch.randn(3, requires_grad=True) / 10\nopt = torch.optim.SGD([{'params': [w], 'lr': 0.1}])\n", [2]),
    "params_list_name": (
        "import torch\nw = torch.randn(3, requires_grad=True) * 0.1\nb = torch.zeros(3, requires_grad=True)\nparams = [w, b]\n"
        "opt = torch.optim.SGD(params, lr=0.1)\n", [2]),
    "read_and_optimizer": (
        "import torch\nw = torch.randn(3, requires_grad=True) * 0.01\nopt = torch.optim.SGD([w], lr=0.1)\nprint(w.grad)\n", [2, 4]),
}

GOOD = {
    "leaf_factory": "import torch\nx = torch.randn(3, requires_grad=True)\n(x * 2).sum().backward()\nprint(x.grad)\n",
    "parameters_loop": "import torch\nfor p in model.parameters():\n    if p.grad is not None:\n        print(p.grad.norm())\n",
    "nn_parameter": "import torch\nimport torch.nn as nn\nw = nn.Parameter(torch.zeros(3))\nw.sum().backward()\nprint(w.grad)\n",
    "module_weight": "import torch.nn as nn\nlin = nn.Linear(2, 2)\nprint(lin.weight.grad)\n",
    "retain_grad_before": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.retain_grad()\ny.sum().backward()\nprint(y.grad)\n",
    "retain_grad_in_loop": (
        "import torch\nw = torch.randn(3, requires_grad=True)\nfor i in range(2):\n    h = w * 2\n    h.retain_grad()\n"
        "    h.sum().backward()\n    print(h.grad)\n"),
    "unknown_tensor": "import torch\ndef f(t):\n    return t.grad\n",
    "unknown_attr": "import torch\nprint(self.x.grad, batch.grad, optimizer.grad)\n",
    "computed_under_no_grad": "import torch\nx = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    y = x * 2\nprint(y.grad)\n",
    "no_grad_decorated": "import torch\nx = torch.randn(3, requires_grad=True)\n@torch.no_grad()\ndef f():\n    y = x * 2\n    return y.grad\n",
    "detach_requires_grad": "import torch\nx = torch.randn(3, requires_grad=True)\ny = (x * 2).detach().requires_grad_()\ny.sum().backward()\nprint(y.grad)\n",
    "plain_data_op": "import torch\na = torch.randn(3)\nb = a * 2\nprint(b.grad)\n",
    "grad_assignment": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny.grad = None\ndel y.grad\n",
    "to_cpu_literal": "import torch\nc = torch.randn(3, requires_grad=True).to('cpu')\nopt = torch.optim.SGD([c], lr=0.1)\nprint(c.grad)\n",
    "float_of_float32": "import torch\nc = torch.randn(3, requires_grad=True).float()\nopt = torch.optim.SGD([c], lr=0.1)\n",
    "created_with_dtype": "import torch\nw = torch.randn(3, dtype=torch.float64, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.1)\n",
    "scale_then_requires_grad": "import torch\nb = (torch.randn(3) * 0.01).requires_grad_()\nopt = torch.optim.SGD([b], lr=0.1)\n",
    "param_to_device": "import torch\nfor p in model.parameters():\n    q = p.to(device)\n    print(q.grad)\n",
    "rebound_to_leaf": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ny = torch.zeros(3, requires_grad=True)\nprint(y.grad)\n",
    "branch_rebinds": (
        "import torch\nx = torch.randn(3, requires_grad=True)\ny = x\nif flag:\n    y = x * 2\nprint(y.grad)\n"),
    "comprehension_target": (
        "import torch\nx = torch.randn(3, requires_grad=True)\np = x * 2\ngrads = [p.grad for p in model.parameters()]\n"),
    "function_param_shadows": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\ndef f(y):\n    return y.grad\n",
    "test_file": "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\nassert y.grad is None\n",
    "optimizer_with_model_params": "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    "to_device_then_requires_grad": "import torch\nx = torch.randn(3).to(device)\nx.requires_grad_()\nopt = torch.optim.SGD([x], lr=0.1)\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_reported(name):
    snippet, expected = BAD[name]
    assert rows(snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_silent(name):
    filename = "tests/test_grads.py" if name == "test_file" else "train.py"
    assert rows(GOOD[name], filename) == []


def test_messages_name_the_consequence():
    res = lint_source(BAD["op_result"][0], "train.py", Settings(selected=frozenset({"GL008"})))
    msg = res.diagnostics[0].message
    assert "`y.grad`" in msg and "UserWarning: The .grad attribute of a Tensor that is not a leaf" in msg
    assert "retain_grad()" in msg
    res = lint_source(BAD["scaled_to_optimizer"][0], "train.py", Settings(selected=frozenset({"GL008"})))
    assert "ValueError: can't optimize a non-leaf Tensor" in res.diagnostics[0].message
    res = lint_source(BAD["to_device_to_optimizer"][0], "train.py", Settings(selected=frozenset({"GL008"})))
    assert "whenever that moves" in res.diagnostics[0].message  # device-dependent: claimed as such


def test_function_called_under_no_grad_is_silent():
    src = textwrap.dedent(
        """
        import torch
        x = torch.randn(3, requires_grad=True)
        def f():
            y = x * 2
            return y.grad
        with torch.no_grad():
            f()
        """
    )
    assert rows(src) == []
