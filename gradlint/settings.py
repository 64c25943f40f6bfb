"""The effective settings for one file: which rules run and the rule options.

`gradlint.config` builds these from pyproject.toml / gradlint.toml and the command line; the linter and
the rules only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EVAL_FUNCTION_PATTERNS: tuple[str, ...] = (
    # regular expressions matched (re.fullmatch) against a function's name
    r"(evaluate|evaluation|eval|validate|validation|valid|val|test|testing|predict|prediction|inference|infer)(_\w*)?",
    r"\w*_(evaluate|evaluation|eval|validate|validation|valid|val|test|testing|predict|prediction|inference|infer)",
)

DEFAULT_MODEL_NAMES: tuple[str, ...] = (
    # names (or attribute names, as in self.model) that hold an nn.Module; regular expressions (fullmatch)
    r"model",
    r"models?_\w+",
    # `student_model`, `ema_model`; not verbs on a model (`prepare_model`, `_wrap_model`, `load_model`)
    r"(?!_|(get|load|build|create|make|prepare|wrap|unwrap|init|setup|set|to|is|has|save|export|compile|"
    r"train|eval|evaluate|update|copy|clone|freeze|unfreeze|convert|apply|register|patch|quantize|fuse)_)\w+_model",
    r"net",
    r"network",
    r"net[A-Z_]\w*",
    r"\w+_net",
    r"classifier",
    r"encoder",
    r"decoder",
    r"generator",
    r"discriminator",
    r"backbone",
    r"module",
)


@dataclass(frozen=True)
class RuleOptions:
    eval_function_patterns: tuple[str, ...] = DEFAULT_EVAL_FUNCTION_PATTERNS
    extend_eval_function_patterns: tuple[str, ...] = ()
    model_names: tuple[str, ...] = DEFAULT_MODEL_NAMES
    extend_model_names: tuple[str, ...] = ()

    @property
    def all_eval_function_patterns(self) -> tuple[str, ...]:
        return self.eval_function_patterns + self.extend_eval_function_patterns

    @property
    def all_model_names(self) -> tuple[str, ...]:
        return self.model_names + self.extend_model_names


@dataclass(frozen=True)
class Settings:
    """Effective settings for linting one file."""

    selected: frozenset[str] = field(default_factory=frozenset)  # resolved rule codes, e.g. {"GL001"}
    options: RuleOptions = field(default_factory=RuleOptions)
    bugs_only: bool = False  # report only findings of the `bug` tier (`--bugs-only`, `bugs-only = true`)
    docs_url: str | None = None  # base URL of the published rule pages (`docs-url`; gradlint/catalog.py)
