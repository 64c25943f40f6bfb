"""Tensor operations: out-of-place (recording grad_fn nodes with torch's names) and in-place (with torch's
checks and version bumps). Backward formulas use Tensor operations, so they can build graphs too."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from gradlint.runtime import _errors as E
from gradlint.runtime._core import (
    Tensor,
    _mode,
    _record,
    _unbroadcast,
    bool_,
    float64,
    get_default_dtype,
    int64,
    result_type,
)

# ----------------------------------------------------------------------------------------------- helpers


def _arr(x: Any, dt) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._a.astype(dt.np, copy=False)
    return np.asarray(x, dtype=dt.np)


def _t(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dt = result_type(x) if like is None else result_type(like, x)
    return Tensor(np.asarray(x, dtype=dt.np))


def _recording(*xs: Any) -> bool:
    return _mode.grad and any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tensor) else ()


def _float_result(dt):
    return dt if dt.is_floating_point else get_default_dtype()


def _check_out(name: str, out: Tensor | None, *inputs: Any) -> None:
    if out is not None and _mode.grad and any(isinstance(x, Tensor) and x.requires_grad for x in (*inputs, out)):
        raise RuntimeError(E.OUT_WITH_GRAD.format(op=name))


def _write_out(out: Tensor, result: Tensor) -> Tensor:
    _check_inplace(out, full=True)
    out._a = out._a if out._a.shape == result._a.shape else np.empty_like(result._a)
    np.copyto(out._a, result._a.astype(out._a.dtype, copy=False))
    out._vc.value += 1
    return out


# ----------------------------------------------------------------------------------------------- arithmetic


def add(a: Any, b: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    _check_out("add", out, a, b)
    dt = result_type(a, b)
    res = Tensor((_arr(a, dt) + alpha * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("AddBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g, sa), _unbroadcast(g * alpha if alpha != 1 else g, sb)))
    return _write_out(out, res) if out is not None else res


def sub(a: Any, b: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    _check_out("sub", out, a, b)
    dt = result_type(a, b)
    if dt is bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    res = Tensor((_arr(a, dt) - alpha * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("SubBackward0", res, [a, b], lambda g: (_unbroadcast(g, sa), _unbroadcast(-g * alpha, sb)))
    return _write_out(out, res) if out is not None else res


def rsub(a: Any, b: Any) -> Tensor:
    dt = result_type(a, b)
    res = Tensor((_arr(b, dt) - _arr(a, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    return _record("RsubBackward1", res, [a, b], lambda g: (_unbroadcast(-g, sa), _unbroadcast(g, sb)))


def mul(a: Any, b: Any, out: Tensor | None = None) -> Tensor:
    _check_out("mul", out, a, b)
    dt = result_type(a, b)
    res = Tensor((_arr(a, dt) * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    saved = [x for x in (a, b) if isinstance(x, Tensor) and _recording(a, b)]
    res = _record("MulBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g * b, sa) if isinstance(a, Tensor) else None,
                             _unbroadcast(g * a, sb) if isinstance(b, Tensor) else None), saved)
    return _write_out(out, res) if out is not None else res


def div(a: Any, b: Any, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    _check_out("div", out, a, b)
    if rounding_mode is not None:
        dt = result_type(a, b)
        q = _arr(a, float64) / _arr(b, float64)
        q = np.floor(q) if rounding_mode == "floor" else np.trunc(q)
        return Tensor(q.astype(dt.np))
    dt = _float_result(result_type(a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor((_arr(a, dt) / _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    saved = [x for x in (a, b) if isinstance(x, Tensor)] if _recording(a, b) else []
    res = _record("DivBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g / b, sa) if isinstance(a, Tensor) else None,
                             _unbroadcast(-g * a / (b * b), sb) if isinstance(b, Tensor) else None), saved)
    return _write_out(out, res) if out is not None else res


def floor_divide(a: Any, b: Any) -> Tensor:
    dt = result_type(a, b)
    return Tensor(np.floor_divide(_arr(a, dt), _arr(b, dt)).astype(dt.np))


def remainder(a: Any, b: Any) -> Tensor:
    dt = result_type(a, b)
    return Tensor(np.remainder(_arr(a, dt), _arr(b, dt)).astype(dt.np))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - torch's name
    dt = result_type(a, b)
    if isinstance(b, Tensor) and not b.dtype.is_floating_point and isinstance(a, Tensor) and not a.dtype.is_floating_point:
        pass
    A, B = _arr(a, dt), _arr(b, dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor(np.power(A, B).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        saved = [a] if _recording(a) else []
        return _record("PowBackward0", res, [a, b],
                       lambda g: (g * (b * (a ** (b - 1))) if b != 0 else g * 0, None), saved)
    if not isinstance(a, Tensor):
        saved = [res] if _recording(b) else []
        return _record("PowBackward2", res, [a, b], lambda g: (None, g * res * math.log(a)), saved)
    saved = [a, b, res] if _recording(a, b) else []
    return _record("PowBackward1", res, [a, b],
                   lambda g: (_unbroadcast(g * b * a ** (b - 1), sa), _unbroadcast(g * res * log(a), sb)), saved)


def neg(a: Tensor) -> Tensor:
    return _record("NegBackward0", Tensor(-a._a), [a], lambda g: (-g,))


def _unary(name: str, a: Tensor, fn, grad, save: str | None) -> Tensor:
    dt = _float_result(a.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor(fn(a._a.astype(dt.np, copy=False)).astype(dt.np, copy=False))
    saved: list[Tensor] = []
    if _recording(a) and save is not None:
        saved = [a if save == "input" else res]
    return _record(name, res, [a], lambda g: (grad(g, a, res),), saved)


def exp(a: Tensor) -> Tensor:
    return _unary("ExpBackward0", a, np.exp, lambda g, x, y: g * y, "result")


def log(a: Tensor) -> Tensor:
    return _unary("LogBackward0", a, np.log, lambda g, x, y: g / x, "input")


def sqrt(a: Tensor) -> Tensor:
    return _unary("SqrtBackward0", a, np.sqrt, lambda g, x, y: g / (2 * y), "result")


def sigmoid(a: Tensor) -> Tensor:
    return _unary("SigmoidBackward0", a, lambda v: 1 / (1 + np.exp(-v)), lambda g, x, y: g * y * (1 - y), "result")


def tanh(a: Tensor) -> Tensor:
    return _unary("TanhBackward0", a, np.tanh, lambda g, x, y: g * (1 - y * y), "result")


def relu(a: Tensor) -> Tensor:
    res = Tensor(np.maximum(a._a, 0).astype(a._a.dtype))
    saved = [res] if _recording(a) else []
    return _record("ReluBackward0", res, [a], lambda g: (g * (res > 0),), saved)


def abs(a: Tensor) -> Tensor:  # noqa: A001
    res = Tensor(np.abs(a._a))
    saved = [a] if _recording(a) else []
    return _record("AbsBackward0", res, [a], lambda g: (g * sign(a),), saved)


def sign(a: Tensor) -> Tensor:
    return Tensor(np.sign(a._a))


def clamp(a: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    res = Tensor(np.clip(a._a, lo, hi).astype(a._a.dtype))
    saved = [a] if _recording(a) else []
    mask = Tensor(((a._a >= lo) & (a._a <= hi)))
    return _record("ClampBackward1", res, [a], lambda g: (g * mask,), saved)


clip = clamp


def compare(a: Any, b: Any, fn) -> Tensor:
    if b is None:
        return False  # type: ignore[return-value]
    dt = result_type(a, b)
    return Tensor(fn(_arr(a, dt), _arr(b, dt)))


# ----------------------------------------------------------------------------------------------- linear algebra


def matmul(a: Tensor, b: Tensor, out: Tensor | None = None) -> Tensor:
    _check_out("matmul", out, a, b)
    dt = result_type(a, b)
    if a.dim() == 1 and b.dim() == 1:
        name = "DotBackward0"
    elif a.dim() == 2 and b.dim() == 2:
        name = "MmBackward0"
    elif a.dim() == 2 and b.dim() == 1:
        name = "MvBackward0"
    elif a.dim() == 1 and b.dim() == 2:
        name = "SqueezeBackward4"
    else:
        raise E.unsupported(f"matmul of {a.dim()}-D and {b.dim()}-D tensors")
    res = Tensor(np.matmul(_arr(a, dt), _arr(b, dt)).astype(dt.np, copy=False))
    saved = [a, b] if _recording(a, b) else []

    def backward(g: Tensor):
        if name == "DotBackward0":
            return g * b, g * a
        if name == "MmBackward0":
            return g @ b.t(), a.t() @ g
        if name == "MvBackward0":
            return g.unsqueeze(1) @ b.unsqueeze(0), a.t() @ g
        return (b @ g.unsqueeze(1)).squeeze(1), a.unsqueeze(1) @ g.unsqueeze(0)

    res = _record(name, res, [a, b], backward, saved)
    return _write_out(out, res) if out is not None else res


mm = matmul


def addmm(bias: Tensor, a: Tensor, b: Tensor) -> Tensor:
    dt = result_type(bias, a, b)
    res = Tensor((_arr(bias, dt) + np.matmul(_arr(a, dt), _arr(b, dt))).astype(dt.np, copy=False))
    sb = bias.shape
    saved = [a, b] if _recording(bias, a, b) else []
    return _record("AddmmBackward0", res, [bias, a, b],
                   lambda g: (_unbroadcast(g, sb), g @ b.t(), a.t() @ g), saved)


# ----------------------------------------------------------------------------------------------- reductions


def _norm_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    if isinstance(dim, (tuple, list)):
        return tuple(d % ndim for d in dim) if ndim else ()
    return (dim % ndim,) if ndim else ()


def sum(a: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A001
    out_dt = dtype or (int64 if not a.dtype.is_floating_point else a.dtype)
    shape = a.shape
    if dim is None:
        res = Tensor(np.asarray(a._a.sum(dtype=out_dt.np)))
        return _record("SumBackward0", res, [a], lambda g: (g.expand(*shape),))
    dims = _norm_dims(dim, a.dim())
    res = Tensor(np.asarray(a._a.sum(axis=dims, keepdims=keepdim, dtype=out_dt.np)))

    def backward(g: Tensor):
        if not keepdim:
            for d in sorted(dims):
                g = g.unsqueeze(d)
        return (g.expand(*shape),)

    return _record("SumBackward1", res, [a], backward)


def mean(a: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if not a.dtype.is_floating_point and dtype is None:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {a.dtype.name.capitalize() if a.dtype is not int64 else 'Long'}")
    shape = a.shape
    if dim is None:
        n = builtins.max(a.numel(), 1)
        res = Tensor(np.asarray(a._a.mean(), dtype=a._a.dtype))
        return _record("MeanBackward0", res, [a], lambda g: (g.expand(*shape) / n,))
    dims = _norm_dims(dim, a.dim())
    n = 1
    for d in dims:
        n *= shape[d]
    res = Tensor(np.asarray(a._a.mean(axis=dims, keepdims=keepdim), dtype=a._a.dtype))

    def backward(g: Tensor):
        if not keepdim:
            for d in sorted(dims):
                g = g.unsqueeze(d)
        return (g.expand(*shape) / n,)

    return _record("MeanBackward1", res, [a], backward)


_MinMax = namedtuple("_MinMax", ["values", "indices"])


def _max_min(a: Tensor, dim: Any, keepdim: bool, is_max: bool, other: Any = None):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        dt = result_type(a, other)
        A, B = _arr(a, dt), _arr(other, dt)
        res = Tensor((np.maximum if is_max else np.minimum)(A, B))
        pick = Tensor((A >= B) if is_max else (A <= B))
        sa, sb = _shape(a), _shape(other)
        return _record("MaximumBackward0" if is_max else "MinimumBackward0", res, [a, other],
                       lambda g: (_unbroadcast(g * pick, sa), _unbroadcast(g * (1 - pick.float()), sb)), [a, other])
    if dim is None:
        v = a._a.max() if is_max else a._a.min()
        res = Tensor(np.asarray(v))
        mask = Tensor((a._a == v))
        count = builtins.max(int(mask._a.sum()), 1)
        saved = [a, res] if _recording(a) else []
        return _record("MaxBackward1" if is_max else "MinBackward1", res, [a],
                       lambda g: (g.expand(*a.shape) * mask / count,), saved)
    d = dim % a.dim()
    idx = np.argmax(a._a, axis=d) if is_max else np.argmin(a._a, axis=d)
    vals = np.take_along_axis(a._a, np.expand_dims(idx, d), axis=d)
    if not keepdim:
        vals = np.squeeze(vals, axis=d)
    values = Tensor(vals)
    indices = Tensor(idx if not keepdim else np.expand_dims(idx, d))
    shape = a.shape

    def backward(g: Tensor):
        gi = g._a if keepdim else np.expand_dims(g._a, d)
        full = np.zeros(shape, dtype=g._a.dtype)
        np.put_along_axis(full, np.expand_dims(idx, d), gi, axis=d)
        return (Tensor(full),)

    values = _record("MaxBackward0" if is_max else "MinBackward0", values, [a], backward, [indices] if _recording(a) else [])
    return _MinMax(values, indices)


def max(a: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None):  # noqa: A001
    return _max_min(a, dim, keepdim, True, other)


def min(a: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None):  # noqa: A001
    return _max_min(a, dim, keepdim, False, other)


def argmax(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(np.asarray(np.argmax(a._a), dtype=np.int64))
    r = np.argmax(a._a, axis=dim)
    return Tensor((np.expand_dims(r, dim) if keepdim else r).astype(np.int64))


def argmin(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(np.asarray(np.argmin(a._a), dtype=np.int64))
    r = np.argmin(a._a, axis=dim)
    return Tensor((np.expand_dims(r, dim) if keepdim else r).astype(np.int64))


def softmax(a: Tensor, dim: int, dtype: Any = None) -> Tensor:
    x = a._a - a._a.max(axis=dim, keepdims=True)
    e = np.exp(x)
    res = Tensor((e / e.sum(axis=dim, keepdims=True)).astype(a._a.dtype))
    saved = [res] if _recording(a) else []
    return _record("SoftmaxBackward0", res, [a],
                   lambda g: (res * (g - (g * res).sum(dim, keepdim=True)),), saved)


def log_softmax(a: Tensor, dim: int, dtype: Any = None) -> Tensor:
    x = a._a - a._a.max(axis=dim, keepdims=True)
    lse = np.log(np.exp(x).sum(axis=dim, keepdims=True))
    res = Tensor((x - lse).astype(a._a.dtype))
    saved = [res] if _recording(a) else []
    return _record("LogSoftmaxBackward0", res, [a],
                   lambda g: (g - exp(res) * g.sum(dim, keepdim=True),), saved)


# ----------------------------------------------------------------------------------------------- views & shape


def _view(name: str, a: Tensor, arr: np.ndarray, backward) -> Tensor:
    shares = np.shares_memory(arr, a._a) if arr.size and a._a.size else True
    if shares:
        res = Tensor(arr, _vc=a._vc, _base=a._base if a._base is not None else a)
    else:
        res = Tensor(arr)
    res._inference = a._inference
    return _record(name, res, [a], backward)


def view(a: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    orig = a.shape
    try:
        arr = a._a.reshape(shape)  # a view when the strides allow one, else a copy, which torch's view refuses
        if arr.size and not np.may_share_memory(arr, a._a):  # (`arr.shape = shape`: deprecated in NumPy 2.5)
            raise AttributeError(shape)
    except AttributeError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    except ValueError:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {a.numel()}") from None
    return _view("ViewBackward0", a, arr, lambda g: (g.reshape(*orig),))


def reshape(a: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    orig = a.shape
    try:
        arr = a._a.reshape(shape)
    except ValueError:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {a.numel()}") from None
    name = "ViewBackward0" if np.shares_memory(arr, a._a) or not a.numel() else "UnsafeViewBackward0"
    return _view(name, a, arr, lambda g: (g.reshape(*orig),))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.dim() == 0:
        return reshape(a, 1)
    s, e = start_dim % a.dim(), end_dim % a.dim()
    shape = a.shape
    new = (*shape[:s], int(np.prod(shape[s : e + 1])), *shape[e + 1 :])
    return reshape(a, *new)


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    d = dim % (a.dim() + 1)
    return _view("UnsqueezeBackward0", a, np.expand_dims(a._a, d), lambda g: (g.squeeze(d),))


def squeeze(a: Tensor, dim: int | None = None) -> Tensor:
    orig = a.shape
    if dim is None:
        return _view("SqueezeBackward0", a, np.squeeze(a._a), lambda g: (g.reshape(*orig),))
    d = dim % a.dim() if a.dim() else 0
    if a.dim() and a.shape[d] == 1:
        arr = np.squeeze(a._a, axis=d)
    else:
        arr = a._a.view()
    return _view("SqueezeBackward1", a, arr, lambda g: (g.reshape(*orig),))


def transpose(a: Tensor, d0: int, d1: int) -> Tensor:
    return _view("TransposeBackward0", a, np.swapaxes(a._a, d0, d1), lambda g: (g.transpose(d0, d1),))


def t(a: Tensor) -> Tensor:
    if a.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.dim()}D")
    return _view("TBackward0", a, a._a.T, lambda g: (g.t(),))


def permute(a: Tensor, *dims: Any) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    inv = tuple(np.argsort(dims))
    return _view("PermuteBackward0", a, np.transpose(a._a, dims), lambda g: (g.permute(*inv),))


def expand(a: Tensor, *sizes: Any) -> Tensor:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = tuple(a.shape[i - (len(sizes) - a.dim())] if s == -1 else s for i, s in enumerate(sizes))
    orig = a.shape
    if shape == tuple(orig):
        return _view("ExpandBackward0", a, a._a.view(), lambda g: (g,))
    return _view("ExpandBackward0", a, np.broadcast_to(a._a, shape), lambda g: (_unbroadcast(g, orig),))


def _is_basic(k: Any) -> bool:
    return k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) and not isinstance(k, bool)


def _check_zero_dim_index(a: Tensor, key: Any) -> None:
    """torch's own errors for `t[i]` on a 0-dim tensor (a loss: `loss.data[0]`)."""
    if a.dim() == 0 and type(key) is int:
        raise IndexError(E.ZERO_DIM_INDEX if key == 0 else E.ZERO_DIM_OUT_OF_BOUNDS.format(index=key))


def getitem(a: Tensor, key: Any) -> Tensor:
    _check_zero_dim_index(a, key)
    keys = key if isinstance(key, tuple) else (key,)
    if all(_is_basic(k) for k in keys):
        return _basic_index(a, keys)
    # advanced indexing: a copy
    np_key = tuple(k._a if isinstance(k, Tensor) else k for k in keys)
    if len(np_key) == 1:
        np_key = np_key[0]
    arr = a._a[np_key]
    shape = a.shape
    res = Tensor(np.array(arr))

    def backward(g: Tensor):
        full = np.zeros(shape, dtype=g._a.dtype)
        np.add.at(full, np_key, g._a)
        return (Tensor(full),)

    saved = [k for k in keys if isinstance(k, Tensor)] if _recording(a) else []
    return _record("IndexBackward0", res, [a], backward, saved)


def _basic_index(a: Tensor, keys: tuple) -> Tensor:
    n_real = len([k for k in keys if k is not None and k is not Ellipsis])
    if n_real > a.dim():
        raise IndexError(f"too many indices for tensor of dimension {a.dim()}")
    cur = a
    d = 0
    for k in keys:
        if k is Ellipsis:
            d += cur.dim() - d - (n_real - _consumed(keys, k))
            continue
        if k is None:
            cur = cur.unsqueeze(d)
            d += 1
        elif isinstance(k, slice):
            if k == slice(None):
                d += 1
                continue
            cur = _slice(cur, d, k)
            d += 1
        else:
            size = cur.shape[d]
            if not -size <= int(k) < size:
                raise IndexError(f"index {int(k)} is out of bounds for dimension {d} with size {size}")
            cur = _select(cur, d, int(k))
    if cur is a:
        cur = _view("AliasBackward0", a, a._a.view(), lambda g: (g,))
    return cur


def _consumed(keys: tuple, upto: Any) -> int:
    n = 0
    for k in keys:
        if k is upto:
            break
        if k is not None and k is not Ellipsis:
            n += 1
    return n


def _slice(a: Tensor, d: int, s: slice) -> Tensor:
    idx = [slice(None)] * a.dim()
    idx[d] = s
    shape = a.shape

    def backward(g: Tensor):
        full = np.zeros(shape, dtype=g._a.dtype)
        full[tuple(idx)] = g._a
        return (Tensor(full),)

    return _view("SliceBackward0", a, a._a[tuple(idx)], backward)


def _select(a: Tensor, d: int, i: int) -> Tensor:
    idx: list[Any] = [slice(None)] * a.dim()
    idx[d] = i
    shape = a.shape

    def backward(g: Tensor):
        full = np.zeros(shape, dtype=g._a.dtype)
        full[tuple(idx)] = g._a
        return (Tensor(full),)

    return _view("SelectBackward0", a, a._a[(*idx, Ellipsis)], backward)  # `...` keeps a 0-d result a view


def cat(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    dt = result_type(*tensors)
    res = Tensor(np.concatenate([_arr(x, dt) for x in tensors], axis=dim))
    sizes = [x.shape[dim] for x in tensors]

    def backward(g: Tensor):
        out, start = [], 0
        for s in sizes:
            idx: list[Any] = [slice(None)] * g.dim()
            idx[dim] = slice(start, start + s)
            out.append(Tensor(np.array(g._a[tuple(idx)])))
            start += s
        return tuple(out)

    return _record("CatBackward0", res, tensors, backward)


concat = cat


def stack(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    dt = result_type(*tensors)
    res = Tensor(np.stack([_arr(x, dt) for x in tensors], axis=dim))
    return _record("StackBackward0", res, tensors,
                   lambda g: tuple(Tensor(np.array(np.take(g._a, i, axis=dim))) for i in range(len(tensors))))


def where(cond: Tensor, a: Any, b: Any) -> Tensor:
    dt = result_type(a, b)
    c = cond._a.astype(bool)
    res = Tensor(np.where(c, _arr(a, dt), _arr(b, dt)))
    sa, sb = _shape(a), _shape(b)
    m = Tensor(c)
    saved = [cond] if _recording(a, b) else []
    return _record("WhereBackward0", res, [None, a, b],
                   lambda g: (None, _unbroadcast(g * m, sa), _unbroadcast(g * (~c).astype(np.float32), sb)), saved)


# ----------------------------------------------------------------------------------------------- in-place


def _check_inplace(t: Tensor, full: bool = False) -> None:
    if t._inference and not _mode.inference:
        raise RuntimeError(E.INFERENCE_INPLACE)
    if not _mode.grad:
        return
    if t.requires_grad and t.grad_fn is None and t._base is None:
        raise RuntimeError(E.LEAF_INPLACE)
    base = t._base
    if base is not None and t.requires_grad and base.requires_grad and base.grad_fn is None:
        raise RuntimeError(E.VIEW_OF_LEAF_INPLACE)


def inplace(t: Tensor, name: str, result: Tensor) -> Tensor:
    """Write `result` (computed out of place from t and others, with its own grad_fn) into t."""
    _check_inplace(t)
    if _mode.grad and t._base is not None and (t.requires_grad or result.requires_grad):
        raise E.unsupported("in-place operations on views of tensors that require grad")
    np.copyto(t._a, result._a.astype(t._a.dtype, copy=False), casting="unsafe")
    t._vc.value += 1
    if _mode.grad and result.requires_grad:
        node = result.grad_fn
        # the node saved `result`'s values; they now live in t (same values, and t's version is current)
        if node is not None:
            node._saved = [(t, t._vc.value, o) if s is result else (s, v, o) for s, v, o in node._saved]
        t.grad_fn = node
        t.requires_grad_flag = True
        t._output_of = result._output_of
    return t


def _prev(t: Tensor) -> Tensor:
    """A stand-in for t before an in-place op: same graph position, a copy of the values."""
    p = Tensor(t._a.copy(), _vc=t._vc)
    p.grad_fn = t.grad_fn
    p.requires_grad_flag = t.requires_grad
    p._accumulator = t._accumulator
    p._output_of = t._output_of
    return p


def _inplace_binary(t: Tensor, other: Any, fn, name: str, **kw: Any) -> Tensor:
    _check_inplace(t)
    src = _prev(t) if _recording(t, other) else t
    res = fn(src, other, **kw)
    return inplace(t, name, res)


def setitem(t: Tensor, key: Any, value: Any) -> None:
    _check_zero_dim_index(t, key)
    keys = key if isinstance(key, tuple) else (key,)
    full = all(k == slice(None) or k is Ellipsis for k in keys if not isinstance(k, Tensor))
    if full and not any(isinstance(k, Tensor) for k in keys):
        _check_inplace(t)
    else:
        if _mode.grad and t.requires_grad and t.grad_fn is None and not (t._inference and not _mode.inference):
            raise RuntimeError(E.VIEW_OF_LEAF_INPLACE)  # p[0] = v writes through a view of p
        _check_inplace(t)
    np_key = tuple(k._a if isinstance(k, Tensor) else k for k in keys)
    if len(np_key) == 1:
        np_key = np_key[0]
    recording = _recording(t, value)
    prev = _prev(t) if recording else None
    t._a[np_key] = _arr(value, t.dtype) if isinstance(value, Tensor) else value
    t._vc.value += 1
    if recording:
        if t._base is not None:
            raise E.unsupported("index assignment into a view of a tensor that requires grad")
        vshape = _shape(value)

        def backward(g: Tensor):
            gt = np.array(g._a)
            gt[np_key] = 0
            gv = Tensor(np.array(g._a[np_key])) if isinstance(value, Tensor) else None
            return Tensor(gt), (_unbroadcast(gv, vshape) if gv is not None else None)

        res = Tensor(t._a)
        _record("CopySlices", res, [prev, value], backward)
        t.grad_fn = res.grad_fn
        t.requires_grad_flag = True
        t._output_of = "CopySlices"


def fill_random(t: Tensor, sample) -> Tensor:
    _check_inplace(t)
    t._a[...] = sample(t._a.shape).astype(t._a.dtype)
    t._vc.value += 1
    return t
