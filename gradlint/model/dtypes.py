"""Dtypes the tensor evaluator knows without running anything: the dtype of a factory call (`torch.tensor`
of integer literals is int64, `torch.arange` of ints is int64, `torch.full` takes its fill value's type,
`dtype=` wins), integer casts, and the canonical torch names. A mixin of the evaluator
(`gradlint.model.tensor_ops.TensorEvaluator`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.evaluate import _kwarg, _positional
from gradlint.model.values import INT_DTYPES, NONLEAF, NUM, PLAIN, RG

if TYPE_CHECKING:
    from gradlint.model.tensor_ops import TensorEvaluator

FLOAT_DTYPES = {"float16", "float32", "float64", "bfloat16", "half", "float", "double", "complex64",
                "complex128", "cfloat", "cdouble", "complex32", "chalf", "float8_e4m3fn", "float8_e5m2"}
_CANON = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
          "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
FLOAT_FACTORIES = frozenset(
    "zeros ones empty rand randn full eye linspace logspace range normal empty_strided".split()
)
INT_CASTS = {"long": "int64", "int": "int32", "short": "int16", "bool": "bool", "byte": "uint8", "char": "int8"}


def is_int_dtype(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype in {_CANON.get(k, k) for k in INT_DTYPES}


def _int_literal_data(expr: cst.BaseExpression, out: list[cst.Integer]) -> str | None:
    """'int' / 'bool' / 'float' / 'complex' for literal data (nested lists/tuples of numbers), None if unknown."""
    if type(expr) is cst.Integer:
        out.append(expr)
        return "int"
    if type(expr) is cst.Float:
        return "float"
    if type(expr) is cst.Imaginary:
        return "complex"
    if type(expr) is cst.Name and expr.value in ("True", "False"):
        return "bool"
    if type(expr) is cst.UnaryOperation and type(expr.operator) in (cst.Minus, cst.Plus):
        return _int_literal_data(expr.expression, out)
    if type(expr) in (cst.List, cst.Tuple):
        kinds = set()
        for el in expr.elements:
            if type(el) is not cst.Element:
                return None
            k = _int_literal_data(el.value, out)
            if k is None:
                return None
            kinds.add(k)
        if not kinds:
            return "float"  # torch.tensor([]) is float32
        for k in ("complex", "float", "int", "bool"):
            if k in kinds:
                return k
    return None


def _literal_data(expr: cst.BaseExpression) -> bool:
    return _int_literal_data(expr, []) is not None


def _is_int_expr(expr: cst.BaseExpression, out: list[cst.Integer], facts: "TensorEvaluator | None" = None) -> bool:
    """An integer for sure: an int literal, `-3`, `len(...)`, a name bound to an int literal."""
    if type(expr) is cst.Name and facts is not None:
        v = facts.lookup_prov(expr)
        return v.state == NUM and v.dtype == "int64"
    if type(expr) is cst.Integer:
        out.append(expr)
        return True
    if type(expr) is cst.UnaryOperation and type(expr.operator) in (cst.Minus, cst.Plus):
        return _is_int_expr(expr.expression, out)
    if type(expr) is cst.Call and type(expr.func) is cst.Name and expr.func.value == "len":
        return True
    return False




class Dtypes:
    def _dtype_name(self, expr: cst.BaseExpression) -> str | None:
        q = self.imports.resolve(expr)
        if q is None or not q.startswith("torch."):
            return None
        last = q[len("torch."):]
        if last in INT_DTYPES or last in FLOAT_DTYPES:
            return _CANON.get(last, last)
        return None

    def _factory_dtype(self, last: str, call: cst.Call, ints: list[cst.Integer]) -> tuple[str | None, str, cst.Arg | None]:
        """(dtype, reason, explicit dtype arg) of a torch factory call."""
        dt_arg = _kwarg(call, "dtype")
        if dt_arg is not None:
            dt = self._dtype_name(dt_arg.value)
            return dt, f"`dtype={self._code(dt_arg.value)}`", dt_arg
        pos = _positional(call)
        if last in ("tensor", "as_tensor"):
            if not pos:
                return None, "", None
            k = _int_literal_data(pos[0].value, ints)
            if k == "int":
                return "int64", "integer literals", None
            if k == "bool":
                return "bool", "bool literals", None
            if k == "float":
                return "float32", "", None
            if k == "complex":
                return "complex64", "", None
            v = self.prov(pos[0].value)
            return v.dtype if v.state in (PLAIN, RG, NONLEAF) else None, "", None
        if last == "arange":
            if pos and len(pos) <= 3 and all(_is_int_expr(a.value, [], self) for a in pos) and not any(
                a.keyword is not None and a.keyword.value in ("start", "end", "step") for a in call.args
            ):
                if all(type(a.value) is cst.Integer for a in pos):
                    ints.extend(a.value for a in pos)  # type: ignore[misc]
                return "int64", "integer arguments (`torch.arange` of ints is int64)", None
            if any(type(a.value) is cst.Float for a in pos):
                return "float32", "", None
            return None, "", None
        if last in ("randint", "randperm"):
            return "int64", f"`torch.{last}` (int64 unless `dtype=` says otherwise)", None
        if last == "full":
            if len(pos) >= 2:
                k = _int_literal_data(pos[1].value, ints)
                if k == "int":
                    return "int64", "an integer fill value (`torch.full` infers int64)", None
                if k == "bool":
                    return "bool", "a bool fill value", None
                if k == "float":
                    return "float32", "", None
            fill = _kwarg(call, "fill_value")
            if fill is not None:
                k = _int_literal_data(fill.value, ints)
                if k == "int":
                    return "int64", "an integer fill value (`torch.full` infers int64)", None
            return None, "", None
        if last.endswith("_like"):
            if pos:
                v = self.prov(pos[0].value)
                if v.dtype is not None and v.state in (PLAIN, RG, NONLEAF):
                    return v.dtype, "the integer tensor it copies the dtype of", None
            return None, "", None
        if last in FLOAT_FACTORIES:
            return "float32", "", None
        return None, "", None

