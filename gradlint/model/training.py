"""Training facts, recorded once in the builder's walk, and the one definition of a training loop.

Facts (`TrainingRecorder`, driven by `ModelBuilder`; read them as `model.training`):

- `Optimizer`: a `torch.optim.<Optimizer>(...)` construction — the name or attribute it is bound to
  (`opt`, `self.optimizer`), what its `params` argument holds (a `Value` from the model's evaluator), the
  modules whose `.parameters()` it captured (`receivers`, also through names bound to them), its param
  groups when written as a literal list of dicts, the loops it is built in;
- `Optimizer`'s `tensors`: each tensor it is handed by name (`SGD([w, b])`, a group's `"params": [w]`,
  `params = [w, b]` before `SGD(params)`) with its provenance there (GL008's non-leaf parameters);
- `Step`: `X.step()` with no argument on something that is not a module, and `scaler.step(opt)`: what `X`
  holds (`value`, maybe deferred on a parameter: the `step()` of an optimizer-like class of the file runs in
  the grad mode of the steps that may reach it), the grad mode there; the optimizer it steps (`optimizer`:
  by construction or by name, None for a trainer or an unknown object), the `Optimizer` bound to that name
  (`ctor`), whether it is a learning-rate scheduler's step;
- `BackwardCall`: `t.backward()`, `accelerator.backward(loss)`, `scaler.scale(loss).backward()`,
  `self.manual_backward(loss)`, `torch.autograd.backward(...)`, `torch.autograd.grad(...)` (kind "grad"),
  with the tensor they differentiate (`target`);
- `Reset`: a gradient reset — `opt.zero_grad()`, `model.zero_grad()`, `p.grad = None` / `= g`,
  `p.grad.zero_()`, `del p.grad`, a function called `zero_grad(...)` / `reset_grads(...)`; for a `p.grad`
  reset in `for p in X.parameters()`, the model `X` whose parameters it resets (`params_of`). Each reset, and
  each `Step`, is marked for the loop joins (`model.loop_joins.runs_every_iteration`): a step by its call, the
  resets by one marker per receiver and one for all (`reset_marker(fn, receiver)`: `if a: opt.zero_grad()
  else: opt.zero_grad(set_to_none=True)` resets on every path);
- `LoopBinding`: a name or attribute (re)bound inside a loop (`model = Net()` rebuilds the model).

`FunctionInfo.has_step` / `has_backward` and `LoopInfo.has_step` / `has_backward` are set from these facts
(a scheduler's `step()` is not a training step).

Queries: `gradlint.model.training_queries.TrainingQueries` (part of `SemanticModel`; the definition of a
training loop is there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.facts import FunctionInfo, LoopInfo, Mode
from gradlint.model.names import dotted, target_names
from gradlint.model.values import Kind, Prov, Value
from gradlint.model.walk import Walker

if TYPE_CHECKING:
    from gradlint.model.builder import ModelBuilder

OPT_NAME = re.compile(r"\w*optim\w*|(\w*_)?opts?(_\w*)?|opt[a-z]|opt\d+|\w*_opt", re.IGNORECASE)
RESET_NAME = re.compile(r"zero_grad|(reset|clear|zero)_?grads?", re.IGNORECASE)
BACKWARD_WRAPPER = re.compile(r"\w*(accelerator|fabric|engine|deepspeed|ds|amp|trainer|model_engine)\w*",
                              re.IGNORECASE)
_OPTIMIZER = re.compile(r"torch\.optim\.(?:([a-z_]+)\.)?([A-Z]\w*)")
_NOT_OPTIMIZER_MODULES = frozenset({"lr_scheduler", "swa_utils"})
_NOT_OPTIMIZERS = frozenset({"Optimizer"})
_ITERABLE_WRAPPERS = frozenset({"list", "tuple", "filter", "sorted", "set", "iter", "chain"})
_GRAD_WRITES = frozenset({"zero_", "fill_", "mul_"})


@dataclass(eq=False)
class Optimizer:
    node: cst.Call  # the construction
    qname: str  # "torch.optim.SGD"
    var: str | None  # the name / attribute it is bound to: `opt`, `self.optimizer`
    params: Value  # what its `params` argument holds (the model's evaluator)
    receivers: frozenset[str]  # X of every `X.parameters()` it captured (`model`, `self.net`)
    param_names: tuple[str, ...] | None  # `SGD([x, y])`: the names it optimises, when a list of names
    groups: int | None  # `SGD([{"params": ...}, {...}])`: the number of param groups written out
    # each tensor handed by name (a list literal, a group's `"params"`, a name bound to a list literal of
    # names): its dotted text (None if not a name chain) and its provenance at the construction
    tensors: tuple[tuple[str | None, Prov], ...]
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]  # the enclosing loops of its function: a fresh optimizer every iteration


@dataclass(eq=False)
class Step:
    """`X.step()` without arguments on something that is not a module (an optimizer, a trainer, a scheduler,
    an optimizer-like object of the file), or `scaler.step(opt)`."""

    node: cst.Call
    receiver: str  # dotted receiver of `.step()` (`opt`, `self.optimizer`, `scaler`), "" if not a name chain
    value: Value  # what the receiver holds there (maybe deferred on a function's parameter)
    optimizer: str | None  # the optimizer stepped (`opt`; `optimizer` for `scaler.step(optimizer)`), if known
    ctor: Optimizer | None  # the construction bound to `optimizer` last before the step (same function first)
    scheduler: bool  # a learning-rate scheduler's step: not a training step
    mode: Mode  # the grad mode where it is (INHERITED: its function's)
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]

    @property
    def direct(self) -> bool:
        """`X.step()` itself (not `scaler.step(opt)`)."""
        return not self.node.args

    @property
    def on_attribute(self) -> bool:
        """The receiver is an attribute (`self.optim.step()`)."""
        return type(self.node.func) is cst.Attribute and type(self.node.func.value) is cst.Attribute


@dataclass(eq=False)
class BackwardCall:
    node: cst.Call
    kind: str  # "backward" (`.backward()`, `torch.autograd.backward`) or "grad" (`torch.autograd.grad`)
    target: cst.BaseExpression | None  # the tensor differentiated (`loss` in `scaler.scale(loss).backward()`)
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]


@dataclass(eq=False)
class Reset:
    node: cst.CSTNode
    receiver: str  # the zero_grad receiver (`opt`, `model`), "" for `p.grad = None` and helpers
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]
    params_of: str = ""  # `for p in X.parameters(): p.grad = None`: X (the model whose gradients it resets)


@dataclass(eq=False)
class LoopBinding:
    key: str  # `model`, `self.net`, `model.fc`
    seq: int
    function: FunctionInfo | None


def _positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None and not a.star]


def _kwarg(call: cst.Call, name: str) -> cst.Arg | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def _is_grad_attr(expr: cst.BaseExpression) -> bool:
    """`p.grad` or `p.grad.data`."""
    if type(expr) is cst.Attribute and expr.attr.value == "data":
        expr = expr.value
    return type(expr) is cst.Attribute and expr.attr.value == "grad"


class _Calls(Walker):
    def __init__(self) -> None:
        self.out: list[cst.Call] = []

    def visit_Call(self, n: cst.Call) -> None:
        self.out.append(n)


def calls_in(node: cst.CSTNode) -> list[cst.Call]:
    v = _Calls()
    v.walk(node)
    return v.out


def parameters_owner(expr: cst.CSTNode) -> str | None:
    """X, when expr is the call `X.parameters()` / `X.named_parameters()` (X a name or dotted attribute)."""
    if type(expr) is not cst.Call:
        return None
    func = expr.func
    if type(func) is cst.Attribute and func.attr.value in ("parameters", "named_parameters"):
        return dotted(func.value)
    return None


def parameters_owners(node: cst.CSTNode) -> set[str]:
    """Owners X of every `X.parameters()` / `X.named_parameters()` call in node."""
    return {d for call in calls_in(node) if (d := parameters_owner(call))}


def may_hold_parameters(value: cst.BaseExpression, imports=None) -> bool:
    """Could this value be (a filtered list of) parameters / param groups? (Cheap, syntactic; `imports`
    resolves an alias such as `from itertools import chain as ichain`.)"""
    if type(value) in (cst.ListComp, cst.GeneratorExp, cst.List, cst.Tuple):
        return True
    if type(value) is cst.Call:
        func = value.func
        if type(func) is cst.Name:
            return func.value in _ITERABLE_WRAPPERS or (
                imports is not None and imports.resolve(func) == "itertools.chain")
        if type(func) is cst.Attribute:
            return func.attr.value in ("parameters", "named_parameters", "chain")
    return False


class _Names(Walker):
    def __init__(self) -> None:
        self.out: set[str] = set()

    def visit_Name(self, n: cst.Name) -> None:
        self.out.add(n.value)

    def visit_Attribute(self, n: cst.Attribute) -> bool:
        self.walk(n.value)
        return False


def names_in(expr: cst.CSTNode) -> set[str]:
    """Names read in expr (not attribute names)."""
    if type(expr) is cst.Name:
        return {expr.value}
    v = _Names()
    v.walk(expr)
    return v.out


class TrainingRecorder:
    """Records the training facts during the builder's walk (the builder calls `call`, `assign`,
    `aug_assign`, `delete`; it has already classified what it needs)."""

    def __init__(self, builder: "ModelBuilder") -> None:
        self.b = builder
        self.optimizers: list[Optimizer] = []
        self.steps: list[Step] = []
        self.backwards: list[BackwardCall] = []
        self.resets: list[Reset] = []
        self.loop_bindings: list[LoopBinding] = []
        self.schedulers: set[str] = set()  # names bound to torch.optim.lr_scheduler.<X>(...) / swa_utils
        self.backward_at: dict[int, BackwardCall] = {}  # id(call node) -> its fact
        self.step_at: dict[int, Step] = {}
        self._opt_vars: dict[str, list[Optimizer]] = {}  # bound name -> its constructions, in order
        self._assign_target: dict[int, str] = {}  # id(rhs call) -> the dotted target it is assigned to
        self._param_names: dict[tuple[int, str], set[str]] = {}  # (id(fn) or 0, name) -> owners of .parameters()
        self._params_possible = builder.mentions("parameters")
        self._lists: dict[tuple[int, str], list] = {}  # (scope uid, name): `params = [w, b]`, its elements
        self._reset_markers: dict[tuple[int, str | None], object] = {}  # (id(fn) or 0, receiver) -> its marker

    def _fkey(self) -> int:
        fn = self.b.function
        return id(fn) if fn is not None else 0

    def _loops(self) -> tuple[LoopInfo, ...]:
        return tuple(self.b.enclosing_loops)

    # ------------------------------------------------------------------ statements

    def assign(self, node: cst.Assign) -> None:
        value = node.value
        in_loop = self.b.loop is not None
        if self._lists or type(value) in (cst.List, cst.Tuple):
            self._list_binding(node)
        for t in node.targets:
            target = t.target
            if type(target) is cst.Attribute and target.attr.value == "grad":
                self._reset(node, "", target.value)
            d = dotted(target) if type(target) in (cst.Name, cst.Attribute) else None
            if type(value) is cst.Call and d is not None:
                self._assign_target[id(value)] = d
            if in_loop and d is not None:
                self.loop_bindings.append(LoopBinding(d, self.b.next_seq(), self.b.function))
            if type(target) is cst.Name and self._params_possible:
                pkey = (self._fkey(), target.value)
                owners = parameters_owners(value) if may_hold_parameters(value, self.b.imports) else set()
                if owners:
                    self._param_names[pkey] = owners
                else:
                    self._param_names.pop(pkey, None)

    def _list_binding(self, node: cst.Assign) -> None:
        """`params = [w, b]` (a list literal of names and attributes), for a later `SGD(params)`."""
        uid = self.b._scope.uid
        value = node.value
        if len(node.targets) == 1 and type(value) in (cst.List, cst.Tuple):
            key = dotted(node.targets[0].target)
            if key is not None:
                elems = [e.value for e in value.elements if type(e) is cst.Element and type(e.value) in (cst.Name, cst.Attribute)]
                if len(elems) == len(value.elements):
                    self._lists[(uid, key)] = elems
                else:
                    self._lists.pop((uid, key), None)
                return
        for t in node.targets:
            key = dotted(t.target)
            if key is not None:
                self._lists.pop((uid, key), None)

    def aug_assign(self, node: cst.AugAssign) -> None:
        target = node.target
        if type(target) is cst.Attribute and target.attr.value == "grad":
            self._reset(node, "", target.value)  # `p.grad += g`: gradients written by hand

    def delete(self, node: cst.Del) -> None:
        if type(node.target) is cst.Attribute and node.target.attr.value == "grad":
            self._reset(node, "", node.target.value)

    # ------------------------------------------------------------------ calls

    def call(self, node: cst.Call, q: str | None) -> None:
        func = node.func
        if q is not None:
            if q in ("torch.autograd.backward", "torch.autograd.grad"):
                pos = _positional(node)
                arg = pos[0] if pos else (_kwarg(node, "tensors") or _kwarg(node, "outputs"))
                self._backward(node, arg.value if arg is not None else None,
                               "grad" if q.endswith(".grad") else "backward")
                return
            if q.startswith("torch.optim."):
                self._construction(node, q)
                return
        if type(func) is cst.Name:
            if "grad" in func.value and RESET_NAME.search(func.value):
                self._reset(node, "")
            return
        if type(func) is not cst.Attribute:
            return
        method = func.attr.value
        recv = func.value
        if method in ("backward", "manual_backward"):
            self._backward(node, self._backward_target(node, method, recv), "backward")
        elif "grad" in method and RESET_NAME.search(method):
            self._reset(node, dotted(recv) or "")
        elif method in _GRAD_WRITES and _is_grad_attr(recv):
            grad = recv.value if type(recv) is cst.Attribute and recv.attr.value == "data" else recv
            self._reset(node, "", grad.value)  # type: ignore[attr-defined]  # p.grad.zero_()
        elif method == "step":
            self._step(node, recv)

    def _backward_target(self, node: cst.Call, method: str, recv: cst.BaseExpression) -> cst.BaseExpression | None:
        pos = _positional(node)
        if method == "manual_backward":
            return pos[0].value if pos else None
        if pos and BACKWARD_WRAPPER.fullmatch((dotted(recv) or "").rsplit(".", 1)[-1]) \
                and not self.b.classify(recv).is_tensor:
            return pos[0].value  # accelerator.backward(loss)
        if type(recv) is cst.Call and type(recv.func) is cst.Attribute and recv.func.attr.value == "scale" \
                and _positional(recv):
            return _positional(recv)[0].value  # scaler.scale(loss).backward()
        return recv

    def _backward(self, node: cst.Call, target: cst.BaseExpression | None, kind: str) -> None:
        fn = self.b.function
        loops = self._loops()
        fact = BackwardCall(node, kind, target, self.b.next_seq(), fn, loops)
        self.backwards.append(fact)
        self.backward_at[id(node)] = fact
        if kind == "backward":  # (`torch.autograd.grad` is a use of gradients, marked by the builder)
            for where in (fn, *loops) if fn is not None else loops:
                where.has_backward = where.has_grad_use = True

    def _reset(self, node: cst.CSTNode, receiver: str, param: cst.BaseExpression | None = None) -> None:
        loops = self._loops()
        owner = self._params_of(param, loops) if param is not None and loops and self._params_possible else ""
        self.resets.append(Reset(node, receiver, self.b.next_seq(), self.b.function, loops, owner))
        for key in (receiver, None):
            self.b.mark_runs(self.reset_marker(self.b.function, key))  # type: ignore[arg-type]

    def reset_marker(self, fn: FunctionInfo | None, receiver: str | None = None) -> object:
        """The one marker the loop joins know the resets of `receiver` in `fn` by (every reset of `fn` when
        None), marked at each of them: `model.loop_joins.runs_every_iteration(loop, marker)` tells whether
        every iteration resets it."""
        key = (id(fn) if fn is not None else 0, receiver)
        found = self._reset_markers.get(key)
        if found is None:
            found = self._reset_markers[key] = object()
        return found

    def _params_of(self, param: cst.BaseExpression, loops: tuple[LoopInfo, ...]) -> str:
        """X, when `param` (of `param.grad`) is the target of an enclosing `for param in X.parameters()` (or
        `X.named_parameters()`, or a name bound to a list of them) of this function; "" if not known."""
        if type(param) is not cst.Name:
            return ""
        for lp in reversed(loops):
            node = lp.node
            if type(node) is cst.For and param.value in target_names(node.target):
                owner = parameters_owner(node.iter)
                if owner is None and type(node.iter) is cst.Name:
                    owners = self._param_names.get((self._fkey(), node.iter.value), set())
                    owner = next(iter(owners)) if len(owners) == 1 else None
                return owner or ""
        return ""

    def _step(self, node: cst.Call, recv: cst.BaseExpression) -> None:
        d = dotted(recv)
        optimizer: str | None = None
        if not node.args:
            rv = self.b.classify(recv)
            if rv.kind is Kind.MODULE:
                return  # a module's own `step()` method
            last = d.rsplit(".", 1)[-1] if d is not None else ""
            scheduler = d is not None and (d in self.schedulers or "sched" in last.lower())
            if d is not None and not scheduler and (d in self._opt_vars or OPT_NAME.fullmatch(last)):
                optimizer = d
        else:
            pos = _positional(node)
            if not (len(node.args) == 1 and pos and "scaler" in (d or "").lower()):
                return  # `env.step(action)`
            scheduler = False
            o = dotted(pos[0].value)  # scaler.step(optimizer)
            if o is None or not (o in self._opt_vars or OPT_NAME.fullmatch(o.rsplit(".", 1)[-1])):
                return
            optimizer = o
            rv = self.b.classify(recv)
        fn = self.b.function
        loops = self._loops()
        fact = Step(node, d or "", rv, optimizer, self._ctor_of(optimizer, fn), scheduler, self.b.mode,
                    self.b.next_seq(), fn, loops)
        self.b.mark_runs(node)  # (does every iteration of its loop step: `model.loop_joins`)
        self.steps.append(fact)
        self.step_at[id(node)] = fact
        if scheduler:
            return
        if fn is not None:
            fn.has_step = True
        for lp in loops:
            lp.has_step = True

    def _ctor_of(self, name: str | None, fn: FunctionInfo | None) -> Optimizer | None:
        """The construction bound to `name` last before here: in the same function, else anywhere earlier
        (`self.optimizer` built in `__init__`, `opt` at the top level)."""
        ctors = self._opt_vars.get(name or "", ())
        same = [c for c in ctors if c.function is fn]
        found = same or list(ctors)
        return found[-1] if found else None

    def _construction(self, node: cst.Call, q: str) -> None:
        var = self._assign_target.get(id(node))
        if ".lr_scheduler." in q or q.startswith("torch.optim.swa_utils"):
            if var is not None:
                self.schedulers.add(var)
            return
        m = _OPTIMIZER.fullmatch(q)
        if m is None or m.group(1) in _NOT_OPTIMIZER_MODULES or m.group(2) in _NOT_OPTIMIZERS:
            return
        arg = _kwarg(node, "params") or (_positional(node)[0] if _positional(node) else None)
        receivers: set[str] = set()
        names: tuple[str, ...] | None = None
        groups: int | None = None
        params = self.b.classify(arg.value) if arg is not None else Value(Kind.UNKNOWN)
        if arg is not None:
            value = arg.value
            if self._params_possible:
                receivers = parameters_owners(value)
                fkey = self._fkey()
                for name in names_in(value):
                    receivers |= self._param_names.get((fkey, name), set())
            if type(value) in (cst.List, cst.Tuple):
                els = [e.value for e in value.elements]
                if els and all(type(e) is cst.Name for e in els):
                    names = tuple(e.value for e in els)  # type: ignore[union-attr]
                elif els and all(type(e) is cst.Dict for e in els):
                    groups = len(els)
        tensors = tuple((dotted(e), self.b.prov(e)) for e in self._tensor_exprs(arg.value, 0)) if arg else ()
        fact = Optimizer(node, q, var, params, frozenset(receivers), names, groups, tensors, self.b.next_seq(),
                         self.b.function, self._loops())
        self.optimizers.append(fact)
        if var is not None:
            self._opt_vars.setdefault(var, []).append(fact)


    def _tensor_exprs(self, expr: cst.BaseExpression, depth: int) -> list[cst.BaseExpression]:
        """The names and attributes an optimizer's `params` hands it: the elements of a list literal, of each
        group's `"params"`, of the list literal of names a name was bound to in this scope."""
        out: list[cst.BaseExpression] = []
        if type(expr) in (cst.List, cst.Tuple):
            for el in expr.elements:
                v = el.value if type(el) is cst.Element else None
                if type(v) is cst.Dict and depth == 0:
                    for de in v.elements:
                        if type(de) is cst.DictElement and type(de.key) is cst.SimpleString \
                                and de.key.evaluated_value == "params":
                            out += self._tensor_exprs(de.value, 1) if type(de.value) in (cst.List, cst.Tuple) \
                                else [de.value]
                elif type(v) in (cst.Name, cst.Attribute):
                    out.append(v)  # type: ignore[arg-type]
        elif type(expr) in (cst.Name, cst.Attribute) and depth == 0:
            key = dotted(expr)
            out += self._lists.get((self.b._scope.uid, key), ()) if key else ()
        return out
