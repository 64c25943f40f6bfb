"""GL004 eval-mode-missing."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import EvalContext, SemanticModel
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class EvalModeMissing(Rule):
    code = "GL004"
    name = "eval-mode-missing"
    summary = "Evaluation code calls the model without putting it in eval mode first"
    docs = """\
## What it does
Flags evaluation code that calls the model before any `model.eval()`, `model.train(False)` or
`model = model.eval()` — in the function itself, in a helper of the same file it calls first, or at
the place this file calls the evaluation function. Evaluation code is a function whose name says so
(`evaluate`, `validate`, `test`, `predict`, `infer`, `run_validation`, … — see Options), or a loop over
a validation/test loader (`val_loader`, `test_dl`, `loaders["val"]`, …) that does no backward/step.
Reported at the first model call.

## Why is this bad?
`torch.no_grad()` and `torch.inference_mode()` do **not** switch a model to eval mode. In train mode,
Dropout keeps dropping activations and BatchNorm normalises with batch statistics *and updates its
running statistics with the evaluation data*. Results are noisy and wrong, two evaluations of the same
input differ, and the model's later eval-mode behaviour is contaminated. Nothing raises (except
BatchNorm on a batch of one: `ValueError: Expected more than 1 value per channel when training`).
Real fixes: torchtune #1049, ELF #110, deepspeech.pytorch #22, ethos-ares #20 ("definitely a bug").

## Example
```python
def evaluate(model, loader):
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
```

## Use instead
```python
def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
```
(and `model.train()` again before training resumes).

## Not flagged
Lightning's `validation_step` / `test_step` / `predict_step` (the framework sets eval mode); a
model's own methods (`self(...)` inside an `nn.Module`: the caller decides the mode); classes where
some method puts the model in eval mode; pytest/unittest test functions and functions named `test*`
that call a model once without a loop; loops that call `backward()` or an optimizer `step()`.

## Fix safety
No automatic fix yet.

## Options
`eval-function-patterns` / `extend-eval-function-patterns` (regular expressions for evaluation function
names), `model-names` / `extend-model-names` (regular expressions for names that hold a model).
"""
    VALID = (
        "import torch\ndef evaluate(model, loader):\n    model.eval()\n    with torch.no_grad():\n        for x, y in loader:\n            out = model(x)\n",
        "import torch\nclass Lit(LightningModule):\n    def validation_step(self, batch, i):\n        return self.net(batch)\n",
        "import torch\ndef test_forward():\n    model = Net()\n    assert model(x).shape == (2, 3)\n",
    )
    INVALID = (
        "import torch\ndef evaluate(model, loader):\n    with torch.no_grad():\n        for x, y in loader:\n            out = model(x)\n",
        "import torch\ndef train(model, train_loader, val_loader, opt):\n    for x, y in train_loader:\n        opt.zero_grad(); model(x).sum().backward(); opt.step()\n    with torch.no_grad():\n        for x, y in val_loader:\n            out = model(x)\n",
    )

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        for ctx in model.eval_contexts():
            if ctx.has_step or (ctx.loop is not None and ctx.has_backward):
                continue
            first = min(ctx.model_calls, key=lambda c: c.seq)
            if _eval_mode_set(model, ctx, first.seq):
                continue
            yield Finding(
                first.node,
                f"evaluation code ({ctx.reason}) calls `{first.text}` without `{first.text}.eval()` first: "
                "Dropout stays active and BatchNorm uses and updates batch statistics, so results are noisy "
                "and the running statistics are contaminated; call `.eval()` before evaluating "
                "(no_grad/inference_mode do not do it)",
            )


def _eval_mode_set(model: SemanticModel, ctx: EvalContext, before: int) -> bool:
    fn = ctx.function
    if fn is None:
        return any(s < before for s in model.module_eval_seqs)
    if model.sets_eval(fn, before):
        return True
    # the enclosing functions (a nested evaluate() defined inside main())
    parent = fn.parent
    while parent is not None:
        if model.sets_eval(parent, before):
            return True
        parent = parent.parent
    if ctx.loop is None:
        # callers that put the model in eval mode before calling this function
        for site in model.call_sites(fn):
            if site.function is None:
                if any(s < site.seq for s in model.module_eval_seqs):
                    return True
            elif model.sets_eval(site.function, site.seq):
                return True
        # a class whose methods put the model in eval mode (an evaluator / predictor object)
        if fn.class_info is not None and any(model.sets_eval(m) for m in fn.class_info.methods):
            return True
    return False
