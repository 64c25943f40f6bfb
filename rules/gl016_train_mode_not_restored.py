"""GL016 train-mode-not-restored."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.diagnostic import Related
from gradlint.model import FunctionInfo, ImportedCall, LocalCall, LoopInfo, ModeSwitch, SemanticModel
from gradlint.model.callgraph import argument_expr
from gradlint.model.names import dotted
from gradlint.model.values import ParamRef
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class TrainModeNotRestored(Rule):
    code = "GL016"
    name = "train-mode-not-restored"
    tier = "bug"
    summary = "`model.eval()` inside a training loop with no `model.train()` before the next training step"
    docs = """\
## What it does
Flags `model.eval()` (or `model.train(False)`) inside a training loop — a loop that calls
`backward()` / `optimizer.step()`, directly or through a helper function of the same file — when
nothing in that loop puts the model back in training mode: no `model.train()` anywhere in the loop
(at its top, after the validation, in a nested loop), no call to a helper of this file that calls
`.train()` (a `train_one_epoch(model)` that starts with `model.train()`, an `evaluate(model)` that
restores the mode with `model.train()` / `model.train(was_training)`). A `train()` of another model does not
count: in a GAN loop that starts with `D.train()` and puts `G` in eval mode to draw samples, `G` trains in eval
mode from the second epoch on (two models the file builds apart, two parameters of the training function, two
`self.X` built apart; an alias, a wrapper such as `nn.DataParallel(model)`, a container holding the model, or a
receiver the file cannot follow counts as the same model). Also flags the `eval()` inside
such a helper (`validate(model)`) when the training loop calling it never switches back. Reported at
the `eval()` call — or, when the helper is imported from another file of the project
(`from utils import validate`), at the call in the training loop, naming the helper's file and line.
A loop that runs `backward()` only to read gradients — Grad-CAM, saliency maps, adversarial inputs —
and changes no parameter (no optimizer step, no in-place update of a parameter, directly or through a
helper) is not training: it may run in eval mode, and is not flagged.
A model known to compute the same in train and eval mode (built of layers without Dropout, BatchNorm and
the like, as GL004 decides its tier) is reported in the **hygiene** tier: training it in eval mode changes
nothing until such a layer is added.

## Why is this bad?
`eval()` is sticky: after the first validation every later epoch trains in evaluation mode. Nothing
raises; measured on PyTorch 2.13 with `Linear → BatchNorm1d → Dropout → Linear` and `model.train()`
only before the epoch loop:

```
epoch 0: training=True, dropout active=True, BN stats updated by train step=True
epoch 1: training=False, dropout active=False, BN stats updated by train step=False
epoch 2: training=False, dropout active=False, BN stats updated by train step=False
```

From the second epoch on, Dropout is off and BatchNorm normalises with frozen running statistics and
stops updating them: the model trains without regularisation and its BN statistics no longer match the
weights being learnt.

## Example
```python
model.train()
for epoch in range(epochs):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = sum(loss_fn(model(x), y).item() for x, y in val_loader)
```

## Use instead
```python
for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        ...
    model.eval()
    with torch.no_grad():
        ...
```

## Not flagged
`model.train()` anywhere in the training loop (or the `train()` of an alias, a wrapper or a container of the
model, or of a receiver the file cannot tell apart from it); a helper of this file called in the loop that calls
`model.train()` (`train_one_epoch`), or an evaluation helper that restores the mode
(`was = model.training; model.eval(); ...; model.train(was)`); an `eval()` after the training loop (final
evaluation); an `eval()` followed by `break` / `return` / `raise` in its block (the loop ends there); a
loop that rebuilds the model each iteration (`model = Net()`); models with no sign of being trained in
this file — neither `.train()`, an optimizer built from their `.parameters()`, nor an in-place update
from the gradients in a loop over their `.parameters()` (a frozen teacher, or an EMA model updated from
another model's weights and put in eval mode every step, is correct); loops that do not train (no `backward()` /
`step()`, directly or through a helper); test files.

## Fix safety
No automatic fix: where the `model.train()` belongs (top of the loop, after validation, in a helper)
depends on the code; inserting it right after the validation block is usually right but can change
which mode later code of the same iteration sees.

## Options
None.
"""
    VALID = (
        """\
import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model.train()
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
    model.eval()
    validate(model)
""",
        """\
import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for epoch in range(3):
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
model.eval()
""",
        """\
import torch
def train_one_epoch(model):
    model.train()
    model(x).sum().backward()
    opt.step()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    train_one_epoch(model)
    model.eval()
    evaluate(model)
""",
    )
    INVALID = (
        """\
import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for epoch in range(3):
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
    model.eval()  # gradlint-expect: GL016
""",
        """\
import torch
def validate(model):
    model.eval()  # gradlint-expect: GL016
    with torch.no_grad():
        model(x)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model(x).sum().backward()
    opt.step()
    validate(model)
""",
    )
    prefilter = (".eval(", ".train(")
    prefilter_needs_torch = "import"  # check() returns at once unless model.uses_torch

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file or not model.uses_torch:
            return
        imported_eval = [c for c in model.imported_calls if (e := model.external_callee(c)) is not None and e.effect]
        if not imported_eval and not any(s.kind == "eval" for s in model.switches):
            return
        reported: set[int] = set()
        # an imported helper (another file of the project) that leaves the model in eval mode
        yield from _imported_helpers(model, imported_eval, reported)
        # eval() directly in a training loop
        for sw in model.switches:
            if sw.kind != "eval":
                continue
            loop = next((lp for lp in reversed(sw.loops) if model.loop_trains(lp) and model.loop_updates(lp)), None)
            if loop is None or not model.is_trained(sw.receiver):
                continue
            if model.restores_train_mode(loop, sw.receiver) or model.ends_loop_after(sw.loops[-1], sw.node):
                continue
            reported.add(id(sw.node))
            yield _tiered(model, sw.node, _message(sw, None), sw.receiver, sw.function, sw.seq)
        # eval() in a helper that a training loop calls
        for loop in model.training_loops():
            if not model.loop_updates(loop):
                continue
            for call in model.calls_in(loop):
                if model.innermost_training_loop(call.function, call.seq) is not loop:
                    continue
                for callee in model.functions_named(call.name):
                    if not model.sets_eval(callee):
                        continue
                    for sw in model.eval_switches(callee):
                        # `def validate(m): m.eval()` called as `validate(model)`: the switch is on `model`
                        receiver = _at_call(sw, callee, call)
                        if id(sw.node) in reported or not model.is_trained(receiver):
                            continue
                        if model.restores_train_mode(loop, receiver, _spelled_in(sw, receiver, call)):
                            continue
                        reported.add(id(sw.node))
                        yield _tiered(model, sw.node, _message(sw, call, receiver), receiver, call.function, call.seq)
        # a training loop that starts with the model left in eval mode by an earlier switch or call
        for loop in model.training_loops():
            if model.in_training_loop(loop) or not model.loop_updates(loop):
                continue  # (a loop that runs backward only to read gradients — Grad-CAM — may run in eval mode)
            found = model.last_mode_event(loop.function, loop.seq)
            if found is None or not found[0]:
                found = _left_in_eval_before(model, loop)  # (`G.eval()`, then `D.train()` before the loop)
                if found is None:
                    continue
            event = found[1]
            call: LocalCall | None = None
            if isinstance(event, ImportedCall):
                continue  # (reported by _imported_helpers)
            if isinstance(event, ModeSwitch):
                sw = event
            else:
                call = event
                switches = [s for f in model.functions_named(event.name) for s in model.eval_switches(f)]
                if not switches:
                    continue
                sw = switches[-1]
            receiver = sw.receiver
            if call is not None:
                receiver = next((_at_call(sw, f, call) for f in model.functions_named(call.name)
                                 if f is sw.function), receiver)
            if sw.kind != "eval" or id(sw.node) in reported or not model.is_trained(receiver):
                continue
            if model.restores_train_mode(loop, receiver, _spelled_in(sw, receiver, call)):
                continue
            reported.add(id(sw.node))
            node, where = (call.node, call) if call is not None else (sw.node, sw)
            yield _tiered(model, node, _before_loop_message(sw, call, receiver), receiver, where.function, where.seq)


def _imported_helpers(model: SemanticModel, calls: list[ImportedCall], reported: set[int]) -> Iterator[Finding]:
    """`validate(model)` imported from another file, which leaves `model` in eval mode: called inside a
    training loop that never switches back, or before a training loop whose model it left in eval mode."""
    for call in calls:
        ext = model.external_callee(call)
        if ext is None or id(call.node) in reported:
            continue
        method = _trained_instance(call, ext, model)
        receiver = method or _trained_argument(call, model)
        if receiver is None:
            continue
        related = (Related(ext.file, max(1, ext.line), 1, f"`{ext.name}()`, defined here, leaves the model in eval mode"),)
        if method is not None:
            helper = (f"`{receiver}.{call.name}(...)` (`{ext.name}()` defined in {ext.where}) leaves the model of "
                      f"`{receiver}` in eval mode")
        else:
            helper = (f"`{call.name}({receiver}, ...)` (`{ext.name}()` defined in {ext.where}) leaves `{receiver}` "
                      "in eval mode")
        inner = model.innermost_training_loop(call.function, call.seq)
        if inner is not None:
            if model.restores_train_mode(inner, receiver) or _restored_after(model, call, inner):
                continue
            reported.add(id(call.node))
            if method is not None:  # (the model is inside the instance: no `X.train()` to name)
                yield Finding(call.node, f"{helper} inside the training loop, and nothing in the loop puts it back in "
                                         f"train mode: from the second epoch on {_EVAL_MODE}; call the model's "
                                         f"`.train()` at the end of `{ext.name}()` or at the top of the loop",
                              related=related)
                continue
            yield Finding(call.node, f"{helper} inside the training loop, and nothing in the loop calls "
                                     f"`{receiver}.train()` again: {_from_second_epoch(receiver)}", related=related)
            continue
        for loop in model.training_loops():
            if loop.function is not call.function or loop.seq <= call.seq or model.in_training_loop(loop) \
                    or not model.loop_updates(loop):
                continue
            found = model.last_mode_event(loop.function, loop.seq)
            if found is None or found[1] is not call or model.restores_train_mode(loop, receiver):
                continue
            reported.add(id(call.node))
            if method is not None:
                yield Finding(call.node, f"{helper} and the training loop after it never puts it back in train mode: "
                                         f"{_EVAL_MODE}; call the model's `.train()` at the end of `{ext.name}()` or "
                                         "before the loop", related=related)
                break
            yield Finding(call.node, _never_train_before(helper, receiver), related=related)
            break


def _trained_instance(call: ImportedCall, ext, model: SemanticModel) -> str | None:
    """`t.evaluate(loader)` on an instance of another file's class (`ext.name` is `Trainer.evaluate`) whose
    other methods this file calls to train it (`t.fit(loader)`, whose summary says it trains): `t`."""
    func = call.node.func
    if "." not in ext.name or type(func) is not cst.Attribute:
        return None
    recv = dotted(func.value)
    if recv is None:
        return None
    for other in model.imported_calls:
        o = model.external_callee(other)
        if o is not None and o.trains and type(other.node.func) is cst.Attribute and dotted(other.node.func.value) == recv:
            return recv
    return None


def _trained_argument(call: ImportedCall, model: SemanticModel) -> str | None:
    """The argument of the call that is a model this file trains (the helper's receiver, as far as this file
    can tell: `validate(model, loader)` -> `model`)."""
    for arg in call.node.args:
        text = dotted(arg.value)
        if text is not None and model.is_trained(text):
            return text
    return None


def _restored_after(model: SemanticModel, call: ImportedCall, loop: LoopInfo) -> bool:
    """A later imported call in the same loop that leaves the model in train mode (`train_one_epoch`)."""
    for other in model.imported_calls_from(call.function):
        ext = model.external_callee(other)
        if ext is not None and ext.effect is False and loop.seq < other.seq:
            return True
    return False


def _at_call(sw: ModeSwitch, callee: FunctionInfo, call: LocalCall) -> str:
    """The switch's receiver as the caller spells it: a parameter of the helper (`m` in `def validate(m):
    m.eval()`) is the argument the call passes for it (`validate(model)` -> `model`); anything else as is."""
    recv = sw.receiver
    if not recv or sw.function is not callee or type(callee.node) is not cst.FunctionDef:
        return recv
    head, dot, rest = recv.partition(".")
    p = callee.node.params
    positional = [a.name.value for a in (*p.posonly_params, *p.params)]
    if head in positional:
        ref = ParamRef(callee.node, head, positional.index(head))
    elif any(a.name.value == head for a in p.kwonly_params):
        ref = ParamRef(callee.node, head, -1)
    else:
        return recv
    arg = argument_expr(call, ref)
    text = dotted(arg) if arg is not None else None
    return text + dot + rest if text is not None else recv


def _left_in_eval_before(model: SemanticModel, loop: LoopInfo) -> tuple[bool, ModeSwitch] | None:
    """An `X.eval()` before `loop`, in its function, that is the last switch of `X` there when the switches of
    other models are passed over (`G.eval()` for a baseline sample, then `D.train()`, then the loop)."""
    for sw in reversed(model.switches):
        if sw.function is not loop.function or sw.seq >= loop.seq or sw.kind != "eval" or not sw.receiver:
            continue
        found = model.last_mode_event(loop.function, loop.seq, set(), (sw.receiver, loop.function))
        if found is not None and found[1] is sw and not _rebound_between(model, sw, loop):
            return True, sw
    return None


def _rebound_between(model: SemanticModel, sw: ModeSwitch, loop: LoopInfo) -> bool:
    """May the receiver of `sw` be bound to a new model between the switch and the loop (a notebook cell that
    builds it again)? At the top level, an assignment in a top-level statement between them; in a function, a
    second assignment (one assignment of a local comes before its use)."""
    assigned = model.assignments(loop.function, sw.receiver)
    if loop.function is not None:
        return len(assigned) > 1
    start, end = model.top_of(sw.seq), model.top_of(loop.seq)
    return any(start <= a.top <= end for a in assigned)


def _spelled_in(sw: ModeSwitch, receiver: str, call: LocalCall | None) -> FunctionInfo | None:
    """The function whose names a switch's receiver is in: the caller's when the call maps it to an argument
    (`validate(model)`), else the switch's own."""
    return call.function if call is not None and receiver != sw.receiver else sw.function


def _tiered(model: SemanticModel, node, message: str, receiver: str, fn, seq: int) -> Finding:
    """Hygiene when the model is known to compute the same in train and eval mode (no Dropout, BatchNorm:
    `gradlint.model.modes`, as GL004's tier): training it in eval mode changes nothing today."""
    from gradlint.model.modes import ModeFree

    if receiver and ModeFree(model).receiver(receiver, fn, seq):
        return Finding(node, message + " (the model is built of layers without Dropout or BatchNorm, so its "
                       "training does not change today; it will once one is added)", tier="hygiene")
    return Finding(node, message)


def _before_loop_message(sw: ModeSwitch, call: LocalCall | None, receiver: str | None = None) -> str:
    recv = receiver or sw.receiver or "the model"
    what = (f"`{call.name}(...)` leaves `{recv}` in eval mode (its `{sw.receiver or recv}.eval()`)"
            if call is not None else f"`{recv}.eval()` before the training loop")
    return _never_train_before(what, recv)


_EVAL_MODE = ("the model trains in eval mode (Dropout off, BatchNorm frozen on its running statistics, which stop "
              "updating)")


def _never_train_before(what: str, recv: str) -> str:
    return (f"{what} and the training loop after it never calls `{recv}.train()`: {_EVAL_MODE}; call "
            f"`{recv}.train()` before the loop")


def _from_second_epoch(recv: str) -> str:
    return (f"from the second epoch on {_EVAL_MODE}; call `{recv}.train()` at the top of the loop or after the "
            "validation")


def _message(sw: ModeSwitch, call: LocalCall | None, receiver: str | None = None) -> str:
    own = sw.receiver or "the model"
    recv = receiver or own
    is_eval = isinstance(sw.node.func, cst.Attribute) and sw.node.func.attr.value == "eval"
    code = f"`{own}.eval()`" if is_eval else f"`{own}.train(False)`"
    if recv != own:
        code += f" (on `{recv}`)"
    where = "inside the training loop" if call is None else f"(called from the training loop through `{call.name}(...)`)"
    return f"{code} {where} is never undone: no `{recv}.train()` runs before the next training step, so " \
        + _from_second_epoch(recv)
