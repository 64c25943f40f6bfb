"""Write the e2e test's workspace: python make_workspace.py FOLDER. No gradlint.path / gradlint.interpreter:
the server is found through the (stand-in) Python extension's selected environment."""

import json
import sys
from pathlib import Path

root = Path(sys.argv[1])
(root / "pyproject.toml").write_text("[tool.gradlint]\n")
# GL001 on line 3 (fix: wrap in torch.no_grad()), GL003 on line 4 (fix: .detach())
(root / "bug.py").write_text(
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "w += 1\n"
    "y = w.data\n")
# fixed on save (source.fixAll.gradlint): both .data reads become .detach()
(root / "fixall.py").write_text(
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "a = w.data\n"
    "b = w.data * 2\n")


def cell(kind, text):
    c = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
    if kind == "code":
        c.update(execution_count=None, outputs=[])
    return c


nb = {
    "cells": [
        cell("code", "import torch\nw = torch.randn(3, requires_grad=True)\n"),
        cell("markdown", "# Notes\nw += 1 here is prose\n"),
        cell("code", "%timeit w.sum()\nw += 1\n"),  # GL001 after a magic
        cell("code", "def broken(:\n    pass\n"),  # not Python: an error here, the next cell still checked
        cell("code", "z = w.data  # noqa: GL003\nv = w.data\n"),  # GL003 on line 2 only
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
(root / "nb.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
(root / ".vscode").mkdir(exist_ok=True)
(root / ".vscode" / "settings.json").write_text(json.dumps({
    "gradlint.debounce": 100,
    "gradlint.trace.server": "verbose",
    "[python]": {"editor.codeActionsOnSave": {"source.fixAll.gradlint": "explicit"}},
    "notebook.codeActionsOnSave": {"notebook.source.fixAll.gradlint": "explicit"},
}, indent=2) + "\n")
