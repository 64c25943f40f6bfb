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


def _write(root, texts: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, text in texts.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        out[name] = str(p)
    return out


def _callers(root, texts: dict[str, str], names: dict[str, list[str]]) -> list[str]:
    paths = _write(root, texts)
    defining = {n: {str(root / d) for d in files} for n, files in names.items()}
    found = mentioning(sorted(p for name, p in paths.items() if name not in sum(names.values(), [])),
                       defining, root)
    return sorted(os.path.relpath(p, root) for p in found)


def test_mentioning_finds_the_files_that_spell_a_name_as_a_word_and_import(tmp_path):
    texts = {
        "utils.py": "def evaluate(model):\n    pass\n",
        "calls.py": "from utils import evaluate\nevaluate(model)\n",
        "attr.py": "import utils\nutils.evaluate(model)\n",
        "longer.py": "from utils import evaluate_all\nevaluate_all(model)\n",  # another word
        "prefix.py": "import utils\nre_evaluate = 1\n",
        "no_import.py": "def evaluate(model):\n    utils = 1\n",  # spells it, imports nothing
        "unicode.py": "import utils\nπevaluate = 1\n",  # (a word character before it: another word)
    }
    assert _callers(tmp_path, texts, {"evaluate": ["utils.py"], "train": ["utils.py"]}) == ["attr.py", "calls.py"]
    assert mentioning([str(tmp_path / "calls.py")], {}, tmp_path) == []


def test_mentioning_needs_a_way_to_import_the_defining_file(tmp_path):
    texts = {
        "lib/__init__.py": "def sigmoid(x):\n    x.sigmoid_()\n",
        "lib/act.py": "def swish(x):\n    x.mul_(2)\n",
        # another package that spells the names but cannot reach lib's files
        "other/models.py": "import torch\nfrom .act import swish\ny = torch.sigmoid(x)\nswish(y)\n",
        "other/act.py": "import torch\ndef swish(x):\n    return x\n",
        "other/sub/deep.py": "from .. import act\nfrom ... import nothing\nact.swish(w)\nsigmoid = 1\n",
        # ways to reach them
        "lib/nn.py": "from . import sigmoid\nsigmoid(w)\n",  # a relative import of the package
        "lib/sub/deep.py": "from .. import blocks\nblocks.swish(w)\n",  # (of a package above)
        "lib/blocks.py": "from .act import swish\nswish(w)\n",
        "lib/script.py": "from act import swish\nswish(w)\n",  # a script beside it
        "train.py": "import lib\nlib.sigmoid(w)\n",
        "tools/train2.py": "from lib.act import swish\nswish(w)\n",  # (from the root)
    }
    got = _callers(tmp_path, texts, {"sigmoid": ["lib/__init__.py"], "swish": ["lib/act.py"]})
    assert got == ["lib/blocks.py", "lib/nn.py", "lib/script.py", "lib/sub/deep.py", "tools/train2.py", "train.py"]


def test_mentioning_follows_a_src_layout(tmp_path):
    texts = {
        "src/pkg/ops.py": "def scale_(w):\n    w.mul_(2)\n",
        "scripts/train.py": "from pkg.ops import scale_\nscale_(w)\n",
        "scripts/other.py": "from mylib import scale_\nscale_(w)\n",
    }
    assert _callers(tmp_path, texts, {"scale_": ["src/pkg/ops.py"]}) == ["scripts/train.py"]


def test_a_replaced_summary_is_read_again(tmp_path):
    files = {"pkg/__init__.py": "from .ops import *\n", "pkg/ops.py": "def scale_(x):\n    pass\n"}
    proj, paths = _project(tmp_path, files)
    assert proj.resolve("pkg.scale_", paths["pkg/ops.py"]) == (paths["pkg/ops.py"], "scale_")
    proj.add(paths["pkg/ops.py"], summarize_text("def other(x):\n    pass\n"))
    assert proj.resolve("pkg.scale_", paths["pkg/ops.py"]) is None
    assert proj.resolve("pkg.other", paths["pkg/ops.py"]) == (paths["pkg/ops.py"], "other")


def test_another_files_calls_are_followed_only_where_they_name_a_function_of_the_focus(tmp_path):
    files = {
        "lib/__init__.py": "from .ops import scale_\n",
        "lib/ops.py": "def scale_(w):\n    w.mul_(2)\n",
        "helpers/__init__.py": "from .misc import prepare\n",
        "helpers/misc.py": "def prepare(w):\n    return w\n",
        "train.py": ("import torch\nimport lib\nimport helpers\nw = torch.zeros(3, requires_grad=True)\n"
                     "helpers.prepare(w)\nlib.scale_(w)\n"),
    }
    absent = ("lib/__init__.py", "helpers/__init__.py", "helpers/misc.py")
    proj, paths = _project(tmp_path, files, absent=absent)
    focus = {paths["lib/ops.py"]}
    # train.py is a caller of scale_: lib (the hub its call goes through) is needed, helpers is not
    assert proj.needed(focus, {"scale_"}) == {paths["lib/__init__.py"]}
    # the focus's own calls are all followed, as are all calls without a focus
    assert proj.needed({paths["train.py"]}, {"scale_"}) == {paths["lib/__init__.py"], paths["helpers/__init__.py"]}
    assert proj.needed() == {paths["lib/__init__.py"], paths["helpers/__init__.py"]}


def test_callers_are_read_wherever_an_import_can_resolve_from(tmp_path):
    """`mentioning` reads a file only when it spells the first part of a dotted import that can reach the
    defining module (`_importable_by_words`); that must hold for every import `Project._module` resolves —
    from the module's folder, packages above it, sibling script folders, the root and a `src/` layout — and
    not for a part a file cannot start an import with."""
    from gradlint.project import _importable_by_words, _module_parts

    files = {
        "src/lib/__init__.py": "", "src/lib/ops.py": "def op(x):\n    x.add_(1)\n",
        "src/lib/sub/__init__.py": "", "src/lib/sub/deep.py": "def d(x):\n    x.add_(1)\n",
        "pkg/__init__.py": "", "pkg/a/__init__.py": "", "pkg/a/m.py": "def f(x):\n    x.add_(1)\n",
        "pkg/a/run.py": "", "pkg/b/run.py": "", "tools/run.py": "", "run.py": "", "utils.py": "",
        "course/week1/utils.py": "def u(x):\n    x.add_(1)\n", "course/week1/train.py": "", "course/week2/train.py": "",
    }
    tmp = tmp_path
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    paths = {rel: str(tmp / rel) for rel in files}
    proj = Project(tmp, list(paths.values()), {})
    root = str(tmp)
    checked = 0
    for target in paths.values():
        parts = _module_parts(target, root)
        folder = os.path.dirname(target)
        for importer in paths.values():
            here = os.path.dirname(importer)
            for i in range(len(parts)):
                dotted = ".".join(parts[i:])
                if proj._module(dotted, importer) != target:
                    continue
                checked += 1
                assert _importable_by_words(here, folder, parts, root, {parts[i]}), (importer, dotted)
    assert checked > 20
    # a part no import from there can start with is not enough
    here = os.path.dirname(paths["course/week2/train.py"])
    utils = paths["course/week1/utils.py"]
    assert proj._module("utils", paths["course/week2/train.py"]) != utils
    assert not _importable_by_words(here, os.path.dirname(utils), _module_parts(utils, root), root, {"utils"})
    assert _importable_by_words(here, os.path.dirname(utils), _module_parts(utils, root), root, {"course"})
