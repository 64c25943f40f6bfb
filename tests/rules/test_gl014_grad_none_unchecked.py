"""GL014 grad-none-unchecked: `.grad` dereferenced in loops over parameters without a None check, and the
guarded look-alikes that stay silent (catalogue GL014)."""

from __future__ import annotations

import pytest

from ._lint import rows

BAD = {
    "zero_before_backward": ("import torch\nfor p in model.parameters():\n    p.grad.zero_()\n", [3]),
    "alias_and_grad_data": (
        "import torch as T\nnet = T.nn.Linear(3, 1)\nfor p in net.parameters():\n    p.grad.data.clamp_(-1, 1)\n", [4]),
    "augassign_named_parameters": (
        "import torch\nfor name, p in model.named_parameters():\n    p.grad += 0.01 * torch.randn_like(p)\n", [3]),
    "param_groups": (
        "import torch\nfor group in optimizer.param_groups:\n    for p in group['params']:\n        p.grad.mul_(0.5)\n", [4]),
    "list_of_parameters": (
        "from torch import nn\nimport torch\nw = nn.Parameter(torch.zeros(3))\nb = nn.Parameter(torch.zeros(1))\n"
        "for p in [w, b]:\n    p.grad.zero_()\n", [6]),
    "method_in_class": (
        """
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
            def clip(self):
                for p in self.model.parameters():
                    p.grad.data.clamp_(-1.0, 1.0)
        """, [8]),
    "nested_function": (
        """
        import torch
        def train(model, loader):
            def scale_grads(factor):
                for p in model.parameters():
                    p.grad *= factor
            for x in loader:
                model(x).sum().backward()
                scale_grads(0.5)
        """, [6]),
    "generator_sum": ("import torch\ntotal = sum(p.grad.norm() for p in model.parameters())\n", [2]),
    "list_comprehension_named": (
        "import torch\ngrads = [p.grad.clone() for n, p in model.named_parameters()]\n", [2]),
    "subscript": ("import torch\nfor p in model.parameters():\n    p.grad[p.grad.abs() < 1e-3] = 0\n", [3]),
    "list_wrapped_enumerate": (
        "import torch\nfor i, p in enumerate(list(model.parameters())):\n    p.grad.div_(i + 1)\n", [3]),
    "first_use_only": (
        "import torch\nfor p in model.parameters():\n    p.grad.mul_(2)\n    p.grad.add_(1)\n", [3]),
    "requires_grad_check_is_not_a_none_check": (
        "import torch\nfor p in model.parameters():\n    if p.requires_grad:\n        p.grad.zero_()\n", [4]),
}

GOOD = {
    "if_none_continue": "import torch\nfor p in model.parameters():\n    if p.grad is None:\n        continue\n    p.grad.zero_()\n",
    "if_not_none": "import torch\nfor p in model.parameters():\n    if p.grad is not None:\n        p.grad.zero_()\n",
    "and_guard": "import torch\nfor p in model.parameters():\n    p.grad is not None and p.grad.zero_()\n",
    "ifexp_guard": "import torch\nfor p in model.parameters():\n    p.grad.zero_() if p.grad is not None else None\n",
    "compound_continue": (
        "import torch\nfor p in model.parameters():\n    if not p.requires_grad or p.grad is None:\n        continue\n"
        "    p.grad.clamp_(-1, 1)\n"),
    "truthiness": "import torch\nfor p in model.parameters():\n    if not p.grad:\n        continue\n    p.grad.zero_()\n",
    "filter_lambda": (
        "import torch\nfor p in filter(lambda q: q.grad is not None, model.parameters()):\n    p.grad.data.clamp_(-1, 1)\n"),
    "filtered_list_then_loop": (
        "import torch\nparams = [p for p in model.parameters() if p.grad is not None]\nfor p in params:\n    p.grad.mul_(0.5)\n"),
    "comprehension_if": "import torch\nn = sum(p.grad.norm() for p in model.parameters() if p.grad is not None)\n",
    "initialised_when_none": (
        "import torch\nfor p in model.parameters():\n    if p.grad is None:\n        p.grad = torch.zeros_like(p)\n"
        "    p.grad += 1\n"),
    "set_to_none": "import torch\nfor p in model.parameters():\n    p.grad = None\n",
    "grad_passed_to_function": "import torch\nfor p in model.parameters():\n    log(p.grad)\n",
    "unknown_iterable": "import torch\ndef clip(params):\n    for p in params:\n        p.grad.clamp_(-1, 1)\n",
    "clip_utility": "import torch\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n",
    "frozen_model": (
        "import torch\nmodel.requires_grad_(False)\nfor p in model.parameters():\n    p.grad.zero_()\n"),
    "not_a_grad_deref": "import torch\nfor p in model.parameters():\n    g = p.grad\n",
    "asserted_elsewhere_in_function": (
        "import torch\ndef flat_grads(model):\n    assert all(p.grad is not None for p in model.parameters())\n"
        "    return torch.cat([p.grad.view(-1) for p in model.parameters()])\n"),
    "assert_is_not_none": (
        "import torch\nfor p in model.parameters():\n    self.assertIsNotNone(p.grad)\n    use(p.grad.sum())\n"),
    "owner_not_known_to_be_a_module": (
        "import torch\nfor p in bucket.parameters():\n    p.grad.data = p.grad.to(torch.float32)\n"),
    "torch_optimizer_style": (
        "import torch\nfor group in self.param_groups:\n    for p in group['params']:\n        if p.grad is None:\n"
        "            continue\n        d_p = p.grad\n        p.add_(d_p, alpha=-group['lr'])\n"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL014", snippet) == expected


@pytest.mark.parametrize("name", GOOD)
def test_good(name):
    assert rows("GL014", GOOD[name]) == []


def test_test_files_are_silent():
    snippet, _ = BAD["zero_before_backward"]
    assert rows("GL014", snippet, filename="tests/test_grads.py") == []


def test_off_by_default():
    from gradlint.rules import get_rule

    assert get_rule("GL014").default_enabled is False
    assert "## Why it is off by default" in get_rule("GL014").docs


def test_message_names_the_error():
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    res = lint_source("import torch\nfor p in model.parameters():\n    p.grad.zero_()\n", "train.py",
                      Settings(selected=frozenset({"GL014"})))
    (d,) = res.diagnostics
    assert "'NoneType' object has no attribute 'zero_'" in d.message
    assert "if p.grad is None: continue" in d.message
    assert d.location.column == 5
