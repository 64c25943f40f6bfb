"""Values that travel: helper arguments, `apply(fn)`, instances of the file's classes, attribute chains,
unpacked outputs, loader batches, old `Variable` leaves, per-iteration leaves, module mode set by earlier
calls, updates reached through an optimizer-like object, callables that are not modules.

First the facts (the call graph and the resolved values), then each shape as a true positive and as a
look-alike that must stay silent, through the rules that read them.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradlint.model import Kind, build_model
from gradlint.settings import RuleOptions
from tests.rules._lint import rows


def model_of(code: str):
    return build_model(cst.parse_module(textwrap.dedent(code)), RuleOptions(), "train.py")


def fn(model, name):
    return next(f for f in model.functions if f.name == name)


# ------------------------------------------------------------------ facts: the call graph


def test_parameter_value_is_joined_over_call_sites():
    m = model_of("""
        import torch
        import torch.nn as nn
        def scale(w, k):
            w.mul_(k)
        lin = nn.Linear(2, 2)
        scale(lin.weight, 2)
        scale(k=3, w=lin.bias)
    """)
    f = fn(m, "scale")
    assert len(m.calls.sites_to(f)) == 2
    v = m.calls.param_value(f, "w", 0)
    assert v.kind is Kind.LEAF and "passed to `scale()`" in v.origin
    assert m.calls.param_value(f, "k", 1).kind is Kind.OTHER  # known not to be a tensor


def test_callers_that_disagree_make_the_parameter_unknown():
    m = model_of("""
        import torch
        import torch.nn as nn
        def scale(w):
            w.mul_(2)
        scale(nn.Linear(2, 2).weight)
        scale(torch.zeros(2))
    """)
    assert m.calls.param_value(fn(m, "scale"), "w", 0).kind is Kind.UNKNOWN
    assert [op.value.kind for op in m.inplace_ops] == [Kind.UNKNOWN]


def test_no_call_site_leaves_the_parameter_unknown_and_recursion_terminates():
    m = model_of("""
        import torch
        def a(x):
            b(x)
            x.add_(1)
        def b(y):
            a(y)
            y.add_(1)
        def lonely(z):
            z.add_(1)
    """)
    assert all(op.value.kind is Kind.UNKNOWN for op in m.inplace_ops)


def test_values_pass_through_several_helpers():
    m = model_of("""
        import torch.nn as nn
        def outer(params, lr):
            inner(params, lr)
        def inner(ps, lr):
            for p in ps:
                p.add_(p.grad, alpha=-lr)
        net = nn.Linear(2, 2)
        outer(net.parameters(), 0.1)
    """)
    (op,) = m.inplace_ops
    assert op.value.kind is Kind.LEAF


def test_apply_calls_the_function_with_each_submodule():
    m = model_of("""
        import torch.nn as nn
        def weights_init(m):
            m.weight.data.normal_(0.0, 0.02)
        net = nn.Sequential(nn.Linear(2, 2))
        net.apply(weights_init)
    """)
    (site,) = m.calls.sites_to(fn(m, "weights_init"))
    assert site.via == "apply"
    (acc,) = m.data_accesses
    assert acc.value.kind is Kind.LEAF and acc.write == "inplace"


def test_methods_of_instances_are_call_sites_of_that_class_only():
    m = model_of("""
        import torch
        class MySGD:
            def __init__(self, params, lr):
                self.params = list(params)
            def step(self):
                for p in self.params:
                    p.sub_(p.grad)
        class Other:
            def step(self):
                pass
        opt = MySGD(model.parameters(), 0.1)
        other = Other()
        with torch.no_grad():
            opt.step()
        other.step()
    """)
    step = next(f for f in m.functions if f.name == "step" and f.class_info.name == "MySGD")
    assert [s.cls for s in m.call_sites(step)] == ["MySGD"]
    (op,) = m.inplace_ops
    assert op.value.kind is Kind.LEAF  # self.params holds what __init__ was passed
    assert m.mode_at(op).value == "disabled"


def test_instance_attributes_resolve_through_the_class():
    m = model_of("""
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.P = nn.Parameter(torch.zeros(3))
                self.buf = torch.zeros(3)
        class Trainer:
            def __init__(self):
                self.net = Net()
            def update(self):
                model = self.net
                model.P[0] = 1.0
                model.buf[0] = 1.0
    """)
    kinds = [op.value.kind for op in m.inplace_ops]
    assert kinds == [Kind.LEAF, Kind.TENSOR]


@pytest.mark.parametrize("code, kind", [
    ("out, (h, c) = lstm(x, (h, c))\nh.data", Kind.TENSOR),
    ("prediction, h_state = rnn(x, h_state)\nh_state.data", Kind.TENSOR),
    ("a, b = helper(x)\nb.data", None),
    ("for data, target in train_loader:\n    target.data", Kind.TENSOR),
    ("for i, (data, target) in enumerate(testloader):\n    data.data", Kind.TENSOR),
    ("for batch in loader:\n    batch.data", None),  # a dict or a BatchEncoding, whose .data is a dict
])
def test_unpacked_outputs_and_loader_batches_are_tensors(code, kind):
    m = model_of("import torch\nimport torch.nn as nn\nlstm = nn.LSTM(2, 2)\nrnn = nn.RNN(2, 2)\n" + code + "\n")
    assert [a.value.kind for a in m.data_accesses] == ([kind] if kind else [])


# ------------------------------------------------------------------ rules: true positives and look-alikes

HELPER_LEAF = """
    import torch
    import torch.nn as nn
    def init_pe(E):
        E[:, 0::2] = 1.0
    class PE(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Embedding(10, 4)
            init_pe(self.pos.weight)
    pe = PE()
"""


def test_gl001_leaf_through_a_helper_argument():
    assert rows("GL001", HELPER_LEAF) == [5]


@pytest.mark.parametrize("snippet", [
    HELPER_LEAF.replace("init_pe(self.pos.weight)", "init_pe(self.pos.weight.detach())"),
    HELPER_LEAF.replace("            init_pe(self.pos.weight)",
                        "            with torch.no_grad():\n                init_pe(self.pos.weight)"),
    HELPER_LEAF.replace("init_pe(self.pos.weight)", "init_pe(torch.zeros(10, 4))"),
    HELPER_LEAF.replace("            init_pe(self.pos.weight)", "            pass"),  # never called: unknown
])
def test_gl001_helper_lookalikes(snippet):
    assert rows("GL001", snippet) == []


def test_gl001_helper_with_one_leaf_and_one_tensor_caller_is_silent():
    snippet = HELPER_LEAF + "    init_pe(torch.zeros(10, 4))\n"
    assert rows("GL001", snippet) == []


APPLY = """
    import torch
    import torch.nn as nn
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            m.weight.data.normal_(0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            m.weight.fill_(1.0)
    netG = nn.Sequential(nn.Conv2d(1, 1, 3), nn.BatchNorm2d(1))
    netG.apply(weights_init)
"""


def test_apply_fn_writes_are_found():
    assert rows("GL003", APPLY) == [7]
    assert rows("GL001", APPLY) == [9]


@pytest.mark.parametrize("snippet", [
    APPLY.replace("netG.apply(weights_init)", "with torch.no_grad():\n        netG.apply(weights_init)"),
    APPLY.replace("m.weight.fill_(1.0)", "nn.init.constant_(m.weight, 1.0)"),
    APPLY.replace("netG.apply(weights_init)", "pass"),
])
def test_apply_lookalikes_gl001(snippet):
    assert rows("GL001", snippet) == []


CHAIN = """
    import torch
    from transformers import AutoModel
    model = AutoModel.from_pretrained("bert-base-uncased")
    l, pos = 3, 7
    model.bert.encoder.layer[l].output.dense.weight[:, pos] -= 1.0
"""


def test_gl001_parameter_at_the_end_of_an_attribute_chain():
    assert rows("GL001", CHAIN) == [6]


@pytest.mark.parametrize("snippet", [
    CHAIN.replace("    model.bert", "    with torch.no_grad():\n        model.bert"),
    CHAIN.replace("model.bert.encoder.layer[l].output.dense", "cfg.hparams.items[l].value"),  # not a module
    CHAIN.replace("dense.weight[:, pos]", "dense.weight.grad[:, pos]"),
])
def test_gl001_attribute_chain_lookalikes(snippet):
    assert rows("GL001", snippet) == []


INSTANCE = """
    import torch
    import torch.nn as nn
    class MF(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.P = nn.Parameter(torch.randn(n, 4))
            self.counts = torch.zeros(n)
    class Trainer:
        def __init__(self):
            self.net = MF(10)
        def update(self, user):
            model = self.net
            model.P[user] = 0.0
            model.counts[user] += 1
"""


def test_gl001_parameter_through_another_object():
    assert rows("GL001", INSTANCE) == [14]


def test_gl001_parameter_through_another_object_under_no_grad():
    snippet = INSTANCE.replace("            model.P[user] = 0.0",
                               "            with torch.no_grad():\n                model.P[user] = 0.0")
    assert rows("GL001", snippet) == []


VARIABLE = """
    import torch
    from torch.autograd import Variable
    w = Variable(torch.randn(3, 1), requires_grad=True)
    b = Variable(torch.zeros(1), requires_grad=True)
    params = [w, b]
    x = Variable(torch.randn(5, 3))
    loss = ((x @ w + b) ** 2).mean()
    loss.backward()
    w -= 0.1 * w.grad
    x -= 1
    for p in params:
        p.data -= 0.1 * p.grad.data
"""


def test_old_variable_leaves():
    assert rows("GL001", VARIABLE) == [10]
    assert rows("GL003", VARIABLE) == [13, 13]


def test_old_variable_lookalikes():
    snippet = VARIABLE.replace("w -= 0.1 * w.grad", "with torch.no_grad():\n        w -= 0.1 * w.grad")
    assert rows("GL001", snippet) == []


UNPACK = """
    import torch
    import torch.nn as nn
    rnn = nn.RNN(1, 32)
    h_state = None
    for step in range(10):
        x = torch.randn(10, 1, 1)
        prediction, h_state = rnn(x, h_state)
        h_state = h_state.data
"""


def test_gl003_read_of_an_unpacked_output():
    assert rows("GL003", UNPACK) == [9]


def test_gl003_unpacked_from_a_helper_is_not_known():
    assert rows("GL003", UNPACK.replace("rnn(x, h_state)", "helper(x, h_state)")) == []


LOADER = """
    import torch
    def train(model, train_loader, opt):
        for data, target in train_loader:
            out = model(data)
            loss = torch.nn.functional.cross_entropy(out, target)
            pred = out.argmax(1)
            correct = pred.eq(target.data).sum()
"""


def test_gl003_read_of_a_loader_batch():
    assert rows("GL003", LOADER) == [8]


def test_gl003_whole_batch_from_a_loader_is_not_a_tensor():
    snippet = LOADER.replace("for data, target in train_loader:", "for batch in train_loader:").replace(
        "target.data", "batch.data")
    assert rows("GL003", snippet) == []


REFRESH = """
    import torch
    s = torch.zeros(3)
    for i in range(10):
        s = s.detach().requires_grad_(True)
        loss = (s * s).sum()
        loss.backward()
        with torch.no_grad():
            s = s - 0.1 * s.grad
            s.grad.zero_()
"""


def test_gl002_per_iteration_leaf_then_grad_read_after_rebind():
    assert rows("GL002", REFRESH) == [9]


def test_gl002_per_iteration_leaf_without_grad_read_is_silent():
    assert rows("GL002", REFRESH.replace("            s.grad.zero_()\n", "")) == []


def test_gl002_leaf_made_once_before_the_loop():
    snippet = REFRESH.replace("        s = s.detach().requires_grad_(True)\n", "").replace(
        "s = torch.zeros(3)", "s = torch.zeros(3).requires_grad_(True)").replace("            s.grad.zero_()\n", "")
    assert rows("GL002", snippet) == [8]


EARLIER_EVAL = """
    import torch
    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            for x, y in loader:
                out = model(x)
    def test(model, loader):
        with torch.no_grad():
            for x, y in loader:
                out = model(x)
    evaluate(net, val_loader)
    test(net, test_loader)
"""


def test_gl004_model_put_in_eval_mode_by_an_earlier_call_is_silent():
    assert rows("GL004", EARLIER_EVAL) == []


def test_gl004_without_the_earlier_call():
    assert rows("GL004", EARLIER_EVAL.replace("    evaluate(net, val_loader)\n", "")) == [11]


def test_gl004_earlier_call_after_the_evaluation_does_not_count():
    snippet = EARLIER_EVAL.replace("    evaluate(net, val_loader)\n", "") + "    evaluate(net, val_loader)\n"
    assert rows("GL004", snippet) == [11]


CALLABLE = """
    import torch
    import torch.nn as nn
    def evaluate(model, loader):
        with torch.no_grad():
            for x, y in loader:
                out = model(x)
    def predict_fn(x):
        return x * 2
    evaluate(predict_fn, [])
    evaluate(lambda x: x, [])
"""


def test_gl004_callable_that_is_not_a_module_is_silent():
    assert rows("GL004", CALLABLE) == []


def test_gl004_module_and_callable_callers_still_flag():
    snippet = CALLABLE.replace("    evaluate(lambda x: x, [])\n", "    evaluate(nn.Linear(2, 2), [])\n")
    assert rows("GL004", snippet) == [7]


OPTIMIZER = """
    import torch
    import torch.nn as nn
    class MySGD:
        def __init__(self, params, lr):
            self.params = list(params)
            self.lr = lr
        def step(self):
            for p in self.params:
                p -= self.lr * p.grad
    model = nn.Linear(3, 3)
    opt = MySGD(model.parameters(), 0.1)
    model(torch.ones(3)).sum().backward()
    with torch.no_grad():
        opt.step()
"""


def test_gl001_update_reached_only_under_no_grad_through_an_optimizer_object():
    assert rows("GL001", OPTIMIZER) == []


def test_gl001_optimizer_object_stepped_with_grad_on():
    assert rows("GL001", OPTIMIZER.replace("    with torch.no_grad():\n        opt.step()", "    opt.step()")) == [10]


# ------------------------------------------------------------------ returns, lists of leaves, branches

RETURNS = """
    import torch
    import torch.nn as nn
    def make_leaf(n):
        return torch.zeros(n, requires_grad=True)
    def make_data(n):
        return torch.zeros(n)
    def first_layer(model):
        return model.fc
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
        def head(self):
            return self.fc
    w = make_leaf(3)
    w += 1
    d = make_data(3)
    d += 1
    net = Net()
    first_layer(net).weight.add_(1)
    net.head().bias.add_(1)
"""


def test_values_returned_by_helpers():
    assert rows("GL001", RETURNS) == [17, 21, 22]


def test_returned_values_lookalikes():
    snippet = RETURNS.replace("return torch.zeros(n, requires_grad=True)", "return torch.zeros(n)").replace(
        "first_layer(net)", "first_layer(cfg)").replace("net.head().bias", "net.head().bias.grad")
    assert rows("GL001", snippet) == []


def test_a_helper_with_mixed_returns_is_unknown():
    snippet = RETURNS.replace("        return torch.zeros(n, requires_grad=True)",
                              "        if n:\n            return torch.zeros(n, requires_grad=True)\n"
                              "        return torch.zeros(n)")
    assert 17 not in rows("GL001", snippet)


APPENDED = """
    import torch
    from torch.autograd import Variable
    params = []
    for i in range(3):
        params.append(Variable(torch.randn(3), requires_grad=True))
    for p in params:
        p.data.sub_(0.1 * p.grad.data)
"""


def test_list_of_leaves_built_by_append():
    assert rows("GL003", APPENDED) == [8, 8]


def test_list_built_by_append_of_plain_tensors_is_not_params():
    assert rows("GL003", APPENDED.replace(", requires_grad=True", "")) == [8]  # only the `.grad.data` read


BRANCHES = """
    import torch
    import torch.nn as nn
    if cond:
        y = torch.zeros(3, requires_grad=True)
    elif other:
        y = nn.Parameter(torch.zeros(3))
    else:
        y = torch.ones(3, requires_grad=True)
    y += 1
"""


def test_branches_that_agree_keep_the_value():
    assert rows("GL001", BRANCHES) == [10]


@pytest.mark.parametrize("snippet", [
    BRANCHES.replace("y = torch.ones(3, requires_grad=True)", "y = torch.ones(3)"),
    BRANCHES.replace("    else:\n        y = torch.ones(3, requires_grad=True)\n", "").replace(
        "import torch.nn as nn\n", "import torch.nn as nn\n    y = torch.zeros(3)\n"),
])
def test_branches_that_disagree_make_the_name_unknown(snippet):
    assert rows("GL001", snippet) == []


def test_gl004_model_put_back_in_train_mode_after_the_earlier_evaluation():
    snippet = EARLIER_EVAL.replace(
        "    evaluate(net, val_loader)\n",
        "    def fit(model):\n        model.train()\n    evaluate(net, val_loader)\n    fit(net)\n")
    assert rows("GL004", snippet) == [11]


def test_mode_effect_of_helpers():
    m = model_of("""
        def evaluate(model):
            model.eval()
        def fit(model):
            model.train()
            evaluate(model)
        def fit_then_train(model):
            evaluate(model)
            model.train()
        def nothing(model):
            pass
    """)
    effects = {f.name: m.mode_effect(f) for f in m.functions}
    assert effects == {"evaluate": True, "fit": True, "fit_then_train": False, "nothing": None}


def test_gl005_still_sees_a_callable_that_is_not_a_module():
    # `.eval()` does not apply to a function, but its graph is still built with grad mode on
    snippet = CALLABLE.replace("        with torch.no_grad():\n            for x, y in loader:\n                out = model(x)",
                               "        for x, y in loader:\n            out = model(x)")
    assert rows("GL004", snippet) == []
    assert rows("GL005", snippet) == [6]


@pytest.mark.parametrize("code, kinds", [
    # d2l's training function of an imported module is not `nn.Module.train(mode)`
    ("import d2lzh_pytorch as d2l\nd2l.train(train_iter, test_iter, net, loss, optimizer, device, 5)\n", []),
    ("from . import utils\nutils.train(net)\n", []),
    ("import torch\nnet = torch.nn.Linear(2, 2)\nnet.train()\nnet.train(False)\nnet.train(mode=flag)\nnet.eval()\n",
     ["train", "eval", "restore", "eval"]),
])
def test_mode_switches_are_calls_of_a_modules_train_and_eval(code, kinds):
    assert [s.kind for s in model_of(code).switches] == kinds


def test_after_an_imported_training_function_evaluation_is_not_in_eval_mode():
    code = """
    import torch
    import d2lzh_pytorch as d2l
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    d2l.train(train_iter, test_iter, net, loss, optimizer, device, 5)

    def predict(net, x):
        return net(x).argmax(1)

    predict(net, x)
    """
    m = model_of(code)
    call = next(c for c in m.local_calls if c.name == "predict")
    assert m.eval_mode_at(call.function, call.seq) is None


# ------------------------------------------------------------------ tuples returned by functions of the file

_INIT = """
    import torch
    def init_params(n_in, n_out):
        W = torch.randn(n_in, n_out, requires_grad=True)
        b = torch.zeros(n_out, requires_grad=True)
        return RET
    W, b = init_params(4, 1)
    for epoch in range(5):
        loss = ((torch.randn(8, 4) @ W + b) ** 2).mean()
        loss.backward()
        W -= 0.1 * W.grad
"""


@pytest.mark.parametrize("ret, reported", [
    ("W, b", True),
    ("[W, b]", True),
    # look-alikes: plain tensors returned, or the leaves detached
    ("W.detach(), b.detach()", False),
    ("torch.randn(4, 1), torch.zeros(1)", False),
])
def test_leaves_returned_in_a_tuple_reach_the_names_unpacked(ret, reported):
    code = _INIT.replace("RET", ret)
    assert rows("GL001", code) == ([11] if reported else [])


def test_items_returned_in_a_tuple_facts():
    m = model_of("""
        import torch
        import torch.nn as nn
        def build(n):
            net = nn.Linear(n, 1)
            return net, torch.optim.SGD(net.parameters(), lr=0.1), net.weight
        def other():
            return 1, 2
        net, opt, w = build(3)
        a, b = other()
        c, d, e = build(3) if a else (1, 2, 3)
    """)
    kinds = {name: m._builder._scope.lookup(name) for name in ("net", "w", "a")}
    assert kinds["net"].kind is Kind.MODULE and kinds["w"].kind is Kind.LEAF
    assert kinds["a"].kind is Kind.OTHER


def test_a_tuple_of_leaves_from_a_function_below_its_caller():
    code = """
        import torch
        def main():
            W, b = init_params()
            W -= 0.1
        def init_params():
            return torch.randn(3, requires_grad=True), torch.zeros(1, requires_grad=True)
        main()
    """
    assert rows("GL001", code) == [5]


@pytest.mark.parametrize("last", ["return W, b, W", "return pair"])
def test_tuples_of_different_shapes_tell_nothing(last):
    # returns of different lengths, or one that is not a tuple: nothing is known of the items
    code = (
        "import torch\n"
        "def init_params(n, pair):\n"
        "    W = torch.randn(3, requires_grad=True)\n"
        "    b = torch.zeros(1, requires_grad=True)\n"
        "    if n:\n"
        "        return W, b\n"
        f"    {last}\n"
        "W, b = init_params(1, None)\n"
        "W -= 0.1\n"
    )
    assert rows("GL001", code) == []
