"""Values made under no_grad / inference_mode where they are used: the facts behind GL011 and GL012.

What a value is comes from the one evaluator and the one binding table: each use records the provenance
(`Prov`, `gradlint.model.values`) bound to the name in its own scope at that point, which carries the
grad-mode region it was made in (`Prov.off`, `Prov.inference`: `gradlint.model.regions`); the model decides
those after the walk (`model.made_without_grad`, `model.is_inference_tensor`, `model.returned_by`).

- `BackwardUse`: `.backward()` on a receiver (`loss`, `loss.mean()`, `(a + b) * 0.5`): is it computed right
  here, which names it combines (only with literals and tensor methods), and what each of them holds;
- `InferenceUse`: a name used where an inference tensor cannot be — updated in place (`x.add_()`, `x += 1`,
  `x[i] = v`), made to require grad, or saved for backward as an operand of `*`, `/`, `@`, `**`, `torch.mul`,
  `F.mse_loss`, `nn.Linear` ... (`Operand`: what the other operands hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.evaluate import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, Mode
from gradlint.model.names import GRAD_MODE_NAMES, dotted, is_inplace_method
from gradlint.model.regions import ALIAS_METHODS, ELEMENTS, EMPTY, REGION_WORDS, element_inference
from gradlint.model.values import GRAPH, NONLEAF, Kind, Prov, evolve

if TYPE_CHECKING:
    from gradlint.model import SemanticModel

# binary operators whose backward saves both operands (verified on torch 2.13: mul, div, matmul, pow
# raise "Inference tensors cannot be saved for backward"; add and sub do not)
SAVING_BINOPS = (cst.Multiply, cst.Divide, cst.MatrixMultiply, cst.Power)
# torch / torch.nn.functional calls that save their tensor arguments (verified on torch 2.13)
SAVING_TORCH_FUNCS = frozenset(
    """torch.mul torch.multiply torch.div torch.divide torch.matmul torch.mm torch.bmm torch.pow
    torch.nn.functional.linear torch.nn.functional.mse_loss torch.nn.functional.smooth_l1_loss
    torch.nn.functional.huber_loss torch.nn.functional.cross_entropy torch.nn.functional.nll_loss
    torch.nn.functional.binary_cross_entropy torch.nn.functional.binary_cross_entropy_with_logits""".split()
)
# nn modules whose forward saves their input / target (verified on torch 2.13)
SAVING_MODULES = frozenset(
    "Linear Bilinear Conv1d Conv2d Conv3d MSELoss SmoothL1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss".split()
)
# tensor methods that save self and their tensor argument
SAVING_METHODS = frozenset("mul matmul mm bmm div pow".split())

# Uses of names that an inference tensor cannot survive are read only by GL012, whose prefilter is this:
# without it in the file, they are not recorded.
INFERENCE_USE_WORDS = ("inference_mode",)
BACKWARD_WORDS = REGION_WORDS  # GL011's prefilter: no value is made with grad mode off without one of them


@dataclass(eq=False)
class BackwardUse:
    call: cst.Call
    receiver: cst.BaseExpression
    computed_here: bool  # the receiver computes something (a call / arithmetic), not just a name
    names: tuple[str, ...]  # Names the receiver reads, when it is arithmetic/methods over them
    values: tuple[Prov | None, ...]  # what each of them holds here (None: not bound in this scope)
    derived_ok: bool  # the receiver only combines those names with literals / methods
    mode: Mode
    function: FunctionInfo | None
    seq: int


@dataclass(eq=False)
class Operand:
    """Another operand of an op that saves an inference tensor."""

    kind: Kind
    model_call: bool  # calls a model here, or is a module whose output requires grad
    named: bool  # its root is a Name (`w`, `w.t()`)
    bound: bool  # ... bound in this scope
    value: Prov | None  # ... and what it holds here
    model_output: bool = False  # ... a model's output (what made it calls a model)


@dataclass(eq=False)
class InferenceUse:
    node: cst.Name | cst.Subscript  # the inference tensor operand (`t`, an element `targets[i]` of a list)
    value: Prov | None  # what the name holds here (None: not bound in this scope)
    what: str  # "inplace", "requires_grad", "saved"
    op: str  # human words: "`+=`", "`add_()`", "`*`", "`F.mse_loss(...)`", "`model(...)`"
    mode: Mode
    function: FunctionInfo | None
    others: list[Operand] = field(default_factory=list)  # for "saved"


class NoGradUses(Extension):
    name = "nograd_uses"
    needs_regions = True  # the builder gives values their grad-mode region (`gradlint.model.regions`)

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.backward_uses: list[BackwardUse] = []
        self.inference_uses: list[InferenceUse] = []
        self._uses_needed = builder.mentions(*INFERENCE_USE_WORDS)
        self.model: SemanticModel | None = None

    def finish(self, model: SemanticModel) -> None:
        self.model = model

    def _value(self, name: str) -> Prov | None:
        return self.b.own_prov(name)

    # -------------------------------------------------------------------- assignments

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            target = t.target
            if type(target) is cst.Subscript and type(target.value) is cst.Name and self.b.regions_tracked:
                self._list_written(target.value.value, node.value)  # `targets[i] = v`: as `.append(v)`
            if self._uses_needed:
                self._target(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self._uses_needed:
            self._target(node.target, node.value)

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if type(target) in (cst.Tuple, cst.List):
            for el in target.elements:
                self._target(el.value, None)
        elif type(target) is cst.Subscript and type(target.value) is cst.Name:
            self._use(target.value, "inplace", f"`{target.value.value}[...] = ...`")
        elif (type(target) is cst.Attribute and target.attr.value == "requires_grad" and type(target.value) is cst.Name
              and value is not None and _const_bool(value) is True):
            self._use(target.value, "requires_grad", "`.requires_grad = True`")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not self._uses_needed:
            return
        op = _AUG.get(type(node.operator), "op=")
        if type(node.target) is cst.Name:
            self._use(node.target, "inplace", f"`{op}`")
        elif type(node.target) is cst.Subscript and type(node.target.value) is cst.Name:
            self._use(node.target.value, "inplace", f"`{node.target.value.value}[...] {op}`")

    # -------------------------------------------------------------------- regions of returns, lists

    def visit_Return(self, node: cst.Return) -> None:
        self.b.region_return(node)  # what the function returns was made in (`GradRegions.return_regions`)

    def visit_With(self, node: cst.With) -> None:
        self.b.region_with()  # a grad-mode-off block of the function (`GradRegions.off_blocks`)

    # Lists of inference tensors (`regions.ELEMENTS`): their elements are written into the builder's binding
    # table here, after the builder's own visit (the loop target bound, the call or assignment evaluated).

    def visit_For(self, node: cst.For) -> None:
        """`for t in lst`, `for x, t in zip(xs, lst)`, `for i, t in enumerate(lst)`: an element of a list of
        inference tensors (or a row of one) is one."""
        if self.b.regions_tracked:
            self._element_regions(node.target, node.iter)

    def _element_regions(self, target: cst.BaseExpression, it: cst.BaseExpression) -> None:
        b = self.b
        if type(target) is cst.Name:
            if type(it) is cst.Name:
                inference = element_inference(b.own_prov(it.value))
                v = b._scope.bindings.get(target.value)
                if inference is not None and v is not None and v.prov is None:
                    b._scope.bindings[target.value] = v.with_prov(Prov(inference=inference))
            return
        if type(target) not in (cst.Tuple, cst.List) or type(it) is not cst.Call or type(it.func) is not cst.Name:
            return
        els = [e.value for e in target.elements]
        pos = [a.value for a in it.args if a.keyword is None and not a.star]
        if it.func.value == "zip" and len(pos) == len(it.args) == len(els):
            for t, src in zip(els, pos):
                self._element_regions(t, src)
        elif it.func.value == "enumerate" and len(els) == 2 and pos:
            self._element_regions(els[1], pos[0])

    def _list_call(self, call: cst.Call) -> None:
        """`lst.append(v)` (and other calls on a list) where `lst` is an empty list or a list of inference
        tensors: it stays one only while every element added is an inference tensor made here."""
        func = call.func
        method = func.attr.value
        if not self.b.regions_tracked or method in ("count", "index", "copy", "pop", "clear", "remove", "reverse",
                                                     "sort"):
            return  # what is left are elements it had
        one = method == "append" and len(call.args) == 1 and not call.args[0].star
        self._list_written(func.value.value, call.args[0].value if one else None)

    def _list_written(self, key: str, value: cst.BaseExpression | None) -> None:
        """`lst` (its own binding) is given `value` as an element (None: something else)."""
        b = self.b
        cur = b.own_prov(key)
        if cur is None or cur.inference is None or not (ELEMENTS in cur.inference or EMPTY in cur.inference):
            return
        keep = False
        if value is not None:
            own = b.own_prov(value.value) if type(value) is cst.Name else None
            keep = (own is not None and own.inference == frozenset()) or (
                b.mode is Mode.INFERENCE and b.fresh_tensor(value))
        new = frozenset({ELEMENTS}) if keep else None
        if new == cur.inference:
            return
        # the same list, changed: no new binding for the loop joins (GL006 asks whether a list appended to in a
        # loop is the one of the previous iteration), only for the merges after a branch or a loop
        scope = b._scope
        if scope.frames:
            frame = scope.frames[-1]
            frame.before.setdefault(key, cur)
            frame.assigned.setdefault(key, []).append(evolve(cur, inference=new))
        scope.bindings[key] = scope.bindings[key].with_prov(evolve(cur, inference=new))

    # -------------------------------------------------------------------- calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        b = self.b
        if type(func) is cst.Attribute:
            if func.attr.value == "backward":
                self._backward(node, func.value)
            elif type(func.value) is cst.Name:
                self._list_call(node)  # `targets.append(teacher(x))`
        if not self._uses_needed:
            return
        q = b.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if type(recv) is cst.Subscript and method in SAVING_METHODS and _element(recv):
                self._saved_use(recv, f"`.{method}()`", [a.value for a in node.args if not a.star])
            if type(recv) is cst.Name and method != "backward":
                if method == "requires_grad_":
                    arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                    if arg is None or _const_bool(arg.value) is True:
                        self._use(recv, "requires_grad", "`.requires_grad_()`")
                elif is_inplace_method(method):
                    self._use(recv, "inplace", f"`{method}()`")
                elif method in SAVING_METHODS:
                    self._saved_use(recv, f"`.{method}()`", [a.value for a in node.args if not a.star])
            if method in SAVING_METHODS:
                for a in node.args:
                    if _operand(a.value) and a.keyword is None:
                        self._saved_use(a.value, f"`.{method}()`", [recv])
        # operands of saving torch functions and modules
        saving = q in SAVING_TORCH_FUNCS if q else False
        if not saving and type(func) in (cst.Name, cst.Attribute) and not (q and q.startswith("torch.")):
            v = b.callee_value(func)
            if v.kind is Kind.MODULE and any(f"nn.{m}`" in v.origin for m in SAVING_MODULES):
                saving = True
        if saving:
            label = f"`{dotted(func) or 'call'}(...)`"
            args = [a.value for a in node.args if not a.star and (a.keyword is None or a.keyword.value in (
                "input", "target", "weight", "other"))]
            for a in args:
                if _operand(a):
                    self._saved_use(a, label, [o for o in args if o is not a] + (
                        [func] if not (q and q.startswith("torch.")) else []))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self._uses_needed and isinstance(node.operator, SAVING_BINOPS):
            sym = {cst.Multiply: "*", cst.Divide: "/", cst.MatrixMultiply: "@", cst.Power: "**"}[type(node.operator)]
            if _operand(node.left):
                self._saved_use(node.left, f"`{sym}`", [node.right])
            if _operand(node.right):
                self._saved_use(node.right, f"`{sym}`", [node.left])

    # -------------------------------------------------------------------- uses

    def _use(self, node: cst.Name | cst.Subscript, what: str, op: str, others: list[Operand] | None = None) -> None:
        if type(node) is cst.Subscript:  # an element of a list of inference tensors, a row of one
            base = self._value(node.value.value)
            index = node.slice[0].slice.value
            if type(index) is cst.UnaryOperation:
                index = index.expression
            if base is not None and base.inference is not None and ELEMENTS not in base.inference and (
                    type(index) is not cst.Integer):
                base = None  # `x[idx]` of a tensor may be advanced indexing: a copy, a normal tensor (verified)
            value = Prov(inference=element_inference(base)) if base is not None else None
        else:
            value = self._value(node.value)
        self.inference_uses.append(InferenceUse(node, value, what, op, self.b.mode, self.b.function, others or []))

    def _saved_use(self, node: cst.Name | cst.Subscript, op: str, others: list[cst.BaseExpression]) -> None:
        b = self.b
        desc = []
        for o in others:
            root = _root_name(o)
            bound = root is not None and b.binds_here(root.value)
            value = self._value(root.value) if root is not None else None
            made_by_model = value is not None and value.state in (GRAPH, NONLEAF) and self._calls_model(value.node)
            desc.append(Operand(b.classify(o).kind, self._is_model(o) or self._calls_model(o), root is not None,
                                bound, value, made_by_model))
        self._use(node, "saved", op, desc)

    def _calls_model(self, expr: cst.CSTNode | None) -> bool:
        """Does this expression call a model (a module whose output requires grad) somewhere?"""
        stack = [expr]
        while stack:
            e = stack.pop()
            t = type(e)
            if t is cst.Call:
                func = e.func
                if type(func) is cst.Attribute and func.attr.value == "forward":
                    func = func.value
                if e.args and self._is_model(func) and not (self.b.imports.resolve(func) or "").startswith("torch."):
                    return True
                stack += [a.value for a in e.args]
                stack.append(e.func.value if type(e.func) is cst.Attribute else e.func)
            elif t is cst.Attribute:
                stack.append(e.value)
            elif t is cst.BinaryOperation:
                stack += (e.left, e.right)
            elif t is cst.UnaryOperation:
                stack.append(e.expression)
            elif t is cst.Subscript:
                stack.append(e.value)
            elif t in (cst.List, cst.Tuple):
                stack += [el.value for el in e.elements]
        return False

    def _is_model(self, expr: cst.BaseExpression) -> bool:
        """A module whose output requires grad (not a loss, not frozen with `.requires_grad_(False)`)."""
        if type(expr) not in (cst.Name, cst.Attribute):
            return False
        v = self.b.classify(expr)
        return v.kind is Kind.MODULE and "Loss" not in v.origin and not self.b.is_frozen(expr)

    def _backward(self, call: cst.Call, recv: cst.BaseExpression) -> None:
        inner = recv
        while (type(inner) is cst.Call and type(inner.func) is cst.Attribute
               and inner.func.attr.value in ALIAS_METHODS):
            inner = inner.func.value  # `loss.float()` may return `loss` itself, graph included
        computed = _fresh_computation(inner, self.b)
        names, ok = _derived(recv)
        self.backward_uses.append(BackwardUse(
            call, recv, computed, tuple(names), tuple(self._value(n) for n in names), ok, self.b.mode,
            self.b.function, self.b.next_seq()))

    # -------------------------------------------------------------------- queries

    def requires_grad_operand(self, op: Operand) -> bool:
        """Is an operand known to require grad where it is used (grad mode on)?"""
        model = self.model
        assert model is not None
        if op.model_call:
            return True
        if op.bound:
            v = op.value
            if model.made_without_grad(v) or model.is_inference_tensor(v):
                return False
            if v is not None and op.model_output and all(
                    model.effective_mode(Mode.INHERITED, fn) is Mode.ENABLED for fn in v.conds):
                return True  # a model's output computed with grad mode on
            return op.kind in (Kind.LEAF, Kind.NONLEAF)
        if op.kind is Kind.LEAF:
            return True  # a parameter (`model.weight`, `self.w`, a loop over `.parameters()`)
        return op.kind is Kind.NONLEAF and not op.named  # an inline computation from a leaf


# ------------------------------------------------------------------------------------------ helpers

_AUG = {
    cst.AddAssign: "+=", cst.SubtractAssign: "-=", cst.MultiplyAssign: "*=", cst.DivideAssign: "/=",
    cst.FloorDivideAssign: "//=", cst.PowerAssign: "**=", cst.ModuloAssign: "%=",
    cst.MatrixMultiplyAssign: "@=", cst.BitAndAssign: "&=", cst.BitOrAssign: "|=", cst.BitXorAssign: "^=",
}


def _operand(expr: cst.BaseExpression) -> bool:
    """A name (`t`) or an element of one (`targets[i]`): an operand whose value the uses record."""
    return type(expr) is cst.Name or _element(expr)


def _element(expr: cst.BaseExpression) -> bool:
    """`targets[i]`: one element (no slice) of a name."""
    return (type(expr) is cst.Subscript and type(expr.value) is cst.Name and len(expr.slice) == 1
            and type(expr.slice[0].slice) is cst.Index)


def _root_name(expr: cst.BaseExpression) -> cst.Name | None:
    """`loss` for `loss`, `loss.mean()`, `loss.sum().float()`, `(loss * 2)` is not followed."""
    while True:
        if type(expr) is cst.Name:
            return expr
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            expr = expr.func.value
        else:
            return None


# tensor methods that compute a new tensor (a backward receiver computed by one has the mode's graph, or none)
FRESH_METHODS = frozenset(
    """sum mean pow mul add sub div norm abs square sqrt log exp neg prod amax amin logsumexp std var
    softmax log_softmax sigmoid tanh relu clamp""".split()
)


def _fresh_computation(expr: cst.BaseExpression, b) -> bool:
    """A new tensor computed right here: arithmetic, a torch function, a model call, `x.sum()` ..."""
    if type(expr) in (cst.BinaryOperation, cst.UnaryOperation):
        return True
    if type(expr) is not cst.Call:
        return False
    func = expr.func
    if type(func) is cst.Attribute and func.attr.value in FRESH_METHODS:
        return True
    if type(func) in (cst.Name, cst.Attribute):
        q = b.imports.resolve(func)
        if q is not None and q.startswith("torch.") and q not in GRAD_MODE_NAMES:
            return True
        return b.classify(func).kind is Kind.MODULE
    return False


def _derived(expr: cst.BaseExpression) -> tuple[list[str], bool]:
    """For a backward receiver: the Names it reads, and whether it only combines them with literals and
    tensor methods (`loss`, `loss.mean()`, `(loss_a + loss_b) * 0.5`)."""
    names: list[str] = []
    ok = True

    def go(e: cst.BaseExpression) -> None:
        nonlocal ok
        if type(e) is cst.Name:
            names.append(e.value)
        elif type(e) in (cst.Integer, cst.Float):
            pass
        elif type(e) is cst.BinaryOperation:
            go(e.left)
            go(e.right)
        elif type(e) is cst.UnaryOperation:
            go(e.expression)
        elif type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value not in (
            "requires_grad_", "retain_grad"
        ):
            go(e.func.value)
            for a in e.args:
                if type(a.value) not in (cst.Integer, cst.Float, cst.Name, cst.SimpleString) or (
                    type(a.value) is cst.Name and a.value.value not in ("True", "False", "None")
                ):
                    ok = False
        else:
            ok = False

    go(expr)
    return names, ok and bool(names)


__all__ = [
    "BACKWARD_WORDS",
    "INFERENCE_USE_WORDS",
    "BackwardUse",
    "InferenceUse",
    "NoGradUses",
    "Operand",
]
