"""The pre-commit hooks, run by the real `pre-commit` against a commit of this repository.

The working tree (tracked files plus untracked files that are not ignored) is copied into a temporary
git repository and committed there; a throw-away project points its `.pre-commit-config.yaml` at that
repository (a local path) and commit, and `pre-commit run --all-files` builds the hook's virtual
environment (pip installs gradlint and its dependencies from the package index) and runs it. The config
used is the snippet of docs/pre-commit.md, with `repo:` / `rev:` filled in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit")
yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "pre-commit.md"

BAD = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"  # GL001 at 3:1
BAD_LOOP = "import torch\n\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p -= 0.1 * p.grad\n"
FIXED_LOOP = ("import torch\n\nmodel = torch.nn.Linear(2, 2)\nwith torch.no_grad():\n"
              "    for p in model.parameters():\n        p -= 0.1 * p.grad\n")
CLEAN = "import torch\nx = torch.randn(3)\nx += 1\n"
HYGIENE_ONLY = "import torch\nx = torch.randn(3, requires_grad=True)\ny = x.data * 2\n"  # GL003 (hygiene) at 3:5
DOC_URL = "https://github.com/OWNER/gradlint"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs a git checkout of gradlint"),
]


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    r = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
    return r.stdout


def _work_tree_files() -> list[str]:
    out = _git("ls-files", "-co", "--exclude-standard", "-z", cwd=REPO)
    files = [f for f in out.split("\0") if f and (REPO / f).is_file() and not (REPO / f).is_symlink()]
    venvs = {str(Path(f).parent) for f in files if Path(f).name == "pyvenv.cfg"}  # a virtualenv in the tree
    return [f for f in files if not any(f.startswith(v + "/") for v in venvs)]


@pytest.fixture(scope="module")
def gradlint_repo(tmp_path_factory) -> tuple[Path, str]:
    """A git repository holding one commit: this work tree as it is now."""
    dest = tmp_path_factory.mktemp("gradlint-src")
    for f in _work_tree_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, target)
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("commit", "-q", "-m", "snapshot", cwd=dest)
    return dest, _git("rev-parse", "HEAD", cwd=dest).strip()


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    """Shared by the tests of this module, so the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def documented_config(repo: Path, rev: str, hook: str = "gradlint") -> str:
    """The first `.pre-commit-config.yaml` snippet of docs/pre-commit.md, pointed at `repo` / `rev`."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    config = yaml.safe_load(blocks[0])
    entry = config["repos"][0]
    assert set(entry) == {"repo", "rev", "hooks"} and entry["hooks"] == [{"id": "gradlint"}]
    entry["repo"], entry["rev"], entry["hooks"] = str(repo), rev, [{"id": hook}]
    return yaml.safe_dump(config, sort_keys=False)


def make_project(path: Path, config: str, files: dict[str, str]) -> Path:
    path.mkdir()
    _git("init", "-q", cwd=path)
    (path / ".pre-commit-config.yaml").write_text(config)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    _git("add", "-A", cwd=path)
    return path


def pre_commit(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return pre_commit_command(project, home, "run", "--color", "never", *args)


def pre_commit_command(project: Path, home: Path, command: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for var in ("GIT_DIR", "GIT_INDEX_FILE", "GRADLINT_OUTPUT_FORMAT", "VIRTUAL_ENV"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "pre_commit", command, *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=900)


def test_hooks_file_declares_check_and_fix_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"gradlint", "gradlint-fix"}
    for h in hooks.values():
        assert h["language"] == "python" and h["types_or"] == ["python", "jupyter"]
        assert h["entry"].startswith("gradlint check")
    assert "--fix" in hooks["gradlint-fix"]["entry"].split() and "--fix" not in hooks["gradlint"]["entry"]


def test_check_hook_fails_with_the_findings_then_passes_when_clean(gradlint_repo, pre_commit_home,
                                                                   tmp_path: Path) -> None:
    repo, rev = gradlint_repo
    project = make_project(tmp_path / "proj", documented_config(repo, rev),
                           {"train.py": BAD, "src/clean.py": CLEAN, "notes.txt": "w += 1 torch\n"})
    r = pre_commit(project, pre_commit_home, "--all-files")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert re.search(r"^gradlint\.+Failed$", r.stdout, re.M), out
    assert "- hook id: gradlint" in r.stdout
    assert "train.py:3:1: GL001" in r.stdout
    assert "clean.py" not in r.stdout and "notes.txt" not in r.stdout
    assert (project / "train.py").read_text() == BAD  # the check hook never changes files

    (project / "train.py").write_text(CLEAN)
    _git("add", "-A", cwd=project)
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^gradlint\.+Passed$", r.stdout, re.M), r.stdout


def test_check_hook_checks_notebooks_and_honours_the_projects_excludes(gradlint_repo, pre_commit_home,
                                                                       tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.cells = [new_markdown_cell("# train"), new_code_cell(BAD)]
    repo, rev = gradlint_repo
    project = make_project(tmp_path / "proj", documented_config(repo, rev), {
        "nb.ipynb": nbformat.writes(nb) + "\n",
        "legacy/old.py": BAD,
        "pyproject.toml": '[tool.gradlint]\nextend-exclude = ["legacy"]\n',
    })
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "nb.ipynb:cell 2:3:1: GL001" in r.stdout
    assert "legacy" not in r.stdout  # --force-exclude in the hook's entry


def test_fix_hook_rewrites_the_file(gradlint_repo, pre_commit_home, tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-m", "gradlint", "check", "--help"], capture_output=True, text=True)
    assert "--fix" in probe.stdout, "`gradlint check --fix` is missing: the gradlint-fix hook cannot work"
    repo, rev = gradlint_repo
    project = make_project(tmp_path / "proj", documented_config(repo, rev, hook="gradlint-fix"),
                           {"train.py": BAD_LOOP, "clean.py": CLEAN})
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 1, r.stdout + r.stderr  # pre-commit fails a hook that modified files
    assert re.search(r"^gradlint \(fix\)\.+Failed$", r.stdout, re.M), r.stdout
    assert "files were modified by this hook" in r.stdout
    assert (project / "train.py").read_text() == FIXED_LOOP
    assert (project / "clean.py").read_text() == CLEAN

    _git("add", "-A", cwd=project)
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^gradlint \(fix\)\.+Passed$", r.stdout, re.M), r.stdout


def test_fix_hook_fixes_notebook_cells(gradlint_repo, pre_commit_home, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook()
    nb.cells = [new_code_cell("!nvidia-smi\n" + BAD_LOOP, execution_count=1,
                              outputs=[new_output("stream", name="stdout", text="ok\n")])]
    repo, rev = gradlint_repo
    project = make_project(tmp_path / "proj", documented_config(repo, rev, hook="gradlint-fix"),
                           {"nb.ipynb": nbformat.writes(nb) + "\n"})
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 1 and "files were modified by this hook" in r.stdout, r.stdout + r.stderr
    fixed = nbformat.read(str(project / "nb.ipynb"), as_version=4)
    nbformat.validate(fixed)
    assert fixed.cells[0].source == "!nvidia-smi\n" + FIXED_LOOP
    assert fixed.cells[0].outputs == nb.cells[0].outputs
    assert json.loads((project / "nb.ipynb").read_text())["metadata"] == json.loads(nbformat.writes(nb))["metadata"]


def test_local_hook_from_the_docs_uses_the_installed_gradlint(tmp_path: Path) -> None:
    if shutil.which("gradlint") is None:
        pytest.skip("gradlint is not on PATH")
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    local = next(b for b in blocks if "repo: local" in b)
    project = make_project(tmp_path / "proj", local, {"train.py": BAD})
    r = pre_commit(project, tmp_path / "home", "--all-files")
    assert r.returncode == 1 and "train.py:3:1: GL001" in r.stdout, r.stdout + r.stderr


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def test_readme_shows_the_documented_snippet() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert _yaml_blocks(DOC.read_text(encoding="utf-8"))[0] in _yaml_blocks(readme)


def test_documented_rev_is_pinned_by_autoupdate_freeze_and_runs(gradlint_repo, pre_commit_home,
                                                                 tmp_path: Path) -> None:
    """The snippet exactly as documented (only the repository URL replaced by the throw-away clone), then
    the documented `pre-commit autoupdate --freeze`: `rev` becomes the full hash of the repository's newest
    commit (it has no tag), and the hook runs from it."""
    repo, head = gradlint_repo
    snippet = _yaml_blocks(DOC.read_text(encoding="utf-8"))[0]
    assert DOC_URL in snippet
    project = make_project(tmp_path / "proj", snippet.replace(DOC_URL, str(repo)), {"train.py": BAD})
    documented_rev = yaml.safe_load(snippet)["repos"][0]["rev"]
    assert not re.fullmatch(r"v\d+(\.\d+)*", str(documented_rev)), "the docs must not name a tag that does not exist"
    r = pre_commit_command(project, pre_commit_home, "autoupdate", "--freeze")
    assert r.returncode == 0, r.stdout + r.stderr
    pinned = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())["repos"][0]["rev"]
    assert pinned == head and re.fullmatch(r"[0-9a-f]{40}", pinned)
    _git("add", "-A", cwd=project)
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 1 and "train.py:3:1: GL001 [bug]" in r.stdout, r.stdout + r.stderr
    assert "mutable reference" not in r.stdout + r.stderr  # a full hash: no warning


def test_bugs_only_args_let_hygiene_through(gradlint_repo, pre_commit_home, tmp_path: Path) -> None:
    """`args: [--bugs-only]` (docs/pre-commit.md) on a legacy codebase: hygiene findings do not fail the commit."""
    repo, rev = gradlint_repo
    config = yaml.safe_load(documented_config(repo, rev))
    assert "args: [--bugs-only]" in DOC.read_text(encoding="utf-8")
    config["repos"][0]["hooks"][0]["args"] = ["--bugs-only"]
    project = make_project(tmp_path / "proj", yaml.safe_dump(config, sort_keys=False), {"old.py": HYGIENE_ONLY})
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 0, r.stdout + r.stderr
    (project / "new.py").write_text(BAD)
    _git("add", "-A", cwd=project)
    r = pre_commit(project, pre_commit_home, "--all-files")
    assert r.returncode == 1 and "new.py:3:1: GL001" in r.stdout and "old.py" not in r.stdout, r.stdout


def test_check_hook_on_changed_files_reads_the_rest_of_the_project(gradlint_repo, pre_commit_home,
                                                                   tmp_path: Path) -> None:
    """pre-commit passes only the staged files; project-wide analysis still reads the others for facts
    (docs/project.md): a helper's in-place update is a bug because a file not passed hands it a parameter."""
    repo, rev = gradlint_repo
    ops = "def scale_(weight, factor):\n    weight.mul_(factor)\n"
    train = ("import torch.nn as nn\nfrom pkg.ops import scale_\n\nmodel = nn.Linear(3, 2)\n"
             "scale_(model.weight, 0.5)\n")
    project = make_project(tmp_path / "proj", documented_config(repo, rev),
                           {"pkg/__init__.py": "", "pkg/ops.py": "", "train.py": train})
    _git("commit", "-q", "-m", "base", cwd=project)
    (project / "pkg" / "ops.py").write_text(ops)
    _git("add", "pkg/ops.py", cwd=project)
    r = pre_commit(project, pre_commit_home)  # only the staged change: pkg/ops.py
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "pkg/ops.py:2:5: GL001" in r.stdout, out
    assert "train.py:5" in r.stdout  # the message names the caller in the file that was not passed
    assert "train.py:5:1:" not in r.stdout  # ... which is not reported on
