"""GL017 requires-grad-on-nonleaf."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_tensors import NONLEAF, TensorFacts
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

MSG_FALSE = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a "
    "subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)
MSG_TRUE = "you can only change requires_grad flags of leaf variables."


class RequiresGradOnNonleaf(Rule):
    code = "GL017"
    name = "requires-grad-on-nonleaf"
    tier = "bug"
    summary = "Setting `.requires_grad` on a computed (non-leaf) tensor raises"
    docs = f"""\
## What it does
Flags `y.requires_grad = ...` (any value) and `y.requires_grad_(False)` where `y` is a non-leaf: the
result of an op on a tensor that requires grad, computed with grad mode on (`y = x * 2`,
`y = w.to(torch.float64)`, `y = model_param[0]`).

## Why is this bad?
Only leaves have a settable `requires_grad` flag. On PyTorch 2.13 every one of these raises:

```
y.requires_grad = False   ->  RuntimeError: {MSG_FALSE}
y.requires_grad_(False)   ->  RuntimeError: {MSG_FALSE}
y.requires_grad = True    ->  RuntimeError: {MSG_TRUE}
```

(the attribute form raises even when the flag is already `True`). `y.requires_grad_(True)` on a non-leaf
is accepted and is not flagged.

## Example
```python
x = torch.randn(3, requires_grad=True)
y = x * 2
y.requires_grad = False      # RuntimeError
```

## Use instead
```python
y = (x * 2).detach()         # a new leaf that does not require grad
```
or compute `y` under `torch.no_grad()`.

## Not flagged
Computed tensors that are leaves: results of ops on tensors that do not require grad (`c = a * b` of
plain data), tensors computed under `torch.no_grad()`/`inference_mode()`, `.detach()`ed tensors (all
verified to accept the flag); leaves themselves (parameters, factories); `requires_grad_(True)` /
`requires_grad_()`; model outputs and anything else the model cannot trace (it may be a leaf);
code inside `pytest.raises`/`assertRaises` blocks; test files.

## Fix safety
No automatic fix: `.detach()` and computing under `no_grad` both change what later code can
differentiate.

## Options
None.
"""
    VALID = (
        """\
import torch
a, b = torch.randn(3), torch.randn(3)
c = a * b
c.requires_grad = True
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
d = (x * 2).detach()
d.requires_grad_()
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
with torch.no_grad():
    e = x * 2
e.requires_grad = True
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
y = x * 2
y.requires_grad_(True)
""",
    )
    INVALID = (
        """\
import torch
x = torch.randn(3, requires_grad=True)
y = x * 2
y.requires_grad = False  # gradlint-expect: GL017
""",
        """\
import torch
x = torch.randn(3, requires_grad=True)
y = x.sum()
y.requires_grad_(False)  # gradlint-expect: GL017
""",
    )
    prefilter = ("requires_grad",)
    extensions = (TensorFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file:
            return
        facts = model.ext(TensorFacts)
        for s in facts.requires_grad_sets:
            v = s.value
            if v.kind != NONLEAF or not facts.enabled(v) or s.in_raises:
                continue
            if s.form == "method" and s.flag is not False:
                continue
            target = model.code(s.target)
            how = f" (made by {v.how})" if v.how else ""
            if s.form == "method":
                what, err = f"`{target}.requires_grad_(False)`", MSG_FALSE
            elif s.flag is False:
                what, err = f"`{target}.requires_grad = False`", MSG_FALSE
            elif s.flag is True:
                what, err = f"`{target}.requires_grad = True`", MSG_TRUE
            else:
                what, err = f"assigning `{target}.requires_grad`", MSG_TRUE
            if s.flag is True:
                advice = (f"it already requires grad (it was computed from a tensor that does): drop the "
                          f"assignment, or use `{target}.detach().requires_grad_()` for a new leaf")
            else:
                advice = (f"use `{target}.detach()` for a copy outside the graph, or compute it under "
                          f"`torch.no_grad()`")
            yield Finding(s.node, f"{what} on a non-leaf tensor{how} raises `RuntimeError: {err}`; {advice}")
