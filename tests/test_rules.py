"""Rules GL001-GL005: true positives in several shapes, and the look-alikes that must stay silent
(the false-positive traps of the evidence catalogue). Also every rule's own VALID/INVALID examples."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from gradlint.linter import lint_source
from gradlint.rules import ALL_RULES
from gradlint.settings import Settings


def rows(code: str, snippet: str, filename: str = "train.py") -> list[int]:
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({code})))
    assert res.error is None, res.error
    return [d.location.row for d in res.diagnostics]


# ------------------------------------------------------------------ every rule's own examples and docs


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_examples_and_docs(rule):
    for snippet in rule.VALID:
        assert rows(rule.code, snippet) == [], snippet
    for snippet in rule.INVALID:
        assert rows(rule.code, snippet), snippet
    assert re.fullmatch(r"GL\d{3}", rule.code) and re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in rule.docs, (rule.code, section)
    module = Path(__file__).resolve().parents[1] / "rules" / f"{rule.code.lower()}_{rule.name.replace('-', '_')}.py"
    assert module.is_file()


# ------------------------------------------------------------------ GL001 inplace-on-leaf

GL001_BAD = {
    "alias_torch": ("import torch as T\nw = T.randn(3, requires_grad=True)\nw += 1\n", [3]),
    "from_import_param": ("from torch import nn\nimport torch\nw = nn.Parameter(torch.zeros(3))\nw.mul_(2)\n", [4]),
    "named_parameters": ("import torch\nfor n, p in model.named_parameters():\n    p.sub_(0.1 * p.grad)\n", [3]),
    "param_groups": ("import torch\nfor g in opt.param_groups:\n    for p in g['params']:\n        p.add_(p.grad, alpha=-g['lr'])\n", [4]),
    "init_attribute": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.zeros(3))
            def reset(self):
                self.w.uniform_(-1, 1)
        """, [9]),
    "enable_grad_inside_no_grad": (
        """
        import torch
        w = torch.zeros(2, requires_grad=True)
        with torch.no_grad():
            with torch.enable_grad():
                w.fill_(1.0)
        """, [6]),
    "index_assign": ("import torch\nw = torch.zeros(3, requires_grad=True)\nw[0] = 1\n", [3]),
    "list_params_index": ("import torch\nw = list(model.parameters())[0]\nw.zero_()\n", [3]),
    "zip_params": ("import torch\nfor p, g in zip(model.parameters(), grads):\n    p -= 0.1 * g\n", [3]),
    "out_kwarg": ("import torch\nw = torch.ones(3, requires_grad=True)\ntorch.add(w, 1, out=w)\n", [3]),
    "unknown_loop_var_reading_own_grad": ("import torch\ndef sgd(params, lr):\n    for p in params:\n        p -= lr * p.grad\n", [4]),
    "requires_grad_method": ("import torch\nw = torch.zeros(3).requires_grad_()\nw.clamp_(0, 1)\n", [3]),
}

GL001_GOOD = {
    "no_grad_block": "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1\n",
    "bare_decorator": "import torch\n@torch.no_grad\ndef step(m):\n    for p in m.parameters():\n        p -= p.grad\n",
    "aliased_no_grad": "import torch\nfrom torch import no_grad as ng\nw = torch.ones(2, requires_grad=True)\nwith ng():\n    w.mul_(2)\n",
    "inference_mode": "import torch\nw = torch.ones(2, requires_grad=True)\nwith torch.inference_mode():\n    w.add_(1)\n",
    "set_grad_enabled_false_statement": "import torch\ntorch.set_grad_enabled(False)\nw = torch.ones(2, requires_grad=True)\nw.add_(1)\n",
    "set_grad_enabled_variable": "import torch\nw = torch.ones(2, requires_grad=True)\nwith torch.set_grad_enabled(is_train):\n    w.add_(1)\n",
    "grad_ops": "import torch\nfor p in model.parameters():\n    p.grad.zero_()\n    p.grad += 1\n",
    "frozen_param": "import torch\nimport torch.nn as nn\nq = nn.Parameter(torch.randn(3), requires_grad=False)\nq.mul_(2)\n",
    "frozen_loop": "import torch\nfor p in model.parameters():\n    p.requires_grad = False\nfor p in model.parameters():\n    p.mul_(0.5)\n",
    "frozen_module_child": "import torch\nbackbone.requires_grad_(False)\nbackbone[0].weight.mul_(0.5)\n",
    "activation": "import torch\nh = x * 3\nh.relu_()\n",
    "clone": "import torch\nw = torch.randn(3, requires_grad=True)\nc = w.clone()\nc += 1\n",
    "data_tensor": "import torch\nd = torch.randn(3)\nd += 1\nd[0] = 0\n",
    "relu_inplace_module": "import torch.nn as nn\nm = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))\n",
    "nn_init": "import torch.nn as nn\nlin = nn.Linear(3, 3)\nnn.init.normal_(lin.weight)\nnn.init.zeros_(lin.bias)\n",
    "param_group_lr": "import torch\nfor g in opt.param_groups:\n    g['lr'] *= 0.1\n",
    "helper_called_under_no_grad": (
        "import torch\ndef update(params):\n    for p in params:\n        p -= 0.1 * p.grad\n"
        "with torch.no_grad():\n    update(model.parameters())\n"),
    "state_dict_values": "import torch\nfor k, v in model.state_dict().items():\n    v.mul_(0.5)\n",
    "detach_requires_grad_rebind": "import torch\nx = torch.randn(3, requires_grad=True)\nx = x.detach()\nx += 1\n",
    "requires_grad_expression": "import torch\nw = torch.zeros(3, requires_grad=flag)\nw += 1\n",
}


@pytest.mark.parametrize("name", sorted(GL001_BAD))
def test_gl001_true_positives(name):
    code, expected = GL001_BAD[name]
    assert rows("GL001", code) == expected


@pytest.mark.parametrize("name", sorted(GL001_GOOD))
def test_gl001_lookalikes_stay_silent(name):
    assert rows("GL001", GL001_GOOD[name]) == []


# ------------------------------------------------------------------ GL002 rebind-loses-grad

GL002_BAD = {
    "loop_var_no_grad": ("import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p = p - 0.1 * p.grad\n", [4]),
    "named_parameters_sub": ("import torch\nfor n, p in net.named_parameters():\n    p = p.sub(lr * p.grad)\n", [3]),
    "standalone_outside": ("import torch\nw = torch.tensor([1.0], requires_grad=True)\nfor _ in range(3):\n    w = w - 0.1 * w.grad\n", [4]),
    "grads_from_autograd_grad": ("import torch\nfor p, g in zip(model.parameters(), grads):\n    p = p - lr * g\n", [3]),
    "parameter_object": ("import torch.nn as nn\nimport torch\nw = nn.Parameter(torch.ones(2))\nw = w - 0.01 * w.grad\n", [4]),
    "unknown_params_loop": ("import torch\ndef step(params, lr):\n    for p in params:\n        p = p - lr * p.grad\n", [4]),
}

GL002_GOOD = {
    "detach_requires_grad": "import torch\nw = torch.ones(2, requires_grad=True)\nw = (w - 0.1 * w.grad).detach().requires_grad_()\n",
    "releaf_next_line": (
        "import torch\nx_adv = x.clone().detach().requires_grad_(True)\nfor _ in range(3):\n"
        "    x_adv = x_adv + 0.1 * x_adv.grad.sign()\n    x_adv = x_adv.detach().requires_grad_(True)\n"),
    "fast_weights_new_name": "import torch\nfast = [p - 0.1 * g for p, g in zip(model.parameters(), grads)]\n",
    "fast_weights_dict": "import torch\nfast = {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}\n",
    "new_name": "import torch\nfor p in model.parameters():\n    q = p - 0.1 * p.grad\n",
    "not_a_leaf": "import torch\nx = torch.randn(3)\nx = x - 0.1 * grad\n",
    "no_gradient_term": "import torch\nw = torch.ones(2, requires_grad=True)\nw = w * 2\n",
    "inplace_update": "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p -= 0.1 * p.grad\n",
}


@pytest.mark.parametrize("name", sorted(GL002_BAD))
def test_gl002_true_positives(name):
    code, expected = GL002_BAD[name]
    assert rows("GL002", code) == expected


@pytest.mark.parametrize("name", sorted(GL002_GOOD))
def test_gl002_lookalikes_stay_silent(name):
    assert rows("GL002", GL002_GOOD[name]) == []


# ------------------------------------------------------------------ GL003 data-attribute

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


# ------------------------------------------------------------------ GL004 / GL005 evaluation

EVAL_CASES = {
    # name: (code, expected GL004 rows, expected GL005 rows)
    "evaluate_bare": ("""
        import torch
        def evaluate(model, loader):
            for x, y in loader:
                out = model(x)
        """, [5], [5]),
    "validate_no_grad_no_eval": ("""
        import torch
        def validate(net, loader):
            with torch.no_grad():
                return [net(x) for x, _ in loader]
        """, [5], []),
    "eval_no_grad": ("""
        import torch
        def test(model, device, test_loader):
            model.eval()
            with torch.no_grad():
                for data, target in test_loader:
                    output = model(data)
        """, [], []),
    "decorated_inference": ("""
        import torch
        @torch.inference_mode()
        def predict(model, x):
            model.eval()
            return model(x)
        """, [], []),
    "train_false_and_rebind": ("""
        import torch
        def evaluate(model, x):
            model = model.eval()
            with torch.set_grad_enabled(False):
                return model(x)
        def evaluate2(model, x):
            model.train(False)
            with torch.no_grad():
                return model(x)
        """, [], []),
    "helper_sets_eval": ("""
        import torch
        def set_eval(m):
            m.eval()
        @torch.no_grad()
        def evaluate(model, x):
            set_eval(model)
            return model(x)
        """, [], []),
    "caller_sets_eval_and_no_grad": ("""
        import torch
        def evaluate(model, loader):
            return [model(x) for x in loader]
        model.eval()
        with torch.no_grad():
            evaluate(model, val_loader)
        """, [], []),
    "trainer_class": ("""
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
            def validate(self, loader):
                self.model.eval()
                for x, y in loader:
                    out = self.model(x)
        """, [], [9]),
    "val_loop_in_train": ("""
        import torch
        def train(model, train_loader, val_loader, opt):
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            with torch.no_grad():
                for x, y in val_loader:
                    out = model(x)
        """, [10], []),
    "loaders_subscript": ("""
        import torch
        def run(model, loaders):
            model.eval()
            for x, y in loaders["val"]:
                out = model(x)
        """, [], [6]),
    "loop_after_eval": ("""
        import torch
        model.eval()
        preds = []
        for x in batches:
            preds.append(model(x))
        """, [], [6]),
    "saliency": ("""
        import torch
        def evaluate_saliency(model, x):
            model.eval()
            x.requires_grad_()
            model(x).sum().backward()
            return x.grad
        """, [], []),
    "enable_grad_fgsm": ("""
        import torch
        @torch.no_grad()
        def evaluate_adv(model, x):
            model.eval()
            with torch.enable_grad():
                x = x.clone().requires_grad_(True)
                model(x).sum().backward()
            return model(x + x.grad.sign())
        """, [], []),
    "lightning_hooks": ("""
        import torch
        import lightning as L
        class Lit(L.LightningModule):
            def validation_step(self, batch, i):
                return self.net(batch[0])
            def test_step(self, batch, i):
                return self.net(batch[0])
            def predict_step(self, batch, i):
                return self.net(batch[0])
        """, [], []),
    "module_own_predict": ("""
        import torch.nn as nn
        class Net(nn.Module):
            def predict(self, x):
                return self.forward(x).argmax(1)
        """, [], []),
    "non_ml_validate": ("""
        import torch
        def validate(config):
            for key in config:
                check(key)
        """, [], []),
    "z3_solver_model": ("""
        import torch
        def _validate(solver):
            if solver.check():
                model = solver.model()
        """, [], []),
    "keras_file": ("""
        import tensorflow as tf
        def evaluate(model, ds):
            for x in ds:
                model(x)
        """, [], []),
    "training_loop_over_test_named_loader": ("""
        import torch
        def adapt(model, test_loader, opt):
            for x, y in test_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        """, [], []),
}


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_gl004_gl005(name):
    code, gl004, gl005 = EVAL_CASES[name]
    assert rows("GL004", code) == gl004
    assert rows("GL005", code) == gl005


def test_pytest_functions_in_test_files_are_not_evaluation_code():
    code = "import torch\ndef test_accuracy():\n    for x, y in loader:\n        model(x)\n"
    assert rows("GL004", code, "tests/test_model.py") == []
    assert rows("GL005", code, "tests/test_model.py") == []
    smoke = "import torch\ndef test_forward():\n    model = Net()\n    assert model(x).shape == (2, 3)\n"
    assert rows("GL004", smoke, "scripts/check.py") == []
