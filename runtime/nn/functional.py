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
    if x.dim() == 1:
        return O.addmm(bias, x.unsqueeze(0), weight.t()).view(weight.shape[0])
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
    if x.dim() not in (2, 3, 4):
        raise E.unsupported(f"batch_norm on {x.dim()}-D input")
    axes = (0, *range(2, x.dim()))
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
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
    return _fused(out, "NativeBatchNormBackward0", [x, weight])


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
    for x in (target, input):  # torch's Python wrapper calls target.size() then input.size()
        if not isinstance(x, Tensor):
            raise AttributeError(f"'{type(x).__name__}' object has no attribute 'size'")
    if input.shape != target.shape:
        import warnings

        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", UserWarning, stacklevel=2)
        O._broadcast(input, target)
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
    if target.dim() != 1 or target.shape[0] != input.shape[0]:
        if target.dim() == 1:
            raise ValueError(E.NLL_BATCH.format(n=input.shape[0], m=target.shape[0]))
        raise E.unsupported(f"nll_loss with a {target.dim()}-D target")
    if target.dtype.category != 1:
        raise RuntimeError(f"expected scalar type Long but found {target.dtype.type_name}")
    idx = target._a.astype(np.int64)
    bad = (idx != ignore_index) & ((idx < 0) | (idx >= input.shape[1]))
    if bad.any():
        raise IndexError(E.NLL_TARGET_BOUNDS.format(t=int(idx[bad][0])))
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


# ----------------------------------------------------------------------------------------------- composite layers
# Written with the engine's differentiable ops (so second-order gradients work); the output's node is then
# named as torch names it, and saves the tensors torch's fused kernel saves.


def _fused(out: Tensor, name: str, saved: list) -> Tensor:
    from gradlint.runtime._core import _node_class, _short_name

    if out.grad_fn is not None:
        out.grad_fn.__class__ = _node_class(name)
        out._output_of = _short_name(name)
        out.grad_fn._saved = out.grad_fn._saved + [(t, t._vc.value, None) for t in saved if isinstance(t, Tensor)]
        out.grad_fn._has_saved = True
    return out


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


def pad(x: Tensor, pad: Any, mode: str = "constant", value: float = 0.0) -> Tensor:
    if mode != "constant" or len(pad) % 2:
        raise E.unsupported(f"pad(mode={mode!r})")
    widths = [(0, 0)] * x.dim()
    for i in range(len(pad) // 2):
        widths[x.dim() - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(a < 0 or b < 0 for a, b in widths):
        raise E.unsupported("negative padding")
    arr = np.pad(x._a, widths, constant_values=value)
    key = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
    return _record("ConstantPadNdBackward0", Tensor(arr), [x], lambda g: (g[key],))


def _patches(x: Tensor, kh: int, kw: int, stride: tuple, padding: tuple, dilation: tuple = (1, 1)) -> tuple:
    if x.dim() != 4:
        raise E.unsupported(f"2-D convolution/pooling on {x.dim()}-D input (use a batch dimension)")
    if padding != (0, 0):
        x = pad(x, (padding[1], padding[1], padding[0], padding[0]))
    H, W = x.shape[2], x.shape[3]
    ho = (H - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (W - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if ho <= 0 or wo <= 0:
        raise RuntimeError(f"Calculated output size: ({ho}x{wo}). Output size is too small")
    cols = []
    for i in range(kh):
        for j in range(kw):
            a, b = i * dilation[0], j * dilation[1]
            cols.append(x[:, :, a : a + stride[0] * (ho - 1) + 1 : stride[0], b : b + stride[1] * (wo - 1) + 1 : stride[1]])
    return O.stack(cols, -1), ho, wo  # (N, C, ho, wo, kh*kw)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    if groups != 1 or isinstance(padding, str):
        raise E.unsupported("conv2d with groups or string padding")
    if x.dim() == 3:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation).squeeze(0)
    if x.dim() != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {list(x.shape)}")
    out_c, in_c, kh, kw = weight.shape
    if x.shape[1] != in_c:
        raise RuntimeError(f"Given groups=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
                           f"{in_c} channels, but got {x.shape[1]} channels instead")
    cols, ho, wo = _patches(x, kh, kw, _pair(stride), _pair(padding), _pair(dilation))
    n = x.shape[0]
    flat = cols.permute(0, 2, 3, 1, 4).reshape(n * ho * wo, in_c * kh * kw)
    out = O.matmul(flat, weight.reshape(out_c, in_c * kh * kw).t()).reshape(n, ho, wo, out_c).permute(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.reshape(1, out_c, 1, 1)
    return _fused(out, "ConvolutionBackward0", [x, weight])


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    if ceil_mode or return_indices or padding not in (0, (0, 0)):
        raise E.unsupported("max_pool2d with ceil_mode, return_indices or padding")
    kh, kw = _pair(kernel_size)
    squeeze = x.dim() == 3
    x4 = x.unsqueeze(0) if squeeze else x
    cols, _, _ = _patches(x4, kh, kw, _pair(stride if stride is not None else kernel_size), (0, 0), _pair(dilation))
    out = cols.max(-1).values
    out = out.squeeze(0) if squeeze else out
    return _fused(out, "MaxPool2DWithIndicesBackward0", [x])


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    if padding not in (0, (0, 0)):
        raise E.unsupported("avg_pool2d with padding")
    kh, kw = _pair(kernel_size)
    cols, _, _ = _patches(x, kh, kw, _pair(stride if stride is not None else kernel_size), (0, 0))
    return _fused(cols.mean(-1), "AvgPool2DBackward0", [x])


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    oh, ow = _pair(output_size)
    n_lead = x.dim() - 2
    H, W = x.shape[-2], x.shape[-1]
    oh, ow = oh or H, ow or W
    if H % oh or W % ow:
        raise E.unsupported("adaptive_avg_pool2d with an output size that does not divide the input")
    lead = tuple(x.shape[:n_lead])
    out = x.reshape(*lead, oh, H // oh, ow, W // ow).mean((n_lead + 1, n_lead + 3))
    return _fused(out, "AdaptiveAvgPool2DBackward0" if (oh, ow) != (1, 1) else "MeanBackward1", [])


def _erf(x: Tensor) -> Tensor:
    import math as _m

    res = Tensor(np.vectorize(_m.erf, otypes=[x._a.dtype])(x._a).astype(x._a.dtype) if x._a.size else x._a.copy())
    return _record("ErfBackward0", res, [x], lambda g: (g * (2 / np.sqrt(np.pi)) * O.exp(-(x * x)),), [x])


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * float(np.sqrt(2 / np.pi))
        out = 0.5 * x * (1 + O.tanh(inner))
    else:
        out = x * 0.5 * (1 + _erf(x * float(1 / np.sqrt(2))))
    return _fused(out, "GeluBackward0", [x])


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:
        raise E.unsupported("leaky_relu(inplace=True)")
    return O.leaky_relu(x, negative_slope)


def layer_norm(x: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.dim() - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(str(s) for s in shape)}], but got input of size{list(x.shape)}")
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * O.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return _fused(out, "NativeLayerNormBackward0", [x, weight, bias])


def embedding(idx: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    if not isinstance(idx, Tensor) or idx.dtype.category != 1:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           "Long, Int; but got torch.FloatTensor instead (while checking arguments for embedding)")
    n = weight.shape[0]
    if idx.numel() and (idx._a.max() >= n or idx._a.min() < 0):
        raise IndexError("index out of range in self")
    key = idx._a
    shape = weight.shape
    keep = np.ones((n, 1), dtype=weight._a.dtype)
    if padding_idx is not None:
        keep[padding_idx % n] = 0

    def backward(g: Tensor):
        return (O._index_put_zeros(shape, key, g) * Tensor(keep),)

    return _record("EmbeddingBackward0", Tensor(weight._a[key]), [weight], backward, [idx])


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: Any = None) -> Tensor:
    from gradlint.runtime._core import no_grad

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    with no_grad():
        norms = O.stack([O.norm(g, norm_type) for g in grads])
        total = O.norm(norms, norm_type)
        if error_if_nonfinite and not np.isfinite(total._a):
            raise RuntimeError(f"The total norm of order {float(norm_type)} for gradients from `parameters` is "
                               "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
                               "by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = O.clamp(float(max_norm) / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef)
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: Any = None) -> None:
    from gradlint.runtime._core import no_grad

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    with no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
