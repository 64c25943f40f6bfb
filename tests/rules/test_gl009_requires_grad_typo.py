"""GL009 requires-grad-typo: true positives in several shapes, and the look-alikes that stay silent."""

from __future__ import annotations

import pytest

from gradlint.model.ext_spellings import is_requires_grad_typo

from ._lint import rows

GL009_BAD = {
    "param_loop": ("import torch\nfor p in model.parameters():\n    p.require_grad = False\n", [3]),
    "named_parameters_alias": (
        "import torch as T\nfor name, p in net.named_parameters():\n    if 'fc' not in name:\n        p.requires_grads = False\n",
        [4]),
    "misspelt_ie": ("import torch\nlayer.weight.requieres_grad = False\n", [2]),
    "camel_case": ("import torch\nw.requiresGrad = True\n", [2]),
    "chained": ("import torch\na.require_grad = b.require_grad = False\n", [2, 2]),
    "annotated": ("import torch\nx.require_grads: bool = False\n", [2]),
    "setattr": ("import torch\nsetattr(t, 'require_grad', True)\n", [2]),
    "method_in_class": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(3, 3)
            def freeze(self):
                for p in self.enc.parameters():
                    p.require_grad = False
        """, [10]),
    "nested_function": (
        "import torch\ndef outer(m):\n    def inner():\n        m.weight.require_grad = False\n    inner()\n", [4]),
    "while_loop": ("import torch\nps = list(model.parameters())\ni = 0\nwhile i < len(ps):\n    ps[i].require_grad = False\n    i += 1\n", [5]),
    "module_attr_nn_layer": ("import torch.nn as nn\nlayer = nn.Linear(3, 3)\nlayer.requires_grad = False\n", [3]),
    "module_attr_model_name": ("import torch\nmodel.requires_grad = False\n", [2]),
    "module_attr_submodule": ("from torch import nn\nnet = nn.Sequential(nn.Linear(2, 2))\nnet[0].requires_grad = False\n", [3]),
    "module_attr_own_class": (
        "import torch.nn as nn\nclass Head(nn.Module):\n    pass\nhead = Head()\nhead.requires_grad = True\n", [5]),
    "self_attribute_of_module": (
        "import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.backbone = nn.Linear(2, 2)\n        self.backbone.requires_grad = False\n", [6]),
    "kwarg_factory": ("import torch\nx = torch.zeros(3, require_grad=True)\n", [2]),
    "kwarg_alias_factory": ("import torch as T\nx = T.randn(3, requires_grads=True)\n", [2]),
    "kwarg_parameter": ("import torch\nfrom torch import nn\nw = nn.Parameter(torch.ones(2), require_grad=False)\n", [3]),
    "kwarg_requires_grad_method": ("import torch\nx = torch.ones(2).requires_grad_(requires_grads=True)\n", [2]),
}

GL009_GOOD = {
    "correct_spelling": "import torch\nfor p in model.parameters():\n    p.requires_grad = False\n",
    "method_call": "import torch\nmodel.requires_grad_(False)\nx.requires_grad_()\n",
    "flag_attribute": "import torch\nclass C:\n    def __init__(self):\n        self.require_grad_flag = True\n",
    "self_attribute": "import torch\nclass C:\n    def __init__(self, rg):\n        self.require_grad = rg\n",
    "private_attribute": "import torch\nobj._requires_grad = True\n",
    "read_back_config": "import torch\nargs.require_grad = True\nif args.require_grad:\n    pass\n",
    "read_back_getattr": "import torch\ncfg.requires_grads = True\nflag = getattr(cfg, 'requires_grads')\n",
    "dict_key": "import torch\nd = {'require_grad': False}\nd['require_grad'] = True\n",
    "kwarg_of_user_function": "import torch\nbuild(require_grad=True)\n",
    "tensor_requires_grad_attr": "import torch\nx = torch.randn(3)\nx.requires_grad = True\n",
    "param_requires_grad_attr": "import torch\nfrom torch import nn\nw = nn.Parameter(torch.ones(2))\nw.requires_grad = False\n",
    "unknown_receiver_requires_grad": "import torch\nlayer.requires_grad = False\n",
    "module_defines_own_attr": (
        "import torch.nn as nn\nclass M(nn.Module):\n    def forward(self, x):\n        return x if self.requires_grad else x.detach()\n"
        "model = M()\nmodel.requires_grad = False\n"),
    "module_with_property": (
        "import torch.nn as nn\nclass M(nn.Module):\n    @property\n    def requires_grad(self):\n        return True\n"
        "    @requires_grad.setter\n    def requires_grad(self, v):\n        self.requires_grad_(v)\n"
        "model = M()\nmodel.requires_grad = False\n"),
    "unrelated_names": "import torch\nx.retain_grad = 1\no.required = 2\nopt.grad_clip = 1.0\nm.no_grad = 3\n",
    "torch_module_attribute": "import torch\ntorch.nn.requires_grad = 1\n",
}


@pytest.mark.parametrize("name", sorted(GL009_BAD))
def test_gl009_true_positives(name):
    code, expected = GL009_BAD[name]
    assert rows("GL009", code) == expected


@pytest.mark.parametrize("name", sorted(GL009_GOOD))
def test_gl009_lookalikes_stay_silent(name):
    assert rows("GL009", GL009_GOOD[name]) == []


@pytest.mark.parametrize("name", ["require_grad", "requires_grads", "requieres_grad", "requiresGrad", "require_grads",
                                  "required_grad", "requires_gard", "Requires_Grad", "reqires_grad"])
def test_gl009_typo_spellings(name):
    assert is_requires_grad_typo(name)


@pytest.mark.parametrize("name", ["requires_grad", "requires_grad_", "_requires_grad", "require_grad_flag", "retain_grad",
                                  "no_grad", "grad", "requires_grad_mask", "enable_grad", "is_grad_enabled"])
def test_gl009_not_typos(name):
    assert not is_requires_grad_typo(name)


def _diags(code):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings

    return lint_source(code, "train.py", Settings(selected=frozenset({"GL009"}))).diagnostics


def test_gl009_fixes_are_unsafe_renames():
    (typo,) = _diags("import torch\np.require_grad = False\n")
    assert typo.fix is not None and typo.fix.applicability.value == "unsafe"
    assert [e.content for e in typo.fix.edits] == ["requires_grad"]
    (mod,) = _diags("import torch.nn as nn\nlayer = nn.Linear(2, 2)\nlayer.requires_grad = False\n")
    assert mod.fix is not None and mod.fix.applicability.value == "unsafe"
    assert [e.content for e in mod.fix.edits] == ["layer.requires_grad_(False)"]
    (s,) = _diags("import torch\nsetattr(p, 'require_grad', False)\n")
    assert [e.content for e in s.fix.edits] == ["'requires_grad'"]


@pytest.mark.parametrize("forward, tier", [
    # transformers' unispeech_sat: a LayerNorm built and "frozen" in __init__ that no method uses
    ("        return self.proj(x)\n", "hygiene"),
    # look-alike: the layer is used in forward, so the no-op freeze lets it train
    ("        return self.proj(self.norm(x))\n", "bug"),
])
def test_module_requires_grad_on_an_unused_submodule_is_hygiene(forward, tier):
    code = ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.proj = nn.Linear(2, 2)\n        self.norm = nn.LayerNorm(2)\n"
            "        self.norm.requires_grad = False\n    def forward(self, x):\n" + forward)
    (d,) = _diags(code)
    assert d.tier == tier


def test_module_requires_grad_in_a_freeze_method_stays_bug():
    # timm's pvt_v2 freeze_patch_emb(): set in __init__, frozen (in vain) in another method, used in forward
    code = ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.patch_embed = nn.Linear(2, 2)\n    def freeze_patch_emb(self):\n"
            "        self.patch_embed.requires_grad = False\n    def forward(self, x):\n"
            "        return self.patch_embed(x)\n")
    (d,) = _diags(code)
    assert d.tier == "bug"


@pytest.mark.parametrize("made, reported", [
    ("nn.Linear(4, 8)", True),
    # a namespace or config object named like a model is not a module
    ("SimpleNamespace(dim=8, requires_grad=True)", False),
    ("argparse.Namespace(dim=8, requires_grad=True)", False),
])
def test_a_config_object_named_like_a_model(made, reported):
    code = f"""
        import argparse
        from types import SimpleNamespace
        import torch.nn as nn
        encoder = {made}
        encoder.requires_grad = False
    """
    assert rows("GL009", code) == ([6] if reported else [])
