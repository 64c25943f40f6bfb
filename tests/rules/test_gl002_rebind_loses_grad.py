"""GL002 rebind-loses-grad: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import pytest

from ._lint import rows

GL002_BAD = {
    "loop_var_no_grad": ("import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p = p - 0.1 * p.grad\n", [4]),
    "named_parameters_sub": ("import torch\nfor n, p in net.named_parameters():\n    p = p.sub(lr * p.grad)\n", [3]),
    "standalone_outside": ("import torch\nw = torch.tensor([1.0], requires_grad=True)\nfor _ in range(3):\n    w = w - 0.1 * w.grad\n", [4]),
    "grads_from_autograd_grad": ("import torch\nfor p, g in zip(model.parameters(), grads):\n    p = p - lr * g\n", [3]),
    "parameter_object": ("import torch.nn as nn\nimport torch\nw = nn.Parameter(torch.ones(2))\nw = w - 0.01 * w.grad\n", [4]),
    "unknown_params_loop": ("import torch\ndef step(params, lr):\n    for p in params:\n        p = p - lr * p.grad\n", [4]),
    # re-made a leaf on the first iteration only: the second iteration's `s` is the update's plain tensor
    # (the loop head joins what the previous iteration left), so its backward raises
    "releaf_first_iteration_only": ((
        "import torch\ns = torch.zeros(3, requires_grad=True)\nfor i in range(10):\n    if i == 0:\n"
        "        s = s.detach().requires_grad_(True)\n    loss = (s ** 2).sum()\n    loss.backward()\n"
        "    with torch.no_grad():\n        s = s - 0.1 * s.grad\n"), [9]),
}

GL002_GOOD = {
    "detach_requires_grad": "import torch\nw = torch.ones(2, requires_grad=True)\nw = (w - 0.1 * w.grad).detach().requires_grad_()\n",
    "releaf_next_line": (
        "import torch\nx_adv = x.clone().detach().requires_grad_(True)\nfor _ in range(3):\n"
        "    x_adv = x_adv + 0.1 * x_adv.grad.sign()\n    x_adv = x_adv.detach().requires_grad_(True)\n"),
    "fast_weights_new_name": "import torch\nfast = [p - 0.1 * g for p, g in zip(model.parameters(), grads)]\n",
    "fast_weights_dict": "import torch\nfast = {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}\n",
    "new_name": "import torch\nfor p in model.parameters():\n    q = p - 0.1 * p.grad\n",
    "not_a_leaf": "import torch\nx = torch.randn(3)\nx = x - 0.1 * grad\n",
    "no_gradient_term": "import torch\nw = torch.ones(2, requires_grad=True)\nw = w * 2\n",
    "releaf_every_iteration": (
        "import torch\ns = torch.zeros(3, requires_grad=True)\nfor i in range(10):\n"
        "    s = s.detach().requires_grad_(True)\n    loss = (s ** 2).sum()\n    loss.backward()\n"
        "    with torch.no_grad():\n        s = s - 0.1 * s.grad\n"),
    "inplace_update": "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p -= 0.1 * p.grad\n",
}


@pytest.mark.parametrize("name", sorted(GL002_BAD))
def test_gl002_true_positives(name):
    code, expected = GL002_BAD[name]
    assert rows("GL002", code) == expected


@pytest.mark.parametrize("name", sorted(GL002_GOOD))
def test_gl002_lookalikes_stay_silent(name):
    assert rows("GL002", GL002_GOOD[name]) == []


@pytest.mark.parametrize("update, reported", [
    ("w, b = w - lr * w.grad, b - lr * b.grad", True),
    ("[w, b] = [w - lr * w.grad, b - lr * b.grad]", True),
    # look-alikes: in place, or new leaves made on purpose
    ("w -= lr * w.grad; b -= lr * b.grad", False),
    ("w, b = (w - lr * w.grad).detach().requires_grad_(), (b - lr * b.grad).detach().requires_grad_()", False),
])
def test_a_tuple_of_leaves_rebound_in_one_statement(update, reported):
    code = f"""
        import torch
        w = torch.zeros(3, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        lr = 0.5
        for epoch in range(5):
            loss = (torch.randn(8, 3) @ w + b).pow(2).mean()
            loss.backward()
            with torch.no_grad():
                {update}
    """
    assert rows("GL002", code) == ([10] if reported else [])


@pytest.mark.parametrize("init, update, reported", [
    ("torch.randn(3, requires_grad=True)", "self.w = self.w - self.lr * self.w.grad", True),
    ("nn.Parameter(torch.randn(3))", "self.w = self.w - self.lr * self.w.grad", True),
    # look-alikes: in place; an attribute that is not a leaf
    ("torch.randn(3, requires_grad=True)", "self.w -= self.lr * self.w.grad", False),
    ("torch.randn(3)", "self.w = self.w - self.lr * self.g", False),
])
def test_an_attribute_holding_a_leaf_rebound(init, update, reported):
    code = f"""
        import torch
        import torch.nn as nn
        class Regressor:
            def __init__(self, lr=0.1):
                self.w = {init}
                self.lr = lr
            def step(self, x, y):
                loss = ((x @ self.w - y) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    {update}
    """
    assert rows("GL002", code) == ([12] if reported else [])
