"""Source positions of a few nodes, without LibCST's PositionProvider.

`PositionProvider` re-generates the module's code and records a position for every node, splitting every
token into lines as it goes: about twice the cost of parsing the file. gradlint needs positions only for
the handful of nodes it reports or edits, so this runs the same code generation with a state that only
counts characters, and records offsets for the wanted nodes alone; offsets become (line, column) with the
line starts of the generated text (LibCST reproduces the source exactly).

Given the source text as well (the linter has it), only the top-level statements that hold the wanted
nodes are generated, each on its own, and placed in the text (see `_by_statement`): on a 3,000-line file
with a few dozen findings that is a few statements instead of the whole module.

The ranges are LibCST's *syntactic* positions — the same ones `PositionProvider` gives: lines 1-based,
columns 0-based code points, ends exclusive.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

from gradlint.model.walk import _FIELDS, _IS_NODE, _fields, _learn


class _Null:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()


class _Done(Exception):
    """Every wanted node has its range: the rest of the module need not be generated."""


class _Record:
    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: "_OffsetState", node: cst.CSTNode, start_node, end_node) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        self.start = self.state.offset
        self.state._open += 1

    def __exit__(self, *exc: object) -> None:
        st = self.state
        st._open -= 1
        if exc[0] is not None:
            return  # (a _Done from a child; the range of this node is not needed then)
        start = st.found[id(self.start_node)][0] if self.start_node is not None else self.start
        end = st.found[id(self.end_node)][1] if self.end_node is not None else st.offset
        st.record(id(self.node), start, end)


class _OffsetState(CodegenState):
    """Counts emitted characters; records start/end offsets of wanted nodes only."""

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self._indent_len = 0
        self._indent_lens: list[int] = []
        self._last = 0
        self.wanted = wanted
        self.found: dict[int, tuple[int, int]] = {}
        self._starts: dict[int, int] = {}
        self.chunks: list[str] = []
        self._open = 0  # wanted nodes whose range is still being generated
        self._stop = not isinstance(wanted, _All)

    def record(self, key: int, start: int, end: int) -> None:
        self.found[key] = (start, end)
        if self._stop and self._open == 0 and len(self.found) >= len(self.wanted) and self.wanted.issubset(self.found):
            raise _Done

    def increase_indent(self, value: str) -> None:
        self._indent_lens.append(len(value))
        self._indent_len += len(value)
        self.indent_tokens.append(value)

    def decrease_indent(self) -> None:
        self._indent_len -= self._indent_lens.pop()
        self.indent_tokens.pop()

    def add_indent_tokens(self) -> None:
        if self._indent_len:
            self.chunks.extend(self.indent_tokens)
            self.offset += self._indent_len
            self._last = len(self.indent_tokens[-1])

    def add_token(self, value: str) -> None:
        self.chunks.append(value)
        self.offset += len(value)
        self._last = len(value)

    def pop_trailing_newline(self) -> None:
        if self.chunks:
            self.offset -= len(self.chunks.pop())

    # Nodes that never record a syntactic position get their whitespace-inclusive range, as with
    # PositionProvider (its after_codegen fills in what record_syntactic_position did not).
    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self._starts[id(node)] = self.offset

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.record(key, self._starts.get(key, self.offset), self.offset)

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):  # type: ignore[override]
        if id(node) not in self.wanted:
            return _NULL
        # positions hoisted from children: make sure those children are recorded too
        if start_node is not None:
            self.wanted.add(id(start_node))
        if end_node is not None:
            self.wanted.add(id(end_node))
        return _Record(self, node, start_node, end_node)


class _All(set):
    """A `wanted` set that contains every node."""

    def __contains__(self, item: object) -> bool:
        return True


def resolve_positions(module: cst.Module, nodes: Iterable[cst.CSTNode] | None,
                      source: str | None = None, parents: dict[int, cst.CSTNode] | None = None,
                      cache: dict[int, tuple] | None = None) -> dict[int, CodeRange]:
    """id(node) -> CodeRange for each of `nodes` (nodes of `module`; others are left out), or for every
    node of the module with `nodes=None`. `source`: the text the module was parsed from, if known — then
    only the top-level statements holding the nodes are generated (see `_by_statement`); `parents`, the
    module's parent map (`walk.parent_map`) if one is at hand, tells which statements those are; `cache`,
    kept by the caller from one version of a document to the next (the language server), the text each of
    those statements generated and the offsets found in it, reused while the statement is the same node."""
    if nodes is not None and not isinstance(nodes, (list, tuple, set)):
        nodes = list(nodes)
    wanted: set[int] = _All() if nodes is None else {id(n) for n in nodes}
    if nodes is not None and not wanted:
        return {}
    if nodes is not None and source is not None:
        found = _by_statement(module, nodes, wanted, source, parents, cache)
        if found is not None:
            return found
    state = _OffsetState(module, wanted if nodes is None else set(wanted))
    try:
        module._codegen(state)
    except _Done:  # the text generated so far holds every wanted range
        pass
    if nodes is None:
        wanted = set(state.found)
    return _ranges("".join(state.chunks), wanted, state.found)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    i = find("\n")
    while i != -1:
        starts.append(i + 1)
        i = find("\n", i + 1)
    # "\r" alone also ends a line for LibCST; such files are rare enough to take the slow way
    if "\r" in text:
        starts = [0]
        for j, ch in enumerate(text):
            if ch == "\n" or (ch == "\r" and (j + 1 >= len(text) or text[j + 1] != "\n")):
                starts.append(j + 1)
    return starts


def _ranges(text: str, wanted: Iterable[int], found: dict[int, tuple[int, int]]) -> dict[int, CodeRange]:
    """Offsets in `text` (the module's code) -> CodeRanges, for the wanted keys that were found."""
    starts = _line_starts(text)

    def pos(offset: int) -> CodePosition:
        line = bisect_right(starts, offset) - 1
        return CodePosition(line + 1, offset - starts[line])

    out: dict[int, CodeRange] = {}
    for key in wanted:
        rng = found.get(key)
        if rng is not None:
            out[key] = CodeRange(pos(rng[0]), pos(rng[1]))
    return out


def _at_line_start(source: str, text: str, lower: int) -> int:
    """The one offset >= `lower` where `text` occurs in `source` at the start of a line; -1 if it occurs at
    no line start there or at more than one (ambiguous)."""
    first = -1
    find = source.find
    i = find(text, lower)
    while i != -1:
        if i == 0 or source[i - 1] in "\n\r":
            if first != -1:
                return -1
            first = i
        i = find(text, i + 1)
    return first


def _take_held(root: cst.CSTNode, left: set[int]) -> bool:
    """Remove from `left` the ids of `root` and the nodes below it (its semantic children, as
    `iter_nodes`); True if there were any. Stops once `left` is empty. (iter_nodes inlined: this runs over
    the statements of a whole file.)"""
    held = False
    stack = [root]
    pop, push = stack.pop, stack.append
    fields_of, is_node = _FIELDS, _IS_NODE
    while stack:
        n = pop()
        if id(n) in left:
            left.discard(id(n))
            held = True
            if not left:
                return True
        tp = type(n)
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
                        push(item)
            else:
                it = is_node.get(ct)
                if it is None:
                    it = _learn(ct)
                if it:
                    push(child)
    return held


def _by_statement(module: cst.Module, nodes: Iterable[cst.CSTNode], wanted: set[int],
                  source: str, parents: dict[int, cst.CSTNode] | None = None,
                  cache: dict[int, tuple] | None = None) -> dict[int, CodeRange] | None:
    """The ranges of the wanted nodes, generating only the top-level statements that hold them.

    A top-level statement's code starts at the start of a line and is a piece of the module's code, which
    is `source` (LibCST reproduces its input exactly). Each statement holding a wanted node is generated
    alone (offsets relative to its start) and its start is found in `source`: right after the previous
    generated statement when that is the one before it; otherwise as the only place, after the previous
    generated statement, where its text starts a line. Where that is not certain — the text occurs at two
    line starts, or nowhere (not the parsed text) — or a wanted node is not below a statement (the module,
    its header or footer), returns None: the caller generates the whole module.

    `cache` (id(statement) -> (statement, how, text, offsets)): a statement generated before, still the
    same node, generated the same way (the module's default indentation and newline; its trailing newline
    dropped or not), is not generated again when every wanted node below it has its offsets there (with a
    parent map only)."""
    if not source or source[0] == "\ufeff" or id(module) in wanted:
        return None
    holders: list[tuple[int, cst.BaseStatement]] = []
    below: dict[int, list[int]] = {}  # statement index -> the wanted nodes below it (with a parent map)
    if parents is not None:  # each node's top-level statement, up the parent map
        index_of = {id(stmt): index for index, stmt in enumerate(module.body)}
        for node in nodes:
            current = node
            while (index := index_of.get(id(current))) is None:
                current = parents.get(id(current))
                if current is None:
                    return None  # not below a statement of this module
            below.setdefault(index, []).append(id(node))
        holders = [(index, module.body[index]) for index in sorted(below)]
    else:  # a walk over the statements, until every node is found
        left = set(wanted)
        for index, stmt in enumerate(module.body):
            if _take_held(stmt, left):
                holders.append((index, stmt))
                if not left:
                    break
        if left:
            return None
    last_index = len(module.body) - 1
    found: dict[int, tuple[int, int]] = {}
    grown = set(wanted)  # (record_syntactic_position adds the children a range is hoisted from)
    cursor, cursor_index = 0, -1  # where the previous generated statement ended, and its index
    fresh: dict[int, tuple] = {}
    for index, stmt in holders:
        trim = index == last_index and not module.footer and not module.has_trailing_newline
        how = (module.default_indent, module.default_newline, trim)
        known = cache.get(id(stmt)) if cache is not None and below else None
        if (known is not None and known[0] is stmt and known[1] == how
                and all(key in known[3] for key in below[index])):
            text, offsets = known[2], known[3]
        else:
            state = _OffsetState(module, grown)
            state._stop = False
            stmt._codegen(state)
            if trim:
                state.pop_trailing_newline()  # as Module._codegen_impl does
            text, offsets = "".join(state.chunks), state.found
            if not text:
                return None
        if cache is not None:
            fresh[id(stmt)] = (stmt, how, text, offsets)  # (the entry keeps its statement alive: the id stays its)
        if index == cursor_index + 1 and cursor_index >= 0:
            base = cursor if source.startswith(text, cursor) else -1
        else:
            base = _at_line_start(source, text, cursor)
        if base < 0:
            return None
        for key, (start, end) in offsets.items():
            found[key] = (start + base, end + base)
        cursor, cursor_index = base + len(text), index
    if cache is not None:  # (only the statements that hold a node this time: the rest is dropped)
        cache.clear()
        cache.update(fresh)
    return _ranges(source, wanted, found)


class Positions:
    """`positions.get(node) -> CodeRange | None` for a module, computed for the nodes named up front; a node
    asked for later triggers one resolution of every node (still cheaper than PositionProvider). Give the
    module's `source` where it is at hand: the nodes are then located by generating only their top-level
    statements."""

    def __init__(self, module: cst.Module, nodes: Iterable[cst.CSTNode], source: str | None = None,
                 parents: dict[int, cst.CSTNode] | None = None, cache: dict[int, tuple] | None = None) -> None:
        self.module = module
        # the text `module` was parsed from and its parent map, if known: see resolve_positions
        self.source, self.parents = source, parents
        self._ranges = resolve_positions(module, nodes, source, parents, cache)
        self._complete = False

    def get(self, node: cst.CSTNode, default: CodeRange | None = None) -> CodeRange | None:
        found = self._ranges.get(id(node))
        if found is None and not self._complete:
            self._ranges = resolve_positions(self.module, None)
            self._complete = True
            found = self._ranges.get(id(node))
        return found if found is not None else default

    def ensure(self, nodes: Iterable[cst.CSTNode]) -> None:
        """Resolve these nodes too (one pass for the batch), if they are not known yet."""
        if self._complete:
            return
        missing = [n for n in nodes if id(n) not in self._ranges]
        if missing:
            self._ranges.update(resolve_positions(self.module, missing, self.source, self.parents))

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node: object) -> bool:
        return isinstance(node, cst.CSTNode) and self.get(node) is not None
