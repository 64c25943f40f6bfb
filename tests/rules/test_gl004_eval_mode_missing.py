"""GL004 eval-mode-missing: evaluation code without model.eval() (cases shared with GL005 in eval_cases.py)."""

from __future__ import annotations

import pytest

from ._lint import rows
from .eval_cases import EVAL_CASES


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_gl004(name):
    code, gl004, _ = EVAL_CASES[name]
    assert rows("GL004", code) == gl004


def test_pytest_functions_in_test_files_are_not_evaluation_code():
    code = "import torch\ndef test_accuracy():\n    for x, y in loader:\n        model(x)\n"
    assert rows("GL004", code, "tests/test_model.py") == []

    smoke = "import torch\ndef test_forward():\n    model = Net()\n    assert model(x).shape == (2, 3)\n"
    assert rows("GL004", smoke, "scripts/check.py") == []


@pytest.mark.parametrize("model_code, tier", [
    ("net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n", "hygiene"),  # nothing depends on the mode
    ("net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())\n", "bug"),
    ("net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))\n", "bug"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
     "    def forward(self, x):\n        return self.fc(x)\nnet = Net()\n", "hygiene"),
    ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
     "    def forward(self, x):\n        return F.dropout(self.fc(x), 0.5, training=self.training)\nnet = Net()\n", "bug"),
    ("net = torchvision.models.resnet18()\n", "bug"),  # built elsewhere: may have BatchNorm (it does)
])
def test_tier_follows_what_the_model_is_built_from(model_code, tier):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    code = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport torchvision\n" + model_code
            + "with torch.no_grad():\n    for x, y in test_loader:\n        out = net(x)\n")
    (d,) = lint_source(code, "t.py", Settings(selected=frozenset({"GL004"}))).diagnostics
    assert d.tier == tier
