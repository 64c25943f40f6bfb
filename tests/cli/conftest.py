"""Helpers for the command-line tests: a CliRunner in a chosen folder, file writing, fake rules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradlint.cli import main

# GL001 at 3:1 (in-place on a leaf that requires grad).
BAD = "import torch\nw = torch.randn(3, requires_grad=True)\nw += 1\n"
# GL001 at 3:1 and GL003 at 5:5.
BAD_TWO = (
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "w += 1\n"
    "for p in model.parameters():\n"
    "    p.data.add_(p.grad, alpha=-0.1)\n"
)
CLEAN = "import torch\nx = torch.randn(3)\nx += 1\n"

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()


@pytest.fixture
def gl(monkeypatch):
    """gl(*args, cwd=path, env={...}) -> Result; runs `gradlint` in-process, never uses the cache."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, cache: bool = False) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        argv = list(args)
        if argv and argv[0] == "check" and not cache:
            argv.insert(1, "--no-cache")
        res = CliRunner().invoke(main, argv, env=env)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        return Result(res.exit_code, res.stdout, res.stderr, res.exception)

    return run


def write(root: Path, name: str, text: str | bytes) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_bytes(text.encode("utf-8"))
    return p
