"""GL015 requires-grad-int-dtype: true positives in several shapes, and the catalogue look-alikes that stay silent."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows as _rows


def diags(snippet: str, filename: str = "train.py"):
    res = lint_source(textwrap.dedent(snippet), filename, Settings(selected=frozenset({"GL015"})))
    assert res.error is None, res.error
    return res.diagnostics


def cols(snippet: str, filename: str = "train.py") -> list[tuple[int, int]]:
    return [(d.location.row, d.location.column) for d in diags(snippet, filename)]


BAD = {
    "int_literals": ("import torch\nw = torch.tensor([1, 2, 3], requires_grad=True)\n", [(2, 0)]),
    "scalar_int": ("import torch\nw = torch.tensor(5, requires_grad=True)\n", [(2, 0)]),
    "negative_nested": ("import torch\nw = torch.tensor([[1, -2], [3, 4]], requires_grad=True)\n", [(2, 0)]),
    "bool_literals": ("import torch\nm = torch.tensor([True, False], requires_grad=True)\n", [(2, 0)]),
    "arange_ints": ("import torch\ns = torch.arange(5, requires_grad=True)\n", [(2, 0)]),
    "arange_three": ("import torch\ns = torch.arange(0, 10, 2, requires_grad=True)\n", [(2, 0)]),
    "arange_len": ("import torch\ns = torch.arange(len(xs), requires_grad=True)\n", [(2, 0)]),
    "arange_int_constant": ("import torch\nN = 8\ndef f():\n    return torch.arange(N, requires_grad=True)\n", [(4, 0)]),
    "long_dtype": ("import torch\nz = torch.zeros(3, dtype=torch.long, requires_grad=True)\n", [(2, 0)]),
    "alias_int32": ("import torch as T\nz = T.ones(3, dtype=T.int32, requires_grad=True)\n", [(2, 0)]),
    "from_import_bool_dtype": ("from torch import empty, bool\nz = empty(3, dtype=bool, requires_grad=True)\n", [(2, 0)]),
    "randint": ("import torch\nr = torch.randint(0, 5, (3,), requires_grad=True)\n", [(2, 0)]),
    "randperm": ("import torch\nr = torch.randperm(4, requires_grad=True)\n", [(2, 0)]),
    "full_int_fill": ("import torch\nf = torch.full((3,), 7, requires_grad=True)\n", [(2, 0)]),
    "parameter_of_int": ("import torch\nimport torch.nn as nn\np = nn.Parameter(torch.tensor([1, 2]))\n", [(3, 5)]),
    "parameter_in_class": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.idx = nn.Parameter(torch.arange(4))
        """, [(7, 20)]),
    "method_on_int": ("import torch\nt = torch.tensor([1, 2])\nt.requires_grad_()\n", [(3, 1)]),
    "attr_on_int": ("import torch\nt = torch.tensor([1, 2])\nt.requires_grad = True\n", [(3, 1)]),
    "method_after_long": ("import torch\nt = torch.randn(3).long()\nt.requires_grad_(True)\n", [(3, 1)]),
    "in_loop_function": (
        "import torch\ndef make(n):\n    out = []\n    for i in range(n):\n        out.append(torch.tensor([i, 1], dtype=torch.int64, requires_grad=True))\n    return out\n",
        [(5, 0)]),
}

GOOD = {
    "float_literals": "import torch\nw = torch.tensor([1., 2., 3.], requires_grad=True)\n",
    "mixed_literals": "import torch\nw = torch.tensor([1, 2.5], requires_grad=True)\n",
    "complex": "import torch\nw = torch.tensor([1+1j], requires_grad=True)\n",
    "float_dtype": "import torch\ns = torch.arange(5, dtype=torch.float32, requires_grad=True)\nz = torch.zeros(3, dtype=torch.double, requires_grad=True)\n",
    "randn": "import torch\nw = torch.randn(3, requires_grad=True)\nv = torch.rand(2, 2, requires_grad=True)\n",
    "zeros_default": "import torch\nw = torch.zeros(3, requires_grad=True)\no = torch.ones(3, requires_grad=True)\n",
    "linspace_range": "import torch\nl = torch.linspace(0, 4, 5, requires_grad=True)\n",
    "arange_float": "import torch\na = torch.arange(0, 1, 0.1, requires_grad=True)\nb = torch.arange(5., requires_grad=True)\n",
    "arange_unknown": "import torch\ndef f(n):\n    return torch.arange(n, requires_grad=True)\n",
    "randint_float_dtype": "import torch\nr = torch.randint(0, 5, (3,), dtype=torch.float32, requires_grad=True)\n",
    "full_float": "import torch\nf = torch.full((3,), 7., requires_grad=True)\n",
    "int_without_grad": "import torch\nidx = torch.tensor([1, 2])\npos = torch.arange(5)\nr = torch.randint(0, 5, (3,))\n",
    "requires_grad_false": "import torch\nidx = torch.tensor([1, 2], requires_grad=False)\nt = torch.tensor([1, 2])\nt.requires_grad_(False)\n",
    "requires_grad_variable": "import torch\nidx = torch.tensor([1, 2], requires_grad=flag)\n",
    "unknown_data": "import torch\nw = torch.tensor(data, requires_grad=True)\n",
    "parameter_of_float": "import torch\nimport torch.nn as nn\np = nn.Parameter(torch.tensor([1., 2]))\nq = nn.Parameter(torch.arange(3), requires_grad=False)\n",
    "float_after_int": "import torch\nt = torch.tensor([1, 2]).float()\nt.requires_grad_()\n",
    "pytest_raises": "import torch\nimport pytest\nwith pytest.raises(RuntimeError):\n    torch.tensor([1, 2], requires_grad=True)\n",
    "test_file": "import torch\nw = torch.tensor([1, 2, 3], requires_grad=True)\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_reported(name):
    snippet, expected = BAD[name]
    lines = textwrap.dedent(snippet).splitlines()
    # reported at the `requires_grad=` keyword when there is one, else at the call / statement
    want = [(row, lines[row - 1].index("requires_grad=") + 1 if col == 0 else col) for row, col in expected]
    assert cols(snippet) == want


@pytest.mark.parametrize("name", sorted(GOOD))
def test_silent(name):
    filename = "tests/test_dtypes.py" if name == "test_file" else "train.py"
    assert cols(GOOD[name], filename) == []


def test_messages_quote_the_error_variant():
    assert "Only Tensors of floating point and complex dtype" in diags(BAD["int_literals"][0])[0].message
    assert "only Tensors of floating point dtype can require" in diags(BAD["method_on_int"][0])[0].message
    assert "only Tensors of floating point and complex dtype" in diags(BAD["attr_on_int"][0])[0].message


# ----------------------------------------------------------------------------- fixes (issue 5)

from gradlint.linter import lint_fix as apply_fixes  # noqa: E402


def fixed(snippet: str, unsafe: bool = False) -> str:
    result = apply_fixes(textwrap.dedent(snippet), "train.py", Settings(selected=frozenset({"GL015"})), unsafe=unsafe)
    assert not result.error, result.error
    return result.source


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import torch\nw = torch.tensor([1, 2, 3], requires_grad=True)\n",
         "import torch\nw = torch.tensor([1., 2., 3.], requires_grad=True)\n"),
        ("import torch\nw = torch.tensor([[1, -2], [3, 4]], requires_grad=True)\n",
         "import torch\nw = torch.tensor([[1., -2.], [3., 4.]], requires_grad=True)\n"),
        ("import torch\ns = torch.arange(5, requires_grad=True)\n", "import torch\ns = torch.arange(5., requires_grad=True)\n"),
        ("import torch\nf = torch.full((3,), 7, requires_grad=True)\n", "import torch\nf = torch.full((3,), 7., requires_grad=True)\n"),
        ("import torch as T\nr = T.randint(0, 5, (3,), requires_grad=True)\n",
         "import torch as T\nr = T.randint(0, 5, (3,), dtype=T.float32, requires_grad=True)\n"),
        ("import torch\nN = 4\ns = torch.arange(N, requires_grad=True)\n",
         "import torch\nN = 4\ns = torch.arange(N, dtype=torch.float32, requires_grad=True)\n"),
    ],
)
def test_safe_fix(before, after):
    assert fixed(before) == after
    assert cols(after) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import torch\nz = torch.zeros(3, dtype=torch.long, requires_grad=True)\n",
         "import torch\nz = torch.zeros(3, dtype=torch.float32, requires_grad=True)\n"),
        ("import torch\nt = torch.tensor([1, 2])\nt.requires_grad_()\n",
         "import torch\nt = torch.tensor([1, 2])\nt = t.float().requires_grad_()\n"),
        ("import torch\nt = torch.tensor([1, 2])\nt.requires_grad = True\n",
         "import torch\nt = torch.tensor([1, 2])\nt = t.float().requires_grad_()\n"),
        ("import torch\ntry:\n    w = torch.tensor([1, 2], requires_grad=True)\nexcept RuntimeError:\n    w = None\n",
         "import torch\ntry:\n    w = torch.tensor([1., 2.], requires_grad=True)\nexcept RuntimeError:\n    w = None\n"),
    ],
)
def test_unsafe_fix_only_with_unsafe_fixes(before, after):
    assert fixed(before) == textwrap.dedent(before)
    assert fixed(before, unsafe=True) == after
    assert cols(after) == []


def test_no_fix_for_bool_and_parameter():
    for src in ("import torch\nm = torch.tensor([True], requires_grad=True)\n",
                "import torch\nimport torch.nn as nn\np = nn.Parameter(torch.tensor([1, 2]))\n"):
        assert fixed(src, unsafe=True) == src


@pytest.mark.parametrize("made, reported", [
    ("out.argmax(1)", True),
    ("out.argsort(dim=1)", True),
    # look-alikes: the scores themselves, or the indices made float first
    ("out.softmax(1)", False),
    ("out.argmax(1).float()", False),
])
def test_indices_from_argmax_are_integers(made, reported):
    code = f"""
        import torch
        import torch.nn as nn
        model = nn.Linear(4, 3)
        out = model(torch.randn(2, 4)).detach()
        pred = {made}
        pred.requires_grad = True
    """
    assert _rows("GL015", code) == ([7] if reported else [])
