"""GL018 dropout-ignores-eval: dropout in a module's forward that ignores eval mode, the look-alikes that stay
silent (catalogue Part C, NEW_N1), and the `training=self.training` fix."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_fix as apply_fixes
from gradlint.settings import Settings

from ._lint import rows

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def module(body: str, head: str = HEAD, base: str = "nn.Module") -> str:
    return head + f"class M({base}):\n" + textwrap.indent(textwrap.dedent(body), "    ")


BAD = {
    "functional_p_keyword": (module("def forward(self, x):\n    return F.dropout(x, p=0.5)\n"), [6]),
    "functional_positional_p": (module("def forward(self, x):\n    return F.dropout(x, 0.1)\n"), [6]),
    "dropout2d": (module("def forward(self, x):\n    return F.dropout2d(x, 0.2)\n"), [6]),
    "dropout1d_3d": (module("def forward(self, x):\n    x = F.dropout1d(x)\n    return F.dropout3d(x, 0.1)\n"), [6, 7]),
    "from_import_dropout": (
        module("def forward(self, x):\n    return dropout(x, 0.5)\n",
               head="import torch\nfrom torch import nn\nfrom torch.nn.functional import dropout\n"), [6]),
    "torch_nn_functional_path": (
        module("def forward(self, x):\n    return torch.nn.functional.dropout(x, 0.5)\n", head="import torch\n\n\n",
               base="torch.nn.Module"), [6]),
    "module_built_in_forward": (module("def forward(self, x):\n    return nn.Dropout(p=0.5)(x)\n"), [6]),
    "module_built_then_applied": (
        module("def forward(self, x):\n    drop = nn.Dropout2d(0.3)\n    return drop(x)\n"), [6]),
    "sdpa_literal": (
        module("def forward(self, q, k, v):\n    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)\n"), [6]),
    "sdpa_attribute": (
        module("def forward(self, q):\n    return F.scaled_dot_product_attention(q, q, q, None, self.attn_p)\n"), [6]),
    "sdpa_local_copy": (
        module("def forward(self, q):\n    p = self.dropout\n"
               "    return F.scaled_dot_product_attention(q, q, q, dropout_p=p, is_causal=True)\n"), [7]),
    "helper_method_called_from_forward": (
        module("def _ff(self, x):\n    return F.dropout(x, 0.1)\ndef forward(self, x):\n    return self._ff(x)\n"), [6]),
    "nested_function_in_forward": (
        module("def forward(self, x):\n    def block(h):\n        return F.dropout(h, 0.2)\n    return block(x)\n"), [7]),
    "subclass_of_local_module": (
        HEAD + "class Base(nn.Module):\n    pass\nclass M(Base):\n    def forward(self, x):\n        return F.dropout(x, 0.5)\n",
        [8]),
    "other_self_name": (module("def forward(s, x):\n    return F.dropout(x, 0.5)\n"), [6]),
}

GOOD = {
    "training_keyword": module("def forward(self, x):\n    return F.dropout(x, p=0.5, training=self.training)\n"),
    "training_positional": module("def forward(self, x):\n    return F.dropout(x, 0.5, self.training)\n"),
    "training_and": module("def forward(self, x):\n    return F.dropout(x, 0.5, training=self.training and self.use)\n"),
    "explicit_training_true": module("def forward(self, x):\n    return F.dropout(x, 0.5, training=True)\n"),
    "under_if_training": module("def forward(self, x):\n    if self.training:\n        x = F.dropout(x, 0.5)\n    return x\n"),
    "ifexp_training": module("def forward(self, x):\n    return F.dropout(x, 0.5) if self.training else x\n"),
    "functional_code": HEAD + "def mlp(x, w, training):\n    return F.dropout(x @ w, 0.5)\n",
    "plain_callable_class": HEAD + "class Augment:\n    def __call__(self, x):\n        return F.dropout(x, 0.3)\n",
    "p_zero": module("def forward(self, x):\n    return F.dropout(x, p=0.0)\n"),
    "module_in_init": module("def __init__(self):\n    super().__init__()\n    self.drop = nn.Dropout(0.1)\n"
                             "def forward(self, x):\n    return self.drop(x)\n"),
    "lazy_registered_module": module("def forward(self, x):\n    self.drop = nn.Dropout(0.1)\n    return self.drop(x)\n"),
    "module_follows_mode": module("def forward(self, x):\n    return nn.Dropout(0.1).train(self.training)(x)\n"),
    "sdpa_gated_ifexp": module(
        "def forward(self, q):\n    return F.scaled_dot_product_attention(q, q, q, dropout_p=self.p if self.training else 0.0)\n"),
    "sdpa_gated_local": module(
        "def forward(self, q):\n    p = self.dropout\n    if not self.training:\n        p = 0.0\n"
        "    return F.scaled_dot_product_attention(q, q, q, dropout_p=p)\n"),
    "sdpa_gated_assignment": module(
        "def forward(self, q):\n    p = 0.0 if not self.training else self.dropout\n"
        "    return F.scaled_dot_product_attention(q, q, q, dropout_p=p)\n"),
    "sdpa_zero": module("def forward(self, q):\n    return F.scaled_dot_product_attention(q, q, q, dropout_p=0.0)\n"),
    "sdpa_argument": module(
        "def forward(self, q, dropout_p=0.0):\n    return F.scaled_dot_product_attention(q, q, q, dropout_p=dropout_p)\n"),
    "sdpa_no_dropout": module("def forward(self, q):\n    return F.scaled_dot_product_attention(q, q, q, is_causal=True)\n"),
    "kwargs_forwarded": module("def forward(self, x, **kw):\n    return F.dropout(x, **kw)\n"),
    "alpha_dropout_defaults_off": module("def forward(self, x):\n    return F.alpha_dropout(x, 0.5)\n"),
    "method_not_called_from_forward": module(
        "def forward(self, x):\n    return x\ndef mc_sample(self, x):\n    return F.dropout(x, 0.5)\n"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL018", snippet) == expected


@pytest.mark.parametrize("name", GOOD)
def test_good(name):
    assert rows("GL018", GOOD[name]) == []


def fixed(source: str) -> str:
    result = apply_fixes(source, "model.py", Settings(selected=frozenset({"GL018"})), unsafe=True)
    assert result.error is None, result.error
    return result.source


def test_fix_adds_training_flag():
    src = module("def forward(self, x):\n    return F.dropout(x, p=0.5)\n")
    assert "return F.dropout(x, p=0.5, training=self.training)\n" in fixed(src)


def test_fix_uses_own_self_name_and_positional():
    src = module("def forward(s, x):\n    return F.dropout2d(x, 0.1)\n")
    assert "return F.dropout2d(x, 0.1, training=s.training)\n" in fixed(src)


def test_fix_module_and_sdpa():
    src = module("def forward(self, x):\n    x = nn.Dropout(0.1)(x)\n"
                 "    return F.scaled_dot_product_attention(x, x, x, dropout_p=self.p)\n")
    out = fixed(src)
    assert "x = nn.Dropout(0.1).train(self.training)(x)\n" in out
    assert "dropout_p=self.p if self.training else 0.0)" in out
    assert rows("GL018", out) == []


def test_fix_is_unsafe_only():
    src = module("def forward(self, x):\n    return F.dropout(x, p=0.5)\n")
    result = apply_fixes(src, "model.py", Settings(selected=frozenset({"GL018"})), unsafe=False)
    assert result.source == src
