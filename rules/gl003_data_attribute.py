"""GL003 data-attribute."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import SemanticModel
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class DataAttribute(Rule):
    code = "GL003"
    name = "data-attribute"
    summary = "`.data` on a tensor: writes bypass autograd's checks, reads should be `.detach()`"
    docs = """\
## What it does
Flags `.data` on an expression known to be a tensor or parameter: parameters and leaves, loop
variables over `model.parameters()`, `.weight`/`.bias` of modules, `.grad`, tensors from torch
factories and ops, model and loss outputs.

## Why is this bad?
`.data` gives the same storage as the tensor but hides it from autograd, including from the version
counter that makes in-place changes safe.
- **Writes** (`p.data -= x`, `p.data.copy_(x)`, `x.data.mul_(100)`, `p.data[0] = 0`) are not seen by
  autograd. Between a forward and its backward they silently corrupt gradients: with
  `y = x * x; x.data *= 100; y.backward()`, `x.grad` is 200 instead of 2, where the same change through
  `.detach()` or under `torch.no_grad()` raises "one of the variables needed for gradient computation
  has been modified by an inplace operation". Between optimizer steps (weight clipping, manual SGD)
  they give the right numbers, but `torch.no_grad()` says the same thing and keeps the safety net.
- **Reads** (`x.data`) return a tensor detached from the graph whose in-place changes autograd cannot
  see; `x.detach()` gives the same values and keeps the version check. PyTorch's maintainers: "For
  99.9% of the users: never" use `.data`.

## Example
```python
for p in model.parameters():
    p.data.add_(p.grad, alpha=-lr)
acc = (out.data.argmax(1) == y).float().mean()
```

## Use instead
```python
with torch.no_grad():
    for p in model.parameters():
        p.add_(p.grad, alpha=-lr)
acc = (out.detach().argmax(1) == y).float().mean()
```

## Not flagged
`.data` on anything not known to be a tensor: `torch.utils.data`, `PackedSequence.data`, datasets
(`dataset.data`), `torch_geometric` `Data`, `BatchEncoding.data`, NumPy arrays, your own objects.
Whole-tensor assignment `p.data = t`: it can change the shape, which `torch.no_grad()` + `copy_()`
cannot, so there is no drop-in replacement to suggest.

## Fix safety
No automatic fix yet.

## Options
None.
"""
    VALID = (
        "import torch\nfrom torch.utils.data import DataLoader\nx = dataset.data\n",
        "import torch\nwith torch.no_grad():\n    for p in model.parameters():\n        p.add_(p.grad, alpha=-0.1)\n",
        "import torch\nout = packed.data\n",
    )
    INVALID = (
        "import torch\nfor p in model.parameters():\n    p.data.add_(p.grad, alpha=-0.1)\n",
        "import torch\nx = torch.ones(1, requires_grad=True)\ny = x * x\nx.data *= 100\n",
        "import torch\nfor p in model.parameters():\n    p.grad.data.zero_()\n",
    )

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        for acc in model.data_accesses:
            base = model.code(acc.base)
            fn = acc.function.name if acc.function is not None else ""
            if acc.write in ("inplace", "augassign", "setitem", "out", "update") and (
                "init" in fn.lower() or "reset" in fn.lower()
            ):
                msg = (
                    f"initialising `{base}` through `.data` hides the write from autograd; use `nn.init.*` "
                    f"(which runs under no_grad) or write to `{base}` under `with torch.no_grad():`"
                )
            elif acc.write == "update":
                msg = (
                    f"updating `{base}` through `.data` is invisible to autograd's version counter: between a "
                    f"forward and its backward it silently corrupts gradients; update it in place under "
                    f"`with torch.no_grad():` (`{base}.sub_(...)` / `{base} -= ...`)"
                )
            elif acc.write in ("inplace", "augassign", "setitem", "out"):
                msg = (
                    f"in-place write through `{base}.data` is invisible to autograd's version counter: between "
                    f"a forward and its backward it silently corrupts gradients; write to `{base}` under "
                    "`with torch.no_grad():` instead"
                )
            elif acc.write in ("assign", "assign-source"):
                # `p.data = t` may change the shape, which no no_grad()/copy_() equivalent can: not flagged
                continue
            elif isinstance(acc.base, cst.Attribute) and acc.base.attr.value == "grad":
                msg = (f"`{base}.data`: a gradient is already a plain tensor outside the graph; use `{base}` "
                       "(or `.detach()`), not `.data`")
            else:
                msg = f"`{base}.data` reads the tensor outside autograd's checks; use `{base}.detach()`"
            yield Finding(acc.node, msg)
