"""Tensor provenance facts (GL008, GL015, GL017, GL019), recorded in the builder's single walk.

The core model knows leaves (parameters, `requires_grad=True` factories) but is deliberately coarse about
everything computed from them (`classify` is not grad-mode aware, and treats `.to()` like any op). The rules
here need more: *is this tensor a non-leaf for sure?* That depends on the grad mode the op ran in, on
whether `.to(...)` / `.float()` / `.cuda()` actually made a copy (they return `self` when nothing changes:
`.to("cpu")` on a CPU tensor, `.float()` on a float32 tensor), and on integer dtypes. So this extension keeps
its own flow-sensitive bindings (names and dotted `self.x` keys, statement order, with branch merging: a
name bound to different kinds of things in the branches of an `if`/`try`/loop becomes unknown) and values:

    TVal.kind   RG       a leaf that requires grad (parameter, factory with requires_grad=True, .requires_grad_())
                NONLEAF  certainly has a grad_fn: an op on a tensor that requires grad, with grad mode on
                MOVED    `.to(<non-literal>)` of a fresh CPU leaf: a non-leaf whenever it moves/casts (CUDA)
                GRAPH    a model's output (part of a graph when the model has trainable parameters)
                PLAIN    a tensor that does not require grad (data, `.detach()`, ops under no_grad)
                CUT      a Python number / NumPy array / detached tensor taken out of a graph value
                NUM      a Python number literal
                UNKNOWN  anything else (rules stay silent)

Grad mode: an op in a plain function body (Mode.INHERITED) records the function in `conds`; the value is
a non-leaf only if every such function runs with grad mode on (`model.effective_mode`, resolved by
`TensorFacts.enabled(value)` after the walk).

Facts recorded for the rules: `.grad` reads, `retain_grad()` calls, optimizer constructions, factory calls
with `requires_grad=`, `nn.Parameter(...)` calls, `.requires_grad = ...` assignments, `.requires_grad_()`
calls, re-wrapping calls (`torch.tensor(loss.item(), ...)`, `torch.from_numpy(h.detach().numpy())`) and
where their results flow (backward, a module call, a `forward`'s return, an optimizer).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.builder import NON_TENSOR_METHODS, _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, Mode
from gradlint.model.names import (
    TORCH_FACTORIES,
    TORCH_TENSOR_FUNCS,
    dotted,
    is_inplace_method,
    short_code,
    target_names,
)
from gradlint.model.values import Kind

if TYPE_CHECKING:
    from gradlint.model import SemanticModel

RG, NONLEAF, MOVED, GRAPH, PLAIN, CUT, NUM, UNKNOWN = (
    "rg", "nonleaf", "moved", "graph", "plain", "cut", "num", "unknown"
)
GRADISH = (RG, NONLEAF, MOVED, GRAPH)

INT_DTYPES = {
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "int", "long", "short",
    "bool", "bits8", "qint8", "quint8", "qint32",
}
FLOAT_DTYPES = {"float16", "float32", "float64", "bfloat16", "half", "float", "double", "complex64",
                "complex128", "cfloat", "cdouble", "complex32", "chalf", "float8_e4m3fn", "float8_e5m2"}
_CANON = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
          "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
FLOAT_FACTORIES = frozenset(
    "zeros ones empty rand randn full eye linspace logspace range normal empty_strided".split()
)
REWRAP_FUNCS = frozenset({"tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor", "DoubleTensor",
                          "scalar_tensor", "asarray"})
# tensor methods that return `self` when nothing changes (same device / dtype / layout)
MAYBE_SELF = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "contiguous"})
_BUILTINS = frozenset(dir(builtins))
INT_CASTS = {"long": "int64", "int": "int32", "short": "int16", "bool": "bool", "byte": "uint8", "char": "int8"}
CUT_METHODS = frozenset({"item", "tolist", "numpy"})


@dataclass(frozen=True)
class TVal:
    kind: str = UNKNOWN
    dtype: str | None = None  # canonical torch dtype name ("float32", "int64", "bool") when known
    node: cst.CSTNode | None = None  # the expression that made this value (for reports at the creation)
    how: str = ""  # how a leaf became a non-leaf, for messages ("`.to(torch.float64)`", "`* 0.01`")
    origin: str = ""  # what the leaf was ("created with `requires_grad=True`", "an `nn.Parameter`")
    conds: frozenset = frozenset()  # functions (FunctionInfo) that must run with grad mode on
    cpu_fresh: bool = False  # a leaf made by a torch factory in this file, on the CPU (no device=)
    cut_from: str = ""  # CUT / detached: the code that took it out of the graph
    rewraps: frozenset = frozenset()  # RewrapCall events this value derives from
    pure: bool = False  # computed only from re-wrapped values (and data): no live graph input


UNK = TVal()


@dataclass(eq=False)
class GradRead:
    node: cst.Attribute  # the `x.grad` attribute
    key: str
    value: TVal
    scopes: tuple[int, ...]  # the uid of the scope of the read and of its enclosing scopes
    function: FunctionInfo | None


@dataclass(eq=False)
class OptimizerParam:
    call: cst.Call  # the optimizer construction
    optimizer: str  # "torch.optim.SGD"
    key: str
    value: TVal


@dataclass(eq=False)
class FactoryGrad:
    """A torch factory called with `requires_grad=<truthy constant>`, or `nn.Parameter(<tensor expr>)`."""

    call: cst.Call
    func: str  # "torch.tensor", "torch.nn.Parameter"
    arg: cst.Arg | None  # the requires_grad keyword (None for nn.Parameter)
    dtype: str | None  # the dtype the tensor gets, when known
    reason: str  # why it is an integer/bool tensor, for the message ("integer literals", "`dtype=torch.long`")
    explicit_dtype: cst.Arg | None  # the dtype= argument when the user wrote one
    int_literals: tuple[cst.Integer, ...] = ()  # integer literals that make it integer (for the fix)
    in_try: bool = False
    in_raises: bool = False
    function: FunctionInfo | None = None


@dataclass(eq=False)
class RequiresGradSet:
    node: cst.CSTNode  # the Assign statement, or the requires_grad_() call
    target: cst.BaseExpression  # the tensor expression
    key: str | None
    value: TVal
    flag: bool | None  # the constant assigned / passed, None when not a constant
    form: str  # "attr" or "method"
    in_raises: bool = False
    whole_statement: bool = False  # the call / assignment is the whole statement (`t.requires_grad_()`)
    # the target is a new tensor object made by this very expression (`p.data`, `p.detach()`, `w.data[:, :2]`,
    # `x.float()` of a non-float32 tensor): how it was made, for messages, and the tensor it was made from
    temporary: str = ""
    owner: cst.BaseExpression | None = None
    owner_requires_grad: bool | None = None  # does that tensor require grad (None: not known)


@dataclass(eq=False)
class RewrapCall:
    node: cst.Call
    func: str  # "torch.tensor"
    source: str  # how the graph value was taken out ("`loss.item()`")
    requires_grad: bool
    function: FunctionInfo | None
    in_forward: bool
    conds: frozenset = frozenset()
    reached_backward: bool = False
    reached_module: bool = False
    reached_return: bool = False
    trained: bool = False  # handed to an optimizer / nn.Parameter: meant as a new leaf


class _Frame:
    __slots__ = ("before", "assigned")

    def __init__(self) -> None:
        self.before: dict[str, TVal | None] = {}
        self.assigned: dict[str, list[TVal]] = {}


class _Scope:
    __slots__ = ("bindings", "parent", "frames", "uid", "function", "dotted_heads")

    def __init__(self, parent: "_Scope | None", uid: int, function: FunctionInfo | None) -> None:
        self.bindings: dict[str, TVal] = {}
        self.dotted_heads: set[str] = set()  # `x` when some `x.attr...` key is bound here
        self.parent = parent
        self.frames: list[_Frame] = []
        self.uid = uid
        self.function = function

    def lookup(self, key: str) -> TVal | None:
        scope: _Scope | None = self
        while scope is not None:
            if key in scope.bindings:
                return scope.bindings[key]
            scope = scope.parent
        return None


DEFER = TVal(kind="defer")  # a name bound here but tracked by the core model (parameters, loop targets)


def _same(a: TVal | None, b: TVal | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.kind == b.kind and a.dtype == b.dtype and a.cpu_fresh == b.cpu_fresh


def _int_literal_data(expr: cst.BaseExpression, out: list[cst.Integer]) -> str | None:
    """'int' / 'bool' / 'float' / 'complex' for literal data (nested lists/tuples of numbers), None if unknown."""
    if type(expr) is cst.Integer:
        out.append(expr)
        return "int"
    if type(expr) is cst.Float:
        return "float"
    if type(expr) is cst.Imaginary:
        return "complex"
    if type(expr) is cst.Name and expr.value in ("True", "False"):
        return "bool"
    if type(expr) is cst.UnaryOperation and type(expr.operator) in (cst.Minus, cst.Plus):
        return _int_literal_data(expr.expression, out)
    if type(expr) in (cst.List, cst.Tuple):
        kinds = set()
        for el in expr.elements:
            if type(el) is not cst.Element:
                return None
            k = _int_literal_data(el.value, out)
            if k is None:
                return None
            kinds.add(k)
        if not kinds:
            return "float"  # torch.tensor([]) is float32
        for k in ("complex", "float", "int", "bool"):
            if k in kinds:
                return k
    return None


def _literal_data(expr: cst.BaseExpression) -> bool:
    return _int_literal_data(expr, []) is not None


def _is_int_expr(expr: cst.BaseExpression, out: list[cst.Integer], facts: "TensorFacts | None" = None) -> bool:
    """An integer for sure: an int literal, `-3`, `len(...)`, a name bound to an int literal."""
    if type(expr) is cst.Name and facts is not None:
        v = facts.lookup(expr)
        return v.kind == NUM and v.dtype == "int64"
    if type(expr) is cst.Integer:
        out.append(expr)
        return True
    if type(expr) is cst.UnaryOperation and type(expr.operator) in (cst.Minus, cst.Plus):
        return _is_int_expr(expr.expression, out)
    if type(expr) is cst.Call and type(expr.func) is cst.Name and expr.func.value == "len":
        return True
    return False


class TensorFacts(Extension):
    name = "tensors"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.grad_reads: list[GradRead] = []
        self.retained: set[tuple[int, str]] = set()  # (scope uid, key) with a .retain_grad() call
        self.optimizer_params: list[OptimizerParam] = []
        self.factory_grads: list[FactoryGrad] = []
        self.requires_grad_sets: list[RequiresGradSet] = []
        self.rewraps: list[RewrapCall] = []
        self._uid = 0
        self._scope = _Scope(None, 0, None)
        self._pending: list[list[tuple[cst.BaseExpression, TVal]]] = []
        self._targets: set[int] = set()  # ids of Assign/Del target nodes (not reads)
        self._comp_targets: list[set[str]] = []
        self._try_depth = 0
        self._raises_depth = 0
        self._with_raises: list[bool] = []
        self._model: SemanticModel | None = None
        self._forward_stack: list[bool] = []
        self._rewrap_map: dict[int, RewrapCall | None] = {}
        self._list_bindings: dict = {}
        self._stmt_call = 0  # id of the call that is a whole expression statement
        self._default_device = False  # torch.set_default_device(...) seen: factories may not be on the CPU

    # ------------------------------------------------------------------ after the walk

    def finish(self, model: "SemanticModel") -> None:
        self._model = model

    def enabled(self, value: TVal) -> bool:
        """Do all the grad-mode conditions of `value` hold (every function it was computed in runs with
        grad mode on)?"""
        assert self._model is not None
        return all(self._model.effective_mode(Mode.INHERITED, fn) is Mode.ENABLED for fn in value.conds)

    def enabled_conds(self, conds: frozenset) -> bool:
        assert self._model is not None
        return all(self._model.effective_mode(Mode.INHERITED, fn) is Mode.ENABLED for fn in conds)

    def is_nonleaf(self, value: TVal) -> bool:
        return value.kind == NONLEAF and self.enabled(value)

    # ------------------------------------------------------------------ scopes and bindings

    def _new_scope(self, function: FunctionInfo | None) -> None:
        self._uid += 1
        self._scope = _Scope(self._scope, self._uid, function)

    def _pop_scope(self) -> None:
        assert self._scope.parent is not None
        self._scope = self._scope.parent

    def _bind_key(self, key: str, value: TVal) -> None:
        scope = self._scope
        if scope.frames:
            frame = scope.frames[-1]
            if key not in frame.before:
                frame.before[key] = scope.lookup(key)
            frame.assigned.setdefault(key, []).append(value)
        scope.bindings[key] = value
        if "." in key:
            scope.dotted_heads.add(key.partition(".")[0])
        elif key in scope.dotted_heads:  # `x = ...` makes what was known of `x.attr` unknown
            prefix = key + "."
            for k in [k for k in scope.bindings if k.startswith(prefix)]:
                scope.bindings[k] = UNK

    def _bind(self, target: cst.BaseExpression, value: TVal) -> None:
        if type(target) is cst.Name:
            self._bind_key(target.value, value)
        elif type(target) in (cst.Tuple, cst.List):
            for el in target.elements:
                self._bind(el.value, UNK if type(el) is not cst.StarredElement else UNK)
        elif type(target) is cst.StarredElement:
            self._bind(target.value, UNK)
        elif type(target) is cst.Attribute:
            key = dotted(target)
            if key is not None:
                self._bind_key(key, value)

    def _push_frame(self) -> None:
        self._scope.frames.append(_Frame())

    def _pop_frame(self) -> None:
        scope = self._scope
        frame = scope.frames.pop()
        for key, values in frame.assigned.items():
            before = frame.before.get(key)
            candidates = list(values)
            if before is not None:
                candidates.append(before)
            final = scope.bindings.get(key, UNK)
            if not all(_same(c, candidates[0]) for c in candidates):
                final = UNK
            if scope.frames:
                parent = scope.frames[-1]
                if key not in parent.before:
                    parent.before[key] = before
                parent.assigned.setdefault(key, []).append(final)
            scope.bindings[key] = final

    # ------------------------------------------------------------------ values

    def _mode_conds(self, conds: frozenset) -> frozenset | None:
        """The conds of a new graph value computed here, or None when grad mode is off / unknown here."""
        mode = self.b.mode
        if mode is Mode.ENABLED:
            return conds
        if mode is Mode.INHERITED:
            fn = self.b.function
            return conds | {fn} if fn is not None else conds
        return None

    def lookup(self, expr: cst.BaseExpression) -> TVal:
        key = dotted(expr)
        if key is not None:
            if type(expr) is cst.Name and any(expr.value in s for s in self._comp_targets):
                return UNK
            v = self._scope.lookup(key)
            if v is not None and v is not DEFER:
                return v
            if v is None and type(expr) is cst.Attribute:
                base = self._scope.lookup(dotted(expr.value) or "")
                if base is not None and base is not DEFER:
                    return UNK  # an attribute of a value we track: not the core model's business
        core = self.b.classify(expr)
        if core.kind is Kind.LEAF:
            return TVal(RG, origin=core.origin)
        if core.kind is Kind.TENSOR and core.origin == "a model output":
            conds = self._mode_conds(frozenset())
            return TVal(GRAPH, conds=conds) if conds is not None else TVal(PLAIN)
        return UNK

    def value(self, expr: cst.BaseExpression) -> TVal:
        if type(expr) in (cst.Name, cst.Attribute):
            if type(expr) is cst.Attribute:
                attr = expr.attr.value
                if attr == "data":
                    base = self.value(expr.value)
                    if base.kind in GRADISH or base.kind in (PLAIN,):
                        return TVal(PLAIN, dtype=base.dtype,
                                    cut_from=f"`{self._code(expr)}`" if base.kind in GRADISH else base.cut_from,
                                    conds=base.conds if base.kind in GRADISH else frozenset())
                    return UNK
                if attr == "grad":
                    return UNK
                if attr in ("T", "mT", "H", "real", "imag"):
                    base = self.value(expr.value)
                    if base.kind in (PLAIN, RG, NONLEAF, MOVED, GRAPH):
                        return self._op([base], expr, f"`.{attr}`")
            return self.lookup(expr)
        if type(expr) is cst.Call:
            return self._call_value(expr)
        if type(expr) is cst.BinaryOperation:
            left, right = self.value(expr.left), self.value(expr.right)
            how = ""
            if {left.kind, right.kind} & {RG, NONLEAF, MOVED}:  # the words are only used for a non-leaf
                op = self._code(expr.operator).strip() if expr.operator else "op"
                other = expr.right if left.kind in (RG,) else expr.left
                how = f"`{op} {self._code(other)}`"
            return self._op([left, right], expr, how)
        if type(expr) is cst.UnaryOperation:
            if type(expr.operator) is cst.Not:
                return UNK
            inner = self.value(expr.expression)
            if inner.kind == NUM:
                return inner
            return self._op([inner], expr, f"`{self._code(expr.operator).strip()}`")
        if type(expr) is cst.Subscript:
            base = self.value(expr.value)
            if base.kind in (RG, NONLEAF, MOVED, GRAPH, PLAIN):
                return self._op([base], expr, "indexing")
            if base.kind == CUT:
                return base
            return UNK
        if type(expr) is cst.Comparison:
            vals = [self.value(expr.left)] + [self.value(c.comparator) for c in expr.comparisons]
            if any(v.kind in (RG, NONLEAF, MOVED, GRAPH, PLAIN) for v in vals):
                return TVal(PLAIN, dtype="bool")
            return UNK
        if type(expr) is cst.Integer:
            return TVal(NUM, dtype="int64")
        if type(expr) is cst.Float:
            return TVal(NUM, dtype="float32")
        if type(expr) is cst.Imaginary:
            return TVal(NUM, dtype="complex64")
        return UNK

    def _op(self, inputs: list[TVal], node: cst.CSTNode, how: str) -> TVal:
        """The result of an op (arithmetic, a tensor method, a torch function) on `inputs`."""
        result = self._op_kind(inputs, node, how)
        pure = any(v.pure for v in inputs) and all(v.pure or v.kind in (NUM, PLAIN, CUT) for v in inputs)
        return replace(result, pure=pure) if pure != result.pure else result

    def _op_kind(self, inputs: list[TVal], node: cst.CSTNode, how: str) -> TVal:
        rewraps = frozenset().union(*(v.rewraps for v in inputs))
        kinds = {v.kind for v in inputs}
        if kinds & {RG, NONLEAF, MOVED}:
            conds = frozenset().union(*(v.conds for v in inputs if v.kind in (RG, NONLEAF, MOVED, GRAPH)))
            conds = self._mode_conds(conds)
            if conds is None:
                if self.b.mode in (Mode.DISABLED, Mode.INFERENCE):
                    return TVal(PLAIN, rewraps=rewraps)
                return TVal(UNKNOWN, rewraps=rewraps)
            src = next((v for v in inputs if v.kind == RG), None)
            return TVal(NONLEAF, node=node, how=how, origin=src.origin if src else "", conds=conds,
                        rewraps=rewraps)
        if GRAPH in kinds:
            conds = frozenset().union(*(v.conds for v in inputs if v.kind == GRAPH))
            conds = self._mode_conds(conds)
            if conds is None:
                return TVal(PLAIN if self.b.mode in (Mode.DISABLED, Mode.INFERENCE) else UNKNOWN, rewraps=rewraps)
            return TVal(GRAPH, node=node, conds=conds, rewraps=rewraps)
        if UNKNOWN in kinds or "defer" in kinds:
            return TVal(UNKNOWN, rewraps=rewraps)
        if PLAIN in kinds:
            cut = next((v.cut_from for v in inputs if v.cut_from), "")
            conds = frozenset().union(*(v.conds for v in inputs if v.cut_from))
            return TVal(PLAIN, rewraps=rewraps, cut_from=cut, conds=conds)
        if CUT in kinds:
            cut = next(v for v in inputs if v.kind == CUT)
            return TVal(CUT, cut_from=cut.cut_from, conds=cut.conds, rewraps=rewraps)
        if kinds == {NUM}:
            return TVal(NUM)
        return TVal(UNKNOWN, rewraps=rewraps)

    def _code(self, node: cst.CSTNode) -> str:
        return short_code(node, 40)

    def _dtype_name(self, expr: cst.BaseExpression) -> str | None:
        q = self.b.imports.resolve(expr)
        if q is None or not q.startswith("torch."):
            return None
        last = q[len("torch."):]
        if last in INT_DTYPES or last in FLOAT_DTYPES:
            return _CANON.get(last, last)
        return None

    def _factory_dtype(self, last: str, call: cst.Call, ints: list[cst.Integer]) -> tuple[str | None, str, cst.Arg | None]:
        """(dtype, reason, explicit dtype arg) of a torch factory call."""
        dt_arg = _kwarg(call, "dtype")
        if dt_arg is not None:
            dt = self._dtype_name(dt_arg.value)
            return dt, f"`dtype={self._code(dt_arg.value)}`", dt_arg
        pos = _positional(call)
        if last in ("tensor", "as_tensor"):
            if not pos:
                return None, "", None
            k = _int_literal_data(pos[0].value, ints)
            if k == "int":
                return "int64", "integer literals", None
            if k == "bool":
                return "bool", "bool literals", None
            if k == "float":
                return "float32", "", None
            if k == "complex":
                return "complex64", "", None
            v = self.value(pos[0].value)
            return v.dtype if v.kind in (PLAIN, RG, NONLEAF) else None, "", None
        if last == "arange":
            if pos and len(pos) <= 3 and all(_is_int_expr(a.value, [], self) for a in pos) and not any(
                a.keyword is not None and a.keyword.value in ("start", "end", "step") for a in call.args
            ):
                if all(type(a.value) is cst.Integer for a in pos):
                    ints.extend(a.value for a in pos)  # type: ignore[misc]
                return "int64", "integer arguments (`torch.arange` of ints is int64)", None
            if any(type(a.value) is cst.Float for a in pos):
                return "float32", "", None
            return None, "", None
        if last in ("randint", "randperm"):
            return "int64", f"`torch.{last}` (int64 unless `dtype=` says otherwise)", None
        if last == "full":
            if len(pos) >= 2:
                k = _int_literal_data(pos[1].value, ints)
                if k == "int":
                    return "int64", "an integer fill value (`torch.full` infers int64)", None
                if k == "bool":
                    return "bool", "a bool fill value", None
                if k == "float":
                    return "float32", "", None
            fill = _kwarg(call, "fill_value")
            if fill is not None:
                k = _int_literal_data(fill.value, ints)
                if k == "int":
                    return "int64", "an integer fill value (`torch.full` infers int64)", None
            return None, "", None
        if last.endswith("_like"):
            if pos:
                v = self.value(pos[0].value)
                if v.dtype is not None and v.kind in (PLAIN, RG, NONLEAF):
                    return v.dtype, "the integer tensor it copies the dtype of", None
            return None, "", None
        if last in FLOAT_FACTORIES:
            return "float32", "", None
        return None, "", None

    def _call_value(self, call: cst.Call) -> TVal:
        func = call.func
        q = self.b.imports.resolve(func)
        if q is not None:
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                rg = _kwarg(call, "requires_grad")
                if rg is None and len(_positional(call)) >= 2:
                    rg = _positional(call)[1]
                pos = _positional(call)
                inner = self.value(pos[0].value) if pos else UNK
                if rg is not None:
                    flag = _const_bool(rg.value)
                    if flag is None:
                        return UNK
                    if flag is False:
                        return TVal(PLAIN, dtype=inner.dtype)
                return TVal(RG, dtype=inner.dtype, origin="an `nn.Parameter`", node=call,
                            cpu_fresh=inner.cpu_fresh)
            head, _, last = q.rpartition(".")
            if head == "torch" and last in REWRAP_FUNCS:
                ev = self._rewrap_event(call, q, last)
                if ev is not None:
                    v = self._call_value_inner(call, head, last)
                    return replace(v, rewraps=v.rewraps | {ev}, pure=True)
            if head == "torch":
                return self._call_value_inner(call, head, last)
            return self._call_value_nontorch(call, q, head, last)
        return self._call_value_rest(call)

    def _call_value_inner(self, call: cst.Call, head: str, last: str) -> TVal:
        if last in TORCH_FACTORIES:
            ints: list[cst.Integer] = []
            dtype, _reason, _arg = self._factory_dtype(last, call, ints)
            pos = _positional(call)
            rewraps: frozenset = frozenset()
            if last in ("tensor", "from_numpy", "as_tensor") and pos:
                src = self.value(pos[0].value)
                if last == "as_tensor" and src.kind in GRADISH:
                    return src  # as_tensor returns the same tensor
                rewraps = src.rewraps
            rg = _kwarg(call, "requires_grad")
            fresh = (
                _kwarg(call, "device") is None
                and not self._default_device
                and not last.endswith("_like")
                and not (last in ("tensor", "as_tensor") and pos and not _literal_data(pos[0].value))
            )
            if rg is not None:
                flag = _const_bool(rg.value)
                if flag is None:
                    return UNK
                if flag:
                    return TVal(RG, dtype=dtype, node=call, origin="created with `requires_grad=True`",
                                cpu_fresh=fresh, rewraps=rewraps)
            return TVal(PLAIN, dtype=dtype, node=call, cpu_fresh=fresh, rewraps=rewraps)
        if last in ("Tensor", "FloatTensor", "DoubleTensor", "LongTensor"):
            return TVal(PLAIN, dtype={"LongTensor": "int64", "DoubleTensor": "float64"}.get(last, "float32"))
        if last == "detach":
            pos = _positional(call)
            return self._detach(self.value(pos[0].value) if pos else UNK, call)
        if last in TORCH_TENSOR_FUNCS:
            args = [self.value(a.value) for a in call.args if a.keyword is None or a.keyword.value != "out"]
            return self._op(args, call, f"`torch.{last}(...)`")
        return UNK

    def _call_value_nontorch(self, call: cst.Call, q: str, head: str, last: str) -> TVal:
        if q.startswith("torch.nn.functional."):
            args = [self.value(a.value) for a in call.args if a.keyword is None]
            if not args:
                return UNK
            return self._op(args, call, f"`{q.rsplit('.', 1)[-1]}(...)`")
        if q.startswith(("numpy.", "math.")):
            args = [self.value(a.value) for a in call.args]
            cut = next((a for a in args if a.kind == CUT), None)
            if cut is not None:
                return TVal(CUT, cut_from=cut.cut_from, conds=cut.conds)
            return UNK
        return self._call_value_rest(call)

    def _call_value_rest(self, call: cst.Call) -> TVal:
        func = call.func
        if type(func) is cst.Name and func.value in ("float", "int", "bool", "list") and len(call.args) == 1:
            v = self.value(call.args[0].value)
            if v.kind in GRADISH:
                return TVal(CUT, cut_from=f"`{self._code(call)}`", conds=v.conds)
            if v.kind == CUT:
                return v
            return UNK
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = self.value(func.value)
            if recv.kind in (RG, NONLEAF, MOVED, GRAPH, PLAIN):
                return self._method_value(recv, method, call)
            if recv.kind == CUT and method not in ("append", "extend"):
                return recv  # numpy post-processing of a detached array
            if recv.kind == UNKNOWN and method == "detach" and not call.args:
                return TVal(PLAIN)  # whatever it was, a detached tensor is a leaf that does not require grad
        fv = self.b.classify(func)
        if fv.kind is Kind.MODULE:
            conds = self._mode_conds(frozenset())
            args = [self.value(a.value) for a in call.args]
            rewraps = frozenset().union(*(a.rewraps for a in args))
            if conds is None:
                return TVal(PLAIN if self.b.mode in (Mode.DISABLED, Mode.INFERENCE) else UNKNOWN, rewraps=rewraps)
            # a layer applied to a re-wrapped value: its own parameters train, nothing before the cut does
            pure = any(a.pure for a in args) and all(a.pure or a.kind in (NUM, PLAIN, CUT) for a in args)
            return TVal(GRAPH, node=call, conds=conds, rewraps=rewraps, pure=pure)
        if type(func) in (cst.Name, cst.Attribute) and not (type(func) is cst.Name and func.value in _BUILTINS):
            # an unknown function of a graph value (`criterion(out, y)`, `loss_fn(pred)`): maybe still in the
            # graph (GL019 only; never a NONLEAF for GL008/GL017)
            args = [self.value(a.value) for a in call.args]
            graphish = [a for a in args if a.kind in GRADISH]
            if graphish:
                conds = self._mode_conds(frozenset().union(*(a.conds for a in graphish)))
                if conds is not None:
                    return TVal(GRAPH, node=call, conds=conds,
                                rewraps=frozenset().union(*(a.rewraps for a in args)))
        return UNK

    def _detach(self, recv: TVal, node: cst.CSTNode) -> TVal:
        if recv.kind in GRADISH:
            return TVal(PLAIN, dtype=recv.dtype, cut_from=f"`{self._code(node)}`", conds=recv.conds)
        if recv.kind == PLAIN:
            return recv
        return UNK

    def _method_value(self, recv: TVal, method: str, call: cst.Call) -> TVal:
        if method in CUT_METHODS:
            if method == "numpy" and recv.kind in GRADISH:
                return UNK  # `.numpy()` of a tensor that requires grad raises: not a silent cut
            if recv.kind in GRADISH or (recv.kind == PLAIN and recv.cut_from):
                return TVal(CUT, cut_from=f"`{self._code(call)}`", conds=recv.conds)
            return TVal(NUM) if method == "item" else UNK
        if method in NON_TENSOR_METHODS:
            return UNK
        if method in ("detach", "detach_"):
            return self._detach(recv, call)
        if method == "requires_grad_":
            arg = _kwarg(call, "requires_grad") or (_positional(call)[0] if _positional(call) else None)
            flag = True if arg is None else _const_bool(arg.value)
            if flag is None:
                return UNK
            if recv.kind == PLAIN:
                if flag:
                    return TVal(RG, dtype=recv.dtype, node=call, origin="made a leaf with `.requires_grad_()`",
                                cpu_fresh=recv.cpu_fresh)
                return recv
            if recv.kind == RG:
                return recv if flag else TVal(PLAIN, dtype=recv.dtype, cpu_fresh=recv.cpu_fresh)
            return recv if flag else UNK
        if method in ("retain_grad", "register_hook", "backward"):
            return UNK
        if method == "clone":
            return self._op([recv], call, "`.clone()`") if recv.kind != PLAIN else replace(recv, node=call)
        if method in INT_CASTS:
            return TVal(PLAIN, dtype=INT_CASTS[method], node=call)  # an integer copy never requires grad
        if method in MAYBE_SELF:
            return self._convert(recv, method, call)
        if is_inplace_method(method):
            return recv
        args = [self.value(a.value) for a in call.args if a.keyword is None]
        how = f"`.{method}()`" if not call.args else f"`.{method}(...)`"
        return self._op([recv, *[a for a in args if a.kind != NUM]], call, how)

    def _convert(self, recv: TVal, method: str, call: cst.Call) -> TVal:
        """`.to(...)`, `.cuda()`, `.float()`, ...: `self` when nothing changes, else a copy (a non-leaf copy
        of a tensor that requires grad)."""
        target_dtype: str | None = None
        device: str | None = None  # "cpu", "cuda", "?" (not a literal)
        copy = False
        unknown_arg = False
        if method == "cuda":
            device = "cuda"
        elif method == "cpu":
            device = "cpu"
        elif method in ("float", "double", "half", "bfloat16"):
            target_dtype = _CANON.get(method, method)
        elif method == "contiguous":
            pass
        else:  # to / type
            for a in call.args:
                kw = a.keyword.value if a.keyword is not None else None
                v = a.value
                if kw == "copy":
                    if _const_bool(v) is not False:
                        copy = True
                    continue
                if kw in ("non_blocking", "memory_format"):
                    continue
                dt = self._dtype_name(v)
                if dt is not None and kw in (None, "dtype"):
                    target_dtype = dt
                elif type(v) is cst.SimpleString and method == "type":
                    return UNK
                elif type(v) is cst.SimpleString and kw in (None, "device"):
                    s = str(v.evaluated_value)
                    device = "cpu" if s.split(":")[0] == "cpu" else "cuda" if s.startswith("cuda") else "?"
                elif kw in (None, "device"):
                    device = "?"
                    unknown_arg = True
                else:
                    unknown_arg = True
        new_dtype = target_dtype or recv.dtype
        if recv.kind == PLAIN:
            return replace(recv, dtype=new_dtype, node=call, cpu_fresh=recv.cpu_fresh and device in (None, "cpu"))
        if recv.kind in (NONLEAF, GRAPH):
            return replace(recv, dtype=new_dtype) if recv.kind == NONLEAF else recv
        if recv.kind == MOVED:
            return replace(recv, dtype=new_dtype)
        if recv.kind != RG:
            return UNK
        # a leaf that requires grad: does this make a copy?
        dtype_changes: bool | None = None
        if target_dtype is not None:
            dtype_changes = None if recv.dtype is None else target_dtype != recv.dtype
        device_changes: bool | None = None
        if device is not None:
            if not recv.cpu_fresh:
                device_changes = None
            else:
                device_changes = {"cpu": False, "cuda": True}.get(device)
        if copy:
            dtype_changes = True
        if dtype_changes is True or device_changes is True:
            how = f"`.{method}({', '.join(self._code(a) for a in call.args)})`"
            conds = self._mode_conds(recv.conds)
            if conds is None:
                return UNK if self.b.mode is Mode.UNKNOWN else TVal(PLAIN, dtype=new_dtype)
            return TVal(NONLEAF, dtype=new_dtype, node=call, how=how, origin=recv.origin, conds=conds)
        if (target_dtype is not None and dtype_changes is None) or (device is not None and device_changes is None):
            if device_changes is None and device is not None and recv.cpu_fresh and dtype_changes is not True:
                conds = self._mode_conds(recv.conds)
                if conds is None:
                    return UNK
                how = f"`.{method}({', '.join(self._code(a) for a in call.args)})`"
                return TVal(MOVED, dtype=new_dtype, node=call, how=how, origin=recv.origin, conds=conds)
            return UNK
        if unknown_arg:
            return UNK
        return recv  # `.to("cpu")` of a CPU tensor, `.float()` of a float32 tensor: returns self

    # ------------------------------------------------------------------ walk: scopes

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        fn = self.b.function
        self._new_scope(fn)
        params = node.params
        for p in [*params.posonly_params, *params.params, *params.kwonly_params]:
            self._scope.bindings[p.name.value] = DEFER
        for p in (params.star_arg, params.star_kwarg):
            if type(p) is cst.Param:
                self._scope.bindings[p.name.value] = UNK
        cls = fn.class_info if fn is not None else None
        self._forward_stack.append(bool(cls is not None and cls.is_module and node.name.value == "forward"))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._pop_scope()
        self._forward_stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._new_scope(self.b.function)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._pop_scope()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        names = {p.name.value for p in node.params.params}
        self._comp_targets.append(names)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._comp_targets.pop()

    def _enter_comp(self, node) -> None:
        found: set[str] = set()
        comp = node.for_in
        while comp is not None:
            _target_names(comp.target, found)
            comp = comp.inner_for_in
        self._comp_targets.append(found)

    def _leave_comp(self, node) -> None:
        self._comp_targets.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp

    # compound statements: bindings inside may not happen (or differ per branch)
    def visit_If(self, node: cst.If) -> None:
        self._push_frame()

    def leave_If(self, node: cst.If) -> None:
        self._pop_frame()

    def visit_For(self, node: cst.For) -> None:
        self._push_frame()
        found: set[str] = set()
        _target_names(node.target, found)
        for n in found:
            self._bind_key(n, DEFER)

    def leave_For(self, node: cst.For) -> None:
        self._pop_frame()

    def visit_While(self, node: cst.While) -> None:
        self._push_frame()

    def leave_While(self, node: cst.While) -> None:
        self._pop_frame()

    def visit_Try(self, node: cst.Try) -> None:
        self._push_frame()
        self._try_depth += 1

    def leave_Try(self, node: cst.Try) -> None:
        self._try_depth -= 1
        self._pop_frame()

    def visit_TryStar(self, node) -> None:
        self.visit_Try(node)

    def leave_TryStar(self, node) -> None:
        self.leave_Try(node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and type(node.name.name) is cst.Name:
            self._bind_key(node.name.name.value, UNK)

    def visit_With(self, node: cst.With) -> None:
        raises = False
        for item in node.items:
            e = item.item
            if type(e) is cst.Call:
                d = dotted(e.func) or ""
                if d.endswith(("raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp")):
                    raises = True
            if item.asname is not None:
                self._bind(item.asname.name, UNK)
        self._with_raises.append(raises)
        if raises:
            self._raises_depth += 1

    def leave_With(self, node: cst.With) -> None:
        if self._with_raises.pop():
            self._raises_depth -= 1

    def visit_Match(self, node) -> None:
        self._push_frame()

    def leave_Match(self, node) -> None:
        self._pop_frame()

    # ------------------------------------------------------------------ walk: statements

    def visit_Assign(self, node: cst.Assign) -> None:
        rhs = self.value(node.value)
        pending = []
        for t in node.targets:
            target = t.target
            self._targets.add(id(target))
            if type(target) is cst.Attribute and target.attr.value == "requires_grad":
                self._record_requires_grad(node, target.value, _const_bool(node.value), "attr")
                continue
            if type(target) is cst.Subscript:
                base = dotted(target.value)
                if base is not None and rhs.kind in GRADISH + (UNKNOWN,):
                    cur = self._scope.lookup(base)
                    if cur is not None and cur.kind == PLAIN:
                        pending.append((target.value, UNK))
                continue
            if (
                type(target) in (cst.Tuple, cst.List)
                and type(node.value) in (cst.Tuple, cst.List)
                and len(target.elements) == len(node.value.elements)
                and all(type(e) is cst.Element for e in (*target.elements, *node.value.elements))
            ):
                for te, ve in zip(target.elements, node.value.elements):
                    pending.append((te.value, self.value(ve.value)))
                continue
            pending.append((target, rhs))
        self._pending.append(pending)

    def leave_Assign(self, node: cst.Assign) -> None:
        for target, value in self._pending.pop():
            self._bind(target, value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets.add(id(node.target))
        self._pending.append([(node.target, self.value(node.value) if node.value is not None else UNK)])

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        for target, value in self._pending.pop():
            self._bind(target, value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets.add(id(node.target))
        target = node.target
        if type(target) in (cst.Name, cst.Attribute) and dotted(target) is not None:
            cur = self.value(target)
            new = self._op([cur, self.value(node.value)], node, "an in-place op")
            if cur.kind in (RG, MOVED):
                new = UNK  # an in-place op on a leaf that requires grad raises (GL001)
            self._pending.append([(target, new)])
        else:
            self._pending.append([])

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        for target, value in self._pending.pop():
            self._bind(target, value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._pending.append([(node.target, self.value(node.value))])

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        for target, value in self._pending.pop():
            self._bind(target, value)

    def visit_Expr(self, node: cst.Expr) -> None:
        self._stmt_call = id(node.value)

    def visit_Del(self, node: cst.Del) -> None:
        self._targets.add(id(node.target))

    def visit_Global(self, node: cst.Global) -> None:
        for n in node.names:
            self._scope.bindings[n.name.value] = UNK

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for n in node.names:
            self._scope.bindings[n.name.value] = UNK

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is None or not self._forward_stack or not self._forward_stack[-1]:
            return
        value = node.value
        if type(value) in (cst.Name, cst.BinaryOperation, cst.Call, cst.Subscript, cst.Attribute):
            v = self.value(value)
            if v.pure:
                for ev in v.rewraps:
                    ev.reached_return = True

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = alias.asname.name if alias.asname is not None else alias.name
            key = dotted(name) if type(name) in (cst.Name, cst.Attribute) else None
            if key:
                self._scope.bindings[key.split(".")[0]] = DEFER

    # ------------------------------------------------------------------ walk: expressions

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "grad" or id(node) in self._targets:
            return
        key = dotted(node.value)
        if key is None:
            return
        uids = []
        scope: _Scope | None = self._scope
        while scope is not None:
            uids.append(scope.uid)
            scope = scope.parent
        self.grad_reads.append(GradRead(node, key, self.value(node.value), tuple(uids), self.b.function))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        q = self.b.imports.resolve(func)
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if method == "retain_grad":
                key = dotted(recv)
                if key is not None:
                    self.retained.add((self._scope.uid, key))
            elif method == "requires_grad_":
                arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                self._record_requires_grad(node, recv, flag, "method")
            elif method == "backward":
                v = self.value(recv)
                if v.pure:
                    for ev in v.rewraps:
                        ev.reached_backward = True
            elif method in ("detach_",) and dotted(recv):
                self._pending_rebind(recv, self._detach(self.value(recv), node))
            elif is_inplace_method(method) and dotted(recv):
                cur = self.value(recv)
                if cur.kind == PLAIN and any(self.value(a.value).kind != NUM for a in node.args):
                    self._pending_rebind(recv, UNK)
        if q is not None:
            head, _, last = q.rpartition(".")
            if q in ("torch.autograd.backward", "torch.autograd.grad"):
                pos = _positional(node)
                if pos:
                    self._mark_backward(pos[0].value)
            elif q == "torch.set_default_device":
                self._default_device = True
            elif head == "torch.optim" and last[:1].isupper():
                self._record_optimizer(node, q)
            elif q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                pos = _positional(node)
                if pos:
                    for ev in self.value(pos[0].value).rewraps:
                        ev.trained = True
                    self._record_parameter(node, q, pos[0].value)
            elif head == "torch" and last in TORCH_FACTORIES:
                self._record_factory(node, q, last)
        else:
            fv = self.b.classify(func)
            if fv.kind is Kind.MODULE and self._forward_stack and self._forward_stack[-1]:
                for a in node.args:
                    v = self.value(a.value)
                    if v.pure:
                        for ev in v.rewraps:
                            ev.reached_module = True

    def _pending_rebind(self, target: cst.BaseExpression, value: TVal) -> None:
        key = dotted(target)
        if key is not None:
            self._bind_key(key, value)

    def _mark_backward(self, expr: cst.BaseExpression) -> None:
        exprs = [e.value for e in expr.elements] if type(expr) in (cst.List, cst.Tuple) else [expr]
        for e in exprs:
            v = self.value(e)
            if v.pure:
                for ev in v.rewraps:
                    ev.reached_backward = True

    # ------------------------------------------------------------------ facts

    def _record_requires_grad(self, node: cst.CSTNode, target: cst.BaseExpression, flag: bool | None,
                              form: str) -> None:
        value = self.value(target)
        whole = form == "attr" or id(node) == self._stmt_call
        temp = self._temporary(target)
        self.requires_grad_sets.append(
            RequiresGradSet(node, target, dotted(target), value, flag, form, in_raises=self._raises_depth > 0,
                            whole_statement=whole and len(getattr(node, "targets", ())) <= 1,
                            temporary=temp[0] if temp else "", owner=temp[1] if temp else None,
                            owner_requires_grad=self._requires_grad(temp[1]) if temp else None)
        )
        key = dotted(target)
        if key is None or form != "attr":
            return
        # `x.requires_grad = True/False` changes what x is from here on
        if value.kind == PLAIN and flag is True:
            self._bind_key(key, TVal(RG, dtype=value.dtype, node=node, origin="made a leaf with `requires_grad = True`",
                                     cpu_fresh=value.cpu_fresh))
        elif value.kind == RG and flag is False:
            self._bind_key(key, TVal(PLAIN, dtype=value.dtype, cpu_fresh=value.cpu_fresh))
        elif value.kind in (PLAIN, RG) and flag is None:
            self._bind_key(key, UNK)

    _TENSOR_KINDS = (RG, NONLEAF, MOVED, GRAPH, PLAIN)
    # conversions that copy when they change the dtype (and return `self` when they do not)
    _DTYPE_METHODS = {"float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16"}

    def _requires_grad(self, expr: cst.BaseExpression) -> bool | None:
        v = self.value(expr)
        if v.kind in (RG, NONLEAF, MOVED, GRAPH):
            return True
        if v.kind == PLAIN:
            return False
        core = self.b.classify(expr).kind
        if core in (Kind.LEAF, Kind.NONLEAF):
            return True
        return False if core is Kind.TENSOR else None

    def _temporary(self, expr: cst.BaseExpression) -> tuple[str, cst.BaseExpression] | None:
        """Is `expr` a tensor object made anew by evaluating it (so a flag set on it is lost)? Returns how it was
        made and the tensor it was made from. Only provable cases: `X.data` (a new alias on every access),
        `X.detach()`, `X.clone()`, indexing such a temporary or a plain tensor, a dtype conversion of a tensor
        of another known dtype, `.cuda()` of a tensor a CPU factory made here."""
        if type(expr) is cst.Attribute and expr.attr.value == "data":
            if self.value(expr.value).kind in self._TENSOR_KINDS or self.b.classify(expr.value).kind in (
                    Kind.LEAF, Kind.TENSOR, Kind.NONLEAF):
                return "`.data`", expr.value
            return None
        if type(expr) is cst.Subscript:
            inner = self._temporary(expr.value)
            if inner is not None:
                return inner[0] + " and indexing", inner[1]
            if type(expr.value) in (cst.Name, cst.Attribute) and self.value(expr.value).kind == PLAIN:
                return "indexing", expr.value
            return None
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            method, recv = expr.func.attr.value, expr.func.value
            base = self.value(recv)
            if base.kind not in self._TENSOR_KINDS:
                inner = self._temporary(recv)
                if inner is None:
                    return None
            if method in ("detach", "clone") and not expr.args:
                return f"`.{method}()`", recv
            want = self._DTYPE_METHODS.get(method)
            if want is not None and not expr.args and base.dtype is not None and base.dtype != want:
                return f"`.{method}()` of a `{base.dtype}` tensor", recv
            if method == "cuda" and base.cpu_fresh:
                return "`.cuda()` of a CPU tensor", recv
            pos = _positional(expr)
            if (method == "to" and base.cpu_fresh and len(expr.args) == 1 and pos and type(pos[0].value) is cst.SimpleString
                    and pos[0].value.evaluated_value.startswith("cuda")):
                return f"`.to({pos[0].value.value})` of a CPU tensor", recv
        return None

    def _record_optimizer(self, call: cst.Call, q: str) -> None:
        arg = _kwarg(call, "params") or (_positional(call)[0] if _positional(call) else None)
        if arg is None:
            return
        for e in self._param_exprs(arg.value, depth=0):
            v = self.value(e)
            for ev in v.rewraps:
                ev.trained = True
            key = dotted(e)
            if key is not None:
                self.optimizer_params.append(OptimizerParam(call, q, key, v))

    def _param_exprs(self, expr: cst.BaseExpression, depth: int) -> list[cst.BaseExpression]:
        out: list[cst.BaseExpression] = []
        if type(expr) in (cst.List, cst.Tuple):
            for el in expr.elements:
                if type(el) is not cst.Element:
                    continue
                v = el.value
                if type(v) is cst.Dict and depth == 0:
                    for de in v.elements:
                        if (
                            type(de) is cst.DictElement
                            and type(de.key) is cst.SimpleString
                            and de.key.evaluated_value == "params"
                        ):
                            out += self._param_exprs(de.value, depth + 1) if type(de.value) in (cst.List, cst.Tuple) else [de.value]
                elif type(v) in (cst.Name, cst.Attribute):
                    out.append(v)
        elif type(expr) in (cst.Name, cst.Attribute) and depth == 0:
            key = dotted(expr)
            lst = self._lists.get((self._scope.uid, key)) if key else None
            if lst is not None:
                out += lst
        return out

    @property
    def _lists(self) -> dict:
        return self._list_bindings

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        # `params = [w, b]` (a list literal of names) for a later `torch.optim.SGD(params, ...)`
        for small in node.body:
            if type(small) is cst.Assign and len(small.targets) == 1 and type(small.value) in (cst.List, cst.Tuple):
                key = dotted(small.targets[0].target)
                if key is not None:
                    elems = [e.value for e in small.value.elements
                             if type(e) is cst.Element and type(e.value) in (cst.Name, cst.Attribute)]
                    if len(elems) == len(small.value.elements):
                        self._lists[(self._scope.uid, key)] = elems
                        continue
                    self._lists.pop((self._scope.uid, key), None)
            elif type(small) is cst.Assign:
                for t in small.targets:
                    key = dotted(t.target)
                    if key is not None:
                        self._lists.pop((self._scope.uid, key), None)

    def _record_parameter(self, call: cst.Call, q: str, data: cst.BaseExpression) -> None:
        rg = _kwarg(call, "requires_grad")
        if rg is None and len(_positional(call)) >= 2:
            rg = _positional(call)[1]
        if rg is not None and _const_bool(rg.value) is not True:
            return
        ints: list[cst.Integer] = []
        dtype: str | None = None
        reason = ""
        explicit: cst.Arg | None = None
        if type(data) is cst.Call:
            dq = self.b.imports.resolve(data.func)
            if dq is not None and dq.rpartition(".")[0] == "torch" and dq.rpartition(".")[2] in TORCH_FACTORIES:
                if _kwarg(data, "requires_grad") is not None:
                    return  # the factory call itself is recorded
                dtype, reason, explicit = self._factory_dtype(dq.rpartition(".")[2], data, ints)
        if dtype is None:
            v = self.value(data)
            if v.kind in (PLAIN,) and v.dtype is not None:
                dtype, reason = v.dtype, "an integer tensor"
        if dtype is None or not _is_int_dtype(dtype):
            return
        self.factory_grads.append(FactoryGrad(
            call, q, None, dtype, reason, explicit, tuple(ints), self._try_depth > 0, self._raises_depth > 0,
            self.b.function,
        ))

    def _record_factory(self, call: cst.Call, q: str, last: str) -> None:
        rg = _kwarg(call, "requires_grad")
        if rg is None or _const_bool(rg.value) is not True:
            return
        ints: list[cst.Integer] = []
        dtype, reason, explicit = self._factory_dtype(last, call, ints)
        if dtype is None or not _is_int_dtype(dtype):
            return
        self.factory_grads.append(FactoryGrad(
            call, q, rg, dtype, reason, explicit, tuple(ints), self._try_depth > 0, self._raises_depth > 0,
            self.b.function,
        ))

    def _rewrap_event(self, call: cst.Call, q: str, last: str) -> "RewrapCall | None":
        """The re-wrapping event of `torch.tensor(<value taken out of a graph>)` & co (created once per call)."""
        key = id(call)
        if key in self._rewrap_map:
            return self._rewrap_map[key]
        ev = None
        pos = _positional(call)
        data = pos[0].value if pos else None
        if data is None:
            kw = _kwarg(call, "data") or _kwarg(call, "ndarray")
            data = kw.value if kw is not None else None
        if data is not None:
            src = self.value(data)
            source = ""
            if src.kind == CUT or (src.kind == PLAIN and src.cut_from):
                source = src.cut_from
            elif src.kind in GRADISH and last == "tensor":
                source = f"`torch.tensor({self._code(data)})` (it copies the value and detaches it)"
            if source:
                rg = _kwarg(call, "requires_grad")
                ev = RewrapCall(call, q, source, bool(rg is not None and _const_bool(rg.value)), self.b.function,
                                bool(self._forward_stack and self._forward_stack[-1]), conds=src.conds)
                self.rewraps.append(ev)
        self._rewrap_map[key] = ev
        return ev


def _is_int_dtype(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype in {_CANON.get(k, k) for k in INT_DTYPES}


def _target_names(target: cst.BaseExpression, out: set[str]) -> None:
    out.update(target_names(target, starred=True))
