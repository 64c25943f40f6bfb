"""The rule catalogue: one module per rule, named after its code (rules/gl001_inplace_on_leaf.py …)."""

from __future__ import annotations

from gradlint.rules.base import Finding, Rule
from gradlint.rules.gl001_inplace_on_leaf import InplaceOnLeaf
from gradlint.rules.gl002_rebind_loses_grad import RebindLosesGrad
from gradlint.rules.gl003_data_attribute import DataAttribute
from gradlint.rules.gl004_eval_mode_missing import EvalModeMissing
from gradlint.rules.gl005_eval_grad_enabled import EvalGradEnabled

# In code order.
ALL_RULES: tuple[type[Rule], ...] = (
    InplaceOnLeaf,
    RebindLosesGrad,
    DataAttribute,
    EvalModeMissing,
    EvalGradEnabled,
)


def rules_by_code() -> dict[str, type[Rule]]:
    return {r.code: r for r in ALL_RULES}


def get_rule(code: str) -> type[Rule] | None:
    return rules_by_code().get(code.upper())


__all__ = ["ALL_RULES", "Finding", "Rule", "get_rule", "rules_by_code"]
