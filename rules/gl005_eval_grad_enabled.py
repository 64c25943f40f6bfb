"""GL005 eval-grad-enabled."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import Mode, SemanticModel
from gradlint import edits as fixes
from gradlint.rules.base import Finding, FixSpec, InsertLinesBefore, Rule, torch_ref
from gradlint.settings import RuleOptions


class EvalGradEnabled(Rule):
    code = "GL005"
    name = "eval-grad-enabled"
    tier = "hygiene"
    summary = "Evaluation code calls the model with grad mode on (no no_grad/inference_mode)"
    docs = """\
## What it does
Flags evaluation code (see GL004 for how it is recognised) that calls the model while grad mode is on:
not inside `torch.no_grad()`, `torch.inference_mode()` or `torch.set_grad_enabled(False)`, not in a
function decorated with them (`@torch.no_grad()`, `@torch.no_grad`, `@torch.inference_mode`), and not
in a function that this file only calls under them. Reported at the first such model call.

## Why is this bad?
With grad mode on, every forward pass records an autograd graph and keeps the activations it needs for
a backward that never comes. Outputs have `requires_grad=True` and a `grad_fn`; any output, loss or
prediction that outlives the iteration (a list of predictions, a running loss) keeps its whole graph
alive: measured on PyTorch 2.13, 40 stored predictions of a small MLP cost +309 MB with grad mode on
and +0 MB under `torch.no_grad()`. Evaluation is slower and runs out of memory at batch sizes that
would fit. Nothing raises.

## Example
```python
def validate(model, loader):
    model.eval()
    preds = [model(x) for x, _ in loader]
```

## Use instead
```python
@torch.no_grad()
def validate(model, loader):
    model.eval()
    preds = [model(x) for x, _ in loader]
```
(or `with torch.inference_mode():` around the loop).

## Not flagged
Evaluation that needs gradients — saliency maps, FGSM/PGD attacks, input-gradient penalties: any
`backward()`, `torch.autograd.grad`, `torch.func` transform, `requires_grad_()`, `requires_grad=True`
or `torch.enable_grad()` (or `torch.set_grad_enabled(True)`) in the function (or loop) turns the rule off there; Lightning's
`validation_step`/`test_step`/`predict_step`; a model's own methods; pytest test functions;
`set_grad_enabled(flag)` with a non-constant flag.

## Fix safety
For an evaluation function the fix adds `@torch.no_grad()` right above its `def` (below other
decorators, so `@staticmethod` still applies last); for an evaluation loop it wraps the loop in
`with torch.no_grad():` (the alias the file uses; `import torch` added only when nothing binds it).
Async functions and loops sharing a line with other code are left alone. **Unsafe**: results computed
there no longer require grad, so code that (despite the look of it) calls `backward()` on them, or
keeps training through them, changes behaviour: such a `backward()` now raises `RuntimeError: element 0
of tensors does not require grad and does not have a grad_fn` (the accidental training made loud).

## Options
As GL004.
"""
    VALID = (
        """\
import torch
@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)
""",
        """\
import torch
def saliency_eval(model, x):
    model.eval()
    x.requires_grad_()
    model(x).sum().backward()
    return x.grad
""",
        """\
import torch
def evaluate(model, loader):
    model.eval()
    return [model(x) for x in loader]
with torch.no_grad():
    evaluate(model, loader)
""",
        """\
import torch
def evaluate_fgsm(model, x, y):
    model.eval()
    with torch.set_grad_enabled(True):
        x = x.clone().requires_grad_(True)
        loss_fn(model(x), y).backward()
    return x.grad.sign()
""",
    )
    INVALID = (
        """\
import torch
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)  # gradlint-expect: GL005
""",
        """\
import torch
model.eval()
for x, y in val_loader:
    preds.append(model(x))  # gradlint-expect: GL005
""",
    )

    fixable = True
    fix_may_raise = ("element 0 of tensors does not require grad and does not have a grad_fn",)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        for ctx in model.eval_contexts():
            if ctx.has_step or ctx.has_grad_use or (ctx.loop is not None and model.loop_trains(ctx.loop)):
                continue  # training (the model's one definition of a training loop), or gradients wanted
            enabled = [c for c in ctx.model_calls if model.mode_at(c) is Mode.ENABLED]
            if not enabled:
                continue
            first = min(enabled, key=lambda c: c.seq)
            related, where = model.related(ctx.function)
            yield Finding(
                first.node,
                f"evaluation code ({ctx.reason}) calls `{first.text}` with grad mode on"
                f"{f' ({where})' if where else ''}: every forward records "
                "an autograd graph and keeps its activations alive as long as any output or loss is kept; "
                "wrap it in `with torch.no_grad():` / `torch.inference_mode()` or decorate the function with "
                "`@torch.no_grad()`",
                fix=_no_grad_fix(model, ctx),
                related=related,
            )


def _no_grad_fix(model: SemanticModel, ctx) -> FixSpec | None:
    if ctx.loop is not None:
        if not fixes.is_whole_line_statement(model, ctx.loop.node):
            return None
        ref, _ = torch_ref(model, "no_grad")
        return fixes.no_grad_wrap(model, ctx.loop.node, message=f"Wrap the evaluation loop in `with {ref}():`",
                                  safe=False)
    fn = ctx.function
    if fn is None or fn.node.asynchronous is not None:
        return None
    ref, imports = torch_ref(model, "no_grad")
    return FixSpec(f"Decorate `{fn.name}` with `@{ref}()`",
                   (InsertLinesBefore(fn.node.name, f"@{ref}()\n"),) + imports, safe=False)
