"""Graph provenance: which autograd graphs an expression's value carries (GL003, GL006, GL013).

The graph part of the one evaluator (`GraphEvaluator.roots(expr)`): a value carries a set of "root" ids, one
id per graph-building call or op visited (a model call, a loss call, an op on a tensor that requires grad).
Two values share a root when they share part of a graph; `.detach()`, `.item()`, `float()`, `.data`, and
anything computed under `no_grad`/`inference_mode`/`set_grad_enabled(<flag>)` carry none. Unknown calls
carry none (rules stay silent on what we do not know), except functions whose name says they compute a
loss (`criterion`, `loss_fn`, `compute_loss`). What an expression *is* (a leaf, a module, ...) comes from
the model's evaluator (`builder.classify`), and what a name's value carries from the one binding table
(`Bindings.roots_of`/`bind_roots`: the roots beside each binding, merged after branches and at loop
back-edges); this module decides only which ops make or pass on a graph, which operands they save, and the
graph facts' types.

The facts built on it (recorded by `gradlint.model.ext_training.TrainingFacts`): backward passes with the
roots they free (`Backward`; which calls are backward passes is decided once, in
`gradlint.model.training`), module calls as graph roots (`ModelRoot`), `.data` writes (`DataWrite`),
accumulations, bindings and carried loop state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from gradlint.model.builder import _const_bool, _kwarg, _positional
from gradlint.model.facts import M_ENABLED, M_INHERITED, FunctionInfo, LoopInfo, Mode
from gradlint.model.names import TORCH_FACTORIES, dotted
from gradlint.model.values import K_LEAF, K_MODULE, K_NONLEAF, K_SELF
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
# ops that save their operands for the backward pass (the gradient of one operand needs the other)
_SAVING_OPERATORS = {cst.Multiply: "mul", cst.MatrixMultiply: "mul", cst.Divide: "div", cst.Power: "pow"}
_SAVING_FUNCS = {**{f: "mul" for f in "mul multiply matmul mm bmm mv dot outer linear conv1d conv2d conv3d".split()},
                 "div": "div", "divide": "div", "true_divide": "div", "pow": "pow"}
# ops whose backward uses their own result (checked on torch 2.13: a write to the result changes the input's
# gradient; not `relu`, whose backward only reads the result's sign)
_SAVES_RESULT = frozenset("sigmoid tanh exp softmax log_softmax sqrt rsqrt".split())
# torch layers that save their weight only for the gradient of their input (none for `nn.Embedding`)
_WEIGHT_FOR_INPUT_LAYERS = re.compile(r"an? `nn\.(Linear|LazyLinear|Conv[123]d|ConvTranspose[123]d|Embedding|EmbeddingBag)`")


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
    # the innermost loop, when every iteration of it that goes on runs the call (the binding table's loop
    # joins: `model.loop_joins.runs_every_iteration`, filled in once the walk has left the loop)
    unconditional_in: LoopInfo | None = None


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
class Accumulation:
    stmt: cst.CSTNode  # the reported statement (AugAssign / Assign / the append call)
    key: str  # the accumulator (`total_loss`, `self.losses`, `history` for history["loss"].append)
    piece: cst.BaseExpression  # the graph-carrying value added
    op: str  # "+=", "= +", "append", "cat"
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    mode: Mode
    reach: object = None  # which bindings of `key` reach the statement (`bindings.Reach`): is it carried
    #                       across iterations — `model.loop_joins.crosses_iterations(loop, reach, stmt)`
    roots: frozenset[int] = EMPTY  # the graphs the added value carries


@dataclass(eq=False)
class Binding:
    """An assignment that re-creates `key` (not an accumulation of it), or a clear of a list. (Which loop
    iterations it re-creates `key` in is the binding table's: `model.loop_joins`.)"""

    key: str
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    number_literal: bool  # `total = 0` / `0.0`
    node: cst.CSTNode | None = None


@dataclass(eq=False)
class Carried:
    """`h = f(..., h, ...)` in a loop whose new value carries a graph built on the value of `h` it reads: a
    graph carried into the next iteration when that value is what the previous iteration left (asked of
    the binding table: `model.loop_joins.crosses_iterations(loop, reach, stmt)` for each of `reach`)."""

    stmt: cst.CSTNode  # the assignment
    keys: tuple[str, ...]  # the carried names
    cid: int  # the root id standing for the previous iteration's graph
    seq: int
    fn: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    mode: Mode
    reach: tuple = ()  # per key, the bindings that reach the statement (`bindings.Reach`)


# Every backward-like call (`.backward()`, `torch.autograd.backward/grad`) spells one of these: GL013's prefilter.
GRAPH_REUSE_WORDS = ("backward", "autograd")


class GraphEvaluator:
    """The graph-provenance evaluator, mixed into `TrainingFacts` (which holds the override used to detect
    carried state and the facts it records; names' graphs are the binding table's)."""

    b: "object"
    _override: dict[str, frozenset[int]] | None
    _next_root: int
    _graph_reuse_possible: bool
    saved_inputs: dict[int, frozenset[str]]
    model_roots: dict[int, "ModelRoot"]

    # ------------------------------------------------------------------ helpers

    def _new_root(self) -> int:
        self._next_root += 1
        return self._next_root

    def _loops(self) -> tuple[LoopInfo, ...]:
        return tuple(self.b.enclosing_loops)

    def _recording(self) -> bool:
        return self.b.mode in (M_ENABLED, M_INHERITED)

    def _path(self) -> tuple[tuple[int, int], ...]:
        return tuple((f[0], f[1]) for f in self._frames)

    def _key(self, expr: cst.BaseExpression) -> str | None:
        return dotted(expr)


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
            key = dotted(e)
            if key is not None:
                # the graphs the value bound to `key` carries: the override's, or the binding table's
                override = self._override
                found = override[key] if override is not None and key in override else self.b.roots_of(key)
                if found:
                    return found, True
                if found is not None:
                    return EMPTY, self.b.classify(e).kind is K_LEAF
            if type(e) is cst.Attribute:
                if e.attr.value in NON_GRAPH_ATTRS:
                    return EMPTY, False
                base = self._r(e.value)
                if base[0]:
                    return base
            v = self.b.classify(e)
            if v.kind is K_LEAF:
                return EMPTY, True
            if v.kind is K_NONLEAF and self._recording():
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
            if method != "forward" and method in self._method_names() and self._recording():
                fn = self._callee(func)  # `agent.update(x, y)`: a method of a class of the file
                if fn is not None:
                    return self._returned_graph(call) if fn.returns_graph else (EMPTY, False)
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
            if method == "forward" and self.b.classify(func.value).kind in (K_MODULE, K_SELF):
                return self._model_output(call, func.value)
        fv = self.b.classify(func)
        if fv.kind is K_MODULE:
            d = dotted(func) or ""
            if "Loss" in fv.origin or LOSS_NAME.fullmatch(d.rsplit(".", 1)[-1]):
                return self._op(self._args(call))  # a loss module: a graph when its inputs carry one
            if q is not None and q.startswith("torch."):
                return self._op(self._args(call))  # an nn.<Module> constructed inline
            return self._model_output(call, func)
        if fv.kind is K_SELF:
            cls = self.b.scope_class()
            if cls is not None and cls.is_module:
                return self._model_output(call, func)
        if type(func) is cst.Name and self._recording():
            fn = self.b.local_function(func.value)
            if fn is not None and fn.returns_graph:
                return self._returned_graph(call)  # (also `compute_loss(model, batch)` of the file)
        d = dotted(func)
        if d is not None and LOSS_NAME.fullmatch(d.rsplit(".", 1)[-1]):
            return self._op(self._args(call))  # `criterion(out, y)`, `compute_loss(out, y)`
        return EMPTY, False

    def _returned_graph(self, call: cst.Call) -> tuple[frozenset[int], bool]:
        """A call of a function of the file that returns a graph (`loss = compute(batch)` where `def
        compute(b): ... return criterion(model(x), y)`): each call makes a new one (and may pass on its
        arguments')."""
        out: frozenset[int] = EMPTY
        for r, _ in self._args(call):
            out |= r
        return out | {self._new_root()}, True

    def _method_names(self) -> frozenset[str]:
        """The names of the methods of the file's classes."""
        names = self.__dict__.get("_methods_of_file")
        if names is None:
            names = self.__dict__["_methods_of_file"] = frozenset().union(
                *(c.method_names for c in self.b.classes.values()))
        return names

    def _callee(self, func: cst.Attribute) -> FunctionInfo | None:
        """The method of a class of the file that `self.update(...)` / `agent.update(...)` (an instance of that
        class) reaches: the one method of that name, already walked."""
        found = self.b.methods_of(self.b.classify(func.value), func.attr.value)
        return found[0] if found is not None and len(found) == 1 else None

    def _model_output(self, call: cst.Call, module: cst.BaseExpression | None = None) -> tuple[frozenset[int], bool]:
        if not self._recording() or not call.args:
            return EMPTY, False
        out: set[int] = set()
        req_in = False
        for r, q in self._args(call):
            out |= r
            req_in = req_in or q
        if not req_in and module is not None and self.b.is_frozen(module):
            return frozenset(out), False  # a frozen model (`requires_grad_(False)`) of plain inputs: no graph
        root = self._new_root()
        out.add(root)
        key = dotted(module) if module is not None else None
        if key is not None and self._graph_reuse_possible:
            mv = self.b.classify(module)
            single = bool(_WEIGHT_FOR_INPUT_LAYERS.match(mv.origin))
            self.model_roots[root] = ModelRoot(key, self.b.next_seq(), self.b.function, self._path(),
                                               req_in or not single, req_in, mv.cls)
        return frozenset(out), True


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


def _scaled(term: cst.BaseExpression, key: str) -> bool:
    """`beta * acc`, `acc * 0.9`, `acc / 2`: the previous value of `acc` scaled by a factor without it."""
    if type(term) is not cst.BinaryOperation or type(term.operator) not in (cst.Multiply, cst.Divide):
        return False
    left, right = dotted(term.left) == key, dotted(term.right) == key
    if left == right or (right and type(term.operator) is cst.Divide):
        return False
    return key not in _keys_in(term.right if left else term.left)


def _accumulated_piece(rhs: cst.BaseExpression, key: str, b) -> tuple[cst.BaseExpression, str] | None:
    """`acc + piece` / `piece + acc` / `acc + a + b` (the rest), a running average `acc = 0.9 * acc + 0.1 *
    piece`, or `torch.cat([acc, piece])`."""
    if type(rhs) is cst.BinaryOperation and type(rhs.operator) is cst.Add:
        terms: list[cst.BaseExpression] = []
        expr: cst.BaseExpression = rhs
        while type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Add:
            terms.append(expr.right)
            expr = expr.left
        terms.append(expr)
        terms.reverse()
        own = [t for t in terms if dotted(t) == key or _scaled(t, key)]
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
