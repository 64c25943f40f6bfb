"""The call sites the walk records for the call graph: calls that may reach a function or class of this file
(`LocalCall`, with the values they pass; `net.apply(fn)` runs `fn` on submodules) and calls of functions of
other files of the project (`ImportedCall`). The base of `gradlint.model.record.FactRecorder`, a mixin of
`ModelBuilder` (`gradlint.model.builder`): it uses the builder's scope, evaluator and sequence points.
"""

from __future__ import annotations

import builtins

import libcst as cst

from gradlint.model.evaluate import _DEF_NAME
from gradlint.model.facts import FunctionInfo, ImportedCall, LocalCall
from gradlint.model.names import dotted
from gradlint.model.project_facts import EXTERNAL_TOPS
from gradlint.model.values import K_MODULE, Value

_BUILTINS = frozenset(dir(builtins))


class CallRecorder:
    def _module_global(self, text: str) -> bool:
        """Does the name `text` starts with refer, from the current scope, to a binding of the module's top
        level (not a parameter or a local of this or an enclosing function)?"""
        head = text.partition(".")[0]
        scope = self._scope
        while scope is not None:
            if head in scope.bindings and head not in scope.declared:
                return scope.parent is None
            scope = scope.parent
        return False

    def _may_define(self, name: str) -> bool:
        """Can the file define a function or class called `name`? (Always True without the text.)"""
        names = self._def_names
        if names is None:
            if self._source is None:
                return True
            names = self._def_names = frozenset(_DEF_NAME.findall(self._source))
        return name in names

    def _record_local_call(self, node: cst.Call, fn: FunctionInfo | None) -> None:
        """Calls that may reach a function of this file (see `LocalCall`), with the values they pass."""
        func = node.func
        callee: str | None = None
        cls_name: str | None = None
        bound = False
        if type(func) is cst.Name:
            callee = func.value
            if callee in self.classes:
                cls_name, bound = callee, True
        elif type(func) is cst.Attribute:
            method = func.attr.value
            if type(func.value) is cst.Name and func.value.value == "self":
                callee, bound = method, True
            elif method == "apply" and len(node.args) == 1 and type(node.args[0].value) is cst.Name:
                # `net.apply(weights_init)`: weights_init(m) runs on every submodule of net
                target = node.args[0].value.value
                defined = self._may_define(target)
                origin = None if defined else self._project_origin(node.args[0].value)
                if (defined and target not in self.classes) or origin is not None:
                    owner = dotted(func.value)
                    module = Value(K_MODULE, f"a submodule of `{owner}`" if owner else "a submodule")
                    if origin is not None:
                        self.imported_calls.append(ImportedCall(target, origin, node, self._next(), self._mode, fn,
                                                                (module,), {}, via="apply"))
                    else:
                        self.local_calls.append(LocalCall(target, node, self._next(), self._mode, fn,
                                                          args=(module,), kwargs={}, via="apply"))
                return
            elif self._may_define(method):
                recv = self.classify(func.value)
                info = self.classes.get(recv.cls) if recv.cls is not None else None
                if info is not None and method in info.method_names:
                    callee, cls_name, bound = method, recv.cls, True
                elif self.ext_instances and (target := self.imported_method_target(recv, method)) is not None:
                    self._record_imported_call(method, target, node, fn)  # a method of another file's class
                    return
            elif self._project:
                origin = self._project_origin(func)
                if origin is None and self.ext_instances:
                    origin = self.imported_method_target(self.classify(func.value), method)
                if origin is not None:
                    self._record_imported_call(method, origin, node, fn)
                return
        if callee is None:
            return
        defined = self._may_define(callee)
        if self._project and cls_name is None and not bound and not defined:
            origin = self._project_origin(func)
            if origin is not None:
                self._record_imported_call(callee, origin, node, fn)
        args: tuple[Value, ...] | None = None
        kwargs: dict[str, Value] | None = None
        if defined and not any(a.star for a in node.args):
            args = tuple(self.classify(a.value) for a in node.args if a.keyword is None)
            kwargs = {a.keyword.value: self.classify(a.value) for a in node.args if a.keyword is not None}
        self.local_calls.append(LocalCall(callee, node, self._next(), self._mode, fn, cls=cls_name, bound=bound,
                                          args=args, kwargs=kwargs))

    def _project_origin(self, func: cst.BaseExpression) -> str | None:
        """The import origin of a called name when it comes from a module of the checked project."""
        if not self._project:
            return None
        origin = self.imports.origin(func)
        if origin is None and self.imports.stars and type(func) is cst.Name and func.value not in _BUILTINS:
            origin = f"{self.imports.stars[-1]}.{func.value}"  # `from pkg import *` (the last one wins)
        if origin is None or origin.partition(".")[0] in EXTERNAL_TOPS:
            return None
        return origin

    def _record_imported_call(self, name: str, origin: str, node: cst.Call, fn: FunctionInfo | None) -> None:
        args: tuple[Value, ...] | None = None
        kwargs: dict[str, Value] | None = None
        if not any(a.star for a in node.args):
            args = tuple(self.classify(a.value) for a in node.args if a.keyword is None)
            kwargs = {a.keyword.value: self.classify(a.value) for a in node.args if a.keyword is not None}
        self.imported_calls.append(ImportedCall(name, origin, node, self._next(), self._mode, fn, args, kwargs))
