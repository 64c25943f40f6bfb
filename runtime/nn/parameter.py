"""nn.Parameter: a leaf tensor that requires grad by default."""

from __future__ import annotations

import numpy as np

from gradlint.runtime._core import Tensor


class Parameter(Tensor):
    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        return Tensor.__new__(cls)

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        arr = data._a if data is not None else np.zeros((0,), dtype=np.float32)
        # shares the storage (and the version counter) of `data`, as torch does
        super().__init__(arr, _vc=data._vc if data is not None else None)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
