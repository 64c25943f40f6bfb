"""GL001 inplace-on-leaf."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import Kind, Mode, SemanticModel, dotted
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_MSG = "a view of a leaf Variable that requires grad is being used in an in-place operation."
OUT_MSG = "functions with out=... arguments don't support automatic differentiation, but one of the arguments requires grad."


class InplaceOnLeaf(Rule):
    code = "GL001"
    name = "inplace-on-leaf"
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

## Fix safety
No automatic fix yet.

## Options
None.
"""
    VALID = (
        "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1 * w.grad\n",
        "import torch\nfor p in model.parameters():\n    p.grad.zero_()\n",
        "import torch\n@torch.no_grad()\ndef step(model):\n    for p in model.parameters():\n        p.add_(p.grad, alpha=-0.1)\n",
        "import torch\nx = torch.randn(3)\nx += 1\nx[0] = 0\n",
    )
    INVALID = (
        "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n",
        "import torch\nfor p in model.parameters():\n    p -= 0.1 * p.grad\n",
        "import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, e):\n        super().__init__()\n        self.emb = nn.Embedding(5, 3)\n        self.emb.weight.copy_(e)\n",
    )

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
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
            yield Finding(
                op.node,
                f"{what}, a leaf tensor that requires grad{origin}, with grad mode on raises "
                f"`RuntimeError: {error}`; do it under `with torch.no_grad():`",
            )
