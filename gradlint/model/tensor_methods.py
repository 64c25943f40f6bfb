"""What a tensor method returns, for the tensor provenance (part of the one evaluator, a base of
`gradlint.model.tensor_ops.TensorEvaluator`): `.item()` / `.tolist()` / `.numpy()` take a value out of its graph,
`.detach()` makes a leaf, `.requires_grad_()` a leaf that requires grad, `.clone()` keeps the graph, an integer
cast or indices (`argmax`) an int64 copy, and `.to()` / `.cuda()` / `.float()` a copy or the tensor itself
(`_convert`: a non-leaf when a leaf that requires grad really moves or changes dtype).
"""

from __future__ import annotations

import libcst as cst

from gradlint.model.dtypes import _CANON, INT_CASTS
from gradlint.model.evaluate import NON_TENSOR_METHODS, _const_bool, _kwarg, _positional
from gradlint.model.facts import M_UNKNOWN
from gradlint.model.names import is_inplace_method
from gradlint.model.values import CUT, GRADISH, GRAPH, MOVED, NONLEAF, NUM, PLAIN, RG, UNK_PROV, Prov, evolve

# tensor methods that return `self` when nothing changes (same device / dtype / layout)
MAYBE_SELF = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "contiguous"})
CUT_METHODS = frozenset({"item", "tolist", "numpy"})


class TensorMethods:
    def _detach(self, recv: Prov, node: cst.CSTNode) -> Prov:
        if recv.state in GRADISH:
            return Prov(PLAIN, dtype=recv.dtype, cut_from=f"`{self._code(node)}`", conds=recv.conds)
        if recv.state == PLAIN:
            return recv
        return UNK_PROV

    def _method_value(self, recv: Prov, method: str, call: cst.Call) -> Prov:
        if method in CUT_METHODS:
            if method == "numpy" and recv.state in GRADISH:
                return UNK_PROV  # `.numpy()` of a tensor that requires grad raises: not a silent cut
            if recv.state in GRADISH or (recv.state == PLAIN and recv.cut_from):
                return Prov(CUT, cut_from=f"`{self._code(call)}`", conds=recv.conds)
            return Prov(NUM) if method == "item" else UNK_PROV
        if method in NON_TENSOR_METHODS:
            return UNK_PROV
        if method in ("detach", "detach_"):
            return self._detach(recv, call)
        if method == "requires_grad_":
            arg = _kwarg(call, "requires_grad") or (_positional(call)[0] if _positional(call) else None)
            flag = True if arg is None else _const_bool(arg.value)
            if flag is None:
                return UNK_PROV
            if recv.state == PLAIN:
                if flag:
                    return Prov(RG, dtype=recv.dtype, node=call, origin="made a leaf with `.requires_grad_()`",
                                cpu_fresh=recv.cpu_fresh)
                return recv
            if recv.state == RG:
                return recv if flag else Prov(PLAIN, dtype=recv.dtype, cpu_fresh=recv.cpu_fresh)
            return recv if flag else UNK_PROV
        if method in ("retain_grad", "register_hook", "backward"):
            return UNK_PROV
        if method == "clone":
            return self._op([recv], call, "`.clone()`") if recv.state != PLAIN else evolve(recv, node=call)
        if method in INT_CASTS:
            return Prov(PLAIN, dtype=INT_CASTS[method], node=call)  # an integer copy never requires grad
        if method in ("argmax", "argmin", "argsort", "nonzero"):
            return Prov(PLAIN, dtype="int64", node=call)  # indices: int64, never requiring grad
        if method in MAYBE_SELF:
            return self._convert(recv, method, call)
        if is_inplace_method(method):
            return recv
        args = [self.prov(a.value) for a in call.args if a.keyword is None]
        how = f"`.{method}()`" if not call.args else f"`.{method}(...)`"
        return self._op([recv, *[a for a in args if a.state != NUM]], call, how)

    def _convert(self, recv: Prov, method: str, call: cst.Call) -> Prov:
        """`.to(...)`, `.cuda()`, `.float()`, ...: `self` when nothing changes, else a copy (a non-leaf copy
        of a tensor that requires grad)."""
        target_dtype: str | None = None
        device: str | None = None  # "cpu", "cuda", "?" (not a literal)
        copy = False
        unknown_arg = False
        if method == "cuda":
            device = "cuda"
        elif method == "cpu":
            device = "cpu"
        elif method in ("float", "double", "half", "bfloat16"):
            target_dtype = _CANON.get(method, method)
        elif method == "contiguous":
            pass
        else:  # to / type
            for a in call.args:
                kw = a.keyword.value if a.keyword is not None else None
                v = a.value
                if kw == "copy":
                    if _const_bool(v) is not False:
                        copy = True
                    continue
                if kw in ("non_blocking", "memory_format"):
                    continue
                dt = self._dtype_name(v)
                if dt is not None and kw in (None, "dtype"):
                    target_dtype = dt
                elif type(v) is cst.SimpleString and method == "type":
                    return UNK_PROV
                elif type(v) is cst.SimpleString and kw in (None, "device"):
                    s = str(v.evaluated_value)
                    device = "cpu" if s.split(":")[0] == "cpu" else "cuda" if s.startswith("cuda") else "?"
                elif kw in (None, "device"):
                    device = "?"
                    unknown_arg = True
                else:
                    unknown_arg = True
        new_dtype = target_dtype or recv.dtype
        if recv.state == PLAIN:
            return evolve(recv, dtype=new_dtype, node=call, cpu_fresh=recv.cpu_fresh and device in (None, "cpu"))
        if recv.state in (NONLEAF, GRAPH):
            return evolve(recv, dtype=new_dtype) if recv.state == NONLEAF else recv
        if recv.state == MOVED:
            return evolve(recv, dtype=new_dtype)
        if recv.state != RG:
            return UNK_PROV
        # a leaf that requires grad: does this make a copy?
        dtype_changes: bool | None = None
        if target_dtype is not None:
            dtype_changes = None if recv.dtype is None else target_dtype != recv.dtype
        device_changes: bool | None = None
        if device is not None:
            if not recv.cpu_fresh:
                device_changes = None
            else:
                device_changes = {"cpu": False, "cuda": True}.get(device)
        if copy:
            dtype_changes = True
        if dtype_changes is True or device_changes is True:
            how = f"`.{method}({', '.join(self._code(a) for a in call.args)})`"
            conds = self._mode_conds(recv.conds)
            if conds is None:
                return UNK_PROV if self.mode is M_UNKNOWN else Prov(PLAIN, dtype=new_dtype)
            return Prov(NONLEAF, dtype=new_dtype, node=call, how=how, origin=recv.origin, conds=conds)
        if (target_dtype is not None and dtype_changes is None) or (device is not None and device_changes is None):
            if device_changes is None and device is not None and recv.cpu_fresh and dtype_changes is not True:
                conds = self._mode_conds(recv.conds)
                if conds is None:
                    return UNK_PROV
                how = f"`.{method}({', '.join(self._code(a) for a in call.args)})`"
                return Prov(MOVED, dtype=new_dtype, node=call, how=how, origin=recv.origin, conds=conds)
            return UNK_PROV
        if unknown_arg:
            return UNK_PROV
        return recv  # `.to("cpu")` of a CPU tensor, `.float()` of a float32 tensor: returns self


    # ------------------------------------------------------------------ calls of the file's functions
    # (their grad-mode regions: `gradlint.model.regions.Returned`, `Arg`)
