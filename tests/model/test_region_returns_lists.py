"""Regions through what a function returns and through lists (`gradlint.model.regions`): a helper whose body
makes its result with grad mode off (`GradRegions.return_regions`, `RegionQueries.returns_made`, `Arg`), and
lists of inference tensors built in an `inference_mode` block (`ELEMENTS`, `EMPTY`) whose elements are read
back (`lst[i]`, `for t in lst`, `zip`, `enumerate`).

The returns and loop targets are recorded from the `NoGradUses` walk (GL011/GL012's extension), which the
probe is built with. Every fact is tested both ways.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import build_model
from gradlint.model.ext_nograd_uses import NoGradUses
from gradlint.model.extension import Extension
from gradlint.model.regions import ELEMENTS, EMPTY, Arg, merge_regions
from gradlint.model.values import Prov
from gradlint.settings import RuleOptions


class Probe(Extension):
    needs_regions = True

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.values: list[Prov | None] = []

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is cst.Name and node.func.value == "probe":
            self.values.append(self.b.own_prov(node.args[0].value.value))
        elif type(node.func) is cst.Name and node.func.value == "probe_expr":  # what the evaluator says of it
            self.values.append(self.b.prov(node.args[0].value))


def probe(code: str):
    text = textwrap.dedent(code)
    m = build_model(cst.parse_module(text), RuleOptions(), "train.py", extensions=(NoGradUses, Probe))
    return m, m.ext(Probe).values


def made(code: str) -> list[bool]:
    m, values = probe(code)
    return [m.made_without_grad(v) for v in values]


def inference(code: str) -> list[bool]:
    m, values = probe(code)
    return [m.is_inference_tensor(v) for v in values]


# ------------------------------------------------------------------ what a function returns


def test_returned_from_a_with_block_of_the_helper():
    m, values = probe("""
        import torch
        def inside(x):
            with torch.no_grad():
                return model(x).sum()
        def bound_in_block(x):
            with torch.no_grad():
                loss = model(x).sum()
            return loss
        def plain(x):
            return model(x).sum()
        a = inside(x)
        b = bound_in_block(x)
        c = plain(x)
        probe(a); probe(b); probe(c)
    """)
    assert [m.made_without_grad(v) for v in values] == [True, True, False]
    assert [m.returned_by(v) for v in values] == ["inside", "bound_in_block", None]
    fns = {f.name: f for f in m.functions}
    assert m.returns_made(fns["inside"]) and not m.returns_made(fns["plain"])
    m, values = probe("""
        import torch
        with torch.no_grad():
            out = model(x)
        loss = crit(out)
        probe(loss)
    """)
    assert m.made_without_grad(values[0]) and m.returned_by(values[0]) is None  # no function of the file


def test_every_return_must_be_made_without_grad():
    assert made("""
        import torch
        def compute(x, train):
            if train:
                return model(x).sum()
            with torch.no_grad():
                return model(x).sum()
        def bare(x):
            with torch.no_grad():
                loss = model(x).sum()
            if loss > 0:
                return
            return loss
        a = compute(x, True)
        b = bare(x)
        probe(a); probe(b)
    """) == [False, False]


def test_arguments_decide_what_a_parameter_holds():
    m, values = probe("""
        import torch
        import torch.nn.functional as F
        def compute_loss(model, x, y):
            with torch.no_grad():
                out = model(x)
            probe_expr(y)
            return F.mse_loss(out, y)
        a = compute_loss(model, x, torch.randn(4, 1))
        b = compute_loss(model, x, y=torch.zeros(4))
        c = compute_loss(model, x, student(x))
        d = compute_loss(model, x, unknown)
        probe(a); probe(b); probe(c); probe(d)
    """)
    y, *calls = values
    assert [type(c) for c in y.off] == [Arg] and not m.made_without_grad(y)  # never on its own
    assert [m.made_without_grad(v) for v in calls] == [True, True, False, False]


def test_a_bound_method_and_a_loader_batch():
    assert made("""
        import torch
        import torch.nn.functional as F
        loader = torch.utils.data.DataLoader(ds)
        class Trainer:
            def loss(self, x, y):
                with torch.no_grad():
                    out = self.model(x)
                return F.cross_entropy(out, y)
            def fit(self):
                for x, y in loader:
                    l = self.loss(x, y)
                    probe(l)
                    l2 = self.loss(x, self.model(x))
                    probe(l2)
        Trainer().fit()
    """) == [True, False]


def test_through_a_helper_of_the_helper_and_recursion():
    assert made("""
        import torch
        import torch.nn.functional as F
        def out_of(model, x):
            with torch.no_grad():
                return model(x)
        def compute(model, x, y):
            return F.mse_loss(out_of(model, x), y)
        def again(x):
            return again(x)
        a = compute(model, x, torch.randn(4))
        b = compute(model, x, model(x))
        c = again(x)
        probe(a); probe(b); probe(c)
    """) == [True, False, False]


def test_a_helper_that_turns_grad_mode_back_on():
    assert made("""
        import torch
        def compute(x):
            with torch.no_grad():
                with torch.enable_grad():
                    return model(x).sum()
        a = compute(x)
        probe(a)
    """) == [False]


def test_inference_tensor_returned_from_a_block():
    assert inference("""
        import torch
        def embed(x):
            with torch.inference_mode():
                return encoder(x)
        def embed_no_grad(x):
            with torch.no_grad():
                return encoder(x)
        a = embed(x)
        b = embed_no_grad(x)
        probe(a); probe(b)
    """) == [True, False]


# ------------------------------------------------------------------ lists of inference tensors


def test_comprehension_in_the_block_and_its_elements():
    m, values = probe("""
        import torch
        teacher = torch.nn.Linear(4, 3)
        with torch.inference_mode():
            soft = [teacher(x) for x in xs]
            gen = (teacher(x) for x in xs)
            items = [teacher(x).item() for x in xs]
        probe(soft); probe(gen); probe(items)
        a = soft[0]
        b = soft[1:]
        c = soft[0].float()
        probe(a); probe(b); probe(c)
        for t in soft:
            probe(t)
        for x, t in zip(xs, soft):
            probe(t); probe(x)
        for i, t in enumerate(soft):
            probe(t); probe(i)
    """)
    assert values[0].inference == frozenset({ELEMENTS}) and values[1].inference is None
    assert values[2].inference is None
    assert [m.is_inference_tensor(v) for v in values] == [
        False, False, False,  # a list is no tensor
        True, False, False,  # an element; a slice is a list; `.float()` may copy
        True, True, False, True, False]
    assert values[4].inference == frozenset({ELEMENTS})


def test_append_in_the_block():
    m, values = probe("""
        import torch
        teacher = torch.nn.Linear(4, 3)
        targets = []
        probe(targets)
        with torch.inference_mode():
            for x in xs:
                targets.append(teacher(x))
        probe(targets)
        for t in targets:
            probe(t)
    """)
    assert values[0].inference == frozenset({EMPTY})
    assert values[1].inference == frozenset({ELEMENTS})
    assert m.is_inference_tensor(values[2])


def test_a_normal_element_makes_it_no_list_of_inference_tensors():
    assert inference("""
        import torch
        teacher = torch.nn.Linear(4, 3)
        with torch.inference_mode():
            a = [teacher(x) for x in xs]
            b = [teacher(x) for x in xs]
            c = [teacher(x) for x in xs]
        d = []
        for x in xs:
            d.append(teacher(x))
        a.append(torch.randn(3))
        b.extend(more)
        if refresh:
            c.append(student(x).detach())
        for t, u, v, w in zip(a, b, c, d):
            probe(t); probe(u); probe(v); probe(w)
        c.pop()
        for v in c:
            probe(v)
    """) == [False, False, False, False, False]


def test_empty_list_before_a_loop_merges_with_its_appends():
    empty, elements = Prov(inference=frozenset({EMPTY})), Prov(inference=frozenset({ELEMENTS}))
    assert merge_regions(elements, empty, [elements]) is elements
    assert merge_regions(empty, elements, [empty]).inference is None  # (not the other way round)
    assert merge_regions(elements, None, [elements]).inference is None  # not bound before the loop


def test_item_set_and_augmented_assignment_give_other_elements():
    assert inference("""
        import torch
        teacher = torch.nn.Linear(4, 3)
        with torch.inference_mode():
            a = [teacher(x) for x in xs]
            b = [teacher(x) for x in xs]
            c = [teacher(x) for x in xs]
            c[0] = teacher(xs[0])
        a[0] = torch.randn(3)
        b += [torch.randn(3)]
        for t, u, v in zip(a, b, c):
            probe(t); probe(u); probe(v)
    """) == [False, False, True]


def test_an_unknown_callable_holds_only_where_it_is_called():
    m, values = probe("""
        import torch
        import torch.nn.functional as F
        def step(x, y):
            with torch.no_grad():
                feats = backbone(x)
            out = head(feats)
            probe(out)
            return F.cross_entropy(out, y)
        def run(fn, x):
            return fn(x).sum()
        a = step(torch.randn(4, 3), torch.zeros(4))
        b = run(net, torch.randn(4, 3))
        probe(a); probe(b)
    """)
    assert [m.made_without_grad(v) for v in values] == [True, False, False]


def test_data_in_data_out_is_no_grad_mode_off_region():
    assert made("""
        import torch
        def scale(x):
            return x * 2
        def scale_off(x):
            with torch.no_grad():
                pass
            return x * 2
        a = scale(torch.randn(3))
        b = scale_off(torch.randn(3))
        probe(a); probe(b)
    """) == [False, True]
