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
    SCALAR,
    CopySlices,
    Tensor,
    _as_strided_node,
    _graph_on,
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


def _rg(x: Any) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _recording(*xs: Any) -> bool:
    return _graph_on() and any(_rg(x) for x in xs)


def _saves(*pairs: tuple[Any, bool]) -> list:
    """What a backward formula saves: each (value, needed) pair whose `needed` holds; Python numbers are
    saved as wrapped scalars (SCALAR), as torch wraps them."""
    return [x if isinstance(x, Tensor) else SCALAR for x, needed in pairs if needed]


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tensor) else ()


def _float_result(dt):
    return dt if dt.is_floating_point else get_default_dtype()


def _dim(d: Any, ndim: int) -> int:
    """A dim argument checked and wrapped as torch does (a 0-d tensor accepts -1 and 0)."""
    n = builtins.max(ndim, 1)
    d = int(d)
    if not -n <= d < n:
        raise IndexError(E.DIM_RANGE.format(lo=-n, hi=n - 1, d=d))
    return d % n


def _operand(fn: str, x: Any, pos: int = 1, arg: str = "other") -> None:
    if x is None or not isinstance(x, (Tensor, int, float, bool, np.number)):
        got = "NoneType" if x is None else type(x).__name__
        raise TypeError(E.NOT_TENSOR_ARG.format(fn=fn, arg=arg, pos=pos, got=got))


def _broadcast(a: Any, b: Any) -> None:
    sa, sb = _shape(a), _shape(b)
    n = builtins.max(len(sa), len(sb))
    for k in range(1, n + 1):
        x = sa[-k] if k <= len(sa) else 1
        y = sb[-k] if k <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(E.BROADCAST.format(a=x, b=y, d=n - k))


def _binary(fn: str, a: Any, b: Any) -> Any:
    _operand(fn, b)
    _broadcast(a, b)
    return result_type(a, b)


def _check_out(name: str, out: Tensor | None, *inputs: Any) -> None:
    if out is not None and _graph_on() and any(isinstance(x, Tensor) and x.requires_grad for x in (*inputs, out)):
        raise RuntimeError(E.OUT_WITH_GRAD.format(op=name))


def _write_out(out: Tensor, result: Tensor) -> Tensor:
    _check_inplace(out)
    out._a = out._a if out._a.shape == result._a.shape else np.empty_like(result._a)
    np.copyto(out._a, result._a.astype(out._a.dtype, copy=False))
    out._vc.value += 1
    return out


# ----------------------------------------------------------------------------------------------- arithmetic
# Each op saves what torch 2.13's formula in derivatives.yaml saves, and only for inputs that need it.


def add(a: Any, b: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    dt = _binary("add", a, b)
    _check_out("add", out, a, b)
    res = Tensor((_arr(a, dt) + alpha * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("AddBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g, sa), _unbroadcast(g * alpha if alpha != 1 else g, sb)))
    return _write_out(out, res) if out is not None else res


def sub(a: Any, b: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    dt = _binary("sub", a, b)
    _check_out("sub", out, a, b)
    if dt is bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    res = Tensor((_arr(a, dt) - alpha * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("SubBackward0", res, [a, b], lambda g: (_unbroadcast(g, sa), _unbroadcast(-g * alpha, sb)))
    return _write_out(out, res) if out is not None else res


def rsub(a: Any, b: Any) -> Tensor:
    dt = _binary("rsub", a, b)
    res = Tensor((_arr(b, dt) - _arr(a, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    return _record("RsubBackward1", res, [a, b], lambda g: (_unbroadcast(-g, sa), _unbroadcast(g, sb)))


def mul(a: Any, b: Any, out: Tensor | None = None) -> Tensor:
    dt = _binary("mul", a, b)
    _check_out("mul", out, a, b)
    res = Tensor((_arr(a, dt) * _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("MulBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g * b, sa) if _rg(a) else None,
                             _unbroadcast(g * a, sb) if _rg(b) else None), _saves((b, _rg(a)), (a, _rg(b))))
    return _write_out(out, res) if out is not None else res


def div(a: Any, b: Any, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    dt = _binary("div", a, b)
    _check_out("div", out, a, b)
    if rounding_mode is not None:
        q = _arr(a, float64) / _arr(b, float64)
        q = np.floor(q) if rounding_mode == "floor" else np.trunc(q)
        return Tensor(q.astype(dt.np))
    dt = _float_result(dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor((_arr(a, dt) / _arr(b, dt)).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    res = _record("DivBackward0", res, [a, b],
                  lambda g: (_unbroadcast(g / b, sa) if _rg(a) else None,
                             _unbroadcast(-g * ((a / b) / b), sb) if _rg(b) else None),
                  _saves((b, _rg(a) or _rg(b)), (a, _rg(b))))
    return _write_out(out, res) if out is not None else res


def rdiv(a: Tensor, b: Any) -> Tensor:
    """`number / tensor`: torch computes `a.reciprocal() * number`."""
    return mul(reciprocal(a), b)


def reciprocal(a: Tensor) -> Tensor:
    return _unary("ReciprocalBackward0", a, lambda v: 1 / v, lambda g, x, y: -g * y * y, "result")


def floor_divide(a: Any, b: Any) -> Tensor:
    dt = _binary("floor_divide", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor(np.floor_divide(_arr(a, dt), _arr(b, dt)).astype(dt.np))


def remainder(a: Any, b: Any) -> Tensor:
    dt = _binary("remainder", a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor(np.remainder(_arr(a, dt), _arr(b, dt)).astype(dt.np))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - torch's name
    dt = _binary("pow", a, b)
    A, B = _arr(a, dt), _arr(b, dt)
    if dt.category == 1 and np.any(B < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        res = Tensor(np.power(A, B).astype(dt.np, copy=False))
    sa, sb = _shape(a), _shape(b)
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        return _record("PowBackward0", res, [a, None],
                       lambda g: (g * (b * (a ** (b - 1))) if b != 0 else g * 0, None), _saves((a, True)))
    if not isinstance(a, Tensor):
        return _record("PowBackward2", res, [None, b], lambda g: (None, g * res * math.log(a)),
                       _saves((b, True), (res, True)))
    return _record("PowBackward1", res, [a, b],
                   lambda g: (_unbroadcast(g * b * a ** (b - 1), sa) if _rg(a) else None,
                              _unbroadcast(g * res * log(a), sb) if _rg(b) else None),
                   _saves((a, True), (b, True), (res, _rg(b))))


def neg(a: Tensor) -> Tensor:
    if a.dtype is bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return _record("NegBackward0", Tensor(-a._a), [a], lambda g: (-g,))


def _unary(name: str, a: Tensor, fn, grad, save: str | None) -> Tensor:
    dt = _float_result(a.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        res = Tensor(np.asarray(fn(a._a.astype(dt.np, copy=False))).astype(dt.np, copy=False))
    saved = [] if save is None else [a if save == "input" else res]
    return _record(name, res, [a], lambda g: (grad(g, a, res),), saved)


def exp(a: Tensor) -> Tensor:
    return _unary("ExpBackward0", a, np.exp, lambda g, x, y: g * y, "result")


def log(a: Tensor) -> Tensor:
    return _unary("LogBackward0", a, np.log, lambda g, x, y: g / x, "input")


def sqrt(a: Tensor) -> Tensor:
    return _unary("SqrtBackward0", a, np.sqrt, lambda g, x, y: g / (2 * y), "result")


def rsqrt(a: Tensor) -> Tensor:
    return _unary("RsqrtBackward0", a, lambda v: 1 / np.sqrt(v), lambda g, x, y: -0.5 * g * y * y * y, "result")


def sin(a: Tensor) -> Tensor:
    return _unary("SinBackward0", a, np.sin, lambda g, x, y: g * cos(x), "input")


def cos(a: Tensor) -> Tensor:
    return _unary("CosBackward0", a, np.cos, lambda g, x, y: -g * sin(x), "input")


def sigmoid(a: Tensor) -> Tensor:
    return _unary("SigmoidBackward0", a, lambda v: 1 / (1 + np.exp(-v)), lambda g, x, y: g * y * (1 - y), "result")


def tanh(a: Tensor) -> Tensor:
    return _unary("TanhBackward0", a, np.tanh, lambda g, x, y: g * (1 - y * y), "result")


def relu(a: Tensor) -> Tensor:
    res = Tensor(np.maximum(a._a, 0).astype(a._a.dtype))
    return _record("ReluBackward0", res, [a], lambda g: (g * (res > 0),), [res])


def leaky_relu(a: Tensor, slope: float = 0.01) -> Tensor:
    res = Tensor(np.where(a._a > 0, a._a, a._a * slope).astype(a._a.dtype))
    return _record("LeakyReluBackward0", res, [a], lambda g: (g * where(a > 0, 1.0, slope),), [a])


def abs(a: Tensor) -> Tensor:  # noqa: A001
    res = Tensor(np.abs(a._a))
    return _record("AbsBackward0", res, [a], lambda g: (g * sign(a),), [a])


def sign(a: Tensor) -> Tensor:
    return _record("SignBackward0", Tensor(np.sign(a._a)), [a], lambda g: (g * 0,))


def clamp(a: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        raise E.unsupported("clamp with tensor bounds")
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    dt = result_type(a, *(v for v in (min, max) if v is not None))
    res = Tensor(np.minimum(np.maximum(a._a.astype(dt.np), lo), hi).astype(dt.np))

    def backward(g: Tensor):
        return (g * Tensor(((a._a >= lo) & (a._a <= hi)).astype(g._a.dtype)),)

    return _record("ClampBackward1", res, [a], backward, [a])


clip = clamp


def compare(a: Any, b: Any, fn) -> Tensor:
    if b is None:
        return False  # type: ignore[return-value]
    _broadcast(a, b)
    dt = result_type(a, b)
    return Tensor(fn(_arr(a, dt), _arr(b, dt)))


# ----------------------------------------------------------------------------------------------- linear algebra


def matmul(a: Tensor, b: Tensor, out: Tensor | None = None) -> Tensor:
    _check_out("matmul", out, a, b)
    _operand("matmul", b)
    if a.dim() == 0 or b.dim() == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.dim()}D and {b.dim()}D")
    dt = result_type(a, b)
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype.short} != {b.dtype.short}")
    sa, sb = a.shape, b.shape
    if a.dim() == 1 and b.dim() == 1:
        name = "DotBackward0"
        if sa[0] != sb[0]:
            raise RuntimeError(E.DOT_SHAPES.format(a=sa[0], b=sb[0]))
    elif a.dim() == 2 and b.dim() == 2:
        name = "MmBackward0"
        if sa[1] != sb[0]:
            raise RuntimeError(E.MM_SHAPES.format(a0=sa[0], a1=sa[1], b0=sb[0], b1=sb[1]))
    elif a.dim() == 2 and b.dim() == 1:
        name = "MvBackward0"
        if sa[1] != sb[0]:
            raise RuntimeError(E.MV_SHAPES.format(n=sa[0], a0=sa[0], a1=sa[1], v=sb[0]))
    elif a.dim() == 1 and b.dim() == 2:
        name = "SqueezeBackward4"
        if sa[0] != sb[0]:
            raise RuntimeError(E.MM_SHAPES.format(a0=1, a1=sa[0], b0=sb[0], b1=sb[1]))
    else:
        return _batched_matmul(a, b, dt)
    res = Tensor(np.matmul(_arr(a, dt), _arr(b, dt)).astype(dt.np, copy=False))

    def backward(g: Tensor):
        if name == "DotBackward0":
            return (g * b if _rg(a) else None), (g * a if _rg(b) else None)
        if name == "MmBackward0":
            return (g @ b.t() if _rg(a) else None), (a.t() @ g if _rg(b) else None)
        if name == "MvBackward0":
            return (g.unsqueeze(1) @ b.unsqueeze(0) if _rg(a) else None), (a.t() @ g if _rg(b) else None)
        return ((b @ g.unsqueeze(1)).squeeze(1) if _rg(a) else None), (a.unsqueeze(1) @ g.unsqueeze(0) if _rg(b) else None)

    res = _record(name, res, [a, b], backward, _saves((b, _rg(a)), (a, _rg(b))))
    if name == "SqueezeBackward4" and res.grad_fn is not None:
        res._vc.value = 1  # torch squeezes the mm result in place (squeeze_)
    return _write_out(out, res) if out is not None else res


def _batched_matmul(a: Tensor, b: Tensor, dt) -> Tensor:
    """matmul with a 3-D or larger operand (torch folds it into mm/bmm and a view)."""
    A, B = _arr(a, dt), _arr(b, dt)
    A2 = A[None] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    if A2.shape[-1] != B2.shape[-2]:
        if b.dim() == 2:
            rows = int(np.prod(A2.shape[:-1]))
            raise RuntimeError(E.MM_SHAPES.format(a0=rows, a1=A2.shape[-1], b0=B2.shape[0], b1=B2.shape[1]))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{A2.shape[0] if A2.ndim == 3 else B2.shape[0]}, {A2.shape[-1]}] but got: "
                           f"[{B2.shape[0]}, {B2.shape[-2]}].")
    try:
        out = np.matmul(A2, B2)
    except ValueError:
        raise E.unsupported(f"matmul of shapes {list(a.shape)} and {list(b.shape)}") from None
    if a.dim() == 1:
        out = out[..., 0, :]
    if b.dim() == 1:
        out = out[..., 0]
    res = Tensor(np.ascontiguousarray(out).astype(dt.np, copy=False))
    sa, sb = a.shape, b.shape

    def backward(g: Tensor):
        G = g._a
        G2 = G[..., None, :] if a.dim() == 1 else G
        G2 = G2[..., None] if b.dim() == 1 else G2
        ga = gb = None
        if _rg(a):
            ga = np.matmul(G2, np.swapaxes(B2, -1, -2))
            ga = ga[..., 0, :] if a.dim() == 1 else ga
            ga = _unbroadcast(Tensor(np.ascontiguousarray(ga)), sa)
        if _rg(b):
            gb = np.matmul(np.swapaxes(A2, -1, -2), G2)
            gb = gb[..., 0] if b.dim() == 1 else gb
            gb = _unbroadcast(Tensor(np.ascontiguousarray(gb)), sb)
        return ga, gb

    name = "CloneBackward0" if a.dim() == 2 else "UnsafeViewBackward0"
    return _record(name, res, [a, b], backward, _saves((b, _rg(a)), (a, _rg(b))))


mm = matmul


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.dim() != 3 or b.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor")
    dt = result_type(a, b)
    res = _batched_matmul(a, b, dt)
    if res.grad_fn is not None:
        res.grad_fn.__class__ = _core_node_class("BmmBackward0")
        res._output_of = "Bmm"
    return res


def _core_node_class(name: str):
    from gradlint.runtime._core import _node_class

    return _node_class(name)


def addmm(bias: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.dim() != 2 or b.dim() != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {a.dim()}-D tensor")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(E.MM_SHAPES.format(a0=a.shape[0], a1=a.shape[1], b0=b.shape[0], b1=b.shape[1]))
    dt = result_type(bias, a, b)
    res = Tensor((_arr(bias, dt) + np.matmul(_arr(a, dt), _arr(b, dt))).astype(dt.np, copy=False))
    sb = bias.shape
    return _record("AddmmBackward0", res, [bias, a, b],
                   lambda g: (_unbroadcast(g, sb), g @ b.t() if _rg(a) else None, a.t() @ g if _rg(b) else None),
                   _saves((b, _rg(a)), (a, _rg(b))))


# ----------------------------------------------------------------------------------------------- reductions


def _norm_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    if isinstance(dim, (tuple, list)):
        dims = tuple(_dim(d, ndim) for d in dim)
        if not ndim:
            return ()
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
        return dims
    d = _dim(dim, ndim)
    return (d,) if ndim else ()


def _unreduce(g: Tensor, dims: tuple[int, ...], keepdim: bool, shape) -> Tensor:
    if not keepdim:
        for d in sorted(dims):
            g = g.unsqueeze(d)
    return g.expand(*shape)


def sum(a: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A001
    out_dt = dtype or (int64 if not a.dtype.is_floating_point else a.dtype)
    shape = a.shape
    if dim is None:
        res = Tensor(np.asarray(a._a.sum(dtype=out_dt.np)))
        return _record("SumBackward0", res, [a], lambda g: (g.expand(*shape),))
    dims = _norm_dims(dim, a.dim())
    if isinstance(dim, (tuple, list)) and not dim:
        dims = tuple(range(a.dim()))
    res = Tensor(np.asarray(a._a.sum(axis=dims, keepdims=keepdim, dtype=out_dt.np)))
    return _record("SumBackward1", res, [a], lambda g: (_unreduce(g, dims, keepdim, shape),))


def mean(a: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if not a.dtype.is_floating_point and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {a.dtype.type_name}")
    shape = a.shape
    if dim is None:
        n = a.numel()
        with np.errstate(invalid="ignore", divide="ignore"):
            res = Tensor(np.asarray(a._a.sum() / n if n else np.nan, dtype=a._a.dtype))
        return _record("MeanBackward0", res, [a], lambda g: (g.expand(*shape) / n,))
    dims = _norm_dims(dim, a.dim())
    if isinstance(dim, (tuple, list)) and not dim:
        dims = tuple(range(a.dim()))
    n = 1
    for d in dims:
        n *= shape[d]
    with np.errstate(invalid="ignore", divide="ignore"):
        res = Tensor(np.asarray(a._a.mean(axis=dims, keepdims=keepdim), dtype=a._a.dtype))
    return _record("MeanBackward1", res, [a], lambda g: (_unreduce(g, dims, keepdim, shape) / n,))


def var(a: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, correction: Any = None) -> Tensor:
    corr = (1 if unbiased else 0) if correction is None else correction
    dims = tuple(range(a.dim())) if dim is None else _norm_dims(dim, a.dim())
    n = 1
    for d in dims:
        n *= a.shape[d]
    centered = a - mean(a, dims, keepdim=True)
    return div(sum(mul(centered, centered), dims, keepdim=keepdim), builtins.max(n - corr, 0))


def std(a: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, correction: Any = None) -> Tensor:
    return sqrt(var(a, dim, unbiased, keepdim, correction))


def norm(a: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """torch.norm / Tensor.norm / linalg.vector_norm for p in (1, 2, inf) (LinalgVectorNormBackward0)."""
    if p == "fro":
        p = 2
    if p not in (1, 2, 1.0, 2.0, math.inf):
        raise E.unsupported(f"norm with p={p!r}")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {a.dtype.type_name}")
    dims = tuple(range(a.dim())) if dim is None else _norm_dims(dim, a.dim())
    A = a._a
    if p == math.inf:
        val = np.abs(A).max(axis=dims, keepdims=keepdim) if A.size else np.zeros(())
    elif p == 1:
        val = np.abs(A).sum(axis=dims, keepdims=keepdim)
    else:
        val = np.sqrt((A * A).sum(axis=dims, keepdims=keepdim))
    res = Tensor(np.asarray(val, dtype=A.dtype))
    shape = a.shape

    def backward(g: Tensor):
        gk = _unreduce(g, dims, keepdim, shape)
        if p == 1:
            return (gk * sign(a),)
        rk = _unreduce(res, dims, keepdim, shape)
        if p == 2:
            return (gk * where(rk == 0, 0.0, a / rk),)
        hit = (abs(a) == rk)
        count = _unreduce(sum(hit.float() if a.dtype.name == "float32" else hit.double(), dims, keepdim), dims, keepdim, shape)
        return (gk * sign(a) * hit / count,)

    return _record("LinalgVectorNormBackward0", res, [a], backward, [a, res])


_MinMax = namedtuple("_MinMax", ["values", "indices"])


def _max_min(a: Tensor, dim: Any, keepdim: bool, is_max: bool, other: Any = None):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        dt = _binary("maximum" if is_max else "minimum", a, other)
        A, B = _arr(a, dt), _arr(other, dt)
        res = Tensor((np.maximum if is_max else np.minimum)(A, B))
        sa, sb = _shape(a), _shape(other)

        def backward(g: Tensor):
            win = (a > other) if is_max else (a < other)
            tie = (a == other)
            ga = g * (win.to(g.dtype) + tie.to(g.dtype) * 0.5)
            return _unbroadcast(ga, sa) if _rg(a) else None, _unbroadcast(g - ga, sb) if _rg(other) else None

        return _record("MaximumBackward0" if is_max else "MinimumBackward0", res, [a, other], backward, [a, other])
    if dim is None:
        if a.numel() == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        v = a._a.max() if is_max else a._a.min()
        res = Tensor(np.asarray(v))

        def backward_all(g: Tensor):
            mask = (a == res).to(g.dtype)
            return (g * mask / mask.sum(),)

        return _record("MaxBackward1" if is_max else "MinBackward1", res, [a], backward_all, [a, res])
    d = _dim(dim, a.dim())
    if a.dim() and a.shape[d] == 0:
        raise IndexError(f"{'max' if is_max else 'min'}(): Expected reduction dim {d} to have non-zero size.")
    if a.dim() == 0:
        values = _record("MaxBackward0" if is_max else "MinBackward0", Tensor(a._a.copy()), [a], lambda g: (g,))
        return _MinMax(values, Tensor(np.asarray(0, dtype=np.int64)))
    idx = np.argmax(a._a, axis=d) if is_max else np.argmin(a._a, axis=d)
    vals = np.take_along_axis(a._a, np.expand_dims(idx, d), axis=d)
    if not keepdim:
        vals = np.squeeze(vals, axis=d)
    values = Tensor(vals)
    indices = Tensor(idx if not keepdim else np.expand_dims(idx, d))
    shape = a.shape

    def backward(g: Tensor):
        gi = g if keepdim else g.unsqueeze(d)
        ii = indices if keepdim else indices.unsqueeze(d)
        return (_scatter_into(shape, d, ii, gi),)

    values = _record("MaxBackward0" if is_max else "MinBackward0", values, [a], backward, [indices])
    return _MinMax(values, indices)


def _scatter_into(shape, d: int, index: Tensor, src: Tensor) -> Tensor:
    """zeros(shape).scatter(d, index, src), differentiable in src (its backward gathers)."""
    full = np.zeros(shape, dtype=src._a.dtype)
    np.put_along_axis(full, index._a, src._a, axis=d)
    return _record("ScatterBackward0", Tensor(full), [None, src], lambda g: (None, gather(g, d, index)), [index])


def gather(a: Tensor, dim: int, index: Tensor) -> Tensor:
    d = _dim(dim, a.dim())
    if not isinstance(index, Tensor) or index.dtype is not int64:
        raise RuntimeError("gather(): Expected dtype int64 for index")
    if index.dim() != a.dim():
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    idx = index._a
    if idx.size and (idx.min() < -a.shape[d] or idx.max() >= a.shape[d]):
        raise RuntimeError(f"index {int(idx.max())} is out of bounds for dimension {d} with size {a.shape[d]}")
    for k in range(a.dim()):
        if k != d and idx.shape[k] > a.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index.shape)} to be "
                               f"no larger than self {list(a.shape)} apart from dimension {d}")
    sub = a._a[tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(idx.shape))]
    res = Tensor(np.take_along_axis(sub, idx % a.shape[d], axis=d))
    shape = a.shape

    def backward(g: Tensor):
        return (_scatter_add_into(shape, d, index, g), None)

    return _record("GatherBackward0", res, [a, index], backward, [a, index])


def _scatter_add_into(shape, d: int, index: Tensor, src: Tensor) -> Tensor:
    """zeros(shape).scatter_add(d, index, src): gather's backward, differentiable in src (its backward gathers)."""
    idx = index._a
    full = np.zeros(shape, dtype=src._a.dtype)
    view = full[tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(idx.shape))]
    grid = list(np.indices(idx.shape, sparse=True))
    grid[d] = idx % shape[d]
    np.add.at(view, tuple(grid), src._a)
    return _record("ScatterAddBackward0", Tensor(full), [src], lambda g: (gather(g, d, index),), [index])


def max(a: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None):  # noqa: A001
    return _max_min(a, dim, keepdim, True, other)


def min(a: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None):  # noqa: A001
    return _max_min(a, dim, keepdim, False, other)


def argmax(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(np.asarray(np.argmax(a._a), dtype=np.int64))
    d = _dim(dim, a.dim())
    r = np.argmax(a._a, axis=d) if a.dim() else np.asarray(0)
    return Tensor((np.expand_dims(r, d) if keepdim and a.dim() else r).astype(np.int64))


def argmin(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(np.asarray(np.argmin(a._a), dtype=np.int64))
    d = _dim(dim, a.dim())
    r = np.argmin(a._a, axis=d) if a.dim() else np.asarray(0)
    return Tensor((np.expand_dims(r, d) if keepdim and a.dim() else r).astype(np.int64))


def _softmax_dim(a: Tensor, dim: Any) -> int:
    if dim is None:
        dim = 0 if a.dim() in (0, 1, 3) else 1  # torch's legacy implicit choice
    return _dim(dim, a.dim())


def softmax(a: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"\"softmax_lastdim_kernel_impl\" not implemented for '{a.dtype.type_name}'")
    d = _softmax_dim(a, dim)
    A = a._a if a.dim() else a._a.reshape(1)
    x = A - A.max(axis=d, keepdims=True)
    e = np.exp(x)
    res = Tensor((e / e.sum(axis=d, keepdims=True)).astype(a._a.dtype).reshape(a._a.shape))
    dd = d if a.dim() else None
    return _record("SoftmaxBackward0", res, [a],
                   lambda g: (res * (g - (g * res).sum(dd, keepdim=True)) if dd is not None else g * 0,), [res])


def log_softmax(a: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{a.dtype.type_name}'")
    d = _softmax_dim(a, dim)
    A = a._a if a.dim() else a._a.reshape(1)
    x = A - A.max(axis=d, keepdims=True)
    lse = np.log(np.exp(x).sum(axis=d, keepdims=True))
    res = Tensor((x - lse).astype(a._a.dtype).reshape(a._a.shape))
    dd = d if a.dim() else None
    return _record("LogSoftmaxBackward0", res, [a],
                   lambda g: (g - exp(res) * g.sum(dd, keepdim=True) if dd is not None else g * 0,), [res])


# ----------------------------------------------------------------------------------------------- views & shape


def _view(name: str, a: Tensor, np_fn, backward) -> Tensor:
    """A view of `a`: shares its storage and version counter; in torch terms a differentiable view, whose
    in-place changes are recorded on its base (CopySlices)."""
    arr = np_fn(a._a)
    res = Tensor(arr, _vc=a._vc)
    res._inference = a._inference
    if not a._inference:
        res._base = a._view_of if a._view_of is not None else a
        parent = a._view_np
        res._view_of = a._view_of if a._view_of is not None else a
        res._view_np = np_fn if parent is None else (lambda A: np_fn(parent(A)))
        res._view_meta = (a._view_meta if a._view_meta in ("no_grad", "multi", "inference") else
                          "inference" if _mode.inference else "grad" if _mode.grad else "no_grad")
        if a._view_meta == "multi":  # torch names the view being modified: output 0 of its own op
            res._view_index, res._view_fn_name = 0, name[: name.rfind("Backward")]
    res._gf_version = res._vc.value
    return _record(name, res, [a], backward)


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape: tuple, numel: int) -> tuple:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def view(a: Tensor, *shape: Any) -> Tensor:
    shape = _infer_shape(_shape_arg(shape), a.numel())
    orig = a.shape
    try:
        arr = a._a.reshape(shape)  # a view when the strides allow one, else a copy, which torch's view refuses
        if arr.size and not np.may_share_memory(arr, a._a):  # (`arr.shape = shape`: deprecated in NumPy 2.5)
            raise AttributeError(shape)
    except AttributeError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    return _view("ViewBackward0", a, lambda A: A.reshape(shape), lambda g: (g.reshape(*orig),))


def reshape(a: Tensor, *shape: Any) -> Tensor:
    shape = _infer_shape(_shape_arg(shape), a.numel())
    orig = a.shape
    arr = a._a.reshape(shape)
    if np.shares_memory(arr, a._a) or not a.numel():
        # torch: view() of a contiguous tensor, _reshape_alias() of a strided one that can still be viewed
        name = "ViewBackward0" if a.is_contiguous() else "ReshapeAliasBackward0"
        return _view(name, a, lambda A: A.reshape(shape), lambda g: (g.reshape(*orig),))
    return _record("UnsafeViewBackward0", Tensor(arr), [a], lambda g: (g.reshape(*orig),))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.dim() == 0:
        return reshape(a, 1)
    s, e = _dim(start_dim, a.dim()), _dim(end_dim, a.dim())
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return a
    shape = a.shape
    new = (*shape[:s], int(np.prod(shape[s : e + 1])), *shape[e + 1 :])
    return reshape(a, *new)


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    d = _dim(dim, a.dim() + 1)
    return _view("UnsqueezeBackward0", a, lambda A: np.expand_dims(A, d), lambda g: (g.squeeze(d),))


def squeeze(a: Tensor, dim: int | None = None) -> Tensor:
    orig = a.shape
    if dim is None:
        return _view("SqueezeBackward0", a, lambda A: A.reshape([s for s in orig if s != 1]), lambda g: (g.reshape(*orig),))
    d = _dim(dim, a.dim())
    if a.dim() and a.shape[d] == 1:
        return _view("SqueezeBackward1", a, lambda A: np.squeeze(A, axis=d), lambda g: (g.reshape(*orig),))
    return _view("SqueezeBackward1", a, lambda A: A.view(), lambda g: (g.reshape(*orig),))


def transpose(a: Tensor, d0: int, d1: int) -> Tensor:
    d0, d1 = _dim(d0, a.dim()), _dim(d1, a.dim())
    if a.dim() == 0:
        return _view("TransposeBackward0", a, lambda A: A.view(), lambda g: (g,))
    return _view("TransposeBackward0", a, lambda A: np.swapaxes(A, d0, d1), lambda g: (g.transpose(d0, d1),))


def t(a: Tensor) -> Tensor:
    if a.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.dim()}D")
    return _view("TBackward0", a, lambda A: A.T, lambda g: (g.t(),))


def permute(a: Tensor, *dims: Any) -> Tensor:
    dims = _shape_arg(dims)
    if len(dims) != a.dim():
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {a.dim()} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(_dim(d, a.dim()) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inv = tuple(int(i) for i in np.argsort(dims))
    return _view("PermuteBackward0", a, lambda A: np.transpose(A, dims), lambda g: (g.permute(*inv),))


def expand(a: Tensor, *sizes: Any) -> Tensor:
    sizes = _shape_arg(sizes)
    if len(sizes) < a.dim():
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(a.shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({a.dim()})")
    lead = len(sizes) - a.dim()
    shape = []
    for i, s in enumerate(sizes):
        cur = a.shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                                   f"dimension {i}")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(a.shape)}")
        shape.append(s)
    shape_t = tuple(shape)
    orig = a.shape
    if shape_t == tuple(orig):
        return _view("ExpandBackward0", a, lambda A: A.view(), lambda g: (g,))
    return _view("ExpandBackward0", a, lambda A: _expand_np(A, shape_t), lambda g: (_unbroadcast(g, orig),))


def _expand_np(A: np.ndarray, shape: tuple) -> np.ndarray:
    """A writeable broadcast view (torch lets in-place ops write through expanded tensors whose written
    elements do not overlap; _check_overlap refuses the rest)."""
    lead = len(shape) - A.ndim
    strides = [0] * lead + [0 if n == 1 and s != 1 else st for n, s, st in zip(A.shape, shape[lead:], A.strides)]
    return np.lib.stride_tricks.as_strided(A, shape=shape, strides=strides)


def _is_basic(k: Any) -> bool:
    return k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) and not isinstance(k, bool)


def _check_zero_dim_index(a: Tensor, key: Any) -> None:
    """torch's own errors for `t[i]` on a 0-dim tensor (a loss: `loss.data[0]`)."""
    if a.dim() == 0 and type(key) is int:
        raise IndexError(E.ZERO_DIM_INDEX if key == 0 else E.ZERO_DIM_OUT_OF_BOUNDS.format(index=key))


def _index_key(a: Tensor, keys: tuple) -> Any:
    np_key = []
    for k in keys:
        if isinstance(k, Tensor):
            if k.dtype.category == 2:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            np_key.append(k._a)
        elif isinstance(k, list):
            np_key.append(np.asarray(k))
        else:
            np_key.append(k)
    return tuple(np_key)


def getitem(a: Tensor, key: Any) -> Tensor:
    _check_zero_dim_index(a, key)
    keys = key if isinstance(key, tuple) else (key,)
    if all(_is_basic(k) for k in keys):
        return _basic_index(a, keys)
    if a.dim() == 0:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
                         "C++ to convert a 0-dim tensor to a number")
    np_key = _index_key(a, keys)
    key1 = np_key[0] if len(np_key) == 1 else np_key
    try:
        arr = a._a[key1]
    except IndexError as exc:
        msg = str(exc)
        if "out of bounds" in msg:
            import re

            m = re.search(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", msg)
            if m:
                raise IndexError(f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size "
                                 f"{m.group(3)}") from None
        raise E.unsupported(f"this indexing expression ({msg})") from None
    shape = a.shape
    res = Tensor(np.array(arr))

    def backward(g: Tensor):
        return (_index_put_zeros(shape, key1, g),)

    return _record("IndexBackward0", res, [a], backward, [k for k in keys if isinstance(k, Tensor)])


def _index_put_zeros(shape, key: Any, g: Tensor) -> Tensor:
    """zeros(shape).index_put_(key, g, accumulate=True), differentiable in g (its backward indexes)."""
    full = np.zeros(shape, dtype=g._a.dtype)
    np.add.at(full, key, g._a)
    return _record("IndexPutBackward0", Tensor(full), [g], lambda gg: (Tensor(np.array(gg._a[key])),))


def _basic_index(a: Tensor, keys: tuple) -> Tensor:
    n_real = len([k for k in keys if k is not None and k is not Ellipsis])
    if n_real > a.dim():
        if a.dim() == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
                             "C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {a.dim()}")
    cur = a
    d = 0  # position in cur
    od = 0  # dimension of a (for messages)
    for k in keys:
        if k is Ellipsis:
            skip = cur.dim() - d - (n_real - _consumed(keys, k))
            d += skip
            od += skip
            continue
        if k is None:
            cur = cur.unsqueeze(d)
            d += 1
        elif isinstance(k, slice):
            if k == slice(None):
                d += 1
                od += 1
                continue
            cur = _slice(cur, d, k)
            d += 1
            od += 1
        else:
            size = cur.shape[d]
            if not -size <= int(k) < size:
                raise IndexError(f"index {int(k)} is out of bounds for dimension {od} with size {size}")
            cur = _select(cur, d, int(k))
            od += 1
    if cur is a:
        if any(isinstance(k, slice) for k in keys):
            return _slice(a, 0, slice(None))
        cur = _view("AliasBackward0", a, lambda A: A.view(), lambda g: (g,))
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
    if s.step is not None and s.step <= 0:
        raise ValueError("step must be greater than zero")
    idx = (slice(None),) * d + (s,)
    shape = a.shape

    def backward(g: Tensor):
        return (_embed(shape, idx, g, "SliceBackwardBackward0"),)

    return _view("SliceBackward0", a, lambda A: A[idx], backward)


def _embed(shape, idx: tuple, g: Tensor, name: str) -> Tensor:
    """zeros(shape) with g written at idx, differentiable in g."""
    full = np.zeros(shape, dtype=g._a.dtype)
    full[idx] = g._a
    return _record(name, Tensor(full), [g], lambda gg: (Tensor(np.array(gg._a[idx])),))


def _select(a: Tensor, d: int, i: int) -> Tensor:
    idx = (slice(None),) * d + (i, Ellipsis)  # `...` keeps a 0-d result a view
    shape = a.shape

    def backward(g: Tensor):
        return (_embed(shape, idx, g, "SelectBackwardBackward0"),)

    return _view("SelectBackward0", a, lambda A: A[idx], backward)


def unbind(a: Tensor, dim: int = 0) -> tuple:
    """Iteration and unbind: views that are outputs of one multi-output node (UnbindBackward0)."""
    if a.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _dim(dim, a.dim())
    n = a.shape[d]
    outs = []
    node = None
    shape = a.shape
    for i in range(n):
        idx = (slice(None),) * d + (i, Ellipsis)
        arr = a._a[idx]
        o = Tensor(arr, _vc=a._vc)
        o._inference = a._inference
        if not _mode.inference:
            o._base = a._view_of if a._view_of is not None else a
            parent = a._view_np
            o._view_of = a._view_of if a._view_of is not None else a
            o._view_np = (lambda A, idx=idx: A[idx]) if parent is None else (lambda A, idx=idx: parent(A)[idx])
            o._view_meta = "multi" if _graph_on() and a.requires_grad else ("grad" if _mode.grad else "no_grad")
            o._view_index, o._view_fn_name = i, "Unbind"
        o._gf_version = o._vc.value
        outs.append(o)
    if _graph_on() and a.requires_grad:
        grads: dict[int, Tensor] = {}
        # one node shared by all outputs; each output is an input slot of the node's gradient
        for i, o in enumerate(outs):
            def backward(g: Tensor, i=i):
                return (_embed(shape, (slice(None),) * d + (i, Ellipsis), g, "SelectBackwardBackward0"),)
            _record("UnbindBackward0", o, [a], backward)
    return tuple(outs)


def split(a: Tensor, size: Any, dim: int = 0) -> tuple:
    d = _dim(dim, a.dim())
    n = a.shape[d]
    sizes = [size] * (n // size) + ([n % size] if n % size else []) if isinstance(size, int) else list(size)
    out, start = [], 0
    for s in sizes:
        out.append(_slice(a, d, slice(start, start + s)))
        start += s
    return tuple(out)


def chunk(a: Tensor, chunks: int, dim: int = 0) -> tuple:
    d = _dim(dim, a.dim())
    size = -(-a.shape[d] // chunks)
    return split(a, size, d)


def cat(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ref = next((x for x in tensors if not (x.dim() == 1 and x.shape[0] == 0)), tensors[0])
    d = _dim(dim, ref.dim())
    for i, x in enumerate(tensors):
        if x.dim() == 1 and x.shape[0] == 0:
            continue
        if x.dim() != ref.dim():
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.dim()} and {x.dim()}")
        for k in range(x.dim()):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {x.shape[k]} for tensor number {i} in the list.")
    dt = result_type(*tensors)
    parts = [_arr(x, dt) for x in tensors if not (x.dim() == 1 and x.shape[0] == 0 and ref.dim() != 1)]
    res = Tensor(np.concatenate(parts, axis=d))
    sizes = [x.shape[d] if x.dim() == ref.dim() else 0 for x in tensors]

    def backward(g: Tensor):
        out, start = [], 0
        for s in sizes:
            out.append(g.narrow(d, start, s) if s else None)
            start += s
        return tuple(out)

    return _record("CatBackward0", res, tensors, backward)


concat = cat


def narrow(a: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = _dim(dim, a.dim())
    return _slice(a, d, slice(start, start + length))


def stack(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(x.shape)} at entry {i}")
    d = _dim(dim, tensors[0].dim() + 1)
    dt = result_type(*tensors)
    res = Tensor(np.stack([_arr(x, dt) for x in tensors], axis=d))
    return _record("StackBackward0", res, tensors, lambda g: tuple(g.select(d, i) for i in range(len(tensors))))


def where(cond: Tensor, a: Any, b: Any) -> Tensor:
    if cond.dtype is not bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype.type_name}")
    _broadcast(cond, a)
    _broadcast(cond, b)
    _broadcast(a, b)
    dt = result_type(a, b)
    c = cond._a.astype(bool)
    res = Tensor(np.asarray(np.where(c, _arr(a, dt), _arr(b, dt))))
    sa, sb = _shape(a), _shape(b)
    return _record("WhereBackward0", res, [None, a, b],
                   lambda g: (None, _unbroadcast(where(cond, g, 0.0), sa) if _rg(a) else None,
                              _unbroadcast(where(cond, 0.0, g), sb) if _rg(b) else None), [cond])


# ----------------------------------------------------------------------------------------------- in-place


def _check_inplace(t: Tensor, other: Any = None) -> None:
    """torch's check_inplace: inference tensors, views made in no_grad mode or by multi-output functions,
    views of leaves and leaves that require grad."""
    if t._inference and not _mode.inference and not t._inf_ok:
        raise RuntimeError(E.INFERENCE_INPLACE)
    if not _graph_on() or not (t.requires_grad or _rg(other)):
        return
    base = t._view_of
    if base is not None:
        if t._view_meta == "no_grad":
            raise RuntimeError(E.VIEW_NO_GRAD_INPLACE)
        if t._view_meta == "inference":
            raise RuntimeError(E.VIEW_INFERENCE_INPLACE)
        if t._view_meta == "multi":
            raise RuntimeError(E.VIEW_MULTI_INPLACE.format(i=t._view_index, fn=t._view_fn_name))
        if t.requires_grad and base.is_leaf:
            raise RuntimeError(E.VIEW_OF_LEAF_INPLACE)
    if t.requires_grad and t.is_leaf:
        raise RuntimeError(E.LEAF_INPLACE)


def _check_overlap(t: Tensor) -> None:
    if any(st == 0 and n > 1 for st, n in zip(t._a.strides, t._a.shape)):
        raise RuntimeError(E.OVERLAP)


def inplace(t: Tensor, name: str, result: Tensor) -> Tensor:
    """Write `result` (computed out of place from t and others, with its own grad_fn) into t."""
    if result.dtype.category > t.dtype.category:
        raise RuntimeError(E.INPLACE_CAST.format(got=result.dtype.type_name, want=t.dtype.type_name))
    if result.shape != t.shape:
        if np.broadcast_shapes(result.shape, t.shape) != tuple(t.shape):
            raise RuntimeError(E.INPLACE_SHAPE.format(want=list(t.shape), got=list(np.broadcast_shapes(result.shape, t.shape))))
    _check_overlap(t)
    np.copyto(t._a, np.broadcast_to(result._a, t._a.shape).astype(t._a.dtype, copy=False), casting="unsafe")
    t._vc.value += 1
    if _graph_on() and result.requires_grad:
        node = result.grad_fn
        # the node saved `result`'s values; they now live in t (same values, and t's version is current)
        node._saved = [(t, t._vc.value, o) if s is result else (s, v, o) for s, v, o in node._saved]
        base = t._view_of
        if base is not None:
            base_edge = _edge_of(base)
            base.grad_fn = CopySlices(base_edge, node, t._view_np)
            base._output_of = "CopySlices"
            t.grad_fn = _as_strided_node(t, base)
            t._output_of = "AsStrided"
        else:
            t.grad_fn = node
            t._output_of = result._output_of
    return t


def _edge_of(t: Tensor):
    from gradlint.runtime._core import _edge

    return _edge(t)


def _prev(t: Tensor) -> Tensor:
    """A stand-in for t before an in-place op: same graph position, a copy of the values."""
    p = Tensor(t._a.copy())  # torch saves a clone of the original self: not version-checked against t
    p.grad_fn = t.grad_fn
    p.requires_grad_flag = t.requires_grad
    p._accumulator = t._accumulator
    p._output_of = t._output_of
    if t.requires_grad and t.grad_fn is None:  # a view made in no_grad mode: its own accumulator
        p._accumulator = t._accumulator
    return p


def _check_partial_overlap(t: Tensor, other: Any) -> None:
    if isinstance(other, Tensor) and other._a is not t._a and np.shares_memory(t._a, other._a):
        same = (t._a.__array_interface__["data"][0] == other._a.__array_interface__["data"][0]
                and t._a.strides == other._a.strides and t._a.shape == other._a.shape)
        if not same:
            raise RuntimeError(E.PARTIAL_OVERLAP)


def _inplace_binary(t: Tensor, other: Any, fn, name: str, **kw: Any) -> Tensor:
    _operand(fn.__name__ + "_", other)
    _check_inplace(t, other)
    _check_overlap(t)
    _broadcast(t, other)
    _check_partial_overlap(t, other)
    src = _prev(t) if _recording(t, other) else t
    res = fn(src, other, **kw)
    return inplace(t, name, res)


def setitem(t: Tensor, key: Any, value: Any) -> None:
    _check_zero_dim_index(t, key)
    keys = key if isinstance(key, tuple) else (key,)
    if isinstance(value, Tensor) or isinstance(value, (int, float, bool, np.number)):
        pass
    else:
        value = Tensor(np.asarray(value, dtype=t._a.dtype))
    if all(_is_basic(k) for k in keys):
        if all(k == slice(None) or k is Ellipsis for k in keys):
            target = t
        else:
            target = _basic_index(t, keys)
        _copy_into(target, value)
        return
    # advanced indexing: index_put_ on t itself
    _check_inplace(t, value)
    np_key = _index_key(t, keys)
    key1 = np_key[0] if len(np_key) == 1 else np_key
    recording = _recording(t, value)
    prev = _prev(t) if recording else t
    arr = prev._a.copy() if recording else t._a
    arr[key1] = _arr(value, t.dtype) if isinstance(value, Tensor) else value
    if not recording:
        t._vc.value += 1
        return
    vshape = _shape(value)

    def backward(g: Tensor):
        gt = np.array(g._a)
        gt[key1] = 0
        gv = Tensor(np.array(g._a[key1])) if _rg(value) else None
        return Tensor(gt), (_unbroadcast(gv, vshape) if gv is not None else None)

    res = _record("IndexPutBackward0", Tensor(arr), [prev, value], backward,
                  [k for k in keys if isinstance(k, Tensor)])
    inplace(t, "IndexPutBackward0", res)


def _copy_into(t: Tensor, value: Any) -> None:
    from gradlint.runtime._methods import copy_, fill_

    if isinstance(value, Tensor):
        copy_(t, value)
    else:
        fill_(t, value)


def fill_random(t: Tensor, sample) -> Tensor:
    _check_inplace(t)
    t._a[...] = sample(t._a.shape).astype(t._a.dtype)
    t._vc.value += 1
    return t


def _tri(a: Tensor, diagonal: int, lower: bool) -> Tensor:
    if a.dim() < 2:
        raise RuntimeError(f"{'tril' if lower else 'triu'}: input tensor must have at least 2 dimensions")
    n, m = a.shape[-2], a.shape[-1]
    keep = np.tril(np.ones((n, m), dtype=bool), diagonal) if lower else np.triu(np.ones((n, m), dtype=bool), diagonal)
    res = Tensor(np.where(keep, a._a, np.zeros((), a._a.dtype)))
    mask = Tensor(keep)
    return _record("TrilBackward0" if lower else "TriuBackward0", res, [a], lambda g: (where(mask, g, 0.0),))


def tril(a: Tensor, diagonal: int = 0) -> Tensor:
    return _tri(a, diagonal, True)


def triu(a: Tensor, diagonal: int = 0) -> Tensor:
    return _tri(a, diagonal, False)


def cumsum(a: Tensor, dim: int, dtype: Any = None) -> Tensor:
    d = _dim(dim, a.dim())
    res = Tensor(np.cumsum(a._a, axis=d) if a.dim() else a._a.copy())
    return _record("CumsumBackward0", res, [a], lambda g: (g.flip(d).cumsum(d).flip(d) if a.dim() else g,))


def flip(a: Tensor, *dims: Any) -> Tensor:
    dims = tuple(_dim(d, a.dim()) for d in _shape_arg(dims))
    return _record("FlipBackward0", Tensor(np.flip(a._a, dims).copy()), [a], lambda g: (g.flip(*dims),))
