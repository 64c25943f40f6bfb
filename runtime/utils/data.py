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
                 generator: Generator | None = None, num_workers: int = 0, collate_fn: Any = None,
                 sampler: Any = None, batch_sampler: Any = None, **kw: Any) -> None:
        unsupported = {k for k, v in kw.items() if v not in (None, False, 0)} - {"pin_memory", "persistent_workers"}
        if unsupported:
            raise NotImplementedError(f"DataLoader({', '.join(sorted(unsupported))}=...) is not supported by the gradlint runtime")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn or default_collate

    def _batches(self):
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        n = len(self.dataset)
        order = list(self.sampler) if self.sampler is not None else (
            rng(self.generator).permutation(n).tolist() if self.shuffle else list(range(n)))
        bs = self.batch_size or 1
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            if self.drop_last and len(idx) < bs:
                return
            yield idx

    def __iter__(self):
        for idx in self._batches():
            with _no_grad():
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            yield batch

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        bs = self.batch_size or 1
        return n // bs if self.drop_last else -(-n // bs)


def _no_grad():
    from gradlint.runtime._core import no_grad

    return no_grad()


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Any) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Any, generator: Generator | None = None) -> list[Subset]:
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) and 0 <= x <= 1 for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = rng(generator).permutation(n).tolist()
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, order[start : start + k]))
        start += k
    return out


class SequentialSampler:
    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(SequentialSampler):
    def __init__(self, data_source: Any, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if replacement or num_samples is not None:
            raise NotImplementedError("RandomSampler(replacement/num_samples) is not supported by the gradlint runtime")
        super().__init__(data_source)
        self.generator = generator

    def __iter__(self):
        return iter(rng(self.generator).permutation(len(self.data_source)).tolist())


class BatchSampler:
    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch: list = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
