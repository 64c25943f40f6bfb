"""The grad-mode region a value was made in: part of the one evaluator, kept in the one binding table.

A value made while grad mode is off (`with torch.no_grad():`, `inference_mode`, `set_grad_enabled(False)`,
a function decorated so, or a plain function every caller runs under no_grad) has no autograd graph; one
made under `inference_mode` is an inference tensor. GL011 and GL012 need both, where a name is later used.
They are part of the tensor's provenance (`Prov.off`, `Prov.inference` in `gradlint.model.values`):

- `off`: made without recording once every condition in it holds (empty: for sure). A condition is a
  `FunctionInfo` (the value was made in its plain body: it holds when every caller runs it with grad mode
  off), an `AnyOf` (one of its sets holds), or a `Returned` (a call of a function of the file: it holds when
  that function is decorated no_grad/inference_mode, or the call itself runs with grad mode off; a name that
  is no function of the file is an ordinary computation). `None`: not known to be made without recording.
- `inference`: an inference tensor once every condition holds (empty: for sure; `Returned`: the function
  is decorated `inference_mode`); `ELEMENTS`: a list whose elements are inference tensors (`element_inference`).

A `Returned` also holds when every value the function returns was made so in its body (`returns_made`, from
`return_regions`: `with torch.no_grad(): return crit(model(x), y)`), where an `Arg` (a parameter of that
function) holds when the argument the call passed carries no graph (`Returned.args`: data, a loader's batch,
a value made with grad mode off). Returns and grad-mode-off blocks are recorded from `NoGradUses`'s visits
(`region_return`, `region_with`), which run after the builder's; so are a list's elements (`for` targets,
`.append`, `lst[i] = v`: `gradlint.model.ext_nograd_uses`).

How values get them (`GradRegions`, a mixin of the builder; only when an extension asks for them —
`needs_regions`, GL011's and GL012's `NoGradUses` — and the file spells a grad-mode word):
- an op the evaluator computes (`TensorEvaluator._op`: arithmetic, tensor methods, torch functions, indexing)
  gets the region's `off` when grad mode is off there, else the union of its inputs' `off` when every input
  (numbers aside) has one (`(a + b) * 0.5` of two no-grad values);
- an assignment binds its right-hand side (`made`): `x.float()`/`x.to(d)`/`x` keep `x`'s (an alias; a `.to()`
  after an inference block may be a normal copy), views and indexing of `x` keep `x`'s, `x.detach()` keeps
  only the inference; a new leaf (`requires_grad=True`, `nn.Parameter`, `.requires_grad_()`), a module, a
  grad-mode object has none; other computations have the region's (or their inputs'), and an inference
  tensor is a fresh tensor (`fresh_tensor`) made under `inference_mode`;
- `x += ...` keeps `x`'s inference, in-place calls and `x[i] = ...` keep both; `x.requires_grad_()`,
  `x.requires_grad = True`, `x.retain_grad()` clear `off` (a new leaf, or a gradient kept on purpose);
- after `if`/`for`/`while`/`try`/`match`, a name keeps them only when it was bound before the statement and
  every value it may hold agrees (`merge_regions`): a binding that does not dominate the use is unknown.

Only a scope's own bindings count (`own_prov`): a module-level value read inside a function is not followed.
The conditions are decided after the walk by `RegionQueries` (part of `SemanticModel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from gradlint.model.facts import M_DISABLED, M_INFERENCE, M_INHERITED, FunctionInfo, Mode, Releaf
from gradlint.model.names import GRAD_MODE_NAMES, TORCH_FACTORIES
from gradlint.model.values import (
    K_LEAF,
    K_MODULE,
    K_PARAMS,
    NUM,
    RG,
    UNK_PROV,
    Prov,
    Value,
    evolve,
)

# Files whose text spells none of these have no value made under a grad-mode-off region (the Lightning
# hooks run under no_grad): nothing is tracked there (GL011's and GL012's prefilters are subsets).
REGION_WORDS = ("no_grad", "inference_mode", "set_grad_enabled", "validation_step", "test_step", "predict_step")

# methods that may return the receiver itself (no copy): the result is the receiver, region included
ALIAS_METHODS = frozenset("float double half bfloat16 to cuda cpu contiguous type type_as requires_grad_ clone_".split())
# methods returning a view: a view of an inference tensor is one, a view of a normal tensor is normal
VIEW_METHODS = frozenset(
    """view view_as reshape reshape_as t transpose permute squeeze unsqueeze flatten expand expand_as narrow
    select unbind chunk split unfold diagonal movedim swapaxes as_strided""".split()
)
# torch functions that return views / their input
TORCH_VIEW_FUNCS = frozenset("reshape transpose permute squeeze unsqueeze flatten narrow select t chunk split unbind".split())

_BUILTINS = frozenset(
    """len range print str int float bool sum min max abs round sorted reversed enumerate zip map filter any
    all isinstance getattr setattr hasattr id type iter next open super repr format vars dir set frozenset
    dict list tuple""".split()
)


@dataclass(frozen=True, eq=False)
class AnyOf:
    """A condition that holds when every condition of one of `alternatives` does."""

    alternatives: tuple[frozenset, ...]


@dataclass(frozen=True, eq=False)
class Returned:
    """The value of a call of `callee` (a function of the file, maybe: known after the walk), made in the
    region (`mode`, `function`) of the call."""

    callee: str
    mode: Mode
    function: FunctionInfo | None
    otherwise_off: frozenset | None  # `callee` is no function of the file: as any computation
    otherwise_inference: bool
    # what each argument of the call is (`Arg` conditions of what the callee returns): for the positional
    # ones and the keywords, the conditions under which it carries no graph (None: it may carry one)
    args: tuple = ()
    kwargs: tuple = ()  # ((name, conditions), ...)
    bound: bool = False  # `self.f(...)`: the callee's first parameter is not among `args`


@dataclass(frozen=True, eq=False)
class Arg:
    """A parameter of the function whose body is walked: it carries no graph when the argument a call
    passes does not (decided for each call of the function, `Returned.args`; never on its own)."""

    fn: cst.FunctionDef = field(repr=False)
    name: str = ""
    index: int = -1  # among the positional parameters (counting `self`), -1 for keyword-only


# markers of `inference` that never hold of the value itself: a list (`[teacher(x) for x in xs]`, `.append(...)`
# in the block) whose elements are inference tensors (`lst[i]`, `for t in lst`, `zip(..., lst)`), and an empty
# list literal (no element yet: it agrees with ELEMENTS in a merge after a loop that appends)
ELEMENTS = "<a list of inference tensors>"
EMPTY = "<an empty list>"
# a condition of `off`: the value of an unknown callable (`crit(out, y)`, maybe a model: `head(feats)`) of values
# made without grad; it holds in the function where it is computed, not of what it returns to its callers
CALLED = "<the value of an unknown callable>"
_ELEMENTS = frozenset({ELEMENTS})
_EMPTY = frozenset({EMPTY})


def _union(sets) -> frozenset:
    return frozenset().union(*sets)


def merge_regions(final: Prov | None, before: Prov | None, values: list[Prov]) -> Prov | None:
    """The regions a key keeps after a compound statement that assigned it `values` (`before`: what it held
    before, None when unbound): kept only when bound before and every value agrees."""
    if final is None or (final.off is None and final.inference is None):
        return final
    if before is not None and all(v.off == final.off and (v.inference == final.inference or (
            v.inference == _EMPTY and final.inference == _ELEMENTS)) for v in (before, *values)):
        return final  # (an empty list before a loop that appends inference tensors to it: a list of them)
    return evolve(final, off=None, inference=None)


def regions_only(prov: Prov | None) -> Prov:
    """What an element unpacked from `prov`'s value knows: its regions alone."""
    if prov is None or (prov.off is None and prov.inference is None):
        return UNK_PROV
    if prov.inference is not None and (ELEMENTS in prov.inference or EMPTY in prov.inference):
        return Prov(inference=element_inference(prov)) if prov.inference == _ELEMENTS else UNK_PROV
    return Prov(off=prov.off, inference=prov.inference)


def element_inference(prov: Prov | None) -> frozenset | None:
    """The `inference` of an element of a value (a list of inference tensors, a row of an inference tensor)."""
    if prov is None or prov.inference is None:
        return None
    if prov.inference == _ELEMENTS:
        return frozenset()
    if ELEMENTS in prov.inference or EMPTY in prov.inference:
        return None
    return prov.inference  # a row of an inference tensor is a view of it: one too


def _is_one_of(node: cst.CSTNode, nodes: list) -> bool:
    """`any(node is n for n in nodes)`, without a generator (asked at every assignment)."""
    for n in nodes:
        if n is node:
            return True
    return False


class GradRegions:
    """The builder's part that gives values their grad-mode region (see the module docstring)."""

    @property
    def regions_tracked(self) -> bool:
        """Are regions given here: an extension asks for them (`needs_regions`) and the file spells a word of
        `REGION_WORDS`?"""
        found = self.__dict__.get("_regions_tracked")
        if found is None:
            found = self._regions_tracked = any(getattr(e, "needs_regions", False) for e in self.extensions) and (
                self.mentions(*REGION_WORDS))
        return found

    def own_prov(self, name: str) -> Prov | None:
        """The provenance bound to `name` in the current scope itself (None: not bound here)."""
        v = self._scope.bindings.get(name)
        return v.prov if v is not None else None

    def binds_here(self, name: str) -> bool:
        """Is `name` bound in the current scope itself?"""
        return name in self._scope.bindings

    def region_off(self) -> frozenset | None:
        """The `off` of a value computed here: empty under no_grad/inference_mode, the function in a plain body
        (its callers decide), None where grad mode is on or not known."""
        mode = self.mode
        if mode in (M_DISABLED, M_INFERENCE):
            return frozenset()
        if mode is M_INHERITED and self.function is not None:
            return frozenset({self.function})
        return None

    def op_off(self, inputs: list[Prov]) -> frozenset | None:
        """The `off` of an op on `inputs` computed here (`TensorEvaluator._op`)."""
        region = self.region_off()
        if region is not None and not region:
            return region
        used = [p for p in inputs if p.state != NUM]
        derived = _union(p.off for p in used) if used and None not in [p.off for p in used] else None
        if region is None:
            return derived
        return region if derived is None else frozenset({AnyOf((region, derived))})

    def elements_off(self, expr: cst.List | cst.Tuple) -> Prov:
        """A list or tuple literal: made with grad mode off when every element is (as an op's input)."""
        if not expr.elements or len(expr.elements) > 16:
            return UNK_PROV
        provs = [self.prov(e.value) for e in expr.elements if type(e) is cst.Element]
        off = self.op_off(provs) if provs and len(provs) == len(expr.elements) else None
        return UNK_PROV if off is None else Prov(off=off)

    # ------------------------------------------------------------------ assignments

    def _with_regions(self, node: cst.Assign | cst.AnnAssign, pending: list) -> list:
        """The pending bindings of an assignment (`Bindings._assign_pending`) with their regions."""
        if not self.regions_tracked or node.value is None:
            return pending
        rhs = node.value
        targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
        out = []
        for target, value, prov in pending:
            if value is None:  # `x[i] = ...`: the same tensor, written in place
                cur = self.own_prov(target.value) if type(target) is cst.Name else None
                prov = evolve(prov, off=cur.off, inference=cur.inference) if cur is not None else prov
            elif prov is not None and type(prov) is Prov and (type(target) is cst.Name or type(target) in (
                    cst.Tuple, cst.List)):
                if _is_one_of(target, targets):
                    off, inference = self.made(rhs, prov, unpacked=type(target) is not cst.Name, core=value)
                else:
                    off = inference = None  # an element of a tuple literal unpacked
                if off is not prov.off or inference is not prov.inference:
                    prov = evolve(prov, off=off, inference=inference)
            out.append((target, value, prov))
        return out

    def made(self, rhs: cst.BaseExpression, rprov: Prov, unpacked: bool = False, core: Value | None = None) -> tuple:
        """(`off`, `inference`) of the value `rhs` (whose provenance is `rprov`) bound here; `unpacked`: for a
        tuple target (only a call's result is followed). `core`: `classify(rhs)` when the caller has it (the
        value an assignment binds: the builder classified `rhs` in this same state; or a function referred to,
        `OTHER` as `classify` says of it)."""
        if unpacked and type(rhs) is not cst.Call:
            return None, None
        if rprov.state == RG or (core if core is not None else self.classify(rhs)).kind in (K_LEAF, K_MODULE, K_PARAMS):
            return None, None  # a new leaf whatever the grad mode
        expr = rhs
        via_method = False
        while (type(expr) is cst.Call and type(expr.func) is cst.Attribute
               and expr.func.attr.value in ALIAS_METHODS and expr.func.attr.value != "requires_grad_"):
            expr = expr.func.value
            via_method = True
        base: cst.BaseExpression | None = None
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
            method = expr.func.attr.value
            if method == "detach" and type(expr.func.value) is cst.Name:
                cur = self.own_prov(expr.func.value.value)
                return (None, cur.inference if cur is not None else None) if not unpacked else (None, None)
            if method in VIEW_METHODS:
                if type(expr.func.value) is not cst.Name or unpacked:
                    return None, None  # a view of something else
                base = expr.func.value
        elif type(expr) is cst.Subscript:
            if type(expr.value) is not cst.Name or unpacked:
                return None, None
            base = expr.value
        elif type(expr) is cst.Name:
            base = expr
        if base is not None:
            if unpacked:
                return None, None
            cur = self.own_prov(base.value)
            if cur is None:
                return None, None
            alias = type(expr) is cst.Name
            inference = None if alias and via_method and self.mode is not M_INFERENCE else cur.inference
            if inference is not None and (ELEMENTS in inference or EMPTY in inference) and not alias:
                # an element of a list (`lst[i]`; a slice is a list again); a list has no views
                if type(expr) is not cst.Subscript or via_method:
                    inference = None
                elif not any(type(e.slice) is cst.Slice for e in expr.slice):
                    inference = element_inference(cur)
            return cur.off, inference
        if type(expr) is cst.List and not expr.elements and not via_method:
            return None, _EMPTY
        if type(expr) is cst.ListComp and not via_method:
            # a list made here (a generator is run later, where it is read: not in this region)
            return None, _ELEMENTS if self.mode is M_INFERENCE and self.fresh_tensor(expr.elt) else None
        if type(expr) not in (cst.Call, cst.BinaryOperation, cst.UnaryOperation):
            return None, None
        callee = None
        if type(expr) is cst.Call:
            func = expr.func
            q = self.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
            if q is not None and (GRAD_MODE_NAMES.get(q) or q.rsplit(".", 1)[-1] in TORCH_VIEW_FUNCS):
                return None, None
            callee = _local_callee(expr)
            if callee is not None and (callee in _BUILTINS or self.classify(func).kind is K_MODULE):
                callee = None
        region = self.region_off()
        if region is not None and region:
            off = rprov.off if rprov.off is not None else region
        elif region is not None:
            off = region
        else:
            off = rprov.off
        inference = self.mode is M_INFERENCE and self.fresh_tensor(expr)
        if callee is not None:
            ret = frozenset({Returned(callee, self.mode, self.function, off, inference, *self._arguments(expr))})
            return ret, ret
        return off, (frozenset() if inference else None)

    def _aug_regions(self, target: cst.BaseExpression, new: Prov) -> Prov:
        """`x += ...`: the same tensor when it is one (an inference tensor stays one), a new value otherwise."""
        cur = self.own_prov(target.value) if self.regions_tracked and type(target) is cst.Name else None
        if cur is not None and cur.inference in (_EMPTY, _ELEMENTS):  # `lst += [...]`: other elements
            return evolve(new, off=None, inference=None)
        if cur is not None and cur.inference is not None:
            return evolve(new, off=None, inference=cur.inference)
        return evolve(new, off=None) if new.off is not None else new

    def _keep_regions(self, old: Prov, new: Prov) -> Prov:
        """An in-place call changes what the evaluator knows of a tensor, not where it was made."""
        if old.off is None and old.inference is None:
            return new
        return evolve(new, off=old.off, inference=old.inference)

    def _record_releaf(self, releaf: Releaf) -> None:
        """`x.requires_grad_()`, `x.requires_grad = True`, `x.retain_grad()`: from here on `x` is a leaf (or keeps
        its gradient on purpose), not a value made without recording."""
        self.releafs.append(releaf)
        bindings = self._scope.bindings
        v = bindings.get(releaf.name)
        if v is not None and v.prov is not None and v.prov.off is not None:
            cleared = evolve(v.prov, off=None)
            for key, other in list(bindings.items()):  # its aliases (`l2 = loss`) are the same tensor
                if other.prov is v.prov:
                    bindings[key] = other.with_prov(cleared)

    # ------------------------------------------------------------------ returns, loops, lists

    def region_return(self, node: cst.Return) -> None:
        """`return <value>` (driven by `NoGradUses`, after the builder recorded `FunctionInfo.returns`): for
        each function, (`off`, `inference`) of each value it returns, as `made` says of it bound there
        (`return_regions`, read after the walk: `RegionQueries.returns_made`)."""
        fn = self.function
        if fn is not None and node.value is not None and self.regions_tracked:
            found = self.__dict__.setdefault("return_regions", {})
            found.setdefault(fn, []).append(self.made(node.value, self.prov(node.value)))

    def region_with(self) -> None:
        """A `with` block (driven by `NoGradUses`, inside it): a function with a grad-mode-off block of its
        own (`off_blocks`), whose returned values may be made there."""
        if self.function is not None and self.mode in (M_DISABLED, M_INFERENCE) and self.regions_tracked:
            self.__dict__.setdefault("off_blocks", set()).add(self.function)

    # ------------------------------------------------------------------ fresh tensors

    def fresh_tensor(self, expr: cst.BaseExpression) -> bool:
        """Does this computation certainly produce a fresh tensor (not a view, not its input)?"""
        if type(expr) in (cst.BinaryOperation, cst.UnaryOperation):
            # the leaves of the operator chain, iteratively (recursing per level is quadratic in its length)
            leaves: list[cst.BaseExpression] = []
            stack: list[cst.BaseExpression] = [expr]
            while stack:
                e = stack.pop()
                if type(e) is cst.BinaryOperation:
                    stack += (e.right, e.left)
                elif type(e) is cst.UnaryOperation:
                    stack.append(e.expression)
                else:
                    leaves.append(e)
            return any(self.fresh_tensor(o) or self.classify(o).is_tensor for o in leaves)
        if type(expr) is not cst.Call:
            return False
        func = expr.func
        q = self.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
        if q is not None:
            if q.startswith("torch.nn.functional."):
                return True
            head, _, last = q.rpartition(".")
            if head == "torch":
                return last not in TORCH_VIEW_FUNCS and last not in GRAD_MODE_NAMES.values() and (
                    last in TORCH_FACTORIES or last[:1].islower()
                )
            return False
        if type(func) in (cst.Name, cst.Attribute) and expr.args and self.classify(func).kind is K_MODULE:
            return True  # a module's output
        if type(func) is cst.Attribute:
            method = func.attr.value
            if method in VIEW_METHODS or method in ALIAS_METHODS or method in ("item", "tolist", "numpy", "size", "dim"):
                return False
            recv = func.value
            if self.classify(recv).is_tensor or (type(recv) is not cst.Name and self.fresh_tensor(recv)):
                return True
        if type(func) in (cst.Name, cst.Attribute) and not self._names_local_callable(func):
            # a callable (a model, a loss) applied to a fresh tensor: its result is fresh too
            return any(a.keyword is None and not a.star and (self.fresh_tensor(a.value) or self.classify(a.value).is_tensor)
                       for a in expr.args)
        return False

    def _names_local_callable(self, func: cst.BaseExpression) -> bool:
        """A function or class of this file (by name or as `self.method`): judged by its decorator instead."""
        name = func.value if type(func) is cst.Name else None
        if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
            name = func.attr.value
        return name is not None and (name in self.function_names or name in self.classes)


def _calls_helper(conds: frozenset | None) -> bool:
    """Does a returned value's condition ask a function of the file (`Returned`) about what it returns?"""
    stack = list(conds or ())
    while stack:
        c = stack.pop()
        if type(c) is Returned:
            return True
        if type(c) is AnyOf:
            stack += [x for alt in c.alternatives for x in alt]
    return False


def _argument(call: Returned, param: Arg) -> frozenset | None:
    """The conditions under which the argument `call` passes for `param` carries no graph."""
    for name, cond in call.kwargs:
        if name == param.name:
            return cond
    i = param.index - (1 if call.bound else 0)
    return call.args[i] if param.index >= 0 and 0 <= i < len(call.args) else None


def _local_callee(call: cst.Call) -> str | None:
    func = call.func
    if type(func) is cst.Name:
        return func.value
    if type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self":
        return func.attr.value
    return None


class RegionQueries:
    """The queries on `Prov.off` / `Prov.inference` (mixed into `SemanticModel`): they decide the conditions
    with the call graph."""

    def _rcache(self) -> dict:
        found = self.__dict__.get("_region_cache")
        if found is None:
            found = self._region_cache = {}
        return found

    def runs_without_grad(self, mode: Mode, fn: FunctionInfo | None) -> bool:
        """Is a region of this mode in `fn` certainly not recording (no_grad / inference_mode /
        set_grad_enabled(False) here, or a plain body every caller of which runs with grad mode off)?"""
        if mode in (M_DISABLED, M_INFERENCE):
            return True
        if mode is not M_INHERITED or fn is None:
            return False
        cache = self._rcache()
        key = id(fn)
        if key in cache:
            return cache[key]
        cache[key] = False  # cycle guard (recursion)
        sites = self.call_sites(fn)
        result = fn.decorator_mode is M_INHERITED and bool(sites) and all(
            self.runs_without_grad(s.mode, s.function) for s in sites)
        cache[key] = result
        return result

    def grad_off_decorator(self, name: str) -> Mode | None:
        """The grad-mode-off decorator (DISABLED or INFERENCE) of the functions of this file named `name`, when
        they all have the same one and none turns grad mode back on."""
        fns = [f for f in self.functions if f.name == name]
        if not fns or any(f.has_grad_use for f in fns):
            return None
        modes = {f.decorator_mode for f in fns}
        if len(modes) == 1:
            m = modes.pop()
            if m in (M_DISABLED, M_INFERENCE):
                return m
        return None

    def made_without_grad(self, prov: Prov | None) -> bool:
        """Was this value made with grad mode off (it has no autograd graph)?"""
        return prov is not None and prov.off is not None and all(self._off_holds(c) for c in prov.off)

    def is_inference_tensor(self, prov: Prov | None) -> bool:
        """Is this value an inference tensor (made under inference_mode, not a view of a normal tensor)?"""
        return prov is not None and prov.inference is not None and all(self._inference_holds(c) for c in prov.inference)

    def returned_by(self, prov: Prov | None) -> str | None:
        """The function of the file that made this value with grad mode off — under a grad-mode-off decorator
        or in a `with` block of its body (`returns_made`) — while the call itself ran with grad mode on, for
        messages."""
        if prov is None or prov.off is None or len(prov.off) != 1:
            return None
        (c,) = prov.off
        if type(c) is Returned and any(f.name == c.callee for f in self.functions) and not self.runs_without_grad(
                c.mode, c.function) and self._off_holds(c):
            return c.callee
        return None

    def returns_made(self, fn: FunctionInfo, calls: tuple = (), inference: bool = False) -> bool:
        """Is every value `fn` returns made with grad mode off (`inference`: an inference tensor) — in a
        `with torch.no_grad():` block of its body, or computed from values made there and from arguments that
        carry no graph (`Arg`: what `calls[0]`, the call of `fn`, passes; `calls[1:]`, the calls of the
        functions it is called from, for their own `Arg`s)?"""
        found = self._builder.__dict__ if "_builder" in self.__dict__ else {}
        regions = found.get("return_regions", {}).get(fn)
        if fn.returns_other or not regions or len(regions) != len(fn.returns) or len(calls) > 4:
            return False
        if fn not in found.get("off_blocks", ()) and not any(_calls_helper(r[1 if inference else 0]) for r in regions):
            return False  # made from its arguments alone (data in, data out): no grad-mode-off region
        cache = self._rcache()
        key = ("returns", id(fn), inference, *map(id, calls))
        if key in cache:
            return cache[key]
        cache[key] = False  # cycle guard (recursion)
        if inference:
            result = all(r[1] is not None and all(self._inference_holds(x, calls) for x in r[1]) for r in regions)
        else:
            result = all(r[0] is not None and all(self._off_holds(x, calls) for x in r[0]) for r in regions)
        cache[key] = result
        return result

    def _off_holds(self, c, calls: tuple = ()) -> bool:
        """Does condition `c` hold (`calls`: the calls of the functions whose returned value is asked, the
        innermost first, for their `Arg`s)?"""
        if type(c) is AnyOf:
            return any(all(self._off_holds(x, calls) for x in alt) for alt in c.alternatives)
        if type(c) is Returned:
            fns = [f for f in self.functions if f.name == c.callee]
            if not fns:
                return c.otherwise_off is not None and all(self._off_holds(x, calls) for x in c.otherwise_off)
            if any(f.has_grad_use for f in fns):
                return False
            return self.runs_without_grad(c.mode, c.function) or self.grad_off_decorator(c.callee) is not None or all(
                self.returns_made(f, (c, *calls)) for f in fns)
        if c is CALLED:
            return not calls
        if type(c) is Arg:
            cond = _argument(calls[0], c) if calls else None
            return cond is not None and all(self._off_holds(x, calls[1:]) for x in cond)
        return self.runs_without_grad(M_INHERITED, c)

    def _inference_holds(self, c, calls: tuple = ()) -> bool:
        if type(c) is Returned:
            fns = [f for f in self.functions if f.name == c.callee]
            if not fns:
                return c.otherwise_inference
            if any(f.has_grad_use for f in fns):
                return False
            return self.grad_off_decorator(c.callee) is M_INFERENCE or all(
                self.returns_made(f, (c, *calls), inference=True) for f in fns)
        return False

    def releafed_after(self, name: str, fn: FunctionInfo | None, seq: int) -> bool:
        """Is `name` made a leaf again (or its gradient kept) later in `fn`: a value re-made each pass."""
        return any(r.name == name and r.function is fn and r.seq > seq for r in self.releafs)


__all__ = [
    "CALLED",
    "ELEMENTS",
    "EMPTY",
    "REGION_WORDS",
    "AnyOf",
    "Arg",
    "GradRegions",
    "RegionQueries",
    "Returned",
    "merge_regions",
    "regions_only",
]
