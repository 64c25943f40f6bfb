"""A read-only walk over a LibCST tree, several times cheaper than `node.visit(CSTVisitor)`.

LibCST's visitor protocol rebuilds every node it passes (`_visit_and_replace_children`, with dataclass
validation) and visits every whitespace, comma and parenthesis node. An analysis that only reads the
tree needs none of that: this walker follows the semantic fields of each node type (cached per type,
in source order) and calls `visit_<NodeType>` / `leave_<NodeType>` methods looked up once per type.
A `visit_` method that returns False skips the node's children, as with LibCST visitors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Callable

import libcst as cst

# Fields that never hold a node gradlint cares about.
_SKIP_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "header", "footer", "lines_after_decorators",
        "equal", "colon", "dot", "operator", "asynchronous", "lbracket", "rbracket", "lbrace", "rbrace",
        "first_colon", "second_colon", "star", "newline", "trailing_whitespace", "leading_whitespace",
        "empty_lines", "comment", "default_indent", "default_newline", "encoding", "has_trailing_newline",
        "indent", "posonly_ind", "relative", "conversion", "format_spec", "whitespace", "separator",
        "first_line", "last_line", "trailing_comma",
    }
)

# Field order to use instead of dataclass order where it differs from evaluation order.
_ORDER_OVERRIDES: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "bases", "keywords", "body"),
}

_FIELDS: dict[type, tuple[str, ...]] = {}
_ATOM_TYPES = (str, bool, int, "str", "bool", "int")


def _fields(tp: type) -> tuple[str, ...]:
    names = _FIELDS.get(tp)
    if names is None:
        if tp in _ORDER_OVERRIDES:
            names = _ORDER_OVERRIDES[tp]
        else:
            names = tuple(
                f.name
                for f in dataclasses.fields(tp)
                if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace")
                and f.type not in _ATOM_TYPES  # a Name's `value`, a string's text: never a node
            )
        _FIELDS[tp] = names
    return names


_IS_NODE: dict[type, bool] = {}


def _learn(tp: type) -> bool:
    """Is `tp` a LibCST node type? (cached: isinstance against LibCST's ABC costs several times more)"""
    found = _IS_NODE[tp] = isinstance(tp, type) and issubclass(tp, cst.CSTNode)
    return found


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The semantic children of a node, in source order (cheap; LibCST's `.children` runs a visitor)."""
    out: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        child = getattr(node, name)
        ct = type(child)
        if ct is tuple or ct is list:
            for item in child:
                it = _IS_NODE.get(type(item))
                if it is None:
                    it = _learn(type(item))
                if it:
                    out.append(item)
        else:
            is_node = _IS_NODE.get(ct)
            if is_node is None:
                is_node = _learn(ct)
            if is_node:
                out.append(child)
    return out


def iter_nodes(node: cst.CSTNode, prune: tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """`node` and every node below it, in source order. Nodes of a type in `prune` are yielded but not
    descended into (below the starting node)."""
    # (child_nodes inlined: this runs over whole modules, and over many small subtrees during the model walk)
    stack = [node]
    pop, extend = stack.pop, stack.extend
    fields_of, is_node = _FIELDS, _IS_NODE
    while stack:
        n = pop()
        yield n
        if prune and n is not node and isinstance(n, prune):
            continue
        tp = type(n)
        names = fields_of.get(tp)
        if names is None:
            names = _fields(tp)
        kids = []
        for name in names:
            child = getattr(n, name)
            ct = type(child)
            if ct is tuple or ct is list:
                for item in child:
                    it = is_node.get(type(item))
                    if it is None:
                        it = _learn(type(item))
                    if it:
                        kids.append(item)
            else:
                it = is_node.get(ct)
                if it is None:
                    it = _learn(ct)
                if it:
                    kids.append(child)
        if kids:
            kids.reverse()
            extend(kids)


class ParentMap(dict):
    """id(node) -> its parent, for every node below `root`; and `strings`, the string literals below it
    (SimpleString, FormattedString nodes, in no particular order), met on the same walk for the callers
    that need both (gradlint.fix: parents, and the rows inside multi-line strings)."""

    __slots__ = ("root", "strings")


_STRING_TYPES = (cst.SimpleString, cst.FormattedString)


def parent_map(root: cst.CSTNode, cache: dict[int, tuple] | None = None) -> ParentMap:
    """id(node) -> its parent, for every node below `root` (the semantic children, as child_nodes).

    `cache` (for a Module, from one lint of a document to the next: gradlint.incremental keeps it): the
    map of each top-level statement, by the statement's id; statements an edit did not re-parse are the
    same nodes, and their maps are taken from it. It is left holding this module's statements only."""
    if cache is not None and type(root) is cst.Module:
        return _parent_map_by_statement(root, cache)
    out = ParentMap()
    out.root = root
    strings: list[cst.CSTNode] = []
    out.strings = strings
    string_types = _STRING_TYPES
    stack = [root]
    pop, push = stack.pop, stack.append
    fields_of, is_node = _FIELDS, _IS_NODE
    while stack:
        n = pop()
        tp = type(n)
        if tp in string_types:
            strings.append(n)
        names = fields_of.get(tp)
        if names is None:
            names = _fields(tp)
        for name in names:
            child = getattr(n, name)
            ct = type(child)
            if ct is tuple or ct is list:
                for item in child:
                    it = is_node.get(type(item))
                    if it is None:
                        it = _learn(type(item))
                    if it:
                        out[id(item)] = n
                        push(item)
            else:
                it = is_node.get(ct)
                if it is None:
                    it = _learn(ct)
                if it:
                    out[id(child)] = n
                    push(child)
    return out


def _parent_map_by_statement(module: cst.Module, cache: dict[int, tuple]) -> ParentMap:
    out = ParentMap()
    out.root = module
    strings: list[cst.CSTNode] = []
    out.strings = strings
    fresh: dict[int, tuple] = {}
    for stmt in module.body:  # (a Module's only semantic children)
        key = id(stmt)
        known = cache.get(key)
        if known is None or known[0] is not stmt:  # (the entry keeps its statement alive: the id stays its)
            known = (stmt, parent_map(stmt))
        fresh[key] = known
        out.update(known[1])
        out[key] = module
        strings.extend(known[1].strings)
    cache.clear()
    cache.update(fresh)
    return out


class Walker:
    """Subclass and define `visit_Call(self, node)`, `leave_For(self, node)`, … as needed.

    Define walker subclasses at module level: a class made inside a function on every call costs its
    creation and starts with an empty dispatch cache each time (use `iter_nodes` for small searches)."""

    _dispatch_cache: dict[type, tuple[Callable | None, Callable | None]]
    # type -> route (see _route); per class, since handlers are methods of the class. A walker whose
    # handlers differ per instance (ModelBuilder, with its extensions) sets its own `_routes` dict.
    _routes: dict[type, tuple | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch_cache = {}
        cls._routes = {}
        if cls.walk is not Walker.walk:  # a subclass that overrides walk() sees every child through it
            cls._walk = Walker._walk_via_walk

    def _handlers(self, tp: type) -> tuple[Callable | None, Callable | None]:
        """(visit, leave) for a node type; a subclass may combine more handlers (see ModelBuilder)."""
        found = self._dispatch_cache.get(tp)
        if found is None:
            name = tp.__name__
            found = (getattr(type(self), f"visit_{name}", None), getattr(type(self), f"leave_{name}", None))
            self._dispatch_cache[tp] = found
        return found

    def _route(self, tp: type) -> tuple | None:
        """How the walk treats a child of type `tp`: None when it is not a node, or when it is a node with
        no semantic fields and no handler (a Name, a number, a string: nothing to do there); else
        (visit, leave, fields)."""
        routes = self._routes
        if tp in routes:
            return routes[tp]
        route = None
        is_node = _IS_NODE.get(tp)
        if is_node is None:
            is_node = _learn(tp)
        if is_node:
            visit, leave = self._handlers(tp)
            fields = _fields(tp)
            if visit is not None or leave is not None or fields:
                route = (visit, leave, fields)
        routes[tp] = route
        return route

    def walk(self, node: cst.CSTNode) -> None:
        routes = self._routes
        tp = type(node)
        route = routes.get(tp, False)
        if route is False:
            route = self._route(tp)
        if route is None:  # a handler-less leaf, or not a node: only a caller's start can land here
            if not isinstance(node, cst.CSTNode):
                return
            route = (None, None, _fields(tp))
        self._walk(node, route, routes)

    def _walk(self, node: cst.CSTNode, route: tuple, routes: dict) -> None:
        visit, leave, fields = route
        if visit is not None and visit(self, node) is False:
            if leave is not None:
                leave(self, node)
            return
        for name in fields:
            child = getattr(node, name)
            ct = type(child)
            if ct is tuple or ct is list:
                for item in child:
                    r = routes.get(type(item), False)
                    if r is False:
                        r = self._route(type(item))
                    if r is not None:
                        self._walk(item, r, routes)
            else:
                r = routes.get(ct, False)
                if r is False:
                    r = self._route(ct)
                if r is not None:
                    self._walk(child, r, routes)
        if leave is not None:
            leave(self, node)

    def _walk_via_walk(self, node: cst.CSTNode, route: tuple, routes: dict) -> None:
        """`_walk` for a subclass that overrides walk(): each child goes through its walk()."""
        visit, leave, _ = route
        if visit is not None and visit(self, node) is False:
            if leave is not None:
                leave(self, node)
            return
        for child in child_nodes(node):
            self.walk(child)
        if leave is not None:
            leave(self, node)
