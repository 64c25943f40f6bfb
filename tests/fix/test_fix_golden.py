"""Golden tests of the fixes (issue 5): input -> expected output of `--fix --unsafe-fixes`, and each is
idempotent (a second pass changes nothing) and leaves gradlint silent on the rule it fixed."""

from __future__ import annotations

import pytest

from gradlint.linter import lint_fix
from gradlint.settings import Settings

ALL = Settings(selected=frozenset({"GL001", "GL002", "GL003", "GL004", "GL005"}))


def fix(src: str, *, unsafe: bool = True, settings: Settings = ALL):
    r = lint_fix(src, "train.py", settings, unsafe=unsafe)
    assert r.error is None, r.error
    again = lint_fix(r.source, "train.py", settings, unsafe=unsafe)
    assert again.source == r.source and again.fixed == 0, "not idempotent"
    return r


GOLDEN = {
    # GL001 -------------------------------------------------------------------------------------
    "gl001_alias_loop": (
        "import torch as T\n\n\ndef step(model, lr):\n    for p in model.parameters():\n"
        "        # update\n        p -= lr * p.grad\n        p.grad.zero_()\n",
        "import torch as T\n\n\ndef step(model, lr):\n    with T.no_grad():\n        for p in model.parameters():\n"
        "            # update\n            p -= lr * p.grad\n            p.grad.zero_()\n",
    ),
    "gl001_from_import": (
        "from torch import no_grad, randn\nw = randn(3, requires_grad=True)\nw.mul_(0.5)\n",
        "from torch import no_grad, randn\nw = randn(3, requires_grad=True)\nwith no_grad():\n    w.mul_(0.5)\n",
    ),
    "gl001_import_added_after_docstring_and_future": (
        '"""Doc."""\nfrom __future__ import annotations\n\nimport torch.nn as nn\n\nemb = nn.Embedding(5, 3)\n'
        "emb.weight.copy_(pretrained)\n",
        '"""Doc."""\nfrom __future__ import annotations\n\nimport torch\nimport torch.nn as nn\n\nemb = nn.Embedding(5, 3)\n'
        "with torch.no_grad():\n    emb.weight.copy_(pretrained)\n",
    ),
    "gl001_nested_blocks_comments_blank_lines": (
        "import torch\n\n\nclass Trainer:\n    def step(self, model, lr):\n        if lr > 0:\n"
        "            for group in self.opt.param_groups:\n                for p in group[\"params\"]:\n"
        "                    # SGD step\n                    if p.grad is None:\n                        continue\n"
        "                    p -= lr * p.grad  # update\n\n                    p.grad.zero_()\n",
        "import torch\n\n\nclass Trainer:\n    def step(self, model, lr):\n        if lr > 0:\n"
        "            with torch.no_grad():\n                for group in self.opt.param_groups:\n"
        "                    for p in group[\"params\"]:\n                        # SGD step\n"
        "                        if p.grad is None:\n                            continue\n"
        "                        p -= lr * p.grad  # update\n\n                        p.grad.zero_()\n",
    ),
    "gl001_adjacent_updates_one_block": (
        "import torch\nw = torch.randn(3, requires_grad=True)\nb = torch.zeros(1, requires_grad=True)\n"
        "(w.sum() + b).backward()\nw -= 0.1 * w.grad\nb -= 0.1 * b.grad\nprint(w, b)\n",
        "import torch\nw = torch.randn(3, requires_grad=True)\nb = torch.zeros(1, requires_grad=True)\n"
        "(w.sum() + b).backward()\nwith torch.no_grad():\n    w -= 0.1 * w.grad\n    b -= 0.1 * b.grad\nprint(w, b)\n",
    ),
    "gl001_tabs": (
        "import torch\n\ndef f(model):\n\tfor p in model.parameters():\n\t\tp.add_(p.grad, alpha=-0.1)\n",
        "import torch\n\ndef f(model):\n\twith torch.no_grad():\n\t\tfor p in model.parameters():\n"
        "\t\t\tp.add_(p.grad, alpha=-0.1)\n",
    ),
    "gl001_crlf": (
        "import torch\r\nw = torch.randn(3, requires_grad=True)\r\nw += 1\r\nprint(w)\r\n",
        "import torch\r\nw = torch.randn(3, requires_grad=True)\r\nwith torch.no_grad():\r\n    w += 1\r\nprint(w)\r\n",
    ),
    "gl001_no_newline_at_eof": (
        "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1",
        "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w += 1",
    ),
    "gl001_two_space_indent": (
        "import torch\ndef f(m):\n  for p in m.parameters():\n    p -= p.grad\n",
        "import torch\ndef f(m):\n  with torch.no_grad():\n    for p in m.parameters():\n      p -= p.grad\n",
    ),
    # GL002 -------------------------------------------------------------------------------------
    "gl002_standalone_outside_no_grad": (
        "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\nfor _ in range(3):\n"
        "    (w * w).sum().backward()\n    w = w - 0.1 * w.grad  # step\n",
        "import torch\nw = torch.tensor([1.0, 2.0], requires_grad=True)\nfor _ in range(3):\n"
        "    (w * w).sum().backward()\n    with torch.no_grad():\n        w -= 0.1 * w.grad  # step\n",
    ),
    "gl002_method_inside_no_grad_alias": (
        "import torch\nfrom torch import no_grad as ng\nwith ng():\n    for p in model.parameters():\n"
        "        p = p.sub(0.1 * p.grad, alpha=1)\n",
        "import torch\nfrom torch import no_grad as ng\nwith ng():\n    for p in model.parameters():\n"
        "        p.sub_(0.1 * p.grad, alpha=1)\n",
    ),
    "gl002_other_expression_copy": (
        "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p = torch.clamp(p - p.grad, -1, 1)\n",
        "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p.copy_(torch.clamp(p - p.grad, -1, 1))\n",
    ),
    # GL003 -------------------------------------------------------------------------------------
    "gl003_writes_and_reads": (
        "import torch as T\n\n\ndef train(model, x, y, lr):\n    out = model(x)\n"
        "    acc = (out.data.argmax(1) == y).float().mean()\n    for p in model.parameters():\n"
        "        p.data.add_(p.grad.data, alpha=-lr)  # sgd\n    for p in model.parameters():\n"
        "        p.grad.data.zero_()\n    w = model.weight\n    w.data = w.data - lr * w.grad.data\n"
        "    w.data[0] = 0\n    with T.no_grad():\n        w.data.mul_(0.5)\n    return acc\n",
        "import torch as T\n\n\ndef train(model, x, y, lr):\n    out = model(x)\n"
        "    acc = (out.detach().argmax(1) == y).float().mean()\n    with T.no_grad():\n"
        "        for p in model.parameters():\n            p.add_(p.grad, alpha=-lr)  # sgd\n"
        "    for p in model.parameters():\n        p.grad.zero_()\n    w = model.weight\n    with T.no_grad():\n"
        "        w -= lr * w.grad\n        w[0] = 0\n    with T.no_grad():\n        w.mul_(0.5)\n    return acc\n",
    ),
    # GL004 / GL005 -----------------------------------------------------------------------------
    "gl004_gl005_function_and_loop": (
        '"""Eval."""\nimport torch.nn as nn\n\n\nclass Trainer:\n    @staticmethod\n    def evaluate(model, loader):\n'
        '        """Docstring."""\n        total = 0\n        for x, y in loader:\n'
        "            total += (model(x).argmax(1) == y).sum()\n        return total\n\n\n"
        "def main(net, val_loader):\n    for x, y in val_loader:\n        print(net(x))\n",
        '"""Eval."""\nimport torch\nimport torch.nn as nn\n\n\nclass Trainer:\n    @staticmethod\n    @torch.no_grad()\n'
        '    def evaluate(model, loader):\n        """Docstring."""\n        model.eval()\n        total = 0\n'
        "        for x, y in loader:\n            total += (model(x).argmax(1) == y).sum()\n        return total\n\n\n"
        "def main(net, val_loader):\n    net.eval()\n    with torch.no_grad():\n        for x, y in val_loader:\n"
        "            print(net(x))\n",
    ),
    "gl005_alias_decorator_and_gl004_self_model": (
        "import torch as T\n\n\nclass Evaluator:\n    def validate(self, loader):\n        total = 0\n"
        "        for x, y in loader:\n            total += self.net(x).sum()\n        return total\n",
        "import torch as T\n\n\nclass Evaluator:\n    @T.no_grad()\n    def validate(self, loader):\n"
        "        self.net.eval()\n        total = 0\n"
        "        for x, y in loader:\n            total += self.net(x).sum()\n        return total\n",
    ),
    "gl005_from_import_alias_loop_crlf_tabs": (
        "from torch import no_grad as ng\r\nimport torch\r\n\r\ndef main(net, val_loader):\r\n\tnet.eval()\r\n"
        "\tfor x, y in val_loader:\r\n\t\t# predict\r\n\t\tprint(net(x))\r\n",
        "from torch import no_grad as ng\r\nimport torch\r\n\r\ndef main(net, val_loader):\r\n\tnet.eval()\r\n"
        "\twith ng():\r\n\t\tfor x, y in val_loader:\r\n\t\t\t# predict\r\n\t\t\tprint(net(x))\r\n",
    ),
    "gl004_eval_loop_in_training_function_restores_train": (
        "import torch as T\n\n\ndef train(model, loader, val_loader):\n    for epoch in range(3):\n"
        "        for x, y in loader:\n            model(x).sum().backward()\n        correct = 0\n"
        "        for x, y in val_loader:\n            correct += (model(x).argmax(1) == y).sum()\n    return correct\n",
        "import torch as T\n\n\ndef train(model, loader, val_loader):\n    for epoch in range(3):\n"
        "        for x, y in loader:\n            model(x).sum().backward()\n        correct = 0\n        model.eval()\n"
        "        for x, y in val_loader:\n            correct += (model(x).argmax(1) == y).sum()\n"
        "        model.train()\n    return correct\n",
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name):
    src, expected = GOLDEN[name]
    r = fix(src)
    assert r.source == expected
    assert r.remaining == []
    assert r.fixed >= 1


def test_crlf_output_has_no_bare_newlines():
    src, _ = GOLDEN["gl001_crlf"]
    out = fix(src).source
    assert out.count("\n") == out.count("\r\n")


def test_semicolon_line_is_not_wrapped():
    src = "import torch\nw = torch.randn(3, requires_grad=True)\ny = 2 * w; w += 1\n"
    r = lint_fix(src, "t.py", ALL, unsafe=True)
    assert r.source == src and r.fixed == 0 and [d.code for d in r.remaining] == ["GL001"]


def test_safe_only_leaves_unsafe_findings():
    src = "import torch\nw = torch.tensor([1.0], requires_grad=True)\nw = w - 0.1 * w.grad\nv = torch.randn(2, requires_grad=True)\nv += 1\n"
    r = fix(src, unsafe=False)
    assert "with torch.no_grad():\n    v += 1\n" in r.source
    assert "w = w - 0.1 * w.grad" in r.source
    assert [d.code for d in r.remaining] == ["GL002"]


def test_noqa_suppressed_finding_is_not_fixed():
    src = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1  # noqa: GL001\n"
    r = lint_fix(src, "t.py", ALL, unsafe=True)
    assert r.source == src and r.fixed == 0 and r.remaining == []


def test_safety_classes():
    from gradlint.linter import lint_source

    src = (
        "import torch\n\ndef f(model, x):\n    a = model(x).data\n    for p in model.parameters():\n"
        "        p.grad.data.zero_()\n    for p in model.parameters():\n        p.data.mul_(0.5)\n"
    )
    diags = lint_source(src, "t.py", ALL).diagnostics
    kinds = {(d.location.row, d.fix.applicability.value) for d in diags if d.fix}
    assert kinds == {(4, "safe"), (6, "safe"), (8, "unsafe")}


def test_create_graph_makes_grad_data_fix_unsafe():
    from gradlint.linter import lint_source

    src = "import torch\ng = torch.autograd.grad(l, w, create_graph=True)\nfor p in model.parameters():\n    p.grad.data.zero_()\n"
    d = lint_source(src, "t.py", ALL).diagnostics
    assert [x.fix.applicability.value for x in d] == ["unsafe"]


def test_data_in_a_tuple_target_gets_no_read_fix():
    # transformers' quantizer_higgs.py: `.data` as an assignment target cannot become `.detach()`
    src = ("import torch\n\ndef f(model, repack):\n    for p in model.parameters():\n"
           "        p.data, meta = repack(weight=p.data)\n")
    r = fix(src)
    assert r.source == src.replace("weight=p.data", "weight=p.detach()")
    assert r.remaining == []  # the tuple target is a storage swap like `p.data = t`: not flagged (builder)


def test_data_then_detach_drops_data():
    # transformers' ibert/quant_modules.py: `w.data.detach()` -> `w.detach()`, not `w.detach().detach()`
    src = "import torch\n\ndef f(model, x):\n    out = model(x)\n    a = out.data.detach()\n    b = out.data.clone()\n"
    assert fix(src).source == src.replace("out.data.detach()", "out.detach()").replace("out.data.clone()", "out.detach().clone()")
