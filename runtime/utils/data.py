"""torch.utils.data: Dataset, TensorDataset, DataLoader (batching, shuffle with a seeded generator).

Shuffling uses the engine's NumPy generator: deterministic for a seed, but not the same order as
PyTorch's DataLoader."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradlint.runtime import _ops
from gradlint.runtime._core import Tensor
from gradlint.runtime._random import Generator, rng


class Dataset:
    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class TensorDataset(Dataset):
    def __init__(self, *tensors: Tensor) -> None:
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


def default_collate(items: list) -> Any:
    first = items[0]
    if isinstance(first, Tensor):
        return _ops.stack(items)
    if isinstance(first, (tuple, list)):
        return [default_collate([it[i] for it in items]) for i in range(len(first))]
    if isinstance(first, (int, float)):
        return Tensor(np.asarray(items))
    raise NotImplementedError(f"collating {type(first).__name__} is not supported by the gradlint runtime")


class DataLoader:
    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: Generator | None = None, num_workers: int = 0, collate_fn: Any = None, **kw: Any) -> None:
        unsupported = {k for k, v in kw.items() if v not in (None, False, 0)} - {"pin_memory", "persistent_workers"}
        if unsupported:
            raise NotImplementedError(f"DataLoader({', '.join(sorted(unsupported))}=...) is not supported by the gradlint runtime")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn or default_collate

    def __iter__(self):
        n = len(self.dataset)
        order = rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        bs = self.batch_size or 1
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            if self.drop_last and len(idx) < bs:
                return
            with _no_grad():
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            yield batch

    def __len__(self) -> int:
        n = len(self.dataset)
        bs = self.batch_size or 1
        return n // bs if self.drop_last else -(-n // bs)


def _no_grad():
    from gradlint.runtime._core import no_grad

    return no_grad()
