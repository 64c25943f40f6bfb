"""torch.nn.functional (the subset the engine supports), with torch's grad_fn node names."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradlint.runtime import _errors as E
from gradlint.runtime import _ops as O
from gradlint.runtime._core import Tensor, _mode, _record, _unbroadcast
from gradlint.runtime._random import rng


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    if bias is None:
        return O.matmul(x, weight.t())
    if x.dim() == 2:
        return O.addmm(bias, x, weight.t())
    if x.dim() == 0:
        raise RuntimeError("both arguments to linear need to be at least 1D, but they are 0D and 2D")
    lead = x.shape[:-1]
    return O.addmm(bias, x.reshape(-1, x.shape[-1]), weight.t()).view(*lead, weight.shape[0])


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return x.relu_() if inplace else O.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    return O.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return O.tanh(x)


def softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    return O.softmax(x, -1 if dim is None else dim)


def log_softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    return O.log_softmax(x, -1 if dim is None else dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if inplace:
        raise E.unsupported("dropout(inplace=True)")
    if p == 1.0:  # torch: input * zeros(()) (a MulBackward0 that saves the zero)
        return O.mul(x, Tensor(np.zeros((), dtype=x._a.dtype)))
    keep = (rng().random(x._a.shape) >= p).astype(x._a.dtype) / (1.0 - p)
    return O.mul(x, Tensor(keep.astype(x._a.dtype)))  # torch's CPU dropout: input * (bernoulli mask / (1 - p))


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if x.dim() not in (2, 3):
        raise E.unsupported(f"batch_norm on {x.dim()}-D input")
    axes = (0,) if x.dim() == 2 else (0, 2)
    shape = [1, x.shape[1]] + ([1] if x.dim() == 3 else [])
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ValueError(E.BN_ONE_VALUE.format(shape=list(x.shape)))
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdim=True)
        if running_mean is not None and running_var is not None:
            with _no_grad():
                unbiased = var.detach().reshape(-1) * (n / (n - 1))
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1) * momentum)
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
        out = centered / O.sqrt(var + eps)
    else:
        out = (x - running_mean.reshape(*shape)) / O.sqrt(running_var.reshape(*shape) + eps)
    if weight is not None:
        out = out * weight.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


def _no_grad():
    from gradlint.runtime._core import no_grad

    return no_grad()


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    diff = input._a - target._a
    n = diff.size
    if reduction == "none":
        return (input - target) * (input - target)
    val = (diff * diff).mean() if reduction == "mean" else (diff * diff).sum()
    res = Tensor(np.asarray(val, dtype=input._a.dtype))
    scale = 2.0 / n if reduction == "mean" else 2.0
    saved = [input, target] if _mode.grad and (input.requires_grad or target.requires_grad) else []
    si, st = input.shape, target.shape
    return _record("MseLossBackward0", res, [input, target],
                   lambda g: (_unbroadcast(g * scale * (input - target), si),
                              _unbroadcast(-g * scale * (input - target), st)), saved)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    return _reduce(O.abs(input - target), reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:  # noqa: A002
    if weight is not None or input.dim() != 2:
        raise E.unsupported("nll_loss with class weights or non-2-D input")
    idx = target._a.astype(np.int64)
    keep = idx != ignore_index
    picked = -input._a[np.arange(len(idx)), np.where(keep, idx, 0)] * keep
    count = int(keep.sum()) or 1
    if reduction == "none":
        val = picked
    else:
        val = np.asarray(picked.sum() / count if reduction == "mean" else picked.sum())
    res = Tensor(val.astype(input._a.dtype))
    onehot = np.zeros(input.shape, dtype=input._a.dtype)
    onehot[np.arange(len(idx)), np.where(keep, idx, 0)] = keep / (count if reduction == "mean" else 1)
    coef = Tensor(onehot)

    def backward(g: Tensor):  # linear in g, written with Tensor ops so it has a graph of its own
        return (-(g.unsqueeze(1) * coef) if reduction == "none" else -(g * coef), None)

    return _record("NllLossBackward0", res, [input, target], backward, [input, target])


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:  # noqa: A002
    if label_smoothing:
        raise E.unsupported("cross_entropy(label_smoothing=...)")
    return nll_loss(O.log_softmax(input, 1), target, weight, ignore_index, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:  # noqa: A002
    if weight is not None or pos_weight is not None:
        raise E.unsupported("binary_cross_entropy_with_logits with weights")
    # max(x, 0) - x * t + log(1 + exp(-|x|))
    loss = O.relu(input) - input * target + O.log(1 + O.exp(-O.abs(input)))
    return _reduce(loss, reduction)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise E.unsupported(f"torch.nn.functional.{name}")
