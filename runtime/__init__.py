"""gradlint's autograd engine: a NumPy stand-in for the subset of `torch` that gradlint's fixtures use.

Fixture programs say `import torch`; the verifier runs them with every `torch[.X]` import resolved to
`gradlint.runtime[.X]`. Anything outside the subset raises `UnsupportedError` ("... is not supported by
the gradlint runtime") rather than giving a wrong answer.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from gradlint.runtime import _errors, _ops
from gradlint.runtime._core import (
    Size,
    Tensor,
    bool_,
    device,
    dtype,
    enable_grad,
    float32,
    float64,
    get_default_dtype,
    inference_mode,
    int32,
    int64,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    result_type,
    set_default_dtype,
    set_grad_enabled,
)
from gradlint.runtime._errors import UnsupportedError
from gradlint.runtime._random import Generator, default_generator, initial_seed, manual_seed, rng

bool = bool_  # noqa: A001 - torch.bool
float = float32  # noqa: A001 - torch.float
double = float64
long = int64
int = int32  # noqa: A001 - torch.int
FloatTensor = DoubleTensor = LongTensor = None  # not constructors here: use torch.tensor(...)

__version__ = "2.13.0+gradlint"


# ----------------------------------------------------------------------------------------------- factories


def _dtype_of(data: Any, dt: dtype | None) -> dtype:
    if dt is not None:
        return dt
    from gradlint.runtime._core import _infer_dtype

    return _infer_dtype(data)


def _finish(arr: np.ndarray, requires_grad: builtins.bool, factory: builtins.bool = True) -> Tensor:
    t = Tensor(arr)
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise RuntimeError(_errors.INT_REQUIRES_GRAD_FACTORY)
        t.requires_grad_flag = True
    return t


def _size(size: tuple) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        return tuple(size[0])
    return tuple(size)


def _check_device(device_: Any) -> None:
    if device_ is not None and str(device_).split(":")[0] != "cpu":
        raise _errors.unsupported(f"device {device_!r} (the gradlint runtime runs on the CPU)")


def tensor(data: Any, dtype: dtype | None = None, device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
    _check_device(device)
    if isinstance(data, Tensor):
        data = data._a
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = [_ops._arr(x, x.dtype) if isinstance(x, Tensor) else x for x in data]
    dt = _dtype_of(data, dtype)
    return _finish(np.array(data, dtype=dt.np), requires_grad)


def _flat(x: Any):
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _flat(y)
    else:
        yield x


def as_tensor(data: Any, dtype: dtype | None = None, device: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or dtype is data.dtype):
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    from gradlint.runtime._core import _to_dtype

    _to_dtype(arr.dtype)
    return Tensor(arr)


def _factory(fill):
    def make(*size: Any, dtype: dtype | None = None, device: Any = None, requires_grad: builtins.bool = False,
             generator: Generator | None = None, **kw: Any) -> Tensor:
        _check_device(device)
        if kw.get("out") is not None:
            raise _errors.unsupported("out= on factory functions")
        dt = dtype or get_default_dtype()
        return _finish(np.asarray(fill(_size(size), dt, generator), dtype=dt.np), requires_grad)

    return make


zeros = _factory(lambda s, dt, g: np.zeros(s, dt.np))
ones = _factory(lambda s, dt, g: np.ones(s, dt.np))
empty = _factory(lambda s, dt, g: np.zeros(s, dt.np))
randn = _factory(lambda s, dt, g: rng(g).standard_normal(s))
rand = _factory(lambda s, dt, g: rng(g).random(s))


def full(size: Any, fill_value: Any, dtype: dtype | None = None, device: Any = None,
         requires_grad: builtins.bool = False) -> Tensor:
    dt = dtype or result_type(fill_value)
    return _finish(np.full(tuple(size), fill_value, dtype=dt.np), requires_grad)


def randint(low: Any, high: Any = None, size: Any = None, dtype: dtype | None = None, device: Any = None,
            requires_grad: builtins.bool = False, generator: Generator | None = None) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    dt = dtype or int64
    return _finish(rng(generator).integers(low, high, size=tuple(size)).astype(dt.np), requires_grad)


def randperm(n: builtins.int, dtype: dtype | None = None, generator: Generator | None = None,
             device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
    return Tensor(rng(generator).permutation(n).astype((dtype or int64).np))


def arange(start: Any, end: Any = None, step: Any = 1, dtype: dtype | None = None, device: Any = None,
           requires_grad: builtins.bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    dt = dtype or result_type(start, end, step)
    return _finish(np.arange(start, end, step).astype(dt.np), requires_grad)


def linspace(start: Any, end: Any, steps: builtins.int, dtype: dtype | None = None, device: Any = None,
             requires_grad: builtins.bool = False) -> Tensor:
    dt = dtype or get_default_dtype()
    return _finish(np.linspace(start, end, steps).astype(dt.np), requires_grad)


def eye(n: builtins.int, m: builtins.int | None = None, dtype: dtype | None = None, device: Any = None,
        requires_grad: builtins.bool = False) -> Tensor:
    dt = dtype or get_default_dtype()
    return _finish(np.eye(n, m).astype(dt.np), requires_grad)


def _like(fill):
    def make(t: Tensor, dtype: dtype | None = None, requires_grad: builtins.bool = False, **kw: Any) -> Tensor:
        dt = dtype or t.dtype
        return _finish(np.asarray(fill(t._a.shape, dt), dtype=dt.np), requires_grad)

    return make


zeros_like = _like(lambda s, dt: np.zeros(s))
ones_like = _like(lambda s, dt: np.ones(s))
empty_like = _like(lambda s, dt: np.zeros(s))
randn_like = _like(lambda s, dt: rng().standard_normal(s))
rand_like = _like(lambda s, dt: rng().random(s))


def full_like(t: Tensor, fill_value: Any, dtype: dtype | None = None, requires_grad: builtins.bool = False) -> Tensor:
    dt = dtype or t.dtype
    return _finish(np.full(t._a.shape, fill_value, dtype=dt.np), requires_grad)


# ----------------------------------------------------------------------------------------------- functions

add, sub, mul, div, pow, neg = _ops.add, _ops.sub, _ops.mul, _ops.div, _ops.pow, _ops.neg  # noqa: A001
multiply, subtract, divide, true_divide = _ops.mul, _ops.sub, _ops.div, _ops.div
exp, log, sqrt, sigmoid, tanh, relu, abs = _ops.exp, _ops.log, _ops.sqrt, _ops.sigmoid, _ops.tanh, _ops.relu, _ops.abs  # noqa: A001
clamp, clip, sign = _ops.clamp, _ops.clamp, _ops.sign
matmul, mm, addmm = _ops.matmul, _ops.matmul, _ops.addmm
sum, mean, max, min, argmax, argmin = _ops.sum, _ops.mean, _ops.max, _ops.min, _ops.argmax, _ops.argmin  # noqa: A001
softmax, log_softmax = _ops.softmax, _ops.log_softmax
cat, concat, stack, where = _ops.cat, _ops.cat, _ops.stack, _ops.where
reshape, flatten, unsqueeze, squeeze, transpose, t, permute = (
    _ops.reshape, _ops.flatten, _ops.unsqueeze, _ops.squeeze, _ops.transpose, _ops.t, _ops.permute)
floor_divide, remainder = _ops.floor_divide, _ops.remainder
sin, cos, rsqrt, reciprocal, gather, norm, bmm = _ops.sin, _ops.cos, _ops.rsqrt, _ops.reciprocal, _ops.gather, _ops.norm, _ops.bmm
tril, triu, cumsum, flip = _ops.tril, _ops.triu, _ops.cumsum, _ops.flip
unbind, split, chunk, narrow, var, std, square = _ops.unbind, _ops.split, _ops.chunk, _ops.narrow, _ops.var, _ops.std, lambda x: _ops.pow(x, 2)


def is_tensor(x: Any) -> builtins.bool:
    return isinstance(x, Tensor)


def numel(t: Tensor) -> builtins.int:
    return t.numel()


def equal(a: Tensor, b: Tensor) -> builtins.bool:
    return a.shape == b.shape and builtins.bool(np.array_equal(a._a, b._a))


def allclose(a: Tensor, b: Tensor, rtol: builtins.float = 1e-05, atol: builtins.float = 1e-08,
             equal_nan: builtins.bool = False) -> builtins.bool:
    return builtins.bool(np.allclose(a._a, _ops._arr(b, a.dtype), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a: Tensor, b: Any, rtol: builtins.float = 1e-05, atol: builtins.float = 1e-08) -> Tensor:
    return Tensor(np.isclose(a._a, _ops._arr(b, a.dtype), rtol=rtol, atol=atol))


def eq(a: Any, b: Any) -> Tensor:
    return _ops.compare(a, b, np.equal)


def maximum(a: Tensor, b: Tensor) -> Tensor:
    if not isinstance(b, Tensor):
        raise TypeError(f"maximum(): argument 'other' (position 2) must be Tensor, not {type(b).__name__}")
    return _ops.max(a, other=b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    if not isinstance(b, Tensor):
        raise TypeError(f"minimum(): argument 'other' (position 2) must be Tensor, not {type(b).__name__}")
    return _ops.min(a, other=b)


# ----------------------------------------------------------------------------------------------- Tensor methods

from gradlint.runtime import _methods  # noqa: E402,F401  (binds operators and methods onto Tensor)
from gradlint.runtime import autograd  # noqa: E402
from gradlint.runtime import nn  # noqa: E402
from gradlint.runtime import optim  # noqa: E402
from gradlint.runtime import utils  # noqa: E402

__all__ = [n for n in dir() if not n.startswith("_")]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise _errors.unsupported(f"torch.{name}")
