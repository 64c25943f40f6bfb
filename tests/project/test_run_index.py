"""The run index (gradlint/runindex.py): a warm run over an unchanged tree reuses the last run's results
without checking anything, and every kind of change still reaches the per-file cache and the project's
linking — an edited imported file, a same-size edit in the same clock tick, a deleted file, a new file
that changes what an import resolves to."""

from __future__ import annotations

import json
import os

import pytest

import gradlint.runindex as runindex
import gradlint.runner as runner
from tests.project.conftest import findings, notebook, tree
from tests.project.test_project_cli import OPS, TRAIN_AFTER_VALIDATE, TRAIN_OPS, VALIDATE


def check(gl, root, cache, *extra):
    return gl("check", "--output-format", "json", "--cache-dir", str(cache), *extra, ".", cwd=root, cache=True)


@pytest.fixture
def no_linting(monkeypatch):
    """After `no_linting()`, a run that checks anything (the runner's project or per-file path) fails."""

    def forbid():
        def boom(*args, **kwargs):
            raise AssertionError("the run checked files: the run index was not used")

        monkeypatch.setattr(runner, "lint_project", boom)
        monkeypatch.setattr(runner, "lint_many", boom)

    return forbid


def project(tmp_path):
    return tree(tmp_path / "p", {"utils.py": VALIDATE, "train.py": TRAIN_AFTER_VALIDATE,
                                 "pkg/__init__.py": "", "pkg/ops.py": OPS, "other.py": TRAIN_OPS})


EXPECTED = [("pkg/ops.py", 2, "GL001"), ("train.py", 7, "GL016")]


def test_an_unchanged_tree_is_answered_from_the_index(gl, tmp_path, no_linting):
    root, cache = project(tmp_path), tmp_path / "cache"
    first = check(gl, root, cache)
    full = gl("check", "--cache-dir", str(cache), ".", cwd=root, cache=True)  # (another format: same index)
    assert findings(first) == EXPECTED
    no_linting()
    assert check(gl, root, cache).stdout == first.stdout
    again = gl("check", "--cache-dir", str(cache), ".", cwd=root, cache=True)
    assert again.stdout == full.stdout and again.exit_code == full.exit_code == 1
    assert "weight.mul_(factor)" in again.stdout  # the report quotes the file, read for it
    # the same for a check of each file alone
    alone = check(gl, root, cache, "--no-project")
    assert check(gl, root, cache, "--no-project").stdout == alone.stdout


def test_touching_files_without_changing_them_is_still_a_hit(gl, tmp_path, no_linting):
    root, cache = project(tmp_path), tmp_path / "cache"
    first = check(gl, root, cache)
    for p in root.rglob("*.py"):
        os.utime(p, ns=(10**18, 10**18))
    no_linting()
    assert check(gl, root, cache).stdout == first.stdout


def test_an_edit_of_the_imported_file_rechecks_the_importer(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    for _ in range(2):
        assert findings(check(gl, root, cache)) == EXPECTED
    (root / "utils.py").write_text(VALIDATE + "    model.train()\n", encoding="utf-8")
    assert findings(check(gl, root, cache)) == [("pkg/ops.py", 2, "GL001")]
    (root / "utils.py").write_text(VALIDATE, encoding="utf-8")
    assert findings(check(gl, root, cache)) == EXPECTED


@pytest.mark.parametrize("racy_rule", [True, False])
def test_a_same_size_edit_in_the_same_clock_tick_is_seen(gl, tmp_path, monkeypatch, racy_rule):
    """An edit of the same size within one tick of the file system's clock leaves the whole stat()
    signature as it was (emulated: timestamps that do not move). Only the racy-entry rule — a file
    changed this close to the run that wrote the index is hashed, not trusted by its signature — sees it;
    without the rule (`racy_rule=False`) the stale findings would come back, which this checks too."""
    frozen: dict[int, list[int]] = {}  # inode -> its first (mtime, ctime): a clock that does not move

    def signature(st):
        return [st.st_size, *frozen.setdefault(st.st_ino, [st.st_mtime_ns, st.st_ctime_ns]), st.st_ino]

    monkeypatch.setattr(runindex, "_signature", signature)
    if not racy_rule:
        monkeypatch.setattr(runindex, "RACY_NS", -10**18)
    root, cache = project(tmp_path), tmp_path / "cache"
    assert findings(check(gl, root, cache)) == EXPECTED
    path = root / "other.py"
    size, inode = os.stat(path).st_size, os.stat(path).st_ino
    path.write_text(TRAIN_OPS.replace("scale_(model.weight", "scale_(model.weigh_"), encoding="utf-8")
    assert (os.stat(path).st_size, os.stat(path).st_ino) == (size, inode)
    # the leaf is no longer passed: ops.py's finding goes
    expected = [("train.py", 7, "GL016")] if racy_rule else EXPECTED
    assert findings(check(gl, root, cache)) == expected


def test_files_are_trusted_by_stat_once_old_enough(gl, tmp_path, monkeypatch):
    """With every file older than the racy window, the next run reads no file that has no finding;
    a changed signature is then hashed (here: a different size)."""
    root, cache = project(tmp_path), tmp_path / "cache"
    monkeypatch.setattr(runindex, "RACY_NS", -10**18)  # (as if the run were long after every edit)
    first = check(gl, root, cache)
    reads = []
    real_digest = runindex._digest
    monkeypatch.setattr(runindex, "_digest", lambda p: reads.append(p) or real_digest(p))
    assert check(gl, root, cache).stdout == first.stdout
    assert reads == []
    (root / "utils.py").write_text(VALIDATE + "    model.train()\n", encoding="utf-8")
    assert findings(check(gl, root, cache)) == [("pkg/ops.py", 2, "GL001")]
    assert any(p.endswith("utils.py") for p in reads)
    # another run (a file added): the files it shares with the last one are still known by their stat()
    reads.clear()
    (root / "extra.py").write_text("import torch\n", encoding="utf-8")
    assert findings(check(gl, root, cache)) == [("pkg/ops.py", 2, "GL001")]
    assert [os.path.basename(p) for p in reads] == ["extra.py"]


def test_deleted_files(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    for _ in range(2):
        assert findings(check(gl, root, cache)) == EXPECTED
    (root / "other.py").unlink()  # the only caller passing a leaf
    assert findings(check(gl, root, cache)) == [("train.py", 7, "GL016")]
    (root / "utils.py").unlink()  # the imported helper
    assert findings(check(gl, root, cache)) == []


def test_a_new_file_that_an_import_now_resolves_to(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    (root / "utils.py").unlink()
    (root / "pkg" / "utils.py").write_text(VALIDATE, encoding="utf-8")  # not importable from train.py
    for _ in range(2):
        assert findings(check(gl, root, cache)) == [("pkg/ops.py", 2, "GL001")]
    (root / "utils.py").write_text(VALIDATE, encoding="utf-8")
    assert findings(check(gl, root, cache)) == EXPECTED


def test_other_settings_or_paths_are_another_run(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    assert findings(check(gl, root, cache)) == EXPECTED
    assert findings(check(gl, root, cache, "--ignore", "GL001")) == [("train.py", 7, "GL016")]
    assert findings(check(gl, root, cache)) == EXPECTED
    res = gl("check", "--output-format", "json", "--cache-dir", str(cache), "pkg", cwd=root, cache=True)
    assert findings(res) == [("pkg/ops.py", 2, "GL001")]
    assert findings(check(gl, root, cache)) == EXPECTED


def test_a_corrupt_or_forged_index_is_a_miss(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    first = check(gl, root, cache)
    indexes = [p for p in (cache / "v1").rglob("*.json") if '"inputs"' in p.read_text()]
    assert len(indexes) == 1
    doc = json.loads(indexes[0].read_text())
    (i,) = [k for k, f in enumerate(doc["files"]) if f[0].endswith("ops.py")]
    doc["results"][i][0]["location"] = [99, 1]  # past the end of the file
    indexes[0].write_text(json.dumps(doc))
    assert check(gl, root, cache).stdout == first.stdout
    indexes[0].write_text("{not json")
    assert check(gl, root, cache).stdout == first.stdout
    doc["results"] = doc["results"][:1]
    indexes[0].write_text(json.dumps(doc))
    assert check(gl, root, cache).stdout == first.stdout


def test_a_file_that_cannot_be_checked_is_never_answered_from_an_index(gl, tmp_path):
    root, cache = project(tmp_path), tmp_path / "cache"
    (root / "broken.py").write_text("import torch\ndef f(:\n", encoding="utf-8")
    first = check(gl, root, cache)
    assert first.exit_code == 2 and "broken.py" in first.stderr
    assert not [p for p in (cache / "v1").rglob("*.json") if '"inputs"' in p.read_text()]
    (root / "broken.py").write_text("import torch\ndef f():\n    pass\n", encoding="utf-8")
    assert findings(check(gl, root, cache)) == EXPECTED


def test_a_notebook_with_findings_from_the_index(gl, tmp_path, no_linting):
    nb = notebook(["import torch\nw = torch.zeros(3, requires_grad=True)", "w += 1"])
    root, cache = project(tmp_path), tmp_path / "cache"
    (root / "explore.ipynb").write_text(nb, encoding="utf-8")
    full = gl("check", "--cache-dir", str(cache), ".", cwd=root, cache=True)
    assert "explore.ipynb:cell 2:1" in full.stdout
    no_linting()
    assert gl("check", "--cache-dir", str(cache), ".", cwd=root, cache=True).stdout == full.stdout
