"""Project-wide analysis through `gradlint check`: each cross-file shape as a true positive, and its clean
twin silent (gradlint/project.py, docs/project.md)."""

from __future__ import annotations

import json
import os

import pytest

from tests.project.conftest import findings, notebook, tree

OPS = "def scale_(weight, factor):\n    weight.mul_(factor)\n"  # a leaf only if a caller passes one
TRAIN_OPS = (
    "import torch\nimport torch.nn as nn\nfrom pkg.ops import scale_\n\nmodel = nn.Linear(3, 2)\n"
    "scale_(model.weight, 0.5)\n"
)
TRAIN_OPS_NO_GRAD = (
    "import torch\nimport torch.nn as nn\nfrom pkg.ops import scale_\n\nmodel = nn.Linear(3, 2)\n"
    "with torch.no_grad():\n    scale_(model.weight, 0.5)\n"
)


def check(gl, root, *paths, cache=False, extra=()):
    return gl("check", "--output-format", "json", *extra, *(paths or (".",)), cwd=root, cache=cache)


def test_a_helper_gets_a_parameter_from_another_file(gl, tmp_path):
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": OPS, "train.py": TRAIN_OPS})
    res = check(gl, root)
    assert findings(res) == [("pkg/ops.py", 2, "GL001")]
    (d,) = json.loads(res.stdout)
    assert "`scale_()` is called from train.py:6 with grad mode on" in d["message"]
    assert "a parameter" in d["message"]
    assert [(r["location"]["row"], r["filename"].endswith("train.py")) for r in d["related"]] == [(6, True)]
    # each file alone: the helper does not know what it is given
    assert findings(check(gl, root, extra=("--no-project",))) == []


def test_the_same_helper_called_under_no_grad_is_silent(gl, tmp_path):
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": OPS, "train.py": TRAIN_OPS_NO_GRAD})
    assert findings(check(gl, root)) == []


@pytest.mark.parametrize("imports, call", [
    ("from pkg import scale_", "scale_(model.weight, 2.0)"),  # re-exported by pkg/__init__.py
    ("import pkg.ops as O", "O.scale_(model.weight, 2.0)"),
    ("from pkg import ops", "ops.scale_(model.weight, 2.0)"),
    ("from pkg import *", "scale_(model.weight, 2.0)"),  # `*` with the package's __all__
])
def test_import_shapes_resolve(gl, tmp_path, imports, call):
    root = tree(tmp_path, {
        "pkg/__init__.py": "from .ops import scale_\n__all__ = ['scale_']\n",
        "pkg/ops.py": OPS,
        "train.py": f"import torch.nn as nn\n{imports}\nmodel = nn.Linear(3, 2)\n{call}\n",
    })
    assert findings(check(gl, root)) == [("pkg/ops.py", 2, "GL001")]


def test_a_name_left_out_of_all_is_not_imported_by_star(gl, tmp_path):
    root = tree(tmp_path, {
        "pkg/__init__.py": "from .ops import *\n",
        "pkg/ops.py": "__all__ = ['other']\n" + OPS + "def other():\n    pass\n",
        "train.py": "import torch.nn as nn\nfrom pkg import *\nmodel = nn.Linear(3, 2)\nscale_(model.weight, 2.0)\n",
    })
    assert findings(check(gl, root)) == []


def test_relative_imports_inside_a_package(gl, tmp_path):
    root = tree(tmp_path, {
        "pkg/__init__.py": "from .ops import scale_\n",
        "pkg/ops.py": OPS,
        "pkg/engine/__init__.py": "",
        "pkg/engine/train.py": "import torch.nn as nn\nfrom .. import scale_\nfrom ..ops import scale_ as s2\n"
                               "model = nn.Linear(3, 2)\nscale_(model.weight, 2.0)\n",
    })
    res = check(gl, root)
    assert findings(res) == [("pkg/ops.py", 2, "GL001")]
    assert "pkg/engine/train.py:5" in json.loads(res.stdout)[0]["message"]


def test_src_layout_and_scripts(gl, tmp_path):
    root = tree(tmp_path, {
        "pyproject.toml": "[project]\nname = 'mylib'\n",
        "src/mylib/__init__.py": "",
        "src/mylib/ops.py": OPS,
        "scripts/train.py": "import torch.nn as nn\nfrom mylib.ops import scale_\nmodel = nn.Linear(3, 2)\n"
                            "scale_(model.weight, 2.0)\n",
    })
    assert findings(check(gl, root)) == [("src/mylib/ops.py", 2, "GL001")]


def test_a_script_imports_its_neighbour_not_a_namesake_elsewhere(gl, tmp_path):
    root = tree(tmp_path, {
        "examples/a/utils.py": OPS,
        "examples/a/main.py": "import torch.nn as nn\nfrom utils import scale_\nmodel = nn.Linear(3, 2)\n"
                              "scale_(model.weight, 2.0)\n",
        "examples/b/utils.py": OPS,
        "examples/b/main.py": "import torch\nimport torch.nn as nn\nfrom utils import scale_\nmodel = nn.Linear(3, 2)\n"
                              "with torch.no_grad():\n    scale_(model.weight, 2.0)\n",
    })
    assert findings(check(gl, root)) == [("examples/a/utils.py", 2, "GL001")]


def test_an_import_cycle_terminates(gl, tmp_path):
    root = tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import helper\n",
        "pkg/b.py": "from .a import helper\n",
        "train.py": "import torch.nn as nn\nfrom pkg.a import helper\nmodel = nn.Linear(3, 2)\nhelper(model.weight)\n",
    })
    res = check(gl, root)
    assert res.exit_code == 0, res.stderr
    assert findings(res) == []


WEIGHTS_INIT = (
    "import torch.nn as nn\n\n\ndef weights_init(m):\n    if isinstance(m, nn.Conv2d):\n"
    "        m.weight.normal_(0.0, 0.02)\n"
)


def test_weights_init_applied_from_another_file(gl, tmp_path):
    root = tree(tmp_path, {
        "utils.py": WEIGHTS_INIT,
        "train.py": "import torch.nn as nn\nfrom utils import weights_init\nnet = nn.Sequential(nn.Conv2d(1, 2, 3))\n"
                    "net.apply(weights_init)\n",
    })
    res = check(gl, root)
    assert findings(res) == [("utils.py", 6, "GL001")]
    assert "train.py:4" in json.loads(res.stdout)[0]["message"]


def test_weights_init_applied_under_no_grad_is_silent(gl, tmp_path):
    root = tree(tmp_path, {
        "utils.py": WEIGHTS_INIT,
        "train.py": "import torch\nimport torch.nn as nn\nfrom utils import weights_init\n"
                    "net = nn.Sequential(nn.Conv2d(1, 2, 3))\nwith torch.no_grad():\n    net.apply(weights_init)\n",
    })
    assert findings(check(gl, root)) == []


EVALUATE = (
    "import torch\n\n\ndef evaluate(model, loader):\n    model.eval()\n    correct = 0\n    for x, y in loader:\n"
    "        correct += (model(x).argmax(1) == y).sum().item()\n    return correct\n"
)


def test_evaluation_helper_called_with_grad_on_names_the_caller(gl, tmp_path):
    root = tree(tmp_path, {
        "engine.py": EVALUATE,
        "train.py": "import torch.nn as nn\nfrom engine import evaluate\nmodel = nn.Linear(3, 2)\n"
                    "acc = evaluate(model, [])\n",
    })
    res = check(gl, root)
    assert findings(res) == [("engine.py", 8, "GL005")]
    (d,) = json.loads(res.stdout)
    assert "`evaluate()` is called from train.py:4 with grad mode on" in d["message"]


def test_evaluation_helper_called_under_no_grad_elsewhere_is_silent(gl, tmp_path):
    root = tree(tmp_path, {
        "engine.py": EVALUATE,
        "train.py": "import torch\nimport torch.nn as nn\nfrom engine import evaluate\nmodel = nn.Linear(3, 2)\n"
                    "with torch.no_grad():\n    acc = evaluate(model, [])\n",
    })
    assert findings(check(gl, root)) == []
    # alone, the helper cannot know: it is reported (hygiene)
    assert findings(check(gl, root, extra=("--no-project",))) == [("engine.py", 8, "GL005")]


def test_gl004_silent_when_every_caller_elsewhere_set_eval_mode(gl, tmp_path):
    helper = ("import torch\n\n\n@torch.no_grad()\ndef evaluate(model, val_loader):\n    for x, y in val_loader:\n"
              "        out = model(x)\n")
    caller = "import torch.nn as nn\nfrom engine import evaluate\nmodel = nn.Sequential(nn.Linear(3, 2), nn.Dropout())\n"
    root = tree(tmp_path / "a", {"engine.py": helper, "train.py": caller + "model.eval()\nevaluate(model, [])\n"})
    assert findings(check(gl, root)) == []
    root2 = tree(tmp_path / "b", {"engine.py": helper, "train.py": caller + "evaluate(model, [])\n"})
    assert findings(check(gl, root2)) == [("engine.py", 7, "GL004")]


VALIDATE = (
    "import torch\n\n\ndef validate(model, loader):\n    model.eval()\n    with torch.no_grad():\n"
    "        for x, y in loader:\n            model(x)\n"
)
TRAIN_AFTER_VALIDATE = (
    "import torch\nimport torch.nn as nn\nfrom utils import validate\n\nmodel = nn.Sequential(nn.Linear(3, 2), nn.Dropout())\n"
    "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nvalidate(model, [])\nfor epoch in range(3):\n"
    "    opt.zero_grad()\n    model(torch.randn(4, 3)).sum().backward()\n    opt.step()\n"
)
TRAIN_CALLS_VALIDATE_IN_LOOP = (
    "import torch\nimport torch.nn as nn\nfrom utils import validate\n\nmodel = nn.Sequential(nn.Linear(3, 2), nn.Dropout())\n"
    "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nmodel.train()\nfor epoch in range(3):\n"
    "    opt.zero_grad()\n    model(torch.randn(4, 3)).sum().backward()\n    opt.step()\n    validate(model, [])\n"
)


VALIDATE_RESTORING = (
    "import torch\n\n\n@torch.no_grad()\ndef validate(model, loader):\n    was_training = model.training\n"
    "    model.eval()\n    for x, y in loader:\n        model(x)\n    model.train(was_training)\n"
)


@pytest.mark.parametrize("train", [TRAIN_AFTER_VALIDATE, TRAIN_CALLS_VALIDATE_IN_LOOP])
def test_an_imported_helper_that_restores_the_mode_it_found(gl, tmp_path, train):
    """`model.train(was_training)` at the end: the model leaves `validate()` in the mode it entered with."""
    root = tree(tmp_path, {"utils.py": VALIDATE_RESTORING, "train.py": train})
    assert findings(check(gl, root)) == []


@pytest.mark.parametrize("train, row", [(TRAIN_AFTER_VALIDATE, 7), (TRAIN_CALLS_VALIDATE_IN_LOOP, 12)])
def test_an_imported_helper_leaves_the_model_in_eval_mode(gl, tmp_path, train, row):
    root = tree(tmp_path, {"utils.py": VALIDATE, "train.py": train})
    res = check(gl, root)
    assert findings(res) == [("train.py", row, "GL016")]
    (d,) = json.loads(res.stdout)
    assert "utils.py:4" in d["message"]  # the helper's definition
    assert d["related"][0]["filename"].endswith("utils.py") and d["related"][0]["location"]["row"] == 4


@pytest.mark.parametrize("train", [TRAIN_AFTER_VALIDATE, TRAIN_CALLS_VALIDATE_IN_LOOP])
def test_an_imported_helper_that_restores_train_mode_is_silent(gl, tmp_path, train):
    restores = VALIDATE + "    model.train()\n"
    root = tree(tmp_path, {"utils.py": restores, "train.py": train})
    assert findings(check(gl, root)) == []


def test_only_the_given_files_are_reported_but_the_project_is_read(gl, tmp_path):
    """As pre-commit runs it: only the changed files are passed."""
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": OPS, "train.py": TRAIN_OPS,
                           "utils.py": VALIDATE, "loop.py": TRAIN_AFTER_VALIDATE})
    assert findings(check(gl, root, "pkg/ops.py")) == [("pkg/ops.py", 2, "GL001")]
    assert findings(check(gl, root, "loop.py")) == [("loop.py", 7, "GL016")]
    assert findings(check(gl, root, "train.py", "utils.py")) == []


def test_a_notebook_imports_the_package(gl, tmp_path):
    nb = notebook([
        "import torch\nimport torch.nn as nn\nfrom pkg.ops import scale_\nfrom utils import validate\n"
        "model = nn.Sequential(nn.Linear(3, 2), nn.Dropout())\nopt = torch.optim.SGD(model.parameters(), lr=0.1)",
        "scale_(model[0].weight, 0.5)",
        "validate(model, [])\nfor i in range(3):\n    opt.zero_grad()\n    model(torch.randn(4, 3)).sum().backward()\n"
        "    opt.step()",
    ])
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": OPS, "utils.py": VALIDATE, "explore.ipynb": nb})
    res = check(gl, root)
    data = json.loads(res.stdout)
    got = sorted((d["filename"].rsplit("/", 1)[-1], d["cell"], d["location"]["row"], d["code"]) for d in data)
    assert got == [("explore.ipynb", 3, 1, "GL016"), ("ops.py", None, 2, "GL001")]
    ops = next(d for d in data if d["code"] == "GL001")
    assert "explore.ipynb:cell 2:1" in ops["message"]


def test_sarif_carries_related_locations(gl, tmp_path):
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": OPS, "train.py": TRAIN_OPS})
    res = gl("check", "--output-format", "sarif", ".", cwd=root)
    (result,) = json.loads(res.stdout)["runs"][0]["results"]
    (rel,) = result["relatedLocations"]
    assert rel["physicalLocation"]["artifactLocation"]["uri"] == "train.py"
    assert rel["physicalLocation"]["region"]["startLine"] == 6


def test_parallel_runs_are_deterministic(gl, tmp_path):
    files = {"pkg/__init__.py": "", "pkg/ops.py": OPS, "train.py": TRAIN_OPS, "utils.py": VALIDATE,
             "loop.py": TRAIN_AFTER_VALIDATE}
    files.update({f"filler/m{i}.py": f"import torch\nx{i} = torch.zeros(3)\n" for i in range(20)})
    root = tree(tmp_path, files)
    one = check(gl, root, extra=("-j", "1"))
    two = check(gl, root, extra=("-j", "2"))
    assert one.stdout == two.stdout
    assert findings(one) == [("loop.py", 7, "GL016"), ("pkg/ops.py", 2, "GL001")]


def test_cache_follows_edits_of_the_imported_file(gl, tmp_path):
    root = tree(tmp_path, {"utils.py": VALIDATE, "train.py": TRAIN_AFTER_VALIDATE,
                           "pkg/__init__.py": "", "pkg/ops.py": OPS, "other.py": TRAIN_OPS_NO_GRAD})
    cache = ("--cache-dir", str(tmp_path / "cache"))
    for _ in range(2):  # cold, then warm
        assert findings(check(gl, root, cache=True, extra=cache)) == [("train.py", 7, "GL016")]
    (root / "utils.py").write_text(VALIDATE + "    model.train()\n", encoding="utf-8")
    assert findings(check(gl, root, cache=True, extra=cache)) == []
    assert findings(check(gl, root)) == []  # the same without the cache
    (root / "other.py").write_text(TRAIN_OPS, encoding="utf-8")  # a caller now passes a leaf with grad on
    assert findings(check(gl, root, cache=True, extra=cache)) == [("pkg/ops.py", 2, "GL001")]
    assert findings(check(gl, root, "pkg/ops.py", cache=True, extra=cache)) == [("pkg/ops.py", 2, "GL001")]
    (root / "utils.py").write_text(VALIDATE, encoding="utf-8")
    assert findings(check(gl, root, cache=True, extra=cache)) == [("pkg/ops.py", 2, "GL001"), ("train.py", 7, "GL016")]


def test_fix_rechecks_the_project(gl, tmp_path):
    root = tree(tmp_path, {"pkg/__init__.py": "", "pkg/ops.py": "import torch\n" + OPS.replace(
        "    weight.mul_(factor)\n", "    for p in [weight]:\n        p -= factor * p.grad\n"),
        "train.py": TRAIN_OPS, "utils.py": VALIDATE, "loop.py": TRAIN_AFTER_VALIDATE})
    res = gl("check", "--output-format", "json", "--fix", ".", cwd=root)
    assert "with torch.no_grad():" in (root / "pkg/ops.py").read_text()
    assert findings(res) == [("loop.py", 7, "GL016")]  # the cross-file finding that has no fix stays


@pytest.mark.parametrize("helper, expected", [
    ("def prepare(model):\n    model.eval()\n    return model\n", []),  # leaves it in eval mode
    ("def prepare(model):\n    model.eval()\n    model.train()\n    return model\n", [("evaluate.py", 8, "GL004")]),
])
def test_gl004_follows_an_imported_helper_that_leaves_eval_mode(gl, tmp_path, helper, expected):
    root = tree(tmp_path, {"helpers.py": helper, "evaluate.py": (
        "import torch\nimport torch.nn as nn\nfrom helpers import prepare\n"
        "model = nn.Sequential(nn.Linear(3, 2), nn.Dropout())\nprepare(model)\nwith torch.no_grad():\n"
        "    for x, y in val_loader:\n        out = model(x)\n")})
    assert findings(check(gl, root)) == expected


def test_a_module_in_an_unrelated_folder_is_not_imported(gl, tmp_path):
    """Independent example folders (pytorch/examples): `from utils import scale_` in b/ does not reach a/utils.py
    (b/ has no utils.py; Python would find an installed `utils`, or fail)."""
    root = tree(tmp_path, {
        "a/utils.py": OPS,
        "b/main.py": "import torch.nn as nn\nfrom utils import scale_\nmodel = nn.Linear(3, 2)\nscale_(model.weight, 2.0)\n",
    })
    assert findings(check(gl, root)) == []


MODEL_FREE = (
    "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
    "        self.conv = nn.Conv2d(1, k, 3)\n        self.shuffle = nn.PixelShuffle(2)\n\n"
    "    def forward(self, x):\n        return self.shuffle(self.conv(x).relu())\n"
)
MODEL_DROPOUT = MODEL_FREE.replace("nn.PixelShuffle(2)", "nn.Dropout(0.5)")
EVALUATE_NET = (
    "import torch\nfrom model import Net\n\nmodel = Net(4)\n\n\ndef test(loader):\n    with torch.no_grad():\n"
    "        for x in loader:\n            out = model(x)\n"
)


@pytest.mark.parametrize("model_py, tier", [(MODEL_FREE, "hygiene"), (MODEL_DROPOUT, "bug")])
def test_gl004_tier_follows_the_imported_model_class(gl, tmp_path, model_py, tier):
    """`Net` comes from model.py: the evaluation is a bug only when Net has a mode-dependent layer."""
    root = tree(tmp_path, {"model.py": model_py, "main.py": EVALUATE_NET})
    res = check(gl, root, extra=("--select", "GL004"))
    (d,) = json.loads(res.stdout)
    assert (d["filename"].endswith("main.py"), d["location"]["row"], d["tier"]) == (True, 10, tier)
    # each file alone: another file's class may have any layer (a bug)
    (alone,) = json.loads(check(gl, root, extra=("--select", "GL004", "--no-project")).stdout)
    assert alone["tier"] == "bug"


def test_paths_of_two_projects_read_each_ones_own_files_not_the_folder_above(gl, tmp_path):
    """`gradlint check ~/a ~/b`: the folder holding both is no project of theirs. Each path's own project is
    read for facts (a's caller of its helper), nothing else under that folder (a third project with a
    broken configuration would print its error)."""
    from gradlint.cli import _project_files
    from gradlint.config import ConfigResolver, Overrides

    root = tree(tmp_path, {
        "a/pyproject.toml": "", "a/pkg/__init__.py": "", "a/pkg/ops.py": OPS, "a/train.py": TRAIN_OPS,
        "b/pyproject.toml": "", "b/main.py": "x = 1\n",
        "c/pyproject.toml": "[tool.gradlint]\nextend-eval-function-patterns = ['(a+)+b']\n", "c/other.py": OPS,
    })
    res = check(gl, root, "a/pkg/ops.py", "b/main.py")
    assert findings(res) == [("a/pkg/ops.py", 2, "GL001")]  # (a/train.py was read: its call is the finding)
    assert "c/pyproject.toml" not in res.stderr and res.exit_code == 1
    resolver = ConfigResolver(None, Overrides())
    files = [root / "a/pkg/ops.py", root / "b/main.py"]
    _, others = _project_files([str(f) for f in files], files, resolver, {})
    read = sorted(os.path.relpath(o, root) for o, _ in others)
    assert read == ["a/pkg/__init__.py", "a/train.py"]
    # one project's folder and another's file: the folder is checked whole, the other project is read
    _, others = _project_files([str(root / "a"), str(root / "b/main.py")], files, resolver, {})
    assert [os.path.relpath(o, root) for o, _ in others] == []


def test_only_callers_of_functions_that_want_them_are_read(tmp_path, monkeypatch):
    """A file that merely spells the name of a function whose findings do not depend on its callers
    (`_cfg` in every timm model file) is not summarised; a caller of one that does (`scale_`) is."""
    from gradlint import runner
    from gradlint.rules import ALL_RULES
    from gradlint.settings import Settings

    root = tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/ops.py": "import torch\n\n\n" + OPS + "\n\ndef _cfg(url):\n    return {'url': url}\n",
        "pkg/other.py": "from pkg.ops import _cfg\ncfgs = [_cfg('a'), _cfg('b')]\n",
        "train.py": TRAIN_OPS,
    })
    seen: list[str] = []
    first = runner._project_first
    monkeypatch.setattr(runner, "_project_first", lambda work: seen.append(work[0]) or first(work))
    settings = Settings(selected=frozenset(r.code for r in ALL_RULES))
    report = [(str(root / "pkg/ops.py"), settings)]
    others = [(str(root / p), settings) for p in ("pkg/__init__.py", "pkg/other.py", "train.py")]
    ((result, _),) = runner.lint_project(report, others, root, 1, None)
    assert [d.code for d in result.diagnostics] == ["GL001"]  # (the caller in train.py was read)
    assert str(root / "train.py") in seen and str(root / "pkg/other.py") not in seen


# ------------------------------------------------------------------ objects that cross files (issue 13)

UTILS_OBJECTS = (
    "import torch\nimport torch.nn as nn\nfrom model import Net\n\nmodel = Net(4)\n"
    "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\ncriterion = nn.CrossEntropyLoss()\n"
    "w = torch.zeros(3, requires_grad=True)\nb = torch.zeros(1, requires_grad=True)\nparams = [w, b]\n"
)
UPDATE_W = "import torch\nfrom utils import w\n\nlr = 0.1\nw -= lr * w.grad\n"


def test_an_imported_leaf_updated_in_place(gl, tmp_path):
    """`w = torch.zeros(3, requires_grad=True)` in utils.py, `w -= lr * w.grad` in train.py."""
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "utils.py": UTILS_OBJECTS, "train.py": UPDATE_W})
    res = check(gl, root)
    assert findings(res) == [("train.py", 5, "GL001")]
    (d,) = json.loads(res.stdout)
    assert "created with `requires_grad=True` in utils.py" in d["message"]
    assert findings(check(gl, root, extra=("--no-project",))) == []  # alone, `w` is some imported object


def test_an_imported_leaf_updated_under_no_grad_is_silent(gl, tmp_path):
    train = UPDATE_W.replace("w -= lr * w.grad\n", "with torch.no_grad():\n    w -= lr * w.grad\n")
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "utils.py": UTILS_OBJECTS, "train.py": train})
    assert findings(check(gl, root)) == []


def test_an_imported_parameter_list_and_data(gl, tmp_path):
    train = ("import torch\nfrom utils import params, w\n\nfor p in params:\n    p.mul_(0.5)\nx = w.data\n"
             "x.add_(1)\n")
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "utils.py": UTILS_OBJECTS, "train.py": train})
    assert findings(check(gl, root)) == [("train.py", 5, "GL001"), ("train.py", 6, "GL003")]
    assert findings(check(gl, root, extra=("--no-project",))) == []
    clean = train.replace("for p in params:\n    p.mul_(0.5)\n", "with torch.no_grad():\n    for p in params:\n"
                          "        p.mul_(0.5)\n").replace("w.data", "w.detach()")
    (root / "train.py").write_text(clean, encoding="utf-8")
    assert findings(check(gl, root)) == []


EVALUATE_IMPORTED = (
    "import torch\nfrom utils import model\n\n\ndef test(loader):\n    with torch.no_grad():\n        for x in loader:\n"
    "            out = model(x)\n"
)


@pytest.mark.parametrize("model_py, tier", [(MODEL_FREE, "hygiene"), (MODEL_DROPOUT, "bug")])
def test_an_imported_model_object_evaluated_without_eval(gl, tmp_path, model_py, tier):
    """`model = Net(4)` in utils.py (Net from model.py), evaluated in main.py without `.eval()`: GL004, its tier
    from Net's summary — also when utils.py imports no torch (read with `ast` only)."""
    for utils in (UTILS_OBJECTS, "from model import Net\n\nmodel = Net(4)\n"):
        root = tree(tmp_path / str(len(utils)), {"model.py": model_py, "utils.py": utils, "main.py": EVALUATE_IMPORTED})
        res = check(gl, root, extra=("--select", "GL004"))
        (d,) = json.loads(res.stdout)
        assert (d["filename"].endswith("main.py"), d["location"]["row"], d["tier"]) == (True, 8, tier)
        assert findings(check(gl, root, extra=("--select", "GL004", "--no-project"))) == []
        clean = EVALUATE_IMPORTED.replace("def test(loader):\n", "def test(loader):\n    model.eval()\n")
        (root / "main.py").write_text(clean, encoding="utf-8")
        assert findings(check(gl, root, extra=("--select", "GL004"))) == []


def test_cache_follows_edits_of_an_imported_object(gl, tmp_path):
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "utils.py": UTILS_OBJECTS, "train.py": UPDATE_W})
    cache = ("--cache-dir", str(tmp_path / "cache"))
    for _ in range(2):  # cold, then warm
        assert findings(check(gl, root, cache=True, extra=cache)) == [("train.py", 5, "GL001")]
    (root / "utils.py").write_text(UTILS_OBJECTS.replace("w = torch.zeros(3, requires_grad=True)",
                                                         "w = torch.zeros(3)"), encoding="utf-8")
    assert findings(check(gl, root, cache=True, extra=cache)) == []
    assert findings(check(gl, root)) == []  # the same without the cache
    (root / "utils.py").write_text(UTILS_OBJECTS, encoding="utf-8")
    assert findings(check(gl, root, cache=True, extra=cache)) == [("train.py", 5, "GL001")]
    assert findings(check(gl, root, "train.py", cache=True, extra=cache)) == [("train.py", 5, "GL001")]


ENGINE = (
    "import torch\nimport torch.nn as nn\nfrom model import Net\n\n\nclass Trainer:\n    def __init__(self, lr):\n"
    "        self.net = Net(4)\n        self.w = nn.Parameter(torch.zeros(3))\n"
    "        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=lr)\n\n"
    "    def evaluate(self, loader):\n        self.net.eval()\n        correct = 0\n        for x, y in loader:\n"
    "            correct += (self.net(x).argmax(1) == y).sum().item()\n        return correct\n\n"
    "    def fit(self, loader):\n        for x, y in loader:\n            self.optimizer.zero_grad()\n"
    "            self.net(x).sum().backward()\n            self.optimizer.step()\n"
)


def test_an_attribute_of_an_imported_class_instance(gl, tmp_path):
    """`self.w = nn.Parameter(...)` in engine.py's Trainer; `t.w -= ...` in train.py."""
    train = "import torch\nfrom engine import Trainer\n\nt = Trainer(0.1)\nt.w -= 0.1 * t.w.grad\n"
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "engine.py": ENGINE, "train.py": train})
    res = check(gl, root, extra=("--select", "GL001"))
    assert findings(res) == [("train.py", 5, "GL001")]
    assert "an `nn.Parameter` of a `Trainer`" in json.loads(res.stdout)[0]["message"]
    assert findings(check(gl, root, extra=("--select", "GL001", "--no-project"))) == []
    (root / "train.py").write_text(train.replace("t.w -= 0.1 * t.w.grad\n", "with torch.no_grad():\n"
                                                 "    t.w -= 0.1 * t.w.grad\n"), encoding="utf-8")
    assert findings(check(gl, root, extra=("--select", "GL001"))) == []


@pytest.mark.parametrize("model_py, tier", [(MODEL_FREE, "hygiene"), (MODEL_DROPOUT, "bug")])
def test_a_submodule_of_an_imported_class_instance(gl, tmp_path, model_py, tier):
    """`t.net` is the Net that Trainer's `__init__` builds: GL004's tier follows model.py's Net."""
    main = ("import torch\nfrom engine import Trainer\n\nt = Trainer(0.1)\n\n\ndef test(loader):\n"
            "    with torch.no_grad():\n        for x in loader:\n            out = t.net(x)\n")
    root = tree(tmp_path, {"model.py": model_py, "engine.py": ENGINE, "main.py": main})
    got = [(d["filename"].rsplit("/", 1)[-1], d["location"]["row"], d["tier"])
           for d in json.loads(check(gl, root, extra=("--select", "GL004")).stdout)]
    assert got == [("main.py", 10, tier)]


def test_a_method_of_an_imported_instance_called_with_grad_on(gl, tmp_path):
    """`t.evaluate(loader)` in train.py runs Trainer.evaluate (engine.py) with grad mode on: GL005 in engine.py,
    naming the call; the same call under no_grad is silent (alone, the method is reported)."""
    train = "import torch\nfrom engine import Trainer\n\nt = Trainer(0.1)\nacc = t.evaluate([])\n"
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "engine.py": ENGINE, "train.py": train})
    res = check(gl, root, extra=("--select", "GL005"))
    assert findings(res) == [("engine.py", 16, "GL005")]
    assert "`evaluate()` is called from train.py:5 with grad mode on" in json.loads(res.stdout)[0]["message"]
    (root / "train.py").write_text(train.replace("acc = t.evaluate([])\n", "with torch.no_grad():\n"
                                                 "    acc = t.evaluate([])\n"), encoding="utf-8")
    assert findings(check(gl, root, extra=("--select", "GL005"))) == []
    assert findings(check(gl, root, extra=("--select", "GL005", "--no-project"))) == [("engine.py", 16, "GL005")]


def test_a_method_of_an_imported_object(gl, tmp_path):
    """`trainer = Trainer(0.1)` in utils.py; `trainer.evaluate([])` in train.py reaches Trainer.evaluate."""
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "engine.py": ENGINE,
                           "utils.py": "from engine import Trainer\n\ntrainer = Trainer(0.1)\n",
                           "train.py": "import torch\nfrom utils import trainer\n\nacc = trainer.evaluate([])\n"})
    res = check(gl, root, extra=("--select", "GL005"))
    assert findings(res) == [("engine.py", 16, "GL005")]
    assert "train.py:4" in json.loads(res.stdout)[0]["message"]


TRAIN_WITH_TRAINER = (
    "import torch\nfrom engine import Trainer\n\nt = Trainer(0.1)\nwith torch.no_grad():\n    acc = t.evaluate([])\n"
    "for epoch in range(3):\n    t.fit([])\n"
)


TRAIN_WITH_TRAINER_IN_LOOP = (
    "import torch\nfrom engine import Trainer\n\nt = Trainer(0.1)\nfor epoch in range(3):\n    t.fit([])\n"
    "    with torch.no_grad():\n        acc = t.evaluate([])\n"
)


@pytest.mark.parametrize("train, row, words", [(TRAIN_WITH_TRAINER, 6, "the training loop after it never puts it back"),
                                               (TRAIN_WITH_TRAINER_IN_LOOP, 8, "inside the training loop")])
def test_a_method_of_an_imported_instance_leaves_eval_mode_before_training(gl, tmp_path, train, row, words):
    """`t.evaluate()` puts `t.net` in eval mode; `t.fit()` trains it in the loop (after it, or around it):
    GL016 at the call."""
    root = tree(tmp_path, {"model.py": MODEL_DROPOUT, "engine.py": ENGINE, "train.py": train})
    res = check(gl, root)
    assert findings(res) == [("train.py", row, "GL016")]
    assert words in json.loads(res.stdout)[0]["message"]
    (d,) = json.loads(res.stdout)
    assert "`Trainer.evaluate()` defined in engine.py:12" in d["message"]
    # alone: train.py knows nothing of the methods; evaluate() does not know it runs under no_grad
    assert findings(check(gl, root, extra=("--no-project",))) == [("engine.py", 16, "GL005")]
    restores = ENGINE.replace("        return correct\n", "        self.net.train()\n        return correct\n")
    (root / "engine.py").write_text(restores, encoding="utf-8")
    assert findings(check(gl, root)) == []


def test_classes_holding_each_other_across_files_terminate(gl, tmp_path):
    root = tree(tmp_path, {
        "a.py": "import torch.nn as nn\nfrom b import B\n\n\nclass A(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.b = B()\n\n    def forward(self, x):\n        return self.b(x)\n",
        "b.py": "import torch.nn as nn\nfrom a import A\n\n\nclass B(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.a = A()\n\n    def forward(self, x):\n        return self.a(x)\n",
        "main.py": "import torch\nfrom a import A\n\nm = A()\nwith torch.no_grad():\n    m.b.a.b.a.b.weight.add_(1)\n"
                   "m.b.a.b.a.b.a.b.weight.add_(1)\n",
    })
    res = check(gl, root)
    assert res.exit_code in (0, 1) and "internal error" not in res.stderr
    assert findings(res) == [("main.py", 7, "GL001")]


MY_SGD = (
    "import torch\n\n\nclass MySGD:\n    def __init__(self, params, lr):\n        self.params = list(params)\n"
    "        self.lr = lr\n\n    def step(self):\n        for p in self.params:\n            p -= self.lr * p.grad\n"
)
TRAIN_MY_SGD = (
    "import torch\nimport torch.nn as nn\nfrom optim import MySGD\n\nmodel = nn.Linear(3, 2)\n"
    "opt = MySGD(model.parameters(), 0.1)\nfor i in range(3):\n    opt.zero_grad()\n"
    "    model(torch.randn(4, 3)).sum().backward()\n    opt.step()\n"
)


def test_the_step_of_an_imported_optimizer_class_runs_in_its_callers_grad_mode(gl, tmp_path):
    """`opt.step()` in train.py reaches MySGD.step in optim.py: its update is GL001 when a call runs it with
    grad mode on (the message names the call), silent when every call runs it under no_grad."""
    root = tree(tmp_path, {"optim.py": MY_SGD, "train.py": TRAIN_MY_SGD})
    res = check(gl, root)
    assert findings(res) == [("optim.py", 11, "GL001")]
    assert "`step()` is called from train.py:10 with grad mode on" in json.loads(res.stdout)[0]["message"]
    (root / "train.py").write_text(TRAIN_MY_SGD.replace("    opt.step()\n", "    with torch.no_grad():\n"
                                                        "        opt.step()\n"), encoding="utf-8")
    assert findings(check(gl, root)) == []
    assert findings(check(gl, root, extra=("--no-project",))) == [("optim.py", 11, "GL001")]  # alone: reported


# --------------------------------------------- only the facts that can change a finding (issue 13, cost)

LAYERS = (
    "import torch.nn as nn\n\n\nclass Head(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
    "        self.fc = nn.Linear(k, 2)\n        self.drop = nn.Dropout(0.5)\n\n"
    "    def forward(self, x):\n        return self.fc(self.drop(x))\n"
)
# a model file that builds another file's layer in its own module's `__init__` and calls it in `forward`
# (every timm model file): what Head is changes none of its findings
BODY = (
    "import torch\nimport torch.nn as nn\nfrom layers import Head\n\n\nclass Net(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n        self.head = Head(4)\n\n"
    "    def forward(self, x):\n        return self.head(x)\n"
)
INIT_THROUGH_DATA = BODY.replace("self.head = Head(4)\n", "self.head = Head(4)\n        self.head.fc.weight.data.mul_(0.5)\n")


def _second_checks(monkeypatch) -> list[str]:
    from gradlint import runner

    seen: list[str] = []
    second = runner._project_second
    monkeypatch.setattr(runner, "_project_second", lambda work: seen.append(work[0].rsplit("/", 1)[-1]) or second(work))
    return seen


def _lint_project(root, names: tuple[str, ...]) -> list:
    """Every rule, `names` reported, through the runner; the results in their order."""
    from gradlint import runner
    from gradlint.rules import ALL_RULES
    from gradlint.settings import Settings

    settings = Settings(selected=frozenset(r.code for r in ALL_RULES))
    return [result for result, _ in runner.lint_project([(str(root / n), settings) for n in names], [], root, 1, None)]


def test_a_layer_built_and_called_inside_a_model_class_is_not_checked_twice(gl, tmp_path, monkeypatch):
    """The class facts of `Head` would change nothing in models.py: the file is checked once."""
    root = tree(tmp_path, {"layers.py": LAYERS, "models.py": BODY})
    seen = _second_checks(monkeypatch)
    _lint_project(root, ("layers.py", "models.py"))
    assert seen == []


def test_an_attribute_read_through_another_files_layer_gets_its_facts(gl, tmp_path, monkeypatch):
    """`self.head.fc.weight.data.mul_()` in the model's `__init__`: `fc` is what layers.py's Head builds, an
    nn.Linear, so this is GL003 (hygiene) — found only with Head's facts; models.py is checked again."""
    root = tree(tmp_path, {"layers.py": LAYERS, "models.py": INIT_THROUGH_DATA})
    seen = _second_checks(monkeypatch)
    _, result = _lint_project(root, ("layers.py", "models.py"))
    assert [(d.code, d.location.row) for d in result.diagnostics] == [("GL003", 10)]
    assert seen == ["models.py"]
    assert findings(check(gl, root, extra=("--no-project",))) == []


def test_an_instance_used_outside_the_model_classes_gets_its_facts(gl, tmp_path, monkeypatch):
    """A script that builds the model and evaluates it asks for the class (GL004's tier reads it), and a
    file that only builds it inside its own model class does not."""
    main = ("import torch\nfrom layers import Head\n\nhead = Head(4)\n\n\ndef test(loader):\n"
            "    with torch.no_grad():\n        for x in loader:\n            out = head(x)\n")
    root = tree(tmp_path, {"layers.py": LAYERS, "models.py": BODY, "main.py": main})
    seen = _second_checks(monkeypatch)
    res = check(gl, root, extra=("--select", "GL004"))
    assert [(d["filename"].rsplit("/", 1)[-1], d["location"]["row"], d["tier"])
            for d in json.loads(res.stdout)] == [("main.py", 10, "bug")]
    assert seen == ["main.py"]
