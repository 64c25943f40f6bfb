"""GL010 grad-mode-class-not-called."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_spellings import SpellingFacts
from gradlint.rules.base import Finding, FixSpec, InsertAfter, Rule
from gradlint.settings import RuleOptions

TYPE_ERROR = "'type' object does not support the context manager protocol"


class GradModeClassNotCalled(Rule):
    code = "GL010"
    name = "grad-mode-class-not-called"
    tier = "bug"
    summary = "`with torch.no_grad:` (or enable_grad / inference_mode / set_grad_enabled) without calling it"
    fixable = True
    docs = f"""\
## What it does
Flags a `with` item that names a grad-mode class without calling it: `with torch.no_grad:`,
`with torch.enable_grad:`, `with torch.inference_mode:`, `with torch.set_grad_enabled:` — through any
import alias (`import torch as T`, `from torch import no_grad`, `torch.autograd.no_grad`,
`torch.autograd.grad_mode.no_grad`). Reported at the `with` item.

## Why is this bad?
These are classes; the context manager is an *instance*. Entering the class itself fails, on
PyTorch 2.13 with Python 3.11:

```
TypeError: {TYPE_ERROR}
```

The error fires only when the line runs, so it hides in rarely executed code: an evaluation helper
whose only call site is commented out, a `predict()` nobody has called yet (10 such hits for the
literal `with torch.no_grad:` in indexed public code).

## Example
```python
def predict(self, X):
    with torch.no_grad:
        return self.model(X)
```

## Use instead
```python
def predict(self, X):
    with torch.no_grad():
        return self.model(X)
```

## Not flagged
Bare decorators — `@torch.no_grad`, `@torch.enable_grad`, `@torch.inference_mode` — work since
torch 2.1 (PR pytorch#107086) and are not flagged; `torch.no_grad(fn)` as a call; `with ctx:` where
`ctx = torch.no_grad()` is an instance; names of other libraries.

## Fix safety
The fix adds the call parentheses (`with torch.no_grad():`). It is safe: the uncalled form raises
`TypeError` whenever it runs, so no correct program depends on it. For `set_grad_enabled`, which needs
its `mode` argument, the fix writes `set_grad_enabled(False)` and is marked unsafe (check the intended
mode).

## Options
None.
"""
    VALID = (
        """\
import torch
with torch.no_grad():
    y = model(x)
""",
        """\
import torch
@torch.no_grad
def f(x):
    return model(x)
""",
        """\
import torch
ctx = torch.no_grad()
with ctx:
    y = model(x)
""",
        """\
import torch
with torch.set_grad_enabled(False):
    y = model(x)
""",
    )
    INVALID = (
        """\
import torch
with torch.no_grad:  # gradlint-expect: GL010
    y = model(x)
""",
        """\
from torch import inference_mode
with inference_mode:  # gradlint-expect: GL010
    y = model(x)
""",
        """\
import torch as T
with T.enable_grad, open('f') as fh:  # gradlint-expect: GL010
    pass
""",
    )
    prefilter = ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")
    extensions = (SpellingFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(SpellingFacts)
        for item in facts.uncalled_with_items:
            if item.kind == "set_grad_enabled":
                fix = FixSpec("Call it: `set_grad_enabled(False)`", (InsertAfter(item.item.item, "(False)"),), safe=False)
                suggest = f"`with {item.text}(False):` (or `True`)"
            else:
                fix = FixSpec("Add the call parentheses", (InsertAfter(item.item.item, "()"),), safe=True)
                suggest = f"`with {item.text}():`"
            yield Finding(
                item.item,
                f"`with {item.text}:` enters the class, not a context manager: it raises `TypeError: {TYPE_ERROR}` "
                f"when this line runs; call it: {suggest}",
                fix,
            )
