"""GL018 dropout-ignores-eval."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import SemanticModel
from gradlint.model.ext_modules import DropoutCall, ModuleFacts
from gradlint.rules.base import Finding, FixSpec, InsertAfter, Replace, Rule
from gradlint.settings import RuleOptions


class DropoutIgnoresEval(Rule):
    code = "GL018"
    name = "dropout-ignores-eval"
    tier = "bug"
    summary = "Dropout in a module's `forward` that stays active in eval mode (`F.dropout` without `training=`)"
    fixable = True
    docs = """\
## What it does
Inside the `forward` of an `nn.Module` subclass (and the methods of the same class that `forward` calls
as `self.<method>(...)`), flags:

* `F.dropout(x, p)` — also `F.dropout1d/2d/3d` — called without a `training` argument;
* an `nn.Dropout(...)` (or `Dropout1d/2d/3d`, `AlphaDropout`, `FeatureAlphaDropout`) constructed there
  and applied right away;
* `F.scaled_dot_product_attention(..., dropout_p=<value>)` whose `dropout_p` is a non-zero number or a
  module attribute (`self.dropout`) not gated on `self.training`.

Reported at the call.

## Why is this bad?
`F.dropout`'s signature is `dropout(input, p=0.5, training=True, inplace=False)`: it knows nothing of
the module's mode and drops activations in `model.eval()` too. A module constructed inside `forward`
is new on every call and always in training mode; `scaled_dot_product_attention` applies `dropout_p`
whatever the mode. Nothing raises: evaluation and inference are silently random and worse. Measured on
PyTorch 2.13 with the model in eval mode under `torch.no_grad()`:

```
A (F.dropout(x, p=0.5)):              eval mode, two calls identical: False
B (nn.Dropout(p=0.5)(x) in forward):  eval mode, two calls identical: False
C (SDPA dropout_p=0.5):               eval mode, two calls identical: False
```

Real fixes: nanoGPT #240, torchtune #1803, apex #1449, thinc #355, NTS-Net #14.

## Example
```python
class Block(nn.Module):
    def forward(self, x):
        return F.dropout(self.fc(x), p=0.1)
```

## Use instead
```python
class Block(nn.Module):
    def forward(self, x):
        return F.dropout(self.fc(x), p=0.1, training=self.training)
```
(or an `nn.Dropout` built in `__init__`; for attention,
`dropout_p=self.dropout if self.training else 0.0`).

## Not flagged
`training=` given in any form (`training=self.training`, a third positional argument
`F.dropout(x, p, self.training)`, `training=self.training and self.use_dropout`, an explicit
`training=True` — deliberate always-on dropout such as Tacotron 2's prenet or Monte Carlo dropout); calls
under `if self.training:` or in `... if self.training else ...`; `F.dropout` outside a module's methods
(functional code, where the caller passes the flag); `p=0`; `dropout_p` computed from a training flag
(`self.dropout if self.training else 0.0`, a local assigned under `if not self.training:`) or passed
in as an argument; `*args` / `**kwargs` calls; `self.drop = nn.Dropout(p)` (a registered submodule that
follows the mode); `F.alpha_dropout` / `F.feature_alpha_dropout`, whose `training` defaults to False.

## Fix safety
For `F.dropout*` without `training`, the fix adds `training=self.training` (using the method's own name
for `self`). It is **unsafe**: it changes nothing in training mode, but in eval mode it turns dropout off,
which changes what the program computes — the point of the fix, but a program that wanted dropout at
inference (Monte Carlo dropout, Tacotron 2's prenet) would change meaning silently. No fix for modules
constructed in `forward` or for `dropout_p`.

## Options
None.
"""
    VALID = (
        """\
import torch.nn as nn
import torch.nn.functional as F
class A(nn.Module):
    def forward(self, x):
        return F.dropout(x, p=0.5, training=self.training)
""",
        """\
import torch.nn as nn
import torch.nn.functional as F
class A(nn.Module):
    def forward(self, x):
        return F.dropout(x, 0.5, self.training)
""",
        """\
import torch.nn.functional as F
def mlp(x, w, training):
    return F.dropout(x @ w, 0.5)
""",
        """\
import torch.nn as nn
import torch.nn.functional as F
class C(nn.Module):
    def forward(self, q):
        return F.scaled_dot_product_attention(q, q, q, dropout_p=self.p if self.training else 0.0)
""",
    )
    INVALID = (
        """\
import torch.nn as nn
import torch.nn.functional as F
class A(nn.Module):
    def forward(self, x):
        return F.dropout(x, p=0.5)  # gradlint-expect: GL018
""",
        """\
import torch.nn as nn
class B(nn.Module):
    def forward(self, x):
        return nn.Dropout(p=0.5)(x)  # gradlint-expect: GL018
""",
        """\
import torch.nn as nn
import torch.nn.functional as F
class C(nn.Module):
    def forward(self, q):
        return F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)  # gradlint-expect: GL018
""",
    )
    prefilter = ("ropout", "scaled_dot_product_attention")
    prefilter_needs_torch = "torch"  # only calls that resolve to torch.nn.* are checked
    extensions = (ModuleFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(ModuleFacts)
        if not facts.dropout_calls:
            return
        for call in facts.dropout_calls:
            if not model.runs_in_forward(call.method):
                continue
            yield _finding(call)


def _finding(call: DropoutCall) -> Finding:
    name = call.func_text
    where = f"`{call.method.name}`" + ("" if call.method.name == "forward" else " (called from `forward`)")
    self_name = call.fix_self or "self"
    if call.kind == "functional":
        fix = None
        args = [a for a in call.node.args]
        if args and call.fix_self is not None:
            fix = FixSpec(
                f"Pass `training={self_name}.training`",
                (InsertAfter(args[-1].value, f", training={self_name}.training"),),
                safe=False,
            )
        return Finding(
            call.node,
            f"`{name}(...)` in {where} has no `training` argument and it defaults to True: dropout stays "
            "active after `model.eval()`, so evaluation and inference are random and degraded; pass "
            f"`training={self_name}.training`",
            fix=fix,
        )
    if call.kind == "module":
        fix = None
        if call.fix_self is not None:
            fix = FixSpec(
                f"Make the new module follow the mode: `.train({self_name}.training)`",
                (InsertAfter(call.node, f".train({self_name}.training)"),),
                safe=False,
            )
        return Finding(
            call.node,
            f"`{name}(...)` is constructed inside {where}: a new module is always in training mode, so this "
            "dropout stays active after `model.eval()` (evaluation and inference are random and degraded); "
            f"create it once in `__init__` (`{self_name}.drop = {name}(...)`) or use "
            f"`F.dropout(x, p, training={self_name}.training)`",
            fix=fix,
        )
    fix = None
    if call.fix_self is not None and call.dropout_p is not None:
        value = call.dropout_p
        text = call.dropout_p_code
        if not isinstance(value, (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript)):
            text = f"({text})"
        fix = FixSpec(
            f"Gate `dropout_p` on `{self_name}.training`",
            (Replace(value, f"{text} if {self_name}.training else 0.0"),),
            safe=False,
        )
    return Finding(
        call.node,
        f"`{name}(...)` in {where} applies `dropout_p` whatever the module's mode: attention weights are "
        "dropped after `model.eval()` too, so evaluation and inference are random and degraded; pass "
        f"`dropout_p=<p> if {self_name}.training else 0.0`",
        fix=fix,
    )
