"""The call graph of a file and the summaries of its functions.

The walk records every call that may reach a function of the file (`facts.LocalCall`: by name, `self.m()`,
a method of an instance of a class of the file, `module.apply(fn)`), with the values it passes. After the
walk this module answers, once per function and cached:

- `sites_to(fn)`: the calls that reach `fn`;
- `param_value(fn, name)`: what the parameter holds — the join of the arguments at every call site (a
  parameter with no call site, a star argument or a default, or callers that disagree stays UNKNOWN);
- `resolve(value)`: a deferred value (a parameter, and the steps taken from it: `.weight`, `[...]`, the
  elements of a loop, `.parameters()`, ...) made concrete by replaying those steps on `param_value`.

Parameters passed through several helpers resolve through each (bounded depth; recursion and cycles
resolve to UNKNOWN, never loop).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gradlint.model.facts import FunctionInfo, LocalCall
from gradlint.model.values import K_UNKNOWN, UNKNOWN, Value, join

if TYPE_CHECKING:
    import libcst as cst

    from gradlint.model.builder import ModelBuilder
    from gradlint.model.project_facts import ExtSite

_MAX_DEPTH = 8


class CallGraph:
    def __init__(self, builder: "ModelBuilder",
                 external_sites: "Callable[[FunctionInfo], Sequence[ExtSite]] | None" = None) -> None:
        self._b = builder
        # calls of a top-level function from other files of the project (gradlint.project), joined too
        self._external_sites = external_sites
        self._by_name: dict[str, list[LocalCall]] = defaultdict(list)
        for call in builder.local_calls:
            self._by_name[call.name].append(call)
        self._fn_of_node: dict[int, FunctionInfo] = {id(f.node): f for f in builder.functions}
        self._params: dict[tuple[int, str], Value] = {}
        self._active: set[tuple[int, str]] = set()

    # ------------------------------------------------------------------ call sites

    def sites_to(self, fn: FunctionInfo) -> list[LocalCall]:
        """The calls of this file that reach `fn` (not counting calls from `fn` itself)."""
        cls = fn.class_info
        if fn.name == "__init__" and cls is not None:
            return [s for s in self._by_name.get(cls.name, ()) if s.cls == cls.name and s.function is not fn]
        out = []
        for s in self._by_name.get(fn.name, ()):
            if s.function is fn:
                continue
            if cls is None:
                # a plain function: called by its name (or handed to `apply`), not as a method
                if s.cls is None and not s.bound:
                    out.append(s)
            elif s.cls == cls.name or (
                s.cls is None and s.bound and s.function is not None and s.function.class_info is cls
            ):
                out.append(s)
        return out

    # ------------------------------------------------------------------ parameter summaries

    def param_value(self, fn: FunctionInfo, name: str, index: int) -> Value:
        key = (id(fn.node), name)
        found = self._params.get(key)
        if found is not None:
            return found
        if key in self._active or len(self._active) >= _MAX_DEPTH:
            return UNKNOWN  # recursion, or a chain of helpers too long to follow
        self._active.add(key)
        try:
            value = self._join_sites(fn, name, index)
        finally:
            self._active.discard(key)
        self._params[key] = value
        return value

    def _join_sites(self, fn: FunctionInfo, name: str, index: int) -> Value:
        sites: list = self.sites_to(fn)
        external = self._external_sites(fn) if self._external_sites is not None else ()
        sites += external
        if not sites:
            return UNKNOWN
        values: list[Value] = []
        for site in sites:
            if site.args is None or site.kwargs is None:
                return UNKNOWN
            if name in site.kwargs:
                arg = site.kwargs[name]
            else:
                i = index - (1 if site.bound else 0)
                if index < 0 or not 0 <= i < len(site.args):
                    return UNKNOWN  # a default value, or a keyword-only parameter not passed
                arg = site.args[i]
            value = self.resolve(arg)
            if value.kind is K_UNKNOWN:
                return UNKNOWN
            values.append(value)
        joined = join(values)
        if joined.kind is K_UNKNOWN:
            return UNKNOWN
        how = "handed to `apply()`" if all(s.via == "apply" for s in sites) else f"passed to `{fn.name}()`"
        if external:
            how += f" from {external[0].where}"
        origin = joined.origin or joined.kind.value
        return joined.with_origin(f"{origin}, {how}" if how not in origin else origin)

    # ------------------------------------------------------------------ deferred values

    def resolve(self, value: Value) -> Value:
        """A deferred value made concrete (UNKNOWN where the call sites do not tell); others unchanged."""
        if value.ref is None:
            return value
        fn = self._fn_of_node.get(id(value.ref.fn))
        if fn is None:
            return UNKNOWN
        return self._b.replay(self.param_value(fn, value.ref.name, value.ref.index), value.path)


def argument_expr(site, ref) -> cst.BaseExpression | None:
    """The expression a call site (`LocalCall`, or anything with `.node` and `.bound`) passes for the
    parameter `ref` (`ParamRef`); None when it passes none or a star argument hides which."""
    node = site.node
    if any(a.star for a in node.args):
        return None
    for a in node.args:
        if a.keyword is not None and a.keyword.value == ref.name:
            return a.value
    if ref.index < 0:
        return None
    i = ref.index - (1 if getattr(site, "bound", False) else 0)
    positional = [a for a in node.args if a.keyword is None]
    return positional[i].value if 0 <= i < len(positional) else None
