"""torch.utils."""

from gradlint.runtime.utils import data

__all__ = ["data"]
