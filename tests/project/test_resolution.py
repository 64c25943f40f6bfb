"""Import resolution across a project's files (gradlint.project.Project.resolve), directly on summaries.

Lookups are remembered (a name looked up through a `from .x import *` hub once is not searched again for
every call that names it); these tests pin that the remembered answers are the answers: the same through
hubs and from other folders, the missing files still reported, a cycle and the re-export bound still cut.
"""

from __future__ import annotations

import os

from gradlint.config import Settings, default_codes
from gradlint.linter import summarize_source
from gradlint.project import _MAX_HOPS, Project, mentioning, summarize_text


def _project(tmp_path, files: dict[str, str], absent: tuple[str, ...] = ()) -> tuple[Project, dict[str, str]]:
    """A Project over `files` (relative path -> source); the files in `absent` exist but have no summary.
    Summaries as a check makes them: from the model where a rule could fire (with the calls), else from the
    text."""
    paths = {}
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        paths[rel] = str(p)
    settings = Settings(selected=frozenset(default_codes()))
    summaries = {paths[rel]: summarize_source(text, paths[rel], settings)
                 for rel, text in files.items() if rel not in absent}
    return Project(tmp_path, list(paths.values()), summaries), paths


def _hub(n: int) -> dict[str, str]:
    """pkg/__init__.py re-exports n subpackages by `*`, each re-exporting its module by `*`."""
    files = {"pkg/__init__.py": "".join(f"from .m{i} import *\n" for i in range(n))}
    for i in range(n):
        files[f"pkg/m{i}/__init__.py"] = f"from .ops{i} import *\n"
        files[f"pkg/m{i}/ops{i}.py"] = f"def op{i}(x):\n    x.add_(1)\n"
    return files


def test_names_through_star_hubs_resolve_the_same_on_every_lookup(tmp_path):
    files = _hub(6)
    files["train.py"] = "from pkg import op3, op5\n"
    files["tools/eval.py"] = "import pkg\n"
    proj, paths = _project(tmp_path, files)
    for _ in range(2):  # (the second time from memory)
        assert proj.resolve("pkg.op3", paths["train.py"]) == (paths["pkg/m3/ops3.py"], "op3")
        assert proj.resolve("pkg.op5", paths["tools/eval.py"]) == (paths["pkg/m5/ops5.py"], "op5")
        assert proj.resolve("pkg.nothing", paths["train.py"]) is None
        assert proj.resolve("pkg.m2.op2", paths["train.py"]) == (paths["pkg/m2/ops2.py"], "op2")
        assert proj.resolve("pkg.m2.op4", paths["train.py"]) is None  # (m2 does not re-export m4)


def test_a_missing_module_is_reported_again_when_the_lookup_is_remembered(tmp_path):
    files = _hub(3)
    files["a/train.py"] = "from pkg import op1\n"
    files["b/train.py"] = "from pkg import op1\n"
    proj, paths = _project(tmp_path, files, absent=("pkg/m1/ops1.py",))
    proj.missing = set()
    assert proj.resolve("pkg.op1", paths["a/train.py"]) is None
    assert proj.missing == {paths["pkg/m1/ops1.py"]}
    proj.missing = set()
    assert proj.resolve("pkg.op1", paths["b/train.py"]) is None  # (pkg's lookup of op1 is remembered)
    assert proj.missing == {paths["pkg/m1/ops1.py"]}
    # once the summary is there, the same lookup finds it (what was remembered is forgotten)
    proj.add(paths["pkg/m1/ops1.py"], summarize_text(files["pkg/m1/ops1.py"]))
    proj.missing = set()
    assert proj.resolve("pkg.op1", paths["a/train.py"]) == (paths["pkg/m1/ops1.py"], "op1")
    assert proj.missing == set()


def test_needed_names_each_missing_module_on_every_call(tmp_path):
    files = _hub(2)
    files["train.py"] = ("import torch\nfrom pkg import op0, op1\nw = torch.zeros(3, requires_grad=True)\n"
                         "op0(w)\nop1(w)\n")
    proj, paths = _project(tmp_path, files, absent=("pkg/m0/ops0.py", "pkg/m1/ops1.py"))
    expected = {paths["pkg/m0/ops0.py"], paths["pkg/m1/ops1.py"]}
    assert proj.needed() == expected
    assert proj.needed() == expected  # (the second time from memory)


def test_a_star_cycle_terminates_and_does_not_hide_a_name_from_another_start(tmp_path):
    files = {  # a -> b -> a (a cycle), and a -> d, which defines fd
        "pkg/a.py": "from .b import *\nfrom .d import *\ndef fa(x):\n    pass\n",
        "pkg/b.py": "from .a import *\ndef fb(x):\n    pass\n",
        "pkg/d.py": "def fd(x):\n    pass\n",
        "pkg/__init__.py": "",
    }
    proj, paths = _project(tmp_path, files)
    assert proj.resolve("pkg.a.fb", paths["pkg/b.py"]) == (paths["pkg/b.py"], "fb")
    assert proj.resolve("pkg.a.nothing", paths["pkg/a.py"]) is None
    # looking up fd from a meets the cycle in b (b -> a is cut) before finding it through d; b's part of
    # that lookup is not remembered as b's answer: from b, fd is reached through a
    assert proj.resolve("pkg.a.fd", paths["pkg/a.py"]) == (paths["pkg/d.py"], "fd")
    assert proj.resolve("pkg.b.fd", paths["pkg/a.py"]) == (paths["pkg/d.py"], "fd")
    assert proj.resolve("pkg.b.fa", paths["pkg/a.py"]) == (paths["pkg/a.py"], "fa")


def _chain(n: int) -> dict[str, str]:
    """r0 re-exports f from r1, ..., r(n-1) from r(n), which defines it."""
    files = {f"r{i}.py": f"from r{i + 1} import f\n" for i in range(n)}
    files[f"r{n}.py"] = "def f(x):\n    pass\n"
    return files


def test_the_re_export_bound_holds_whichever_lookup_came_first(tmp_path):
    n = _MAX_HOPS + 1  # one re-export too many from r0; within the bound from r1
    proj, paths = _project(tmp_path, _chain(n))
    here = paths["r0.py"]
    assert proj.resolve("r1.f", here) == (paths[f"r{n}.py"], "f")  # (remembers r1's lookup of f)
    assert proj.resolve("r0.f", here) is None
    fresh, paths = _project(tmp_path / "fresh", _chain(n))
    assert fresh.resolve("r0.f", paths["r0.py"]) is None
    assert fresh.resolve("r1.f", paths["r0.py"]) == (paths[f"r{n}.py"], "f")
    assert os.path.basename(paths[f"r{n}.py"]) == f"r{n}.py"


def test_mentioning_finds_the_files_that_spell_a_name_as_a_word_and_import(tmp_path):
    texts = {
        "calls.py": "from utils import evaluate\nevaluate(model)\n",
        "attr.py": "import utils\nutils.evaluate(model)\n",
        "longer.py": "from utils import evaluate_all\nevaluate_all(model)\n",  # another word
        "prefix.py": "import x\nre_evaluate = 1\n",
        "no_import.py": "def evaluate(model):\n    pass\n",  # spells it, imports nothing
        "unicode.py": "import x\nπevaluate = 1\n",  # (a word character before it: another word)
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    paths = sorted(str(tmp_path / n) for n in texts)
    assert [os.path.basename(p) for p in mentioning(paths, {"evaluate", "train"})] == ["attr.py", "calls.py"]
    assert mentioning(paths, set()) == []


def test_a_replaced_summary_is_read_again(tmp_path):
    files = {"pkg/__init__.py": "from .ops import *\n", "pkg/ops.py": "def scale_(x):\n    pass\n"}
    proj, paths = _project(tmp_path, files)
    assert proj.resolve("pkg.scale_", paths["pkg/ops.py"]) == (paths["pkg/ops.py"], "scale_")
    proj.add(paths["pkg/ops.py"], summarize_text("def other(x):\n    pass\n"))
    assert proj.resolve("pkg.scale_", paths["pkg/ops.py"]) is None
    assert proj.resolve("pkg.other", paths["pkg/ops.py"]) == (paths["pkg/ops.py"], "other")
