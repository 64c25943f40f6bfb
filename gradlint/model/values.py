"""What an expression is known to hold, as far as grad-mode rules care.

The model does light, flow-sensitive tracking of names within a scope (statement order), not type
inference: it knows what was assigned from `nn.Parameter(...)`, a factory with `requires_grad=True`,
`model.parameters()`, an `nn.Module` constructor, and so on, and how those flow through loops,
`list(...)`, indexing and arithmetic. Everything else is UNKNOWN, and rules stay silent on UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    UNKNOWN = "unknown"
    LEAF = "leaf"  # a leaf tensor that requires grad (a parameter, or requires_grad=True)
    TENSOR = "tensor"  # a tensor that does not require grad: data, .grad, .detach(), frozen params
    NONLEAF = "nonleaf"  # a tensor computed from a tensor that requires grad (has a grad_fn)
    MODULE = "module"  # an nn.Module
    PARAMS = "params"  # an iterable of LEAF (model.parameters(), group["params"], [w, b])
    NAMED_PARAMS = "named_params"  # an iterable of (name, LEAF)
    GROUPS = "groups"  # optimizer.param_groups
    GROUP = "group"  # one param group dict
    MODULES = "modules"  # model.modules(), model.children()
    NAMED_MODULES = "named_modules"
    SELF = "self"  # `self` inside a method
    OTHER = "other"  # known not to be any of the above (a literal, a string ...)


@dataclass(frozen=True)
class Value:
    kind: Kind
    origin: str = ""  # human words for messages: "a parameter of `model`", "created with requires_grad=True"

    @property
    def is_tensor(self) -> bool:
        return self.kind in (Kind.LEAF, Kind.TENSOR, Kind.NONLEAF)


UNKNOWN = Value(Kind.UNKNOWN)
OTHER = Value(Kind.OTHER)
