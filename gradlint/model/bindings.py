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
- `x = ...` forgets what was known of `x.attr` keys.
Comprehension and lambda variables are local to their expression (`_comp_targets`).

`Bindings` is a mixin of `ModelBuilder`.
"""

from __future__ import annotations

import libcst as cst

from gradlint.model.evaluate import OTHER, _Batch, _positional
from gradlint.model.facts import ClassInfo, FunctionInfo, LoopInfo
from gradlint.model.names import dotted, is_inplace_method, target_names
from gradlint.model.values import GRADISH, MOVED, NUM, PLAIN, RG, UNK_PROV, UNK_STATE, UNKNOWN, Kind, Prov, Value, join, join_prov

DEFER = Prov(state="defer")  # in a frame: bound, with the provenance its kind gives


class _Frame:
    """A compound statement being walked: the provenance of each key before it, and every one assigned in it."""

    __slots__ = ("before", "assigned")

    def __init__(self) -> None:
        self.before: dict[str, Prov | None] = {}
        self.assigned: dict[str, list[Prov]] = {}


class _Scope:
    __slots__ = ("bindings", "parent", "function", "class_info", "frames", "dotted_heads", "uid", "declared", "joins")
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

    def lookup(self, name: str) -> Value | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None


class _Branch:
    """An `if` statement being walked: the bindings before it and what each finished branch left."""

    __slots__ = ("node", "scope", "pre", "outcomes", "loop_pre", "loop_outcomes")

    def __init__(self, node: cst.If, scope: "_Scope") -> None:
        self.node = node
        self.scope = scope
        self.pre = dict(scope.bindings)
        self.outcomes: list[dict[str, Value]] = []
        # the binding sites reaching here, per enclosing loop of the scope (`LoopJoin.defs`)
        self.loop_pre = _loop_state(scope) if scope.joins else None
        self.loop_outcomes: list[list] = []


class _Alt:
    """A `try` or `match` walked in a loop: the loop state before it, at the end of the try body, and at the
    end of each finished alternative (handlers, `else:`, cases)."""

    __slots__ = ("body_end", "body_used", "node", "outs", "pre", "scope")

    def __init__(self, node, scope: _Scope) -> None:
        self.node = node
        self.scope = scope
        self.pre = _loop_state(scope)
        self.body_end: list | None = None
        self.outs: list[list] = []
        self.body_used = False


def _set_state(scope: _Scope, state: list) -> None:
    for lj, defs in zip(scope.joins, state):
        lj.defs = None if defs is None else dict(defs)


def _state(v: Value | None) -> Prov | None:
    """A binding's provenance for a frame: None when unbound, DEFER when its kind decides."""
    if v is None:
        return None
    return DEFER if v.prov is None else v.prov


def _same_core(a: Value, b: Value) -> bool:
    return a.kind is b.kind and a.origin == b.origin and a.cls == b.cls and a.ref == b.ref and a.path == b.path

# ----------------------------------------------------------------------------- loop back-edges

HEAD = 0  # a binding site: the value a loop head holds (from before the loop, or left by the previous iteration)
_HEAD_ONLY = frozenset((HEAD,))


class LoopJoin:
    """One loop's back-edge join: what each key holds at the loop head, and which bindings reach where.

    While the body is walked, `defs` maps each key bound since the head (on some path) to the binding
    sites that may reach the current point (`HEAD` among them when a path has not rebound it since the
    head); None while the current point cannot be reached (after `continue`/`break`/`return`/`raise`).
    A site is `id()` of the binding statement or call. At each back-edge (`continue`, the end of the
    body) the sites and the values are kept (`backs`). The head's value is then the join of the value
    before the loop (`pre`) and every back-edge's: one pass over the body, bounded — the body is not
    re-evaluated from the joined head, and values that disagree join to unknown (`values.join`)."""

    __slots__ = ("backs", "defs", "loop", "orelse_done", "outer_backs", "outer_breaks", "outer_pre", "parent", "pre",
                 "sites")

    def __init__(self, loop: LoopInfo, scope: _Scope) -> None:
        self.loop = loop
        self.pre = dict(scope.bindings)
        self.parent = scope.parent
        self.defs: dict[str, frozenset[int]] | None = {}
        self.backs: list[tuple[dict[str, frozenset[int]], dict[str, Value | None]]] = []
        self.sites: dict[str, set[int]] = {}  # every site binding a key in the body (nested blocks included)
        # the enclosing loops' `defs` at this loop's head, at its back-edges and at its `break`s
        self.outer_pre = _loop_state(scope)
        self.outer_backs: list[list] = []
        self.outer_breaks: list[list] = []
        self.orelse_done = False

    def before(self, key: str) -> Value | None:
        if key in self.pre:
            return self.pre[key]
        return self.parent.lookup(key) if self.parent is not None else None

    def back_defs(self, key: str) -> frozenset[int]:
        """The sites whose value of `key` an iteration leaves for the next one (HEAD: one it did not rebind)."""
        out: frozenset[int] = frozenset()
        for defs, _ in self.backs:
            out |= defs.get(key, _HEAD_ONLY)
        return out


class Reach:
    """Which bindings of `key` may reach a point in a loop body, for each enclosing loop of its scope (the
    innermost last): recorded by a fact where it reads the key (`Bindings.reach`), asked after the walk
    (`LoopJoins`)."""

    __slots__ = ("defs", "key")

    def __init__(self, key: str, defs: tuple) -> None:
        self.key = key
        self.defs: tuple[tuple[LoopInfo, frozenset[int]], ...] = defs

    def at(self, loop: LoopInfo) -> frozenset[int] | None:
        for lp, d in self.defs:
            if lp is loop:
                return d
        return None


class LoopJoins:
    """The queries on loop back-edges (`model.loop_joins`): what a name holds at a loop's head, what the
    previous iteration left, and whether what one iteration leaves reaches a point of the next."""

    def __init__(self) -> None:
        self.by_loop: dict[int, LoopJoin] = {}  # id(LoopInfo) -> its join

    def _join(self, loop: LoopInfo) -> LoopJoin | None:
        return self.by_loop.get(id(loop))

    def at_loop_entry(self, loop: LoopInfo, key: str) -> Value | None:
        """What `key` holds at the head of `loop` on any iteration: the join of its value before the loop and
        what each iteration leaves (the end of the body, each `continue`); None when not bound."""
        lj = self._join(loop)
        if lj is None:
            return None
        before = lj.before(key)
        prev = self.value_from_previous_iteration(loop, key)
        if prev is None:
            return before
        if before is None:
            return prev
        return _join_values([before, prev])

    def value_from_previous_iteration(self, loop: LoopInfo, key: str) -> Value | None:
        """What an iteration of `loop` leaves in `key` for the next one, when some path through the body
        rebinds it; None when no iteration does (the value is the same on every iteration)."""
        lj = self._join(loop)
        if lj is None or key not in lj.sites:
            return None
        values = []
        for defs, vals in lj.backs:
            if defs.get(key, _HEAD_ONLY) == _HEAD_ONLY:
                v = lj.before(key)  # this path did not rebind it
            else:
                v = vals.get(key)
            if v is not None:
                values.append(v)
        if not values:
            return None
        return values[0] if all(v is values[0] for v in values) else _join_values(values)

    def rebound_in_loop(self, loop: LoopInfo, key: str, besides: cst.CSTNode | None = None) -> bool:
        """Does a statement of the body of `loop` (nested blocks included) other than `besides` bind `key`?"""
        lj = self._join(loop)
        if lj is None:
            return False
        sites = lj.sites.get(key)
        return bool(sites) and (besides is None or any(s != id(besides) for s in sites))

    def bound_this_iteration(self, loop: LoopInfo, reach: Reach | None, sites=None) -> bool:
        """At the point of `reach`, was its key bound on every path since the head of `loop` (what earlier
        iterations left does not reach it) — and, given `sites` (statements or calls), only by those?"""
        defs = reach.at(loop) if reach is not None else None
        if not defs or HEAD in defs:
            return False
        if sites is None:
            return True
        ids = {id(n) for n in sites}
        return all(d in ids for d in defs)

    def crosses_iterations(self, loop: LoopInfo, reach: Reach | None, stmt: cst.CSTNode) -> bool:
        """Does the value `stmt` reads for `reach.key` come from the previous iteration of `loop`, and does what
        it leaves (its own binding, or the value it reads and updates in place) reach the next iteration?"""
        lj = self._join(loop)
        defs = reach.at(loop) if reach is not None else None
        if lj is None or defs is None:
            return True  # (not known: as if carried)
        if HEAD not in defs:
            return False  # bound on every path since the head, before `stmt`
        own = id(stmt)
        after = frozenset((own,)) if own in lj.sites.get(reach.key, ()) else defs
        return bool(after & lj.back_defs(reach.key))


def _loop_state(scope: _Scope) -> list:
    """A copy of the binding sites reaching the current point, one entry per loop of the scope."""
    return [None if lj.defs is None else dict(lj.defs) for lj in scope.joins]


def _merge_defs(states: list) -> dict | None:
    live = [d for d in states if d is not None]
    if not live:
        return None
    if len(live) == 1:
        return dict(live[0])
    out: dict[str, frozenset[int]] = {}
    for key in set().union(*live):
        sites: frozenset[int] = frozenset()
        for d in live:
            sites |= d.get(key, _HEAD_ONLY)
        out[key] = sites
    return out


def _merge_states(states: list[list]) -> list:
    """Where paths meet: per loop, a key may hold a binding from any of them (HEAD where one did not bind it)."""
    return [_merge_defs([st[i] for st in states]) for i in range(len(states[0]))]


def _join_values(values: list[Value]) -> Value:
    first = values[0]
    core = first if all(_same_core(v, first) for v in values) else join(values)
    prov = join_prov([v.prov for v in values])
    return core if core.prov is prov else core.with_prov(prov)



class Bindings:
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
        self._bind_key(key, Value(Kind.UNKNOWN, prov=prov) if cur is None else cur.with_prov(prov))

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
            each = value if value.kind is Kind.TENSOR and value.origin.startswith("a model output") else UNKNOWN
            for i, el in enumerate(target.elements):
                p = prov[i] if type(prov) is tuple else UNK_PROV
                self._bind(el.value, each, p)
        elif type(target) is cst.Attribute:
            if type(target.value) is cst.Name and self.classify(target.value).kind is Kind.SELF:
                cls = self.scope_class()
                if cls is not None and (value.kind is not Kind.UNKNOWN or value.deferred):
                    cls.attrs[target.attr.value] = value.with_prov(None) if value.prov is not None else value
            key = dotted(target)
            if key is not None and prov is not None and type(prov) is not tuple:
                self._bind_key(key, Value(Kind.UNKNOWN, prov=prov))

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
            if (
                type(target) in (cst.Tuple, cst.List)
                and type(node.value) in (cst.Tuple, cst.List)
                and len(target.elements) == len(node.value.elements)
                and all(type(e) is cst.Element for e in (*target.elements, *node.value.elements))
            ):
                # `net, loss = linreg, squared_loss`: each name is bound to its own value
                pending += [(el.value, self._function_reference(src.value) or self.classify(src.value),
                             self.prov(src.value)) for el, src in zip(target.elements, node.value.elements)]
                continue
            pending.append((target, self._function_reference(node.value) or rhs, rprov))
        return pending

    def _function_reference(self, rhs: cst.BaseExpression) -> Value | None:
        """A function referred to without calling it, which `net = ...` may hold but no model is:
        a lambda, a function of the file, a function of an imported non-torch module (`d2l.linreg`)."""
        if type(rhs) is cst.Lambda:
            return Value(Kind.OTHER, "a lambda")
        if type(rhs) is cst.Name:
            if rhs.value in self._module_functions and self._scope.lookup(rhs.value) is None:
                return Value(Kind.OTHER, f"the function `{rhs.value}`")
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
        return Value(Kind.OTHER, f"the function `{head}.{attr}`")


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
            self._bind_prov(recv, self._detach(self.prov(recv), node))
        elif is_inplace_method(method):
            cur = self.prov(recv)
            if cur.state == PLAIN and any(self.prov(a.value).state != NUM for a in node.args):
                self._bind_prov(recv, UNK_PROV)

    def _aug_assign_prov(self, node: cst.AugAssign) -> None:
        target = node.target
        if type(target) in (cst.Name, cst.Attribute) and dotted(target) is not None:
            cur = self.prov(target)
            new = self._op([cur, self.prov(node.value)], node, "an in-place op")
            if cur.state in (RG, MOVED):
                new = UNK_PROV  # an in-place op on a leaf that requires grad raises (GL001)
            self._pending_prov.append((target, new))
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
        alt = self._alts[-1] if self._alts else None
        if alt is not None and any(h is node for h in alt.node.handlers):
            # a handler may start anywhere in the try body
            if alt.body_end is None:
                alt.body_end = _loop_state(alt.scope)
            else:
                alt.outs.append(_loop_state(alt.scope))
            _set_state(alt.scope, _merge_states([alt.pre, alt.body_end]))
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
            if v.kind is Kind.LEAF:
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
            if not all(first.same(c) for c in candidates):
                final = UNK_PROV
            if scope.frames:
                parent = scope.frames[-1]
                if key not in parent.before:
                    parent.before[key] = before
                parent.assigned.setdefault(key, []).append(final)
            prov = None if final is DEFER else final
            if cur is None:
                scope.bindings[key] = Value(Kind.UNKNOWN, prov=prov)
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
        if self._scope.joins:
            self._alts.append(_Alt(node, self._scope))

    def visit_Finally(self, node: cst.Finally) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and alt.node.finalbody is node:
            self._settle(alt)

    def leave_Try(self, node: cst.Try) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and alt.node is node:
            self._settle(alt)
            self._alts.pop()
        self._pop_frame()

    def _settle(self, alt: _Alt) -> None:
        """After a try's body, handlers and `else:`: any of them may have run last."""
        if alt.body_end is None:
            return
        states = [_loop_state(alt.scope), *alt.outs]
        if not alt.body_used:
            states.append(alt.body_end)
        _set_state(alt.scope, _merge_states(states))
        alt.body_end = None
        alt.outs = []

    def visit_Match(self, node) -> None:
        self._push_frame()
        if self._scope.joins:
            self._alts.append(_Alt(node, self._scope))

    def visit_MatchCase(self, node) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and any(c is node for c in alt.node.cases):
            if alt.body_used:
                alt.outs.append(_loop_state(alt.scope))
            alt.body_used = True
            _set_state(alt.scope, alt.pre)

    def leave_Match(self, node) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and alt.node is node:
            _set_state(alt.scope, _merge_states([_loop_state(alt.scope), *alt.outs, alt.pre]))  # (no case may match)
            self._alts.pop()
        self._pop_frame()

    # ----------------------------------------------------------------------------- loop back-edges

    def _mark_bound(self, key: str) -> None:
        site = self._site
        if site is None:
            self._anon_site -= 1
            site = self._anon_site
        one = frozenset((site,))
        for lj in self._scope.joins:
            if lj.defs is not None:
                lj.defs[key] = one
            lj.sites.setdefault(key, set()).add(site)

    def _renew(self, target: cst.BaseExpression, node: cst.CSTNode) -> None:
        """`x.clear()`, `del x[:]`, `detach_hidden(x)`, `x.requires_grad_()`: what `x` holds from here on
        is made here, for the loop joins (its value in the table stays what it was)."""
        if not self._scope.joins:
            return
        key = dotted(target)
        if key is None:
            return
        saved, self._site = self._site, id(node)
        self._mark_bound(key)
        self._site = saved

    def reach(self, key: str) -> Reach | None:
        """Which bindings of `key` may reach this point, per enclosing loop of the scope (None outside loops)."""
        joins = self._scope.joins
        if not joins:
            return None
        return Reach(key, tuple((lj.loop, frozenset() if lj.defs is None else lj.defs.get(key, _HEAD_ONLY))
                                for lj in joins))

    def _enter_loop(self, loop: LoopInfo) -> None:
        lj = LoopJoin(loop, self._scope)
        self._scope.joins.append(lj)
        self.loop_joins.by_loop[id(loop)] = lj

    def _back_edge(self, lj: LoopJoin) -> None:
        """`continue` or the end of the body of the innermost loop: back to its head."""
        if lj.defs is None:
            return
        scope = self._scope
        lj.backs.append((dict(lj.defs), {k: scope.lookup(k) for k in lj.defs}))
        lj.outer_backs.append(_loop_state(scope)[:-1])

    def _leave_loop_body(self) -> None:
        """The end of the innermost loop's body: a back-edge; the loop leaves from its head."""
        scope = self._scope
        lj = scope.joins[-1]
        self._back_edge(lj)
        scope.joins.pop()
        lj.orelse_done = True
        if scope.joins:
            _set_state(scope, _merge_states([lj.outer_pre, *lj.outer_backs]))

    def _leave_loop(self, loop: LoopInfo) -> None:
        lj = self.loop_joins.by_loop.get(id(loop))
        if lj is None:
            return
        if not lj.orelse_done:
            self._leave_loop_body()
        scope = self._scope
        if scope.joins and lj.outer_breaks:
            _set_state(scope, _merge_states([_loop_state(scope), *lj.outer_breaks]))

    def _unreachable(self) -> None:
        for lj in self._scope.joins:
            lj.defs = None

    def visit_Continue(self, node: cst.Continue) -> None:
        joins = self._scope.joins
        if joins:
            self._back_edge(joins[-1])
            self._unreachable()

    def visit_Break(self, node: cst.Break) -> None:
        joins = self._scope.joins
        if joins:
            if joins[-1].defs is not None:
                joins[-1].outer_breaks.append(_loop_state(self._scope)[:-1])
            self._unreachable()

    def leave_Raise(self, node: cst.Raise) -> None:
        if self._scope.joins:
            self._unreachable()

    leave_Return = leave_Raise

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
        joins = self._scope.joins
        if joins and joins[-1].loop.node.orelse is node:
            self._leave_loop_body()  # the loop's `else:` runs after its head exits
            return
        alt = self._alts[-1] if self._alts else None
        if alt is not None and alt.node.orelse is node and alt.body_end is not None:
            alt.outs.append(_loop_state(alt.scope))  # the try's `else:` continues its body
            _set_state(alt.scope, alt.body_end)
            alt.body_used = True

    def _next_branch(self, branch: "_Branch") -> None:
        branch.outcomes.append(dict(branch.scope.bindings))
        branch.scope.bindings.clear()
        branch.scope.bindings.update(branch.pre)
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
            merged: dict[str, Value] = {}
            for name in set().union(*outcomes):
                values = [o[name] for o in outcomes if name in o]
                first = values[0]
                if all(v is first for v in values):
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
        if branch.loop_pre is not None:
            states = [*branch.loop_outcomes, _loop_state(branch.scope)]
            if original_node.orelse is None:
                states.append(branch.loop_pre)
            _set_state(branch.scope, _merge_states(states))
        self._pop_frame()

    # ----------------------------------------------------------------------------- comprehensions

    def _enter_lambda(self, node: cst.Lambda) -> None:
        self._comp_targets.append({p.name.value for p in node.params.params})

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
    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comp
    leave_Lambda = leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp


# libraries whose lowercase attributes may be model factories or modules (`models.resnet18`)
_MODULE_LIBRARIES = frozenset("torch torchvision torchaudio torchtext timm transformers lightning pytorch_lightning "
                              "diffusers peft accelerate".split())
