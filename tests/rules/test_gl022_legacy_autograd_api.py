"""GL022 legacy-autograd-api: true positives in several shapes (several taken from real issue threads), the
look-alikes that must stay silent, and the fixes."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.linter import lint_fix as apply_fixes
from gradlint.linter import lint_source
from gradlint.settings import Settings

from ._lint import rows

SETTINGS = Settings(selected=frozenset({"GL022"}))

GL022_BAD = {
    # --- volatile
    "volatile_from_import": (
        "import torch\nfrom torch.autograd import Variable\nv = Variable(torch.randn(3), volatile=True)\n", [3]),
    "volatile_torch_autograd_path": ("import torch\nv = torch.autograd.Variable(x, volatile=True)\n", [2]),
    "volatile_module_alias": ("import torch\nimport torch.autograd as A\nv = A.Variable(x, volatile=True)\n", [3]),
    "volatile_variable_module": (
        "import torch\nfrom torch.autograd.variable import Variable as V\nv = V(x, volatile=True)\n", [3]),
    # simple-faster-rcnn-pytorch #43: `import torch as t`
    "volatile_torch_as_t": (
        "import torch as t\nimg = t.autograd.Variable(at.totensor(img).float()[None], volatile=True)\n", [2]),
    # Facial-Expression-Recognition.Pytorch #87: a tuple assignment
    "volatile_tuple_assign": (
        "import torch\nfrom torch.autograd import Variable\n"
        "inputs, targets = Variable(inputs, volatile=True), Variable(targets)\n", [3]),
    "volatile_flag_expression": (
        "import torch\nfrom torch.autograd import Variable\ndef run(x, train):\n"
        "    return Variable(x, volatile=not train)\n", [4]),
    "volatile_positional": ("import torch\nfrom torch.autograd import Variable\nv = Variable(x, False, True)\n", [3]),
    "volatile_with_requires_grad": (
        "import torch\nfrom torch.autograd import Variable\nv = Variable(x, requires_grad=True, volatile=True)\n", [3]),
    "volatile_attr_write": (
        "import torch\nfrom torch.autograd import Variable\nv = Variable(torch.randn(3))\nv.volatile = True\n", [4]),
    "volatile_attr_read": (
        "import torch\nfrom torch.autograd import Variable\nv = Variable(torch.randn(3), volatile=True)\n"
        "if v.volatile:\n    pass\n", [3, 4]),
    # --- retain_variables
    # MorvanZhou/PyTorch-Tutorial #45
    "retain_variables_gan": ("import torch\nD_loss.backward(retain_variables=True)\n", [2]),
    "retain_variables_autograd_backward": (
        "import torch\ntorch.autograd.backward([loss], retain_variables=True)\n", [2]),
    "retain_variables_autograd_grad": (
        "from torch import autograd\ng = autograd.grad(loss, w, retain_variables=True)\n", [2]),
    "retain_variables_in_method": (
        "import torch\nclass Trainer:\n    def step(self, loss):\n        loss.backward(retain_variables=self.keep)\n", [4]),
    # alexis-jacq/Pytorch-Tutorials #7 (Neural_Style.py): the wrapper forwards the keyword to torch
    "retain_variables_forwarded_by_wrapper": (
        """
        import torch
        class StyleLoss(torch.nn.Module):
            def backward(self, retain_variables=True):
                self.loss.backward(retain_variables=retain_variables)
                return self.loss
        def run(style_losses):
            for sl in style_losses:
                sl.backward(retain_variables=True)
        """, [5]),
    # --- loss.data[0]
    # higgsfield/np-hard-deep-reinforcement-learning (Neural Combinatorial Optimization.ipynb)
    "data_of_reduction_of_unknown": (
        "import torch\nclass T:\n    def train(self, R):\n        self.train_tour.append(R.mean().data[0])\n", [4]),
    # Sundrops/video-caption.pytorch #5, xbresson/spectral_graph_convnets #6
    "criterion_module_level": (
        """
        import torch
        import torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        for x, y in loader:
            loss = criterion(model(x), y)
            train_loss = loss.data[0]
        """, [7]),
    "criterion_cuda_in_function": (
        """
        import torch.nn as nn
        def main():
            criterion = nn.NLLLoss().cuda()
            loss = criterion(out, y)
            print('Loss: %.4f' % loss.data[0])
        """, [6]),
    # the pytorch/examples ImageNet shape: criterion passed to train() by every call in the file
    "criterion_parameter_from_call_sites": (
        """
        import torch
        import torch.nn as nn
        def train(loader, model, criterion, optimizer, epoch):
            for input, target in loader:
                loss = criterion(model(input), target)
                losses.update(loss.data[0], input.size(0))
        def main():
            criterion = nn.CrossEntropyLoss().cuda()
            for epoch in range(10):
                train(loader, model, criterion, optimizer, epoch)
        """, [7]),
    "self_criterion_set_in_init": (
        """
        import torch.nn as nn
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.criterion = nn.CrossEntropyLoss().cuda()
            def step(self, x, y):
                loss = self.criterion(self.model(x), y)
                return loss.data[0]
        """, [9]),
    "norm_with_p": (
        "import torch\nw = torch.randn(3, requires_grad=True)\nreg = w.norm(2)\nprint(reg.data[0])\n", [4]),
    "direct_loss_module_call": ("import torch.nn as nn\nprint(nn.MSELoss()(a, b).data[0])\n", [2]),
    "functional_loss_size_average": (
        "import torch.nn.functional as F\ntest_loss += F.nll_loss(output, target, size_average=False).data[0]\n", [2]),
    "functional_loss_no_data": ("import torch\nloss = torch.nn.functional.mse_loss(a, b)\nprint(loss[0])\n", [3]),
    "loss_sum_of_losses": (
        """
        import torch.nn as nn
        import torch.nn.functional as F
        mse = nn.MSELoss(reduction='sum')
        loss = mse(a, b) + 0.5 * F.l1_loss(a, b)
        print(loss.data[0])
        """, [6]),
    "loss_augmented": (
        """
        import torch.nn as nn
        crit = nn.BCELoss()
        loss = crit(p, y)
        loss += 0.01
        print(loss.data[0])
        """, [6]),
    "return_loss_data": (
        "import torch.nn as nn\nclass M:\n    def step(self, out, y):\n        crit = nn.CrossEntropyLoss()\n"
        "        loss = crit(out, y)\n        return loss.data[0]\n", [6]),
    "numpy_of_loss": (
        "import torch.nn.functional as F\nloss = F.cross_entropy(o, y)\nv = loss.data.cpu().numpy()[0]\n", [3]),
    "sum_reduction": ("import torch\nprint(torch.randn(3).sum()[0])\n", [2]),
    "mean_data_index": ("import torch\nw = torch.zeros(3, requires_grad=True)\nr = (w ** 2).mean().data[0]\n", [3]),
    "torch_sum_function": ("import torch\nx = torch.ones(4)\nprint(torch.sum(x)[0])\n", [3]),
    "zero_dim_store": ("import torch\nt = torch.ones(3).sum()\nt[0] = 1.0\n", [3]),
    # --- torch.autograd.variable() and Function instances
    "autograd_variable_function": ("import torch\nv = torch.autograd.variable(x)\n", [2]),
    # NVIDIA/apex #470: the gradient reversal layer of domain adaptation code
    "legacy_function_ctor_args": (
        """
        import torch
        from torch.autograd import Function
        class GradReverse(Function):
            def __init__(self, lambd):
                self.lambd = lambd
            def forward(self, x):
                return x.view_as(x)
            def backward(self, grad_output):
                return -self.lambd * grad_output
        def grad_reverse(x, lambd):
            return GradReverse(lambd)(x)
        """, [12]),
    "static_function_called_as_instance": (
        """
        import torch
        class Clamp(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.clamp(0, 1)
            @staticmethod
            def backward(ctx, g):
                return g
        fn = Clamp()
        y = fn(x)
        """, [11]),
    "function_subclass_of_subclass": (
        """
        import torch.autograd as ag
        class Base(ag.Function):
            pass
        class Child(Base):
            def forward(self, x):
                return x
        out = Child()(inp)
        """, [8]),
}

GL022_GOOD = {
    "variable_still_works": (
        "import torch\nfrom torch.autograd import Variable\nx = Variable(torch.randn(3))\n"
        "w = Variable(torch.randn(3), requires_grad=True)\n"),
    "volatile_false": "import torch\nfrom torch.autograd import Variable\nv = Variable(x, volatile=False)\n",
    "volatile_other_library": "import torch\nfrom mylib import Variable\nv = Variable(x, volatile=True)\n",
    "volatile_config_attribute": "import torch\nif config.volatile:\n    cfg.volatile = True\n",
    "volatile_attr_of_parameter": "import torch\ndef forward(self, x):\n    if x.volatile:\n        return x\n",
    "volatile_non_torch_file": "from theano import Variable\nv = Variable(x, volatile=True)\nv.volatile = False\n",
    "no_torch_import_retain": "loss.backward(retain_variables=True)\n",
    "retain_graph": "import torch\nloss.backward(retain_graph=True)\n",
    "own_backward_with_retain_variables": (
        "import torch\nclass Wrapper:\n    def backward(self, loss, retain_variables=False):\n        pass\n"
        "w = Wrapper()\nw.backward(loss, retain_variables=True)\n"),
    "retain_variables_in_pytest_raises": (
        "import torch\nimport pytest\nwith pytest.raises(TypeError):\n    loss.backward(retain_variables=True)\n"),
    "reduction_of_unknown_without_data": "import torch\ndef f(R):\n    return R.mean()[0], R.sum()[0]\n",
    "index_non_reduced_output": "import torch\nout = model(x)\nfirst = out[0]\n",
    "index_partial_reduction": "import torch\nx = torch.randn(3, 4)\nprint(x.sum(0)[0], x.max(1)[0], x.sum(dim=1)[0])\n",
    "torch_max_with_dim": "import torch\nx = torch.randn(3, 4)\nv = torch.max(x, 1)[0]\n",
    "loss_reduction_none": (
        "import torch.nn.functional as F\nl = F.cross_entropy(o, y, reduction='none')\nprint(l[0], l.data[0])\n"),
    "loss_module_reduction_none": "import torch.nn as nn\nc = nn.MSELoss(reduction='none')\nprint(c(a, b)[0])\n",
    "loss_module_reduce_false": "import torch.nn as nn\nc = nn.MSELoss(reduce=False)\nprint(c(a, b).data[0])\n",
    "loss_is_a_list": "import torch\nloss = [1.0, 2.0]\nprint(loss.data[0] if hasattr(loss, 'data') else loss[0])\n",
    "loss_is_numpy": "import torch\nimport numpy as np\nloss = np.array([0.5])\nprint(loss[0], loss.data[0])\n",
    "numpy_reduction": "import torch\nimport numpy as np\na = np.ones((2, 3))\nprint(a.sum()[0] if False else a.sum(0)[0])\n",
    "pandas_sum": "import torch\nimport pandas as pd\ndf = pd.read_csv('f.csv')\ncol0 = df.sum()[0]\n",
    "criterion_unknown_parameter": (
        "import torch\ndef train(model, criterion, x, y):\n    loss = criterion(model(x), y)\n    return loss.data[0]\n"),
    "criterion_custom_loss": (
        "import torch\ncriterion = MyLoss()\nloss = criterion(out, y)\nprint(loss.data[0])\n"),
    "criterion_rebound": (
        "import torch.nn as nn\ncriterion = nn.CrossEntropyLoss()\nif multi:\n    criterion = MultiLoss()\n"
        "loss = criterion(out, y)\nprint(loss.data[0])\n"),
    "loss_rebound_to_tuple": (
        "import torch.nn as nn\ncrit = nn.L1Loss()\nloss = crit(a, b)\nloss = model.losses()\nprint(loss[0])\n"),
    "loss_in_for_target": (
        "import torch.nn as nn\ncrit = nn.L1Loss()\nloss = crit(a, b)\nfor loss in batches:\n    print(loss[0])\n"),
    "self_criterion_also_set_elsewhere": (
        """
        import torch.nn as nn
        class Trainer:
            def __init__(self):
                self.criterion = nn.CrossEntropyLoss()
            def use_custom(self):
                self.criterion = CustomLoss()
            def step(self, x, y):
                loss = self.criterion(x, y)
                return loss.data[0]
        """),
    "other_object_criterion": (
        """
        import torch.nn as nn
        class Trainer:
            def __init__(self, other):
                self.criterion = nn.CrossEntropyLoss()
            def step(self, other, x, y):
                return other.criterion(x, y).data[0]
        """),
    "norm_with_dim": "import torch\nw = torch.randn(3, 4)\nprint(w.norm(2, 1)[0], w.norm(dim=0)[0])\n",
    "parameter_called_with_other_value": (
        """
        import torch.nn as nn
        def train(criterion):
            loss = criterion(a, b)
            return loss.data[0]
        train(nn.CrossEntropyLoss())
        train(custom_loss)
        """),
    "index_item": "import torch.nn as nn\nloss = nn.MSELoss()(a, b)\nprint(loss.item(), loss.data.item())\n",
    "loss_in_pytest_raises": (
        "import torch\nimport pytest\nwith pytest.raises(IndexError):\n    torch.ones(2).sum()[0]\n"),
    "function_apply": (
        """
        import torch
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x
            @staticmethod
            def backward(ctx, g):
                return g
        y = F.apply(x)
        f = F()
        """),
    "imported_function_instance": "import torch\nfrom mylib import MyFn\ny = MyFn()(x)\n",
    "non_function_class_instance_call": (
        "import torch\nimport torch.nn as nn\nclass Block(nn.Module):\n    pass\ny = Block()(x)\n"),
    "saved_variables_not_flagged": (
        "import torch\nclass F(torch.autograd.Function):\n    @staticmethod\n    def backward(ctx, g):\n"
        "        x, = ctx.saved_variables\n        return g\n"),
}


@pytest.mark.parametrize("name", sorted(GL022_BAD))
def test_gl022_true_positives(name):
    code, expected = GL022_BAD[name]
    assert rows("GL022", code) == expected


@pytest.mark.parametrize("name", sorted(GL022_GOOD))
def test_gl022_lookalikes_stay_silent(name):
    assert rows("GL022", GL022_GOOD[name]) == []


def test_gl022_silent_in_test_files():
    assert rows("GL022", "import torch\nloss.backward(retain_variables=True)\n", filename="tests/test_old.py") == []


def _diag(code: str):
    res = lint_source(textwrap.dedent(code), "train.py", SETTINGS)
    assert res.error is None
    return res.diagnostics


def _fixed(code: str, unsafe: bool = False) -> str:
    result = apply_fixes(textwrap.dedent(code), "train.py", SETTINGS, unsafe=unsafe)
    assert result.error is None
    return result.source


def test_messages_quote_torch_2_13():
    (d,) = _diag("import torch\nloss.backward(retain_variables=True)\n")
    assert "TypeError: Tensor.backward() got an unexpected keyword argument 'retain_variables'" in d.message
    (d,) = _diag("import torch\nimport torch.nn as nn\nloss = nn.MSELoss()(a, b)\nprint(loss.data[0])\n")
    assert "IndexError: invalid index of a 0-dim tensor. Use `tensor.item()` in Python" in d.message
    assert "`loss.item()`" in d.message
    (d,) = _diag("import torch\nfrom torch.autograd import Variable\nv = Variable(x, volatile=True)\n")
    assert "UserWarning: volatile was removed and now has no effect. Use `with torch.no_grad():` instead." in d.message
    (d,) = _diag("import torch\nfrom torch.autograd import Variable\nv = Variable(x, requires_grad=True, volatile=True)\n")
    assert "ValueError: Variable can't be volatile and require_grad at the same time!" in d.message
    (d,) = _diag("import torch\nimport torch.nn.functional as F\nv = F.l1_loss(a, b).cpu().data.numpy()[0]\n")
    assert "too many indices for array: array is 0-dimensional, but 1 were indexed" in d.message


def test_fix_retain_variables_is_safe_rename():
    code = "import torch\nD_loss.backward(retain_variables=True)\n"
    (d,) = _diag(code)
    assert d.fix is not None and d.fix.applicability.value == "safe"
    assert _fixed(code) == "import torch\nD_loss.backward(retain_graph=True)\n"


def test_fix_retain_variables_unsafe_in_try_and_absent_with_retain_graph():
    (d,) = _diag("import torch\ntry:\n    loss.backward(retain_variables=True)\nexcept TypeError:\n    pass\n")
    assert d.fix is not None and d.fix.applicability.value == "unsafe"
    (d,) = _diag("import torch\nloss.backward(retain_graph=True, retain_variables=True)\n")
    assert d.fix is None


def test_fix_data_index_to_item():
    code = """
    import torch.nn as nn
    criterion = nn.CrossEntropyLoss()
    loss = criterion(out, y)
    running += loss.data[0]
    print(loss[0], (loss * 2).data[0])
    v = loss.data.cpu().numpy()[0]
    """
    for d in _diag(code):
        assert d.fix is not None and d.fix.applicability.value == "safe"
    assert _fixed(code).splitlines()[-3:] == [
        "running += loss.item()", "print(loss.item(), (loss * 2).item())", "v = loss.item()"]


def test_fix_data_index_store_has_no_fix():
    (d,) = _diag("import torch\nt = torch.ones(3).sum()\nt[0] = 1.0\n")
    assert d.fix is None


def test_fix_function_instance_to_apply():
    code = """
    import torch
    class Clamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clamp(0, 1)
        @staticmethod
        def backward(ctx, g):
            return g
    y = Clamp()(x)
    """
    (d,) = _diag(code)
    assert d.fix is not None and d.fix.applicability.value == "safe"
    assert _fixed(code).splitlines()[-1] == "y = Clamp.apply(x)"
    # a legacy Function with constructor arguments needs a rewrite: no fix
    (d,) = _diag(GL022_BAD["legacy_function_ctor_args"][0])
    assert d.fix is None


def test_fix_volatile_wraps_non_training_loop_unsafe():
    code = """
    import torch
    from torch.autograd import Variable
    def evaluate(model, loader):
        for x, y in loader:
            x = Variable(x, volatile=True)
            out = model(x)
    """
    (d,) = _diag(code)
    assert d.fix is not None and d.fix.applicability.value == "unsafe"
    assert _fixed(code) == textwrap.dedent(code)  # not applied without --unsafe-fixes
    fixed = _fixed(code, unsafe=True)
    assert fixed == textwrap.dedent("""
    import torch
    from torch.autograd import Variable
    def evaluate(model, loader):
        with torch.no_grad():
            for x, y in loader:
                x = Variable(x)
                out = model(x)
    """)
    assert _fixed(fixed, unsafe=True) == fixed


def test_fix_volatile_two_in_one_loop_converges():
    code = """
    import torch
    from torch.autograd import Variable
    for x, y in loader:
        x, y = Variable(x, volatile=True), Variable(y, volatile=True)
        out = model(x)
    """
    fixed = _fixed(code, unsafe=True)
    assert fixed.count("no_grad") == 1 and "volatile" not in fixed
    assert _diag(fixed) == []


def test_fix_volatile_inside_no_grad_is_safe_drop():
    code = "import torch\nfrom torch.autograd import Variable\nwith torch.no_grad():\n    v = Variable(x, volatile=True)\n"
    (d,) = _diag(code)
    assert d.fix is not None and d.fix.applicability.value == "safe"
    assert _fixed(code).splitlines()[-1] == "    v = Variable(x)"


def test_no_volatile_fix_in_a_training_loop_or_for_a_flag():
    (d,) = _diag(
        "import torch\nfrom torch.autograd import Variable\nfor x, y in loader:\n    t = Variable(y, volatile=True)\n"
        "    loss = crit(model(x), t)\n    loss.backward()\n")
    assert d.fix is None
    (d,) = _diag("import torch\nfrom torch.autograd import Variable\nfor x in xs:\n    v = Variable(x, volatile=flag)\n")
    assert d.fix is None


@pytest.mark.parametrize("code, tier", [
    # ignored with a warning: right results, a graph recorded in vain (hygiene, as GL005)
    ("import torch\nfrom torch.autograd import Variable\nv = Variable(x, volatile=True)\n", "hygiene"),
    ("import torch\nv = torch.zeros(3)\nv.volatile = True\n", "hygiene"),
    # raises
    ("import torch\nfrom torch.autograd import Variable\nv = Variable(x, requires_grad=True, volatile=True)\n", "bug"),
    # branching on it silently takes the wrong branch
    ("import torch\nv = torch.zeros(3)\nif v.volatile:\n    print('eval')\n", "bug"),
    ("import torch\nv = torch.zeros(3)\nwhile not v.volatile:\n    break\n", "bug"),
    ("import torch\nv = torch.zeros(3)\ny = v * 2 if v.volatile else v\n", "bug"),
    # read without branching (GunhoChoi/PyTorch-FastCampus: displayed): a wrong value, no wrong branch
    ("import torch\nv = torch.zeros(3)\nv.grad, v.requires_grad, v.volatile\n", "hygiene"),
    ("import torch\nv = torch.zeros(3)\nprint(v.volatile)\n", "hygiene"),
    ("import torch\nclass T:\n    def train(self, R):\n        self.train_tour.append(R.mean().data[0])\n", "bug"),
])
def test_tiers_of_volatile_and_the_rest(code, tier):
    (d,) = lint_source(code, "train.py", SETTINGS).diagnostics
    assert d.tier == tier
