"""Loop back-edge joins of the one binding table (`gradlint.model.bindings`): at a loop's head a name holds
the join of its value before the loop and what each iteration leaves for the next (at the end of the body
and at each `continue`), so a value that differs across iterations is known per iteration.

The walk keeps, for each loop of the scope being walked (`LoopJoin`, innermost last), which binding sites
of each key may reach the current point since the loop's head (`HEAD` standing for the head's own value):
a binding replaces them, paths that meet merge them (after `if`/`elif`/`else`, `try`/`except`/`else`,
`match` cases, and an inner loop, which may run no iteration), and `continue`/`break`/`return`/`raise`
make the rest of their block unreachable. A fact that reads a key records which bindings reach it
(`Reach`, from `reach(key)`), and after the walk the rules ask `model.loop_joins` (`LoopJoins`):

    at_loop_entry(loop, key)                 the value at the head, on any iteration
    value_from_previous_iteration(loop, key) what an iteration leaves for the next (None: never rebound)
    rebound_in_loop(loop, key, besides=stmt) does another statement of the body bind it?
    bound_this_iteration(loop, reach, sites) was it bound on every path since the head (by these sites)?
    crosses_iterations(loop, reach, stmt)    does the statement read the previous iteration's value, and
                                             does what it leaves reach the next iteration?
    runs_every_iteration(loop, node)         is the call or statement `node` (marked in the walk: `mark_runs`)
                                             on every path from the head to the end of the body?
    roots_from_previous_iteration(loop, key) the graphs (`bindings`: graph roots) what an iteration leaves in
    roots_at_loop_entry(loop, key)           `key` carries into the next; those and the ones before the loop

One walk of the tree, one pass over each body: the head's value is the join of the value before the loop
and the values the first pass leaves at its back-edges; the body is not evaluated again from that join, and
values that disagree join to unknown (`values.join`), which bounds the iteration. Calls that re-create what
a name holds without rebinding it also count as bindings here: `x.clear()`, `del x[:]`, `detach_hidden(h)`,
`repackage_hidden(h)`, `x.requires_grad_()`, `x.retain_grad()`.

`LoopJoinWalk` is a mixin of `ModelBuilder` (through `Bindings`).
"""

from __future__ import annotations

import libcst as cst

from gradlint.model.facts import LoopInfo
from gradlint.model.names import dotted
from gradlint.model.values import Value, join, join_prov

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

    __slots__ = ("backs", "defs", "end", "loop", "orelse_done", "outer_backs", "outer_breaks", "outer_pre", "parent", "pre",
                 "pre_roots", "root_backs", "root_keys", "sites")

    def __init__(self, loop: LoopInfo, scope) -> None:
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
        self.end: dict[str, frozenset[int]] | None = None  # `defs` at the end of the body (None: not reached)
        # the graph roots (`_Scope.roots`) before the loop, the keys whose roots the body sets, and their
        # roots at each back-edge
        self.pre_roots = dict(scope.roots)
        self.root_keys: set[str] = set()
        self.root_backs: list[dict[str, frozenset[int] | None]] = []

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

    def roots_from_previous_iteration(self, loop: LoopInfo, key: str) -> frozenset[int] | None:
        """The graphs (`gradlint.model.bindings`: graph roots) that what an iteration of `loop` leaves in
        `key` may carry into the next one — the union over the back-edges; None when the body never sets
        them (the value before the loop reaches every iteration)."""
        lj = self._join(loop)
        if lj is None or key not in lj.root_keys:
            return None
        out: frozenset[int] = frozenset()
        found = False
        for back in lj.root_backs:
            roots = back.get(key, lj.pre_roots.get(key))  # (a back-edge before its first binding: the head's)
            if roots is not None:
                out |= roots
                found = True
        return out if found else None

    def roots_at_loop_entry(self, loop: LoopInfo, key: str) -> frozenset[int] | None:
        """The graphs `key` may carry at the head of `loop` on any iteration: those before the loop and those
        each iteration leaves (None: no graph value bound)."""
        lj = self._join(loop)
        if lj is None:
            return None
        before = lj.pre_roots.get(key)
        prev = self.roots_from_previous_iteration(loop, key)
        if prev is None:
            return before
        return prev if before is None else before | prev

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

    def runs_every_iteration(self, loop: LoopInfo, node: cst.CSTNode) -> bool:
        """Does every iteration of `loop` that runs to the end of its body run `node` — a call or statement
        the walk marked (`LoopJoinWalk.mark_runs`): is it on every path from the loop's head to the end of the
        body? Not in a branch, a handler, a `try` body a handler may cut short, an inner loop (which may run no
        iteration), or a lambda; an iteration cut short by `continue` does not count. When no path reaches the
        end of the body, every `continue` counts instead; a loop left on every path has no back-edge: False."""
        lj = self._join(loop)
        key = _run_key(node)
        if lj is None or key not in lj.sites or not lj.backs:
            return False
        if lj.end is not None:
            return HEAD not in lj.end.get(key, _HEAD_ONLY)
        return HEAD not in lj.back_defs(key)


def _run_key(node: cst.CSTNode) -> str:
    """The pseudo-key under which `mark_runs` records a node as a binding site of its own."""
    return f"<runs {id(node)}>"


def _loop_state(scope) -> list:
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


class _Alt:
    """A `try` or `match` walked in a loop: the loop state before it, at the end of the try body, and at the
    end of each finished alternative (handlers, `else:`, cases)."""

    __slots__ = ("body_end", "body_used", "node", "outs", "pre", "scope")

    def __init__(self, node, scope) -> None:
        self.node = node
        self.scope = scope
        self.pre = _loop_state(scope)
        self.body_end: list | None = None
        self.outs: list[list] = []
        self.body_used = False


def _set_state(scope, state: list) -> None:
    for lj, defs in zip(scope.joins, state):
        lj.defs = None if defs is None else dict(defs)


def _same_core(a: Value, b: Value) -> bool:
    return a.kind is b.kind and a.origin == b.origin and a.cls == b.cls and a.ref == b.ref and a.path == b.path


class LoopJoinWalk:
    """The walk's side of the loop joins (mixed into `ModelBuilder` through `Bindings`)."""

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

    def mark_runs(self, node: cst.CSTNode) -> None:
        """Record that `node` runs here, for `LoopJoins.runs_every_iteration` (a pseudo-key bound at this
        point, so the binding sites reaching the end of the body tell whether every path passed it). Nothing
        in a lambda runs here (it runs when called)."""
        if not self._scope.joins or self._lambdas:
            return
        saved, self._site = self._site, id(node)
        self._mark_bound(_run_key(node))
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
        roots = scope.roots
        lj.root_backs.append({k: roots.get(k) for k in lj.root_keys})  # (keys set later: the head's on this path)
        lj.outer_backs.append(_loop_state(scope)[:-1])

    def _leave_loop_body(self) -> None:
        """The end of the innermost loop's body: a back-edge; the loop leaves from its head."""
        scope = self._scope
        lj = scope.joins[-1]
        self._back_edge(lj)
        lj.end = lj.defs
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

    # ------------------------------------------------------------------ try / match: alternatives

    def _alt_enter(self, node) -> None:
        if self._scope.joins:
            self._alts.append(_Alt(node, self._scope))

    def _alt_leave(self, node) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is None or alt.node is not node:
            return
        if type(node) is cst.Try:
            self._settle(alt)
        else:
            last = node.cases[-1] if node.cases else None
            wildcard = (last is not None and last.guard is None and type(last.pattern) is cst.MatchAs
                        and last.pattern.pattern is None)  # `case _:` / `case name:` always matches
            states = [_loop_state(alt.scope), *alt.outs] + ([] if wildcard else [alt.pre])  # (no case may match)
            _set_state(alt.scope, _merge_states(states))
        self._alts.pop()

    def _handler_joins(self, node: cst.ExceptHandler) -> None:
        """A handler may start anywhere in the try body: from the state before it or at its end."""
        alt = self._alts[-1] if self._alts else None
        if alt is None or not any(h is node for h in alt.node.handlers):
            return
        if alt.body_end is None:
            alt.body_end = _loop_state(alt.scope)
        else:
            alt.outs.append(_loop_state(alt.scope))
        _set_state(alt.scope, _merge_states([alt.pre, alt.body_end]))

    def _else_joins(self, node: cst.Else) -> None:
        joins = self._scope.joins
        if joins and joins[-1].loop.node.orelse is node:
            self._leave_loop_body()  # the loop's `else:` runs after its head exits
            return
        alt = self._alts[-1] if self._alts else None
        if alt is not None and type(alt.node) is cst.Try and alt.node.orelse is node and alt.body_end is not None:
            alt.outs.append(_loop_state(alt.scope))  # the try's `else:` continues its body
            _set_state(alt.scope, alt.body_end)
            alt.body_used = True

    def visit_Finally(self, node: cst.Finally) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and type(alt.node) is cst.Try and alt.node.finalbody is node:
            self._settle(alt)

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

    def visit_MatchCase(self, node) -> None:
        alt = self._alts[-1] if self._alts else None
        if alt is not None and type(alt.node) is not cst.Try and any(c is node for c in alt.node.cases):
            if alt.body_used:
                alt.outs.append(_loop_state(alt.scope))
            alt.body_used = True
            _set_state(alt.scope, alt.pre)
