"""Jupyter notebooks: real `.ipynb` files written with nbformat, checked (and fixed) by the real CLI.

Cell numbers count every cell (markdown too), 1-based; rows and columns are within the cell (ruff's
convention); `--fix` rewrites only the changed cells' `source`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from gradlint.notebook import NotebookError, load, parse  # noqa: E402
from gradlint.settings import Settings  # noqa: E402

GL001 = Settings(selected=frozenset({"GL001"}))

SETUP = "import torch\nmodel = torch.nn.Linear(2, 2)\n"
BAD_LOOP = "for p in model.parameters():\n    p -= 0.1 * p.grad\n"
LEAF = "w = torch.zeros(3, requires_grad=True)\n"


def gradlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def locs(stdout: str) -> list[str]:
    """`nb.ipynb:cell 3:2:5: GL001` of each concise line."""
    return [re.match(r"(.*?:\d+:\d+: GL\d+)", ln).group(1) for ln in stdout.splitlines()]


def write_nb(path: Path, cells, **metadata) -> Path:
    nb = new_notebook()
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}})
    nb.metadata.update(metadata)
    nb.cells = cells
    nbformat.write(nb, str(path))
    return path


def training_notebook(path: Path) -> Path:
    return write_nb(path, [
        new_markdown_cell("# Training\nSome text with torch in it: `p -= lr * p.grad`."),
        new_code_cell(SETUP, execution_count=1),
        new_code_cell("x = 1\n" + BAD_LOOP, execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="done\n")]),
        new_markdown_cell("## Eval"),
        new_code_cell(LEAF + "w.add_(1)", execution_count=3,
                      outputs=[new_output("execute_result", data={"text/plain": "tensor([1., 1., 1.])"},
                                          execution_count=3)]),
    ])


def test_findings_are_reported_by_cell_and_row_within_the_cell(tmp_path: Path) -> None:
    training_notebook(tmp_path / "train.ipynb")
    r = gradlint("check", "--no-cache", "--output-format", "concise", "train.ipynb", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert locs(r.stdout) == ["train.ipynb:cell 3:3:5: GL001", "train.ipynb:cell 5:2:1: GL001"]
    assert "Found 2 errors: 2 bugs." in r.stderr


def test_json_carries_the_cell_and_cell_relative_positions(tmp_path: Path) -> None:
    training_notebook(tmp_path / "train.ipynb")
    r = gradlint("check", "--no-cache", "--output-format", "json", "train.ipynb", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert [(d["cell"], d["location"], d["end_location"], d["noqa_row"]) for d in data] == [
        (3, {"row": 3, "column": 5}, {"row": 3, "column": 22}, 3),
        (5, {"row": 2, "column": 1}, {"row": 2, "column": 10}, 2),
    ]
    assert all(d["filename"] == str(tmp_path / "train.ipynb") for d in data)
    for d in data:  # the fix's edits are in the cell's coordinates too
        for e in d["fix"]["edits"] if d["fix"] else ():
            assert e["location"]["row"] >= 1 and e["end_location"]["row"] <= 4


def test_full_output_shows_the_cells_own_lines(tmp_path: Path) -> None:
    training_notebook(tmp_path / "train.ipynb")
    r = gradlint("check", "--no-cache", "train.ipynb", cwd=tmp_path)
    assert r.returncode == 1
    out = r.stdout
    assert "train.ipynb:cell 3:3:5: GL001" in out
    assert "3 |     p -= 0.1 * p.grad" in out
    assert "1 | x = 1" in out
    assert "2 | w.add_(1)" in out


def test_cell_numbers_survive_the_cache(tmp_path: Path) -> None:
    training_notebook(tmp_path / "train.ipynb")
    args = ("check", "--cache-dir", str(tmp_path / "cache"), "--output-format", "json", "train.ipynb")
    first = gradlint(*args, cwd=tmp_path)
    second = gradlint(*args, cwd=tmp_path)
    assert first.returncode == second.returncode == 1
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert [d["cell"] for d in json.loads(second.stdout)] == [3, 5]


def test_ipython_magics_and_shell_escapes_are_ignored_safely(tmp_path: Path) -> None:
    write_nb(tmp_path / "magic.ipynb", [
        new_code_cell("%matplotlib inline\n%load_ext autoreload\n!pip install torch\n" + SETUP),
        new_code_cell("files = !ls *.pt\nenv = %env\nmodel.parameters?\n??torch.no_grad\n"
                      "!echo a \\\n    b\n"),
        new_code_cell("for p in model.parameters():\n    %time p.grad\n    !echo step\n"),
        # a non-Python cell magic: torch-looking text inside is not Python and is never reported
        new_code_cell("%%bash\nw = torch.zeros(3, requires_grad=True)\nw += 1\n"),
        new_code_cell("%%script python\n" + LEAF + "w += 1\n"),
        # `%` / `!` continuing a bracketed expression is Python, not a magic
        new_code_cell("y = (3\n     % 2)\nz = [1,\n     2]\n"),
    ])
    r = gradlint("check", "--no-cache", "magic.ipynb", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, ""), r.stdout + r.stderr
    assert "All checks passed!" in r.stderr
    nb = load(tmp_path / "magic.ipynb")
    compile(nb.source, "magic.ipynb", "exec")  # the placeholders make valid Python
    assert "%matplotlib" not in nb.source and "!pip" not in nb.source
    assert "     % 2)" in nb.source  # the continuation line was left alone


def test_python_cell_magics_are_linted_with_the_magic_line_ignored(tmp_path: Path) -> None:
    write_nb(tmp_path / "t.ipynb", [
        new_code_cell(SETUP),
        new_code_cell("%%time\n" + LEAF + "w += 1\n"),
        new_code_cell("%%capture out\n" + BAD_LOOP),
    ])
    r = gradlint("check", "--no-cache", "--output-format", "concise", "t.ipynb", cwd=tmp_path)
    assert r.returncode == 1
    assert locs(r.stdout) == ["t.ipynb:cell 2:3:1: GL001", "t.ipynb:cell 3:3:5: GL001"]


def test_noqa_works_in_cells(tmp_path: Path) -> None:
    write_nb(tmp_path / "q.ipynb", [
        new_code_cell(SETUP),
        new_code_cell(LEAF + "w += 1  # noqa: GL001\nw.add_(1)  # noqa\n"),
        new_code_cell("for p in model.parameters():\n    p -= 0.1 * p.grad  # noqa: GL003\n"),
    ])
    r = gradlint("check", "--no-cache", "--output-format", "concise", "q.ipynb", cwd=tmp_path)
    assert r.returncode == 1
    assert locs(r.stdout) == ["q.ipynb:cell 3:2:5: GL001"]


def test_file_level_noqa_in_a_cell_exempts_the_notebook(tmp_path: Path) -> None:
    training_notebook(tmp_path / "a.ipynb")
    nb = nbformat.read(str(tmp_path / "a.ipynb"), as_version=4)
    nb.cells[1].source = "# gradlint: noqa\n" + nb.cells[1].source
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    r = gradlint("check", "--no-cache", "a.ipynb", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")


def test_folders_include_notebooks_and_respect_excludes(tmp_path: Path) -> None:
    (tmp_path / "nbs" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "legacy").mkdir()
    training_notebook(tmp_path / "nbs" / "train.ipynb")
    training_notebook(tmp_path / "nbs" / ".ipynb_checkpoints" / "train-checkpoint.ipynb")
    training_notebook(tmp_path / "legacy" / "old.ipynb")
    (tmp_path / "pyproject.toml").write_text('[tool.gradlint]\nextend-exclude = ["legacy"]\n')
    r = gradlint("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert {Path(d["filename"]).relative_to(tmp_path).as_posix() for d in json.loads(r.stdout)} == {
        "nbs/train.ipynb"}
    # --force-exclude (what the pre-commit hook passes) applies the excludes to named files too
    r = gradlint("check", "--no-cache", "--force-exclude", "legacy/old.ipynb", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")


def test_bad_notebook_json_is_one_error_line_and_other_files_are_still_checked(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text('{"cells": [ {"cell_type": "code", "source": "x"}\n')
    (tmp_path / "no_cells.ipynb").write_text('{"metadata": {}}\n')
    training_notebook(tmp_path / "good.ipynb")
    r = gradlint("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert r.returncode == 2
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("gradlint:")]
    assert len(errs) == 2
    assert errs[0].startswith("gradlint: broken.ipynb: not a valid Jupyter notebook: invalid JSON")
    assert errs[1] == "gradlint: no_cells.ipynb: not a valid Jupyter notebook: no `cells` list"
    assert "Traceback" not in r.stderr
    assert len(r.stdout.splitlines()) == 2 and r.stdout.startswith("good.ipynb:cell 3:3:5:")


def test_syntax_error_names_the_cell(tmp_path: Path) -> None:
    write_nb(tmp_path / "s.ipynb", [new_code_cell(SETUP), new_code_cell("x = 1\ndef f(:\n    pass\n")])
    r = gradlint("check", "--no-cache", "s.ipynb", cwd=tmp_path)
    assert r.returncode == 2
    err = r.stderr.splitlines()[0]
    assert err.startswith("gradlint: s.ipynb: cell 2:") and "syntax error" in err, err
    assert "error at cell 2:" in err or "error at" not in err  # no row of the joined text


def test_a_non_python_notebook_has_nothing_to_check(tmp_path: Path) -> None:
    write_nb(tmp_path / "r.ipynb", [new_code_cell("w <- torch_zeros(3, requires_grad=TRUE)\nw$add_(1)\n")],
             kernelspec={"name": "ir", "display_name": "R", "language": "R"}, language_info={"name": "R"})
    r = gradlint("check", "--no-cache", "r.ipynb", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")


def test_source_as_one_string_and_empty_cells(tmp_path: Path) -> None:
    raw = {"cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ""},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": SETUP + LEAF + "w += 1"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "s.ipynb").write_text(json.dumps(raw))
    r = gradlint("check", "--no-cache", "--output-format", "concise", "s.ipynb", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("s.ipynb:cell 2:4:1: GL001")


def test_nbformat3_and_bad_sources_are_refused_with_a_reason() -> None:
    with pytest.raises(NotebookError, match="nbformat 3"):
        parse('{"worksheets": [], "metadata": {}, "nbformat": 3}')
    with pytest.raises(NotebookError, match="cell 1: `source` is not text"):
        parse('{"cells": [{"cell_type": "code", "source": 3}]}')


# ---------------------------------------------------------------------------------------------- --fix


def _fix_with_api(path: Path) -> None:
    from gradlint.notebook import fix_notebook, write_text

    res, _ = fix_notebook(str(path), GL001)
    assert res.error is None
    write_text(path, res.source)


def _fix_with_cli(path: Path) -> subprocess.CompletedProcess:
    return gradlint("check", "--no-cache", "--fix", path.name, cwd=path.parent)


def _has_cli_fix() -> bool:
    r = subprocess.run([sys.executable, "-m", "gradlint", "check", "--help"], capture_output=True, text=True)
    return "--fix" in r.stdout


@pytest.mark.parametrize("how", ["api", "cli"])
def test_fix_writes_back_valid_notebook_json_keeping_everything_else(tmp_path: Path, how: str) -> None:
    if how == "cli" and not _has_cli_fix():
        pytest.fail("`gradlint check --fix` is not available")
    path = write_nb(tmp_path / "train.ipynb", [
        new_markdown_cell("# Training"),
        new_code_cell("%matplotlib inline\n" + SETUP, execution_count=1, metadata={"tags": ["setup"]}),
        new_code_cell("!nvidia-smi\n" + BAD_LOOP + "print('ok')", execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="ok\n")]),
        new_code_cell("%%bash\necho untouched\n", execution_count=3),
        new_code_cell("y = 'naïve ünïcode'\n", execution_count=4),
    ])
    before_text = path.read_text(encoding="utf-8")
    before = nbformat.read(str(path), as_version=4)
    if how == "api":
        _fix_with_api(path)
    else:
        r = _fix_with_cli(path)
        assert r.returncode == 0, r.stdout + r.stderr
    after_text = path.read_text(encoding="utf-8")
    after = nbformat.read(str(path), as_version=4)
    nbformat.validate(after)
    assert after_text.endswith("}\n")
    assert after.cells[2].source == (
        "!nvidia-smi\nwith torch.no_grad():\n    for p in model.parameters():\n        p -= 0.1 * p.grad\n"
        "print('ok')")
    # everything but that cell's source is unchanged
    for i, (a, b) in enumerate(zip(before.cells, after.cells)):
        if i != 2:
            assert a == b
        assert a.get("outputs") == b.get("outputs") and a.metadata == b.metadata
    assert before.metadata == after.metadata
    # formatting of the untouched parts is byte for byte the same
    head = before_text.index('"!nvidia-smi')
    assert after_text[:head] == before_text[:head]
    tail = before_text.index('"print(\'ok\')"')
    assert after_text.endswith(before_text[tail:])
    assert "naïve ünïcode" in after_text  # not re-escaped
    r = gradlint("check", "--no-cache", "train.ipynb", cwd=tmp_path)
    assert r.returncode == 0, r.stdout


def test_fix_keeps_one_string_sources_and_magics_inside_blocks(tmp_path: Path) -> None:
    raw = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": SETUP + "for p in model.parameters():\n    %time p.grad\n    p -= 0.1 * p.grad"}],
        "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "one.ipynb"
    path.write_text(json.dumps(raw, indent=2) + "\n")
    _fix_with_api(path)
    data = json.loads(path.read_text())
    assert data["cells"][0]["source"] == (
        SETUP + "with torch.no_grad():\n    for p in model.parameters():\n        %time p.grad\n"
        "        p -= 0.1 * p.grad")
    assert path.read_text().startswith('{\n  "cells": [\n    {\n      "cell_type": "code",')


def test_a_fix_that_cannot_be_mapped_back_is_refused() -> None:
    nb = parse(json.dumps({"cells": [{"cell_type": "code", "source": "a = 1\n"},
                                     {"cell_type": "code", "source": "b = 2\n"}], "metadata": {}}))
    with pytest.raises(NotebookError):
        nb.fixed_text(nb.source.replace(f"# gradlint-cell-boundary-{nb.nonce}\n", ""))
    assert nb.fixed_text(nb.source) == nb.raw
    assert json.loads(nb.fixed_text(nb.source.replace("b = 2", "b = 3")))["cells"][1]["source"] == "b = 3\n"


# ------------------------------------------------------------------- a notebook made from a .py file


REPO = Path(__file__).resolve().parents[2]
PY_SOURCES = sorted(REPO.glob("fixtures/*/bad_*.py")) + [REPO / "examples" / "train_buggy.py"]


def _split_into_cells(text: str) -> list[tuple[int, str]]:
    """(first row, text) cells cut at some top-level statements (decorators stay with their def)."""
    import ast

    lines = text.splitlines(keepends=True)
    starts = []
    for i, st in enumerate(ast.parse(text).body):
        first = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", [])])
        if i % 2 == 0:
            starts.append(first)
    cuts = sorted({1, *starts})
    return [(a, "".join(lines[a - 1:b - 1])) for a, b in zip(cuts, cuts[1:] + [len(lines) + 1])]


@pytest.mark.parametrize("py", PY_SOURCES, ids=lambda p: p.parent.name + "/" + p.name)
def test_a_notebook_of_a_py_file_has_the_same_findings_and_fixes(tmp_path: Path, py: Path) -> None:
    """In process (the CLI path is covered above): every rule, every fix, safe and unsafe."""
    from gradlint.linter import lint_fix as apply_fixes
    from gradlint.linter import lint_source
    from gradlint.notebook import fix_notebook, lint_notebook_one
    from gradlint.rules import ALL_RULES

    settings = Settings(selected=frozenset(r.code for r in ALL_RULES))
    text = py.read_text(encoding="utf-8")
    cells, where = [], {}  # where: row of the joined code cells -> (cell, row in cell)
    for k, (_, src) in enumerate(_split_into_cells(text)):
        cells.append(new_markdown_cell(f"part {k}"))
        code = src.rstrip("\n") if k % 2 else src  # cells with and without a final newline
        cells.append(new_code_cell(code))
        for i in range(len(code.splitlines())):
            where[len(where) + 1] = (len(cells), i + 1)
    nb_path = write_nb(tmp_path / "nb.ipynb", cells)
    joined = "".join(c.source if c.source.endswith("\n") else c.source + "\n" for c in cells
                     if c.cell_type == "code")

    res = lint_source(joined, "same.py", settings)
    assert res.error is None and res.diagnostics, "the source should have findings"
    expected = [(d.code, *where[d.location.row], d.location.column) for d in res.diagnostics]
    nb_res, _ = lint_notebook_one(str(nb_path), settings, None)
    assert nb_res.error is None
    assert [(d.code, d.cell, d.location.row, d.location.column) for d in nb_res.diagnostics] == expected

    py_fixed = apply_fixes(joined, "same.py", settings, unsafe=True)
    nb_fixed, _ = fix_notebook(str(nb_path), settings, unsafe=True)
    assert py_fixed.error is None and nb_fixed.error is None, nb_fixed.error
    fixed = nbformat.reads(nb_fixed.source, as_version=4)
    nbformat.validate(fixed)
    assert "".join(c.source if c.source.endswith("\n") else c.source + "\n" for c in fixed.cells
                   if c.cell_type == "code") == py_fixed.source
    assert [c.source for c in fixed.cells if c.cell_type == "markdown"] == [
        c.source for c in cells if c.cell_type == "markdown"]
    assert len(nb_fixed.remaining) == len(py_fixed.remaining)


# ------------------------------------------------------------------------------- robustness


TRICKY_LINES = [
    "import torch", "x = torch.zeros(3, requires_grad=True)", "x += 1", "%time x", "!ls", "files = !ls",
    "y = %env", "x?", "??x", "for i in range(2):", "    %time i", "    !echo \\", "        more",
    "    pass", "s = '''", "%not a magic inside a string", "'''", "z = (1", "  % 2)", "a = [", "!= 3]",
    "# noqa", "", "    ", "if x:", "    x.add_(1)", "%%time", "%%bash", "def f(:", "é = 'ünï'", "\t%magic",
]


def test_any_cell_text_maps_back_to_itself() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    cell = st.lists(st.sampled_from(TRICKY_LINES), max_size=8).map("\n".join)

    @hypothesis.settings(max_examples=150, deadline=None)
    @hypothesis.given(st.lists(st.tuples(cell, st.booleans()), max_size=5))
    def run(cells) -> None:
        raw = json.dumps({"cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": (text.splitlines(keepends=True) if as_list else text)} for text, as_list in cells
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
        nb = parse(raw)
        assert nb.fixed_text(nb.source) == raw
        n_rows = nb.source.count("\n")
        assert len(nb.rows) == n_rows
        for row in range(1, n_rows + 2):
            c, r = nb.locate(row)
            assert 1 <= c <= max(1, len(cells)) and r >= 1
        from gradlint.linter import lint_source

        lint_source(nb.source, "nb.ipynb", GL001)  # never raises

    run()
