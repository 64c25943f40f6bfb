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

A tensor's provenance (`Prov`, in `Value.prov`) refines the kind where GL008/GL015/GL017/GL019 need more:
whether it is a leaf for sure, the grad-mode conditions under which an op on it made a non-leaf (`conds`:
functions that must run with grad mode on), whether a `.to()`/`.cuda()` moved it (a non-leaf only on a
device), the graph a model output carries, the dtype, and what took a value out of a graph (`cut_from`).
It is computed by the same evaluator (`gradlint.model.tensor_ops`) over the same bindings; `prov is None`
on a binding means "as its kind says" (a parameter, a loop target: derived when asked). A bound value also
carries the grad-mode region it was made in (`off`, `inference`: `gradlint.model.regions`, for GL011/GL012).
"""

from __future__ import annotations

from dataclasses import dataclass
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


# Reading `Kind.LEAF` costs about 0.15 µs on Python 3.11, as much as a dict lookup and a call: the metaclass's
# `EnumType.__getattr__` sends every attribute read of the class through a Python-level hook. The model's
# walk reads these module globals instead (and `gradlint.model.facts`'s `M_*` for `Mode`); rules may read
# `Kind.X` (a few hundred reads per file).
K_UNKNOWN, K_LEAF, K_TENSOR, K_NONLEAF, K_MODULE, K_PARAMS = (Kind.UNKNOWN, Kind.LEAF, Kind.TENSOR, Kind.NONLEAF,
                                                             Kind.MODULE, Kind.PARAMS)
K_NAMED_PARAMS, K_GROUPS, K_GROUP, K_MODULES, K_NAMED_MODULES = (Kind.NAMED_PARAMS, Kind.GROUPS, Kind.GROUP,
                                                                 Kind.MODULES, Kind.NAMED_MODULES)
K_BATCHES, K_SELF, K_OTHER = Kind.BATCHES, Kind.SELF, Kind.OTHER
TENSOR_KINDS = (K_LEAF, K_TENSOR, K_NONLEAF)


@dataclass(frozen=True)
class ParamRef:
    """A parameter of a function of the file: its value is what the call sites pass."""

    fn: cst.FunctionDef
    name: str
    index: int  # position among the positional parameters (counting `self`), -1 for keyword-only

    def __init__(self, fn: cst.FunctionDef, name: str, index: int) -> None:
        self.__dict__.update(fn=fn, name=name, index=index)  # (see Prov.__init__)

    def __hash__(self) -> int:
        return hash((id(self.fn), self.name))

    def __eq__(self, other: object) -> bool:
        return type(other) is ParamRef and other.fn is self.fn and other.name == self.name


# the provenance states of a tensor-ish value (`Prov.state`)
RG = "rg"  # a leaf that requires grad (parameter, factory with requires_grad=True, .requires_grad_())
NONLEAF = "nonleaf"  # certainly has a grad_fn: an op on a tensor that requires grad, with grad mode on
MOVED = "moved"  # `.to(<non-literal>)` of a fresh CPU leaf: a non-leaf whenever it moves/casts (CUDA)
GRAPH = "graph"  # a model's output (part of a graph when the model has trainable parameters)
PLAIN = "plain"  # a tensor that does not require grad (data, `.detach()`, ops under no_grad)
CUT = "cut"  # a Python number / NumPy array / detached tensor taken out of a graph value
NUM = "num"  # a Python number literal
UNK_STATE = "unknown"
GRADISH = (RG, NONLEAF, MOVED, GRAPH)
TENSOR_STATES = (RG, NONLEAF, MOVED, GRAPH, PLAIN)

INT_DTYPES = frozenset({
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "int", "long", "short",
    "bool", "bits8", "qint8", "quint8", "qint32",
})


def evolve(obj, **changes):
    """`dataclasses.replace` for the model's frozen value classes (`Prov`, `Value`, `ParamRef`: no
    `__post_init__`, no slots): a copy with `changes`, several times faster (the evaluator makes one for
    most operations it evaluates)."""
    new = object.__new__(type(obj))
    d = new.__dict__
    d.update(obj.__dict__)
    d.update(changes)
    return new


_NO_CONDS: frozenset = frozenset()


@dataclass(frozen=True)
class Prov:
    """What the evaluator knows of a tensor's history (see the module docstring)."""

    state: str = UNK_STATE
    dtype: str | None = None  # canonical torch dtype name ("float32", "int64", "bool") when known
    node: cst.CSTNode | None = None  # the expression that made this value (for reports at the creation)
    how: str = ""  # how a leaf became a non-leaf, for messages ("`.to(torch.float64)`", "`* 0.01`")
    origin: str = ""  # what the leaf was ("created with `requires_grad=True`", "an `nn.Parameter`")
    conds: frozenset = _NO_CONDS  # functions (FunctionInfo) that must run with grad mode on
    cpu_fresh: bool = False  # a leaf made by a torch factory in this file, on the CPU (no device=)
    cut_from: str = ""  # CUT / detached: the code that took it out of the graph
    rewraps: frozenset = _NO_CONDS  # re-wrapping calls (`tensor_ops.RewrapCall`) this value derives from
    pure: bool = False  # computed only from re-wrapped values (and data): no live graph input
    # the grad-mode region it was made in (`gradlint.model.regions`): made without recording (no graph)
    # once every condition in `off` holds (empty: for sure), an inference tensor once every one in
    # `inference` holds; None: not known to be
    off: frozenset | None = None
    inference: frozenset | None = None

    # (the generated `__init__` of a frozen dataclass sets each field through `object.__setattr__`: this one
    # fills the instance's dict at once, about twice as fast; the evaluator makes one per operation)
    def __init__(self, state: str = UNK_STATE, dtype: str | None = None, node: cst.CSTNode | None = None,
                 how: str = "", origin: str = "", conds: frozenset = _NO_CONDS, cpu_fresh: bool = False,
                 cut_from: str = "", rewraps: frozenset = _NO_CONDS, pure: bool = False,
                 off: frozenset | None = None, inference: frozenset | None = None) -> None:
        self.__dict__.update(state=state, dtype=dtype, node=node, how=how, origin=origin, conds=conds,
                             cpu_fresh=cpu_fresh, cut_from=cut_from, rewraps=rewraps, pure=pure, off=off,
                             inference=inference)

    @property
    def leaf(self) -> bool | None:
        """A leaf for sure (True), a non-leaf once its `conds` hold (False), or not known (None)."""
        if self.state in (RG, PLAIN):
            return True
        if self.state == NONLEAF:
            return False
        return None

    @property
    def dtype_class(self) -> str | None:
        """"bool", "int" or "float" (floating and complex) when the dtype is known."""
        if self.dtype is None:
            return None
        if self.dtype == "bool":
            return "bool"
        return "int" if self.dtype in INT_DTYPES else "float"

    def same(self, other: "Prov | None") -> bool:
        """Equal for a merge of bindings: the same state, dtype and device knowledge."""
        return (other is not None and self.state == other.state and self.dtype == other.dtype
                and self.cpu_fresh == other.cpu_fresh)


UNK_PROV = Prov()


@dataclass(frozen=True)
class Value:
    kind: Kind
    origin: str = ""  # human words for messages: "a parameter of `model`", "created with requires_grad=True"
    cls: str | None = None  # an instance of this class of the file (a module or any other object)
    ref: ParamRef | None = None  # deferred: the value of this function parameter ...
    path: tuple[str, ...] = ()  # ... through these steps (".attr", "[]", "elem", "()method")
    prov: Prov | None = None  # the tensor provenance, when the evaluator computed it (see `Prov`)

    def __init__(self, kind: Kind, origin: str = "", cls: str | None = None, ref: ParamRef | None = None,
                 path: tuple[str, ...] = (), prov: Prov | None = None) -> None:
        self.__dict__.update(kind=kind, origin=origin, cls=cls, ref=ref, path=path, prov=prov)  # (see Prov)

    @property
    def is_tensor(self) -> bool:
        return self.kind in TENSOR_KINDS

    @property
    def requires_grad(self) -> bool | None:
        """True for leaves that require grad and values computed from them, False for plain tensors."""
        if self.kind in (K_LEAF, K_NONLEAF):
            return True
        if self.kind is K_TENSOR:
            return False
        return None

    @property
    def deferred(self) -> bool:
        """Known only once the function's call sites are joined (see `gradlint.model.callgraph`)."""
        return self.ref is not None and self.kind is K_UNKNOWN

    @property
    def leaf(self) -> bool | None:
        """Is it a leaf tensor? From the provenance when known, else from the kind."""
        if self.prov is not None and self.prov.state != UNK_STATE:
            return self.prov.leaf
        if self.kind in (K_LEAF, K_TENSOR):
            return True if self.kind is K_LEAF else None
        return False if self.kind is K_NONLEAF else None

    @property
    def dtype_class(self) -> str | None:
        return self.prov.dtype_class if self.prov is not None else None

    def step(self, how: str) -> "Value":
        """The deferred value one step further (`.weight`, `[]`, `elem`, `()method`)."""
        return Value(K_UNKNOWN, ref=self.ref, path=self.path + (how,))

    def with_prov(self, prov: "Prov | None") -> "Value":
        """The same value with another provenance (built directly: `dataclasses.replace` costs more)."""
        if prov is self.prov:
            return self
        return Value(self.kind, self.origin, self.cls, self.ref, self.path, prov)

    def with_origin(self, origin: str) -> "Value":
        return evolve(self, origin=origin)


def join(values: list[Value]) -> Value:
    """The value a name or parameter holds when it may hold any of `values`: their common kind (the first
    one's words), else UNKNOWN. An instance keeps its class only when every value is of that class."""
    if not values:
        return UNKNOWN
    first = values[0]
    prov = join_prov([v.prov for v in values])
    if first.kind is K_UNKNOWN:
        return UNKNOWN if prov is None else Value(K_UNKNOWN, prov=prov)
    for v in values[1:]:
        if v.kind is not first.kind:
            return UNKNOWN if prov is None else Value(K_UNKNOWN, prov=prov)
        if v.cls != first.cls:
            first = evolve(first, cls=None)
    return evolve(first, ref=None, path=(), prov=prov)


def join_prov(provs: list[Prov | None]) -> Prov | None:
    """The provenance after a merge: the last one when all agree (`Prov.same`), else unknown; None (derived
    from the kind) only when none is known."""
    known = [p for p in provs if p is not None]
    if not known:
        return None
    last = known[-1]
    if len(known) == len(provs) and all(last.same(p) for p in known):
        return last
    return UNK_PROV


def param_ref(fn: cst.FunctionDef, name: str, index: int) -> Value:
    return Value(K_UNKNOWN, ref=ParamRef(fn, name, index))


UNKNOWN = Value(K_UNKNOWN)
OTHER = Value(K_OTHER)
