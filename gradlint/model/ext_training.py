"""Graph facts of training code (GL003 `.data` writes, GL006 graph-accumulated, GL013
backward-through-freed-graph), recorded in the builder's single walk.

What a backward pass, an optimizer step, an optimizer and a gradient reset are is decided once, by the
core model (`gradlint.model.training`: `model.backwards`, `model.steps`, `model.optimizers`,
`model.resets`). This extension adds what only the graph evaluator (`gradlint.model.graph`) can tell:

- for each backward pass, the graph roots it frees and its `retain_graph`/`create_graph` flags, and its
  position in the block structure (for "runs after": `may_precede`, `dominates`); the position of each
  optimizer step (`step_path`);
- module calls as graph roots (`ModelRoot`), in-place writes through `.data` (`DataWrite`), the operands
  an op saved for its backward (`saved_inputs`);
- accumulations (`acc += t`, `acc = acc + t`, `acc.append(t)`, `d[k] += t`, `acc = torch.cat([acc, t])`),
  assignments and clears per loop (is the accumulator re-created every iteration?), names returned;
- carried assignments: `h = f(..., h, ...)` inside a loop where the new value carries a graph built on
  the value of `h` it reads (not through `.detach()`); whether that value is what the previous iteration
  left, and whether what it leaves reaches the next one, is the binding table's (`model.loop_joins`).

Everything is per function (`fn`), with the enclosing loops of that function (`loops`, outermost first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from gradlint.model.builder import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo
from gradlint.model.graph import (  # noqa: F401  (re-exported: the rules import them from here)
    _SAVES_RESULT,
    EMPTY,
    GRAPH_REUSE_WORDS,
    Accumulation,
    Backward,
    Binding,
    Carried,
    DataWrite,
    GraphEvaluator,
    ModelRoot,
    _accumulated_piece,
    _keys_in,
    _target_keys,
    dominates,
)
from gradlint.model.names import dotted, is_inplace_method
from gradlint.model.training import RESET_NAME, Step, _is_grad_attr, parameters_owner


@dataclass
class _FnState:
    """What built each name of a function (GL006 asks which names a value was computed from, and what the
    function returns). The graphs the names carry are the binding table's (`Bindings.roots_of`)."""

    # key -> the expressions its value was computed from (their keys are read only when a rule asks:
    # derived_closure: scanning every right-hand side during the walk was one of its largest costs)
    derived: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    derived_keys: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    returned_src: list[cst.CSTNode] = field(default_factory=list)  # returned / yielded expressions

    @property
    def returned(self) -> set[str]:
        """Keys mentioned in what the function returns or yields."""
        keys: set[str] = set()
        for src in self.returned_src:
            keys |= _keys_in(src)
        return keys


class TrainingFacts(GraphEvaluator, Extension):
    name = "training"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.backwards: list[Backward] = []  # the core model's backward passes, with their graphs
        self.step_paths: dict[int, tuple[tuple[int, int], ...]] = {}  # id(step call) -> its block path
        self.accumulations: list[Accumulation] = []
        self.bindings: list[Binding] = []
        self.carried: list[Carried] = []
        self.model_roots: dict[int, ModelRoot] = {}  # root id -> the module call that made it
        self.data_writes: dict[int, DataWrite] = {}  # id(`X.data` node) -> the write
        # op root -> the names whose values that op saved for its backward (`x * x` saves `x`)
        self.saved_inputs: dict[int, frozenset[str]] = {}
        self._param_loop: dict[tuple[int, str], str] = {}  # (id(fn) or 0, loop name) -> the module it ranges over
        self.jumps: dict[int, int] = {}  # block frame id -> the first `continue`/`break`/`return`/`raise` in it
        self._graph_reuse_possible = builder.mentions(*GRAPH_REUSE_WORDS)
        self.exits: set[int] = set()  # id(loop) of loops with a break/return inside
        self.loop_start_root: dict[int, int] = {}
        self.fn_state: dict[int, _FnState] = {}  # id(fn) or 0 -> state
        self._states: list[_FnState] = [_FnState()]
        self.fn_state[0] = self._states[0]
        self._next_root = 1
        self._frames: list[list[int]] = []  # block frames: [frame id, statement counter]
        self._frame_id = 0
        self._elifs: set[int] = set()
        self._stmt: cst.CSTNode | None = None
        self._override: dict[str, frozenset[int]] | None = None
        self.model = None

    @property
    def _st(self) -> _FnState:
        return self._states[-1]

    def finish(self, model) -> None:
        self.model = model
        joins = model.loop_joins
        for b in self.backwards:  # (the back-edges are known once the walk has left the loop)
            if b.loops and joins.runs_every_iteration(b.loops[-1], b.node):
                b.unconditional_in = b.loops[-1]

    def visit_Module(self, node: cst.Module) -> None:
        self._push_frame()

    def leave_Module(self, node: cst.Module) -> None:
        self._frames.pop()

    def _push_frame(self) -> None:
        self._frame_id += 1
        self._frames.append([self._frame_id, 0])

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._push_frame()

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._frames.pop()

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._push_frame()

    def leave_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._frames.pop()

    def _count(self) -> None:
        if self._frames:
            self._frames[-1][1] += 1

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._count()
        self._stmt = node

    def visit_If(self, node: cst.If) -> None:
        if id(node) not in self._elifs:
            self._count()
        if type(node.orelse) is cst.If:
            self._elifs.add(id(node.orelse))

    def visit_With(self, node: cst.With) -> None:
        self._count()

    def visit_Try(self, node: cst.Try) -> None:
        self._count()

    def visit_Match(self, node) -> None:
        self._count()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._count()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._count()
        st = _FnState()
        self._states.append(st)
        fn = self.b.function
        if fn is not None:
            self.fn_state[id(fn)] = st

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._states.pop()

    def visit_For(self, node: cst.For) -> None:
        self._count()
        loop = self.b.loop
        # the target: elements of a graph-carrying container carry its graph
        r = self.roots(node.iter)
        owner = parameters_owner(node.iter)
        if owner:
            tgt = node.target
            if node.iter.func.attr.value == "named_parameters" and type(tgt) is cst.Tuple and len(tgt.elements) == 2:
                tgt = tgt.elements[1].value
            if type(tgt) is cst.Name:
                fn = self.b.function
                self._param_loop[(id(fn) if fn is not None else 0, tgt.value)] = owner
        for key in _target_keys(node.target):
            self.b.bind_roots(key, r)
        if loop is not None:
            self.loop_start_root[id(loop)] = self._next_root + 1

    def visit_While(self, node: cst.While) -> None:
        self._count()
        loop = self.b.loop
        if loop is not None:
            self.loop_start_root[id(loop)] = self._next_root + 1

    def _jump(self) -> None:
        if self._frames:
            self.jumps.setdefault(self._frames[-1][0], self._frames[-1][1])

    def visit_Continue(self, node: cst.Continue) -> None:
        self._jump()

    def visit_Raise(self, node: cst.Raise) -> None:
        self._jump()

    def visit_Break(self, node: cst.Break) -> None:
        self._jump()
        loop = self.b.loop
        if loop is not None:
            self.exits.add(id(loop))

    def visit_Return(self, node: cst.Return) -> None:
        self._jump()
        for loop in self.b.enclosing_loops:
            self.exits.add(id(loop))
        if node.value is not None:
            self._st.returned_src.append(node.value)
            fn = self.b.function
            # (`forward` is reached through module calls, dunders implicitly: no call of theirs asks)
            if fn is not None and not fn.returns_graph and fn.name != "forward" and not fn.name.startswith("__"):
                # (asked without recording model roots or saved operands: the return is not a use of them)
                # A tuple counts only when each of its items carries a graph: `char, h = predict(...)` binds
                # the call's graphs to every name it unpacks into (`return net.int2char[c], h`: `char` is none)
                value = node.value
                items = [el.value for el in value.elements] if type(value) in (cst.Tuple, cst.List) else [value]
                reuse, self._graph_reuse_possible = self._graph_reuse_possible, False
                try:
                    fn.returns_graph = bool(items) and all(self._r(item)[0] for item in items)
                finally:
                    self._graph_reuse_possible = reuse

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self._st.returned_src.append(node.value)

    # ------------------------------------------------------------------ statements

    def leave_Assign(self, node: cst.Assign) -> None:
        targets = [t.target for t in node.targets]
        rhs = node.value
        fn, loops = self.b.function, self._loops()
        if self._graph_reuse_possible:  # (`_data_write` records nothing otherwise)
            for t in targets:
                self._data_write(t)
        keys = _target_keys(targets[0]) if len(targets) == 1 else [k for t in targets for k in _target_keys(t)]
        # accumulation: acc = acc + piece / acc = torch.cat([acc, piece])
        if len(targets) == 1 and (k := self._key(targets[0])) is not None:
            piece = _accumulated_piece(rhs, k, self.b)
            if piece is not None:
                pr = self.roots(piece[0])
                cur = (self.b.roots_of(k) or EMPTY) | pr
                if pr:
                    reach = self.b.reach(k) if loops else None
                    self.accumulations.append(Accumulation(node, k, piece[0], piece[1], self.b.next_seq(), fn, loops,
                                                           self.b.mode, reach, pr))
                    if loops:
                        cid = self._new_root()
                        cur = cur | {cid}
                        self.carried.append(Carried(node, (k,), cid, self.b.next_seq(), fn, loops, self.b.mode,
                                                    (reach,)))
                self.b.bind_roots(k, cur)
                self._st.derived.setdefault(k, []).append(rhs)
                return
        # carried state: h = f(..., h, ...) with a graph built on the previous iteration's h
        r, _ = self._r(rhs)
        if r and type(rhs) is cst.Call and self._next_root in r and self._graph_reuse_possible:
            name = rhs.func.attr.value if type(rhs.func) is cst.Attribute else (
                rhs.func.value if type(rhs.func) is cst.Name else "")
            if name in _SAVES_RESULT and keys:
                # `gate = torch.sigmoid(z)`: the op saved its own result, now bound to these names
                self.saved_inputs[self._next_root] = self.saved_inputs.get(self._next_root, frozenset()) | set(keys)
        carried = False
        pairwise = (len(targets) == 1 and type(targets[0]) in (cst.Tuple, cst.List)
                    and type(rhs) in (cst.Tuple, cst.List) and len(targets[0].elements) == len(rhs.elements))
        # a Carried fact matters only to GL013, which needs a backward pass (GRAPH_REUSE_WORDS); the pairwise
        # form also binds by it, so it is always worked out there
        # (or, in a module's method, an attribute of `self` kept for the next call: `out, self.h = self.rnn(x,
        # self.h)` in `forward` — recorded with no loops)
        across_calls = not loops and fn is not None and fn.class_info is not None and fn.class_info.is_module \
            and any(k.startswith("self.") for k in keys)
        if (loops or across_calls) and keys and r and (self._graph_reuse_possible or pairwise):
            sentinel = -1
            self._override = {k: (self.b.roots_of(k) or EMPTY) | {sentinel} for k in keys}
            try:
                rs, _ = self._r(rhs)
            finally:
                self._override = None
            if sentinel in rs:
                carried = True
                cid = self._new_root()
                r = r | {cid}
                self.carried.append(Carried(node, tuple(keys), cid, self.b.next_seq(), fn, loops, self.b.mode,
                                            tuple(self.b.reach(k) for k in keys)))
        lit = type(rhs) in (cst.Integer, cst.Float) or (
            type(rhs) is cst.Call and type(rhs.func) is cst.Name and rhs.func.value == "float")
        if pairwise:
            for te, re_ in zip(targets[0].elements, rhs.elements):
                for k in _target_keys(te.value):
                    self._bind(k, r if carried else self.roots(re_.value), fn, loops, False, re_.value, node)
            return
        for t in targets:
            if type(t) is cst.Subscript:
                base = self._key(t.value)
                if base is not None:
                    self.b.bind_roots(base, (self.b.roots_of(base) or EMPTY) | r)
                continue
            for k in keys if len(targets) == 1 else _target_keys(t):  # (one target: its keys are `keys`)
                self._bind(k, r, fn, loops, lit, rhs, node)

    def _data_write(self, expr: cst.BaseExpression) -> None:
        """`X.data` / `X.data[...]` written in place: record it (only files with a backward pass can need it)."""
        while type(expr) is cst.Subscript:
            expr = expr.value
        if type(expr) is not cst.Attribute or expr.attr.value != "data" or not self._graph_reuse_possible:
            return
        key = dotted(expr.value)
        if key is None:
            return
        fn = self.b.function
        self.data_writes[id(expr)] = DataWrite(
            expr, key, self._param_loop.get((id(fn) if fn is not None else 0, key.split(".", 1)[0])),
            self._next_root + 1, self.b.next_seq(), fn, self._path())

    def _bind(self, key, roots, fn, loops, lit, source: cst.CSTNode, node=None) -> None:
        self.b.bind_roots(key, roots)
        self._st.derived.setdefault(key, []).append(source)
        self.bindings.append(Binding(key, self.b.next_seq(), fn, loops, lit, node))

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is None:
            return
        k = self._key(node.target)
        if k is None:
            return
        lit = type(node.value) in (cst.Integer, cst.Float)
        self._bind(k, self.roots(node.value), self.b.function, self._loops(), lit, node.value)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        target = node.target
        self._data_write(target)
        key = self._key(target.value if type(target) is cst.Subscript else target)
        if key is None:
            return
        if type(target) is cst.Attribute and target.attr.value == "grad":
            return  # gradients written by hand (a reset: `model.resets`)
        pr, _ = self._r(node.value)
        loops = self._loops()
        reach = self.b.reach(key) if loops else None
        if type(node.operator) in (cst.AddAssign, cst.SubtractAssign) and pr:
            op = "+=" if type(node.operator) is cst.AddAssign else "-="
            self.accumulations.append(Accumulation(node, key, node.value, op, self.b.next_seq(), self.b.function,
                                                   loops, self.b.mode, reach, pr))
        cur = self.b.roots_of(key) or EMPTY
        if pr and self._recording():
            cur = cur | pr | {self._new_root()}
            if loops and type(target) is not cst.Subscript:
                cid = self._new_root()
                cur = cur | {cid}
                self.carried.append(Carried(node, (key,), cid, self.b.next_seq(), self.b.function, loops,
                                            self.b.mode, (reach,)))
        self.b.bind_roots(key, cur)
        self._st.derived.setdefault(key, []).append(node.value)

    def visit_Del(self, node: cst.Del) -> None:
        target = node.target
        if type(target) is cst.Subscript:
            # (`del x[:]` re-creates `x` for the loop joins: `model.loop_joins`)
            key = self._key(target.value) if _whole_slice(target) else None
            if key is not None:
                self.bindings.append(Binding(key, self.b.next_seq(), self.b.function, self._loops(), False, node))
            return
        for k in _target_keys(target):
            self.b.drop_roots(k)

    # ------------------------------------------------------------------ calls

    def leave_Call(self, node: cst.Call) -> None:
        func = node.func
        training = self.b.training
        if training.backward_at:
            core = training.backward_at.get(id(node))
            if core is not None:  # a backward pass (decided by the core model): the graph it frees
                self._record_backward(node, core.target, core.kind)
                return
        if training.step_at and id(node) in training.step_at:
            self.step_paths[id(node)] = self._path()
            return
        # (`detach_hidden(h)`, `repackage_hidden(h)`, `h.detach_()` re-create `h` for the loop joins)
        if type(func) is not cst.Attribute:
            return
        method = func.attr.value
        recv = func.value
        if is_inplace_method(method) and method not in ("requires_grad_", "detach_", "retain_grad", "share_memory_"):
            self._data_write(recv)
        if "grad" in method and RESET_NAME.search(method):
            return  # a gradient reset (`model.resets`)
        if method in ("zero_", "fill_", "mul_", "detach_", "requires_grad_") and _is_grad_attr(recv):
            return
        if method in ("append", "extend", "add_", "insert") and node.args:
            key = self._key(recv.value if type(recv) is cst.Subscript else recv)
            if key is None:
                return
            piece = node.args[-1].value
            pr, _ = self._r(piece)
            if pr:
                fn, loops = self.b.function, self._loops()
                self.accumulations.append(Accumulation(node, key, piece, method, self.b.next_seq(), fn, loops,
                                                       self.b.mode, self.b.reach(key) if loops else None, pr))
                self.b.bind_roots(key, (self.b.roots_of(key) or EMPTY) | pr)
            self._st.derived.setdefault(key, []).append(piece)
            return
        if method == "clear" and not node.args:
            key = self._key(recv)
            if key is not None:
                self.b.bind_roots(key, EMPTY)
                self.bindings.append(Binding(key, self.b.next_seq(), self.b.function, self._loops(), False, node))

    def step_path(self, step: Step) -> tuple[tuple[int, int], ...]:
        """The block path of an optimizer step (for `may_precede`)."""
        return self.step_paths.get(id(step.node), ())

    def _record_backward(self, node: cst.Call, target: cst.BaseExpression | None, kind: str) -> None:
        rg = _kwarg(node, "retain_graph") or _kwarg(node, "retain_variables")  # (its pre-0.4 name)
        cg = _kwarg(node, "create_graph")
        create = cg is not None and _const_bool(cg.value) is True
        retain_true = rg is not None and _const_bool(rg.value) is True
        if rg is not None:
            frees = _const_bool(rg.value) is False
        else:
            frees = cg is None or _const_bool(cg.value) is False
        if kind == "backward" and target is not None and len(_positional(node)) >= 3:
            frees = False  # positional retain_graph: do not guess
        roots = self.roots(target) if target is not None else EMPTY
        if not roots and kind == "backward" and type(target) is cst.Name:
            roots = self._proved_by_backward(target)
        keys = frozenset(_keys_in(target)) if target is not None else frozenset()
        self.backwards.append(Backward(
            node=node, stmt=self._stmt, kind=kind, target=target, keys=keys, roots=roots, frees=frees,
            retain_true=retain_true, create_graph=create, seq=self.b.next_seq(), fn=self.b.function,
            loops=self._loops(), mode=self.b.mode, path=self._path(),
        ))
        self.b.mark_runs(node)  # (does every iteration run it: `finish`)

    def _proved_by_backward(self, target: cst.Name) -> frozenset[int]:
        """`loss.backward()` on a value whose graph the walk did not see (`loss = compute_loss(model, batch)`,
        a helper whose model is its parameter): the value carries a graph, or the call raises. It carries one
        from here on — unless it may have been made with grad mode off (GL011's case: the call raises)."""
        prov = self.b.classify(target).prov
        if prov is not None and prov.off is not None:
            return EMPTY
        proved = frozenset({self._new_root()})
        self.b.bind_roots(target.value, proved)
        return proved

    # ------------------------------------------------------------------ queries for the rules

    def may_precede(self, pa: tuple[tuple[int, int], ...], sa: int, pb: tuple[tuple[int, int], ...], sb: int) -> bool:
        """Can the statement at path `pa` (sequence point `sa`) run before the one at `pb` (`sb`) in one pass
        through their function: `a` earlier, not in a branch exclusive with `b`'s (`if`/`else`, `try`/`except`),
        and not in a block that leaves with `continue`/`break`/`return`/`raise` after it?"""
        if sa >= sb:
            return False
        for i, ((fa, ca), (fb, cb)) in enumerate(zip(pa, pb)):
            if fa != fb:
                return False  # sibling blocks of one compound statement
            if ca != cb:
                if ca > cb:
                    return False
                # `a` in a block nested in the statement at counter ca: does that block jump away after `a`?
                return not any(self.jumps.get(f, -1) >= c for f, c in pa[i + 1:])
        return True

    def state(self, fn: FunctionInfo | None) -> _FnState:
        return self.fn_state.get(id(fn) if fn is not None else 0) or _FnState()

    def derived_closure(self, fn: FunctionInfo | None, key: str) -> set[str]:
        """Keys whose value was computed (directly or transitively) from `key` in fn."""
        st = self.state(fn)
        out = {key}
        changed = True
        while changed:
            changed = False
            for k in st.derived:
                if k not in out and self._derived_keys(st, k) & out:
                    out.add(k)
                    changed = True
        return out

    def sources_closure(self, fn: FunctionInfo | None, keys) -> set[str]:
        """Keys the values of `keys` were computed from in fn (directly or transitively), `keys` included."""
        st = self.state(fn)
        out = set(keys)
        todo = list(out)
        while todo:
            k = todo.pop()
            if k in st.derived:
                for src in self._derived_keys(st, k) - out:
                    out.add(src)
                    todo.append(src)
        return out

    @staticmethod
    def _derived_keys(st: _FnState, key: str) -> set[str]:
        srcs = st.derived[key]
        memo = st.derived_keys.get(key)
        if memo is None or memo[0] != len(srcs):
            keys: set[str] = set()
            for src in srcs:
                keys |= _keys_in(src)
            memo = st.derived_keys[key] = (len(srcs), keys)
        return memo[1]


def _whole_slice(target: cst.Subscript) -> bool:
    """`x[:]` (what `del x[:]` empties)."""
    els = target.slice
    return (len(els) == 1 and type(els[0].slice) is cst.Slice and els[0].slice.lower is None
            and els[0].slice.upper is None)
