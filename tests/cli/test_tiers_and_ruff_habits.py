"""Tiers (bug / hygiene) in every output and `--bugs-only`; the CLI habits of ruff users: stdin,
`--add-noqa`, `--show-settings`, `--show-files`, `extend =`, `-o/--output-file`; rule pages and URLs."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gradlint.catalog import DOCS_URL_ENV, SITE_DIR, load, rule_url
from gradlint.cli_extras import add_noqa_to_source
from gradlint.diagnostic import BUG, HYGIENE, TIERS, Diagnostic, Location
from gradlint.rules import ALL_RULES

from .conftest import BAD, CLEAN, write

# GL001 (bug) at 3:1 and GL003 (hygiene: a `.data` read) at 4:5
MIXED = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\ny = w.data * 2\n"
HYGIENE_ONLY = "import torch\nx = torch.randn(3, requires_grad=True)\ny = x.data * 2\n"
ROOT = Path(__file__).resolve().parents[2]

EXPECTED_TIERS = {
    "GL001": BUG, "GL002": BUG, "GL003": HYGIENE, "GL004": BUG, "GL005": HYGIENE, "GL006": BUG, "GL007": BUG,
    "GL008": BUG, "GL009": BUG, "GL010": BUG, "GL011": BUG, "GL012": BUG, "GL013": BUG, "GL014": BUG,
    "GL015": BUG, "GL016": BUG, "GL017": BUG, "GL018": BUG, "GL019": BUG, "GL020": BUG, "GL021": BUG,
}


# ------------------------------------------------------------------------------------------ tiers
def test_every_rule_declares_a_tier():
    for r in ALL_RULES:
        assert r.tier in TIERS, f"{r.code}: set `tier = \"bug\"` or `tier = \"hygiene\"`"
    assert {r.code: r.tier for r in ALL_RULES if r.code in EXPECTED_TIERS} == EXPECTED_TIERS


def test_a_finding_may_carry_its_own_tier(monkeypatch):
    """The plumbing for escalation: Finding.tier overrides the rule's default in the Diagnostic."""
    from gradlint.linter import lint_source
    from gradlint.rules import get_rule
    from gradlint.settings import Settings

    rule = get_rule("GL003")
    original = rule.check

    def escalated(self, model, options):
        for f in original(self, model, options):
            f.tier = BUG
            yield f

    settings = Settings(selected=frozenset({"GL003"}))
    (before,) = lint_source(HYGIENE_ONLY, "t.py", settings).diagnostics
    assert before.tier == HYGIENE
    monkeypatch.setattr(rule, "check", escalated)
    (after,) = lint_source(HYGIENE_ONLY, "t.py", settings).diagnostics
    assert after.tier == BUG
    assert lint_source(HYGIENE_ONLY, "t.py", Settings(selected=frozenset({"GL003"}), bugs_only=True)).diagnostics


def test_text_formats_and_summary_show_the_tier(gl, tmp_path):
    f = write(tmp_path, "m.py", MIXED)
    for fmt in ("full", "concise"):
        res = gl("check", "--output-format", fmt, str(f))
        assert f"{f}:3:1: GL001 [bug] " in res.stdout
        assert f"{f}:4:5: GL003 [hygiene] " in res.stdout
        assert res.err_lines[0] == "Found 2 errors: 1 bug, 1 hygiene."
    res = gl("check", str(write(tmp_path, "h.py", HYGIENE_ONLY)))
    assert res.err_lines[0] == "Found 1 error: 1 hygiene."


def test_bugs_only_flag_and_setting(gl, tmp_path):
    f = write(tmp_path, "m.py", MIXED)
    h = write(tmp_path, "h.py", HYGIENE_ONLY)
    res = gl("check", "--bugs-only", "--output-format", "concise", str(f), str(h))
    assert res.exit_code == 1 and "GL001" in res.stdout and "GL003" not in res.stdout
    assert res.err_lines[0] == "Found 1 error: 1 bug."
    assert gl("check", "--bugs-only", str(h)).exit_code == 0
    write(tmp_path, "pyproject.toml", "[tool.gradlint]\nbugs-only = true\n")
    assert gl("check", str(h), cwd=tmp_path).exit_code == 0
    assert gl("check", "--no-bugs-only", str(h), cwd=tmp_path).exit_code == 1
    write(tmp_path, "pyproject.toml", "[tool.gradlint]\nbugs-only = \"yes\"\n")
    bad = gl("check", str(h), cwd=tmp_path)
    assert bad.exit_code == 2 and "bugs-only" in bad.stderr and "pyproject.toml" in bad.stderr


def test_bugs_only_is_part_of_the_cache_key(gl, tmp_path):
    h = write(tmp_path, "h.py", HYGIENE_ONLY)
    assert gl("check", str(h), cwd=tmp_path, cache=True).exit_code == 1
    assert gl("check", "--bugs-only", str(h), cwd=tmp_path, cache=True).exit_code == 0
    res = gl("check", "--output-format", "json", str(h), cwd=tmp_path, cache=True)  # from the cache
    assert [d["tier"] for d in json.loads(res.stdout)] == [HYGIENE]


def test_machine_formats_carry_the_tier(gl, tmp_path):
    f = write(tmp_path, "m.py", MIXED)
    data = json.loads(gl("check", "--output-format", "json", str(f)).stdout)
    assert [(d["code"], d["severity"], d["tier"], d["name"], d["cell"]) for d in data] == [
        ("GL001", "error", "bug", "inplace-on-leaf", None), ("GL003", "warning", "hygiene", "data-attribute", None)]
    lines = [json.loads(x) for x in gl("check", "--output-format", "json-lines", str(f)).stdout.splitlines()]
    assert [d["severity"] for d in lines] == ["error", "warning"]
    gh = gl("check", "--output-format", "github", str(f)).stdout.splitlines()
    assert gh[0].startswith("::error ") and "GL001" in gh[0]
    assert gh[1].startswith("::warning ") and "GL003" in gh[1]
    sarif = json.loads(gl("check", "--output-format", "sarif", str(f)).stdout)
    run = sarif["runs"][0]
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("GL001", "error"), ("GL003", "warning")]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]}
    assert levels["GL001"] == "error" and levels["GL003"] == "warning" and levels["GL005"] == "warning"
    junit = ET.fromstring(gl("check", "--output-format", "junit", str(f)).stdout)
    assert [x.get("type") for x in junit.iter("failure")] == ["bug", "hygiene"]


def test_rules_and_explain_show_the_tier(gl):
    out = gl("rules").stdout.splitlines()
    assert out[0].split()[:3] == ["code", "name", "tier"]
    gl003 = next(line for line in out if line.startswith("GL003"))
    assert gl003.split()[2] == "hygiene"
    data = json.loads(gl("rules", "--output-format", "json").stdout)
    assert {d["code"]: d["tier"] for d in data if d["code"] in EXPECTED_TIERS} == EXPECTED_TIERS
    text = gl("explain", "GL005").stdout
    assert "Tier: hygiene" in text and "## What it does" in text
    assert "What the fixtures show" not in text  # instant by default: fixtures only with --run


def test_explain_run_flag_runs_the_fixtures(gl):
    text = gl("explain", "GL010", "--run").stdout
    assert "What the fixtures show" in text and "(the fixtures could not be run" not in text


# ----------------------------------------------------------------------------------- rule pages, URLs
def test_urls_point_at_bundled_pages_or_the_configured_site(gl, tmp_path, monkeypatch):
    f = write(tmp_path, "m.py", MIXED)
    monkeypatch.delenv(DOCS_URL_ENV, raising=False)
    data = json.loads(gl("check", "--output-format", "json", str(f)).stdout)
    page = Path(data[0]["url"].removeprefix("file://"))
    assert data[0]["url"].startswith("file://") and page.name == "GL001.html" and page.is_file()
    assert "GL001 inplace-on-leaf" in page.read_text(encoding="utf-8")
    data = json.loads(gl("check", "--output-format", "json", str(f),
                         env={DOCS_URL_ENV: "https://example.org/gl/"}).stdout)
    assert data[0]["url"] == "https://example.org/gl/GL001.html"
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\ndocs-url = "https://docs.example.com/rules"\n')
    sarif = json.loads(gl("check", "--output-format", "sarif", str(f), cwd=tmp_path).stdout)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["GL001"]["helpUri"] == "https://docs.example.com/rules/GL001.html"
    assert rules["GL002"]["helpUri"].startswith("file://")  # no finding here: the bundled page


def test_every_rule_has_a_page():
    for r in load():
        page = SITE_DIR / f"{r.code}.html"
        assert page.is_file() and f"{r.code} {r.name}" in page.read_text(encoding="utf-8")
        assert rule_url(r.code, "https://x.org") == f"https://x.org/{r.code}.html"
    assert (SITE_DIR / "index.html").is_file()


# ------------------------------------------------------------------------------ start-up: no LibCST
def _imports_libcst(args: list[str], cwd: Path) -> tuple[bool, subprocess.CompletedProcess]:
    code = ("import sys\nfrom gradlint.cli import main\nsys.argv = ['gradlint'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "sys.stderr.write('\\nLIBCST=%s\\n' % ('libcst' in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    return "LIBCST=True" in r.stderr, r


def test_startup_commands_do_not_import_libcst(tmp_path):
    for args in (["--version"], ["rules"], ["explain", "GL001"], ["explain", "GL001", "--no-run"]):
        imported, r = _imports_libcst(args, tmp_path)
        assert "LIBCST=" in r.stderr, r.stderr
        assert not imported, f"`gradlint {' '.join(args)}` imports libcst"
    write(tmp_path, "a.py", MIXED)
    write(tmp_path, "b.py", CLEAN)
    write(tmp_path, "c.py", BAD)
    files = ["a.py", "b.py", "c.py"]
    imported, r = _imports_libcst(["check", *files], tmp_path)
    assert imported  # the first run parses (and fills the cache)
    for fmt in ("full", "json", "sarif", "github"):
        imported, r = _imports_libcst(["check", "--output-format", fmt, *files], tmp_path)
        assert "GL001" in r.stdout and not imported, f"an all-cached check ({fmt}) imports libcst"


# ----------------------------------------------------------------------------------------------- stdin
def test_stdin_reports_under_the_given_name(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--output-format", "concise", "-",
                        "--stdin-filename", "src/train.py"], input=MIXED, capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0].startswith("src/train.py:3:1: GL001 [bug]")
    r = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--stdin-filename", "x.py"],
                       input=CLEAN, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""


def test_stdin_fix_writes_the_fixed_source_to_stdout(tmp_path):
    loop = "import torch\n\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p -= 0.1 * p.grad\n"
    r = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", "-", "--stdin-filename",
                        "t.py"], input=loop, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("import torch\n\nmodel = torch.nn.Linear(2, 2)\nwith torch.no_grad():\n"
                        "    for p in model.parameters():\n        p -= 0.1 * p.grad\n")
    assert "1 fixed, 0 remaining" in r.stderr
    # a file that does not parse comes back unchanged, exit 2
    r = subprocess.run([sys.executable, "-m", "gradlint", "check", "--no-cache", "--fix", "-", "--stdin-filename",
                        "t.py"], input="import torch\ndef f(:\n", capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "import torch\ndef f(:\n" and "t.py" in r.stderr


def test_stdin_uses_the_configuration_of_its_filename(tmp_path):
    write(tmp_path, "pkg/pyproject.toml", '[tool.gradlint]\nignore = ["GL001"]\n')
    args = [sys.executable, "-m", "gradlint", "check", "--no-cache", "--output-format", "concise", "-"]
    r = subprocess.run([*args, "--stdin-filename", "pkg/t.py"], input=MIXED, capture_output=True, text=True,
                       cwd=tmp_path)
    assert "GL001" not in r.stdout and "GL003" in r.stdout


def test_stdin_force_exclude_skips_an_excluded_name(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nextend-exclude = ["legacy"]\n')
    args = [sys.executable, "-m", "gradlint", "check", "--no-cache", "--force-exclude", "-", "--stdin-filename"]
    r = subprocess.run([*args, "legacy/old.py"], input=MIXED, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    r = subprocess.run([*args, "legacy/old.py", "--fix"], input=MIXED, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == MIXED
    r = subprocess.run([*args, "src/new.py"], input=MIXED, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "src/new.py:3:1: GL001" in r.stdout


# -------------------------------------------------------------------------------------------- add-noqa
def _diag(code: str, row: int, noqa_row: int | None = None) -> Diagnostic:
    return Diagnostic(code, "n", "m", "t.py", Location(row, 1), Location(row, 2), noqa_row=noqa_row or row)


def test_add_noqa_keeps_other_tools_codes():
    src = "a = 1  # noqa: E501\nb = 2  # type: ignore\nc = 3\nd = 4  # NOQA:E501,F401 trailing words\n"
    out, n = add_noqa_to_source(src, [_diag("GL001", 1), _diag("GL003", 2), _diag("GL001", 3),
                                      _diag("GL003", 3), _diag("GL002", 4)])
    assert n == 4
    assert out.splitlines() == [
        "a = 1  # noqa: E501, GL001",
        "b = 2  # type: ignore  # noqa: GL003",
        "c = 3  # noqa: GL001, GL003",
        "d = 4  # NOQA:E501, F401, GL002 trailing words",
    ]
    again, n2 = add_noqa_to_source(out, [_diag("GL001", 1), _diag("GL001", 3)])
    assert again == out and n2 == 0  # already there
    crlf, _ = add_noqa_to_source("x = 1\r\ny = 2\r\n", [_diag("GL001", 1)])
    assert crlf == "x = 1  # noqa: GL001\r\ny = 2\r\n"
    bare, n3 = add_noqa_to_source("x = 1  # noqa\n", [_diag("GL001", 1)])
    assert bare == "x = 1  # noqa\n" and n3 == 0
    in_string, _ = add_noqa_to_source('s = "# noqa: E501"\n', [_diag("GL001", 1)])
    assert in_string == 's = "# noqa: E501"  # noqa: GL001\n'


def test_add_noqa_command_then_clean(gl, tmp_path):
    f = write(tmp_path, "m.py", MIXED.replace("w += 1\n", "w += 1  # noqa: E501\n"))
    res = gl("check", "--add-noqa", str(f))
    assert res.exit_code == 0 and "Added 2 noqa directives." in res.stderr
    assert f.read_text().splitlines()[2:] == ["w += 1  # noqa: E501, GL001", "y = w.data * 2  # noqa: GL003"]
    assert gl("check", str(f)).exit_code == 0


def test_add_noqa_in_notebook_cells(gl, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb = new_notebook()
    nb.cells = [new_markdown_cell("# t"), new_code_cell("%matplotlib inline\n" + MIXED, execution_count=1,
                                                          outputs=[new_output("stream", name="stdout", text="hi\n")])]
    f = tmp_path / "nb.ipynb"
    f.write_text(nbformat.writes(nb) + "\n")
    res = gl("check", "--add-noqa", str(f))
    assert res.exit_code == 0 and "Added 2 noqa directives." in res.stderr, res.stderr
    got = nbformat.read(str(f), as_version=4)
    nbformat.validate(got)
    assert got.cells[1].source.splitlines() == [
        "%matplotlib inline", "import torch", "w = torch.randn(3, requires_grad=True)", "w += 1  # noqa: GL001",
        "y = w.data * 2  # noqa: GL003"]
    assert got.cells[1].outputs == nb.cells[1].outputs and got.cells[0].source == "# t"
    assert gl("check", str(f)).exit_code == 0


@pytest.mark.skipif(__import__("shutil").which("ruff") is None and
                    subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0,
                    reason="ruff is not installed")
def test_ruff_external_keeps_gradlint_codes(tmp_path):
    """The documented `lint.external = ["GL"]`: ruff's RUF100 --fix keeps gradlint's codes in shared noqa
    comments (without it, it deletes them) — and gradlint keeps ruff's."""
    line = "y = 1  # noqa: E501, GL001\n"  # E501 unused here: RUF100 rewrites the directive
    f = write(tmp_path, "m.py", line)
    ruff = [sys.executable, "-m", "ruff"]
    base = ["check", "--no-cache", "--select", "RUF100,E501", "--fix", str(f)]
    subprocess.run([*ruff, *base], cwd=tmp_path, capture_output=True, text=True)
    assert f.read_text() == "y = 1\n"  # without lint.external, gradlint's code goes with the directive
    f.write_text(line)
    write(tmp_path, "ruff.toml", '[lint]\nexternal = ["GL"]\n')
    subprocess.run([*ruff, *base], cwd=tmp_path, capture_output=True, text=True)
    assert f.read_text() == "y = 1  # noqa: GL001\n"


# --------------------------------------------------------------------------------- show-*, output-file
def test_show_files_and_settings(gl, tmp_path):
    write(tmp_path, "a.py", CLEAN)
    write(tmp_path, "sub/b.py", CLEAN)
    write(tmp_path, ".venv/c.py", CLEAN)
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL003"]\nbugs-only = true\n')
    res = gl("check", "--show-files", ".", cwd=tmp_path)
    assert res.exit_code == 0 and res.stdout.splitlines() == ["a.py", "sub/b.py"]
    res = gl("check", "--show-settings", ".", cwd=tmp_path)
    assert res.exit_code == 0
    assert res.stdout.startswith("Resolved settings for: a.py\nSettings path: ")
    assert "pyproject.toml" in res.stdout.splitlines()[1]
    assert "GL003" not in next(line for line in res.stdout.splitlines() if line.startswith("selected = "))
    assert "bugs-only = true" in res.stdout


def test_output_file(gl, tmp_path):
    f = write(tmp_path, "m.py", MIXED)
    out = tmp_path / "report.json"
    res = gl("check", "--output-format", "json", "-o", str(out), str(f))
    assert res.exit_code == 1 and res.stdout == ""
    assert [d["code"] for d in json.loads(out.read_text())] == ["GL001", "GL003"]
    res = gl("check", "--output-file", str(tmp_path / "nope" / "r.txt"), str(f))
    assert res.exit_code == 2 and "--output-file" in res.stderr


# ---------------------------------------------------------------------------------------------- extend
def test_extend_chains_relative_to_the_file(gl, tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL001"]\nextend-model-names = ["policy"]\n')
    write(tmp_path, "team/base.toml", 'extend = "../pyproject.toml"\nextend-select = ["GL014"]\n')
    write(tmp_path, "team/proj/pyproject.toml", '[tool.gradlint]\nextend = "../base.toml"\n'
                                                'extend-select = ["GL001"]\n')
    f = write(tmp_path, "team/proj/m.py", MIXED)
    res = gl("check", "--show-settings", str(f))
    selected = next(line for line in res.stdout.splitlines() if line.startswith("selected = "))
    assert "'GL001'" in selected and "'GL014'" in selected  # layers: GL001 ignored, then selected again
    assert "policy" in res.stdout
    res = gl("check", "--output-format", "concise", str(f))
    assert "GL001" in res.stdout
    write(tmp_path, "team/proj/pyproject.toml", '[tool.gradlint]\nextend = "../base.toml"\n')
    assert "GL001" not in gl("check", "--output-format", "concise", str(f)).stdout


def test_extend_errors_name_the_file(gl, tmp_path):
    write(tmp_path, "a/pyproject.toml", '[tool.gradlint]\nextend = "../b/pyproject.toml"\n')
    write(tmp_path, "b/pyproject.toml", '[tool.gradlint]\nextend = "../a/pyproject.toml"\n')
    f = write(tmp_path, "a/m.py", MIXED)
    res = gl("check", str(f))
    assert res.exit_code == 2 and "cycle" in res.stderr and "a/pyproject.toml" in res.stderr
    write(tmp_path, "b/pyproject.toml", '[tool.gradlint]\nextend = "missing.toml"\n')
    res = gl("check", str(f))
    assert res.exit_code == 2 and "missing.toml: no such file" in res.stderr
    write(tmp_path, "b/pyproject.toml", '[tool.gradlint]\nselect = ["GL999"]\n')
    res = gl("check", str(f))
    assert res.exit_code == 2 and "b/pyproject.toml" in res.stderr and "GL999" in res.stderr


def test_lsp_severity_follows_the_tier_unless_configured():
    pytest.importorskip("pygls")
    from gradlint.lsp import ClientOptions

    opts = ClientOptions()
    assert opts.severity_for("GL001", "bug") == "error" and opts.severity_for("GL003", "hygiene") == "warning"
    opts, problems = ClientOptions.from_json({"severity": {"GL001": "hint"}})
    assert problems == [] and opts.severity_for("GL001", "bug") == "hint"
    assert opts.severity_for("GL002", "bug") == "error"
    opts, _ = ClientOptions.from_json({"severity": "information"})
    assert opts.severity_for("GL001", "bug") == "information"
