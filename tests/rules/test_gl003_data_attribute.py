"""GL003 data-attribute: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import pytest

from ._lint import rows

GL003_BAD = {
    "param_loop_write": ("import torch\nfor p in model.parameters():\n    p.data.add_(p.grad, alpha=-0.1)\n", [3]),
    "leaf_augassign": ("import torch\nx = torch.ones(1, requires_grad=True)\ny = x * x\nx.data *= 100\n", [4]),
    "grad_data": ("import torch\nfor p in model.parameters():\n    p.grad.data.zero_()\n", [3]),
    "module_weight_init": ("import torch.nn as nn\nclass N(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n        self.fc.weight.data.normal_(0, 0.02)\n", [6]),
    "modules_loop": ("import torch.nn as nn\nfor m in net.modules():\n    if isinstance(m, nn.Linear):\n        m.weight.data.fill_(0.0)\n", [4]),
    "model_output_read": ("import torch\nout = model(x)\n_, pred = torch.max(out.data, 1)\n", [3]),
    "self_update": ("import torch\nw = torch.ones(2, requires_grad=True)\nw.data = w.data - 0.1 * w.grad.data\n", [3]),
    "setitem": ("import torch\nw = torch.ones(3, requires_grad=True)\nw.data[0] = 0\n", [3]),
}

GL003_GOOD = {
    "torch_utils_data": "import torch\nfrom torch.utils.data import DataLoader\nimport torch.utils.data\nds = torch.utils.data.TensorDataset(x)\n",
    "from_torch_utils_import_data": "import torch\nfrom torch.utils import data\nloader = data.DataLoader(ds)\n",
    "dataset_data": "import torch\nimages = train_set.data\n",
    "packed_sequence": "import torch\nfrom torch.nn.utils.rnn import pack_padded_sequence\npacked = pack_padded_sequence(x, lengths)\nprint(packed.data.shape)\n",
    "batch_encoding": "import torch\nenc = tokenizer(texts)\nids = enc.data['input_ids']\n",
    "numpy_data": "import numpy as np\nimport torch\na = np.zeros(3)\nbuf = a.data\n",
    "user_object": "import torch\nclass Rec:\n    def __init__(self):\n        self.data = [1, 2]\nprint(self.data)\n",
    "whole_assignment": "import torch\nimport torch.nn as nn\np = nn.Parameter(torch.randn(3))\np.data = torch.randn(5)\n",
    "detach": "import torch\nout = model(x)\npred = out.detach().argmax(1)\n",
    "no_grad_update": "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p.add_(p.grad, alpha=-0.1)\n",
}


@pytest.mark.parametrize("name", sorted(GL003_BAD))
def test_gl003_true_positives(name):
    code, expected = GL003_BAD[name]
    assert rows("GL003", code) == expected


@pytest.mark.parametrize("name", sorted(GL003_GOOD))
def test_gl003_lookalikes_stay_silent(name):
    assert rows("GL003", GL003_GOOD[name]) == []


# ---------------------------------------------------------------- writes through `.data` between a forward and its backward
# A bug (tier escalated) only when the model proves that the graph the backward runs through saved the written
# tensor before the write; each shape below was checked on torch 2.13 (gradients with and without the write):
# `x * x`, `x ** 2`, `c / x`, a result of `sigmoid`/`tanh`/`exp`/`softmax`, a weight of a layer after the first
# one change; `c * x` with a plain `c` (x not saved), a bias, the first layer's weight fed a plain input, `relu`'s
# result (only its sign is read) do not.

import textwrap  # noqa: E402

from gradlint.linter import lint_source  # noqa: E402
from gradlint.settings import Settings  # noqa: E402


def tiers(snippet: str) -> list[tuple[int, str]]:
    res = lint_source(textwrap.dedent(snippet), "train.py", Settings(selected=frozenset({"GL003"})))
    assert res.error is None, res.error
    return [(d.location.row, d.tier) for d in res.diagnostics]


NET = """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 1)
    def forward(self, x):
        return self.fc(self.act(self.conv(x)))
model = Net()
"""

WRITE_BUG = {
    "last_layer_weight_between": (NET + """
out = model(x)
loss = crit(out, y)
model.fc.weight.data.mul_(0.5)
loss.backward()
""", 16),
    "leaf_squared": ("""
import torch
x = torch.ones(1, requires_grad=True)
y = x * x
x.data *= 100
y.backward()
""", 5),
    "clamp_saved_by_pow": ("""
import torch
w = torch.randn(3, requires_grad=True)
for i in range(3):
    out = (w ** 2).sum()
    w.data.clamp_(-1, 1)
    out.backward()
""", 6),
    "param_loop_clip_before_backward": ("""
import torch
import torch.nn as nn
D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
for real in loader:
    out = D(real)
    for p in D.parameters():
        p.data.clamp_(-0.01, 0.01)
    out.mean().backward()
""", 8),
    "sigmoid_result_masked": ("""
import torch
logits = torch.randn(3, requires_grad=True)
gate = torch.sigmoid(logits)
gate.data.mul_(mask)
(gate * values).sum().backward()
""", 5),
    # the first layer's weight is saved too when the input requires grad (here: the generator's output)
    "first_layer_with_grad_input": (NET + """
G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
score = model(G(z))
model.conv.weight.data.mul_(0.5)
score.mean().backward()
""", 16),
}

WRITE_HYGIENE = {
    # WGAN weight clipping after the step: the common correct idiom (hygiene: `torch.no_grad()` is safer)
    "wgan_clip_after_step": ("""
import torch
for epoch in range(5):
    for i, real in enumerate(loader):
        optimizer_D.zero_grad()
        loss_D = -torch.mean(D(real)) + torch.mean(D(G(z).detach()))
        loss_D.backward()
        optimizer_D.step()
        for p in D.parameters():
            p.data.clamp_(-0.01, 0.01)
        if i % 5 == 0:
            optimizer_G.zero_grad()
            loss_G = -torch.mean(D(G(z)))
            loss_G.backward()
            optimizer_G.step()
""", 10),
    "write_after_backward": ("""
import torch
out = model(x)
loss = crit(out, y)
loss.backward()
model.fc.weight.data.mul_(0.5)
""", 6),
    "first_layer_plain_input": (NET + """
out = model(x)
loss = crit(out, y)
model.conv.weight.data.mul_(0.5)
loss.backward()
""", 16),
    "bias_between": ("""
import torch
import torch.nn as nn
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
out = model(x)
model.bias.data.zero_()
out.sum().backward()
""", 6),
    "plain_times_leaf": ("""
import torch
x = torch.ones(2, requires_grad=True)
c = torch.full((2,), 3.0)
y = c * x
x.data *= 100
y.sum().backward()
""", 6),
    "sum_saves_nothing": ("""
import torch
x = torch.ones(1, requires_grad=True)
y = x + 1
x.data *= 100
y.backward()
""", 5),
    "imported_model_may_be_one_layer": ("""
import torch
from models import Net
model = Net()
out = model(x)
model.fc.weight.data.mul_(0.5)
crit(out, y).backward()
""", 6),
    "write_in_other_branch": ("""
import torch
x = torch.ones(1, requires_grad=True)
y = x * x
if fix:
    x.data *= 100
else:
    y.backward()
""", 6),
    "manual_sgd": ("""
import torch
w = torch.randn(3, requires_grad=True)
for x in data:
    loss = (w * x).sum()
    loss.backward()
    w.data -= 0.1 * w.grad.data
    w.grad.data.zero_()
""", 7),
}


@pytest.mark.parametrize("name", sorted(WRITE_BUG))
def test_write_between_forward_and_backward_is_a_bug(name):
    snippet, row = WRITE_BUG[name]
    assert (row, "bug") in tiers(snippet)


@pytest.mark.parametrize("name", sorted(WRITE_HYGIENE))
def test_write_look_alikes_stay_hygiene(name):
    snippet, row = WRITE_HYGIENE[name]
    found = tiers(snippet)
    assert (row, "hygiene") in found and all(t == "hygiene" for _, t in found)


def test_write_between_message():
    res = lint_source(textwrap.dedent(WRITE_BUG["last_layer_weight_between"][0]), "train.py",
                      Settings(selected=frozenset({"GL003"})))
    msg = res.diagnostics[0].message
    assert "`model(...)` saved `model.fc.weight` for `loss.backward()`" in msg and "silently wrong" in msg


@pytest.mark.parametrize("body, tier", [
    ("        return x + self.pos.data\n", "bug"),  # the only use: pos never trains
    ("        w = self.weight.data\n        return x * w\n", "bug"),
    # the parameter is also used directly: it gets its gradient there (transformers' ibert quantisers)
    ("        scale = self.weight.data.abs().max()\n        return x * self.weight / scale\n", "hygiene"),
    # `.data.detach()`: cut on purpose
    ("        scale = self.pos.data.detach().abs().max()\n        return x / scale\n", "hygiene"),
])
def test_graph_cut_tier_needs_the_read_to_be_the_only_use(body, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = ("import torch\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.weight = nn.Parameter(torch.randn(3))\n"
            "        self.pos = nn.Parameter(torch.randn(3))\n    def forward(self, x):\n" + body)
    (d,) = lint_source(code, "t.py", Settings(selected=frozenset({"GL003"}))).diagnostics
    assert d.tier == tier


@pytest.mark.parametrize("body, tier", [
    # transformers' udop bucket expansion: the old table copied into a new embedding's storage (surgery)
    ("        new = nn.Embedding(5, 3)\n        new.weight.data[:3] = self.emb.weight.data\n"
     "        self.emb = new\n        return x\n", "hygiene"),
    ("        new = nn.Embedding(5, 3)\n        new.weight.data.copy_(self.emb.weight.data.clone())\n"
     "        self.emb = new\n        return x\n", "hygiene"),
    # look-alikes: the read flows on into the computation (a cut), or into a tracked copy_
    ("        t = torch.zeros(5, 3)\n        t[:3] = self.emb.weight.data\n        return x + t.sum()\n", "bug"),
    ("        t = torch.zeros(3, 3)\n        t.copy_(self.emb.weight.data)\n        return x + t.sum()\n", "bug"),
])
def test_data_read_copied_into_another_tensors_storage_is_not_a_graph_cut(body, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = ("import torch\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.emb = nn.Embedding(3, 3)\n    def forward(self, x):\n" + body)
    found = [d for d in lint_source(code, "t.py", Settings(selected=frozenset({"GL003"}))).diagnostics
             if "self.emb.weight.data" in d.message]
    assert [d.tier for d in found] == [tier]


@pytest.mark.parametrize("inp, reported", [
    # an RNN's output for a tensor input is a tensor: `.data` on it is Tensor.data
    ("x", True),
    # for a packed sequence it is a PackedSequence, whose `.data` is a field (its `.detach()` would crash)
    ("pack_padded_sequence(x, lengths, batch_first=True)", False),
    ("nn.utils.rnn.pack_sequence([x[0], x[1]])", False),
])
def test_data_of_an_rnn_output_for_a_packed_sequence_is_a_field(inp, reported):
    code = f"""
        import torch
        import torch.nn as nn
        from torch.nn.utils.rnn import pack_padded_sequence
        rnn = nn.GRU(3, 5, batch_first=True)
        head = nn.Linear(5, 2)
        x = torch.randn(4, 6, 3)
        lengths = torch.tensor([6, 5, 3, 2])
        seq = {inp}
        out, h = rnn(seq)
        logits = head(out.data)
    """
    assert rows("GL003", code) == ([11] if reported else [])


def test_the_hidden_state_of_an_rnn_run_on_a_packed_sequence_is_a_tensor():
    code = """
        import torch
        import torch.nn as nn
        from torch.nn.utils.rnn import pack_padded_sequence
        lstm = nn.LSTM(3, 5)
        packed = pack_padded_sequence(torch.randn(6, 4, 3), torch.tensor([6, 5, 3, 2]))
        packed_output, (ht, ct) = lstm(packed)
        print(packed_output.data.shape, ht[-1].data)
    """
    res = lint_source(textwrap.dedent(code), "train.py", Settings(selected=frozenset({"GL003"})))
    assert [d.message.split("`")[1] for d in res.diagnostics] == ["ht[-1].data"]  # (not the packed output's field)
