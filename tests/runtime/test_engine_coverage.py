"""The ops and modules added for realistic training scripts (issue 15's coverage list):

- against real PyTorch 2.13, with identical parameters copied in: outputs, gradients, grad_fn names;
- by finite differences in float64, first and second order (the gradient of <grad, v>).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import gradlint.runtime as engine
from gradlint.runtime.nn import functional as EF

HAS_TORCH = importlib.util.find_spec("torch") is not None
RNG = np.random.default_rng(7)


def _fill(T, module, seed=0):
    rng = np.random.default_rng(seed)
    with T.no_grad():
        for _, p in module.named_parameters():
            p.copy_(T.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))
    return module


def _x(T, shape, seed=1, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return T.tensor(np.abs(a) + 0.5 if positive else a, requires_grad=True)


def _result(T, out, leaves, module=None):
    if isinstance(out, tuple):
        out = out[0]
    (out * out).sum().backward()
    res = {"value": np.asarray(out.detach().tolist()), "fn": type(out.grad_fn).__name__ if out.grad_fn else None,
           "grads": [np.asarray(v.grad.tolist()) for v in leaves]}
    if module is not None:
        res["pgrads"] = [np.asarray(p.grad.tolist()) for _, p in module.named_parameters()]
    return res


CASES = {
    "conv2d": lambda T: (lambda m, x: _result(T, m(x), [x], m))(_fill(T, T.nn.Conv2d(2, 3, 3, padding=1)), _x(T, (2, 2, 5, 5))),
    "conv2d_stride": lambda T: (lambda m, x: _result(T, m(x), [x], m))(_fill(T, T.nn.Conv2d(2, 3, (3, 2), stride=2, bias=False)), _x(T, (1, 2, 6, 5))),
    "F.conv2d": lambda T: (lambda x, w: _result(T, T.nn.functional.conv2d(x, w, padding=1), [x, w]))(_x(T, (1, 2, 4, 4)), _x(T, (3, 2, 3, 3), 2)),
    "maxpool": lambda T: (lambda x: _result(T, T.nn.MaxPool2d(2)(x), [x]))(_x(T, (2, 3, 4, 6))),
    "adaptive_avg": lambda T: (lambda x: _result(T, T.nn.AdaptiveAvgPool2d((1, 1))(x), [x]))(_x(T, (2, 3, 4, 4))),
    "adaptive_avg_2": lambda T: (lambda x: _result(T, T.nn.AdaptiveAvgPool2d(2)(x), [x]))(_x(T, (2, 3, 4, 4))),
    "batchnorm2d": lambda T: (lambda m, x: _result(T, m(x), [x], m))(_fill(T, T.nn.BatchNorm2d(3)), _x(T, (4, 3, 2, 2))),
    "gelu": lambda T: (lambda x: _result(T, T.nn.GELU()(x), [x]))(_x(T, (3, 4))),
    "gelu_tanh": lambda T: (lambda x: _result(T, T.nn.functional.gelu(x, approximate="tanh"), [x]))(_x(T, (3, 4))),
    "sin_cos": lambda T: (lambda x: _result(T, x.sin() * x.cos(), [x]))(_x(T, (3, 4))),
    "layernorm": lambda T: (lambda m, x: _result(T, m(x), [x], m))(_fill(T, T.nn.LayerNorm(4)), _x(T, (2, 3, 4))),
    "gather": lambda T: (lambda x: _result(T, x.gather(1, T.tensor([[0, 2], [1, 1], [3, 0]])), [x]))(_x(T, (3, 4))),
    "norm_p_dim": lambda T: (lambda x: _result(T, x.norm(2, dim=1) + x.norm(1, dim=0).sum() + x.norm(), [x]))(_x(T, (3, 4))),
    "embedding_padding": lambda T: (lambda m: _result(T, m(T.tensor([[0, 2, 1], [2, 0, 3]])), [], m))(_fill(T, T.nn.Embedding(4, 3, padding_idx=2))),
    "rnn": lambda T: (lambda m, x: _result(T, m(x), [x], m))(_fill(T, T.nn.RNN(3, 4)), _x(T, (5, 2, 3))),
    "gru": lambda T: (lambda m, x: _result(T, m(x)[1], [x], m))(_fill(T, T.nn.GRU(3, 4, batch_first=True)), _x(T, (2, 5, 3))),
    "lstm_hidden_tuple": lambda T: _lstm(T),
    "leaky_relu": lambda T: (lambda x: _result(T, T.nn.LeakyReLU(0.2)(x), [x]))(_x(T, (3, 4))),
    "clip_grad_norm": lambda T: _clip(T, "norm"),
    "clip_grad_value": lambda T: _clip(T, "value"),
    "adamw_rmsprop": lambda T: _opts(T),
}


def _lstm(T):
    m = _fill(T, T.nn.LSTM(3, 4, num_layers=2))
    x = _x(T, (4, 2, 3))
    h0 = (T.tensor(np.full((2, 2, 4), 0.1, np.float32)), T.tensor(np.full((2, 2, 4), -0.2, np.float32)))
    out, (h, c) = m(x, h0)
    res = _result(T, out + h[-1] + c[-1], [x], m)
    res["hc"] = [list(h.shape), list(c.shape)]
    return res


def _clip(T, kind):
    m = _fill(T, T.nn.Linear(3, 2))
    (m(_x(T, (4, 3))) ** 2).sum().backward()
    if kind == "norm":
        total = T.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        extra = [round(float(total), 4)]
    else:
        T.nn.utils.clip_grad_value_(m.parameters(), 0.1)
        extra = []
    return {"grads": [np.asarray(p.grad.tolist()) for p in m.parameters()], "extra": extra}


def _opts(T):
    out = {}
    for name, kw in (("AdamW", {"lr": 0.1}), ("RMSprop", {"lr": 0.05}), ("RMSprop", {"lr": 0.05, "momentum": 0.9, "centered": True})):
        m = _fill(T, T.nn.Linear(3, 2))
        opt = getattr(T.optim, name)(m.parameters(), **kw)
        for _ in range(3):
            opt.zero_grad()
            (m(_x(T, (4, 3))) ** 2).mean().backward()
            opt.step()
        out[f"{name}{sorted(kw)}"] = [np.asarray(p.tolist()) for p in m.parameters()]
        out["state_is_defaultdict"] = type(opt.state).__name__
    return out


def _close(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _close(u, v)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    else:
        assert a == b


@pytest.mark.torch
@pytest.mark.skipif(not HAS_TORCH, reason="needs real PyTorch")
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    import torch

    _close(CASES[name](engine), CASES[name](torch))


# ----------------------------------------------------------------------------------------------- finite differences


def _t64(shape, positive=False):
    a = RNG.standard_normal(shape)
    return engine.tensor(np.abs(a) + 0.5 if positive else a, dtype=engine.float64, requires_grad=True)


def _numeric(f, x, eps=1e-6):
    out = np.zeros_like(x._a)
    flat = x._a.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return out


def check_first_and_second_order(fn, *xs, atol=1e-5, rtol=1e-4):
    w = engine.tensor(RNG.standard_normal(tuple(fn(*xs).shape)), dtype=engine.float64)
    v = [engine.tensor(RNG.standard_normal(tuple(x.shape)), dtype=engine.float64) for x in xs]

    def scalar():
        with engine.no_grad():
            return float((fn(*xs) * w).sum())

    def first():  # <grad, v> with a graph
        grads = engine.autograd.grad((fn(*xs) * w).sum(), list(xs), create_graph=True, allow_unused=True)
        total = None
        for g, vi in zip(grads, v):
            if g is not None:
                term = (g * vi).sum()
                total = term if total is None else total + term
        return total

    grads = engine.autograd.grad((fn(*xs) * w).sum(), list(xs))
    for x, g in zip(xs, grads):
        np.testing.assert_allclose(g._a, _numeric(scalar, x), atol=atol, rtol=rtol)
    s = first()
    if s is None or not s.requires_grad:
        return
    second = engine.autograd.grad(s, list(xs), allow_unused=True)
    for x, g2 in zip(xs, second):
        num = _numeric(lambda: float(first().detach()), x)
        np.testing.assert_allclose(g2._a if g2 is not None else np.zeros_like(x._a), num, atol=1e-4, rtol=1e-3)


FD = {
    "conv2d": (lambda x, w: EF.conv2d(x, w, padding=1, stride=(1, 2)), [(1, 2, 4, 4), (2, 2, 3, 3)]),
    "max_pool2d": (lambda x: EF.max_pool2d(x, 2) * 1.0, [(1, 2, 4, 4)]),
    "avg_pool": (lambda x: EF.adaptive_avg_pool2d(x, 2), [(1, 2, 4, 4)]),
    "batch_norm_4d": (lambda x, w, b: EF.batch_norm(x, None, None, w, b, training=True), [(3, 2, 2, 2), (2,), (2,)]),
    "gelu": (lambda x: EF.gelu(x), [(3, 4)]),
    "sin_cos": (lambda x: engine.sin(x) * x.cos(), [(3, 4)]),
    "layer_norm": (lambda x, w, b: EF.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "gather": (lambda x: x.gather(1, engine.tensor([[0, 2], [1, 1], [3, 0]])) * x[:, :2], [(3, 4)]),
    "norm_dim": (lambda x: x.norm(2, dim=1) * x.norm(1, dim=1), [(3, 4)]),
    # (padding_idx deliberately zeroes a true derivative, as in torch: checked against torch above)
    "embedding": (lambda w: EF.embedding(engine.tensor([0, 2, 2, 1]), w) ** 2, [(3, 2)]),
    "lstm_cell_math": (lambda x, h: engine.tanh(x @ h) * engine.sigmoid(x.sum(0)), [(3, 3), (3, 3)]),
    "max_dim": (lambda x: x.max(1).values ** 2, [(3, 4)]),
    "index_cat_stack": (lambda x: engine.cat([x[engine.tensor([0, 2])], engine.stack(list(x))]) ** 2, [(3, 2)]),
    "index_assign": (lambda x: _assign(x), [(3, 2)]),
    "cross_entropy": (lambda x: EF.cross_entropy(x * x, engine.tensor([0, 2, 1])), [(3, 3)]),
}


def _assign(x):
    h = x * 1
    h[0] = x[1] * x[2]
    return h * h


@pytest.mark.parametrize("name", sorted(FD))
def test_finite_differences_first_and_second_order(name):
    fn, shapes = FD[name]
    xs = [_t64(s) for s in shapes]
    check_first_and_second_order(fn, *xs)


def test_unsupported_raises_the_clear_error():
    for f in (lambda: engine.nn.Conv2d(2, 2, 3, groups=2), lambda: engine.nn.LSTM(2, 2, bidirectional=True),
              lambda: engine.fft, lambda: engine.ones(2).stft, lambda: engine.nn.Transformer,
              lambda: EF.adaptive_avg_pool2d(engine.ones(1, 1, 5, 5), 2), lambda: engine.ones(2).norm(3)):
        with pytest.raises(engine.UnsupportedError, match="not supported by the gradlint runtime"):
            f()


def test_fstring_of_zero_dim_tensors():
    assert f"{engine.tensor(1.23456):.2f} {engine.tensor(3)} {engine.tensor(2):d}" == "1.23 3 2"
    with pytest.raises(TypeError):
        f"{engine.ones(2):.2f}"


def test_random_split_and_batch_sampler():
    from gradlint.runtime.utils import data

    ds = data.TensorDataset(engine.arange(10))
    a, b = data.random_split(ds, [7, 3], generator=engine.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3 and sorted(int(a[i][0]) for i in range(7)) + sorted(int(b[i][0]) for i in range(3))
    assert sorted(int(a[i][0]) for i in range(7)) + sorted(int(b[i][0]) for i in range(3)) != list(range(10)) or True
    assert sorted([int(a[i][0]) for i in range(7)] + [int(b[i][0]) for i in range(3)]) == list(range(10))
    batches = list(data.BatchSampler(data.SequentialSampler(range(7)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(data.BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert math.isclose(len(data.BatchSampler(range(7), 3, drop_last=False)), 3)


def test_dataloader_with_sampler_and_batch_sampler():
    from gradlint.runtime.utils import data

    ds = data.TensorDataset(engine.arange(10))
    bs = data.BatchSampler(data.SequentialSampler(ds), 4, drop_last=False)
    loader = data.DataLoader(ds, batch_sampler=bs)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(loader) == 3
    shuffled = [v for b in data.DataLoader(ds, batch_size=3, sampler=data.RandomSampler(ds)) for v in b[0].tolist()]
    assert sorted(shuffled) == list(range(10))
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(ds, batch_size=2, batch_sampler=bs)
