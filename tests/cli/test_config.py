"""gradlint.config: finding the configuration, validating it, and resolving the rule selection."""

from __future__ import annotations

from pathlib import Path

import pytest

import gradlint.rules
from gradlint.config import (
    ConfigError,
    ConfigResolver,
    Overrides,
    Selection,
    find_config_file,
    load_config_file,
    resolve_selection,
)
from gradlint.settings import DEFAULT_EVAL_FUNCTION_PATTERNS, RuleOptions

from .conftest import write


class _Fake:
    """A stand-in rule class: the config only reads code and default_enabled."""

    def __init__(self, code: str, default: bool = True) -> None:
        self.code, self.default_enabled, self.name = code, default, code.lower()


@pytest.fixture
def fake_rules(monkeypatch):
    rules = (_Fake("GL001"), _Fake("GL002"), _Fake("GL010"), _Fake("GL101", default=False))
    monkeypatch.setattr(gradlint.rules, "ALL_RULES", rules)
    return rules


# ------------------------------------------------------------------ selection, ruff's way


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([], {"GL001", "GL002", "GL010"}),  # defaults: default_enabled rules
        ([Selection(select=("ALL",))], {"GL001", "GL002", "GL010", "GL101"}),
        ([Selection(select=("GL00",))], {"GL001", "GL002"}),
        ([Selection(extend_select=("GL1",))], {"GL001", "GL002", "GL010", "GL101"}),
        ([Selection(ignore=("GL0",))], set()),
        ([Selection(select=("ALL",), ignore=("GL00",))], {"GL010", "GL101"}),
        # more specific wins, whichever list it is in
        ([Selection(select=("GL001",), ignore=("GL00",))], {"GL001"}),
        ([Selection(select=("GL",), ignore=("GL00",), extend_select=("GL002",))], {"GL002", "GL010", "GL101"}),
        # same specificity: ignore wins
        ([Selection(select=("GL001",), ignore=("GL001",))], set()),
        # a later layer's select starts again; without select it adjusts
        ([Selection(ignore=("GL001",)), Selection(select=("GL001",))], {"GL001"}),
        ([Selection(ignore=("GL001",)), Selection(extend_select=("GL101",))], {"GL002", "GL010", "GL101"}),
        ([Selection(select=("GL010",)), Selection(ignore=("GL010",), extend_select=("GL002",))], {"GL002"}),
        ([Selection(select=())], set()),
        (["lowercase"], {"GL001"}),
    ],
)
def test_resolve_selection(fake_rules, layers, expected):
    if layers == ["lowercase"]:
        layers = [Selection(select=("gl001",))]
    assert resolve_selection(layers) == expected


def test_unknown_selector_names_where(fake_rules):
    with pytest.raises(ConfigError, match=r"--select: unknown rule code or prefix 'GL999'"):
        ConfigResolver(None, Overrides(select=["GL999"]))
    with pytest.raises(ConfigError, match=r"--ignore: unknown rule code or prefix 'XX'"):
        ConfigResolver(None, Overrides(ignore=["XX"]))


# ------------------------------------------------------------------ which file


def test_nearest_config_wins_and_precedence(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL001"]\n')
    write(tmp_path, "sub/pyproject.toml", '[project]\nname = "x"\n')  # no gradlint table: skipped
    write(tmp_path, "sub/deeper/gradlint.toml", 'ignore = ["GL002"]\n')
    write(tmp_path, "both/pyproject.toml", '[tool.gradlint]\nignore = ["GL003"]\n')
    write(tmp_path, "both/gradlint.toml", 'ignore = ["GL004"]\n')
    write(tmp_path, "both/.gradlint.toml", 'ignore = ["GL005"]\n')
    assert find_config_file(tmp_path / "a.py") == tmp_path / "pyproject.toml"
    assert find_config_file(tmp_path / "sub" / "b.py") == tmp_path / "pyproject.toml"
    assert find_config_file(tmp_path / "sub" / "deeper" / "c.py") == tmp_path / "sub" / "deeper" / "gradlint.toml"
    assert find_config_file(tmp_path / "both" / "d.py") == tmp_path / "both" / ".gradlint.toml"

    r = ConfigResolver(None, Overrides())
    assert "GL001" not in r.settings_for(tmp_path / "a.py").selected
    deeper = r.settings_for(tmp_path / "sub" / "deeper" / "c.py").selected
    assert "GL002" not in deeper and "GL001" in deeper  # files are not merged: nearest is everything


def test_someone_elses_broken_pyproject_is_skipped(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL001"]\n')
    write(tmp_path, "pkg/pyproject.toml", "[project\nname = 'broken'\n")
    assert find_config_file(tmp_path / "pkg" / "x.py") == tmp_path / "pyproject.toml"
    write(tmp_path, "pkg2/pyproject.toml", "[tool.gradlint]\nselect = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        ConfigResolver(None, Overrides()).settings_for(tmp_path / "pkg2" / "x.py")


def test_gradlint_toml_written_like_pyproject_is_accepted(tmp_path):
    cfg = load_config_file(write(tmp_path, "gradlint.toml", '[tool.gradlint]\nignore = ["GL001"]\n'))
    assert cfg.selection.ignore == ("GL001",)


# ------------------------------------------------------------------ keys and values


def test_options_table_and_flat_keys(tmp_path):
    cfg = load_config_file(write(tmp_path, "pyproject.toml", (
        "[tool.gradlint]\n"
        'extend-model-names = ["policy"]\n'
        "[tool.gradlint.options]\n"
        'extend-eval-function-patterns = ["score_\\\\w+"]\n'
    )))
    assert cfg.options == RuleOptions(extend_eval_function_patterns=(r"score_\w+",), extend_model_names=("policy",))
    assert cfg.options.eval_function_patterns == DEFAULT_EVAL_FUNCTION_PATTERNS
    replaced = load_config_file(write(tmp_path, "g/gradlint.toml", 'model-names = ["m"]\neval-function-patterns = ["e"]\n'))
    assert replaced.options.all_model_names == ("m",) and replaced.options.all_eval_function_patterns == ("e",)


@pytest.mark.parametrize(
    "body, message",
    [
        ('selct = ["GL001"]', "[tool.gradlint] unknown key 'selct' (did you mean 'select'?)"),
        ('extend_select = ["GL001"]', "unknown key 'extend_select' (did you mean 'extend-select'?)"),
        ('frobnicate = 1', "unknown key 'frobnicate' (known keys: "),
        ('select = "GL001"', "[tool.gradlint] select: expected a list of strings, got a string (write ['GL001'])"),
        ("select = [1]", "select: expected a list of strings, got an integer 1 in it"),
        ("exclude = {a = 1}", "exclude: expected a list of strings, got a table"),
        ('select = ["GL9"]', "select: unknown rule code or prefix 'GL9'"),
        ('ignore = ["E501"]', "ignore: unknown rule code or prefix 'E501'"),
        ('per-file-ignores = {"tests/*" = ["GL0X"]}', "per-file-ignores.'tests/*': unknown rule code or prefix 'GL0X'"),
        ('per-file-ignores = ["tests/*"]', "per-file-ignores: expected a table"),
        ('per-file-ignores = {"tests/*" = "GL001"}', "expected a list of strings, got a string"),
        ('respect-gitignore = "yes"', "respect-gitignore: expected true or false"),
        ('extend-model-names = ["("]', "extend-model-names: invalid regular expression '('"),
        ("select = [", "invalid TOML"),
        ("[tool.gradlint.options]\nmodel-name = ['m']", "[tool.gradlint.options] unknown key 'model-name' (did you mean 'model-names'?)"),
        ("model-names = ['a']\n[tool.gradlint.options]\nmodel-names = ['m']", "model-names: also set outside [options]"),
        ("options = 3", "options: expected a table, got an integer"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, body, message):
    path = write(tmp_path, "pyproject.toml", "[tool.gradlint]\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    text = str(info.value)
    assert message in text
    assert text.startswith(str(path))
    assert "\n" not in text.strip() or "invalid TOML" in text


def test_tool_gradlint_must_be_a_table(tmp_path):
    with pytest.raises(ConfigError, match="must be a table"):
        load_config_file(write(tmp_path, "pyproject.toml", '[tool]\ngradlint = "on"\n'))


def test_missing_and_undecodable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config_file(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config_file(write(tmp_path, "gradlint.toml", b"select = ['\xff']\n"))


# ------------------------------------------------------------------ per-file-ignores


@pytest.mark.parametrize(
    "glob, path, applies",
    [
        ("tests/*", "tests/test_a.py", True),
        ("tests/*", "tests/unit/test_a.py", True),  # a folder pattern covers what is inside
        ("tests", "tests/unit/test_a.py", True),
        ("tests/", "tests/unit/test_a.py", True),
        ("tests/**/*.py", "tests/unit/test_a.py", True),
        ("scripts/*.py", "scripts/run.py", True),
        ("scripts/*.py", "src/scripts/run.py", False),  # anchored at the configuration's folder
        ("__init__.py", "pkg/sub/__init__.py", True),  # a bare name matches at any depth
        ("*_test.py", "pkg/x_test.py", True),
        ("*_test.py", "pkg/x.py", False),
        ("!src/**", "tools/run.py", True),  # negated: files NOT matching
        ("!src/**", "src/model.py", False),
    ],
)
def test_per_file_ignores_globs(tmp_path, glob, path, applies):
    write(tmp_path, "gradlint.toml", f'per-file-ignores = {{ "{glob}" = ["GL003"] }}\n')
    target = write(tmp_path, path, "x = 1\n")
    selected = ConfigResolver(None, Overrides()).settings_for(target).selected
    assert ("GL003" not in selected) is applies


def test_per_file_ignores_survive_cli_select(tmp_path):
    write(tmp_path, "gradlint.toml", 'per-file-ignores = { "gen/*" = ["GL0"] }\nextend-per-file-ignores = { "x.py" = ["GL001"] }\n')
    r = ConfigResolver(None, Overrides(select=["ALL"]))
    assert r.settings_for(write(tmp_path, "gen/a.py", "")).selected == frozenset()
    assert "GL001" not in r.settings_for(write(tmp_path, "x.py", "")).selected
    assert "GL001" in r.settings_for(write(tmp_path, "y.py", "")).selected


# ------------------------------------------------------------------ command line over configuration


def test_cli_layers_over_config(tmp_path):
    write(tmp_path, "gradlint.toml", 'select = ["GL001", "GL002"]\nignore = ["GL002"]\n')
    f = write(tmp_path, "a.py", "")
    assert ConfigResolver(None, Overrides()).settings_for(f).selected == {"GL001"}
    assert ConfigResolver(None, Overrides(select=["GL002"])).settings_for(f).selected == {"GL002"}
    assert ConfigResolver(None, Overrides(extend_select=["GL003"])).settings_for(f).selected == {"GL001", "GL003"}
    assert ConfigResolver(None, Overrides(ignore=["GL001"])).settings_for(f).selected == set()


def test_explicit_config_is_used_for_every_file(tmp_path):
    cfg = write(tmp_path, "elsewhere/gradlint.toml", 'select = ["GL003"]\n')
    write(tmp_path, "proj/pyproject.toml", '[tool.gradlint]\nselect = ["GL001"]\n')
    f = write(tmp_path, "proj/a.py", "")
    assert ConfigResolver(cfg, Overrides()).settings_for(f).selected == {"GL003"}
    assert ConfigResolver(None, Overrides()).settings_for(f).selected == {"GL001"}


def test_inline_config_overrides(tmp_path):
    write(tmp_path, "gradlint.toml", 'select = ["GL001"]\n[options]\nmodel-names = ["net"]\n')
    f = write(tmp_path, "a.py", "")
    r = ConfigResolver(None, Overrides(inline=['select = ["GL002"]', 'options.extend-model-names = ["policy"]']))
    s = r.settings_for(f)
    assert s.selected == {"GL002"}
    assert s.options.all_model_names == ("net", "policy")
    with pytest.raises(ConfigError, match=r"--config: unknown key 'selekt'"):
        ConfigResolver(None, Overrides(inline=['selekt = ["GL001"]']))
    with pytest.raises(ConfigError, match="not a valid 'KEY = VALUE'"):
        ConfigResolver(None, Overrides(inline=["select = ["]))


def test_no_config_anywhere_uses_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = write(tmp_path, "a.py", "")
    s = ConfigResolver(None, Overrides()).settings_for(Path("a.py"))
    assert s.selected == {r.code for r in gradlint.rules.ALL_RULES if r.default_enabled}
    assert s.options == RuleOptions()
    assert f.exists()
