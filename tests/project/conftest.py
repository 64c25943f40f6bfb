"""Helpers for the project-wide tests: multi-file trees in tmp folders."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import gl  # noqa: F401  (the in-process CLI fixture)


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> text) under root, with a project marker; return root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "setup.py").write_text("", encoding="utf-8")
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def notebook(cells: list[str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c}
                  for c in cells],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5})


def findings(res) -> list[tuple[str, int, str]]:
    """(file, row, code) of each finding of a `check --output-format json` run."""
    import os

    data = json.loads(res.stdout)
    return sorted((os.path.relpath(d["filename"]).replace(os.sep, "/"), d["location"]["row"], d["code"])
                  for d in data)
