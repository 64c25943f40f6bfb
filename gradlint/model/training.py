"""Training facts, recorded once in the builder's walk, and the one definition of a training loop.

Facts (`TrainingRecorder`, driven by `ModelBuilder`; read them as `model.training`):

- `Optimizer`: a `torch.optim.<Optimizer>(...)` construction — the name or attribute it is bound to
  (`opt`, `self.optimizer`), what its `params` argument holds (a `Value` from the model's evaluator), the
  modules whose `.parameters()` it captured (`receivers`, also through names bound to them), its param
  groups when written as a literal list of dicts, the loops it is built in;
- `Step`: `X.step()` with no argument on something that is not a module, and `scaler.step(opt)`; the
  optimizer it steps (`optimizer`: by construction or by name, None for a trainer or an unknown object),
  the `Optimizer` bound to that name (`ctor`), whether it is a learning-rate scheduler's step;
- `BackwardCall`: `t.backward()`, `accelerator.backward(loss)`, `scaler.scale(loss).backward()`,
  `self.manual_backward(loss)`, `torch.autograd.backward(...)`, `torch.autograd.grad(...)` (kind "grad"),
  with the tensor they differentiate (`target`);
- `Reset`: a gradient reset — `opt.zero_grad()`, `model.zero_grad()`, `p.grad = None` / `= g`,
  `p.grad.zero_()`, `del p.grad`, a function called `zero_grad(...)` / `reset_grads(...)`;
- `LoopBinding`: a name or attribute (re)bound inside a loop (`model = Net()` rebuilds the model).

`FunctionInfo.has_step` / `has_backward` and `LoopInfo.has_step` / `has_backward` are set from these facts
(a scheduler's `step()` is not a training step).

Queries (`TrainingQueries`, part of `SemanticModel`):

- `loop_trains(loop)`: THE definition of a training loop — its body runs backward or an optimizer step,
  itself, through a function of this file it calls (the call graph), or through an imported project
  function whose summary says it trains (`ExtCallee.trains`); `training_loops()`, `trains(fn)`,
  `innermost_training_loop(fn, seq)`, `in_training_loop(loop)`;
- `resets_gradients(loop)`: the loop resets gradients, itself or through a function of this file it calls;
- `trained_models()` / `is_trained(receiver)`: models this file trains (`X.train()`, an optimizer over
  `X.parameters()`), `restores_train_mode(loop, receiver)`, `eval_switches(fn)`, `sets_train(fn)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.facts import FunctionInfo, LocalCall, LoopInfo, ModeSwitch, StepCall
from gradlint.model.names import dotted
from gradlint.model.values import Kind, Value
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
_END = 1 << 62


@dataclass(eq=False)
class Optimizer:
    node: cst.Call  # the construction
    qname: str  # "torch.optim.SGD"
    var: str | None  # the name / attribute it is bound to: `opt`, `self.optimizer`
    params: Value  # what its `params` argument holds (the model's evaluator)
    receivers: frozenset[str]  # X of every `X.parameters()` it captured (`model`, `self.net`)
    param_names: tuple[str, ...] | None  # `SGD([x, y])`: the names it optimises, when a list of names
    groups: int | None  # `SGD([{"params": ...}, {...}])`: the number of param groups written out
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]  # the enclosing loops of its function: a fresh optimizer every iteration


@dataclass(eq=False)
class Step:
    node: cst.Call
    receiver: str  # dotted receiver of `.step()` (`opt`, `self.optimizer`, `scaler`), "" if not a name chain
    optimizer: str | None  # the optimizer stepped (`opt`; `optimizer` for `scaler.step(optimizer)`), if known
    ctor: Optimizer | None  # the construction bound to `optimizer` last before the step (same function first)
    scheduler: bool  # a learning-rate scheduler's step: not a training step
    seq: int
    function: FunctionInfo | None
    loops: tuple[LoopInfo, ...]


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


def parameters_owners(node: cst.CSTNode) -> set[str]:
    """Owners X of every `X.parameters()` / `X.named_parameters()` call in node."""
    owners: set[str] = set()
    for call in calls_in(node):
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in ("parameters", "named_parameters"):
            d = dotted(func.value)
            if d:
                owners.add(d)
    return owners


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


class _BlockOf(Walker):
    """Find the block (and its statement) that holds `target`, walking only one loop's subtree."""

    def __init__(self, target: cst.CSTNode) -> None:
        self.target = target
        self.stack: list[list] = []
        self.found: tuple[cst.CSTNode, cst.CSTNode] | None = None

    def walk(self, node: cst.CSTNode) -> None:
        if self.found is not None:
            return
        if node is self.target:
            if self.stack and self.stack[-1][1] is not None:
                self.found = (self.stack[-1][0], self.stack[-1][1])
            return
        if type(node) in (cst.IndentedBlock, cst.SimpleStatementSuite):
            self.stack.append([node, None])
            for stmt in node.body:
                self.stack[-1][1] = stmt
                self.walk(stmt)
                if self.found is not None:
                    return
            self.stack.pop()
            return
        super().walk(node)


def _ends_loop_after(loop: LoopInfo, call: cst.CSTNode) -> bool:
    """Is `call` followed, in its own block inside `loop`, by `break` / `return` / `raise`?
    (A local walk over the loop only; used for candidate findings.)"""
    finder = _BlockOf(call)
    finder.walk(loop.node)
    if finder.found is None:
        return False
    block, stmt = finder.found
    after = False
    for s in block.body:
        if s is stmt:
            after = True
        if after:
            smalls = s.body if type(s) is cst.SimpleStatementLine else [s] if isinstance(s, cst.BaseSmallStatement) else []
            if any(type(x) in (cst.Break, cst.Return, cst.Raise) for x in smalls):
                return True
    return False


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

    def _fkey(self) -> int:
        fn = self.b.function
        return id(fn) if fn is not None else 0

    def _loops(self) -> tuple[LoopInfo, ...]:
        return tuple(self.b.enclosing_loops)

    # ------------------------------------------------------------------ statements

    def assign(self, node: cst.Assign) -> None:
        value = node.value
        in_loop = self.b.loop is not None
        for t in node.targets:
            target = t.target
            if type(target) is cst.Attribute and target.attr.value == "grad":
                self._reset(node, "")
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

    def aug_assign(self, node: cst.AugAssign) -> None:
        target = node.target
        if type(target) is cst.Attribute and target.attr.value == "grad":
            self._reset(node, "")  # `p.grad += g`: gradients written by hand

    def delete(self, node: cst.Del) -> None:
        if type(node.target) is cst.Attribute and node.target.attr.value == "grad":
            self._reset(node, "")

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
            self._reset(node, "")  # p.grad.zero_()
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

    def _reset(self, node: cst.CSTNode, receiver: str) -> None:
        self.resets.append(Reset(node, receiver, self.b.next_seq(), self.b.function, self._loops()))

    def _step(self, node: cst.Call, recv: cst.BaseExpression) -> None:
        d = dotted(recv)
        optimizer: str | None = None
        if not node.args:
            rv = self.b.classify(recv)
            # every `X.step()`: it may reach the `step` of an optimizer-like class of the file (its grad mode)
            self.b.step_calls.append(StepCall(node, self.b._seq, self.b._mode, self.b.function, rv,
                                              type(recv) is cst.Attribute))
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
        fn = self.b.function
        loops = self._loops()
        fact = Step(node, d or "", optimizer, self._ctor_of(optimizer, fn), scheduler, self.b.next_seq(), fn, loops)
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
        fact = Optimizer(node, q, var, params, frozenset(receivers), names, groups, self.b.next_seq(),
                         self.b.function, self._loops())
        self.optimizers.append(fact)
        if var is not None:
            self._opt_vars.setdefault(var, []).append(fact)


class TrainingQueries:
    """The training-loop queries of `SemanticModel` (mixed in; uses its call graph and switches)."""

    training: TrainingRecorder

    def _tcache(self) -> dict:
        found = self.__dict__.get("_training_cache")
        if found is None:
            found = self._training_cache = {}
        return found

    @property
    def optimizers(self) -> list[Optimizer]:
        return self.training.optimizers

    @property
    def steps(self) -> list[Step]:
        """Optimizer steps (a scheduler's `step()` is recorded with `scheduler=True`; see `Step`)."""
        return self.training.steps

    @property
    def backwards(self) -> list[BackwardCall]:
        return self.training.backwards

    @property
    def resets(self) -> list[Reset]:
        return self.training.resets

    # ------------------------------------------------------------------ what runs inside a loop

    @staticmethod
    def inside(seq: int, fn: FunctionInfo | None, loop: LoopInfo) -> bool:
        """Is sequence point `seq` of `fn` inside `loop`?"""
        return fn is loop.function and loop.seq < seq <= loop.end_seq

    def calls_in(self, loop: LoopInfo) -> list[LocalCall]:
        """The calls in `loop`'s body that may reach a function of this file."""
        return [c for c in self.calls_from(loop.function) if loop.seq < c.seq <= loop.end_seq]  # type: ignore[attr-defined]

    def trains(self, fn: FunctionInfo) -> bool:
        """Does `fn` (or a function it calls, of this file or imported from the project) run backward or an
        optimizer step?"""
        cache = self._tcache()
        key = ("fn", id(fn))
        if key not in cache:
            cache[key] = self.reaches(  # type: ignore[attr-defined]
                fn, lambda f: f.has_step or f.has_backward or self.calls_training_import(f))
        return cache[key]

    def calls_training_import(self, fn: FunctionInfo | None, start: int = -1, end: int = _END) -> bool:
        """Does `fn`'s own body (between sequence points `start` and `end`) call an imported project
        function that trains?"""
        if not self.external.callees:  # type: ignore[attr-defined]
            return False
        for icall in self.imported_calls_from(fn):  # type: ignore[attr-defined]
            if start < icall.seq <= end:
                ext = self.external.callees.get(icall.target)  # type: ignore[attr-defined]
                if ext is not None and ext.trains:
                    return True
        return False

    def loop_trains(self, loop: LoopInfo) -> bool:
        """A training loop: its body runs backward or an optimizer step — itself, through a function of this
        file it calls, or through an imported project function that trains."""
        cache = self._tcache()
        key = ("loop", id(loop))
        if key not in cache:
            cache[key] = loop.has_step or loop.has_backward or any(
                self.trains(callee) for call in self.calls_in(loop)
                for callee in self.functions_named(call.name)  # type: ignore[attr-defined]
            ) or self.calls_training_import(loop.function, loop.seq, loop.end_seq)
        return cache[key]

    def loop_updates(self, loop: LoopInfo) -> bool:
        """Does `loop`'s body change parameters — an optimizer step (itself, or through a function of this file
        at any depth), an in-place update of a leaf or through `.data`, or a call of an imported project
        function that trains? A loop that runs backward only to read gradients (saliency, Grad-CAM, attacks)
        does not."""
        cache = self._tcache()
        key = ("updates", id(loop))
        if key not in cache:
            fn = loop.function
            cache[key] = loop.has_step or any(
                op.function is fn and loop.seq < op.seq <= loop.end_seq and (
                    op.value.kind is Kind.LEAF
                    or (type(op.target) is cst.Attribute and op.target.attr.value == "data"))
                for op in self.inplace_ops  # type: ignore[attr-defined]
            ) or any(
                self.reaches(callee, lambda f: f.has_step or self._updates_in(f)  # type: ignore[attr-defined]
                             or self.calls_training_import(f))
                for call in self.calls_in(loop) for callee in self.functions_named(call.name)  # type: ignore[attr-defined]
            ) or self.calls_training_import(fn, loop.seq, loop.end_seq)
        return cache[key]

    def _updates_in(self, fn: FunctionInfo) -> bool:
        return any(op.function is fn and (op.value.kind is Kind.LEAF or (
            type(op.target) is cst.Attribute and op.target.attr.value == "data"))
            for op in self.inplace_ops)  # type: ignore[attr-defined]

    def training_loops(self) -> list[LoopInfo]:
        return [lp for lp in self.loops if self.loop_trains(lp)]  # type: ignore[attr-defined]

    def innermost_training_loop(self, fn: FunctionInfo | None, seq: int) -> LoopInfo | None:
        """The innermost training loop of `fn` (None: the top level) around sequence point `seq`."""
        found = None
        for lp in self.loops_of(fn):
            if lp.seq < seq <= lp.end_seq and self.loop_trains(lp) and (found is None or lp.seq > found.seq):
                found = lp
        return found

    def loops_of(self, fn: FunctionInfo | None) -> list[LoopInfo]:
        """The loops of `fn`'s own body (None: the top level)."""
        cache = self._tcache()
        by_fn = cache.get("loops_of")
        if by_fn is None:
            by_fn = cache["loops_of"] = {}
            for lp in self.loops:  # type: ignore[attr-defined]
                by_fn.setdefault(id(lp.function), []).append(lp)
        return by_fn.get(id(fn), [])

    def in_training_loop(self, loop: LoopInfo) -> bool:
        """Is `loop` nested in a training loop of its function?"""
        parent = loop.parent
        while parent is not None:
            if self.loop_trains(parent):
                return True
            parent = parent.parent
        return False

    def resets_gradients(self, loop: LoopInfo, receiver: str | None = None) -> bool:
        """Does `loop` reset gradients — itself (of `receiver`, a model, or `p.grad`, when `receiver` is
        given: a reset of another optimizer stepped in the loop does not count), or through a function
        of this file it calls (at any depth)?"""
        fn = loop.function
        stepped = {s.optimizer for s in self.steps if s.function is fn and loop in s.loops and s.optimizer}
        for r in self.resets:
            if r.function is fn and loop in r.loops and (
                    receiver is None or r.receiver not in stepped or r.receiver == receiver):
                return True
        cache = self._tcache()
        resetting = cache.get("resetting")
        if resetting is None:
            resetting = cache["resetting"] = {id(r.function) for r in self.resets}
        return any(self.reaches(f, lambda g: id(g) in resetting, depth=64)  # type: ignore[attr-defined]
                   for call in self.calls_in(loop) for f in self.functions_named(call.name))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ models trained, train/eval mode

    def trained_models(self) -> set[str]:
        """Receivers this file trains: switched to train mode (`X.train()`, `X.train(flag)`) or optimised
        (an optimizer over `X.parameters()`)."""
        cache = self._tcache()
        found = cache.get("trained")
        if found is None:
            found = {s.receiver for s in self.switches if s.kind in ("train", "restore") and s.receiver}  # type: ignore[attr-defined]
            for opt in self.optimizers:
                found |= opt.receivers
            cache["trained"] = found
            cache["trained_last"] = {r.rsplit(".", 1)[-1] for r in found}
        return found

    def is_trained(self, receiver: str) -> bool:
        """Is `receiver` a model this file trains (by its text or its last name: `self.model` / `model`)?"""
        if not receiver:
            return False
        trained = self.trained_models()
        return receiver in trained or receiver.rsplit(".", 1)[-1] in self._tcache()["trained_last"]

    def _switches_in(self, fn: FunctionInfo | None) -> list[ModeSwitch]:
        return self._switches_of.get(id(fn), [])  # type: ignore[attr-defined]

    def sets_train(self, fn: FunctionInfo) -> bool:
        """Does `fn` (or a function it calls) switch a model to train mode (`train()`, `train(flag)`)?"""
        return self.reaches(fn, lambda f: any(s.kind in ("train", "restore") for s in self._switches_in(f)))  # type: ignore[attr-defined]

    def restores_train_mode(self, loop: LoopInfo, receiver: str) -> bool:
        """Does something in `loop` put `receiver` back in train mode: a `train()` switch, a call of a
        function that switches to train mode (of this file or imported), or a rebinding of the model?"""
        fn = loop.function
        if any(sw.kind in ("train", "restore") and self.inside(sw.seq, sw.function, loop)
               for sw in self._switches_in(fn)):
            return True
        if any(self.sets_train(callee) for call in self.calls_in(loop) for callee in self.functions_named(call.name)):  # type: ignore[attr-defined]
            return True
        for icall in self.imported_calls_from(fn):  # type: ignore[attr-defined]
            ext = self.external_callee(icall)  # type: ignore[attr-defined]
            if ext is not None and ext.effect is False and self.inside(icall.seq, icall.function, loop):
                return True
        return any(self.inside(b.seq, b.function, loop) and (receiver == b.key or receiver.startswith(b.key + "."))
                   for b in self.training.loop_bindings)  # the model is rebuilt inside the loop

    @staticmethod
    def ends_loop_after(loop: LoopInfo, node: cst.CSTNode) -> bool:
        """Is `node` followed, in its own block inside `loop`, by `break` / `return` / `raise` (the loop ends
        there)? A walk over the loop's subtree only; for candidate findings."""
        return _ends_loop_after(loop, node)

    def eval_switches(self, fn: FunctionInfo, _depth: int = 0, _seen: set[int] | None = None) -> list[ModeSwitch]:
        """The `eval()` switches `fn` (or a function it calls) leaves in place: none when it also switches
        back to train mode; not those inside its own training loops."""
        seen = _seen if _seen is not None else set()
        if id(fn) in seen or _depth > 3:
            return []
        seen.add(id(fn))
        if self.sets_train(fn):
            return []
        out = [s for s in self._switches_in(fn) if s.kind == "eval" and not any(self.loop_trains(lp) for lp in s.loops)]
        for callee in self.callees(fn):  # type: ignore[attr-defined]
            out += self.eval_switches(callee, _depth + 1, seen)
        return out
