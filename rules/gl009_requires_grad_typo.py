"""GL009 requires-grad-typo."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_spellings import SpellingFacts
from gradlint.rules.base import Finding, FixSpec, Replace, Rule
from gradlint.settings import RuleOptions

import re

import libcst as cst

from gradlint import edits as fixes


class RequiresGradTypo(Rule):
    code = "GL009"
    name = "requires-grad-typo"
    tier = "bug"
    summary = "Misspelt `requires_grad` attribute (`require_grad = False`), or `module.requires_grad = ...` on an nn.Module"
    fixable = True
    docs = """\
## What it does
Flags assignments to an attribute whose name is a close misspelling of `requires_grad` —
`require_grad`, `requires_grads`, `require_grads`, `requieres_grad`, `requiresGrad`, `required_grad`
(edit distance ≤ 2, ignoring case and underscores) — in a plain, chained
(`a.require_grad = b.require_grad = False`) or annotated assignment, or through
`setattr(x, "require_grad", ...)`. Reported at the attribute name.

Also flags `module.requires_grad = False` (or `True`) when the receiver is known to be an `nn.Module`
(a layer built from `torch.nn`, an instance of an `nn.Module` subclass of this file, a name such as
`model`/`backbone`/`encoder`, a submodule `model[0]`), and misspelt `requires_grad=` keywords of torch
factories, `nn.Parameter(...)` and `.requires_grad_()`.

## Why is this bad?
Tensors and modules accept any attribute, so the misspelt assignment **silently does nothing**: the
"frozen" layer keeps training. Verified on PyTorch 2.13:
`p.require_grad = False` for every parameter of the first layer, then one SGD step: no error, the layer
was updated anyway, `p.requires_grad` is still `True` (udacity/deep-learning-v2-pytorch #12, the
transfer-learning solution; the VS Code snippet of SvenBecker/vscode-pytorch #8).

`nn.Module` has a *method* `requires_grad_()` but no `requires_grad` attribute: `model.requires_grad =
False` only stores a Python attribute on the module, and every parameter still has `requires_grad=True`
(verified). The method is `model.requires_grad_(False)`.

When the module is mentioned nowhere in the file outside the method that sets the flag (a layer built and
"frozen" in `__init__` that no `forward` uses), the no-op changes nothing observable today: that finding is
hygiene.

A misspelt keyword is loud instead: `torch.zeros(3, require_grad=True)` raises
`TypeError: zeros() got an unexpected keyword argument 'require_grad'`, `nn.Parameter(t, require_grad=False)`
raises `TypeError: Parameter.__new__() got an unexpected keyword argument 'require_grad'` — flagged
so it is caught before the line runs.

## Example
```python
for p in model.backbone.parameters():
    p.require_grad = False
model.head.requires_grad = False
```

## Use instead
```python
for p in model.backbone.parameters():
    p.requires_grad = False
model.head.requires_grad_(False)
```

## Not flagged
`requires_grad_()` calls and the correctly spelt attribute; names that only contain the word
(`self.require_grad_flag`, `self._requires_grad`); attributes assigned on `self` (a class's own
field); a misspelt attribute that the file also reads (`cfg.require_grad = True` ... `if cfg.require_grad:`
— a user-defined attribute, spelt consistently); dictionary keys (`d["require_grad"]`);
`x.requires_grad = False` on tensors and parameters, and on receivers not known to be modules;
`module.requires_grad = ...` in a file whose classes read `self.requires_grad` or define a `requires_grad`
property (they define their own).

## Fix safety
The typo fix renames the attribute to `requires_grad` (for `setattr`, the string): it is **unsafe**, as it
changes what the program computes — the tensors really get frozen (that is the intent) — and the
receiver might be a user object with its own attribute of that name. The module fix rewrites
`model.requires_grad = False` to `model.requires_grad_(False)`: also unsafe (it really freezes the
parameters). Keyword typos are renamed, unsafe for the same reason.

## Options
None.
"""
    VALID = (
        """\
import torch
for p in model.parameters():
    p.requires_grad = False
""",
        """\
import torch
model.requires_grad_(False)
""",
        """\
import torch
class C:
    def __init__(self):
        self.require_grad_flag = True
        self.require_grad = False
""",
        """\
import torch
cfg.require_grad = True
if cfg.require_grad:
    pass
""",
        """\
import torch
d = {}
d['require_grad'] = False
""",
        """\
import torch
w = torch.randn(3)
w.requires_grad = True
""",
    )
    INVALID = (
        """\
import torch
for p in model.parameters():
    p.require_grad = False  # gradlint-expect: GL009
""",
        """\
import torch
setattr(t, 'requires_grads', True)  # gradlint-expect: GL009
""",
        """\
import torch.nn as nn
layer = nn.Linear(3, 3)
layer.requires_grad = False  # gradlint-expect: GL009
""",
        """\
import torch
x = torch.zeros(3, require_grad=True)  # gradlint-expect: GL009
""",
    )
    prefilter = ("grad", "Grad", "GRAD", "gard", "Gard")
    extensions = (SpellingFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(SpellingFacts)
        for t in facts.typo_attrs:
            if t.attr in facts.attr_reads:
                continue
            if isinstance(t.node, cst.SimpleString):
                quote = t.node.value[0] if t.node.value[0] in "'\"" else '"'
                edit = Replace(t.node, f"{quote}requires_grad{quote}")
            else:
                edit = Replace(t.node, "requires_grad")
            yield Finding(
                t.node,
                f"`{t.attr}` is a misspelling of `requires_grad`: the {t.how} on `{model.code(t.receiver)}` just stores a new "
                "Python attribute and silently changes nothing (the tensors keep their `requires_grad`, a \"frozen\" "
                "layer keeps training); write `requires_grad`",
                FixSpec("Rename to `requires_grad`", (edit,), safe=False),
            )
        # a class of this file that reads `self.requires_grad` or defines a `requires_grad` property has its own
        if not facts.self_requires_grad_read and not any(f.name == "requires_grad" for f in model.functions):
            for m in facts.module_requires_grad:
                value = "False" if m.value is False else "True" if m.value is True else None
                recv = model.code(m.node.value)
                fix = None
                if value is not None:
                    stmt = m.stmt
                    if stmt is not None:
                        fix = FixSpec(f"Use `{recv}.requires_grad_({value})`",
                                      (Replace(stmt, f"{model.code(m.node.value, 10_000)}.requires_grad_({value})"),),
                                      safe=False)
                verb = "freezes" if m.value is False else "changes"
                unused = _unused_submodule(model, m.node)
                yield Finding(
                    m.node.attr,
                    f"`{recv}` is an `nn.Module` ({m.origin}): `{recv}.requires_grad = "
                    f"{value or '...'}` only sets a Python attribute on the module and {verb} none of its parameters "
                    f"(they keep their `requires_grad`){unused}; use `{recv}.requires_grad_({value or 'False'})`",
                    fix,
                    tier="hygiene" if unused else None,
                )
        for k in facts.kwarg_typos:
            callee = k.callee.replace("torch.nn.parameter.", "nn.").replace("torch.nn.", "nn.")
            yield Finding(
                k.node.keyword,
                f"`{k.keyword}=` is a misspelling of `requires_grad=`: `{callee}(...)` raises `TypeError: ... got an "
                f"unexpected keyword argument '{k.keyword}'` when this line runs; write `requires_grad=`",
                FixSpec("Rename to `requires_grad=`", (Replace(k.node.keyword, "requires_grad"),), safe=False),
            )



def _unused_submodule(model: SemanticModel, target: cst.Attribute) -> str:
    """For `self.X.requires_grad = ...` in a method: words for the message when `X` is mentioned nowhere in the
    file outside that method (a layer built and "frozen" in `__init__` that no `forward` uses: the no-op
    changes nothing observable today), else ""."""
    recv = target.value
    if not (isinstance(recv, cst.Attribute) and isinstance(recv.value, cst.Name) and recv.value.value == "self"):
        return ""
    node: cst.CSTNode | None = target
    while node is not None and not isinstance(node, cst.FunctionDef):
        node = fixes.parent_of(model, node)
    if node is None:
        return ""
    word = re.compile(r"\." + re.escape(recv.attr.value) + r"\b")
    inside = len(word.findall(model.module.code_for_node(node)))
    if len(word.findall(model.source_text)) > inside:
        return ""
    return (f" — `{model.code(recv)}` is used nowhere outside `{node.name.value}()`, so nothing observable changes "
            "until a `forward` uses it")
