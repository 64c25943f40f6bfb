"""Objects that cross files: what an imported name holds, and instances of another file's classes.

Within a project (`gradlint.project`), a file's summary exports the values its top-level names hold at
the end of the module (`module_values`: `model = Net()`, `w = torch.zeros(3, requires_grad=True)`,
`params = [w, b]`) and, for its top-level classes, what `self.X` holds (`class_attrs`: `self.net = Net()`,
`self.w = nn.Parameter(...)`), in the JSON of `project_facts.export_value`. The importing file's builder is
given them (`ExternalFacts.values` / `.classes`) and this mixin answers, during its walk:

- `imported_value(name)`: what `from utils import w` binds `w` to (instead of "some imported object");
- `imported_instance(call)`: `Trainer(model)` with `Trainer` imported from the project — an instance whose
  `cls` is the import origin (`"engine.Trainer"`), a module when the class's summary says so; its
  attributes resolve through `ext_attr`, and its method calls are recorded as imported calls of
  `"engine.Trainer.evaluate"` (`record.FactRecorder`), so the project links them to the method's summary.

Without external facts (a file checked alone, or the first step of a project check) the values are what
they always were: an imported name is "other", an instance of an imported class unknown (only its `cls`
is kept, so that its method calls are recorded for the summary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.values import OTHER, Kind, Value

if TYPE_CHECKING:
    from gradlint.model.project_facts import ExtClass

# the kinds of a module-level name or a class attribute worth exporting (a rule of the importer acts on them)
EXPORTED_KINDS = frozenset({Kind.LEAF, Kind.NONLEAF, Kind.MODULE, Kind.PARAMS, Kind.NAMED_PARAMS, Kind.GROUPS,
                            Kind.MODULES, Kind.NAMED_MODULES, Kind.BATCHES})
MAX_EXPORTED = 200  # names (or attributes of one class) exported at most


class ImportedNames:
    """A mixin of `ModelBuilder` (uses `_project`, `imports`, `classes`, `_project_origin`)."""

    _ext_values: dict[str, Value]
    _ext_classes: dict[str, "ExtClass"]

    def _init_imported(self) -> None:
        self._ext_values = {}
        self._ext_classes = {}
        self.import_reads: set[str] = set()  # imported names read as values (the summary's "reads")
        self.ext_instances = False  # an instance of an imported class was met (its method calls are recorded)
        # what the analysis would use of other files' classes (the summary's "asks"): import origin -> None
        # (the class as a whole) or the attributes read through its instances
        self.ext_asks: dict[str, set[str] | None] = {}
        # evaluating the base of these attributes (`self.head` of `self.head.fc.weight`: ("fc", ("weight", None)))
        self.attr_base: tuple | None = None

    def ask_class(self, cls: str | None, attrs: tuple | None = None, anywhere: bool = False) -> None:
        """The analysis met an instance of another file's class (`cls`, its import origin) where what the
        project tells of that class may change a finding: the class's facts are then sent to this file
        (`gradlint.project.Project.link`; a file asking for none is not checked a second time).

        Inside the methods of this file's own `nn.Module` classes an instance that is only built, stored and
        called as a submodule (`self.mlp = Mlp(...)`, `self.mlp(x)` in `forward`: every timm model file)
        changes no finding; attributes read through it (`attrs`, the chain after it: `self.head.fc.weight`
        asks for "fc.weight") may, when the class holds what they read — the project tells
        (`gradlint.project._asked`). `anywhere`: the whole class, wherever (a rule reading it: GL004's tier)."""
        if cls is None or not self._project or cls in self.classes:
            return
        asked = self.ext_asks.get(cls, ())
        if asked is None:
            return
        if not anywhere:
            info = self.scope_class()  # type: ignore[attr-defined]
            if info is not None and info.is_module and not info.is_lightning:
                if attrs is not None:
                    path = []
                    while attrs is not None and len(path) < 3:
                        path.append(attrs[0])
                        attrs = attrs[1]
                    self.ext_asks[cls] = {*asked, ".".join(path)}
                return
        self.ext_asks[cls] = None

    def set_external(self, values: dict[str, Value], classes: dict[str, "ExtClass"]) -> None:
        self._ext_values = values
        self._ext_classes = classes

    def imported_value(self, name: str) -> Value | None:
        """What an imported `name` holds when its module's summary tells (None: not known)."""
        if not self._project:
            return None
        self.import_reads.add(name)
        return self._ext_values.get(name) if self._ext_values else None

    def imported_module(self, name: str) -> bool:
        """Does the imported `name` hold a module, as the project tells (`model = Net()` in utils.py)?"""
        if not self._project:
            return False
        self.import_reads.add(name)  # (`model.eval()`: the project is asked what `model` holds)
        v = self._ext_values.get(name) if self._ext_values else None
        return v is not None and v.kind is Kind.MODULE

    def imported_instance(self, call: cst.Call) -> Value | None:
        """`Net(...)` / `models.Net(...)` where `Net` is a class imported from the project (by its spelling:
        a capitalised name): an instance whose `cls` is the import origin."""
        func = call.func
        if type(func) is cst.Name:
            name = func.value
            if name in self.classes or not (name in self.imports.aliases or name in self.imports.relative):
                return None
        elif type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value in self.imports.aliases:
            name = func.attr.value
        else:
            return None
        if not name[:1].isupper():
            return None
        origin = self._project_origin(func)  # type: ignore[attr-defined]
        if origin is None:
            return None
        self.ext_instances = True
        ext = self._ext_classes.get(origin) if self._ext_classes else None
        kind = Kind.MODULE if ext is not None and ext.module else Kind.UNKNOWN
        return Value(kind, f"a `{name}`", cls=origin)

    def ext_class(self, cls: str | None) -> "ExtClass | None":
        """Another file's class that `cls` (an instance's class key) names, from the project's facts."""
        if cls is None or not self._ext_classes:
            return None
        return self._ext_classes.get(cls)

    def ext_attr(self, base: Value, attr: str) -> Value | None:
        """`obj.attr` for an instance of another file's class: what its `__init__` assigns (None: not told)."""
        self.ask_class(base.cls, (attr, self.attr_base))
        ext = self.ext_class(base.cls)
        if ext is None:
            return None
        if attr in ext.methods:
            return OTHER
        found = ext.attrs.get(attr)
        if found is None:
            return None
        if found.kind is Kind.LEAF and base.origin:
            return found.with_origin(f"`{attr}`, {found.origin or 'a parameter'} of {base.origin}")
        return found

    def imported_method_target(self, recv: Value, method: str) -> str | None:
        """The imported call a method call on an instance of an imported class is (`"engine.Trainer.evaluate"`),
        or None when the receiver is no such instance."""
        cls = recv.cls
        if cls is None or cls in self.classes or recv.ref is not None:
            return None
        return f"{cls}.{method}"


def module_values(model) -> dict[str, Value]:
    """The values the file's top-level names hold at the end of the module (the names a rule of another
    file can act on: tensors that require grad, modules, parameter lists, loaders, instances of classes)."""
    builder = model._builder
    scope = builder._scope
    while scope.parent is not None:
        scope = scope.parent
    return _exportable({n: v for n, v in scope.bindings.items() if "." not in n and not n.startswith("__")})


def class_attrs(info) -> dict[str, Value]:
    """What `self.X` holds for a class of the file (`ClassInfo.attrs`), the exportable ones."""
    return _exportable(info.attrs)


def _exportable(values: dict[str, Value]) -> dict[str, Value]:
    """The values another file can use (not depending on a parameter; a kind that crosses, or an instance of
    a class), at most MAX_EXPORTED of them."""
    out: dict[str, Value] = {}
    for name, v in values.items():
        if v.ref is None and (v.kind in EXPORTED_KINDS or v.cls is not None):
            out[name] = v
            if len(out) >= MAX_EXPORTED:
                break
    return out
