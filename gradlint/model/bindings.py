"""The one flow-sensitive binding table: scopes, bindings in statement order, merges after branches and loops.

Each scope (`_Scope`: the module, a class body, a function) maps names — and dotted keys such as `self.w`
or `opt.x`, for what the tensor rules track through attributes — to a `Value` (`gradlint.model.values`).
The builder binds as the walk passes assignments (`_bind`), loop targets (`_bind_loop_target`), function
parameters (deferred on the call sites), `with ... as`, `except ... as`, augmented assignments and `:=`.

Merges:
- after `if`/`elif`/`else`, a name holds the join of what each branch (or the fall-through) left
  (`leave_If`: each branch starts from the bindings before the `if`);
- a binding's provenance (`Value.prov`) is also merged over every compound statement that may or may not
  run, or run many times (`if`, `for`, `while`, `try`, `match`): a key assigned inside keeps its
  provenance only when every value assigned there, and the one before, agree (`Prov.same`); otherwise it
  becomes unknown (`_Frame`). A provenance of `None` means "as its kind says" (a parameter, a loop target).
- `x = ...` forgets what was known of `x.attr` keys;
- at a loop's head, a name holds the join of its value before the loop and what each iteration leaves
  (`gradlint.model.loop_joins`, `model.loop_joins`; the walk's side is the `LoopJoinWalk` mixin).
Comprehension and lambda variables are local to their expression (`_comp_targets`).

Beside each binding, the graph its value carries (`_Scope.roots`: key -> the ids of the autograd graphs it
is part of, one id per graph-building op or module call — which ops make one is `gradlint.model.graph`'s,
the graph evaluator that fills this table when a rule needs graphs: `bind_roots`, `roots_of`). A
function's graph values are its own (no lookup in enclosing scopes). They merge where the bindings merge:
each branch of an `if` starts from the roots before it, and after it a key carries what any branch (or the
fall-through) left (the union: the graphs it may be part of); at a loop's head, what each back-edge left
(`model.loop_joins.roots_at_loop_entry`).

`Bindings` is a mixin of `ModelBuilder`.
"""

from __future__ import annotations

import libcst as cst

from gradlint.model.evaluate import _MODEL_OUTPUT, _PACKED, OTHER, PACKED_RNN_OUTPUT, _Batch, _positional
from gradlint.model.facts import ClassInfo, FunctionInfo
from gradlint.model.loop_joins import LoopJoin, LoopJoinWalk, _loop_state, _merge_states, _same_core, _set_state
from gradlint.model.names import dotted, is_inplace_method, paired_items, target_names
from gradlint.model.regions import merge_regions, regions_only
from gradlint.model.values import (
    GRADISH, K_LEAF, K_OTHER, K_SELF, K_TENSOR, K_UNKNOWN, MOVED, NUM, PLAIN, RG, UNKNOWN, UNK_PROV, UNK_STATE,
    Prov, Value, join, join_prov,
)

DEFER = Prov(state="defer")  # in a frame: bound, with the provenance its kind gives


class _Frame:
    """A compound statement being walked: the provenance of each key before it, and every one assigned in it."""

    __slots__ = ("before", "assigned")

    def __init__(self) -> None:
        self.before: dict[str, Prov | None] = {}
        self.assigned: dict[str, list[Prov]] = {}


class _Scope:
    __slots__ = ("bindings", "parent", "function", "class_info", "frames", "dotted_heads", "uid", "declared", "joins",
                 "roots")
    _count = 0

    def __init__(self, parent: "_Scope | None", function: FunctionInfo | None, class_info: ClassInfo | None):
        _Scope._count += 1
        self.uid = _Scope._count  # (never reused, unlike an id())
        self.bindings: dict[str, Value] = {}
        self.parent = parent
        self.function = function
        self.class_info = class_info
        self.frames: list[_Frame] = []
        self.dotted_heads: set[str] = set()  # `x` when some `x.attr...` key is bound here
        self.declared: set[str] = set()  # `global` / `nonlocal` names: their provenance here is not known
        self.joins: list[LoopJoin] = []  # the loops of this scope being walked, innermost last
        self.roots: dict[str, frozenset[int]] = {}  # key -> the graphs its value carries (see the module docstring)

    def lookup(self, name: str) -> Value | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None


class _Branch:
    """An `if` statement being walked: the bindings before it and what each finished branch left."""

    __slots__ = ("node", "scope", "pre", "outcomes", "loop_pre", "loop_outcomes", "pre_roots", "root_outcomes")

    def __init__(self, node: cst.If, scope: "_Scope") -> None:
        self.node = node
        self.scope = scope
        self.pre = dict(scope.bindings)
        self.outcomes: list[dict[str, Value]] = []
        # the binding sites reaching here, per enclosing loop of the scope (`LoopJoin.defs`)
        self.loop_pre = _loop_state(scope) if scope.joins else None
        self.loop_outcomes: list[list] = []
        self.pre_roots = dict(scope.roots)  # the graph roots before it, and what each finished branch left
        self.root_outcomes: list[dict[str, frozenset[int]]] = []


def _state(v: Value | None) -> Prov | None:
    """A binding's provenance for a frame: None when unbound, DEFER when its kind decides."""
    if v is None:
        return None
    return DEFER if v.prov is None else v.prov


class Bindings(LoopJoinWalk):
    # ----------------------------------------------------------------------------- keys

    def _bind_key(self, key: str, value: Value) -> None:
        scope = self._scope
        if scope.joins:
            self._mark_bound(key)
        if scope.frames:
            frame = scope.frames[-1]
            if key not in frame.before:
                frame.before[key] = _state(scope.lookup(key))
            frame.assigned.setdefault(key, []).append(DEFER if value.prov is None else value.prov)
        scope.bindings[key] = value
        if "." in key:
            scope.dotted_heads.add(key.partition(".")[0])
        elif key in scope.dotted_heads:  # `x = ...` makes what was known of `x.attr` unknown
            prefix = key + "."
            for k in [k for k in scope.bindings if k.startswith(prefix)]:
                scope.bindings[k] = scope.bindings[k].with_prov(UNK_PROV)

    def _bind_prov(self, target: cst.BaseExpression, prov: Prov) -> None:
        """A new provenance for what `target` names (its kind stays what it was)."""
        if type(target) in (cst.Tuple, cst.List):
            for el in target.elements:
                self._bind_prov(el.value, UNK_PROV)
            return
        if type(target) is cst.StarredElement:
            self._bind_prov(target.value, UNK_PROV)
            return
        if type(target) not in (cst.Name, cst.Attribute):
            return
        key = dotted(target)
        if key is None:
            return
        cur = self._scope.lookup(key)
        self._bind_key(key, Value(K_UNKNOWN, prov=prov) if cur is None else cur.with_prov(prov))

    def roots_of(self, key: str) -> frozenset[int] | None:
        """The graphs the value bound to `key` in this scope carries (None: no graph value bound here)."""
        return self._scope.roots.get(key)

    def bind_roots(self, key: str, roots: frozenset[int]) -> None:
        """`key` now holds a value carrying the graphs `roots` (an empty set: none)."""
        scope = self._scope
        scope.roots[key] = roots
        for lj in scope.joins:
            lj.root_keys.add(key)

    def drop_roots(self, key: str) -> None:
        """`del key`: no value bound."""
        self._scope.roots.pop(key, None)

    def _rebind_kind(self, name: str, value: Value) -> None:
        """A new kind for a name whose provenance does not change (`p.requires_grad = False` freezes `p`)."""
        cur = self._scope.lookup(name)
        self._scope.bindings[name] = value.with_prov(cur.prov) if cur is not None and cur.prov else value

    # ----------------------------------------------------------------------------- assignments

    def _bind(self, target: cst.BaseExpression, value: Value, prov: Prov | tuple | None = None) -> None:
        """Bind `target` to `value`; `prov` is its provenance (a tuple of them for the elements of a tuple
        target unpacked from a tuple literal)."""
        if type(target) is cst.Name:
            self._bind_key(target.value, value if prov is None or type(prov) is tuple else value.with_prov(prov))
        elif type(target) in (cst.Tuple, cst.List):
            # `out, (h, c) = self.lstm(x, (h, c))`: every name unpacked from a model's output is an output
            each = value if value.kind is K_TENSOR and value.origin.startswith("a model output") else UNKNOWN
            for i, el in enumerate(target.elements):
                p = prov[i] if type(prov) is tuple else regions_only(prov)
                if value is PACKED_RNN_OUTPUT:  # (the output packed again, the hidden state a tensor)
                    each = _PACKED if i == 0 else _MODEL_OUTPUT
                self._bind(el.value, each, p)
        elif type(target) is cst.Attribute:
            if type(target.value) is cst.Name and self.classify(target.value).kind is K_SELF:
                cls = self.scope_class()
                if cls is not None and (value.kind is not K_UNKNOWN or value.deferred):
                    cls.attrs[target.attr.value] = value.with_prov(None) if value.prov is not None else value
            key = dotted(target)
            if key is not None and prov is not None and type(prov) is not tuple:
                self._bind_key(key, Value(K_UNKNOWN, prov=prov))

    def _assign_pending(self, node: cst.Assign, rhs: Value) -> list:
        """What `node` binds once it is walked: (target, value, provenance) for each target."""
        rprov = self.prov(node.value)
        pending = []
        for t in node.targets:
            target = t.target
            if type(target) is cst.Attribute and target.attr.value == "requires_grad":
                pending.append((target, rhs, None))  # the flag's effect on the tensor: `_requires_grad_set`
                continue
            if type(target) is cst.Subscript:
                base = dotted(target.value)
                if base is not None and rprov.state in GRADISH + (UNK_STATE,):
                    cur = self._scope.lookup(base)
                    if cur is not None and cur.prov is not None and cur.prov.state == PLAIN:
                        pending.append((target.value, None, UNK_PROV))  # it may now hold graph values
                continue
            pairs = paired_items(target, node.value)
            if pairs is not None:
                # `net, loss = linreg, squared_loss`: each name is bound to its own value
                pending += [(el, self._function_reference(src) or self.classify(src), self.prov(src))
                            for el, src in pairs]
                continue
            if (type(target) in (cst.Tuple, cst.List) and type(node.value) is cst.Call
                    and all(type(e) is cst.Element for e in target.elements)
                    and (items := self.returned_items(node.value, len(target.elements))) is not None):
                # `W1, b1 = init_params()` where the function of the file returns `W1, b1`: each its item
                pending += [(el.value, item, regions_only(rprov)) for el, item in zip(target.elements, items)]
                continue
            pending.append((target, self._function_reference(node.value) or rhs, rprov))
        return self._with_regions(node, pending)

    def _function_reference(self, rhs: cst.BaseExpression) -> Value | None:
        """A function referred to without calling it, which `net = ...` may hold but no model is:
        a lambda, a function of the file, a function of an imported non-torch module (`d2l.linreg`)."""
        if type(rhs) is cst.Lambda:
            return Value(K_OTHER, "a lambda")
        if type(rhs) is cst.Name:
            if rhs.value in self._module_functions and self._scope.lookup(rhs.value) is None:
                return Value(K_OTHER, f"the function `{rhs.value}`")
            return None
        if type(rhs) is not cst.Attribute or type(rhs.value) is not cst.Name:
            return None
        head, attr = rhs.value.value, rhs.attr.value
        origin = self.imports.aliases.get(head)
        if origin is None or self._scope.lookup(head) is not None:
            return None
        top = origin.partition(".")[0]
        if top in _MODULE_LIBRARIES or not attr[:1].islower() or self._is_model_name(attr):
            return None  # `nn.Linear`, `models.resnet18`, `pkg.model` (an instance)
        return Value(K_OTHER, f"the function `{head}.{attr}`")


    def _bind_pending(self, pending: list) -> None:
        for target, value, prov in pending:
            if value is None:
                self._bind_prov(target, prov)
            elif type(target) is cst.Attribute and target.attr.value == "requires_grad":
                self._bind(target, value)
            else:
                self._bind(target, value, prov)

    def _requires_grad_set(self, node: cst.CSTNode, target: cst.BaseExpression, flag: bool | None) -> None:
        """`x.requires_grad = flag` changes what `x` is from here on."""
        key = dotted(target)
        if key is None:
            return
        value = self.prov(target)
        if value.state == PLAIN and flag is True:
            self._bind_prov(target, Prov(RG, dtype=value.dtype, node=node, cpu_fresh=value.cpu_fresh,
                                         origin="made a leaf with `requires_grad = True`"))
        elif value.state == RG and flag is False:
            self._bind_prov(target, Prov(PLAIN, dtype=value.dtype, cpu_fresh=value.cpu_fresh))
        elif value.state in (PLAIN, RG) and flag is None:
            self._bind_prov(target, UNK_PROV)

    def _inplace_call_prov(self, node: cst.Call) -> None:
        """`x.detach_()` detaches `x`; an in-place op with tensor operands may put a graph into a plain `x`."""
        func = node.func
        method, recv = func.attr.value, func.value
        if dotted(recv) is None:
            return
        if method == "detach_":
            cur = self.prov(recv)
            self._bind_prov(recv, self._keep_regions(cur, self._detach(cur, node)))
        elif is_inplace_method(method):
            cur = self.prov(recv)
            if cur.state == PLAIN and any(self.prov(a.value).state != NUM for a in node.args):
                self._bind_prov(recv, self._keep_regions(cur, UNK_PROV))

    def _aug_assign_prov(self, node: cst.AugAssign) -> None:
        target = node.target
        if type(target) in (cst.Name, cst.Attribute) and dotted(target) is not None:
            cur = self.prov(target)
            new = self._op([cur, self.prov(node.value)], node, "an in-place op")
            if cur.state in (RG, MOVED):
                new = UNK_PROV  # an in-place op on a leaf that requires grad raises (GL001)
            self._pending_prov.append((target, self._aug_regions(target, new)))
        else:
            self._pending_prov.append(None)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        found = self._pending_prov.pop()
        if found is not None:
            self._site = id(node)
            self._bind_prov(*found)
            self._site = None

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._pending_prov.append((node.target, self.prov(node.value)))

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._site = id(node)
        self._bind_prov(*self._pending_prov.pop())
        self._site = None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._handler_joins(node)
        if node.name is not None and type(node.name.name) is cst.Name:
            self._bind_prov(node.name.name, UNK_PROV)

    def visit_Global(self, node: cst.Global) -> None:
        # (what the outer binding holds when this runs is not known; the kind is looked up as before)
        self._scope.declared.update(n.name.value for n in node.names)

    visit_Nonlocal = visit_Global

    # ----------------------------------------------------------------------------- loops

    def _bind_loop_target(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> set[str]:
        """Bind a for-loop target; return the names bound to parameters."""
        elem = self._element_value(iterable)
        for name in target_names(target, starred=True):  # (recorded in the loop's frame, as their kind says)
            self._bind_key(name, UNKNOWN)
        params: set[str] = set()
        self._bind_elem(target, elem, params)
        return params

    def _element_value(self, iterable: cst.BaseExpression) -> Value | tuple | _Batch:
        if type(iterable) is cst.Call and type(iterable.func) is cst.Name:
            fname = iterable.func.value
            pos = _positional(iterable)
            if fname == "enumerate" and pos:
                return (OTHER, self._element_value(pos[0].value))
            if fname == "zip" and pos:
                return tuple(self._element_value(a.value) for a in pos)
        return self.elem_of(self.classify(iterable))

    def _bind_elem(self, target: cst.BaseExpression, elem: Value | tuple | _Batch, params: set[str]) -> None:
        if type(target) is cst.Name:
            # a whole batch may be a dict or a `BatchEncoding` (whose `.data` is a dict): only its unpacked
            # parts are known to be tensors
            v = elem if type(elem) is Value else UNKNOWN
            self._scope.bindings[target.value] = v
            if v.kind is K_LEAF:
                params.add(target.value)
        elif type(target) in (cst.Tuple, cst.List):
            els = [e.value for e in target.elements]
            if type(elem) is _Batch:
                for t in els:
                    self._bind_elem(t, elem.tensor if type(t) is cst.Name else elem, params)
            elif isinstance(elem, tuple) and len(elem) == len(els):
                for t, e in zip(els, elem):
                    self._bind_elem(t, e, params)
            elif type(elem) is Value and elem.deferred:
                for i, t in enumerate(els):
                    self._bind_elem(t, elem.step(f"#{i}"), params)
            else:
                for t in els:
                    self._bind_elem(t, UNKNOWN, params)

    # ----------------------------------------------------------------------------- frames

    def _push_frame(self) -> None:
        self._scope.frames.append(_Frame())

    def _pop_frame(self) -> None:
        scope = self._scope
        frame = scope.frames.pop()
        for key, values in frame.assigned.items():
            before = frame.before.get(key)
            candidates = list(values)
            if before is not None:
                candidates.append(before)
            cur = scope.bindings.get(key)
            final = _state(cur) if cur is not None else UNK_PROV
            first = candidates[0]
            for c in candidates:  # (a plain loop: `all(first.same(c) ...)` at every key of every frame)
                if not first.same(c):
                    final = UNK_PROV
                    break
            final = merge_regions(final, before, values)  # (None, DEFER: no regions)
            if scope.frames:
                parent = scope.frames[-1]
                if key not in parent.before:
                    parent.before[key] = before
                parent.assigned.setdefault(key, []).append(final)
            prov = None if final is DEFER else final
            if cur is None:
                scope.bindings[key] = Value(K_UNKNOWN, prov=prov)
            elif cur.prov is not prov:
                scope.bindings[key] = cur.with_prov(prov)

    def _enter_frame(self, node) -> None:
        self._push_frame()

    def _leave_frame(self, node) -> None:
        self._pop_frame()

    visit_TryStar = _enter_frame
    leave_TryStar = _leave_frame

    def visit_Try(self, node: cst.Try) -> None:
        self._push_frame()
        self._alt_enter(node)

    def leave_Try(self, node: cst.Try) -> None:
        self._alt_leave(node)
        self._pop_frame()

    def visit_Match(self, node) -> None:
        self._push_frame()
        self._alt_enter(node)

    def leave_Match(self, node) -> None:
        self._alt_leave(node)
        self._pop_frame()

    # ----------------------------------------------------------------------------- branches

    def visit_If(self, node: cst.If) -> None:
        top = self._branches[-1] if self._branches else None
        if top is not None and top.node.orelse is node:
            self._next_branch(top)  # `elif`: the earlier tests were false
        self._branches.append(_Branch(node, self._scope))
        self._push_frame()

    def visit_Else(self, node: cst.Else) -> None:
        top = self._branches[-1] if self._branches else None
        if top is not None and top.node.orelse is node:
            self._next_branch(top)
            return
        self._else_joins(node)  # a loop's or a try's `else:`

    def _next_branch(self, branch: "_Branch") -> None:
        branch.outcomes.append(dict(branch.scope.bindings))
        branch.scope.bindings.clear()
        branch.scope.bindings.update(branch.pre)
        branch.root_outcomes.append(branch.scope.roots)
        branch.scope.roots = dict(branch.pre_roots)
        if branch.loop_pre is not None:
            branch.loop_outcomes.append(_loop_state(branch.scope))
            _set_state(branch.scope, branch.loop_pre)

    def leave_If(self, original_node: cst.If) -> None:
        """After `if`/`elif`/`else`, a name holds the join of what each branch (or the fall-through) left."""
        branch = self._branches.pop()
        current = branch.scope.bindings
        outcomes = [*branch.outcomes, current]
        if original_node.orelse is None:
            outcomes.append(branch.pre)
        if len(outcomes) >= 2:
            merged, differing = _same_in_all(outcomes)  # (most names: the same value whatever the branch)
            for name in differing:
                values = [o[name] for o in outcomes if name in o]
                first = values[0]
                for v in values:  # (bound in some outcomes only, to one value)
                    if v is not first:
                        break
                else:
                    merged[name] = first
                    continue
                core = first if all(_same_core(v, first) for v in values) else join(values)
                provs = [v.prov for v in values]
                if original_node.orelse is None and name in branch.pre:
                    provs.insert(0, provs.pop())  # (the last one assigned in a branch wins a tie)
                prov = join_prov(provs)
                merged[name] = core if core.prov is prov else core.with_prov(prov)
            current.clear()
            current.update(merged)
        root_outcomes = [*branch.root_outcomes, branch.scope.roots]
        if original_node.orelse is None:
            root_outcomes.append(branch.pre_roots)
        if len(root_outcomes) >= 2:
            branch.scope.roots = _union_roots(root_outcomes)
        if branch.loop_pre is not None:
            states = [*branch.loop_outcomes, _loop_state(branch.scope)]
            if original_node.orelse is None:
                states.append(branch.loop_pre)
            _set_state(branch.scope, _merge_states(states))
        self._pop_frame()

    # ----------------------------------------------------------------------------- comprehensions

    def _enter_lambda(self, node: cst.Lambda) -> None:
        self._comp_targets.append({p.name.value for p in node.params.params})
        self._lambdas += 1

    def _leave_lambda(self, node: cst.Lambda) -> None:
        self._comp_targets.pop()
        self._lambdas -= 1

    def _enter_comp(self, node) -> None:
        found: set[str] = set()
        comp = node.for_in
        while comp is not None:
            found.update(target_names(comp.target, starred=True))
            comp = comp.inner_for_in
        self._comp_targets.append(found)

    def _leave_comp(self, node) -> None:
        self._comp_targets.pop()

    visit_Lambda = _enter_lambda
    leave_Lambda = _leave_lambda
    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp


def _same_in_all(outcomes: list[dict[str, Value]]) -> tuple[dict[str, Value], set[str]]:
    """The names bound to one same value (object) in every outcome, with it; and the other names (bound in
    some outcomes only, or to different values). One pass over each outcome's items instead of a lookup of
    every name in every outcome."""
    first = outcomes[0]
    get = first.get
    differing: set[str] = set()
    for o in outcomes[1:]:
        if o is first:
            continue
        common = 0
        for name, v in o.items():
            if get(name) is v:
                common += 1
            else:
                differing.add(name)
        if common != len(first):  # names of `first` that `o` does not bind
            for name in first:
                if name not in o:
                    differing.add(name)
    same = {name: v for name, v in first.items() if name not in differing} if differing else dict(first)
    return same, differing


def _union_roots(outcomes: list[dict[str, frozenset[int]]]) -> dict[str, frozenset[int]]:
    """Where paths meet: a key carries the graphs any path left it (bound on one path only: that path's)."""
    out = dict(outcomes[0])
    for other in outcomes[1:]:
        for key, roots in other.items():
            cur = out.get(key)
            if cur is None:
                out[key] = roots
            elif cur is not roots:
                out[key] = cur | roots
    return out


# libraries whose lowercase attributes may be model factories or modules (`models.resnet18`)
_MODULE_LIBRARIES = frozenset("torch torchvision torchaudio torchtext timm transformers lightning pytorch_lightning "
                              "diffusers peft accelerate".split())
