"""Which model object a name holds, as far as this file tells — enough to know that two receivers of mode
switches or model calls are different objects (`G` and `D` of a GAN, a student and its teacher, a model
and its EMA copy), for the train/eval mode queries (`restores_train_mode`, `sets_eval`, `last_mode_event`).

`ModelObjects(model).holds(text, fn)`: the constructions a receiver (`G`, `self.netD`, a parameter) may hold
where `fn` spells it — each a call that makes a new object (a class, `nn.Sequential(...)`, a factory given no
model, `copy.deepcopy(model)`, `torch.load(...)`), or a parameter whose call sites do not tell — joined over
every assignment of the name in its scope (flow-insensitive: `if ...: model = A() else: model = B()` may hold
either; at the module's top level every assignment of the file, notebook cells included). `.to(device)` /
`.cuda()` / `.eval()`, `nn.DataParallel`, DDP and `torch.compile` keep the object they are given. None when
the file does not tell: an attribute of another object (`model.module`, `ema.module`), a binding by `for` /
`with` / unpacking a call, a subscript, a call handed a model (`accelerator.prepare(model)`, `EMA(model)`,
`Wrapper(backbone)`: it may wrap, hold or return it), a name bound nowhere in the file.

`distinct(a, a_fn, b, b_fn)`: both are known and share no construction; two parameters of the same function
count as different objects unless a call site passes the same expression for both. Anything unknown is "maybe
the same" (the queries then keep their answer: the switch counts). `made_in_train_mode(text, fn)`: every
object it may hold is known to start in train mode (GL004 reports another model's evaluation only then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.callgraph import argument_expr
from gradlint.model.names import dotted
from gradlint.model.values import ParamRef
from gradlint.model.walk import iter_nodes

if TYPE_CHECKING:
    from gradlint.model import SemanticModel
    from gradlint.model.facts import FunctionInfo

# methods that return the module they are called on
_SAME_OBJECT = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "train", "eval",
                          "requires_grad_", "share_memory", "to_empty", "apply"})
# calls that run the module they are handed (its mode follows it): the object counts as the one it wraps
_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                       "torch.nn.parallel.DistributedDataParallel", "torch.compile"})
_COPIES = frozenset({"copy.deepcopy"})
_MODEL_LIBS = ("torch.nn.", "torchvision.models.", "timm.", "transformers.")
_MAX_DEPTH = 10

Key = tuple  # ("new", id(call)) | ("param", id(fn node), name)


class ModelObjects:
    """See the module's docstring. One per model (`SemanticModel.model_objects`)."""

    def __init__(self, model: SemanticModel) -> None:
        self.m = model
        self._used: set[str] | None = None
        # id(call) -> the call, the function it is in, the index of its top-level statement
        self._made: dict[int, tuple[cst.Call, FunctionInfo | None, int]] = {}
        self._names: dict[tuple, frozenset | None] = {}  # (name or "self.X", id(scope)) -> what it holds
        self._is_model_name = getattr(model.__dict__.get("_builder"), "_is_model_name", None)

    # ------------------------------------------------------------------ queries

    def holds(self, text: str, fn: FunctionInfo | None) -> frozenset | None:
        """The constructions receiver `text` (as `fn` spells it; None: the top level) may hold; None: unknown."""
        if not text:
            return None
        if text.startswith("self.") and text.count(".") == 1:
            return self._self_attr(fn, text[5:], 0)
        if not text.isidentifier():
            return None
        return self._name(text, fn, 0)

    def distinct(self, a: str, a_fn: FunctionInfo | None, b: str, b_fn: FunctionInfo | None) -> bool:
        """Are receivers `a` (spelled in `a_fn`) and `b` (in `b_fn`) known to be different objects?"""
        if not a or not b or a == b and a_fn is b_fn:
            return False
        if a.startswith(b + ".") or b.startswith(a + "."):
            return False  # a submodule of the other (`model.backbone`, `model`): a switch reaches both
        ha = self.holds(a, a_fn)
        hb = self.holds(b, b_fn)
        if ha is None or hb is None or ha & hb:
            return False
        for ka in ha:
            for kb in hb:
                if (ka[0] == "param" or kb[0] == "param") and not self._different_parameters(ka, kb):
                    return False
        return True

    def made_in_train_mode(self, text: str, fn: FunctionInfo | None) -> bool:
        """Is every object `text` may hold known to start in train mode? A torch, torchvision or timm model, a
        module class of the file none of whose methods switches a mode, a copy (`copy.deepcopy(model)`) made at
        the module's top level after a `model.train()`, or a parameter no call of the project fills (as
        evaluation code assumes). Not a checkpoint, a factory of another library (`from_pretrained` returns a model in eval
        mode), another file's class, a copy made in a function or of a model whose mode is unknown."""
        held = self.holds(text, fn)
        if not held:
            return False
        for k in held:
            if k[0] == "param":
                # (a parameter no call of the project fills — as evaluation code assumes of its parameters;
                # one whose callers pass what the file cannot follow may be a wrapper kept in eval mode)
                f = next((f for f in self.m.functions if id(f.node) == k[1]), None)
                if f is None or self.m.call_sites(f) or self.m.external_sites(f):
                    return False
                continue
            call, where, top = self._made[k[1]]
            q = self.m.imports.resolve(call.func) or ""
            if q in _COPIES:
                if not self._copied_in_train_mode(call, where, top):
                    return False
            elif not (q.startswith("torch.nn.") and q.count(".") == 2 and q[9:10].isupper()
                      or q.startswith("torchvision.models.") or q == "timm.create_model"
                      or self._plain_module_class(call)):
                return False
        return True

    def _copied_in_train_mode(self, call: cst.Call, where: FunctionInfo | None, top: int) -> bool:
        """`copy.deepcopy(model)` at the module's top level, after a switch of `model` to train mode (a copy
        keeps the mode its original had)."""
        arg = call.args[0].value if call.args and call.args[0].keyword is None and not call.args[0].star else None
        source = dotted(arg) if arg is not None else None
        starts = getattr(self.m.__dict__.get("_builder"), "top_starts", None)
        if where is not None or source is None or starts is None or not 0 <= top < len(starts):
            return False
        # (the facts of top-level statement `top` come after `starts[top]`)
        return self.m.eval_mode_at(None, starts[top] + 1, (source, None)) is False

    def _plain_module_class(self, call: cst.Call) -> bool:
        """A module class of the file whose methods switch no mode (`self.eval()` in `__init__`)."""
        name = call.func.value if type(call.func) is cst.Name else None
        cls = self.m.classes.get(name) if name else None
        return cls is not None and cls.is_module and not any(
            sw.function is not None and sw.function.class_info is cls for sw in self.m.switches)

    # ------------------------------------------------------------------ names

    def _name(self, name: str, fn: FunctionInfo | None, depth: int) -> frozenset | None:
        key = (name, id(fn))
        if key not in self._names:
            self._names[key] = None  # (while it is being found: a cycle is unknown)
            self._names[key] = self._name_uncached(name, fn, depth)
        return self._names[key]

    def _name_uncached(self, name: str, fn: FunctionInfo | None, depth: int) -> frozenset | None:
        """What `name` may hold in `fn`: every assignment in the innermost scope that binds it (a function,
        the functions around it, the module's top level), and, for a parameter, what its call sites pass."""
        if depth > _MAX_DEPTH:
            return None
        scope = fn
        while scope is not None:
            p = scope.node.params
            params = [a.name.value for a in (*p.posonly_params, *p.params)]
            kwonly = [a.name.value for a in p.kwonly_params]
            found = [a for a in self.m.assignments(scope, name) if not _same_name(a.value, name, self.m)]
            if found or name in params or name in kwonly or _star_named(p, name):
                out: set = set()
                for a in found:
                    held = self._expr(a.value, scope, depth + 1, a.top) if a.value is not None else None
                    if held is None:
                        return None
                    out |= held
                if name in params or name in kwonly:
                    index = params.index(name) if name in params else -1
                    held = self._parameter(scope, ParamRef(scope.node, name, index), depth + 1)
                    if held is None:
                        return None
                    out |= held
                elif not found:
                    return None  # (`*args`, `**kwargs`)
                return frozenset(out)
            scope = scope.parent
        found = [a for a in self.m.assignments(None, name) if not _same_name(a.value, name, self.m)]
        if not found or any(a.value is None for a in found):
            return None
        out = set()
        for a in found:
            held = self._expr(a.value, None, depth + 1, a.top)
            if held is None:
                return None
            out |= held
        return frozenset(out)

    def _parameter(self, fn: FunctionInfo, ref: ParamRef, depth: int) -> frozenset | None:
        """What the call sites of this file pass for a parameter; the parameter itself when one of them does
        not tell (or there is none, or a call from another file fills it)."""
        own = frozenset({("param", id(fn.node), ref.name)})
        from gradlint.model.modes import self_sites

        sites = [*self.m.call_sites(fn), *self_sites(self.m, fn)]
        if not sites or self.m.external_sites(fn):
            return own
        out: set = set()
        for site in sites:
            arg = argument_expr(site, ref)
            held = self._expr(arg, site.function, depth + 1, self.m.top_of(site.seq)) if arg is not None else None
            if held is None:
                return own
            out |= held
        return frozenset(out)

    def _self_attr(self, fn: FunctionInfo | None, attr: str, depth: int) -> frozenset | None:
        """`self.X`: every assignment of `self.X` in the methods of the class (and of its bases and subclasses
        of the file); unknown when none."""
        while fn is not None and fn.class_info is None:
            fn = fn.parent
        if fn is None or depth > _MAX_DEPTH:
            return None
        cls = fn.class_info
        key = (f"self.{attr}", id(cls))
        if key not in self._names:
            self._names[key] = None  # (a cycle: unknown)
            self._names[key] = self._self_attr_of(cls, attr, depth)
        return self._names[key]

    def _self_attr_of(self, cls, attr: str, depth: int) -> frozenset | None:
        family = self._family(cls)
        out: set = set()
        sources = [(m, a) for c in family for m in c.methods for a in self.m.assignments(m, f"self.{attr}")]
        if not sources:
            return None
        for m, a in sources:
            if a.value is None:
                return None
            if _same_name(a.value, f"self.{attr}", self.m):
                continue
            held = self._expr(a.value, m, depth + 1, a.top)
            if held is None:
                return None
            out |= held
        return frozenset(out) if out else None

    def _family(self, cls) -> list:
        """The class, the classes of the file it derives from and those that derive from it."""
        classes = self.m.classes
        found = [cls]
        changed = True
        while changed:
            changed = False
            for c in classes.values():
                if c in found:
                    continue
                bases = {dotted(b.value) for b in c.node.bases}
                if any(f.name in bases for f in found) or any(
                        f.node is not None and c.name in {dotted(b.value) for b in f.node.bases} for f in found):
                    found.append(c)
                    changed = True
        return found

    # ------------------------------------------------------------------ expressions

    def _expr(self, e: cst.BaseExpression, fn: FunctionInfo | None, depth: int, top: int = -1) -> frozenset | None:
        if depth > _MAX_DEPTH:
            return None
        while True:
            if type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _SAME_OBJECT:
                e = e.func.value
                continue
            if type(e) is cst.Call and self.m.imports.resolve(e.func) in _WRAPPERS:
                first = e.args[0] if e.args else None
                if first is None or first.keyword is not None or first.star:
                    return None
                e = first.value
                continue
            break
        tp = type(e)
        if tp is cst.Name:
            return self._name(e.value, fn, depth + 1)
        if tp is cst.Attribute:
            text = dotted(e)
            if text is not None and text.startswith("self.") and text.count(".") == 1:
                return self._self_attr(fn, text[5:], depth + 1)
            return None
        if tp is cst.IfExp:
            a = self._expr(e.body, fn, depth + 1, top)
            b = self._expr(e.orelse, fn, depth + 1, top) if a is not None else None
            return a | b if b is not None else None
        if tp is not cst.Call:
            return None
        q = self.m.imports.resolve(e.func)
        if q not in _COPIES:
            if type(e.func) is cst.Attribute and self._model_ish(e.func.value, fn, depth + 1):
                return None  # a method of a model (`model.get_submodule(...)`) may return a part of it
            if any(a.star or self._model_ish(a.value, fn, depth + 1) for a in e.args):
                return None  # it is handed a model: it may wrap it, hold it or return it
        self._made[id(e)] = (e, fn, top)
        return frozenset({("new", id(e))})

    def _model_ish(self, e: cst.BaseExpression, fn: FunctionInfo | None, depth: int) -> bool:
        """Might argument `e` be or reach a model (an existing object a call may wrap, hold or return)? A name or
        attribute the file uses as a model (a switch's receiver, a model call, an optimizer's `X.parameters()`),
        named like one (`model-names`), built by a model constructor (torch.nn, torchvision, timm, a module class
        of the file, a copy), a part of one (`model.features`, `model.layers[0]`, `model.children()`), or any
        expression reading one; a fresh construction in place (`Wrapper(Net())`) is not an existing one."""
        if depth > _MAX_DEPTH:
            return True
        tp = type(e)
        if tp in (cst.List, cst.Tuple, cst.Set):
            return any(type(el) is not cst.Element or self._model_ish(el.value, fn, depth + 1) for el in e.elements)
        if tp is cst.Dict:
            return any(type(el) is not cst.DictElement or self._model_ish(el.value, fn, depth + 1)
                       for el in e.elements)
        if tp in (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp):
            if self._model_ish(e.value if tp is cst.DictComp else e.elt, fn, depth + 1):
                return True
            comp = e.for_in
            while comp is not None:  # (`[m for m in model.children()]`)
                if self._model_ish(comp.iter, fn, depth + 1):
                    return True
                comp = comp.inner_for_in
            return False
        if tp is cst.Call:
            return self._expr(e, fn, depth + 1) is None and self._calls_model(e, fn, depth)
        if tp is cst.Subscript:
            return self._model_ish(e.value, fn, depth + 1)
        if tp is cst.Attribute and self._model_ish(e.value, fn, depth + 1):
            return True
        if tp not in (cst.Name, cst.Attribute):
            # an operator, a lambda, ...: any name it reads; a literal reads none
            return any(type(n) is cst.Name and self._model_ish(n, fn, depth + 1) for n in iter_nodes(e))
        text = dotted(e)
        if text is None:
            return True
        last = text.rsplit(".", 1)[-1]
        used = self._used_as_model()
        if text in used or last in used or (self._is_model_name is not None and self._is_model_name(last)):
            return True
        if tp is cst.Attribute and not (text.startswith("self.") and text.count(".") == 1):
            return False
        held = self._expr(e, fn, depth + 1)
        return bool(held) and any(k[0] == "new" and self._constructs_model(k[1]) for k in held)

    def _calls_model(self, e: cst.Call, fn: FunctionInfo | None, depth: int) -> bool:
        """A call in an argument whose object the file cannot tell: does it touch a model?"""
        if type(e.func) is cst.Attribute and self._model_ish(e.func.value, fn, depth + 1):
            return True
        return any(a.star or self._model_ish(a.value, fn, depth + 1) for a in e.args)

    def _constructs_model(self, call_id: int) -> bool:
        node = self._made[call_id][0]
        q = self.m.imports.resolve(node.func) or ""
        if q in _COPIES or q.startswith(_MODEL_LIBS) and q.rsplit(".", 1)[-1][:1].isupper():
            return True
        if q.startswith(("torchvision.models.", "timm.create_model")):
            return True
        name = node.func.value if type(node.func) is cst.Name else None
        cls = self.m.classes.get(name) if name else None
        return cls is not None and cls.is_module

    def _used_as_model(self) -> set[str]:
        if self._used is None:
            used = {s.receiver for s in self.m.switches if s.receiver}
            used |= {c.text for c in self.m.model_calls if c.text}
            for opt in self.m.optimizers:
                used |= set(opt.receivers)
            self._used = used | {u.rsplit(".", 1)[-1] for u in used}
        return self._used

    def _different_parameters(self, ka: Key, kb: Key) -> bool:
        """Two different parameters of one function, and no call site passes the same expression for both."""
        if ka[0] != "param" or kb[0] != "param" or ka[1] != kb[1] or ka[2] == kb[2]:
            return False
        fn = next((f for f in self.m.functions if id(f.node) == ka[1]), None)
        if fn is None:
            return False
        p = fn.node.params
        params = [a.name.value for a in (*p.posonly_params, *p.params)]
        refs = [ParamRef(fn.node, k[2], params.index(k[2]) if k[2] in params else -1) for k in (ka, kb)]
        for site in self.m.call_sites(fn):
            args = [argument_expr(site, r) for r in refs]
            if args[0] is not None and args[1] is not None and (
                    args[0].deep_equals(args[1]) or dotted(args[0]) is not None and dotted(args[0]) == dotted(args[1])):
                return False
        return True


def _star_named(p: cst.Parameters, name: str) -> bool:
    return any(isinstance(s, cst.Param) and s.name.value == name for s in (p.star_arg, p.star_kwarg))


def _same_name(e: cst.BaseExpression | None, name: str, m: SemanticModel) -> bool:
    """`net = net.to(device)`, `net = nn.DataParallel(net)`, `model = torch.compile(model)`: what `net` held."""
    while e is not None:
        if type(e) is cst.Call and type(e.func) is cst.Attribute and e.func.attr.value in _SAME_OBJECT:
            e = e.func.value
        elif type(e) is cst.Call and e.args and e.args[0].keyword is None and not e.args[0].star and \
                m.imports.resolve(e.func) in _WRAPPERS:
            e = e.args[0].value
        else:
            break
    return e is not None and dotted(e) == name
