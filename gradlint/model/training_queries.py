"""The queries on the training facts (`gradlint.model.training`): the one definition of a training loop and
what runs inside it. `TrainingQueries` is mixed into `SemanticModel` (it uses its call graph and switches).

- `loop_trains(loop)`: THE definition of a training loop — its body runs backward or an optimizer step,
  itself, through a function of this file it calls (the call graph), or through an imported project
  function whose summary says it trains (`ExtCallee.trains`); `training_loops()`, `trains(fn)`,
  `innermost_training_loop(fn, seq)`, `in_training_loop(loop)`;
- `resets_gradients(loop, optimizer)`: the loop resets gradients, itself or through a function of this file it
  calls; `gradient_resets(loop, optimizer)` the loop's own resets of what `optimizer` steps (a model's
  `zero_grad()` resets only its own parameters), `conditional_resets(loop, optimizer)` those resets when none
  runs on every iteration (`if step % 5 == 0: optimizer.zero_grad()`);
- `trained_models()` / `is_trained(receiver)`: models this file trains (`X.train()`, an optimizer over
  `X.parameters()`, an in-place update from the gradients in a loop over `X.parameters()`),
  `restores_train_mode(loop, receiver)`, `eval_switches(fn)`, `sets_train(fn)`.
"""

from __future__ import annotations

import libcst as cst

from gradlint.model.facts import FunctionInfo, LocalCall, LoopInfo, ModeSwitch
from gradlint.model.names import target_names
from gradlint.model.record import _has_grad_term
from gradlint.model.training import (
    BackwardCall,
    Optimizer,
    Reset,
    Step,
    TrainingRecorder,
    parameters_owner,
)
from gradlint.model.values import Kind
from gradlint.model.walk import Walker

_END = 1 << 62


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
        # (an in-place op carries the sequence point it comes after: the first statement of a loop's body
        # comes after the loop's own point, so `loop.seq <= op.seq`)
        cache = self._tcache()
        key = ("updates", id(loop))
        if key not in cache:
            fn = loop.function
            cache[key] = loop.has_step or any(
                op.function is fn and loop.seq <= op.seq <= loop.end_seq and _updates(op)
                for op in self.inplace_ops  # type: ignore[attr-defined]
            ) or any(
                self.reaches(callee, lambda f: f.has_step or self._updates_in(f)  # type: ignore[attr-defined]
                             or self.calls_training_import(f))
                for call in self.calls_in(loop) for callee in self.functions_named(call.name)  # type: ignore[attr-defined]
            ) or self.calls_training_import(fn, loop.seq, loop.end_seq)
        return cache[key]

    def _updates_in(self, fn: FunctionInfo) -> bool:
        return any(op.function is fn and _updates(op) for op in self.inplace_ops)  # type: ignore[attr-defined]

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

    def gradient_resets(self, loop: LoopInfo, optimizer: str | None = None) -> list[Reset]:
        """The resets in `loop`'s body (inner loops included) that reset the gradients `optimizer` steps (any
        reset when None). Not another optimizer's `zero_grad()` stepped in the loop, nor a model-level reset
        (`netD.zero_grad()`, `for p in netD.parameters(): p.grad = None`) of a model whose parameters another
        optimizer stepped in the loop captured, when `optimizer`'s construction captured other models'
        (`optimizerG = Adam(netG.parameters())`): a model's `zero_grad()` resets only its own parameters. A
        reset whose owner is not known (a helper, an attribute no construction names, an optimizer built
        elsewhere) counts."""
        fn = loop.function
        mine = [r for r in self.resets if r.function is fn and loop in r.loops]
        if optimizer is None or not mine:
            return mine
        in_loop = [s for s in self.steps if s.function is fn and loop in s.loops and s.optimizer]
        stepped = {s.optimizer for s in in_loop}
        captured = {s.ctor.receivers for s in in_loop if s.optimizer == optimizer and s.ctor is not None}
        own = frozenset().union(*captured) if len(captured) == 1 else frozenset()  # (one known construction)
        others: set[str] = set()
        for s in in_loop:
            if s.optimizer != optimizer and s.ctor is not None:
                others |= s.ctor.receivers
        out = []
        for r in mine:
            if r.receiver == optimizer or not r.receiver and not r.params_of:
                out.append(r)
            elif r.receiver in stepped:
                continue  # another optimizer's reset
            elif not own or _owns(own, r.receiver or r.params_of) or not _owns(others, r.receiver or r.params_of):
                out.append(r)
        return out

    def resets_gradients(self, loop: LoopInfo, receiver: str | None = None) -> bool:
        """Does `loop` reset gradients — itself (of `receiver`, when given: `gradient_resets`), or through a
        function of this file it calls (at any depth)?"""
        return bool(self.gradient_resets(loop, receiver)) or self._helper_resets(loop)

    def _helper_resets(self, loop: LoopInfo) -> bool:
        """Does a call in `loop` reach a function of this file that resets gradients (at any depth)?"""
        cache = self._tcache()
        resetting = cache.get("resetting")
        if resetting is None:
            resetting = cache["resetting"] = {id(r.function) for r in self.resets}
        return any(self.reaches(f, lambda g: id(g) in resetting, depth=64)  # type: ignore[attr-defined]
                   for call in self.calls_in(loop) for f in self.functions_named(call.name))  # type: ignore[attr-defined]

    def conditional_resets(self, loop: LoopInfo, optimizer: str) -> list[Reset]:
        """The resets of `optimizer`'s gradients in `loop` (`gradient_resets`) when they run only on some
        iterations: each directly in `loop`'s body (not in an inner loop, which the joins cannot follow), the
        resets of no receiver on every path of an iteration that runs to the end of the body (`if step % 5 ==
        0: optimizer.zero_grad()`; those of one receiver taken together — `if a: ... else: ...` —, or all the
        loop's resets when each counts: `if a: opt.zero_grad() else: model.zero_grad()`), and no
        function of this file called in the loop resets. [] otherwise (also when there is no reset)."""
        found = self.gradient_resets(loop, optimizer)
        if not found or any(r.loops[-1] is not loop for r in found) or self._helper_resets(loop):
            return []
        joins, marker = self.loop_joins, self.training.reset_marker  # type: ignore[attr-defined]
        fn = loop.function
        if any(joins.runs_every_iteration(loop, marker(fn, receiver)) for receiver in {r.receiver for r in found}):
            return []
        if len(found) == len(self.gradient_resets(loop)) and joins.runs_every_iteration(loop, marker(fn)):
            return []  # all the loop's resets count, and together they run on every path
        return found

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
            found |= self._updated_in_place()
            cache["trained"] = found
            cache["trained_last"] = {r.rsplit(".", 1)[-1] for r in found}
        return found

    def _updated_in_place(self) -> set[str]:
        """Models whose parameters this file updates in place from their gradients, without an optimizer
        object: the `X` of `for p in X.parameters(): p -= lr * p.grad` (or `p.data.sub_(lr * p.grad.data)`,
        `for name, p in X.named_parameters()`). An update that reads no gradient (an EMA copy:
        `p.data.mul_(0.99)`) does not train."""
        found: set[str] = set()
        for op in self.inplace_ops:  # type: ignore[attr-defined]
            if not _updates(op) or not _has_grad_term(op.node):
                continue
            root = op.target
            if type(root) is cst.Attribute and root.attr.value == "data":
                root = root.value
            if type(root) is not cst.Name:
                continue
            for lp in self.loops_of(op.function):
                node = lp.node
                if type(node) is not cst.For or not lp.seq <= op.seq <= lp.end_seq \
                        or root.value not in target_names(node.target):
                    continue
                owner = parameters_owner(node.iter)
                if owner:
                    found.add(owner)
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

    def other_model(self, a: str, a_fn: FunctionInfo | None, b: str, b_fn: FunctionInfo | None) -> bool:
        """Are the receivers `a` (as `a_fn` spells it; None: the top level) and `b` (in `b_fn`) known to be
        different model objects (`G` and `D`, a student and its teacher)? False when unknown
        (`gradlint.model.same_model`)."""
        return self.model_objects().distinct(a, a_fn, b, b_fn)

    def model_objects(self):
        """What each receiver may hold (`gradlint.model.same_model.ModelObjects`), built once."""
        found = self.__dict__.get("_model_objects")
        if found is None:
            from gradlint.model.same_model import ModelObjects

            found = self._model_objects = ModelObjects(self)  # type: ignore[arg-type]
        return found

    def restores_train_mode(self, loop: LoopInfo, receiver: str, spelled_in: FunctionInfo | None | bool = True) -> bool:
        """Does something in `loop` put `receiver` back in train mode: a `train()` switch that may be of the
        same model (`D.train()` does not restore `G`: two models the file builds apart), a call of a function
        that switches to train mode (of this file or imported), or a rebinding of the model? `spelled_in`:
        the function whose names `receiver` is in (True: the loop's)."""
        fn = loop.function
        where = fn if spelled_in is True else spelled_in
        if any(sw.kind in ("train", "restore") and self.inside(sw.seq, sw.function, loop)
               and not self.other_model(sw.receiver, fn, receiver, where)  # type: ignore[arg-type]
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


def _owns(models: frozenset[str] | set[str], key: str) -> bool:
    """Is `key` (a model reset) one of `models`, a submodule of one, or one of their parent modules — by its
    text or its last name (`self.netD` and `netD`, the parameter `__init__` stored)?"""
    last = key.rsplit(".", 1)[-1]
    return any(key == m or m.startswith(key + ".") or key.startswith(m + ".") or m.rsplit(".", 1)[-1] == last
               for m in models)


def _updates(op) -> bool:
    """An in-place op that changes a parameter: on a leaf that requires grad, or through `.data`."""
    return op.value.kind is Kind.LEAF or (type(op.target) is cst.Attribute and op.target.attr.value == "data")
