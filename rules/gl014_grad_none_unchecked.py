"""GL014 grad-none-unchecked."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_grads import GradGuardFacts
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class GradNoneUnchecked(Rule):
    code = "GL014"
    name = "grad-none-unchecked"
    tier = "bug"
    summary = "`p.grad.zero_()` / `p.grad += g` / `p.grad.data` in a loop over parameters without a None check"
    default_enabled = False
    docs = """\
## What it does
Flags a dereference of a parameter's `.grad` — a method or attribute of it (`p.grad.zero_()`,
`p.grad.mul_(s)`, `p.grad.data`, `p.grad.norm()`), an augmented assignment (`p.grad += g`) or an index
(`p.grad[mask]`) — inside a `for` loop or a comprehension over parameters (`model.parameters()`,
`named_parameters()`, `group["params"]`, a list of `nn.Parameter`s) when that loop never checks
`p.grad` against None. Reported at the first such `.grad` use of each loop.

## Why is this bad?
A parameter's `.grad` is `None` before the first `backward()`, after `optimizer.zero_grad()` /
`model.zero_grad()` (their default is `set_to_none=True` since PyTorch 2.0), and — after a backward —
for every parameter the loss does not depend on (an unused head, a frozen layer, a branch not taken).
Any loop over *all* parameters then crashes on PyTorch 2.13:

```
AttributeError: 'NoneType' object has no attribute 'zero_'
AttributeError: 'NoneType' object has no attribute 'norm'
TypeError: unsupported operand type(s) for +=: 'NoneType' and 'Tensor'
```

The code works in the author's setting (every parameter used, `zero_grad(set_to_none=False)` from an
old PyTorch) and breaks when a module gains an unused parameter or PyTorch's default changes.

## Example
```python
loss.backward()
for p in model.parameters():
    p.grad.data.clamp_(-1, 1)
```

## Use instead
```python
loss.backward()
for p in model.parameters():
    if p.grad is not None:
        p.grad.clamp_(-1, 1)
```
or `torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)`, which skips `None` gradients.

## Not flagged
A loop that checks the gradient anywhere: `if p.grad is None: continue`, `if p.grad is not None:`,
`p.grad is not None and ...`, `... if p.grad is not None else ...`, `if p.grad:`,
`self.assertIsNotNone(p.grad)`; a function that checks `p.grad` against None elsewhere (`assert all(p.grad
is not None for p in model.parameters())` before the loop); an iterable filtered on it
(`filter(lambda p: p.grad is not None, model.parameters())`, a list built with `if p.grad is not None` and
looped over later); a loop that assigns `p.grad = ...` (initialising it); assigning `p.grad = None`;
`.grad` passed to a function; loops over iterables the model does not know to hold parameters (a
function's `params` argument, `.parameters()` of something not known to be a module, such as a DDP
`GradBucket`); test files (they build models whose every parameter is used and check the gradients).

## Why it is off by default
Many scripts deref `.grad` right after `loss.backward()` on a model whose every parameter is used: there
the gradients exist and the loop works. gradlint cannot tell whether every parameter reaches the loss,
so the rule reports code that is fragile rather than code that certainly crashes. Enable it with
`--extend-select GL014`.

## Fix safety
No automatic fix: wrapping the body in `if p.grad is not None:` is safe, but where the loop should instead
initialise the gradient (`p.grad = torch.zeros_like(p)`) only the author knows.

## Options
None.
"""
    VALID = (
        """\
import torch
for p in model.parameters():
    if p.grad is not None:
        p.grad.zero_()
""",
        """\
import torch
for p in model.parameters():
    if p.grad is None:
        continue
    p.grad.mul_(0.5)
""",
        """\
import torch
for p in filter(lambda p: p.grad is not None, model.parameters()):
    p.grad.data.clamp_(-1, 1)
""",
        """\
import torch
total = sum(p.grad.norm() for p in model.parameters() if p.grad is not None)
""",
        """\
import torch
def clip(params):
    for p in params:
        p.grad.clamp_(-1, 1)
""",
    )
    INVALID = (
        """\
import torch
for p in model.parameters():
    p.grad.zero_()  # gradlint-expect: GL014
""",
        """\
import torch
for name, p in model.named_parameters():
    p.grad += 0.1 * torch.randn_like(p)  # gradlint-expect: GL014
""",
        """\
import torch
total = sum(p.grad.norm() for p in model.parameters())  # gradlint-expect: GL014
""",
    )
    prefilter = (".grad",)
    extensions = (GradGuardFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file:
            return  # tests call backward on models whose every parameter they use, then check the grads
        facts = model.ext(GradGuardFacts)
        if facts.grads_set_up:
            return  # the file's modules create their parameters' `.grad` when they are built
        for loop in facts.param_loops:
            reported: set[str] = set()
            fn = loop.function
            if (id(fn) if fn is not None else 0) in facts.grads_kept:
                continue  # `zero_grad(set_to_none=False)` here: the gradients stay tensors
            checked = facts.fn_grad_checks.get(id(fn) if fn is not None else 0, set())
            for use in loop.uses:
                if use.name in loop.guarded or use.name in checked or use.name in reported:
                    continue
                reported.add(use.name)
                origin = f" ({loop.origin})" if loop.origin else ""
                error = (
                    f"`TypeError: unsupported operand type(s) for {use.how.strip('`')}: 'NoneType' and …`"
                    if use.how.endswith("=`")
                    else "a `TypeError` ('NoneType' object is not subscriptable)"
                    if use.how == "`[...]`"
                    else f"`AttributeError: 'NoneType' object has no attribute '{use.how.strip('`.')}'`"
                )
                yield Finding(
                    use.node,
                    f"`{use.name}.grad` is used ({use.how}) in a loop over parameters{origin} without a None check: "
                    "`.grad` is None before the first backward, after `zero_grad()` (set_to_none=True by default) "
                    f"and for parameters the loss does not use, and this raises {error}; "
                    f"guard it with `if {use.name}.grad is None: continue`",
                )
