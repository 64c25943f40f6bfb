"""GL007 zero-grad-missing."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint import edits as fixes
from gradlint.model import LoopInfo, SemanticModel
from gradlint.model.training import Step
from gradlint.rules.base import Finding, FixSpec, InsertLinesBefore, Rule
from gradlint.settings import RuleOptions


class ZeroGradMissing(Rule):
    code = "GL007"
    name = "zero-grad-missing"
    tier = "bug"
    summary = "A loop calls backward() and optimizer.step() without resetting the gradients every iteration"
    fixable = True
    docs = """\
## What it does
Flags an optimizer `step()` (`opt.step()`, `self.optimizer.step()`, `optimizer_G.step()`,
`scaler.step(optimizer)`) in a loop that also calls `backward()` (`loss.backward()`,
`scaler.scale(loss).backward()`, `accelerator.backward(loss)`, `torch.autograd.backward`) when nothing in
that loop resets the gradients: no `optimizer.zero_grad()`, `model.zero_grad()` (with or without
`set_to_none`), `p.grad = None`, `p.grad.zero_()`, or a helper of this file that does. The loop checked is
the innermost one that contains both the `backward()` and the `step()`, so a `zero_grad()` once per epoch,
outside the batch loop, or once before the loop, does not count. A model's own reset (`netD.zero_grad()`,
`for p in netD.parameters(): p.grad = None`) resets that model's parameters only: it does not count for an
optimizer built over another model's (`optimizerG = Adam(netG.parameters())`) when another optimizer
stepped in the loop captured that model (a GAN loop resetting only the discriminator), nor does another
optimizer's `zero_grad()`. Also flagged: a `step()` that runs on every iteration when every reset in the
loop runs only under a condition (`if step % 5 == 0: optimizer.zero_grad()`): the steps in between apply the
sum of the gradients since the last reset. Reported at the `step()` call.

## Why is this bad?
`backward()` *adds* into `.grad`. Without a reset, step k uses the sum of the gradients of batches
1..k: the updates grow with every step and training diverges or stalls. Nothing raises. Measured on
PyTorch 2.13 (5 SGD steps of `nn.Linear(3, 1)`): gradient norms per step 0.871, 2.295, 1.083, 1.232,
1.196 with `zero_grad()` every step, and 0.871, 2.301, 2.86, 3.24, 3.588 without — and identically
0.871, 2.301, 2.86, 3.24, 3.588 with `zero_grad()` only once before the loop. After 3 backward passes
`.grad` equals the sum of the 3 batch gradients exactly.

## Example
```python
optimizer.zero_grad()
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
```

## Use instead
```python
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
```

## Not flagged
* the reset anywhere in the loop: before `backward()`, or at the end of the iteration after `step()`;
* gradient accumulation: `if (i + 1) % k == 0: optimizer.step(); optimizer.zero_grad()`, and an inner
  micro-batch loop of `backward()` calls inside a loop that resets and steps;
* `model.zero_grad()`, `zero_grad(set_to_none=...)`, `for p in model.parameters(): p.grad = None`,
  `p.grad.zero_()`, assigning `p.grad = g` by hand, a local helper that resets;
* a model's reset when the file does not show what the stepped optimizer captured (built elsewhere, through
  an attribute no construction names) or when the model is, holds or is part of what it captured
  (`model.zero_grad()` for optimizers over `model.backbone` and `model.head`; `self.aux` for an optimizer
  over the `aux` that `__init__` stored): the DCGAN loop with `netD.zero_grad()` before D's backward and
  `netG.zero_grad()` before G's;
* a reset under a condition when the step is under it too (accumulation), or when resets run on every
  iteration taken together (`if a: opt.zero_grad() else: model.zero_grad()`), or besides it in a helper
  called every iteration, or in an inner loop over the parameters;
* loops using `torch.autograd.grad` (it never accumulates into `.grad`), closures passed to
  `optimizer.step(closure)` (L-BFGS), Lightning's `training_step` / Hugging Face `Trainer` (no explicit
  loop: the framework resets), `scheduler.step()`, `env.step(action)`;
* test files.

## Fix safety
The fix inserts `<optimizer>.zero_grad()` on the line before the loop's `backward()`. It is **unsafe**: it
changes what the program computes (that is the point), and code that accumulated on purpose in a way the
rule does not recognise would lose the accumulation. It is offered only when the `backward()` is directly
in the loop that steps (not in an inner micro-batch loop).

## Options
None.
"""
    VALID = (
        """\
import torch
for x, y in loader:
    opt.zero_grad()
    loss = crit(model(x), y)
    loss.backward()
    opt.step()
""",
        """\
import torch
for i, (x, y) in enumerate(loader):
    (crit(model(x), y) / 4).backward()
    if (i + 1) % 4 == 0:
        optimizer.step()
        optimizer.zero_grad()
""",
        """\
import torch
for x, y in loader:
    loss = crit(model(x), y)
    loss.backward()
    optimizer.step()
    for p in model.parameters():
        p.grad = None
""",
    )
    INVALID = (
        """\
import torch
for x, y in loader:
    loss = crit(model(x), y)
    loss.backward()
    opt.step()  # gradlint-expect: GL007
""",
        """\
import torch
for epoch in range(3):
    optimizer.zero_grad()
    for x, y in loader:
        crit(model(x), y).backward()
        optimizer.step()  # gradlint-expect: GL007
""",
    )
    prefilter = ("backward",)
    prefilter_needs_torch = "import"  # check() returns at once unless model.uses_torch

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if not model.uses_torch or model.is_test_file:
            return
        steps = [s for s in model.steps if s.optimizer is not None and not s.scheduler]
        for step in steps:
            loop = _loop_with_backward(model, step)
            if loop is None:
                continue
            if model.resets_gradients(loop, step.optimizer):
                # reset (of this optimizer, of a model it captured, p.grad) in the loop, or by a helper it calls;
                # but a step on every iteration with resets only under a condition still sums the gradients
                if step.loops[-1] is loop and model.loop_joins.runs_every_iteration(loop, step.node):
                    some = model.conditional_resets(loop, step.optimizer)
                    if some:
                        yield Finding(step.node, self._conditional_message(model, step, some),
                                      self._fix(model, step, loop))
                continue
            if _fresh_leaves_each_iteration(model, step, loop):
                continue
            yield Finding(step.node, self._message(model, step, loop), self._fix(model, step, loop))

    def _message(self, model: SemanticModel, step: Step, loop: LoopInfo) -> str:
        opt = step.optimizer
        head = (f"`{model.code(step.node)}` runs in a loop that calls `backward()` every iteration, but nothing in "
                "that loop resets the gradients")
        counted = model.gradient_resets(loop, opt)
        others = [r for r in model.gradient_resets(loop) if r.receiver != opt and r not in counted
                  and (r.receiver or r.params_of)]
        outside = [r for r in model.resets if r.function is step.function and loop not in r.loops]
        if others:
            other = others[0]
            if any(s.optimizer == other.receiver for s in model.steps if s.function is step.function):
                head += f" (only `{other.receiver}` is reset, not `{opt}`)"
            else:
                owner = other.receiver or other.params_of
                mine = ", ".join(f"`{m}`" for m in sorted(step.ctor.receivers)) if step.ctor else ""
                head += (f" of `{opt}`: `{model.code(other.node)}` resets only `{owner}`'s gradients"
                         + (f", and `{opt}` steps {mine}'s" if mine else ""))
        elif outside:
            head += (": the reset outside it runs once per outer iteration (or once before the loop), "
                     "which is numerically the same as never resetting between steps")
        return (f"{head}; `backward()` adds into `.grad`, so each step applies the sum of all gradients since the "
                f"last reset and the updates grow every step (silent: training diverges or stalls); call "
                f"`{opt}.zero_grad()` in every iteration, before `backward()` or right after `{opt}.step()`")

    def _conditional_message(self, model: SemanticModel, step: Step, resets: list) -> str:
        opt = step.optimizer
        return (f"`{model.code(step.node)}` runs on every iteration of a loop that calls `backward()`, but "
                f"`{model.code(resets[0].node)}` runs only under a condition; `backward()` adds into `.grad`, so "
                f"every step between two resets applies the sum of the gradients since the last one and the "
                f"updates grow (silent: training diverges or stalls); call `{opt}.zero_grad()` in every "
                f"iteration, or, to accumulate gradients, put `{opt}.step()` under the same condition as the reset")

    def _fix(self, model: SemanticModel, step: Step, loop: LoopInfo) -> FixSpec | None:
        direct = [b for b in model.backwards
                  if b.function is step.function and b.kind == "backward" and b.loops and b.loops[-1] is loop]
        if not direct:
            return None
        first = min(direct, key=lambda b: b.seq)
        stmt = fixes.statement_of(model, first.node)
        if not isinstance(stmt, cst.SimpleStatementLine) or not any(
                isinstance(s, cst.Expr) and s.value is first.node for s in stmt.body):
            return None
        return FixSpec(f"Insert `{step.optimizer}.zero_grad()` before the backward pass",
                       (InsertLinesBefore(stmt, f"{step.optimizer}.zero_grad()\n"),), safe=False)


def _loop_with_backward(model: SemanticModel, step: Step) -> LoopInfo | None:
    """The innermost loop around the step that also runs a backward pass itself."""
    backwards = [b for b in model.backwards if b.function is step.function and b.kind == "backward"]
    for loop in reversed(step.loops):
        if any(loop in b.loops for b in backwards):
            return loop
    return None


def _fresh_leaves_each_iteration(model: SemanticModel, step: Step, loop: LoopInfo) -> bool:
    """`x = torch.randn(..., requires_grad=True); opt = SGD([x])` in every iteration: the leaves (and their
    `.grad`) are new each time, so nothing accumulates across iterations."""
    for ctor in model.optimizers:
        if ctor.var != step.optimizer or ctor.function is not step.function or loop not in ctor.loops \
                or not ctor.param_names:
            continue
        if all(any(r.name == name and r.function is step.function and loop.seq < r.seq < ctor.seq
                   and r.seq <= loop.end_seq for r in model.releafs) for name in ctor.param_names):
            return True
    return False
