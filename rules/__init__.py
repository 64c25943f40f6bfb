"""The rule catalogue: one module per rule, named after its code (rules/gl001_inplace_on_leaf.py …).

Rule modules are found by name (`glNNN_<rule_name>.py`, each defining one `Rule` subclass whose `code`
is `GLNNN`), so adding a rule is adding its module.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from gradlint.rules.base import Finding, FixSpec, Rule

_MODULE = re.compile(r"gl\d{3}_[a-z0-9_]+")


def _discover() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if not _MODULE.fullmatch(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules = [
            obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__
        ]
        if len(rules) != 1:
            raise ImportError(f"{module.__name__} must define exactly one Rule subclass, found {len(rules)}")
        rule = rules[0]
        if info.name != f"{rule.code.lower()}_{rule.name.replace('-', '_')}":
            raise ImportError(f"{module.__name__}: module name must be {rule.code.lower()}_{rule.name.replace('-', '_')}")
        if rule.code in found:
            raise ImportError(f"two rules with code {rule.code}")
        found[rule.code] = rule
    return tuple(found[c] for c in sorted(found))


# In code order.
ALL_RULES: tuple[type[Rule], ...] = _discover()


def rules_by_code() -> dict[str, type[Rule]]:
    return {r.code: r for r in ALL_RULES}


def get_rule(code: str) -> type[Rule] | None:
    return rules_by_code().get(code.upper())


__all__ = ["ALL_RULES", "Finding", "FixSpec", "Rule", "get_rule", "rules_by_code"]
