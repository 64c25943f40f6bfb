"""The facts the model records in its single walk over a file; rules read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import libcst as cst

from gradlint.model.values import Value


class Mode(Enum):
    ENABLED = "enabled"  # grad mode on (the default)
    DISABLED = "disabled"  # no_grad(), set_grad_enabled(False)
    INFERENCE = "inference"  # inference_mode()
    UNKNOWN = "unknown"  # set_grad_enabled(flag), an unrecognised grad decorator
    INHERITED = "inherited"  # a function body with no grad-mode decorator: whatever its caller has

    @property
    def records_graph(self) -> bool:
        return self is Mode.ENABLED


# (reading `Mode.X` is slow on Python 3.11, as `Kind.X` is: see `gradlint.model.values`)
M_ENABLED, M_DISABLED, M_INFERENCE = Mode.ENABLED, Mode.DISABLED, Mode.INFERENCE
M_UNKNOWN, M_INHERITED = Mode.UNKNOWN, Mode.INHERITED


@dataclass(eq=False)
class ClassInfo:
    node: cst.ClassDef
    name: str
    is_module: bool  # subclasses nn.Module (directly, or through a class in this file)
    is_lightning: bool
    attrs: dict[str, Value] = field(default_factory=dict)  # self.X -> what it holds
    method_names: frozenset[str] = frozenset()  # names defined with `def` in the class body
    # a base class comes from a framework (transformers, lightning, ... or a relative import): the
    # framework, not this file, decides train/eval and grad modes around its hooks
    framework_base: bool = False
    methods: list["FunctionInfo"] = field(default_factory=list)


@dataclass(eq=False)
class LoopInfo:
    node: cst.For | cst.While
    function: "FunctionInfo | None"
    seq: int
    eval_reason: str | None = None  # why this loop is evaluation code ("loops over `val_loader`")
    has_backward: bool = False
    has_step: bool = False
    has_grad_use: bool = False
    model_calls: list["ModelCall"] = field(default_factory=list)
    parent: "LoopInfo | None" = None
    end_seq: int = 1 << 62  # the sequence point after its last statement (set when the walk leaves it)


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef
    name: str
    class_info: ClassInfo | None
    parent: "FunctionInfo | None"
    decorator_mode: Mode  # INHERITED unless decorated with a grad-mode decorator
    eval_reason: str | None = None  # why this function is evaluation code
    eval_seqs: list[int] = field(default_factory=list)  # where it calls X.eval() / X.train(False)
    calls: list["LocalCall"] = field(default_factory=list)  # calls to functions/methods by simple name
    model_calls: list["ModelCall"] = field(default_factory=list)
    has_backward: bool = False
    has_step: bool = False
    has_grad_use: bool = False  # backward / autograd.grad / enable_grad / requires_grad_ (saliency, attacks)
    loops: list[LoopInfo] = field(default_factory=list)
    # what it returns: one value per `return <expr>` (may be deferred on its own parameters); a bare
    # `return`, falling off the end after a value return, or a `yield` makes it unknown
    returns: list[Value] = field(default_factory=list)
    returns_other: bool = False
    # per `return`, the values of the items of a tuple / list literal it spells (None: it spells none)
    returns_items: list[tuple[Value, ...] | None] = field(default_factory=list)
    # a `return` (or `yield`) of a value carrying an autograd graph made with grad mode on: a model output, a
    # loss (recorded by `gradlint.model.ext_training` when graph facts are built; a call of it makes a graph)
    returns_graph: bool = False
    walked: bool = False  # the walk has left its body (its summary is complete)
    done_seq: int = 0  # the sequence point when the walk left its body (`gradlint.model.late`)


@dataclass(eq=False)
class LocalCall:
    """A call that may reach a function of this file: by simple name (`evaluate(...)`, `self.validate()`,
    `Net(...)` for `Net.__init__`), a method of an instance of a class of the file (`opt.step()` with
    `opt = MySGD(...)`: `cls`), or a function handed to `module.apply(fn)`. `args`/`kwargs` are the values
    passed (evaluated where the call is, for the call graph's parameter summaries)."""

    name: str  # callee's simple name (`evaluate`, `self.validate` -> `validate`, `Net` -> class)
    node: cst.Call
    seq: int
    mode: Mode
    function: FunctionInfo | None
    cls: str | None = None  # the callee is a method of this class of the file
    bound: bool = False  # the callee's first parameter (`self`) is not among `args`
    args: tuple[Value, ...] | None = None  # None: not recorded (a star argument, or no function of that name)
    kwargs: dict[str, Value] | None = None
    via: str = ""  # "apply": `model.apply(fn)` calls fn on every submodule


@dataclass(eq=False)
class ImportedCall:
    """A call of a function imported from another module of the checked project (`evaluate(model)` after
    `from .utils import evaluate`, `U.sgd(params)` after `import pkg.utils as U`, `net.apply(weights_init)`
    with an imported `weights_init`). Recorded only when the model is built for a project (see
    `gradlint.project`); `target` is the imported origin, relative ones with their leading dots."""

    name: str  # the callee's simple name
    target: str  # "pkg.utils.evaluate", ".utils.evaluate"
    node: cst.Call
    seq: int
    mode: Mode
    function: FunctionInfo | None
    args: tuple[Value, ...] | None  # None: a star argument
    kwargs: dict[str, Value] | None
    via: str = ""  # "apply"


@dataclass(eq=False)
class ModelCall:
    node: cst.Call
    seq: int
    mode: Mode
    function: FunctionInfo | None
    loop: LoopInfo | None
    text: str  # `model`, `self.net`
    value: Value | None = None  # what the called object holds (a module; by name, maybe a parameter's)
    not_module: bool = False  # every caller of the function passes a function or another non-module here
    module_global: bool = False  # in a function, `text` starts at a name of the module's top level


@dataclass(eq=False)
class InplaceOp:
    node: cst.CSTNode  # the statement (AugAssign / Assign) or the call
    target: cst.BaseExpression  # the tensor written to (the base, for p[i] = ...)
    value: Value  # what the target holds
    op: str  # "-=", "add_()", "[...] =", "out="
    view: bool  # written through indexing (p[0] = ...)
    full_slice: bool  # p[:] = ... (torch reports the plain leaf message)
    mode: Mode
    function: FunctionInfo | None
    seq: int = -1  # the sequence point it comes after (where in its function: loop extents)


@dataclass(eq=False)
class Rebind:
    node: cst.Assign
    name: str
    value: Value  # what the name held before
    rhs: cst.BaseExpression
    seq: int
    mode: Mode
    function: FunctionInfo | None
    loop: LoopInfo | None
    is_loop_target: bool  # the name is the target of an enclosing `for` over parameters
    reach: object = None  # which bindings of `name` reach it in its loops (`bindings.Reach`; None outside loops)


@dataclass(eq=False)
class Releaf:
    """`x = x.detach().requires_grad_()`, `x.requires_grad = True`, `x.retain_grad()`: `name` is a fresh leaf
    (or keeps its gradient) from here on."""

    name: str
    seq: int
    function: FunctionInfo | None
    node: cst.CSTNode | None = None  # the statement or call (a binding site of `name`: `model.loop_joins`)


@dataclass(eq=False)
class GradRead:
    """`name.grad`, read or written."""

    name: str
    seq: int
    function: FunctionInfo | None
    node: cst.Attribute


@dataclass(eq=False)
class DataAccess:
    node: cst.Attribute  # the `X.data` attribute
    base: cst.BaseExpression
    value: Value  # what X holds
    write: str | None  # None for a read; "inplace", "augassign", "setitem", "assign", "out"
    mode: Mode
    function: FunctionInfo | None


@dataclass(eq=False)
class ModeSwitch:
    """`X.eval()`, `X.train()`, `X.train(False)`, `X.train(flag)`."""

    node: cst.Call
    seq: int
    receiver: str  # dotted text, "" if not a name chain
    kind: str  # "eval", "train", "restore" (train(<expression>): saves/restores a mode)
    function: FunctionInfo | None
    loops: list[LoopInfo]  # enclosing loops of the function, outermost first
