"""The distribution installs as one package `gradlint` (with gradlint.rules / .runtime / .fixtures) and
works from outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _declared_packages() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["setuptools"]["packages"]


def _package_dirs() -> dict[str, Path]:
    mapping = {"gradlint": ROOT / "gradlint", "gradlint.rules": ROOT / "rules",
               "gradlint.runtime": ROOT / "runtime", "gradlint.fixtures": ROOT / "fixtures"}
    found: dict[str, Path] = {}
    for pkg, base in mapping.items():
        for init in base.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(base)
            name = ".".join([pkg, *rel.parts]) if rel.parts else pkg
            found[name] = init.parent
    return found


def _fixture_folders() -> set[str]:
    """Each rule's fixture folder: not a package, but setuptools warns ("Package would be ignored") about
    every folder with an importable name that ships files unless it is listed."""
    return {f"gradlint.fixtures.{d.name}" for d in (ROOT / "fixtures").iterdir()
            if d.is_dir() and d.name.isidentifier() and any(d.glob("*.py"))}


def test_every_package_folder_is_declared():
    declared = set(_declared_packages())
    on_disk = set(_package_dirs()) | _fixture_folders()
    assert on_disk - declared == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert declared - on_disk == set(), "declared packages without an __init__.py"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
    )
    (whl,) = out.glob("torch_gradlint-*.whl")
    return whl


def test_wheel_has_no_generic_top_level_packages(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert "gradlint" in tops
    assert not tops & {"rules", "runtime", "fixtures", "tests"}
    assert "gradlint/rules/gl001_inplace_on_leaf.py" in names
    assert "gradlint/runtime/__init__.py" in names
    assert any(n.startswith("gradlint/fixtures/gl001_") for n in names)


def test_installed_wheel_runs_outside_source_tree(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True,
    )
    bad = tmp_path / "work" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, "-m", "gradlint", "check", "--output-format", "concise", str(bad)],
        cwd=bad.parent, env=env, capture_output=True, text=True,
    )
    assert run.returncode == 1, run.stderr
    assert "GL001" in run.stdout
    # imported from the installed copy, not the checkout
    where = subprocess.run(
        [sys.executable, "-c", "import gradlint.rules, gradlint.runtime; print(gradlint.rules.__file__)"],
        cwd=bad.parent, env=env, capture_output=True, text=True, check=True,
    )
    assert where.stdout.strip().startswith(str(site))
    # the rule catalogue and pages ship and are current: `gradlint rules` reads them without LibCST
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, json; from gradlint import catalog; "
         "d = json.loads(catalog.CATALOG_FILE.read_text()); "
         "print(d['digest'] == catalog.rules_digest(), (catalog.SITE_DIR / 'GL001.html').is_file(), "
         "len(catalog.load()), 'libcst' in sys.modules)"],
        cwd=bad.parent, env=env, capture_output=True, text=True, check=True,
    )
    fresh, page, count, libcst_imported = probe.stdout.split()
    assert (fresh, page, libcst_imported) == ("True", "True", "False") and int(count) >= 21, probe.stdout
    # the console script
    script = site / "bin" / "gradlint"
    if script.exists():
        run2 = subprocess.run([sys.executable, str(script), "--version"], env=env, capture_output=True, text=True)
        assert run2.returncode == 0 and run2.stdout.strip()


def test_distribution_name_and_install_instructions():
    """`gradlint` on PyPI is an unrelated project: the distribution is `torch-gradlint`, and no install
    instruction or message names the other one."""
    import re

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["name"] == "torch-gradlint"
    assert data["project"]["scripts"] == {"gradlint": "gradlint.cli:main"}
    wrong = re.compile(r"pip install\s+['\"]?gradlint\b|install gradlint\[|['\"]gradlint\[|['\"]gradlint @ ")
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "gradlint").rglob("*.py"))]
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in texts
             for m in wrong.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.slow
def test_sdist_and_wheel_build_cleanly(tmp_path: Path):
    """`python -m build` (sdist, then the wheel from it): no "Package would be ignored" warnings, the sdist
    carries the LICENSE and no tests (they need the whole checkout)."""
    import tarfile

    pytest.importorskip("build")
    run = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert "would be ignored" not in log and "absent from the `packages` configuration" not in log
    (sdist,) = tmp_path.glob("torch_gradlint-*.tar.gz")
    names = [n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n]
    assert "LICENSE" in names and "gradlint/catalog.json" in names and "gradlint/docs-site/GL001.html" in names
    assert not [n for n in names if n.startswith("tests/")]
    (whl,) = tmp_path.glob("torch_gradlint-*.whl")
    wheel_names = zipfile.ZipFile(whl).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in wheel_names)
    assert "gradlint/docs-site/GL001.html" in wheel_names and "gradlint/catalog.json" in wheel_names


def test_the_test_command_starts_without_deprecation_warnings():
    """The README's `python -m pytest`: pytest-asyncio warns when its fixture loop scope is unset."""
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "tests/test_docs.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "DeprecationWarning" not in run.stdout + run.stderr
