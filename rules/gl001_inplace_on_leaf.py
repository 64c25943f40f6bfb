"""GL001 inplace-on-leaf."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import Kind, Mode, SemanticModel, dotted
from gradlint import edits as fixes
from gradlint.rules.base import Finding, FixSpec, Rule, torch_ref
from gradlint.settings import RuleOptions

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_MSG = "a view of a leaf Variable that requires grad is being used in an in-place operation."
OUT_MSG = "functions with out=... arguments don't support automatic differentiation, but one of the arguments requires grad."


class InplaceOnLeaf(Rule):
    code = "GL001"
    name = "inplace-on-leaf"
    tier = "bug"
    summary = "In-place operation on a leaf tensor that requires grad, with grad mode on"
    docs = f"""\
## What it does
Flags an in-place operation — `-=`, `+=`, `*=`, `/=`, in-place methods such as `add_`, `sub_`, `mul_`,
`zero_`, `fill_`, `copy_`, `clamp_`, `normal_`, `uniform_`, `masked_fill_`, index or slice assignment,
or `out=` — on a leaf tensor that requires grad (a parameter, or a tensor created with
`requires_grad=True`) while grad mode is on: outside `torch.no_grad()`, `torch.inference_mode()`,
`torch.set_grad_enabled(False)` and functions decorated with them.

Leaves are found through `nn.Parameter(...)`, factories with `requires_grad=True`, `.requires_grad_()`,
loops over `model.parameters()`, `model.named_parameters()`, `optimizer.param_groups[...]["params"]`,
`self.w` assigned a Parameter in the class, `.weight`/`.bias` of `nn` modules, and loop variables whose
`.grad` the update itself reads.

## Why is this bad?
Autograd forbids changing a leaf that requires grad in place while it is recording, because the
change would not be part of the graph. PyTorch raises at that line:

```
RuntimeError: {LEAF_MSG}
```

(`p[0] = v` raises "{VIEW_MSG}", and `torch.add(p, 1, out=p)` raises "add(): {OUT_MSG}")

The classic case is a hand-written SGD step (pytorch/examples PR #779), and copying pretrained
embeddings into `self.emb.weight` in `__init__` (treelstm.pytorch PR #26).

## Example
```python
loss.backward()
for p in model.parameters():
    p -= lr * p.grad
```

## Use instead
```python
loss.backward()
with torch.no_grad():
    for p in model.parameters():
        p -= lr * p.grad
```
or use an optimizer (`torch.optim.SGD`), or `nn.init.*` for initialisation. Do not "fix" it with
`p.data -= ...`: that hides the error and is GL003.

## Not flagged
In-place ops on `p.grad`, on frozen parameters (`requires_grad=False`), on activations
(`h.relu_()`), on `.clone()`s, on plain data tensors; `nn.ReLU(inplace=True)`; `nn.init.*` calls;
updates inside `no_grad`/`inference_mode`/`set_grad_enabled(False)` blocks or functions decorated with
them, or in functions this file only calls under them; `set_grad_enabled(flag)` with a non-constant flag.
The `step()` of an optimizer-like class of the file (not an `nn.Module`; it takes or keeps parameters, or
derives from an `Optimizer`) runs in the grad mode of the `X.step()` calls that may reach it — on an
instance of the class (also through a parameter its callers fill), or on an attribute the file cannot tie
to a class (`self.optim.step()` with `self.optim = model.configure_optimizers()`, d2l's `Trainer`): it is
not flagged when every such call runs under `no_grad`, and flagged when one runs with grad mode on.

## Fix safety
The fix wraps the update in `with torch.no_grad():` (the alias the file uses: `T.no_grad()` after
`import torch as T`, `no_grad()` after `from torch import no_grad`; `import torch` is added only when
nothing binds it). When every statement of the enclosing `for` loop is such an update (or `p.grad`
bookkeeping such as `p.grad.zero_()`, `continue`, an `if` holding only updates) the whole loop is
wrapped instead, as in the example above. Only whole statements on their own lines are wrapped
(`y = 2 * w; w += 1` is left alone: `y` would change). The fix is **safe**: the flagged line raises
as written, so no correct program computes anything there, and under `no_grad` the update does what
it says. Comments and blank lines inside the wrapped region move along; the file's indentation (spaces
or tabs) and line endings are kept.

## Options
None.
"""
    VALID = (
        """\
import torch
w = torch.randn(3, requires_grad=True)
with torch.no_grad():
    w -= 0.1 * w.grad
""",
        """\
import torch
for p in model.parameters():
    p.grad.zero_()
""",
        """\
import torch
@torch.no_grad()
def step(model):
    for p in model.parameters():
        p.add_(p.grad, alpha=-0.1)
""",
        """\
import torch
x = torch.randn(3)
x += 1
x[0] = 0
""",
    )
    INVALID = (
        """\
import torch
w = torch.randn(3, requires_grad=True)
w += 1  # gradlint-expect: GL001
""",
        """\
import torch
for p in model.parameters():
    p -= 0.1 * p.grad  # gradlint-expect: GL001
""",
        """\
import torch.nn as nn
class M(nn.Module):
    def __init__(self, e):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.emb.weight.copy_(e)  # gradlint-expect: GL001
""",
    )

    fixable = True

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        updates: set[int] | None = None
        for op in model.inplace_ops:
            if op.value.kind is not Kind.LEAF:
                continue
            if model.mode_at(op) is not Mode.ENABLED:
                continue
            target = model.code(op.target)
            if op.op == "out=":
                fn = dotted(op.node.func) if isinstance(op.node, cst.Call) else None
                error = f"{(fn or 'op').rsplit('.', 1)[-1]}(): {OUT_MSG}"
                what = f"`out={target}`"
            elif op.view and not op.full_slice:
                error = VIEW_MSG
                what = f"in-place assignment into `{target}[...]`"
            else:
                error = LEAF_MSG
                what = f"in-place `{op.op}` on `{target}`"
            origin = f" ({op.value.origin})" if op.value.origin else ""
            if updates is None:  # built for files with findings only
                updates = fixes.update_statements(model)
            related, where = model.related(op.function)
            if where and where not in origin:
                origin = f"{origin[:-1]}; {where})" if origin else f" ({where})"
            yield Finding(
                op.node,
                f"{what}, a leaf tensor that requires grad{origin}, with grad mode on raises "
                f"`RuntimeError: {error}`; do it under `with torch.no_grad():`",
                fix=_wrap_fix(model, op, updates),
                related=related,
            )


def _wrap_fix(model: SemanticModel, op, updates: set[int]) -> FixSpec | None:
    found = fixes.update_wrap_target(model, op.node, updates)
    if found is None:
        return None
    first, last, what = found
    ref, _ = torch_ref(model, "no_grad")
    return fixes.no_grad_wrap(model, first, last, message=f"Wrap {what} in `with {ref}():`", safe=True)
