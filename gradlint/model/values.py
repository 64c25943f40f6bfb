"""What an expression is known to hold, as far as grad-mode rules care: one abstract value.

The model does light, flow-sensitive tracking of names (statement order), not type inference: it knows
what was assigned from `nn.Parameter(...)`, a factory with `requires_grad=True`, `model.parameters()`,
an `nn.Module` constructor, a class of the file, a `DataLoader`, and so on, and how those flow through
loops, `list(...)`, indexing, attribute chains, unpacking and arithmetic. Everything else is UNKNOWN,
and rules stay silent on UNKNOWN.

A value inside a function may depend on what its callers pass: a parameter's value is *deferred*
(`ref` names the parameter, `path` the steps taken from it: `.weight`, `[...]`, the elements of a loop).
After the walk, the call graph (`gradlint.model.callgraph`) joins the arguments of every call site of
the function and replays the path on the result (`resolve`), so `def sgd(params, lr): for p in params:
p -= lr * p.grad` called as `sgd(model.parameters(), 0.1)` sees `p` as a parameter of `model`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import libcst as cst


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
    BATCHES = "batches"  # a data loader: iterating it yields batches of (input) tensors
    SELF = "self"  # `self` inside a method
    OTHER = "other"  # known not to be any of the above (a literal, a string, a function ...)


@dataclass(frozen=True)
class ParamRef:
    """A parameter of a function of the file: its value is what the call sites pass."""

    fn: cst.FunctionDef
    name: str
    index: int  # position among the positional parameters (counting `self`), -1 for keyword-only

    def __hash__(self) -> int:
        return hash((id(self.fn), self.name))

    def __eq__(self, other: object) -> bool:
        return type(other) is ParamRef and other.fn is self.fn and other.name == self.name


@dataclass(frozen=True)
class Value:
    kind: Kind
    origin: str = ""  # human words for messages: "a parameter of `model`", "created with requires_grad=True"
    cls: str | None = None  # an instance of this class of the file (a module or any other object)
    ref: ParamRef | None = None  # deferred: the value of this function parameter ...
    path: tuple[str, ...] = ()  # ... through these steps (".attr", "[]", "elem", "()method")

    @property
    def is_tensor(self) -> bool:
        return self.kind in (Kind.LEAF, Kind.TENSOR, Kind.NONLEAF)

    @property
    def requires_grad(self) -> bool | None:
        """True for leaves that require grad and values computed from them, False for plain tensors."""
        if self.kind in (Kind.LEAF, Kind.NONLEAF):
            return True
        if self.kind is Kind.TENSOR:
            return False
        return None

    @property
    def deferred(self) -> bool:
        """Known only once the function's call sites are joined (see `gradlint.model.callgraph`)."""
        return self.ref is not None and self.kind is Kind.UNKNOWN

    def step(self, how: str) -> "Value":
        """The deferred value one step further (`.weight`, `[]`, `elem`, `()method`)."""
        return Value(Kind.UNKNOWN, ref=self.ref, path=self.path + (how,))

    def with_origin(self, origin: str) -> "Value":
        return replace(self, origin=origin)


def join(values: list[Value]) -> Value:
    """The value a name or parameter holds when it may hold any of `values`: their common kind (the first
    one's words), else UNKNOWN. An instance keeps its class only when every value is of that class."""
    if not values:
        return UNKNOWN
    first = values[0]
    if first.kind is Kind.UNKNOWN:
        return UNKNOWN
    for v in values[1:]:
        if v.kind is not first.kind:
            return UNKNOWN
        if v.cls != first.cls:
            first = replace(first, cls=None)
    return replace(first, ref=None, path=())


def param_ref(fn: cst.FunctionDef, name: str, index: int) -> Value:
    return Value(Kind.UNKNOWN, ref=ParamRef(fn, name, index))


UNKNOWN = Value(Kind.UNKNOWN)
OTHER = Value(Kind.OTHER)
