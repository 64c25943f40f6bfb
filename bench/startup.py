"""Start-up benchmark: what a user waits for before any real work — gradlint against ruff.

    python bench/startup.py                      # writes docs/startup.md
    python bench/startup.py --repeat 5 --output -  # print the page instead

Rows, each a fresh subprocess, repeated `--repeat` times (median wall time reported; CPU time and peak
RSS from `os.wait4`, as bench/run.py measures):

- `gradlint --version` and `ruff --version`: interpreter (or binary) start and the CLI's imports;
- `gradlint rules` and `gradlint explain GL001` (they read the rule catalogue, never LibCST);
- a pre-commit-like run on three files with a warm cache — `gradlint check --force-exclude a.py b.py c.py`
  after one untimed run filled the cache (gradlint's `.gradlint_cache`), against `ruff check
  --force-exclude` on the same three files with its cache filled the same way;
- the same gradlint run without the cache (`--no-cache`), for scale: the parse and analysis of three files.

The three files are `examples/train_buggy.py`, `examples/train_fixed.py` and a copy of the buggy one
with its findings fixed in other ways, in a throw-away git project (as pre-commit runs it). ruff is
installed into bench/.venvs/ruff as bench/run.py does; gradlint is the one of the running Python.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RUFF, Run, measure, venv_tool  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
THIRD = '''import torch

model = torch.nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    opt.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    opt.step()
'''


def timed(name: str, cmd: list[str], repeat: int, cwd: Path, env: dict[str, str]) -> Run:
    run = Run(name, 3)
    measure(cmd, env=env, cwd=cwd)  # one untimed run: the OS file cache is warm for every row alike
    for _ in range(repeat):
        wall, cpu, rss, rc = measure(cmd, env=env, cwd=cwd)
        run.walls.append(wall)
        run.cpu.append(cpu)
        run.rss_kb = max(run.rss_kb, rss)
        run.returncodes.append(rc)
    print(f"{name:<60} {run.wall * 1000:8.0f} ms  (runs: {', '.join(f'{w * 1000:.0f}' for w in run.walls)})",
          file=sys.stderr)
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per row (median reported)")
    ap.add_argument("--output", default=str(REPO / "docs" / "startup.md"), help="the page to write (- for stdout)")
    ap.add_argument("--skip-ruff", action="store_true")
    ap.add_argument("--gradlint", default=None,
                    help="the gradlint command to time (default: this Python's console script), e.g. "
                         "\"python -m gradlint\" with PYTHONPATH set to another checkout, for a before/after")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gradlint-startup-"))
    try:
        files = {"a.py": (REPO / "examples" / "train_buggy.py").read_text(),
                 "b.py": (REPO / "examples" / "train_fixed.py").read_text(), "c.py": THIRD}
        for name, text in files.items():
            (work / name).write_text(text)
        subprocess.run(["git", "init", "-q"], cwd=work, check=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADLINT_", "RUFF_"))}
        gl = [sys.executable, "-m", "gradlint"]
        script = Path(sys.executable).parent / "gradlint"
        if script.exists():
            gl = [str(script)]  # the console script, as pre-commit and users run it
        if args.gradlint:
            gl = args.gradlint.split()
        three = ["a.py", "b.py", "c.py"]
        rows: list[Run] = []
        rows.append(timed("gradlint --version", [*gl, "--version"], args.repeat, work, env))
        rows.append(timed("gradlint rules", [*gl, "rules"], args.repeat, work, env))
        rows.append(timed("gradlint explain GL001", [*gl, "explain", "GL001"], args.repeat, work, env))
        check = [*gl, "check", "--force-exclude", *three]
        measure(check, env=env, cwd=work)  # fill the cache
        rows.append(timed("gradlint check, 3 files, warm cache (pre-commit-like)", check, args.repeat, work, env))
        rows.append(timed("gradlint check, 3 files, --no-cache", [*gl, "check", "--no-cache", *three],
                          args.repeat, work, env))
        ruff_version = None
        if not args.skip_ruff:
            ruff = venv_tool("ruff", RUFF, "ruff")
            ruff_version = subprocess.run([str(ruff), "--version"], capture_output=True, text=True).stdout.split()[-1]
            rows.append(timed("ruff --version", [str(ruff), "--version"], args.repeat, work, env))
            rcheck = [str(ruff), "check", "--force-exclude", "--exit-zero", *three]
            measure(rcheck, env=env, cwd=work)  # fill ruff's cache
            rows.append(timed("ruff check, 3 files, warm cache (pre-commit-like)", rcheck, args.repeat, work, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = ["# Start-up", "",
           "Measured with `python bench/startup.py`; regenerate this page with it.",
           "", "## Conditions", "",
           f"- {platform.platform()}, Python {platform.python_version()}, {cores} cores, "
           f"load average {load:.2f} when the runs ended"
           + (" (**busy machine: not representative**)" if cores and load > 0.25 * cores else ""),
           f"- each row: median of {args.repeat} fresh processes (after one untimed run); gradlint command "
           f"`{' '.join(Path(gl[0]).name if i == 0 else a for i, a in enumerate(gl))}`; "
           f"ruff {ruff_version or 'not measured'}",
           "", "## Results", "", "| run | wall (ms) | CPU (ms) | peak RSS (MB) | exit |", "|---|---:|---:|---:|---|"]
    for r in rows:
        codes = sorted(set(r.returncodes))
        out.append(f"| {r.name} | {r.wall * 1000:.0f} | {statistics.median(r.cpu) * 1000:.0f} | {r.rss_mb:.0f} | "
                   f"{', '.join(map(str, codes))} |")
    out += ["", "The warm gradlint run reads three cache entries and never imports LibCST (nor do `--version`, "
            "`rules` and `explain`: tests/cli/test_tiers_and_ruff_habits.py checks it); exit 1 is \"findings\"."]
    page = "\n".join(out) + "\n"
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
