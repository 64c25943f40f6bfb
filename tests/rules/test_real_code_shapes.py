"""Shapes found on real tutorial repositories (issue 14, items 3 and 4): false alarms that must stay
silent and misses that must be found, each beside its twin."""

from __future__ import annotations

import pytest

from tests.rules._lint import rows

MXNET = """
    from mxnet import autograd, nd
    w = nd.random.normal(scale=0.01, shape=(3, 1))
    w.attach_grad()
    def sgd(params, lr, batch_size):
        for param in params:
            param[:] = param - lr * param.grad / batch_size
    x = w.data()
"""


@pytest.mark.parametrize("code", ["GL001", "GL002", "GL003"])
def test_other_frameworks_code_is_not_checked(code):
    # d2l ships an MXNet and a TensorFlow twin of each chapter: `param.grad`, `.data()` are theirs
    assert rows(code, MXNET) == []
    assert rows(code, MXNET.replace("from mxnet import autograd, nd", "import tensorflow as tf")) == []


def test_the_same_update_in_a_torch_file_is_found():
    assert rows("GL001", MXNET.replace("from mxnet import autograd, nd", "import torch")) == [7]


TRAIN_AND_VALIDATE = """
    import torch
    def train(model, trainloader, testloader, opt):
        for x, y in trainloader:
            opt.zero_grad()
            loss = model(x).sum()
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        for x, y in testloader:
            out = model(x)
            correct += (out.argmax(1) == y).sum().item()
"""


def test_gl005_validation_loop_inside_a_training_function():
    # the backward elsewhere in the function is the training, not a gradient this loop wants
    assert rows("GL005", TRAIN_AND_VALIDATE) == [12]


def test_gl005_validation_loop_inside_a_training_function_under_no_grad():
    snippet = TRAIN_AND_VALIDATE.replace("        for x, y in testloader:\n            out = model(x)",
                                         "        with torch.no_grad():\n            for x, y in testloader:\n"
                                         "                out = model(x)")
    assert rows("GL005", snippet) == []


def test_gl005_saliency_loop_still_wants_gradients():
    snippet = """
        import torch
        def saliency(model, testloader):
            model.eval()
            for x, y in testloader:
                x.requires_grad_()
                out = model(x)
                out.sum().backward()
    """
    assert rows("GL005", snippet) == []


@pytest.mark.parametrize("loader", ["testloader", "valloader", "testset", "valid_iter", 'dataloaders["val"]',
                                    "self.val_loader", "devset"])
def test_gl004_evaluation_loops_named_like_real_code(loader):
    snippet = f"""
        import torch
        def run(model, self, dataloaders, testloader, valloader, testset, valid_iter, devset):
            with torch.no_grad():
                for x, y in {loader}:
                    out = model(x)
    """
    assert rows("GL004", snippet) == [6]


@pytest.mark.parametrize("loader", ["trainloader", "train_set", "dataset", "loader", "latest"])
def test_gl004_loops_not_named_for_evaluation(loader):
    snippet = f"""
        import torch
        def run(model, trainloader, train_set, dataset, loader, latest):
            with torch.no_grad():
                for x, y in {loader}:
                    out = model(x)
    """
    assert rows("GL004", snippet) == []


GRAD_SETUP = """
    import torch
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            for p in self.parameters():
                p.grad = torch.zeros_like(p)
    def accumulate(model):
        for p in model.parameters():
            p.grad.zero_()
    def step(model, opt):
        opt.zero_grad(set_to_none=False)
        for p in model.parameters():
            p.grad.mul_(0.5)
"""


def test_gl014_gradients_set_up_when_the_module_is_built():
    assert rows("GL014", GRAD_SETUP) == []


def test_gl014_without_the_setup_only_the_unreset_loop_is_flagged():
    snippet = GRAD_SETUP.replace("            for p in self.parameters():\n                p.grad = torch.zeros_like(p)\n", "")
    assert rows("GL014", snippet) == [10]  # `step` zeroes with set_to_none=False: its grads stay tensors


def test_gl014_zero_grad_setting_to_none_still_flags():
    snippet = GRAD_SETUP.replace("            for p in self.parameters():\n                p.grad = torch.zeros_like(p)\n",
                                 "").replace("set_to_none=False", "set_to_none=True")
    assert rows("GL014", snippet) == [10, 14]


FRESH = """
    import torch
    for it in range(10):
        x = torch.randn(3, requires_grad=True)
        opt = torch.optim.SGD([x], lr=0.1)
        loss = (x ** 2).sum()
        loss.backward()
        opt.step()
"""


def test_gl007_fresh_leaf_and_fresh_optimizer_each_iteration():
    assert rows("GL007", FRESH) == []


def test_gl007_fresh_optimizer_over_a_persistent_leaf_accumulates():
    snippet = FRESH.replace("        x = torch.randn(3, requires_grad=True)\n", "").replace(
        "import torch\n", "import torch\n    x = torch.randn(3, requires_grad=True)\n")
    assert rows("GL007", snippet) == [8]


def test_gl007_fresh_optimizer_over_model_parameters_accumulates():
    snippet = FRESH.replace("[x]", "model.parameters()").replace("(x ** 2).sum()", "model(x).sum()")
    assert rows("GL007", snippet) == [8]


LEFT_IN_EVAL = """
    import torch
    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            for x, y in loader:
                out = model(x)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    evaluate(model, val_loader)
    for epoch in range(3):
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
"""


def test_gl016_training_after_a_call_that_left_the_model_in_eval_mode():
    assert rows("GL016", LEFT_IN_EVAL) == [10]


def test_gl016_direct_eval_before_the_training_loop():
    assert rows("GL016", LEFT_IN_EVAL.replace("    evaluate(model, val_loader)\n", "    model.eval()\n")) == [10]


@pytest.mark.parametrize("snippet", [
    LEFT_IN_EVAL.replace("    evaluate(model, val_loader)\n", "    evaluate(model, val_loader)\n    model.train()\n"),
    LEFT_IN_EVAL.replace("    for epoch in range(3):\n", "    for epoch in range(3):\n        model.train()\n"),
    LEFT_IN_EVAL.replace("    evaluate(model, val_loader)\n", "") + "    evaluate(model, val_loader)\n",
    LEFT_IN_EVAL.replace("    evaluate(model, val_loader)\n", "    evaluate(model, val_loader)\n    model.train(True)\n"),
])
def test_gl016_model_back_in_train_mode_before_training(snippet):
    assert rows("GL016", snippet) == []


FORWARD = """
    import torch
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embedding = nn.Parameter(torch.zeros(1, 10, 4))
            self.rnn = nn.GRU(4, 4)
            self.fc = nn.Linear(4, 4)
        def forward(self, X):
            out = X + self.pos_embedding.data[:, : X.shape[1]]
            h, _ = self.rnn(out)
            both = torch.cat((out, h.cpu().data), 0)
            return self.fc(both) + self.fc.weight.data.sum()
"""


def test_gl003_graph_cut_inside_forward():
    from gradlint.linter import lint_source
    from gradlint.settings import Settings
    import textwrap
    res = lint_source(textwrap.dedent(FORWARD), "model.py", Settings(selected=frozenset({"GL003"})))
    found = {d.location.row: d.message for d in res.diagnostics}
    assert sorted(found) == [11, 13, 14]
    assert "`pos_embedding` gets no gradient" in found[11]
    assert "the layers that computed `h`" in found[13]
    assert "`weight` gets no gradient" in found[14]
    fix = next(d.fix for d in res.diagnostics if d.location.row == 11)
    assert fix is not None and fix.applicability == "unsafe" and fix.edits[0].content == "self.pos_embedding"


@pytest.mark.parametrize("line, hygiene", [
    ("print(self.pos_embedding.data.norm().item())", True),
    ("n = self.pos_embedding.data.shape[1]", False),
    ("ok = isinstance(self.pos_embedding.data, torch.Tensor)", False),
    ("d = self.pos_embedding.data.size(1)", False),
    ("self.history.append(self.pos_embedding.data.cpu().numpy())", True),
])
def test_gl003_logging_and_metadata_in_forward_are_not_graph_cuts(line, hygiene):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings
    import textwrap
    snippet = FORWARD.replace("            return self.fc(both)", f"            {line}\n            return self.fc(both)")
    res = lint_source(textwrap.dedent(snippet), "model.py", Settings(selected=frozenset({"GL003"})))
    on_line = [d.message for d in res.diagnostics if d.location.row == 14]
    assert not any("cuts the graph" in m for m in on_line)
    assert len(on_line) == (1 if hygiene else 0)
    assert sorted({d.location.row for d in res.diagnostics} - {14}) == [11, 13, 15]


@pytest.mark.parametrize("line", [
    "n = p.data.shape", "d = p.data.dtype", "dev = p.data.device", "ok = isinstance(p.data, torch.Tensor)",
    "k = p.data.size(0)", "m = p.data.dim()",
])
def test_gl003_metadata_only_uses_are_not_findings(line):
    snippet = f"import torch\nfor p in model.parameters():\n    {line}\n"
    assert rows("GL003", snippet) == []


@pytest.mark.parametrize("line", [
    "nn.init.uniform_(m.weight.data)", "m.weight.data[:, 0].normal_()", "m.weight.data[:] += 1",
])
def test_gl003_writes_into_data_are_described_as_writes(line):
    from gradlint.linter import lint_source
    from gradlint.settings import Settings
    snippet = f"import torch\nimport torch.nn as nn\ndef init(m):\n    {line}\nnet = nn.Linear(2, 2)\nnet.apply(init)\n"
    res = lint_source(snippet, "train.py", Settings(selected=frozenset({"GL003"})))
    assert [d.location.row for d in res.diagnostics] == [4]
    assert "reads" not in res.diagnostics[0].message and "initialising" in res.diagnostics[0].message


def _tiers(code: str, snippet: str) -> dict[int, str]:
    import textwrap

    from gradlint.linter import lint_source
    from gradlint.settings import Settings
    res = lint_source(textwrap.dedent(snippet), "model.py", Settings(selected=frozenset({code})))
    return {d.location.row: d.tier for d in res.diagnostics}


def test_gl003_graph_cut_is_a_bug_other_reads_hygiene():
    snippet = FORWARD + "    x = torch.zeros(3, requires_grad=True)\n    y = x.data\n"
    tiers = _tiers("GL003", snippet)
    assert tiers[11] == tiers[13] == tiers[14] == "bug"
    assert tiers[16] == "hygiene"


def test_gl020_bare_no_grad_is_hygiene_bare_enable_grad_a_bug():
    snippet = "import torch\ntorch.no_grad()\ntorch.inference_mode()\nwith torch.no_grad():\n    torch.enable_grad()\n"
    assert _tiers("GL020", snippet) == {2: "hygiene", 3: "hygiene", 5: "bug"}
