"""Classes of the file: registered before the walk (a class used above its definition is known), whether
each is an `nn.Module` / a Lightning module / an autograd Function, and the instance attributes its methods
assign (`self.fc = nn.Linear(...)`, `self.params = list(params)` deferred on `__init__`'s parameters).
A mixin of `ModelBuilder` (`gradlint.model.builder`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from gradlint.model.bindings import _Scope
from gradlint.model.evaluate import _positional
from gradlint.model.facts import ClassInfo
from gradlint.model.names import dotted
from gradlint.model.values import K_LEAF, K_MODULE, K_UNKNOWN, UNKNOWN, Value

TORCH_ECOSYSTEM = frozenset(
    {"torch", "torchvision", "torchaudio", "torchtext", "lightning", "pytorch_lightning", "timm", "transformers",
     "accelerate", "torchmetrics", "ignite", "fastai", "detectron2", "mmcv", "mmengine", "peft", "diffusers"}
)

OTHER_FRAMEWORKS = frozenset(
    {"mxnet", "tensorflow", "keras", "jax", "flax", "paddle", "mindspore", "oneflow", "cupy", "chainer", "theano"}
)

# The text an import of one of those libraries needs (`import torch`, `x = 1; from transformers import
# AutoModel`, `import numpy as np, torch`): a necessary condition for `uses_torch`, tested on raw text.
ECO_IMPORT = re.compile(
    r"\b(?:import|from)[\s\\]+[^\n]*?\b(?:" + "|".join(sorted(TORCH_ECOSYSTEM)) + r")\b"
)


def _iter_small_statements(body: Sequence[cst.CSTNode]):
    """Small statements in a block, recursing into compound statements (not nested defs/classes)."""
    for stmt in body:
        if type(stmt) is cst.SimpleStatementLine:
            yield from stmt.body
        elif type(stmt) in (cst.FunctionDef, cst.ClassDef):
            continue
        elif isinstance(stmt, cst.BaseCompoundStatement):
            for block_attr in ("body", "orelse", "finalbody"):
                block = getattr(stmt, block_attr, None)
                if block is None:
                    continue
                if type(block) in (cst.Else, cst.Finally):
                    block = block.body
                elif type(block) is cst.If:  # elif chain
                    yield from _iter_small_statements([block])
                    continue
                if type(block) is cst.IndentedBlock:
                    yield from _iter_small_statements(block.body)
                elif type(block) is cst.SimpleStatementSuite:
                    yield from block.body
            for handler in getattr(stmt, "handlers", ()) or ():
                if type(handler.body) is cst.IndentedBlock:
                    yield from _iter_small_statements(handler.body.body)



class ClassScan:
    # ----------------------------------------------------------------------------- classes

    def _register_class(self, node: cst.ClassDef) -> ClassInfo:
        name = node.name.value
        if name in self.classes and self.classes[name].node is node:
            return self.classes[name]
        is_module = False
        is_lightning = False
        for base in node.bases:
            q = self.imports.resolve(base.value) or dotted(base.value) or ""
            last = q.rsplit(".", 1)[-1]
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module") or last in ("Module",):
                is_module = True
            if "Lightning" in last:
                is_module = True
                is_lightning = True
            if last in self.classes and self.classes[last].is_module:
                is_module = True
                is_lightning = is_lightning or self.classes[last].is_lightning
        method_names = frozenset(
            stmt.name.value for stmt in node.body.body if type(stmt) is cst.FunctionDef
        ) if type(node.body) is cst.IndentedBlock else frozenset()
        framework_base = False
        is_autograd_function = False
        for base in node.bases:
            d = dotted(base.value) or ""
            head = d.split(".", 1)[0]
            q = self.imports.resolve(base.value) or ""
            if q in ("torch.autograd.Function", "torch.autograd.function.Function"):
                is_autograd_function = True
            if head in self.imports.relative or (
                q.split(".", 1)[0] in TORCH_ECOSYSTEM and not q.startswith("torch.")
            ):
                framework_base = True
        if not is_module and not is_autograd_function and "forward" in method_names:
            # a class with a `forward` method is a module (its nn.Module base may come from another file)
            is_module = True
        info = ClassInfo(node=node, name=name, is_module=is_module, is_lightning=is_lightning,
                         method_names=method_names, framework_base=framework_base)
        self.classes[name] = info
        return info

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        info = self._register_class(node)
        self._note_class(node)
        self._prescan_self_attrs(node, info)
        self._scope = _Scope(self._scope, self._function, info)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._leave_class()
        assert self._scope.parent is not None
        self._scope = self._scope.parent

    def _prescan_self_attrs(self, node: cst.ClassDef, info: ClassInfo) -> None:
        """`self.X = nn.Linear(...)` / `nn.Parameter(...)` anywhere in the class's methods."""
        for stmt in node.body.body:
            if type(stmt) is cst.FunctionDef:
                # the method's parameters are deferred: `self.params = list(params)` in `__init__` holds what
                # the class's instantiations pass
                params: dict[str, Value] = {}
                self._bind_params(stmt, info, params)
                self._prescan_params = params
                if type(stmt.body) is not cst.IndentedBlock:
                    continue
                for small in _iter_small_statements(stmt.body.body):
                    if type(small) is cst.Assign:
                        for t in small.targets:
                            self._prescan_target(t.target, small.value, info)
                    elif type(small) is cst.AnnAssign and small.value is not None:
                        self._prescan_target(small.target, small.value, info)
                    elif (
                        type(small) is cst.Expr
                        and type(small.value) is cst.Call
                        and type(small.value.func) is cst.Attribute
                        and small.value.func.attr.value == "register_parameter"
                    ):
                        pos = _positional(small.value)
                        if len(pos) >= 2 and type(pos[0].value) is cst.SimpleString:
                            key = pos[0].value.evaluated_value
                            if isinstance(key, str):
                                v = self._classify_in_class(pos[1].value)
                                if v.kind is K_LEAF:
                                    info.attrs[key] = v

    def _prescan_target(self, target: cst.BaseExpression, value: cst.BaseExpression, info: ClassInfo) -> None:
        if (
            type(target) is cst.Attribute
            and type(target.value) is cst.Name
            and target.value.value == "self"
        ):
            v = self._classify_in_class(value)
            attr = target.attr.value
            if v.kind is K_LEAF:
                v = Value(K_LEAF, f"`self.{attr}`, an `nn.Parameter`" if "Parameter" in v.origin else v.origin)
            if v.kind is not K_UNKNOWN or v.deferred or v.cls is not None:  # (cls: another file's class)
                prev = info.attrs.get(attr)
                # an attribute assigned different kinds of things in different places is unknown
                if prev is not None and (prev.kind is not v.kind or prev.ref != v.ref or prev.path != v.path):
                    info.attrs[attr] = UNKNOWN
                else:
                    info.attrs[attr] = v

    def _classify_in_class(self, value: cst.BaseExpression) -> Value:
        saved = self._scope
        self._scope = _Scope(None, None, None)
        self._scope.bindings.update(self._prescan_params)
        try:
            v = self.classify(value)
        finally:
            self._scope = saved
        if v.kind is K_MODULE and v.origin.startswith("`") and type(value) is cst.Name:
            # self.model = model: only the name says it is a module; let attr names decide, and the call
            # sites of the method
            return Value(K_UNKNOWN, ref=v.ref) if v.ref is not None else UNKNOWN
        return v

