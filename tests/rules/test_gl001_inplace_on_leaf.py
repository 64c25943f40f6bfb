"""GL001 inplace-on-leaf: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import pytest

from ._lint import rows

GL001_BAD = {
    "alias_torch": ("import torch as T\nw = T.randn(3, requires_grad=True)\nw += 1\n", [3]),
    "from_import_param": ("from torch import nn\nimport torch\nw = nn.Parameter(torch.zeros(3))\nw.mul_(2)\n", [4]),
    "named_parameters": ("import torch\nfor n, p in model.named_parameters():\n    p.sub_(0.1 * p.grad)\n", [3]),
    "param_groups": ("import torch\nfor g in opt.param_groups:\n    for p in g['params']:\n        p.add_(p.grad, alpha=-g['lr'])\n", [4]),
    "init_attribute": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.zeros(3))
            def reset(self):
                self.w.uniform_(-1, 1)
        """, [9]),
    "enable_grad_inside_no_grad": (
        """
        import torch
        w = torch.zeros(2, requires_grad=True)
        with torch.no_grad():
            with torch.enable_grad():
                w.fill_(1.0)
        """, [6]),
    "index_assign": ("import torch\nw = torch.zeros(3, requires_grad=True)\nw[0] = 1\n", [3]),
    "list_params_index": ("import torch\nw = list(model.parameters())[0]\nw.zero_()\n", [3]),
    "zip_params": ("import torch\nfor p, g in zip(model.parameters(), grads):\n    p -= 0.1 * g\n", [3]),
    "out_kwarg": ("import torch\nw = torch.ones(3, requires_grad=True)\ntorch.add(w, 1, out=w)\n", [3]),
    "unknown_loop_var_reading_own_grad": ("import torch\ndef sgd(params, lr):\n    for p in params:\n        p -= lr * p.grad\n", [4]),
    "requires_grad_method": ("import torch\nw = torch.zeros(3).requires_grad_()\nw.clamp_(0, 1)\n", [3]),
}

GL001_GOOD = {
    "no_grad_block": "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1\n",
    "bare_decorator": "import torch\n@torch.no_grad\ndef step(m):\n    for p in m.parameters():\n        p -= p.grad\n",
    "aliased_no_grad": "import torch\nfrom torch import no_grad as ng\nw = torch.ones(2, requires_grad=True)\nwith ng():\n    w.mul_(2)\n",
    "inference_mode": "import torch\nw = torch.ones(2, requires_grad=True)\nwith torch.inference_mode():\n    w.add_(1)\n",
    "set_grad_enabled_false_statement": "import torch\ntorch.set_grad_enabled(False)\nw = torch.ones(2, requires_grad=True)\nw.add_(1)\n",
    "set_grad_enabled_variable": "import torch\nw = torch.ones(2, requires_grad=True)\nwith torch.set_grad_enabled(is_train):\n    w.add_(1)\n",
    "grad_ops": "import torch\nfor p in model.parameters():\n    p.grad.zero_()\n    p.grad += 1\n",
    "frozen_param": "import torch\nimport torch.nn as nn\nq = nn.Parameter(torch.randn(3), requires_grad=False)\nq.mul_(2)\n",
    "frozen_loop": "import torch\nfor p in model.parameters():\n    p.requires_grad = False\nfor p in model.parameters():\n    p.mul_(0.5)\n",
    "frozen_module_child": "import torch\nbackbone.requires_grad_(False)\nbackbone[0].weight.mul_(0.5)\n",
    "activation": "import torch\nh = x * 3\nh.relu_()\n",
    "clone": "import torch\nw = torch.randn(3, requires_grad=True)\nc = w.clone()\nc += 1\n",
    "data_tensor": "import torch\nd = torch.randn(3)\nd += 1\nd[0] = 0\n",
    "relu_inplace_module": "import torch.nn as nn\nm = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))\n",
    "nn_init": "import torch.nn as nn\nlin = nn.Linear(3, 3)\nnn.init.normal_(lin.weight)\nnn.init.zeros_(lin.bias)\n",
    "param_group_lr": "import torch\nfor g in opt.param_groups:\n    g['lr'] *= 0.1\n",
    "helper_called_under_no_grad": (
        "import torch\ndef update(params):\n    for p in params:\n        p -= 0.1 * p.grad\n"
        "with torch.no_grad():\n    update(model.parameters())\n"),
    "state_dict_values": "import torch\nfor k, v in model.state_dict().items():\n    v.mul_(0.5)\n",
    "detach_requires_grad_rebind": "import torch\nx = torch.randn(3, requires_grad=True)\nx = x.detach()\nx += 1\n",
    "requires_grad_expression": "import torch\nw = torch.zeros(3, requires_grad=flag)\nw += 1\n",
}


@pytest.mark.parametrize("name", sorted(GL001_BAD))
def test_gl001_true_positives(name):
    code, expected = GL001_BAD[name]
    assert rows("GL001", code) == expected


@pytest.mark.parametrize("name", sorted(GL001_GOOD))
def test_gl001_lookalikes_stay_silent(name):
    assert rows("GL001", GL001_GOOD[name]) == []


def test_parameter_frozen_through_attribute_before_copy_is_silent():
    # transformers' prune_linear_layer: requires_grad switched off around the copy
    code = """
        import torch
        from torch import nn
        def prune(W, b):
            new_layer = nn.Linear(4, 3)
            new_layer.weight.requires_grad = False
            new_layer.weight.copy_(W)
            new_layer.weight.requires_grad = True
            new_layer.bias.copy_(b)
            return new_layer
        """
    assert rows("GL001", code) == [9]  # the bias was never frozen


_D2L_SGD = """
    import torch


    class SGD:
        def __init__(self, params, lr):
            self.params = params
            self.lr = lr

        def step(self):
            for param in self.params:
                param -= self.lr * param.grad


    class Model:
        def configure_optimizers(self):
            return SGD([self.w, self.b], self.lr)


    class Trainer:
        def fit(self, model):
            self.model = model
            self.optim = model.configure_optimizers()
            for batch in self.train_dataloader:
                loss = self.model.training_step(batch)
                self.optim.zero_grad()
                with torch.no_grad():
                    loss.backward()
                    self.optim.step()
    """


def test_optimizer_class_step_reached_only_under_no_grad_is_silent():
    # d2l's SGD: `self.optim.step()` (an attribute the walk cannot tie to a class) runs under no_grad
    assert rows("GL001", _D2L_SGD) == []


@pytest.mark.parametrize("change", [
    # the same call with grad mode on
    lambda code: code.replace("                with torch.no_grad():\n", "                if True:\n"),
    # another visible call of the class's step with grad mode on
    lambda code: code + "\n    opt = SGD([w], 0.1)\n    loss.backward()\n    opt.step()\n",
    # through a parameter the call sites fill with an instance
    lambda code: code + ("\n    def update(opt):\n        opt.step()\n\n\n    update(SGD([w], 0.1))\n"),
])
def test_optimizer_class_step_with_a_call_under_grad_mode_is_reported(change):
    assert rows("GL001", change(_D2L_SGD)) == [12]


def test_step_of_a_class_that_is_no_optimizer_keeps_its_callers_rule():
    # not optimizer-like (takes and keeps no parameters): unknown `self.x.step()` calls do not decide its mode
    code = _D2L_SGD.replace("def __init__(self, params, lr):\n            self.params = params",
                            "def __init__(self, lr):\n            self.w = torch.zeros(2, requires_grad=True)")
    code = code.replace("for param in self.params:\n                param -= self.lr * param.grad",
                        "self.w += 1")
    assert rows("GL001", code) == [11]


@pytest.mark.parametrize("update, reported", [
    # an element of a list of leaves updated by index (course notebooks' `for i in range(len(params))`)
    ("params[i] -= lr * params[i].grad", True),
    ("params[i].sub_(lr * params[i].grad)", True),
    # look-alikes: under no_grad; the list rebound to plain tensors
    ("with torch.no_grad():\n                params[i] -= lr * params[i].grad", False),
])
def test_an_element_of_a_list_of_leaves_updated_by_index(update, reported):
    code = f"""
        import torch
        W = torch.normal(0, 0.01, size=(8, 3), requires_grad=True)
        b = torch.zeros(3, requires_grad=True)
        params = [W, b]
        lr = 0.1
        loss = (torch.randn(4, 8) @ W + b).sum()
        loss.backward()
        for i in range(len(params)):
            {update}
    """
    assert rows("GL001", code) == ([10] if reported else [])


def test_a_list_of_plain_tensors_updated_by_index_is_silent():
    code = """
        import torch
        buffers = [torch.zeros(3), torch.zeros(1)]
        for i in range(len(buffers)):
            buffers[i] -= 0.1
    """
    assert rows("GL001", code) == []
