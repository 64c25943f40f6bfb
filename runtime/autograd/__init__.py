"""torch.autograd: backward, grad, Function, and the grad-mode classes."""

from __future__ import annotations

import warnings
from typing import Any

from gradlint.runtime import _errors as E
from gradlint.runtime._core import (
    Node,
    Tensor,
    _mode,
    _record,
    enable_grad,
    inference_mode,
    no_grad,
    set_grad_enabled,
)
from gradlint.runtime._engine import backward, grad

__all__ = ["Function", "backward", "enable_grad", "grad", "inference_mode", "no_grad", "set_grad_enabled", "Variable"]


def Variable(t: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # noqa: N802 - torch's legacy name
    if volatile:  # removed in torch 0.4: a warning, and grad mode is not touched
        warnings.warn(E.VOLATILE_REMOVED, UserWarning, stacklevel=2)
        if requires_grad:
            raise ValueError(E.VOLATILE_AND_GRAD)
    if requires_grad:
        t.requires_grad_(True)
    return t


class _Ctx:
    def __init__(self, inputs: tuple) -> None:
        self.saved: tuple[Tensor, ...] = ()
        self.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        self._node: Node | None = None

    def save_for_backward(self, *tensors: Tensor) -> None:
        self.saved = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor, ...]:
        if self._node is not None:
            self._node._check_saved()
        return self.saved


class Function:
    """torch.autograd.Function: subclass with static forward(ctx, *args) and backward(ctx, *grads).
    The node is named `<ClassName>Backward`, as in torch (or `_node_name` when set)."""

    _node_name: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(E.FUNCTION_INSTANTIATED.format(cls=type(self)), DeprecationWarning, stacklevel=2)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(E.LEGACY_FUNCTION)  # torch >= 1.5: instances of autograd Functions are not callable

    @classmethod
    def apply(cls, *args: Any) -> Any:
        ctx = _Ctx(args)
        prev = _mode.grad
        _mode.grad = False
        try:
            out = cls.forward(ctx, *args)
        finally:
            _mode.grad = prev
        if not isinstance(out, Tensor):
            raise NotImplementedError("Function.forward returning several outputs is not supported by the gradlint runtime")
        out = Tensor(out._a)
        name = cls._node_name or f"{cls.__name__}Backward"

        def backward(g: Tensor):
            grads = cls.backward(ctx, g)
            return grads if isinstance(grads, tuple) else (grads,)

        res = _record(name, out, list(args), backward, list(ctx.saved))
        ctx._node = res.grad_fn
        return res
