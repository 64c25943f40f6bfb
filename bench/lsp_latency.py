"""How long from an edit to fresh diagnostics in the editor? (issue 16 item 8; a measurement, not a test)

    python bench/lsp_latency.py                    # 3,000 lines, 3 rounds x 8 edits of each kind
    python bench/lsp_latency.py --repeat 5 --edits 10 --lines 3000

The file: bench/synthetic.py's generated training file (~3,000 lines, one GL001 per ~100-line block:
~30 findings). Three kinds of edit, each sent as the editor sends it, then waited for:

- `docstring`: a whole-document `didChange` rewriting the first line's docstring (the edit of
  bench/scaling.py's table);
- `typing`: an incremental `didChange` (a range) appending a character to a line in the middle of the
  file, inside a training function, as typing does (the findings stay);
- `finding`: an incremental `didChange` in the middle of the file that turns a finding's line
  (`p -= lr * p.grad`) into one without a finding and back (the published diagnostics alternate between
  N and N - 1 findings; each is checked against a fresh in-process lint of the same text).

End to end: `gradlint lsp` in a subprocess over stdio (bench/scaling.py's RawClient); each latency is the
wall time from writing the `didChange` to reading the `publishDiagnostics` of that version; the server's
CPU time over the same span comes from /proc (less sensitive to a loaded machine than wall time). Run
with the debounce set to 0 (analysis + transport) and with the default debounce. Each `--repeat` round
starts a new server. Analysis only: the same edits linted in this process the way the server lints them
(`WorkspaceProjects.lint` with a per-document `IncrementalParser`), CPU time per edit; and the same with
a full parse per edit (the server before the incremental parse).

Prints Markdown tables (median and p90 over every edit of every round) and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling import RawClient, p90  # noqa: E402
from synthetic import training_file  # noqa: E402

KINDS = ("docstring", "typing", "finding")


def _middle_line(src: str, needle: str) -> int:
    """The 0-based line of the occurrence of `needle` nearest the middle of the file."""
    lines = src.split("\n")
    hits = [k for k, line in enumerate(lines) if needle in line]
    return min(hits, key=lambda k: abs(k - len(lines) // 2))


def edits(src: str, kind: str, count: int):
    """Yield (text after the edit, LSP contentChanges) for `count` edits of `kind`, each on the previous."""
    text = src
    if kind == "docstring":
        for i in range(count):
            new = src.replace("(gradlint benchmark)", f"(gradlint benchmark, edit {i})", 1)
            yield new, [{"text": new}]
        return
    if kind == "typing":
        row = _middle_line(src, "running += loss.item()")
        for i in range(count):
            lines = text.split("\n")
            col = len(lines[row])
            piece = "  # " if i == 0 else "x"
            lines[row] += piece
            text = "\n".join(lines)
            yield text, [{"range": {"start": {"line": row, "character": col}, "end": {"line": row, "character": col}},
                          "text": piece}]
        return
    row = _middle_line(src, "p -= lr * p.grad")
    bad, good = "p -= lr * p.grad", "q = lr * p.grad"
    for i in range(count):
        lines = text.split("\n")
        old_line = lines[row]
        new_line = old_line.replace(bad, good) if bad in old_line else old_line.replace(good, bad)
        lines[row] = new_line
        text = "\n".join(lines)
        yield text, [{"range": {"start": {"line": row, "character": 0},
                                "end": {"line": row, "character": len(old_line)}}, "text": new_line}]


def fresh_ranges(text: str, settings) -> list[tuple[int, int, int, int, str]]:
    from gradlint.linter import lint_source

    return sorted((d.location.row - 1, d.location.column - 1, d.end_location.row - 1, d.end_location.column - 1, d.code)
                  for d in lint_source(text, "train.py", settings).diagnostics)


def server_round(src: str, kind: str, count: int, debounce_ms: int | None, folder: Path, settings,
                 check: bool, server_path: str | None = None) -> tuple[list[float], list[float]]:
    path = folder / "train.py"
    path.write_text(src)
    uri = path.as_uri()
    env = None
    if server_path:  # another tree's server (e.g. an export of an older commit), same Python
        env = dict(os.environ, PYTHONPATH=server_path)
    client = RawClient([sys.executable, "-m", "gradlint", "lsp"], folder, env)
    walls, cpus = [], []
    try:
        client.open_session(folder, uri, src, debounce_ms)
        time.sleep(1.0)  # (the server prepares the incremental parse after the first diagnostics)
        for i, (text, changes) in enumerate(edits(src, kind, count)):
            version = i + 2
            cpu0 = client.cpu_seconds()
            start = time.perf_counter()
            client.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": version}, "contentChanges": changes}})
            got = client.wait_publish(version)
            walls.append(time.perf_counter() - start)
            cpu1 = client.cpu_seconds()
            if cpu0 is not None and cpu1 is not None:
                cpus.append(cpu1 - cpu0)
            if check:
                published = sorted((d["range"]["start"]["line"], d["range"]["start"]["character"],
                                    d["range"]["end"]["line"], d["range"]["end"]["character"], d["code"])
                                   for d in got["diagnostics"])
                assert published == fresh_ranges(text, settings), f"{kind} edit {i}: diagnostics differ"
            time.sleep(0.05)  # (a pause between edits, as between keystrokes that each wait for diagnostics)
    finally:
        client.close()
    return walls, cpus


def analysis_only(src: str, kind: str, count: int, settings, incremental: bool, folder: Path) -> list[float]:
    from gradlint.config import ConfigResolver, Overrides
    from gradlint.incremental import IncrementalParser
    from gradlint.lsp_project import WorkspaceProjects

    path = folder / "train.py"
    path.write_text(src)
    resolver = ConfigResolver(None, Overrides())
    projects = WorkspaceProjects()
    parser = IncrementalParser()
    parse = parser if incremental else None
    projects.lint(src, str(path), settings, resolver, parse)  # the open
    if incremental:
        parser.prepare()
    out = []
    for text, _ in edits(src, kind, count):
        t0 = time.process_time()
        projects.lint(text, str(path), settings, resolver, parse)
        out.append(time.process_time() - t0)
    return out


def _stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return 1000 * statistics.median(ordered), 1000 * p90(ordered)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds (a new server each)")
    ap.add_argument("--edits", type=int, default=8, help="edits of each kind per round")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--no-check", action="store_true", help="skip comparing published diagnostics with a fresh lint")
    ap.add_argument("--no-analysis", action="store_true", help="the server rounds only")
    ap.add_argument("--server-path", help="PYTHONPATH of the server process (another tree: a before/after run)")
    ap.add_argument("--debounces", default="0,default", help="debounce settings to run (ms, or 'default')")
    args = ap.parse_args(argv)
    from gradlint.config import ConfigResolver, Overrides
    from gradlint.lsp import DEFAULT_DEBOUNCE_MS

    kinds = [k for k in args.kinds.split(",") if k]
    src = training_file(args.lines, True)
    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    findings = len(fresh_ranges(src, settings))
    load0 = os.getloadavg()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; {os.cpu_count()} CPUs", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in kinds:
            for label, incremental in () if args.no_analysis else (("incremental parse (the server)", True),
                                                                   ("full parse per edit", False)):
                cpu: list[float] = []
                for _ in range(args.repeat):
                    cpu += analysis_only(src, kind, args.edits, settings, incremental, folder)
                rows.append(("analysis", kind, label, cpu, None))
                print(f"analysis {kind} {label}: {_stats(cpu)}", file=sys.stderr)
            for debounce in [None if d == "default" else int(d) for d in args.debounces.split(",") if d]:
                walls: list[float] = []
                cpus: list[float] = []
                for _ in range(args.repeat):
                    w, c = server_round(src, kind, args.edits, debounce, folder, settings, not args.no_check,
                                        args.server_path)
                    walls += w
                    cpus += c
                label = f"{debounce} ms" if debounce is not None else f"default ({DEFAULT_DEBOUNCE_MS} ms)"
                if args.server_path:
                    label += f" (server from {args.server_path})"
                rows.append(("server", kind, label, walls, cpus))
                print(f"server {kind} {label}: {_stats(walls)} cpu {_stats(cpus) if cpus else None}", file=sys.stderr)
    load1 = os.getloadavg()
    lines = src.count("\n")
    print(f"{lines:,}-line file, {findings} findings; {args.repeat} rounds x {args.edits} edits of each kind; "
          f"load average (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}; {os.cpu_count()} CPUs\n")
    print("| edit | analysis in process | CPU per edit, median (ms) | p90 (ms) |")
    print("|---|---|---:|---:|")
    for what, kind, label, values, _ in rows:
        if what == "analysis":
            med, p90 = _stats(values)
            print(f"| {kind} | {label} | {med:.0f} | {p90:.0f} |")
    print()
    print("| edit | debounce | edit → diagnostics, median (ms) | p90 (ms) | server CPU per edit, median (ms) | p90 (ms) |")
    print("|---|---|---:|---:|---:|---:|")
    for what, kind, label, values, cpus in rows:
        if what == "server":
            med, p90 = _stats(values)
            cmed, cp90 = _stats(cpus) if cpus else (float("nan"), float("nan"))
            print(f"| {kind} | {label} | {med:.0f} | {p90:.0f} | {cmed:.0f} | {cp90:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
