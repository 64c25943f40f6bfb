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


# A helper that computes what it returns with grad mode off in its own body (a `with` block, not a
# decorator): the summary of what it returns (`GradRegions.return_regions`) says so, and its caller's
# backward raises (each verified on torch 2.13: "element 0 of tensors does not require grad").
GL011_HELPER_BODY = {
    "loss_assigned_in_block_then_returned": ("""
        import torch
        import torch.nn.functional as F
        def compute_loss(model, x, y):
            with torch.no_grad():
                logits = model(x)
                loss = F.cross_entropy(logits, y)
            return loss
        x, y = torch.randn(16, 6), torch.randint(0, 2, (16,))
        for step in range(3):
            optimizer.zero_grad()
            loss = compute_loss(model, x, y)
            loss.backward()
            optimizer.step()
    """, [13]),
    "returned_inside_the_block": ("""
        import torch
        def compute_loss(x):
            with torch.no_grad():
                return model(x).pow(2).mean()
        loss = compute_loss(torch.randn(2, 3))
        loss.backward()
    """, [7]),
    "output_in_block_loss_on_data_argument": ("""
        import torch
        import torch.nn.functional as F
        def compute_loss(model, x, y):
            with torch.no_grad():
                out = model(x)
            return F.mse_loss(out, y)
        x, y = torch.randn(4, 3), torch.randn(4, 1)
        loss = compute_loss(model, x, y)
        loss.backward()
    """, [10]),
    "method_with_loader_batches": ("""
        import torch
        class Trainer:
            def loss(self, x, y):
                with torch.no_grad():
                    return self.criterion(self.model(x), y)
            def fit(self, loader):
                for x, y in loader:
                    l = self.loss(x, y)
                    l.backward()
    """, [10]),
    "through_a_second_helper": ("""
        import torch
        import torch.nn.functional as F
        loader = torch.utils.data.DataLoader(dataset, batch_size=4)
        def forward_out(model, x):
            with torch.no_grad():
                return model(x)
        def compute_loss(model, x, y):
            out = forward_out(model, x)
            return F.mse_loss(out, y)
        for x, y in loader:
            loss = compute_loss(model, x, y)
            loss.backward()
    """, [13]),
}

GL011_HELPER_BODY_GOOD = {
    "teacher_target_under_no_grad": """
        import torch
        import torch.nn.functional as F
        def compute_loss(x):
            with torch.no_grad():
                t = teacher(x)
            return F.mse_loss(student(x), t)
        compute_loss(x).backward()
    """,
    "prediction_argument_carries_a_graph": """
        import torch
        import torch.nn.functional as F
        def distill(pred, x):
            with torch.no_grad():
                t = teacher(x)
            return F.mse_loss(pred, t)
        loss = distill(student(x), x)
        loss.backward()
    """,
    "enable_grad_inside": """
        import torch
        def compute_loss(x):
            with torch.no_grad():
                with torch.enable_grad():
                    return student(x).pow(2).mean()
        loss = compute_loss(x)
        loss.backward()
    """,
    "evaluation_only_helper": """
        import torch
        import torch.nn.functional as F
        def evaluate(x, y):
            with torch.no_grad():
                return F.mse_loss(model(x), y)
        val = evaluate(x, y)
        print(val.item())
        loss = F.mse_loss(model(x), y)
        loss.backward()
    """,
    "returned_on_one_path_only": """
        import torch
        def compute_loss(x, train):
            if train:
                return model(x).sum()
            with torch.no_grad():
                return model(x).sum()
        loss = compute_loss(x, True)
        loss.backward()
    """,
    "callable_passed_as_an_argument": """
        import torch
        def run(fn, x):
            return fn(x).sum()
        def features(x):
            with torch.no_grad():
                return x * 2
        net = build()
        loss = run(net, torch.randn(4, 3))
        loss.backward()
    """,
    "unknown_head_on_frozen_features": """
        import torch
        import torch.nn.functional as F
        head = make_head()
        def step(x, y):
            with torch.no_grad():
                feats = backbone(x)
            return F.cross_entropy(head(feats), y)
        loss = step(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
        loss.backward()
    """,
    "argument_of_unknown_origin": """
        import torch
        import torch.nn.functional as F
        def compute_loss(model, x, y):
            with torch.no_grad():
                out = model(x)
            return F.mse_loss(out, y)
        loss = compute_loss(model, x, make_target(x))
        loss.backward()
    """,
}


@pytest.mark.parametrize("name", sorted(GL011_HELPER_BODY))
def test_gl011_helper_computes_its_result_under_no_grad(name):
    code, expected = GL011_HELPER_BODY[name]
    assert rows("GL011", code) == expected


@pytest.mark.parametrize("name", sorted(GL011_HELPER_BODY_GOOD))
def test_gl011_helper_lookalikes_stay_silent(name):
    assert rows("GL011", GL011_HELPER_BODY_GOOD[name]) == []
