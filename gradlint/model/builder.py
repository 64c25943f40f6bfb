"""One walk over a LibCST module that records every fact the rules need.

Light scope tracking of our own (no QualifiedNameProvider / ScopeProvider): a stack of scopes with
flow-sensitive bindings (statement order), a stack of grad-mode regions, a stack of loops.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence

import libcst as cst

from gradlint.model.assigned import AssignmentScan
from gradlint.model.bindings import Bindings, _Branch, _Scope
from gradlint.model.regions import GradRegions
from gradlint.model.classes import (  # noqa: F401  (re-exported)
    ECO_IMPORT,
    OTHER_FRAMEWORKS,
    TORCH_ECOSYSTEM,
    ClassScan,
    _iter_small_statements,
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
    _split_tokens,
    _unknown,
)
from gradlint.model.extension import Extension
from gradlint.model.imported import ImportedNames
from gradlint.model.facts import (
    M_DISABLED, M_ENABLED, M_INFERENCE, M_INHERITED, M_UNKNOWN, ClassInfo, DataAccess, FunctionInfo, GradRead,
    ImportedCall, InplaceOp, LocalCall, LoopInfo, Mode, ModeSwitch, ModelCall, Rebind, Releaf,
)
from gradlint.model.loop_joins import LoopJoins
from gradlint.model.names import GRAD_MODE_NAMES, ImportMap, dotted
from gradlint.model.record import (  # noqa: F401  (re-exported: GL002 and the extensions import them here)
    FactRecorder,
    _has_grad_term,
    _loop_target_names,
    _names_in,
    _reads_grad_of,
    _target_names,
)
from gradlint.model.tensor_ops import TensorEvaluator
from gradlint.model.training import TrainingRecorder
from gradlint.model.values import K_LEAF, K_MODULE, K_SELF, K_TENSOR, K_UNKNOWN, UNK_PROV, Value, param_ref
from gradlint.model.walk import Walker, iter_nodes
from gradlint.settings import RuleOptions


# Lightning hooks run under no_grad/inference_mode and in eval mode, set by the framework.
FRAMEWORK_NO_GRAD_HOOKS = re.compile(
    r"(validation_step|test_step|predict_step|validation_epoch_end|test_epoch_end|on_(validation|test|predict)_\w+)"
)

EVAL_TOKENS = {"val", "valid", "validation", "test", "testing", "eval", "evaluation", "dev", "holdout"}

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


class ModelBuilder(Evaluator, TensorEvaluator, GradRegions, Bindings, ClassScan, FactRecorder, AssignmentScan,
                   ImportedNames, Walker):
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
        self._init_imported()  # (what imported names hold, when the project tells: gradlint.model.imported)
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
        self._regions: list[_Region] = [_Region(M_ENABLED)]
        self._region_floor: list[int] = []  # region stack depth at each function entry
        self._loops: list[LoopInfo] = []
        self._loop_floor: list[int] = []
        self._loop_targets: list[set[str]] = []  # names bound by enclosing for-loops over parameters
        self._writes: dict[int, str] = {}  # id(expr) -> how it is written to
        self._frozen: set[str] = set()  # receivers whose parameters were frozen (model.requires_grad_(False))
        self._frozen_tensors: set[str] = set()  # `layer.weight.requires_grad = False` (until set True again)
        self._module_functions: set[str] = set()  # functions defined at the top level of the file
        self._pending_assign: list[list] = []  # what each Assign being walked binds (`Bindings._assign_pending`)
        self._pending_prov: list = []  # what each AugAssign / `:=` being walked binds
        self._comp_targets: list[set[str]] = []  # the variables of the enclosing comprehensions and lambdas
        self._lambdas = 0  # how many lambdas enclose the walk's position
        self._default_device = False  # torch.set_default_device(...) seen: factories may not be on the CPU
        self.rewraps: list = []  # re-wrapping calls met by the evaluator (`tensor_ops.RewrapCall`)
        self._rewrap_map: dict = {}
        self._prescan_params: dict[str, Value] = {}
        self._def_names: frozenset[str] | None = None
        self._fns_by_name: dict[str, list[FunctionInfo]] = {}  # functions whose body the walk has left
        self.seeds = None  # the last walk's summaries, for functions defined below their callers (`model.late`)
        self._branches: list[_Branch] = []  # enclosing `if` statements, innermost last
        self.loop_joins = LoopJoins()  # what names hold at loop heads (back-edge joins)
        self._alts: list = []  # enclosing `try`/`match` statements walked in a loop (`loop_joins._Alt`)
        self._site: int | None = None  # the binding site (statement or call) being bound, for the loop joins
        self._anon_site = 0
        self.module_eval_seqs: list[int] = []  # X.eval() at module level
        self.switches: list[ModeSwitch] = []  # every eval()/train() switch, in order
        self._last_switch: dict[FunctionInfo | None, ModeSwitch] = {}  # the last one of each function
        self.training = TrainingRecorder(self)  # optimizers, steps, backward passes, resets (model.training)
        self._init_assigned()  # what built each name (`gradlint.model.assigned`, for `gradlint.model.modes`)

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
            return M_DISABLED
        if kind == "enable_grad":
            return M_ENABLED
        if kind == "inference_mode":
            if call is None:
                return M_INFERENCE
            arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
            flag = True if arg is None else _const_bool(arg.value)
            if flag is None:
                return M_UNKNOWN
            return M_INFERENCE if flag else current
        # set_grad_enabled
        if call is None:
            return M_UNKNOWN
        arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
        flag = _const_bool(arg.value) if arg is not None else None
        if flag is None:
            return M_UNKNOWN
        return M_ENABLED if flag else M_DISABLED

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
                if self.mentions("sys.modules"):
                    self._note_self_module(stmt)

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

    # ----------------------------------------------------------------------------- functions

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        cls = self._scope.class_info
        mode = M_INHERITED
        for dec in node.decorators:
            m = self.mode_of_grad_ctx(dec.decorator, M_INHERITED)
            if m is not None:
                mode = m
            else:
                d = dotted(dec.decorator.func if type(dec.decorator) is cst.Call else dec.decorator) or ""
                if "no_grad" in d or "inference_mode" in d:
                    mode = M_DISABLED
                elif "grad" in d.lower():
                    mode = M_UNKNOWN
        if cls is not None and cls.is_lightning and FRAMEWORK_NO_GRAD_HOOKS.fullmatch(name):
            mode = M_DISABLED
        info = FunctionInfo(node=node, name=name, class_info=cls, parent=self._function, decorator_mode=mode)
        info.eval_reason = self._eval_reason(info)
        self.functions.append(info)
        self.function_names.add(name)
        if cls is not None:
            cls.methods.append(info)
        self._scope = _Scope(self._scope, info, None)
        self._bind_params(node, cls)
        for p in (node.params.star_arg, node.params.star_kwarg):
            if type(p) is cst.Param:
                self._scope.bindings[p.name.value] = Value(K_UNKNOWN, prov=UNK_PROV)
        self._region_floor.append(len(self._regions))
        self._regions.append(_Region(mode))
        self._loop_floor.append(len(self._loops))
        self._loop_targets.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        fn = self._function
        if fn is not None and fn.node is original_node:
            fn.walked = True
            fn.done_seq = self._seq
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
                out[pname] = Value(K_SELF)
                continue
            value = param_ref(node, pname, i if i < len(positional) else -1)
            if p.annotation is not None:
                q = self.imports.resolve(p.annotation.annotation) or ""
                if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                    value = Value(K_LEAF, "an `nn.Parameter`")
                elif q in ("torch.nn.Module",):
                    value = Value(K_MODULE, f"`{pname}`")
                elif q in ("torch.Tensor",):
                    value = Value(K_TENSOR)
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

    # ----------------------------------------------------------------------------- returns

    def visit_Return(self, node: cst.Return) -> None:
        fn = self._function
        if fn is None:
            return
        if node.value is None:
            fn.returns_other = True
        else:
            value = node.value
            fn.returns.append(self.classify(value))
            fn.returns_items.append(  # (`return W1, b1`: for `W1, b1 = init_params()`)
                tuple(self.classify(el.value) for el in value.elements)
                if type(value) in (cst.Tuple, cst.List) and all(type(el) is cst.Element for el in value.elements)
                else None)

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._function is not None:
            self._function.returns_other = True  # a generator: its call returns a generator object

    def visit_With(self, node: cst.With) -> None:
        self._note_with(node)
        mode: Mode | None = None
        for item in node.items:
            m = self.mode_of_grad_ctx(item.item, self._mode)
            if m is not None:
                mode = m
            if item.asname is not None:
                self._bind_prov(item.asname.name, UNK_PROV)
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
        self._push_frame()
        self._enter_loop(loop)
        self._note_for(node)
        self._site = id(node)  # the target is bound at the head of every iteration
        params = self._bind_loop_target(node.target, node.iter)
        self._site = None
        targets = set(self._loop_targets[-1]) if self._loop_targets else set()
        self._loop_targets.append(targets | params)

    def leave_For(self, original_node: cst.For) -> None:
        loop = self._loops.pop()
        loop.end_seq = self._next()
        self._leave_loop(loop)
        self._loop_targets.pop()
        self._pop_frame()

    def visit_While(self, node: cst.While) -> None:
        loop = LoopInfo(node=node, function=self._function, seq=self._next(), parent=self._loop)
        self.loops.append(loop)
        if self._function is not None:
            self._function.loops.append(loop)
        self._loops.append(loop)
        self._push_frame()
        self._enter_loop(loop)

    def leave_While(self, original_node: cst.While) -> None:
        loop = self._loops.pop()
        loop.end_seq = self._next()
        self._leave_loop(loop)
        self._pop_frame()

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

_GLUED = re.compile(r"(val|valid|validation|test|testing|eval|dev)(loader|loaders|set|data|iter|dl|ds|batches)")


def _glued_eval_token(token: str) -> str:
    """`testloader`, `valloader`, `testset`, `devset`: an evaluation word glued to a data word."""
    m = _GLUED.fullmatch(token)
    return m.group(1) if m else token


def _has_loop(func: cst.FunctionDef) -> bool:
    """A for/while loop in the function's own body (not in nested functions or classes)."""
    return any(
        type(n) in (cst.For, cst.While)
        for n in iter_nodes(func.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda))
    )
