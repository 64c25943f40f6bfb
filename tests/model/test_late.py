"""Functions defined below their callers (`gradlint.model.late`): a call learns what such a function returns
in another walk, seeded with the last walk's summaries; a file whose late functions tell nothing new is
walked once."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradlint.model import Kind, _walk, build_model
from gradlint.model.ext_training import TrainingFacts
from gradlint.model.late import late_seeds
from gradlint.settings import RuleOptions
from tests.rules._lint import rows


def walk(code: str, extensions=()):
    src = textwrap.dedent(code)
    return _walk(cst.parse_module(src), RuleOptions(), "train.py", extensions, src, False, None, None)


def model_of(code: str, extensions=()):
    src = textwrap.dedent(code)
    return build_model(cst.parse_module(src), RuleOptions(), "train.py", extensions=extensions, source=src)


_LEAF_BELOW = """
    import torch
    def main():
        w = make_weight()
        w += 1.0
    def make_weight():
        return RET
    main()
"""


def test_a_leaf_returned_by_a_function_below_its_caller():
    code = _LEAF_BELOW.replace("RET", "torch.randn(3, requires_grad=True)")
    assert late_seeds(walk(code)) is not None
    (op,) = model_of(code).inplace_ops
    assert op.value.kind is Kind.LEAF
    assert rows("GL001", code) == [5]


@pytest.mark.parametrize("ret", ["torch.randn(3)", "3.0", "torch.randn(3, requires_grad=True).sum().item()"])
def test_a_function_below_that_tells_nothing_new_is_not_walked_again(ret):
    code = _LEAF_BELOW.replace("RET", ret)
    assert late_seeds(walk(code)) is None
    assert rows("GL001", code) == []


def test_a_chain_of_functions_each_below_its_caller_converges():
    # main -> build -> make, each defined below its caller: the third walk gives main what make returns
    code = """
        import torch
        def main():
            w = build()
            w += 1.0
        def build():
            return make()
        def make():
            return torch.zeros(3, requires_grad=True)
        main()
    """
    assert rows("GL001", code) == [5]


def test_a_local_binding_shadows_a_function_below():
    code = """
        import torch
        def main():
            make_weight = lambda: torch.zeros(3)
            w = make_weight()
            w += 1.0
        def make_weight():
            return torch.randn(3, requires_grad=True)
    """
    assert rows("GL001", code) == []


def test_recursive_functions_below_their_callers_terminate():
    code = """
        import torch
        def main():
            w = ping(3)
            w += 1.0
        def ping(n):
            return pong(n - 1) if n else torch.randn(3, requires_grad=True)
        def pong(n):
            return ping(n)
    """
    model_of(code)  # (at most MAX_WALKS walks; what the recursion returns is not known)


def test_a_module_built_by_a_method_below_init_is_not_worth_a_walk():
    # (common in model code — torchvision's `_make_layer` — and telling the rules too little for its cost)
    code = """
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer1 = self._make_layer(4)
            def _make_layer(self, n):
                return nn.Sequential(*[nn.Linear(n, n) for _ in range(2)])
    """
    assert late_seeds(walk(code)) is None


def test_a_graph_below_its_caller_is_worth_a_walk_only_where_the_file_backpropagates():
    code = _TRAINER.replace("RET", "loss")
    assert late_seeds(walk(code, (TrainingFacts,))) is not None
    no_backward = code.replace("loss.backward()", "loss.sum()")
    assert late_seeds(walk(no_backward, (TrainingFacts,))) is None


_TRAINER = """
    import torch
    import torch.nn as nn
    class Trainer:
        def __init__(self):
            self.model = nn.Linear(4, 1)
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            self.history = []
        def fit(self, data):
            for x, y in data:
                loss = self.step(x, y)
                self.history.append(loss)
        def step(self, x, y):
            self.opt.zero_grad()
            loss = ((self.model(x) - y) ** 2).mean()
            loss.backward()
            self.opt.step()
            return RET
"""


def test_a_graph_returned_by_a_method_below_its_caller():
    m = model_of(_TRAINER.replace("RET", "loss"), (TrainingFacts,))
    (acc,) = [a for a in m.ext(TrainingFacts).accumulations if a.key == "self.history"]
    assert acc.roots
    assert rows("GL006", _TRAINER.replace("RET", "loss")) == [12]


@pytest.mark.parametrize("ret", ["loss.item()", "loss.detach()"])
def test_a_method_below_returning_no_graph(ret):
    assert late_seeds(walk(_TRAINER.replace("RET", ret), (TrainingFacts,))) is None
    assert rows("GL006", _TRAINER.replace("RET", ret)) == []
