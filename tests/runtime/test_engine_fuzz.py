"""The differential fuzzer's tiers: random programs (tests/runtime/_fuzz.py) on the engine and on real
PyTorch 2.13, compared strictly (exception type and message, values, grads, is_leaf, requires_grad,
grad_fn name, _version, training flags).

- fixed-seed tier: 2,000 programs, in batches (one process per batch and backend), in CI;
- slow tier: 20,000 more programs, run only with GRADLINT_FUZZ_SLOW=1 (`-m slow` selects it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from . import _fuzz

ROOT = Path(__file__).resolve().parents[2]
BATCH = 500


def _torch_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    except Exception:  # noqa: BLE001
        return False


needs_torch = pytest.mark.skipif(not _torch_available(), reason="needs real PyTorch")


def _run(backend: str, programs: list[str]) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "tests.runtime._fuzz", backend], input=json.dumps(programs),
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def differential(seeds: range) -> tuple[int, list[tuple[int, str]]]:
    programs = [_fuzz.generate(s) for s in seeds]
    batches = [programs[i : i + BATCH] for i in range(0, len(programs), BATCH)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        eng = pool.map(lambda b: _run("engine", b), batches)
        ref = pool.map(lambda b: _run("torch", b), batches)
        engine_out = [r for batch in eng for r in batch]
        torch_out = [r for batch in ref for r in batch]
    bad = []
    for seed, a, b in zip(seeds, engine_out, torch_out):
        diff = _fuzz.compare(a, b)
        if diff is not None:
            bad.append((seed, diff[:400]))
    return len(programs), bad


def _report(n: int, bad: list[tuple[int, str]]) -> str:
    return f"{n - len(bad)}/{n} programs agree ({100 * (n - len(bad)) / n:.2f} %)\n" + "\n".join(
        f"seed {s}: {d}" for s, d in bad)


@needs_torch
@pytest.mark.torch
def test_fixed_seed_tier_agrees_with_torch():
    n, bad = differential(range(2000))
    print(_report(n, bad))
    assert n == 2000
    assert len(bad) <= n // 100, _report(n, bad)


@needs_torch
@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GRADLINT_FUZZ_SLOW") != "1", reason="slow fuzz tier: set GRADLINT_FUZZ_SLOW=1")
def test_slow_tier_agrees_with_torch():
    n, bad = differential(range(100_000, 120_000))
    print(_report(n, bad))
    assert len(bad) <= n // 100, _report(n, bad)


def test_generator_is_deterministic_and_varied():
    assert _fuzz.generate(7) == _fuzz.generate(7)
    programs = {_fuzz.generate(s) for s in range(200)}
    assert len(programs) == 200
    text = "".join(programs)
    for feature in ("no_grad", "inference_mode", "enable_grad", ".backward(", "autograd.grad", "retain_graph=True",
                    ".data", ".detach()", "retain_grad", "opt.step()", "m.eval()", "yield", "_(", "inputs=["):
        assert feature in text, feature


def test_compare_notices_each_kind_of_difference():
    import gradlint.runtime as engine

    base = _fuzz.run_program(engine, "x = T.tensor([1.0, 2.0], requires_grad=True)\ny = x * 2\nobs('y', y)\n")
    assert _fuzz.compare(base, base) is None
    for src in ("x = T.tensor([1.0, 2.5], requires_grad=True)\ny = x * 2\nobs('y', y)\n",  # value
                "x = T.tensor([1.0, 2.0], requires_grad=True)\ny = x + x\nobs('y', y)\n",  # grad_fn name
                "x = T.tensor([1.0, 2.0], requires_grad=False)\ny = x * 2\nobs('y', y)\n",  # requires_grad
                "x = T.tensor([1.0, 2.0], requires_grad=True)\ny = x * 2\ny.add_(0)\nobs('y', y)\n",  # version
                "x = T.tensor([1.0, 2.0], requires_grad=True)\ny = x * 2\nx.add_(1)\nobs('y', y)\n"):  # error
        other = _fuzz.run_program(engine, src)
        assert _fuzz.compare(base, other) is not None, src
