"""What a call of a function of the file returns (part of the one evaluator, `gradlint.model.evaluate`).

A call of a plain function of the file (`local_function`) or of a method of a class of the file on `self` or
an instance (`methods_of`) gets the callee's summary: the join of its `return` values (`return_value`), or,
for `a, b = f(...)` where every `return` spells a tuple or list of the same length, one value per item
(`returned_items`: `W1, b1 = init_params()`). Returned values that depend on the callee's own parameters
are replayed on this call's arguments. A function defined below the call has no summary in the walk that
reaches the call first: the next walk reads the last one's (`seeds`, `gradlint.model.late`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.facts import FunctionInfo
from gradlint.model.names import _positional
from gradlint.model.values import K_SELF, K_UNKNOWN, UNKNOWN, Value, join

if TYPE_CHECKING:
    from gradlint.model.late import Seeds


class CallSummaries:
    seeds: "Seeds | None"

    def methods_of(self, recv: Value, method: str) -> list[FunctionInfo] | None:
        """The walked methods `method` of the file's class that `recv` (`self`, an instance) is, or None."""
        cls = self.scope_class() if recv.kind is K_SELF else (
            self.classes.get(recv.cls) if recv.cls is not None else None)
        if cls is None or method not in cls.method_names:
            return None
        found = [f for f in cls.methods if f.name == method and f.walked]
        if not found and self.seeds is not None:  # (defined below: `gradlint.model.late`)
            found = self.seeds.methods(cls, method)
        return found

    def local_function(self, name: str) -> FunctionInfo | None:
        """The one plain function of the file a call of `name` reaches here (a local of that name shadows it)."""
        fns = self._fns_by_name.get(name)
        if self._scope.function is not None and name in self._scope.bindings:
            return None
        if fns:
            plain = [f for f in fns if f.class_info is None]
            return plain[0] if len(plain) == 1 else None
        return self.seeds.function(name) if self.seeds is not None else None  # (`gradlint.model.late`)

    def callee(self, call: cst.Call) -> tuple[FunctionInfo, bool] | None:
        """The one function of the file this call reaches, and whether it is bound (a method on an object)."""
        func = call.func
        if type(func) is cst.Name:
            fn = self.local_function(func.value)
            return (fn, False) if fn is not None else None
        if type(func) is cst.Attribute:
            found = self.methods_of(self.classify(func.value), func.attr.value)
            if found is not None and len(found) == 1:
                return found[0], True
        return None

    def return_value(self, call: cst.Call, fn: FunctionInfo, bound: bool) -> Value:
        """What this call of `fn` returns: the join of its `return` values, those that depend on its own
        parameters replayed on the arguments of this call."""
        if fn.returns_other or not fn.returns or not fn.walked:
            return UNKNOWN
        values = []
        for ret in fn.returns:
            ret = self._at_call(call, fn, bound, ret)
            if ret is None:
                return UNKNOWN
            values.append(ret)
        if len(values) == 1:
            return values[0]
        if any(v.deferred for v in values):
            return UNKNOWN
        return join(values)

    def returned_items(self, call: cst.Call, n: int) -> list[Value] | None:
        """For `a, b, ... = call` (`n` names): the value of each item, when the function of the file it calls
        returns an `n`-item tuple or list literal at every `return`; None otherwise."""
        found = self.callee(call)
        if found is None:
            return None
        fn, bound = found
        if fn.returns_other or not fn.returns_items or not fn.walked:
            return None
        if any(items is None or len(items) != n for items in fn.returns_items):
            return None
        out: list[Value] = []
        for i in range(n):
            values = [self._at_call(call, fn, bound, items[i]) for items in fn.returns_items]
            if any(v is None or v.deferred for v in values):
                out.append(UNKNOWN)
            else:
                out.append(values[0] if len(values) == 1 else join(values))
        return out

    def _at_call(self, call: cst.Call, fn: FunctionInfo, bound: bool, ret: Value) -> Value | None:
        """A returned value at this call (None: not known): replayed on the argument it depends on."""
        if ret.ref is not None and ret.ref.fn is fn.node:
            arg = self._argument(call, ret.ref, bound)
            if arg is None:
                return None
            ret = self.replay(arg, ret.path)
        if ret.kind is K_UNKNOWN and not ret.deferred:
            return None
        return ret

    def _argument(self, call: cst.Call, ref, bound: bool) -> Value | None:
        for a in call.args:
            if a.star:
                return None
            if a.keyword is not None and a.keyword.value == ref.name:
                return self.classify(a.value)
        i = ref.index - (1 if bound else 0)
        pos = _positional(call)
        if ref.index < 0 or not 0 <= i < len(pos):
            return None
        return self.classify(pos[i].value)
