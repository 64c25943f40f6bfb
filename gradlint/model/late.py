"""Functions defined below their callers: what a call learns from a summary the walk had not made yet.

The walk is in source order, and a call learns what a function of the file returns from that function's
summary (`FunctionInfo.returns`, `.returns_graph`), complete once the walk has left its body. A call of a
function defined further down — `fit()` above the `train_step()` it calls, `__init__` above the
`_make_layer()` that builds its blocks, `main()` above its helpers — found no summary and took UNKNOWN.
Python runs a function body only when it is called, by which time every `def` of the module has run: the
order of the definitions does not matter to what a call returns.

So after the walk, `late_seeds(builder)` looks at the calls that reached a function walked after them. When
one of those functions turned out to return something the rules can use (a leaf, parameters, a data loader,
or a graph in a file that backpropagates) that the call did not know, the file is walked again with the last
walk's summaries
as `Seeds`: a call of a function not walked yet reads its summary there (`CallSummaries.local_function`,
`CallSummaries.methods_of`, `gradlint.model.returns`). A summary that needed another late summary converges in the next walk; at most
`MAX_WALKS` walks in all. Such files are rare (6 of 1,219 files of the libraries and tutorials measured;
a module returned by `_make_layer()` below `__init__` is common in model code but tells the rules too little
to pay for a walk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradlint.model.facts import ClassInfo, FunctionInfo
from gradlint.model.values import K_BATCHES, K_GROUPS, K_LEAF, K_NAMED_PARAMS, K_NONLEAF, K_PARAMS, evolve

if TYPE_CHECKING:
    from gradlint.model.builder import ModelBuilder

MAX_WALKS = 3
# what a returned value must be for a late summary to be worth another walk (a leaf, parameters, a loader:
# the values GL001/GL002/GL007 follow; a module built by `_make_layer()` below `__init__` is not worth one)
_TELLING = (K_LEAF, K_NONLEAF, K_PARAMS, K_NAMED_PARAMS, K_GROUPS, K_BATCHES)


def _telling(fn: FunctionInfo | None, graphs: bool = True) -> tuple:
    """What a call can learn from `fn`'s summary (empty: nothing a rule uses). `graphs`: whether a returned
    graph can matter (the file backpropagates somewhere: GL006/GL013 ask of graphs in training code)."""
    if fn is None:
        return ()
    if fn.returns_other:
        kinds: tuple = ()
    else:  # (each returned value, and each item of a returned tuple: `W1, b1 = init_params()`)
        values = [*fn.returns, *(v for items in fn.returns_items if items is not None for v in items)]
        kinds = tuple((v.kind, v.cls, v.ref is not None, v.path) for v in values)
    graph = fn.returns_graph and graphs
    if not graph and not any(k[0] in _TELLING for k in kinds):
        return ()
    return (graph, kinds)


class Seeds:
    """The summaries of one walk, for the next walk's calls of functions it has not walked yet."""

    def __init__(self, builder: ModelBuilder) -> None:
        self._by_name = builder._fns_by_name
        self._classes = {id(c.node): c for c in builder.classes.values()}
        self._by_node = {id(f.node): f for f in builder.functions}
        self._stand_ins: dict[int, FunctionInfo] = {}

    def _stand_in(self, fn: FunctionInfo) -> FunctionInfo:
        """`fn`'s summary on a FunctionInfo of its own, its values without provenance (which may name the
        last walk's functions)."""
        found = self._stand_ins.get(id(fn.node))
        if found is None:
            found = self._stand_ins[id(fn.node)] = FunctionInfo(
                node=fn.node, name=fn.name, class_info=None, parent=None, decorator_mode=fn.decorator_mode,
                returns=[evolve(v, prov=None) for v in fn.returns], returns_other=fn.returns_other,
                returns_items=[None if items is None else tuple(evolve(v, prov=None) for v in items)
                               for items in fn.returns_items],
                returns_graph=fn.returns_graph, walked=True)
        return found

    def of_node(self, node) -> FunctionInfo | None:
        """The last walk's summary of the function defined by `node`."""
        return self._by_node.get(id(node))

    def function(self, name: str) -> FunctionInfo | None:
        """The one plain function called `name`, as the last walk summarised it."""
        plain = [f for f in self._by_name.get(name, ()) if f.class_info is None]
        return self._stand_in(plain[0]) if len(plain) == 1 else None

    def methods(self, cls: ClassInfo, method: str) -> list[FunctionInfo]:
        """The methods `method` of class `cls` (this walk's), as the last walk summarised them."""
        last = self._classes.get(id(cls.node))
        if last is None:
            return []
        return [self._stand_in(f) for f in last.methods if f.name == method and f.walked]


def _callees(builder: ModelBuilder, call) -> list[FunctionInfo]:
    """The functions of the file a recorded call (`LocalCall`) may reach."""
    if call.cls is not None:
        cls = builder.classes.get(call.cls)
        return [f for f in cls.methods if f.name == call.name] if cls is not None and call.name != call.cls else []
    if call.bound:
        cls = call.function.class_info if call.function is not None else None
        return [f for f in cls.methods if f.name == call.name] if cls is not None else []
    return [f for f in builder._fns_by_name.get(call.name, ()) if f.class_info is None]


def late_seeds(builder: ModelBuilder) -> Seeds | None:
    """Seeds for another walk when a call of a function walked after it would learn more from that function's
    summary than the walk gave it (see the module docstring); None otherwise."""
    last = builder.seeds
    graphs = builder.mentions("backward")
    for call in builder.local_calls:
        fn = call.function
        if fn is None or call.via:
            continue  # (the module's top level runs after the definitions above it; `apply` passes, not returns)
        for callee in _callees(builder, call):
            if callee is fn or callee.done_seq < call.seq:
                continue
            told = _telling(callee, graphs)
            if told and told != _telling(last.of_node(callee.node) if last is not None else None, graphs):
                return Seeds(builder)
    return None
