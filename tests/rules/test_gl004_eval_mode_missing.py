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
