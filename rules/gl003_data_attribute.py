"""GL003 data-attribute."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import libcst as cst

from gradlint.model import Kind, Mode, SemanticModel, dotted
from gradlint import edits as fixes
from gradlint.model.ext_training import Backward, DataWrite, TrainingFacts
from gradlint.rules.base import Finding, FixSpec, Replace, Rule
from gradlint.settings import RuleOptions


class DataAttribute(Rule):
    code = "GL003"
    name = "data-attribute"
    tier = "hygiene"
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
- **Reads inside a module's `forward`** of a parameter or an activation whose value goes on into the
  computation (`x + self.pos_embedding.data[:, :n]`, `torch.cat((a, h.cpu().data))`) cut the graph:
  the parameter gets no gradient and never trains (measured: `pos_embedding.grad is None` after
  `backward()`, unchanged by `opt.step()`); `.detach()` would do the same. The message says which
  tensor loses its gradient. These findings are **bugs** — unless the read is not the parameter's only
  use there, is cut on purpose (`w.data.detach()`), or only copies the tensor into another tensor's
  storage (`new.weight.data[:n] = self.emb.weight.data`, `new.weight.data.copy_(...)`: parameter surgery,
  which autograd records neither way); those are hygiene.
- **Writes between a forward pass and its backward** are **bugs** when the model proves that the graph
  the backward runs through saved the written tensor before the write: an op whose backward needs it
  (`y = x * x`, `x ** 2`, `c / x`, `a @ w` with `a` requiring grad; the result of `sigmoid`, `tanh`,
  `exp`, `softmax`, `log_softmax`, `sqrt` bound to the written name), or a module call whose parameters are
  written (`out = model(x); model.fc.weight.data.mul_(0.5); loss.backward()`, `for p in D.parameters():
  p.data.clamp_(...)` before `D`'s backward) — unless the written weight may be the first layer's fed an
  input that does not require grad (not saved) or is a bias (never saved). The write, the saving op and the
  backward must be in one function, in that order. Measured on PyTorch 2.13: the gradients of the layers
  before the written one differ from the forward pass's, with no error. The rule's other findings are hygiene.

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

## Not flagged as a bug
A write after the backward (WGAN weight clipping after `optimizer.step()`, manual SGD updates): correct
today, hygiene. A write whose tensor the graph did not save: `c * x` with a plain `c` (autograd keeps only
`c`), `x + 1`, a bias, the result of `relu` (its backward reads the sign only), a weight of a model whose
class the file does not show, or of its first layer (saved only when the input requires grad).

## Not flagged
Uses of `.data` that only read metadata: `p.data.shape`, `.dtype`, `.device`, `.size()`, `.dim()`,
`isinstance(p.data, T)`. `.data` on anything not known to be a tensor: `torch.utils.data`, `PackedSequence.data`, datasets
(`dataset.data`), `torch_geometric` `Data`, `BatchEncoding.data`, NumPy arrays, your own objects.
Whole-tensor assignment `p.data = t`: it can change the shape, which `torch.no_grad()` + `copy_()`
cannot, so there is no drop-in replacement to suggest. `p.data.requires_grad = False`,
`w.data[:, :2].requires_grad = False`, `p.data.requires_grad_(False)` as a statement: the flag goes to a
temporary and `p` is unchanged — GL017 reports that no-op freeze (a `.detach()` rewrite would keep it).

## Fix safety
- Writes (`p.data -= x`, `p.data.add_(x)`, `p.data.copy_(x)`, `p.data[0] = 0`, `out=p.data`,
  `p.data = p.data - x`) become the same operation on `p` (`p.data = p.data - x` becomes `p -= x`, or
  `p.copy_(...)` when the right-hand side is not `p.data <op> ...`), wrapped in `with torch.no_grad():`
  (the whole loop when every statement in it is such an update; no wrapping when the code already runs
  under `no_grad`). **Unsafe**: the values are the same between optimizer steps, but autograd now sees
  the write, so code that changes a tensor between a forward and its backward — silently wrong until
  now — raises "one of the variables needed for gradient computation has been modified by an inplace
  operation" instead. Only whole statements of their own are rewritten (`y = p.data.mul_(2) * x` is
  left alone).
- No fix for a parameter of a lazy module (`self.net = nn.LazyLinear(1)`; `self.net.weight.data.normal_()`
  in `__init__`): until the first forward it is an UninitializedParameter, on which `.data` works but
  `normal_()` under no_grad and `.detach()` raise.
- `p.data = <expression>` is a rebinding: it may change `p`'s dtype, device or shape
  (`p.data = p.data.to(torch.float32)`, `p.data = p.data.half()`, `p.data = p.data + noise` with a
  float32 `noise` and a bf16 `p`), which an in-place write never does. It is rewritten only when the
  expression keeps all three for sure: built from `p`, `p.grad` (`.data` on either), number literals and
  a named factor of those (`lr * p.grad`), with `+ - * / **` and element-wise methods (`clamp`, `abs`,
  `mul`, ...); anything else — a conversion, a move, a reshape, another tensor — gets no fix (for
  a tensor that may be an integer one, only integer literals and no `/` or `**`).
- `p.grad.data` becomes `p.grad` (`p.grad.data.zero_()` becomes `p.grad.zero_()`): **safe** — the
  gradient is a plain tensor outside the graph — unless the file uses `create_graph` (then `p.grad`
  may have a graph of its own, and the fix is unsafe).
- A read inside `forward` that cuts the graph: `.data` is removed (`self.pos_embedding.data[...]` becomes
  `self.pos_embedding[...]`): **unsafe** — on purpose, gradients now flow into the tensor; never the
  `.detach()` rewrite, which would keep the bug.
- A `.data` that is frozen (`w.data[:, :2].requires_grad = False`, `w.data.requires_grad_(False)`) gets no
  fix: the freeze of a temporary is a no-op either way; `.detach()` would only hide it.
- Other reads `x.data` become `x.detach()` (`x.data.detach()` becomes `x.detach()`): **safe** — the same values and storage; only the version
  counter is shared, so a later in-place change that would silently corrupt gradients raises instead.

## Options
None.
"""
    VALID = (
        """\
import torch
from torch.utils.data import DataLoader
x = dataset.data
""",
        """\
import torch
with torch.no_grad():
    for p in model.parameters():
        p.add_(p.grad, alpha=-0.1)
""",
        """\
import torch
out = packed.data
""",
    )
    INVALID = (
        """\
import torch
for p in model.parameters():
    p.data.add_(p.grad, alpha=-0.1)  # gradlint-expect: GL003
""",
        """\
import torch
x = torch.ones(1, requires_grad=True)
y = x * x
x.data *= 100  # gradlint-expect: GL003
""",
        """\
import torch
for p in model.parameters():
    p.grad.data.zero_()  # gradlint-expect: GL003
""",
    )

    extensions = (TrainingFacts,)
    fixable = True
    fix_may_raise = ("one of the variables needed for gradient computation has been modified by an inplace operation",)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        fixer = _Fixer(model)
        t = model.ext(TrainingFacts) if model.uses_torch else None
        for acc in model.data_accesses:
            if acc.write in ("inplace", "augassign", "setitem", "update") and t is not None:
                between = _between_forward_and_backward(model, t, acc)
                if between is not None:
                    yield Finding(acc.node, between, fix=fixer.fix(acc), tier="bug")
                    continue
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
            elif acc.write in ("assign", "assign-source", "meta"):
                # `p.data = t` may change the shape, which no no_grad()/copy_() equivalent can: not flagged;
                # `p.data.shape`, `isinstance(p.data, T)` read metadata only
                continue
            elif isinstance(acc.base, cst.Attribute) and acc.base.attr.value == "grad":
                msg = (f"`{base}.data`: a gradient is already a plain tensor outside the graph; use `{base}` "
                       "(or `.detach()`), not `.data`")
            elif _cuts_graph(model, acc):
                root = acc.base
                while isinstance(root, cst.Call) and isinstance(root.func, cst.Attribute):
                    root = root.func.value  # `h.cpu()` -> `h`
                name = (dotted(root) or base).rsplit(".", 1)[-1]
                lost = (f"`{name}` gets no gradient through this read, so the loss does not train it"
                        if acc.value.kind is Kind.LEAF else
                        f"the layers that computed `{name}` get no gradient through this path")
                msg = (f"`{base}.data` inside `forward` cuts the graph: {lost} (`.detach()` would do the same); "
                       f"use `{base}`")
                yield Finding(acc.node, msg, fix=FixSpec("Remove `.data` (gradients flow again)",
                                                         (Replace(acc.node, base),), safe=False),
                              tier="bug")  # proven: the tensor gets no gradient
                continue
            elif _sets_requires_grad(model, acc.node):
                # `p.data.requires_grad = False`: a flag set on a temporary, GL017's finding; `.detach()` in its
                # place would keep the no-op and silence the linter
                continue
            else:
                msg = f"`{base}.data` reads the tensor outside autograd's checks; use `{base}.detach()`"
            yield Finding(acc.node, msg, fix=fixer.fix(acc))


class _StripData(cst.CSTTransformer):
    """`X.data` -> `X` in an expression (the right-hand side of `p.data = p.data - lr * p.grad.data`)."""

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if updated.attr.value == "data" and not updated.lpar:
            return updated.value
        return updated


_AUG = {cst.Subtract: "-=", cst.Add: "+=", cst.Multiply: "*=", cst.Divide: "/="}


class _Fixer:
    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self._updates: set[int] | None = None
        self._create_graph: bool | None = None
        self._lazy: set[str] | None = None

    def fix(self, acc) -> FixSpec | None:
        try:
            if self._lazy_parameter(acc.base):
                return None
            if acc.write is None:
                return self._read_fix(acc)
            return self._write_fix(acc)
        except Exception:  # noqa: BLE001 - a fix that cannot be built is left out, the finding stays
            if os.environ.get("GRADLINT_DEBUG_FIXES"):
                raise
            return None

    def _sets_requires_grad(self, node: cst.CSTNode) -> bool:
        """`w.data[:, :2].requires_grad = False` / `w.data.requires_grad_(False)`: a freeze of a temporary,
        a no-op whatever the spelling; `.detach()` there would keep the bug and only silence the finding."""
        model = self.model
        parent = fixes.parent_of(model, node)
        while isinstance(parent, (cst.Subscript, cst.Attribute)) and (
                not isinstance(parent, cst.Attribute) or parent.attr.value in ("data", "requires_grad", "requires_grad_")):
            if isinstance(parent, cst.Attribute) and parent.attr.value == "requires_grad_":
                return True
            if isinstance(parent, cst.Attribute) and parent.attr.value == "requires_grad":
                return fixes.is_store_target(model, parent)  # (a read, `print(x.data.requires_grad)`, is fine)
            node, parent = parent, fixes.parent_of(model, parent)
        return False

    def _lazy_parameter(self, base: cst.BaseExpression) -> bool:
        """Is `base` (`self.net.weight`) a parameter of a lazy module (`self.net = nn.LazyLinear(1)`)? Until
        its first forward it is an UninitializedParameter: `.data` on it works (an empty placeholder), but
        every torch function — `normal_()` under no_grad, `.detach()` — raises ValueError (d2l's
        `LinearRegression.__init__`)."""
        if self._lazy is None:
            code = self.model.module.code_for_node
            self._lazy = set()
            for node in fixes.iter_nodes(self.model.module):
                if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
                    origin = self.model.imports.resolve(node.value.func) or ""
                    if origin.rsplit(".", 1)[-1].startswith("Lazy"):
                        self._lazy.update(code(t.target) for t in node.targets)
        if not self._lazy or not isinstance(base, cst.Attribute):
            return False
        return self.model.module.code_for_node(base.value) in self._lazy

    def uses_create_graph(self) -> bool:
        if self._create_graph is None:
            self._create_graph = "create_graph" in self.model.module.code
        return self._create_graph

    def _read_fix(self, acc) -> FixSpec | None:
        if fixes.is_store_target(self.model, acc.node):  # `p.data, meta = ...`: a write, not a read
            return None
        if self._sets_requires_grad(acc.node):
            return None
        base = self.model.module.code_for_node(acc.base)
        if isinstance(acc.base, cst.Attribute) and acc.base.attr.value == "grad":
            return FixSpec(f"Replace `.data` with `{fixes_short(base)}`",
                           (Replace(acc.node, base),), safe=not self.uses_create_graph())
        parent = fixes.parent_of(self.model, acc.node)
        if isinstance(parent, cst.Attribute) and parent.attr.value == "detach":  # `x.data.detach()` -> `x.detach()`
            return FixSpec("Remove the redundant `.data`", (Replace(acc.node, base),), safe=True)
        return FixSpec("Replace `.data` with `.detach()`", (Replace(acc.node, f"{base}.detach()"),), safe=True)

    def _write_fix(self, acc) -> FixSpec | None:
        model = self.model
        base = model.module.code_for_node(acc.base)
        is_grad = isinstance(acc.base, cst.Attribute) and acc.base.attr.value == "grad"
        small = fixes.small_statement_of(model, acc.node)
        if small is None or not _writes_only(small, acc):
            return None
        if acc.write == "update":
            edit = self._update_edit(small, acc, base)
            if edit is None:
                return None
        else:
            edit = Replace(acc.node, base)
        if is_grad:  # `p.grad.data.zero_()` -> `p.grad.zero_()`: the gradient is outside the graph anyway
            return FixSpec(f"Write to `{fixes_short(base)}` directly", (edit,), safe=not self.uses_create_graph())
        if model.mode_at(acc) is not Mode.ENABLED:
            return FixSpec(f"Write to `{fixes_short(base)}` directly (the code already runs under no_grad)",
                           (edit,), safe=False)
        if self._updates is None:
            self._updates = fixes.update_statements(model)
            self._updates |= {id(fixes.small_statement_of(model, a.node)) for a in model.data_accesses
                              if a.write == "update"}
        found = fixes.update_wrap_target(model, acc.node, self._updates)
        if found is None:
            return None
        first, last, what = found
        spec = fixes.no_grad_wrap(model, first, last, message="", safe=False)
        ref = spec.edits[0].header[len("with "):-1]
        return FixSpec(f"Write to `{fixes_short(base)}` under `with {ref}:` instead of through `.data`"
                       + (" (wrapping the update loop)" if what == "the update loop" else ""),
                       (edit,) + spec.edits, safe=False)

    def _update_edit(self, small, acc, base: str) -> Replace | None:
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            return None
        rhs = small.value
        code = self.model.module.code_for_node
        # `p.data = <new tensor>` may change p's dtype, device or shape (`p.data = p.data.to(torch.float32)`,
        # `p.data = p.data + noise` with a float32 `noise` and a bf16 `p`); an in-place write keeps them.
        # Only an expression that provably keeps them gets a fix.
        if not _keeps_meta(rhs, base, code, floating=acc.value.kind is Kind.LEAF):
            return None
        if (isinstance(rhs, cst.BinaryOperation) and type(rhs.operator) in _AUG and not rhs.lpar
                and isinstance(rhs.left, cst.Attribute) and rhs.left.attr.value == "data"
                and code(rhs.left.value) == base):
            right = rhs.right.visit(_StripData())
            return Replace(small, f"{base} {_AUG[type(rhs.operator)]} {code(right)}")
        return Replace(small, f"{base}.copy_({code(rhs.visit(_StripData()))})")


# Element-wise methods whose result has the receiver's dtype, device and shape (for a floating receiver and
# arguments that are numbers or the same tensor): `p.data = p.data.clamp(-1, 1)` is `p.clamp_(-1, 1)`.
_SAME_META_METHODS = frozenset({"clamp", "clip", "abs", "neg", "sign", "sqrt", "exp", "sigmoid", "tanh", "relu",
                                "mul", "add", "sub", "div", "pow", "clone", "detach", "contiguous"})
_FLOAT_ONLY_OPS = (cst.Divide, cst.Power)


def _keeps_meta(expr: cst.BaseExpression, base: str, code, *, floating: bool) -> bool:
    """Does `expr` (the right-hand side of `base.data = expr`) have `base`'s dtype, device and shape, for sure?

    Operands: `base` and `base.grad` (same dtype, device and shape as `base`; `.data` on them too) and number
    literals (a Python number never promotes a floating tensor; for a tensor that may be an integer one only
    integer literals and no `/` or `**`); a name or attribute as a factor of such an operand (`lr * p.grad`,
    `p.data / scale`): a learning rate or scale, a number or a 0-dim tensor, which does not promote either.
    Operators: unary `-`/`+`, binary `+ - * / **`; methods: _SAME_META_METHODS with such arguments. Anything
    else (`.to(...)`, `.float()`, `.cuda()`, `.view(...)`, indexing, a call, another tensor) may change them."""

    def anchor(e: cst.BaseExpression) -> bool:
        text = code(e)
        for suffix in (".data", ""):
            if text == base + suffix or text == f"{base}.grad{suffix}":
                return True
        return False

    def number(e: cst.BaseExpression) -> bool:
        if isinstance(e, cst.UnaryOperation) and isinstance(e.operator, (cst.Minus, cst.Plus)):
            return number(e.expression)
        if isinstance(e, cst.Integer):
            return True
        return floating and isinstance(e, cst.Float)

    def factor(e: cst.BaseExpression) -> bool:  # a plain name / attribute chain: `lr`, `self.lr`, `group.lr`
        while isinstance(e, cst.Attribute):
            e = e.value
        return isinstance(e, cst.Name)

    def ok(e: cst.BaseExpression) -> bool:
        if anchor(e) or number(e):
            return True
        if isinstance(e, cst.UnaryOperation) and isinstance(e.operator, (cst.Minus, cst.Plus)):
            return ok(e.expression)
        if isinstance(e, cst.BinaryOperation):
            op = e.operator
            if isinstance(op, _FLOAT_ONLY_OPS) and not floating:
                return False
            if not isinstance(op, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)):
                return False
            left, right = e.left, e.right
            if isinstance(op, (cst.Multiply, cst.Divide)):  # a named factor scales a tensor operand
                if factor(left) and not anchor(left) and ok(right) and not number(right):
                    return True
                if factor(right) and not anchor(right) and ok(left) and not number(left):
                    return True
            return ok(left) and ok(right) and (not number(left) or not number(right))
        if isinstance(e, cst.Call) and isinstance(e.func, cst.Attribute) and e.func.attr.value in _SAME_META_METHODS:
            if e.func.attr.value in ("div", "pow") and not floating:
                return False
            return ok(e.func.value) and all(a.keyword is None and a.star == "" and (number(a.value) or anchor(a.value))
                                            for a in e.args)
        return False

    return ok(expr) and not number(expr)


def fixes_short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _writes_only(small: cst.BaseSmallStatement, acc) -> bool:
    """Is the small statement nothing but the write through `.data` (so wrapping it changes nothing else)?"""
    node = acc.node
    if acc.write == "inplace":
        return (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Attribute) and small.value.func.value is node)
    if acc.write == "augassign":
        return isinstance(small, cst.AugAssign) and small.target is node
    if acc.write == "setitem":
        return (isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Subscript) and small.targets[0].target.value is node)
    if acc.write == "update":
        return isinstance(small, cst.Assign) and len(small.targets) == 1 and small.targets[0].target is node
    if acc.write == "out":
        return isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and any(
            a.keyword is not None and a.keyword.value == "out" and a.value is node for a in small.value.args)
    return False


def _between_forward_and_backward(model: SemanticModel, t: TrainingFacts, acc) -> str | None:
    """The message when a write through `X.data` falls between an op or module call that saved `X` for a backward
    pass and that backward (the gradients are then computed with the new values, silently), else None."""
    w = t.data_writes.get(id(acc.node))
    if w is None or w.key.endswith(".grad") or w.key.rsplit(".", 1)[-1] == "bias":
        return None  # a gradient is outside the graph; no op saves a bias for its backward
    for b in t.backwards:
        if b.fn is not w.fn or not b.roots or not t.may_precede(w.path, w.seq, b.path, b.seq):
            continue
        if model.effective_mode(b.mode, b.fn) is not Mode.ENABLED:
            continue
        saver = _saver(model, t, w, b)
        if saver is not None:
            return (f"in-place write through `{w.key}.data` after {saver} saved `{w.key}` for "
                    f"`{model.code(b.node)}` and before it runs: `.data` hides the write from autograd's version "
                    f"counter, so that backward computes the gradients with the changed values — silently wrong; "
                    f"make the change after the backward (after `optimizer.step()`), or write to `{w.key}` under "
                    "`with torch.no_grad():` so that autograd raises instead")
    return None


def _saver(model: SemanticModel, t: TrainingFacts, w: DataWrite, b: Backward) -> str | None:
    """Words for what saved `w.key` in the graph `b` backpropagates, made before the write; None if nothing did."""
    for r in sorted(b.roots):
        if r >= w.watermark:
            break
        keys = t.saved_inputs.get(r)
        if keys is not None and w.key in keys:
            return "an op"
        mr = t.model_roots.get(r)
        if mr is None or mr.fn is not w.fn or not t.may_precede(mr.path, mr.seq, w.path, w.seq):
            continue
        if w.param_of is not None:
            owner = w.param_of
            if (owner == mr.module or owner.startswith(mr.module + ".")) and mr.saves_weights:
                return f"`{mr.module}(...)`"  # the loop writes every parameter: the saved weights among them
            continue
        if not w.key.startswith(mr.module + ".") or mr.module == "self":
            continue
        layer = w.key[len(mr.module) + 1:].split(".", 1)[0]
        if mr.req_in or not _may_be_first_layer(model, mr.cls, layer):
            return f"`{mr.module}(...)`"
    return None


def _may_be_first_layer(model: SemanticModel, cls_name: str | None, layer: str) -> bool:
    """Could `module.layer` be the first layer with parameters its forward pass runs (whose weight is saved only
    when the input requires grad)? Known only for a module class of the file: its first parameterised
    submodule in `__init__` order."""
    cls = model.classes.get(cls_name) if cls_name else None
    if cls is None:
        return True
    for name, value in cls.attrs.items():
        if value.kind is Kind.MODULE and not _PARAMETERLESS.search(value.origin or ""):
            return name == layer
    return True


_PARAMETERLESS = re.compile(r"`nn\.(ReLU|LeakyReLU|GELU|SiLU|Tanh|Sigmoid|Softmax|LogSoftmax|Dropout\w*|"
                            r"MaxPool\w*|AvgPool\w*|AdaptiveAvgPool\w*|AdaptiveMaxPool\w*|Flatten|Identity|ELU|"
                            r"Hardtanh|Softplus|Upsample)`")


def _sets_requires_grad(model: SemanticModel, node: cst.CSTNode) -> bool:
    """Is `X.data` (or `X.data[...]`) the tensor whose `requires_grad` is set: `X.data.requires_grad = f`,
    `X.data[:, :2].requires_grad = f`, `X.data.requires_grad_(f)`?"""
    parent = fixes.parent_of(model, node)
    while isinstance(parent, cst.Subscript) and parent.value is node:
        node, parent = parent, fixes.parent_of(model, parent)
    if not isinstance(parent, cst.Attribute) or parent.value is not node:
        return False
    if parent.attr.value == "requires_grad":
        return fixes.is_store_target(model, parent)
    if parent.attr.value == "requires_grad_":
        call = fixes.parent_of(model, parent)
        return isinstance(call, cst.Call) and isinstance(fixes.parent_of(model, call), cst.Expr)
    return False


_LEAVES_GRAPH = frozenset({"item", "tolist", "numpy", "size", "shape", "dtype", "device"})


def _cuts_graph(model: SemanticModel, acc) -> bool:
    """A `.data` read of a parameter or an activation inside a module's `forward`, with grad mode on, whose
    value goes on into the computation (not `.item()`, `.numpy()`, ... for logging)."""
    fn = acc.function
    if fn is None or fn.name != "forward" or fn.class_info is None or not fn.class_info.is_module:
        return False
    value = acc.value
    if value.kind is Kind.TENSOR and not value.origin.startswith("a model output"):
        return False
    if value.kind not in (Kind.LEAF, Kind.NONLEAF, Kind.TENSOR):
        return False
    if model.mode_at(acc) is not Mode.ENABLED:
        return False
    if fixes.is_store_target(model, acc.node):
        return False
    first_parent = fixes.parent_of(model, acc.node)
    if isinstance(first_parent, cst.Attribute) and first_parent.attr.value == "detach":
        return False  # `w.data.detach()`: cut on purpose (a quantisation range, a straight-through estimator)
    if _copied_into_data(model, acc.node):
        return False  # `new.weight.data[:n] = old.weight.data`: parameter surgery, nothing flows into the loss
    base = dotted(acc.base)
    if base is not None and acc.value.kind is Kind.LEAF:
        # the same parameter also used directly in this `forward` gets its gradient there: this read only
        # feeds a side computation (a scale, a range) — not "gets no gradient"
        body = model.module.code_for_node(fn.node)
        if re.search(re.escape(base) + r"(?![\w.])|" + re.escape(base) + r"\.(?!data\b)\w", body):
            return False
    node: cst.CSTNode = acc.node
    for _ in range(8):  # up the method chain / call: is the value only logged or taken out of torch?
        parent = fixes.parent_of(model, node)
        if parent is None:
            break
        if isinstance(parent, cst.Attribute) and parent.attr.value in _LEAVES_GRAPH:
            return False
        if isinstance(parent, cst.Call) and parent.func is not node:
            name = parent.func.value if isinstance(parent.func, cst.Name) else (
                parent.func.attr.value if isinstance(parent.func, cst.Attribute) else "")
            if name in _LOGGING:
                return False
        if not isinstance(parent, (cst.Attribute, cst.Call, cst.Arg, cst.Subscript)):
            break
        node = parent
    return True


def _writes_data(target: cst.BaseExpression) -> bool:
    """`x.data`, `x.data[...]`, `x.weight.data[:n]`: a write into a tensor's storage outside autograd."""
    while isinstance(target, cst.Subscript):
        target = target.value
    return isinstance(target, cst.Attribute) and target.attr.value == "data"


def _copied_into_data(model: SemanticModel, node: cst.CSTNode) -> bool:
    """Is the read (possibly through `.clone()`/`.to(...)`, or indexed) only the source of a write into a
    tensor's storage — `new.weight.data[:n] = node`, `new.weight.data.copy_(node)`? Autograd records neither
    write, so the source's gradient could not flow on through it with or without `.data`."""
    for _ in range(6):
        parent = fixes.parent_of(model, node)
        if parent is None:
            return False
        if isinstance(parent, cst.Assign):
            return parent.value is node and all(_writes_data(t.target) for t in parent.targets)
        if isinstance(parent, cst.Arg):
            call = fixes.parent_of(model, parent)
            return (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == "copy_" and call.args[0] is parent and _writes_data(call.func.value))
        if isinstance(parent, cst.Subscript) and parent.value is node:
            node = parent
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _SURGERY_CHAIN:
            call = fixes.parent_of(model, parent)
            if not isinstance(call, cst.Call):
                return False
            node = call
            continue
        return False
    return False


_SURGERY_CHAIN = frozenset({"clone", "to", "float", "half", "contiguous", "detach", "cpu", "cuda"})

_LOGGING = frozenset({"print", "log", "info", "debug", "warning", "add_scalar", "add_histogram", "append"})
