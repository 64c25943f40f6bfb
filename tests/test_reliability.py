"""Issue 16: reliable under hostile input. Every hostile file is generated here, in a temporary folder;
limits are checked by outcome (refused with a reason, or finished), never by timing.

The permission cases need a user other than root: they run gradlint as `nobody` through `setpriv`
(skipped when that is impossible: not root, no setpriv, or `nobody` cannot run this Python).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
BAD = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"  # GL001 at 3:1, safe fix
# GL015 and GL008 fire here, and both are silent in test files (test_*.py)
PATH_DEPENDENT = (
    "import torch\n"
    "x = torch.zeros(3, dtype=torch.long, requires_grad=True)\n"
    "y = torch.randn(3, requires_grad=True)\n"
    "z = (y * 2)\n"
    "print(z.grad)\n"
)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, cwd: Path) -> Ran:
    """`gradlint ARGS` in this process (fast), in the folder `cwd`."""
    from click.testing import CliRunner

    from gradlint.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, list(args))
    finally:
        os.chdir(old)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return Ran(res.exit_code, res.stdout, res.stderr)


def run_process(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`gradlint ARGS` in a fresh process (hostile inputs must not take pytest down with them). The
    timeout only keeps a runaway from hanging the suite; nothing is asserted about time."""
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def codes(stdout: str, root: Path | None = None) -> list[tuple[str, str]]:
    """(file name relative to the working folder, code) of each finding (JSON names are absolute)."""
    out = []
    for d in json.loads(stdout):
        name = Path(d["filename"])
        out.append((name.relative_to(root).as_posix() if root and name.is_absolute() else name.name, d["code"]))
    return sorted(out)


# ================================================================== 1. the cache key


def test_cache_key_follows_the_path_test_files_and_per_file_ignores(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.gradlint]\nper-file-ignores = {"ignored_*.py" = ["GL015"]}\n')
    cache = tmp_path / "cache"
    (tmp_path / "train.py").write_text(PATH_DEPENDENT)
    first = run("check", "--output-format", "json", "--cache-dir", str(cache), "train.py", cwd=tmp_path)
    assert codes(first.stdout) == [("train.py", "GL008"), ("train.py", "GL015")]
    # the same content under other names: a copy as a test file, a rename to a per-file-ignored name
    (tmp_path / "test_train.py").write_text(PATH_DEPENDENT)
    os.rename(tmp_path / "train.py", tmp_path / "ignored_train.py")
    for name in ("test_train.py", "ignored_train.py"):
        cached = run("check", "--output-format", "json", "--cache-dir", str(cache), name, cwd=tmp_path)
        fresh = run("check", "--output-format", "json", "--no-cache", name, cwd=tmp_path)
        assert codes(cached.stdout) == codes(fresh.stdout), name
    assert codes(fresh.stdout) == [("ignored_train.py", "GL008")]
    assert codes(run("check", "--output-format", "json", "--cache-dir", str(cache), "test_train.py",
                     cwd=tmp_path).stdout) == []


def test_cache_key_has_a_hook_for_project_summaries():
    from gradlint.cache import entry_key

    base = entry_key("x = 1\n", "fp", "a.py")
    assert base != entry_key("x = 1\n", "fp", "b.py")
    assert base != entry_key("x = 1\n", "fp", "a.py", summaries=[("pkg.mod", "d1")])
    assert entry_key("x = 1\n", "fp", "a.py", summaries=[("pkg.mod", "d1")]) != \
        entry_key("x = 1\n", "fp", "a.py", summaries=[("pkg.mod", "d2")])


# ================================================================== 2. cache entries are untrusted


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "v1").rglob("*.json"))


def _drop_run_indexes(cache: Path) -> None:
    """Remove the run indexes (gradlint/runindex.py: an unchanged tree is answered from them, without
    reading the per-file entries these tests tamper with; tests/project/test_run_index.py tampers with
    them)."""
    for e in _entries(cache):
        if '"inputs"' in e.read_text(errors="replace"):
            e.unlink()


TAMPERED = {
    "deep": lambda d: "[" * 100_000 + "]" * 100_000,
    "wrong types": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "location": "3:1", "code": 7}]}),
    "bool as int": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "location": [True, True]}]}),
    "extra field": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "evil": 1}]}),
    "fix out of range": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "fix": {
        **d["diagnostics"][0]["fix"], "edits": [["x", 999, 1, 999, 5]]}}]}),
    "fix negative": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "fix": {
        **d["diagnostics"][0]["fix"], "edits": [["X", 2, -3, 2, -2]]}}]}),
    "fix past line end": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "fix": {
        **d["diagnostics"][0]["fix"], "edits": [["X", 1, 50, 1, 51]]}}]}),
    "end before start": lambda d: json.dumps({"diagnostics": [{**d["diagnostics"][0], "end_location": [1, 1]}]}),
    "no findings": lambda d: json.dumps({"diagnostics": []}),  # valid shape: trusted (the key says it is ours)
    "not json": lambda d: "\x00garbage",
}


SUMMARY_TAMPERED = {
    "deep": lambda d: "[" * 100_000 + "]" * 100_000,
    "wrong version": lambda d: json.dumps({**d, "v": 99}),
    "call without target": lambda d: json.dumps({**d, "calls": [{"name": "f"}]}),
    "def with bad params": lambda d: json.dumps({**d, "defs": {"f": {"line": 1, "params": [1]}}}),
    "value of an unknown kind": lambda d: json.dumps({**d, "calls": [{
        "t": "u.f", "name": "f", "line": 1, "col": 1, "mode": "enabled", "eval": None, "args": [["evil", ""]],
        "kwargs": {}, "via": "", "in": None}]}),
    "exported value of an unknown kind": lambda d: json.dumps({**d, "values": {"w": ["evil", "", None]}}),
    "exported value without its class slot": lambda d: json.dumps({**d, "values": {"w": ["leaf", ""]}}),
    "class attribute not a value": lambda d: json.dumps({**d, "classes": {"C": {
        "line": 1, "module": True, "mode_free": False, "attrs": {"w": 1}, "methods": []}}}),
    "class without methods": lambda d: json.dumps({**d, "classes": {"C": {
        "line": 1, "module": True, "mode_free": False, "attrs": {}}}}),
    "reads not names": lambda d: json.dumps({**d, "reads": [["w"]]}),
    "no values": lambda d: json.dumps({k: v for k, v in d.items() if k != "values"}),
    "not json": lambda d: "\x00garbage",
}


@pytest.mark.parametrize("how", sorted(SUMMARY_TAMPERED))
def test_tampered_project_summaries_are_misses(tmp_path, how):
    """A file's project summary (gradlint/summary.py) comes back from the cache validated: anything
    unexpected is a miss, recomputed; the findings of the file that imports it are unchanged."""
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "ops.py").write_text("import torch\nv = torch.zeros(2, requires_grad=True)\n\n\n"
                                     "def scale_(w):\n    w.mul_(2)\n\n\nclass C:\n    def __init__(self):\n"
                                     "        self.p = torch.zeros(2, requires_grad=True)\n")
    # (`v`: a module-level value of ops.py; `c.p`: an attribute of its class C)
    (tmp_path / "train.py").write_text("import torch.nn as nn\nfrom ops import scale_, v, C\nm = nn.Linear(2, 2)\n"
                                       "scale_(m.weight)\nv.add_(1)\nc = C()\nc.p.add_(1)\n")
    cache = tmp_path / "cache"
    fresh = run("check", "--output-format", "json", "--no-cache", ".", cwd=tmp_path)
    assert fresh.stdout.count('"GL001"') == 3
    run("check", "--output-format", "json", "--cache-dir", str(cache), ".", cwd=tmp_path)
    summaries = [e for e in _entries(cache) if '"defs"' in e.read_text()]
    assert len(summaries) >= 2  # (ops.py, train.py, setup.py)
    for entry in summaries:
        entry.write_text(SUMMARY_TAMPERED[how](json.loads(entry.read_text())))
    _drop_run_indexes(cache)
    again = run("check", "--output-format", "json", "--cache-dir", str(cache), ".", cwd=tmp_path)
    assert "internal error" not in again.stderr and "Traceback" not in again.stderr
    assert again.stdout == fresh.stdout


@pytest.mark.parametrize("how", sorted(TAMPERED))
def test_tampered_cache_entries_are_misses(tmp_path, how):
    src = tmp_path / "m.py"
    src.write_text(BAD)
    cache = tmp_path / "cache"
    fresh = run("check", "--output-format", "json", "--no-cache", "m.py", cwd=tmp_path)
    run("check", "--output-format", "json", "--cache-dir", str(cache), "m.py", cwd=tmp_path)
    (entry,) = [e for e in _entries(cache) if '"diagnostics"' in e.read_text()]  # (not the file's summary)
    entry.write_text(TAMPERED[how](json.loads(entry.read_text())))
    _drop_run_indexes(cache)
    again = run("check", "--output-format", "json", "--cache-dir", str(cache), "m.py", cwd=tmp_path)
    assert "internal error" not in again.stderr and "Traceback" not in again.stderr
    if how == "no findings":
        assert again.returncode == 0 and json.loads(again.stdout) == []
        return
    assert again.returncode == fresh.returncode == 1, again.stderr
    assert json.loads(again.stdout) == json.loads(fresh.stdout)
    # and --fix with the tampered cache writes exactly what a fresh fix writes
    entry.write_text(TAMPERED[how](json.loads(entry.read_text())))
    _drop_run_indexes(cache)
    fixed = run("check", "--fix", "--cache-dir", str(cache), "m.py", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert src.read_text() == "import torch\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w += 1\n"


def test_links_planted_in_the_cache_are_never_followed(tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    outside = tmp_path / "outside"
    outside.mkdir()
    cache = tmp_path / ".gradlint_cache"
    (cache / "v1").mkdir(parents=True)
    for i in range(256):  # whatever the entry's key, its folder is a link out of the cache
        (cache / "v1" / f"{i:02x}").symlink_to(outside)
    (cache / "CACHEDIR.TAG").symlink_to(outside / "tag")
    (cache / ".gitignore").symlink_to(outside / "gitignore")
    for _ in range(2):
        res = run("check", "--output-format", "json", "m.py", cwd=tmp_path)
        assert res.returncode == 1 and len(json.loads(res.stdout)) == 1, res.stderr
    assert list(outside.iterdir()) == []
    # the cache folder itself a link: not used
    shutil.rmtree(cache)
    cache.symlink_to(outside)
    res = run("check", "--output-format", "json", "m.py", cwd=tmp_path)
    assert res.returncode == 1 and list(outside.iterdir()) == []


def test_link_planted_at_an_entry_is_not_read_or_written_through(tmp_path):
    from gradlint.cache import Cache, entry_key

    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"diagnostics": []}))
    cache = Cache(tmp_path / "c")
    key = entry_key("x", "fp", "a.py")
    folder = tmp_path / "c" / "v1" / key[:2]
    folder.mkdir(parents=True)
    (folder / f"{key}.json").symlink_to(secret)
    assert cache.get(key, "a.py") is None  # a link is not an entry
    cache.put(key, [])
    assert secret.read_text() == json.dumps({"diagnostics": []})
    assert not (folder / f"{key}.json").is_symlink()  # replaced by a real entry
    assert cache.get(key, "a.py") == []


# ================================================================== 3./6. as a normal user


def _nobody_ids() -> tuple[int, int] | None:
    try:
        import pwd

        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    except (ImportError, KeyError):
        return None


@pytest.fixture
def as_nobody():
    """(run(args, cwd) as nobody, a world-accessible scratch folder owned by nobody); skipped if impossible."""
    ids = _nobody_ids()
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or ids is None or setpriv is None:
        pytest.skip("needs root and setpriv to run gradlint as nobody")
    uid, gid = ids
    prefix = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    probe = subprocess.run(prefix + [sys.executable, "-c", "import gradlint.cli"], capture_output=True,
                           cwd="/", timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run gradlint here: {probe.stderr.decode()[-200:]}")
    root = Path(tempfile.mkdtemp(prefix="gradlint-nobody-", dir="/tmp"))
    os.chmod(root, 0o755)
    os.chown(root, uid, gid)

    def run_as(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(prefix + [sys.executable, "-m", "gradlint", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=300)

    try:
        yield run_as, root, (uid, gid)
    finally:
        for p in root.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                os.chmod(p, 0o755)
        shutil.rmtree(root, ignore_errors=True)


def _give(path: Path, ids: tuple[int, int]) -> None:
    for p in [path, *path.rglob("*")]:
        os.chown(p, *ids, follow_symlinks=False)


def test_unreadable_folder_is_named_skipped_and_exit_2(as_nobody):
    run_as, root, ids = as_nobody
    (root / "ok").mkdir()
    (root / "ok" / "a.py").write_text(BAD)
    (root / "locked" / "sub").mkdir(parents=True)
    (root / "locked" / "sub" / "b.py").write_text(BAD)
    _give(root, ids)
    os.chmod(root / "locked", 0)
    res = run_as("check", "--no-cache", "--output-format", "json", ".", cwd=root)
    assert res.returncode == 2, res.stderr
    assert "internal error" not in res.stderr
    assert "gradlint: locked: cannot list folder: permission denied" in res.stderr.splitlines()
    assert codes(res.stdout, root) == [("ok/a.py", "GL001")]  # the rest was checked
    res = run_as("check", "--no-cache", "--output-format", "json", "locked/sub/b.py", "ok/a.py", cwd=root)
    assert res.returncode == 2
    assert "gradlint: locked/sub/b.py: permission denied" in res.stderr.splitlines()
    assert codes(res.stdout, root) == [("ok/a.py", "GL001")]


def test_fix_refuses_a_read_only_file_for_a_normal_user_as_ruff_does(as_nobody):
    run_as, root, ids = as_nobody
    ro = root / "ro.py"
    ro.write_text(BAD)
    (root / "rw.py").write_text(BAD)
    (root / "rodir").mkdir()
    (root / "rodir" / "w.py").write_text(BAD)  # a writable file in a folder we may not create files in
    _give(root, ids)
    ro.chmod(0o444)
    (root / "rodir").chmod(0o555)
    inode = os.stat(root / "rodir" / "w.py").st_ino
    res = run_as("check", "--no-cache", "--fix", "ro.py", "rw.py", "rodir/w.py", cwd=root)
    assert res.returncode == 2
    assert "gradlint: ro.py: cannot write the fixes: Permission denied" in res.stderr
    assert ro.read_text() == BAD and stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert "with torch.no_grad():" in (root / "rw.py").read_text()  # the run went on
    assert "with torch.no_grad():" in (root / "rodir" / "w.py").read_text()  # written in place, as ruff
    assert os.stat(root / "rodir" / "w.py").st_ino == inode


# ================================================================== 4. a linked duplicate


def test_symlinked_duplicate_is_checked_and_fixed_once(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").symlink_to("a.py")
    res = run("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert codes(res.stdout) == [("a.py", "GL001")]
    res = run("check", "--no-cache", "--output-format", "json", "b.py", "a.py", cwd=tmp_path)
    assert len(json.loads(res.stdout)) == 1
    res = run("check", "--no-cache", "--fix", ".", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "changed while being checked" not in res.stderr
    assert (tmp_path / "b.py").is_symlink() and (tmp_path / "a.py").read_text().count("with torch.no_grad()") == 1


# ================================================================== 5. bounds and linear cost


def test_hostile_files_are_refused_with_a_reason_or_analysed(tmp_path):
    from gradlint.linter import MAX_AST_NODES, MAX_EXPRESSION_DEPTH, MAX_SOURCE_CHARS

    files = {
        # 20 KB on one line: 3,400 operands (LibCST alone took 36 s of CPU)
        "chain.py": "import torch\nx = " + " + ".join(["a"] * 3400) + "\n",
        "chain100k.py": "import torch\nx = " + " + ".join(["a"] * 100_000) + "\n",
        "calls.py": "import torch\nx = " + "f(" * 999 + "1" + ")" * 999 + "\n",
        "list.py": "import torch\nx = [" + ",".join(["1"] * (MAX_AST_NODES + 10)) + "]\n",
        "huge.py": "import torch\n" + "x = 1  # padding padding padding padding\n" * (MAX_SOURCE_CHARS // 40 + 10),
        "indent.py": "import torch\n" + "".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n",
        # just within the bounds: analysed
        "ok_chain.py": "import torch\nx = " + " + ".join(["a"] * (MAX_EXPRESSION_DEPTH // 2)) + "\n" + BAD,
        "ok.py": BAD,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    res = run_process("check", "--no-cache", "--output-format", "json", *files, cwd=tmp_path)
    assert res.returncode == 2
    reasons = {line[len("gradlint: "):].split(":")[0]: line
               for line in res.stderr.splitlines() if line.startswith("gradlint: ")}
    assert set(reasons) == {"chain.py", "chain100k.py", "calls.py", "list.py", "huge.py", "indent.py"}, res.stderr
    assert "expression nested more than 1,000 deep" in reasons["chain.py"]
    assert "too deeply nested" in reasons["chain100k.py"] or "nested more than" in reasons["chain100k.py"]
    assert "too many nested parentheses" in reasons["calls.py"]
    assert "too many tokens" in reasons["list.py"] or "too many syntax nodes" in reasons["list.py"]
    assert "file too large" in reasons["huge.py"]
    assert "too many levels of indentation" in reasons["indent.py"] or "too many statically" in reasons["indent.py"]
    assert all("\n" not in r for r in reasons.values())
    assert codes(res.stdout) == [("ok.py", "GL001"), ("ok_chain.py", "GL001")]


def test_many_block_wrapping_fixes_walk_the_file_once(monkeypatch):
    """Each block-wrapping fix used to walk the whole module again (quadratic in file length)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        from synthetic import training_file
    finally:
        sys.path.pop(0)
    from gradlint import edits as editsmod
    from gradlint import fix as fixmod
    from gradlint.config import ConfigResolver, Overrides
    from gradlint.linter import lint_source

    walks = []

    def counting(real):
        def walk(module, *rest):
            walks.append(module)
            return real(module, *rest)
        return walk

    # a whole-module walk of the fix machinery: iter_nodes, or the parent map (which also collects the strings
    # for the multi-line-string table, and which the linter's positions share)
    # (the rules' fix helpers live in gradlint.edits, the resolution of edits in gradlint.fix)
    monkeypatch.setattr(fixmod, "iter_nodes", counting(fixmod.iter_nodes))
    monkeypatch.setattr(editsmod, "iter_nodes", counting(editsmod.iter_nodes))
    monkeypatch.setattr(editsmod, "parent_map", counting(editsmod.parent_map))
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    result = lint_source(training_file(2000), "train.py", settings)
    wraps = [d for d in result.diagnostics if d.fix is not None and "no_grad" in d.fix.edits[0].content]
    assert len(wraps) >= 20
    assert len(walks) == 1


# ================================================================== 6. fixes keep owner, group, mode, links


def test_fix_keeps_owner_group_mode_and_hard_links(tmp_path):
    a = tmp_path / "a.py"
    a.write_text(BAD)
    os.link(a, tmp_path / "hard.py")
    a.chmod(0o640)
    other = tmp_path / "other.py"
    other.write_text(BAD)
    other.chmod(0o604)
    ids = _nobody_ids()
    if os.geteuid() == 0 and ids is not None:
        os.chown(other, *ids)
    before = {p: os.stat(p) for p in (a, other)}
    res = run("check", "--no-cache", "--fix", "a.py", "other.py", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for p, st in before.items():
        now = os.stat(p)
        assert "with torch.no_grad():" in p.read_text()
        assert (now.st_uid, now.st_gid, stat.S_IMODE(now.st_mode)) == (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    assert os.stat(tmp_path / "hard.py").st_ino == os.stat(a).st_ino  # still one file, both names fixed
    assert (tmp_path / "hard.py").read_text() == a.read_text()
    if os.geteuid() == 0 and ids is not None:
        assert os.stat(other).st_ino == before[other].st_ino  # another user's file: written in place
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gradlint-")]


def test_fix_through_a_symlink_writes_the_target(tmp_path):
    (tmp_path / "real.py").write_text(BAD)
    (tmp_path / "link.py").symlink_to("real.py")
    res = run("check", "--no-cache", "--fix", "link.py", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "link.py").is_symlink()
    assert "with torch.no_grad():" in (tmp_path / "real.py").read_text()


# ================================================================== 7. configuration


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"(\w*_?)*x", r"(a|ab)*c", r"\w*\w*\w*x", r"(.*a){12}", r"(a)\1"])
def test_catastrophic_patterns_are_refused_naming_file_and_key(tmp_path, pattern):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.gradlint]\nextend-eval-function-patterns = [" + json.dumps(pattern) + "]\n")
    # a 40-character name: `(a+)+b` alone would take days on it
    (tmp_path / "m.py").write_text(BAD + "def " + "a" * 40 + "():\n    pass\n")
    res = run("check", "--no-cache", "m.py", cwd=tmp_path)
    assert res.returncode == 2
    (line,) = [ln for ln in res.stderr.splitlines() if "refused" in ln]
    assert "pyproject.toml" in line and "extend-eval-function-patterns" in line and repr(pattern) in line


def test_default_and_ordinary_patterns_are_accepted():
    from gradlint.regexsafety import catastrophic_reason
    from gradlint.settings import DEFAULT_EVAL_FUNCTION_PATTERNS, DEFAULT_MODEL_NAMES

    for p in DEFAULT_EVAL_FUNCTION_PATTERNS + DEFAULT_MODEL_NAMES + (
            r"\w*_eval_\w*", r"(train|test)_\w+", r"my_(val|check)\w*", r"(ab)*c", r"[a-z]+_model"):
        assert catastrophic_reason(p) is None, p


def test_broken_tool_gradlint_header_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.gradlint\nselect = ["GL001"]\n')
    (tmp_path / "m.py").write_text(BAD)
    res = run("check", "--no-cache", "m.py", cwd=tmp_path)
    assert res.returncode == 2
    assert "pyproject.toml" in res.stderr and "line 4" in res.stderr


def test_someone_elses_broken_pyproject_is_still_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.black\nline-length = 3\n')
    (tmp_path / "m.py").write_text(BAD)
    res = run("check", "--no-cache", "m.py", cwd=tmp_path)
    assert res.returncode == 1, res.stderr


# ================================================================== 9. syntax errors and encodings


def test_syntax_errors_at_cpythons_position_and_libcst_gaps_named(tmp_path):
    (tmp_path / "syn.py").write_text("import torch\ndef f(:\n    pass\n")
    (tmp_path / "annot.py").write_text("import torch\n(x): int = 1\n")
    compile("(x): int = 1\n", "annot.py", "exec")  # valid Python
    (tmp_path / "u16.py").write_bytes("import torch\nx = 1\n".encode("utf-16"))
    (tmp_path / "u16be.py").write_bytes(b"\xfe\xff" + "import torch\n".encode("utf-16-be"))
    res = run("check", "--no-cache", "syn.py", "annot.py", "u16.py", "u16be.py", cwd=tmp_path)
    err = res.stderr.splitlines()
    assert res.returncode == 2
    assert "gradlint: syn.py:2:7: syntax error: invalid syntax" in err
    (annot,) = [ln for ln in err if ln.startswith("gradlint: annot.py")]
    assert "valid Python that LibCST" in annot and "syntax error" not in annot
    (u16,) = [ln for ln in err if ln.startswith("gradlint: u16.py")]
    assert "UTF-16 (little-endian)" in u16 and "NUL" not in u16
    assert any(ln.startswith("gradlint: u16be.py") and "UTF-16 (big-endian)" in ln for ln in err)


def test_in_process_the_limits_do_not_change_ordinary_results():
    from gradlint.config import ConfigResolver, Overrides
    from gradlint.linter import lint_source

    settings = ConfigResolver(None, Overrides()).settings_for(Path("m.py"))
    res = lint_source(BAD, "m.py", settings)
    assert res.error is None and [d.code for d in res.diagnostics] == ["GL001"]
