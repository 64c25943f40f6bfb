"""Source positions of a few nodes, without LibCST's PositionProvider.

`PositionProvider` re-generates the module's code and records a position for every node, splitting every
token into lines as it goes: about twice the cost of parsing the file. gradlint needs positions only for
the handful of nodes it reports or edits, so this runs the same code generation with a state that only
counts characters, and records offsets for the wanted nodes alone; offsets become (line, column) with the
line starts of the generated text (LibCST reproduces the source exactly).

The ranges are LibCST's *syntactic* positions — the same ones `PositionProvider` gives: lines 1-based,
columns 0-based code points, ends exclusive.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange


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


def resolve_positions(module: cst.Module, nodes: Iterable[cst.CSTNode] | None) -> dict[int, CodeRange]:
    """id(node) -> CodeRange for each of `nodes` (nodes of `module`; others are left out), or for every
    node of the module with `nodes=None`."""
    wanted: set[int] = _All() if nodes is None else {id(n) for n in nodes}
    if nodes is not None and not wanted:
        return {}
    state = _OffsetState(module, wanted if nodes is None else set(wanted))
    try:
        module._codegen(state)
    except _Done:  # the text generated so far holds every wanted range
        pass
    if nodes is None:
        wanted = set(state.found)
    text = "".join(state.chunks)
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

    def pos(offset: int) -> CodePosition:
        line = bisect_right(starts, offset) - 1
        return CodePosition(line + 1, offset - starts[line])

    out: dict[int, CodeRange] = {}
    for key in wanted:
        rng = state.found.get(key)
        if rng is not None:
            out[key] = CodeRange(pos(rng[0]), pos(rng[1]))
    return out


class Positions:
    """`positions.get(node) -> CodeRange | None` for a module, computed for the nodes named up front; a node
    asked for later triggers one resolution of every node (still cheaper than PositionProvider)."""

    def __init__(self, module: cst.Module, nodes: Iterable[cst.CSTNode]) -> None:
        self.module = module
        self._ranges = resolve_positions(module, nodes)
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
            self._ranges.update(resolve_positions(self.module, missing))

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node: object) -> bool:
        return isinstance(node, cst.CSTNode) and self.get(node) is not None
