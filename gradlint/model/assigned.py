"""What built a name, recorded in the builder's one walk (a mixin of `ModelBuilder`): the syntax that deciding
whether a model computes the same in train and eval mode (`gradlint.model.modes`) reads after the walk.

- `assignments(fn, key)`: the expressions assigned to a name or dotted key (`net`, `self.rnn`) in the own body
  of a function (None: the module's top level, not inside functions or classes), in order — `key = value`
  and `key, x = value, y` in a statement line; a binding by `for`, `with ... as`, `+=` or an annotation
  (value unknown), and each with the index of its top-level statement (`top`) and whether it is itself a
  top-level statement (`direct`);
- `top_of(seq)`: the index of the top-level statement holding a fact recorded at sequence point `seq`
  (`top_starts`: the sequence point where each top-level statement starts);
- `class_tops` / `top_classes`: the top-level statement of each class definition, and the classes defined
  at the top level by name, in order (a notebook may redefine one);
- `class_syntax[id(ClassDef)]`: in walk order, every call inside a class (with the function it is in) and
  every `X.attr = name` assignment there (a layer handed to the constructor, kept as an attribute);
- `self_module_calls`: calls through a name bound to the module itself (`d2l = sys.modules[__name__]`, then
  `d2l.evaluate_loss(net, ...)`), which the call graph does not join (`LocalCall` with `via="module"`).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import libcst as cst

from gradlint.model.facts import FunctionInfo, LocalCall
from gradlint.model.names import dotted
from gradlint.model.walk import iter_nodes


@dataclass(eq=False, slots=True)
class Assigned:
    value: cst.BaseExpression | None  # None: bound by `for` / `with` / `+=` / an annotation, or unpacked
    direct: bool  # a top-level statement of the module itself (not inside an if/for/with/try)
    top: int  # the index of its top-level statement


@dataclass(eq=False, slots=True)
class ClassCall:
    node: cst.Call
    function: FunctionInfo | None


@dataclass(eq=False, slots=True)
class ClassAssign:
    """`X.attr = name` inside a class (any attribute target, the value a bare name)."""

    name: str
    attrs: tuple[str, ...]


class AssignmentScan:
    """The mixin: `_init_assigned` in the builder's constructor; the builder's walk calls the hooks."""

    def _init_assigned(self) -> None:
        self.assigned: dict[tuple[int, str], list[Assigned]] = {}
        self.top_starts: list[int] = []
        self.top_classes: dict[str, list[tuple[int, cst.ClassDef]]] = {}
        self.class_tops: dict[int, int] = {}
        self.class_syntax: dict[int, list[ClassCall | ClassAssign]] = {}
        self.self_module_names: frozenset[str] = frozenset()
        self.self_module_calls: list[LocalCall] = []
        self._top = -1
        self._top_stmt: cst.CSTNode | None = None
        self._class_stack: list[list] = []  # the event lists of the classes around the walk

    # ------------------------------------------------------------------ the walk

    def walk_module(self, module: cst.Module) -> None:
        """The one walk: `walk(module)`, noting where each top-level statement starts."""
        visit, leave = self._handlers(cst.Module)
        if visit is not None:
            visit(self, module)
        for i, stmt in enumerate(module.body):
            self._top, self._top_stmt = i, stmt
            self.top_starts.append(self._seq)
            if type(stmt) is cst.ClassDef:
                self.top_classes.setdefault(stmt.name.value, []).append((i, stmt))
            self.walk(stmt)
        if leave is not None:
            leave(self, module)

    def _note_self_module(self, stmt: cst.SimpleStatementLine) -> None:
        """`d2l = sys.modules[__name__]` at the top level (the module's pre-pass)."""
        for small in stmt.body:
            if type(small) is cst.Assign and len(small.targets) == 1 and type(small.targets[0].target) is cst.Name:
                v = small.value
                if type(v) is cst.Subscript and dotted(v.value) == "sys.modules" and len(v.slice) == 1 and type(
                        v.slice[0].slice) is cst.Index and type(v.slice[0].slice.value) is cst.Name and \
                        v.slice[0].slice.value.value == "__name__":
                    self.self_module_names |= {small.targets[0].target.value}

    def _scope_key(self) -> int | None:
        scope = self._scope
        if scope.class_info is not None:
            return None  # a class body: not a scope `assignments` answers for
        fn = scope.function
        return id(fn.node) if fn is not None else 0

    def _add(self, key: str, value: cst.BaseExpression | None, direct: bool) -> None:
        skey = self._scope_key()
        if skey is not None:
            self.assigned.setdefault((skey, key), []).append(Assigned(value, direct, self._top))

    def _bound_unknown(self, target: cst.CSTNode) -> None:
        """Every name and attribute chain in a `for` / `with` / `+=` / annotated target: bound, value unknown."""
        for x in iter_nodes(target):
            if type(x) in (cst.Name, cst.Attribute):
                d = dotted(x)  # type: ignore[arg-type]
                if d is not None:
                    self._add(d, None, False)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        skey = -1
        others = None
        for small in node.body:
            tp = type(small)
            if tp is cst.Assign:
                if skey == -1:
                    skey = self._scope_key()
                if skey is not None:
                    self._assign(small, skey, node is self._top_stmt)
                if type(small.value) is cst.Name and self._class_stack:
                    self._class_assign(small)
            elif tp is cst.AugAssign or tp is cst.AnnAssign:
                others = [small] if others is None else [*others, small]
        for small in others or ():  # (after the line's assignments: the order a search of its nodes meets them)
            self._bound_unknown(small.target)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        # (an assignment in a one-line suite, `if c: x = f()`, is not read as one: as the search it replaces)
        for small in node.body:
            tp = type(small)
            if tp is cst.AugAssign or tp is cst.AnnAssign:
                self._bound_unknown(small.target)
            elif tp is cst.Assign and type(small.value) is cst.Name and self._class_stack:
                self._class_assign(small)

    def _assign(self, small: cst.Assign, skey: int, direct: bool) -> None:
        """`key = value`, `key, x = value, y` (other unpacking: value unknown)."""
        for t in small.targets:
            target = t.target
            if type(target) in (cst.Tuple, cst.List):
                names = [dotted(el.value) for el in target.elements]
                v = small.value
                known = type(v) in (cst.Tuple, cst.List) and len(v.elements) == len(names) and all(
                    type(el) is cst.Element for el in v.elements)
                for name in dict.fromkeys(n for n in names if n is not None):
                    self._add(name, v.elements[names.index(name)].value if known else None, direct)  # type: ignore[union-attr]
            else:
                d = dotted(target)
                if d is not None:
                    self.assigned.setdefault((skey, d), []).append(Assigned(small.value, direct, self._top))

    def _class_assign(self, small: cst.Assign) -> None:
        """`X.attr = name` inside a class."""
        attrs = tuple(t.target.attr.value for t in small.targets if type(t.target) is cst.Attribute)
        if attrs:
            ev = ClassAssign(small.value.value, attrs)  # type: ignore[attr-defined]
            for lst in self._class_stack:
                lst.append(ev)

    def _note_for(self, node: cst.For) -> None:
        self._bound_unknown(node.target)

    def _note_with(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                self._bound_unknown(item.asname.name)

    def _note_class(self, node: cst.ClassDef) -> None:
        self.class_tops[id(node)] = self._top
        self._class_stack.append(self.class_syntax.setdefault(id(node), []))

    def _leave_class(self) -> None:
        self._class_stack.pop()

    def _note_call(self, node: cst.Call) -> None:
        func = node.func
        if self.self_module_names and type(func) is cst.Attribute and type(func.value) is cst.Name and \
                func.value.value in self.self_module_names:
            self.self_module_calls.append(LocalCall(func.attr.value, node, self._next(), self._mode, self._function,
                                                    via="module"))
        if self._class_stack:
            ev = ClassCall(node, self._scope.function)
            for lst in self._class_stack:
                lst.append(ev)

    # ------------------------------------------------------------------ after the walk

    def top_of(self, seq: int) -> int:
        """The index of the top-level statement holding the fact recorded at sequence point `seq`."""
        return bisect_left(self.top_starts, seq) - 1

    def assignments(self, fn: FunctionInfo | None, key: str) -> list[Assigned]:
        return self.assigned.get((id(fn.node) if fn is not None else 0, key), [])
