"""GL008 nonleaf-grad-read."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_tensors import MOVED, NONLEAF, TensorFacts
from gradlint.model.values import Prov
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

WARNING = (
    "UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward()."
)
OPTIMIZE = "ValueError: can't optimize a non-leaf Tensor"


class NonleafGradRead(Rule):
    code = "GL008"
    name = "nonleaf-grad-read"
    tier = "bug"
    summary = "Reading `.grad` of a non-leaf tensor, or handing a non-leaf to an optimizer"
    docs = f"""\
## What it does
Flags two faces of one mistake, a tensor that is *not a leaf* used as if it were one:

* reading `.grad` of a tensor computed by an op from a tensor that requires grad (`y = x * 2; ... y.grad`),
  or by a torch layer built in the file with trainable weights (`emb = embedding(tokens); ... emb.grad`),
  with grad mode on, when the code never calls `y.retain_grad()`;
* a tensor created with `requires_grad=True` and then immediately cast, moved or scaled —
  `torch.randn(3, requires_grad=True).to(torch.float64)`, `.double()`, `.cuda()`, `.to(device)`,
  `* 0.01` — whose `.grad` is read, or which is handed to a `torch.optim` optimizer. The optimizer case
  is reported at the creation.

## Why is this bad?
Only leaves accumulate `.grad`. The result of an op (and a `.to()`/`.cuda()`/`.double()` that really
copies) is a new, non-leaf tensor with a `grad_fn`; after `backward()` its `.grad` is `None` and PyTorch
2.13 warns at the read:

```
{WARNING} If you indeed want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. ...
```

Code that then uses the gradient (`w -= lr * w.grad`) fails with a `TypeError` on `None`, or silently
trains nothing. Handing such a tensor to an optimizer raises at once:

```
{OPTIMIZE}
```

`.to(...)` and friends return `self` when nothing changes: `.to("cpu")` of a CPU tensor and `.float()`
of a float32 tensor stay leaves (verified on 2.13). `.to(device)` with a device chosen at run time is a
non-leaf exactly when it moves the tensor, i.e. on a GPU run; the message says so.

## Example
```python
w = torch.randn(3, 4, requires_grad=True).to(device)   # a non-leaf copy on CUDA
b = torch.zeros(4, requires_grad=True) * 0.01           # a non-leaf
opt = torch.optim.SGD([w, b], lr=0.1)                   # ValueError: can't optimize a non-leaf Tensor

h = x * 2
h.sum().backward()
print(h.grad)                                           # None, with a UserWarning
```

## Use instead
```python
w = torch.randn(3, 4, device=device, requires_grad=True)   # create it where it lives
b = (torch.zeros(4) * 0.01).requires_grad_()               # compute first, then make it a leaf
opt = torch.optim.SGD([w, b], lr=0.1)

h = x * 2
h.retain_grad()                                            # ask autograd to keep h's gradient
h.sum().backward()
print(h.grad)
```

## Not flagged
`.grad` of leaves: `model.parameters()` loop variables, `nn.Parameter`s, `.weight`/`.bias` of modules,
factories with `requires_grad=True`, tensors made leaves with `.detach().requires_grad_()`;
tensors with a `.retain_grad()` call in the same scope; tensors computed under `torch.no_grad()` (leaves
that do not require grad); `.to("cpu")`/`.cpu()` of a fresh CPU tensor and `.float()` of a float32 one
(they return `self`); `.grad` of anything the model cannot trace (function arguments, attributes of
unknown objects); assignments such as `y.grad = None`; test files.

## Fix safety
No automatic fix: whether to call `retain_grad()`, read the leaf instead, or create the tensor on its
device/dtype depends on what was meant.

## Options
None.
"""
    VALID = (
        """\
import torch
x = torch.randn(3, requires_grad=True)
y = x * 2
y.retain_grad()
y.sum().backward()
print(y.grad)
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
(x * 2).sum().backward()
print(x.grad)
""",
        """\
import torch
for p in model.parameters():
    print(p.grad)
""",
        """\
import torch
c = torch.randn(3, requires_grad=True).to('cpu')
opt = torch.optim.SGD([c], lr=0.1)
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
with torch.no_grad():
    y = x * 2
print(y.grad)
""",
        """\
import torch
def f(t):
    return t.grad
""",
    )
    INVALID = (
        """\
import torch
x = torch.randn(3, requires_grad=True)
y = x * 2
y.sum().backward()
print(y.grad)  # gradlint-expect: GL008
""",
        """\
import torch
b = torch.randn(3, requires_grad=True) * 0.01  # gradlint-expect: GL008
opt = torch.optim.SGD([b], lr=0.1)
""",
        """\
import torch
w = torch.randn(3, requires_grad=True).cuda()  # gradlint-expect: GL008
opt = torch.optim.Adam([w])
""",
    )
    prefilter = (".grad", "optim")
    extensions = (TensorFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file:
            return
        facts = model.ext(TensorFacts)
        for read in facts.grad_reads:
            v = read.value
            if not self._nonleaf(facts, v):
                continue
            if any((uid, read.key) in facts.retained for uid in read.scopes):
                continue
            yield Finding(read.node, self._read_message(read.key, v))
        reported: set[int] = set()
        for op in facts.optimizer_params:
            v = op.value
            if not self._nonleaf(facts, v) or v.node is None or id(v.node) in reported:
                continue
            reported.add(id(v.node))
            opt = op.optimizer.replace("torch.optim.", "torch.optim.")
            if v.state == MOVED:
                yield Finding(
                    v.node,
                    f"`{op.key}` is a leaf that requires grad passed through {v.how}: whenever that moves or casts "
                    f"the tensor (a CUDA device), the result is a new non-leaf tensor, and handing it to `{opt}` "
                    f"raises `{OPTIMIZE}`; create it on its device (`device=...` in the factory) and set "
                    f"`requires_grad=True` there",
                )
            else:
                yield Finding(
                    v.node,
                    f"`{op.key}` is not a leaf: {v.how} of a tensor that requires grad returns a new tensor with a "
                    f"`grad_fn`, and handing it to `{opt}` raises `{OPTIMIZE}`; create the tensor with its final "
                    f"dtype/device/value first and make it a leaf afterwards (`(...).requires_grad_()`)",
                )

    @staticmethod
    def _nonleaf(facts: TensorFacts, v: Prov) -> bool:
        return v.state in (NONLEAF, MOVED) and facts.enabled(v)

    @staticmethod
    def _read_message(key: str, v: Prov) -> str:
        if v.state == MOVED:
            return (
                f"`{key}.grad`: `{key}` went through {v.how} after it was created with `requires_grad=True`; whenever "
                f"that moves the tensor (a CUDA device) `{key}` is a new non-leaf tensor, its `.grad` stays `None` and "
                f"reading it warns `{WARNING}`; create the tensor on its device (`device=...` in the factory)"
            )
        how = f" (made by {v.how})" if v.how else ""
        return (
            f"`{key}.grad` reads the gradient of a non-leaf tensor{how}: backward does not populate it, so it is "
            f"`None` and PyTorch warns `{WARNING}`; call `{key}.retain_grad()` before `backward()`, or read the "
            f"leaf's `.grad`"
        )
