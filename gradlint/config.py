"""Configuration: `[tool.gradlint]` in pyproject.toml, or gradlint.toml / .gradlint.toml, plus the CLI.

Which file (as ruff): for every checked file the nearest configuration wins, found by walking up from
the file's folder; in one folder `.gradlint.toml` beats `gradlint.toml` beats a `pyproject.toml` that
has a `[tool.gradlint]` table (a pyproject.toml without one is skipped). Files are not merged: the
nearest one is the whole configuration. `--config PATH` uses that file for every checked file instead.
Patterns (`exclude`, `extend-exclude`, `per-file-ignores`) are relative to the folder holding the
configuration file (the current folder when there is none).

Keys (kebab-case; gradlint.toml has them at the top level)::

    select = ["GL001", "GL00", "ALL"]    # codes or prefixes; replaces the default selection
    extend-select = [...]                # added to it
    ignore = [...]                       # removed from it
    exclude = [...]                      # gitignore-style patterns; replaces the default excludes
    extend-exclude = [...]               # added to the default excludes
    per-file-ignores = {"tests/*" = ["GL004"], "!src/**" = ["GL005"]}  # "!": files NOT matching
    extend-per-file-ignores = {...}      # merged into per-file-ignores
    respect-gitignore = true             # skip what .gitignore ignores (inside a git work tree)
    force-exclude = false                # apply excludes to files named on the command line too
    bugs-only = false                    # report only findings of the `bug` tier (--bugs-only)
    docs-url = "https://…/rules"         # where the rule pages (gradlint/docs-site/) are published
    extend = "../pyproject.toml"         # start from another configuration file (see load_config_file)
    [tool.gradlint.options]              # rule options (also accepted as top-level keys)
    eval-function-patterns = [...]       # regexes (re.fullmatch) naming evaluation functions
    extend-eval-function-patterns = [...]
    model-names = [...]                  # regexes naming variables / attributes that hold a model
    extend-model-names = [...]

Selection (as ruff): the defaults (every rule with `default_enabled`), then the configuration file,
then the command line are applied as layers. A layer with `select` starts again from its own
selection; a layer without one adjusts the previous result. Within a layer more specific selectors win
(`ALL` < `GL` < `GL00` < `GL001`) and `ignore` wins over `select` at the same specificity — so
`select = ["GL"]`, `ignore = ["GL00"]`, `extend-select = ["GL003"]` keeps GL003 on.
`per-file-ignores` are applied last, whatever the command line selects.

`--config` also takes inline `KEY = VALUE` TOML (`--config 'extend-exclude = ["gen"]'`), applied over
whichever file is used.

Any problem — unreadable or invalid TOML, an unknown key (with a "did you mean"), a wrong type, an
unknown rule code or prefix, an invalid regular expression — raises `ConfigError` whose message names
the file and the key; the CLI prints it and exits 2.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
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


CONFIG_NAMES = (".gradlint.toml", "gradlint.toml")  # in order of precedence, before pyproject.toml

OPTION_KEYS = {
    "eval-function-patterns": "eval_function_patterns",
    "extend-eval-function-patterns": "extend_eval_function_patterns",
    "model-names": "model_names",
    "extend-model-names": "extend_model_names",
}

KNOWN_KEYS: dict[str, str] = {
    "select": "codes",
    "extend-select": "codes",
    "ignore": "codes",
    "exclude": "patterns",
    "extend-exclude": "patterns",
    "per-file-ignores": "pfi",
    "extend-per-file-ignores": "pfi",
    "respect-gitignore": "bool",
    "force-exclude": "bool",
    "fix": "bool",
    "unsafe-fixes": "bool",
    "show-fixes": "bool",
    "bugs-only": "bool",
    "docs-url": "str",
    "extend": "extend",
    "options": "options",
    **{k: "regexes" for k in OPTION_KEYS},
}

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", "__pycache__", ".venv", "venv", ".direnv", ".tox",
    ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradlint_cache", ".hypothesis", ".pytype",
    ".pyre", "node_modules", "site-packages", "build", "dist", "_build", "buck-out", ".eggs",
    "*.egg-info", "__pypackages__", ".ipynb_checkpoints",
)


# ---------------------------------------------------------------------------------------- selectors


def all_codes() -> list[str]:
    from gradlint.catalog import load  # the rules' metadata without importing them (and LibCST)

    return [r.code for r in load()]


def default_codes() -> set[str]:
    from gradlint.catalog import load

    return {r.code for r in load() if r.default_enabled}


def expand_selector(selector: str, where: str) -> set[str]:
    """`ALL`, a code, or a prefix (`GL`, `GL00`) -> codes. Unknown -> ConfigError naming `where`."""
    sel = selector.strip().upper()
    codes = all_codes()
    if sel == "ALL":
        return set(codes)
    matched = {c for c in codes if c.startswith(sel)} if sel else set()
    if not matched:
        hint = difflib.get_close_matches(sel, codes, n=1)
        extra = f" (did you mean {hint[0]}?)" if hint else f" (known: {', '.join(codes) or 'none'}, ALL)"
        raise ConfigError(f"{where}: unknown rule code or prefix {selector!r}{extra}")
    return matched


def specificity(selector: str) -> int:
    sel = selector.strip().upper()
    return 0 if sel == "ALL" else len(sel)


@dataclass(frozen=True)
class Selection:
    """One layer of rule selection (a configuration file, or the command line)."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def resolve_selection(layers: list[Selection], defaults: set[str] | None = None) -> set[str]:
    """Apply the layers over the default rules, ruff's way (see the module docstring)."""
    current = set(default_codes() if defaults is None else defaults)
    for layer in layers:
        enable = list(layer.select or ()) + list(layer.extend_select)
        levels = sorted({specificity(s) for s in enable + list(layer.ignore)})
        updates: dict[str, bool] = {}
        for level in levels:
            for s in enable:
                if specificity(s) == level:
                    updates.update(dict.fromkeys(expand_selector(s, "select"), True))
            for s in layer.ignore:
                if specificity(s) == level:
                    updates.update(dict.fromkeys(expand_selector(s, "ignore"), False))
        if layer.select is not None:
            current = {c for c, on in updates.items() if on}
        else:
            for c, on in updates.items():
                (current.add if on else current.discard)(c)
    return current


# ---------------------------------------------------------------------------------------- files


@dataclass
class Config:
    """One configuration file's table, validated."""

    path: Path | None  # None: no file found (defaults)
    root: Path  # the folder patterns are relative to
    selection: Selection = field(default_factory=Selection)
    exclude: list[str] | None = None
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    respect_gitignore: bool = True
    force_exclude: bool = False
    # `check`'s fix defaults (ruff's keys); the command-line flags override them. None: not set.
    fix: bool | None = None
    unsafe_fixes: bool | None = None
    show_fixes: bool | None = None
    bugs_only: bool = False  # report only findings of the `bug` tier
    docs_url: str | None = None  # base URL of the published rule pages (gradlint/catalog.py)
    # the selections of the files this one extends (`extend = "../pyproject.toml"`), outermost first:
    # applied before this file's own, as layers (see load_config_file)
    base_selections: tuple[Selection, ...] = ()
    options: RuleOptions = field(default_factory=RuleOptions)
    table: dict[str, Any] = field(default_factory=dict)  # the raw table, for inline overrides
    _excludes: PatternList | None = field(default=None, repr=False, compare=False)

    def exclude_patterns(self) -> PatternList:
        if self._excludes is None:
            base = list(self.exclude) if self.exclude is not None else list(DEFAULT_EXCLUDES)
            self._excludes = PatternList(base + list(self.extend_exclude))
        return self._excludes

    def is_excluded(self, path: Path, is_dir: bool) -> bool:
        """Does an exclude pattern match this path, relative to `root`? (gitignore-style: a pattern
        without a slash matches a name at any depth; one with a slash is anchored at `root`.)"""
        return bool(self.exclude_patterns().match(relpath(path, self.root), is_dir))

    def ignored_codes(self, path: Path) -> set[str]:
        """Codes that per-file-ignores switch off for this file."""
        out: set[str] = set()
        if not self.per_file_ignores:
            return out
        rel = relpath(path, self.root)
        for glob, codes in self.per_file_ignores.items():
            negated = glob.startswith("!")
            if _path_matches(glob[1:] if negated else glob, rel) != negated:
                for c in codes:
                    out |= expand_selector(c, "per-file-ignores")
        return out


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> PatternList:
    return PatternList([glob])


def _path_matches(glob: str, rel: str) -> bool:
    """gitignore-style: the pattern matches the file, or one of its folders (`tests`, `tests/*`)."""
    pats = _pattern(glob)
    if pats.match(rel, False):
        return True
    parts = rel.split("/")
    return any(pats.match("/".join(parts[:i]), True) for i in range(1, len(parts)))


def _label(path: Path | None) -> str:
    """`pyproject.toml: [tool.gradlint]`, `gradlint.toml:` or `--config:`."""
    if path is None:
        return "--config:"
    return f"{path}: [tool.gradlint]" if path.name == "pyproject.toml" else f"{path}:"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def gradlint_table(path: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    """The gradlint table of a parsed file (None: a pyproject.toml without one)."""
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        table = tool.get("gradlint") if isinstance(tool, dict) else None
        if table is None:
            return None
    elif set(data) == {"tool"} and isinstance(data["tool"], dict) and "gradlint" in data["tool"]:
        table = data["tool"]["gradlint"]  # a gradlint.toml written like a pyproject.toml: accepted
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.gradlint] must be a table, got {type(table).__name__}")
    return table


def load_config_file(path: Path) -> Config:
    tables = extend_chain(path)
    if len(tables) == 1:
        return parse_table(tables[0][1] or {}, path)
    return _merge_extended(tables)


# ------------------------------------------------------------------------------- extend (ruff's key)
# `extend = "../pyproject.toml"`: this file's settings over those of the file it names (a path relative
# to this file's folder; `~` expanded), which may itself extend another. As in ruff, selections are applied
# as layers — the extended file's first — and the other keys of this file replace the extended file's,
# except the `extend-*` lists (concatenated) and tables (`per-file-ignores`, `options`: merged). Patterns
# are relative to the folder of the file gradlint found (the one that extends). A cycle is an error.
_SELECTION_KEYS = ("select", "extend-select", "ignore")
_CONCATENATED = ("extend-exclude", "extend-eval-function-patterns", "extend-model-names")
_MERGED = ("per-file-ignores", "extend-per-file-ignores", "options")


def extend_chain(path: Path) -> list[tuple[Path, dict[str, Any] | None]]:
    """(file, its gradlint table) for `path` and every file it extends, outermost (the last extended) first."""
    chain: list[tuple[Path, dict[str, Any] | None]] = []
    seen: list[Path] = []
    current: Path | None = path
    while current is not None:
        key = current.resolve()
        if key in seen:
            cycle = " -> ".join(str(p) for p in [*seen, key])
            raise ConfigError(f"{path}: extend: the files extend each other in a cycle ({cycle})")
        seen.append(key)
        table = gradlint_table(current, _read_toml(current))
        chain.append((current, table))
        target = (table or {}).get("extend")
        if target is None:
            break
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(f"{_label(current)} extend: expected the path of a configuration file, got {target!r}")
        nxt = current.parent / os.path.expandvars(os.path.expanduser(target))
        if not nxt.is_file():
            raise ConfigError(f"{_label(current)} extend: {nxt}: no such file")
        current = nxt
    return chain[::-1]


def _merge_extended(tables: list[tuple[Path, dict[str, Any] | None]]) -> Config:
    merged: dict[str, Any] = {}
    layers: list[Selection] = []
    for file, table in tables:
        table = table or {}
        layers.append(parse_table(table, file).selection)  # validates each file, naming it
        for key, value in table.items():
            if key in _SELECTION_KEYS or key == "extend":
                continue
            if key in _CONCATENATED and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *value]
            elif key in _MERGED and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    path, own = tables[-1]
    merged.update({k: v for k, v in (own or {}).items() if k in _SELECTION_KEYS})
    cfg = parse_table(merged, path)
    cfg.base_selections = tuple(layers[:-1])
    return cfg


def parse_table(table: dict[str, Any], path: Path | None, root: Path | None = None) -> Config:
    if root is None:
        root = path.parent if path is not None else Path.cwd()
    cfg = Config(path=path, root=root.resolve(), table=table)
    label = _label(path)
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    opts: dict[str, tuple[str, ...]] = {}
    pfi: dict[str, list[str]] = {}
    for key, value in table.items():
        kind = KNOWN_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{label} unknown key {key!r}{_did_you_mean(key, KNOWN_KEYS)}")
        where = f"{label} {key}"
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            setattr(cfg, key.replace("-", "_"), value)
        elif kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: expected a non-empty string, got {_type(value)}")
            setattr(cfg, key.replace("-", "_"), value.strip())
        elif kind == "extend":
            if path is None:
                raise ConfigError(f"{where}: only read from a configuration file, not from --config KEY=VALUE")
        elif kind == "pfi":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table of \"glob\" = [codes], got {_type(value)}")
            for glob, codes in value.items():
                item = f"{where}.{glob!r}"
                codes_list = _str_list(codes, item)
                for c in codes_list:
                    expand_selector(c, item)
                pfi.setdefault(glob, []).extend(codes_list)
        elif kind == "options":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table, got {_type(value)}")
            olabel = f"{path}: [tool.gradlint.options]" if path is not None and path.name == "pyproject.toml" \
                else f"{label} [options]"
            for okey, ovalue in value.items():
                if okey not in OPTION_KEYS:
                    raise ConfigError(f"{olabel} unknown key {okey!r}{_did_you_mean(okey, OPTION_KEYS)}")
                if okey in opts:
                    raise ConfigError(f"{olabel} {okey}: also set outside [options]; set it once")
                opts[okey] = _regexes(ovalue, f"{olabel} {okey}")
        elif kind == "regexes":
            if key in opts:
                raise ConfigError(f"{where}: also set in [options]; set it once")
            opts[key] = _regexes(value, where)
        else:
            items = _str_list(value, where)
            if kind == "codes":
                for c in items:
                    expand_selector(c, where)
                if key == "select":
                    select = tuple(items)
                elif key == "extend-select":
                    extend_select = tuple(items)
                else:
                    ignore = tuple(items)
            elif key == "exclude":
                cfg.exclude = items
            else:
                cfg.extend_exclude = items
    cfg.selection = Selection(select, extend_select, ignore)
    cfg.per_file_ignores = pfi
    defaults = RuleOptions()
    cfg.options = RuleOptions(**{
        attr: opts.get(key, getattr(defaults, attr)) for key, attr in OPTION_KEYS.items()
    })
    return cfg


def _did_you_mean(key: str, known: dict[str, Any]) -> str:
    hint = difflib.get_close_matches(key.replace("_", "-"), list(known), n=1, cutoff=0.6)
    return f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(sorted(known))})"


def _type(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        raise ConfigError(f"{where}: expected a list of strings, got a string (write [{value!r}])")
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of strings, got {_type(value)}")
    for v in value:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: expected a list of strings, got {_type(v)} {v!r} in it")
    return value


def _regexes(value: Any, where: str) -> tuple[str, ...]:
    items = _str_list(value, where)
    for r in items:
        try:
            re.compile(r)
        except re.error as exc:
            raise ConfigError(f"{where}: invalid regular expression {r!r}: {exc}") from None
        _refuse_catastrophic(r, where)
    return tuple(items)


def _refuse_catastrophic(pattern: str, where: str) -> None:
    """A pattern whose matching time can explode (ReDoS; gradlint/regexsafety.py) is a configuration
    error: these patterns are matched against every name of every file, in the editor too."""
    from gradlint.regexsafety import catastrophic_reason

    reason = catastrophic_reason(pattern)
    if reason is not None:
        raise ConfigError(f"{where}: regular expression {pattern!r} refused: {reason}; "
                          "rewrite it without nested or overlapping repetitions")


# A pyproject.toml that does not parse is used (and its TOML error, with the line, reported) only if it
# mentions gradlint's table — including a broken header such as `[tool.gradlint` (no closing bracket).
_HAS_TABLE = re.compile(r"^[ \t]*\[{1,2}[ \t]*tool[ \t]*\.[ \t]*[\"']?gradlint\b|^[ \t]*tool[ \t]*\.[ \t]*gradlint\b", re.M)


def find_config_file(start: Path) -> Path | None:
    """The nearest .gradlint.toml / gradlint.toml / pyproject.toml-with-[tool.gradlint], upwards."""
    d = (start if start.is_dir() else start.parent).resolve()
    for folder in (d, *d.parents):
        found = config_in_folder(folder)
        if found is not None:
            return found
    return None


def _is_file(p: Path) -> bool:
    """Path.is_file(), but "no" in a folder that cannot be searched (PermissionError): that folder is
    reported by discovery, not here."""
    try:
        return p.is_file()
    except OSError:
        return False


def config_in_folder(folder: Path) -> Path | None:
    for name in CONFIG_NAMES:
        p = folder / name
        if _is_file(p):
            return p
    p = folder / "pyproject.toml"
    if _is_file(p):
        try:
            data = _read_toml(p)
        except ConfigError:
            # Someone else's broken pyproject.toml is not our business — unless it configures gradlint.
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            return p if _HAS_TABLE.search(text) else None
        tool = data.get("tool")
        if isinstance(tool, dict) and "gradlint" in tool:
            return p
    return None


# ---------------------------------------------------------------------------------------- resolver


@dataclass
class Overrides:
    """Command-line options that change the configuration."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)  # `--config 'KEY = VALUE'`
    respect_gitignore: bool | None = None
    force_exclude: bool | None = None
    bugs_only: bool | None = None  # `--bugs-only` / `--no-bugs-only`

    def selection(self) -> Selection:
        return Selection(
            tuple(self.select) if self.select is not None else None,
            tuple(self.extend_select),
            tuple(self.ignore),
        )


def parse_inline(values: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for v in values:
        try:
            data = tomllib.loads(v)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config {v!r}: not a file, and not a valid 'KEY = VALUE' TOML pair: {exc}") from None
        for key, value in data.items():
            if key == "options" and isinstance(value, dict) and isinstance(table.get("options"), dict):
                table["options"].update(value)
            else:
                table[key] = value
    return table


class ConfigResolver:
    """Finds, loads (once) and applies the configuration for each path."""

    def __init__(self, config_path: Path | None, overrides: Overrides) -> None:
        self.overrides = overrides
        cli = overrides.selection()
        for flag, values in (("--select", cli.select or ()), ("--extend-select", cli.extend_select),
                             ("--ignore", cli.ignore)):
            for c in values:
                expand_selector(c, flag)
        self._inline = parse_inline(overrides.inline) if overrides.inline else {}
        if self._inline:
            parse_table(self._inline, None)  # validate, naming --config
        self._forced = self._apply_inline(load_config_file(config_path)) if config_path else None
        self._by_dir: dict[Path, Config] = {}
        self._by_shown: dict[str, Config] = {}  # a folder as written (not resolved) -> its configuration
        self._by_file: dict[Path, Config] = {}
        self._selected: dict[int, frozenset[str]] = {}
        self._default = self._apply_inline(Config(path=None, root=Path.cwd().resolve()))

    def _apply_inline(self, cfg: Config) -> Config:
        if not self._inline:
            return cfg
        table = dict(cfg.table)
        for key, value in self._inline.items():
            if key == "options" and isinstance(table.get("options"), dict):
                table["options"] = {**table["options"], **value}
            else:
                table[key] = value
        out = parse_table(table, cfg.path, cfg.root)
        out.base_selections = cfg.base_selections
        return out

    def config_for(self, path: Path) -> Config:
        if self._forced is not None:
            return self._forced
        shown = None
        try:
            shown = str(path if path.is_dir() else path.parent)
            cfg = self._by_shown.get(shown)  # (resolving a folder costs a stat per component: once per folder)
            if cfg is not None:
                return cfg
            folder = Path(shown).resolve()
        except OSError:  # a symlink loop, say: use the folder as written
            folder = Path(os.path.abspath(path.parent))
            shown = None
        cfg = self._config_for_folder(folder)
        if shown is not None:
            self._by_shown[shown] = cfg
        return cfg

    def _config_for_folder(self, folder: Path) -> Config:
        """Nearest configuration for a resolved folder; every folder on the way up is looked at once."""
        pending: list[Path] = []
        cfg: Config | None = None
        for d in (folder, *folder.parents):
            cfg = self._by_dir.get(d)
            if cfg is not None:
                break
            pending.append(d)
            found = config_in_folder(d)
            if found is not None:
                cfg = self._by_file.get(found)
                if cfg is None:
                    cfg = self._by_file[found] = self._apply_inline(load_config_file(found))
                break
        if cfg is None:
            cfg = self._default
        for d in pending:
            self._by_dir[d] = cfg
        return cfg

    def respect_gitignore(self, cfg: Config) -> bool:
        ov = self.overrides.respect_gitignore
        return cfg.respect_gitignore if ov is None else ov

    def force_exclude(self, cfg: Config) -> bool:
        ov = self.overrides.force_exclude
        return cfg.force_exclude if ov is None else ov

    def selected_codes(self, cfg: Config) -> frozenset[str]:
        key = id(cfg)
        got = self._selected.get(key)
        if got is None:
            got = self._selected[key] = frozenset(resolve_selection(
                [*cfg.base_selections, cfg.selection, self.overrides.selection()]))
        return got

    def settings_for(self, path: Path) -> Settings:
        cfg = self.config_for(path)
        codes = self.selected_codes(cfg)
        ignored = cfg.ignored_codes(path)
        bugs_only = cfg.bugs_only if self.overrides.bugs_only is None else self.overrides.bugs_only
        return Settings(selected=codes - ignored if ignored else codes, options=cfg.options, bugs_only=bugs_only,
                        docs_url=cfg.docs_url)


def relpath(path: Path, root: Path) -> str:
    """`path` relative to `root`, with forward slashes (absolute, minus the leading slash, if outside)."""
    a = os.path.abspath(path)
    if os.sep == "/":  # the common case, without pathlib (discovery asks this for every file)
        r = str(root)
        if a == r:
            return "."
        prefix = r if r.endswith("/") else r + "/"
        if r.startswith("/") and a.startswith(prefix):
            return a[len(prefix):]
    p = Path(a)
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return p.resolve().relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):
        return p.as_posix().lstrip("/")

