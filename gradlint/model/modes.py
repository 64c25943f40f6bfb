"""Does a model compute the same in train and eval mode? (GL004's tier; the project summaries' classes.)

Decided from the expressions that build it, within one file: torch layers without mode-dependent
behaviour (recurrent ones without `dropout=`), containers of them, classes of the file made only of them,
layers handed to a class's constructor (what the call passes), and, for a model that is a function's
parameter, what every call site passes. Anything unknown is "may depend on the mode".
"""

from __future__ import annotations

import re

import libcst as cst

from gradlint.model import SemanticModel, dotted
from gradlint.model.callgraph import argument_expr
from gradlint.model.walk import iter_nodes
from gradlint import edits as fixes

# Layers (and code) whose behaviour depends on train/eval mode: Dropout, BatchNorm, InstanceNorm with
# running statistics, RReLU, and any module that branches on `self.training`.
MODE_DEPENDENT = re.compile(r"Dropout|dropout|BatchNorm|batch_norm|InstanceNorm|instance_norm|RReLU|rrelu|"
                             r"\.training\b|\btraining\s*=")


class _SelfSite:
    """A call of a function of this file through a reference to the file's own module."""

    __slots__ = ("node", "function", "seq")
    bound = False

    def __init__(self, node: cst.Call, function) -> None:
        self.node = node
        self.function = function
        self.seq = -1


_SELF_MODULE = re.compile(r"^(\w+)\s*=\s*sys\.modules\[__name__\]", re.M)


def self_sites(model: SemanticModel, fn) -> list:
    """Calls of the top-level function `fn` through this very module — `d2l = sys.modules[__name__]` in
    d2l/torch.py, then `d2l.evaluate_loss(net, ...)`: call sites the call graph does not join."""
    if fn.parent is not None or fn.class_info is not None:
        return []
    names = set(_SELF_MODULE.findall(model.source_text))
    if not names or not re.search(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\s*\.\s*" + re.escape(fn.name)
                                  + r"\s*\(", model.source_text):
        return []
    by_node = {id(f.node): f for f in model.functions}
    out = []
    for n in iter_nodes(model.module):
        if type(n) is cst.Call and type(n.func) is cst.Attribute and n.func.attr.value == fn.name and type(
                n.func.value) is cst.Name and n.func.value.value in names:
            owner: cst.CSTNode | None = fixes.parent_of(model, n)
            while owner is not None and type(owner) is not cst.FunctionDef:
                owner = fixes.parent_of(model, owner)
            out.append(_SelfSite(n, by_node.get(id(owner)) if owner is not None else None))
    return out


_FREE_LAYERS = frozenset("""Linear Bilinear Identity LazyLinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d
    ConvTranspose3d LazyConv1d LazyConv2d LazyConv3d ReLU ReLU6 LeakyReLU PReLU ELU SELU CELU GELU SiLU Mish Sigmoid
    Tanh Softmax Softmax2d LogSoftmax Softmin Softplus Softsign Softshrink Hardshrink Hardtanh Hardswish Hardsigmoid
    Tanhshrink Threshold GLU LogSigmoid MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d
    AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d
    LPPool1d LPPool2d FractionalMaxPool2d Flatten Unflatten Embedding EmbeddingBag LayerNorm GroupNorm RMSNorm
    LocalResponseNorm PixelShuffle PixelUnshuffle Upsample UpsamplingNearest2d UpsamplingBilinear2d ZeroPad1d
    ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d
    ReplicationPad1d ReplicationPad2d ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d CosineSimilarity
    PairwiseDistance Fold Unfold ChannelShuffle Sequential ModuleList ModuleDict Parameter ParameterList
    ParameterDict""".split())
# recurrent layers: mode-dependent only through `dropout=` between their layers
_RNN_LAYERS = frozenset("RNN LSTM GRU RNNCell LSTMCell GRUCell".split())
# wrappers that run the module they are handed, in its mode
_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                       "torch.nn.parallel.DistributedDataParallel"})
_UNWRAP = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "train", "requires_grad_"})
_SAFE_BUILTINS = frozenset("""super range len int float str bool list tuple dict set isinstance getattr setattr hasattr
    print zip enumerate min max abs round sum sorted reversed map filter any all format repr type iter next
    NotImplementedError ValueError TypeError RuntimeError AssertionError KeyError""".split())
_LAYER_CALL = re.compile(r"\bnn\.[A-Z]\w*\s*\(|\bModule\b")  # (builds a layer, or a module class)
_MAX_DEPTH = 16  # (steps: a name, its assignment, a class, a layer handed to it, ...)


class ModeFree:
    """Is a model known to compute the same in train and eval mode? Decided from the expressions that build it
    (within this file): torch layers of `_FREE_LAYERS` (recurrent ones without `dropout=`), containers of them,
    classes of the file whose bodies call nothing else, and, for a parameter, every call site's argument.
    Anything unknown (another file's class or helper, a layer passed in, a call from another file) is not."""

    def __init__(self, model: SemanticModel, texts: dict | None = None) -> None:
        self.m = model
        self._texts = texts or {}  # id(ClassDef) -> its source text, where the caller knows it
        self._classes: dict[str, bool] = {}
        self._top: dict[int, int] | None = None

    # --- the evaluated model

    def call(self, call) -> bool:
        text = call.text or ""
        value = call.value
        if value is not None and value.ref is not None:
            if not text.isidentifier():
                return False
            return self._parameter(value.ref, 0)
        if text.startswith("self.") and text.count(".") == 1:
            return self._self_attr(call.function, text[5:], 0)
        if not text.isidentifier():
            return False
        return self._name(text, call.function, call.node, 0)

    def _parameter(self, ref, depth: int) -> bool:
        fn = next((f for f in self.m.functions if f.node is ref.fn), None)
        if fn is None or depth > _MAX_DEPTH or self.m.external_sites(fn):
            return False  # (a call from another file passes a model this file cannot see)
        sites = [*self.m.call_sites(fn), *self_sites(self.m, fn)]
        if not sites:
            return False
        for site in sites:
            arg = argument_expr(site, ref)
            if arg is None or not self.expr(arg, site.function, site.node, depth + 1):
                return False
        return True

    def _self_attr(self, fn, attr: str, depth: int) -> bool:
        cls = fn.class_info if fn is not None else None
        if cls is None:
            return False
        sources = [(m, a.value) for m in cls.methods for a in _assignments(m.node, f"self.{attr}")]
        return bool(sources) and all(self.expr(v, m, v, depth + 1) for m, v in sources)

    def _name(self, name: str, fn, at: cst.CSTNode, depth: int) -> bool:
        """What `name` holds where `at` is: its assignments in the innermost scope (function, enclosing
        functions, the module) that binds it — at the module level, the last one before `at` — and, for a
        parameter, what the call sites pass. `net = net.to(device)` keeps what `net` held."""
        if depth > _MAX_DEPTH:
            return False
        scope = fn
        while scope is not None:
            p = scope.node.params
            is_param = any(a.name.value == name for a in (*p.posonly_params, *p.params, *p.kwonly_params))
            found = [a for a in _assignments(scope.node, name) if not self._same_model(a.value, name)]
            if found or is_param:
                if not all(self.expr(a.value, scope, a.value, depth + 1) for a in found):
                    return False
                return self._parameter_named(scope, name, depth) if is_param else True
            scope = scope.parent
        top = self._top_index(at)
        found = [(i, a) for i, a in self._module_assignments(name) if (top is None or i < top)
                 and not self._same_model(a.value, name)]
        if not found and fn is not None:
            # a global a function reads, assigned only after the function's definition (in an
            # `if __name__ == "__main__":` block): what every assignment of the module's top level makes
            found = [(i, a) for i, a in self._module_assignments(name) if not self._same_model(a.value, name)]
            return bool(found) and all(self.expr(a.value, None, a.value, depth + 1) for _, a in found)
        if not found:
            return False
        _, last = found[-1]
        if last.direct:
            return self.expr(last.value, None, last.value, depth + 1)
        return all(self.expr(a.value, None, a.value, depth + 1) for _, a in found)

    def _parameter_named(self, fn, name: str, depth: int) -> bool:
        params = [*fn.node.params.posonly_params, *fn.node.params.params]
        index = next((i for i, p in enumerate(params) if p.name.value == name), -1)
        from gradlint.model.values import ParamRef
        return self._parameter(ParamRef(fn.node, name, index), depth + 1)

    # --- expressions that build a model

    def expr(self, e: cst.BaseExpression, fn, at: cst.CSTNode, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        while type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _UNWRAP:
            e = e.func.value  # `Net().to(device)`
        if type(e) is cst.Lambda:
            return True  # a function: no train/eval mode at all
        if type(e) is cst.Name:
            if any(f.name == e.value and f.parent is None and f.class_info is None for f in self.m.functions) and \
                    not self._module_assignments(e.value):
                return True  # a function of the file
            return self._name(e.value, fn, at, depth + 1)
        if type(e) is not cst.Call:
            return False
        func = e.func
        q = self.m.imports.resolve(func) or ""
        if q in _WRAPPERS:  # `nn.DataParallel(model)`: the mode of the module it wraps
            first = e.args[0] if e.args else None
            return first is not None and first.keyword is None and not first.star and \
                self.expr(first.value, fn, at, depth + 1)
        if q.startswith("torch.nn.") and q.count(".") == 2:
            return self._torch_layer(q[9:], e, fn, at, depth)
        if type(func) is cst.Name and func.value in self.m.classes:
            return self._class(self._class_at(func.value, at), depth + 1, (e, fn, at))
        return self._imported_class(e)

    def _imported_class(self, call: cst.Call) -> bool:
        """An instance of a model class of another file of the project whose summary says it is mode-free."""
        for icall in self.m.imported_calls:
            if icall.node is call:
                ext = self.m.external_callee(icall)
                return ext is not None and ext.mode_free is True
        return False

    def _torch_layer(self, name: str, call: cst.Call, fn, at, depth: int) -> bool:
        if name in _RNN_LAYERS:
            dropout = next((a for a in call.args if a.keyword is not None and a.keyword.value == "dropout"), None)
            positional = [a for a in call.args if a.keyword is None]
            return len(positional) < 6 and not any(a.star for a in call.args) and (
                dropout is None or (type(dropout.value) in (cst.Integer, cst.Float)
                                    and float(dropout.value.value.replace("_", "")) == 0.0))
        if name not in _FREE_LAYERS:
            return False
        if name in ("Sequential", "ModuleList", "ModuleDict"):
            for a in call.args:
                if a.star:
                    return False
                if not self._layers_in(a.value, fn, at, depth + 1):
                    return False
        return True

    def _layers_in(self, e: cst.BaseExpression, fn, at, depth: int) -> bool:
        if type(e) in (cst.List, cst.Tuple):
            return all(type(el) is cst.Element and self._layers_in(el.value, fn, at, depth) for el in e.elements)
        if type(e) in (cst.ListComp, cst.GeneratorExp):
            return self._layers_in(e.elt, fn, at, depth)
        if type(e) is cst.Dict:
            return all(type(el) is cst.DictElement and self._layers_in(el.value, fn, at, depth) for el in e.elements)
        return self.expr(e, fn, at, depth)

    # --- classes of the file

    def _class(self, node: cst.ClassDef | None, depth: int, built=None) -> bool:
        """`built`: (the constructor call, its function, its node) — what a layer handed to `__init__` is."""
        if node is None or depth > _MAX_DEPTH:
            return False
        key = (id(node), id(built[0]) if built is not None else 0)
        if key in self._classes:
            return self._classes[key]
        self._classes[key] = False  # (recursion)
        self._classes[key] = result = self._class_body(node, depth, built)
        return result

    def _class_body(self, node: cst.ClassDef, depth: int, built=None) -> bool:
        code = self._texts.get(id(node)) or self.m.module.code_for_node(node)
        if MODE_DEPENDENT.search(code):
            return False
        for base in node.bases:
            q = self.m.imports.resolve(base.value) or ""
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module"):
                continue
            if type(base.value) is cst.Name and base.value.value in self.m.classes:
                if not self._class(self._class_at(base.value.value, node), depth + 1):
                    return False
                continue
            return False
        init: cst.FunctionDef | None = None
        init_params: list[str] = []
        for stmt in node.body.body:
            if type(stmt) is cst.FunctionDef and stmt.name.value == "__init__":
                init = stmt
                p = stmt.params
                init_params = [a.name.value for a in (*p.posonly_params, *p.params, *p.kwonly_params)]
        code_calls = set(re.findall(r"\bself\.(\w+)\s*\(", code))
        for n in iter_nodes(node):
            if type(n) is cst.Assign and type(n.value) is cst.Name and n.value.value in init_params[1:] and any(
                    type(t.target) is cst.Attribute and t.target.attr.value in code_calls for t in n.targets):
                # `self.rnn = rnn_layer`, called later: a layer handed in — what the constructor call passes
                if built is None or not self._handed_in(built, init_params, n.value.value, depth):
                    return False
                continue
            if type(n) is not cst.Call:
                continue
            func = n.func
            q = self.m.imports.resolve(func)
            if q is not None:
                if q.startswith("torch.nn.") and q.count(".") == 2 and q[9:10].isupper():
                    if not self._torch_layer(q[9:], n, None, n, depth + 1):
                        return False
                elif not q.startswith("torch.") and (init is None or _within(init, n) or not q.rsplit(".", 1)[-1][:1].islower()):
                    return False  # another library's (or file's) layer, or a helper building the layers
                continue
            if type(func) is cst.Name:
                name = func.value
                if name in self.m.classes:
                    if not self._class(self._class_at(name, node), depth + 1):
                        return False
                elif name not in _SAFE_BUILTINS and (init is None or _within(init, n) or not self._plain_helper(name)):
                    return False  # a helper of the file, or something unknown, may build any layer
        return True

    def _same_model(self, e: cst.BaseExpression, name: str) -> bool:
        """`net.to(device)`, `nn.DataParallel(net)`: what `net` holds, in the same mode."""
        if type(e) is cst.Call and e.args and e.args[0].keyword is None and not e.args[0].star and \
                self.m.imports.resolve(e.func) in _WRAPPERS:
            e = e.args[0].value
        return _same_name(e, name)

    def _plain_helper(self, name: str) -> bool:
        """A function of the file, called by a method other than `__init__` (`cuda_variable(torch.zeros(...))`
        in `init_hidden`), that builds no layer: no layer constructor and nothing mode-dependent in its code."""
        defs = [st for st in self.m.module.body if type(st) is cst.FunctionDef and st.name.value == name]
        if not defs:
            return False
        for d in defs:
            code = self.m.module.code_for_node(d)
            if MODE_DEPENDENT.search(code) or _LAYER_CALL.search(code):
                return False
        return True

    def _handed_in(self, built, init_params: list[str], name: str, depth: int) -> bool:
        call, fn, at = built
        index = init_params.index(name) - 1  # (without `self`)
        arg = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
        if arg is None:
            positional = [a for a in call.args if a.keyword is None]
            if any(a.star for a in call.args) or not 0 <= index < len(positional):
                return False
            arg = positional[index].value
        return self.expr(arg, fn, at, depth + 1)

    def class_named(self, name: str) -> bool:
        """Does the class `name` of the file (its last definition) compute the same in both modes, whatever
        its constructor is given? (A layer handed to it counts as unknown.)"""
        defs = [st for st in self.m.module.body if type(st) is cst.ClassDef and st.name.value == name]
        return bool(defs) and self._class(defs[-1], 0)

    def _class_at(self, name: str, at: cst.CSTNode) -> cst.ClassDef | None:
        """The definition of class `name` in force at `at`: in a notebook or script that redefines it, the
        last one before `at`'s top-level statement (any, when `at` is not at the module level)."""
        defs = [(i, st) for i, st in enumerate(self.m.module.body) if type(st) is cst.ClassDef and st.name.value == name]
        if not defs:
            info = self.m.classes.get(name)
            return info.node if info is not None else None
        top = self._top_index(at)
        before = [d for i, d in defs if top is None or i < top]
        if len(defs) == 1:
            return defs[0][1]
        return before[-1] if before else None

    # --- positions

    def _top_index(self, node: cst.CSTNode) -> int | None:
        """The index of the module-level statement holding `node`."""
        if self._top is None:
            self._top = {id(st): i for i, st in enumerate(self.m.module.body)}
        cur: cst.CSTNode | None = node
        while cur is not None:
            i = self._top.get(id(cur))
            if i is not None:
                return i
            cur = fixes.parent_of(self.m, cur)
        return None

    def _module_assignments(self, name: str) -> list:
        out = []
        for i, st in enumerate(self.m.module.body):
            if type(st) in (cst.FunctionDef, cst.ClassDef):
                continue
            for a in _assignments(st, name, within=st):
                out.append((i, a))
        return out


class _Assigned:
    __slots__ = ("value", "direct")

    def __init__(self, value: cst.BaseExpression, direct: bool) -> None:
        self.value = value
        self.direct = direct  # a statement of the scope's own block, not inside an if/for/with/try


def _assignments(scope: cst.CSTNode, target: str, within: cst.CSTNode | None = None) -> list[_Assigned]:
    """`target = value` (and `target, x = value, y`) in `scope`, not in functions or classes nested in it.
    Other bindings of the name (`for target in`, `with ... as target`, augmented) make it unknown: None value."""
    out: list[_Assigned] = []
    body = scope.body.body if type(scope) in (cst.FunctionDef, cst.ClassDef) and isinstance(
        scope.body, cst.IndentedBlock) else None
    direct_lines = {id(st) for st in body} if body is not None else ({id(within)} if within is not None else set())
    for n in iter_nodes(scope, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if n is not scope and type(n) in (cst.FunctionDef, cst.ClassDef) and type(scope) is not cst.ClassDef:
            continue
        if type(n) is cst.SimpleStatementLine:
            direct = id(n) in direct_lines
            for small in n.body:
                if type(small) is cst.Assign:
                    for t in small.targets:
                        if dotted(t.target) == target:
                            out.append(_Assigned(small.value, direct))
                        elif type(t.target) in (cst.Tuple, cst.List):
                            names = [dotted(el.value) for el in t.target.elements]
                            if target in names:
                                v = small.value
                                if type(v) in (cst.Tuple, cst.List) and len(v.elements) == len(names) and all(
                                        type(el) is cst.Element for el in v.elements):
                                    out.append(_Assigned(v.elements[names.index(target)].value, direct))
                                else:
                                    out.append(_Assigned(cst.Name("None"), direct))  # unknown
        elif type(n) in (cst.For, cst.WithItem, cst.AugAssign, cst.AnnAssign):
            tgt = n.target if type(n) in (cst.For, cst.AugAssign, cst.AnnAssign) else (
                n.asname.name if n.asname is not None else None)
            if tgt is not None and target in {dotted(x) for x in iter_nodes(tgt) if type(x) in (cst.Name, cst.Attribute)}:
                out.append(_Assigned(cst.Name("None"), False))
    return out


def _within(outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    return any(n is node for n in iter_nodes(outer))


def _same_name(e: cst.BaseExpression, name: str) -> bool:
    """`net.to(device)`, `net.cuda()`: the same object as `net`."""
    while type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _UNWRAP:
        e = e.func.value
    return type(e) is cst.Name and e.value == name
