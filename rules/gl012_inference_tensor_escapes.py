"""GL012 inference-tensor-escapes."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import Mode, SemanticModel
from gradlint.model.ext_nograd_uses import INFERENCE_USE_WORDS, InferenceUse, NoGradUses
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

SAVED_MSG = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use it "
    "in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`."
)
INPLACE_MSG = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a normal "
    "tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)
REQUIRES_GRAD_MSG = "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed."


class InferenceTensorEscapes(Rule):
    code = "GL012"
    name = "inference-tensor-escapes"
    tier = "bug"
    summary = "A tensor made under inference_mode() is used after the block where autograd must save it, or updated in place"
    docs = f"""\
## What it does
Tracks tensors created inside `with torch.inference_mode():` (or returned by a function of this file
decorated with `@torch.inference_mode()`, or that returns a value made in such a block), also kept in a
list built in the block (`targets = [teacher(x) for x in xs]`, `targets.append(teacher(x))`) and read
back as `targets[i]`, `for t in targets`, `for x, t in zip(xs, targets)` or `enumerate(targets)`, and
flags the uses *after* the block that PyTorch rejects:

* an operand of an operation that saves it for backward, with grad mode on and another operand that
  requires grad: `*`, `/`, `@`, `**`, `torch.mul`/`div`/`matmul`/`mm`/`bmm`/`pow`, `.mul()`/`.matmul()`…,
  `F.linear`, the losses `F.mse_loss`, `F.smooth_l1_loss`, `F.huber_loss`, `F.cross_entropy`,
  `F.nll_loss`, `F.binary_cross_entropy(_with_logits)` and their `nn.*Loss` modules, and the input of an
  `nn.Linear` / `nn.Conv*d` / `nn.Bilinear` layer;
* an in-place update outside inference mode (also under `no_grad`): `+=`, `x[i] = v`, `add_()`,
  `copy_()`, `zero_()` …;
* `x.requires_grad_()` / `x.requires_grad = True` outside inference mode.

Reported at the inference tensor in that use.

## Why is this bad?
Inference tensors have no version counter and cannot take part in autograd. On PyTorch 2.13 the forward
operation raises (teacher targets cached in inference mode and used in a training loss are the usual case:
Lightning-AI/pytorch-lightning #14497 and #19910, facebookresearch/dinov2 #472):

```
RuntimeError: {SAVED_MSG}
```

In-place updates outside the block raise
`RuntimeError: {INPLACE_MSG}`, and `requires_grad_()` raises `RuntimeError: {REQUIRES_GRAD_MSG}`

## Example
```python
with torch.inference_mode():
    target = teacher(x)
loss = F.mse_loss(student(x), target)
```

## Use instead
```python
with torch.no_grad():            # or: target = target.clone() after the block
    target = teacher(x)
loss = F.mse_loss(student(x), target)
```

## Not flagged
Not every use fails, and only uses that do are flagged: `w + x` / `w - x` and `torch.cat` (they save
no input: verified, backward works), `F.l1_loss` and `F.kl_div` targets (verified: no error), reading,
printing and metrics (`x.mean().item()`, `(pred == y).sum()`), uses with no operand that requires
grad, uses under `no_grad` or inside a later `inference_mode` block (except in-place updates),
`x.clone()` after the block (a normal tensor), `x = x.to(device)` / `.float()` after the block (may be a
normal copy), tensors made under `no_grad` instead; views of normal
tensors taken inside the block (`x = data[0]` is a normal tensor); a name bound differently in another
branch; values returned by unknown functions; a list that is also given normal tensors (`.append` outside
the block, `.extend`, `+=`), re-made with `[t.clone() for t in targets]`, or a generator expression
(it runs where it is read, outside the block).

## Fix safety
No automatic fix: whether to switch the block to `torch.no_grad()` or to `.clone()` the result is a
design choice (`no_grad` costs version-counter bookkeeping, `.clone()` a copy).

## Options
None.
"""
    VALID = (
        """\
import torch
with torch.inference_mode():
    x = torch.randn(3)
w = torch.randn(3, requires_grad=True)
(w + x).sum().backward()
""",
        """\
import torch
with torch.inference_mode():
    x = torch.randn(3)
w = torch.randn(3, requires_grad=True)
(x.clone() * w).sum().backward()
""",
        """\
import torch
with torch.no_grad():
    x = torch.randn(3)
w = torch.randn(3, requires_grad=True)
(x * w).sum().backward()
""",
        """\
import torch
with torch.inference_mode():
    x = torch.randn(3)
print(x.mean().item(), x * 2)
""",
    )
    INVALID = (
        """\
import torch
with torch.inference_mode():
    x = torch.randn(4, 3)
w = torch.randn(3, requires_grad=True)
(x * w).sum().backward()  # gradlint-expect: GL012
""",
        """\
import torch
with torch.inference_mode():
    buf = torch.zeros(3)
buf.add_(1)  # gradlint-expect: GL012
""",
        """\
import torch
import torch.nn.functional as F
with torch.inference_mode():
    target = teacher(torch.randn(4, 3))
loss = F.mse_loss(model(x), target)  # gradlint-expect: GL012
""",
        """\
import torch
import torch.nn.functional as F
teacher = torch.nn.Linear(3, 2)
with torch.inference_mode():
    targets = [teacher(x) for x in batches]
for x, t in zip(batches, targets):
    loss = F.mse_loss(model(x), t)  # gradlint-expect: GL012
""",
    )
    prefilter = INFERENCE_USE_WORDS
    extensions = (NoGradUses,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(NoGradUses)
        seen: set[int] = set()
        for use in facts.inference_uses:
            if id(use.node) in seen:
                continue
            message = self._message(use, facts, model)
            if message is None:
                continue
            if not model.is_inference_tensor(use.value):
                continue
            seen.add(id(use.node))
            yield Finding(use.node, message)

    @staticmethod
    def _message(use: InferenceUse, facts: NoGradUses, model: SemanticModel) -> str | None:
        name = model.code(use.node)
        if use.mode is Mode.INFERENCE or use.mode is Mode.UNKNOWN:
            return None
        mode = model.effective_mode(use.mode, use.function)
        if use.what in ("inplace", "requires_grad"):
            if mode not in (Mode.ENABLED, Mode.DISABLED) or (use.mode is Mode.INHERITED and mode is not Mode.ENABLED):
                return None
            if use.what == "inplace":
                return (f"`{name}` was created under `inference_mode()`: updating it in place ({use.op}) outside "
                        f"inference mode raises `RuntimeError: Inplace update to inference tensor outside InferenceMode "
                        f"is not allowed.`; update a `{name}.clone()`, or create it under `torch.no_grad()`")
            return (f"`{name}` was created under `inference_mode()`: {use.op} outside inference mode raises "
                    f"`RuntimeError: {REQUIRES_GRAD_MSG}`; use `{name}.clone()`")
        if mode is not Mode.ENABLED:
            return None
        if not any(facts.requires_grad_operand(o) for o in use.others):
            return None
        return (f"`{name}` was created under `inference_mode()` and is used in {use.op} with a tensor that requires "
                f"grad: autograd must save it for backward, which raises `RuntimeError: Inference tensors cannot be "
                f"saved for backward.`; use `{name}.clone()` here, or create it under `torch.no_grad()` instead")
