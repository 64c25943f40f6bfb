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
