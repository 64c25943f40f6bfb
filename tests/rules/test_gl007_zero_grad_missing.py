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
    # a model's own zero_grad() resets only that model's parameters
    "gan_only_discriminator_model_reset": (
        """
        import torch
        optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        for epoch in range(5):
            for i, real in enumerate(dataloader):
                netD.zero_grad()
                errD = criterion(netD(real), ones) + criterion(netD(netG(z).detach()), zeros)
                errD.backward()
                optimizerD.step()
                errG = criterion(netD(netG(z)), ones)
                errG.backward()
                optimizerG.step()
        """, [13]),
    "gan_grad_none_loop_of_discriminator_only": (
        """
        import torch
        opt_d = torch.optim.SGD(disc.parameters(), lr=0.01)
        opt_g = torch.optim.SGD(gen.parameters(), lr=0.01)
        for real in loader:
            for p in disc.parameters():
                p.grad = None
            (disc(real).mean() - disc(gen(noise).detach()).mean()).backward()
            opt_d.step()
            (-disc(gen(noise)).mean()).backward()
            opt_g.step()
        """, [11]),
    "gan_attributes_set_to_none_discriminator_only": (
        """
        import torch
        class GANTrainer:
            def __init__(self, gen, disc):
                self.gen, self.disc = gen, disc
                self.opt_g = torch.optim.Adam(self.gen.parameters())
                self.opt_d = torch.optim.Adam(self.disc.parameters())
            def fit(self, loader):
                for real in loader:
                    self.disc.zero_grad(set_to_none=True)
                    d_loss = self.disc(real).mean() - self.disc(self.gen(z).detach()).mean()
                    d_loss.backward()
                    self.opt_d.step()
                    g_loss = -self.disc(self.gen(z)).mean()
                    g_loss.backward()
                    self.opt_g.step()
        """, [16]),
    # the step runs on every iteration, the reset only under a condition
    "reset_only_when_logging_while_loop": (
        """
        import torch
        optim = torch.optim.Adam(model.parameters(), lr=1e-3)
        step = 0
        while step < max_steps:
            xb, yb = next(batches)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optim.step()
            step += 1
            if step % 5 == 0:
                print(step, loss.item())
                optim.zero_grad()
        """, [9]),
    "reset_every_k_but_step_every_batch": (
        """
        import torch
        def train(model, loader, optimizer, accum_steps):
            for i, (x, y) in enumerate(loader):
                if i % accum_steps == 0:
                    optimizer.zero_grad()
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                optimizer.step()
        """, [9]),
    "scaler_step_reset_in_a_branch": (
        """
        import torch
        scaler = torch.cuda.amp.GradScaler()
        for it, batch in enumerate(loader):
            with torch.autocast("cuda"):
                loss = model(batch).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if it % log_every == 0:
                log(loss)
                opt.zero_grad(set_to_none=True)
        """, [8]),
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
    "dcgan_both_models_reset": (
        "import torch\noptimizerD = torch.optim.Adam(netD.parameters())\noptimizerG = torch.optim.Adam(netG.parameters())\n"
        "for i, real in enumerate(loader):\n    netD.zero_grad()\n    crit(netD(real), ones).backward()\n"
        "    crit(netD(netG(z).detach()), zeros).backward()\n    optimizerD.step()\n    netG.zero_grad()\n"
        "    crit(netD(netG(z)), ones).backward()\n    optimizerG.step()\n"),
    "model_reset_optimizer_built_elsewhere": (
        "import torch\nfor real in loader:\n    netD.zero_grad()\n    d_loss(real).backward()\n    optimizerD.step()\n"
        "    g_loss(real).backward()\n    optimizerG.step()\n"),
    "parent_model_reset_resets_both_parts": (
        "import torch\nopt_body = torch.optim.SGD(model.backbone.parameters(), lr=0.1)\n"
        "opt_head = torch.optim.SGD(model.head.parameters(), lr=0.1)\nfor x, y in loader:\n    model.zero_grad()\n"
        "    crit(model(x), y).backward()\n    opt_body.step()\n    opt_head.step()\n"),
    "attribute_reset_of_the_model_stored_from_a_parameter": (
        "import torch\nclass T:\n    def __init__(self, model, aux):\n        self.model, self.aux = model, aux\n"
        "        self.opt = torch.optim.Adam(model.parameters())\n        self.aux_opt = torch.optim.SGD(aux.parameters(), lr=0.1)\n"
        "    def _reset(self):\n        self.opt.zero_grad(set_to_none=True)\n    def fit(self, data):\n"
        "        for x, y in data:\n            self._reset()\n            self.model(x).sum().backward()\n"
        "            self.opt.step()\n            self.aux.zero_grad()\n            self.aux(x).sum().backward()\n"
        "            self.aux_opt.step()\n"),
    "generator_grad_none_loop": (
        "import torch\nopt_d = torch.optim.SGD(disc.parameters(), lr=0.1)\nopt_g = torch.optim.SGD(gen.parameters(), lr=0.1)\n"
        "for real in loader:\n    opt_d.zero_grad()\n    d_loss(real).backward()\n    opt_d.step()\n"
        "    for name, p in gen.named_parameters():\n        p.grad = None\n    g_loss(real).backward()\n    opt_g.step()\n"),
    "reset_in_both_branches": (
        "import torch\nfor i, (x, y) in enumerate(loader):\n    if use_none:\n        opt.zero_grad(set_to_none=True)\n"
        "    else:\n        opt.zero_grad()\n    crit(model(x), y).backward()\n    opt.step()\n"),
    "optimizer_or_model_reset_in_two_branches": (
        "import torch\noptimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)\nfor batch, i in enumerate(starts):\n"
        "    if args.use_optimizer:\n        optimizer.zero_grad()\n    else:\n        model.zero_grad()\n"
        "    crit(model(data[i]), targets[i]).backward()\n    optimizer.step()\n"),
    "conditional_reset_and_a_helper_every_iteration": (
        "import torch\ndef clear(o):\n    o.zero_grad()\nfor i, (x, y) in enumerate(loader):\n    if i == 0:\n"
        "        opt.zero_grad()\n    clear(opt)\n    crit(model(x), y).backward()\n    opt.step()\n"),
    "conditional_reset_and_model_reset_every_iteration": (
        "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor i, (x, y) in enumerate(loader):\n"
        "    crit(model(x), y).backward()\n    opt.step()\n    if i % 10 == 0:\n        opt.zero_grad()\n"
        "    model.zero_grad()\n"),
    "reset_before_continue_and_at_the_end": (
        "import torch\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n    opt.step()\n"
        "    if not torch.isfinite(loss):\n        opt.zero_grad()\n        continue\n    log(loss)\n    opt.zero_grad()\n"),
    "accumulation_reset_and_step_under_their_own_conditions": (
        "import torch\nfor i, (x, y) in enumerate(loader):\n    if i % k == 0:\n        optimizer.zero_grad()\n"
        "    (crit(model(x), y) / k).backward()\n    if (i + 1) % k == 0:\n        optimizer.step()\n"),
    "conditional_grad_none_loop": (
        "import torch\nfor i, (x, y) in enumerate(loader):\n    crit(model(x), y).backward()\n    optimizer.step()\n"
        "    for p in model.parameters():\n        if p.grad is not None:\n            p.grad = None\n"),
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


def test_messages_of_a_model_reset_and_a_conditional_reset():
    gan = _diag(BAD["gan_only_discriminator_model_reset"][0]).message
    assert "`netD.zero_grad()` resets only `netD`'s gradients, and `optimizerG` steps `netG`'s" in gan
    cond = _diag(BAD["reset_only_when_logging_while_loop"][0]).message
    assert cond.startswith("`optim.step()` runs on every iteration") and "`optim.zero_grad()` runs only under a" in cond
    assert "under the same condition as the reset" in cond
    d = _diag(BAD["reset_only_when_logging_while_loop"][0])
    assert d.fix is not None and d.fix.edits[0].content.strip() == "optim.zero_grad()"
