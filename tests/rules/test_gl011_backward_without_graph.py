"""GL011 backward-without-graph: true positives in several shapes, and the look-alikes that stay silent."""

from __future__ import annotations

import pytest

from ._lint import rows

GL011_BAD = {
    "no_grad_block": ("import torch\nwith torch.no_grad():\n    loss = model(x).pow(2).mean()\nloss.backward()\n", [4]),
    "alias_torch": ("import torch as T\nwith T.no_grad():\n    loss = crit(model(x), y)\nloss.backward()\n", [4]),
    "from_import": ("from torch import inference_mode\nwith inference_mode():\n    loss = net(x).sum()\nloss.backward()\n", [4]),
    "autograd_no_grad": ("import torch\nwith torch.autograd.no_grad():\n    loss = model(x).sum()\nloss.backward()\n", [4]),
    "set_grad_enabled_false_block": (
        "import torch\nwith torch.set_grad_enabled(False):\n    loss = model(x).sum()\nloss.backward()\n", [4]),
    "bare_set_grad_enabled_false": ("import torch\ntorch.set_grad_enabled(False)\nloss = model(x).sum()\nloss.backward()\n", [4]),
    "derived_after_block": (
        "import torch\nwith torch.no_grad():\n    a = model(x).sum()\n    b = model(y).sum()\nloss = (a + b) * 0.5\nloss.backward()\n",
        [6]),
    "method_chain_receiver": ("import torch\nwith torch.no_grad():\n    out = model(x)\nout.mean().backward()\n", [4]),
    "computed_inside_block": ("import torch\nwith torch.inference_mode():\n    model(x).sum().backward()\n", [3]),
    "mean_inside_block_of_outside_loss": (
        "import torch\nloss = model(x)\nwith torch.no_grad():\n    loss.mean().backward()\n", [4]),
    "tuple_unpacking": ("import torch\nwith torch.no_grad():\n    out, loss = model(x)\nloss.backward()\n", [4]),
    "decorated_function_body": (
        "import torch\n@torch.no_grad()\ndef train_step(model, x):\n    loss = model(x).sum()\n    loss.backward()\n", [5]),
    "bare_decorator_body": (
        "import torch\n@torch.inference_mode\ndef train_step(model, x):\n    loss = model(x).sum()\n    loss.backward()\n", [5]),
    "decorated_helper_result": (
        "import torch\n@torch.no_grad()\ndef forward_loss(model, x):\n    return model(x).sum()\n"
        "def train(model, x):\n    loss = forward_loss(model, x)\n    loss.backward()\n", [7]),
    "method_decorated_helper": (
        """
        import torch
        class Trainer:
            @torch.no_grad()
            def compute(self, x):
                return self.model(x).sum()
            def step(self, x):
                loss = self.compute(x)
                loss.backward()
        """, [9]),
    "in_training_loop": (
        """
        import torch
        for epoch in range(3):
            for x, y in loader:
                with torch.no_grad():
                    loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """, [8]),
    "helper_only_called_under_no_grad": (
        "import torch\ndef step(model, x):\n    loss = model(x).sum()\n    loss.backward()\n"
        "with torch.no_grad():\n    step(model, x)\n", [4]),
    "alias_method_keeps_status": ("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nl2 = loss.float()\nl2.backward()\n", [5]),
}

GL011_GOOD = {
    "backward_inside_block_of_outside_loss": (
        "import torch\nloss = model(torch.randn(4, 3)).pow(2).mean()\nwith torch.no_grad():\n    loss.backward()\n"),
    "alias_method_inside_block": "import torch\nloss = model(x).sum()\nwith torch.no_grad():\n    loss.float().backward()\n",
    "partly_under_no_grad": (
        "import torch\nwith torch.no_grad():\n    target = teacher(x)\nloss = ((model(x) - target) ** 2).mean()\nloss.backward()\n"),
    "mixed_operands": "import torch\nwith torch.no_grad():\n    a = model(x).sum()\nloss = a + model(y).sum()\nloss.backward()\n",
    "other_branch": (
        "import torch\nif train:\n    loss = model(x).sum()\nelse:\n    with torch.no_grad():\n        loss = model(x).sum()\n"
        "if train:\n    loss.backward()\n"),
    "rebound_outside": (
        "import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nloss = model(x).sum()\nloss.backward()\n"),
    "enable_grad_inside": (
        "import torch\nwith torch.no_grad():\n    with torch.enable_grad():\n        loss = model(x).sum()\nloss.backward()\n"),
    "factory_requires_grad_under_no_grad": (
        "import torch\nwith torch.no_grad():\n    w = torch.zeros(3, requires_grad=True)\nw.sum().backward()\n"),
    "made_leaf_again": (
        "import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nloss.requires_grad_()\nloss.backward()\n"),
    "requires_grad_attr_after": (
        "import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nloss.requires_grad = True\nloss.backward()\n"),
    "variable_flag": "import torch\nwith torch.set_grad_enabled(training):\n    loss = model(x).sum()\nloss.backward()\n",
    "helper_with_enable_grad": (
        "import torch\ndef compute(model, x):\n    with torch.enable_grad():\n        return model(x).sum()\n"
        "with torch.no_grad():\n    loss = compute(model, x)\nloss.backward()\n"),
    "helper_called_both_ways": (
        "import torch\ndef step(model, x):\n    loss = model(x).sum()\n    loss.backward()\n"
        "step(model, x)\nwith torch.no_grad():\n    step(model, y)\n"),
    "loss_from_parameter": "import torch\nwith torch.no_grad():\n    pass\nloss = model(x).sum()\nloss.backward()\n",
    "loop_binding_not_dominating": (
        "import torch\nfor x in loader:\n    with torch.no_grad():\n        loss = model(x).sum()\nloss.backward()\n"),
    "autograd_grad_not_backward": "import torch\nwith torch.no_grad():\n    out = model(x)\ng = torch.autograd.grad(out.sum(), w, allow_unused=True)\n",
    "different_function": (
        "import torch\ndef a():\n    with torch.no_grad():\n        loss = model(x).sum()\ndef b(loss):\n    loss.backward()\n"),
    "unknown_call_inside_block": "import torch\nwith torch.no_grad():\n    get_loss().backward()\n    self.loss.backward()\n",
    "undecorated_helper": (
        "import torch\ndef forward_loss(model, x):\n    return model(x).sum()\nloss = forward_loss(model, x)\nloss.backward()\n"),
}


@pytest.mark.parametrize("name", sorted(GL011_BAD))
def test_gl011_true_positives(name):
    code, expected = GL011_BAD[name]
    assert rows("GL011", code) == expected


@pytest.mark.parametrize("name", sorted(GL011_GOOD))
def test_gl011_lookalikes_stay_silent(name):
    assert rows("GL011", GL011_GOOD[name]) == []


def test_gl011_decorated_helper_defined_after_use():
    code = (
        "import torch\nclass Trainer:\n    def step(self, x):\n        loss = self.compute(x)\n        loss.backward()\n"
        "    @torch.no_grad()\n    def compute(self, x):\n        return self.model(x).sum()\n"
    )
    assert rows("GL011", code) == [5]


def test_gl011_lightning_test_step():
    code = (
        "import lightning as L\nclass LitModel(L.LightningModule):\n    def test_step(self, batch, batch_idx):\n"
        "        loss = self.model(batch).sum()\n        loss.backward()\n"
        "    def training_step(self, batch, batch_idx):\n        loss = self.model(batch).sum()\n        loss.backward()\n"
    )
    assert rows("GL011", code) == [5]


# Values made under no_grad reach the use through the one binding table (`Prov.off`): a branch that only
# derives from the no-grad value keeps it, and so do a nested tuple target and `:=`.
GL011_THROUGH_BINDINGS = {
    "branch_derives_from_it": (
        "import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nif c:\n    loss = loss * 2\nloss.backward()\n", [6]),
    "nested_tuple_target": ("import torch\nwith torch.no_grad():\n    out, (h, c) = lstm(x)\nh.backward()\n", [4]),
    "walrus": ("import torch\nwith torch.no_grad():\n    (a := model(x).sum())\na.backward()\n", [4]),
    "list_of_no_grad_values": (
        "import torch\nwith torch.no_grad():\n    a = model(x)\n    b = model(y)\nloss = torch.cat([a, b]).sum()\n"
        "loss.backward()\n", [6]),
}


@pytest.mark.parametrize("name", sorted(GL011_THROUGH_BINDINGS))
def test_gl011_through_the_binding_table(name):
    code, expected = GL011_THROUGH_BINDINGS[name]
    assert rows("GL011", code) == expected


def test_gl011_alias_of_a_releafed_value_is_the_same_tensor():
    code = ("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nl2 = loss\nloss.requires_grad_()\n"
            "l2.backward()\n")
    assert rows("GL011", code) == []
