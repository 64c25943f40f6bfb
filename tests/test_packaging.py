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


def test_every_package_folder_is_declared():
    declared = set(_declared_packages())
    on_disk = set(_package_dirs())
    assert on_disk - declared == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert declared - on_disk == set(), "declared packages without an __init__.py"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
    )
    (whl,) = out.glob("gradlint-*.whl")
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
    # the console script
    script = site / "bin" / "gradlint"
    if script.exists():
        run2 = subprocess.run([sys.executable, str(script), "--version"], env=env, capture_output=True, text=True)
        assert run2.returncode == 0 and run2.stdout.strip()
