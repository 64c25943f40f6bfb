"""GL015 requires-grad-int-dtype."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import SemanticModel
from gradlint.model.ext_tensors import PLAIN, FactoryGrad, TensorFacts, _is_int_dtype
from gradlint.rules.base import Finding, FixSpec, InsertBefore, Replace, Rule, torch_ref
from gradlint.settings import RuleOptions

MSG_FACTORY = "Only Tensors of floating point and complex dtype can require gradients"
MSG_METHOD = "only Tensors of floating point dtype can require gradients"
MSG_ATTR = "only Tensors of floating point and complex dtype can require gradients"


class RequiresGradIntDtype(Rule):
    code = "GL015"
    name = "requires-grad-int-dtype"
    tier = "bug"
    summary = "`requires_grad=True` on an integer or bool tensor raises"
    fixable = True
    docs = f"""\
## What it does
Flags asking for gradients of a tensor whose dtype is an integer or bool:

* `requires_grad=True` in a factory call built from integer/bool literals (`torch.tensor([1, 2, 3], ...)`,
  `torch.tensor(5, ...)`, `torch.full((3,), 7, ...)`), `torch.arange` of integers, `torch.randint`,
  `torch.randperm`, or an explicit integer/bool `dtype=` (`torch.long`, `torch.int32`, `torch.uint8`,
  `torch.bool`, ...) — reported at the `requires_grad=` keyword;
* `nn.Parameter(...)` of such a tensor (a Parameter requires grad by default) — reported at the call;
* `t.requires_grad_()` / `t.requires_grad = True` on a tensor the file made with an integer dtype, an integer
  cast (`.long()`), or indices (`pred = out.argmax(1)`, `.argsort()`, `.nonzero()`).

## Why is this bad?
Only floating point (and complex) tensors can have gradients; PyTorch 2.13 raises right there:

```
torch.tensor([1, 2, 3], requires_grad=True)   ->  RuntimeError: {MSG_FACTORY}
torch.tensor([1, 2]).requires_grad_()         ->  RuntimeError: {MSG_METHOD}
t.requires_grad = True   (t integer)          ->  RuntimeError: {MSG_ATTR}
```

## Example
```python
w = torch.tensor([1, 2, 3], requires_grad=True)
steps = torch.arange(5, requires_grad=True)
```

## Use instead
```python
w = torch.tensor([1., 2., 3.], requires_grad=True)
steps = torch.arange(5, dtype=torch.float32, requires_grad=True)
```

## Not flagged
Float literals (`[1., 2.]`, `[1, 2.5]`), `dtype=torch.float*`/`torch.double`/`torch.half`/complex dtypes,
`torch.randn`/`zeros`/`ones`/`rand`/`linspace`/`range` without an integer `dtype=` (floating by default),
`torch.arange` with a float argument, `requires_grad=flag` (not a constant), data the file cannot see
(`torch.tensor(array, requires_grad=True)`), `requires_grad_(False)`; code inside `pytest.raises` /
`assertRaises` blocks; test files.

## Fix safety
When the integer dtype comes from the literals (`torch.tensor([1, 2])`, `torch.arange(5)`,
`torch.full(s, 7)`) the fix writes them as floats (`1.`), which gives the tensor torch's default
floating dtype — what the same code with float literals gets; for `torch.randint`/`torch.randperm`, and
`torch.arange` of integer names (`torch.arange(N)`), it adds `dtype=torch.float32`. This fix is **safe**: the original line always raises, so no program that
ran correctly ever got past it, and nothing a correct program computes can change. Two exceptions are
offered as unsafe fixes: a call inside a `try:` block (a program may have relied on catching the
error), and an explicit integer `dtype=` (the fix replaces it with `torch.float32`, overriding a choice
the author wrote down — perhaps `requires_grad=True` was the mistake). `t.requires_grad_()` and
`t.requires_grad = True` on an integer tensor `t` (a whole statement) get the unsafe fix
`t = t.float().requires_grad_()`: `t` was made integer on purpose and later code may use it as one.
`nn.Parameter(...)` of an integer tensor and bool tensors have no automatic fix.

When the tensor is used as integer indices in its function (or at the top level) — the input of an
`nn.Embedding`, `x[idx]`, `gather`/`index_select`/`one_hot`/`F.embedding`, the target of
`cross_entropy`/`nll_loss` — a float tensor would only raise there instead ("Expected tensor for argument
#1 'indices' to have one of the following scalar types: Long, Int"): the fix then removes
`requires_grad=True` (**unsafe**: indices never need a gradient, but the author may have meant something
else).

## Options
None.
"""
    VALID = (
        """\
import torch
w = torch.tensor([1., 2., 3.], requires_grad=True)
""",
        """\
import torch
s = torch.arange(5, dtype=torch.float32, requires_grad=True)
""",
        """\
import torch
w = torch.randn(3, requires_grad=True)
""",
        """\
import torch
w = torch.tensor([1, 2.5], requires_grad=True)
""",
        """\
import torch
w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
""",
    )
    INVALID = (
        """\
import torch
import torch.nn as nn
emb = nn.Embedding(20, 4)
tokens = torch.tensor([[5, 17]], requires_grad=True)  # gradlint-expect: GL015
out = emb(tokens)
""",
        """\
import torch
w = torch.tensor([1, 2, 3], requires_grad=True)  # gradlint-expect: GL015
""",
        """\
import torch
s = torch.arange(5, requires_grad=True)  # gradlint-expect: GL015
""",
        """\
import torch
z = torch.zeros(3, dtype=torch.long, requires_grad=True)  # gradlint-expect: GL015
""",
        """\
import torch
t = torch.tensor([1, 2])
t.requires_grad_()  # gradlint-expect: GL015
""",
    )
    prefilter = ("requires_grad", "Parameter")
    extensions = (TensorFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if model.is_test_file:
            return
        facts = model.ext(TensorFacts)
        for f in facts.factory_grads:
            if f.in_raises:
                continue
            call = model.code(f.call.func)
            if f.arg is None:
                yield Finding(
                    f.call,
                    f"`{model.code(f.call)}` makes a Parameter (which requires grad) of an integer tensor "
                    f"({f.reason}, dtype `torch.{f.dtype}`): PyTorch raises `RuntimeError: {MSG_FACTORY}`; "
                    f"build the data as floats (`1.` literals or `dtype=torch.float32`)",
                )
                continue
            yield Finding(
                f.arg,
                f"`requires_grad=True` on an integer tensor: `{call}(...)` gets dtype `torch.{f.dtype}` from "
                f"{f.reason}, and PyTorch raises `RuntimeError: {MSG_FACTORY}`; use floats (`1.` literals or "
                f"`dtype=torch.float32`)",
                fix=self._fix(model, f),
            )
        for s in facts.requires_grad_sets:
            v = s.value
            if s.in_raises or v.state != PLAIN or v.dtype is None or not _is_int_dtype(v.dtype):
                continue
            if s.flag is not True:
                continue
            target = model.code(s.target)
            if s.form == "method":
                what, err = f"`{target}.requires_grad_()`", MSG_METHOD
            else:
                what, err = f"`{target}.requires_grad = True`", MSG_ATTR
            fix = None
            if s.whole_statement and s.key is not None and "." not in s.key and v.dtype != "bool":
                fix = FixSpec(
                    f"Convert `{target}` to float first: `{target} = {target}.float().requires_grad_()`",
                    (Replace(s.node, f"{target} = {target}.float().requires_grad_()"),),
                    safe=False,
                )
            yield Finding(
                s.node,
                f"{what} on `{target}`, a tensor of dtype `torch.{v.dtype}`, raises `RuntimeError: {err}`; create "
                f"it as a float tensor (`.float()` first, or `dtype=torch.float32`)",
                fix=fix,
            )

    @staticmethod
    def _fix(model: SemanticModel, f: FactoryGrad) -> FixSpec | None:
        use = _index_use(model, f.call)
        if use is not None:
            # integer indices (an embedding's input, `x[idx]`, a target of cross_entropy): a float tensor
            # raises there instead; indices never need a gradient, so `requires_grad=True` is the mistake
            return _drop_requires_grad(model, f, use)
        if f.explicit_dtype is not None:
            ref, extra = torch_ref(model, "float32")
            return FixSpec(
                f"Replace `dtype={model.code(f.explicit_dtype.value)}` with `dtype={ref}`",
                (Replace(f.explicit_dtype.value, ref), *extra),
                safe=False,
            )
        if f.int_literals:
            edits = tuple(Replace(lit, f"{lit.value}.") for lit in f.int_literals if lit.value.isdigit())
            if len(edits) != len(f.int_literals):
                return None  # hex / octal / underscored literals: leave them to the author
            return FixSpec("Write the integer literals as floats", edits, safe=not f.in_try)
        if f.func.rsplit(".", 1)[-1] in ("randint", "randperm", "arange"):
            ref, extra = torch_ref(model, "float32")
            assert f.arg is not None
            return FixSpec(f"Add `dtype={ref}`", (InsertBefore(f.arg, f"dtype={ref}, "), *extra), safe=not f.in_try)
        return None


# Calls whose tensor arguments are indices or class targets: an integer tensor is what they need.
_INDEX_FUNCS = frozenset({"embedding", "embedding_bag", "one_hot", "gather", "index_select", "take", "take_along_dim",
                          "scatter", "scatter_", "scatter_add", "scatter_add_", "scatter_reduce", "index_add",
                          "index_add_", "index_copy", "index_copy_", "index_fill", "index_fill_", "index_put",
                          "index_put_", "cross_entropy", "nll_loss", "multi_margin_loss", "bincount"})
# Modules whose input (Embedding) or target (the losses) is integer indices.
_INDEX_MODULES = frozenset({"torch.nn.Embedding", "torch.nn.EmbeddingBag", "torch.nn.CrossEntropyLoss",
                            "torch.nn.NLLLoss", "torch.nn.MultiMarginLoss",
                            "torch.nn.modules.sparse.Embedding", "torch.nn.modules.sparse.EmbeddingBag"})


def _index_use(model: SemanticModel, call: cst.Call) -> str | None:
    """How the tensor `call` makes is used as integer indices, if it is: "`emb(idx)`" ... else None. The
    tensor is followed through one assignment to a name, in the same function (or the module's top level)."""
    from gradlint import edits

    code = model.module.code_for_node
    scope: cst.CSTNode = model.module
    node: cst.CSTNode | None = edits.parent_of(model, call)
    while node is not None:
        if isinstance(node, cst.FunctionDef):
            scope = node
            break
        node = edits.parent_of(model, node)
    index_modules: set[str] = set()
    names: set[str] = set()
    parent = edits.parent_of(model, call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        names.add(parent.targets[0].target.value)
    for n in edits.iter_nodes(model.module):  # modules built at any level (`self.emb = nn.Embedding(...)`)
        if isinstance(n, cst.Assign) and isinstance(n.value, cst.Call) and model.imports.resolve(n.value.func) in _INDEX_MODULES:
            index_modules.update(code(t.target) for t in n.targets)

    def is_ours(e: cst.BaseExpression) -> bool:  # the tensor, or a view of it (`idx.view(-1)`, `idx.long()`)
        while True:
            if e is call or (isinstance(e, cst.Name) and e.value in names):
                return True
            if isinstance(e, cst.Call) and isinstance(e.func, cst.Attribute):
                e = e.func.value
            else:
                return False

    def callee(func: cst.BaseExpression) -> str:
        if isinstance(func, cst.Attribute):
            return func.attr.value
        return func.value if isinstance(func, cst.Name) else ""

    for n in edits.iter_nodes(scope):
        if isinstance(n, cst.Subscript):
            for el in n.slice:
                inner = el.slice
                values = [inner.value] if isinstance(inner, cst.Index) else []
                if values and isinstance(values[0], cst.Tuple):
                    values = [e.value for e in values[0].elements]
                if any(is_ours(v) for v in values):
                    return f"`{code(n)}`"
        elif isinstance(n, cst.Call) and any(is_ours(a.value) for a in n.args):
            func = n.func
            if (callee(func) in _INDEX_FUNCS or code(func) in index_modules
                    or (isinstance(func, cst.Call) and model.imports.resolve(func.func) in _INDEX_MODULES)
                    or model.imports.resolve(func) in _INDEX_MODULES):
                return f"`{code(n)}`"
    return None


def _drop_requires_grad(model: SemanticModel, f: FactoryGrad, use: str) -> FixSpec | None:
    call, arg = f.call, f.arg
    if arg is None:
        return None
    args = [a for a in call.args if a is not arg]
    if args:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    new = call.with_changes(args=args)
    return FixSpec(f"Remove `requires_grad=True`: the tensor is used as indices ({use}), which never need a gradient",
                   (Replace(call, model.module.code_for_node(new)),), safe=False)
