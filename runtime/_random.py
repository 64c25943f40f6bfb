"""Random numbers: one global generator seeded by manual_seed, and torch.Generator objects.

The engine's random streams are NumPy's (PCG64), not torch's: the same seed gives reproducible but
different numbers than PyTorch. Fixtures therefore observe facts that do not depend on the values.
"""

from __future__ import annotations

import numpy as np


class Generator:
    def __init__(self, device: str = "cpu") -> None:
        self._rng = np.random.default_rng(0)
        self._seed = 0

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self._rng = np.random.default_rng(int(seed))
        return self

    def initial_seed(self) -> int:
        return self._seed


default_generator = Generator()
default_generator.manual_seed(0)


def manual_seed(seed: int) -> Generator:
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    return default_generator.initial_seed()


def rng(generator: Generator | None = None) -> np.random.Generator:
    return (generator or default_generator)._rng
