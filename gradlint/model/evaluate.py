"""One evaluator of what an expression holds: the abstract value (`gradlint.model.values.Value`) of any
expression at the current point of the walk.

`classify(expr)` is the single entry point. It reads the flow-sensitive bindings of the enclosing scopes
(`gradlint.model.bindings`; the builder binds names as the walk passes assignments, loop targets and parameters, and joins
them after `if` statements), the classes of the file (instances resolve their attributes through
`__init__`), the import aliases, and the summaries of functions already walked (what they return).
The steps it takes on a value — an attribute (`attr_of`), an index (`item_of`), an element of a loop
(`elem_of`), a method call (`method_of`) — are also replayed after the walk on values that were deferred
on a function's parameters (`replay`), so a value means the same whether it is known where it is used or
only once the call sites are joined (`gradlint.model.callgraph`).

`Evaluator` is a mixin of `ModelBuilder`: it uses the builder's state (`_scope`, `classes`, `imports`,
`_frozen`, `_frozen_tensors`, `_module_functions`, `_fns_by_name`, `_is_model_name`).
"""

from __future__ import annotations

import re

import libcst as cst

from gradlint.model.facts import ClassInfo
from gradlint.model.names import TORCH_FACTORIES, TORCH_TENSOR_FUNCS, _positional, dotted, is_inplace_method
from gradlint.model.returns import CallSummaries
from gradlint.model.values import (K_BATCHES, K_GROUP, K_GROUPS, K_LEAF, K_MODULE, K_MODULES, K_NAMED_MODULES,
                                   K_NAMED_PARAMS, K_NONLEAF, K_OTHER, K_PARAMS, K_SELF, K_TENSOR, K_UNKNOWN, OTHER,
                                   TENSOR_KINDS, UNKNOWN, Value)

NON_TENSOR_METHODS = frozenset(
    "item tolist numpy size dim numel stride data_ptr element_size nelement is_contiguous "
    "is_floating_point is_leaf equal allclose any_ all_ __len__ backward".split()
)
MODULE_RETURNING_METHODS = frozenset(
    "eval train to cuda cpu float double half bfloat16 requires_grad_ apply share_memory type".split()
)
WRAPPERS_KEEPING_ITERABLE = frozenset({"list", "tuple", "sorted", "reversed", "iter", "filter", "tqdm", "set"})


def _split_tokens(name: str) -> list[str]:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [t for t in name.lower().split("_") if t]


def _const_bool(expr: cst.BaseExpression | None) -> bool | None:
    if type(expr) is cst.Name and expr.value in ("True", "False"):
        return expr.value == "True"
    if type(expr) is cst.Integer:
        return expr.value != "0"
    return None


def _kwarg(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None




class _Batch:
    """What iterating a data loader yields: unpacked, each part is `tensor`."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Value) -> None:
        self.tensor = tensor


# methods whose result a deferred receiver keeps track of (replayed once the receiver is known)
_REPLAYED_METHODS = frozenset(
    {"parameters", "named_parameters", "modules", "children", "named_modules", "named_children", "detach",
     "requires_grad_", "view", "reshape", "t", "clone", "to", "cuda", "cpu", "float", "double", "half", "eval",
     "train", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "contiguous", "forward"}
)


# `\b(?:def|class)\s+([A-Za-z_]\w*)`, the same matches, spelled to start with a character class: the regex
# engine then skips to the next `d`/`c` instead of trying the pattern at every position (4x faster on a
# whole file's text, which `FactRecorder._may_define` searches once per file)
_DEF_NAME = re.compile(r"[dc](?<!\w[dc])(?:(?<=d)ef|(?<=c)lass)\s+([A-Za-z_]\w*)")


EMPTY_LIST = Value(K_OTHER, "an empty list")


_SAME_VALUE_METHODS = frozenset({"cpu", "cuda", "to", "float", "double", "half", "bfloat16", "contiguous", "view",
                                 "reshape", "squeeze", "unsqueeze", "flatten", "permute", "transpose", "t"})


def _unknown(value: Value | None) -> bool:
    return value is None or value.kind is K_UNKNOWN


def _is_loader_name(name: str) -> bool:
    """`train_loader`, `testloader`, `dataloader`, `self.val_loader`: a data loader by its name."""
    # (only `r` and `R` lower-case to a text ending in `r`: the last character rejects most names at once)
    last = name[-1:]
    return (last == "r" or last == "R") and name.lower().endswith("loader")


def _subscript_key(expr: cst.Subscript) -> str | None:
    if len(expr.slice) == 1 and type(expr.slice[0].slice) is cst.Index:
        key = expr.slice[0].slice.value
        if type(key) is cst.SimpleString:
            value = key.evaluated_value
            return value if isinstance(value, str) else None
    return None


# values the evaluator returns often, made once (values are immutable)
_TENSOR, _NONLEAF, _GROUP, _GROUPS = Value(K_TENSOR), Value(K_NONLEAF), Value(K_GROUP), Value(K_GROUPS)
_GRADIENT, _MODEL_OUTPUT = Value(K_TENSOR, "a gradient"), Value(K_TENSOR, "a model output")
# `pack_padded_sequence(...)`, and an RNN's output for one: its `.data` is a field, not `Tensor.data`
_PACKED = Value(K_OTHER, "a `PackedSequence`")
# `out, (h, c) = lstm(packed)`: `out` is packed again, the hidden state a tensor (`gradlint.model.bindings._bind`)
PACKED_RNN_OUTPUT = Value(K_OTHER, "an RNN's output for a `PackedSequence`")
_PACKERS = frozenset({"pack_padded_sequence", "pack_sequence", "PackedSequence"})
# namespaces and config objects: not modules whatever their names (`encoder = SimpleNamespace(dim=8)`)
_CONFIG_OBJECTS = frozenset({"types.SimpleNamespace", "argparse.Namespace", "easydict.EasyDict", "addict.Dict",
                             "omegaconf.OmegaConf.create", "ml_collections.ConfigDict"})


class Evaluator(CallSummaries):
    # ----------------------------------------------------------------------------- classification

    def classify(self, expr: cst.BaseExpression) -> Value:
        if type(expr) is cst.Name:
            v = self._scope.lookup(expr.value)
            if v is not None and v.kind is not K_UNKNOWN:
                return v
            if expr.value in self.classes or (v is None and expr.value in self._module_functions):
                return OTHER
            if v is None and (expr.value in self.imports.aliases or expr.value in self.imports.relative):
                # what the project says it holds (gradlint.model.imported); an instance of a class whose
                # kind is not known keeps its class, and is a module by its name as any unknown value is
                v = self.imported_value(expr.value)
                if v is not None and v.kind is not K_UNKNOWN:
                    return v
                if v is None and expr.value in self.imports.aliases:
                    return OTHER
            if v is not None and v.cls is not None and self._project:
                self.ask_class(v.cls, self.attr_base)  # an instance of another file's class, used
            if self._is_model_name(expr.value):
                # a parameter named like a model stays a module by its name, and keeps its reference so
                # the call sites can say otherwise (a function passed as `model`) — and an instance of an
                # imported class its class
                return Value(K_MODULE, f"`{expr.value}`", ref=v.ref if v is not None else None,
                             cls=v.cls if v is not None else None)
            if _is_loader_name(expr.value):
                return Value(K_BATCHES, f"`{expr.value}`")
            if v is not None and (v.ref is not None or v.cls is not None):
                return v
            return UNKNOWN
        if type(expr) is cst.Attribute:
            return self._classify_attribute(expr)
        if type(expr) is cst.Call:
            return self._classify_call(expr)
        if type(expr) is cst.Subscript:
            return self._classify_subscript(expr)
        if type(expr) is cst.BinaryOperation:
            left, right = self.classify(expr.left), self.classify(expr.right)
            kinds = {left.kind, right.kind}
            if kinds & {K_LEAF, K_NONLEAF}:
                return _NONLEAF
            if K_TENSOR in kinds:
                return _TENSOR
            return UNKNOWN
        if type(expr) is cst.UnaryOperation:
            inner = self.classify(expr.expression)
            if inner.kind in (K_LEAF, K_NONLEAF):
                return _NONLEAF
            return inner if inner.kind is K_TENSOR else UNKNOWN
        if type(expr) in (cst.List, cst.Tuple):
            elems = [e.value for e in expr.elements if type(e) is cst.Element]
            if elems and all(self.classify(e).kind is K_LEAF for e in elems):
                return Value(K_PARAMS, "a list of leaf tensors")
            return EMPTY_LIST if not expr.elements and type(expr) is cst.List else OTHER
        if type(expr) in (cst.ListComp, cst.GeneratorExp):
            return self._classify_comprehension(expr)
        if type(expr) in (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Integer,
                             cst.Float, cst.Dict, cst.Set, cst.Lambda):
            return OTHER
        return UNKNOWN

    def _classify_comprehension(self, expr: cst.ListComp | cst.GeneratorExp) -> Value:
        comp = expr.for_in
        if comp.inner_for_in is not None:
            return UNKNOWN
        it = self.classify(comp.iter)
        if (it.kind is K_PARAMS or it.deferred) and type(comp.target) is cst.Name and type(expr.elt) is cst.Name:
            if expr.elt.value == comp.target.value:
                return it
        return UNKNOWN

    def _classify_attribute(self, expr: cst.Attribute, base: Value | None = None) -> Value:
        """`classify(expr)`; `base`: `classify(expr.value)` when the caller has just computed it."""
        attr = expr.attr.value
        if attr == "grad":
            return _GRADIENT
        if attr == "param_groups":
            return _GROUPS
        if base is None:
            outer = self.attr_base
            self.attr_base = (attr, outer)  # (gradlint.model.imported.ImportedNames.ask_class)
            base = self.classify(expr.value)
            self.attr_base = outer
        if base.kind is K_SELF:
            cls = self.scope_class()
            if cls is None:
                return UNKNOWN
            base = Value(K_OTHER, "`self`", cls=cls.name)
            v = self.attr_of(base, attr, expr)
            if v.kind is K_UNKNOWN and self._is_model_name(attr):
                return Value(K_MODULE, f"`self.{attr}`", ref=v.ref, path=v.path)
            if v.kind is K_UNKNOWN and attr in ("weight", "bias"):
                return self._param_through_chain(expr)
            return v
        v = self.attr_of(base, attr, expr)
        if v.kind is K_UNKNOWN and not v.deferred and attr in ("weight", "bias"):
            return self._param_through_chain(expr)
        return v

    def attr_of(self, base: Value, attr: str, expr: cst.Attribute | None = None) -> Value:
        """What `<base>.<attr>` holds. `expr`, the attribute node when there is one, lets frozen-parameter
        facts of this file apply; without it (a deferred value replayed after the walk) they do not."""
        if base.deferred:
            return base.step("." + attr)
        if attr == "grad":
            return _GRADIENT
        if attr == "data":
            return Value(K_TENSOR, "`.data`") if base.is_tensor else UNKNOWN
        if attr == "param_groups":
            return _GROUPS
        cls = self.classes.get(base.cls) if base.cls is not None else None
        if cls is None and base.cls is not None:
            found = self.ext_attr(base, attr)  # an instance of another file's class
            if found is not None:
                return found
        if cls is not None:
            if attr in cls.method_names:
                return OTHER  # self.helper(...) is a method call, not a submodule (`self._wrap_model`)
            known = cls.attrs.get(attr)
            if known is not None and known.cls is not None and self._project:
                self.ask_class(known.cls, self.attr_base)  # `model.encoder`: an instance of another file's class
            if known is not None and (known.kind is not K_UNKNOWN or known.deferred):
                if known.kind is K_LEAF and base.origin and base.origin != "`self`":
                    return known.with_origin(f"`{attr}`, a parameter of {base.origin}")
                return known
        if base.kind is K_MODULE:
            if attr in ("weight", "bias"):
                if expr is not None and (self.is_frozen(expr.value) or (
                        self._frozen_tensors and dotted(expr) in self._frozen_tensors)):
                    return _TENSOR
                return Value(K_LEAF, f"a parameter of {base.origin or 'a module'}")
            if self._is_model_name(attr):
                return Value(K_MODULE, f"`{(dotted(expr) if expr is not None else None) or attr}`")
            if base.ref is not None:  # a module only by its name: its callers may say what `.attr` is
                return Value(K_UNKNOWN, ref=base.ref, path=base.path + ("." + attr,))
            return UNKNOWN
        if base.is_tensor and attr in ("T", "mT", "H", "real", "imag"):
            return _NONLEAF if base.kind in (K_LEAF, K_NONLEAF) else _TENSOR
        if base.kind is K_UNKNOWN and self._is_model_name(attr):
            return Value(K_MODULE, f"`{(dotted(expr) if expr is not None else None) or attr}`")
        if base.kind in (K_UNKNOWN, K_OTHER) and _is_loader_name(attr):
            return Value(K_BATCHES, f"`{(dotted(expr) if expr is not None else None) or attr}`")
        return UNKNOWN

    def _param_through_chain(self, expr: cst.Attribute) -> Value:
        """`model.bert.encoder.layer[l].output.dense.weight`: a `.weight`/`.bias` reached from a module
        through attributes and indexing is a parameter of that module (unless it was frozen)."""
        node: cst.BaseExpression = expr.value
        while type(node) in (cst.Attribute, cst.Subscript):
            node = node.value
            v = self.classify(node)
            if v.kind is K_MODULE:
                if self.is_frozen(expr.value) or (self._frozen_tensors and dotted(expr) in self._frozen_tensors):
                    return _TENSOR
                return Value(K_LEAF, f"a parameter of `{dotted(node) or 'a module'}`")
            if v.kind is not K_UNKNOWN or v.deferred:
                return UNKNOWN
        return UNKNOWN

    def scope_class(self) -> ClassInfo | None:
        scope = self._scope
        while scope is not None:
            if scope.class_info is not None:
                return scope.class_info
            scope = scope.parent
        return None

    def is_frozen(self, receiver: cst.BaseExpression) -> bool:
        """Was `receiver`, or a module it belongs to (`backbone` for `backbone[0]`, `self.enc` for
        `self.enc.layer1`), frozen with `.requires_grad_(False)`?"""
        if not self._frozen:
            return False
        expr: cst.BaseExpression = receiver
        while True:
            d = dotted(expr)
            if d is not None and d in self._frozen:
                return True
            if type(expr) in (cst.Attribute, cst.Subscript):
                expr = expr.value
            else:
                return False

    def _classify_subscript(self, expr: cst.Subscript) -> Value:
        return self.item_of(self.classify(expr.value), _subscript_key(expr))

    def item_of(self, base: Value, key: str | None = None) -> Value:
        """What `<base>[...]` holds; `key` is the subscript when it is a string literal."""
        if base.deferred:
            return base.step(f"[{key}]" if key == "params" else "[]")
        if base.kind is K_PARAMS:
            return Value(K_LEAF, base.origin)
        if base.kind is K_GROUPS:
            return _GROUP
        if base.kind is K_GROUP:
            if key == "params":
                return Value(K_PARAMS, "a parameter in an optimizer's param_groups")
            return OTHER
        if base.kind is K_MODULE:
            return Value(K_MODULE, base.origin)
        if base.kind in (K_LEAF, K_NONLEAF):
            return _NONLEAF
        if base.kind is K_TENSOR:
            return _TENSOR
        return UNKNOWN

    def _classify_call(self, call: cst.Call) -> Value:
        func = call.func
        q = self.imports.resolve(func)
        if q is not None:
            v = self._classify_qualified_call(q, call)
            if v is not None:
                return v
        if self._project:
            v = self.imported_instance(call)  # `Net()` with Net imported from the project
            if v is not None:
                return v
        if type(func) is cst.Name:
            name = func.value
            cls = self.classes.get(name)
            if cls is not None:
                return Value(K_MODULE if cls.is_module else K_OTHER, f"a `{name}`", cls=name)
            fn = self.local_function(name)
            if fn is not None:
                return self.return_value(call, fn, bound=False)
            if name in WRAPPERS_KEEPING_ITERABLE:
                pos = _positional(call)
                if pos:
                    inner = self.classify(pos[-1].value)
                    if inner.kind in (K_PARAMS, K_NAMED_PARAMS, K_GROUPS, K_MODULES, K_BATCHES):
                        return inner
                    if inner.deferred:
                        return inner.step("list")
                return UNKNOWN
            fv = self.classify(func)
            if fv.kind is K_MODULE:
                return self._module_output(call)
            return UNKNOWN
        if type(func) is cst.Attribute:
            method = func.attr.value
            if method == "parameters":
                if self.is_frozen(func.value):
                    return Value(K_OTHER)
                owner = dotted(func.value)
                return Value(K_PARAMS, f"a parameter of `{owner}`" if owner else "a parameter")
            if method == "named_parameters":
                if self.is_frozen(func.value):
                    return Value(K_OTHER)
                owner = dotted(func.value)
                return Value(K_NAMED_PARAMS, f"a parameter of `{owner}`" if owner else "a parameter")
            if method in ("modules", "children"):
                return Value(K_MODULES)
            if method in ("named_modules", "named_children"):
                return Value(K_NAMED_MODULES)
            if method == "from_pretrained":
                return Value(K_MODULE, f"`{dotted(func.value) or 'a pretrained model'}`")
            outer = self.attr_base
            self.attr_base = (method, outer)  # (the receiver is the base of `.method`: ImportedNames.ask_class)
            recv = self.classify(func.value)
            self.attr_base = outer
            if recv.ref is not None and recv.kind is K_UNKNOWN:  # (`recv.deferred`)
                return recv.step("()" + method) if method in _REPLAYED_METHODS else UNKNOWN
            found = self.methods_of(recv, method)
            if found is not None:
                return self.return_value(call, found[0], bound=True) if len(found) == 1 else UNKNOWN
            if recv.kind is K_MODULE:
                if method in MODULE_RETURNING_METHODS:
                    return recv
                if method == "forward":
                    return _MODEL_OUTPUT
                return UNKNOWN
            if recv.kind is K_SELF:
                cls = self.scope_class()
                if method == "forward" and cls is not None and cls.is_module:
                    return _TENSOR
                if cls is not None and method not in cls.method_names and self._classify_attribute(
                        func, recv).kind is K_MODULE:
                    return self._module_output(call)  # `self.encoder(x)`: a submodule's output
                return UNKNOWN
            if recv.kind in TENSOR_KINDS:
                return self._classify_tensor_method(recv, method, call)
            fv = self._classify_attribute(func, recv)  # (`classify(func)`: its receiver's value is `recv`)
        else:
            fv = self.classify(func)
        if fv.kind is K_MODULE:
            return self._module_output(call)
        return UNKNOWN

    def _module_output(self, call: cst.Call) -> Value:
        """What calling a module returns: a model output; for a packed sequence (`rnn(packed)`), one again."""
        if call.args and self.mentions(*_PACKERS) and self.classify(call.args[0].value).origin == _PACKED.origin:
            return PACKED_RNN_OUTPUT
        return _MODEL_OUTPUT

    def method_of(self, recv: Value, method: str) -> Value:
        """What `<recv>.<method>(...)` returns, for a receiver known only after the walk (a deferred value
        replayed by the call graph)."""
        if recv.kind is K_MODULE:
            owner = recv.origin or "a module"
            if method == "parameters":
                return Value(K_PARAMS, f"a parameter of {owner}")
            if method == "named_parameters":
                return Value(K_NAMED_PARAMS, f"a parameter of {owner}")
        if recv.kind is K_MODULE:
            if method in ("modules", "children"):
                return Value(K_MODULES)
            if method in ("named_modules", "named_children"):
                return Value(K_NAMED_MODULES)
            if method in MODULE_RETURNING_METHODS:
                return recv
            if method == "forward":
                return _MODEL_OUTPUT
            return UNKNOWN
        if recv.is_tensor:
            return self._classify_tensor_method(recv, method, None)
        return UNKNOWN

    def _classify_tensor_method(self, recv: Value, method: str, call: cst.Call | None) -> Value:
        if method in NON_TENSOR_METHODS:
            return OTHER
        if method == "detach":
            return _TENSOR
        if method == "requires_grad_":
            if call is None:
                return Value(K_LEAF, "made a leaf with requires_grad_()") if recv.kind is K_TENSOR else recv
            arg = _kwarg(call, "requires_grad") or (_positional(call)[0] if _positional(call) else None)
            flag = True if arg is None else _const_bool(arg.value)
            if flag is False:
                return _TENSOR if recv.kind is not K_NONLEAF else recv
            if recv.kind is K_TENSOR:
                return Value(K_LEAF, "made a leaf with requires_grad_()")
            return recv
        if is_inplace_method(method):
            return recv  # in-place methods return self
        if recv.kind in (K_LEAF, K_NONLEAF):
            return _NONLEAF
        # a model output moved or reshaped is still that output (`h.cpu()`, `out.view(-1)`)
        return Value(K_TENSOR, recv.origin if method in _SAME_VALUE_METHODS else "")

    def _classify_qualified_call(self, q: str, call: cst.Call) -> Value | None:
        if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            rg = _kwarg(call, "requires_grad")
            if rg is None and len(_positional(call)) >= 2:
                rg = _positional(call)[1]
            if rg is not None:
                flag = _const_bool(rg.value)
                if flag is None:
                    return UNKNOWN  # requires_grad=<expression>
                if flag is False:
                    return _TENSOR
            return Value(K_LEAF, "an `nn.Parameter`")
        if q in ("torch.autograd.Variable", "torch.autograd.variable.Variable"):
            rg = _kwarg(call, "requires_grad")
            flag = _const_bool(rg.value) if rg is not None else False
            if flag is None:
                return UNKNOWN
            if flag:
                return Value(K_LEAF, "created with `Variable(..., requires_grad=True)`")
            pos = _positional(call)
            inner = self.classify(pos[0].value) if pos else UNKNOWN
            return inner if inner.is_tensor else _TENSOR
        if q in ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"):
            return Value(K_BATCHES, "a `DataLoader`")
        if q in ("torch.nn.ParameterList", "torch.nn.ParameterDict"):
            return Value(K_PARAMS, "an `nn.ParameterList` entry")
        head, _, last = q.rpartition(".")
        if head == "torch":
            if last in TORCH_FACTORIES:
                rg = _kwarg(call, "requires_grad")
                if rg is not None:
                    flag = _const_bool(rg.value)
                    if flag is None:
                        return UNKNOWN  # requires_grad=<expression>
                    if flag:
                        return Value(K_LEAF, "created with `requires_grad=True`")
                return _TENSOR
            if last in TORCH_TENSOR_FUNCS:
                args = [self.classify(a.value) for a in call.args if not a.star]
                if any(a.kind in (K_LEAF, K_NONLEAF) for a in args):
                    return _NONLEAF
                return _TENSOR
            return None
        if q.startswith("torch.nn.functional."):
            return _TENSOR
        if q in _CONFIG_OBJECTS:
            return Value(K_OTHER, "a config object")
        if last in _PACKERS and head.startswith("torch.nn.utils.rnn"):
            return _PACKED
        if q.startswith("torch.nn.") and last[:1].isupper() and head in ("torch.nn", "torch.nn.modules"):
            return Value(K_MODULE, f"an `nn.{last}`")
        if q.startswith("torchvision.models.") or q in ("timm.create_model",):
            return Value(K_MODULE, f"`{q}(...)`")
        return None

    def elem_of(self, it: Value) -> Value | tuple | _Batch:
        """What iterating a value yields: a parameter for each of `model.parameters()`, (name, parameter)
        pairs, param groups, submodules, batches of a loader; a deferred value one `elem` step on."""
        if it.deferred:
            return it.step("elem")
        if it.kind is K_PARAMS:
            return Value(K_LEAF, it.origin or "a parameter")
        if it.kind is K_NAMED_PARAMS:
            return (OTHER, Value(K_LEAF, it.origin or "a parameter"))
        if it.kind is K_GROUPS:
            return _GROUP
        if it.kind is K_MODULES:
            return Value(K_MODULE, "a submodule")
        if it.kind is K_NAMED_MODULES:
            return (OTHER, Value(K_MODULE, "a submodule"))
        if it.kind is K_BATCHES:
            return _Batch(Value(K_TENSOR, f"a batch from {it.origin or 'a data loader'}"))
        return UNKNOWN

    def replay(self, current: Value, path: tuple[str, ...]) -> Value:
        """`current` taken through the steps of a deferred value's path."""
        cur: object = current
        for step in path:
            cur = self.replay_step(cur, step)
            if cur is UNKNOWN:
                return UNKNOWN
        return cur if type(cur) is Value else UNKNOWN

    def replay_step(self, current: object, step: str) -> object:
        if type(current) is not Value:
            # a pair from `named_parameters()` / `enumerate`, or the parts of a batch
            if step.startswith("#") and isinstance(current, tuple):
                i = int(step[1:])
                return current[i] if i < len(current) else UNKNOWN
            if step.startswith("#") and type(current) is _Batch:
                return current.tensor
            return UNKNOWN
        if current.deferred:
            return current.step(step)
        if current.kind is K_UNKNOWN:
            return UNKNOWN
        if step.startswith("."):
            return self.attr_of(current, step[1:])
        if step.startswith("["):
            return self.item_of(current, step[1:-1] or None)
        if step == "elem":
            return self.elem_of(current)
        if step == "list":
            keeps = (K_PARAMS, K_NAMED_PARAMS, K_GROUPS, K_MODULES, K_BATCHES)
            return current if current.kind in keeps else UNKNOWN
        if step.startswith("()"):
            return self.method_of(current, step[2:])
        return UNKNOWN
