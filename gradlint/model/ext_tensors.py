"""Tensor facts for GL008, GL015, GL017 and GL019, recorded in the builder's single walk from the one
evaluator's values (`ModelBuilder.prov`, see `gradlint.model.tensor_ops`; the bindings are the builder's).

Recorded: `.grad` reads (with the scopes they are in) and `retain_grad()` calls, the tensors handed to
optimizer constructions (read from the core model's `Optimizer` facts), factory calls with `requires_grad=` and `nn.Parameter(...)` calls of integer
tensors, `.requires_grad = ...` assignments and `.requires_grad_()` calls (with whether the target is a
temporary), and where the values of re-wrapping calls (`RewrapCall`, recorded by the evaluator) flow:
backward, a module call in `forward`, a `forward`'s return, an optimizer or `nn.Parameter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.evaluate import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import M_ENABLED, M_INHERITED, FunctionInfo
from gradlint.model.names import TORCH_FACTORIES, dotted
from gradlint.model.tensor_ops import RewrapCall, is_int_dtype
from gradlint.model.values import (
    GRAPH, K_LEAF, K_MODULE, K_NONLEAF, K_TENSOR, MOVED, NONLEAF, PLAIN, RG, TENSOR_STATES, Prov,
)

if TYPE_CHECKING:
    from gradlint.model import SemanticModel

__all__ = ["FactoryGrad", "GradRead", "OptimizerParam", "RequiresGradSet", "RewrapCall", "TensorFacts",
           "is_int_dtype", "MOVED", "NONLEAF", "PLAIN", "RG"]


@dataclass(eq=False)
class GradRead:
    node: cst.Attribute  # the `x.grad` attribute
    key: str
    value: Prov
    scopes: tuple[int, ...]  # the uid of the scope of the read and of its enclosing scopes
    function: FunctionInfo | None

@dataclass(eq=False)
class OptimizerParam:
    call: cst.Call  # the optimizer construction
    optimizer: str  # "torch.optim.SGD"
    key: str
    value: Prov

@dataclass(eq=False)
class FactoryGrad:
    """A torch factory called with `requires_grad=<truthy constant>`, or `nn.Parameter(<tensor expr>)`."""

    call: cst.Call
    func: str  # "torch.tensor", "torch.nn.Parameter"
    arg: cst.Arg | None  # the requires_grad keyword (None for nn.Parameter)
    dtype: str | None  # the dtype the tensor gets, when known
    reason: str  # why it is an integer/bool tensor, for the message ("integer literals", "`dtype=torch.long`")
    explicit_dtype: cst.Arg | None  # the dtype= argument when the user wrote one
    int_literals: tuple[cst.Integer, ...] = ()  # integer literals that make it integer (for the fix)
    in_try: bool = False
    in_raises: bool = False
    function: FunctionInfo | None = None

@dataclass(eq=False)
class RequiresGradSet:
    node: cst.CSTNode  # the Assign statement, or the requires_grad_() call
    target: cst.BaseExpression  # the tensor expression
    key: str | None
    value: Prov
    flag: bool | None  # the constant assigned / passed, None when not a constant
    form: str  # "attr" or "method"
    in_raises: bool = False
    whole_statement: bool = False  # the call / assignment is the whole statement (`t.requires_grad_()`)
    # the target is a new tensor object made by this very expression (`p.data`, `p.detach()`, `w.data[:, :2]`,
    # `x.float()` of a non-float32 tensor): how it was made, for messages, and the tensor it was made from
    temporary: str = ""
    owner: cst.BaseExpression | None = None
    owner_requires_grad: bool | None = None  # does that tensor require grad (None: not known)



class TensorFacts(Extension):
    name = "tensors"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.grad_reads: list[GradRead] = []
        self.retained: set[tuple[int, str]] = set()  # (scope uid, key) with a .retain_grad() call
        self.optimizer_params: list[OptimizerParam] = []
        self.factory_grads: list[FactoryGrad] = []
        self.requires_grad_sets: list[RequiresGradSet] = []
        self._targets: set[int] = set()  # ids of Assign/Del target nodes (not reads)
        self._try_depth = 0
        self._raises_depth = 0
        self._with_raises: list[bool] = []
        self._model: SemanticModel | None = None
        self._stmt_call = 0  # id of the call that is a whole expression statement

    @property
    def rewraps(self) -> list[RewrapCall]:
        return self.b.rewraps

    # ------------------------------------------------------------------ after the walk

    def finish(self, model: "SemanticModel") -> None:
        self._model = model
        # the tensors handed to each optimizer (the core model's `Optimizer.tensors`, `gradlint.model.training`)
        for opt in model.optimizers:
            for key, v in opt.tensors:
                for ev in v.rewraps:
                    ev.trained = True
                if key is not None:
                    self.optimizer_params.append(OptimizerParam(opt.node, opt.qname, key, v))

    def enabled(self, value: Prov) -> bool:
        """Do all the grad-mode conditions of `value` hold (every function it was computed in runs with
        grad mode on)?"""
        return self.enabled_conds(value.conds)

    def enabled_conds(self, conds: frozenset) -> bool:
        assert self._model is not None
        return all(self._model.effective_mode(M_INHERITED, fn) is M_ENABLED for fn in conds)

    def is_nonleaf(self, value: Prov) -> bool:
        return value.state == NONLEAF and self.enabled(value)

    # ------------------------------------------------------------------ walk: syntax

    def visit_Try(self, node: cst.Try) -> None:
        self._try_depth += 1

    def leave_Try(self, node: cst.Try) -> None:
        self._try_depth -= 1

    visit_TryStar, leave_TryStar = visit_Try, leave_Try

    def visit_With(self, node: cst.With) -> None:
        raises = False
        for item in node.items:
            e = item.item
            if type(e) is cst.Call:
                d = dotted(e.func) or ""
                if d.endswith(("raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp")):
                    raises = True
        self._with_raises.append(raises)
        if raises:
            self._raises_depth += 1

    def leave_With(self, node: cst.With) -> None:
        if self._with_raises.pop():
            self._raises_depth -= 1

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            target = t.target
            self._targets.add(id(target))
            if type(target) is cst.Attribute and target.attr.value == "requires_grad":
                self._record_requires_grad(node, target.value, _const_bool(node.value), "attr")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets.add(id(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets.add(id(node.target))

    def visit_Del(self, node: cst.Del) -> None:
        self._targets.add(id(node.target))

    def visit_Expr(self, node: cst.Expr) -> None:
        self._stmt_call = id(node.value)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is None or not self.b.in_forward:
            return
        value = node.value
        if type(value) in (cst.Name, cst.BinaryOperation, cst.Call, cst.Subscript, cst.Attribute):
            v = self.b.prov(value)
            if v.pure:
                for ev in v.rewraps:
                    ev.reached_return = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "grad" or id(node) in self._targets:
            return
        key = dotted(node.value)
        if key is None:
            return
        uids = []
        scope = self.b._scope
        while scope is not None:
            uids.append(scope.uid)
            scope = scope.parent
        self.grad_reads.append(GradRead(node, key, self.b.prov(node.value), tuple(uids), self.b.function))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        q = self.b.imports.resolve(func)
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if method == "retain_grad":
                key = dotted(recv)
                if key is not None:
                    self.retained.add((self.b._scope.uid, key))
            elif method == "requires_grad_":
                arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                self._record_requires_grad(node, recv, flag, "method")
            elif method == "backward":
                v = self.b.prov(recv)
                if v.pure:
                    for ev in v.rewraps:
                        ev.reached_backward = True
        if q is not None:
            head, _, last = q.rpartition(".")
            if q in ("torch.autograd.backward", "torch.autograd.grad"):
                pos = _positional(node)
                if pos:
                    self._mark_backward(pos[0].value)
            elif q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                pos = _positional(node)
                if pos:
                    for ev in self.b.prov(pos[0].value).rewraps:
                        ev.trained = True
                    self._record_parameter(node, q, pos[0].value)
            elif head == "torch" and last in TORCH_FACTORIES:
                self._record_factory(node, q, last)
        else:
            fv = self.b.callee_value(func)
            if fv.kind is K_MODULE and self.b.in_forward:
                for a in node.args:
                    v = self.b.prov(a.value)
                    if v.pure:
                        for ev in v.rewraps:
                            ev.reached_module = True

    def _mark_backward(self, expr: cst.BaseExpression) -> None:
        exprs = [e.value for e in expr.elements] if type(expr) in (cst.List, cst.Tuple) else [expr]
        for e in exprs:
            v = self.b.prov(e)
            if v.pure:
                for ev in v.rewraps:
                    ev.reached_backward = True

    # ------------------------------------------------------------------ facts

    def _record_requires_grad(self, node: cst.CSTNode, target: cst.BaseExpression, flag: bool | None,
                              form: str) -> None:
        value = self.b.prov(target)
        whole = form == "attr" or id(node) == self._stmt_call
        temp = self._temporary(target)
        self.requires_grad_sets.append(
            RequiresGradSet(node, target, dotted(target), value, flag, form, in_raises=self._raises_depth > 0,
                            whole_statement=whole and len(getattr(node, "targets", ())) <= 1,
                            temporary=temp[0] if temp else "", owner=temp[1] if temp else None,
                            owner_requires_grad=self._requires_grad(temp[1]) if temp else None)
        )

    # conversions that copy when they change the dtype (and return `self` when they do not)
    _DTYPE_METHODS = {"float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16"}

    def _requires_grad(self, expr: cst.BaseExpression) -> bool | None:
        v = self.b.prov(expr)
        if v.state in (RG, NONLEAF, MOVED, GRAPH):
            return True
        if v.state == PLAIN:
            return False
        core = self.b.classify(expr).kind
        if core in (K_LEAF, K_NONLEAF):
            return True
        return False if core is K_TENSOR else None

    def _temporary(self, expr: cst.BaseExpression) -> tuple[str, cst.BaseExpression] | None:
        """Is `expr` a tensor object made anew by evaluating it (so a flag set on it is lost)? Returns how it was
        made and the tensor it was made from. Only provable cases: `X.data` (a new alias on every access),
        `X.detach()`, `X.clone()`, indexing such a temporary or a plain tensor, a dtype conversion of a tensor
        of another known dtype, `.cuda()` of a tensor a CPU factory made here."""
        if type(expr) is cst.Attribute and expr.attr.value == "data":
            if self.b.prov(expr.value).state in TENSOR_STATES or self.b.classify(expr.value).kind in (
                    K_LEAF, K_TENSOR, K_NONLEAF):
                return "`.data`", expr.value
            return None
        if type(expr) is cst.Subscript:
            inner = self._temporary(expr.value)
            if inner is not None:
                return inner[0] + " and indexing", inner[1]
            if type(expr.value) in (cst.Name, cst.Attribute) and self.b.prov(expr.value).state == PLAIN:
                return "indexing", expr.value
            return None
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            method, recv = expr.func.attr.value, expr.func.value
            base = self.b.prov(recv)
            if base.state not in TENSOR_STATES:
                inner = self._temporary(recv)
                if inner is None:
                    return None
            if method in ("detach", "clone") and not expr.args:
                return f"`.{method}()`", recv
            want = self._DTYPE_METHODS.get(method)
            if want is not None and not expr.args and base.dtype is not None and base.dtype != want:
                return f"`.{method}()` of a `{base.dtype}` tensor", recv
            if method == "cuda" and base.cpu_fresh:
                return "`.cuda()` of a CPU tensor", recv
            pos = _positional(expr)
            if (method == "to" and base.cpu_fresh and len(expr.args) == 1 and pos and type(pos[0].value) is cst.SimpleString
                    and pos[0].value.evaluated_value.startswith("cuda")):
                return f"`.to({pos[0].value.value})` of a CPU tensor", recv
        return None

    def _record_parameter(self, call: cst.Call, q: str, data: cst.BaseExpression) -> None:
        rg = _kwarg(call, "requires_grad")
        if rg is None and len(_positional(call)) >= 2:
            rg = _positional(call)[1]
        if rg is not None and _const_bool(rg.value) is not True:
            return
        ints: list[cst.Integer] = []
        dtype: str | None = None
        reason = ""
        explicit: cst.Arg | None = None
        if type(data) is cst.Call:
            dq = self.b.imports.resolve(data.func)
            if dq is not None and dq.rpartition(".")[0] == "torch" and dq.rpartition(".")[2] in TORCH_FACTORIES:
                if _kwarg(data, "requires_grad") is not None:
                    return  # the factory call itself is recorded
                dtype, reason, explicit = self.b._factory_dtype(dq.rpartition(".")[2], data, ints)
        if dtype is None:
            v = self.b.prov(data)
            if v.state in (PLAIN,) and v.dtype is not None:
                dtype, reason = v.dtype, "an integer tensor"
        if dtype is None or not is_int_dtype(dtype):
            return
        self.factory_grads.append(FactoryGrad(
            call, q, None, dtype, reason, explicit, tuple(ints), self._try_depth > 0, self._raises_depth > 0,
            self.b.function,
        ))

    def _record_factory(self, call: cst.Call, q: str, last: str) -> None:
        rg = _kwarg(call, "requires_grad")
        if rg is None or _const_bool(rg.value) is not True:
            return
        ints: list[cst.Integer] = []
        dtype, reason, explicit = self.b._factory_dtype(last, call, ints)
        if dtype is None or not is_int_dtype(dtype):
            return
        self.factory_grads.append(FactoryGrad(
            call, q, rg, dtype, reason, explicit, tuple(ints), self._try_depth > 0, self._raises_depth > 0,
            self.b.function,
        ))



_is_int_dtype = is_int_dtype  # (the name GL015 imports)
