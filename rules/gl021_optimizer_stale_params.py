"""GL021 optimizer-stale-params."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_modules import ModuleFacts, Reassign
from gradlint.model.training import Optimizer
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions


class OptimizerStaleParams(Rule):
    code = "GL021"
    name = "optimizer-stale-params"
    tier = "bug"
    summary = "A submodule or parameter is replaced after an optimizer captured `model.parameters()`"
    default_enabled = False
    docs = """\
## What it does
Flags an assignment that puts a new module with parameters, or a new `nn.Parameter`, on an attribute or
item of a model (`model.fc = nn.Linear(512, 10)`, `model[2] = nn.Linear(8, 3)`,
`model.weight = nn.Parameter(w)`) after an optimizer was built from that model's `.parameters()` /
`.named_parameters()` (directly, through a name holding them, or in param-group dicts) in the same
function, when the optimizer is still used afterwards and no optimizer is built (and no
`add_param_group` called) after the assignment. Reported at the assignment.

## Why is this bad?
An optimizer keeps references to the parameter tensors it was given. The new module's parameters are
other tensors: `backward()` fills their `.grad`, but `optimizer.step()` never touches them. Nothing
raises; measured on PyTorch 2.13 (`nn.Sequential` head swapped after `SGD(model.parameters())`, three
steps):

```
new head has grad: True | new head updated: False
```

The swapped-in layer — usually the one fine-tuning is meant to train — keeps its random initialisation.

## Example
```python
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
model.fc = nn.Linear(512, 10)
train(model, optimizer)
```

## Use instead
```python
model.fc = nn.Linear(512, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
train(model, optimizer)
```
(or `optimizer.add_param_group({"params": model.fc.parameters()})`).

## Not flagged
An optimizer created after the assignment (or in the same loop iteration), `add_param_group` after it;
`model.to(device)` / `model.half()` (they keep parameter identity: the optimizer still holds them);
`model.fc = model.fc.to(device)`; parameter-free replacements (`nn.Identity()`, `nn.ReLU()`,
`nn.Dropout()`); assigning to a model whose optimizer was built from a different model, or from another
submodule (`SGD(model.backbone.parameters())` then `model.head = ...`); an optimizer never used after the
assignment; an optimizer and an assignment in different functions.

## Why it is off by default
The replacement can be deliberate: the new module is meant to stay frozen, the optimizer is rebuilt in a
function gradlint does not follow (a `configure_optimizers()` called later, a trainer object), or the
old optimizer is only used by code the assignment never reaches. The rule does not follow the optimizer
across functions, so it cannot rule these out. Enable it with `--extend-select GL021`.

## Fix safety
No automatic fix: moving the optimizer's construction, or adding a param group (with which learning
rate?), is the author's choice.

## Options
None.
"""
    VALID = (
        """\
import torch
import torch.nn as nn
model.fc = nn.Linear(512, 10)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
opt.step()
""",
        """\
import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.to(torch.float64)
opt.step()
""",
        """\
import torch
import torch.nn as nn
opt = torch.optim.SGD(other.parameters(), lr=0.1)
model.fc = nn.Linear(512, 10)
opt.step()
""",
    )
    INVALID = (
        """\
import torch
import torch.nn as nn
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.fc = nn.Linear(512, 10)  # gradlint-expect: GL021
opt.step()
""",
        """\
import torch
from torch import nn, optim
model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
opt = optim.Adam(model.parameters())
model[1] = nn.Linear(8, 3)  # gradlint-expect: GL021
for x in data:
    opt.step()
""",
    )
    prefilter = ("optim",)
    extensions = (ModuleFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(ModuleFacts)
        if not facts.optimizers or not facts.reassigns:
            return
        for ra in facts.reassigns:
            stale = [opt for opt in facts.optimizers if _captures(opt, ra) and opt.seq < ra.seq
                     and opt.function is ra.function]
            if not stale or _rebuilt_after(facts, ra):
                continue
            used = [opt for opt in stale if _used_after(facts, opt, ra)]
            if not used:
                continue
            opt = max(used, key=lambda o: o.seq)
            owner = next(r for r in sorted(opt.receivers) if _under(ra.path, r))
            var = f"`{opt.var}`" if opt.var else "the optimizer"
            yield Finding(
                ra.node,
                f"`{model.code(ra.target)}` is replaced by {ra.what} after {var} captured `{owner}.parameters()` "
                f"(`{model.code(opt.node, 50)}`): the optimizer still holds the old tensors, so the new "
                "parameters get gradients but `step()` never updates them; build the optimizer after this "
                f"assignment, or add them with `{opt.var or 'optimizer'}.add_param_group(...)`",
            )


def _under(path: str, receiver: str) -> bool:
    return path == receiver or path.startswith(receiver + ".") or path.startswith(receiver + "[")


def _related(path: str, receiver: str) -> bool:
    return _under(path, receiver) or _under(receiver, path) or _under(path.split("[", 1)[0], receiver)


def _captures(opt: Optimizer, ra: Reassign) -> bool:
    return any(_under(ra.path, r) for r in opt.receivers)


def _rebuilt_after(facts: ModuleFacts, ra: Reassign) -> bool:
    for opt in facts.optimizers:
        if opt.function is not ra.function or not any(_related(ra.path, r) for r in opt.receivers):
            continue
        if opt.seq > ra.seq:
            return True
    for seq, fn in facts.add_param_groups:
        if seq > ra.seq or any(lp.seq < seq <= lp.end_seq for lp in ra.loops if lp.function is fn):
            return True
    return False


def _used_after(facts: ModuleFacts, opt: Optimizer, ra: Reassign) -> bool:
    if opt.var is None:
        return False
    last = opt.var.rsplit(".", 1)[-1]
    if any(seq > ra.seq and fn is opt.function for seq, fn in facts.opt_rebinds.get(last, ())):
        return False  # `optimizer = make_optimizer(model)` after the assignment: rebuilt
    uses = facts.opt_uses.get(last, [])
    for seq in uses:
        if seq > ra.seq:
            return True
        if any(lp.seq < seq <= lp.end_seq for lp in ra.loops):
            return True  # used earlier in a loop that also does the assignment: the next iteration uses it
    return False
