"""The engine's core: dtypes, grad mode, Tensor, autograd graph and backward.

Grad-mode semantics over breadth: leaves and requires_grad propagation, grad_fn nodes named as in torch,
version counters shared by views and `.detach()` (not by `.data`), the saved-tensor version check, freed
graphs, in-place checks on leaves and views of leaves, retain_grad, inference tensors. Backward formulas
are written with Tensor operations, so `create_graph=True` builds a differentiable graph.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradlint.runtime import _errors as E

# ----------------------------------------------------------------------------------------------- dtypes


class dtype:
    __slots__ = ("name", "np", "category", "itemsize", "tensor_type")

    def __init__(self, name: str, np_dtype: Any, category: int, tensor_type: str) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.itemsize = self.np.itemsize
        self.tensor_type = tensor_type

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0, "torch.BoolTensor")
int32 = dtype("int32", np.int32, 1, "torch.IntTensor")
int64 = dtype("int64", np.int64, 1, "torch.LongTensor")
float32 = dtype("float32", np.float32, 2, "torch.FloatTensor")
float64 = dtype("float64", np.float64, 2, "torch.DoubleTensor")
_DTYPES = {d.np: d for d in (bool_, int32, int64, float32, float64)}
_BY_NAME = {d.name: d for d in (bool_, int32, int64, float32, float64)}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


_default_dtype = [float32]


def get_default_dtype() -> dtype:
    return _default_dtype[0]


def set_default_dtype(d: dtype) -> None:
    if d not in (float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    _default_dtype[0] = d


def _to_dtype(np_dtype: np.dtype) -> dtype:
    d = _DTYPES.get(np.dtype(np_dtype))
    if d is None:
        raise E.unsupported(f"NumPy dtype {np_dtype}")
    return d


def result_type(*operands: Any) -> dtype:
    """torch's type promotion: dimensioned tensors > zero-dim tensors > Python scalars, and a higher
    category (bool < integer < floating) from a lower-priority operand wins only by category."""
    best: list[dtype | None] = [None, None, None]  # tensors with dims, 0-dim tensors, scalars
    for op in operands:
        if isinstance(op, Tensor):
            slot = 0 if op._a.ndim > 0 else 1
            d = op.dtype
        elif isinstance(op, bool):
            slot, d = 2, bool_
        elif isinstance(op, int):
            slot, d = 2, int64
        elif isinstance(op, float):
            slot, d = 2, get_default_dtype()
        else:
            continue
        cur = best[slot]
        if cur is None or (d.category, d.itemsize) > (cur.category, cur.itemsize):
            best[slot] = d
    result: dtype | None = None
    for d in best:  # in priority order; a lower-priority operand wins only with a higher category
        if d is not None and (result is None or d.category > result.category):
            result = d
    assert result is not None
    return result


# ----------------------------------------------------------------------------------------------- grad mode


class _Mode(threading.local):
    def __init__(self) -> None:
        self.grad = True
        self.inference = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.grad


def is_inference_mode_enabled() -> bool:
    return _mode.inference


class _DecoratorContextManager:
    """Context managers that also work as decorators, with or without parentheses (torch >= 2.1)."""

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls in (no_grad, enable_grad) and len(args) == 1 and callable(args[0]) and not kwargs:
            return cls()(args[0])
        if cls is inference_mode and len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)

    def __call__(self, func: Callable) -> Callable:
        import functools

        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with self.clone():
                return func(*a, **kw)

        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_DecoratorContextManager):
    def __init__(self) -> None:
        self.prev = True

    def __enter__(self) -> None:
        self.prev = _mode.grad
        _mode.grad = False

    def __exit__(self, *exc: Any) -> None:
        _mode.grad = self.prev


class enable_grad(_DecoratorContextManager):
    def __init__(self) -> None:
        self.prev = True

    def __enter__(self) -> None:
        self.prev = _mode.grad
        _mode.grad = True

    def __exit__(self, *exc: Any) -> None:
        _mode.grad = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Sets the mode at construction (so a bare `set_grad_enabled(False)` call switches it, as in torch);
    as a context manager, restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.prev = _mode.grad
        self.mode = bool(mode)
        _mode.grad = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        _mode.grad = self.prev

    def clone(self):
        return set_grad_enabled(self.mode)

    def __call__(self, func: Callable) -> Callable:
        _mode.grad = self.prev  # as a decorator it must not change the mode at definition time
        return super().__call__(func)


class inference_mode(_DecoratorContextManager):
    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self.prev: tuple[bool, bool] = (True, False)

    def __enter__(self) -> None:
        self.prev = (_mode.grad, _mode.inference)
        if self.mode:
            _mode.grad = False
            _mode.inference = True
        else:
            _mode.inference = False

    def __exit__(self, *exc: Any) -> None:
        _mode.grad, _mode.inference = self.prev

    def clone(self):
        return inference_mode(self.mode)


# ----------------------------------------------------------------------------------------------- autograd graph


class _Version:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Node:
    """A grad_fn. Subclasses are made per torch node name so `type(t.grad_fn).__name__` matches torch."""

    def __init__(self, backward: Callable[[Tensor], Sequence[Tensor | None]],
                 inputs: Sequence[Tensor | None], saved: Sequence[Tensor]) -> None:
        self._backward = backward
        self.next_functions = tuple(
            (_edge(t), 0) if t is not None else (None, 0) for t in inputs
        )
        self._saved = [(t, t._vc.value, t._output_of) for t in saved]
        self._has_saved = bool(saved)
        self._freed = False
        self._retained: list[Tensor] = []
        self._output_meta: tuple[str, tuple[int, ...]] | None = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def _check_saved(self) -> None:
        if self._freed and self._has_saved:
            raise RuntimeError(E.BACKWARD_TWICE)
        for t, version, output_of in self._saved:
            if t._vc.value != version:
                origin = f", which is output 0 of {output_of}," if output_of is not None else ""
                shape = ", ".join(str(s) for s in t.shape)
                raise RuntimeError(E.VERSION_MISMATCH.format(
                    tensor_type=t.dtype.tensor_type, shape=shape, origin=origin,
                    version=t._vc.value, expected=version))


class AccumulateGrad(Node):
    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_functions = ()
        self._saved = []
        self._has_saved = False
        self._freed = False
        self._retained = []


_NODE_CLASSES: dict[str, type] = {}


def _node_class(name: str) -> type:
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = type(name, (Node,), {})
        _NODE_CLASSES[name] = cls
    return cls


def _edge(t: Tensor) -> Node | None:
    if not t.requires_grad:
        return None
    if t.grad_fn is not None:
        return t.grad_fn
    if t._accumulator is None:
        t._accumulator = AccumulateGrad(t)
    return t._accumulator


def _record(name: str, out: Tensor, inputs: Sequence[Any], backward: Callable[[Tensor], Sequence[Tensor | None]],
            saved: Sequence[Tensor] = ()) -> Tensor:
    """Attach a grad_fn to `out` if grad mode is on and an input requires grad."""
    tensors = [t if isinstance(t, Tensor) else None for t in inputs]
    if not _mode.grad or not any(t is not None and t.requires_grad for t in tensors):
        return out
    for t in saved:
        if t._inference:
            raise RuntimeError(E.INFERENCE_SAVED)
    out._output_of = name[: -len("Backward0")] if name.endswith("Backward0") else name
    node = _node_class(name)(backward, tensors, saved)
    out.requires_grad_flag = True
    out.grad_fn = node
    return out


def _unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    if grad.shape == shape:
        return grad
    g = grad
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


# ----------------------------------------------------------------------------------------------- Tensor


def _as_array(value: Any, dt: dtype | None = None) -> np.ndarray:
    if isinstance(value, Tensor):
        arr = value._a
    else:
        arr = np.asarray(value)
    if dt is not None:
        return arr.astype(dt.np, copy=False)
    return arr


def _infer_dtype(data: Any) -> dtype:
    arr = np.asarray(data)
    if arr.dtype == np.bool_:
        return bool_
    if np.issubdtype(arr.dtype, np.integer):
        return int64 if arr.dtype.itemsize == 8 or not isinstance(data, np.ndarray) else _to_dtype(arr.dtype)
    if np.issubdtype(arr.dtype, np.floating):
        if isinstance(data, np.ndarray):
            return _to_dtype(arr.dtype)
        return get_default_dtype()
    if arr.dtype == object:
        raise E.unsupported("tensors of Python objects")
    raise E.unsupported(f"dtype {arr.dtype}")


class Tensor:
    __slots__ = ("_a", "_vc", "requires_grad_flag", "grad_fn", "_grad", "_retains_grad", "_base",
                 "_inference", "_accumulator", "_output_of", "__weakref__", "__dict__")

    def __init__(self, array: np.ndarray, requires_grad: bool = False, *, _vc: _Version | None = None,
                 _base: Tensor | None = None) -> None:
        # numpy ops on 0-d arrays return numpy scalars; keep an ndarray so in-place ops (np.copyto) work
        self._a = array if isinstance(array, np.ndarray) else np.asarray(array)
        self._vc = _vc if _vc is not None else _Version()
        self.requires_grad_flag = False
        self.grad_fn: Node | None = None
        self._grad: Tensor | None = None
        self._retains_grad = False
        self._base = _base
        self._inference = _mode.inference
        self._accumulator: AccumulateGrad | None = None
        self._output_of: str | None = None
        if requires_grad:
            self.requires_grad = True

    # ---- basic properties
    @property
    def dtype(self) -> dtype:
        return _to_dtype(self._a.dtype)

    @property
    def shape(self) -> Size:
        return Size(self._a.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self._a.shape[dim]

    def dim(self) -> int:
        return self._a.ndim

    @property
    def ndim(self) -> int:
        return self._a.ndim

    def numel(self) -> int:
        return int(self._a.size)

    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._a.shape[0]

    @property
    def device(self):
        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_inference(self) -> bool:
        return self._inference

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """The version counter's value, as torch exposes it."""
        if self._inference:
            raise RuntimeError(E.INFERENCE_VERSION)
        return self._vc.value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise E.unsupported(f"Tensor.{name}")

    # ---- requires_grad
    @property
    def requires_grad(self) -> bool:
        return self.requires_grad_flag

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(E.NONLEAF_REQUIRES_GRAD if not value else E.NONLEAF_REQUIRES_GRAD_TRUE)
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(E.INT_REQUIRES_GRAD_ATTR)
        self.requires_grad_flag = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(E.NONLEAF_REQUIRES_GRAD)
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(E.INT_REQUIRES_GRAD_METHOD)
        self.requires_grad_flag = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        if self.grad_fn is None:
            return
        self._retains_grad = True
        if self not in self.grad_fn._retained:
            self.grad_fn._retained.append(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def grad(self) -> Tensor | None:
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(E.NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        self._grad = value

    # ---- data, detach, clone
    @property
    def data(self) -> Tensor:
        t = Tensor(self._a)  # same storage, a new version counter: autograd does not see changes
        t._inference = self._inference
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._a = value._a

    def detach(self) -> Tensor:
        t = Tensor(self._a, _vc=self._vc, _base=self._base if self._base is not None else self)
        t._inference = self._inference
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad_flag = False
        return self

    def clone(self) -> Tensor:
        out = Tensor(self._a.copy())
        return _record("CloneBackward0", out, [self], lambda g: (g,))

    def contiguous(self) -> Tensor:
        return self

    # ---- conversions
    def item(self) -> Any:
        if self._a.size != 1:
            raise RuntimeError(E.ITEM_MULTI.format(n=self._a.size))
        return self._a.reshape(()).item()

    def tolist(self) -> Any:
        return self._a.tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(E.NUMPY_REQUIRES_GRAD)
        return self._a

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._a.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._a.reshape(()))

    def __index__(self) -> int:
        if self.dtype.category != 1 or self._a.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        dt = kwargs.get("dtype")
        for a in args:
            if isinstance(a, dtype):
                dt = a
            elif isinstance(a, (str, device)):
                if str(a).split(":")[0] != "cpu":
                    raise E.unsupported(f"device {a!r} (the gradlint runtime runs on the CPU)")
        dev = kwargs.get("device")
        if dev is not None and str(dev).split(":")[0] != "cpu":
            raise E.unsupported(f"device {dev!r} (the gradlint runtime runs on the CPU)")
        if dt is None or dt is self.dtype:
            return self
        return self._cast(dt)

    def _cast(self, dt: dtype) -> Tensor:
        out = Tensor(self._a.astype(dt.np))
        if not dt.is_floating_point:
            return out
        src = self.dtype
        return _record("ToCopyBackward0", out, [self], lambda g: (g._cast(src),))

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type(self, dt: Any = None):
        if dt is None:
            return self.dtype.tensor_type
        return self.to(dt)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *a: Any, **k: Any) -> Tensor:
        raise E.unsupported("Tensor.cuda() (the gradlint runtime runs on the CPU)")

    # ---- repr
    def __repr__(self) -> str:
        body = np.array2string(self._a, separator=", ", precision=4, floatmode="maxprec_equal")
        extra = ""
        if self.dtype not in (float32, int64, bool_) and self._a.size:
            extra += f", dtype={self.dtype!r}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- autograd entry points
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        from gradlint.runtime._engine import run_backward

        run_backward([self], [gradient], retain_graph, create_graph, inputs=inputs)

    # ---- hashing: identity, like torch
    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops().compare(self, other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops().compare(self, other, np.not_equal)


def _ops():
    from gradlint.runtime import _ops as ops

    return ops


class Size(tuple):
    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class device:
    def __init__(self, spec: str = "cpu", index: int | None = None) -> None:
        self.type = str(spec).split(":")[0]
        self.index = index

    def __str__(self) -> str:
        return self.type

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.type)


def new_tensor(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    return Tensor(array, requires_grad=requires_grad)
