"""GL002 rebind-loses-grad."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import Mode, SemanticModel, dotted
from gradlint.model.builder import _has_grad_term, _names_in
from gradlint.model.walk import iter_nodes
from gradlint import edits as fixes
from gradlint.rules.base import Finding, FixSpec, Replace, Rule
from gradlint.settings import RuleOptions


class RebindLosesGrad(Rule):
    code = "GL002"
    name = "rebind-loses-grad"
    tier = "bug"
    summary = "A parameter or leaf name rebound to a tensor computed from itself in an update step"
    docs = """\
## What it does
Flags an update step that rebinds the name of a parameter or a leaf tensor that requires grad to a new
tensor computed from it and a gradient — `p = p - lr * p.grad`, `w = w.sub(lr * w.grad)`,
`p = p - lr * g`, several at once (`w, b = w - lr * w.grad, b - lr * b.grad`), an attribute that holds one
(`self.w = self.w - lr * self.w.grad`) — inside or outside `torch.no_grad()`. Leaves are found as GL001
finds them, also when a function of the file returns them (`W1, b1 = init_params()`).

## Why is this bad?
Assignment makes the name point at a *new* tensor; the parameter itself is never changed.
- In a loop over `model.parameters()` the model silently never trains: no error, no warning.
- For a standalone leaf `w`, outside `no_grad` the new `w` is a non-leaf: its `.grad` stays `None`
  (PyTorch warns "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed...")
  and the next update fails with `TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'`.
- Inside `no_grad` the new `w` does not require grad, and the next `backward()` raises
  `RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.

## Example
```python
with torch.no_grad():
    for p in model.parameters():
        p = p - lr * p.grad
```

## Use instead
```python
with torch.no_grad():
    for p in model.parameters():
        p -= lr * p.grad          # or p.sub_(lr * p.grad)
```

## Not flagged
Functional fast weights under new names (`fast = {n: p - lr * g ...}`, MAML with
`create_graph=True`); an explicit new leaf each step (`x = (x - lr * x.grad).detach().requires_grad_()`,
PGD/FGSM input attacks), also when the `.detach().requires_grad_()` follows on a later line of the
same step; names that are not leaves that require grad.

## Fix safety
The fix turns the rebinding into the in-place update it was meant to be: `p = p - lr * p.grad` becomes
`p -= lr * p.grad` (`+`, `-`, `*`, `/`), `p = p.sub(x)` becomes `p.sub_(x)` (`add`, `sub`, `mul`,
`div`, `addcmul`, `addcdiv`, `clamp`), and any other `p = f(p, p.grad)` becomes `p.copy_(f(p, p.grad))`
— under `with torch.no_grad():` (added unless the code already runs under it; the alias the file uses).
**Unsafe**: it changes what the program does on purpose — the parameter is now really updated, and
an in-place update keeps `p`'s dtype and shape where the expression might have promoted or broadcast.

## Options
None.
"""
    VALID = (
        """\
import torch
w = torch.randn(2, requires_grad=True)
w = (w - 0.1 * w.grad).detach().requires_grad_()
""",
        """\
import torch
fast = {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}
""",
        """\
import torch
for p in model.parameters():
    q = p - 0.1 * p.grad
""",
    )
    INVALID = (
        """\
import torch
with torch.no_grad():
    for p in model.parameters():
        p = p - 0.1 * p.grad  # gradlint-expect: GL002
""",
        """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
w = w - 0.1 * w.grad  # gradlint-expect: GL002
""",
        """\
import torch
w = torch.zeros(3, requires_grad=True)
w = w.sub(0.1 * w.grad)  # gradlint-expect: GL002
""",
    )

    fixable = True

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        for rb in model.rebinds:
            if rb.name not in _names_in(rb.rhs) and not _mentions_attribute(rb.rhs, rb.name):
                continue
            if not _has_grad_term(rb.rhs):
                continue
            if _outer_is_new_leaf(rb.rhs):
                continue
            if _releafed_later(model, rb):
                continue
            mode = model.mode_at(rb)
            grad_read = None
            if _releafed_each_iteration(model, rb):
                # the loop makes a fresh leaf again before the next backward: only a `.grad` read of the
                # rebound name later in the same iteration meets the gradient-less tensor
                grad_read = _grad_read_after(model, rb)
                if grad_read is None:
                    continue
            if grad_read is not None:
                effect = (f"`{model.code(grad_read.node)}` later in the iteration is None (the new tensor has no "
                          "gradient), so using it raises `AttributeError`/`TypeError` on `NoneType`")
            elif rb.is_loop_target:
                effect = "only the loop variable is rebound: the parameter is never updated and the model silently does not train"
            elif mode in (Mode.DISABLED, Mode.INFERENCE):
                effect = (f"the new `{rb.name}` does not require grad, so the next backward raises "
                          "`RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`")
            else:
                effect = (f"the new `{rb.name}` is a non-leaf whose `.grad` stays None, so the next update fails "
                          "with `TypeError: unsupported operand type(s) ... 'NoneType'`")
            yield Finding(
                rb.node,
                f"`{rb.name}` ({rb.value.origin or 'a leaf that requires grad'}) is rebound to a new tensor computed "
                f"from itself: {effect}; update it in place under `torch.no_grad()` (`{rb.name} -= ...`)",
                fix=_inplace_fix(model, rb, mode),
            )


_AUG = {cst.Subtract: "-=", cst.Add: "+=", cst.Multiply: "*=", cst.Divide: "/="}
_METHODS = {"add", "sub", "mul", "div", "addcmul", "addcdiv", "clamp", "clamp_min", "clamp_max", "lerp"}


def _inplace_update(model: SemanticModel, rb) -> str | None:
    """`p = p - x` -> `p -= x`; `p = p.sub(x)` -> `p.sub_(x)`; else `p.copy_(...)`."""
    node = rb.node
    if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
        return None
    code = model.module.code_for_node
    rhs = rb.rhs
    name = rb.name
    if (isinstance(rhs, cst.BinaryOperation) and type(rhs.operator) in _AUG and not rhs.lpar
            and isinstance(rhs.left, cst.Name) and rhs.left.value == name):
        return f"{name} {_AUG[type(rhs.operator)]} {code(rhs.right)}"
    if (isinstance(rhs, cst.Call) and isinstance(rhs.func, cst.Attribute) and isinstance(rhs.func.value, cst.Name)
            and rhs.func.value.value == name and rhs.func.attr.value in _METHODS):
        return f"{name}.{rhs.func.attr.value}_({code(rhs).split('(', 1)[1]}"
    return f"{name}.copy_({code(rhs)})"


def _inplace_fix(model: SemanticModel, rb, mode: Mode) -> FixSpec | None:
    if _has_multiline_string(model.module.code_for_node(rb.rhs)):
        return None
    new = _inplace_update(model, rb)
    if new is None:
        return None
    if mode in (Mode.DISABLED, Mode.INFERENCE):
        return FixSpec(f"Update `{rb.name}` in place: `{_short(new)}`", (Replace(rb.node, new),), safe=False)
    if mode is not Mode.ENABLED:
        return None
    stmt = fixes.statement_of(model, rb.node)
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1 or not fixes.is_whole_line_statement(model, stmt):
        return None
    spec = fixes.no_grad_wrap(model, stmt, message="", safe=False)
    header = spec.edits[0].header
    return FixSpec(f"Update `{rb.name}` in place under `{header[:-1]}`: `{_short(new)}`",
                   (Replace(rb.node, new),) + spec.edits, safe=False)


def _has_multiline_string(code: str) -> bool:
    return '"""' in code or "'''" in code or "\\\n" in code


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 50 else text[:49] + "…"


def _mentions_attribute(rhs: cst.BaseExpression, name: str) -> bool:
    """Does `rhs` read the attribute `name` (`self.w` in `self.w - lr * self.w.grad`)?"""
    return "." in name and any(type(n) is cst.Attribute and dotted(n) == name for n in iter_nodes(rhs))


def _outer_is_new_leaf(rhs: cst.BaseExpression) -> bool:
    """`(...).detach()`, `(...).detach().requires_grad_()`, `nn.Parameter(...)`, `torch.tensor(...)`."""
    if isinstance(rhs, cst.Call):
        func = rhs.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("detach", "requires_grad_", "clone_"):
            return True
        if isinstance(func, (cst.Name, cst.Attribute)):
            last = func.value if isinstance(func, cst.Name) else func.attr.value
            if last in ("Parameter", "tensor", "as_tensor"):
                return True
    return False


def _releafed_each_iteration(model: SemanticModel, rb) -> bool:
    """`s = s.detach().requires_grad_()` earlier in the same loop body, on every path: every iteration starts
    from a new leaf (what the previous iteration's update left never reaches the rebind)."""
    if rb.loop is None:
        return False
    sites = [r.node for r in model.releafs if r.name == rb.name and r.function is rb.function]
    return model.loop_joins.bound_this_iteration(rb.loop, rb.reach, sites)


def _grad_read_after(model: SemanticModel, rb):
    """The first `<name>.grad` after the rebind and before the end of its loop's body, with no new leaf
    made in between."""
    end = rb.loop.end_seq
    releafs = [r.seq for r in model.releafs if r.name == rb.name and r.function is rb.function and rb.seq < r.seq < end]
    stop = min(releafs, default=end)
    own = {id(n) for n in iter_nodes(rb.rhs)}  # the update's own `s.grad`
    reads = [g for g in model.grad_reads if g.name == rb.name and g.function is rb.function
             and rb.seq < g.seq < stop and id(g.node) not in own]
    return min(reads, key=lambda g: g.seq, default=None)


def _releafed_later(model: SemanticModel, rb) -> bool:
    for r in model.releafs:
        if r.name == rb.name and r.function is rb.function and r.seq > rb.seq:
            return True
    return False
