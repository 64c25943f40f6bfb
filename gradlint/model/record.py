"""The facts the walk records at statements and calls: in-place ops, rebinds, re-leafs, `.data` accesses,
`.grad` reads, model calls, train/eval switches, optimizer steps and backward calls; the calls that may reach a
function of the file or of the project are recorded by its base, `gradlint.model.record_calls.CallRecorder`.
A mixin of `ModelBuilder` (`gradlint.model.builder`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from gradlint.model.evaluate import EMPTY_LIST, _const_bool, _kwarg, _positional, _unknown
from gradlint.model.facts import (
    DataAccess,
    GradRead,
    InplaceOp,
    LoopInfo,
    ModelCall,
    ModeSwitch,
    Rebind,
    Releaf,
)
from gradlint.model.names import (
    GRAD_MODE_NAMES, TORCH_FACTORIES, dotted, is_full_slice, is_inplace_method, paired_items, target_names,
)
from gradlint.model.record_calls import CallRecorder
from gradlint.model.values import K_LEAF, K_MODULE, K_OTHER, K_PARAMS, K_TENSOR, UNKNOWN, UNK_PROV, Value
from gradlint.model.walk import iter_nodes

# helpers that cut the graph of what they are given (`detach_hidden(h)`, `repackage_hidden(h)`)
DETACH_HELPER = re.compile(r"detach|repackage", re.IGNORECASE)

AUG_OPS = {
    cst.AddAssign: "+=",
    cst.SubtractAssign: "-=",
    cst.MultiplyAssign: "*=",
    cst.DivideAssign: "/=",
    cst.FloorDivideAssign: "//=",
    cst.PowerAssign: "**=",
    cst.ModuloAssign: "%=",
    cst.MatrixMultiplyAssign: "@=",
    cst.BitAndAssign: "&=",
    cst.BitOrAssign: "|=",
    cst.BitXorAssign: "^=",
    cst.LeftShiftAssign: "<<=",
    cst.RightShiftAssign: ">>=",
}


def _names_in(expr: cst.CSTNode) -> set[str]:
    """Every Name used as a value in expr (not attribute names)."""
    attr_names = {id(n.attr) for n in iter_nodes(expr) if type(n) is cst.Attribute}
    return {n.value for n in iter_nodes(expr) if type(n) is cst.Name and id(n) not in attr_names}


def _reads_grad_of(expr: cst.CSTNode, target: str) -> bool:
    """Does expr read `<target>.grad` (an update step like `p - lr * p.grad`)?"""
    for n in iter_nodes(expr):  # (a plain loop: no generator frame resumed per node)
        if type(n) is cst.Attribute and n.attr.value == "grad" and dotted(n.value) == target:
            return True
    return False


def _has_grad_term(expr: cst.CSTNode) -> bool:
    """Does expr involve a gradient: `x.grad`, or a name like `grad`, `grads`, `g`, `dw`?"""
    for n in iter_nodes(expr):
        if type(n) is cst.Attribute and n.attr.value == "grad":
            return True
        if type(n) is cst.Name and ("grad" in n.value.lower() or n.value in ("g", "dp", "dw", "db")):
            return True
    return False


# the methods `FactRecorder.visit_Call` records facts of (after the in-place ones)
_RECORDED_METHODS = frozenset({"requires_grad_", "eval", "train", "append", "retain_grad"})

_METADATA_ATTRS = frozenset({"shape", "dtype", "device", "is_cuda", "ndim", "layout", "is_sparse", "is_leaf"})
_METADATA_METHODS = frozenset({"size", "dim", "numel", "nelement", "element_size", "type", "is_floating_point",
                               "is_complex", "get_device", "data_ptr", "stride", "is_contiguous"})


def _data_attributes(expr: cst.CSTNode) -> list[cst.Attribute]:
    return [n for n in iter_nodes(expr) if type(n) is cst.Attribute and n.attr.value == "data"]


def _loop_target_names(loops: Sequence[LoopInfo]) -> set[str]:
    names: set[str] = set()
    for lp in loops:
        if type(lp.node) is cst.For:
            names |= _target_names(lp.node.target)
    return names


def _target_names(target: cst.BaseExpression) -> set[str]:
    return set(target_names(target))


class FactRecorder(CallRecorder):
    _callee_value: tuple[cst.BaseExpression, Value] | None = None  # (see callee_value)

    def callee_value(self, func: cst.BaseExpression) -> Value:
        """`classify(func)` for the callee of the call being visited: what `_model_call_text` computed for it
        (the extensions' `visit_Call` handlers run right after the core's, with nothing rebound between)."""
        known = self._callee_value
        return known[1] if known is not None and known[0] is func else self.classify(func)

    # ----------------------------------------------------------------------------- statements

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.training.aug_assign(node)
        op = AUG_OPS.get(type(node.operator), "op=")
        self._mark_write(node.target, "augassign")
        self._record_inplace(node, node.target, op, extra=node.value)
        self._aug_assign_prov(node)

    def visit_Del(self, node: cst.Del) -> None:
        self.training.delete(node)
        target = node.target
        if type(target) is cst.Subscript and is_full_slice(target):
            self._renew(target.value, node)  # `del x[:]` empties `x`

    def visit_Assign(self, node: cst.Assign) -> None:
        self.training.assign(node)
        rhs_value = self.classify(node.value)
        for t in node.targets:
            target = t.target
            if type(target) is cst.Subscript:
                self._mark_write(target.value, "setitem")
                self._record_inplace(node, target, "[...] =", extra=node.value)
            elif type(target) is cst.Attribute and target.attr.value == "data":
                # `p.data = p.data - lr * p.grad.data` is an update of p written through .data;
                # `p.data = other` swaps storage (maybe of another shape) and is not flagged. Either way the
                # `.data` reads on the right-hand side are part of the same statement and not reported apart.
                base = dotted(target.value)
                self_update = False
                for attr in _data_attributes(node.value):
                    self._writes[id(attr)] = "assign-source"
                    if base is not None and dotted(attr.value) == base:
                        self_update = True
                self._writes[id(target)] = "update" if self_update else "assign"
            elif type(target) is cst.Attribute and target.attr.value == "requires_grad":
                self._set_requires_grad(target.value, _const_bool(node.value), node)
            elif type(target) in (cst.Tuple, cst.List):
                # `p.data, meta = repack(...)` swaps storage like `p.data = t` (not a read; not flagged)
                for el in target.elements:
                    if type(el.value) is cst.Attribute and el.value.attr.value == "data":
                        self._writes[id(el.value)] = "assign"
                # `w, b = w - lr * w.grad, b - lr * b.grad`: each name rebound to its own item
                for el, src in paired_items(target, node.value) or ():
                    if type(el) is cst.Name:
                        self._record_rebind(node, el.value, src)
            elif type(target) is cst.Attribute:
                # `self.w = self.w - lr * self.w.grad`: an attribute holding a leaf, rebound
                name = dotted(target)
                rhs = node.value  # (an update's shapes only: `self.w - lr * self.w.grad`, `self.w.sub(...)`)
                if name is not None and (type(rhs) is cst.BinaryOperation or (
                        type(rhs) is cst.Call and type(rhs.func) is cst.Attribute and dotted(rhs.func.value) == name)) \
                        and _reads_grad_of(rhs, name):
                    old = self.classify(target)
                    if old.kind is K_LEAF:
                        self._record_rebind(node, name, node.value, old)
            elif type(target) is cst.Name:
                self._record_rebind(node, target.value)
                # (one target: nothing rebound since `rhs_value`; `a.requires_grad = b = f(a)` may rebind `a`)
                if self._is_releaf(node.value, rhs_value if len(node.targets) == 1 else None):
                    self._record_releaf(Releaf(target.value, self._next(), self._function, node))
        self._pending_assign.append(self._assign_pending(node, rhs_value))

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self._site = id(original_node)  # (the binding site of what it binds, for the loop joins)
        for t in original_node.targets:
            if type(t.target) is cst.Attribute and t.target.attr.value == "requires_grad":
                self._requires_grad_set(original_node, t.target.value, _const_bool(original_node.value))
        self._bind_pending(self._pending_assign.pop())
        self._site = None

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._pending_assign.append(self._with_regions(node, [(node.target, self.classify(node.value),
                                                                   self.prov(node.value))]))
        else:
            self._pending_assign.append([(node.target, None, UNK_PROV)])

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._site = id(original_node)
        self._bind_pending(self._pending_assign.pop())
        self._site = None

    def _set_requires_grad(self, receiver: cst.BaseExpression, flag: bool | None, node: cst.CSTNode) -> None:
        if type(receiver) is cst.Attribute:
            d = dotted(receiver)
            if d is not None:
                if flag is False:
                    self._frozen_tensors.add(d)
                else:
                    self._frozen_tensors.discard(d)
            return
        if type(receiver) is cst.Name:
            cur = self._scope.lookup(receiver.value)
            if flag is False and cur is not None and cur.kind is K_LEAF:
                self._rebind_kind(receiver.value, Value(K_TENSOR, "frozen"))
                self._freeze_loop_owner(receiver.value)
            elif flag is True:
                self._record_releaf(Releaf(receiver.value, self._next(), self._function, node))
                self._renew(receiver, node)
                if cur is not None and cur.kind is K_TENSOR:
                    self._rebind_kind(receiver.value, Value(K_LEAF, "made a leaf with requires_grad = True"))

    def _freeze_loop_owner(self, name: str) -> None:
        """`for p in model.parameters(): p.requires_grad = False` freezes `model` for the rest of the file."""
        for loop in reversed(self._loops):
            if type(loop.node) is cst.For and name in _target_names(loop.node.target):
                it = loop.node.iter
                if (
                    type(it) is cst.Call
                    and type(it.func) is cst.Attribute
                    and it.func.attr.value in ("parameters", "named_parameters")
                ):
                    owner = dotted(it.func.value)
                    if owner:
                        self._frozen.add(owner)
                return

    def _renewing_call(self, node: cst.Call) -> None:
        """Calls that make what a name holds anew, for the loop joins: `x.clear()`, and `detach_hidden(h)`,
        `repackage_hidden(h)` (which cut what they are given)."""
        func = node.func
        if type(func) is cst.Attribute:
            name = func.attr.value
            if name == "clear" and not node.args:
                self._renew(func.value, node)
                return
        elif type(func) is cst.Name:
            name = func.value
        else:
            return
        if name != "detach" and name != "detach_" and DETACH_HELPER.search(name):
            for a in node.args:
                expr = a.value
                for el in (e.value for e in expr.elements) if type(expr) in (cst.Tuple, cst.List) else (expr,):
                    self._renew(el, node)

    def _is_releaf(self, rhs: cst.BaseExpression, v: Value | None = None) -> bool:
        """`x.detach().requires_grad_()`, `torch.tensor(..., requires_grad=True)`, `nn.Parameter(...)`; `v`:
        `classify(rhs)` when the caller has just computed it (with nothing rebound since)."""
        if type(rhs) is cst.Call:
            if type(rhs.func) is cst.Attribute and rhs.func.attr.value in ("requires_grad_", "detach"):
                return True
            if v is None:
                v = self.classify(rhs)
            if v.kind is K_LEAF and "parameter of" not in v.origin:
                return True
        return False

    def _record_rebind(self, node: cst.Assign, name: str, rhs: cst.BaseExpression | None = None,
                       old: Value | None = None) -> None:
        """`name = rhs` (`rhs`: the statement's value, or the item of a tuple bound to `name`); `old`: what
        `name` holds (looked up when not given)."""
        rhs = node.value if rhs is None else rhs
        old = self._scope.lookup(name) if old is None else old
        loop_target: bool | None = None
        if old is None or old.kind is not K_LEAF:
            loop_target = name in _loop_target_names(self._loops)
            deferred = old is not None and old.deferred
            # (the right-hand side is searched only when its answer matters)
            reads_grad = (loop_target or deferred) and _reads_grad_of(rhs, name)
            if loop_target and reads_grad:
                # a loop variable whose .grad the update reads: `for p in params: p = p - lr * p.grad`
                old = Value(K_LEAF, "a loop variable whose `.grad` is read")
            elif not (deferred and reads_grad):
                return  # (a parameter of the function is a leaf if its callers pass one: resolved after the walk)
        self.rebinds.append(
            Rebind(
                node=node,
                name=name,
                value=old,
                rhs=rhs,
                seq=self._next(),
                mode=self._mode,
                function=self._function,
                loop=self._loop,
                is_loop_target=name in _loop_target_names(self._loops) if loop_target is None else loop_target,
                reach=self.reach(name),
            )
        )

    def _record_inplace(self, node: cst.CSTNode, target: cst.BaseExpression, op: str,
                        extra: cst.BaseExpression | None = None) -> None:
        view = False
        full_slice = False
        base = target
        if type(target) is cst.Subscript:
            view = True
            base = target.value
            full_slice = is_full_slice(target)
        value = self.classify(base)
        if view and value.kind is K_PARAMS:
            # `params[i] -= lr * params[i].grad` with `params = [W, b]`: the element itself, not a view
            view, full_slice, base, value = False, False, target, self.item_of(value)
        bname = dotted(base)
        reads_own = bname is not None and extra is not None and _reads_grad_of(extra, bname)
        if value.kind is not K_LEAF and reads_own and type(base) is cst.Name:
            if base.value in _loop_target_names(self._loops) and _unknown(self._scope.lookup(base.value)):
                value = Value(K_LEAF, "a loop variable whose `.grad` the update reads")
        self.inplace_ops.append(
            InplaceOp(
                node=node,
                target=base,
                value=value,
                op=op,
                view=view,
                full_slice=full_slice,
                mode=self._mode,
                function=self._function,
                seq=self._seq,
            )
        )

    # ----------------------------------------------------------------------------- calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        fn = self._scope.function  # (`_function`)
        self._callee_value = None
        if self._scope.joins:
            self._renewing_call(node)
        if type(func) is cst.Attribute:
            method = func.attr.value
            recv = func.value
            if method[-1:] == "_":  # (an in-place method's name ends with "_")
                if is_inplace_method(method):
                    self._mark_write(recv, "inplace")
                    self._record_inplace(node, recv, f"{method}()", extra=node)
                self._site = id(node)
                self._inplace_call_prov(node)
                self._site = None
            if method not in _RECORDED_METHODS:
                pass  # (most calls: none of the methods below)
            elif method == "requires_grad_":
                arg = _kwarg(node, "requires_grad") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                rv = self.classify(recv)
                if rv.kind is K_MODULE and flag is False:
                    d = dotted(recv)
                    if d:
                        self._frozen.add(d)
                else:
                    self._set_requires_grad(recv, flag, node)
                    if flag is False:  # (as `x.requires_grad = False`: what is computed from it is a leaf)
                        self._requires_grad_set(node, recv, False)
                if flag is not False:
                    self._mark_grad_use()
            elif method == "eval" and not node.args and not self._is_imported_name(recv):
                self._record_mode_switch(node, recv, "eval")
            elif method == "train" and len(node.args) <= 1 and not self._is_imported_name(recv) and all(
                    a.keyword is None or a.keyword.value == "mode" for a in node.args):
                # (`Module.train(mode=True)` takes one argument: `d2l.train(train_iter, net, ...)` — a
                # function of an imported module — is not a switch)
                arg = _kwarg(node, "mode") or (_positional(node)[0] if _positional(node) else None)
                flag = True if arg is None else _const_bool(arg.value)
                self._record_mode_switch(node, recv, "restore" if flag is None else ("train" if flag else "eval"))
            elif method == "append" and type(recv) is cst.Name and len(node.args) == 1:
                # `params = []; params.append(Variable(..., requires_grad=True))`: a list of leaves
                cur = self._scope.lookup(recv.value)
                if cur is not None and (cur.kind is K_PARAMS or (
                        cur.kind is K_OTHER and cur.origin == EMPTY_LIST.origin)):
                    added = self.classify(node.args[0].value)
                    self._rebind_kind(recv.value, Value(K_PARAMS, "a list of leaf tensors")
                                      if added.kind is K_LEAF else UNKNOWN)
            elif method == "retain_grad" and type(recv) is cst.Name:
                self._record_releaf(Releaf(recv.value, self._next(), fn, node))
                self._renew(recv, node)
        if self.mentions(".data"):
            self._mark_data_uses(node)
        out = _kwarg(node, "out") if node.args else None
        if out is not None and self._is_torch_op(func):
            self._writes[id(out.value)] = "out"
            self._record_inplace(node, out.value, "out=")
        q = self.imports.resolve(func)
        self.training.call(node, q)  # optimizers, steps, backward passes, gradient resets
        self._note_call(node)  # calls inside classes, through the module's own alias (`gradlint.model.assigned`)
        if q is not None:
            if q in ("torch.autograd.grad", "torch.autograd.backward") or q.startswith("torch.func."):
                self._mark_grad_use()
            elif (kind := GRAD_MODE_NAMES.get(q)) == "enable_grad":
                self._mark_grad_use()
            elif kind == "set_grad_enabled":  # `set_grad_enabled(True)`: enable_grad spelled out
                arg = _kwarg(node, "mode") or (_positional(node)[0] if _positional(node) else None)
                if arg is not None and _const_bool(arg.value) is True:
                    self._mark_grad_use()
            elif q == "torch.set_default_device":
                self._default_device = True
            elif q.rsplit(".", 1)[-1] in TORCH_FACTORIES:
                rg = _kwarg(node, "requires_grad")
                if rg is not None and _const_bool(rg.value) is not False:
                    self._mark_grad_use()
        self._record_local_call(node, fn)
        # model calls
        found = self._model_call_text(node)
        if found is not None:
            text, target_value = found
            loop = self._loop
            mc = ModelCall(node=node, seq=self._next(), mode=self._mode, function=fn, loop=loop, text=text,
                           value=target_value, module_global=fn is not None and self._module_global(text))
            self.model_calls.append(mc)
            if fn is not None:
                fn.model_calls.append(mc)
            if loop is not None:
                loop.model_calls.append(mc)

    def _mark_write(self, expr: cst.BaseExpression, how: str) -> None:
        """`expr` is written to; a write into an indexed part of `.data` (`w.data[0] += 1`,
        `w.data[:, 0].normal_()`) writes through `.data` too."""
        self._writes[id(expr)] = how
        while type(expr) is cst.Subscript:
            expr = expr.value
            if type(expr) is cst.Attribute and expr.attr.value == "data":
                self._writes.setdefault(id(expr), how)
                return

    def _mark_data_uses(self, node: cst.Call) -> None:
        """Uses of `.data` that are not reads of its values: `nn.init.*_(p.data)` writes it; `p.data.size()`,
        `isinstance(p.data, T)` only look at metadata."""
        func = node.func
        args = node.args
        if type(func) is cst.Attribute:
            inner = func.value
            if type(inner) is cst.Attribute and inner.attr.value == "data" and func.attr.value in _METADATA_METHODS:
                self._writes.setdefault(id(inner), "meta")
            if not args or not self.mentions("init"):
                return
            first = args[0].value
            if type(first) is cst.Attribute and first.attr.value == "data":
                q = self.imports.resolve(func)
                if q is not None and q.startswith("torch.nn.init.") and q.endswith("_"):
                    self._writes.setdefault(id(first), "inplace")
        elif type(func) is cst.Name and func.value in ("isinstance", "type", "len", "id") and args:
            first = args[0].value
            if type(first) is cst.Attribute and first.attr.value == "data":
                self._writes.setdefault(id(first), "meta")

    def _is_torch_op(self, func: cst.BaseExpression) -> bool:
        """A torch function (`torch.add`) or a method of a known tensor (`x.add`): `out=` means torch's out."""
        q = self.imports.resolve(func)
        if q is not None:
            return q.startswith("torch.")
        return type(func) is cst.Attribute and self.classify(func.value).is_tensor

    def _is_imported_name(self, expr: cst.BaseExpression) -> bool:
        """A bare name bound by an import (`d2l` of `import d2lzh_pytorch as d2l`, `utils`): a module or a
        function, not a model built here — unless the project says it holds one (`from utils import model`)."""
        return type(expr) is cst.Name and (expr.value in self.imports.aliases or expr.value in self.imports.relative) \
            and not self.imported_module(expr.value)

    def _record_mode_switch(self, node: cst.Call, receiver: cst.BaseExpression, kind: str) -> None:
        """`kind`: "eval", "train", or "restore" (`train(flag)`, counted as leaving train mode)."""
        seq = self._next()
        fn = self._function
        to_eval = kind != "train"  # `train(flag)` may leave it in eval mode: counted with eval
        if to_eval:
            if fn is not None:
                fn.eval_seqs.append(seq)
            else:
                self.module_eval_seqs.append(seq)
        switch = ModeSwitch(node, seq, dotted(receiver) or "", kind, fn, list(self.enclosing_loops))
        self.switches.append(switch)
        self._last_switch[fn] = switch  # (for `_after_eval_reason`: the last switch of each scope)

    def _after_eval_reason(self) -> str | None:
        """A loop that starts after `model.eval()` (with no `.train()` since) in the same scope."""
        fn = self._function
        last = self._last_switch.get(fn)  # (the last of `switches` whose function is `fn`)
        if last is not None and last.kind != "train" and last.receiver:
            return f"it runs after `{last.receiver}.eval()`"
        return None

    def _model_call_text(self, node: cst.Call) -> tuple[str, Value] | None:
        func = node.func
        target = func
        if type(func) is cst.Attribute and func.attr.value == "forward":
            target = func.value
        if type(target) not in (cst.Name, cst.Attribute) or not node.args:
            return None  # a model is called with inputs; `solver.model()` is not a forward pass
        if type(target) is cst.Name and target.value == "self":
            return None  # a module calling itself: the model's own code
        v = self.classify(target)
        self._callee_value = (target, v)  # (`callee_value`)
        if v.kind is K_MODULE:
            d = dotted(target)
            if d is None:
                return None
            # a loss / activation module is not "the model"
            if "Loss" in v.origin or d.lower().endswith(("loss", "criterion", "loss_fn")):
                return None
            q = self.imports.resolve(target)
            if q is not None and q.startswith("torch."):
                return None  # torch.nn.functional... resolved names are functions, not models
            return d, v
        return None

    def _mark_grad_use(self, backward: bool = False) -> None:
        fn = self._function
        if fn is not None:
            fn.has_grad_use = True
            if backward:
                fn.has_backward = True
        for lp in self._loops[self._loop_floor[-1] if self._loop_floor else 0:]:
            lp.has_grad_use = True
            if backward:
                lp.has_backward = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        inner = node.value
        if type(inner) is cst.Attribute and inner.attr.value == "data" and node.attr.value in _METADATA_ATTRS:
            self._writes.setdefault(id(inner), "meta")  # `p.data.shape`: metadata, not the values
        if node.attr.value == "grad" and type(node.value) is cst.Name:
            self.grad_reads.append(GradRead(node.value.value, self._next(), self._function, node))
        elif node.attr.value == "data":
            base_value = self.classify(node.value)
            if base_value.is_tensor or base_value.deferred:
                self.data_accesses.append(
                    DataAccess(
                        node=node,
                        base=node.value,
                        value=base_value,
                        write=self._writes.get(id(node)),
                        mode=self._mode,
                        function=self._function,
                    )
                )
