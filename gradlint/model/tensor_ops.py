"""Tensor provenance: the part of the one evaluator that follows tensors through ops (`Prov` in
`gradlint.model.values`), for GL008, GL015, GL017 and GL019.

`classify` (`gradlint.model.evaluate`) says what a value is; the rules here need more: *is this tensor a
non-leaf for sure?* That depends on the grad mode the op ran in, on whether `.to(...)` / `.float()` /
`.cuda()` actually made a copy (they return `self` when nothing changes: `.to("cpu")` on a CPU tensor,
`.float()` on a float32 tensor), and on integer dtypes. `prov(expr)` computes that over the builder's
bindings (`gradlint.model.bindings`: names and dotted `self.x` keys carry their `Prov`); `evaluate(expr)`
gives the whole `Value`.

    Prov.state  RG       a leaf that requires grad (parameter, factory with requires_grad=True, .requires_grad_())
                NONLEAF  certainly has a grad_fn: an op on a tensor that requires grad, with grad mode on
                MOVED    `.to(<non-literal>)` of a fresh CPU leaf: a non-leaf whenever it moves/casts (CUDA)
                GRAPH    a model's output (part of a graph when the model has trainable parameters)
                PLAIN    a tensor that does not require grad (data, `.detach()`, ops under no_grad)
                CUT      a Python number / NumPy array / detached tensor taken out of a graph value
                NUM      a Python number literal
                unknown  anything else (rules stay silent)

Grad mode: an op in a plain function body (Mode.INHERITED) records the function in `conds`; the value is
a non-leaf only if every such function runs with grad mode on (`SemanticModel.effective_mode`).

Re-wrapping calls (`torch.tensor(loss.item(), ...)`, `torch.from_numpy(h.detach().numpy())`) are recorded
as they are evaluated (`RewrapCall`, in `rewraps`): the values computed from them carry the event, so the
extension can tell where they flow (GL019).

`TensorEvaluator` is a mixin of `ModelBuilder` (it reads `mode`, `function`, `imports`, `_scope`,
`_comp_targets`, `_default_device`, `classify`).
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

import libcst as cst

from gradlint.model.dtypes import _CANON, INT_CASTS, Dtypes, _literal_data, is_int_dtype  # noqa: F401
from gradlint.model.evaluate import _const_bool, _kwarg, _positional
from gradlint.model.facts import M_DISABLED, M_ENABLED, M_INFERENCE, M_INHERITED, FunctionInfo
from gradlint.model.names import (
    TORCH_FACTORIES,
    TORCH_TENSOR_FUNCS,
    dotted,
    short_code,
)
from gradlint.model.regions import CALLED, Arg, Returned, _local_callee
from gradlint.model.tensor_methods import TensorMethods
from gradlint.model.values import (
    CUT,
    GRADISH,
    GRAPH,
    K_LEAF,
    K_MODULE,
    K_TENSOR,
    K_UNKNOWN,
    MOVED,
    NONLEAF,
    NUM,
    PLAIN,
    RG,
    UNK_PROV,
    UNK_STATE,
    Prov,
    Value,
    evolve,
)


REWRAP_FUNCS = frozenset({"tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor", "DoubleTensor",
                          "scalar_tensor", "asarray"})
_BUILTINS = frozenset(dir(builtins))
# builtins whose result of a value taken out of a graph is still out of it
_KEEPING_CUT = frozenset({"sorted", "tuple", "sum", "max", "min", "abs", "round", "reversed"})
_CALLED = frozenset({CALLED})


@dataclass(eq=False)
class RewrapCall:
    node: cst.Call
    func: str  # "torch.tensor"
    source: str  # how the graph value was taken out ("`loss.item()`")
    requires_grad: bool
    function: FunctionInfo | None
    in_forward: bool
    conds: frozenset = frozenset()
    reached_backward: bool = False
    reached_module: bool = False
    reached_return: bool = False
    trained: bool = False  # handed to an optimizer / nn.Parameter: meant as a new leaf


def _pure(inputs: list[Prov]) -> bool:
    """Computed only from re-wrapped values and data: `any(v.pure ...) and all(v.pure or <data> ...)` (plain
    loops: asked for every op the evaluator computes)."""
    found = False
    for v in inputs:
        if v.pure:
            found = True
        elif v.state not in (NUM, PLAIN, CUT):
            return False
    return found


# torch layers whose weights are trainable when built (`nn.Embedding.from_pretrained` freezes by default and is
# not among these origins)
_LOSS_MODULE = re.compile(r"an? `nn\.\w+Loss`")
_TRAINABLE_LAYER = re.compile(r"an? `nn\.(Linear|Bilinear|Conv[123]d|ConvTranspose[123]d|Embedding|EmbeddingBag)`")


class TensorEvaluator(Dtypes, TensorMethods):
    @property
    def in_forward(self) -> bool:
        """Is the walk in the `forward` of an `nn.Module` (its own body, not a function nested in it)?"""
        fn = self.function
        return bool(fn is not None and fn.class_info is not None and fn.class_info.is_module
                    and fn.name == "forward")

    def _mode_conds(self, conds: frozenset) -> frozenset | None:
        """The conds of a new graph value computed here, or None when grad mode is off / unknown here."""
        mode = self.mode
        if mode is M_ENABLED:
            return conds
        if mode is M_INHERITED:
            fn = self.function
            return conds | {fn} if fn is not None else conds
        return None

    def lookup_prov(self, expr: cst.BaseExpression) -> Prov:
        """The provenance of a name or dotted `a.b` key from the bindings; what its kind says when it is bound
        without one (a parameter, a loop target) or not bound."""
        key = dotted(expr)
        if key is not None:
            if type(expr) is cst.Name and self._comp_targets and any(expr.value in s for s in self._comp_targets):
                return UNK_PROV
            scope = self._scope
            if scope.declared and key in scope.declared and key not in scope.bindings:
                return UNK_PROV  # a `global` name not assigned here yet
            v = scope.lookup(key)
            if v is not None and v.prov is not None:
                return v.prov
            if v is not None and v.ref is not None and not v.path and self.regions_tracked:
                fn = self.function
                if fn is not None and v.ref.fn is fn.node and v.kind is K_UNKNOWN:
                    return self.argument_prov(v.ref)  # (`gradlint.model.regions.Arg`)
            if v is not None and v.kind is not K_UNKNOWN and type(expr) is cst.Name:
                return self.prov_of_kind(v)  # (what `classify(expr)` finds first)
            if v is None and type(expr) is cst.Attribute:
                base = self._scope.lookup(dotted(expr.value) or "")
                if base is not None and base.prov is not None:
                    return UNK_PROV  # an attribute of a value tracked here, not one of the classes
        return self.prov_of_kind(self.classify(expr))

    def prov_of_kind(self, core: Value) -> Prov:
        """The provenance a value has by its kind alone: a leaf that requires grad, a model's output."""
        if core.kind is K_LEAF:
            return Prov(RG, origin=core.origin)
        if core.kind is K_TENSOR and core.origin == "a model output":
            conds = self._mode_conds(frozenset())
            return Prov(GRAPH, conds=conds) if conds is not None else Prov(PLAIN)
        return UNK_PROV

    def evaluate(self, expr: cst.BaseExpression) -> Value:
        """The abstract value of `expr` here: its kind (`classify`) and its tensor provenance (`prov`)."""
        return self.classify(expr).with_prov(self.prov(expr))

    def prov(self, expr: cst.BaseExpression) -> Prov:
        """The tensor provenance of `expr` here (see `gradlint.model.values.Prov`)."""
        if type(expr) in (cst.Name, cst.Attribute):
            if type(expr) is cst.Attribute:
                attr = expr.attr.value
                if attr == "data":
                    base = self.prov(expr.value)
                    if base.state in GRADISH or base.state in (PLAIN,):
                        return Prov(PLAIN, dtype=base.dtype,
                                    cut_from=f"`{self._code(expr)}`" if base.state in GRADISH else base.cut_from,
                                    conds=base.conds if base.state in GRADISH else frozenset())
                    return UNK_PROV
                if attr == "grad":
                    return UNK_PROV
                if attr in ("T", "mT", "H", "real", "imag"):
                    base = self.prov(expr.value)
                    if base.state in (PLAIN, RG, NONLEAF, MOVED, GRAPH):
                        return self._op([base], expr, f"`.{attr}`")
            return self.lookup_prov(expr)
        if type(expr) is cst.Call:
            return self._call_value(expr)
        if type(expr) is cst.BinaryOperation:
            left, right = self.prov(expr.left), self.prov(expr.right)
            how = ""
            if {left.state, right.state} & {RG, NONLEAF, MOVED}:  # the words are only used for a non-leaf
                op = self._code(expr.operator).strip() if expr.operator else "op"
                other = expr.right if left.state in (RG,) else expr.left
                how = f"`{op} {self._code(other)}`"
            return self._op([left, right], expr, how)
        if type(expr) is cst.UnaryOperation:
            if type(expr.operator) is cst.Not:
                return UNK_PROV
            inner = self.prov(expr.expression)
            if inner.state == NUM:
                return inner
            return self._op([inner], expr, f"`{self._code(expr.operator).strip()}`")
        if type(expr) is cst.Subscript:
            base = self.prov(expr.value)
            if base.state in (RG, NONLEAF, MOVED, GRAPH, PLAIN):
                return self._op([base], expr, "indexing")
            if base.state == CUT:
                return base
            return UNK_PROV
        if type(expr) is cst.Comparison:
            vals = [self.prov(expr.left)] + [self.prov(c.comparator) for c in expr.comparisons]
            if any(v.state in (RG, NONLEAF, MOVED, GRAPH, PLAIN) for v in vals):
                return Prov(PLAIN, dtype="bool")
            return UNK_PROV
        if type(expr) in (cst.List, cst.Tuple) and self.regions_tracked:
            return self.elements_off(expr)  # (`torch.cat([a, b])` of values made with grad mode off)
        if type(expr) is cst.Integer:
            return Prov(NUM, dtype="int64")
        if type(expr) is cst.Float:
            return Prov(NUM, dtype="float32")
        if type(expr) is cst.Imaginary:
            return Prov(NUM, dtype="complex64")
        return UNK_PROV

    def _op(self, inputs: list[Prov], node: cst.CSTNode, how: str) -> Prov:
        """The result of an op (arithmetic, a tensor method, a torch function) on `inputs`."""
        result = self._op_kind(inputs, node, how)
        pure = _pure(inputs)
        if pure != result.pure:
            result = evolve(result, pure=pure)
        if self.regions_tracked:  # the grad-mode region it is made in (`gradlint.model.regions`)
            off = self.op_off(inputs)
            if off is not None:
                result = evolve(result, off=off)
        return result

    def _maybe_frozen(self, module: cst.BaseExpression) -> bool:
        """Frozen whole (`requires_grad_(False)`, a loop over its parameters), or one of its tensors frozen
        (`emb.weight.requires_grad = False`), as far as the walk has seen."""
        if self.is_frozen(module):
            return True
        d = dotted(module)
        return d is None or any(t.startswith(d + ".") for t in self._frozen_tensors)

    def _op_kind(self, inputs: list[Prov], node: cst.CSTNode, how: str) -> Prov:
        rewraps = frozenset().union(*(v.rewraps for v in inputs))
        kinds = {v.state for v in inputs}
        if kinds & {RG, NONLEAF, MOVED}:
            conds = frozenset().union(*(v.conds for v in inputs if v.state in (RG, NONLEAF, MOVED, GRAPH)))
            conds = self._mode_conds(conds)
            if conds is None:
                if self.mode in (M_DISABLED, M_INFERENCE):
                    return Prov(PLAIN, rewraps=rewraps)
                return Prov(UNK_STATE, rewraps=rewraps)
            src = next((v for v in inputs if v.state == RG), None)
            return Prov(NONLEAF, node=node, how=how, origin=src.origin if src else "", conds=conds,
                        rewraps=rewraps)
        if GRAPH in kinds:
            conds = frozenset().union(*(v.conds for v in inputs if v.state == GRAPH))
            conds = self._mode_conds(conds)
            if conds is None:
                return Prov(PLAIN if self.mode in (M_DISABLED, M_INFERENCE) else UNK_STATE, rewraps=rewraps)
            return Prov(GRAPH, node=node, conds=conds, rewraps=rewraps)
        if UNK_STATE in kinds:
            return Prov(UNK_STATE, rewraps=rewraps)
        if PLAIN in kinds:
            cut = next((v.cut_from for v in inputs if v.cut_from), "")
            conds = frozenset().union(*(v.conds for v in inputs if v.cut_from))
            return Prov(PLAIN, rewraps=rewraps, cut_from=cut, conds=conds)
        if CUT in kinds:
            cut = next(v for v in inputs if v.state == CUT)
            return Prov(CUT, cut_from=cut.cut_from, conds=cut.conds, rewraps=rewraps)
        if kinds == {NUM}:
            return Prov(NUM)
        return Prov(UNK_STATE, rewraps=rewraps)

    @staticmethod
    def _code(node: cst.CSTNode) -> str:
        return short_code(node, 40)

    def _call_value(self, call: cst.Call) -> Prov:
        func = call.func
        q = self.imports.resolve(func)
        if q is not None:
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                rg = _kwarg(call, "requires_grad")
                if rg is None and len(_positional(call)) >= 2:
                    rg = _positional(call)[1]
                pos = _positional(call)
                inner = self.prov(pos[0].value) if pos else UNK_PROV
                if rg is not None:
                    flag = _const_bool(rg.value)
                    if flag is None:
                        return UNK_PROV
                    if flag is False:
                        return Prov(PLAIN, dtype=inner.dtype)
                return Prov(RG, dtype=inner.dtype, origin="an `nn.Parameter`", node=call,
                            cpu_fresh=inner.cpu_fresh)
            head, _, last = q.rpartition(".")
            if head == "torch" and last in REWRAP_FUNCS:
                ev = self._rewrap_event(call, q, last)
                if ev is not None:
                    v = self._call_value_inner(call, head, last)
                    return evolve(v, rewraps=v.rewraps | {ev}, pure=True)
            if head == "torch":
                return self._call_value_inner(call, head, last)
            return self._call_value_nontorch(call, q, head, last)
        return self._call_value_rest(call)

    def _call_value_inner(self, call: cst.Call, head: str, last: str) -> Prov:
        if last in TORCH_FACTORIES:
            ints: list[cst.Integer] = []
            dtype, _reason, _arg = self._factory_dtype(last, call, ints)
            pos = _positional(call)
            rewraps: frozenset = frozenset()
            if last in ("tensor", "from_numpy", "as_tensor") and pos:
                src = self.prov(pos[0].value)
                if last == "as_tensor" and src.state in GRADISH:
                    return src  # as_tensor returns the same tensor
                rewraps = src.rewraps
            rg = _kwarg(call, "requires_grad")
            fresh = (
                _kwarg(call, "device") is None
                and not self._default_device
                and not last.endswith("_like")
                and not (last in ("tensor", "as_tensor") and pos and not _literal_data(pos[0].value))
            )
            if rg is not None:
                flag = _const_bool(rg.value)
                if flag is None:
                    return UNK_PROV
                if flag:
                    return Prov(RG, dtype=dtype, node=call, origin="created with `requires_grad=True`",
                                cpu_fresh=fresh, rewraps=rewraps)
            return Prov(PLAIN, dtype=dtype, node=call, cpu_fresh=fresh, rewraps=rewraps)
        if last in ("Tensor", "FloatTensor", "DoubleTensor", "LongTensor"):
            return Prov(PLAIN, dtype={"LongTensor": "int64", "DoubleTensor": "float64"}.get(last, "float32"))
        if last == "detach":
            pos = _positional(call)
            return self._detach(self.prov(pos[0].value) if pos else UNK_PROV, call)
        if last in TORCH_TENSOR_FUNCS:
            args = [self.prov(a.value) for a in call.args if a.keyword is None or a.keyword.value != "out"]
            return self._op(args, call, f"`torch.{last}(...)`")
        return UNK_PROV

    def _call_value_nontorch(self, call: cst.Call, q: str, head: str, last: str) -> Prov:
        if q.startswith("torch.nn.functional."):
            args = [self.prov(a.value) for a in call.args if a.keyword is None]
            if not args:
                return UNK_PROV
            return self._op(args, call, f"`{q.rsplit('.', 1)[-1]}(...)`")
        if q.startswith(("numpy.", "math.")):
            args = [self.prov(a.value) for a in call.args]
            cut = next((a for a in args if a.state == CUT), None)
            if cut is not None:
                return Prov(CUT, cut_from=cut.cut_from, conds=cut.conds)
            return UNK_PROV
        return self._call_value_rest(call)

    def _call_value_rest(self, call: cst.Call) -> Prov:
        func = call.func
        if type(func) is cst.Name and func.value in ("float", "int", "bool", "list") and len(call.args) == 1:
            v = self.prov(call.args[0].value)
            if v.state in GRADISH:
                return Prov(CUT, cut_from=f"`{self._code(call)}`", conds=v.conds)
            if v.state == CUT:
                return v
            return UNK_PROV
        if type(func) is cst.Name and func.value in _KEEPING_CUT and call.args and call.args[0].keyword is None:
            v = self.prov(call.args[0].value)  # `sorted(losses.tolist(), reverse=True)`: still out of the graph
            return v if v.state == CUT else UNK_PROV
        recv = None
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = self.prov(func.value)
            if recv.state in (RG, NONLEAF, MOVED, GRAPH, PLAIN):
                return self._method_value(recv, method, call)
            if recv.state == CUT and method not in ("append", "extend"):
                return recv  # numpy post-processing of a detached array
            if recv.state == UNK_STATE and method == "detach" and not call.args:
                return Prov(PLAIN)  # whatever it was, a detached tensor is a leaf that does not require grad
        fv = self.classify(func)
        if fv.kind is K_MODULE and _LOSS_MODULE.match(fv.origin):
            # `criterion(pred, y)` with `criterion = nn.MSELoss()` and a non-leaf `pred`: a non-leaf (else as
            # any module's output below)
            v = self._op_kind([self.prov(a.value) for a in call.args if not a.star], call, f"`{self._code(func)}(...)`")
            if v.state == NONLEAF:
                return v
        if fv.kind is K_MODULE:
            conds = self._mode_conds(frozenset())
            args = [self.prov(a.value) for a in call.args]
            rewraps = frozenset().union(*(a.rewraps for a in args))
            if conds is None:
                return Prov(PLAIN if self.mode in (M_DISABLED, M_INFERENCE) else UNK_STATE, rewraps=rewraps)
            # a layer applied to a re-wrapped value: its own parameters train, nothing before the cut does
            pure = any(a.pure for a in args) and all(a.pure or a.state in (NUM, PLAIN, CUT) for a in args)
            if args and _TRAINABLE_LAYER.match(fv.origin) and not self._maybe_frozen(func):
                # `nn.Linear` / `nn.Embedding` / a convolution built in this file with its weights trainable:
                # its output is a non-leaf whenever grad mode is on, whatever its input
                return Prov(NONLEAF, node=call, how=f"`{self._code(func)}(...)`, a layer with trainable weights",
                            conds=conds, rewraps=rewraps, pure=pure)
            return Prov(GRAPH, node=call, conds=conds, rewraps=rewraps, pure=pure)
        if type(func) in (cst.Name, cst.Attribute) and not (type(func) is cst.Name and func.value in _BUILTINS):
            # an unknown function of a graph value (`criterion(out, y)`, `loss_fn(pred)`): maybe still in the
            # graph (GL019 only; never a NONLEAF for GL008/GL017)
            args = [self.prov(a.value) for a in call.args]
            graphish = [a for a in args if a.state in GRADISH]
            if graphish:
                conds = self._mode_conds(frozenset().union(*(a.conds for a in graphish)))
                if conds is not None:
                    return Prov(GRAPH, node=call, conds=conds,
                                rewraps=frozenset().union(*(a.rewraps for a in args)))
            elif type(func) is cst.Name and (cut := next((a for a in args if a.state == CUT), None)) is not None:
                return cut  # `f1_numpy(probs.detach().numpy(), y)`: computed from what was taken out of the graph
            elif self.regions_tracked and (args or type(func) is cst.Attribute):
                returned = self.returned_off(call)  # a function of the file: what it returns decides
                if returned is not None:
                    return returned
                # `crit(out, target)`, `loss.mean()` of values made with grad mode off (an unknown callable:
                # not for what a function returns to its callers, `CALLED`)
                off = self.op_off(args + [recv] if recv is not None else args)
                if off is not None:
                    return Prov(off=off | _CALLED if type(func) is cst.Name else off)
        return UNK_PROV

    def argument_prov(self, ref) -> Prov:
        """What a parameter of the function walked holds: made without grad when its argument is (`Arg`)."""
        found = self.__dict__.get("_arg_provs")
        if found is None:
            found = self._arg_provs = {}
        prov = found.get(ref)
        if prov is None:
            prov = found[ref] = Prov(off=frozenset({Arg(ref.fn, ref.name, ref.index)}))
        return prov

    def returned_off(self, call: cst.Call) -> Prov | None:
        """The value of a call of a function of the file inside an expression (`F.mse_loss(out_of(model, x), y)`):
        made with grad mode off as `Returned` says (None: no function of the file)."""
        callee = _local_callee(call)
        if callee is None or not self._names_local_callable(call.func) or callee in self.classes:
            return None
        return Prov(off=frozenset({Returned(callee, self.mode, self.function, None, False, *self._arguments(call))}))

    def _arguments(self, call: cst.Call) -> tuple:
        """(`args`, `kwargs`, `bound`) of a `Returned`: the conditions under which each argument of `call`
        carries no graph (made with grad mode off, or data: a plain tensor, a number, a batch)."""
        args: list = []
        kwargs: list = []
        for a in call.args:
            if a.star:
                return (), (), False
            p = self.prov(a.value)
            cond = p.off if p.off is not None else frozenset() if p.state in (PLAIN, NUM, CUT) or (
                p.state == UNK_STATE and self._plain_data(a.value)) else None
            if a.keyword is None:
                args.append(cond)
            else:
                kwargs.append((a.keyword.value, cond))
        return tuple(args), tuple(kwargs), type(call.func) is cst.Attribute

    def _plain_data(self, expr: cst.BaseExpression) -> bool:
        """A tensor the evaluator knows by its kind alone not to require grad (a batch of a loader)."""
        v = self.classify(expr)
        return v.kind is K_TENSOR and v.origin.startswith("a batch")

    def _rewrap_event(self, call: cst.Call, q: str, last: str) -> "RewrapCall | None":
        """The re-wrapping event of `torch.tensor(<value taken out of a graph>)` & co (created once per call)."""
        key = id(call)
        if key in self._rewrap_map:
            return self._rewrap_map[key]
        ev = None
        pos = _positional(call)
        data = pos[0].value if pos else None
        if data is None:
            kw = _kwarg(call, "data") or _kwarg(call, "ndarray")
            data = kw.value if kw is not None else None
        if data is not None:
            src = self.prov(data)
            source = ""
            if src.state == CUT or (src.state == PLAIN and src.cut_from):
                source = src.cut_from
            elif src.state in GRADISH and last == "tensor":
                source = f"`torch.tensor({self._code(data)})` (it copies the value and detaches it)"
            if source:
                rg = _kwarg(call, "requires_grad")
                ev = RewrapCall(call, q, source, bool(rg is not None and _const_bool(rg.value)), self.function,
                                self.in_forward, conds=src.conds)
                self.rewraps.append(ev)
        self._rewrap_map[key] = ev
        return ev


