"""GL016 train-mode-not-restored: `eval()` in a training loop that never switches back, and the restoring
look-alikes that stay silent (catalogue GL016)."""

from __future__ import annotations

import pytest

from ._lint import rows

BAD = {
    "helper_parameter_renamed": (
        """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.3), nn.Linear(10, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def validate(m, data):
            m.eval()
            with torch.no_grad():
                return m(data).mean().item()
        for epoch in range(5):
            for i in range(10):
                opt.zero_grad()
                model(torch.randn(4, 10)).pow(2).mean().backward()
                opt.step()
            validate(model, torch.randn(4, 10))
        """, [7]),
    "helper_parameter_by_keyword": (
        """
        import torch
        def check(data, net=None):
            net.eval()
            with torch.no_grad():
                return net(data)
        opt = torch.optim.Adam(model.parameters())
        for epoch in range(5):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            check(x_val, net=model)
        """, [4]),
    "catalogue_module_level": (
        """
        import torch as T
        model = T.nn.Sequential(T.nn.Linear(4, 8), T.nn.Dropout(0.5))
        opt = T.optim.SGD(model.parameters(), lr=0.01)
        model.train()
        for epoch in range(3):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            model.eval()
            with T.no_grad():
                model(x_val)
        """, [10]),
    "fit_function_nested_batches": (
        """
        import torch
        def fit(model, optimizer, train_loader, val_loader, epochs):
            model.train()
            for epoch in range(epochs):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
                model.eval()
                with torch.no_grad():
                    for x, y in val_loader:
                        model(x)
        """, [10]),
    "trainer_method": (
        """
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.Adam(self.model.parameters())
            def fit(self, loader, epochs):
                for epoch in range(epochs):
                    for x, y in loader:
                        self.optimizer.zero_grad()
                        self.model(x).sum().backward()
                        self.optimizer.step()
                    self.model.eval()
                    self.validate()
        """, [13]),
    "validate_helper": (
        """
        import torch
        def validate(model, loader):
            model.eval()
            with torch.no_grad():
                return [model(x) for x in loader]
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(10):
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            validate(model, val_loader)
        """, [4]),
    "eval_every_n_steps_in_batch_loop": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(10):
            model.train()
            for step, (x, y) in enumerate(train_loader):
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
                if step % 100 == 0:
                    model.eval()
                    evaluate(model)
        """, [11]),
    "train_false": (
        """
        import torch
        model.train()
        for epoch in range(3):
            loss = model(x).sum()
            loss.backward()
            opt.step()
            model.train(False)
        """, [8]),
    "while_loop_via_training_helper": (
        """
        import torch
        def train_step(model, batch):
            model(batch).sum().backward()
            opt.step()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        while step < max_steps:
            train_step(net, next(it))
            net.eval()
            step += 1
        """, [9]),
}

GOOD = {
    "helper_parameter_renamed_restored": """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.3), nn.Linear(10, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def validate(m, data):
            m.eval()
            with torch.no_grad():
                return m(data).mean().item()
        for epoch in range(5):
            model.train()
            for i in range(10):
                opt.zero_grad()
                model(torch.randn(4, 10)).pow(2).mean().backward()
                opt.step()
            validate(model, torch.randn(4, 10))
        """,
    "helper_parameter_on_another_model": """
        import torch
        def validate(m, data):
            m.eval()
            with torch.no_grad():
                return m(data)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(5):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            validate(teacher, x)
        """,
    "train_at_loop_top": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            model.eval()
            evaluate(model)
        """),
    "train_after_validation": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for epoch in range(3):
            model(x).sum().backward()
            opt.step()
            model.eval()
            evaluate(model)
            model.train()
        """),
    "train_one_epoch_helper": (
        """
        import torch
        def train_one_epoch(model, loader):
            model.train()
            for x, y in loader:
                model(x).sum().backward()
                opt.step()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            train_one_epoch(model, train_loader)
            model.eval()
            evaluate(model)
        """),
    "evaluate_restores_mode": (
        """
        import torch
        def evaluate(model):
            was_training = model.training
            model.eval()
            with torch.no_grad():
                out = model(x)
            model.train(was_training)
            return out
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for epoch in range(3):
            model(x).sum().backward()
            opt.step()
            evaluate(model)
        """),
    "final_eval_after_loop": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for epoch in range(3):
            model(x).sum().backward()
            opt.step()
        model.eval()
        test(model)
        """),
    "eval_then_break": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for epoch in range(100):
            model(x).sum().backward()
            opt.step()
            if converged():
                model.eval()
                break
        """),
    "model_rebuilt_each_iteration": (
        """
        import torch
        for lr in (0.1, 0.01):
            model = Net()
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            for step in range(100):
                model(x).sum().backward()
                opt.step()
            model.eval()
            scores.append(evaluate(model))
        """),
    "frozen_teacher": (
        """
        import torch
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        student.train()
        for x in loader:
            teacher.eval()
            with torch.no_grad():
                t = teacher(x)
            (student(x) - t).pow(2).mean().backward()
            opt.step()
        """),
    "no_training_in_loop": (
        """
        import torch
        model.train()
        for ckpt in checkpoints:
            model.load_state_dict(torch.load(ckpt))
            model.eval()
            results.append(evaluate(model))
        """),
    "mode_kwarg": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            model.train(mode=True)
            model(x).sum().backward()
            opt.step()
            model.eval()
        """),
    "gan_generator_sampling": (
        """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        for step in range(1000):
            G.train()
            G(z).mean().backward()
            opt_g.step()
            if step % 100 == 0:
                G.eval()
                samples = G(z_fixed)
        """),
}


@pytest.mark.parametrize("name", BAD)
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL016", snippet) == expected


@pytest.mark.parametrize("name", GOOD)
def test_good(name):
    assert rows("GL016", GOOD[name]) == []


def test_test_files_are_silent():
    snippet, _ = BAD["catalogue_module_level"]
    assert rows("GL016", snippet, filename="tests/test_training.py") == []


def test_on_by_default_and_message():
    from gradlint.linter import lint_source
    from gradlint.rules import get_rule
    from gradlint.settings import Settings
    import textwrap

    assert get_rule("GL016").default_enabled is True
    res = lint_source(textwrap.dedent(BAD["catalogue_module_level"][0]), "train.py",
                      Settings(selected=frozenset({"GL016"})))
    (d,) = res.diagnostics
    assert "`model.eval()`" in d.message and "`model.train()`" in d.message
    assert "Dropout off" in d.message


_GRAD_CAM = (
    "import torch\n"
    "for epoch in range(3):\n"
    "    model.train()\n"
    "    for x, y in train_loader:\n"
    "        optimizer.zero_grad()\n"
    "        loss_func(model(x), y).backward()\n"
    "        optimizer.step()\n"
    "    model.eval()\n"
    "    for x, y in test_loader:\n"
    "        model(x)\n"
    "for x, y in test_loader:\n"
    "    output = model(x)\n"
    "    for j in range(20):\n"
    "        model.zero_grad()\n"
    "        output[j, y[j]].backward(retain_graph=True)\n"
    "{update}"
    "    break\n"
)


@pytest.mark.parametrize("update, expected", [
    # GunhoChoi/PyTorch-FastCampus Grad-CAM: backward only to read gradients, in eval mode on purpose
    ("", 0),
    ("        cams.append(hook.gradient)\n", 0),
    # the same loop updating the parameters trains in eval mode
    ("        optimizer.step()\n", 1),
    ("        with torch.no_grad():\n            for p in model.parameters():\n                p -= 0.1 * p.grad\n", 1),
    ("        for p in model.parameters():\n            p.data.add_(p.grad, alpha=-0.1)\n", 1),
])
def test_a_loop_that_runs_backward_without_updating_parameters_is_not_training(update, expected):
    assert len(rows("GL016", _GRAD_CAM.format(update=update))) == expected


@pytest.mark.parametrize("layers, tier", [
    # L1aoXingyu/pytorch-beginner 03-Neural Network: Linear layers only, eval mode changes nothing today
    ("nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)", "hygiene"),
    ("nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2)", "bug"),
])
def test_tier_follows_what_the_model_is_built_from(layers, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = ("import torch\nimport torch.nn as nn\n"
            f"model = nn.Sequential({layers})\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
            "for epoch in range(3):\n"
            "    for x, y in loader:\n"
            "        opt.zero_grad()\n"
            "        loss_fn(model(x), y).backward()\n"
            "        opt.step()\n"
            "    model.eval()\n"
            "    for x, y in test_loader:\n"
            "        model(x)\n")
    res = lint_source(code, "train.py", Settings(selected=frozenset({"GL016"})))
    assert [d.tier for d in res.diagnostics] == [tier]


# A model trained without an optimizer object (old tutorials: `model.zero_grad()`, `loss.backward()`, then a
# loop over `model.parameters()` that subtracts the gradient) is a trained model too: `test()` leaving it in
# eval mode makes every later epoch train with Dropout off.
_MANUAL = (
    "import torch\n"
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.3), nn.Linear(10, 2))\n"
    "ema = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.3), nn.Linear(10, 2))\n"
    "def train(loader):\n"
    "{start}"
    "    for x, y in loader:\n"
    "        loss = F.cross_entropy(model(x), y)\n"
    "        model.zero_grad()\n"
    "        loss.backward()\n"
    "{update}"
    "def test(net, loader):\n"
    "    net.eval()\n"
    "    with torch.no_grad():\n"
    "        return sum((net(x).argmax(1) == y).sum().item() for x, y in loader)\n"
    "for epoch in range(10):\n"
    "    train(train_loader)\n"
    "    test({tested}, test_loader)\n"
)
_SGD_DATA = "        for p in model.parameters():\n            p.data.sub_(0.01 * p.grad.data)\n"
_SGD_NO_GRAD = ("        with torch.no_grad():\n            for name, param in model.named_parameters():\n"
                "                param -= 0.01 * param.grad\n")
_SGD_FIRST = "        for f in model.parameters():\n            f.data -= f.grad.data * 0.01\n"


@pytest.mark.parametrize("start, update, tested, reported", [
    ("", _SGD_DATA, "model", True),
    ("", _SGD_NO_GRAD, "model", True),
    ("", _SGD_FIRST, "model", True),
    # look-alikes: train mode restored at the top of each epoch
    ("    model.train()\n", _SGD_DATA, "model", False),
    # the model put in eval mode is an EMA copy, updated without gradients: never trained
    ("", _SGD_DATA + "        for e, p in zip(ema.parameters(), model.parameters()):\n"
                     "            e.data.mul_(0.99).add_(0.01 * p.data)\n", "ema", False),
    ("", _SGD_DATA + "        for e in ema.parameters():\n            e.data.mul_(0.99)\n", "ema", False),
    # backward only, no update (a saliency loop): not training
    ("", "        saliency.append(x.grad)\n", "model", False),
])
def test_a_model_updated_by_hand_from_its_gradients_is_trained(start, update, tested, reported):
    code = _MANUAL.format(start=start, update=update, tested=tested)
    eval_line = code.splitlines().index("    net.eval()") + 1
    assert rows("GL016", code) == ([eval_line] if reported else [])


# Two models in one training loop (a GAN): a `train()` of one does not restore the other. `D.train()` at the top
# of the epoch and `G.eval()` for the samples leave G training in eval mode from the second epoch on (BatchNorm
# frozen). A switch counts for the object it switches: the same name, an alias, a wrapper, a container holding
# it, or a receiver the file cannot follow (then the rule stays silent).
_GAN_HEAD = (
    "import copy\n"
    "import torch\n"
    "import torch.nn as nn\n"
    "G = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16))\n"
    "D = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.3), nn.Linear(32, 1))\n"
)

TWO_MODELS_BAD = {
    # bug_34: D.train() at the top of the epoch, G.eval() for the samples
    "gan_only_d_train": (
        _GAN_HEAD + """
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
G.train()
for epoch in range(3):
    D.train()
    for real in loader:
        fake = G(torch.randn(32, 8))
        opt_d.zero_grad(); d_loss(D(real), D(fake.detach())).backward(); opt_d.step()
        opt_g.zero_grad(); g_loss(D(fake)).backward(); opt_g.step()
    G.eval()
    with torch.no_grad():
        samples = G(fixed_z)
""", "    G.eval()"),
    # the mirror: G.train() at the top, D put in eval mode after the epoch
    "gan_only_g_train": (
        _GAN_HEAD + """
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
for epoch in range(3):
    G.train()
    for real in loader:
        fake = G(torch.randn(32, 8))
        opt_d.zero_grad(); d_loss(D(real), D(fake.detach())).backward(); opt_d.step()
        opt_g.zero_grad(); g_loss(D(fake)).backward(); opt_g.step()
    D.eval()
    with torch.no_grad():
        scores = D(real)
""", "    D.eval()"),
    # two parameters of the training function
    "gan_function_parameters": (
        _GAN_HEAD + """
def fit(netG, netD, loader, epochs):
    opt_g = torch.optim.Adam(netG.parameters())
    opt_d = torch.optim.Adam(netD.parameters())
    for epoch in range(epochs):
        netD.train()
        for real in loader:
            fake = netG(torch.randn(32, 8))
            opt_d.zero_grad(); d_loss(netD(real), netD(fake.detach())).backward(); opt_d.step()
            opt_g.zero_grad(); g_loss(netD(fake)).backward(); opt_g.step()
        netG.eval()
        save_samples(netG(fixed_z))
""", "        netG.eval()"),
    # a trainer class building both
    "gan_trainer_attributes": (
        _GAN_HEAD + """
class GANTrainer:
    def __init__(self, nz):
        self.G = nn.Sequential(nn.Linear(nz, 16), nn.BatchNorm1d(16))
        self.D = nn.Sequential(nn.Linear(16, 1))
        self.opt_g = torch.optim.Adam(self.G.parameters())
        self.opt_d = torch.optim.Adam(self.D.parameters())
    def fit(self, loader, epochs):
        for epoch in range(epochs):
            self.D.train()
            for real in loader:
                fake = self.G(torch.randn(32, 8))
                self.opt_d.zero_grad(); d_loss(self.D(real), self.D(fake.detach())).backward(); self.opt_d.step()
                self.opt_g.zero_grad(); g_loss(self.D(fake)).backward(); self.opt_g.step()
            self.G.eval()
            self.sample()
""", "            self.G.eval()"),
    # G left in eval mode before the loop, which puts only D in train mode
    "gan_eval_before_the_loop": (
        _GAN_HEAD + """
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
G.eval()
with torch.no_grad():
    baseline = G(fixed_z)
for epoch in range(3):
    D.train()
    for real in loader:
        fake = G(torch.randn(32, 8))
        opt_d.zero_grad(); d_loss(D(real), D(fake.detach())).backward(); opt_d.step()
        opt_g.zero_grad(); g_loss(D(fake)).backward(); opt_g.step()
""", "G.eval()"),
}

_TWO_MODELS_LOOP = """
opt = torch.optim.Adam(model.parameters())
for epoch in range(3):
    {train}
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    {evaluated}.eval()
    with torch.no_grad():
        val = {evaluated}(x_val)
"""

TWO_MODELS_GOOD = {
    # the same name, switched back at the top of the loop
    "same_name": "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())\n"
                 + _TWO_MODELS_LOOP.format(train="model.train()", evaluated="model"),
    # an alias of the model
    "alias": "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())\nnet = model\n"
             + _TWO_MODELS_LOOP.format(train="net.train()", evaluated="model"),
    # a wrapper runs the module it is given: its train() switches the model
    "data_parallel_wrapper": "net = nn.Sequential(nn.Linear(4, 4), nn.Dropout())\nmodel = nn.DataParallel(net)\n"
                             + _TWO_MODELS_LOOP.format(train="model.train()", evaluated="net").replace(
                                 "model.parameters()", "net.parameters()"),
    # a container holding the model it switches
    "container": "backbone = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\n"
                 "model = nn.Sequential(backbone, nn.Linear(4, 2))\n"
                 + _TWO_MODELS_LOOP.format(train="model.train()", evaluated="backbone").replace(
                     "model.parameters()", "backbone.parameters()"),
    # a model given to a class of another library (it may hold it)
    "wrapped_by_an_unknown_class": "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())\nwrapped = Wrapper(model)\n"
                                   + _TWO_MODELS_LOOP.format(train="wrapped.train()", evaluated="model"),
    # a receiver the file cannot follow: an attribute of another object, a name bound by a loop
    "attribute_of_another_object": "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())\n"
                                   + _TWO_MODELS_LOOP.format(train="trainer.model.train()", evaluated="model"),
    "imported_model": "from nets import model, other\n"
                      + _TWO_MODELS_LOOP.format(train="other.train()", evaluated="model"),
}


@pytest.mark.parametrize("name", TWO_MODELS_BAD)
def test_train_of_another_model_does_not_restore(name):
    code, line = TWO_MODELS_BAD[name]
    assert rows("GL016", code) == [code.splitlines().index(line) + 1]


@pytest.mark.parametrize("name", TWO_MODELS_GOOD)
def test_train_of_the_same_model_restores(name):
    code = "import torch\nimport torch.nn as nn\n" + TWO_MODELS_GOOD[name]
    assert rows("GL016", code) == []


def test_two_parameters_passed_the_same_model_are_the_same_model():
    code = _GAN_HEAD + """
def fit(netG, netD, loader):
    opt = torch.optim.Adam(netG.parameters())
    for epoch in range(3):
        netD.train()
        for real in loader:
            opt.zero_grad(); netG(real).sum().backward(); opt.step()
        netG.eval()
fit(G, G, loader)
"""
    assert rows("GL016", code) == []
    assert rows("GL016", code.replace("fit(G, G, loader)", "fit(G, D, loader)")) == [
        code.splitlines().index("        netG.eval()") + 1]


def test_eval_before_the_loop_then_train_of_another_model():
    """`G.eval()` for a baseline sample, then `D.train()` right before the loop: the last switch before the
    loop is of D, the last one of G leaves it in eval mode."""
    code = _GAN_HEAD + """
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
G.eval()
baseline = G(fixed_z)
D.train()
for epoch in range(3):
    for real in loader:
        fake = G(torch.randn(32, 8))
        opt_d.zero_grad(); d_loss(D(real), D(fake.detach())).backward(); opt_d.step()
        opt_g.zero_grad(); g_loss(D(fake)).backward(); opt_g.step()
"""
    assert rows("GL016", code) == [code.splitlines().index("G.eval()") + 1]
    assert rows("GL016", code.replace("D.train()", "G.train()")) == []
    assert rows("GL016", code.replace("D.train()", "D.train()\nnet = G\nnet.train()")) == []
    # a notebook cell that builds G again: the new G is in train mode
    assert rows("GL016", code.replace("D.train()", "G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16))\n"
                                                   "D.train()")) == []
