"""GL022 legacy-autograd-api.

Self-contained: the rule's own model extension (`LegacyApiScan`, driven by the shared walk) records the
candidate nodes with their enclosing scopes; `check` proves each candidate with a small flow-insensitive
binding table of its own (every binding of a name in its scope must agree). From the shared model it
uses only `model.imports.resolve` (and `.aliases` through `torch_ref`), `model.uses_torch`,
`model.is_test_file`, `model.code`, `model.module` and `model.ext(LegacyApiScan)`; the extension reads only
`self.b.imports.resolve` from the builder. Tree helpers: `gradlint.model.names.dotted`, `TORCH_TENSOR_FUNCS`,
`gradlint.model.walk.iter_nodes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst
from gradlint.rules.base import Finding, FixSpec, Replace, Rule, WrapInBlock, torch_ref

from gradlint.model import SemanticModel
from gradlint.model.evaluate import _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.names import TORCH_TENSOR_FUNCS, dotted
from gradlint.model.walk import iter_nodes
from gradlint.settings import RuleOptions

# Verbatim from PyTorch 2.13.0 (probe scripts run on torch 2.13.0+cpu; see the rule's docs).
VOLATILE_WARNING = "volatile was removed and now has no effect. Use `with torch.no_grad():` instead."
VOLATILE_READ_WARNING = "volatile was removed (Variable.volatile is always False)"
VOLATILE_AND_GRAD = "Variable can't be volatile and require_grad at the same time!"
RETAIN_VARIABLES = "{func}() got an unexpected keyword argument 'retain_variables'"
ZERO_DIM_INDEX = (
    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert "
    "a 0-dim tensor to a number"
)
ZERO_DIM_NUMPY = "too many indices for array: array is 0-dimensional, but 1 were indexed"
AUTOGRAD_VARIABLE = "torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead"
LEGACY_FUNCTION = (
    "Legacy autograd function with non-static forward method is deprecated. Please use new-style autograd "
    "function with static forward method. (Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
)

VARIABLE_NAMES = frozenset({"torch.autograd.Variable", "torch.autograd.variable.Variable", "torch.Variable"})
FUNCTION_BASES = frozenset({"torch.autograd.Function", "torch.autograd.function.Function"})
NO_GRAD_NAMES = frozenset({"torch.no_grad", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
                           "torch.inference_mode", "torch.autograd.inference_mode",
                           "torch.autograd.grad_mode.inference_mode"})
TRAINING_CALLS = frozenset({"backward", "step", "grad"})
GRAD_ENTRY_POINTS = {"torch.autograd.backward": "backward", "torch.autograd.grad": "grad"}

# torch.nn loss modules -> how many positional constructor arguments cannot change the reduction
# (`weight` first for the classification losses; a positional `size_average`/`reduce` elsewhere)
LOSS_MODULES = {
    "CrossEntropyLoss": 1, "NLLLoss": 1, "BCELoss": 1, "BCEWithLogitsLoss": 1, "MultiLabelSoftMarginLoss": 1,
    "L1Loss": 0, "MSELoss": 0, "SmoothL1Loss": 0, "HuberLoss": 0, "KLDivLoss": 0, "SoftMarginLoss": 0,
    "MarginRankingLoss": 0, "HingeEmbeddingLoss": 0, "CosineEmbeddingLoss": 0, "MultiMarginLoss": 0,
    "TripletMarginLoss": 0, "PoissonNLLLoss": 0, "GaussianNLLLoss": 0, "MultiLabelMarginLoss": 0,
}
# torch.nn.functional losses -> how many positional arguments are data (input, target, weight ...)
LOSS_FUNCTIONS = {
    "cross_entropy": 3, "nll_loss": 3, "binary_cross_entropy": 3, "binary_cross_entropy_with_logits": 3,
    "multilabel_soft_margin_loss": 3, "l1_loss": 2, "mse_loss": 2, "smooth_l1_loss": 2, "huber_loss": 2,
    "kl_div": 2, "soft_margin_loss": 2, "margin_ranking_loss": 3, "hinge_embedding_loss": 2,
    "cosine_embedding_loss": 3, "multi_margin_loss": 2, "triplet_margin_loss": 3, "poisson_nll_loss": 2,
    "gaussian_nll_loss": 3, "multilabel_margin_loss": 2,
}
REDUCTIONS = frozenset({"mean", "sum", "batchmean"})
# reductions that give a 0-dim tensor when called without a dimension
FULL_REDUCTIONS = frozenset({"sum", "mean", "prod", "norm", "std", "var", "max", "min", "amax", "amin", "median",
                             "nansum", "nanmean"})
# methods that keep a tensor's number of dimensions (and keep it a tensor)
SHAPE_KEEPING = frozenset(
    """cuda cpu to float double half bfloat16 long int short byte bool detach clone contiguous abs neg exp log
    log1p sqrt rsqrt sigmoid tanh relu pow square clamp clip sign floor ceil round type_as requires_grad_
    sin cos reciprocal""".split()
)
# methods that return a tensor (of any shape) when called on a tensor
TENSOR_METHODS = SHAPE_KEEPING | frozenset(
    """view view_as reshape reshape_as squeeze unsqueeze t transpose permute expand expand_as flatten mul add sub
    div matmul mm bmm eq ne gt lt ge le softmax log_softmax masked_select index_select gather narrow repeat
    masked_fill""".split()
)
ARITH_OPS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Power)
AUG_ARITH = (cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign, cst.DivideAssign)
SCOPE_TYPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
RAISES_CONTEXTS = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertWarns", "assertWarnsRegex",
                             "warns", "deprecated_call", "catch_warnings"})


def _legacy_keyword(args) -> bool:
    """A `volatile=` or `retain_variables=` argument (a plain loop: asked at every call of the file)."""
    for a in args:
        if a.keyword is not None and a.keyword.value in ("volatile", "retain_variables"):
            return True
    return False


@dataclass(eq=False)
class _Site:
    node: cst.CSTNode
    scopes: tuple[cst.CSTNode, ...]  # enclosing scopes, innermost last (Module first)
    in_try: bool
    in_raises: bool
    in_no_grad: bool = False  # lexically inside `with torch.no_grad():` / a @torch.no_grad() function
    loop: cst.CSTNode | None = None  # the innermost loop of the enclosing function


@dataclass(eq=False)
class _Names:
    """One scope's bindings: name -> the values bound to it (None: a binding whose value is not an expression
    gradlint follows — a parameter, a loop target, an import ...); AugAssign bindings are ("aug", value)."""

    values: dict[str, list] = field(default_factory=dict)
    globals_: set[str] = field(default_factory=set)

    def add(self, name: str, value) -> None:
        self.values.setdefault(name, []).append(value)


class LegacyApiScan(Extension):
    """The candidate nodes of GL022, each with its enclosing scopes, recorded in the shared walk."""

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.scopes: list[cst.CSTNode] = []
        self.try_depth = 0
        self.raises_depth = 0
        self._raises_withs: set[int] = set()
        self.calls: list[_Site] = []  # calls with a volatile / retain_variables keyword, or 3+ arguments
        self.name_calls: dict[str, list[_Site]] = {}  # calls of a plain name: f(...)
        self.call_calls: list[_Site] = []  # Cls(...)(...)
        self.subscripts: list[_Site] = []  # X[0]
        self.volatile_attrs: list[_Site] = []  # X.volatile
        self.branch_volatile: set[int] = set()  # ids of the X.volatile nodes read in a condition
        self.store_targets: set[int] = set()  # ids of Subscript / Attribute nodes written to
        self.classes: list[cst.ClassDef] = []
        self.defs: list[_Site] = []  # function definitions (for parameter values from call sites)
        self.retain_variables_defs: set[int] = set()  # functions of the file with a `retain_variables` parameter
        self.no_grad_depth = 0
        self._no_grad_nodes: set[int] = set()
        self.loops: list[cst.CSTNode] = []
        self._loop_floor: list[list[cst.CSTNode]] = []
        # can a call of the file pass `volatile=` / `retain_variables=`? (its text must spell them)
        self._legacy_words = builder.mentions("volatile", "retain_variables")

    def _site(self, node: cst.CSTNode) -> _Site:
        return _Site(node, tuple(self.scopes), self.try_depth > 0, self.raises_depth > 0,
                     self.no_grad_depth > 0, self.loops[-1] if self.loops else None)

    def _is_no_grad(self, expr: cst.BaseExpression) -> bool:
        func = expr.func if type(expr) is cst.Call else expr
        return (self.b.imports.resolve(func) or "") in NO_GRAD_NAMES

    # loops (the innermost `for` of the current function) and no_grad blocks
    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)

    def leave_For(self, node: cst.For) -> None:
        self.loops.pop()

    def visit_While(self, node: cst.While) -> None:
        self.loops.append(node)
        self._condition(node.test)

    def leave_While(self, node: cst.While) -> None:
        self.loops.pop()

    # scopes
    def visit_Module(self, node: cst.Module) -> None:
        self.scopes.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.defs.append(self._site(node))
        self.scopes.append(node)
        self._loop_floor.append(self.loops)
        self.loops = []
        if any(self._is_no_grad(d.decorator) for d in node.decorators):
            self.no_grad_depth += 1
            self._no_grad_nodes.add(id(node))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()
        self.loops = self._loop_floor.pop()
        if id(node) in self._no_grad_nodes:
            self.no_grad_depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)
        self.scopes.append(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.append(node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.pop()

    def visit_Param(self, node: cst.Param) -> None:
        if node.name.value == "retain_variables" and self.scopes and type(self.scopes[-1]) is cst.FunctionDef:
            self.retain_variables_defs.add(id(self.scopes[-1]))

    # try / pytest.raises
    def visit_Try(self, node: cst.Try) -> None:
        self.try_depth += 1

    def leave_Try(self, node: cst.Try) -> None:
        self.try_depth -= 1

    def visit_With(self, node: cst.With) -> None:
        if any(self._is_no_grad(item.item) for item in node.items):
            self.no_grad_depth += 1
            self._no_grad_nodes.add(id(node))
        for item in node.items:
            call = item.item
            func = call.func if type(call) is cst.Call else call
            last = func.attr.value if type(func) is cst.Attribute else func.value if type(func) is cst.Name else ""
            if last in RAISES_CONTEXTS:
                self.raises_depth += 1
                self._raises_withs.add(id(node))
                return

    def leave_With(self, node: cst.With) -> None:
        if id(node) in self._raises_withs:
            self.raises_depth -= 1
        if id(node) in self._no_grad_nodes:
            self.no_grad_depth -= 1

    # candidates
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if type(func) is cst.Name:
            self.name_calls.setdefault(func.value, []).append(self._site(node))
        elif type(func) is cst.Call:
            self.call_calls.append(self._site(node))
        # (a dotted name ends with "variable" when its last part does: that is looked at first)
        last = func.value if type(func) is cst.Name else func.attr.value if type(func) is cst.Attribute else ""
        if len(node.args) >= 3 or (self._legacy_words and _legacy_keyword(node.args)) or (
                last.endswith("variable") and (dotted(func) or "").endswith("variable")):
            self.calls.append(self._site(node))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if len(node.slice) == 1:
            index = node.slice[0].slice
            if type(index) is cst.Index and type(index.value) is cst.Integer and index.value.value == "0":
                self.subscripts.append(self._site(node))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "volatile":
            self.volatile_attrs.append(self._site(node))

    # `X.volatile` read in a condition (`if x.volatile:`, `while`, `a if x.volatile else b`, `assert`):
    # code that branches on it
    def _condition(self, test: cst.BaseExpression) -> None:
        if self.b.mentions("volatile"):
            for n in iter_nodes(test):
                if type(n) is cst.Attribute and n.attr.value == "volatile":
                    self.branch_volatile.add(id(n))

    def visit_If(self, node: cst.If) -> None:
        self._condition(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._condition(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._condition(node.test)

    def visit_CompIf(self, node: cst.CompIf) -> None:
        self._condition(node.test)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self.store_targets.add(id(t.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.store_targets.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.store_targets.add(id(node.target))

    def visit_Del(self, node: cst.Del) -> None:
        self.store_targets.add(id(node.target))




def _const(expr: cst.BaseExpression | None):
    """A literal's value (True/False/None, an integer or a string), else a sentinel."""
    if type(expr) is cst.Name and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if type(expr) is cst.Integer:
        try:
            return int(expr.value, 0)
        except ValueError:
            return _UNKNOWN
    if type(expr) is cst.SimpleString:
        return expr.evaluated_value
    return _UNKNOWN


_UNKNOWN = object()


def _is_number(expr: cst.BaseExpression) -> bool:
    if type(expr) is cst.UnaryOperation:
        expr = expr.expression
    return type(expr) in (cst.Integer, cst.Float)


class _Prover:
    """Proves facts about expressions of one file: 0-dim tensor, tensor, loss module, autograd Function class."""

    def __init__(self, model: SemanticModel, scan: LegacyApiScan) -> None:
        self.model = model
        self.scan = scan
        self.resolve = model.imports.resolve
        self._tables: dict[int, _Names] = {}
        self._defs = {id(s.node): s for s in scan.defs}
        self._active: set[tuple[int, str]] = set()  # (scope, name) being evaluated: cycle guard
        self._active_attrs: set[tuple[int, str]] = set()  # (class, attribute) being evaluated
        self.function_classes = self._function_classes()

    # ------------------------------------------------------------------ bindings
    def table(self, scope: cst.CSTNode) -> _Names:
        found = self._tables.get(id(scope))
        if found is not None:
            return found
        names = _Names()
        if type(scope) in (cst.FunctionDef, cst.Lambda):
            params = scope.params
            for p in (*params.posonly_params, *params.params, *params.kwonly_params):
                names.add(p.name.value, ("param", scope, p))
            for p in (params.star_arg, params.star_kwarg):
                if isinstance(p, cst.Param):
                    names.add(p.name.value, None)
        body = scope.body
        if type(scope) is cst.Module:
            roots = list(body)
        elif type(scope) is cst.Lambda:
            roots = [body]
        else:
            roots = list(body.body) if type(body) is cst.IndentedBlock else [body]
        for root in roots:
            if type(root) in (cst.FunctionDef, cst.ClassDef):
                names.add(root.name.value, ("def", root))
                continue
            for n in iter_nodes(root, prune=SCOPE_TYPES):
                tp = type(n)
                if tp is cst.Assign:
                    for t in n.targets:
                        self._bind_target(names, t.target, n.value)
                elif tp is cst.AnnAssign:
                    if n.value is not None:
                        self._bind_target(names, n.target, n.value)
                elif tp is cst.AugAssign:
                    if type(n.target) is cst.Name:
                        names.add(n.target.value, ("aug", n.operator, n.value))
                elif tp in (cst.For, cst.CompFor):
                    self._bind_target(names, n.target, None)
                elif tp is cst.WithItem:
                    if n.asname is not None:
                        self._bind_target(names, n.asname.name, None)
                elif tp is cst.ExceptHandler:
                    if n.name is not None:
                        self._bind_target(names, n.name.name, None)
                elif tp is cst.NamedExpr:
                    self._bind_target(names, n.target, n.value)
                elif tp in (cst.Import, cst.ImportFrom):
                    if type(n.names) is not cst.ImportStar:
                        for alias in n.names:
                            local = alias.asname.name if alias.asname is not None else alias.name
                            head = dotted(local) if isinstance(local, cst.BaseExpression) else None
                            if head:
                                names.add(head.split(".")[0], None)
                elif tp in (cst.FunctionDef, cst.ClassDef):
                    names.add(n.name.value, ("def", n))
                elif tp in (cst.Global, cst.Nonlocal):
                    for item in n.names:
                        names.globals_.add(item.name.value)
                elif tp is cst.Del:
                    self._bind_target(names, n.target, None)
                elif tp in (cst.MatchAs, cst.MatchStar):
                    if n.name is not None:
                        names.add(n.name.value, None)
        self._tables[id(scope)] = names
        return names

    def _bind_target(self, names: _Names, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if type(target) is cst.Name:
            names.add(target.value, value)
        elif type(target) in (cst.Tuple, cst.List):
            elems = target.elements
            pair = type(value) in (cst.Tuple, cst.List) and len(value.elements) == len(elems) and not any(
                type(e) is cst.StarredElement for e in (*elems, *value.elements))
            for i, el in enumerate(elems):
                self._bind_target(names, el.value, value.elements[i].value if pair else None)
        elif type(target) is cst.StarredElement:
            self._bind_target(names, target.value, None)

    def lookup(self, name: str, scopes: tuple[cst.CSTNode, ...]) -> tuple[list, tuple[cst.CSTNode, ...]] | None:
        """The bindings of `name` seen from the innermost of `scopes`, and the scopes they live in; None when
        nothing in the file binds it (a builtin, or a name the file never assigns)."""
        innermost = len(scopes) - 1
        for i in range(innermost, -1, -1):
            scope = scopes[i]
            if type(scope) is cst.ClassDef and i != innermost:
                continue  # a class body's names are not visible in its methods
            table = self.table(scope)
            if name in table.globals_:
                module_table = self.table(scopes[0])
                return (module_table.values[name], scopes[:1]) if name in module_table.values else None
            if name in table.values:
                return table.values[name], scopes[: i + 1]
        return None

    def _all(self, name: str, scopes: tuple[cst.CSTNode, ...], test) -> str | None:
        """`test(value_expr, scopes)` for every binding of `name`: the first result if all of them hold."""
        found = self.lookup(name, scopes)
        if found is None:
            return None
        values, where = found
        key = (id(where[-1]), name)
        if key in self._active:
            return None
        self._active.add(key)
        try:
            reason = None
            for value in values:
                if value is None:
                    return None
                if type(value) is tuple:
                    if value[0] == "param":
                        r = self._param(value[1], value[2], where, test)
                    elif value[0] == "aug" and type(value[1]) in AUG_ARITH and reason is not None and (
                            _is_number(value[2]) or test(value[2], where)):
                        r = reason
                    else:
                        return None
                else:
                    r = test(value, where)
                if r is None:
                    return None
                reason = reason or r
            return reason
        finally:
            self._active.discard(key)

    def _param(self, fn: cst.CSTNode, param: cst.Param, where, test) -> str | None:
        """A parameter of a module-level or nested plain function: proven when every call of the function in
        this file passes a proven value (or leaves a proven default)."""
        if type(fn) is not cst.FunctionDef or len(where) < 2:
            return None
        site = self._defs.get(id(fn))
        if site is None or (site.scopes and type(site.scopes[-1]) is cst.ClassDef):
            return None  # a method: its callers are not plain name calls
        defined = self.lookup(fn.name.value, site.scopes)
        if defined is None or not all(type(v) is tuple and v[0] == "def" and v[1] is fn for v in defined[0]):
            return None
        params = fn.params
        if param in params.kwonly_params or param in params.posonly_params:
            return None
        index = list(params.params).index(param) if param in params.params else None
        calls = self.scan.name_calls.get(fn.name.value, [])
        if not calls:
            return None
        reason = None
        for call_site in calls:
            call: cst.Call = call_site.node
            seen = self.lookup(fn.name.value, call_site.scopes)
            if seen is None or seen[0] is not defined[0]:
                return None
            if any(a.star for a in call.args):
                return None
            arg = _kwarg(call, param.name.value)
            pos = _positional(call)
            if arg is None and index is not None and index < len(pos):
                arg = pos[index]
            if arg is None:
                if param.default is None:
                    return None
                r = test(param.default, site.scopes)
            else:
                r = test(arg.value, call_site.scopes)
            if r is None:
                return None
            reason = reason or r
        return reason

    # ------------------------------------------------------------------ losses
    def loss_module(self, expr: cst.BaseExpression, scopes) -> str | None:
        """`nn.CrossEntropyLoss()` (also `.cuda()` / `.to(device)` of it, or a name bound only to such) with a
        reduction to a 0-dim tensor: the class name."""
        while type(expr) is cst.Call and type(expr.func) is cst.Attribute and expr.func.attr.value in ("cuda", "to", "cpu"):
            expr = expr.func.value
        if type(expr) is cst.Name:
            return self._all(expr.value, scopes, self.loss_module)
        if type(expr) is cst.Attribute:
            return self._self_attr(expr, scopes, self.loss_module)
        if type(expr) is not cst.Call:
            return None
        q = self.resolve(expr.func) or ""
        head, _, cls = q.rpartition(".")
        if head not in ("torch.nn", "torch.nn.modules.loss") or cls not in LOSS_MODULES:
            return None
        if len(_positional(expr)) > LOSS_MODULES[cls] or any(a.star for a in expr.args):
            return None
        if not self._reduces(expr):
            return None
        return cls

    def _self_attr(self, expr: cst.Attribute, scopes, test) -> str | None:
        """`self.criterion` in a method: proven when every `self.criterion = ...` in the methods of the class
        is (and there is at least one; a write anywhere else — `obj.criterion = ...`, `setattr` — is not
        seen, so names that other code may set are a known limit)."""
        method = next((scopes[i] for i in range(len(scopes) - 1, 0, -1)
                       if type(scopes[i]) is cst.FunctionDef and type(scopes[i - 1]) is cst.ClassDef), None)
        if method is None or type(expr.value) is not cst.Name or not _first_param(method) == expr.value.value:
            return None
        cls = scopes[scopes.index(method) - 1]
        key = (id(cls), expr.attr.value)
        if key in self._active_attrs:
            return None
        self._active_attrs.add(key)
        try:
            reason = None
            for fn in cls.body.body if type(cls.body) is cst.IndentedBlock else ():
                if type(fn) is not cst.FunctionDef:
                    continue
                me = _first_param(fn)
                chain = (*scopes[: scopes.index(cls) + 1], fn)
                for n in iter_nodes(fn.body, prune=SCOPE_TYPES):
                    tp = type(n)
                    targets = [t.target for t in n.targets] if tp is cst.Assign else \
                        [n.target] if tp in (cst.AugAssign, cst.AnnAssign) else []
                    for t in targets:
                        for el in iter_nodes(t):
                            if type(el) is cst.Attribute and el.attr.value == expr.attr.value and \
                                    type(el.value) is cst.Name and el.value.value == me:
                                if tp is cst.AugAssign or t is not el or getattr(n, "value", None) is None:
                                    return None
                                r = test(n.value, chain)
                                if r is None:
                                    return None
                                reason = reason or r
            return reason
        finally:
            self._active_attrs.discard(key)

    def _reduces(self, call: cst.Call) -> bool:
        reduction = _kwarg(call, "reduction")
        if reduction is not None and _const(reduction.value) not in REDUCTIONS:
            return False
        reduce = _kwarg(call, "reduce")
        return reduce is None or _const(reduce.value) in (True, None)

    def loss_call(self, call: cst.Call, scopes) -> str | None:
        q = self.resolve(call.func) or ""
        head, _, name = q.rpartition(".")
        if head == "torch.nn.functional" and name in LOSS_FUNCTIONS:
            if len(_positional(call)) > LOSS_FUNCTIONS[name] or any(a.star for a in call.args) or not self._reduces(call):
                return None
            return f"the loss `{self.model.code(call.func)}(...)`"
        module = self.loss_module(call.func, scopes)
        if module is not None:
            return f"`{self.model.code(call.func, 30)}` (an `nn.{module}`)" if type(call.func) in (cst.Name, cst.Attribute) \
                else f"the loss `nn.{module}()(...)`"
        return None

    # ------------------------------------------------------------------ 0-dim and tensors
    def zero_dim(self, expr: cst.BaseExpression, scopes) -> str | None:
        """Why `expr` is a 0-dim tensor (for messages), or None when that is not proven."""
        tp = type(expr)
        if tp is cst.Name:
            return self._all(expr.value, scopes, self.zero_dim)
        if tp is cst.Attribute:
            return self.zero_dim(expr.value, scopes) if expr.attr.value == "data" else None
        if tp is cst.UnaryOperation and type(expr.operator) is cst.Minus:
            return self.zero_dim(expr.expression, scopes)
        if tp is cst.BinaryOperation and type(expr.operator) in ARITH_OPS:
            left, right = expr.left, expr.right
            if _is_number(left):
                return self.zero_dim(right, scopes)
            if _is_number(right):
                return self.zero_dim(left, scopes)
            a = self.zero_dim(left, scopes)
            return a if a is not None and self.zero_dim(right, scopes) is not None else None
        if tp is not cst.Call:
            return None
        func = expr.func
        loss = self.loss_call(expr, scopes)
        if loss is not None:
            return loss
        if type(func) is cst.Attribute:
            method = func.attr.value
            if method in SHAPE_KEEPING:
                return self.zero_dim(func.value, scopes)
            if method in FULL_REDUCTIONS and not expr.args and self.tensor(func.value, scopes):
                return f"the full reduction `.{method}()`"
            if method == "norm" and len(expr.args) == 1 and not expr.args[0].star and (
                    expr.args[0].keyword is None or expr.args[0].keyword.value == "p") and \
                    _is_number(expr.args[0].value) and self.tensor(func.value, scopes):
                return f"the full reduction `.norm({self.model.code(expr.args[0].value, 10)})`"
            if method == "dot" and len(expr.args) == 1 and self.tensor(func.value, scopes):
                return "`.dot(...)`"
        q = self.resolve(func) or ""
        head, _, name = q.rpartition(".")
        if head == "torch" and (name in FULL_REDUCTIONS and len(expr.args) == 1 and expr.args[0].keyword is None
                                and not expr.args[0].star or name == "dot" and len(expr.args) == 2):
            return f"the full reduction `{self.model.code(func)}(...)`"
        return None

    def tensor(self, expr: cst.BaseExpression, scopes) -> bool:
        """Is `expr` proven to be a torch tensor?"""
        return self._tensor(expr, scopes) is not None

    def _tensor(self, expr: cst.BaseExpression, scopes) -> str | None:
        tp = type(expr)
        if tp is cst.Name:
            return self._all(expr.value, scopes, self._tensor)
        if tp is cst.Attribute:
            return self._tensor(expr.value, scopes) if expr.attr.value in ("data", "grad") else None
        if tp is cst.BinaryOperation and type(expr.operator) in (*ARITH_OPS, cst.MatrixMultiply):
            left, right = expr.left, expr.right
            if _is_number(left):
                return self._tensor(right, scopes)
            if _is_number(right):
                return self._tensor(left, scopes)
            a = self._tensor(left, scopes)
            return a if a is not None and self._tensor(right, scopes) is not None else None
        if tp is not cst.Call:
            return None
        if self.zero_dim(expr, scopes) is not None:
            return "tensor"
        func = expr.func
        if type(func) is cst.Attribute and func.attr.value in TENSOR_METHODS and self._tensor(func.value, scopes):
            return "tensor"
        q = self.resolve(func) or ""
        head, _, name = q.rpartition(".")
        if q in VARIABLE_NAMES or head == "torch" and name in TORCH_TENSOR_FUNCS or head == "torch.nn.functional":
            return "tensor"
        return None

    # ------------------------------------------------------------------ autograd Functions
    def _function_classes(self) -> dict[str, cst.ClassDef]:
        """Classes of this file that subclass torch.autograd.Function (directly or through another one)."""
        by_name: dict[str, list[cst.ClassDef]] = {}
        for c in self.scan.classes:
            by_name.setdefault(c.name.value, []).append(c)
        found: dict[str, cst.ClassDef] = {}
        changed = True
        while changed:
            changed = False
            for name, defs in by_name.items():
                if name in found or len(defs) != 1:
                    continue
                for base in defs[0].bases:
                    q = self.resolve(base.value) or ""
                    if q in FUNCTION_BASES or (type(base.value) is cst.Name and base.value.value in found):
                        found[name] = defs[0]
                        changed = True
                        break
        return found

    def function_instance(self, expr: cst.BaseExpression, scopes) -> str | None:
        """`Cls(...)` for an autograd Function class of this file (or a name bound only to that): its name."""
        if type(expr) is cst.Name:
            return self._all(expr.value, scopes, self.function_instance)
        if type(expr) is not cst.Call or type(expr.func) is not cst.Name:
            return None
        cls = self.function_classes.get(expr.func.value)
        if cls is None:
            return None
        bound = self.lookup(expr.func.value, scopes)
        if bound is None or not all(type(v) is tuple and v[0] == "def" and v[1] is cls for v in bound[0]):
            return None
        return cls.name.value


def _first_param(fn: cst.FunctionDef) -> str | None:
    params = (*fn.params.posonly_params, *fn.params.params)
    return params[0].name.value if params else None


def _static(cls: cst.ClassDef, method: str) -> bool | None:
    """Is `method` of `cls` a @staticmethod (None: not defined in the class body)?"""
    if type(cls.body) is not cst.IndentedBlock:
        return None
    for stmt in cls.body.body:
        if type(stmt) is cst.FunctionDef and stmt.name.value == method:
            return any(dotted(d.decorator) == "staticmethod" for d in stmt.decorators)
    return None


class LegacyAutogradApi(Rule):
    code = "GL022"
    name = "legacy-autograd-api"
    summary = "Removed or no-op autograd APIs: `volatile=True`, `retain_variables=`, `loss.data[0]`, legacy `Function()(x)`"
    tier = "bug"  # each raises or silently misleads; `volatile=True` itself (ignored: a graph recorded in vain) is hygiene
    fixable = True
    docs = f"""\
## What it does
Flags autograd APIs of PyTorch before 0.4 (and the legacy `autograd.Function` style) that PyTorch 2.13
either ignores or rejects:

* `Variable(x, volatile=True)` — `torch.autograd.Variable` through any import (`from torch.autograd import
  Variable`, `import torch.autograd as A; A.Variable`), with `volatile=True`, a non-constant
  `volatile=flag`, or `volatile` passed as the third positional argument; reported at the argument;
* `v.volatile = True` and reads of `v.volatile`, where `v` is proven to be a tensor (bound only to
  `Variable(...)`, a torch factory, ...);
* `retain_variables=` in `loss.backward(...)`, `torch.autograd.backward(...)`, `torch.autograd.grad(...)`;
* `[0]` on a tensor proven to be 0-dim: `loss.data[0]`, `loss[0]`, `x.sum()[0]`, `loss.data.cpu().numpy()[0]`,
  where the value is a loss (`F.nll_loss(...)`, `nn.CrossEntropyLoss()(...)`, `criterion(...)` with
  `criterion` bound only to an `nn.*Loss(...)` with a reducing `reduction` — also when `criterion` is a
  parameter that every call of the function in this file passes such a loss, or `self.criterion` when
  every `self.criterion = ...` in the methods of the class is one), a full reduction of a proven tensor
  (`.sum()`, `.mean()`, `.max()`, `.norm(2)` ... without a dimension, `torch.sum(x)`), or arithmetic of
  those (`loss1 + 0.5 * loss2`); a name counts only when *every* binding of it in its scope is proven;
* `torch.autograd.variable(...)` (the lowercase function);
* calling an *instance* of a `torch.autograd.Function` subclass defined in the file:
  `GradReverse(lambd)(x)`, `f = MyFn(); f(x)`.

Reported only in files that import torch (or a library built on it), and not inside `pytest.raises` /
`assertRaises` / `catch_warnings` blocks or in test files.

## Why is this bad?
Measured on PyTorch 2.13.0:

```
Variable(x, volatile=True)           ->  UserWarning: {VOLATILE_WARNING}
                                         (grad mode stays on: everything computed from it records a graph)
Variable(x, requires_grad=True, volatile=True)  ->  ValueError: {VOLATILE_AND_GRAD}
v.volatile                           ->  UserWarning: {VOLATILE_READ_WARNING}  (always False)
loss.backward(retain_variables=True) ->  TypeError: {RETAIN_VARIABLES.format(func="Tensor.backward")}
loss.data[0], x.sum()[0]             ->  IndexError: {ZERO_DIM_INDEX}
loss.data.cpu().numpy()[0]           ->  IndexError: {ZERO_DIM_NUMPY}
torch.autograd.variable(x)           ->  RuntimeError: {AUTOGRAD_VARIABLE}
GradReverse(lambd)(x)                ->  RuntimeError: {LEGACY_FUNCTION}
```

`volatile` is the dangerous one: it does not fail. An evaluation loop written with
`Variable(images, volatile=True)` runs with grad mode on, builds a graph for every batch and keeps the
activations alive while the graph is referenced — the memory and time that `volatile` was there to save.
Its results are right, so `volatile=True` (and `v.volatile = True`) is reported in the **hygiene** tier, as
GL005 reports grad mode left on in evaluation code; with `requires_grad=True` it raises (bug tier), and
code branching on `v.volatile` (always False) silently takes the wrong branch (bug tier); a read that is
only printed or stored gives a wrong value but takes no branch (hygiene).
The others crash, often late: in an evaluation function, a logging branch, or at the end of the first epoch.

Since PyTorch 0.4 losses and full reductions are 0-dim tensors (they were 1-element vectors before, so
`loss.data[0]` was the idiom), `retain_variables` is `retain_graph`, `volatile` is `torch.no_grad()`,
and autograd Functions are used through their static `apply`.

## Example
```python
criterion = nn.CrossEntropyLoss()
for images, labels in loader:
    loss = criterion(model(Variable(images)), Variable(labels))
    loss.backward(retain_variables=True)
    running_loss += loss.data[0]

for images, labels in test_loader:
    outputs = model(Variable(images, volatile=True))
```

## Use instead
```python
criterion = nn.CrossEntropyLoss()
for images, labels in loader:
    loss = criterion(model(images), labels)
    loss.backward(retain_graph=True)
    running_loss += loss.item()

with torch.no_grad():
    for images, labels in test_loader:
        outputs = model(images)
```

## Not flagged
`Variable(x)` and `Variable(x, requires_grad=True)` (still work: they return a tensor); `volatile=False`;
`volatile` of objects not proven to be tensors (`config.volatile`, a function parameter); `[0]` on
anything not proven 0-dim: `out[0]`, `x.sum(0)[0]`, `x.max(1)[0]`, `F.cross_entropy(..., reduction='none')[0]`,
`criterion(...)[0]` when `criterion` may be anything else (a parameter with an unknown caller, a custom
loss), lists and NumPy arrays (`losses[0]`, `np.mean(a)[0]`), a name that some binding makes non-0-dim;
`x[0] = v`-style writes are reported without a fix; a `backward` method defined in the file with a
`retain_variables` parameter silences that keyword; `MyFn.apply(x)`; Function subclasses the file
does not define (imported from elsewhere). `ctx.saved_variables` (a DeprecationWarning, still works) and
`grad_variables=` / `only_inputs=` (FutureWarnings, still work) are not flagged.

## Fix safety
* `retain_variables=` → `retain_graph=` (the same meaning: PyTorch renamed the keyword in 0.2) — **safe**:
  the original call always raises `TypeError`, so no program that ran got past it; unsafe inside a `try:`
  block (the program may have relied on catching the error). No fix when the call also passes
  `retain_graph=`.
* `X.data[0]`, `X[0]`, `X.data.cpu().numpy()[0]` on a proven 0-dim `X` → `X.item()` — **safe** for the same
  reason (the line always raises `IndexError`; `.item()` returns the Python number the old code got);
  unsafe inside a `try:` block. A write (`X[0] = v`) gets no fix.
* `Cls()(x)` → `Cls.apply(x)` when `Cls()` takes no arguments and both `forward` and `backward` are
  `@staticmethod`s — **safe** (the call always raised). Legacy Functions with a non-static `forward` or
  constructor arguments (`GradReverse(lambd)(x)`) have no automatic fix: they need rewriting with `ctx`.
* `volatile=True` has **no** automatic fix: dropping the argument would silence the warning and keep the
  bug (grad mode on), and the replacement — `with torch.no_grad():` around every use of the variable — is
  not a local edit. `v.volatile` and `torch.autograd.variable(...)` have no fix either.

## Options
None.
"""
    VALID = (
        """\
import torch
from torch.autograd import Variable
x = Variable(torch.randn(3), requires_grad=True)
""",
        """\
import torch
loss = torch.nn.functional.mse_loss(a, b)
print(loss.item())
""",
        """\
import torch
out = model(x)
first = out[0]
""",
        """\
import torch
loss = torch.nn.functional.cross_entropy(o, y, reduction='none')
print(loss[0])
""",
        """\
import numpy as np
losses = [1.0, 2.0]
print(losses[0])
""",
        """\
import torch
loss.backward(retain_graph=True)
""",
    )
    INVALID = (
        """\
import torch
from torch.autograd import Variable
v = Variable(torch.randn(3), volatile=True)  # gradlint-expect: GL022
""",
        """\
import torch
loss.backward(retain_variables=True)  # gradlint-expect: GL022
""",
        """\
import torch
import torch.nn as nn
criterion = nn.CrossEntropyLoss()
loss = criterion(out, y)
print(loss.data[0])  # gradlint-expect: GL022
""",
        """\
import torch
print(torch.randn(3).sum()[0])  # gradlint-expect: GL022
""",
    )
    prefilter = ("volatile", "variable", "Variable", "[0]", "Function")
    prefilter_needs_torch = "import"  # check() returns at once unless model.uses_torch
    extensions = (LegacyApiScan,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if not model.uses_torch or model.is_test_file:
            return
        scan = model.ext(LegacyApiScan)
        prover = _Prover(model, scan)
        yield from self._calls(model, scan, prover)
        yield from self._volatile_attrs(model, scan, prover)
        yield from self._zero_dim_indexing(model, scan, prover)
        yield from self._function_instances(model, scan, prover)

    # ------------------------------------------------------------------ Variable / backward / variable()
    def _calls(self, model: SemanticModel, scan: LegacyApiScan, prover: _Prover) -> Iterator[Finding]:
        for site in scan.calls:
            if site.in_raises:
                continue
            call: cst.Call = site.node
            q = model.imports.resolve(call.func) or ""
            if q in VARIABLE_NAMES:
                finding = self._volatile_kwarg(model, call, q, site)
                if finding is not None:
                    yield finding
                continue
            if q == "torch.autograd.variable":
                yield Finding(
                    call,
                    f"`{model.code(call.func)}(...)` (the lowercase function) was removed: it raises `RuntimeError: "
                    f"{AUTOGRAD_VARIABLE}`; use the tensor itself (`Variable(x)` is also just `x` now)",
                )
                continue
            arg = _kwarg(call, "retain_variables")
            if arg is None:
                continue
            func = GRAD_ENTRY_POINTS.get(q)
            if func is None:
                if type(call.func) is not cst.Attribute or call.func.attr.value != "backward":
                    continue
                if scan.retain_variables_defs and not self._inside_wrapper(call, site, scan):
                    continue  # the file's own `backward(..., retain_variables=...)` may be the one called
                func = "Tensor.backward"
            fix = None
            if _kwarg(call, "retain_graph") is None:
                fix = FixSpec("Rename the keyword to `retain_graph`", (Replace(arg.keyword, "retain_graph"),),
                              safe=not site.in_try)
            yield Finding(
                arg,
                f"`retain_variables=` was renamed `retain_graph=` (PyTorch 0.2) and is gone: "
                f"`{model.code(call.func)}(..., retain_variables=...)` raises "
                f"`TypeError: {RETAIN_VARIABLES.format(func=func)}`; write `retain_graph=`",
                fix,
            )

    @staticmethod
    def _inside_wrapper(call: cst.Call, site: _Site, scan: LegacyApiScan) -> bool:
        """A file that defines `def backward(self, retain_variables=True)` (a loss module of the old neural style
        tutorial) calls it as `sl.backward(retain_variables=True)`: not flagged. Inside such a function, the
        call it forwards to (`self.loss.backward(retain_variables=...)`, on another receiver than `self`) is
        torch's, and is flagged."""
        fn = next((s for s in reversed(site.scopes) if type(s) is cst.FunctionDef), None)
        if fn is None or id(fn) not in scan.retain_variables_defs:
            return False
        receiver = call.func.value if type(call.func) is cst.Attribute else None
        return not (type(receiver) is cst.Name and receiver.value == _first_param(fn))

    def _volatile_kwarg(self, model: SemanticModel, call: cst.Call, q: str, site: _Site) -> Finding | None:
        arg = _kwarg(call, "volatile")
        pos = _positional(call)
        if arg is None and len(pos) >= 3:
            arg = pos[2]
        if arg is None:
            return None
        value = _const(arg.value)
        if value in (False, 0, None):
            return None
        requires = _kwarg(call, "requires_grad") or (pos[1] if len(pos) >= 2 else None)
        tier = None
        if requires is not None and value is True and _const(requires.value) is True:
            effect = f"with `requires_grad=True` too it raises `ValueError: {VOLATILE_AND_GRAD}`"
        else:
            # ignored with a warning: the results are right, only a graph is recorded that was meant not to
            # be (the waste GL005 reports in evaluation code): hygiene, like GL005
            tier = "hygiene"
            when = "" if value is not _UNKNOWN else f" (when `{model.code(arg.value, 30)}` is true)"
            effect = (f"PyTorch only warns `UserWarning: {VOLATILE_WARNING}`{when} — grad mode stays on, so every "
                      f"result computed from it records a graph")
        return Finding(
            arg,
            f"`volatile` of `{model.code(call.func)}(...)` was removed in PyTorch 0.4 and is ignored: {effect}; "
            f"compute under `with torch.no_grad():` instead",
            self._volatile_fix(model, call, arg, site) if value is not _UNKNOWN else None,
            tier=tier,
        )

    @staticmethod
    def _volatile_fix(model: SemanticModel, call: cst.Call, arg: cst.Arg, site: _Site) -> FixSpec | None:
        """Inside a no_grad block: drop the argument (safe: grad mode is already off there). In a loop that
        never trains (no backward / step / autograd.grad in it): drop it and run the loop under no_grad
        (unsafe: results computed in the loop stop requiring grad, which was the point of `volatile`)."""
        if arg.keyword is None:
            return None  # positional `volatile`: rewriting the arguments is left to the author
        kept = [a for a in call.args if a is not arg]
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        dropped = Replace(call, model.module.code_for_node(call.with_changes(args=kept)).strip())
        if site.in_no_grad:
            return FixSpec("Drop `volatile=True` (already under no_grad)", (dropped,), safe=True)
        loop = site.loop
        if loop is None or type(loop) is not cst.For:
            return None
        for n in iter_nodes(loop):
            if type(n) is cst.Call and type(n.func) is cst.Attribute and n.func.attr.value in TRAINING_CALLS:
                return None
        ref, extra = torch_ref(model, "no_grad")
        return FixSpec(f"Drop `volatile=True` and run the loop under `with {ref}():`",
                       (dropped, WrapInBlock(loop, loop, f"with {ref}():"), *extra), safe=False)

    # ------------------------------------------------------------------ v.volatile
    def _volatile_attrs(self, model: SemanticModel, scan: LegacyApiScan, prover: _Prover) -> Iterator[Finding]:
        for site in scan.volatile_attrs:
            node: cst.Attribute = site.node
            if site.in_raises or not prover.tensor(node.value, site.scopes):
                continue
            target = model.code(node.value, 30)
            if id(node) in scan.store_targets:
                yield Finding(
                    node,
                    f"setting `{target}.volatile` does nothing since PyTorch 0.4 (`UserWarning: {VOLATILE_WARNING}`): "
                    f"grad mode stays on; compute under `with torch.no_grad():` instead",
                    tier="hygiene",  # (a graph recorded in vain, as GL005)
                )
            elif id(node) in scan.branch_volatile:
                yield Finding(
                    node,
                    f"`{target}.volatile` is always False since PyTorch 0.4 (`UserWarning: {VOLATILE_READ_WARNING}`): "
                    f"code that branches on it never sees an evaluation pass; check `torch.is_grad_enabled()` instead",
                )
            else:  # (read, not branched on: a value that is wrong, printed or stored)
                yield Finding(
                    node,
                    f"`{target}.volatile` is always False since PyTorch 0.4 (`UserWarning: {VOLATILE_READ_WARNING}`): "
                    f"it no longer tells whether a graph is recorded; read `torch.is_grad_enabled()` or "
                    f"`{target}.requires_grad` instead",
                    tier="hygiene",
                )

    # ------------------------------------------------------------------ loss.data[0]
    def _zero_dim_indexing(self, model: SemanticModel, scan: LegacyApiScan, prover: _Prover) -> Iterator[Finding]:
        for site in scan.subscripts:
            node: cst.Subscript = site.node
            if site.in_raises:
                continue
            base = node.value
            numpy = False
            if type(base) is cst.Call and type(base.func) is cst.Attribute and base.func.attr.value == "numpy" \
                    and not base.args:
                base, numpy = base.func.value, True
            reason = prover.zero_dim(base, site.scopes)
            if reason is None and not numpy and type(base) is cst.Attribute and base.attr.value == "data":
                # `R.mean().data[0]`: whatever `R` is, `.data` of a full reduction has no index 0 (a torch
                # 0-dim tensor: IndexError; NumPy's scalar: TypeError; pandas has no `.data`)
                red = base.value
                if type(red) is cst.Call and type(red.func) is cst.Attribute and not red.args and \
                        red.func.attr.value in FULL_REDUCTIONS:
                    reason = f"the full reduction `.{red.func.attr.value}()`"
            if reason is None:
                continue
            # the tensor whose value is wanted: drop `.data` / `.cpu()` / `.detach()` at the end of the chain
            root = base
            while True:
                if type(root) is cst.Attribute and root.attr.value == "data":
                    root = root.value
                elif type(root) is cst.Call and type(root.func) is cst.Attribute and root.func.attr.value in (
                        "cpu", "detach", "cuda", "clone") and not root.args:
                    root = root.func.value
                else:
                    break
            error = f"IndexError: {ZERO_DIM_NUMPY}" if numpy else f"IndexError: {ZERO_DIM_INDEX}"
            what = "its NumPy array is 0-dim too" if numpy else "a 0-dim tensor has no index 0"
            text = model.code(node, 40)
            store = id(node) in scan.store_targets
            fix = None
            if not store:
                rendered = model.module.code_for_node(root)
                if type(root) not in (cst.Name, cst.Attribute, cst.Call, cst.Subscript) and not root.lpar:
                    rendered = f"({rendered})"
                fix = FixSpec("Use `.item()`", (Replace(node, f"{rendered}.item()"),),
                              safe=not site.in_try)
            short = model.code(root, 30)
            subject = f"`{short}`" if not short.endswith("…") else "the value"
            use = f"`{short}.item()`" if not short.endswith("…") else "`.item()`"
            yield Finding(
                node,
                f"`{text}`: {subject} is a 0-dim tensor ({reason}) since PyTorch 0.4 and {what}: "
                f"this raises `{error}`; use {use}",
                fix,
            )

    # ------------------------------------------------------------------ Function instances
    def _function_instances(self, model: SemanticModel, scan: LegacyApiScan, prover: _Prover) -> Iterator[Finding]:
        if not prover.function_classes:
            return
        sites = [(s, s.node.func) for s in scan.call_calls]
        sites += [(s, s.node.func) for calls in scan.name_calls.values() for s in calls]
        for site, func in sites:
            if site.in_raises:
                continue
            name = prover.function_instance(func, site.scopes)
            if name is None:
                continue
            cls = prover.function_classes[name]
            call: cst.Call = site.node
            fix = None
            if type(func) is cst.Call and not func.args and _static(cls, "forward") and _static(cls, "backward"):
                fix = FixSpec(f"Call `{name}.apply(...)`", (Replace(func, f"{name}.apply"),), safe=not site.in_try)
            style = "" if _static(cls, "forward") else " (its `forward` is not even a @staticmethod)"
            yield Finding(
                call,
                f"`{model.code(call, 40)}` calls an instance of the autograd Function `{name}`{style}: since PyTorch "
                f"1.5 this raises `RuntimeError: {LEGACY_FUNCTION.split(' (Example')[0]}`; make `forward`/`backward` "
                f"static methods taking `ctx` and call `{name}.apply(...)`",
                fix,
            )
