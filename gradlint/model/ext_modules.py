"""Module facts for two rules, recorded in the builder's single walk (a model extension).

* GL018 — dropout calls in methods of `nn.Module` classes: `F.dropout*(...)` without `training`,
  `nn.Dropout*(...)` constructed there, `F.scaled_dot_product_attention(dropout_p=...)` whose value is
  not gated on `self.training`; calls under an `if self.training:` / `... if self.training else ...`
  are not recorded.
* GL021 — for the optimizers the core model records (`model.optimizers`, `gradlint.model.training`: the
  modules whose `.parameters()` they captured), later `add_param_group` calls, uses of the optimizer's
  name, and assignments that put a new parameterised module or `nn.Parameter` on an attribute / item of
  a module (`model.fc = nn.Linear(...)`, `model[2] = nn.Linear(...)`, `model.weight = nn.Parameter(...)`).

GL014's facts (loops over parameters that dereference `.grad`) are in `gradlint.model.ext_grads`; the
eval()/train() switches, loop extents and rebindings inside loops are core facts (`model.switches`,
`LoopInfo.end_seq`, `model.training.loop_bindings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from gradlint.model.builder import _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, LoopInfo
from gradlint.model.names import dotted
from gradlint.model.training import Optimizer, calls_in
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


# ----------------------------------------------------------------------------- facts


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
class Reassign:
    node: cst.Assign
    target: cst.BaseExpression
    path: str  # `model.fc`, `model[...]`
    what: str  # "a new `nn.Linear`"
    seq: int
    function: FunctionInfo | None
    loops: list[LoopInfo]


# ----------------------------------------------------------------------------- local walks


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
        # GL018
        self.dropout_calls: list[DropoutCall] = []
        self._training_ifs: list[bool] = []
        self._exempt_calls: set[int] = set()
        # (id(fn), name) -> [(assigned value, under an `if <training flag>:`)] in a module's methods
        self._local_values: dict[tuple[int, str], list[tuple[cst.BaseExpression, bool]]] = {}
        # GL021
        self._n_opts = 0  # how many of the core model's optimizers `_opt_names` has seen
        self.add_param_groups: list[tuple[int, FunctionInfo | None]] = []
        self.reassigns: list[Reassign] = []
        self.opt_uses: dict[str, list[int]] = {}  # last name of an optimizer variable -> sequence points
        self._opt_names: set[str] = set()
        # last name of an optimizer variable -> (sequence point, function) of its rebindings
        self.opt_rebinds: dict[str, list[tuple[int, FunctionInfo | None]]] = {}
        self._ctor_names: dict[tuple[int, str], str] = {}  # (id(fn), name) -> "a new `nn.Linear`"

    # ------------------------------------------------------------------ helpers

    @property
    def optimizers(self) -> list[Optimizer]:
        """The optimizers (core facts, `model.optimizers`) that captured a module's `.parameters()`."""
        return [o for o in self.b.training.optimizers if o.receivers]

    def _sync_optimizers(self) -> None:
        opts = self.b.training.optimizers
        if len(opts) != self._n_opts:
            for o in opts[self._n_opts:]:
                if o.receivers and o.var:
                    self._opt_names.add(o.var.rsplit(".", 1)[-1])
            self._n_opts = len(opts)

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

    def leave_If(self, node: cst.If) -> None:
        self._training_ifs.pop()

    def visit_IfExp(self, node: cst.IfExp) -> None:
        if self._method() is not None and _mentions_training(node.test):
            for call in calls_in(node.body) + calls_in(node.orelse):
                self._exempt_calls.add(id(call))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._opt_names:
            if node.attr.value in self._opt_names and type(node.value) is cst.Name:  # self.optimizer
                self.opt_uses.setdefault(node.attr.value, []).append(self.b.next_seq())
            else:
                self._opt_use(node.value)  # optimizer.step

    # ------------------------------------------------------------------ assignments

    def visit_Assign(self, node: cst.Assign) -> None:
        fn = self.b.function
        fkey = self._fkey()
        value = node.value
        in_method: bool | None = None
        opt_names = self._opt_names
        for t in node.targets:
            target = t.target
            if opt_names and (d := dotted(target)) is not None and d.rsplit(".", 1)[-1] in opt_names:
                self.opt_rebinds.setdefault(d.rsplit(".", 1)[-1], []).append((self.b.next_seq(), fn))
            if type(target) is cst.Name:
                name = target.value
                key = (fkey, name)
                # GL021: names holding a new parameterised module
                if self._n_opts and self.optimizers:
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
                if self._n_opts and type(value) in (cst.Call, cst.Name) and self.optimizers:
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
                           for c in calls_in(value) if c is not value):
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
            self._sync_optimizers()  # a construction, recorded by the core model (`model.optimizers`)

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
