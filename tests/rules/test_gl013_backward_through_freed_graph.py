"""GL013 backward-through-freed-graph: true positives in several shapes, and the catalogue look-alikes that
stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows

BAD = {
    "same_loss_twice": (
        """
        import torch
        loss = model(x).pow(2).mean()
        loss.backward()
        loss.backward()
        """, [5]),
    "two_losses_one_forward_alias": (
        """
        import torch as T
        from torch import nn
        crit = nn.CrossEntropyLoss()
        out = net(x)
        l1 = crit(out, y)
        l2 = out.pow(2).mean()
        l1.backward()
        l2.backward()
        """, [9]),
    "gan_generator_reuses_d_graph": (
        """
        import torch
        for real in loader:
            fake = generator(z)
            d_loss = bce(discriminator(fake), zeros)
            d_loss.backward()
            opt_d.step()
            g_loss = bce(discriminator(fake), ones)
            g_loss.backward()
            opt_g.step()
        """, [9]),
    "autograd_grad_then_backward": (
        """
        import torch
        loss = model(x).sum()
        g = torch.autograd.grad(loss, list(model.parameters()))
        loss.backward()
        """, [5]),
    "second_backward_nested_in_if": (
        """
        import torch
        def step(model, x):
            out = model(x)
            a = out.sum()
            a.backward()
            if x.shape[0] > 1:
                (out * 2).mean().backward()
        """, [8]),
    "loop_invariant_loss": (
        """
        import torch
        loss = criterion(model(x), y)
        for epoch in range(10):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        """, [6]),
    "rnn_hidden_carried": (
        """
        import torch
        import torch.nn as nn
        rnn = nn.GRUCell(8, 16)
        h = torch.zeros(4, 16)
        for x, y in loader:
            optimizer.zero_grad()
            h = rnn(x, h)
            loss = criterion(h, y)
            loss.backward()
            optimizer.step()
        """, [8]),
    "lstm_tuple_state_in_method": (
        """
        import torch
        class Trainer:
            def fit(self, loader):
                hidden = (h0, c0)
                for x, y in loader:
                    out, hidden = self.model(x, hidden)
                    loss = self.criterion(out, y)
                    loss.backward()
                    self.optimizer.step()
        """, [7]),
    "ema_of_outputs": (
        """
        import torch
        ema = 0
        for x in loader:
            out = model(x)
            ema = 0.9 * ema + 0.1 * out
            ema.mean().backward()
        """, [6]),
    "retain_graph_as_fix": (
        """
        import torch
        h = torch.zeros(2, 5)
        for x in data:
            h = cell_net(x, h)
            h.sum().backward(retain_graph=True)
        """, [5]),
    "running_total_backpropagated": (
        """
        import torch
        total = 0
        for x, y in loader:
            total = total + criterion(model(x), y)
            total.backward()
        """, [5]),
    "carried_across_outer_loop": (
        """
        import torch
        h = torch.zeros(1, 8)
        for batch in loader:
            for t in range(batch.shape[0]):
                h = model(batch[t], h)
            h.sum().backward()
        """, [6]),
}

GOOD = {
    "retain_graph_first": "import torch\nloss = model(x).sum()\nloss.backward(retain_graph=True)\nloss.backward()\n",
    "sum_losses": "import torch\nout = model(x)\n(out.sum() + out.pow(2).mean()).backward()\n",
    "separate_forwards": "import torch\nmodel(x).sum().backward()\nmodel(x).pow(2).mean().backward()\n",
    "recompute_between": "import torch\nout = model(x)\nout.sum().backward()\nout = model(x)\nout.mean().backward()\n",
    "gan_with_detach": (
        "import torch\nfor real in loader:\n    fake = G(z)\n    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)\n"
        "    d_loss.backward()\n    opt_d.step()\n    g_loss = bce(D(fake), ones)\n    g_loss.backward()\n    opt_g.step()\n"),
    "create_graph_penalty": (
        "import torch\nx = torch.randn(3, requires_grad=True)\nscore = model(x).sum()\n"
        "g, = torch.autograd.grad(score, x, create_graph=True)\n(g.pow(2).sum() + score).backward()\n"),
    "branches": (
        "import torch\nout = model(x)\nif cond:\n    out.sum().backward()\nelse:\n    out.mean().backward()\n"),
    "try_except": (
        "import torch\nout = model(x)\ntry:\n    out.sum().backward()\nexcept RuntimeError:\n    out.mean().backward()\n"),
    "leaf_only_losses": (
        "import torch\nw = torch.randn(3, requires_grad=True)\n(w * 2).sum().backward()\n(w * 3).sum().backward()\n"),
    "detached_hidden": (
        "import torch\nh = torch.zeros(2, 5)\nfor x in data:\n    h = cell_net(x, h.detach())\n    h.sum().backward()\n"),
    "detach_at_top": (
        "import torch\nfor x in data:\n    h = h.detach()\n    h = cell_net(x, h)\n    h.sum().backward()\n"),
    "detach_inplace": (
        "import torch\nfor x in data:\n    h = cell_net(x, h)\n    h.sum().backward()\n    h.detach_()\n"),
    "repackage_hidden": (
        "import torch\nfor x, y in loader:\n    hidden = repackage_hidden(hidden)\n    out, hidden = model(x, hidden)\n"
        "    criterion(out, y).backward()\n"),
    "init_hidden_each_batch": (
        "import torch\nfor x, y in loader:\n    hidden = model.init_hidden(x.size(0))\n    out, hidden = model(x, hidden)\n"
        "    criterion(out, y).backward()\n"),
    "tbptt_every_k": (
        "import torch\nloss = 0\nfor i, x in enumerate(seq):\n    h = cell_net(x, h)\n    loss = loss + h.sum()\n"
        "    if (i + 1) % k == 0:\n        loss.backward()\n        h = h.detach()\n        loss = 0\n"),
    "forward_over_layers_no_backward_in_loop": (
        "import torch\nfor layer in layers:\n    x = layer_model(x)\nx.sum().backward()\n"),
    "maml_create_graph": (
        "import torch\nfast = list(model.parameters())\nfor step in range(5):\n    loss = model(x).sum()\n"
        "    grads = torch.autograd.grad(loss, fast, create_graph=True)\n    fast = [w - 0.1 * g for w, g in zip(fast, grads)]\n"),
    "loss_in_loop": (
        "import torch\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n"),
    "loop_with_break": "import torch\nloss = model(x).sum()\nfor _ in range(3):\n    loss.backward()\n    break\n",
    "no_grad_eval_carry": (
        "import torch\nwith torch.no_grad():\n    for x in data:\n        h = model(x, h)\n        h.sum()\n"),
    "retain_graph_variable": "import torch\nloss = model(x).sum()\nloss.backward(retain_graph=keep)\nloss.backward()\n",
    "total_item_accumulation": (
        "import torch\ntotal = 0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss.item()\n"),
    "running_total_not_backpropagated": (
        "import torch\ntotal = 0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss\n"),
    "conditional_backward_in_loop": (
        "import torch\nloss = model(x).sum()\nfor i in range(3):\n    if i == 0:\n        loss.backward()\n"),
    "no_torch_import": "loss = model(x)\nloss.backward()\nloss.backward()\n",
    # every path after the carried assignment leaves the loop: no iteration gets the graph back (loop joins)
    "carried_then_break": "import torch\nfor x in data:\n    h = cell_net(x, h)\n    h.sum().backward()\n    break\n",
    "carried_then_return_or_raise": (
        "import torch\n\ndef first(data, h):\n    for x in data:\n        h = cell_net(x, h)\n        h.sum().backward()\n"
        "        if h.sum() > 0:\n            return h\n        else:\n            raise ValueError\n"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL013", snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good(name):
    assert rows("GL013", GOOD[name]) == []


def _diag(snippet: str):
    res = lint_source(textwrap.dedent(snippet), "train.py", Settings(selected=frozenset({"GL013"})))
    assert res.error is None and len(res.diagnostics) == 1
    return res.diagnostics[0]


def test_messages():
    twice = _diag(BAD["two_losses_one_forward_alias"][0]).message
    assert "`l2.backward()`" in twice and "`l1.backward()` already freed" in twice
    assert "Trying to backward through the graph a second time" in twice
    carried = _diag(BAD["rnn_hidden_carried"][0]).message
    assert "`h = rnn(x, h)`" in carried and "h.detach()" in carried
    retained = _diag(BAD["retain_graph_as_fix"][0]).message
    assert "`retain_graph=True` only hides the error" in retained and "modified by an inplace operation" in retained
    invariant = _diag(BAD["loop_invariant_loss"][0]).message
    assert "built before the loop" in invariant


# ---------------------------------------------------------------- an optimizer step between a forward and its backward
# Each shape below was run on torch 2.13 (tests/rules comments give the outcome): the BAD ones raise
# "one of the variables needed for gradient computation has been modified by an inplace operation".

STEPPED_BAD = {
    # eriklindernoren/PyTorch-GAN softmax_gan: d_real/d_fake reused for the generator loss after opt_D.step()
    "softmax_gan_outputs_reused": (
        """
        import torch
        optimizer_G = torch.optim.Adam(generator.parameters(), lr=2e-4)
        optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=2e-4)
        for imgs, _ in dataloader:
            optimizer_G.zero_grad()
            optimizer_D.zero_grad()
            gen_imgs = generator(z)
            d_real = discriminator(imgs)
            d_fake = discriminator(gen_imgs)
            Z = torch.sum(torch.exp(-d_real)) + torch.sum(torch.exp(-d_fake))
            d_loss = torch.sum(d_real) + torch.log(Z)
            d_loss.backward(retain_graph=True)
            optimizer_D.step()
            g_loss = torch.sum(d_real) + torch.sum(d_fake) + torch.log(Z)
            g_loss.backward()
            optimizer_G.step()
        """, [16]),
    # the generator loss computed before the discriminator step; the discriminator loss used fake.detach()
    "g_loss_before_d_step_detached_fake": (
        """
        import torch
        import torch.nn as nn
        bce = nn.BCELoss()
        class Discriminator(nn.Module):
            def forward(self, x):
                return self.net(x)
        G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        D = Discriminator()
        opt_G = torch.optim.Adam(G.parameters())
        opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
        for real in loader:
            fake = G(z)
            g_loss = bce(D(fake), ones)
            d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
        """, [20]),
    # one model, two losses of one forward pass, a step between their backward passes
    "one_model_two_losses_step_between": (
        """
        import torch
        def train(model, loader):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                out = model(x)
                l1 = criterion(out, y)
                l2 = out.pow(2).mean()
                l1.backward(retain_graph=True)
                opt.step()
                l2.backward()
        """, [11]),
    # a step that runs only on some iterations still crashes the backward after it whenever it runs
    "conditional_step_clustergan": (
        """
        import torch
        from itertools import chain
        optimizer_GE = torch.optim.Adam(chain(generator.parameters(), encoder.parameters()))
        optimizer_D = torch.optim.Adam(discriminator.parameters())
        for i, (imgs, _) in enumerate(dataloader):
            gen_imgs = generator(zn, zc)
            D_gen = discriminator(gen_imgs)
            D_real = discriminator(imgs)
            if i % n_skip_iter == 0:
                ge_loss = torch.mean(D_gen)
                ge_loss.backward(retain_graph=True)
                optimizer_GE.step()
            optimizer_D.zero_grad()
            d_loss = torch.mean(D_real) - torch.mean(D_gen)
            d_loss.backward()
            optimizer_D.step()
        """, [16]),
    # optimizer and networks as attributes, a method of a trainer class
    "trainer_attributes": (
        """
        import torch
        import torch.nn as nn
        class Trainer:
            def __init__(self):
                self.G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
                self.D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
                self.opt_G = torch.optim.Adam(self.G.parameters())
                self.opt_D = torch.optim.Adam(self.D.parameters())

            def step(self, real, z):
                fake = self.G(z)
                pred_fake = self.D(fake)
                d_loss = self.D(real).mean() - pred_fake.mean()
                self.opt_D.zero_grad()
                d_loss.backward(retain_graph=True)
                self.opt_D.step()
                g_loss = -pred_fake.mean()
                self.opt_G.zero_grad()
                g_loss.backward()
                self.opt_G.step()
        """, [20]),
    # MorvanZhou 406_conditional_GAN: G_loss from D's output before opt_D.step()
    "conditional_gan_shared_scores": (
        """
        import torch
        G = torch.nn.Sequential(torch.nn.Linear(7, 128), torch.nn.ReLU(), torch.nn.Linear(128, 15))
        D = torch.nn.Sequential(torch.nn.Linear(17, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1))
        opt_D = torch.optim.Adam(D.parameters(), lr=1e-4)
        opt_G = torch.optim.Adam(G.parameters(), lr=1e-4)
        for step in range(10000):
            G_paintings = G(torch.cat((G_ideas, labels), 1))
            prob_artist0 = D(torch.cat((artist_paintings, labels), 1))
            prob_artist1 = D(torch.cat((G_paintings, labels), 1))
            D_score1 = torch.log(1. - prob_artist1)
            D_loss = - torch.mean(torch.log(prob_artist0) + D_score1)
            G_loss = torch.mean(D_score1)
            opt_D.zero_grad()
            D_loss.backward(retain_graph=True)
            opt_D.step()
            opt_G.zero_grad()
            G_loss.backward()
            opt_G.step()
        """, [18]),
    # a step in a branch that does not leave the iteration
    "warmup_step_without_continue": (
        """
        import torch
        optimizer_G = torch.optim.Adam(generator.parameters())
        for imgs in dataloader:
            gen_hr = generator(imgs)
            loss_pixel = criterion_pixel(gen_hr, imgs)
            if warm:
                loss_pixel.backward(retain_graph=True)
                optimizer_G.step()
            loss_G = criterion_content(gen_hr, imgs)
            loss_G.backward()
        """, [11]),
    # a single nn.Linear saves its weight when its input requires grad (here: the generator's output)
    "single_linear_d_on_fake": (
        """
        import torch
        import torch.nn as nn
        G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        D = nn.Linear(2, 1)
        opt_G = torch.optim.Adam(G.parameters())
        opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
        fake = G(z)
        g_loss = D(fake).pow(2).mean()
        d_loss = D(real).mean() + D(fake.detach()).mean()
        d_loss.backward()
        opt_D.step()
        g_loss.backward()
        """, [13]),
}

STEPPED_GOOD = {
    # the generator loss from a fresh D(fake) after the step: the retained graph is only G's
    "fresh_d_call_after_step": (
        """
        import torch
        opt_G = torch.optim.Adam(G.parameters())
        opt_D = torch.optim.Adam(D.parameters())
        for real in loader:
            fake = G(z)
            d_loss = bce(D(real), ones) + bce(D(fake), zeros)
            opt_D.zero_grad()
            d_loss.backward(retain_graph=True)
            opt_D.step()
            g_loss = bce(D(fake), ones)
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
        """),
    # eriklindernoren/PyTorch-GAN bicyclegan: the encoder step, then a fresh encoder call over the generator's
    # output made before it (the generator's parameters are not changed by optimizer_E)
    "bicyclegan_encoder_step": (
        """
        import torch
        optimizer_E = torch.optim.Adam(encoder.parameters())
        optimizer_G = torch.optim.Adam(generator.parameters())
        for real_A, real_B in dataloader:
            optimizer_E.zero_grad()
            optimizer_G.zero_grad()
            mu, logvar = encoder(real_B)
            fake_B = generator(real_A, mu)
            _fake_B = generator(real_A, sampled_z)
            loss_GE = mae_loss(fake_B, real_B) + mae_loss(_fake_B, real_B)
            loss_GE.backward(retain_graph=True)
            optimizer_E.step()
            _mu, _ = encoder(_fake_B)
            loss_latent = mae_loss(_mu, sampled_z)
            loss_latent.backward()
            optimizer_G.step()
        """),
    # MorvanZhou 406_GAN: G's step, then D's losses on G_paintings.detach()
    "morvan_gan_detach": (
        """
        import torch
        opt_D = torch.optim.Adam(D.parameters(), lr=1e-4)
        opt_G = torch.optim.Adam(G.parameters(), lr=1e-4)
        for step in range(10000):
            G_paintings = G(G_ideas)
            prob_artist1 = D(G_paintings)
            G_loss = torch.mean(torch.log(1. - prob_artist1))
            opt_G.zero_grad()
            G_loss.backward()
            opt_G.step()
            prob_artist0 = D(artist_paintings)
            prob_artist1 = D(G_paintings.detach())
            D_loss = - torch.mean(torch.log(prob_artist0) + torch.log(1. - prob_artist1))
            opt_D.zero_grad()
            D_loss.backward(retain_graph=True)
            opt_D.step()
        """),
    # the second loss goes through the generator only; the step changed the discriminator
    "second_loss_avoids_stepped_module": (
        """
        import torch
        opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
        fake = G(z)
        out = D(fake)
        out.mean().backward(retain_graph=True)
        opt_D.step()
        fake.pow(2).mean().backward()
        """),
    # no backward before the step: after zero_grad() the gradients are None and step() changes nothing
    "step_before_any_backward": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in loader:
            loss = model(x).mean()
            opt.zero_grad()
            opt.step()
            loss.backward()
        """),
    # a single nn.Linear fed an input that does not require grad saves no weight
    "single_linear_plain_input": (
        """
        import torch
        import torch.nn as nn
        D = nn.Linear(2, 1)
        opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
        out = D(real)
        out.pow(2).mean().backward(retain_graph=True)
        opt_D.step()
        out.abs().mean().backward()
        """),
    # the step and the second backward in exclusive branches
    "step_in_other_branch": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        out = model(x)
        out.mean().backward(retain_graph=True)
        if update:
            opt.step()
        else:
            out.pow(2).mean().backward()
        """),
    # the optimizer's parameters are not shown (a function argument): silent
    "optimizer_unknown": (
        """
        import torch
        def train(D, opt_D, x):
            out = D(x)
            out.mean().backward(retain_graph=True)
            opt_D.step()
            out.pow(2).mean().backward()
        """),
    # the backward passes first, the step after both
    "step_after_both_backwards": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        out = model(x)
        out.mean().backward(retain_graph=True)
        out.pow(2).mean().backward()
        opt.step()
        """),
    # eriklindernoren/PyTorch-GAN esrgan: the warm-up step leaves the iteration with `continue`
    "warmup_step_then_continue": (
        """
        import torch
        optimizer_G = torch.optim.Adam(generator.parameters())
        for i, imgs in enumerate(dataloader):
            optimizer_G.zero_grad()
            gen_hr = generator(imgs)
            loss_pixel = criterion_pixel(gen_hr, imgs)
            if batches_done < warmup_batches:
                loss_pixel.backward()
                optimizer_G.step()
                continue
            loss_G = criterion_content(gen_hr, imgs) + loss_pixel
            loss_G.backward()
            optimizer_G.step()
        """),
    # a lightning-style module: `self(z)` (the generator) while the stepped optimizer is over self.discriminator
    "self_call_other_submodule": (
        """
        import torch
        import torch.nn as nn
        class GAN(nn.Module):
            def __init__(self):
                super().__init__()
                self.opt_d = torch.optim.Adam(self.discriminator.parameters())

            def forward(self, z):
                return self.generator(z)

            def train_step(self, z, real):
                fake = self(z)
                d_loss = self.discriminator(real).mean() - self.discriminator(fake.detach()).mean()
                d_loss.backward()
                self.opt_d.step()
                g_loss = fake.pow(2).mean()
                g_loss.backward()
        """),
}


@pytest.mark.parametrize("name", sorted(STEPPED_BAD))
def test_step_between_forward_and_backward(name):
    snippet, expected = STEPPED_BAD[name]
    assert rows("GL013", snippet) == expected


@pytest.mark.parametrize("name", sorted(STEPPED_GOOD))
def test_step_between_look_alikes_silent(name):
    assert rows("GL013", STEPPED_GOOD[name]) == []


def test_step_between_message():
    msg = _diag(STEPPED_BAD["softmax_gan_outputs_reused"][0]).message
    assert "`g_loss.backward()`" in msg and "`discriminator`" in msg and "`optimizer_D.step()`" in msg
    assert "modified by an inplace operation" in msg and "`d_loss.backward(retain_graph=True)`" in msg


_GAN_406 = """
    import torch
    G = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    D = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1), torch.nn.Sigmoid())
    opt_D = torch.optim.Adam(D.parameters(), lr=0.0001)
    opt_G = torch.optim.Adam(G.parameters(), lr=0.0001)
    for step in range(10000):
        G_paintings = G(torch.randn(64, 5))
        prob_artist0 = D(artist_paintings())
        prob_artist1 = D(G_paintings)
        D_loss = - torch.mean(torch.log(prob_artist0) + torch.log(1. - prob_artist1))
        G_loss = torch.mean(torch.log(1. - prob_artist1))
        opt_D.zero_grad()
        D_loss.backward(RETAIN=True)
        opt_D.step()
        opt_G.zero_grad()
        G_loss.backward()
        opt_G.step()
    """


@pytest.mark.parametrize("retain", ["retain_graph", "retain_variables"])
def test_retain_variables_is_the_legacy_retain_graph(retain):
    # MorvanZhou's 406_GAN: `retain_variables=True` (pre-0.4 spelling) kept the graph; what raises at
    # `G_loss.backward()` is opt_D.step()'s in-place update, not a freed graph
    snippet = _GAN_406.replace("RETAIN", retain)
    assert rows("GL013", snippet) == [17]
    msg = _diag(snippet).message
    assert "modified by an inplace operation" in msg and "freed" not in msg


@pytest.mark.parametrize("imports, chain, expected", [
    ("from itertools import chain as ichain", "ichain", [19]),
    ("from itertools import chain", "chain", [19]),
    # look-alike: another library's function of that name says nothing about what the optimizer holds
    ("from mylib import ichain", "ichain", []),
])
def test_optimizer_over_chained_parameters_through_an_alias(imports, chain, expected):
    # eriklindernoren's cluster_gan: `optimizer_GE = Adam(ichain(generator.parameters(), encoder.parameters()))`
    snippet = f"""
    import torch
    {imports}
    generator = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    encoder = torch.nn.Linear(3, 4)
    discriminator = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    ge_chain = {chain}(generator.parameters(), encoder.parameters())
    optimizer_GE = torch.optim.Adam(ge_chain)
    optimizer_D = torch.optim.Adam(discriminator.parameters())
    for z in loader:
        gen_imgs = generator(z)
        D_gen = discriminator(gen_imgs)
        optimizer_GE.zero_grad()
        ge_loss = torch.mean(D_gen) + torch.mean((encoder(gen_imgs) - z) ** 2)
        ge_loss.backward(retain_graph=True)
        optimizer_GE.step()
        optimizer_D.zero_grad()
        d_loss = -torch.mean(D_gen)
        d_loss.backward()
        optimizer_D.step()
    """
    assert rows("GL013", snippet) == expected



def test_each_branch_starts_from_the_graph_before_the_if():
    # the `else:` branch backpropagates the first forward pass's output (freed by `loss.backward()`), not the
    # `if:` branch's new one (checked on torch 2.13: `RuntimeError: Trying to backward through the graph a
    # second time`); a name rebound on one branch carries both graphs after the `if`
    snippet = """
    import torch
    import torch.nn as nn
    model = nn.Linear(3, 1)
    crit = nn.MSELoss()
    out = model(x)
    loss = crit(out, y)
    loss.backward()
    if flag:
        out = model(x)
    else:
        loss2 = crit(out, y)
        loss2.backward()
    """
    assert rows("GL013", snippet) == [13]
    # look-alike: the same backward after the `if:` branch re-ran the forward pass on every path
    fresh = snippet.replace("    else:\n        loss2 = crit(out, y)\n        loss2.backward()\n",
                            "    else:\n        out = model(x)\n    crit(out, y).backward()\n")
    assert "else:\n        out = model(x)" in fresh and rows("GL013", fresh) == []


# Part of the graph built once before the loop (`out = model(x)`, a backbone's features, a teacher's target
# computed with grad), the loss rebuilt from it every iteration: the second backward raises (torch 2.13:
# `Trying to backward through the graph a second time`). Each shape with its look-alikes.
_BEFORE = """
import torch
import torch.nn as nn
model = nn.Linear(3, 4)
head = nn.Linear(4, 1)
opt = torch.optim.SGD(head.parameters(), lr=0.1)
x = torch.randn(8, 3)
SETUP
for epoch in range(10):
    BODY
    opt.zero_grad()
    BACKWARD
    opt.step()
"""


@pytest.mark.parametrize("setup, body, backward, reported", [
    ("out = model(x)", "loss = head(out).sum()", "loss.backward()", True),
    ("feats = torch.relu(model(x))", "loss = ((head(feats) - 1) ** 2).mean()", "loss.backward()", True),
    ("out = model(x)", "loss = out.sum()", "loss.backward()", True),
    # look-alikes: cut from the graph, computed with grad off, by a frozen model, kept with retain_graph,
    # recomputed in the loop, or a loop that ends after its first iteration
    ("out = model(x).detach()", "loss = head(out).sum()", "loss.backward()", False),
    ("with torch.no_grad():\n    out = model(x)", "loss = head(out).sum()", "loss.backward()", False),
    ("model.requires_grad_(False)\nout = model(x)", "loss = head(out).sum()", "loss.backward()", False),
    ("for p in model.parameters():\n    p.requires_grad = False\nout = model(x)", "loss = head(out).sum()",
     "loss.backward()", False),
    ("out = model(x)", "loss = head(out).sum()", "loss.backward(retain_graph=True)", False),
    ("out = model(x)", "out = model(x)\n    loss = head(out).sum()", "loss.backward()", False),
    ("out = model(x)", "loss = head(out).sum()", "loss.backward()\n    break", False),
    ("out = model(x)", "loss = head(out).sum()", "if epoch == 0:\n        loss.backward()", False),
])
def test_part_of_the_graph_built_before_the_loop(setup, body, backward, reported):
    code = _BEFORE.replace("SETUP", setup).replace("BODY", body).replace("BACKWARD", backward)
    lines = code.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip().startswith("loss.backward("))
    assert rows("GL013", code) == ([line] if reported else [])


_STATEFUL = """
import torch
import torch.nn as nn
class Stateful(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNNKIND(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)
        self.hidden = INIT
    RESET
    def forward(self, x):
        FORWARD
        return self.head(out[:, -1])
model = Stateful()
opt = torch.optim.Adam(model.parameters())
for seq, target in loader:
    LOOP
    opt.zero_grad()
    loss = ((model(seq) - target) ** 2).mean()
    loss.backward()
    opt.step()
"""
_LSTM = {"RNNKIND": "LSTM", "INIT": "(torch.zeros(1, 4, 8), torch.zeros(1, 4, 8))"}
_GRU = {"RNNKIND": "GRU", "INIT": "torch.zeros(1, 4, 8)"}


def _stateful(kind, forward, reset="pass", loop="pass"):
    code = _STATEFUL
    for k, v in {**kind, "FORWARD": forward, "RESET": reset, "LOOP": loop}.items():
        code = code.replace(k, v)
    return code.replace("    pass\n", "")


@pytest.mark.parametrize("kind, forward", [
    (_LSTM, "out, self.hidden = self.rnn(x, self.hidden)"),
    (_GRU, "out, self.hidden = self.rnn(x, self.hidden)"),
])
def test_a_module_keeps_its_recurrent_state_across_training_steps(kind, forward):
    code = _stateful(kind, forward)
    assert rows("GL013", code) == [11]


@pytest.mark.parametrize("kind, forward, reset, loop", [
    # detached before it is kept, or before it is used
    (_GRU, "out, h = self.rnn(x, self.hidden)\n        self.hidden = h.detach()", "pass", "pass"),
    (_LSTM, "out, self.hidden = self.rnn(x, self.hidden)\n        self.hidden = tuple(h.detach() for h in self.hidden)",
     "pass", "pass"),
    # re-initialised for each batch, by a method of the class or from outside
    (_GRU, "out, self.hidden = self.rnn(x, self.hidden)",
     "def reset_state(self):\n        self.hidden = torch.zeros(1, 4, 8)", "model.reset_state()"),
    (_GRU, "out, self.hidden = self.rnn(x, self.hidden)", "pass", "model.hidden = torch.zeros(1, 4, 8)"),
    # the state is not read back
    (_GRU, "out, self.last = self.rnn(x)", "pass", "pass"),
])
def test_a_module_state_that_does_not_carry_a_graph_across_steps_is_silent(kind, forward, reset, loop):
    assert rows("GL013", _stateful(kind, forward, reset, loop)) == []


def test_the_carried_message_names_the_state_read_back_not_the_output():
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        rnn = nn.GRU(3, 8)
        head = nn.Linear(8, 1)
        opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
        hidden = torch.zeros(1, 4, 8)
        for x, y in loader:
            output, hidden = rnn(x, hidden)
            loss = ((head(output) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    """)
    res = lint_source(code, "train.py", Settings(selected=frozenset({"GL013"})))
    (d,) = res.diagnostics
    assert "feeds `hidden`, which" in d.message and "(`hidden = hidden.detach()`" in d.message
