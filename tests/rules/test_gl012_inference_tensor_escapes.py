"""GL012 inference-tensor-escapes: true positives in several shapes, and the look-alikes that stay silent
(the catalogue's "not every use errors" cases)."""

from __future__ import annotations

import pytest

from ._lint import rows

PRE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

GL012_BAD = {
    "mul_with_leaf": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n"
                      "w = torch.randn(3, requires_grad=True)\ny = x * w\n", [5]),
    "alias_torch": ("import torch as T\nwith T.inference_mode():\n    x = T.randn(4, 3)\n"
                    "w = T.randn(3, requires_grad=True)\ny = w / x\n", [5]),
    "from_import": ("import torch\nfrom torch import inference_mode\nwith inference_mode():\n    x = torch.randn(4, 3)\n"
                    "w = torch.randn(3, 2, requires_grad=True)\ny = x @ w\n", [6]),
    "mse_target": (PRE + "teacher = nn.Linear(3, 2)\nstudent = nn.Linear(3, 2)\nwith torch.inference_mode():\n"
                   "    target = teacher(x)\nloss = F.mse_loss(student(x), target)\n", [8]),
    "cross_entropy_labels": (PRE + "with torch.inference_mode():\n    labels = torch.argmax(teacher_logits, 1)\n"
                             "loss = F.cross_entropy(model(x), labels)\n", [6]),
    "loss_module": (PRE + "crit = nn.MSELoss()\nwith torch.inference_mode():\n    t = torch.randn(4, 2)\n"
                    "loss = crit(model(x), t)\n", [7]),
    "linear_layer_input": (PRE + "layer = nn.Linear(3, 1)\nwith torch.inference_mode():\n    feats = torch.randn(4, 3) * 2\n"
                           "out = layer(feats)\n", [7]),
    "functional_linear": (PRE + "lin = nn.Linear(3, 1)\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n"
                          "out = F.linear(x, lin.weight)\n", [7]),
    "torch_mul": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\n"
                  "y = torch.mul(x, w)\n", [5]),
    "method_mul": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\n"
                   "y = w.mul(x)\n", [5]),
    "view_of_inference_tensor": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n    row = x[0]\n"
                                 "w = torch.ones(3, requires_grad=True)\ny = row * w\n", [6]),
    "inplace_method": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf.add_(1)\n", [4]),
    "inplace_augassign": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf += 1\n", [4]),
    "inplace_setitem": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf[0] = 1.0\n", [4]),
    "inplace_under_no_grad": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nwith torch.no_grad():\n"
                              "    buf.copy_(torch.ones(3))\n", [5]),
    "requires_grad_method": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad_()\n", [4]),
    "requires_grad_attr": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad = True\n", [4]),
    "decorated_producer_param_operand": (
        "import torch\nfrom torch import nn\n@torch.inference_mode()\ndef embed(x):\n    return x * 2\n"
        "lin = nn.Linear(3, 1)\ne = embed(torch.randn(2, 3))\nout = lin(e)\n", [8]),
    "method_in_class_loop": (
        """
        import torch
        import torch.nn.functional as F
        class Distiller:
            def __init__(self, student, teacher):
                self.student = student
                self.teacher = teacher
            def fit(self, loader, model):
                for x in loader:
                    with torch.inference_mode():
                        target = self.teacher(torch.as_tensor(x))
                    loss = F.mse_loss(model(x), target)
                    loss.backward()
        """, [12]),
    "model_output_in_enabled_mode": (
        PRE + "with torch.inference_mode():\n    t = torch.randn(4, 2)\nout = model(x)\ny = out * t\n", [7]),
}

GL012_GOOD = {
    "add_saves_nothing": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\n(w + x - x).sum().backward()\n"),
    "cat_saves_nothing": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\ny = torch.cat([x, w])\n"),
    "metrics_and_reads": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "print(x.mean().item(), x * 2, (x == 1).sum())\nacc = x.tolist()\n"),
    "clone_after_block": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\ny = x.clone() * w\n"),
    "rebound_clone": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx = x.clone()\n"
                      "w = torch.randn(3, requires_grad=True)\ny = x * w\nx.add_(1)\n"),
    "made_under_no_grad": ("import torch\nwith torch.no_grad():\n    x = torch.randn(3)\n"
                           "w = torch.randn(3, requires_grad=True)\ny = x * w\nx.add_(1)\n"),
    "used_under_no_grad": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                           "w = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    y = x * w\n"),
    "inplace_inside_later_inference_block": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\n"
                                             "with torch.inference_mode():\n    buf.add_(1)\n"),
    "no_grad_requiring_operand": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                                  "d = torch.randn(3)\ny = x * d\n"),
    "l1_and_kl_targets": (PRE + "student = nn.Linear(3, 2)\nwith torch.inference_mode():\n    t = torch.randn(4, 2)\n"
                          "a = F.l1_loss(student(x), t)\nb = F.kl_div(student(x), t)\n"),
    "view_of_normal_tensor": ("import torch\ndata = torch.randn(4, 3)\nwith torch.inference_mode():\n    row = data[0]\n"
                              "w = torch.randn(3, requires_grad=True)\ny = row * w\n"),
    "other_branch": ("import torch\nif cached:\n    with torch.inference_mode():\n        x = torch.randn(3)\nelse:\n"
                     "    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\ny = x * w\n"),
    "unknown_function_result": ("import torch\nwith torch.inference_mode():\n    x = get_cached()\n"
                                "w = torch.ones(3, requires_grad=True)\ny = x * w\n"),
    "frozen_layer": (PRE + "layer = nn.Linear(3, 1)\nlayer.requires_grad_(False)\nwith torch.inference_mode():\n"
                     "    feats = torch.randn(4, 3) * 2\nout = layer(feats)\n"),
    "requires_grad_false": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad_(False)\n"),
    "inference_use_inside_block": ("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.inference_mode():\n"
                                   "    x = torch.randn(3)\n    y = x * w\n    x.add_(1)\n"),
    "operand_of_unknown_provenance": (
        "import torch\n@torch.inference_mode()\ndef embed(x):\n    return x * 2\n"
        "def train(w, x):\n    e = embed(x)\n    return (e * w).sum()\n"),
    "other_function": ("import torch\ndef a():\n    with torch.inference_mode():\n        x = torch.randn(3)\n"
                       "def b(x, w):\n    return x * w\n"),
}


@pytest.mark.parametrize("name", sorted(GL012_BAD))
def test_gl012_true_positives(name):
    code, expected = GL012_BAD[name]
    assert rows("GL012", code) == expected


@pytest.mark.parametrize("name", sorted(GL012_GOOD))
def test_gl012_lookalikes_stay_silent(name):
    assert rows("GL012", GL012_GOOD[name]) == []


def test_gl012_copy_after_block_is_normal():
    code = ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx = x.to('cuda')\n"
            "w = torch.ones(3, requires_grad=True)\ny = x * w\n")
    assert rows("GL012", code) == []


def test_gl012_views_and_detach_outside_stay_inference():
    code = ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\nv = x.view(12)\nd = x.detach()\n"
            "w = torch.ones(12, requires_grad=True)\ny = v * w\nz = d[0] * w[:3]\n")
    assert rows("GL012", code) == [7]  # `d[0] * ...`: only named operands are tracked
