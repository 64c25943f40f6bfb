"""Fixes that are right, not only parsable (issue 14, item 6): the wrong-fix classes found on the library
corpus, each with the look-alikes that must keep their fix; and the layout of the fix pipeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from gradlint.linter import lint_fix, lint_source
from gradlint.rules import ALL_RULES
from gradlint.settings import Settings

EVERY_RULE = Settings(selected=frozenset(r.code for r in ALL_RULES))


def fixed(src: str, settings: Settings = EVERY_RULE, *, unsafe: bool = True):
    r = lint_fix(textwrap.dedent(src), "train.py", settings, unsafe=unsafe)
    assert r.error is None, r.error
    return r


# ------------------------------------------------------------------ 1. no torch brought into a torch-less file


TORCHLESS = """\
import numpy as np
w = torch.zeros(3, requires_grad=True)
w -= 0.1 * w.grad
for p in model.parameters():
    p.data -= 0.1 * p.grad
x = p.data
"""


@pytest.mark.parametrize("src", [TORCHLESS, TORCHLESS.replace("import numpy as np\n", "")],
                         ids=["imports-numpy-only", "imports-nothing"])
def test_a_file_that_imports_no_torch_gets_findings_but_no_fix(src):
    res = lint_source(src, "snippet.py", EVERY_RULE)
    assert {d.code for d in res.diagnostics} >= {"GL001", "GL003"}  # still reported ...
    assert all(d.fix is None for d in res.diagnostics)  # ... but never "fixed" with torch code
    r = lint_fix(src, "snippet.py", EVERY_RULE, unsafe=True)
    assert r.error is None and r.source == src and r.fixed == 0


def test_the_same_code_importing_torch_is_fixed_and_the_import_is_not_duplicated():
    r = fixed("import torch\n" + TORCHLESS)
    assert r.source.count("import torch") == 1 and "with torch.no_grad():" in r.source


def test_cli_fix_leaves_a_torchless_file_untouched(tmp_path):
    f = tmp_path / "snippet.py"
    f.write_text(TORCHLESS)
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", "--unsafe-fixes", str(f)],
                         capture_output=True, text=True)
    assert res.returncode == 1, res.stderr  # findings remain, nothing fixed
    assert f.read_text() == TORCHLESS and "import torch" not in f.read_text()


# ------------------------------------------------------------------ 2. GL003: `p.data = ...` keeps dtype/device/shape

GL003 = Settings(selected=frozenset({"GL003"}))
LOOP = "import torch\nimport torch.nn as nn\nmodel = nn.Linear(3, 2)\nfor p in model.parameters():\n    p.data = {}\n"


@pytest.mark.parametrize("rhs", [
    "p.data.to(torch.float32)", "p.data.float()", "p.data.half()", "p.data.cuda()", "p.data.cpu()",
    "p.data.view(-1)", "p.data.t()", "p.data[0]", "p.data + noise", "p.data + torch.zeros(3)",
    "p.data.to(dtype)", "p.data * mask.float()", "p.data.clamp(lo, hi)",
])
def test_a_rebinding_that_may_change_dtype_device_or_shape_gets_no_fix(rhs):
    src = LOOP.format(rhs)
    res = lint_source(src, "t.py", GL003)
    assert [d.code for d in res.diagnostics] == ["GL003"]
    assert res.diagnostics[0].fix is None, res.diagnostics[0].fix


KEEPS = ["p.data - 0.1 * p.grad.data", "p.data - lr * p.grad", "p.data * 0.5", "0.9 * p.data + 0.1 * p.grad",
         "p.data.clamp(-1, 1)", "-p.data", "p.data / 2 - lr * p.grad ** 2", "p.data.mul(0.5).add(p.grad)"]


@pytest.mark.parametrize("rhs", KEEPS)
def test_a_rebinding_that_keeps_them_is_fixed_and_computes_the_same_in_bf16(rhs):
    torch = pytest.importorskip("torch")
    src = LOOP.format(rhs)
    r = fixed(src, GL003)
    assert r.fixed == 1 and ".data" not in r.source.split("for p in")[1], r.source

    def run(code: str):
        torch.manual_seed(0)
        ns: dict = {"lr": 0.01}
        exec(compile(code.replace("model = nn.Linear(3, 2)\n",
                                  "model = nn.Linear(3, 2).to(torch.bfloat16)\n"
                                  "model(torch.ones(1, 3, dtype=torch.bfloat16)).sum().backward()\n"), "t.py", "exec"), ns)
        return [(p.dtype, p.shape, p.detach().clone()) for p in ns["model"].parameters()]

    for (d0, s0, v0), (d1, s1, v1) in zip(run(src), run(r.source)):
        assert d0 == d1 == torch.bfloat16 and s0 == s1 and torch.equal(v0, v1)


def test_the_bf16_case_of_the_corpus():
    torch = pytest.importorskip("torch")
    src = ("import torch\nimport torch.nn as nn\nmodel = nn.Linear(2, 2).to(torch.bfloat16)\n"
           "for p in model.parameters():\n    p.data = p.data.to(torch.float32)\n")
    r = fixed(src, GL003)
    assert r.source == src  # the finding stays, without the fix that kept the parameter bf16
    ns: dict = {}
    exec(src, ns)
    assert all(p.dtype == torch.float32 for p in ns["model"].parameters())


# ------------------------------------------------------------------ 3. GL015: integer indices are not cured by floats

GL015 = Settings(selected=frozenset({"GL015"}))


@pytest.mark.parametrize("use", [
    "out = emb(idx)",
    "out = nn.functional.embedding(idx, emb.weight)",
    "out = emb.weight[idx]",
    "out = emb.weight[idx, 0]",
    "out = torch.gather(emb.weight, 0, idx.view(-1, 1).expand(-1, 4))",
    "out = emb.weight.index_select(0, idx.view(-1))",
    "out = nn.functional.cross_entropy(emb.weight[:2], idx.view(-1))",
    "out = criterion(emb.weight[:2], idx.view(-1))",
])
def test_an_integer_tensor_used_as_indices_gets_requires_grad_removed_not_floats(use):
    torch = pytest.importorskip("torch")
    src = ("import torch\nimport torch.nn as nn\nemb = nn.Embedding(20, 4)\ncriterion = nn.CrossEntropyLoss()\n"
           f"idx = torch.tensor([[2, 1]], requires_grad=True)\n{use}\n")
    res = lint_source(src, "t.py", GL015)
    assert [d.code for d in res.diagnostics] == ["GL015"]
    fix = res.diagnostics[0].fix
    assert fix is not None and fix.applicability.value == "unsafe" and "Remove `requires_grad=True`" in fix.message
    r = fixed(src, GL015)
    assert "idx = torch.tensor([[2, 1]])\n" in r.source and "2." not in r.source
    with pytest.raises(RuntimeError, match="floating point"):
        exec(src, {})
    exec(r.source, {})  # the fixed program runs: the indices are still integers


def test_an_integer_tensor_used_as_numbers_still_becomes_float():
    src = ("import torch\nw = torch.tensor([1, 2], requires_grad=True)\nidx = torch.tensor([0])\n"
           "y = (w * 2)[idx]\n")  # `w` is data (indexed by idx), not the indices
    r = fixed(src, GL015)
    assert "w = torch.tensor([1., 2.], requires_grad=True)" in r.source


# ------------------------------------------------------------------ 4. every fix converges


def test_gl005_is_silent_under_set_grad_enabled_true_as_under_enable_grad():
    for ctx in ("torch.set_grad_enabled(True)", "torch.set_grad_enabled(mode=True)", "torch.enable_grad()"):
        src = (f"import torch\ndef evaluate(model, loader):\n    model.eval()\n    with {ctx}:\n"
               "        for x, y in loader:\n            out = model(x)\n")
        assert lint_source(src, "t.py", EVERY_RULE).diagnostics == [], ctx
    still = ("import torch\ndef evaluate(model, loader):\n    model.eval()\n    with torch.set_grad_enabled(flag):\n"
             "        pass\n    for x, y in loader:\n        out = model(x)\n")
    assert [d.code for d in lint_source(still, "t.py", EVERY_RULE).diagnostics] == ["GL005"]


def test_cli_fix_of_the_corpus_gl005_case_exits_cleanly(tmp_path):
    f = tmp_path / "ev.py"
    src = ("import torch\ndef evaluate(model, loader):\n    model.eval()\n    with torch.set_grad_enabled(True):\n"
           "        for x, y in loader:\n            out = model(x)\n")
    f.write_text(src)
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", "--unsafe-fixes", str(f)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f.read_text() == src


# ------------------------------------------------------------------ the pipeline's layout (no import cycle)


@pytest.mark.parametrize("module, must_not_load", [
    ("gradlint.fix", ("gradlint.linter", "gradlint.notebook", "gradlint.rules", "gradlint.cli")),
    ("gradlint.edits", ("gradlint.linter", "gradlint.fix", "gradlint.notebook", "gradlint.cli")),
    ("gradlint.linter", ("gradlint.notebook", "gradlint.cli")),
    ("gradlint.cli", ("libcst", "gradlint.fix", "gradlint.linter")),
])
def test_fix_modules_import_one_way(module, must_not_load):
    code = (f"import sys, {module}\nbad = [m for m in {must_not_load!r} if m in sys.modules]\n"
            "assert not bad, bad\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# ------------------------------------------------------------------ notebooks


def _nb(path, cells: list[str]) -> None:
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": c.splitlines(keepends=True)} for c in cells],
        "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}, indent=1))


def _cells(path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


CELLS = [
    "import torch\nw = torch.randn(3, requires_grad=True)\nw.sum().backward()\n",
    "w -= 0.1 * w.grad\n%timeit w.sum()\nw.grad.zero_()\n",
    "def exercise(:\n    # TODO\n",
    "b = torch.ones(2, requires_grad=True)\nb += 1\n",
]


def test_cli_check_reports_the_unparsable_cell_and_checks_the_others(tmp_path):
    nb = tmp_path / "course.ipynb"
    _nb(nb, CELLS)
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--output-format", "concise",
                          str(nb)], capture_output=True, text=True)
    assert res.returncode == 2  # a cell could not be checked
    assert "cell 3:1:14: syntax error" in res.stderr and "the other cells are" in res.stderr
    found = [re.search(r":cell (\d+:\d+:\d+): GL001 ", line).group(1) for line in res.stdout.splitlines()]
    assert found == ["2:1:1", "4:2:1"]


def test_cli_fix_fixes_the_other_cells_and_keeps_magics_outside_the_wrap(tmp_path):
    nb = tmp_path / "course.ipynb"
    _nb(nb, CELLS)
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", str(nb)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "(2 fixed, 0 remaining)" in res.stderr, res.stderr
    cells = _cells(nb)
    assert cells[1] == "with torch.no_grad():\n    w -= 0.1 * w.grad\n%timeit w.sum()\nw.grad.zero_()\n"
    assert cells[2] == CELLS[2]  # the broken cell is left as it is
    assert cells[3] == "b = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n    b += 1\n"


def test_magic_between_two_updates_splits_the_wrap(tmp_path):
    nb = tmp_path / "m.ipynb"
    _nb(nb, ["import torch\nw = torch.randn(3, requires_grad=True)\nw.sum().backward()\n"
             "w -= 0.1 * w.grad\n%time w.sum()\nw += 1\n"])
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", str(nb)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert _cells(nb)[0].endswith("with torch.no_grad():\n    w -= 0.1 * w.grad\n%time w.sum()\n"
                                  "with torch.no_grad():\n    w += 1\n")


def test_updates_in_two_cells_are_wrapped_per_cell(tmp_path):
    # udacity's "Part 2 - Neural Networks in PyTorch": `.data` writes ending one cell and starting the next
    # were wrapped in one `with` block across the cell boundary (refused: "a fix moved text across cells")
    nb = tmp_path / "init.ipynb"
    _nb(nb, ["import torch\nimport torch.nn as nn\nmodel = nn.Linear(3, 2)\n",
             "# zero biases\nmodel.bias.data.fill_(0)", "# normal weights\nmodel.weight.data.normal_(std=0.01)"])
    res = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", "--unsafe-fixes", str(nb)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    cells = _cells(nb)
    assert cells[1] == "# zero biases\nwith torch.no_grad():\n    model.bias.fill_(0)"
    assert cells[2] == "# normal weights\nwith torch.no_grad():\n    model.weight.normal_(std=0.01)"


# ------------------------------------------------------------------ GL004: no eval mode leaking into training

EVAL_IN_TRAINING = """\
import torch
import torch.nn as nn

def train(net, features, labels, data_iter, loss, optimizer):
    def eval_loss():
        return loss(net(features), labels).item()

    ls = [eval_loss()]
    for X, y in data_iter:
        l = loss(net(X), y)
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        ls.append(eval_loss())
    return ls


def evaluate(model, val_loader):
    return [model(x) for x, _ in val_loader]


def main(model, val_loader):
    print(evaluate(model, val_loader))
"""


def test_gl004_no_fix_for_an_evaluation_function_called_from_training_code():
    # (d2l's train_ch7: `eval_loss()` every 100 batches; `net.eval()` at its start would leave the rest of
    # training in eval mode — and there `net` is a plain function, so it would raise)
    found = {(d.code, d.location.row): d.fix for d in lint_source(EVAL_IN_TRAINING, "t.py", EVERY_RULE).diagnostics}
    assert found[("GL004", 6)] is None
    assert found[("GL004", 19)] is not None  # the look-alike: evaluate() is called from main(), which does not train
    r = fixed(EVAL_IN_TRAINING)
    assert "net.eval()" not in r.source and "    model.eval()\n    return [model(x)" in r.source


def test_gl003_no_fix_on_a_lazy_modules_parameter():
    # d2l's LinearRegression: `self.net = nn.LazyLinear(1)` then `self.net.weight.data.normal_(0, 0.01)`.
    # `.data` of an UninitializedParameter works; `normal_()` under no_grad raises ValueError
    torch = pytest.importorskip("torch")
    src = ("import torch\nimport torch.nn as nn\nclass LinearRegression(nn.Module):\n    def __init__(self):\n"
           "        super().__init__()\n        self.net = nn.LazyLinear(1)\n        self.net.weight.data.normal_(0, 0.01)\n"
           "        self.other = nn.Linear(2, 1)\n        self.other.weight.data.normal_(0, 0.01)\n"
           "m = LinearRegression()\n")
    diags = lint_source(src, "t.py", Settings(selected=frozenset({"GL003"}))).diagnostics
    assert [(d.location.row, d.fix is not None) for d in diags] == [(7, False), (9, True)]
    r = fixed(src, Settings(selected=frozenset({"GL003"})))
    assert "self.net.weight.data.normal_(0, 0.01)" in r.source and "self.other.weight.normal_(0, 0.01)" in r.source
    exec(r.source, {})  # runs (the fix on the lazy parameter raised ValueError)
    assert torch is not None


def test_gl003_no_detach_fix_for_a_no_op_freeze():
    # transformers' dab_detr: `weight.data[:, :2].requires_grad = False` became
    # `weight.detach()[:, :2].requires_grad = False`: the same no-op, the finding silenced
    src = ("import torch\nimport torch.nn as nn\nemb = nn.Embedding(4, 3)\n"
           "emb.weight.data[:, :2].requires_grad = False\nemb.weight.data.requires_grad_(False)\n"
           "v = emb.weight.data[:, :2].sum()\n")
    diags = lint_source(src, "t.py", Settings(selected=frozenset({"GL003", "GL017"}))).diagnostics
    # the freezes are GL017's (a flag set on a temporary), with no fix; GL003 keeps its .detach() fix for the read
    assert [(d.location.row, d.code, d.fix is not None) for d in diags] == [
        (4, "GL017", False), (5, "GL017", False), (6, "GL003", True)]


def test_gl003_reading_requires_grad_of_data_keeps_its_fix():
    src = "import torch\nx = torch.ones(1, requires_grad=True)\nprint(x.data.requires_grad)\n"
    r = fixed(src, Settings(selected=frozenset({"GL003"})))
    assert "print(x.detach().requires_grad)" in r.source
