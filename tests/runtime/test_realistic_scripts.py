"""Realistic training scripts (tests/runtime/scripts/*.py) run on real PyTorch 2.13 and on the engine, each
all scripts of a backend in one process (tests/runtime/_scripts_runner.py). A script matches when both backends end the same way
(success, or the same exception type and first message line) and print the same `OUT:` lines (facts that
do not depend on random values: shapes, flags, node names). At least 90 % must match; a script that does
not match must have been refused cleanly by the engine (UnsupportedError), never crashed inside it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.py"))
ROOT = Path(__file__).resolve().parents[2]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_all(backend: str) -> list[dict]:
    """All scripts in one process per backend (tests/runtime/_scripts_runner.py)."""
    proc = subprocess.run([sys.executable, "-m", "tests.runtime._scripts_runner", backend, *map(str, SCRIPTS)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def outcomes() -> dict[str, tuple[dict, dict]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        eng, ref = pool.map(run_all, ["engine", "torch"])
    return {s.stem: (e, r) for s, e, r in zip(SCRIPTS, eng, ref)}


def _key(r: dict) -> tuple:
    return (r["status"], r["exception"], r["out"])


@pytest.mark.torch
@pytest.mark.skipif(not HAS_TORCH, reason="needs real PyTorch")
def test_scripts_reach_torchs_outcome():
    assert len(SCRIPTS) >= 20
    results = outcomes()
    lines, matched = [], 0
    for name, (eng, ref) in results.items():
        same = _key(eng) == _key(ref)
        matched += same
        lines.append(f"{'match' if same else 'DIFFER'} {name}: engine {_key(eng)} torch {_key(ref)}")
        if not same:  # the only acceptable miss: a clean refusal
            assert eng["exception"] is not None and eng["exception"][0] == "UnsupportedError", "\n".join(lines)
    print("\n".join(lines))
    print(f"{matched}/{len(results)} scripts reach torch's outcome")
    assert matched >= 0.9 * len(results), "\n".join(lines)


def test_the_set_has_clean_and_failing_scripts():
    texts = {s.stem: s.read_text() for s in SCRIPTS}
    assert sum("OUT:" in t for t in texts.values()) >= 15
    for kind in ("Conv2d", "LSTM", "GRU", "RNN(", "BatchNorm2d", "LayerNorm", "GELU", "create_graph=True",
                 "requires_grad_(False)", "accum", "inference_mode", "retain_graph=True"):
        assert any(kind in t for t in texts.values()), kind
