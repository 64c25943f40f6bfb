"""GL019 graph-cut-by-rewrap."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_tensors import TensorFacts
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class GraphCutByRewrap(Rule):
    code = "GL019"
    name = "graph-cut-by-rewrap"
    tier = "bug"
    summary = "A graph value taken out with .item()/.numpy()/.detach() and re-wrapped as a fresh tensor"
    docs = """\
## What it does
Flags a re-wrapping call — `torch.tensor(...)`, `torch.from_numpy(...)`, `torch.as_tensor(...)`,
`torch.Tensor(...)` — whose data was taken out of an autograd graph (`loss.item()`, `h.detach().numpy()`,
`float(out)`, `.tolist()`, `.data`, or `torch.tensor(t)` of a graph tensor itself — also through NumPy
post-processing, `sorted(...)`/`max(...)` and functions called on what was taken out, such as a metric
computed by `f1_numpy(probs.detach().numpy(), y)`), when the new tensor is then used as if it were still
connected:

* it is created with `requires_grad=True` and `backward()` is called on it (or on something computed
  from it), or
* it is made inside an `nn.Module`'s `forward` and flows into a later layer call or the returned output.

"Graph values" are outputs of models/layers and results of ops on tensors that require grad, computed
with grad mode on.

## Why is this bad?
The re-wrapped tensor is a new leaf with no history. `backward()` runs without any error, but stops at
it: nothing upstream — the model's parameters — receives a gradient. Measured on PyTorch 2.13 (the
catalogue's `GL011_bad_b_loss_rewrapped` and `NEW_N9_bad_detach_in_forward`): after
`loss = torch.tensor(out.pow(2).mean().item(), requires_grad=True); loss.backward(); opt.step()` the
model's `weight.grad` is `None` and its weights are unchanged after three steps; with
`h = torch.from_numpy(h.detach().numpy())` in `forward`, the layers before it get `grad=None` while the
head still trains. Training "works" and never improves the cut-off part.

## Example
```python
loss_value = criterion(model(x), y).item()
loss = torch.tensor(loss_value, requires_grad=True)   # a fresh leaf
loss.backward()                                       # model gets no gradient
```

## Use instead
```python
loss = criterion(model(x), y)
loss.backward()
print(loss.item())                                    # .item() only for logging
```
and in `forward`, express NumPy post-processing with torch ops so it stays in the graph.

## Not flagged
`torch.tensor(loss.item())` used only for logging or metrics (no `requires_grad=True`, not fed into a
layer or a backward); re-wrapped values handed to an optimizer or `nn.Parameter` (a deliberately new
leaf, e.g. a learnable temperature initialised from a statistic); values computed under
`torch.no_grad()`; re-wrapping in a `forward` whose result is only part of a returned tuple/dict
(auxiliary statistics); a backpropagated value or layer input that also depends on a live graph value
(REINFORCE's `-(log_prob * torch.tensor(reward, requires_grad=True))`, `self.head(cut + h)`: gradients
still reach the model through the live part); `torch.as_tensor(t)` of a tensor (returns `t` itself);
data that never was in a graph; test files.

## Fix safety
No automatic fix: the computation has to be rewritten with torch ops.

## Options
None.
"""
    VALID = (
        """\
import torch
out = model(x)
lv = out.mean().item()
logged = torch.tensor(lv)
history.append(logged)
""",
        """\
import torch
loss = model(x).mean()
loss.backward()
print(torch.tensor(loss.item()))
""",
        """\
import torch
with torch.no_grad():
    s = model(x).std().item()
t = torch.tensor(s, requires_grad=True)
(t * 2).backward()
""",
    )
    INVALID = (
        """\
import torch
out = model(x)
lv = out.pow(2).mean().item()
loss = torch.tensor(lv, requires_grad=True)  # gradlint-expect: GL019
loss.backward()
""",
        """\
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)
    def forward(self, x):
        h = self.enc(x)
        h = torch.from_numpy(h.detach().numpy())  # gradlint-expect: GL019
        return self.head(h)
""",
    )
    prefilter = ("tensor", "Tensor", "from_numpy", "asarray")
    prefilter_needs_torch = "torch"  # only calls that resolve to torch.<rewrap> are checked
    extensions = (TensorFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file:
            return
        facts = model.ext(TensorFacts)
        for ev in facts.rewraps:
            if ev.trained or not facts.enabled_conds(ev.conds):
                continue
            call = model.code(ev.node)
            if ev.requires_grad and ev.reached_backward:
                yield Finding(
                    ev.node,
                    f"`{call}` re-wraps {ev.source}, a value taken out of the autograd graph, as a fresh leaf: "
                    f"`backward()` runs without error but stops at this leaf, so the parameters that computed it "
                    f"get no gradient (`.grad` stays `None`, the optimizer never changes them); call `backward()` "
                    f"on the original tensor and use `.item()` only for logging",
                )
            elif ev.in_forward and (ev.reached_module or ev.reached_return):
                yield Finding(
                    ev.node,
                    f"`{call}` in `forward` re-wraps {ev.source}, a value taken out of the autograd graph: the "
                    f"output is computed from a fresh tensor with no history, so backward stops here and every "
                    f"layer before it gets no gradient (`.grad` stays `None`, they never train); express this "
                    f"step with torch ops on the original tensor",
                )
