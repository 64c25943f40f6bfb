"""GL019 graph-cut-by-rewrap: true positives in several shapes, and the look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings


def diags(snippet: str, filename: str = "train.py"):
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({"GL019"})))
    assert res.error is None, res.error
    return res.diagnostics


def rows(snippet: str, filename: str = "train.py") -> list[int]:
    return [d.location.row for d in diags(snippet, filename)]


NET = """
import torch
import torch.nn as nn
import numpy as np
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
    def forward(self, x):
        h = self.enc(x)
"""

BAD = {
    "loss_item_requires_grad": (
        "import torch\nout = model(x)\nlv = out.pow(2).mean().item()\nloss = torch.tensor(lv, requires_grad=True)\nloss.backward()\n", [4]),
    "inline_item": (
        "import torch\nloss = torch.tensor(criterion(model(x), y).item(), requires_grad=True)\nloss.backward()\n", [2]),
    "alias_and_float": (
        "import torch as T\nout = model(x)\nv = float(out.mean())\nloss = T.tensor(v, requires_grad=True) * 2\nloss.backward()\n", [4]),
    "from_import_tensor": (
        "from torch import tensor\nimport torch.nn.functional as F\nl = F.mse_loss(model(x), y)\n"
        "loss = tensor(l.item(), requires_grad=True)\nloss.backward()\n", [4]),
    "in_training_loop_function": (
        """
        import torch
        def train(model, loader, opt, criterion):
            for xb, yb in loader:
                opt.zero_grad()
                out = model(xb)
                val = criterion(out, yb).item()
                loss = torch.tensor(val, requires_grad=True)
                loss.backward()
                opt.step()
        """, [8]),
    "autograd_backward": (
        "import torch\nv = model(x).sum().item()\nt = torch.tensor(v, requires_grad=True)\ntorch.autograd.backward([t])\n", [3]),
    "from_numpy_in_forward": (NET + "        h = torch.from_numpy(h.detach().numpy())\n        return self.head(h)\n", [12]),
    "tensor_of_cpu_numpy_in_forward": (
        NET + "        arr = np.tanh(h.detach().cpu().numpy())\n        h = torch.tensor(arr)\n        return self.head(h)\n", [13]),
    "tensor_of_graph_tensor_in_forward": (NET + "        h2 = torch.tensor(h)\n        return self.head(h2)\n", [12]),
    "returned_in_forward": (NET + "        return torch.as_tensor(h.detach().numpy()) * 2\n", [12]),
}

GOOD = {
    "item_for_logging": "import torch\nout = model(x)\nlv = out.mean().item()\nlogged = torch.tensor(lv)\nhistory.append(logged)\n",
    "logging_after_backward": "import torch\nloss = model(x).mean()\nloss.backward()\nprint(torch.tensor(loss.item()))\n",
    "requires_grad_but_no_backward": "import torch\nv = model(x).mean().item()\nt = torch.tensor(v, requires_grad=True)\nprint(t)\n",
    "under_no_grad": (
        "import torch\nwith torch.no_grad():\n    s = model(x).std().item()\nt = torch.tensor(s, requires_grad=True)\n(t * 2).backward()\n"),
    "new_leaf_trained": (
        "import torch\ns = model(x).std().item()\ntemp = torch.tensor(s, requires_grad=True)\nopt = torch.optim.SGD([temp], lr=0.1)\n"
        "loss = (temp * 2).sum()\nloss.backward()\n"),
    "new_parameter": (
        "import torch\nimport torch.nn as nn\ns = model(x).std().item()\nt = torch.tensor(s, requires_grad=True)\nscale = nn.Parameter(t)\n"
        "(scale * 2).backward()\n"),
    "data_never_in_graph": "import torch\nimport numpy as np\narr = np.ones(3)\nt = torch.from_numpy(arr)\nt.requires_grad_()\nt.sum().backward()\n",
    "labels_from_dataset": "import torch\ny = torch.tensor(labels.numpy(), requires_grad=True)\ny.sum().backward()\n",
    "forward_aux_stat_in_tuple": NET + "        stat = torch.tensor(h.detach().mean().item())\n        return self.head(h), stat\n",
    "forward_stat_attribute": NET + "        self.last = torch.tensor(h.detach().abs().mean().item())\n        return self.head(h)\n",
    "forward_no_grad_decorated": (
        "import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(4, 8)\n        self.head = nn.Linear(8, 1)\n    @torch.no_grad()\n    def forward(self, x):\n"
        "        h = self.enc(x)\n        h = torch.from_numpy(h.numpy())\n        return self.head(h)\n"),
    "as_tensor_keeps_graph": NET + "        h = torch.as_tensor(h)\n        return self.head(h)\n",
    "not_forward_method": (
        "import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(4, 8)\n        self.head = nn.Linear(8, 1)\n    def predict(self, x):\n"
        "        h = self.enc(x)\n        h = torch.from_numpy(h.detach().numpy())\n        return self.head(h)\n"),
    "reward_times_live_log_prob": (
        "import torch\nlogp = model(x).log_softmax(-1)\nr = torch.tensor(score(logp.detach()).item(), requires_grad=True)\n"
        "loss = -(logp * r).sum()\nloss.backward()\n"),
    "rewrapped_plus_skip_into_layer": NET + "        h2 = torch.from_numpy(h.detach().numpy())\n        return self.head(h2 + h)\n",
    "numpy_without_detach_raises_instead": NET + "        h = torch.from_numpy(h.numpy())\n        return self.head(h)\n",
    "test_file": "import torch\nout = model(x)\nloss = torch.tensor(out.mean().item(), requires_grad=True)\nloss.backward()\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_reported(name):
    snippet, expected = BAD[name]
    assert rows(snippet) == expected


@pytest.mark.parametrize("name", sorted(GOOD))
def test_silent(name):
    filename = "tests/test_loss.py" if name == "test_file" else "train.py"
    assert rows(GOOD[name], filename) == []


def test_message_names_the_cut_and_the_consequence():
    msg = diags(BAD["loss_item_requires_grad"][0])[0].message
    assert "`out.pow(2).mean().item()`" in msg and "no gradient" in msg
    msg = diags(BAD["from_numpy_in_forward"][0])[0].message
    assert "`forward`" in msg and "h.detach().numpy()" in msg


@pytest.mark.parametrize("score, reported", [
    # a metric computed by NumPy code of the file from the detached output, then made the "loss"
    ("f1 = f1_numpy(probs.detach().numpy(), y.numpy())", True),
    ("f1 = f1_numpy(probs.detach().numpy(), y)", True),
    # sorted / max of the numbers taken out: still out of the graph
    ("f1 = max(sorted(probs.detach().flatten().tolist(), reverse=True))", True),
    # look-alike: the metric of plain data only
    ("f1 = f1_numpy(y.numpy(), y.numpy())", False),
])
def test_a_value_taken_out_through_a_helper_or_a_builtin(score, reported):
    code = f"""
        import numpy as np
        import torch
        import torch.nn as nn
        def f1_numpy(p, t):
            pred = (p > 0.5).astype(np.float32)
            tp = (pred * t).sum()
            return 2 * tp / (pred.sum() + t.sum() + 1e-8)
        model = nn.Linear(4, 1)
        x, y = torch.randn(8, 4), torch.randint(0, 2, (8, 1)).float()
        probs = torch.sigmoid(model(x))
        {score}
        loss = torch.tensor(1.0 - f1, requires_grad=True)
        loss.backward()
    """
    assert rows(code) == ([13] if reported else [])
