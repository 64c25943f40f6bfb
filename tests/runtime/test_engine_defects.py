"""Regression tests for the defects of issue 15, each run on the engine and on real PyTorch 2.13 and
compared (outcome: exception type and message, or the returned observations)."""

from __future__ import annotations

import pytest

import gradlint.runtime as engine
from .test_engine_vs_torch import _normalise, _run

real_torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _n(t):
    return (None if t.grad_fn is None else type(t.grad_fn).__name__, t.requires_grad, t.is_leaf, t._version)


# ---- saved tensors: only what each backward formula needs, only for inputs that require grad
def d_scalar_mul_saves_nothing_modifiable(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1
    y = (h * 3).sum()
    h.add_(1)
    y.backward()
    return x.grad.tolist()


def d_inplace_after_scalar_ops(T):
    out = {}
    for op in ("mul_", "div_", "pow_", "clamp_", "abs_", "clip_", "imul", "idiv"):
        x = T.tensor([1.0, -2.0], requires_grad=True)
        h = x * 1
        y = (h * 2 + h / 4).sum()
        try:
            {"mul_": lambda: h.mul_(2), "div_": lambda: h.div_(2), "pow_": lambda: h.pow_(2),
             "clamp_": lambda: h.clamp_(-1, 1), "abs_": lambda: h.abs_(), "clip_": lambda: h.clip_(-1, 1),
             "imul": lambda: h.__imul__(2), "idiv": lambda: h.__itruediv__(2)}[op]()
            y.backward()
            out[op] = x.grad.tolist()
        except RuntimeError as e:
            out[op] = str(e)
    return out


def d_saved_operand_modified(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1
    y = (h * x).sum()  # saves h (and x)
    h.add_(1)
    y.backward()


def d_step_between_backwards_one_layer(T):
    T.manual_seed(0)
    m = T.nn.Linear(3, 1)
    opt = T.optim.SGD(m.parameters(), lr=0.1)
    loss = m(T.ones(2, 3)).sum()
    loss.backward(retain_graph=True)
    opt.step()
    loss.backward()
    return "ok"


def d_gan_retain_graph_step_second_backward(T):
    T.manual_seed(0)
    m = T.nn.Sequential(T.nn.Linear(3, 4), T.nn.ReLU(), T.nn.Linear(4, 1))
    opt = T.optim.SGD(m.parameters(), lr=0.1)
    loss = m(T.ones(2, 3)).sum()
    loss.backward(retain_graph=True)
    opt.step()
    loss.backward()


def d_scalar_mul_freed(T):
    x = T.ones(2, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    y.backward()


# ---- grad modes
def d_inference_mode_false(T):
    with T.no_grad():
        with T.inference_mode(False):
            y = T.ones(2, requires_grad=True) * 2
            return _n(y), T.is_grad_enabled()


def d_enable_grad_inside_inference(T):
    x = T.ones(2, requires_grad=True)
    with T.inference_mode():
        with T.enable_grad():
            y = x * 2
            return y.requires_grad, y.grad_fn is None, y.is_inference()


def d_no_grad_generator(T):
    @T.no_grad()
    def gen():
        for _ in range(2):
            yield T.is_grad_enabled()

    return list(gen()), T.is_grad_enabled()


def d_no_grad_view_of_leaf_inplace(T):
    w = T.ones(3, requires_grad=True)
    with T.no_grad():
        row = w[0]
    row.add_(1)


def d_backward_inputs(T):
    a = T.ones(2, requires_grad=True)
    b = T.ones(2, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    return a.grad.tolist(), b.grad


def d_autograd_grad_frees_only_its_path(T):
    a = T.ones(2, requires_grad=True)
    b = T.ones(2, requires_grad=True)
    y = (a * 2).sum() + (b * 3).sum()
    T.autograd.grad(y, a)
    y.backward()


def d_contiguous(T):
    x = T.ones(2, 3, requires_grad=True)
    return _n(x.t().contiguous()), x.contiguous() is x


# ---- silent wrong values
def d_dim_out_of_range(T):
    T.ones(2, 2).sum(5)


def d_add_none(T):
    T.ones(2).add_(None, alpha=0.5)


def d_long_iadd_float(T):
    t = T.tensor([1, 2])
    t += 0.5


def d_backward_gradient_shape(T):
    x = T.ones(2, requires_grad=True)
    (x * 2).backward(T.ones(3))


# ---- missing checks
def d_duplicate_params(T):
    p = T.ones(2, requires_grad=True)
    T.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def d_retain_grad_no_grad(T):
    T.ones(2).retain_grad()


def d_grad_wrong_shape(T):
    p = T.ones(2, requires_grad=True)
    p.grad = T.ones(3)


def d_detach_view(T):
    x = T.ones(3)
    x[1:].detach_()


def d_int_requires_grad(T):
    T.ones(2).long().requires_grad_()


# ---- masks saved
def d_masked_fill_second_backward(T):
    x = T.ones(3, requires_grad=True)
    y = x.masked_fill(T.tensor([True, False, True]), 0.0).sum()
    y.backward()
    y.backward()


def d_dropout_node_and_mask(T):
    x = T.ones(4, requires_grad=True)
    y = T.nn.functional.dropout(x, 0.5)
    name = type(y.grad_fn).__name__
    s = y.sum()
    s.backward()
    try:
        s.backward()
    except RuntimeError as e:
        return name, str(e)[:40]


# ---- torch's RuntimeError, not NumPy's
def d_broadcast_error(T):
    T.ones(2, 3) + T.ones(4)


def d_mm_error(T):
    T.ones(2, 3) @ T.ones(4, 2)


def d_linear_error(T):
    T.nn.Linear(3, 2)(T.ones(2, 4))


# ---- second order through max/min(dim), indexing, iteration, cat, stack, index assignment, nll_loss
def d_second_order(T):
    out = {}
    cases = {
        "max_dim": lambda x: x.max(1).values,
        "min_dim": lambda x: x.min(0)[0],
        "index": lambda x: x[T.tensor([0, 1, 0])],
        "iter": lambda x: T.stack(list(x)),
        "cat": lambda x: T.cat([x, x * 2]),
        "stack": lambda x: T.stack([x, x]),
        "setitem": lambda x: _setitem(T, x),
        "nll": lambda x: T.nn.functional.nll_loss(x.log_softmax(1), T.tensor([0, 2, 1])),
        "ce": lambda x: T.nn.functional.cross_entropy(x, T.tensor([0, 2, 1])),
    }
    for name, f in cases.items():
        x = T.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [0.1, 0.2, 0.3]], requires_grad=True, dtype=T.float64)
        y = f(x)
        (g,) = T.autograd.grad((y * y * y).sum(), x, create_graph=True)
        (h,) = T.autograd.grad(g.sum(), x)
        out[name] = [round(v, 5) for v in h.reshape(-1).tolist()]
    return out


def _setitem(T, x):
    h = x * 1
    h[0] = x[1] * 2
    return h


# ---- found by the differential fuzzer (tests/runtime/_fuzz.py)
def d_fuzz_view_inplace_copyslices(T):
    x = T.ones(3, requires_grad=True)
    h = x * 2
    v = h[1:]
    w = h[:1]
    v.mul_(3)
    (h * h).sum().backward()
    return _n(h), _n(v), _n(w), x.grad.tolist()


def d_fuzz_no_grad_view_base_modified(T):
    x = T.ones(3, requires_grad=True)
    with T.no_grad():
        v = x[1:]
    with T.no_grad():
        x.mul_(2)
    return v.grad_fn


def d_fuzz_unbind_views(T):
    x = T.ones(2, 3, requires_grad=True)
    h = x * 1
    rows = list(h)
    out = [_n(r) for r in rows]
    try:
        rows[0].mul_(2)
    except RuntimeError as e:
        out.append(str(e))
    try:
        rows[1][0] = 1.0
    except RuntimeError as e:
        out.append(str(e))
    return out


def d_fuzz_inference_tensor_ops_outside(T):
    with T.inference_mode():
        x = T.tensor([[1.0, -2.0, 0.5], [0.5, 0.25, 3.0]])
    out = {}
    for name, f in (("abs", lambda: x.abs()), ("sum", lambda: x.sum()), ("mean0", lambda: x.mean(0)),
                    ("max0", lambda: x.max(0).values), ("mul", lambda: x * 2), ("clone", lambda: x.clone())):
        y = f()
        out[name] = (y._version, y.is_inference(), y.requires_grad)
    d = x.detach()
    d.add_(1)
    out["detach"] = (d._version, d.is_inference())
    with T.inference_mode():
        r = T.tensor(1.5, requires_grad=True)
    out["rg_scalar_op"] = _n(r - 0.5)
    out["rg_unary_op"] = (r.sin().requires_grad,)
    return out


def d_fuzz_detach_then_accumulate(T):
    x = T.tensor(1.0, requires_grad=True)
    y = x.cos()
    x.detach_()
    y.backward()
    return x.grad, x.requires_grad


def d_fuzz_reshape_names(T):
    x = T.ones(2, 3, 4, requires_grad=True)
    return [type(t.grad_fn).__name__ for t in (x.reshape(6, 4), x[:, :, 0].reshape(-1), x.transpose(1, 2).reshape(2, 12))]


def d_fuzz_inplace_check_order(T):
    out = []
    for f in (lambda: T.ones(2, 3).mul_(T.ones(2, 3)[:, 0]), lambda: T.ones(3).expand(2, 3).copy_(T.ones(3)),
              lambda: T.ones(3, requires_grad=True).add_(T.ones(2, 3)), lambda: T.tensor([1, 2]).mul_(0.5)):
        try:
            f()
            out.append("ok")
        except RuntimeError as e:
            out.append(str(e))
    return out


DEFECTS = [v for k, v in dict(globals()).items() if k.startswith("d_")]


@pytest.mark.parametrize("program", DEFECTS, ids=lambda p: p.__name__[2:])
def test_defect_fixed(program):
    real_torch.manual_seed(0)
    engine.manual_seed(0)
    got = _run(program, engine)
    want = _run(program, real_torch)
    assert _normalise(got) == _normalise(want)
