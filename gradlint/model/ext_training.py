"""Training-loop facts (GL006 graph-accumulated, GL007 zero-grad-missing, GL013 backward-through-freed-graph).

Recorded in the builder's single walk:

- a light *graph provenance* for names: which expressions hold a tensor that carries an autograd graph,
  as a set of "root" ids (one id per graph-building call or op visited: a model call, a loss call, an op on
  a tensor that requires grad). Two values share a root when they share part of a graph; `.detach()`,
  `.item()`, `float()`, `.data`, and anything computed under `no_grad`/`inference_mode`/
  `set_grad_enabled(<flag>)` carry none. Unknown calls carry none (rules stay silent on what we do not
  know), except functions whose name says they compute a loss (`criterion`, `loss_fn`, `compute_loss`).
- `backward()`-like calls (`t.backward()`, `torch.autograd.backward/grad`, `scaler.scale(t).backward()`,
  `accelerator.backward(t)`, `self.manual_backward(t)`) with the roots they free and their
  `retain_graph`/`create_graph` flags, and their position in the block structure (for "runs after");
- optimizer `step()` calls, gradient resets (`zero_grad`, `p.grad = None`, `p.grad.zero_()`), calls to
  local functions inside loops (a helper that resets);
- accumulations (`acc += t`, `acc = acc + t`, `acc.append(t)`, `d[k] += t`, `acc = torch.cat([acc, t])`),
  assignments and clears per loop (is the accumulator re-created every iteration?), names returned;
- carried assignments: `h = f(..., h, ...)` inside a loop where the new value carries a graph built on
  the previous iteration's `h` (not through `.detach()`).

Everything is per function (`fn`), with the enclosing loops of that function (`loops`, outermost first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from gradlint.model.builder import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, LoopInfo, Mode
from gradlint.model.names import TORCH_FACTORIES, dotted, is_full_slice, is_inplace_method
from gradlint.model.values import Kind
from gradlint.model.walk import child_nodes

EMPTY: frozenset[int] = frozenset()

# tensor methods whose result carries no graph
NON_GRAPH_METHODS = frozenset(
    """item tolist numpy detach detach_ size dim numel stride data_ptr element_size nelement is_contiguous
    is_floating_point is_complex equal allclose any all argmax argmin argsort eq ne lt le gt ge isnan isinf
    isfinite nonzero long int bool byte short char count_nonzero backward append extend insert clear keys
    values items get update format __len__ copy_ zero_ fill_ uniform_ normal_ register_hook retain_grad
    requires_grad_ unique""".split()
)
NON_GRAPH_ATTRS = frozenset(
    "shape dtype device grad data requires_grad is_leaf grad_fn ndim layout is_cuda names output_nr".split()
)
NON_GRAPH_BUILTINS = frozenset(
    "float int bool str len round repr print isinstance type id hash format range enumerate zip".split()
)
GRAPH_BUILTINS = frozenset({"sum", "max", "min", "abs"})
LOSS_NAME = re.compile(r"(criterion\w*|\w*loss\w*|crit|bce\w*|mse\w*|nll\w*|huber\w*|\w*_criterion)", re.IGNORECASE)
OPT_NAME = re.compile(r"\w*optim\w*|(\w*_)?opts?(_\w*)?|opt[a-z]|opt\d+|\w*_opt", re.IGNORECASE)
RESET_NAME = re.compile(r"zero_grad|(reset|clear|zero)_?grads?", re.IGNORECASE)
# ops that save their operands for the backward pass (the gradient of one operand needs the other)
_SAVING_OPERATORS = {cst.Multiply: "mul", cst.MatrixMultiply: "mul", cst.Divide: "div", cst.Power: "pow"}
_SAVING_FUNCS = {**{f: "mul" for f in "mul multiply matmul mm bmm mv dot outer linear conv1d conv2d conv3d".split()},
                 "div": "div", "divide": "div", "true_divide": "div", "pow": "pow"}
# ops whose backward uses their own result (checked on torch 2.13: a write to the result changes the input's
# gradient; not `relu`, whose backward only reads the result's sign)
_SAVES_RESULT = frozenset("sigmoid tanh exp softmax log_softmax sqrt rsqrt".split())
# torch layers that save their weight only for the gradient of their input (none for `nn.Embedding`)
_WEIGHT_FOR_INPUT_LAYERS = re.compile(r"an? `nn\.(Linear|LazyLinear|Conv[123]d|ConvTranspose[123]d|Embedding|EmbeddingBag)`")
DETACH_HELPER = re.compile(r"detach|repackage", re.IGNORECASE)
BACKWARD_WRAPPER = re.compile(r"\w*(accelerator|fabric|engine|deepspeed|ds|amp|trainer|model_engine)\w*", re.IGNORECASE)


@dataclass(eq=False)
class Backward:
    node: cst.Call
    stmt: cst.CSTNode | None  # the statement line holding the call
    kind: str  # "backward" (a .backward()/autograd.backward) or "grad" (torch.autograd.grad)
    target: cst.BaseExpression | None
    keys: frozenset[str]  # names mentioned in the target(s)
    roots: frozenset[int]
    frees: bool  # False with retain_graph=True / create_graph=True / a non-constant retain_graph
    retain_true: bool  # retain_graph=True (constant)
    create_graph: bool
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    mode: Mode
    path: tuple[tuple[int, int], ...]
    unconditional_in: LoopInfo | None = None  # the innermost loop, when every iteration of it runs the call


@dataclass(eq=False)
class LoopOptimizer:
    """`opt = torch.optim.SGD([x], ...)` inside a loop: a fresh optimizer every iteration."""

    node: cst.Assign
    key: str
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    param_names: tuple[str, ...] | None  # `[x, y]`: the names it optimises, when written as a list of names


@dataclass(eq=False)
class Step:
    node: cst.Call
    optimizer: str  # `opt`, `self.optimizer`
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    path: tuple[tuple[int, int], ...] = ()


@dataclass(eq=False)
class ModelRoot:
    """The graph root made by calling a module (`D(fake)`, `model.forward(x)`): GL013 asks which module's
    parameters autograd saved for a later backward (an optimizer step between the call and that backward
    modifies them in place)."""

    module: str  # the dotted callee: `D`, `self.discriminator`
    seq: int
    fn: FunctionInfo | None
    path: tuple[tuple[int, int], ...]
    saves_weights: bool  # False for a single `nn.Linear`/`nn.Conv*`/`nn.Embedding` fed no grad-requiring input
    req_in: bool = False  # an argument requires grad (then every layer saves its weight for the input's gradient)
    cls: str | None = None  # the module's class, when it is a class of the file


@dataclass(eq=False)
class DataWrite:
    """An in-place write through `.data` (`X.data.mul_(...)`, `X.data *= c`, `X.data[i] = v`,
    `X.data = X.data - ...`): GL003 asks whether it falls between a forward pass that saved `X` and its
    backward (silently wrong gradients)."""

    node: cst.Attribute  # the `X.data` attribute
    key: str  # `X`: `model.fc.weight`, `w`, `p`
    param_of: str | None  # `model` for `p` bound by `for p in model.parameters()`
    watermark: int  # graph roots below it were made before the write
    seq: int
    fn: FunctionInfo | None
    path: tuple[tuple[int, int], ...]


@dataclass(eq=False)
class Reset:
    node: cst.CSTNode
    receiver: str  # the zero_grad receiver (`opt`, `model`), "" for `p.grad = None` and helpers
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]


@dataclass(eq=False)
class LoopCall:
    name: str
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]


@dataclass(eq=False)
class Accumulation:
    stmt: cst.CSTNode  # the reported statement (AugAssign / Assign / the append call)
    key: str  # the accumulator (`total_loss`, `self.losses`, `history` for history["loss"].append)
    piece: cst.BaseExpression  # the graph-carrying value added
    op: str  # "+=", "= +", "append", "cat"
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    mode: Mode


@dataclass(eq=False)
class Binding:
    """An assignment that re-creates `key` (not an accumulation of it), or a clear of a list."""

    key: str
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    unconditional_in: LoopInfo | None  # the innermost loop whose every iteration runs it, if that is loops[-1]
    number_literal: bool  # `total = 0` / `0.0`
    node: cst.CSTNode | None = None


@dataclass(eq=False)
class Carried:
    stmt: cst.CSTNode  # the assignment
    keys: tuple[str, ...]  # the carried names
    cid: int  # the root id standing for the previous iteration's graph
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    mode: Mode


@dataclass
class _FnState:
    taint: dict[str, frozenset[int]] = field(default_factory=dict)
    # key -> the expressions its value was computed from (their keys are read only when a rule asks:
    # derived_closure: scanning every right-hand side during the walk was one of its largest costs)
    derived: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    derived_keys: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    returned_src: list[cst.CSTNode] = field(default_factory=list)  # returned / yielded expressions

    @property
    def returned(self) -> set[str]:
        """Keys mentioned in what the function returns or yields."""
        keys: set[str] = set()
        for src in self.returned_src:
            keys |= _keys_in(src)
        return keys


# Every backward-like call (`.backward()`, `torch.autograd.backward/grad`) spells one of these: GL013's prefilter.
GRAPH_REUSE_WORDS = ("backward", "autograd")


class TrainingFacts(Extension):
    name = "training"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.backwards: list[Backward] = []
        self.steps: list[Step] = []
        self.resets: list[Reset] = []
        self.loop_calls: list[LoopCall] = []
        self.accumulations: list[Accumulation] = []
        self.bindings: list[Binding] = []
        self.carried: list[Carried] = []
        self.model_roots: dict[int, ModelRoot] = {}  # root id -> the module call that made it
        self.data_writes: dict[int, DataWrite] = {}  # id(`X.data` node) -> the write
        # op root -> the names whose values that op saved for its backward (`x * x` saves `x`)
        self.saved_inputs: dict[int, frozenset[str]] = {}
        self._param_loop: dict[tuple[int, str], str] = {}  # (id(fn) or 0, loop name) -> the module it ranges over
        self.jumps: dict[int, int] = {}  # block frame id -> the first `continue`/`break`/`return`/`raise` in it
        self._graph_reuse_possible = builder.mentions(*GRAPH_REUSE_WORDS)
        self.optimizers: set[str] = set()  # names bound to torch.optim.<Optimizer>(...)
        self.loop_optimizers: list[LoopOptimizer] = []  # optimizers constructed inside a loop
        self.schedulers: set[str] = set()
        self.exits: set[int] = set()  # id(loop) of loops with a break/return inside
        self.loop_start_root: dict[int, int] = {}
        self.fn_state: dict[int, _FnState] = {}  # id(fn) or 0 -> state
        self._states: list[_FnState] = [_FnState()]
        self.fn_state[0] = self._states[0]
        self._next_root = 1
        self._ctl: list[object] = []  # LoopInfo, "cond", or "fn" markers
        self._frames: list[list[int]] = []  # block frames: [frame id, statement counter]
        self._frame_id = 0
        self._elifs: set[int] = set()
        self._stmt: cst.CSTNode | None = None
        self._override: dict[str, frozenset[int]] | None = None
        self.model = None

    def finish(self, model) -> None:
        self.model = model

    # ------------------------------------------------------------------ helpers

    @property
    def _st(self) -> _FnState:
        return self._states[-1]

    def _new_root(self) -> int:
        self._next_root += 1
        return self._next_root

    def _loops(self) -> tuple[LoopInfo, ...]:
        return tuple(self.b.enclosing_loops)

    def _recording(self) -> bool:
        return self.b.mode in (Mode.ENABLED, Mode.INHERITED)

    def _path(self) -> tuple[tuple[int, int], ...]:
        return tuple((f[0], f[1]) for f in self._frames)

    def _unconditional_loop(self) -> LoopInfo | None:
        """The innermost loop, if the current statement runs on every one of its iterations."""
        for item in reversed(self._ctl):
            if isinstance(item, LoopInfo):
                return item
            return None  # a condition / handler / function boundary comes first
        return None

    def _key(self, expr: cst.BaseExpression) -> str | None:
        return dotted(expr)

    def _lookup(self, key: str) -> frozenset[int] | None:
        if self._override is not None and key in self._override:
            return self._override[key]
        return self._st.taint.get(key)

    # ------------------------------------------------------------------ graph provenance

    def roots(self, expr: cst.BaseExpression | None) -> frozenset[int]:
        if expr is None:
            return EMPTY
        return self._r(expr)[0]

    def _op(self, parts: list[tuple[frozenset[int], bool]]) -> tuple[frozenset[int], bool]:
        """An op over `parts`: a new graph node when any part requires grad and grad mode records."""
        if not self._recording():
            return EMPTY, False
        if any(req for _, req in parts):
            out: set[int] = set()
            for r, _ in parts:
                out |= r
            out.add(self._new_root())
            return frozenset(out), True
        return EMPTY, False

    def _r(self, e: cst.BaseExpression) -> tuple[frozenset[int], bool]:
        if type(e) in (cst.Name, cst.Attribute):
            key = self._key(e)
            if key is not None:
                found = self._lookup(key)
                if found:
                    return found, True
                if found is not None:
                    return EMPTY, self.b.classify(e).kind is Kind.LEAF
            if type(e) is cst.Attribute:
                if e.attr.value in NON_GRAPH_ATTRS:
                    return EMPTY, False
                base = self._r(e.value)
                if base[0]:
                    return base
            v = self.b.classify(e)
            if v.kind is Kind.LEAF:
                return EMPTY, True
            if v.kind is Kind.NONLEAF and self._recording():
                return frozenset({self._new_root()}), True
            return EMPTY, False
        if type(e) is cst.Subscript:
            return self._r(e.value)
        if type(e) is cst.BinaryOperation:
            left, right = self._r(e.left), self._r(e.right)
            out = self._op([left, right])
            if out[0] and type(e.operator) in _SAVING_OPERATORS:
                self._saves(_SAVING_OPERATORS[type(e.operator)], (e.left, left[1]), (e.right, right[1]))
            return out
        if type(e) is cst.UnaryOperation:
            if type(e.operator) is cst.Not:
                return EMPTY, False
            return self._op([self._r(e.expression)])
        if type(e) is cst.IfExp:
            a, b = self._r(e.body), self._r(e.orelse)
            return a[0] | b[0], a[1] or b[1]
        if type(e) in (cst.List, cst.Tuple, cst.Set):
            return self._union([el.value for el in e.elements])
        if type(e) is cst.Dict:
            return self._union([el.value for el in e.elements if type(el) is cst.DictElement])
        if type(e) in (cst.ListComp, cst.GeneratorExp):
            return self._union([e.elt, e.for_in.iter])
        if type(e) is cst.Call:
            return self._r_call(e)
        return EMPTY, False

    def _saves(self, how: str, a: tuple[cst.BaseExpression, bool], b: tuple[cst.BaseExpression, bool] | None) -> None:
        """Record which operands of the op just made (root `self._next_root`) autograd saved for its backward.
        It saves an operand only when a gradient needs it: for `a * b` (`matmul`, `linear`, `conv`), `a` when
        `b` requires grad and `b` when `a` does; for `a / b`, `a` when `b` requires grad and `b` when either
        does; for `a ** b`, `a` when either does (checked on torch 2.13: `c * x` with a plain `c` keeps no `x`)."""
        if not self._graph_reuse_possible:
            return
        (ea, ra), (eb, rb) = a, (b if b is not None else (None, False))
        if how == "mul":
            saved = [(ea, rb), (eb, ra)]
        elif how == "div":
            saved = [(ea, rb), (eb, ra or rb)]
        else:  # pow
            saved = [(ea, ra or rb), (eb, rb)]
        keys = frozenset(k for x, cond in saved if cond and x is not None and type(x) in (cst.Name, cst.Attribute)
                         and (k := dotted(x)))
        if keys:
            self.saved_inputs[self._next_root] = keys

    def _union(self, exprs: list[cst.BaseExpression]) -> tuple[frozenset[int], bool]:
        out: frozenset[int] = EMPTY
        req = False
        for x in exprs:
            r, q = self._r(x)
            out |= r
            req = req or q
        return out, req

    def _args(self, call: cst.Call) -> list[tuple[frozenset[int], bool]]:
        return [self._r(a.value) for a in call.args]

    def _r_call(self, call: cst.Call) -> tuple[frozenset[int], bool]:
        func = call.func
        q = self.b.imports.resolve(func)
        if q is not None:
            if q == "torch.autograd.grad":
                cg = _kwarg(call, "create_graph")
                if cg is not None and _const_bool(cg.value):
                    return self._op(self._args(call))
                return EMPTY, False
            head, _, last = q.rpartition(".")
            if head == "torch" and last in TORCH_FACTORIES:
                rg = _kwarg(call, "requires_grad")
                return EMPTY, bool(rg is not None and _const_bool(rg.value))
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return EMPTY, True
            if q.startswith("torch.") and not q.startswith("torch.optim") and "." not in q[6:] or q.startswith(
                ("torch.nn.functional.", "torch.linalg.", "torch.fft.", "torch.special.")
            ):
                if last in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_tensor",
                            "numel", "manual_seed", "is_grad_enabled", "device", "dtype", "Size"):
                    return EMPTY, False
                args = self._args(call)
                out = self._op(args)
                how = _SAVING_FUNCS.get(last)
                if out[0] and how is not None and len(args) >= 1 and all(a.keyword is None for a in call.args[:2]):
                    self._saves(how, (call.args[0].value, args[0][1]),
                                (call.args[1].value, args[1][1]) if len(args) > 1 else None)
                return out
            if not q.startswith("torch."):
                root = q.split(".", 1)[0]
                if root in ("numpy", "np", "math", "statistics", "random", "builtins", "json", "os"):
                    return EMPTY, False
        if type(func) is cst.Name:
            name = func.value
            if name in NON_GRAPH_BUILTINS:
                return EMPTY, False
            if name in GRAPH_BUILTINS:
                return self._op(self._args(call))
        if type(func) is cst.Attribute:
            method = func.attr.value
            if method in NON_GRAPH_METHODS:
                return EMPTY, False
            recv = self._r(func.value)
            if recv[0] or recv[1]:
                args = self._args(call)
                out = self._op([recv, *args])
                how = _SAVING_FUNCS.get(method)
                if out[0] and how is not None and (not call.args or call.args[0].keyword is None):
                    self._saves(how, (func.value, recv[1]), (call.args[0].value, args[0][1]) if args else None)
                return out
            if method == "forward" and self.b.classify(func.value).kind in (Kind.MODULE, Kind.SELF):
                return self._model_output(call, func.value)
        fv = self.b.classify(func)
        if fv.kind is Kind.MODULE:
            d = dotted(func) or ""
            if "Loss" in fv.origin or LOSS_NAME.fullmatch(d.rsplit(".", 1)[-1]):
                return self._op(self._args(call))  # a loss module: a graph when its inputs carry one
            if q is not None and q.startswith("torch."):
                return self._op(self._args(call))  # an nn.<Module> constructed inline
            return self._model_output(call, func)
        if fv.kind is Kind.SELF:
            cls = self.b.scope_class()
            if cls is not None and cls.is_module:
                return self._model_output(call, func)
        d = dotted(func)
        if d is not None and LOSS_NAME.fullmatch(d.rsplit(".", 1)[-1]):
            return self._op(self._args(call))  # `criterion(out, y)`, `compute_loss(out, y)`
        return EMPTY, False

    def _model_output(self, call: cst.Call, module: cst.BaseExpression | None = None) -> tuple[frozenset[int], bool]:
        if not self._recording() or not call.args:
            return EMPTY, False
        out: set[int] = set()
        req_in = False
        for r, q in self._args(call):
            out |= r
            req_in = req_in or q
        root = self._new_root()
        out.add(root)
        key = dotted(module) if module is not None else None
        if key is not None and self._graph_reuse_possible:
            mv = self.b.classify(module)
            single = bool(_WEIGHT_FOR_INPUT_LAYERS.match(mv.origin))
            self.model_roots[root] = ModelRoot(key, self.b.next_seq(), self.b.function, self._path(),
                                               req_in or not single, req_in, mv.cls)
        return frozenset(out), True

    # ------------------------------------------------------------------ structure

    def visit_Module(self, node: cst.Module) -> None:
        self._push_frame()

    def leave_Module(self, node: cst.Module) -> None:
        self._frames.pop()

    def _push_frame(self) -> None:
        self._frame_id += 1
        self._frames.append([self._frame_id, 0])

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._push_frame()

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._frames.pop()

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._push_frame()

    def leave_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._frames.pop()

    def _count(self) -> None:
        if self._frames:
            self._frames[-1][1] += 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._count()
        self._stmt = node

    def visit_If(self, node: cst.If) -> None:
        if id(node) not in self._elifs:
            self._count()
        if type(node.orelse) is cst.If:
            self._elifs.add(id(node.orelse))
        self._ctl.append("cond")

    def leave_If(self, node: cst.If) -> None:
        self._ctl.pop()

    def visit_With(self, node: cst.With) -> None:
        self._count()

    def visit_Try(self, node: cst.Try) -> None:
        self._count()

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._ctl.append("cond")

    def leave_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._ctl.pop()

    def visit_Match(self, node) -> None:
        self._count()
        self._ctl.append("cond")

    def leave_Match(self, node) -> None:
        self._ctl.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._count()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._count()
        self._ctl.append("fn")
        st = _FnState()
        self._states.append(st)
        fn = self.b.function
        if fn is not None:
            self.fn_state[id(fn)] = st

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._ctl.pop()
        self._states.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._ctl.append("cond")

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._ctl.pop()

    def visit_For(self, node: cst.For) -> None:
        self._count()
        loop = self.b.loop
        # the target: elements of a graph-carrying container carry its graph
        r = self.roots(node.iter)
        it = node.iter
        if (type(it) is cst.Call and type(it.func) is cst.Attribute
                and it.func.attr.value in ("parameters", "named_parameters") and (owner := dotted(it.func.value))):
            tgt = node.target
            if it.func.attr.value == "named_parameters" and type(tgt) is cst.Tuple and len(tgt.elements) == 2:
                tgt = tgt.elements[1].value
            if type(tgt) is cst.Name:
                fn = self.b.function
                self._param_loop[(id(fn) if fn is not None else 0, tgt.value)] = owner
        for key in _target_keys(node.target):
            self._st.taint[key] = r
            self.bindings.append(Binding(key, self.b.next_seq(), self.b.function, self._loops(), loop, False))
        if loop is not None:
            self.loop_start_root[id(loop)] = self._next_root + 1
            self._ctl.append(loop)

    def leave_For(self, node: cst.For) -> None:
        if self._ctl and isinstance(self._ctl[-1], LoopInfo):
            self._ctl.pop()

    def visit_While(self, node: cst.While) -> None:
        self._count()
        loop = self.b.loop
        if loop is not None:
            self.loop_start_root[id(loop)] = self._next_root + 1
            self._ctl.append(loop)

    def leave_While(self, node: cst.While) -> None:
        if self._ctl and isinstance(self._ctl[-1], LoopInfo):
            self._ctl.pop()

    def _jump(self) -> None:
        if self._frames:
            self.jumps.setdefault(self._frames[-1][0], self._frames[-1][1])

    def visit_Continue(self, node: cst.Continue) -> None:
        self._jump()

    def visit_Raise(self, node: cst.Raise) -> None:
        self._jump()

    def visit_Break(self, node: cst.Break) -> None:
        self._jump()
        loop = self.b.loop
        if loop is not None:
            self.exits.add(id(loop))

    def visit_Return(self, node: cst.Return) -> None:
        self._jump()
        for loop in self.b.enclosing_loops:
            self.exits.add(id(loop))
        if node.value is not None:
            self._st.returned_src.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self._st.returned_src.append(node.value)

    # ------------------------------------------------------------------ statements

    def leave_Assign(self, node: cst.Assign) -> None:
        targets = [t.target for t in node.targets]
        rhs = node.value
        fn, loops = self.b.function, self._loops()
        # optimizers / schedulers by constructor
        q = self.b.imports.resolve(rhs.func) if type(rhs) is cst.Call else None
        if q is not None and q.startswith("torch.optim."):
            for t in targets:
                k = self._key(t)
                if k:
                    (self.schedulers if ".lr_scheduler." in q or q.startswith("torch.optim.swa_utils") else self.optimizers).add(k)
                    if ".lr_scheduler." not in q and loops:
                        pos = [a for a in rhs.args if a.keyword is None and not a.star]
                        first = pos[0].value if pos else None
                        names = tuple(e.value.value for e in first.elements if type(e.value) is cst.Name) if (
                            type(first) in (cst.List, cst.Tuple) and all(type(e.value) is cst.Name for e in first.elements)
                        ) else None
                        self.loop_optimizers.append(LoopOptimizer(node, k, self.b.next_seq(), fn, loops, names))
        # resets: p.grad = ...
        for t in targets:
            if type(t) is cst.Attribute and t.attr.value == "grad":
                self.resets.append(Reset(node, "", self.b.next_seq(), fn, loops))
        for t in targets:
            self._data_write(t)
        keys = [k for t in targets for k in _target_keys(t)]
        # accumulation: acc = acc + piece / acc = torch.cat([acc, piece])
        if len(targets) == 1 and (k := self._key(targets[0])) is not None:
            piece = _accumulated_piece(rhs, k, self.b)
            if piece is not None:
                pr = self.roots(piece[0])
                cur = (self._st.taint.get(k) or EMPTY) | pr
                if pr:
                    self.accumulations.append(
                        Accumulation(node, k, piece[0], piece[1], self.b.next_seq(), fn, loops, self.b.mode))
                    if loops:
                        cid = self._new_root()
                        cur = cur | {cid}
                        self.carried.append(Carried(node, (k,), cid, self.b.next_seq(), fn, loops, self.b.mode))
                self._st.taint[k] = cur
                self._st.derived.setdefault(k, []).append(rhs)
                return
        # carried state: h = f(..., h, ...) with a graph built on the previous iteration's h
        r, _ = self._r(rhs)
        if r and type(rhs) is cst.Call and self._next_root in r and self._graph_reuse_possible:
            name = rhs.func.attr.value if type(rhs.func) is cst.Attribute else (
                rhs.func.value if type(rhs.func) is cst.Name else "")
            if name in _SAVES_RESULT and keys:
                # `gate = torch.sigmoid(z)`: the op saved its own result, now bound to these names
                self.saved_inputs[self._next_root] = self.saved_inputs.get(self._next_root, frozenset()) | set(keys)
        carried = False
        pairwise = (len(targets) == 1 and type(targets[0]) in (cst.Tuple, cst.List)
                    and type(rhs) in (cst.Tuple, cst.List) and len(targets[0].elements) == len(rhs.elements))
        # a Carried fact matters only to GL013, which needs a backward pass (GRAPH_REUSE_WORDS); the pairwise
        # form also binds by it, so it is always worked out there
        if loops and keys and r and (self._graph_reuse_possible or pairwise):
            sentinel = -1
            self._override = {k: (self._st.taint.get(k) or EMPTY) | {sentinel} for k in keys}
            try:
                rs, _ = self._r(rhs)
            finally:
                self._override = None
            if sentinel in rs:
                carried = True
                cid = self._new_root()
                r = r | {cid}
                self.carried.append(Carried(node, tuple(keys), cid, self.b.next_seq(), fn, loops, self.b.mode))
        unc = self._unconditional_loop()
        lit = type(rhs) in (cst.Integer, cst.Float) or (
            type(rhs) is cst.Call and type(rhs.func) is cst.Name and rhs.func.value == "float")
        if pairwise:
            for te, re_ in zip(targets[0].elements, rhs.elements):
                for k in _target_keys(te.value):
                    self._bind(k, r if carried else self.roots(re_.value), fn, loops, unc, False, re_.value, node)
            return
        for t in targets:
            if type(t) is cst.Subscript:
                base = self._key(t.value)
                if base is not None:
                    self._st.taint[base] = (self._st.taint.get(base) or EMPTY) | r
                continue
            for k in _target_keys(t):
                self._bind(k, r, fn, loops, unc, lit, rhs, node)

    def _data_write(self, expr: cst.BaseExpression) -> None:
        """`X.data` / `X.data[...]` written in place: record it (only files with a backward pass can need it)."""
        while type(expr) is cst.Subscript:
            expr = expr.value
        if type(expr) is not cst.Attribute or expr.attr.value != "data" or not self._graph_reuse_possible:
            return
        key = dotted(expr.value)
        if key is None:
            return
        fn = self.b.function
        self.data_writes[id(expr)] = DataWrite(
            expr, key, self._param_loop.get((id(fn) if fn is not None else 0, key.split(".", 1)[0])),
            self._next_root + 1, self.b.next_seq(), fn, self._path())

    def _bind(self, key, roots, fn, loops, unc, lit, source: cst.CSTNode, node=None) -> None:
        self._st.taint[key] = roots
        self._st.derived.setdefault(key, []).append(source)
        self.bindings.append(Binding(key, self.b.next_seq(), fn, loops, unc, lit, node))

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is None:
            return
        k = self._key(node.target)
        if k is None:
            return
        lit = type(node.value) in (cst.Integer, cst.Float)
        self._bind(k, self.roots(node.value), self.b.function, self._loops(), self._unconditional_loop(), lit,
                   node.value)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        target = node.target
        self._data_write(target)
        key = self._key(target.value if type(target) is cst.Subscript else target)
        if key is None:
            return
        if type(target) is cst.Attribute and target.attr.value == "grad":
            self.resets.append(Reset(node, "", self.b.next_seq(), self.b.function, self._loops()))
            return
        pr, _ = self._r(node.value)
        if type(node.operator) in (cst.AddAssign, cst.SubtractAssign) and pr:
            op = "+=" if type(node.operator) is cst.AddAssign else "-="
            self.accumulations.append(Accumulation(node, key, node.value, op, self.b.next_seq(), self.b.function,
                                                   self._loops(), self.b.mode))
        cur = self._st.taint.get(key) or EMPTY
        if pr and self._recording():
            cur = cur | pr | {self._new_root()}
            if self._loops() and type(target) is not cst.Subscript:
                cid = self._new_root()
                cur = cur | {cid}
                self.carried.append(Carried(node, (key,), cid, self.b.next_seq(), self.b.function, self._loops(),
                                            self.b.mode))
        self._st.taint[key] = cur
        self._st.derived.setdefault(key, []).append(node.value)

    def visit_Del(self, node: cst.Del) -> None:
        target = node.target
        if type(target) is cst.Subscript:
            k = self._key(target.value)
            if k is not None and is_full_slice(target):
                self.bindings.append(Binding(k, self.b.next_seq(), self.b.function, self._loops(),
                                             self._unconditional_loop(), False))
            return
        if type(target) is cst.Attribute and target.attr.value == "grad":
            self.resets.append(Reset(node, "", self.b.next_seq(), self.b.function, self._loops()))
        for k in _target_keys(target):
            self._st.taint.pop(k, None)

    # ------------------------------------------------------------------ calls

    def leave_Call(self, node: cst.Call) -> None:
        func = node.func
        fn, loops = self.b.function, self._loops()
        q = self.b.imports.resolve(func)
        if q in ("torch.autograd.backward", "torch.autograd.grad"):
            pos = _positional(node)
            target = pos[0].value if pos else (a.value if (a := (_kwarg(node, "tensors") or _kwarg(node, "outputs"))) else None)
            self._record_backward(node, target, "grad" if q.endswith(".grad") else "backward")
            return
        if type(func) in (cst.Name, cst.Attribute):
            fname = func.value if type(func) is cst.Name else func.attr.value
            if DETACH_HELPER.search(fname) and fname != "detach":
                # detach_hidden(h) / repackage_hidden(h) / h.detach_(): cuts what it is given
                cut = [a.value for a in node.args]
                if type(func) is cst.Attribute and fname == "detach_":
                    cut = [func.value]
                for expr in cut:
                    for k in _target_keys(expr):
                        self.bindings.append(Binding(k, self.b.next_seq(), fn, loops, self._unconditional_loop(),
                                                     False, node))
        if type(func) is cst.Name:
            if RESET_NAME.search(func.value):
                self.resets.append(Reset(node, "", self.b.next_seq(), fn, loops))
            elif loops:
                self.loop_calls.append(LoopCall(func.value, self.b.next_seq(), fn, loops))
            return
        if type(func) is not cst.Attribute:
            return
        method = func.attr.value
        recv = func.value
        if is_inplace_method(method) and method not in ("requires_grad_", "detach_", "retain_grad", "share_memory_"):
            self._data_write(recv)
        if method in ("backward", "manual_backward"):
            rr = self._r(recv)
            pos = _positional(node)
            if method == "manual_backward" or (not (rr[0] or rr[1]) and pos and BACKWARD_WRAPPER.fullmatch(
                    (dotted(recv) or "").rsplit(".", 1)[-1])):
                target = pos[0].value if pos else None  # accelerator.backward(loss)
            elif type(recv) is cst.Call and type(recv.func) is cst.Attribute and recv.func.attr.value == "scale" \
                    and _positional(recv):
                target = _positional(recv)[0].value  # scaler.scale(loss).backward()
            else:
                target = recv
            self._record_backward(node, target, "backward")
            return
        if RESET_NAME.search(method):
            self.resets.append(Reset(node, dotted(recv) or "", self.b.next_seq(), fn, loops))
            return
        if method in ("zero_", "fill_", "mul_", "detach_", "requires_grad_") and _is_grad_attr(recv):
            if method != "requires_grad_" and method != "detach_":
                self.resets.append(Reset(node, "", self.b.next_seq(), fn, loops))
            return
        if method == "step":
            opt = self._optimizer_of_step(node, recv)
            if opt is not None:
                self.steps.append(Step(node, opt, self.b.next_seq(), fn, loops, self._path()))
            return
        if method in ("append", "extend", "add_", "insert") and node.args:
            key = self._key(recv.value if type(recv) is cst.Subscript else recv)
            if key is None:
                return
            piece = node.args[-1].value
            pr, _ = self._r(piece)
            if pr:
                self.accumulations.append(Accumulation(node, key, piece, method, self.b.next_seq(), fn, loops,
                                                       self.b.mode))
                self._st.taint[key] = (self._st.taint.get(key) or EMPTY) | pr
            self._st.derived.setdefault(key, []).append(piece)
            return
        if method == "clear" and not node.args:
            key = self._key(recv)
            if key is not None:
                self.bindings.append(Binding(key, self.b.next_seq(), fn, loops, self._unconditional_loop(), False))
                self._st.taint[key] = EMPTY
            return
        if loops and type(recv) is cst.Name and recv.value == "self":
            self.loop_calls.append(LoopCall(method, self.b.next_seq(), fn, loops))

    def _optimizer_of_step(self, node: cst.Call, recv: cst.BaseExpression) -> str | None:
        pos = _positional(node)
        if not node.args:
            d = dotted(recv)
            if d is None or d in self.schedulers:
                return None
            last = d.rsplit(".", 1)[-1]
            if d in self.optimizers or (OPT_NAME.fullmatch(last) and "sched" not in last.lower()):
                if self.b.classify(recv).kind is Kind.MODULE:
                    return None
                return d
            return None
        if len(node.args) == 1 and pos and "scaler" in (dotted(recv) or "").lower():
            d = dotted(pos[0].value)  # scaler.step(optimizer)
            if d is not None and (d in self.optimizers or OPT_NAME.fullmatch(d.rsplit(".", 1)[-1])):
                return d
        return None

    def _record_backward(self, node: cst.Call, target: cst.BaseExpression | None, kind: str) -> None:
        rg = _kwarg(node, "retain_graph") or _kwarg(node, "retain_variables")  # (its pre-0.4 name)
        cg = _kwarg(node, "create_graph")
        create = cg is not None and _const_bool(cg.value) is True
        retain_true = rg is not None and _const_bool(rg.value) is True
        if rg is not None:
            frees = _const_bool(rg.value) is False
        else:
            frees = cg is None or _const_bool(cg.value) is False
        if kind == "backward" and target is not None and len(_positional(node)) >= 3:
            frees = False  # positional retain_graph: do not guess
        roots = self.roots(target) if target is not None else EMPTY
        keys = frozenset(_keys_in(target)) if target is not None else frozenset()
        self.backwards.append(Backward(
            node=node, stmt=self._stmt, kind=kind, target=target, keys=keys, roots=roots, frees=frees,
            retain_true=retain_true, create_graph=create, seq=self.b.next_seq(), fn=self.b.function,
            loops=self._loops(), mode=self.b.mode, path=self._path(), unconditional_in=self._unconditional_loop(),
        ))

    # ------------------------------------------------------------------ queries for the rules

    def may_precede(self, pa: tuple[tuple[int, int], ...], sa: int, pb: tuple[tuple[int, int], ...], sb: int) -> bool:
        """Can the statement at path `pa` (sequence point `sa`) run before the one at `pb` (`sb`) in one pass
        through their function: `a` earlier, not in a branch exclusive with `b`'s (`if`/`else`, `try`/`except`),
        and not in a block that leaves with `continue`/`break`/`return`/`raise` after it?"""
        if sa >= sb:
            return False
        for i, ((fa, ca), (fb, cb)) in enumerate(zip(pa, pb)):
            if fa != fb:
                return False  # sibling blocks of one compound statement
            if ca != cb:
                if ca > cb:
                    return False
                # `a` in a block nested in the statement at counter ca: does that block jump away after `a`?
                return not any(self.jumps.get(f, -1) >= c for f, c in pa[i + 1:])
        return True

    def state(self, fn: FunctionInfo | None) -> _FnState:
        return self.fn_state.get(id(fn) if fn is not None else 0) or _FnState()

    def derived_closure(self, fn: FunctionInfo | None, key: str) -> set[str]:
        """Keys whose value was computed (directly or transitively) from `key` in fn."""
        st = self.state(fn)
        out = {key}
        changed = True
        while changed:
            changed = False
            for k in st.derived:
                if k not in out and self._derived_keys(st, k) & out:
                    out.add(k)
                    changed = True
        return out


    @staticmethod
    def _derived_keys(st: _FnState, key: str) -> set[str]:
        srcs = st.derived[key]
        memo = st.derived_keys.get(key)
        if memo is None or memo[0] != len(srcs):
            keys: set[str] = set()
            for src in srcs:
                keys |= _keys_in(src)
            memo = st.derived_keys[key] = (len(srcs), keys)
        return memo[1]


def dominates(a: Backward, b: Backward) -> bool:
    """Does backward `a` run before `b` whenever `b` runs (a statement before b's, in a block enclosing b)?"""
    pa, pb = a.path, b.path
    k = len(pa)
    if k == 0 or len(pb) < k or pa[: k - 1] != pb[: k - 1] or pa[k - 1][0] != pb[k - 1][0]:
        return False
    if pb[k - 1][1] > pa[k - 1][1]:
        return True
    return pb[k - 1][1] == pa[k - 1][1] and len(pb) == k and b.seq > a.seq


def _target_keys(target: cst.BaseExpression) -> list[str]:
    if type(target) in (cst.Tuple, cst.List):
        out: list[str] = []
        for el in target.elements:
            out += _target_keys(el.value)
        return out
    if type(target) is cst.StarredElement:
        return _target_keys(target.value)
    d = dotted(target)
    return [d] if d is not None and type(target) in (cst.Name, cst.Attribute) else []


def _keys_in(expr: cst.CSTNode) -> set[str]:
    """Names and dotted names (`self.total`) mentioned in expr."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) in (cst.Name, cst.Attribute):
            d = dotted(node)
            if d is not None:
                found.add(d)
                parts = d.split(".")
                for i in range(1, len(parts)):
                    found.add(".".join(parts[:i]))
                continue
        if type(node) in (cst.Lambda, cst.FunctionDef):
            continue
        stack.extend(child_nodes(node))  # not `node.children`: LibCST runs a whole visitor for it
    return found


def _is_grad_attr(expr: cst.BaseExpression) -> bool:
    """`p.grad` or `p.grad.data`."""
    if type(expr) is cst.Attribute and expr.attr.value == "data":
        expr = expr.value
    return type(expr) is cst.Attribute and expr.attr.value == "grad"


def _accumulated_piece(rhs: cst.BaseExpression, key: str, b) -> tuple[cst.BaseExpression, str] | None:
    """`acc + piece` / `piece + acc` / `acc + a + b` (the rest) or `torch.cat([acc, piece])`."""
    if type(rhs) is cst.BinaryOperation and type(rhs.operator) is cst.Add:
        terms: list[cst.BaseExpression] = []
        expr: cst.BaseExpression = rhs
        while type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Add:
            terms.append(expr.right)
            expr = expr.left
        terms.append(expr)
        terms.reverse()
        own = [t for t in terms if dotted(t) == key]
        if len(own) == 1:
            rest = [t for t in terms if t is not own[0]]
            if len(rest) == 1:
                return rest[0], "= +"
            return rhs, "= +"
        return None
    if type(rhs) is cst.Call:
        q = b.imports.resolve(rhs.func)
        if q in ("torch.cat", "torch.concat", "torch.concatenate", "torch.stack", "torch.vstack", "torch.hstack"):
            pos = _positional(rhs)
            if pos and type(pos[0].value) in (cst.List, cst.Tuple):
                els = [e.value for e in pos[0].value.elements]
                if any(dotted(e) == key for e in els):
                    rest = [e for e in els if dotted(e) != key]
                    if len(rest) == 1:
                        return rest[0], "cat"
    return None
