"""What one file's analysis learns from the rest of its project (built by `gradlint.project`): the
calls of its functions from other files (`ExtSite`) and what the project functions it imports do
(`ExtCallee`), what the names it imports hold (`values`) and the classes of other files whose instances
it handles (`ExtClass`: a module or not, what `self.X` holds, its methods). Values cross files as plain
JSON (`value_to_json`, `export_value`), and the facts have a digest for the cache key of the file's findings.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from gradlint.model.facts import Mode
from gradlint.model.values import UNKNOWN, Kind, Value

# Imports of these are never project code: calls of them are not recorded (the standard library, torch
# and the scientific stack; anything else imported is recorded and resolved — or not — against the files).
EXTERNAL_TOPS = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(
    """torch torchvision torchaudio torchtext numpy scipy sklearn pandas matplotlib PIL cv2 tqdm einops
    tensorflow jax flax mxnet keras lightning pytorch_lightning __future__ typing_extensions six""".split())

# Values worth sending to another file: those a rule there can act on
SENT_KINDS = frozenset({Kind.LEAF, Kind.TENSOR, Kind.NONLEAF, Kind.MODULE, Kind.PARAMS, Kind.NAMED_PARAMS,
                         Kind.GROUPS, Kind.GROUP, Kind.MODULES, Kind.NAMED_MODULES, Kind.BATCHES, Kind.OTHER})
_KIND = {k.value: k for k in Kind}
_MODE = {m.value: m for m in Mode}


# ------------------------------------------------------------------------------------------------ values

def value_to_json(value: Value) -> list[str] | None:
    """[kind, origin] of a value another file may use; None for what cannot cross (unknown, `self`)."""
    kind = value.kind
    if kind is Kind.SELF or kind is Kind.UNKNOWN or value.ref is not None:
        return None
    if kind not in SENT_KINDS:
        return None
    return [kind.value, value.origin[:200]]


def value_from_json(data: Any) -> Value:
    if data is None:
        return UNKNOWN
    return Value(_KIND[data[0]], data[1], data[2] if len(data) > 2 else None)


def export_value(value: Value) -> list[Any] | None:
    """[kind, origin, class] of a module-level name or a class attribute (`gradlint.model.imported`): the
    class is a class of the file by its name, or an import origin (`"models.Net"`) the project resolves;
    an instance of a class whose kind is not known is exported as "unknown" with its class."""
    if value.ref is not None or value.kind is Kind.SELF:
        return None
    if value.kind is Kind.UNKNOWN or value.kind is Kind.OTHER:
        return None if value.cls is None else [Kind.UNKNOWN.value, value.origin[:200], value.cls[:200]]
    return [value.kind.value, value.origin[:200], None if value.cls is None else value.cls[:200]]


@dataclass(frozen=True)
class ExtSite:
    """A call, in another file, of one of this file's top-level functions."""

    file: str  # as the user sees it (relative to the working folder when below it)
    line: int
    column: int
    mode: Mode  # the grad mode there
    eval_mode: bool | None  # a model is in eval mode there (True), train mode (False), not known (None)
    args: tuple[Value, ...] | None
    kwargs: dict[str, Value] | None
    via: str = ""
    caller: str | None = None  # the calling function's name (None: the module's top level)
    cell: int | None = None  # a notebook's cell (`line` is then within it)
    bound: bool = False  # a method's call (`t.evaluate(x)`): its arguments start after `self` (as facts.LocalCall)

    @property
    def where(self) -> str:
        if not self.line:  # (a call whose line could not be told)
            return self.file
        return f"{self.file}:cell {self.cell}:{self.line}" if self.cell else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ExtCallee:
    """What an imported function does, from its own file's summary."""

    file: str
    line: int
    name: str
    effect: bool | None  # the train/eval mode a call leaves a model in: True eval, False train, None neither
    switch_line: int  # (its definition's line: summaries carry no finer position)
    sets_eval: bool
    trains: bool
    mode_free: bool | None = None  # a model class: True when it computes the same in train and eval mode

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class ExtClass:
    """A class of another file whose instances this file handles (`Trainer(model)`, `from utils import model`)."""

    file: str
    line: int
    name: str
    module: bool  # an nn.Module
    mode_free: bool  # (a module) computes the same in train and eval mode
    attrs: dict[str, Value]  # `self.X` as its methods assign it
    methods: frozenset[str]


@dataclass
class ExternalFacts:
    """What one file's analysis learns from the rest of the project."""

    # its top-level function (`f`) or method (`Cls.f`) -> calls from elsewhere
    incoming: dict[str, list[ExtSite]] = field(default_factory=dict)
    callees: dict[str, ExtCallee] = field(default_factory=dict)  # an imported call's target -> the function
    values: dict[str, Value] = field(default_factory=dict)  # an imported name -> what it holds
    classes: dict[str, ExtClass] = field(default_factory=dict)  # an instance's class key -> the class

    def __bool__(self) -> bool:
        return bool(self.incoming or self.callees or self.values or self.classes)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExternalFacts:
        """From `gradlint.project.Project.link`'s JSON for one file."""
        if not data:
            return cls()
        incoming = {
            name: [ExtSite(f, ln, col, _MODE[m], ev,
                           None if args is None else tuple(value_from_json(a) for a in args),
                           None if kw is None else {k: value_from_json(v) for k, v in kw.items()}, via, caller,
                           cell, bool(rest and rest[0]))
                   for f, ln, col, m, ev, args, kw, via, caller, cell, *rest in sites]
            for name, sites in data.get("incoming", {}).items()
        }
        callees = {t: ExtCallee(*c) for t, c in data.get("callees", {}).items()}
        values = {n: value_from_json(v) for n, v in data.get("values", {}).items()}
        classes = {k: ExtClass(c["file"], c["line"], c["name"], c["module"], c["mode_free"],
                               {a: value_from_json(v) for a, v in c["attrs"].items()}, frozenset(c["methods"]))
                   for k, c in data.get("classes", {}).items()}
        return cls(incoming, callees, values, classes)
