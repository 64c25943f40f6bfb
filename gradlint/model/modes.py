"""Does a model compute the same in train and eval mode? (GL004's tier; the project summaries' classes.)

Decided from the expressions that build it, within one file: torch layers without mode-dependent
behaviour (recurrent ones without `dropout=`), containers of them, classes of the file made only of them,
layers handed to a class's constructor (what the call passes), and, for a model that is a function's
parameter, what every call site passes. Anything unknown is "may depend on the mode".
"""

from __future__ import annotations

import re

import libcst as cst

from gradlint.model import SemanticModel
from gradlint.model.assigned import ClassAssign
from gradlint.model.callgraph import argument_expr

# Layers (and code) whose behaviour depends on train/eval mode: Dropout, BatchNorm, InstanceNorm with
# running statistics, RReLU, and any module that branches on `self.training`.
MODE_DEPENDENT = re.compile(r"Dropout|dropout|BatchNorm|batch_norm|InstanceNorm|instance_norm|RReLU|rrelu|"
                             r"\.training\b|\btraining\s*=")


def self_sites(model: SemanticModel, fn) -> list:
    """Calls of the top-level function `fn` through this very module — `d2l = sys.modules[__name__]` in
    d2l/torch.py, then `d2l.evaluate_loss(net, ...)`: call sites the call graph does not join."""
    if fn.parent is not None or fn.class_info is not None:
        return []
    return [c for c in model.self_module_calls if c.name == fn.name]


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
        self._helpers: dict[str, bool] = {}  # _plain_helper's answers (each helper's code generated once)
        self._classes: dict[tuple[int, int], bool] = {}

    # --- the evaluated model (positions: `top`, the index of the top-level statement an expression is in)

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
        return self._name(text, call.function, self.m.top_of(call.seq), 0)

    def receiver(self, text: str, fn, seq: int) -> bool:
        """The model a mode switch is called on (`model.eval()`, `self.net.eval()`), as `fn` spells it at
        sequence point `seq`: does it compute the same in train and eval mode?"""
        if text.startswith("self.") and text.count(".") == 1:
            return self._self_attr(fn, text[5:], 0)
        return text.isidentifier() and self._name(text, fn, self.m.top_of(seq), 0)

    def _parameter(self, ref, depth: int) -> bool:
        fn = next((f for f in self.m.functions if f.node is ref.fn), None)
        if fn is None or depth > _MAX_DEPTH or self.m.external_sites(fn):
            return False  # (a call from another file passes a model this file cannot see)
        sites = [*self.m.call_sites(fn), *self_sites(self.m, fn)]
        if not sites:
            return False
        for site in sites:
            arg = argument_expr(site, ref)
            if arg is None or not self.expr(arg, site.function, self.m.top_of(site.seq), depth + 1):
                return False
        return True

    def _self_attr(self, fn, attr: str, depth: int) -> bool:
        cls = fn.class_info if fn is not None else None
        if cls is None:
            return False
        sources = [(m, a) for m in cls.methods for a in self.m.assignments(m, f"self.{attr}")]
        return bool(sources) and all(self._assigned(a, m, depth + 1) for m, a in sources)

    def _assigned(self, a, fn, depth: int) -> bool:
        """What an assignment (`gradlint.model.assigned.Assigned`) puts in its target; False when unknown."""
        return a.value is not None and self.expr(a.value, fn, a.top, depth)

    def _name(self, name: str, fn, top: int, depth: int) -> bool:
        """What `name` holds at top-level statement `top`: its assignments in the innermost scope (function,
        enclosing functions, the module) that binds it — at the module level, the last one in an earlier
        top-level statement — and, for a parameter, what the call sites pass. `net = net.to(device)` keeps what
        `net` held."""
        if depth > _MAX_DEPTH:
            return False
        scope = fn
        while scope is not None:
            p = scope.node.params
            is_param = any(a.name.value == name for a in (*p.posonly_params, *p.params, *p.kwonly_params))
            found = [a for a in self.m.assignments(scope, name) if not self._same_model(a.value, name)]
            if found or is_param:
                if not all(self._assigned(a, scope, depth + 1) for a in found):
                    return False
                return self._parameter_named(scope, name, depth) if is_param else True
            scope = scope.parent
        found = [a for a in self.m.assignments(None, name) if a.top < top and not self._same_model(a.value, name)]
        if not found and fn is not None:
            # a global a function reads, assigned only after the function's definition (in an
            # `if __name__ == "__main__":` block): what every assignment of the module's top level makes
            found = [a for a in self.m.assignments(None, name) if not self._same_model(a.value, name)]
            return bool(found) and all(self._assigned(a, None, depth + 1) for a in found)
        if not found:
            return False
        last = found[-1]
        if last.direct:
            return self._assigned(last, None, depth + 1)
        return all(self._assigned(a, None, depth + 1) for a in found)

    def _parameter_named(self, fn, name: str, depth: int) -> bool:
        params = [*fn.node.params.posonly_params, *fn.node.params.params]
        index = next((i for i, p in enumerate(params) if p.name.value == name), -1)
        from gradlint.model.values import ParamRef
        return self._parameter(ParamRef(fn.node, name, index), depth + 1)

    # --- expressions that build a model

    def expr(self, e: cst.BaseExpression, fn, top: int, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        while type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _UNWRAP:
            e = e.func.value  # `Net().to(device)`
        if type(e) is cst.Lambda:
            return True  # a function: no train/eval mode at all
        if type(e) is cst.Name:
            if any(f.name == e.value and f.parent is None and f.class_info is None for f in self.m.functions) and \
                    not self.m.assignments(None, e.value):
                return True  # a function of the file
            return self._name(e.value, fn, top, depth + 1)
        if type(e) is not cst.Call:
            return False
        func = e.func
        q = self.m.imports.resolve(func) or ""
        if q in _WRAPPERS:  # `nn.DataParallel(model)`: the mode of the module it wraps
            first = e.args[0] if e.args else None
            return first is not None and first.keyword is None and not first.star and \
                self.expr(first.value, fn, top, depth + 1)
        if q.startswith("torch.nn.") and q.count(".") == 2:
            return self._torch_layer(q[9:], e, fn, top, depth)
        if type(func) is cst.Name and func.value in self.m.classes:
            return self._class(self._class_at(func.value, top), depth + 1, (e, fn, top))
        return self._imported_class(e)

    def _imported_class(self, call: cst.Call) -> bool:
        """An instance of a model class of another file of the project whose summary says it is mode-free."""
        for icall in self.m.imported_calls:
            if icall.node is call:
                self.m.ask_class(icall.target)  # (what the project tells of the class decides: ask for it)
                ext = self.m.external_callee(icall)
                return ext is not None and ext.mode_free is True
        return False

    def _torch_layer(self, name: str, call: cst.Call, fn, top: int, depth: int) -> bool:
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
                if not self._layers_in(a.value, fn, top, depth + 1):
                    return False
        return True

    def _layers_in(self, e: cst.BaseExpression, fn, top: int, depth: int) -> bool:
        if type(e) in (cst.List, cst.Tuple):
            return all(type(el) is cst.Element and self._layers_in(el.value, fn, top, depth) for el in e.elements)
        if type(e) in (cst.ListComp, cst.GeneratorExp):
            return self._layers_in(e.elt, fn, top, depth)
        if type(e) is cst.Dict:
            return all(type(el) is cst.DictElement and self._layers_in(el.value, fn, top, depth) for el in e.elements)
        return self.expr(e, fn, top, depth)

    # --- classes of the file

    def _class(self, node: cst.ClassDef | None, depth: int, built=None) -> bool:
        """`built`: (the constructor call, its function, its top-level statement) — what a layer handed to
        `__init__` is."""
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
        top = self.m.class_tops.get(id(node), -1)
        for base in node.bases:
            q = self.m.imports.resolve(base.value) or ""
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module"):
                continue
            if type(base.value) is cst.Name and base.value.value in self.m.classes:
                if not self._class(self._class_at(base.value.value, top), depth + 1):
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
        # the calls and the `X.attr = name` assignments of the class, recorded by the walk (`model.assigned`)
        for ev in self.m.class_syntax.get(id(node), ()):
            if type(ev) is ClassAssign:
                # `self.rnn = rnn_layer`, called later: a layer handed in — what the constructor call passes
                if ev.name in init_params[1:] and any(a in code_calls for a in ev.attrs) and (
                        built is None or not self._handed_in(built, init_params, ev.name, depth)):
                    return False
                continue
            n = ev.node
            func = n.func
            q = self.m.imports.resolve(func)
            if q is not None:
                if q.startswith("torch.nn.") and q.count(".") == 2 and q[9:10].isupper():
                    if not self._torch_layer(q[9:], n, None, top, depth + 1):
                        return False
                elif not q.startswith("torch.") and (init is None or _within(init, ev.function)
                                                     or not q.rsplit(".", 1)[-1][:1].islower()):
                    return False  # another library's (or file's) layer, or a helper building the layers
                continue
            if type(func) is cst.Name:
                name = func.value
                if name in self.m.classes:
                    if not self._class(self._class_at(name, top), depth + 1):
                        return False
                elif name not in _SAFE_BUILTINS and (init is None or _within(init, ev.function)
                                                     or not self._plain_helper(name)):
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
        found = self._helpers.get(name)
        if found is None:
            defs = [st for st in self.m.module.body if type(st) is cst.FunctionDef and st.name.value == name]
            found = self._helpers[name] = bool(defs) and not any(
                MODE_DEPENDENT.search(code) or _LAYER_CALL.search(code)
                for code in map(self.m.module.code_for_node, defs))
        return found

    def _handed_in(self, built, init_params: list[str], name: str, depth: int) -> bool:
        call, fn, top = built
        index = init_params.index(name) - 1  # (without `self`)
        arg = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
        if arg is None:
            positional = [a for a in call.args if a.keyword is None]
            if any(a.star for a in call.args) or not 0 <= index < len(positional):
                return False
            arg = positional[index].value
        return self.expr(arg, fn, top, depth + 1)

    def class_named(self, name: str) -> bool:
        """Does the class `name` of the file (its last definition) compute the same in both modes, whatever
        its constructor is given? (A layer handed to it counts as unknown.)"""
        defs = self.m.top_classes.get(name)
        return bool(defs) and self._class(defs[-1][1], 0)

    def _class_at(self, name: str, top: int) -> cst.ClassDef | None:
        """The definition of class `name` in force at top-level statement `top`: in a notebook or script that
        redefines it, the last one before that statement (any, when it is not at the module level)."""
        defs = self.m.top_classes.get(name)
        if not defs:
            info = self.m.classes.get(name)
            return info.node if info is not None else None
        if len(defs) == 1:
            return defs[0][1]
        before = [d for i, d in defs if i < top]
        return before[-1] if before else None


def _within(init: cst.FunctionDef, fn) -> bool:
    """Is a call made in function `fn` (None: outside any) inside `init`'s body (or a function nested there)?"""
    while fn is not None:
        if fn.node is init:
            return True
        fn = fn.parent
    return False


def _same_name(e: cst.BaseExpression | None, name: str) -> bool:
    """`net.to(device)`, `net.cuda()`: the same object as `net`."""
    while type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _UNWRAP:
        e = e.func.value
    return type(e) is cst.Name and e.value == name
