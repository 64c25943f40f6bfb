"""GL007 zero-grad-missing: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows

BAD = {
    "never_reset": (
        """
        import torch
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        """, [6]),
    "once_before_loop": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.zero_grad()
        for x, y in loader:
            criterion(model(x), y).backward()
            opt.step()
        """, [7]),
    "once_per_epoch_outside_batch_loop": (
        """
        import torch as T
        for epoch in range(5):
            optim.zero_grad()
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
                optim.step()
        """, [8]),
    "self_optimizer_in_method": (
        """
        import torch
        class Trainer:
            def fit(self, loader):
                for batch in loader:
                    loss = self.model(batch).mean()
                    loss.backward()
                    self.optimizer.step()
                    self.scheduler.step()
        """, [8]),
    "scaler_step": (
        """
        import torch
        from torch.cuda.amp import GradScaler
        scaler = GradScaler()
        for x, y in loader:
            with torch.autocast("cuda"):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        """, [9]),
    "while_loop_nested_function": (
        """
        import torch
        def main():
            def train():
                step = 0
                while step < 100:
                    loss = model(next(it)).sum()
                    loss.backward()
                    opt_g.step()
                    step += 1
            train()
        """, [9]),
    "constructed_optimizer_any_name": (
        """
        import torch
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            model(x).sum().backward()
            sgd.step()
        """, [6]),
    "gan_generator_not_reset": (
        """
        import torch
        for real in loader:
            optimizer_D.zero_grad()
            d_loss = D(real).mean() - D(G(z).detach()).mean()
            d_loss.backward()
            optimizer_D.step()
            g_loss = -D(G(z)).mean()
            g_loss.backward()
            optimizer_G.step()
        """, [10]),
    "accumulation_reset_after_loop": (
        """
        import torch
        for i, (x, y) in enumerate(loader):
            (criterion(model(x), y) / 4).backward()
            if (i + 1) % 4 == 0:
                optimizer.step()
        optimizer.zero_grad()
        """, [6]),
}

GOOD = {
    "zero_grad_first": "import torch\nfor x, y in loader:\n    opt.zero_grad()\n    criterion(model(x), y).backward()\n    opt.step()\n",
    "zero_grad_end_of_iteration": (
        "import torch\nfor x, y in loader:\n    criterion(model(x), y).backward()\n    opt.step()\n    opt.zero_grad()\n"),
    "set_to_none": (
        "import torch\nfor x, y in loader:\n    optimizer.zero_grad(set_to_none=True)\n    criterion(model(x), y).backward()\n"
        "    optimizer.step()\n"),
    "model_zero_grad": (
        "import torch\nfor x, y in loader:\n    net.zero_grad()\n    criterion(net(x), y).backward()\n    optimizer.step()\n"),
    "grad_none_loop": (
        "import torch\nfor x, y in loader:\n    criterion(model(x), y).backward()\n    optimizer.step()\n"
        "    for p in model.parameters():\n        p.grad = None\n"),
    "grad_zero_inplace": (
        "import torch\nfor x, y in loader:\n    for p in params:\n        if p.grad is not None:\n"
        "            p.grad.zero_()\n    criterion(model(x), y).backward()\n    optimizer.step()\n"),
    "accumulation_every_k": (
        "import torch\nfor i, (x, y) in enumerate(loader):\n    (criterion(model(x), y) / k).backward()\n"
        "    if (i + 1) % k == 0:\n        optimizer.step()\n        optimizer.zero_grad()\n"),
    "micro_batch_inner_loop": (
        "import torch\nfor batch in loader:\n    opt.zero_grad()\n    for micro in batch.split(4):\n"
        "        model(micro).sum().backward()\n    opt.step()\n"),
    "autograd_grad_loop": (
        "import torch\nfor x in data:\n    g = torch.autograd.grad(model(x).sum(), params)\n    for p, gi in zip(params, g):\n"
        "        p.grad = gi\n    optimizer.step()\n"),
    "autograd_grad_only": (
        "import torch\nw = torch.randn(3, requires_grad=True)\nfor _ in range(3):\n    g, = torch.autograd.grad((w ** 2).sum(), w)\n"
        "    with torch.no_grad():\n        w -= 0.1 * g\n"),
    "lbfgs_closure": (
        "import torch\nfor x, y in loader:\n    def closure():\n        optimizer.zero_grad()\n"
        "        loss = criterion(model(x), y)\n        loss.backward()\n        return loss\n    optimizer.step(closure)\n"),
    "lightning_training_step": (
        "import lightning as L\nclass M(L.LightningModule):\n    def training_step(self, batch, i):\n"
        "        loss = self.model(batch).mean()\n        self.manual_backward(loss)\n        self.optimizers().step()\n"),
    "helper_resets": (
        "import torch\ndef reset(opt):\n    opt.zero_grad()\nfor x in data:\n    reset(optimizer)\n"
        "    model(x).sum().backward()\n    optimizer.step()\n"),
    "self_helper_resets": (
        "import torch\nclass T:\n    def _clear(self):\n        self.optimizer.zero_grad()\n    def fit(self, data):\n"
        "        for x in data:\n            self._clear()\n            self.model(x).sum().backward()\n            self.optimizer.step()\n"),
    "scheduler_and_env_steps": (
        "import torch\nfor x in data:\n    model(x).sum().backward()\n    scheduler.step()\n    env.step(action)\n    lr_sched.step()\n"),
    "backward_outside_loop": "import torch\nmodel(x).sum().backward()\nfor _ in range(3):\n    optimizer.step()\n",
    "accelerate_accumulate": (
        "import torch\nfor batch in loader:\n    with accelerator.accumulate(model):\n        loss = model(batch).loss\n"
        "        accelerator.backward(loss)\n        optimizer.step()\n        optimizer.zero_grad()\n"),
    "no_torch_import": "for x in data:\n    loss = model(x)\n    loss.backward()\n    optimizer.step()\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL007", snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good(name):
    assert rows("GL007", GOOD[name]) == []


def test_test_files_are_silent():
    assert rows("GL007", BAD["never_reset"][0], filename="tests/test_training.py") == []


def _diag(snippet: str):
    res = lint_source(textwrap.dedent(snippet), "train.py", Settings(selected=frozenset({"GL007"})))
    assert res.error is None and len(res.diagnostics) == 1
    return res.diagnostics[0]


def test_messages():
    assert "once per outer iteration" in _diag(BAD["once_per_epoch_outside_batch_loop"][0]).message
    assert "only `optimizer_D` is reset, not `optimizer_G`" in _diag(BAD["gan_generator_not_reset"][0]).message
    plain = _diag(BAD["never_reset"][0]).message
    assert plain.startswith("`optimizer.step()`") and "optimizer.zero_grad()" in plain


def test_fix_inserts_zero_grad_before_backward():
    d = _diag(BAD["never_reset"][0])
    assert d.fix is not None and d.fix.applicability.value == "unsafe"
    (edit,) = d.fix.edits
    assert edit.content.strip() == "optimizer.zero_grad()" and edit.location.row == 5
    assert _diag(BAD["accumulation_reset_after_loop"][0]).fix is not None
