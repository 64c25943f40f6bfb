"""Differential tests: the same small programs on the engine and on real PyTorch 2.13 must agree on
exception type and message, warnings, grad_fn names, is_leaf, requires_grad, _version, training flags,
and values (within tolerance, for programs that do not use random numbers)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradlint.runtime as engine

real_torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _state(t):
    return {"grad_fn": _name(t), "is_leaf": t.is_leaf, "requires_grad": t.requires_grad, "version": t._version,
            "value": np.asarray(t.detach().tolist(), dtype=float).round(5).tolist()}


def p_leaf_inplace(T):
    w = T.tensor([1.0, 2.0], requires_grad=True)
    w += 1


def p_leaf_inplace_methods(T):
    out = {}
    for name in ("add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_"):
        p = T.nn.Parameter(T.tensor([1.0, -2.0, 3.0]))
        args = {"add_": (1.0,), "sub_": (1.0,), "mul_": (2.0,), "div_": (2.0,), "zero_": (), "fill_": (0.5,),
                "copy_": (T.ones(3),), "clamp_": (-1, 1)}[name]
        try:
            getattr(p, name)(*args)
            out[name] = "ok"
        except RuntimeError as e:
            out[name] = str(e)
    return out


def p_index_assign_view(T):
    p = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p[0] = 0.0


def p_slice_assign_full(T):
    p = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p[:] = 0.0


def p_no_grad_update(T):
    w = T.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    with T.no_grad():
        w -= 0.1 * w.grad
    return _state(w) | {"grad": w.grad.tolist()}


def p_modes(T):
    out = {}
    x = T.tensor([1.0, 2.0], requires_grad=True)
    with T.no_grad():
        out["no_grad"] = _state(x * 2)
        with T.enable_grad():
            out["enable_in_no_grad"] = _state(x * 2)
    with T.set_grad_enabled(False):
        out["sge_false"] = _state(x * 2)
    with T.inference_mode():
        y = x * 2
        out["inference"] = _state(y) | {"is_inference": y.is_inference()}

    @T.no_grad
    def f(v):
        return v * 3

    @T.inference_mode()
    def g(v):
        return v * 3

    out["bare_decorator"] = _state(f(x))
    out["inference_decorator"] = _state(g(x))
    T.set_grad_enabled(False)
    out["bare_sge"] = T.is_grad_enabled()
    T.set_grad_enabled(True)
    with T.no_grad():
        z = T.zeros(2, requires_grad=True)
    out["factory_in_no_grad"] = _state(z)
    return out


def p_graph_names(T):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    ops = {
        "add": x + 1, "mul": x * x, "div": x / 2, "sub": x - 1, "neg": -x, "pow": x ** 2, "exp": x.exp(),
        "log": x.log(), "sigmoid": x.sigmoid(), "tanh": x.tanh(), "relu": x.relu(), "sum": x.sum(),
        "sum_dim": x.sum(0), "mean": x.mean(), "mean_dim": x.mean(1), "mm": x @ x, "t": x.t(),
        "view": x.view(4), "reshape": x.reshape(4), "select": x[0], "slice": x[0:1], "unsqueeze": x.unsqueeze(0),
        "clone": x.clone(), "softmax": x.softmax(1), "log_softmax": x.log_softmax(1), "max": x.max(),
        "cat": T.cat([x, x]), "stack": T.stack([x, x]), "transpose": x.transpose(0, 1),
        "expand": x[:, :1].expand(2, 2), "dot": x[0] @ x[1], "mv": x @ x[0],
    }
    out = {k: _name(v) for k, v in ops.items()}
    out["next"] = [type(f).__name__ if f is not None else None for f, _ in (x * x).grad_fn.next_functions]
    return out


def p_nonleaf_grad_warning(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    return {"grad": y.grad}


def p_retain_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    return {"y_grad": y.grad.tolist(), "x_grad": x.grad.tolist()}


def p_backward_twice(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def p_backward_twice_nothing_saved(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    return {"grad": x.grad.tolist()}


def p_retain_graph(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return {"grad": x.grad.tolist()}


def p_no_grad_fn(T):
    T.tensor([1.0]).sum().backward()


def p_implicit_scalar(T):
    (T.tensor([1.0, 2.0], requires_grad=True) * 2).backward()


def p_version_saved_leaf(T):
    x = T.ones(1, requires_grad=True)
    y = x * x
    x.detach().mul_(100)
    y.backward()


def p_version_saved_output(T):
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = a.sigmoid()
    out.add_(1)
    out.sum().backward()


def p_data_write_silent(T):
    x = T.ones(1, requires_grad=True)
    y = x * x
    x.data *= 100
    y.backward()
    return {"grad": x.grad.item(), "version": x._version}


def p_versions(T):
    x = T.zeros(3)
    v = x[1:]
    d = x.detach()
    v.add_(1)
    d.mul_(2)
    x.data.add_(1)
    return {"x": x._version, "v": v._version, "d": d._version, "values": x.tolist()}


def p_requires_grad_rules(T):
    out = {}
    x = T.randn(3, requires_grad=True)
    for label, f in [("attr_false", lambda: setattr(x * 2, "requires_grad", False)),
                     ("attr_true", lambda: setattr(x * 2, "requires_grad", True)),
                     ("method_false", lambda: (x * 2).requires_grad_(False)),
                     ("method_true", lambda: (x * 2).requires_grad_(True)),
                     ("int_factory", lambda: T.tensor([1, 2], requires_grad=True)),
                     ("int_method", lambda: T.tensor([1, 2]).requires_grad_()),
                     ("int_attr", lambda: setattr(T.tensor([1, 2]), "requires_grad", True)),
                     ("numpy", lambda: x.numpy())]:
        try:
            f()
            out[label] = "ok"
        except RuntimeError as e:
            out[label] = str(e)
    return out


def p_inference_saved(T):
    with T.inference_mode():
        a = T.ones(3)
    w = T.ones(3, requires_grad=True)
    (a * w).sum().backward()


def p_inference_inplace(T):
    with T.inference_mode():
        a = T.ones(3)
    a.add_(1)


def p_autograd_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (gg,) = T.autograd.grad(g.sum(), x)
    return {"g": g.tolist(), "gg": gg.tolist(), "x_grad_none": x.grad is None, "g_fn": _name(g) is not None}


def p_modules(T):
    m = T.nn.Sequential(T.nn.Linear(3, 4), T.nn.BatchNorm1d(4), T.nn.ReLU(), T.nn.Dropout(0.5), T.nn.Linear(4, 2))
    names = [n for n, _ in m.named_parameters()]
    flags = [m.training, m[3].training]
    m.eval()
    flags += [m.training, m[3].training]
    m.train(False)
    m.train()
    bufs = sorted(m.state_dict().keys())
    sd_leaf = [t.requires_grad for t in m.state_dict().values()]
    m.requires_grad_(False)
    frozen = [p.requires_grad for p in m.parameters()]
    m.requires_grad = True  # a silent no-op on a Module
    return {"names": names, "flags": flags, "state_keys": bufs, "state_requires_grad": sd_leaf,
            "frozen": frozen, "still_frozen": [p.requires_grad for p in m.parameters()]}


def p_bn_single_sample(T):
    T.nn.BatchNorm1d(4)(T.ones(1, 4))


def p_optimizer_errors(T):
    out = {}
    for label, f in [("empty", lambda: T.optim.SGD([], lr=0.1)),
                     ("nonleaf", lambda: T.optim.SGD([T.ones(2, requires_grad=True) * 2], lr=0.1))]:
        try:
            f()
        except ValueError as e:
            out[label] = str(e)
    return out


def p_sgd_adam_math(T):
    out = {}
    for opt_name, kw in (("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)), ("Adam", dict(lr=0.1))):
        w = T.nn.Parameter(T.tensor([1.0, -2.0, 0.5]))
        opt = getattr(T.optim, opt_name)([w], **kw)
        for _ in range(3):
            opt.zero_grad()
            ((w - T.tensor([0.5, 0.5, 0.5])) ** 2).sum().backward()
            opt.step()
        out[opt_name] = np.round(np.asarray(w.tolist()), 5).tolist()
    opt.zero_grad()
    out["grad_after_zero_grad"] = w.grad
    return out


def p_losses(T):
    logits = T.tensor([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]], requires_grad=True)
    target = T.tensor([1, 2])
    ce = T.nn.CrossEntropyLoss()(logits, target)
    mse = T.nn.MSELoss()(logits, T.zeros(2, 3))
    bce = T.nn.BCEWithLogitsLoss()(logits, T.ones(2, 3))
    (ce + mse + bce).backward()
    return {"ce": round(ce.item(), 5), "mse": round(mse.item(), 5), "bce": round(bce.item(), 5),
            "ce_fn": _name(ce), "mse_fn": _name(mse), "grad": np.round(np.asarray(logits.grad.tolist()), 5).tolist()}


def p_promotion(T):
    i = T.tensor([1, 2])
    f = T.tensor([1.0, 2.0])
    d = T.tensor([1.0], dtype=T.float64)
    return {k: str(v.dtype) for k, v in {
        "int*float_scalar": i * 2.5, "int+int": i + 1, "int/int": i / 2, "f32+f64_0d": f + T.tensor(1.0, dtype=T.float64),
        "f32+f64_1d": f + d, "int+f64_0d": i + T.tensor(1.0, dtype=T.float64), "bool+int": T.tensor([True]) + 1,
        "arange_int": T.arange(3), "arange_float": T.arange(0, 1, 0.5),
    }.items()}


PROGRAMS = [v for k, v in dict(globals()).items() if k.startswith("p_")]


def _run(program, T):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", program(T))
        except Exception as e:  # noqa: BLE001 - the outcome is what we compare
            result = (type(e).__name__, str(e).split(" (Triggered internally")[0])
    msgs = sorted({str(w.message).split(" (Triggered internally")[0] for w in caught
                   if "Triggered internally" in str(w.message) or "leaf Tensor" in str(w.message)})
    return result, msgs


def _normalise(value):
    if isinstance(value, str):
        return value.replace("torch.", "")
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__[2:])
def test_engine_agrees_with_torch(program):
    real_torch.manual_seed(0)
    engine.manual_seed(0)
    got = _run(program, engine)
    want = _run(program, real_torch)
    assert _normalise(got) == _normalise(want)
