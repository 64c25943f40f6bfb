"""Analytic gradients of the engine against central finite differences, in float64, for every
differentiable op and module of the subset — with broadcasting and non-contiguous inputs."""

from __future__ import annotations

import numpy as np
import pytest

import gradlint.runtime as torch
from gradlint.runtime.nn import functional as F

RNG = np.random.default_rng(1234)


def _t(shape, positive=False, away_from=None):
    a = RNG.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    if away_from is not None:  # keep clear of kinks (relu at 0, clamp bounds)
        a = np.where(np.abs(a - away_from) < 0.1, a + 0.3, a)
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4):
    for x in inputs:
        if isinstance(x, torch.Tensor):
            x.grad = None
    out = fn(*inputs)
    weights = torch.tensor(RNG.standard_normal(out.shape), dtype=torch.float64)
    (out * weights).sum().backward()
    for x in inputs:
        if not isinstance(x, torch.Tensor) or not x.requires_grad:
            continue
        analytic = x.grad.numpy().copy()
        numeric = np.zeros_like(x._a)
        flat = x._a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            with torch.no_grad():
                plus = (fn(*inputs) * weights).sum().item()
            flat[i] = old - eps
            with torch.no_grad():
                minus = (fn(*inputs) * weights).sum().item()
            flat[i] = old
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, atol=atol, rtol=rtol)


UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: torch.tanh(x),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "pow2": lambda x: x ** 2,
    "pow3": lambda x: x.pow(3),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "sum": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(1),
    "sum_keepdim": lambda x: x.sum(0, keepdim=True),
    "mean": lambda x: x.mean(),
    "mean_dim": lambda x: x.mean(-1),
    "max": lambda x: x.max(),
    "max_dim": lambda x: x.max(1).values,
    "min_dim": lambda x: x.min(0)[0],
    "softmax": lambda x: x.softmax(1),
    "log_softmax": lambda x: F.log_softmax(x, dim=1),
    "t": lambda x: x.t() * 1.0,
    "transpose": lambda x: x.transpose(0, 1) * 1.0,
    "permute": lambda x: x.permute(1, 0) * 2.0,
    "reshape": lambda x: x.reshape(-1) * 1.5,
    "view": lambda x: x.view(4, 3) * 1.5,
    "flatten": lambda x: x.flatten() * 1.0,
    "unsqueeze_squeeze": lambda x: x.unsqueeze(0).squeeze(0) * 1.0,
    "expand": lambda x: x[:, :1].expand(3, 5),
    "select": lambda x: x[1] * 2,
    "slice": lambda x: x[1:, ::2] * 2,
    "index_tensor": lambda x: x[torch.tensor([0, 2, 0])] * 2,
    "bool_mask": lambda x: x[x > 0] * 2,
    "clone": lambda x: x.clone(),
    "square_via_mul": lambda x: x * x,
    "transposed_input": lambda x: (x.t() * x.t()).sum(0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(name):
    fn = UNARY[name]
    x = _t((3, 4), away_from=0.0 if name in ("relu", "abs") else (0.5 if name == "clamp" else None))
    if name == "clamp":
        x = torch.tensor(np.where(np.abs(np.abs(x._a) - 0.5) < 0.1, x._a * 0.5, x._a), dtype=torch.float64,
                         requires_grad=True)
    gradcheck(fn, x)


@pytest.mark.parametrize("name", ["log", "sqrt"])
def test_positive_domain_ops(name):
    x = _t((3, 4), positive=True)
    gradcheck(getattr(torch, name), x)


BINARY = {
    "add": lambda a, b: a + b,
    "add_alpha": lambda a, b: torch.add(a, b, alpha=0.5),
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1),
    "pow": lambda a, b: (a.abs() + 1) ** b,
    "where": lambda a, b: torch.where(a > 0, a, b),
    "maximum": lambda a, b: torch.maximum(a, b + 0.05),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1))])
def test_binary_ops_with_broadcasting(name, shapes):
    a, b = _t(shapes[0]), _t(shapes[1])
    gradcheck(BINARY[name], a, b)


def test_scalar_operands():
    x = _t((2, 3))
    gradcheck(lambda v: 2.0 * v - 1 + v / 3.0 - 4 / (v.abs() + 1) + 2 ** v, x)


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 4))])
def test_matmul_shapes(sa, sb):
    gradcheck(lambda a, b: a @ b, _t(sa), _t(sb))


def test_matmul_non_contiguous():
    a, b = _t((4, 3)), _t((4, 2))
    gradcheck(lambda x, y: x.t() @ y, a, b)


def test_cat_stack():
    a, b = _t((2, 3)), _t((1, 3))
    gradcheck(lambda x, y: torch.cat([x, y], 0), a, b)
    c, d = _t((2, 3)), _t((2, 3))
    gradcheck(lambda x, y: torch.stack([x, y], 1), c, d)


def test_functional_losses():
    x, t = _t((4, 3)), torch.tensor(RNG.standard_normal((4, 3)))
    gradcheck(lambda v: F.mse_loss(v, t), x)
    gradcheck(lambda v: F.mse_loss(v, t, reduction="sum"), x)
    gradcheck(lambda v: F.l1_loss(v, t), _t((4, 3), away_from=0.0))
    y = torch.tensor([0, 2, 1, 2])
    gradcheck(lambda v: F.cross_entropy(v, y), x)
    gradcheck(lambda v: F.cross_entropy(v, y, reduction="sum"), x)
    gradcheck(lambda v: F.nll_loss(F.log_softmax(v, 1), y), x)
    tgt = torch.tensor(RNG.random((4, 3)))
    gradcheck(lambda v: F.binary_cross_entropy_with_logits(v, tgt), _t((4, 3), away_from=0.0))


def test_linear_and_modules():
    x = _t((5, 3))
    w, b = _t((2, 3)), _t((2,))
    gradcheck(lambda v, ww, bb: F.linear(v, ww, bb), x, w, b)
    gradcheck(lambda v, ww: F.linear(v, ww), x, w)
    gradcheck(lambda v: F.linear(v[0], w.detach(), b.detach()), x)


def test_batchnorm_train_mode():
    x = _t((6, 3))
    weight, bias = _t((3,)), _t((3,))
    gradcheck(lambda v, w, b: F.batch_norm(v, None, None, w, b, training=True), x, weight, bias)


def test_dropout_gradient_uses_the_same_mask():
    torch.manual_seed(0)
    x = torch.ones(1000, dtype=torch.float64, requires_grad=True)
    out = F.dropout(x, 0.5, training=True)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_second_order_through_create_graph():
    x = _t((3,))
    y = (x ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy(), rtol=1e-10)
