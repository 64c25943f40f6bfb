"""The semantic model every rule shares, computed once per file (see docs/model.md for the layout).

It answers, for the rules:
- names: what `torch`, `nn`, `no_grad`, `F` … refer to (`imports.resolve(expr)`);
- values: what each recorded expression holds (`values.Value`: tensor, parameter/leaf, module, parameter
  iterator, param groups, loader batches, an instance of a class of the file …), one evaluator
  (`evaluate.Evaluator.classify`) over flow-sensitive bindings joined at `if` branches; values that depend
  on a function's parameters are deferred and resolved after the walk by the call graph (`calls`:
  `callgraph.CallGraph`, arguments joined over call sites, `apply(fn)`, methods of instances);
- grad mode: the mode at every recorded fact (`effective_mode(fact.mode, fact.function)`), through
  `with` blocks, decorators (with and without parentheses), bare `set_grad_enabled(...)` statements,
  `enable_grad` nested in `no_grad`, and — for functions without a decorator — the mode at the places
  this file calls them (by name, as methods of instances, through `apply`);
- train/eval mode: the switches (`switches`), what a call leaves a model in (`mode_effect`), whether a
  model is in eval mode at a point (`eval_mode_at`, `sets_eval`);
- the call graph: `call_sites`, `calls_from`, `callees`, `reaches`;
- training (`gradlint.model.training`): optimizers, steps, backward passes, gradient resets, and the one
  definition of a training loop (`loop_trains`, `trains`, `innermost_training_loop`, `resets_gradients`);
- evaluation contexts: which functions and loops are evaluation code (`eval_contexts()`).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import libcst as cst

from gradlint.model.builder import ModelBuilder
from gradlint.model.callgraph import CallGraph
from gradlint.model.extension import Extension
from gradlint.model.facts import (
    M_DISABLED, M_ENABLED, M_INFERENCE, M_INHERITED, M_UNKNOWN, ClassInfo, DataAccess, FunctionInfo, GradRead,
    ImportedCall, InplaceOp, LocalCall, LoopInfo, Mode, ModeSwitch, ModelCall, Rebind, Releaf,
)
from gradlint.model.late import MAX_WALKS, Seeds, late_seeds
from gradlint.model.mode_queries import ModeQueries
from gradlint.model.names import ImportMap, dotted
from gradlint.model.project_facts import ExtCallee, ExtClass, ExternalFacts, ExtSite
from gradlint.model.regions import RegionQueries
from gradlint.model.training import Step
from gradlint.model.training_queries import TrainingQueries
from gradlint.model.values import K_LEAF, K_MODULE, K_PARAMS, K_UNKNOWN, Kind, Value
from gradlint.settings import RuleOptions

E = TypeVar("E", bound=Extension)

__all__ = [
    "ClassInfo",
    "Extension",
    "DataAccess",
    "EvalContext",
    "FunctionInfo",
    "GradRead",
    "ImportedCall",
    "InplaceOp",
    "Kind",
    "LocalCall",
    "LoopInfo",
    "Mode",
    "ModelCall",
    "ModeSwitch",
    "Rebind",
    "Releaf",
    "SemanticModel",
    "Value",
    "build_model",
    "dotted",
]


@dataclass(eq=False)
class EvalContext:
    """A function or loop that is evaluation code."""

    reason: str
    function: FunctionInfo | None
    loop: LoopInfo | None
    model_calls: list[ModelCall]

    @property
    def has_grad_use(self) -> bool:
        """Gradients are wanted here (saliency, attacks): in the loop, or anywhere in its function — except
        a validation loop inside a training function, whose backward/step elsewhere is the training."""
        if self.loop is not None and self.loop.has_grad_use:
            return True
        fn = self.function
        if fn is None or not fn.has_grad_use:
            return False
        return not (self.loop is not None and fn.has_step and not self.loop.has_step)

    @property
    def has_step(self) -> bool:
        if self.loop is not None:
            return self.loop.has_step
        return bool(self.function and self.function.has_step)

    @property
    def has_backward(self) -> bool:
        if self.loop is not None:
            return self.loop.has_backward
        return bool(self.function and self.function.has_backward)


class SemanticModel(TrainingQueries, RegionQueries, ModeQueries):
    """The model of one file. The training facts and the one definition of a training loop
    (`loop_trains`, `trains`, `resets_gradients`, `trained_models`, ...) come from
    `gradlint.model.training_queries.TrainingQueries`."""

    def __init__(self, module: cst.Module, builder: ModelBuilder, external: "ExternalFacts | None" = None) -> None:
        self.module = module
        # what the rest of the project tells about this file (`gradlint.project`): calls of its functions
        # from other files, and what the functions it imports from them do; empty for a file checked alone
        self.external = external if external is not None else ExternalFacts()
        self.imported_calls: list[ImportedCall] = builder.imported_calls
        self.imports: ImportMap = builder.imports
        self.functions = builder.functions
        self.classes = builder.classes
        self.loops = builder.loops
        self.inplace_ops = builder.inplace_ops
        self.rebinds = builder.rebinds
        self.releafs = builder.releafs
        self.loop_joins = builder.loop_joins  # loop back-edge joins: what names hold at a loop's head
        self.grad_reads = builder.grad_reads
        self.data_accesses = builder.data_accesses
        self.local_calls = builder.local_calls
        self.model_calls = builder.model_calls
        self.is_test_file = builder.is_test_file
        self.module_eval_seqs = builder.module_eval_seqs
        self.switches = builder.switches
        self.training = builder.training  # optimizers, steps, backward passes, resets, loop rebindings
        # what built each name (`gradlint.model.assigned`): read by `gradlint.model.modes`
        self.self_module_calls: list[LocalCall] = builder.self_module_calls
        self.top_classes = builder.top_classes
        self.class_tops = builder.class_tops
        self.class_syntax = builder.class_syntax
        self.assignments = builder.assignments
        self.top_of = builder.top_of
        self.uses_torch = builder.uses_torch
        # d2l's MXNet and TensorFlow twins of each chapter: no rule applies to another framework's code
        self.other_framework = builder.other_framework
        self._calls_by_name: dict[str, list[LocalCall]] = defaultdict(list)
        self._calls_by_fn: dict[int, list[LocalCall]] = defaultdict(list)
        for call in self.local_calls:
            self._calls_by_name[call.name].append(call)
            self._calls_by_fn[id(call.function)].append(call)  # id(None): the module's top level
        self._imported_by_fn: dict[int, list[ImportedCall]] = defaultdict(list)
        for icall in self.imported_calls:
            self._imported_by_fn[id(icall.function)].append(icall)
        self.deferred_fns: set[int] = set()  # id(fn node) of functions whose facts waited for their callers
        self._fn_mode: dict[int, Mode] = {}
        self._fn_sets_eval: dict[int, bool] = {}
        self._mode_effects: dict[int, bool | None] = {}
        self._mode_events_of: dict[int, list] = {}  # (_mode_events)
        self._switches_of: dict[int, list[ModeSwitch]] = defaultdict(list)  # id(fn), id(None) at the top level
        for sw in builder.switches:
            self._switches_of[id(sw.function)].append(sw)
        self._extensions = builder.extensions
        self._builder = builder
        self.calls = CallGraph(builder, self.external_sites)
        self._resolve_deferred()
        for ext in self._extensions.values():
            ext.finish(self)

    def _resolve_deferred(self) -> None:
        """Facts whose value depended on a function's parameters get the value its call sites pass (see
        `gradlint.model.callgraph`); facts that turn out not to be about tensors, or a module, are dropped."""
        resolve = self.calls.resolve
        for facts in (self.inplace_ops, self.data_accesses, self.rebinds):
            for f in facts:
                if f.value.ref is not None:
                    self.deferred_fns.add(id(f.value.ref.fn))
        for op in self.inplace_ops:
            if op.value.deferred:
                op.value = resolve(op.value)
        if any(a.value.deferred for a in self.data_accesses):
            for acc in self.data_accesses:
                if acc.value.deferred:
                    acc.value = resolve(acc.value)
            self.data_accesses = [a for a in self.data_accesses if a.value.is_tensor]
        if any(r.value.deferred for r in self.rebinds):
            for rb in self.rebinds:
                if rb.value.deferred:
                    rb.value = resolve(rb.value)
            self.rebinds = [r for r in self.rebinds if r.value.kind is K_LEAF]
        # `def evaluate(model, loader): ... model(x)` where every caller passes a function, not a module
        for mc in self.model_calls:
            v = mc.value
            if v is not None and v.ref is not None:
                actual = resolve(Value(K_UNKNOWN, ref=v.ref, path=v.path))
                if actual.kind is not K_UNKNOWN and actual.kind is not K_MODULE:
                    mc.not_module = True

    def release(self) -> None:
        """Break the model's reference cycles so the file's tree is freed as soon as the caller drops it,
        without waiting for the cyclic garbage collector to traverse the whole tree. Every cycle runs
        through a hub: a function's facts (calls, loops, class <-> methods), or the builder and its
        extensions (each holds the other). The model is unusable afterwards."""
        hubs: list[object] = [*self.functions, *self.classes.values(), *self._extensions.values()]
        builder = self.__dict__.get("_builder")
        if builder is not None:
            hubs += [builder, builder.training]
        for hub in hubs:
            hub.__dict__.clear()
        self.__dict__.clear()

    def ext(self, cls: type[E]) -> E:
        """The model extension `cls` (built because a selected rule declared it in `Rule.extensions`)."""
        found = self._extensions.get(cls)
        if found is None:
            raise KeyError(f"model extension {cls.__name__} was not built: add it to the rule's `extensions`")
        return found  # type: ignore[return-value]

    # ---------------------------------------------------------------- grad mode

    def call_sites(self, fn: FunctionInfo) -> list[LocalCall]:
        """Calls of this file that may reach `fn`: by its simple name (`evaluate(...)`, `self.evaluate()`),
        `Cls(...)` for `Cls.__init__`, and methods called on instances of its class (`opt.step()`), not
        methods of other classes that share the name."""
        cls = fn.class_info.name if fn.class_info is not None else None
        sites = [s for s in self._calls_by_name.get(fn.name, ()) if s.cls is None or s.cls == cls]
        if fn.name == "__init__" and cls is not None:
            sites += self._calls_by_name.get(cls, ())
        return [s for s in sites if s.function is not fn]

    def external_sites(self, fn: FunctionInfo) -> list["ExtSite"]:
        """Calls of `fn` (a top-level function of this file, or a method of a top-level class: `Cls.f`)
        from other files of the project."""
        if fn.parent is not None or not self.external.incoming:
            return []
        if fn.class_info is not None:
            return self.external.incoming.get(f"{fn.class_info.name}.{fn.name}", [])
        return self.external.incoming.get(fn.name, [])

    def external_callee(self, call: ImportedCall) -> "ExtCallee | None":
        """What the imported function a call reaches does (its file's summary), if it is project code."""
        return self.external.callees.get(call.target)

    def external_class(self, cls: str | None) -> "ExtClass | None":
        """Another file's class, by an instance's class key (`Value.cls`, or an imported call's target), as
        the project tells (asking for it: `class_asks`)."""
        if cls is None:
            return None
        self.ask_class(cls)
        return self.external.classes.get(cls)

    def ask_class(self, cls: str) -> None:
        """A rule would read what the project tells of another file's class (`cls`): ask for its facts."""
        builder = self.__dict__.get("_builder")
        if builder is not None:
            builder.ask_class(cls, anywhere=True)

    def class_asks(self) -> dict[str, list[str] | None]:
        """What the analysis (the walk and the rules so far) would use of other files' classes: import origin
        -> None (the whole class) or the attributes read through its instances
        (`gradlint.model.imported.ImportedNames.ask_class`); the project sends a file only those classes."""
        builder = self.__dict__.get("_builder")
        if builder is None:
            return {}
        return {c: None if a is None else sorted(a) for c, a in sorted(builder.ext_asks.items())}

    def imported_calls_from(self, fn: FunctionInfo | None) -> list[ImportedCall]:
        """The calls in `fn`'s own body (None: the module's top level) of functions imported from the project."""
        return self._imported_by_fn.get(id(fn), [])

    def related_sites(self, fn: FunctionInfo | None, mode: Mode | None = None) -> list["ExtSite"]:
        """The calls from other files that decided something about `fn` (or the function it is nested in):
        all of them, or those with grad mode `mode`."""
        while fn is not None and fn.parent is not None:
            fn = fn.parent
        if fn is None:
            return []
        sites = self.external_sites(fn)
        return [s for s in sites if mode is None or s.mode is mode]

    def related(self, fn: FunctionInfo | None, mode: Mode | None = M_ENABLED, what: str = "") -> tuple:
        """`Related` locations (gradlint.diagnostic) for a finding in `fn` that calls from other files decided
        (by default those with grad mode on), and the words for its message ("" when none)."""
        sites = self.related_sites(fn, mode)
        if not sites:
            return (), ""
        from gradlint.diagnostic import Related

        top = fn
        while top is not None and top.parent is not None:
            top = top.parent
        name = top.name if top is not None else "it"
        state = {M_ENABLED: " with grad mode on", M_DISABLED: " under no_grad"}.get(mode, "") if mode else ""
        more = f" (and {len(sites) - 1} more call{'s' if len(sites) > 2 else ''})" if len(sites) > 1 else ""
        words = f"`{name}()` is called from {sites[0].where}{state}{more}"
        related = tuple(Related(s.file, max(1, s.line), max(1, s.column), what or f"`{name}()` is called here{state}")
                        for s in sites[:10])
        return related, words

    def function_mode(self, fn: FunctionInfo) -> Mode:
        """The grad mode a function body starts in."""
        if fn.decorator_mode is not M_INHERITED:
            return fn.decorator_mode
        key = id(fn)
        if key in self._fn_mode:
            return self._fn_mode[key]
        self._fn_mode[key] = M_ENABLED  # cycle guard
        modes = [self.effective_mode(s.mode, s.function) for s in self.call_sites(fn)]
        modes += [s.mode for s in self.external_sites(fn)]
        if fn.name == "step" and _optimizer_like(fn.class_info):
            # an optimizer's `step()` runs in the grad mode of the `X.step()` calls that may reach it (an
            # instance of the class, or an attribute the walk cannot tie to a class: `self.optim.step()`
            # with `self.optim = model.configure_optimizers()`); one call with grad mode on decides
            modes += [self.effective_mode(s.mode, s.function) for s in self.steps
                      if s.direct and self._may_reach_step(s, fn.class_info.name)]
            if any(m is M_ENABLED for m in modes):
                self._fn_mode[key] = M_ENABLED
                return M_ENABLED
        if any(m in (M_DISABLED, M_INFERENCE) for m in modes):
            result = M_DISABLED
        elif any(m is M_UNKNOWN for m in modes):
            result = M_UNKNOWN
        else:
            result = M_ENABLED
        self._fn_mode[key] = result
        return result

    def _may_reach_step(self, step: Step, cls: str) -> bool:
        """May `X.step()` call the `step` of class `cls` of this file? X is an instance of it (where the call is,
        or as its callers pass it), or an attribute whose value the walk does not know (`self.optim`)."""
        v = step.value
        if v.deferred:
            v = self.calls.resolve(v)
            return v.cls == cls
        if v.cls is not None or v.kind is not K_UNKNOWN:
            return v.cls == cls
        return step.on_attribute

    def effective_mode(self, mode: Mode, fn: FunctionInfo | None) -> Mode:
        if mode is not M_INHERITED:
            return mode
        if fn is None:
            return M_ENABLED
        return self.function_mode(fn)

    def calls_from(self, fn: FunctionInfo | None) -> list[LocalCall]:
        """The calls in `fn`'s own body (None: the module's top level) that may reach a function of this file."""
        return self._calls_by_fn.get(id(fn), [])

    def callees(self, fn: FunctionInfo | None) -> list[FunctionInfo]:
        """The functions of this file that `fn` (None: the module's top level) calls, in call order."""
        out: list[FunctionInfo] = []
        for call in self._calls_by_fn.get(id(fn), ()):
            out += [f for f in self.functions_named(call.name) if f is not fn]
        return out

    def runs_in_forward(self, fn: FunctionInfo) -> bool:
        """Does `fn` run in its module's forward pass: `forward` itself, or a method of the same class that a
        `forward` of the class calls as a method (`self.attend(x)`)?"""
        if fn.name == "forward":
            return True
        cls = fn.class_info
        if cls is None:
            return False
        return any(call.name == fn.name and type(call.node.func) is cst.Attribute
                   for fwd in cls.methods if fwd.name == "forward" for call in self.calls_from(fwd))

    def reaches(self, fn: FunctionInfo, test: Callable[[FunctionInfo], bool], depth: int = 4) -> bool:
        """Does `fn`, or a function of this file it calls (through at most `depth` calls), satisfy `test`?
        (e.g. a training step's helper that resets the gradients, a validation helper that trains)"""
        seen = {id(fn)}
        frontier = [fn]
        for level in range(depth + 1):
            nxt: list[FunctionInfo] = []
            for f in frontier:
                if test(f):
                    return True
                if level < depth:
                    for callee in self.callees(f):
                        if id(callee) not in seen:
                            seen.add(id(callee))
                            nxt.append(callee)
            frontier = nxt
        return False

    def functions_named(self, name: str) -> list[FunctionInfo]:
        index = self.__dict__.get("_fns_by_name")
        if index is None:  # (built once: timm's model files hold hundreds of functions, each calling helpers)
            index = self._fns_by_name = defaultdict(list)
            for f in self.functions:
                index[f.name].append(f)
        out = list(index.get(name, ()))
        cls = self.classes.get(name)
        if cls is not None:
            out += [m for m in cls.methods if m.name == "__init__"]
        return out

    @property
    def source_text(self) -> str:
        """The file's text (regenerated from the tree when the model was built without it)."""
        found = self.__dict__.get("_source_text")
        if found is None:
            found = getattr(self._builder, "_source", None) or self.module.code
            self._source_text = found
        return found

    def code(self, node: cst.CSTNode, limit: int = 60) -> str:
        """Source text of a (reported) node, shortened for messages."""
        text = " ".join(self.module.code_for_node(node).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def eval_contexts(self) -> list[EvalContext]:
        contexts: list[EvalContext] = []
        if self.is_test_file or not self.uses_torch:
            # tests call models on purpose, with grad on; a file that imports no torch library may be
            # Keras, JAX or scikit-learn code where `model(x)` means something else
            return contexts
        for fn in self.functions:
            if fn.eval_reason and fn.model_calls:
                contexts.append(EvalContext(fn.eval_reason, fn, None, list(fn.model_calls)))
        for loop in self.loops:
            if not loop.eval_reason or not loop.model_calls:
                continue
            if loop.function is not None and loop.function.eval_reason:
                continue  # the whole function is the context
            parent = loop.parent
            nested = False
            while parent is not None:
                if parent.eval_reason:
                    nested = True
                    break
                parent = parent.parent
            if nested:
                continue
            contexts.append(EvalContext(loop.eval_reason, loop.function, loop, list(loop.model_calls)))
        return contexts

    def mode_at(self, call: ModelCall | InplaceOp | Rebind | DataAccess) -> Mode:
        return self.effective_mode(call.mode, call.function)


_PARAMS_NAME = re.compile(r"params|parameters|param_groups|weights")


def _optimizer_like(cls: ClassInfo | None) -> bool:
    """A class of the file that updates parameters in its `step()`: not an `nn.Module`, and it takes or keeps
    parameters (`__init__(self, params, lr)`, `self.params = ...`) or derives from an `Optimizer`."""
    if cls is None or cls.is_module:
        return False
    if any((dotted(b.value) or "").endswith("Optimizer") for b in cls.node.bases):
        return True
    if any(v.kind is K_PARAMS for v in cls.attrs.values()):
        return True
    for m in cls.methods:
        if m.name == "__init__":
            p = m.node.params
            return any(_PARAMS_NAME.fullmatch(a.name.value) for a in (*p.posonly_params, *p.params, *p.kwonly_params))
    return False


def build_model(module: cst.Module, options: RuleOptions, filename: str = "",
                extensions: Sequence[type[Extension]] = (), source: str | None = None,
                project: bool = False, external: "ExternalFacts | None" = None) -> SemanticModel:
    """`source`, the module's text when the caller has it, lets analyses skip searching a subtree for a
    name the file never mentions (see ModelBuilder.mentions). `project`: the file is part of a project
    analysis (calls of imported project functions are recorded, `gradlint.project`); `external`: what the
    rest of the project tells about it."""
    builder = _walk(module, options, filename, extensions, source, project, external, None)
    for _ in range(MAX_WALKS - 1):
        # a call of a function defined below it learns what that function returns in another walk
        seeds = late_seeds(builder)
        if seeds is None:
            break
        builder = _walk(module, options, filename, extensions, source, project, external, seeds)
    return SemanticModel(module, builder, external)


def _walk(module: cst.Module, options: RuleOptions, filename: str, extensions: Sequence[type[Extension]],
          source: str | None, project: bool, external: ExternalFacts | None, seeds: Seeds | None) -> ModelBuilder:
    builder = ModelBuilder(options, filename, extensions, source, project=project or external is not None)
    if external is not None and (external.values or external.classes):
        builder.set_external(external.values, external.classes)
    builder.seeds = seeds
    builder.walk_module(module)
    return builder
