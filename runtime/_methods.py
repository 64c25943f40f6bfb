"""Operators and methods of Tensor, bound onto the class (kept apart from _core to keep that readable)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradlint.runtime import _ops as O
from gradlint.runtime._core import Tensor, _mode, _record
from gradlint.runtime._random import rng


def _bind(name: str, fn) -> None:
    setattr(Tensor, name, fn)


def _none_is_not_implemented(fn):
    """torch's binary operators return NotImplemented for a None operand, so Python raises
    `TypeError: unsupported operand type(s) for +: 'NoneType' and 'Tensor'` (e.g. `p.grad += g` on a None grad)."""

    def op(a, b):
        if b is None:
            return NotImplemented
        return fn(a, b)

    return op


# arithmetic operators
_bind("__add__", _none_is_not_implemented(lambda a, b: O.add(a, b)))
_bind("__radd__", _none_is_not_implemented(lambda a, b: O.add(b, a)))
_bind("__sub__", _none_is_not_implemented(lambda a, b: O.sub(a, b)))
_bind("__rsub__", _none_is_not_implemented(lambda a, b: O.rsub(a, b)))
_bind("__mul__", _none_is_not_implemented(lambda a, b: O.mul(a, b)))
_bind("__rmul__", _none_is_not_implemented(lambda a, b: O.mul(b, a)))
_bind("__truediv__", _none_is_not_implemented(lambda a, b: O.div(a, b)))
_bind("__rtruediv__", _none_is_not_implemented(lambda a, b: O.rdiv(a, b)))
_bind("__floordiv__", _none_is_not_implemented(lambda a, b: O.floor_divide(a, b)))
_bind("__mod__", _none_is_not_implemented(lambda a, b: O.remainder(a, b)))
_bind("__pow__", _none_is_not_implemented(lambda a, b: O.pow(a, b)))
_bind("__rpow__", _none_is_not_implemented(lambda a, b: O.pow(b, a)))
_bind("__matmul__", _none_is_not_implemented(lambda a, b: O.matmul(a, b)))
_bind("__rmatmul__", _none_is_not_implemented(lambda a, b: O.matmul(b, a)))
_bind("__neg__", lambda a: O.neg(a))
_bind("__pos__", lambda a: a)
_bind("__abs__", lambda a: O.abs(a))
_bind("__lt__", lambda a, b: O.compare(a, b, np.less))
_bind("__le__", lambda a, b: O.compare(a, b, np.less_equal))
_bind("__gt__", lambda a, b: O.compare(a, b, np.greater))
_bind("__ge__", lambda a, b: O.compare(a, b, np.greater_equal))
_bind("__and__", lambda a, b: Tensor(np.logical_and(a._a, O._arr(b, a.dtype)) if a.dtype.name == "bool" else a._a & O._arr(b, a.dtype)))
_bind("__or__", lambda a, b: Tensor(np.logical_or(a._a, O._arr(b, a.dtype)) if a.dtype.name == "bool" else a._a | O._arr(b, a.dtype)))
_bind("__invert__", lambda a: Tensor(~a._a))
_bind("__getitem__", lambda a, k: O.getitem(a, k))
_bind("__setitem__", lambda a, k, v: O.setitem(a, k, v))
_bind("__iter__", lambda a: iter(O.unbind(a, 0)) if a.dim() else _raise(TypeError("iteration over a 0-d tensor")))

# in-place operators
_bind("__iadd__", _none_is_not_implemented(lambda a, b: O._inplace_binary(a, b, O.add, "AddBackward0")))
_bind("__isub__", _none_is_not_implemented(lambda a, b: O._inplace_binary(a, b, O.sub, "SubBackward0")))
_bind("__imul__", _none_is_not_implemented(lambda a, b: O._inplace_binary(a, b, O.mul, "MulBackward0")))
_bind("__itruediv__", _none_is_not_implemented(lambda a, b: O._inplace_binary(a, b, O.div, "DivBackward0")))

# out-of-place methods
for _name in ("add", "sub", "mul", "div", "pow", "matmul", "mm", "clamp", "clip", "sum", "mean", "max", "min",
              "argmax", "argmin", "softmax", "log_softmax", "reshape", "view", "flatten", "unsqueeze", "squeeze",
              "transpose", "t", "permute", "expand", "exp", "log", "sqrt", "sigmoid", "tanh", "relu", "abs",
              "neg", "sign", "sin", "cos", "gather", "unbind", "split", "chunk", "narrow", "var", "std", "rsqrt",
              "reciprocal", "bmm", "norm", "tril", "triu", "cumsum", "flip"):
    _bind(_name, getattr(O, _name))
_bind("multiply", O.mul)
_bind("subtract", O.sub)
_bind("divide", O.div)
_bind("T", property(lambda a: O.t(a) if a.dim() <= 2 else O.permute(a, *reversed(range(a.dim())))))
_bind("view_as", lambda a, other: O.view(a, *other.shape))
_bind("reshape_as", lambda a, other: O.reshape(a, *other.shape))
_bind("expand_as", lambda a, other: O.expand(a, *other.shape))
_bind("square", lambda a: O.pow(a, 2))
_bind("select", lambda a, dim, i: O.getitem(a, (slice(None),) * O._dim(dim, a.dim()) + (i,)))
_bind("size", lambda a, dim=None: a.shape if dim is None else a.shape[O._dim(dim, a.dim())] if a.dim() else _size0(dim))
_bind("dim", lambda a: a._a.ndim)
_bind("eq", lambda a, b: O.compare(a, b, np.equal))
_bind("ne", lambda a, b: O.compare(a, b, np.not_equal))
_bind("gt", lambda a, b: O.compare(a, b, np.greater))
_bind("lt", lambda a, b: O.compare(a, b, np.less))
_bind("any", lambda a: Tensor(np.asarray(a._a.any())))
_bind("all", lambda a: Tensor(np.asarray(a._a.all())))
_bind("equal", lambda a, b: a.shape == b.shape and bool(np.array_equal(a._a, b._a)))
_bind("new_zeros", lambda a, *s, **k: Tensor(np.zeros(s[0] if len(s) == 1 and isinstance(s[0], (tuple, list)) else s, a._a.dtype)))
_bind("new_ones", lambda a, *s, **k: Tensor(np.ones(s[0] if len(s) == 1 and isinstance(s[0], (tuple, list)) else s, a._a.dtype)))


def _raise(exc: BaseException):
    raise exc


def _size0(dim):
    O._dim(dim, 0)
    return 1


def _unsupported(what: str):
    from gradlint.runtime._errors import unsupported

    raise unsupported(what)


# in-place methods (all go through torch's leaf / view / inference checks and bump the version)
def _iop(fn, name):
    def method(a: Tensor, *args: Any, **kw: Any) -> Tensor:
        if args:
            other, args = args[0], args[1:]
        elif "other" in kw:
            other = kw.pop("other")
        else:
            other = kw.pop("exponent")
        if args:
            kw["alpha"] = args[0]
        return O._inplace_binary(a, other, fn, name, **kw)

    return method


_bind("add_", _iop(O.add, "AddBackward0"))
_bind("sub_", _iop(O.sub, "SubBackward0"))
_bind("mul_", _iop(O.mul, "MulBackward0"))
_bind("div_", _iop(O.div, "DivBackward0"))
_bind("pow_", _iop(O.pow, "PowBackward0"))


def _unary_inplace(fn):
    def method(a: Tensor, *args: Any, **kw: Any) -> Tensor:
        O._check_inplace(a)
        src = O._prev(a) if O._recording(a) else a
        return O.inplace(a, "", fn(src, *args, **kw))

    method.__name__ = fn.__name__ + "_"
    return method


for _name in ("relu", "sigmoid", "tanh", "exp", "sqrt", "neg", "abs", "clamp", "sin", "cos", "log", "reciprocal"):
    _bind(_name + "_", _unary_inplace(getattr(O, _name)))
_bind("clip_", _unary_inplace(O.clamp))


def zero_(a: Tensor) -> Tensor:
    return fill_(a, 0, _name="ZeroBackward0")


def fill_(a: Tensor, value: Any, _name: str = "FillBackward2") -> Tensor:
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} dimensions.")
        if value.requires_grad:
            raise E_unsupported("fill_ with a value tensor that requires grad")
        value = value.item()
    O._check_inplace(a)
    if O._recording(a):
        arr = np.full(a._a.shape, value, dtype=a._a.dtype)
        res = _record(_name, Tensor(arr), [O._prev(a)], lambda g: (g * 0,))
        return O.inplace(a, "FillBackward0", res)
    O._check_overlap(a)
    a._a[...] = value
    a._vc.value += 1
    return a


def copy_(a: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    src_t = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    O._check_inplace(a, src_t)
    if src_t is not a:  # copying a tensor onto itself writes nothing (torch returns early)
        O._check_overlap(a)
        O._check_partial_overlap(a, src_t)
    O._broadcast(a, src_t)
    if np.broadcast_shapes(src_t.shape, a.shape) != tuple(a.shape):
        raise RuntimeError(f"output with shape {list(a.shape)} doesn't match the broadcast shape "
                           f"{list(np.broadcast_shapes(src_t.shape, a.shape))}")
    if O._recording(a, src_t):
        shape = src_t.shape
        res = _record("CopyBackwards", Tensor(np.broadcast_to(src_t._a, a._a.shape).astype(a._a.dtype)),
                      [O._prev(a), src_t],
                      lambda g: (g * 0 if O._rg(a) else None,
                                 _cast_like(O._unbroadcast(g, shape), src_t) if O._rg(src_t) else None))
        return O.inplace(a, "CopyBackwards", res)
    if src_t is not a:
        np.copyto(a._a, np.broadcast_to(src_t._a, a._a.shape), casting="unsafe")
    a._vc.value += 1
    return a


def _bshape(s1, s2):
    try:
        return list(np.broadcast_shapes(s1, s2))
    except ValueError:
        return None


def _cast_like(g: Tensor, like: Tensor) -> Tensor:
    return g if g.dtype is like.dtype else g.to(like.dtype)


_bind("_cast_like", _cast_like)


def E_unsupported(what: str):  # noqa: N802
    from gradlint.runtime._errors import unsupported

    return unsupported(what)


def _mask_arg(fn: str, a: Tensor, mask: Any) -> np.ndarray:
    if not isinstance(mask, Tensor) or mask.dtype.name != "bool":
        raise RuntimeError(f"{fn} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.short if isinstance(mask, Tensor) else type(mask).__name__}")
    O._broadcast(a, mask)
    return np.broadcast_to(mask._a, a._a.shape)


def masked_fill(a: Tensor, mask: Tensor, value: Any) -> Tensor:
    m = _mask_arg("masked_fill_", a, mask)
    if isinstance(value, Tensor):
        value = value.item()
    arr = a._a.copy()
    arr[m] = value
    return _record("MaskedFillBackward0", Tensor(arr), [a], lambda g: (O.where(mask, 0.0, g),), [mask])


def masked_fill_(a: Tensor, mask: Tensor, value: Any) -> Tensor:
    m = _mask_arg("masked_fill_", a, mask)
    O._check_inplace(a)
    if O._recording(a):
        return O.inplace(a, "MaskedFillBackward0", masked_fill(O._prev(a), mask, value))
    O._check_overlap(a)
    a._a[m] = value.item() if isinstance(value, Tensor) else value
    a._vc.value += 1
    return a


def normal_(a: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    return O.fill_random(a, lambda s: rng(generator).normal(mean, std, s))


def uniform_(a: Tensor, a_: float = 0.0, b: float = 1.0, generator=None, **kw: Any) -> Tensor:
    lo = kw.get("from", a_)
    hi = kw.get("to", b)
    return O.fill_random(a, lambda s: rng(generator).uniform(lo, hi, s))


def addcmul_(a: Tensor, t1: Tensor, t2: Tensor, value: float = 1) -> Tensor:
    return O._inplace_binary(a, O.mul(O.mul(t1, t2), value), O.add, "AddcmulBackward0")


def addcdiv_(a: Tensor, t1: Tensor, t2: Tensor, value: float = 1) -> Tensor:
    return O._inplace_binary(a, O.mul(O.div(t1, t2), value), O.add, "AddcdivBackward0")


def lerp_(a: Tensor, end: Tensor, weight: float) -> Tensor:
    return O._inplace_binary(a, O.mul(O.sub(end, a.detach() if not _mode.grad else a), weight), O.add, "LerpBackward0")


for _fn in (zero_, fill_, copy_, masked_fill_, masked_fill, normal_, uniform_, addcmul_, addcdiv_, lerp_):
    _bind(_fn.__name__, _fn)
