"""Gradient-dereference facts of loops over parameters (GL014 grad-none-unchecked), recorded in the
builder's single walk (a model extension).

`.grad` dereferences (`p.grad.zero_()`, `p.grad += g`, `p.grad.data`, `p.grad[i]`) on the loop variable of
a loop (or comprehension) over parameters, and whether that loop checks `p.grad` against None anywhere
(`if p.grad is None: continue`, `if p.grad is not None:`, `p.grad is not None and ...`, a
`filter(lambda p: p.grad is not None, ...)` iterable, a name bound from such a filtered list, or an
assignment `p.grad = ...` that initialises it); the functions that keep gradients as tensors
(`zero_grad(set_to_none=False)`) and classes that create them when built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from gradlint.model.builder import _kwarg, _positional, _target_names
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo
from gradlint.model.training import calls_in, may_hold_parameters
from gradlint.model.values import Kind
from gradlint.model.walk import Walker


@dataclass(eq=False)
class GradUse:
    """A dereference of `<name>.grad` inside a loop / comprehension over parameters."""

    node: cst.Attribute  # the `p.grad` attribute
    name: str  # the loop variable
    how: str  # "`.zero_()`", "`+=`", "`[...]`"
    loop: "ParamLoop"


@dataclass(eq=False)
class ParamLoop:
    """A `for` loop or comprehension whose target names include parameters."""

    node: cst.CSTNode
    names: set[str]
    function: FunctionInfo | None
    origin: str  # "a parameter of `model`"
    guarded: set[str] = field(default_factory=set)  # names whose `.grad` the loop checks against None
    uses: list[GradUse] = field(default_factory=list)




def _is_none(expr: cst.BaseExpression) -> bool:
    return type(expr) is cst.Name and expr.value == "None"


def _grad_owner(expr: cst.BaseExpression) -> str | None:
    """`p` for `p.grad` (p a name), else None."""
    if type(expr) is cst.Attribute and expr.attr.value == "grad" and type(expr.value) is cst.Name:
        return expr.value.value
    return None


class _NoneChecks(Walker):
    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_Comparison(self, n: cst.Comparison) -> None:
        _comparison_checks(n, self.found)

    def visit_If(self, n: cst.If) -> None:
        _truth_checks(n.test, self.found)

    def visit_IfExp(self, n: cst.IfExp) -> None:
        _truth_checks(n.test, self.found)

    def visit_BooleanOperation(self, n: cst.BooleanOperation) -> None:
        _truth_checks(n.left, self.found)
        _truth_checks(n.right, self.found)

    def visit_CompIf(self, n: cst.CompIf) -> None:
        _truth_checks(n.test, self.found)


def _none_checked_grads(node: cst.CSTNode) -> set[str]:
    """Names X such that `X.grad` is compared with None (or tested for truth) somewhere in node."""
    v = _NoneChecks()
    v.walk(node)
    return v.found


def _comparison_checks(n: cst.Comparison, found: set[str]) -> None:
    left = n.left
    for target in n.comparisons:
        if type(target.operator) in (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual):
            right = target.comparator
            owner = _grad_owner(left) if _is_none(right) else _grad_owner(right) if _is_none(left) else None
            if owner is not None:
                found.add(owner)
        left = target.comparator


def _truth_checks(test: cst.BaseExpression, found: set[str]) -> None:
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        test = test.expression
    owner = _grad_owner(test)
    if owner is not None:
        found.add(owner)



class GradGuardFacts(Extension):
    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.param_loops: list[ParamLoop] = []
        self._ploops: list[ParamLoop | None] = []  # stack parallel to the builder's for-loops / comprehensions
        self._filtered: set[tuple[int, str]] = set()  # (id(fn), name) bound from a None-filtered list
        self._comp_uses: set[int] = set()  # `.grad` nodes already recorded by a comprehension
        self.fn_grad_checks: dict[int, set[str]] = {}  # id(fn) or 0 -> names X whose `X.grad` is None-checked
        self.grads_set_up = False  # some `__init__` assigns `p.grad = <tensor>` (gradients exist from the start)
        self.grads_kept: set[int] = set()  # id(fn) or 0 of functions calling `zero_grad(set_to_none=False)`

    def _fkey(self) -> int:
        fn = self.b.function
        return id(fn) if fn is not None else 0

    # ------------------------------------------------------------------ None checks

    def visit_If(self, node: cst.If) -> None:
        self._guard_test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._guard_test(node.test)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        found: set[str] = set()
        _truth_checks(node.left, found)
        _truth_checks(node.right, found)
        self._mark_guarded(found)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        found: set[str] = set()
        _comparison_checks(node, found)
        self._mark_guarded(found)

    def _guard_test(self, test: cst.BaseExpression) -> None:
        found: set[str] = set()
        _truth_checks(test, found)
        self._mark_guarded(found)

    def _mark_guarded(self, names: set[str]) -> None:
        if not names:
            return
        fn = self.b.function
        # anywhere in the function: `assert all(p.grad is not None for p in ...)` guards a later loop too
        self.fn_grad_checks.setdefault(id(fn) if fn is not None else 0, set()).update(names)
        for pl in self._ploops:
            if pl is not None and pl.function is fn:
                pl.guarded |= names & pl.names

    def _owner_not_a_module(self, iterable: cst.BaseExpression) -> bool:
        """`bucket.parameters()`: `.parameters()` of something not known to be a module (a DDP GradBucket,
        a wrapper): stay silent."""
        owners = [c.func.value for c in calls_in(iterable) if type(c.func) is cst.Attribute
                  and c.func.attr.value in ("parameters", "named_parameters")]
        return bool(owners) and all(self.b.classify(o).kind not in (Kind.MODULE, Kind.SELF) for o in owners)

    # ------------------------------------------------------------------ loops and uses

    def visit_For(self, node: cst.For) -> None:
        fn = self.b.function
        names = _target_names(node.target)
        params: set[str] = set()
        origin = ""
        for name in names:
            v = self.b.classify(cst.Name(name))
            if v.kind is Kind.LEAF:
                params.add(name)
                origin = origin or v.origin
        if not params or self._owner_not_a_module(node.iter):
            self._ploops.append(None)
            return
        pl = ParamLoop(node, params, fn, origin)
        pl.guarded |= _none_checked_grads(node.iter) & params
        if _none_checked_grads(node.iter):
            pl.guarded |= params  # filter(lambda q: q.grad is not None, ...)
        it = node.iter
        while type(it) is cst.Call and type(it.func) is cst.Name and it.func.value in (
            "list", "tuple", "enumerate", "iter", "sorted", "reversed", "tqdm"
        ) and _positional(it):
            it = _positional(it)[0].value
        if type(it) is cst.Name and (id(fn) if fn is not None else 0, it.value) in self._filtered:
            pl.guarded |= params
        self.param_loops.append(pl)
        self._ploops.append(pl)

    def leave_For(self, node: cst.For) -> None:
        self._ploops.pop()

    def _visit_comprehension(self, node: cst.ListComp | cst.GeneratorExp | cst.SetComp | cst.DictComp) -> None:
        comp: cst.CompFor | None = node.for_in
        names: set[str] = set()
        origin = ""
        while comp is not None:
            v = self.b.classify(comp.iter)
            if v.kind is Kind.PARAMS and type(comp.target) is cst.Name:
                names.add(comp.target.value)
                origin = origin or v.origin
            elif v.kind is Kind.NAMED_PARAMS and type(comp.target) is cst.Tuple and len(comp.target.elements) == 2:
                second = comp.target.elements[1].value
                if type(second) is cst.Name:
                    names.add(second.value)
                    origin = origin or v.origin
            comp = comp.inner_for_in
        if not names or self._owner_not_a_module(node.for_in.iter):
            return
        pl = ParamLoop(node, names, self.b.function, origin)
        pl.guarded |= _none_checked_grads(node) & names
        self.param_loops.append(pl)
        if pl.guarded >= names:
            return
        uses: list[GradUse] = []
        _CompGradUses(names, uses, self._comp_uses, pl).walk(node)
        pl.uses.extend(u for u in uses if u.name not in pl.guarded)

    visit_ListComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def _grad_use(self, grad_attr: cst.BaseExpression, how: str) -> None:
        if not self._ploops or id(grad_attr) in self._comp_uses:
            return
        owner = _grad_owner(grad_attr)
        if owner is None:
            return
        fn = self.b.function
        for pl in reversed(self._ploops):
            if pl is not None and pl.function is fn and owner in pl.names:
                assert type(grad_attr) is cst.Attribute
                pl.uses.append(GradUse(grad_attr, owner, how, pl))
                return

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._ploops and type(node.value) is cst.Attribute and node.value.attr.value == "grad":
            self._grad_use(node.value, f"`.{node.attr.value}`")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._ploops and type(node.value) is cst.Attribute and node.value.attr.value == "grad":
            self._grad_use(node.value, "`[...]`")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._ploops and type(node.target) is cst.Attribute and node.target.attr.value == "grad":
            self._grad_use(node.target, f"`{_augop(node)}`")

    def visit_Assign(self, node: cst.Assign) -> None:
        fn = self.b.function
        value = node.value
        for t in node.targets:
            target = t.target
            if type(target) is cst.Attribute and target.attr.value == "grad" and type(target.value) is cst.Name:
                self._mark_guarded({target.value.value})  # `p.grad = torch.zeros_like(p)` initialises it
                if fn is not None and fn.name == "__init__" and not (
                        type(value) is cst.Name and value.value == "None"):
                    self.grads_set_up = True  # a class gives its parameters gradients when it is built
            if type(target) is cst.Name:
                key = (self._fkey(), target.value)
                # a list of parameters filtered on `.grad is not None`
                if may_hold_parameters(value) and _none_checked_grads(value):
                    self._filtered.add(key)
                elif self._filtered:
                    self._filtered.discard(key)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is not cst.Attribute:
            return
        if func.attr.value == "zero_grad":
            arg = _kwarg(node, "set_to_none") or (_positional(node)[0] if _positional(node) else None)
            if arg is not None and type(arg.value) is cst.Name and arg.value.value == "False":
                self.grads_kept.add(self._fkey())  # gradients are zeroed, not set to None
        elif func.attr.value in ("assertIsNotNone", "assertIsNone") and node.args:
            owner = _grad_owner(node.args[0].value)
            if owner is not None:
                self._mark_guarded({owner})


class _CompGradUses(Walker):
    """`.grad` / `[...]` uses of the loop names inside one comprehension over parameters."""

    def __init__(self, names: set[str], uses: list[GradUse], seen: set[int], pl: ParamLoop) -> None:
        self.names, self.uses, self.seen, self.pl = names, uses, seen, pl

    def visit_Attribute(self, n: cst.Attribute) -> None:
        owner = _grad_owner(n.value)
        if owner in self.names:
            self.uses.append(GradUse(n.value, owner, f"`.{n.attr.value}`", self.pl))
            self.seen.add(id(n.value))

    def visit_Subscript(self, n: cst.Subscript) -> None:
        owner = _grad_owner(n.value)
        if owner in self.names:
            self.uses.append(GradUse(n.value, owner, "`[...]`", self.pl))
            self.seen.add(id(n.value))


_AUG = {
    cst.AddAssign: "+=", cst.SubtractAssign: "-=", cst.MultiplyAssign: "*=", cst.DivideAssign: "/=",
    cst.PowerAssign: "**=", cst.FloorDivideAssign: "//=", cst.ModuloAssign: "%=",
}


def _augop(node: cst.AugAssign) -> str:
    return _AUG.get(type(node.operator), "op=")

