"""The project summary's classes (gradlint.project._classes_of): whether each nn.Module class of a file
computes the same in train and eval mode, read by GL004's tier in the files that import it."""

from __future__ import annotations

import pytest

from pathlib import Path

from gradlint.config import ConfigResolver, Overrides
from gradlint.linter import lint_source

_CLASSES = (
    "import torch\nimport torch.nn as nn\n\n"
    "def cuda_variable(t):\n    return t.cuda() if torch.cuda.is_available() else t\n\n"
    "class Encoder(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.gru = nn.GRU(8, 8)\n"
    "    def forward(self, x, h):\n        return self.gru(x, h)\n"
    "    def init_hidden(self):\n        return cuda_variable(torch.zeros(1, 1, 8))\n\n"
    "class Attn(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.drop = nn.Dropout(0.1)\n"
    "    def forward(self, x):\n        return self.drop(x)\n"
)


def _classes(code: str) -> dict[str, bool]:
    settings = ConfigResolver(None, Overrides()).settings_for(Path("models.py"))
    summary = lint_source(code, "models.py", settings, project=True).summary
    return {name: c["mode_free"] for name, c in summary["classes"].items()}


def test_a_class_is_decided_by_its_own_code_not_by_another_class_of_the_file():
    # (hunkim/PyTorchZeroToAll seq2seq_models.py: an encoder of a GRU next to an attention decoder with
    # dropout; the encoder's `init_hidden` wraps a tensor with a helper of the file)
    assert _classes(_CLASSES) == {"Encoder": True, "Attn": False}


@pytest.mark.parametrize("outside", [
    "DROP = nn.Dropout(0.1)\n",  # a layer of the module's top level may be handed to any class by name
    "def make():\n    return nn.BatchNorm1d(8)\n",
])
def test_a_mode_dependent_layer_outside_the_classes_decides_none_free(outside):
    assert _classes(_CLASSES + outside) == {"Encoder": False, "Attn": False}
