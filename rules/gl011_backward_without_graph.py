"""GL011 backward-without-graph."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_nograd_uses import BACKWARD_WORDS, BackwardUse, NoGradUses
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"


class BackwardWithoutGraph(Rule):
    code = "GL011"
    name = "backward-without-graph"
    tier = "bug"
    summary = "`.backward()` on a value computed entirely under no_grad / inference_mode (it has no graph)"
    docs = f"""\
## What it does
Flags `.backward()` on a value that was computed entirely with grad mode off:

* inside `with torch.no_grad():`, `with torch.inference_mode():`, `with torch.set_grad_enabled(False):`
  or after a bare `torch.set_grad_enabled(False)`;
* in a function decorated with `@torch.no_grad()` / `@torch.no_grad` / `@torch.inference_mode()`,
  or returned by such a function of this file (`loss = compute_loss(...)`);
* returned by a function of this file that computes what it returns with grad mode off in its body
  (`with torch.no_grad(): return criterion(model(x), y)`, or `out` made in the block and
  `return F.mse_loss(out, y)` where every other operand is an argument that carries no graph at that
  call: data, a batch of a loader, a value made with grad mode off);
* or derived only from such values afterwards (`loss.mean()`, `loss * 0.5`, `(a + b) / 2`).

* or in a Lightning `validation_step` / `test_step` / `predict_step`, which the framework runs under
  `no_grad` / `inference_mode` (Lightning-AI/pytorch-lightning #19910).

It also flags `x.sum().backward()` written *inside* a no-grad block: the `sum()` is computed there. The
value is what the name holds at the call in its own function (after an `if` or a loop, only when every
way there leaves a value made with grad mode off). Reported at the `backward()` call.

## Why is this bad?
Operations run with grad mode off record no graph: the result has `requires_grad=False` and no
`grad_fn`, so there is nothing to differentiate. PyTorch 2.13 raises at the call:

```
RuntimeError: {NO_GRAD_FN}
```

The usual story is an evaluation-style `with torch.no_grad():` (or Lightning's inference-mode test loop,
Lightning-AI/pytorch-lightning #19910) around code that is later reused for training.

## Example
```python
with torch.no_grad():
    loss = criterion(model(x), y)
loss.backward()
```

## Use instead
```python
loss = criterion(model(x), y)
loss.backward()
```

## Not flagged
`loss.backward()` called *inside* a no-grad block on a loss recorded outside it (no_grad only affects the
recording of new operations: verified, gradients arrive); a value only partly computed under no_grad
(`loss = criterion(model(x), target_from_no_grad)`, `loss_ng + model(x).sum()`); values re-enabled with
`torch.enable_grad()` inside the block, or made leaves again (`.requires_grad_()`, `requires_grad=True`
factories, `nn.Parameter`: that is GL019's graph-cut pattern); tensors built with `requires_grad=True`
under no_grad (factories are not affected by no_grad); a name bound differently in another branch
(`if train: ... else: with torch.no_grad(): ...`); `set_grad_enabled(flag)` with a non-constant flag;
helpers that use `enable_grad` themselves; a helper that computes only part of its result under no_grad
(a target, a teacher's output) and returns a loss on a model output or on an argument that carries a
graph (`distill(student(x), x)`).

## Fix safety
No automatic fix: moving the computation out of the block changes what is recorded.

## Options
None.
"""
    VALID = (
        """\
import torch
loss = model(x).pow(2).mean()
with torch.no_grad():
    loss.backward()
""",
        """\
import torch
with torch.no_grad():
    t = teacher(x)
loss = criterion(model(x), t)
loss.backward()
""",
        """\
import torch
if train:
    loss = model(x).sum()
else:
    with torch.no_grad():
        loss = model(x).sum()
if train:
    loss.backward()
""",
        """\
import torch
with torch.no_grad():
    with torch.enable_grad():
        loss = model(x).sum()
loss.backward()
""",
        """\
import torch
with torch.no_grad():
    w = torch.zeros(3, requires_grad=True)
(w * 2).sum().backward()
""",
    )
    INVALID = (
        """\
import torch
with torch.no_grad():
    loss = model(x).pow(2).mean()
loss.backward()  # gradlint-expect: GL011
""",
        """\
import torch
@torch.no_grad()
def forward_loss(model, x):
    return model(x).sum()
loss = forward_loss(model, x)
loss.backward()  # gradlint-expect: GL011
""",
        """\
import torch
with torch.inference_mode():
    model(x).sum().backward()  # gradlint-expect: GL011
""",
        """\
import torch
def compute_loss(model, x, y):
    with torch.no_grad():
        out = model(x)
    return torch.nn.functional.mse_loss(out, y)
loss = compute_loss(model, torch.randn(4, 3), torch.randn(4, 1))
loss.backward()  # gradlint-expect: GL011
""",
    )
    # Lightning's validation/test/predict hooks run under no_grad / inference_mode without saying so
    prefilter = BACKWARD_WORDS
    extensions = (NoGradUses,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(NoGradUses)
        for use in facts.backward_uses:
            why = self._why(use, model)
            if why is None:
                continue
            yield Finding(
                use.call,
                f"`{model.code(use.call.func)}()` on a value {why}: it has no autograd graph "
                f"(`requires_grad=False`, no `grad_fn`), so this raises `RuntimeError: {NO_GRAD_FN}`; compute the "
                "loss with grad mode on (outside the block), or drop the `backward()` if this is evaluation",
            )

    @staticmethod
    def _why(use: BackwardUse, model: SemanticModel) -> str | None:
        if use.computed_here and model.runs_without_grad(use.mode, use.function):
            # `x.sum().backward()` inside the block: the last op is computed without recording, unless the
            # chain only uses methods that may return their receiver
            return "computed inside a no-grad region (`no_grad`/`inference_mode`/`set_grad_enabled(False)`)"
        if not use.derived_ok or not use.values:
            return None
        if not all(model.made_without_grad(v) for v in use.values):
            return None
        if any(model.releafed_after(n, use.function, use.seq) for n in use.names):
            return None  # made a leaf again later (a value re-made each pass)
        callee = model.returned_by(use.values[0])
        if callee is not None and model.grad_off_decorator(callee) is not None:
            return f"returned by `{callee}()`, which runs under a grad-mode-off decorator"
        if callee is not None:
            return f"returned by `{callee}()`, which computes it with grad mode off (a `no_grad`/`inference_mode` block in it or in a helper it calls)"
        return "computed under `no_grad`/`inference_mode` (grad mode off)"
