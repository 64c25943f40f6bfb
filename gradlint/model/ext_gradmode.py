"""Grad-mode region facts (GL009, GL010, GL011, GL012, GL020), recorded in the builder's single walk.

- `with` items that name a grad-mode class without calling it (`with torch.no_grad:`);
- bare grad-mode statements (`torch.no_grad()`, `torch.set_grad_enabled(False)` outside a `with`);
- attribute spellings close to `requires_grad` (assignment, annotated and chained assignment, `setattr`),
  `<module>.requires_grad = ...` on an `nn.Module`, and misspelt `requires_grad=` keywords of torch calls;
- values computed under `no_grad` / `inference_mode` (or returned by a function of this file decorated
  so), where each name is bound, and where such values are later used: `.backward()` receivers, in-place
  updates, operands of operations that save them for backward.

Names are tracked per function scope with a light dominance check: a use refers to the latest binding
before it, and only when that binding's block (if/else branch, loop body, except handler) encloses the
use; otherwise the value is unknown and the rules stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.builder import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, Mode
from gradlint.model.names import (
    GRAD_MODE_NAMES,
    TORCH_FACTORIES,
    dotted,
    is_inplace_method,
)
from gradlint.model.names import target_names as _target_names
from gradlint.model.values import Kind
from gradlint.model.walk import Walker

if TYPE_CHECKING:
    from gradlint.model import SemanticModel

# ------------------------------------------------------------------------------------------ vocabularies

REQUIRES_GRAD = "requires_grad"
_NORMAL = "requiresgrad"

# methods that may return the receiver itself (no copy): the result has the receiver's graph
ALIAS_METHODS = frozenset("float double half bfloat16 to cuda cpu contiguous type type_as requires_grad_ clone_".split())
# methods returning a view: a view of an inference tensor is one, a view of a normal tensor is normal
VIEW_METHODS = frozenset(
    """view view_as reshape reshape_as t transpose permute squeeze unsqueeze flatten expand expand_as narrow
    select unbind chunk split unfold diagonal movedim swapaxes as_strided""".split()
)
# torch functions that return views / their input
TORCH_VIEW_FUNCS = frozenset("reshape transpose permute squeeze unsqueeze flatten narrow select t chunk split unbind".split())

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

# What a binding holds (`binding_for`) is read only by rules that need one of these words in the file
# (GL011's prefilter; GL012's is a subset): without them, bindings are recorded without their analysis.
BINDING_WORDS = ("no_grad", "inference_mode", "set_grad_enabled", "validation_step", "test_step", "predict_step")
# Uses of names that an inference tensor cannot survive (`inference_uses`) are read only by GL012, whose
# prefilter is this: without it in the file, they are not recorded.
INFERENCE_USE_WORDS = ("inference_mode",)


_TYPO_CACHE: dict[str, bool] = {}


def is_requires_grad_typo(name: str) -> bool:
    """A spelling close to `requires_grad` that is not it (`require_grad`, `requires_grads`, `requieres_grad`,
    `requiresGrad`); private names (`_requires_grad`), the method `requires_grad_` and longer names that
    merely contain it (`require_grad_flag`) are not. (Asked for every attribute read and keyword: the
    answer for a name is kept — a file spells few distinct ones.)"""
    found = _TYPO_CACHE.get(name)
    if found is None:
        if len(_TYPO_CACHE) > 50_000:
            _TYPO_CACHE.clear()
        found = _TYPO_CACHE[name] = _is_requires_grad_typo(name)
    return found


def _is_requires_grad_typo(name: str) -> bool:
    if name == REQUIRES_GRAD or name.startswith("_") or name.endswith("_"):
        return False
    low = name.lower()
    if "grad" not in low and "gard" not in low:
        return False
    norm = low.replace("_", "")
    if norm == _NORMAL:
        return True
    return _distance(norm, _NORMAL) <= 2 and abs(len(norm) - len(_NORMAL)) <= 2


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


# ------------------------------------------------------------------------------------------ facts


@dataclass(eq=False)
class UncalledWithItem:
    item: cst.WithItem
    kind: str  # "no_grad", "enable_grad", "inference_mode", "set_grad_enabled"
    text: str  # how the code names it: `torch.no_grad`


@dataclass(eq=False)
class BareGradStatement:
    stmt: cst.Expr
    call: cst.Call
    kind: str
    flag: bool | None  # set_grad_enabled's / inference_mode's constant argument (None: not constant / none)
    seq: int
    function: FunctionInfo | None
    text: str


@dataclass(eq=False)
class TypoAttr:
    node: cst.CSTNode  # the attribute name (or setattr's string) to report
    attr: str
    receiver: cst.BaseExpression
    how: str  # "assignment", "annotated assignment", "setattr"
    function: FunctionInfo | None


@dataclass(eq=False)
class ModuleRequiresGrad:
    node: cst.Attribute
    value: bool | None
    origin: str
    stmt: cst.Assign | None = None  # the single-target assignment (for the fix)


@dataclass(eq=False)
class KwargTypo:
    node: cst.Arg
    keyword: str
    callee: str  # `torch.zeros`, `nn.Parameter`, `requires_grad_`


@dataclass(eq=False)
class Binding:
    name: str
    seq: int
    path: tuple[int, ...]
    mode: Mode
    function: FunctionInfo | None
    shape: str  # "compute", "leaf", "alias", "view", "detach", "local_call", "other"
    base: str | None = None  # the Name an alias/view/detach is taken of
    names: tuple[str, ...] = ()  # Names the computation reads (for derived no-grad values)
    model_call: bool = False  # the computation calls a model (its output requires grad when grad mode is on)
    callee: str | None = None  # local function called (shape "local_call")
    tensorish: bool = False  # known to produce a fresh tensor (for inference tensors)
    via_method: bool = False  # an alias through `.to()`/`.float()`...: maybe the receiver, maybe a copy


@dataclass(eq=False)
class NameUse:
    name: str
    seq: int
    path: tuple[int, ...]
    function: FunctionInfo | None


@dataclass(eq=False)
class BackwardCall:
    call: cst.Call
    receiver: cst.BaseExpression
    use: NameUse | None  # the root Name of the receiver (`loss` in `loss.mean().backward()`)
    computed_here: bool  # the receiver computes something (a call / arithmetic), not just a name
    derived_names: tuple[str, ...]  # Names the receiver reads, when it is arithmetic/methods over them
    derived_ok: bool  # the receiver only combines those names with literals / methods
    mode: Mode
    function: FunctionInfo | None
    seq: int


@dataclass(eq=False)
class InferenceUse:
    node: cst.Name  # the inference tensor operand
    use: NameUse
    what: str  # "inplace", "requires_grad", "saved"
    op: str  # human words: "`+=`", "`add_()`", "`*`", "`F.mse_loss(...)`", "`model(...)`"
    mode: Mode
    function: FunctionInfo | None
    # for "saved": the other operands (each: classify kind, is a model call, root Name or None)
    others: list[tuple[Kind, bool, NameUse | None]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ extension


class GradModeFacts(Extension):
    name = "gradmode"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.uncalled_with_items: list[UncalledWithItem] = []
        self.bare_statements: list[BareGradStatement] = []
        self.typo_attrs: list[TypoAttr] = []
        self.module_requires_grad: list[ModuleRequiresGrad] = []
        self.kwarg_typos: list[KwargTypo] = []
        self.backward_calls: list[BackwardCall] = []
        self.inference_uses: list[InferenceUse] = []
        # backward / autograd.grad / optimizer step / optimizer built (core facts, not in an explicit
        # enable_grad block): (seq, function)
        self.training_seqs: list[tuple[int, FunctionInfo | None]] = []
        self._enable_blocks: list[bool] = []  # per enclosing `with`: does it explicitly enable grad?
        self.attr_reads: set[str] = set()  # typo-like attribute names read somewhere (user-defined attributes)
        self.self_requires_grad_read = False  # `self.requires_grad` read: a class defines its own attribute
        self.bindings: dict[tuple[int, str], list[Binding]] = {}
        self._bindings_needed = builder.mentions(*BINDING_WORDS)
        self._uses_needed = builder.mentions(*INFERENCE_USE_WORDS)
        self._targets: set[int] = set()  # ids of Attribute nodes that are assignment targets
        self._branch_blocks: set[int] = set()
        self._path: list[int] = []
        self._path_floor: list[int] = []
        self._stmt: cst.Assign | None = None
        self._pending: list[list[tuple[cst.BaseExpression, cst.BaseExpression | None]]] = []
        self._fn_has_grad_use: dict[str, bool] = {}
        self._fn_nograd: dict[int, bool] = {}
        self.model: "SemanticModel | None" = None

    # -------------------------------------------------------------------- block paths

    def _register(self, *blocks: cst.CSTNode | None) -> None:
        for b in blocks:
            if b is not None:
                self._branch_blocks.add(id(b))

    def visit_If(self, node: cst.If) -> None:
        self._register(node.body)
        if type(node.orelse) is cst.Else:
            self._register(node.orelse.body)

    def visit_For(self, node: cst.For) -> None:
        self._register(node.body, node.orelse.body if node.orelse else None)
        for n in _target_names(node.target):
            self._bind_other(n)

    def visit_While(self, node: cst.While) -> None:
        self._register(node.body, node.orelse.body if node.orelse else None)

    def visit_Try(self, node: cst.Try) -> None:
        self._register(*(h.body for h in node.handlers), node.orelse.body if node.orelse else None)

    def visit_Match(self, node) -> None:  # pragma: no cover - py3.10 match
        self._register(*(c.body for c in node.cases))

    def _enter_block(self, node: cst.CSTNode) -> None:
        if id(node) in self._branch_blocks:
            self._path.append(id(node))

    def _leave_block(self, node: cst.CSTNode) -> None:
        if id(node) in self._branch_blocks and self._path and self._path[-1] == id(node):
            self._path.pop()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._enter_block(node)

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._leave_block(node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._enter_block(node)

    def leave_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._leave_block(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._path_floor.append(len(self._path))
        params = node.params
        for p in (*params.posonly_params, *params.params, *params.kwonly_params,
                  *((params.star_arg,) if type(params.star_arg) is cst.Param else ()),
                  *((params.star_kwarg,) if params.star_kwarg is not None else ())):
            self._bind_other(p.name.value)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        floor = self._path_floor.pop()
        del self._path[floor:]

    def _cur_path(self) -> tuple[int, ...]:
        floor = self._path_floor[-1] if self._path_floor else 0
        return tuple(self._path[floor:])

    # -------------------------------------------------------------------- GL010: uncalled with items

    def visit_With(self, node: cst.With) -> None:
        explicit_enable = False
        for item in node.items:
            expr = item.item
            if type(expr) is cst.Call and self.b.mode_of_grad_ctx(expr, Mode.INHERITED) is Mode.ENABLED:
                explicit_enable = True  # `with torch.enable_grad():` / `with torch.set_grad_enabled(True):`
            if type(expr) in (cst.Name, cst.Attribute):
                kind = self.b.grad_mode_kind(expr)
                if kind is not None:
                    self.uncalled_with_items.append(UncalledWithItem(item, kind, dotted(expr) or kind))
            if item.asname is not None:
                for n in _target_names(item.asname.name):
                    self._bind_other(n)
        self._enable_blocks.append(explicit_enable)

    def leave_With(self, node: cst.With) -> None:
        self._enable_blocks.pop()

    # -------------------------------------------------------------------- GL020: bare statements

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if type(call) is not cst.Call:
            return
        kind = self.b.grad_mode_kind(call.func)
        if kind is None:
            return
        arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
        flag = _const_bool(arg.value) if arg is not None else None
        self.bare_statements.append(
            BareGradStatement(node, call, kind, flag, self.b.next_seq(), self.b.function,
                              dotted(call.func) or kind)
        )

    # -------------------------------------------------------------------- assignments

    def visit_Assign(self, node: cst.Assign) -> None:
        self._stmt = node if len(node.targets) == 1 else None
        for t in node.targets:
            self._target(t.target, node.value, "assignment")
        self._stmt = None
        self._pending.append([(t.target, node.value) for t in node.targets])

    def leave_Assign(self, node: cst.Assign) -> None:
        for target, value in self._pending.pop():
            self._bind_target(target, value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target, node.value, "annotated assignment")
        self._pending.append([(node.target, node.value)] if node.value is not None else [])

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        for target, value in self._pending.pop():
            self._bind_target(target, value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if type(node.target) is cst.Attribute:
            self._targets.add(id(node.target))
        if type(node.target) is cst.Name:
            self._inplace_use(node.target, f"`{_AUG.get(type(node.operator), 'op=')}`")
        elif type(node.target) is cst.Subscript and type(node.target.value) is cst.Name:
            self._inplace_use(node.target.value, f"`{node.target.value.value}[...] {_AUG.get(type(node.operator), 'op=')}`")

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        if type(node.target) is cst.Name:
            # in place on a tensor (the same object: an inference tensor stays one), a new value otherwise
            name = node.target.value
            self._add_binding(Binding(name, self.b.next_seq(), self._cur_path(), self.b.mode, self.b.function,
                                      "aug", base=name))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if type(node.target) is cst.Name:
            self._bind_other(node.target.value)

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None, how: str) -> None:
        if type(target) in (cst.Tuple, cst.List):
            for el in target.elements:
                self._target(el.value, None, how)
            return
        if type(target) is cst.Subscript:
            if type(target.value) is cst.Name:
                self._inplace_use(target.value, f"`{target.value.value}[...] = ...`")
            return
        if type(target) is not cst.Attribute:
            return
        self._targets.add(id(target))
        attr = target.attr.value
        recv = target.value
        if is_requires_grad_typo(attr):
            rv = self.b.classify(recv)
            if rv.kind is not Kind.SELF:
                self.typo_attrs.append(
                    TypoAttr(target.attr, attr, recv, how, self.b.function)
                )
        elif attr == REQUIRES_GRAD:
            rv = self.b.classify(recv)
            if rv.kind is Kind.MODULE:
                flag = _const_bool(value) if value is not None else None
                q = self.b.imports.resolve(recv) if type(recv) in (cst.Name, cst.Attribute) else None
                if not (q and q.startswith("torch.")):
                    self.module_requires_grad.append(
                        ModuleRequiresGrad(target, flag, rv.origin, self._stmt)
                    )
            if type(recv) is cst.Name and value is not None and _const_bool(value) is True:
                self._use(recv, "requires_grad", "`.requires_grad = True`")

    # -------------------------------------------------------------------- bindings

    def _bind_other(self, name: str) -> None:
        self._add_binding(Binding(name, self.b.next_seq(), self._cur_path(), self.b.mode, self.b.function, "other"))

    def _add_binding(self, b: Binding) -> None:
        key = (id(b.function) if b.function is not None else 0, b.name)
        self.bindings.setdefault(key, []).append(b)

    def _bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if type(target) is cst.Name:
            if value is None:
                self._bind_other(target.value)
            else:
                self._add_binding(self._describe(target.value, value))
        elif type(target) in (cst.Tuple, cst.List):
            # `out, loss = model(x)`: every element shares the call's provenance
            for el in target.elements:
                t = el.value
                if type(t) is cst.StarredElement:
                    t = t.value
                if type(t) is cst.Name:
                    if value is not None and type(value) is cst.Call:
                        b = self._describe(t.value, value)
                        if b.shape in ("compute", "local_call"):
                            b.shape = "tuple_" + b.shape
                            self._add_binding(b)
                            continue
                    self._bind_other(t.value)
                else:
                    self._bind_target(t, None)

    def _describe(self, name: str, rhs: cst.BaseExpression) -> Binding:
        b = Binding(name, self.b.next_seq(), self._cur_path(), self.b.mode, self.b.function, "other")
        if not self._bindings_needed:
            return b  # no rule that reads bindings can fire in this file (see BINDING_WORDS)
        expr = rhs
        # alias methods keep the receiver (`x.float()`, `x.to(dev)`) when they do not need to copy
        while (type(expr) is cst.Call and type(expr.func) is cst.Attribute
               and expr.func.attr.value in ALIAS_METHODS and expr.func.attr.value != "requires_grad_"):
            expr = expr.func.value
            b.via_method = True
        if _makes_leaf(self, rhs):
            b.shape = "leaf"
            return b
        if type(expr) is cst.Name:
            b.shape, b.base = "alias", expr.value
            return b
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            method = expr.func.attr.value
            recv = expr.func.value
            if method == "detach" and type(recv) is cst.Name:
                b.shape, b.base = "detach", recv.value
                return b
            if method in VIEW_METHODS:
                if type(recv) is cst.Name:
                    b.shape, b.base = "view", recv.value
                return b
        if type(expr) is cst.Subscript:
            if type(expr.value) is cst.Name:
                b.shape, b.base = "view", expr.value.value
            return b
        if type(expr) is cst.Call:
            callee = _local_callee(expr)
            if callee is not None and self.b.classify(expr.func).kind is not Kind.MODULE and not _is_builtin(callee):
                b.callee = callee  # a function of this file (known after the walk) is judged by its decorator
        if type(expr) in (cst.Call, cst.BinaryOperation, cst.UnaryOperation):
            q = self.b.imports.resolve(expr.func) if type(expr) is cst.Call else None
            if q is not None and (GRAD_MODE_NAMES.get(q) or q.rsplit(".", 1)[-1] in TORCH_VIEW_FUNCS):
                return b
            b.shape = "compute"
            b.names = tuple(_read_names(expr, self.b))
            b.model_call = _has_model_call(expr, self.b)
            b.tensorish = _is_tensorish(expr, self.b)
        return b

    # -------------------------------------------------------------------- calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        b = self.b
        q = b.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
        # setattr(x, "require_grad", v)
        if type(func) is cst.Name and func.value == "setattr" and "setattr" not in b.imports.aliases:
            pos = _positional(node)
            if len(pos) >= 2 and type(pos[1].value) is cst.SimpleString:
                key = pos[1].value.evaluated_value
                if isinstance(key, str) and is_requires_grad_typo(key):
                    rv = b.classify(pos[0].value)
                    if rv.kind is not Kind.SELF:
                        self.typo_attrs.append(TypoAttr(pos[1].value, key, pos[0].value, "`setattr`",
                                                        b.function))
        if type(func) is cst.Name and func.value == "getattr":
            pos = _positional(node)
            if len(pos) >= 2 and type(pos[1].value) is cst.SimpleString:
                key = pos[1].value.evaluated_value
                if isinstance(key, str) and is_requires_grad_typo(key):
                    self.attr_reads.add(key)
        # misspelt requires_grad= keywords of torch calls (a TypeError at the call)
        if q is not None and (q.rsplit(".", 1)[-1] in TORCH_FACTORIES and q.count(".") == 1
                              or q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter")):
            self._kwarg_typos(node, q)
        if type(func) is cst.Attribute and func.attr.value == "requires_grad_":
            self._kwarg_typos(node, "requires_grad_")
        # training signals (GL020): a backward pass, an optimizer step, an optimizer built (the core model's
        # training facts, `gradlint.model.training`, recorded for this call by the builder just before)
        tr = b.training
        if id(node) in tr.backward_at or (id(node) in tr.step_at and not tr.step_at[id(node)].scheduler) or (
                tr.optimizers and tr.optimizers[-1].node is node):
            if not any(self._enable_blocks):
                # a backward inside an explicit `with torch.enable_grad():` (saliency, attacks) does not
                # depend on the global switch: the author turned grad mode on for it
                self.training_seqs.append((b.next_seq(), b.function))
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if method == "backward":
                self._backward(node, recv)
            elif type(recv) is cst.Name:
                if method == "requires_grad_":
                    arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                    if arg is None or _const_bool(arg.value) is True:
                        self._use(recv, "requires_grad", "`.requires_grad_()`")
                elif is_inplace_method(method):
                    self._inplace_use(recv, f"`{method}()`")
                elif method in SAVING_METHODS:
                    self._saved_use(recv, f"`.{method}()`", [a.value for a in node.args if not a.star])
            for a in node.args:
                if type(a.value) is cst.Name and method in SAVING_METHODS and a.keyword is None:
                    self._saved_use(a.value, f"`.{method}()`", [recv])
        # operands of saving torch functions and modules
        if not self._uses_needed:
            return
        saving = q in SAVING_TORCH_FUNCS if q else False
        if not saving and type(func) in (cst.Name, cst.Attribute) and not (q and q.startswith("torch.")):
            v = b.classify(func)
            if v.kind is Kind.MODULE and any(f"nn.{m}`" in v.origin for m in SAVING_MODULES):
                saving = True
        if saving:
            label = f"`{dotted(func) or 'call'}(...)`"
            args = [a.value for a in node.args if not a.star and (a.keyword is None or a.keyword.value in (
                "input", "target", "weight", "other"))]
            for a in args:
                if type(a) is cst.Name:
                    self._saved_use(a, label, [o for o in args if o is not a] + (
                        [func] if not (q and q.startswith("torch.")) else []))

    def _kwarg_typos(self, node: cst.Call, callee: str) -> None:
        for a in node.args:
            if a.keyword is not None and is_requires_grad_typo(a.keyword.value):
                self.kwarg_typos.append(KwargTypo(a, a.keyword.value, callee))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self._uses_needed and isinstance(node.operator, SAVING_BINOPS):
            sym = {cst.Multiply: "*", cst.Divide: "/", cst.MatrixMultiply: "@", cst.Power: "**"}[type(node.operator)]
            if type(node.left) is cst.Name:
                self._saved_use(node.left, f"`{sym}`", [node.right])
            if type(node.right) is cst.Name:
                self._saved_use(node.right, f"`{sym}`", [node.left])

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self._targets:
            return
        attr = node.attr.value
        if is_requires_grad_typo(attr):
            self.attr_reads.add(attr)
        elif attr == REQUIRES_GRAD and type(node.value) is cst.Name and node.value.value == "self":
            self.self_requires_grad_read = True

    # -------------------------------------------------------------------- uses

    def _name_use(self, node: cst.Name) -> NameUse:
        return NameUse(node.value, self.b.next_seq(), self._cur_path(), self.b.function)

    def _use(self, node: cst.Name, what: str, op: str, others: list | None = None) -> None:
        if not self._uses_needed:
            return
        self.inference_uses.append(
            InferenceUse(node, self._name_use(node), what, op, self.b.mode, self.b.function, others or [])
        )

    def _inplace_use(self, node: cst.Name, op: str) -> None:
        self._use(node, "inplace", op)

    def _saved_use(self, node: cst.Name, op: str, others: list[cst.BaseExpression]) -> None:
        if not self._uses_needed:
            return
        desc = []
        for o in others:
            kind = self.b.classify(o).kind
            root = _root_name(o)
            desc.append((kind, _has_model_call(o, self.b) or self._is_model(o),
                         self._name_use(root) if root is not None else None))
        self._use(node, "saved", op, desc)

    def _is_model(self, expr: cst.BaseExpression) -> bool:
        """A module whose output requires grad (not a loss, not frozen with `.requires_grad_(False)`)."""
        if type(expr) not in (cst.Name, cst.Attribute):
            return False
        v = self.b.classify(expr)
        return v.kind is Kind.MODULE and "Loss" not in v.origin and not self.b.is_frozen(expr)

    def _backward(self, call: cst.Call, recv: cst.BaseExpression) -> None:
        root = _root_name(recv)
        inner = recv
        while (type(inner) is cst.Call and type(inner.func) is cst.Attribute
               and inner.func.attr.value in ALIAS_METHODS):
            inner = inner.func.value  # `loss.float()` may return `loss` itself, graph included
        computed = _fresh_computation(inner, self.b)
        names, ok = _derived(recv, self.b)
        self.backward_calls.append(
            BackwardCall(call, recv, self._name_use(root) if root is not None else None, computed, tuple(names), ok,
                         self.b.mode, self.b.function, self.b.next_seq())
        )

    # -------------------------------------------------------------------- finish / queries

    def finish(self, model: "SemanticModel") -> None:
        self.model = model
        for fn in model.functions:
            self._fn_has_grad_use[fn.name] = self._fn_has_grad_use.get(fn.name, False) or fn.has_grad_use

    def binding_for(self, use: NameUse) -> Binding | None:
        """The binding a use sees: the latest before it in its scope, if its block encloses the use."""
        key = (id(use.function) if use.function is not None else 0, use.name)
        best: Binding | None = None
        for b in self.bindings.get(key, ()):
            if b.seq < use.seq and (best is None or b.seq > best.seq):
                best = b
        if best is None or best.path != use.path[: len(best.path)]:
            return None
        return best

    def _releafed(self, b: Binding) -> bool:
        """`x.requires_grad_()` / `x.requires_grad = True` / `x.retain_grad()` after the binding: x is made a
        leaf (GL019's business) or kept on purpose."""
        assert self.model is not None
        return any(r.name == b.name and r.function is b.function and r.seq > b.seq for r in self.model.releafs)

    def nograd_mode(self, mode: Mode, fn: FunctionInfo | None) -> bool:
        """Is this region definitely not recording (no_grad / inference_mode / set_grad_enabled(False))?"""
        if mode in (Mode.DISABLED, Mode.INFERENCE):
            return True
        if mode is not Mode.INHERITED or fn is None:
            return False
        key = id(fn)
        if key in self._fn_nograd:
            return self._fn_nograd[key]
        self._fn_nograd[key] = False  # cycle guard (recursion)
        assert self.model is not None
        sites = self.model.call_sites(fn)
        result = fn.decorator_mode is Mode.INHERITED and bool(sites) and all(
            self.nograd_mode(s.mode, s.function) for s in sites)
        self._fn_nograd[key] = result
        return result

    def enabled_mode(self, mode: Mode, fn: FunctionInfo | None) -> bool:
        assert self.model is not None
        return self.model.effective_mode(mode, fn) is Mode.ENABLED

    def decorated(self, callee: str) -> Mode | None:
        """The grad-mode decorator of the function(s) of this file named `callee` (all must agree)."""
        assert self.model is not None
        fns = [f for f in self.model.functions if f.name == callee]
        if not fns or any(f.has_grad_use for f in fns):
            return None
        modes = {f.decorator_mode for f in fns}
        if len(modes) == 1:
            m = modes.pop()
            if m in (Mode.DISABLED, Mode.INFERENCE):
                return m
        return None

    def _shape(self, b: Binding) -> str:
        shape = b.shape.removeprefix("tuple_")
        if shape == "compute" and b.callee is not None and self.model is not None and any(
            f.name == b.callee for f in self.model.functions
        ):
            return "local_call"
        return shape

    def is_nograd(self, b: Binding | None, depth: int = 0) -> bool:
        """Does the bound value have no autograd history (computed entirely with grad mode off)?"""
        if b is None or depth > 20:
            return False
        if self._releafed(b):
            return False
        shape = self._shape(b)
        if shape in ("alias", "view"):
            return self.is_nograd(self.binding_for(NameUse(b.base or "", b.seq, b.path, b.function)), depth + 1)
        if shape == "detach":
            return False  # a deliberate detach: not this rule's business
        if shape == "local_call":
            if b.callee is not None and self._fn_has_grad_use.get(b.callee):
                return False
            if self.nograd_mode(b.mode, b.function):
                return True
            return self.decorated(b.callee or "") is not None
        if shape != "compute":
            return False
        if self.nograd_mode(b.mode, b.function):
            return True
        if b.model_call or not b.names:
            return False
        return all(self.is_nograd(self.binding_for(NameUse(n, b.seq, b.path, b.function)), depth + 1)
                   for n in b.names)

    def is_inference(self, b: Binding | None, depth: int = 0) -> bool:
        """Is the bound value an inference tensor (made under inference_mode, not a view of a normal tensor)?"""
        if b is None or depth > 20:
            return False
        shape = self._shape(b)
        if shape == "alias" and b.via_method and b.mode is not Mode.INFERENCE:
            return False  # `x.to(device)` after the block may be a normal copy
        if shape in ("alias", "view", "detach", "aug"):
            return self.is_inference(self.binding_for(NameUse(b.base or "", b.seq, b.path, b.function)), depth + 1)
        if shape == "local_call":
            return self.decorated(b.callee or "") is Mode.INFERENCE
        if shape == "compute":
            return b.mode is Mode.INFERENCE and b.tensorish
        return False

    def requires_grad_operand(self, kind: Kind, model_call: bool, use: NameUse | None) -> bool:
        """Is an operand known to require grad where it is used (grad mode on)?"""
        if model_call:
            return True
        b = self.binding_for(use) if use is not None else None
        if b is not None:
            if self.is_nograd(b) or self.is_inference(b):
                return False
            if self._shape(b) == "compute" and b.model_call and self.enabled_mode(b.mode, b.function):
                return True
            return kind in (Kind.LEAF, Kind.NONLEAF)
        if kind is Kind.LEAF:
            return True  # a parameter (`model.weight`, `self.w`, a loop over `.parameters()`)
        return kind is Kind.NONLEAF and use is None  # an inline computation from a leaf


# ------------------------------------------------------------------------------------------ helpers

_AUG = {
    cst.AddAssign: "+=", cst.SubtractAssign: "-=", cst.MultiplyAssign: "*=", cst.DivideAssign: "/=",
    cst.FloorDivideAssign: "//=", cst.PowerAssign: "**=", cst.ModuloAssign: "%=",
    cst.MatrixMultiplyAssign: "@=", cst.BitAndAssign: "&=", cst.BitOrAssign: "|=", cst.BitXorAssign: "^=",
}

_BUILTINS = frozenset(
    """len range print str int float bool sum min max abs round sorted reversed enumerate zip map filter any
    all isinstance getattr setattr hasattr id type iter next open super repr format vars dir set frozenset
    dict list tuple""".split()
)


def _is_builtin(name: str) -> bool:
    return name in _BUILTINS


def _root_name(expr: cst.BaseExpression) -> cst.Name | None:
    """`loss` for `loss`, `loss.mean()`, `loss.sum().float()`, `(loss * 2)` is not followed."""
    while True:
        if type(expr) is cst.Name:
            return expr
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            expr = expr.func.value
        else:
            return None


def _local_callee(call: cst.Call) -> str | None:
    func = call.func
    if type(func) is cst.Name:
        return func.value
    if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        return func.attr.value
    return None


# Walkers for small searches are module-level classes: one made per call costs its creation and an empty
# dispatch cache every time (this was a tenth of the extension's cost).


class _ReadNames(Walker):
    def __init__(self, b) -> None:
        self.b = b
        self.found: list[str] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value not in self.b.imports.aliases and node.value not in ("True", "False", "None"):
            self.found.append(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.walk(node.value)
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        if type(node.func) is cst.Attribute:
            self.walk(node.func.value)
        elif type(node.func) is not cst.Name:
            self.walk(node.func)
        elif self.b.classify(node.func).kind is Kind.MODULE:
            self.found.append(node.func.value)  # a model's output is not derived from no-grad values
        for a in node.args:
            self.walk(a.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _read_names(expr: cst.CSTNode, b) -> list[str]:
    """Names read as values in expr, except import aliases and called functions' own names."""
    v = _ReadNames(b)
    v.walk(expr)
    return v.found


class _ModelCalls(Walker):
    def __init__(self, b) -> None:
        self.b = b
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        b = self.b
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "forward":
            func = func.value
        if type(func) in (cst.Name, cst.Attribute) and node.args:
            q = b.imports.resolve(func)
            if q is not None and q.startswith("torch."):
                return
            v = b.classify(func)
            if v.kind is Kind.MODULE and "Loss" not in v.origin and not b.is_frozen(func):
                self.found = True

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _has_model_call(expr: cst.CSTNode, b) -> bool:
    v = _ModelCalls(b)
    v.walk(expr)
    return v.found


class _MakesLeaf(Walker):
    def __init__(self, b) -> None:
        self.b = b
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value in ("requires_grad_", "retain_grad"):
            self.found = True
        rg = _kwarg(node, "requires_grad")
        if rg is not None and _const_bool(rg.value) is not False:
            self.found = True
        q = self.b.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
        if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            self.found = True

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _makes_leaf(ext: GradModeFacts, rhs: cst.BaseExpression) -> bool:
    """Creates a tensor that requires grad whatever the grad mode: `requires_grad=True`, `nn.Parameter`,
    `.requires_grad_()`, `.retain_grad()`; or the model says it is a leaf."""
    b = ext.b
    if b.mentions("requires_grad", "retain_grad", "Parameter"):
        v = _MakesLeaf(b)  # (each of its findings needs one of those words in the text)
        v.walk(rhs)
        if v.found:
            return True
    return b.classify(rhs).kind in (Kind.LEAF, Kind.MODULE, Kind.PARAMS)


def _is_tensorish(expr: cst.BaseExpression, b) -> bool:
    """Does this computation certainly produce a fresh tensor (not a view, not its input)?"""
    if type(expr) in (cst.BinaryOperation, cst.UnaryOperation):
        # the leaves of the operator chain, iteratively: recursing per level (and classifying each level's
        # sub-chain again) is quadratic in the chain's length
        leaves: list[cst.BaseExpression] = []
        stack: list[cst.BaseExpression] = [expr]
        while stack:
            e = stack.pop()
            if type(e) is cst.BinaryOperation:
                stack += (e.right, e.left)
            elif type(e) is cst.UnaryOperation:
                stack.append(e.expression)
            else:
                leaves.append(e)
        return any(_is_tensorish(o, b) or b.classify(o).is_tensor or _is_tensor_name(o, b) for o in leaves)
    if type(expr) is not cst.Call:
        return False
    func = expr.func
    q = b.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
    if q is not None:
        if q.startswith("torch.nn.functional."):
            return True
        head, _, last = q.rpartition(".")
        if head == "torch":
            return last not in TORCH_VIEW_FUNCS and last not in GRAD_MODE_NAMES.values() and (
                last in TORCH_FACTORIES or last[:1].islower()
            )
        return False
    if _has_model_call(expr, b) and type(func) in (cst.Name, cst.Attribute) and b.classify(func).kind is Kind.MODULE:
        return True
    if type(func) is cst.Attribute and not _is_module_expr(func, b):
        method = func.attr.value
        if method in VIEW_METHODS or method in ALIAS_METHODS or method in ("item", "tolist", "numpy", "size", "dim"):
            return False
        recv = func.value
        if b.classify(recv).is_tensor or (type(recv) is not cst.Name and _is_tensorish(recv, b)):
            return True
    if type(func) in (cst.Name, cst.Attribute) and not _local_callee_known(func, b):
        # a callable (a model, a loss) applied to a fresh tensor: its result is fresh too
        return any(a.keyword is None and not a.star and (_is_tensorish(a.value, b) or b.classify(a.value).is_tensor)
                   for a in expr.args)
    return False


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


def _is_module_expr(func: cst.BaseExpression, b) -> bool:
    return b.classify(func).kind is Kind.MODULE


def _local_callee_known(func: cst.BaseExpression, b) -> bool:
    """A function of this file (called by name or as `self.method`): judged by its decorator instead."""
    name = func.value if type(func) is cst.Name else None
    if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        name = func.attr.value
    if name is None:
        return False
    return name in b.function_names or name in b.classes


def _is_tensor_name(expr: cst.BaseExpression, b) -> bool:
    return type(expr) is cst.Name and b.classify(expr).is_tensor


def _derived(expr: cst.BaseExpression, b) -> tuple[list[str], bool]:
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
    "BackwardCall",
    "BareGradStatement",
    "Binding",
    "GradModeFacts",
    "InferenceUse",
    "KwargTypo",
    "ModuleRequiresGrad",
    "NameUse",
    "TypoAttr",
    "UncalledWithItem",
    "is_requires_grad_typo",
]
