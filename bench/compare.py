"""Before/after on one machine, interleaved: the in-process lint of the 3,000-line benchmark file and the
editor's edit-to-diagnostics latency, for two code trees (issue 16; a measurement, not a test).

    python bench/compare.py --before /tmp/export-of-old-commit [--after .] [--rounds 4] [--repeat 5]
                            [--edits 10] [--no-lsp]

Each round runs one subprocess per tree (PYTHONPATH set to the tree; the order alternates between
rounds), so both suffer the same load: on a shared machine run it this way rather than comparing two
separate runs. In process: CPU time (`time.process_time`) and wall time of `lint_source` on
`training_file(3000)` (bench/synthetic.py) after one warm-up, and LibCST's parse alone (GC paused) on the
same text; "analysis" is lint CPU minus the parse. Editor: bench/scaling.py's `lsp_latency` (this
tree's copy; the server is the tree's code), debounce 0 and the default. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

IN_PROCESS = r'''
import gc, json, sys, time
sys.path.insert(0, BENCH)
from pathlib import Path
from synthetic import training_file
from gradlint.config import ConfigResolver, Overrides
from gradlint.linter import _big_stack_executor, lint_source, parse_module
settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
src = training_file(3000, True)
findings = len(lint_source(src, "train.py", settings).diagnostics)  # warm-up
cpu, wall = [], []
for _ in range(REPEAT):
    t, w = time.process_time(), time.perf_counter()
    lint_source(src, "train.py", settings)
    cpu.append(time.process_time() - t)
    wall.append(time.perf_counter() - w)
def parse_once():
    gc.disable()
    try:
        t0 = time.process_time()
        parse_module(src)
        return time.process_time() - t0
    finally:
        gc.enable()
parse = [_big_stack_executor().submit(parse_once).result() for _ in range(REPEAT)]
import gradlint
print(json.dumps({"findings": findings, "cpu": cpu, "wall": wall, "parse": parse, "code": gradlint.__file__}))
'''

EDITOR = r'''
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, BENCH)
import scaling
out = {}
with tempfile.TemporaryDirectory() as tmp:
    for debounce in (0, None):
        out[str(debounce)] = scaling.lsp_latency(3000, EDITS, debounce, Path(tmp))
print(json.dumps(out))
'''


def run(code: str, tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # from an empty folder: `python -c` puts the current folder ahead of PYTHONPATH, and a checkout there
    # would be imported for both trees
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                             check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="the old code (e.g. a `git archive` export)")
    ap.add_argument("--after", type=Path, default=HERE.parent)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--no-lsp", action="store_true")
    args = ap.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    bench = repr(str(HERE))
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", file=sys.stderr)
    med = statistics.median

    acc = {name: {"cpu": [], "wall": [], "parse": []} for name in trees}
    for i in range(args.rounds):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            d = run(IN_PROCESS.replace("BENCH", bench).replace("REPEAT", str(args.repeat)), trees[name])
            for k in ("cpu", "wall", "parse"):
                acc[name][k] += d[k]
            assert d["code"].startswith(str(trees[name])), (name, d["code"])  # the tree asked for
            print(f"{name}: {d['findings']} findings, lint CPU min {1000 * min(d['cpu']):.0f} ms, "
                  f"parse min {1000 * min(d['parse']):.0f} ms", file=sys.stderr)
    print(f"In process ({args.rounds} rounds × {args.repeat} runs per tree; load average now "
          f"{os.getloadavg()[0]:.2f}):\n")
    print("| code | lint CPU, min / median (ms) | lint wall, min / median (ms) | parse alone CPU, min / median (ms) "
          "| analysis = CPU − parse, min / median (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, d in acc.items():
        c, w, p = d["cpu"], d["wall"], d["parse"]
        print(f"| {name} | {1000 * min(c):.0f} / {1000 * med(c):.0f} | {1000 * min(w):.0f} / {1000 * med(w):.0f} | "
              f"{1000 * min(p):.0f} / {1000 * med(p):.0f} | {1000 * (min(c) - min(p)):.0f} / "
              f"{1000 * (med(c) - med(p)):.0f} |")

    if not args.no_lsp:
        rows: dict[tuple[str, str], list[dict]] = {(n, d): [] for n in trees for d in ("0", "None")}
        for i in range(max(1, args.rounds // 2)):
            for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
                d = run(EDITOR.replace("BENCH", bench).replace("EDITS", str(args.edits)), trees[name])
                for debounce, r in d.items():
                    rows[(name, debounce)].append(r)
                    print(f"{name} debounce {debounce}: median {r['median_ms']:.0f} ms, server CPU {r['cpu_ms']}",
                          file=sys.stderr)
        print(f"\nEditor ({max(1, args.rounds // 2)} rounds × {args.edits} edits per tree; load average now "
              f"{os.getloadavg()[0]:.2f}):\n")
        print("| code | debounce | edit → diagnostics, median (ms) | min (ms) | server CPU per edit, median (ms) |")
        print("|---|---|---:|---:|---:|")
        for (name, debounce), rs in rows.items():
            cpus = [r["cpu_ms"] for r in rs if r["cpu_ms"] is not None]
            cpu = f"{med(cpus):.0f}" if cpus else "n/a"
            print(f"| {name} | {'0 ms' if debounce == '0' else 'default (250 ms)'} | "
                  f"{med(r['median_ms'] for r in rs):.0f} | {min(r['min_ms'] for r in rs):.0f} | {cpu} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
