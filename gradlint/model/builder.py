"""One walk over a LibCST module that records every fact the rules need.

Light scope tracking of our own (no QualifiedNameProvider / ScopeProvider): a stack of scopes with
flow-sensitive bindings (statement order), a stack of grad-mode regions, a stack of loops.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence

import libcst as cst

from gradlint.model.extension import Extension
from gradlint.model.facts import (
    ClassInfo,
    DataAccess,
    FunctionInfo,
    GradRead,
    ImportedCall,
    InplaceOp,
    LocalCall,
    LoopInfo,
    Mode,
    ModelCall,
    ModeSwitch,
    Rebind,
    Releaf,
)
from gradlint.model.project_facts import EXTERNAL_TOPS
from gradlint.model.training import TrainingRecorder
from gradlint.model.names import (
    GRAD_MODE_NAMES,
    TORCH_FACTORIES,
    ImportMap,
    dotted,
    is_full_slice,
    is_inplace_method,
    target_names,
)
from gradlint.model.evaluate import (  # noqa: F401  (re-exported: the extensions and GL002 import them here)
    EMPTY_LIST,
    NON_TENSOR_METHODS,
    Evaluator,
    _DEF_NAME,
    _Batch,
    _const_bool,
    _kwarg,
    _positional,
    _Scope,
    _split_tokens,
    _unknown,
)
from gradlint.model.values import UNKNOWN, Kind, Value, join, param_ref
from gradlint.model.walk import Walker, iter_nodes
from gradlint.settings import RuleOptions

AUG_OPS = {
    cst.AddAssign: "+=",
    cst.SubtractAssign: "-=",
    cst.MultiplyAssign: "*=",
    cst.DivideAssign: "/=",
    cst.FloorDivideAssign: "//=",
    cst.PowerAssign: "**=",
    cst.ModuloAssign: "%=",
    cst.MatrixMultiplyAssign: "@=",
    cst.BitAndAssign: "&=",
    cst.BitOrAssign: "|=",
    cst.BitXorAssign: "^=",
    cst.LeftShiftAssign: "<<=",
    cst.RightShiftAssign: ">>=",
}

# Lightning hooks run under no_grad/inference_mode and in eval mode, set by the framework.
FRAMEWORK_NO_GRAD_HOOKS = re.compile(
    r"(validation_step|test_step|predict_step|validation_epoch_end|test_epoch_end|on_(validation|test|predict)_\w+)"
)

TORCH_ECOSYSTEM = frozenset(
    {"torch", "torchvision", "torchaudio", "torchtext", "lightning", "pytorch_lightning", "timm", "transformers",
     "accelerate", "torchmetrics", "ignite", "fastai", "detectron2", "mmcv", "mmengine", "peft", "diffusers"}
)

OTHER_FRAMEWORKS = frozenset(
    {"mxnet", "tensorflow", "keras", "jax", "flax", "paddle", "mindspore", "oneflow", "cupy", "chainer", "theano"}
)

# The text an import of one of those libraries needs (`import torch`, `x = 1; from transformers import
# AutoModel`, `import numpy as np, torch`): a necessary condition for `uses_torch`, tested on raw text.
ECO_IMPORT = re.compile(
    r"\b(?:import|from)[\s\\]+[^\n]*?\b(?:" + "|".join(sorted(TORCH_ECOSYSTEM)) + r")\b"
)

EVAL_TOKENS = {"val", "valid", "validation", "test", "testing", "eval", "evaluation", "dev", "holdout"}

# methods on a tensor that do not return a tensor
def _names_in(expr: cst.CSTNode) -> set[str]:
    """Every Name used as a value in expr (not attribute names)."""
    attr_names = {id(n.attr) for n in iter_nodes(expr) if type(n) is cst.Attribute}
    return {n.value for n in iter_nodes(expr) if type(n) is cst.Name and id(n) not in attr_names}


def _reads_grad_of(expr: cst.CSTNode, target: str) -> bool:
    """Does expr read `<target>.grad` (an update step like `p - lr * p.grad`)?"""
    return any(
        type(n) is cst.Attribute and n.attr.value == "grad" and dotted(n.value) == target
        for n in iter_nodes(expr)
    )


def _has_grad_term(expr: cst.CSTNode) -> bool:
    """Does expr involve a gradient: `x.grad`, or a name like `grad`, `grads`, `g`, `dw`?"""
    for n in iter_nodes(expr):
        if type(n) is cst.Attribute and n.attr.value == "grad":
            return True
        if type(n) is cst.Name and ("grad" in n.value.lower() or n.value in ("g", "dp", "dw", "db")):
            return True
    return False


class _Branch:
    """An `if` statement being walked: the bindings before it and what each finished branch left."""

    __slots__ = ("node", "scope", "pre", "outcomes")

    def __init__(self, node: cst.If, scope: "_Scope") -> None:
        self.node = node
        self.scope = scope
        self.pre = dict(scope.bindings)
        self.outcomes: list[dict[str, Value]] = []


class _Region:
    __slots__ = ("mode",)

    def __init__(self, mode: Mode):
        self.mode = mode


# Shared across files: the same options compile once, and a name's verdict is computed once per run.
_MODEL_NAME_CACHES: dict[tuple[str, ...], dict[str, bool]] = {}
_COMPILED: dict[tuple[str, ...], list[re.Pattern[str]]] = {}


def _compiled(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    found = _COMPILED.get(patterns)
    if found is None:
        found = _COMPILED[patterns] = [re.compile(p) for p in patterns]
    return found


_BUILTINS = frozenset(dir(builtins))


class ModelBuilder(Evaluator, Walker):
    def __init__(self, options: RuleOptions, filename: str = "",
                 extensions: Sequence[type[Extension]] = (), source: str | None = None,
                 project: bool = False) -> None:
        self.options = options
        # part of a project analysis (`gradlint.project`): calls of functions imported from modules that
        # may be the project's (not the standard library, torch, ...) are recorded (`imported_calls`)
        self._project = project
        self.filename = filename
        self._source = source
        self._mentions: dict[str, bool] = {}
        # model extensions driven by this walk (see gradlint.model.extension); per-instance dispatch
        self.extensions: dict[type[Extension], Extension] = {cls: cls(self) for cls in extensions}
        self._ext_dispatch: dict[type, tuple] = {}
        if self.extensions:
            self._routes = {}  # the walk's routes hold this instance's extension handlers
        self.imports = ImportMap()
        self._model_name_res = _compiled(options.all_model_names)
        self._model_name_cache = _MODEL_NAME_CACHES.setdefault(options.all_model_names, {})
        self._eval_fn_res = _compiled(options.all_eval_function_patterns)
        # results
        self.functions: list[FunctionInfo] = []
        self.function_names: set[str] = set()  # the names of `functions` (asked per call during the walk)
        self.classes: dict[str, ClassInfo] = {}
        self.loops: list[LoopInfo] = []
        self.inplace_ops: list[InplaceOp] = []
        self.rebinds: list[Rebind] = []
        self.releafs: list[Releaf] = []
        self.grad_reads: list[GradRead] = []
        self.data_accesses: list[DataAccess] = []
        self.local_calls: list[LocalCall] = []
        self.imported_calls: list[ImportedCall] = []
        self.model_calls: list[ModelCall] = []
        self.is_test_file = bool(
            re.search(r"(^|/)(test_[^/]*|[^/]*_test|tests?_[^/]*|conftest)\.py$|(^|/)tests?/", filename.replace("\\", "/"))
        )
        # walking state
        self._seq = 0
        self._scope = _Scope(None, None, None)
        self._regions: list[_Region] = [_Region(Mode.ENABLED)]
        self._region_floor: list[int] = []  # region stack depth at each function entry
        self._loops: list[LoopInfo] = []
        self._loop_floor: list[int] = []
        self._loop_targets: list[set[str]] = []  # names bound by enclosing for-loops over parameters
        self._writes: dict[int, str] = {}  # id(expr) -> how it is written to
        self._frozen: set[str] = set()  # receivers whose parameters were frozen (model.requires_grad_(False))
        self._frozen_tensors: set[str] = set()  # `layer.weight.requires_grad = False` (until set True again)
        self._module_functions: set[str] = set()  # functions defined at the top level of the file
        self._pending_assign: list[list[tuple[cst.BaseExpression, Value]]] = []
        self._prescan_params: dict[str, Value] = {}
        self._def_names: frozenset[str] | None = None
        self._fns_by_name: dict[str, list[FunctionInfo]] = {}  # functions whose body the walk has left
        self._branches: list[_Branch] = []  # enclosing `if` statements, innermost last
        self.module_eval_seqs: list[int] = []  # X.eval() at module level
        self.switches: list[ModeSwitch] = []  # every eval()/train() switch, in order
        self.training = TrainingRecorder(self)  # optimizers, steps, backward passes, resets (model.training)

    def mentions(self, *words: str) -> bool:
        """Can one of `words` occur in the file's text? (Always True without the text.) Lets a search of a
        subtree for a name, attribute or keyword be skipped where the file never spells it."""
        for word in words:
            found = self._mentions.get(word)
            if found is None:
                found = self._mentions[word] = self._source is None or word in self._source
            if found:
                return True
        return False

    # ----------------------------------------------------------------------------- extensions

    def _handlers(self, tp: type):
        base = super()._handlers(tp)
        if not self.extensions:
            return base
        found = self._ext_dispatch.get(tp)
        if found is None:
            name = tp.__name__
            visits = [m for e in self.extensions.values() if (m := getattr(e, f"visit_{name}", None))]
            leaves = [m for e in self.extensions.values() if (m := getattr(e, f"leave_{name}", None))]
            bvisit, bleave = base
            visit = leave = None
            if visits:
                def visit(builder, node, _b=bvisit, _v=tuple(visits)):
                    r = _b(builder, node) if _b is not None else None
                    for m in _v:
                        m(node)
                    return r
            else:
                visit = bvisit
            if leaves:
                def leave(builder, node, _b=bleave, _l=tuple(leaves)):
                    for m in _l:
                        m(node)
                    if _b is not None:
                        _b(builder, node)
            else:
                leave = bleave
            found = (visit, leave)
            self._ext_dispatch[tp] = found
        return found

    # public read-only state for extensions
    @property
    def mode(self) -> Mode:
        return self._regions[-1].mode

    @property
    def function(self) -> FunctionInfo | None:
        return self._scope.function

    @property
    def loop(self) -> LoopInfo | None:
        return self._loop

    @property
    def enclosing_loops(self) -> list[LoopInfo]:
        floor = self._loop_floor[-1] if self._loop_floor else 0
        return self._loops[floor:]

    def next_seq(self) -> int:
        return self._next()

    # ----------------------------------------------------------------------------- helpers

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def _function(self) -> FunctionInfo | None:
        return self._scope.function

    @property
    def _mode(self) -> Mode:
        return self._regions[-1].mode

    @property
    def _loop(self) -> LoopInfo | None:
        floor = self._loop_floor[-1] if self._loop_floor else 0
        return self._loops[-1] if len(self._loops) > floor else None

    def _is_model_name(self, name: str) -> bool:
        found = self._model_name_cache.get(name)
        if found is None:
            found = self._model_name_cache[name] = any(r.fullmatch(name) for r in self._model_name_res)
        return found

    def grad_mode_kind(self, expr: cst.BaseExpression) -> str | None:
        q = self.imports.resolve(expr)
        return GRAD_MODE_NAMES.get(q) if q else None

    def mode_of_grad_ctx(self, expr: cst.BaseExpression, current: Mode) -> Mode | None:
        """The mode a `with` item or decorator sets, or None if it is not a grad-mode object."""
        call = expr if type(expr) is cst.Call else None
        kind = self.grad_mode_kind(call.func if call else expr)
        if kind is None:
            return None
        if kind == "no_grad":
            return Mode.DISABLED
        if kind == "enable_grad":
            return Mode.ENABLED
        if kind == "inference_mode":
            if call is None:
                return Mode.INFERENCE
            arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
            flag = True if arg is None else _const_bool(arg.value)
            if flag is None:
                return Mode.UNKNOWN
            return Mode.INFERENCE if flag else current
        # set_grad_enabled
        if call is None:
            return Mode.UNKNOWN
        arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
        flag = _const_bool(arg.value) if arg is not None else None
        if flag is None:
            return Mode.UNKNOWN
        return Mode.ENABLED if flag else Mode.DISABLED

    # ----------------------------------------------------------------------------- module / imports

    def visit_Module(self, node: cst.Module) -> None:
        # Pre-pass over top-level statements for class names (so a class used before it is defined,
        # or in a function above it, is still known).
        for stmt in node.body:
            if type(stmt) is cst.FunctionDef:
                self._module_functions.add(stmt.name.value)
            elif type(stmt) is cst.ClassDef:
                self._register_class(stmt)
            elif type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    if type(small) is cst.Import:
                        self.imports.add_import(small)
                    elif type(small) is cst.ImportFrom:
                        self.imports.add_import_from(small)

    @property
    def other_framework(self) -> bool:
        """Does the file import another array framework (MXNet, TensorFlow, JAX, ...) and no torch library?
        There `w.data()`, `param[:] = param - lr * param.grad` are that framework's, not torch's."""
        if self.uses_torch:
            return False
        return any(origin.split(".", 1)[0] in OTHER_FRAMEWORKS for origin in self.imports.aliases.values())

    @property
    def uses_torch(self) -> bool:
        """Does the file import PyTorch or a library built on it (so `model(x)` is a torch model)?"""
        return any(origin.split(".", 1)[0] in TORCH_ECOSYSTEM for origin in self.imports.aliases.values())

    def visit_Import(self, node: cst.Import) -> None:
        self.imports.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.imports.add_import_from(node)

    # ----------------------------------------------------------------------------- classes

    def _register_class(self, node: cst.ClassDef) -> ClassInfo:
        name = node.name.value
        if name in self.classes and self.classes[name].node is node:
            return self.classes[name]
        is_module = False
        is_lightning = False
        for base in node.bases:
            q = self.imports.resolve(base.value) or dotted(base.value) or ""
            last = q.rsplit(".", 1)[-1]
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module") or last in ("Module",):
                is_module = True
            if "Lightning" in last:
                is_module = True
                is_lightning = True
            if last in self.classes and self.classes[last].is_module:
                is_module = True
                is_lightning = is_lightning or self.classes[last].is_lightning
        method_names = frozenset(
            stmt.name.value for stmt in node.body.body if type(stmt) is cst.FunctionDef
        ) if type(node.body) is cst.IndentedBlock else frozenset()
        framework_base = False
        is_autograd_function = False
        for base in node.bases:
            d = dotted(base.value) or ""
            head = d.split(".", 1)[0]
            q = self.imports.resolve(base.value) or ""
            if q in ("torch.autograd.Function", "torch.autograd.function.Function"):
                is_autograd_function = True
            if head in self.imports.relative or (
                q.split(".", 1)[0] in TORCH_ECOSYSTEM and not q.startswith("torch.")
            ):
                framework_base = True
        if not is_module and not is_autograd_function and "forward" in method_names:
            # a class with a `forward` method is a module (its nn.Module base may come from another file)
            is_module = True
        info = ClassInfo(node=node, name=name, is_module=is_module, is_lightning=is_lightning,
                         method_names=method_names, framework_base=framework_base)
        self.classes[name] = info
        return info

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        info = self._register_class(node)
        self._prescan_self_attrs(node, info)
        self._scope = _Scope(self._scope, self._function, info)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        assert self._scope.parent is not None
        self._scope = self._scope.parent

    def _prescan_self_attrs(self, node: cst.ClassDef, info: ClassInfo) -> None:
        """`self.X = nn.Linear(...)` / `nn.Parameter(...)` anywhere in the class's methods."""
        for stmt in node.body.body:
            if type(stmt) is cst.FunctionDef:
                # the method's parameters are deferred: `self.params = list(params)` in `__init__` holds what
                # the class's instantiations pass
                params: dict[str, Value] = {}
                self._bind_params(stmt, info, params)
                self._prescan_params = params
                if type(stmt.body) is not cst.IndentedBlock:
                    continue
                for small in _iter_small_statements(stmt.body.body):
                    if type(small) is cst.Assign:
                        for t in small.targets:
                            self._prescan_target(t.target, small.value, info)
                    elif type(small) is cst.AnnAssign and small.value is not None:
                        self._prescan_target(small.target, small.value, info)
                    elif (
                        type(small) is cst.Expr
                        and type(small.value) is cst.Call
                        and type(small.value.func) is cst.Attribute
                        and small.value.func.attr.value == "register_parameter"
                    ):
                        pos = _positional(small.value)
                        if len(pos) >= 2 and type(pos[0].value) is cst.SimpleString:
                            key = pos[0].value.evaluated_value
                            if isinstance(key, str):
                                v = self._classify_in_class(pos[1].value)
                                if v.kind is Kind.LEAF:
                                    info.attrs[key] = v

    def _prescan_target(self, target: cst.BaseExpression, value: cst.BaseExpression, info: ClassInfo) -> None:
        if (
            type(target) is cst.Attribute
            and type(target.value) is cst.Name
            and target.value.value == "self"
        ):
            v = self._classify_in_class(value)
            attr = target.attr.value
            if v.kind is Kind.LEAF:
                v = Value(Kind.LEAF, f"`self.{attr}`, an `nn.Parameter`" if "Parameter" in v.origin else v.origin)
            if v.kind is not Kind.UNKNOWN or v.deferred:
                prev = info.attrs.get(attr)
                # an attribute assigned different kinds of things in different places is unknown
                if prev is not None and (prev.kind is not v.kind or prev.ref != v.ref or prev.path != v.path):
                    info.attrs[attr] = UNKNOWN
                else:
                    info.attrs[attr] = v

    def _classify_in_class(self, value: cst.BaseExpression) -> Value:
        saved = self._scope
        self._scope = _Scope(None, None, None)
        self._scope.bindings.update(self._prescan_params)
        try:
            v = self.classify(value)
        finally:
            self._scope = saved
        if v.kind is Kind.MODULE and v.origin.startswith("`") and type(value) is cst.Name:
            # self.model = model: only the name says it is a module; let attr names decide, and the call
            # sites of the method
            return Value(Kind.UNKNOWN, ref=v.ref) if v.ref is not None else UNKNOWN
        return v

    # ----------------------------------------------------------------------------- functions

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        cls = self._scope.class_info
        mode = Mode.INHERITED
        for dec in node.decorators:
            m = self.mode_of_grad_ctx(dec.decorator, Mode.INHERITED)
            if m is not None:
                mode = m
            else:
                d = dotted(dec.decorator.func if type(dec.decorator) is cst.Call else dec.decorator) or ""
                if "no_grad" in d or "inference_mode" in d:
                    mode = Mode.DISABLED
                elif "grad" in d.lower():
                    mode = Mode.UNKNOWN
        if cls is not None and cls.is_lightning and FRAMEWORK_NO_GRAD_HOOKS.fullmatch(name):
            mode = Mode.DISABLED
        info = FunctionInfo(node=node, name=name, class_info=cls, parent=self._function, decorator_mode=mode)
        info.eval_reason = self._eval_reason(info)
        self.functions.append(info)
        self.function_names.add(name)
        if cls is not None:
            cls.methods.append(info)
        self._scope = _Scope(self._scope, info, None)
        self._bind_params(node, cls)
        self._region_floor.append(len(self._regions))
        self._regions.append(_Region(mode))
        self._loop_floor.append(len(self._loops))
        self._loop_targets.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        fn = self._function
        if fn is not None and fn.node is original_node:
            fn.walked = True
            fns = self._fns_by_name.setdefault(fn.name, [])
            fns.append(fn)
        floor = self._region_floor.pop()
        del self._regions[floor:]
        self._loop_floor.pop()
        self._loop_targets.pop()
        assert self._scope.parent is not None
        self._scope = self._scope.parent

    def _bind_params(self, node: cst.FunctionDef, cls: ClassInfo | None, bindings: dict[str, Value] | None = None) -> None:
        """A parameter's value is what the call sites pass (deferred, see `values.ParamRef`), unless its
        annotation says what it is."""
        params = node.params
        positional = [*params.posonly_params, *params.params]
        all_params = [*positional, *params.kwonly_params]
        out = self._scope.bindings if bindings is None else bindings
        for i, p in enumerate(all_params):
            pname = p.name.value
            if i == 0 and cls is not None and pname in ("self",):
                out[pname] = Value(Kind.SELF)
                continue
            value = param_ref(node, pname, i if i < len(positional) else -1)
            if p.annotation is not None:
                q = self.imports.resolve(p.annotation.annotation) or ""
                if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                    value = Value(Kind.LEAF, "an `nn.Parameter`")
                elif q in ("torch.nn.Module",):
                    value = Value(Kind.MODULE, f"`{pname}`")
                elif q in ("torch.Tensor",):
                    value = Value(Kind.TENSOR)
            out[pname] = value

    def _eval_reason(self, info: FunctionInfo) -> str | None:
        name = info.name
        cls = info.class_info
        if cls is not None and (cls.is_module or cls.framework_base or name in ("eval", "train")):
            return None  # a model's own methods, or a framework's hooks: the caller decides the mode
        if FRAMEWORK_NO_GRAD_HOOKS.fullmatch(name):
            return None
        if name.startswith("test") or name.endswith("_test"):
            if self.is_test_file or (cls is not None and any(
                (dotted(b.value) or "").endswith("TestCase") for b in cls.node.bases
            )):
                return None  # pytest / unittest test functions
            if not _has_loop(info.node):
                return None  # a smoke test calling a model once
        if any(r.fullmatch(name) for r in self._eval_fn_res):
            return f"`{name}` is an evaluation function"
        return None

    # ----------------------------------------------------------------------------- regions

    # ----------------------------------------------------------------------------- branches

    def visit_If(self, node: cst.If) -> None:
        top = self._branches[-1] if self._branches else None
        if top is not None and top.node.orelse is node:
            self._next_branch(top)  # `elif`: the earlier tests were false
        self._branches.append(_Branch(node, self._scope))

    def visit_Else(self, node: cst.Else) -> None:
        top = self._branches[-1] if self._branches else None
        if top is not None and top.node.orelse is node:
            self._next_branch(top)

    def _next_branch(self, branch: "_Branch") -> None:
        branch.outcomes.append(dict(branch.scope.bindings))
        branch.scope.bindings.clear()
        branch.scope.bindings.update(branch.pre)

    def leave_If(self, original_node: cst.If) -> None:
        """After `if`/`elif`/`else`, a name holds the join of what each branch (or the fall-through) left."""
        branch = self._branches.pop()
        current = branch.scope.bindings
        outcomes = [*branch.outcomes, current]
        if original_node.orelse is None:
            outcomes.append(branch.pre)
        if len(outcomes) < 2:
            return
        merged: dict[str, Value] = {}
        for name in set().union(*outcomes):
            values = [o[name] for o in outcomes if name in o]
            first = values[0]
            merged[name] = first if all(v == first for v in values) else join(values)
        current.clear()
        current.update(merged)

    # ----------------------------------------------------------------------------- returns

    def visit_Return(self, node: cst.Return) -> None:
        fn = self._function
        if fn is None:
            return
        if node.value is None:
            fn.returns_other = True
        else:
            fn.returns.append(self.classify(node.value))

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._function is not None:
            self._function.returns_other = True  # a generator: its call returns a generator object

    def visit_With(self, node: cst.With) -> None:
        mode: Mode | None = None
        for item in node.items:
            m = self.mode_of_grad_ctx(item.item, self._mode)
            if m is not None:
                mode = m
        self._regions.append(_Region(mode if mode is not None else self._mode))

    def leave_With(self, original_node: cst.With) -> None:
        self._regions.pop()

    def visit_Expr(self, node: cst.Expr) -> None:
        # a bare `torch.set_grad_enabled(False)` switches grad mode for what follows
        value = node.value
        if type(value) is cst.Call and self.grad_mode_kind(value.func) == "set_grad_enabled":
            m = self.mode_of_grad_ctx(value, self._mode)
            if m is not None:
                self._regions[-1].mode = m

    # ----------------------------------------------------------------------------- loops

    def visit_For(self, node: cst.For) -> None:
        loop = LoopInfo(node=node, function=self._function, seq=self._next(), parent=self._loop)
        loop.eval_reason = self._loop_eval_reason(node.iter) or self._after_eval_reason()
        self.loops.append(loop)
        if self._function is not None:
            self._function.loops.append(loop)
        self._loops.append(loop)
        params = self._bind_loop_target(node.target, node.iter)
        targets = set(self._loop_targets[-1]) if self._loop_targets else set()
        self._loop_targets.append(targets | params)

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop().end_seq = self._next()
        self._loop_targets.pop()

    def visit_While(self, node: cst.While) -> None:
        loop = LoopInfo(node=node, function=self._function, seq=self._next(), parent=self._loop)
        self.loops.append(loop)
        if self._function is not None:
            self._function.loops.append(loop)
        self._loops.append(loop)

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop().end_seq = self._next()

    def _loop_eval_reason(self, iterable: cst.BaseExpression) -> str | None:
        expr = iterable
        while type(expr) is cst.Call and type(expr.func) is cst.Name and expr.func.value in (
            "enumerate", "tqdm", "iter", "zip", "list", "progress_bar", "track"
        ):
            pos = _positional(expr)
            if not pos:
                return None
            expr = pos[0].value
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute and expr.func.attr.value in (
            "tqdm", "track"
        ):
            pos = _positional(expr)
            if not pos:
                return None
            expr = pos[0].value
        name: str | None = None
        if type(expr) is cst.Name:
            name = expr.value
        elif type(expr) is cst.Attribute:
            name = expr.attr.value
        elif type(expr) is cst.Subscript and len(expr.slice) == 1:
            idx = expr.slice[0].slice
            if type(idx) is cst.Index and type(idx.value) is cst.SimpleString:
                key = idx.value.evaluated_value
                if isinstance(key, str) and key.lower() in EVAL_TOKENS:
                    return f"it loops over `{dotted(expr.value) or 'loaders'}[{idx.value.value}]`"
            return None
        if name is None:
            return None
        tokens = [_glued_eval_token(t) for t in _split_tokens(name)]
        if tokens and set(tokens) & EVAL_TOKENS and not ({"train", "training"} & set(tokens)):
            return f"it loops over `{dotted(expr) or name}`"
        return None

    # ----------------------------------------------------------------------------- statements

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.training.aug_assign(node)
        op = AUG_OPS.get(type(node.operator), "op=")
        self._mark_write(node.target, "augassign")
        self._record_inplace(node, node.target, op, extra=node.value)

    def visit_Del(self, node: cst.Del) -> None:
        self.training.delete(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.training.assign(node)
        rhs_value = self.classify(node.value)
        for t in node.targets:
            target = t.target
            if type(target) is cst.Subscript:
                self._mark_write(target.value, "setitem")
                self._record_inplace(node, target, "[...] =", extra=node.value)
            elif type(target) is cst.Attribute and target.attr.value == "data":
                # `p.data = p.data - lr * p.grad.data` is an update of p written through .data;
                # `p.data = other` swaps storage (maybe of another shape) and is not flagged. Either way the
                # `.data` reads on the right-hand side are part of the same statement and not reported apart.
                base = dotted(target.value)
                self_update = False
                for attr in _data_attributes(node.value):
                    self._writes[id(attr)] = "assign-source"
                    if base is not None and dotted(attr.value) == base:
                        self_update = True
                self._writes[id(target)] = "update" if self_update else "assign"
            elif type(target) is cst.Attribute and target.attr.value == "requires_grad":
                self._set_requires_grad(target.value, _const_bool(node.value))
            elif type(target) in (cst.Tuple, cst.List):
                # `p.data, meta = repack(...)` swaps storage like `p.data = t` (not a read; not flagged)
                for el in target.elements:
                    if type(el.value) is cst.Attribute and el.value.attr.value == "data":
                        self._writes[id(el.value)] = "assign"
            elif type(target) is cst.Name:
                self._record_rebind(node, target.value)
                if self._is_releaf(node.value):
                    self.releafs.append(Releaf(target.value, self._next(), self._function, self._loop))
        self._pending_assign.append([(t.target, rhs_value) for t in node.targets])

    def leave_Assign(self, original_node: cst.Assign) -> None:
        for target, value in self._pending_assign.pop():
            self._bind(target, value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._pending_assign.append([(node.target, self.classify(node.value))])
        else:
            self._pending_assign.append([])

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        for target, value in self._pending_assign.pop():
            self._bind(target, value)

    def _set_requires_grad(self, receiver: cst.BaseExpression, flag: bool | None) -> None:
        if type(receiver) is cst.Attribute:
            d = dotted(receiver)
            if d is not None:
                if flag is False:
                    self._frozen_tensors.add(d)
                else:
                    self._frozen_tensors.discard(d)
            return
        if type(receiver) is cst.Name:
            cur = self._scope.lookup(receiver.value)
            if flag is False and cur is not None and cur.kind is Kind.LEAF:
                self._scope.bindings[receiver.value] = Value(Kind.TENSOR, "frozen")
                self._freeze_loop_owner(receiver.value)
            elif flag is True:
                self.releafs.append(Releaf(receiver.value, self._next(), self._function, self._loop))
                if cur is not None and cur.kind is Kind.TENSOR:
                    self._scope.bindings[receiver.value] = Value(Kind.LEAF, "made a leaf with requires_grad = True")

    def _freeze_loop_owner(self, name: str) -> None:
        """`for p in model.parameters(): p.requires_grad = False` freezes `model` for the rest of the file."""
        for loop in reversed(self._loops):
            if type(loop.node) is cst.For and name in _target_names(loop.node.target):
                it = loop.node.iter
                if (
                    type(it) is cst.Call
                    and type(it.func) is cst.Attribute
                    and it.func.attr.value in ("parameters", "named_parameters")
                ):
                    owner = dotted(it.func.value)
                    if owner:
                        self._frozen.add(owner)
                return

    def _is_releaf(self, rhs: cst.BaseExpression) -> bool:
        """`x.detach().requires_grad_()`, `torch.tensor(..., requires_grad=True)`, `nn.Parameter(...)`."""
        if type(rhs) is cst.Call:
            if type(rhs.func) is cst.Attribute and rhs.func.attr.value in ("requires_grad_", "detach"):
                return True
            v = self.classify(rhs)
            if v.kind is Kind.LEAF and "parameter of" not in v.origin:
                return True
        return False

    def _record_rebind(self, node: cst.Assign, name: str) -> None:
        old = self._scope.lookup(name)
        if old is None or old.kind is not Kind.LEAF:
            loop_target = name in _loop_target_names(self._loops)
            deferred = old is not None and old.deferred
            # (the right-hand side is searched only when its answer matters)
            reads_grad = (loop_target or deferred) and _reads_grad_of(node.value, name)
            if loop_target and reads_grad:
                # a loop variable whose .grad the update reads: `for p in params: p = p - lr * p.grad`
                old = Value(Kind.LEAF, "a loop variable whose `.grad` is read")
            elif not (deferred and reads_grad):
                return  # (a parameter of the function is a leaf if its callers pass one: resolved after the walk)
        self.rebinds.append(
            Rebind(
                node=node,
                name=name,
                value=old,
                rhs=node.value,
                seq=self._next(),
                mode=self._mode,
                function=self._function,
                loop=self._loop,
                is_loop_target=name in _loop_target_names(self._loops),
            )
        )

    def _record_inplace(self, node: cst.CSTNode, target: cst.BaseExpression, op: str,
                        extra: cst.BaseExpression | None = None) -> None:
        view = False
        full_slice = False
        base = target
        if type(target) is cst.Subscript:
            view = True
            base = target.value
            full_slice = is_full_slice(target)
        value = self.classify(base)
        bname = dotted(base)
        reads_own = bname is not None and extra is not None and _reads_grad_of(extra, bname)
        if value.kind is not Kind.LEAF and reads_own and type(base) is cst.Name:
            if base.value in _loop_target_names(self._loops) and _unknown(self._scope.lookup(base.value)):
                value = Value(Kind.LEAF, "a loop variable whose `.grad` the update reads")
        self.inplace_ops.append(
            InplaceOp(
                node=node,
                target=base,
                value=value,
                op=op,
                view=view,
                full_slice=full_slice,
                mode=self._mode,
                function=self._function,
            )
        )

    # ----------------------------------------------------------------------------- calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        fn = self._function
        loop = self._loop
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if is_inplace_method(method):
                self._mark_write(recv, "inplace")
                self._record_inplace(node, recv, f"{method}()", extra=node)
            if method == "requires_grad_":
                arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                rv = self.classify(recv)
                if rv.kind is Kind.MODULE and flag is False:
                    d = dotted(recv)
                    if d:
                        self._frozen.add(d)
                else:
                    self._set_requires_grad(recv, flag)
                if flag is not False:
                    self._mark_grad_use()
            elif method == "eval" and not node.args and not self._is_imported_name(recv):
                self._record_mode_switch(node, recv, "eval")
            elif method == "train" and len(node.args) <= 1 and not self._is_imported_name(recv) and all(
                    a.keyword is None or a.keyword.value == "mode" for a in node.args):
                # (`Module.train(mode=True)` takes one argument: `d2l.train(train_iter, net, ...)` — a
                # function of an imported module — is not a switch)
                arg = _kwarg(node, "mode") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                self._record_mode_switch(node, recv, "restore" if flag is None else ("train" if flag else "eval"))
            elif method == "append" and type(recv) is cst.Name and len(node.args) == 1:
                # `params = []; params.append(Variable(..., requires_grad=True))`: a list of leaves
                cur = self._scope.lookup(recv.value)
                if cur is EMPTY_LIST or (cur is not None and cur.kind is Kind.PARAMS):
                    added = self.classify(node.args[0].value)
                    self._scope.bindings[recv.value] = (
                        Value(Kind.PARAMS, "a list of leaf tensors") if added.kind is Kind.LEAF else UNKNOWN)
            elif method == "retain_grad" and type(recv) is cst.Name:
                self.releafs.append(Releaf(recv.value, self._next(), fn, loop))
        if self.mentions(".data"):
            self._mark_data_uses(node)
        out = _kwarg(node, "out")
        if out is not None and self._is_torch_op(func):
            self._writes[id(out.value)] = "out"
            self._record_inplace(node, out.value, "out=")
        q = self.imports.resolve(func)
        self.training.call(node, q)  # optimizers, steps, backward passes, gradient resets
        if q is not None:
            if q in ("torch.autograd.grad", "torch.autograd.backward") or q.startswith("torch.func."):
                self._mark_grad_use()
            elif GRAD_MODE_NAMES.get(q) == "enable_grad":
                self._mark_grad_use()
            elif GRAD_MODE_NAMES.get(q) == "set_grad_enabled":  # `set_grad_enabled(True)`: enable_grad spelled out
                arg = _kwarg(node, "mode") or (_positional(node)[0] if _positional(node) else None)
                if arg is not None and _const_bool(arg.value) is True:
                    self._mark_grad_use()
            elif q.rsplit(".", 1)[-1] in TORCH_FACTORIES:
                rg = _kwarg(node, "requires_grad")
                if rg is not None and _const_bool(rg.value) is not False:
                    self._mark_grad_use()
        self._record_local_call(node, fn)
        # model calls
        found = self._model_call_text(node)
        if found is not None:
            text, target_value = found
            mc = ModelCall(node=node, seq=self._next(), mode=self._mode, function=fn, loop=loop, text=text,
                           value=target_value)
            self.model_calls.append(mc)
            if fn is not None:
                fn.model_calls.append(mc)
            if loop is not None:
                loop.model_calls.append(mc)

    def _may_define(self, name: str) -> bool:
        """Can the file define a function or class called `name`? (Always True without the text.)"""
        names = self._def_names
        if names is None:
            if self._source is None:
                return True
            names = self._def_names = frozenset(_DEF_NAME.findall(self._source))
        return name in names

    def _record_local_call(self, node: cst.Call, fn: FunctionInfo | None) -> None:
        """Calls that may reach a function of this file (see `LocalCall`), with the values they pass."""
        func = node.func
        callee: str | None = None
        cls_name: str | None = None
        bound = False
        if type(func) is cst.Name:
            callee = func.value
            if callee in self.classes:
                cls_name, bound = callee, True
        elif type(func) is cst.Attribute:
            method = func.attr.value
            if type(func.value) is cst.Name and func.value.value == "self":
                callee, bound = method, True
            elif method == "apply" and len(node.args) == 1 and type(node.args[0].value) is cst.Name:
                # `net.apply(weights_init)`: weights_init(m) runs on every submodule of net
                target = node.args[0].value.value
                defined = self._may_define(target)
                origin = None if defined else self._project_origin(node.args[0].value)
                if (defined and target not in self.classes) or origin is not None:
                    owner = dotted(func.value)
                    module = Value(Kind.MODULE, f"a submodule of `{owner}`" if owner else "a submodule")
                    if origin is not None:
                        self.imported_calls.append(ImportedCall(target, origin, node, self._next(), self._mode, fn,
                                                                (module,), {}, via="apply"))
                    else:
                        self.local_calls.append(LocalCall(target, node, self._next(), self._mode, fn,
                                                          args=(module,), kwargs={}, via="apply"))
                return
            elif self._may_define(method):
                recv = self.classify(func.value)
                info = self.classes.get(recv.cls) if recv.cls is not None else None
                if info is not None and method in info.method_names:
                    callee, cls_name, bound = method, recv.cls, True
            elif self._project:
                origin = self._project_origin(func)
                if origin is not None:
                    self._record_imported_call(method, origin, node, fn)
                return
        if callee is None:
            return
        if self._project and cls_name is None and not bound and not self._may_define(callee):
            origin = self._project_origin(func)
            if origin is not None:
                self._record_imported_call(callee, origin, node, fn)
        args: tuple[Value, ...] | None = None
        kwargs: dict[str, Value] | None = None
        if self._may_define(callee) and not any(a.star for a in node.args):
            args = tuple(self.classify(a.value) for a in node.args if a.keyword is None)
            kwargs = {a.keyword.value: self.classify(a.value) for a in node.args if a.keyword is not None}
        self.local_calls.append(LocalCall(callee, node, self._next(), self._mode, fn, cls=cls_name, bound=bound,
                                          args=args, kwargs=kwargs))

    def _project_origin(self, func: cst.BaseExpression) -> str | None:
        """The import origin of a called name when it comes from a module of the checked project."""
        if not self._project:
            return None
        origin = self.imports.origin(func)
        if origin is None and self.imports.stars and type(func) is cst.Name and func.value not in _BUILTINS:
            origin = f"{self.imports.stars[-1]}.{func.value}"  # `from pkg import *` (the last one wins)
        if origin is None or origin.partition(".")[0] in EXTERNAL_TOPS:
            return None
        return origin

    def _record_imported_call(self, name: str, origin: str, node: cst.Call, fn: FunctionInfo | None) -> None:
        args: tuple[Value, ...] | None = None
        kwargs: dict[str, Value] | None = None
        if not any(a.star for a in node.args):
            args = tuple(self.classify(a.value) for a in node.args if a.keyword is None)
            kwargs = {a.keyword.value: self.classify(a.value) for a in node.args if a.keyword is not None}
        self.imported_calls.append(ImportedCall(name, origin, node, self._next(), self._mode, fn, args, kwargs))

    def _mark_write(self, expr: cst.BaseExpression, how: str) -> None:
        """`expr` is written to; a write into an indexed part of `.data` (`w.data[0] += 1`,
        `w.data[:, 0].normal_()`) writes through `.data` too."""
        self._writes[id(expr)] = how
        while type(expr) is cst.Subscript:
            expr = expr.value
            if type(expr) is cst.Attribute and expr.attr.value == "data":
                self._writes.setdefault(id(expr), how)
                return

    def _mark_data_uses(self, node: cst.Call) -> None:
        """Uses of `.data` that are not reads of its values: `nn.init.*_(p.data)` writes it; `p.data.size()`,
        `isinstance(p.data, T)` only look at metadata."""
        func = node.func
        args = node.args
        if type(func) is cst.Attribute:
            inner = func.value
            if type(inner) is cst.Attribute and inner.attr.value == "data" and func.attr.value in _METADATA_METHODS:
                self._writes.setdefault(id(inner), "meta")
            if not args or not self.mentions("init"):
                return
            first = args[0].value
            if type(first) is cst.Attribute and first.attr.value == "data":
                q = self.imports.resolve(func)
                if q is not None and q.startswith("torch.nn.init.") and q.endswith("_"):
                    self._writes.setdefault(id(first), "inplace")
        elif type(func) is cst.Name and func.value in ("isinstance", "type", "len", "id") and args:
            first = args[0].value
            if type(first) is cst.Attribute and first.attr.value == "data":
                self._writes.setdefault(id(first), "meta")

    def _is_torch_op(self, func: cst.BaseExpression) -> bool:
        """A torch function (`torch.add`) or a method of a known tensor (`x.add`): `out=` means torch's out."""
        q = self.imports.resolve(func)
        if q is not None:
            return q.startswith("torch.")
        return type(func) is cst.Attribute and self.classify(func.value).is_tensor

    def _is_imported_name(self, expr: cst.BaseExpression) -> bool:
        """A bare name bound by an import (`d2l` of `import d2lzh_pytorch as d2l`, `utils`): a module or a
        function, not a model built here."""
        return type(expr) is cst.Name and (expr.value in self.imports.aliases or expr.value in self.imports.relative)

    def _record_mode_switch(self, node: cst.Call, receiver: cst.BaseExpression, kind: str) -> None:
        """`kind`: "eval", "train", or "restore" (`train(flag)`, counted as leaving train mode)."""
        seq = self._next()
        fn = self._function
        to_eval = kind != "train"  # `train(flag)` may leave it in eval mode: counted with eval
        if to_eval:
            if fn is not None:
                fn.eval_seqs.append(seq)
            else:
                self.module_eval_seqs.append(seq)
        self.switches.append(ModeSwitch(node, seq, dotted(receiver) or "", kind, fn, list(self.enclosing_loops)))

    def _after_eval_reason(self) -> str | None:
        """A loop that starts after `model.eval()` (with no `.train()` since) in the same scope."""
        fn = self._function
        last = next((s for s in reversed(self.switches) if s.function is fn), None)
        if last is not None and last.kind != "train" and last.receiver:
            return f"it runs after `{last.receiver}.eval()`"
        return None

    def _model_call_text(self, node: cst.Call) -> tuple[str, Value] | None:
        func = node.func
        target = func
        if type(func) is cst.Attribute and func.attr.value == "forward":
            target = func.value
        if type(target) not in (cst.Name, cst.Attribute) or not node.args:
            return None  # a model is called with inputs; `solver.model()` is not a forward pass
        if type(target) is cst.Name and target.value == "self":
            return None  # a module calling itself: the model's own code
        v = self.classify(target)
        if v.kind is Kind.MODULE:
            d = dotted(target)
            if d is None:
                return None
            # a loss / activation module is not "the model"
            if "Loss" in v.origin or d.lower().endswith(("loss", "criterion", "loss_fn")):
                return None
            q = self.imports.resolve(target)
            if q is not None and q.startswith("torch."):
                return None  # torch.nn.functional... resolved names are functions, not models
            return d, v
        return None

    def _mark_grad_use(self, backward: bool = False) -> None:
        fn = self._function
        if fn is not None:
            fn.has_grad_use = True
            if backward:
                fn.has_backward = True
        for lp in self._loops[self._loop_floor[-1] if self._loop_floor else 0:]:
            lp.has_grad_use = True
            if backward:
                lp.has_backward = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        inner = node.value
        if type(inner) is cst.Attribute and inner.attr.value == "data" and node.attr.value in _METADATA_ATTRS:
            self._writes.setdefault(id(inner), "meta")  # `p.data.shape`: metadata, not the values
        if node.attr.value == "grad" and type(node.value) is cst.Name:
            self.grad_reads.append(GradRead(node.value.value, self._next(), self._function, node))
        elif node.attr.value == "data":
            base_value = self.classify(node.value)
            if base_value.is_tensor or base_value.deferred:
                self.data_accesses.append(
                    DataAccess(
                        node=node,
                        base=node.value,
                        value=base_value,
                        write=self._writes.get(id(node)),
                        mode=self._mode,
                        function=self._function,
                    )
                )


_METADATA_ATTRS = frozenset({"shape", "dtype", "device", "is_cuda", "ndim", "layout", "is_sparse", "is_leaf"})
_METADATA_METHODS = frozenset({"size", "dim", "numel", "nelement", "element_size", "type", "is_floating_point",
                               "is_complex", "get_device", "data_ptr", "stride", "is_contiguous"})

_GLUED = re.compile(r"(val|valid|validation|test|testing|eval|dev)(loader|loaders|set|data|iter|dl|ds|batches)")


def _glued_eval_token(token: str) -> str:
    """`testloader`, `valloader`, `testset`, `devset`: an evaluation word glued to a data word."""
    m = _GLUED.fullmatch(token)
    return m.group(1) if m else token


def _data_attributes(expr: cst.CSTNode) -> list[cst.Attribute]:
    return [n for n in iter_nodes(expr) if type(n) is cst.Attribute and n.attr.value == "data"]


def _loop_target_names(loops: Sequence[LoopInfo]) -> set[str]:
    names: set[str] = set()
    for lp in loops:
        if type(lp.node) is cst.For:
            names |= _target_names(lp.node.target)
    return names


def _target_names(target: cst.BaseExpression) -> set[str]:
    return set(target_names(target))


def _iter_small_statements(body: Sequence[cst.CSTNode]):
    """Small statements in a block, recursing into compound statements (not nested defs/classes)."""
    for stmt in body:
        if type(stmt) is cst.SimpleStatementLine:
            yield from stmt.body
        elif type(stmt) in (cst.FunctionDef, cst.ClassDef):
            continue
        elif isinstance(stmt, cst.BaseCompoundStatement):
            for block_attr in ("body", "orelse", "finalbody"):
                block = getattr(stmt, block_attr, None)
                if block is None:
                    continue
                if type(block) in (cst.Else, cst.Finally):
                    block = block.body
                elif type(block) is cst.If:  # elif chain
                    yield from _iter_small_statements([block])
                    continue
                if type(block) is cst.IndentedBlock:
                    yield from _iter_small_statements(block.body)
                elif type(block) is cst.SimpleStatementSuite:
                    yield from block.body
            for handler in getattr(stmt, "handlers", ()) or ():
                if type(handler.body) is cst.IndentedBlock:
                    yield from _iter_small_statements(handler.body.body)


def _has_loop(func: cst.FunctionDef) -> bool:
    """A for/while loop in the function's own body (not in nested functions or classes)."""
    return any(
        type(n) in (cst.For, cst.While)
        for n in iter_nodes(func.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda))
    )
