"""torch.nn.utils: gradient clipping."""

from gradlint.runtime.nn.functional import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
