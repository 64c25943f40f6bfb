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
