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

    @property
    def type_name(self) -> str:
        """The scalar type's name in torch's messages: Float, Double, Long, Int, Bool."""
        return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "bool": "Bool"}[self.name]

    @property
    def short(self) -> str:
        """The C++ name torch prints in some messages: float, double, long int, int, bool."""
        return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "bool": "bool"}[self.name]

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


def _graph_on() -> bool:
    """Whether ops record a graph: grad mode on and not in inference mode (where autograd is skipped)."""
    return _mode.grad and not _mode.inference


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
        import inspect

        if inspect.isgeneratorfunction(func):  # the mode holds while the generator runs, not while it waits

            @functools.wraps(func)
            def gen_wrapper(*a: Any, **kw: Any) -> Any:
                with self.clone():
                    gen = func(*a, **kw)
                    try:
                        request = gen.send(None)
                    except StopIteration as stop:
                        return stop.value
                while True:
                    try:
                        response = yield request
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:  # noqa: BLE001 - re-raised into the generator
                        with self.clone():
                            try:
                                request = gen.throw(exc)
                            except StopIteration as stop:
                                return stop.value
                        continue
                    with self.clone():
                        try:
                            request = gen.send(response)
                        except StopIteration as stop:
                            return stop.value

            return gen_wrapper

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
        _mode.grad = not self.mode  # c10::InferenceMode(enabled): grad mode is the opposite of the flag
        _mode.inference = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.grad, _mode.inference = self.prev

    def clone(self):
        return inference_mode(self.mode)


# ----------------------------------------------------------------------------------------------- autograd graph


class _Version:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


SCALAR = object()  # a saved wrapped Python number: counts as saved (freed by backward), never modified


class Node:
    """A grad_fn. Subclasses are made per torch node name so `type(t.grad_fn).__name__` matches torch.

    `saved` lists what torch's backward formula saves for this call (see derivatives.yaml): tensors are
    version-checked when the node runs; `SCALAR` entries only make the node "have saved variables", so
    a second backward through it after the graph was freed raises as in torch."""

    def __init__(self, backward: Callable[[Tensor], Sequence[Tensor | None]],
                 inputs: Sequence[Tensor | None], saved: Sequence[Any]) -> None:
        self._backward = backward
        self.next_functions = tuple(
            (_edge(t), 0) if t is not None else (None, 0) for t in inputs
        )
        self._saved = [(t, t._vc.value, None) for t in saved if isinstance(t, Tensor)]
        self._has_saved = bool(saved)
        self._freed = False
        self._retained: list[Tensor] = []

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def _release(self) -> None:
        self._freed = True

    def _check_saved(self) -> None:
        if self._freed and self._has_saved:
            raise RuntimeError(E.BACKWARD_TWICE)
        for t, version, output_of in self._saved:
            if t._vc.value != version:
                if output_of is None:  # a saved input: torch names its grad_fn as it is now
                    fn = t.grad_fn
                    output_of = _short_name(type(fn).__name__) if fn is not None else None
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


class CopySlices(Node):
    """The base's grad_fn after an in-place op on one of its views: the op's own node runs on the view's
    region of the gradient; the rest of the gradient passes to the base's previous history."""

    def __init__(self, base_edge: Node | None, inner: Node, region: Callable[[np.ndarray], np.ndarray]) -> None:
        self.next_functions = ((base_edge, 0), *inner.next_functions[1:])
        self._inner = inner
        self._region = region
        self._saved = []
        self._has_saved = False
        self._freed = False
        self._retained = []

        def backward(g: Tensor):
            grads = list(inner._backward(_region_take(g, region)))
            mask = np.ones(g.shape, dtype=g._a.dtype)
            region(mask)[...] = 0
            rest = g * Tensor(mask)
            return (rest if grads[0] is None else rest + _region_embed(g.shape, region, grads[0]), *grads[1:])

        self._backward = backward

    def _release(self) -> None:
        self._freed = True
        self._inner._freed = True

    def _check_saved(self) -> None:
        self._inner._check_saved()


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
    fn = t.grad_fn
    if fn is not None:
        return fn
    if t._accumulator is None:
        t._accumulator = AccumulateGrad(t)
    return t._accumulator


_OUT_VARIANT_VERSION = {"AbsBackward0": 1, "SumBackward0": 1, "SumBackward1": 1, "CloneBackward0": 1,
                        "MaxBackward1": 1, "MinBackward1": 1, "MeanBackward0": 2, "MeanBackward1": 2,
                        "MaxBackward0": 2, "MinBackward0": 2}


def _record(name: str, out: Tensor, inputs: Sequence[Any], backward: Callable[[Tensor], Sequence[Tensor | None]],
            saved: Sequence[Any] = ()) -> Tensor:
    """Attach a grad_fn to `out` if the graph is on and an input requires grad."""
    tensors = [t if isinstance(t, Tensor) else None for t in inputs]
    # (a Python number operand of add/sub/mul/div is wrapped into a normal tensor, so it counts as one)
    if not _mode.inference and all(x is None or isinstance(x, Tensor) and x._inference for x in inputs):
        # inference tensors carry no autograd key: outside inference mode the op skips autograd, and the
        # kernels torch implements through an out= variant leave their (normal) result at version 1 or 2
        if name in _OUT_VARIANT_VERSION:
            out._vc.value = _OUT_VARIANT_VERSION[name]
        return out
    if not _graph_on() or not any(t is not None and t.requires_grad for t in tensors):
        return out
    for t in saved:
        if isinstance(t, Tensor) and t._inference:
            raise RuntimeError(E.INFERENCE_SAVED)
    out._output_of = _short_name(name)
    node = _node_class(name)(backward, tensors, saved)
    # a saved output keeps the name of the node that made it, even if it is later modified in place
    node._saved = [(t, v, out._output_of if t is out else None) for t, v, _ in node._saved]
    out.requires_grad_flag = True
    out.grad_fn = node
    return out


def _short_name(name: str) -> str:
    """How torch's version-mismatch message names a node: without "Backward", and without a "0" suffix
    (AddBackward0 -> Add, MaxBackward1 -> Max1)."""
    i = name.rfind("Backward")
    if i <= 0 or not name[i + len("Backward"):].isdigit():
        return name
    suffix = name[i + len("Backward"):]
    return name[:i] + ("" if suffix == "0" else suffix)


def _as_strided_node(view: Tensor, base: Tensor) -> Node:
    """The grad_fn torch regenerates for a view whose base changed in place: AsStridedBackward0."""
    shape, region = base.shape, view._view_np
    return _node_class("AsStridedBackward0")(lambda g: (_region_embed(shape, region, g),), [base], ())


def _region_take(g: Tensor, region: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    """g's values in a view's region (a copy), differentiable in g."""
    shape = g.shape
    return _record("AsStridedBackward0", Tensor(np.array(region(g._a))), [g],
                   lambda gg: (_region_embed(shape, region, gg),))


def _region_embed(shape, region: Callable[[np.ndarray], np.ndarray], g: Tensor) -> Tensor:
    """zeros(shape) with g written in a view's region, differentiable in g."""
    full = np.zeros(shape, dtype=g._a.dtype)
    region(full)[...] = g._a
    return _record("AsStridedScatterBackward0", Tensor(full), [g], lambda gg: (_region_take(gg, region),))


def _unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """at::sum_to: sum() for a 0-d target; else sum over the broadcast dims (keepdim) and a view."""
    if grad.shape == shape:
        return grad
    if len(shape) == 0:
        return grad.sum()
    lead = grad.dim() - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1]
    g = grad.sum(dims, keepdim=True) if dims else grad
    return g.view(*shape) if lead > 0 else g


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
    __slots__ = ("_a", "_vc", "requires_grad_flag", "_grad_fn", "_grad", "_retains_grad", "_base",
                 "_inference", "_accumulator", "_output_of", "_view_of", "_view_np", "_view_meta", "_gf_version", "_inf_ok",
                 "__weakref__", "__dict__")

    def __init__(self, array: np.ndarray, requires_grad: bool = False, *, _vc: _Version | None = None,
                 _base: Tensor | None = None) -> None:
        # numpy ops on 0-d arrays return numpy scalars; keep an ndarray so in-place ops (np.copyto) work
        self._a = array if isinstance(array, np.ndarray) else np.asarray(array)
        self._vc = _vc if _vc is not None else _Version()
        self.requires_grad_flag = False
        self._grad_fn: Node | None = None
        self._gf_version = 0
        self._view_of: Tensor | None = None  # the base of a differentiable view (made by a view op)
        self._view_np: Callable[[np.ndarray], np.ndarray] | None = None  # base-shaped array -> this view
        self._view_meta = ""  # how the view was made: "grad", "no_grad", "multi" (unbind), "inference"
        self._grad: Tensor | None = None
        self._retains_grad = False
        self._base = _base
        self._inference = _mode.inference
        self._inf_ok = False  # an inference tensor detached outside inference mode: versioned, writable
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
    def grad_fn(self) -> Node | None:
        base = self._view_of
        if base is not None and self._gf_version != self._vc.value:
            # torch regenerates a view's grad_fn when its base was changed in place since it was set
            if self._grad_fn is None and not base.requires_grad:
                self._gf_version = self._vc.value
                return None
            if self._view_meta == "no_grad":
                raise RuntimeError(E.VIEW_NO_GRAD_BASE_MODIFIED)
            if self._view_meta == "inference":
                raise RuntimeError(E.VIEW_INFERENCE_BASE_MODIFIED)
            if self._view_meta == "multi":
                raise RuntimeError(E.VIEW_MULTI_BASE_MODIFIED.format(i=self._view_index, fn=self._view_fn_name))
            self._gf_version = self._vc.value
            if self._grad_fn is not None or base.requires_grad:
                self._grad_fn = _as_strided_node(self, base)
                self._output_of = "AsStridedBackward0"
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node: Node | None) -> None:
        self._grad_fn = node
        self._gf_version = self._vc.value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """The version counter's value, as torch exposes it."""
        if self._inference and not self._inf_ok:
            raise RuntimeError(E.INFERENCE_VERSION)
        return self._vc.value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise E.unsupported(f"Tensor.{name}")

    # ---- requires_grad
    @property
    def requires_grad(self) -> bool:
        if self.requires_grad_flag or self._grad_fn is not None:
            return True
        base = self._view_of
        return base is not None and base.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(E.NONLEAF_REQUIRES_GRAD if not value else E.NONLEAF_REQUIRES_GRAD_TRUE)
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(E.INT_REQUIRES_GRAD_ATTR)
        if value and self._inference and not _mode.inference:
            raise RuntimeError(E.INFERENCE_REQUIRES_GRAD)
        self.requires_grad_flag = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(E.NONLEAF_REQUIRES_GRAD)
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(E.INT_REQUIRES_GRAD_METHOD)
        if requires_grad and self._inference and not _mode.inference:
            raise RuntimeError(E.INFERENCE_REQUIRES_GRAD)
        self.requires_grad_flag = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError(E.RETAIN_GRAD_NO_GRAD)
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
        if self._grad_fn is not None and not self._retains_grad:  # (the raw field: no view regeneration)
            warnings.warn(E.NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(E.GRAD_SHAPE.format(got=list(value.shape), want=list(self.shape)))
            if value.dtype is not self.dtype:
                raise RuntimeError(E.GRAD_DTYPE.format(got=value.dtype.short, want=self.dtype.type_name))
        self._grad = value

    # ---- data, detach, clone
    @property
    def data(self) -> Tensor:
        t = Tensor(self._a)  # same storage, a new version counter: autograd does not see changes
        t._inference = self._inference
        t._inf_ok = self._inference and not _mode.inference
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._a = value._a

    def detach(self) -> Tensor:
        if self._inference and not _mode.inference:  # torch: an inference tensor with a version counter
            t = Tensor(self._a)
            t._inference, t._inf_ok = True, True
            return t
        t = Tensor(self._a, _vc=self._vc)  # shares storage and version counter; not a view for autograd
        t._inference = self._inference
        return t

    def detach_(self) -> Tensor:
        if _mode.inference:
            return self  # autograd is skipped in inference mode: nothing to detach
        if self._view_of is not None:
            raise RuntimeError(E.DETACH_VIEW)
        self.grad_fn = None
        self.requires_grad_flag = False
        return self

    def clone(self) -> Tensor:
        out = Tensor(self._a.copy())
        return _record("CloneBackward0", out, [self], lambda g: (g,))

    def contiguous(self) -> Tensor:
        if self._a.flags["C_CONTIGUOUS"] or self._a.size <= 1:
            return self
        return _record("CloneBackward0", Tensor(np.ascontiguousarray(self._a)), [self], lambda g: (g,))

    def is_contiguous(self) -> bool:
        return bool(self._a.flags["C_CONTIGUOUS"] or self._a.size <= 1)

    def __format__(self, spec: str) -> str:
        if self._a.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

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
        body = np.array2string(self._a, separator=", ", precision=4, floatmode="maxprec_equal", prefix="tensor(")
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
        from gradlint.runtime._engine import backward

        backward([self], [gradient], retain_graph, create_graph, inputs=inputs)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """As torch: only leaves; a new storage with a fresh version counter, requires_grad and grad copied."""
        if id(self) in memo:
            return memo[id(self)]
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                               "because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        import copy

        new = Tensor.__new__(type(self))
        Tensor.__init__(new, self._a.copy())
        new.requires_grad_flag = self.requires_grad_flag
        new._inference = self._inference
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = copy.deepcopy(self._grad, memo)
        for k, v in self.__dict__.items():
            if not k.startswith("_view"):
                new.__dict__[k] = copy.deepcopy(v, memo)
        return new

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
