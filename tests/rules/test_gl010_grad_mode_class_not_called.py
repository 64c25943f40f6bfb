"""GL010 grad-mode-class-not-called: true positives in several shapes, the look-alikes that stay silent, the fix."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows

GL010_BAD = {
    "no_grad": ("import torch\nwith torch.no_grad:\n    y = model(x)\n", [2]),
    "alias_module": ("import torch as T\nwith T.no_grad:\n    pass\n", [2]),
    "from_import": ("from torch import no_grad\nwith no_grad:\n    pass\n", [2]),
    "from_import_asname": ("from torch import inference_mode as im\nwith im:\n    pass\n", [2]),
    "autograd_path": ("import torch\nwith torch.autograd.no_grad:\n    pass\n", [2]),
    "grad_mode_module": ("import torch.autograd.grad_mode as gm\nwith gm.enable_grad:\n    pass\n", [2]),
    "enable_grad": ("import torch\nwith torch.enable_grad:\n    pass\n", [2]),
    "inference_mode": ("import torch\nwith torch.inference_mode:\n    pass\n", [2]),
    "set_grad_enabled": ("import torch\nwith torch.set_grad_enabled:\n    pass\n", [2]),
    "second_item": ("import torch\nwith open('f') as fh, torch.no_grad:\n    pass\n", [2]),
    "method_in_class": (
        """
        import torch
        class Predictor:
            def predict(self, X):
                with torch.no_grad:
                    return self.model(X)
        """, [5]),
    "nested_in_loop": (
        "import torch\ndef evaluate(model, loader):\n    for x in loader:\n        with torch.inference_mode:\n"
        "            model(x)\n", [4]),
    "nested_function": ("import torch\ndef outer():\n    def inner():\n        with torch.no_grad:\n            pass\n", [4]),
}

GL010_GOOD = {
    "called": "import torch\nwith torch.no_grad():\n    pass\nwith torch.inference_mode(False):\n    pass\n",
    "bare_decorators": (
        "import torch\n@torch.no_grad\ndef f(x):\n    return x\n@torch.enable_grad\ndef g(x):\n    return x\n"
        "@torch.inference_mode\ndef h(x):\n    return x\n"),
    "direct_call_form": "import torch\nf = torch.no_grad(lambda t: t * 2)\n",
    "instance_variable": "import torch\nctx = torch.no_grad()\nwith ctx:\n    pass\n",
    "other_library": "import contextlib\nwith contextlib.nullcontext:\n    pass\n",
    "unrelated_name": "import torch\nno_grad = make_ctx()\nwith no_grad:\n    pass\n",
    "set_grad_enabled_called": "import torch\nwith torch.set_grad_enabled(is_train):\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(GL010_BAD))
def test_gl010_true_positives(name):
    code, expected = GL010_BAD[name]
    assert rows("GL010", code) == expected


@pytest.mark.parametrize("name", sorted(GL010_GOOD))
def test_gl010_lookalikes_stay_silent(name):
    assert rows("GL010", GL010_GOOD[name]) == []


def test_gl010_fix_adds_parentheses():
    code = "import torch as T\nwith T.no_grad:\n    y = 1\n"
    res = lint_source(textwrap.dedent(code), "train.py", Settings(selected=frozenset({"GL010"})))
    (diag,) = res.diagnostics
    assert diag.location.column == 6
    assert diag.fix is not None and diag.fix.applicability.value == "safe"
    (edit,) = diag.fix.edits
    assert edit.content == "()" and (edit.location.row, edit.location.column) == (2, 15)
    assert "TypeError: 'type' object does not support the context manager protocol" in diag.message


def test_gl010_set_grad_enabled_fix_is_unsafe():
    res = lint_source("import torch\nwith torch.set_grad_enabled:\n    pass\n", "train.py",
                      Settings(selected=frozenset({"GL010"})))
    (diag,) = res.diagnostics
    assert diag.fix is not None and diag.fix.applicability.value == "unsafe"
    assert diag.fix.edits[0].content == "(False)"
