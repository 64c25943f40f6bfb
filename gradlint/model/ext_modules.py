"""Module / optimizer facts, recorded in the builder's single walk (a model extension).

Facts for four rules:

* GL014 — `.grad` dereferences (`p.grad.zero_()`, `p.grad += g`, `p.grad.data`, `p.grad[i]`) on the loop
  variable of a loop (or comprehension) over parameters, and whether that loop checks `p.grad` against
  None anywhere (`if p.grad is None: continue`, `if p.grad is not None:`, `p.grad is not None and ...`,
  a `filter(lambda p: p.grad is not None, ...)` iterable, a name bound from such a filtered list, or an
  assignment `p.grad = ...` that initialises it).
* GL016 — the eval()/train() switches the core builder records (`ModelBuilder.switches`), with
  their call nodes, the loops around them and whether the block ends the loop right after (`break`,
  `return`, `raise`); the end of every loop (a sequence point), so rules can tell which facts lie inside
  it; names (re)bound inside loops.
* GL018 — dropout calls in methods of `nn.Module` classes: `F.dropout*(...)` without `training`,
  `nn.Dropout*(...)` constructed there, `F.scaled_dot_product_attention(dropout_p=...)` whose value is
  not gated on `self.training`; calls under an `if self.training:` / `... if self.training else ...`
  are not recorded.
* GL021 — optimizer constructions and the receivers whose `.parameters()` they captured, later
  `add_param_group` calls, uses of the optimizer's name, and assignments that put a new parameterised
  module or `nn.Parameter` on an attribute / item of a module (`model.fc = nn.Linear(...)`,
  `model[2] = nn.Linear(...)`, `model.weight = nn.Parameter(...)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from gradlint.model.builder import _kwarg, _positional, _target_names
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, LoopInfo, ModeSwitch
from gradlint.model.names import dotted
from gradlint.model.values import Kind
from gradlint.model.walk import Walker

# ----------------------------------------------------------------------------- vocabularies

# torch.nn.functional dropouts whose `training` defaults to True (alpha_dropout / feature_alpha_dropout
# default to training=False in torch 2.13: they never drop unless asked, a different problem)
FUNCTIONAL_DROPOUTS = frozenset({"dropout", "dropout1d", "dropout2d", "dropout3d"})
DROPOUT_MODULES = frozenset({"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"})

# torch.nn classes with no parameters: putting one in place of a submodule leaves nothing un-optimised
PARAM_FREE_MODULES = frozenset(
    """Identity ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Hardswish Hardsigmoid Hardtanh Sigmoid Tanh
    Softmax LogSoftmax Softmax2d Softplus Softsign Tanhshrink Threshold GLU LogSigmoid Softmin Dropout Dropout1d
    Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout Flatten Unflatten MaxPool1d MaxPool2d MaxPool3d
    AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d
    AdaptiveMaxPool2d AdaptiveMaxPool3d LPPool1d LPPool2d Upsample UpsamplingNearest2d UpsamplingBilinear2d
    PixelShuffle PixelUnshuffle ZeroPad2d ConstantPad1d ConstantPad2d ConstantPad3d ReflectionPad1d
    ReflectionPad2d ReplicationPad1d ReplicationPad2d ChannelShuffle CosineSimilarity PairwiseDistance""".split()
)
MODULE_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
_OPTIMIZER = re.compile(r"torch\.optim\.(?:([a-z_]+)\.)?([A-Z]\w*)")
_NOT_OPTIMIZER_MODULES = frozenset({"lr_scheduler", "swa_utils"})
_NOT_OPTIMIZERS = frozenset({"Optimizer"})


# ----------------------------------------------------------------------------- facts


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


@dataclass(eq=False)
class DropoutCall:
    node: cst.Call
    kind: str  # "functional", "module", "sdpa"
    func_text: str  # `F.dropout`, `nn.Dropout`
    method: FunctionInfo  # the method of the nn.Module class it is in (outermost for nested defs)
    fix_self: str | None  # the name of the method's `self` (for `training=self.training`)
    dropout_p: cst.BaseExpression | None = None  # SDPA's dropout_p value
    dropout_p_code: str = ""


@dataclass(eq=False)
class OptimizerCtor:
    node: cst.Call
    seq: int
    function: FunctionInfo | None
    receivers: set[str]  # dotted owners of the captured `.parameters()`
    var: str | None  # `opt`, `self.optimizer`
    loops: list[LoopInfo]


@dataclass(eq=False)
class Reassign:
    node: cst.Assign
    target: cst.BaseExpression
    path: str  # `model.fc`, `model[...]`
    what: str  # "a new `nn.Linear`"
    seq: int
    function: FunctionInfo | None
    loops: list[LoopInfo]


# ----------------------------------------------------------------------------- local walks


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


_TRAINING_NAMES = frozenset({"training", "is_training", "train", "is_train", "train_mode"})


class _MentionsTraining(Walker):
    def __init__(self) -> None:
        self.found = False

    def visit_Attribute(self, n: cst.Attribute) -> None:
        if n.attr.value in ("training", "is_training"):
            self.found = True

    def visit_Name(self, n: cst.Name) -> None:
        if n.value in _TRAINING_NAMES:
            self.found = True


def _mentions_training(node: cst.CSTNode) -> bool:
    """Does the expression read a training flag (`self.training`, `training`, `is_training`, `train`)?"""
    if type(node) is cst.Name:
        return node.value in _TRAINING_NAMES
    v = _MentionsTraining()
    v.walk(node)
    return v.found


class _Calls(Walker):
    def __init__(self) -> None:
        self.out: list[cst.Call] = []

    def visit_Call(self, n: cst.Call) -> None:
        self.out.append(n)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    v = _Calls()
    v.walk(node)
    return v.out


def _parameters_owners(node: cst.CSTNode) -> set[str]:
    """Owners X of every `X.parameters()` / `X.named_parameters()` call in node."""
    owners: set[str] = set()
    for call in _calls_in(node):
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in ("parameters", "named_parameters"):
            d = dotted(func.value)
            if d:
                owners.add(d)
    return owners


_ITERABLE_WRAPPERS = frozenset({"list", "tuple", "filter", "sorted", "set", "iter", "chain"})


def _may_hold_parameters(value: cst.BaseExpression, imports=None) -> bool:
    """Could this value be (a filtered list of) parameters / param groups? (Cheap, syntactic; `imports`
    resolves an alias such as `from itertools import chain as ichain`.)"""
    if type(value) in (cst.ListComp, cst.GeneratorExp, cst.List, cst.Tuple):
        return True
    if type(value) is cst.Call:
        func = value.func
        if type(func) is cst.Name:
            return func.value in _ITERABLE_WRAPPERS or (
                imports is not None and imports.resolve(func) == "itertools.chain")
        if type(func) is cst.Attribute:
            return func.attr.value in ("parameters", "named_parameters", "chain")
    return False


def _is_numeric_nonzero(expr: cst.BaseExpression) -> bool | None:
    """True for a non-zero number literal, False for 0 / 0.0, None for anything else."""
    if type(expr) in (cst.Integer, cst.Float):
        try:
            return float(expr.value.replace("_", "")) != 0.0
        except ValueError:
            return None
    return None


# ----------------------------------------------------------------------------- the extension


class ModuleFacts(Extension):
    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.loop_end: dict[int, int] = {}  # id(LoopInfo) -> sequence point at its end
        # GL014
        self.param_loops: list[ParamLoop] = []
        self._ploops: list[ParamLoop | None] = []  # stack parallel to the builder's for-loops / comprehensions
        self._filtered: set[tuple[int, str]] = set()  # (id(fn), name) bound from a None-filtered list
        self._comp_uses: set[int] = set()  # `.grad` nodes already recorded by a comprehension
        self.fn_grad_checks: dict[int, set[str]] = {}  # id(fn) or 0 -> names X whose `X.grad` is None-checked
        self.grads_set_up = False  # some `__init__` assigns `p.grad = <tensor>` (gradients exist from the start)
        self.grads_kept: set[int] = set()  # id(fn) or 0 of functions calling `zero_grad(set_to_none=False)`
        # GL016
        self.loop_bindings: list[tuple[int, str, FunctionInfo | None]] = []  # (seq, dotted target, fn)
        # GL018
        self.dropout_calls: list[DropoutCall] = []
        self._training_ifs: list[bool] = []
        self._exempt_calls: set[int] = set()
        # (id(fn), name) -> [(assigned value, under an `if <training flag>:`)] in a module's methods
        self._local_values: dict[tuple[int, str], list[tuple[cst.BaseExpression, bool]]] = {}
        # GL021
        self.optimizers: list[OptimizerCtor] = []
        self.add_param_groups: list[tuple[int, FunctionInfo | None]] = []
        self.reassigns: list[Reassign] = []
        self.opt_uses: dict[str, list[int]] = {}  # last name of an optimizer variable -> sequence points
        self._opt_names: set[str] = set()
        # last name of an optimizer variable -> (sequence point, function) of its rebindings
        self.opt_rebinds: dict[str, list[tuple[int, FunctionInfo | None]]] = {}
        self._assign_target_of: dict[int, str] = {}  # id(rhs call) -> dotted target
        self._param_names: dict[tuple[int, str], set[str]] = {}  # (id(fn), name) -> owners of .parameters()
        self._ctor_names: dict[tuple[int, str], str] = {}  # (id(fn), name) -> "a new `nn.Linear`"

    # ------------------------------------------------------------------ helpers

    @property
    def switches(self) -> list[ModeSwitch]:
        """Every `eval()`/`train()` switch of the file (recorded by the core builder)."""
        return self.b.switches

    def _fkey(self) -> int:
        fn = self.b.function
        return id(fn) if fn is not None else 0

    def _method(self) -> FunctionInfo | None:
        """The method of an nn.Module class we are in (the outermost def with a class)."""
        fn = self.b.function
        found = None
        while fn is not None:
            if fn.class_info is not None:
                found = fn
            fn = fn.parent
        if found is not None and found.class_info is not None and found.class_info.is_module:
            return found
        return None

    # ------------------------------------------------------------------ blocks (for GL016's "ends the loop")

    # ------------------------------------------------------------------ if / ifexp (GL018 gating, GL014 guards)

    def visit_If(self, node: cst.If) -> None:
        self._training_ifs.append(self._method() is not None and _mentions_training(node.test))
        self._guard_test(node.test)

    def leave_If(self, node: cst.If) -> None:
        self._training_ifs.pop()

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._guard_test(node.test)
        if self._method() is not None and _mentions_training(node.test):
            for call in _calls_in(node.body) + _calls_in(node.orelse):
                self._exempt_calls.add(id(call))

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
        owners = [c.func.value for c in _calls_in(iterable) if type(c.func) is cst.Attribute
                  and c.func.attr.value in ("parameters", "named_parameters")]
        return bool(owners) and all(self.b.classify(o).kind not in (Kind.MODULE, Kind.SELF) for o in owners)

    # ------------------------------------------------------------------ loops

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
        loop = self.b.loop
        if loop is not None and loop.node is node:
            self.loop_end[id(loop)] = self.b.next_seq()

    def leave_While(self, node: cst.While) -> None:
        loop = self.b.loop
        if loop is not None and loop.node is node:
            self.loop_end[id(loop)] = self.b.next_seq()

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
        if self._opt_names:
            if node.attr.value in self._opt_names and type(node.value) is cst.Name:  # self.optimizer
                self.opt_uses.setdefault(node.attr.value, []).append(self.b.next_seq())
            else:
                self._opt_use(node.value)  # optimizer.step

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._ploops and type(node.value) is cst.Attribute and node.value.attr.value == "grad":
            self._grad_use(node.value, "`[...]`")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._ploops and type(node.target) is cst.Attribute and node.target.attr.value == "grad":
            self._grad_use(node.target, f"`{_augop(node)}`")

    # ------------------------------------------------------------------ assignments

    def visit_Assign(self, node: cst.Assign) -> None:
        fn = self.b.function
        fkey = self._fkey()
        value = node.value
        in_method: bool | None = None
        value_owners: set[str] | None = None
        for t in node.targets:
            target = t.target
            if type(target) is cst.Attribute and target.attr.value == "grad" and type(target.value) is cst.Name:
                self._mark_guarded({target.value.value})  # `p.grad = torch.zeros_like(p)` initialises it
                if fn is not None and fn.name == "__init__" and not (
                        type(value) is cst.Name and value.value == "None"):
                    self.grads_set_up = True  # a class gives its parameters gradients when it is built
            d = dotted(target)
            if type(value) is cst.Call and d is not None:
                self._assign_target_of[id(value)] = d
            if d is not None and self._opt_names and d.rsplit(".", 1)[-1] in self._opt_names:
                self.opt_rebinds.setdefault(d.rsplit(".", 1)[-1], []).append((self.b.next_seq(), fn))
            if type(target) is cst.Name:
                name = target.value
                key = (fkey, name)
                if self.b.loop is not None:
                    self.loop_bindings.append((self.b.next_seq(), name, fn))
                # GL014: a list of parameters filtered on `.grad is not None`
                if _may_hold_parameters(value) and _none_checked_grads(value):
                    self._filtered.add(key)
                elif self._filtered:
                    self._filtered.discard(key)
                # GL021: names holding parameters of a module / a new parameterised module
                if value_owners is None:
                    value_owners = _parameters_owners(value) if _may_hold_parameters(value, self.b.imports) else set()
                if value_owners:
                    self._param_names[key] = value_owners
                elif self._param_names:
                    self._param_names.pop(key, None)
                if self.optimizers:
                    what = self._parameterised_ctor(value) if type(value) in (cst.Call, cst.Name) else ""
                    if what:
                        self._ctor_names[key] = what
                    elif self._ctor_names:
                        self._ctor_names.pop(key, None)
                # GL018: values of locals in a module's methods (is a dropout_p gated on the training flag?)
                if in_method is None:
                    in_method = self._method() is not None
                if in_method:
                    self._local_values.setdefault(key, []).append((value, any(self._training_ifs)))
            elif type(target) in (cst.Attribute, cst.Subscript):
                if d is not None and self.b.loop is not None:
                    self.loop_bindings.append((self.b.next_seq(), d, fn))
                if self.optimizers and type(value) in (cst.Call, cst.Name):
                    self._record_reassign(node, target)
            if type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == "self":
                if type(value) is cst.Call:
                    self._exempt_calls.add(id(value))  # self.drop = nn.Dropout(p): a registered submodule

    def _record_reassign(self, node: cst.Assign, target: cst.Attribute | cst.Subscript) -> None:
        owner = dotted(target.value)
        if owner is None:
            return
        what = self._parameterised_ctor(node.value)
        if not what:
            return
        path = dotted(target) if type(target) is cst.Attribute else f"{owner}[...]"
        assert path is not None
        self.reassigns.append(
            Reassign(node, target, path, what, self.b.next_seq(), self.b.function, list(self.b.enclosing_loops))
        )

    def _parameterised_ctor(self, value: cst.BaseExpression) -> str:
        """"a new `nn.Linear`" when value builds a module with parameters (or an nn.Parameter), else ""."""
        if type(value) is cst.Name:
            return self._ctor_names.get((self._fkey(), value.value), "")
        if type(value) is not cst.Call:
            return ""
        func = value.func
        q = self.b.imports.resolve(func)
        if q is not None:
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return "a new `nn.Parameter`"
            head, _, last = q.rpartition(".")
            if head in ("torch.nn", "torch.nn.modules") and last[:1].isupper():
                if last in PARAM_FREE_MODULES:
                    return ""
                if last in MODULE_CONTAINERS:
                    inner = [a for a in value.args if not a.star]
                    if any(self._parameterised_ctor(a.value) for a in inner):
                        return f"a new `nn.{last}`"
                    if any(type(c.func) in (cst.Name, cst.Attribute) and self._parameterised_ctor(c)
                           for c in _calls_in(value) if c is not value):
                        return f"a new `nn.{last}`"
                    return ""
                if last in ("Module", "Parameter", "ParameterList", "ParameterDict"):
                    return ""
                return f"a new `nn.{last}`"
            if q.startswith("torchvision.models.") and q.rsplit(".", 1)[-1][:1].islower():
                return f"a new `{q.rsplit('.', 1)[-1]}` model"
            return ""
        if type(func) is cst.Name:
            cls = self.b.classes.get(func.value)
            if cls is not None and cls.is_module:
                return f"a new `{func.value}`"
        return ""

    # ------------------------------------------------------------------ GL021: uses of an optimizer's name

    def _opt_use(self, expr: cst.BaseExpression) -> None:
        if type(expr) is cst.Name and expr.value in self._opt_names:
            self.opt_uses.setdefault(expr.value, []).append(self.b.next_seq())

    def visit_Return(self, node: cst.Return) -> None:
        if self._opt_names and node.value is not None:
            value = node.value
            for el in value.elements if type(value) is cst.Tuple else ():
                self._opt_use(el.value)
            self._opt_use(value)

    # ------------------------------------------------------------------ calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "zero_grad":
            arg = _kwarg(node, "set_to_none") or (_positional(node)[0] if _positional(node) else None)
            if arg is not None and type(arg.value) is cst.Name and arg.value.value == "False":
                self.grads_kept.add(self._fkey())  # gradients are zeroed, not set to None
        if type(func) is cst.Attribute and func.attr.value in ("assertIsNotNone", "assertIsNone") and node.args:
            owner = _grad_owner(node.args[0].value)
            if owner is not None:
                self._mark_guarded({owner})
        if self._opt_names:
            for arg in node.args:  # train(model, optimizer)
                value = arg.value
                if type(value) is cst.Attribute and value.attr.value in self._opt_names:
                    self.opt_uses.setdefault(value.attr.value, []).append(self.b.next_seq())
                else:
                    self._opt_use(value)
        # GL018: `nn.Dropout(p).eval()` / `.train(self.training)` is deliberate
        if type(func) is cst.Attribute and func.attr.value in ("eval", "train") and type(func.value) is cst.Call:
            self._exempt_calls.add(id(func.value))
        q = self.b.imports.resolve(func)
        if q is None:
            if type(func) is cst.Attribute and func.attr.value == "add_param_group":
                self.add_param_groups.append((self.b.next_seq(), self.b.function))
            return
        if q.startswith("torch.nn."):
            self._dropout(node, q)
        if q.startswith("torch.optim."):
            self._optimizer(node, q)

    def _dropout(self, node: cst.Call, q: str) -> None:
        head, _, last = q.rpartition(".")
        if head == "torch.nn.functional" and last in FUNCTIONAL_DROPOUTS:
            kind = "functional"
        elif head in ("torch.nn", "torch.nn.modules", "torch.nn.modules.dropout") and last in DROPOUT_MODULES:
            kind = "module"
        elif q == "torch.nn.functional.scaled_dot_product_attention":
            kind = "sdpa"
        else:
            return
        method = self._method()
        if method is None or id(node) in self._exempt_calls or any(self._training_ifs):
            return
        if any(a.star for a in node.args):
            return  # *args / **kwargs may carry the flag
        pos = _positional(node)
        if kind == "functional":
            if _kwarg(node, "training") is not None or len(pos) >= 3:
                return
            p = _kwarg(node, "p") or (pos[1] if len(pos) >= 2 else None)
            if p is not None and _is_numeric_nonzero(p.value) is False:
                return
        elif kind == "module":
            p = _kwarg(node, "p") or (pos[0] if pos else None)
            if p is not None and _is_numeric_nonzero(p.value) is False:
                return
        else:
            dp = _kwarg(node, "dropout_p") or (pos[4] if len(pos) >= 5 else None)
            if dp is None or not self._ungated(dp.value):
                return
        params = method.node.params.params
        fix_self = params[0].name.value if params else None
        found = DropoutCall(node, kind, dotted(node.func) or last, method, fix_self)
        if kind == "sdpa":
            found.dropout_p = dp.value
            found.dropout_p_code = cst.Module([]).code_for_node(dp.value)
        self.dropout_calls.append(found)

    def _ungated(self, expr: cst.BaseExpression) -> bool:
        """Is this dropout_p value known to be applied whatever the module's mode?"""
        if _mentions_training(expr):
            return False
        num = _is_numeric_nonzero(expr)
        if num is not None:
            return num
        if type(expr) is cst.Name:
            values = self._local_values.get((self._fkey(), expr.value))
            if not values:
                return False  # an argument, a global: the caller decides
            return not any(gated or _mentions_training(v) for v, gated in values)
        d = dotted(expr)
        return d is not None and d.startswith("self.")

    def _optimizer(self, node: cst.Call, q: str) -> None:
        m = _OPTIMIZER.fullmatch(q)
        if m is None or m.group(1) in _NOT_OPTIMIZER_MODULES or m.group(2) in _NOT_OPTIMIZERS:
            return
        arg = _kwarg(node, "params") or (_positional(node)[0] if _positional(node) else None)
        if arg is None:
            return
        fkey = self._fkey()
        receivers = _parameters_owners(arg.value)
        for name in _names(arg.value):
            receivers |= self._param_names.get((fkey, name), set())
        if not receivers:
            return
        var = self._assign_target_of.get(id(node))
        if var is not None:
            last = var.rsplit(".", 1)[-1]
            self._opt_names.add(last)
        self.optimizers.append(
            OptimizerCtor(node, self.b.next_seq(), self.b.function, receivers, var, list(self.b.enclosing_loops))
        )


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


class _BlockOf(Walker):
    """Find the block (and its statement) that holds `target`, walking only one loop's subtree."""

    def __init__(self, target: cst.CSTNode) -> None:
        self.target = target
        self.stack: list[list] = []
        self.found: tuple[cst.CSTNode, cst.CSTNode] | None = None

    def walk(self, node: cst.CSTNode) -> None:
        if self.found is not None:
            return
        if node is self.target:
            if self.stack and self.stack[-1][1] is not None:
                self.found = (self.stack[-1][0], self.stack[-1][1])
            return
        if type(node) in (cst.IndentedBlock, cst.SimpleStatementSuite):
            self.stack.append([node, None])
            for stmt in node.body:
                self.stack[-1][1] = stmt
                self.walk(stmt)
                if self.found is not None:
                    return
            self.stack.pop()
            return
        super().walk(node)


def ends_loop_after(loop: LoopInfo, call: cst.CSTNode) -> bool:
    """Is `call` followed, in its own block inside `loop`, by `break` / `return` / `raise`?
    (A local walk over the loop only; used for candidate findings.)"""
    finder = _BlockOf(call)
    finder.walk(loop.node)
    if finder.found is None:
        return False
    block, stmt = finder.found
    after = False
    for s in block.body:
        if s is stmt:
            after = True
        if after:
            smalls = s.body if type(s) is cst.SimpleStatementLine else [s] if isinstance(s, cst.BaseSmallStatement) else []
            if any(type(x) in (cst.Break, cst.Return, cst.Raise) for x in smalls):
                return True
    return False


class _Names(Walker):
    def __init__(self) -> None:
        self.out: set[str] = set()

    def visit_Name(self, n: cst.Name) -> None:
        self.out.add(n.value)

    def visit_Attribute(self, n: cst.Attribute) -> bool:
        self.walk(n.value)
        return False


def _names(expr: cst.CSTNode) -> set[str]:
    if type(expr) is cst.Name:
        return {expr.value}
    v = _Names()
    v.walk(expr)
    return v.out


_AUG = {
    cst.AddAssign: "+=", cst.SubtractAssign: "-=", cst.MultiplyAssign: "*=", cst.DivideAssign: "/=",
    cst.PowerAssign: "**=", cst.FloorDivideAssign: "//=", cst.ModuloAssign: "%=",
}


def _augop(node: cst.AugAssign) -> str:
    return _AUG.get(type(node.operator), "op=")
