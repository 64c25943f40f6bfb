"""Configuration: `[tool.gradlint]` in the nearest pyproject.toml, or a gradlint.toml, plus CLI overrides.

The nearest configuration file to each checked file wins (walking up from the file's folder);
`exclude` and `per-file-ignores` patterns are relative to the folder holding that file.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradlint.globmatch import PatternList
from gradlint.settings import RuleOptions, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A bad configuration; str(exc) names the file and the key."""


KNOWN_KEYS = {
    "select": "codes",
    "extend-select": "codes",
    "ignore": "codes",
    "exclude": "patterns",
    "extend-exclude": "patterns",
    "per-file-ignores": "table",
    "eval-function-patterns": "regexes",
    "extend-eval-function-patterns": "regexes",
    "model-names": "regexes",
    "extend-model-names": "regexes",
}

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".bzr", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".gradlint_cache", ".hypothesis", "node_modules", "site-packages",
    "build", "dist", ".eggs", "*.egg-info", "__pypackages__", ".ipynb_checkpoints",
)


def all_codes() -> list[str]:
    from gradlint.rules import ALL_RULES

    return [r.code for r in ALL_RULES]


def default_codes() -> set[str]:
    from gradlint.rules import ALL_RULES

    return {r.code for r in ALL_RULES if r.default_enabled}


def expand_selector(selector: str, where: str) -> set[str]:
    """`ALL`, a code, or a prefix (`GL`, `GL00`) -> codes. Unknown -> ConfigError."""
    sel = selector.strip().upper()
    codes = all_codes()
    if sel == "ALL":
        return set(codes)
    matched = {c for c in codes if c.startswith(sel)}
    if not sel or not matched:
        hint = difflib.get_close_matches(sel, codes, n=1)
        extra = f" (did you mean {hint[0]}?)" if hint else f" (known: {', '.join(codes)})"
        raise ConfigError(f"{where}: unknown rule code or prefix {selector!r}{extra}")
    return matched


@dataclass
class Config:
    """One configuration file's `[tool.gradlint]` table, validated."""

    path: Path | None  # None: defaults (no file found)
    root: Path  # folder that patterns are relative to
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] | None = None
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    options: RuleOptions = field(default_factory=RuleOptions)

    def exclude_patterns(self) -> PatternList:
        base = list(self.exclude) if self.exclude is not None else list(DEFAULT_EXCLUDES)
        return PatternList(base + list(self.extend_exclude))


@dataclass
class Overrides:
    """Command-line options that change selection."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


def _label(path: Path | None) -> str:
    """`pyproject.toml: [tool.gradlint]` or `gradlint.toml:`."""
    if path is None:
        return "configuration:"
    return f"{path}: [tool.gradlint]" if path.name == "pyproject.toml" else f"{path}:"


def _where(path: Path | None, key: str) -> str:
    return f"{_label(path)} {key}"


def load_config_file(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("gradlint", {})
    else:
        table = data.get("tool", {}).get("gradlint", data) if "tool" in data else data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.gradlint] must be a table")
    return parse_table(table, path)


def parse_table(table: dict[str, Any], path: Path | None) -> Config:
    cfg = Config(path=path, root=(path.parent if path else Path.cwd()).resolve())
    opts: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        if key not in KNOWN_KEYS:
            hint = difflib.get_close_matches(key, list(KNOWN_KEYS), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"{_label(path)} unknown key {key!r}{extra}")
        kind = KNOWN_KEYS[key]
        where = _where(path, key)
        if kind == "table":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table of glob = [codes], got {type(value).__name__}")
            pfi: dict[str, list[str]] = {}
            for glob, codes in value.items():
                codes_list = _str_list(codes, f"{where}.{glob!r}")
                for c in codes_list:
                    expand_selector(c, f"{where}.{glob!r}")
                pfi[glob] = codes_list
            cfg.per_file_ignores = pfi
            continue
        items = _str_list(value, where)
        if kind == "codes":
            for c in items:
                expand_selector(c, where)
        elif kind == "regexes":
            for r in items:
                try:
                    re.compile(r)
                except re.error as exc:
                    raise ConfigError(f"{where}: invalid regular expression {r!r}: {exc}") from None
            opts[key] = tuple(items)
        if key == "select":
            cfg.select = items
        elif key == "extend-select":
            cfg.extend_select = items
        elif key == "ignore":
            cfg.ignore = items
        elif key == "exclude":
            cfg.exclude = items
        elif key == "extend-exclude":
            cfg.extend_exclude = items
    defaults = RuleOptions()
    cfg.options = RuleOptions(
        eval_function_patterns=opts.get("eval-function-patterns", defaults.eval_function_patterns),
        extend_eval_function_patterns=opts.get("extend-eval-function-patterns", ()),
        model_names=opts.get("model-names", defaults.model_names),
        extend_model_names=opts.get("extend-model-names", ()),
    )
    return cfg


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        raise ConfigError(f"{where}: expected a list of strings, got a string (write [{value!r}])")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return value


def find_config_file(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.gradlint] table, or gradlint.toml, from start upwards."""
    d = start if start.is_dir() else start.parent
    d = d.resolve()
    for folder in (d, *d.parents):
        g = folder / "gradlint.toml"
        if g.is_file():
            return g
        p = folder / "pyproject.toml"
        if p.is_file():
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"^\s*\[\s*tool\s*\.\s*gradlint\s*[\].]", text, re.M):
                return p
    return None


class ConfigResolver:
    """Finds, loads (once) and applies the configuration for each path."""

    def __init__(self, config_path: Path | None, overrides: Overrides) -> None:
        self.overrides = overrides
        for c in overrides.extend_select + overrides.ignore + (overrides.select or []):
            expand_selector(c, "command line")
        self._forced = load_config_file(config_path) if config_path else None
        self._by_dir: dict[Path, Config] = {}
        self._by_file: dict[Path, Config] = {}
        self._default = Config(path=None, root=Path.cwd().resolve())

    def config_for(self, path: Path) -> Config:
        if self._forced is not None:
            return self._forced
        folder = (path if path.is_dir() else path.parent).resolve()
        cfg = self._by_dir.get(folder)
        if cfg is None:
            found = find_config_file(folder)
            if found is None:
                cfg = self._default
            else:
                cfg = self._by_file.get(found)
                if cfg is None:
                    cfg = load_config_file(found)
                    self._by_file[found] = cfg
            self._by_dir[folder] = cfg
        return cfg

    def selected_codes(self, cfg: Config) -> set[str]:
        ov = self.overrides
        base = ov.select if ov.select is not None else cfg.select
        codes = default_codes() if base is None else set().union(*(expand_selector(s, "select") for s in base))
        for s in cfg.extend_select + ov.extend_select:
            codes |= expand_selector(s, "extend-select")
        for s in cfg.ignore + ov.ignore:
            codes -= expand_selector(s, "ignore")
        return codes

    def settings_for(self, path: Path) -> Settings:
        cfg = self.config_for(path)
        codes = self.selected_codes(cfg)
        if cfg.per_file_ignores:
            rel = _relpath(path, cfg.root)
            for glob, ignored in cfg.per_file_ignores.items():
                if PatternList([glob]).match(rel, False):
                    for s in ignored:
                        codes -= expand_selector(s, "per-file-ignores")
        return Settings(selected=frozenset(codes), options=cfg.options)


def _relpath(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return os.path.abspath(path).replace(os.sep, "/").lstrip("/")
