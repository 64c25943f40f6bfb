"""The prefilter only skips files that cannot hold a finding: every rule's bad examples pass it."""

from __future__ import annotations

import glob
import os

import pytest

from gradlint.linter import could_fire, parse_module
from gradlint.model import build_model
from gradlint.model.builder import ECO_IMPORT
from gradlint.rules import ALL_RULES
from gradlint.settings import RuleOptions, Settings

from ._examples import ROOT, example_sources


def _bad_programs():
    for rule in ALL_RULES:
        for i, src in enumerate(rule.INVALID):
            yield rule.code, f"{rule.code} INVALID[{i}]", src if isinstance(src, str) else src[0]
        folder = glob.glob(os.path.join(ROOT, "fixtures", rule.code.lower() + "_*"))
        for path in sorted(glob.glob(os.path.join(folder[0], "bad_*.py")) if folder else []):
            with open(path, encoding="utf-8") as fh:
                yield rule.code, os.path.relpath(path, ROOT), fh.read()


@pytest.mark.parametrize("code,name,source", list(_bad_programs()), ids=lambda v: v if "\n" not in str(v) else "")
def test_bad_programs_pass_their_rules_prefilter(code, name, source):
    assert could_fire(source, Settings(selected=frozenset({code}))), name


@pytest.mark.parametrize("text", [
    "import torch\n",
    "import torch.nn as nn\n",
    "x = 1; import torch\n",
    "import numpy as np, torch\n",
    "from transformers import AutoModel\n",
    "try:\n    from lightning import LightningModule\nexcept ImportError:\n    pass\n",
    "def f():\n    import torchvision.models as m\n",
    "import \\\n    torch\n",
])
def test_torch_import_text_is_recognised(text):
    assert ECO_IMPORT.search(text)


@pytest.mark.parametrize("text", [
    "# a transformers-style config\nclass Config:\n    dropout = 0.1\n",
    "from .torch_utils import helper\n",
    "x = 'torchy'\n",
])
def test_no_torch_import_no_match(text):
    assert not ECO_IMPORT.search(text)


def test_uses_torch_implies_the_import_text():
    sources = [src for _, src in example_sources()]
    checked = 0
    for src in sources:
        model = build_model(parse_module(src), RuleOptions())
        if model.uses_torch:
            checked += 1
            assert ECO_IMPORT.search(src), src[:200]
    assert checked > 100


def test_rules_needing_torch_say_why():
    import inspect

    for rule in ALL_RULES:
        assert rule.prefilter_needs_torch in (None, "torch", "import"), rule.code
        if rule.prefilter_needs_torch == "import":
            assert "not model.uses_torch" in inspect.getsource(rule.check), rule.code


def test_a_torch_only_rule_skips_text_without_torch():
    gl018 = Settings(selected=frozenset({"GL018"}))
    assert not could_fire("class Config:\n    attention_dropout = 0.1\n", gl018)
    assert could_fire("import torch.nn.functional as F\ny = F.dropout(x, 0.1)\n", gl018)
    gl007 = Settings(selected=frozenset({"GL007"}))
    assert not could_fire("# call loss.backward() with transformers\n", gl007)
    assert could_fire("import torch\nloss.backward()\n", gl007)
