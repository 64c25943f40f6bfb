"""GL017 requires-grad-on-nonleaf."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

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
    summary = "Setting `.requires_grad` on a computed (non-leaf) tensor raises; on a temporary it does nothing"
    docs = f"""\
## What it does
Flags `y.requires_grad = ...` (any value) and `y.requires_grad_(False)` where `y` is a non-leaf: the
result of an op on a tensor that requires grad, computed with grad mode on (`y = x * 2`,
`y = w.to(torch.float64)`, `y = model_param[0]`), or the output of a torch layer built in the file with
trainable weights (`emb = self.embedding(tokens)` for an `nn.Embedding`, an `nn.Linear`, a convolution),
or a loss module's value on such a tensor (`loss = criterion(pred, y)` with `criterion = nn.MSELoss()`).

Also flags the flag set on a **temporary**, a new tensor object made by the very expression whose flag is
set and then thrown away — a no-op freeze: `model.fc.weight.data.requires_grad = False`,
`w.data[:, :2].requires_grad = False`, `p.detach().requires_grad = False`, `p.data.requires_grad_(False)`
on a tensor that requires grad, and `x.float().requires_grad = True` (an integer or float64 `x`),
`x.cuda().requires_grad = True` (a CPU `x` made by a factory), `x[:2].requires_grad = True` on a tensor
that does not.

## Why is this bad?
Only leaves have a settable `requires_grad` flag. On PyTorch 2.13 every one of these raises:

```
y.requires_grad = False   ->  RuntimeError: {MSG_FALSE}
y.requires_grad_(False)   ->  RuntimeError: {MSG_FALSE}
y.requires_grad = True    ->  RuntimeError: {MSG_TRUE}
```

(the attribute form raises even when the flag is already `True`). `y.requires_grad_(True)` on a non-leaf
is accepted and is not flagged.

A temporary raises nothing and changes nothing. `.data`, `.detach()`, indexing, and a conversion that
changes the dtype or the device each return a new tensor object; the flag is set on it and it is thrown
away. On PyTorch 2.13, after `model[0].weight.data.requires_grad = False` (or the `.detach()` or
`.data[:, :2]` forms) `model[0].weight.requires_grad` is still `True` and the layer keeps training; after
`x.float().requires_grad = True` on an int64 `x`, `x.requires_grad` is `False` and nothing computed from
`x` has a gradient. `requires_grad` belongs to a whole tensor: part of one (`w.data[:, :2]`) cannot be
frozen at all.

## Example
```python
x = torch.randn(3, requires_grad=True)
y = x * 2
y.requires_grad = False      # RuntimeError
model.fc.weight.data.requires_grad = False   # no effect: fc.weight keeps training
```

## Use instead
```python
y = (x * 2).detach()         # a new leaf that does not require grad
```
or compute `y` under `torch.no_grad()`; for a freeze, set the flag on the tensor itself, and for a
conversion, bind the result first:
```python
model.fc.weight.requires_grad = False
x = x.float()
x.requires_grad = True
```

## Not flagged
Computed tensors that are leaves: results of ops on tensors that do not require grad (`c = a * b` of
plain data), tensors computed under `torch.no_grad()`/`inference_mode()`, `.detach()`ed tensors (all
verified to accept the flag); leaves themselves (parameters, factories); `requires_grad_(True)` /
`requires_grad_()`; outputs of models, and of layers that may be frozen (`requires_grad_(False)`, a loop over
their parameters, a frozen weight, `from_pretrained`), and anything else the model cannot trace (it may be a
leaf);
code inside `pytest.raises`/`assertRaises` blocks; test files. For temporaries: a result that is bound
or used (`t = x.clone().detach().requires_grad_()`); a conversion that may return the tensor itself
(`x.float()` of a float32 `x`, `x.to("cpu")`, `.cuda()`/`.to(...)` of a tensor whose device is not known);
an element of a list or dict (`params[0]`, `model._modules[name]`: the stored object itself); freezing what
does not require grad, or asking what already does (no effect either way); `.data` of a value the model does
not know to be a tensor (a `PackedSequence` stores its `.data`); a flag that is not a constant.

## Fix safety
No automatic fix: `.detach()` and computing under `no_grad` both change what later code can
differentiate; for a temporary, which tensor was meant is the author's call.

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
            if s.temporary and v.state != NONLEAF:
                # a no-op: freezing a tensor that requires grad, or asking a plain one to require grad
                if (not s.in_raises and (s.form == "attr" or s.whole_statement)
                        and s.flag is not None and s.owner_requires_grad is (not s.flag)):
                    yield Finding(s.node, self._temporary_message(model, s))
                continue
            if v.state != NONLEAF or not facts.enabled(v) or s.in_raises:
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

    @staticmethod
    def _temporary_message(model: SemanticModel, s) -> str:
        target, owner = model.code(s.target), model.code(s.owner)
        if s.form == "method":
            what = f"`{model.code(s.node)}`"
        else:
            what = f"`{target}.requires_grad = {model.code(s.node.value)}`"
        head = (f"{what} sets the flag on a temporary tensor (a new tensor object made by {s.temporary}) that is "
                f"thrown away: `{owner}` itself is unchanged")
        if s.flag is False:
            if type(s.target) is cst.Subscript:
                return (f"{head} and still requires grad, so all of it keeps training; `requires_grad` is a flag of "
                        f"a whole tensor and part of one cannot be frozen: to keep `{target}` fixed, zero that part "
                        f"of the gradient (a hook on `{owner}`) or keep it in a separate tensor that does not "
                        "require grad")
            return (f"{head}: it still requires grad and keeps training; set the flag on the tensor itself: "
                    f"`{owner}.requires_grad = False` (or `{owner}.requires_grad_(False)`)")
        return (f"{head} and does not require grad, nor does anything computed from it; bind the new tensor "
                f"and set the flag on it: `t = {target}.requires_grad_()`, then use `t`")
