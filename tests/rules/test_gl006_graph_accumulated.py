"""GL006 graph-accumulated: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows

BAD = {
    # an unknown function's result that the loop backpropagates carries a graph (or `backward()` raises)
    "unknown_function_result_backpropagated": (
        """
        import torch
        total = 0
        for x, y in loader:
            l = compute(model, x, y)
            l.backward()
            total += l
        """, [7]),
    # the logging `continue` skips the reset: what the loop head gets back is the accumulated graph (the loop
    # joins at `continue` too), as with `if i % 100 == 99: ...; running = 0`
    "reset_skipped_by_continue": (
        """
        import torch
        running = 0
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y)
            loss.backward()
            running += loss
            if i % 100 != 99:
                continue
            print(running / 100)
            running = 0
        """, [7]),
    "faq_plus_equals_after_backward": (
        """
        import torch
        total_loss = 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total_loss += loss
        """, [9]),
    "alias_torch_and_functional_loss": (
        """
        import torch as T
        import torch.nn.functional as F
        running = 0.0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            running = running + loss
        """, [8]),
    "from_import_loss_module": (
        """
        from torch import nn
        crit = nn.MSELoss()
        losses = []
        for x, y in val_loader:
            losses.append(crit(model(x), y))
        """, [6]),
    "method_in_class_self_model": (
        """
        import torch
        class Trainer:
            def train_epoch(self, loader):
                epoch_loss = 0
                for batch in loader:
                    self.optimizer.zero_grad()
                    out = self.model(batch)
                    loss = self.loss_fn(out, batch)
                    loss.backward()
                    self.optimizer.step()
                    epoch_loss += loss
                return epoch_loss / len(loader)
        """, [12]),
    "nested_function": (
        """
        import torch
        def main():
            def run(loader):
                history = []
                for x in loader:
                    history.append(model(x).mean())
                print(history)
            run(data)
        """, [7]),
    "reset_per_epoch_accumulates_over_batches": (
        """
        import torch
        for epoch in range(10):
            total = 0
            for x, y in loader:
                loss = criterion(net(x), y)
                loss.backward()
                opt.step()
                total += loss
            print(total / len(loader))
        """, [9]),
    "periodic_reset_still_accumulates": (
        """
        import torch
        running_loss = 0.0
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss
            if i % 100 == 99:
                print(running_loss / 100)
                running_loss = 0.0
        """, [8]),
    "dict_of_metrics": (
        """
        import torch
        stats = {"loss": 0.0}
        while True:
            out = model(next(it))
            loss = out.pow(2).mean()
            loss.backward()
            stats["loss"] += loss
        """, [8]),
    "cat_outputs_in_eval_function": (
        """
        import torch
        def evaluate(model, loader):
            preds = torch.zeros(0)
            for x in loader:
                preds = torch.cat([preds, model(x)])
            return preds
        """, [6]),
    "attribute_accumulator_with_backward": (
        """
        import torch
        class Loop:
            def fit(self, loader):
                for x, y in loader:
                    loss = criterion(self.model(x), y)
                    loss.backward()
                    self.losses.append(loss)
        """, [8]),
    "loss_scaled_by_batch_size": (
        """
        import torch
        total = 0
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            total += loss * x.size(0)
        """, [7]),
}

GOOD = {
    # re-created on every path before the accumulation (both branches of the `if`)
    "re_created_in_both_branches": """
        import torch
        for x, y in loader:
            if x is None:
                total = 0
            else:
                total = 0.0
            loss = criterion(model(x), y)
            loss.backward()
            total += loss
        """,
    # reset after it on every path: what one iteration accumulates never reaches the next
    "reset_at_the_end_of_every_iteration": """
        import torch
        total = 0
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            total += loss
            print(total)
            total = 0
        """,
    "item": "import torch\ntotal = 0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss.item()\n",
    "detach": "import torch\nlosses = []\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    losses.append(loss.detach())\n",
    "float_and_cpu_item": (
        "import torch\nt = 0.0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n"
        "    t += float(loss)\n    t += loss.cpu().item()\n"),
    "no_grad_block": "import torch\nwith torch.no_grad():\n    total = 0\n    for x, y in loader:\n        total += criterion(model(x), y)\n",
    "no_grad_decorator": (
        "import torch\n@torch.no_grad()\ndef evaluate(model, loader):\n    losses = []\n    for x, y in loader:\n"
        "        losses.append(criterion(model(x), y))\n    return losses\n"),
    "inference_mode_alias": (
        "import torch as T\nwith T.inference_mode():\n    outs = []\n    for x in loader:\n        outs.append(model(x))\n"),
    "called_only_under_no_grad": (
        "import torch\ndef collect(loader):\n    outs = []\n    for x in loader:\n        outs.append(model(x))\n"
        "    print(outs)\nwith torch.no_grad():\n    collect(val_loader)\n"),
    "set_grad_enabled_flag": (
        "import torch\nfor phase in ['train', 'val']:\n    running = 0\n    for x, y in loaders[phase]:\n"
        "        with torch.set_grad_enabled(phase == 'train'):\n            loss = criterion(model(x), y)\n"
        "        running += loss\n"),
    "sum_then_backward": "import torch\ntotal = 0\nfor chunk in chunks:\n    total = total + model(chunk).pow(2).mean()\ntotal.backward()\n",
    "multi_task_in_step": (
        "import torch\nfor x, y in loader:\n    opt.zero_grad()\n    loss = 0\n    for head in heads:\n"
        "        loss += criterion(head(model(x)), y)\n    loss.backward()\n    opt.step()\n"),
    "stack_then_backward": (
        "import torch\nlosses = []\nfor x, y in micro_batches:\n    losses.append(criterion(model(x), y))\n"
        "torch.stack(losses).mean().backward()\n"),
    "derived_backward_via_scaler": (
        "import torch\nacc = 0\nfor x in chunks:\n    acc += model(x).sum()\nloss = acc / len(chunks)\n"
        "scaler.scale(loss).backward()\n"),
    "accelerator_backward": (
        "import torch\nacc = 0\nfor x in chunks:\n    acc = acc + model(x).sum()\naccelerator.backward(acc)\n"),
    "list_cleared_each_iteration": (
        "import torch\nbuf = []\nfor x in loader:\n    buf.append(model(x))\n    out = torch.cat(buf)\n    buf.clear()\n"),
    "list_recreated_each_iteration": "import torch\nfor x in loader:\n    outs = []\n    outs.append(model(x))\n",
    "helper_returns_sum_of_losses": (
        "import torch\ndef total_loss(outputs, targets):\n    total = 0\n    for o, t in zip(outputs, targets):\n"
        "        total += criterion(o, t)\n    return total\n"),
    "regularizer_helper": (
        "import torch\ndef l2(model):\n    reg = 0\n    for p in model.parameters():\n        reg = reg + p.pow(2).sum()\n"
        "    return reg\n"),
    "model_forward_collects_features": (
        "import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def forward(self, x):\n        feats = []\n"
        "        for layer in self.layers:\n            x = layer(x)\n            feats.append(x)\n        return feats\n"),
    "grad_norm_accumulation": (
        "import torch\ntotal_norm = 0\nfor p in model.parameters():\n    total_norm += p.grad.norm() ** 2\n"),
    # an unknown function's result without a backward: not known to carry a graph
    "unknown_function_result_not_backpropagated": (
        "import torch\ntotal = 0\nfor x, y in loader:\n    l = compute(model, x, y)\n    total += l\n"),
    "attribute_accumulator_without_backward": (
        "import torch\nclass M:\n    def step(self, x):\n        for t in x:\n            self.buf.append(model(t))\n"),
    "int_metric": (
        "import torch\ncorrect = 0\nfor x, y in loader:\n    out = model(x)\n    out.sum().backward()\n"
        "    correct += (out.argmax(1) == y).sum()\n"),
    "item_metric_dict": (
        "import torch\nhist = {'loss': []}\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n"
        "    hist['loss'].append(loss.item())\n"),
    "model_forward_feature_list_used_later": (
        "import torch\nimport torch.nn as nn\nclass Detr(nn.Module):\n    def forward(self, sources):\n        pos_list = []\n"
        "        for lvl, src in enumerate(sources):\n            pos_list.append(self.position_embedding(src))\n"
        "        out = self.encoder(sources, pos_list)\n        return out\n"),
    "non_data_loop_in_script": "import torch\nouts = []\nfor t in range(10):\n    outs.append(model(x))\nuse(outs)\n",
    "no_torch_import": "total = 0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL006", snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good(name):
    assert rows("GL006", GOOD[name]) == []


def test_test_files_are_silent():
    assert rows("GL006", BAD["faq_plus_equals_after_backward"][0], filename="tests/test_train.py") == []


def _diag(snippet: str):
    res = lint_source(textwrap.dedent(snippet), "train.py", Settings(selected=frozenset({"GL006"})))
    assert res.error is None and len(res.diagnostics) == 1
    return res.diagnostics[0]


def test_message_says_which_leak():
    skeleton = _diag(BAD["faq_plus_equals_after_backward"][0]).message
    assert "`total_loss += loss`" in skeleton and "frees the saved activations but not the graph" in skeleton
    activations = _diag(BAD["from_import_loss_module"][0]).message
    assert "nothing in the loop calls `backward()`" in activations and "torch.no_grad()" in activations
    retained = _diag(
        "import torch\nt = 0\nfor x in xs:\n    l = model(x).sum()\n    l.backward(retain_graph=True)\n    t += l\n"
    ).message
    assert "retain_graph=True" in retained


def test_fixes():
    number = _diag(BAD["faq_plus_equals_after_backward"][0])
    assert number.fix is not None and "loss.item()" in number.fix.message
    lst = _diag(BAD["from_import_loss_module"][0])
    assert lst.fix is not None and ".detach()" in lst.fix.message
    scaled = _diag(BAD["loss_scaled_by_batch_size"][0])
    assert scaled.fix is not None and "(loss * x.size(0)).item()" in scaled.fix.edits[0].content


def test_message_for_a_handful_of_iterations():
    """A loop of 3 iterations holds 3 graphs: no claim that memory keeps growing."""
    few = _diag("import torch\ntotal = 0\nfor i in range(3):\n    loss = criterion(model(x), y)\n"
                "    loss.backward()\n    total += loss\n").message
    assert "the loop runs 3 times" in few and "not a growing leak" in few and "grows a little" not in few
    never = _diag("import torch\ndef evaluate(model):\n    outs = []\n    for k in [0, 1]:\n"
                  "        outs.append(criterion(model(x[k]), y))\n    return outs\n").message
    assert "never backpropagated" in never and "2 forward passes stay alive" in never
    assert "grows" not in never
    # the accumulator re-created every epoch lives across the 3 inner iterations only
    inner = _diag("import torch\nfor epoch in range(100):\n    total = 0\n    for i in range(3):\n"
                  "        loss = criterion(model(x), y)\n        loss.backward()\n        total += loss\n").message
    assert "the loop runs 3 times" in inner
    # over a loader (or a large range) the leak grows
    grows = _diag("import torch\ntotal = 0\nfor i in range(1000):\n    loss = criterion(model(x), y)\n"
                  "    loss.backward()\n    total += loss\n").message
    assert "grows a little with every iteration" in grows
    unbounded = _diag(BAD["from_import_loss_module"][0]).message
    assert "never backpropagated" in unbounded and "every iteration's saved activations" in unbounded


_CLUSTERGAN = """
import torch
n_c = 10
for epoch in range(n_epochs):
    for i, (imgs, itruth_label) in enumerate(dataloader):
        train_step(imgs)
    generator.eval()
    stack_imgs = []
    for idx in range(BOUND):
        gen_imgs_samp = generator(sample_z(idx))
        if len(stack_imgs) == 0:
            stack_imgs = gen_imgs_samp
        else:
            stack_imgs = torch.cat((stack_imgs, gen_imgs_samp), 0)
    save_image(stack_imgs, 'images/gen_classes_%06i.png' % epoch)
"""


@pytest.mark.parametrize("bound, tier", [
    # eriklindernoren's cluster_gan: re-created every epoch, filled n_c = 10 times: held until the next epoch
    ("n_c", "hygiene"),
    ("10", "hygiene"),
    # look-alikes: an unknown or large bound grows with the data; a list kept across the epochs keeps them all
    ("n_samples", "bug"),
    ("1000", "bug"),
])
def test_bounded_accumulator_re_created_every_outer_iteration_is_hygiene(bound, tier):
    assert _diag(_CLUSTERGAN.replace("BOUND", bound)).tier == tier


def test_bounded_accumulator_kept_across_the_outer_loop_stays_bug():
    code = _CLUSTERGAN.replace("BOUND", "n_c").replace("    stack_imgs = []\n", "").replace(
        "import torch\n", "import torch\nstack_imgs = []\n")
    assert _diag(code).tier == "bug"


def test_module_constant_rebound_is_not_a_bound():
    code = _CLUSTERGAN.replace("BOUND", "n_c").replace("n_c = 10\n", "n_c = 10\nn_c = int(sys.argv[1])\n")
    assert _diag(code).tier == "bug"


# A running average of the loss (`running = 0.9 * running + 0.1 * loss`) chains every iteration's graph like
# `+=` does; a loss returned by a helper of the file (`loss = compute(batch)`) carries the graph the helper
# built. Each shape with its look-alike that stays silent.
_LOOP = """
import torch
import torch.nn as nn
model = nn.Linear(10, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.MSELoss()
HELPER
losses, running = [], 0.0
for x, y in loader:
    loss = LOSS
    opt.zero_grad()
    loss.backward()
    opt.step()
    ACC
"""


@pytest.mark.parametrize("helper, loss, acc, reported", [
    ("", "criterion(model(x), y)", "running = 0.9 * running + 0.1 * loss", True),
    ("", "criterion(model(x), y)", "running = running * 0.98 + loss * 0.02", True),
    ("beta = 0.9", "criterion(model(x), y)", "running = beta * running + (1 - beta) * loss", True),
    ("", "criterion(model(x), y)", "running = 0.9 * running + 0.1 * loss.item()", False),
    ("", "criterion(model(x), y)", "running = 0.9 * running + 0.1 * acc", False),
    ("def compute(x, y):\n    out = model(x)\n    return criterion(out, y)", "compute(x, y)", "losses.append(loss)", True),
    ("def compute(x, y):\n    return ((model(x) - y) ** 2).mean()", "compute(x, y)", "running += loss", True),
    ("def compute(x, y):\n    return ((model(x) - y) ** 2).mean()", "compute(x, y)", "losses.append(loss.item())", False),
    # the helper's result carries no graph: `.item()`, or computed with grad mode off
    ("def compute(x, y):\n    return criterion(model(x), y).item()", "torch.tensor(compute(x, y))",
     "losses.append(compute(x, y))", False),
    ("@torch.no_grad()\ndef compute(x, y):\n    return criterion(model(x), y)", "criterion(model(x), y)",
     "losses.append(compute(x, y))", False),
    ("def compute(x, y):\n    with torch.no_grad():\n        return criterion(model(x), y)", "criterion(model(x), y)",
     "running += compute(x, y)", False),
])
def test_running_average_and_a_loss_returned_by_a_helper(helper, loss, acc, reported):
    code = _LOOP.replace("HELPER", helper).replace("LOSS", loss).replace("ACC", acc)
    line = code.splitlines().index("    " + acc) + 1
    assert rows("GL006", code) == ([line] if reported else [])


def test_a_helper_returning_a_tuple_marks_only_all_graph_tuples():
    # udacity char-rnn `sample()`: `predict` returns (a character, the hidden state); the character is a str
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        rnn = nn.LSTM(8, 8)
        def predict(x, h):
            out, h = rnn(x, h)
            return names[int(out.argmax())], h
        def step(x, h):
            out, h = rnn(x, h)
            return out, h
        chars, outs = [], []
        for x in test_loader:
            char, h = predict(x, h)
            chars.append(char)
        for x in test_loader:
            out, h = step(x, h)
            outs.append(out)
    """)
    assert rows("GL006", code) == [17]


@pytest.mark.parametrize("ret, reported", [
    ("loss", True),
    # look-alikes: the method returns a number, or a detached tensor
    ("loss.item()", False),
    ("loss.detach()", False),
])
def test_a_loss_returned_by_a_training_method_of_a_class_of_the_file(ret, reported):
    code = textwrap.dedent(f"""
        import torch
        import torch.nn as nn
        class Agent:
            def __init__(self):
                self.net = nn.Linear(4, 2)
                self.opt = torch.optim.Adam(self.net.parameters())
            def update(self, x, target):
                loss = ((self.net(x) - target) ** 2).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                return {ret}
        agent = Agent()
        history = []
        for i in range(100):
            l = agent.update(torch.randn(3, 4), torch.randn(3, 2))
            history.append(l)
    """)
    assert rows("GL006", code) == ([18] if reported else [])


_STEP = """
import torch
import torch.nn as nn
import torch.nn.functional as F
HEAD
class Trainer:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1)
        self.losses = []
        self.total = 0.0
    def train_step(self, x, y):
        self.opt.zero_grad()
        BODY
        self.opt.step()
    def fit(self, loader):
        for x, y in loader:
            self.train_step(x, y)
"""


@pytest.mark.parametrize("body, line", [
    # the loss of each step, backpropagated, then kept by the object (the training loop is in the caller)
    ("loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.losses.append(loss)", 16),
    ("loss = F.mse_loss(self.model(x), y)\n        self.losses.append(loss)\n        loss.backward()", 15),
    ("loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.total += loss", 16),
    # the output kept: part of the graph the backward freed
    ("out = self.model(x)\n        loss = F.mse_loss(out, y)\n        loss.backward()\n        self.outputs.append(out)",
     17),
    # a global history, or a list the caller passes
    ("loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        HISTORY.append(loss)", 16),
])
def test_a_training_step_keeps_its_loss_in_what_outlives_the_call(body, line):
    code = _STEP.replace("HEAD", "HISTORY = []").replace("BODY", body)
    assert rows("GL006", code) == [line]


@pytest.mark.parametrize("body", [
    "loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.losses.append(loss.item())",
    "loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.total += loss.detach()",
    # re-created by the step itself: it lives for one call
    "self.losses = []\n        loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.losses.append(loss)",
    # kept with a graph that is not backpropagated here: another method's backward (REINFORCE's saved log-probs)
    "out = self.model(x)\n        self.saved.append(out)",
    # backpropagated with the graph kept on purpose
    "loss = F.mse_loss(self.model(x), y)\n        loss.backward(retain_graph=True)\n        self.losses.append(loss)",
    # a local list of the step
    "parts = []\n        loss = F.mse_loss(self.model(x), y)\n        parts.append(loss)\n        loss.backward()",
    # under no_grad: no graph
    "loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        with torch.no_grad():\n"
    "            self.losses.append(F.mse_loss(self.model(x), y))",
])
def test_a_training_step_that_keeps_no_graph_beyond_the_call_is_silent(body):
    code = _STEP.replace("HEAD", "").replace("BODY", body)
    assert rows("GL006", code) == []


def test_a_training_function_with_a_global_history_and_its_fix():
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        history = []
        def train_step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            history.append(loss)
        for epoch in range(3):
            train_step(torch.randn(8, 4), torch.randn(8, 1))
    """)
    assert rows("GL006", code) == [12]
    d = _diag(code)
    assert "outlives each call of `train_step()`" in d.message and "`loss.detach()`" in d.message
    assert d.fix is not None and d.fix.edits[0].content == "loss.detach()"
    # a number accumulated in an attribute set in `__init__`: `.item()`
    total = _diag(_STEP.replace("HEAD", "").replace(
        "BODY", "loss = F.mse_loss(self.model(x), y)\n        loss.backward()\n        self.total += loss"))
    assert total.fix is not None and total.fix.edits[0].content == "loss.item()"


def test_the_message_parenthesises_a_computed_piece():
    """char-RNN's `smooth_loss = smooth_loss * 0.999 + loss * 0.001`: the advice is valid Python."""
    d = _diag(_LOOP.replace("HELPER", "").replace("LOSS", "criterion(model(x), y)").replace(
        "ACC", "running = running * 0.999 + loss * 0.001"))
    assert "`(loss * 0.001).detach()`" in d.message
    assert d.fix is not None and d.fix.edits[0].content == "(loss * 0.001).detach()"


@pytest.mark.parametrize("helper_body, reported", [
    # a helper of the file named like a loss function, whose model is its parameter
    ("x, y = batch\n    return F.cross_entropy(model(x), y)", True),
    ("x, y = batch\n    logits = model(x)\n    return F.cross_entropy(logits, y)", True),
    # look-alikes: it returns a number, or computes without a graph
    ("x, y = batch\n    return F.cross_entropy(model(x), y).item()", False),
    ("x, y = batch\n    with torch.no_grad():\n        return F.cross_entropy(model(x), y)", False),
])
def test_an_evaluation_loop_sums_what_a_loss_helper_of_the_file_returns(helper_body, reported):
    code = (
        "import torch\nimport torch.nn.functional as F\n"
        "def compute_loss(model, batch):\n"
        f"    {helper_body}\n"
        "def evaluate(model, val_loader):\n"
        "    model.eval()\n"
        "    val_loss = 0\n"
        "    for batch in val_loader:\n"
        "        val_loss += compute_loss(model, batch)\n"
        "    return val_loss / len(val_loader)\n"
    )
    line = code.splitlines().index("        val_loss += compute_loss(model, batch)") + 1
    assert rows("GL006", code) == ([line] if reported else [])
