"""GL005 eval-grad-enabled: evaluation code with grad mode on (cases shared with GL004 in eval_cases.py)."""

from __future__ import annotations

import pytest

from ._lint import rows
from .eval_cases import EVAL_CASES


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_gl005(name):
    code, _, gl005 = EVAL_CASES[name]
    assert rows("GL005", code) == gl005


def test_pytest_functions_in_test_files_are_not_evaluation_code():
    code = "import torch\ndef test_accuracy():\n    for x, y in loader:\n        model(x)\n"
    assert rows("GL005", code, "tests/test_model.py") == []
