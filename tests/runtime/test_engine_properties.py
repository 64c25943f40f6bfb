"""Property-based tests of the engine's grad-mode invariants (hypothesis, bounded)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradlint.runtime as torch
from gradlint.runtime import nn

SETTINGS = settings(max_examples=60, deadline=None)

# op name -> (function, saves tensors for backward?)
OPS = {
    "add_scalar": (lambda x: x + 1.5, False),
    "neg": (lambda x: -x, False),
    "sum_keep": (lambda x: x.sum(0, keepdim=True), False),
    "view": (lambda x: x.reshape(-1).reshape(x.shape), False),
    "mul_self": (lambda x: x * x, True),
    "exp": (lambda x: x.exp(), True),
    "sigmoid": (lambda x: x.sigmoid(), True),
    "tanh": (lambda x: x.tanh(), True),
    "relu": (lambda x: x.relu(), True),
    "scale": (lambda x: x * 2.0, True),  # torch saves the wrapped scalar: a second backward raises
    "sub_const": (lambda x: x - 3.0, False),
    "select": (lambda x: x[0] if x.dim() else x + 0.0, False),
}

shapes = st.sampled_from([(3,), (2, 3), (4, 1)])
op_chains = st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=5)


@SETTINGS
@given(shape=shapes, chain=op_chains, rg=st.booleans())
def test_leaf_iff_no_grad_fn(shape, chain, rg):
    x = torch.randn(*shape, requires_grad=rg)
    values = [x]
    for name in chain:
        values.append(OPS[name][0](values[-1]))
    for v in values:
        assert v.is_leaf == (v.grad_fn is None)
        assert v.requires_grad == rg
    with torch.no_grad():
        y = OPS[chain[0]][0](x)
    # as in torch, a view made under no_grad still reports its base's requires_grad (but has no grad_fn)
    is_view = chain[0] in ("view", "select") and y._view_of is not None
    assert y.is_leaf and y.requires_grad == (rg and is_view)


@SETTINGS
@given(shape=shapes, n=st.integers(1, 6), through=st.sampled_from(["self", "view", "detach", "data"]))
def test_version_bumps_once_per_inplace_op_except_through_data(shape, n, through):
    x = torch.randn(*shape)
    target = {"self": lambda: x, "view": lambda: x[0], "detach": lambda: x.detach(), "data": lambda: x.data}[through]()
    before = x._version
    for i in range(n):
        target.add_(1.0) if i % 2 else target.mul_(1.0)
    expected = before if through == "data" else before + n
    assert x._version == expected
    assert target._version == before + n


@SETTINGS
@given(shape=shapes, chain=op_chains)
def test_second_backward_raises_iff_something_was_saved(shape, chain):
    x = torch.randn(*shape, requires_grad=True)
    y = x
    for name in chain:
        y = OPS[name][0](y)
    loss = y.sum()
    loss.backward()
    saved = any(OPS[name][1] for name in chain)
    if saved:
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            loss.backward()
    else:
        loss.backward()


@SETTINGS
@given(shape=shapes, chain=op_chains)
def test_retain_graph_doubles_grads(shape, chain):
    x = torch.randn(*shape, requires_grad=True)
    y = x
    for name in chain:
        y = OPS[name][0](y)
    loss = y.sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6, atol=1e-7)


@SETTINGS
@given(p=st.floats(0.0, 0.95), n=st.integers(1, 20))
def test_eval_dropout_is_identity(p, n):
    drop = nn.Dropout(p).eval()
    x = torch.randn(n, 3)
    assert drop(x) is x or torch.equal(drop(x), x)


@SETTINGS
@given(batch=st.integers(2, 12), feats=st.integers(1, 5))
def test_eval_batchnorm_leaves_running_stats_alone(batch, feats):
    bn = nn.BatchNorm1d(feats)
    bn(torch.randn(batch, feats) * 3 + 1)  # one training step moves the stats
    bn.eval()
    mean, var, count = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.item()
    bn(torch.randn(batch, feats) * 5 - 2)
    assert torch.equal(mean, bn.running_mean) and torch.equal(var, bn.running_var)
    assert bn.num_batches_tracked.item() == count


@SETTINGS
@given(lr=st.floats(1e-3, 1.0), steps=st.integers(1, 4), seed=st.integers(0, 1000))
def test_sgd_step_equals_no_grad_inplace_update(lr, steps, seed):
    torch.manual_seed(seed)
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    opt = torch.optim.SGD(a.parameters(), lr=lr)
    x = torch.randn(5, 3)
    for _ in range(steps):
        opt.zero_grad()
        a(x).pow(2).mean().backward()
        opt.step()
        b.zero_grad()
        b(x).pow(2).mean().backward()
        with torch.no_grad():
            for p in b.parameters():
                p -= lr * p.grad
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), rtol=1e-6, atol=1e-7)
