"""The benchmark harness: gradlint against the LibCST parse floor, TorchFix and ruff, on the same files.

    python bench/corpus.py                     # once: the pinned corpus into bench/corpus/
    python bench/run.py                        # every run below, writes docs/performance.md
    python bench/run.py --torchfix-subset 300  # TorchFix on 300 of the files (it is slow), extrapolated
    python bench/run.py --limit 200 --repeat 1 --output /tmp/perf.md   # a quick check of the harness
    python bench/run.py --trees transformers --only warm --repeat 5     # some rows only (--only GROUPS)

Runs, each a fresh subprocess on the same list of files (named explicitly on the command line, so no
tool's discovery or excludes change what is checked):

- gradlint cold, one process (`--no-cache --jobs 1`); the same with `--no-project` (each file alone), for the
  cost of project-wide analysis (the default)
- gradlint cold, all cores (`--no-cache --jobs 0`), and `--jobs 2` when the machine has more than 2 cores
- gradlint warm: the cache filled by untimed runs, then timed runs that hit it (default jobs), over
  the whole corpus and over the transformers tree alone (as a project, the default, and `--no-project`);
  an unchanged tree is answered from the run index (gradlint/runindex.py)
- a bare `libcst.parse_module` loop over every file, and over the files that pass gradlint's prefilter
  (the floor for any LibCST tool: read, decode, parse; nothing else)
- TorchFix 0.7.0, one process (`-j 1`), in its own virtual environment under bench/.venvs/ (it pins an
  older libcst); with `--torchfix-subset N` on N files spread evenly over the corpus, with gradlint timed
  on the same N files for the ratio, and the full-corpus time extrapolated (and labelled so)
- ruff (a reference point: a Rust linter with different rules), one thread and all threads
- the editor path: `lint_source` on one ~3,000-line real file, in-process, after warm-up

Wall time is `time.perf_counter` around the subprocess; CPU time and peak RSS come from `os.wait4`'s
rusage of that subprocess (peak RSS is the largest single process of the run: the parent or any one
pool worker, i.e. "per worker"). Each run is repeated `--repeat` times and the median wall time is
reported. The machine's load average is recorded before and after: numbers from a loaded machine are
not representative, and the page says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
TREES = ("torchvision", "timm", "transformers")
TORCHFIX = "torchfix==0.7.0"
RUFF = "ruff==0.17.5"

# Targets (issue 7).
TARGET_VS_TORCHFIX = 20.0        # cold single process at least 20x faster than TorchFix
TARGET_VS_PARSE = 1.3            # and within 1.3x of the bare LibCST parse loop
TARGET_WARM_TRANSFORMERS_S = 1.0  # warm cache over the transformers tree
TARGET_JOBS2_SPEEDUP = 1.8       # --jobs 2 on 2 cores vs one process
TARGET_RSS_MB = 250.0            # peak memory per worker
TARGET_EDITOR_MS = 250.0         # re-linting a 3,000-line file in-process
TARGET_PROJECT_OVERHEAD = 0.15   # project-wide analysis (the default) over each file alone (--no-project), cold
GROUPS = ("cold", "jobs", "warm", "parse", "torchfix", "ruff", "editor")


# ----------------------------------------------------------------------------- measuring


@dataclass
class Run:
    name: str
    files: int
    walls: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kb: int = 0
    returncodes: list[int] = field(default_factory=list)
    note: str = ""
    extrapolated_wall: float | None = None

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def files_per_s(self) -> float:
        return self.files / self.wall if self.wall > 0 else float("inf")

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            log: Path | None = None) -> tuple[float, float, int, int]:
    """Run cmd once: (wall s, user+sys CPU s, peak RSS kB of its largest process, exit status)."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    finally:
        if log:
            out.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def timed(name: str, cmd: list[str], n_files: int, repeat: int, *, ok=(0,), env=None, cwd=None,
          logdir: Path, note: str = "") -> Run:
    run = Run(name, n_files, note=note)
    for i in range(repeat):
        log = logdir / f"{_slug(name)}.{i}.log"
        wall, cpu, rss, rc = measure(cmd, env=env, cwd=cwd, log=log)
        run.walls.append(wall)
        run.cpu.append(cpu)
        run.rss_kb = max(run.rss_kb, rss)
        run.returncodes.append(rc)
        if rc not in ok:
            tail = log.read_text(errors="replace")[-2000:]
            print(f"!! {name}: exit status {rc} (expected {ok}); output tail:\n{tail}", file=sys.stderr)
    print(f"{name:<58} {run.wall:8.2f} s  {run.files_per_s:8.0f} files/s  {run.rss_mb:6.0f} MB  "
          f"(runs: {', '.join(f'{w:.2f}' for w in run.walls)})", file=sys.stderr)
    return run


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:60]


# ----------------------------------------------------------------------------- tools


def venv_tool(name: str, requirement: str, exe: str) -> Path:
    """bench/.venvs/<name>/bin/<exe>, creating the venv and installing `requirement` if needed."""
    venv = VENVS / name
    py = venv / "bin" / "python"
    tool = venv / "bin" / exe
    wanted = requirement.partition("==")[2]
    if py.exists():
        have = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
                              capture_output=True, text=True).stdout.strip()
        if have == wanted and tool.exists():
            return tool
    print(f"+ setting up {venv} with {requirement}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement], check=True)
    return tool


def venv_version(tool_dir: Path, dist: str) -> str:
    py = tool_dir / "python"
    res = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
                         capture_output=True, text=True)
    return res.stdout.strip() or "?"


PARSE_LOOP = r'''
import sys, threading, tokenize, io
import libcst
paths = open(sys.argv[1], encoding="utf-8").read().splitlines()
failed = 0
def work():
    global failed
    for p in paths:
        data = open(p, "rb").read()
        try:
            enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            text = data.decode("utf-8-sig" if enc == "utf-8" else enc)
            libcst.parse_module(text)
        except Exception:
            failed += 1
threading.stack_size(512 * 1024 * 1024)  # as gradlint parses: on a big-stack thread
t = threading.Thread(target=work)
t.start(); t.join()
print(f"parsed {len(paths) - failed} files, {failed} failed")
'''

# The same loop with gradlint's own parse (gradlint.linter.parse_module: the parser's nodes are not re-validated,
# and the cyclic GC is paused for each file): the part of gradlint's time that is parsing.
GRADLINT_PARSE_LOOP = PARSE_LOOP.replace("import libcst\n", "import gc, libcst\nfrom gradlint.linter import parse_module\n").replace(
    "            libcst.parse_module(text)\n",
    "            gc.disable()\n            parse_module(text)\n            gc.enable()\n")
assert "gc.disable()" in GRADLINT_PARSE_LOOP and "from gradlint" in GRADLINT_PARSE_LOOP, "PARSE_LOOP changed"

EDITOR = r'''
import json, statistics, sys, time
from gradlint.config import default_codes
from gradlint.linter import lint_source
from gradlint.settings import Settings
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
settings = Settings(selected=frozenset(default_codes()))
for _ in range(3):
    lint_source(text, path, settings)
times, cpu = [], []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    res = lint_source(text, path, settings)
    times.append((time.perf_counter() - t) * 1000)
    cpu.append(time.process_time())
times.sort()
print(json.dumps({"median_ms": statistics.median(times), "p90_ms": times[int(len(times) * 0.9) - 1],
                  "max_ms": times[-1], "min_ms": times[0], "findings": len(res.diagnostics),
                  "error": res.error.reason if res.error else None, "runs": len(times),
                  "cpu_ms_per_call": (cpu[-1] - cpu[0]) * 1000 / max(1, len(cpu) - 1)}))
'''


# ----------------------------------------------------------------------------- corpus


def corpus_files(root: Path, trees: list[str]) -> dict[str, list[Path]]:
    out = {}
    for t in trees:
        folder = root / t
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: build the corpus first (python bench/corpus.py)")
        out[t] = sorted(folder.rglob("*.py"))
    return out


def spread(files: list[Path], n: int) -> list[Path]:
    """n files spread evenly over the (sorted) list: every (len/n)-th file."""
    if n <= 0 or n >= len(files):
        return list(files)
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def read_text(path: Path) -> str | None:
    try:
        from gradlint.source import read_source

        return read_source(str(path))
    except Exception:
        return None


def pick_editor_file(files: list[Path], settings, target_lines: int = 3000) -> Path | None:
    """The real file closest to `target_lines` lines (at least 80% of it) that gradlint would parse."""
    from gradlint.linter import could_fire

    best = None
    for p in files:
        text = read_text(p)
        if text is None or not could_fire(text, settings):
            continue
        n = text.count("\n")
        if n < target_lines * 0.8:
            continue
        score = abs(n - target_lines)
        if best is None or score < best[0]:
            best = (score, p, n)
    return best[1] if best else None


# ----------------------------------------------------------------------------- report


def conditions(load_before, load_after, args, versions: dict[str, str], corpus: dict) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu}, {cores} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}",
        f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- repeats per run: {args.repeat} (median wall time shown)",
        "- corpus: " + "; ".join(f"{t} {c['version']} ({c['files']} files, {c['lines']:,} lines)"
                                  for t, c in corpus.items()),
    ]
    return lines


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def markdown(runs: list[Run], targets: list[tuple[str, str, bool | None]], cond: list[str], notes: list[str],
             editor: dict | None, loaded: bool, base: Run | None) -> str:
    out = ["# Performance", "",
           "Measured with `python bench/run.py` (see `bench/README.md`); regenerate this page with it.", ""]
    if loaded:
        out += ["> **Not representative:** the machine was busy with other work while this ran (see the load "
                "average below). Re-run on an idle machine for numbers to quote.", ""]
    out += ["## Conditions", "", *cond, "", "## Results", "",
            f"| run | files | wall (s) | files/s | CPU (s) | peak RSS (MB) | time per file vs "
            f"{base.name if base is not None else 'gradlint cold, 1 process'} |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        # per file, so runs over different numbers of files compare (TorchFix's subset, one tree)
        ratio = base.files_per_s / r.files_per_s if r.files_per_s and base is not None else float("nan")
        name = r.name + (f" ({r.note})" if r.note else "")
        out.append(f"| {name} | {r.files} | {fmt_s(r.wall)} | {r.files_per_s:,.0f} | "
                   f"{fmt_s(statistics.median(r.cpu))} | {r.rss_mb:.0f} | {ratio:.2f}× |")
    if editor:
        out += ["", "## Editor path", "",
                f"`lint_source` on `{editor['file']}` ({editor['lines']:,} lines, {editor['findings']} findings), "
                f"in one process after 3 warm-up calls, {editor['runs']} timed calls: median "
                f"**{editor['median_ms']:.1f} ms**, p90 {editor['p90_ms']:.1f} ms, max {editor['max_ms']:.1f} ms "
                f"(CPU time ≈ {editor['cpu_ms_per_call']:.1f} ms per call)."]
    out += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for what, measured, met in targets:
        out.append(f"| {what} | {measured} | {'yes' if met else 'no' if met is not None else 'n/a'} |")
    if notes:
        out += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=BENCH / "corpus", help="corpus folder (bench/corpus)")
    ap.add_argument("--trees", default=",".join(TREES), help="comma-separated trees of the corpus to use")
    ap.add_argument("--limit", type=int, default=0, help="use only this many files, spread over the corpus "
                                                         "(a quick check of the harness; 0 = all)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (median reported)")
    ap.add_argument("--torchfix-subset", type=int, default=0,
                    help="time TorchFix on this many files spread over the corpus and extrapolate (0 = all files)")
    ap.add_argument("--torchfix-repeat", type=int, default=1, help="timed TorchFix runs (default 1: it is slow)")
    ap.add_argument("--skip-torchfix", action="store_true")
    ap.add_argument("--skip-ruff", action="store_true")
    ap.add_argument("--editor-file", type=Path, default=None, help="file for the editor-path measurement "
                                                                   "(default: the corpus file closest to 3,000 lines)")
    ap.add_argument("--editor-runs", type=int, default=20)
    ap.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                    help="markdown page to write (default docs/performance.md; '-' for stdout)")
    ap.add_argument("--json", type=Path, default=None, help="also write every measurement as JSON here")
    ap.add_argument("--keep-logs", type=Path, default=None, help="keep each run's output in this folder")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated groups of runs to measure (default all: {','.join(GROUPS)}); "
                         "e.g. `--only warm` for the warm rows alone")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="cache folder for the warm runs (default: a new one, filled by an untimed cold run; an "
                         "already filled one makes that run short)")
    args = ap.parse_args(argv)
    only = {g for g in args.only.split(",") if g}
    if only - set(GROUPS):
        ap.error(f"--only: unknown group(s) {', '.join(sorted(only - set(GROUPS)))}")
    if "torchfix" not in only:
        args.skip_torchfix = True
    if "ruff" not in only:
        args.skip_ruff = True

    sys.path.insert(0, str(REPO))
    import gradlint
    from gradlint.config import default_codes
    from gradlint.linter import could_fire
    from gradlint.settings import Settings

    trees = [t for t in args.trees.split(",") if t]
    by_tree = corpus_files(args.corpus, trees)
    manifest_path = args.corpus / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    files = [p for t in trees for p in by_tree[t]]
    if args.limit:
        files = spread(files, args.limit)
    chosen = set(files)
    corpus_info = {}
    for t in trees:
        mine = [p for p in by_tree[t] if p in chosen]
        lines = sum((read_text(p) or "").count("\n") for p in mine)
        corpus_info[t] = {"version": manifest.get(t, {}).get("version", "?"), "files": len(mine), "lines": lines}

    settings = Settings(selected=frozenset(default_codes()))
    texts = {p: read_text(p) for p in files}
    prefiltered = [p for p in files if texts[p] is not None and could_fire(texts[p], settings)]
    with_torch = [p for p in files if texts[p] is not None and "torch" in texts[p]]
    transformers = [p for p in files if p in set(by_tree.get("transformers", []))]

    work = Path(tempfile.mkdtemp(prefix="gradlint-bench-"))
    logdir = args.keep_logs or work / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    config = work / "gradlint.toml"  # an empty configuration: the defaults, whatever pyproject is nearby
    config.write_text("")
    lists = {}
    for key, group in (("all", files), ("prefiltered", prefiltered)):
        lists[key] = work / f"{key}.txt"
        lists[key].write_text("\n".join(str(p) for p in group) + "\n", encoding="utf-8")
    strs = [str(p) for p in files]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    env = dict(os.environ)
    env.pop("GRADLINT_CACHE_DIR", None)
    env.pop("GRADLINT_OUTPUT_FORMAT", None)
    env["NO_COLOR"] = "1"
    gl = [sys.executable, "-m", "gradlint", "check", "--exit-zero", "--quiet", "--output-format", "concise",
          "--config", str(config), "--no-respect-gitignore"]
    gl_ok = (0, 2)  # 2: some corpus file could not be checked (it is named in the log); still a full run

    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    notes: list[str] = []
    R = args.repeat

    cold1 = alone1 = coldN = cold2 = warm = warm_tf = parse_all = parse_pf = parse_gl = None
    if "cold" in only:
        cold1 = timed("gradlint cold, 1 process", gl + ["--no-cache", "--jobs", "1", *strs], len(files), R,
                      ok=gl_ok, env=env, logdir=logdir)
        runs.append(cold1)
        # project-wide analysis is the default (docs/project.md): its cost over checking each file alone
        alone1 = timed("gradlint cold, 1 process, each file alone (--no-project)",
                       gl + ["--no-cache", "--jobs", "1", "--no-project", *strs], len(files), R, ok=gl_ok, env=env,
                       logdir=logdir)
        runs.append(alone1)
    if "jobs" in only:
        coldN = timed(f"gradlint cold, --jobs {cores} (all cores)", gl + ["--no-cache", "--jobs", str(cores), *strs],
                      len(files), R, ok=gl_ok, env=env, logdir=logdir)
        runs.append(coldN)
        cold2 = coldN if cores == 2 else None
        if cores > 2:
            cold2 = timed("gradlint cold, --jobs 2", gl + ["--no-cache", "--jobs", "2", *strs], len(files), R,
                          ok=gl_ok, env=env, logdir=logdir)
            runs.append(cold2)

    if "warm" in only:
        cache = args.cache_dir or work / "cache"
        # fill the cache (untimed): the per-file entries, and the run index of each warm run below
        # (gradlint/runindex.py: one per project root)
        measure(gl + ["--cache-dir", str(cache), *strs], env=env)
        if transformers:
            measure(gl + ["--cache-dir", str(cache)] + [str(p) for p in transformers], env=env)
            measure(gl + ["--cache-dir", str(cache), "--no-project"] + [str(p) for p in transformers], env=env)
        entries = _count_files(cache)
        warm = timed("gradlint warm (cache hit), default jobs", gl + ["--cache-dir", str(cache), *strs],
                     len(files), R, ok=gl_ok, env=env, logdir=logdir)
        runs.append(warm)
        if transformers:
            warm_tf = timed("gradlint warm, transformers tree only", gl + ["--cache-dir", str(cache)]
                            + [str(p) for p in transformers], len(transformers), R, ok=gl_ok, env=env, logdir=logdir)
            runs.append(warm_tf)
            warm_tf1 = timed("gradlint warm, transformers tree only, each file alone (--no-project)",
                             gl + ["--cache-dir", str(cache), "--no-project"] + [str(p) for p in transformers],
                             len(transformers), R, ok=gl_ok, env=env, logdir=logdir)
            runs.append(warm_tf1)
    if "warm" in only and _count_files(cache) != entries:  # a warm run that wrote entries missed the cache: not a warm number
        notes.append(f"WARNING: the warm runs wrote {_count_files(cache) - entries} new cache entries, so they "
                     f"were not all cache hits (did gradlint's rules or version change during the run?).")
        print("!! the warm runs missed the cache", file=sys.stderr)
    misses = _uncached(files, texts, settings, cache) if "warm" in only else []
    if misses:
        notes.append(
            f"{len(misses)} of the {len(files)} files have no cache entry after the fill run, so every warm run "
            f"lints them again (gradlint does not cache a file that could not be checked, nor, at the time of "
            f"writing, one whose findings carry fixes); the largest: "
            + ", ".join(f"`{_display(p, args.corpus)}`" for p in sorted(misses, key=lambda p: -len(texts[p] or ""))[:5])
            + ".")

    if "parse" in only:
        parse_all = timed("libcst.parse_module loop, every file",
                          [sys.executable, "-c", PARSE_LOOP, str(lists["all"])], len(files), R, env=env, logdir=logdir)
        runs.append(parse_all)
        parse_pf = timed("libcst.parse_module loop, files passing gradlint's prefilter",
                         [sys.executable, "-c", PARSE_LOOP, str(lists["prefiltered"])], len(prefiltered), R,
                         env=env, logdir=logdir)
        runs.append(parse_pf)
        parse_gl = timed("the same loop parsing as gradlint does (no re-validation, GC paused per file)",
                         [sys.executable, "-c", GRADLINT_PARSE_LOOP, str(lists["prefiltered"])], len(prefiltered), R,
                         env=env, logdir=logdir)
        runs.append(parse_gl)

    versions = {"gradlint": gradlint.__version__, "libcst": _dist_version("libcst")}
    tf_run = tf_gl = None
    if not args.skip_torchfix:
        tf = venv_tool("torchfix", TORCHFIX, "torchfix")
        versions["TorchFix"] = venv_version(tf.parent, "torchfix")
        versions["TorchFix's libcst"] = venv_version(tf.parent, "libcst")
        subset = spread(files, args.torchfix_subset) if args.torchfix_subset else files
        sub = [str(p) for p in subset]
        partial = len(subset) < len(files)
        tf_run = timed("TorchFix, 1 process (-j 1)", [str(tf), "-j", "1", *sub], len(subset), args.torchfix_repeat,
                       ok=(0, 1), env=env, logdir=logdir,
                       note=f"timed on {len(subset)} of {len(files)} files" if partial else "")
        checked = re.search(r"Finished checking (\d+) files", (logdir / f"{_slug(tf_run.name)}.0.log")
                            .read_text(errors="replace"))
        notes.append(f"TorchFix reported checking {checked.group(1) if checked else '?'} of the "
                     f"{len(subset)} files it was given (it skips files without `torch`).")
        if partial:
            tf_run.extrapolated_wall = tf_run.wall * len(files) / len(subset)
            tf_gl = timed("gradlint cold, 1 process, on TorchFix's subset", gl + ["--no-cache", "--jobs", "1", *sub],
                          len(subset), R, ok=gl_ok, env=env, logdir=logdir)
            sub_list = Path(tempfile.mkdtemp(prefix="gradlint-bench-subset-")) / "files.txt"
            sub_list.write_text("\n".join(sub) + "\n", encoding="utf-8")
            tf_parse = timed("libcst.parse_module loop, on TorchFix's subset", [sys.executable, "-c", PARSE_LOOP,
                             str(sub_list)], len(subset), R, env=env, logdir=logdir)
            runs += [tf_run, tf_gl, tf_parse]
            notes.append(
                f"On TorchFix's {len(subset)} files the bare parse loop takes {fmt_s(tf_parse.wall)} s, so a LibCST "
                f"tool that only parsed them with `libcst.parse_module` would be {tf_run.wall / tf_parse.wall:.1f}× "
                f"faster than TorchFix there; to be {TARGET_VS_TORCHFIX:.0f}× faster, a tool's whole run on those "
                f"files must take at most {(tf_run.wall / TARGET_VS_TORCHFIX) / tf_parse.wall:.2f}× that parse loop.")
            notes.append(
                f"TorchFix was timed on {len(subset)} of the {len(files)} files (spread evenly over the sorted "
                f"list: 1 file in {len(files) / len(subset):.1f}); scaled by file count its full-corpus "
                f"time would be about {tf_run.extrapolated_wall:.0f} s (an extrapolation, not a measurement). "
                f"The TorchFix ratio in the targets table compares it with gradlint on the same {len(subset)} files.")
        else:
            tf_gl = cold1
            runs.append(tf_run)
    if not args.skip_ruff:
        ruff = venv_tool("ruff", RUFF, "ruff")
        versions["ruff"] = subprocess.run([str(ruff), "--version"], capture_output=True, text=True).stdout.split()[-1]
        rcmd = [str(ruff), "check", "--isolated", "--no-cache", "--exit-zero", "--output-format", "concise", *strs]
        env1 = dict(env, RAYON_NUM_THREADS="1")
        runs.append(timed("ruff (reference, default rules), 1 thread", rcmd, len(files), R, env=env1, logdir=logdir))
        runs.append(timed("ruff (reference, default rules), all threads", rcmd, len(files), R, env=env,
                          logdir=logdir))

    editor = None
    efile = None if "editor" not in only else args.editor_file or pick_editor_file(files if not args.limit else [p for t in trees for p in by_tree[t]],
                                                 settings)
    if efile is not None:
        res = subprocess.run([sys.executable, "-c", EDITOR, str(efile), str(args.editor_runs)], capture_output=True,
                             text=True, env=env)
        if res.returncode == 0:
            editor = json.loads(res.stdout.strip().splitlines()[-1])
            editor["file"] = _display(efile, args.corpus)
            editor["lines"] = (read_text(efile) or "").count("\n")
        else:
            print(f"!! editor-path measurement failed:\n{res.stderr[-2000:]}", file=sys.stderr)
    load_after = os.getloadavg()[0]

    # Targets
    targets: list[tuple[str, str, bool | None]] = []
    if tf_run is not None and tf_gl is not None:
        ratio = tf_run.wall / tf_gl.wall
        targets.append((f"cold, 1 process: ≥{TARGET_VS_TORCHFIX:.0f}× faster than TorchFix",
                        f"{ratio:.1f}× ({fmt_s(tf_run.wall)} s vs {fmt_s(tf_gl.wall)} s on {tf_run.files} files; "
                        f"CPU time: {_cpu(tf_run) / _cpu(tf_gl):.1f}×)",
                        ratio >= TARGET_VS_TORCHFIX))
    if cold1 is not None and parse_all is not None:
        ratio = cold1.wall / parse_all.wall
        targets.append((f"cold, 1 process: within {TARGET_VS_PARSE}× of the bare parse loop (every file)",
                        f"{ratio:.2f}× ({fmt_s(cold1.wall)} s vs {fmt_s(parse_all.wall)} s; CPU time: "
                        f"{_cpu(cold1) / _cpu(parse_all):.2f}×)", ratio <= TARGET_VS_PARSE))
    if warm_tf is not None:
        targets.append((f"warm cache, transformers tree ({warm_tf.files} files): < {TARGET_WARM_TRANSFORMERS_S:.0f} s",
                        f"{warm_tf.wall:.3f} s (CPU {_cpu(warm_tf):.3f} s)", warm_tf.wall < TARGET_WARM_TRANSFORMERS_S))
    if cold2 is not None and cold1 is not None:
        speed = cold1.wall / cold2.wall
        targets.append((f"`--jobs 2` on 2 cores: ≥{TARGET_JOBS2_SPEEDUP}× the throughput of 1 process",
                        f"{speed:.2f}×" + ("" if cores == 2 else f" (this machine has {cores} cores)"),
                        speed >= TARGET_JOBS2_SPEEDUP))
    elif cores < 2:
        targets.append(("`--jobs 2` on 2 cores: ≥1.8× one process", "not measured (1 core)", None))
    if cold1 is not None and alone1 is not None:
        overhead = _cpu(cold1) / _cpu(alone1) - 1
        targets.append((f"project-wide analysis, cold, 1 process: ≤ {TARGET_PROJECT_OVERHEAD:.0%} CPU over each file "
                        f"alone", f"{overhead:+.1%} (CPU {_cpu(cold1):.1f} s vs {_cpu(alone1):.1f} s; wall "
                        f"{fmt_s(cold1.wall)} s vs {fmt_s(alone1.wall)} s)", overhead <= TARGET_PROJECT_OVERHEAD))
    measured = [r for r in (cold1, coldN, warm) if r is not None]
    if measured:
        rss = max(r.rss_mb for r in measured)
        targets.append((f"peak memory per worker < {TARGET_RSS_MB:.0f} MB", f"{rss:.0f} MB", rss < TARGET_RSS_MB))
    if editor:
        targets.append((f"editor path: re-lint a ~3,000-line file < {TARGET_EDITOR_MS:.0f} ms",
                        f"{editor['median_ms']:.1f} ms median ({editor['lines']:,} lines)",
                        editor["median_ms"] < TARGET_EDITOR_MS))

    if only != set(GROUPS):
        notes.append(f"Only some of the runs were measured (`--only {','.join(g for g in GROUPS if g in only)}`).")
    notes += [
        f"Of the {len(files)} files, {len(prefiltered)} contain text one of gradlint's selected rules needs "
        f"(its prefilter) and are parsed; the others are read and skipped. TorchFix likewise parses only files "
        f"containing `torch` ({len(with_torch)} here). The parse loop over every file is therefore a floor "
        f"gradlint's prefilter can beat; the loop over the prefiltered files isolates parsing from gradlint's "
        f"model and rules.",
        "Peak RSS is the largest single process of a run (the parent, or any one pool worker), from `wait4`.",
    ]
    if not args.skip_ruff:
        notes.append("ruff is a reference point only: a Rust linter checking different rules (its defaults), with "
                     "its own parser; `1 thread` is `RAYON_NUM_THREADS=1`.")
    if parse_gl is not None and parse_pf is not None:
        notes.append(
            "gradlint parses with `libcst.parse_module` too, but without LibCST's per-node validation (the "
            "constructor checks of `CSTNode.__post_init__`, redundant for nodes its own parser built from valid "
            "source; nodes that rules and fixes build are still validated) and with the cyclic garbage collector "
            "paused while one file is analysed (each tree is freed by reference counting afterwards). The row "
            f"\"parsing as gradlint does\" times that parse alone over the prefiltered files "
            f"({fmt_s(parse_gl.wall)} s, against {fmt_s(parse_pf.wall)} s for `libcst.parse_module` on the same "
            f"files): the rest of gradlint's cold time is its model, rules and I/O.")
    if "warm" in only:
        notes.append(
            "A warm run over an unchanged tree is answered from the run index (gradlint/runindex.py): a `stat()` "
            "per file, the findings of the last run with the same files and settings, each checked against its "
            "file's text; no file is parsed or linked. Any change falls back to the per-file cache.")
    if args.limit:
        notes.append(f"A subset run (`--limit {args.limit}`): files spread evenly over the corpus.")
    # Only the load *before* the run says whether other work was competing: the 1-minute average taken
    # after it includes the benchmark's own last (single-process) measurements.
    loaded = load_before > 0.25 * cores
    if loaded:
        notes.append("On a loaded machine wall times include waiting for a CPU; the CPU-time ratios in the "
                     "targets table are the better guide then (still disturbed by cache and memory contention).")
    cond = conditions(load_before, load_after, args, versions, corpus_info)
    page = markdown(runs, targets, cond, notes, editor, loaded, cold1 or (runs[0] if runs else None))
    if str(args.output) == "-":
        sys.stdout.write(page)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(page, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({
            "runs": [dict(asdict(r), wall=r.wall, files_per_s=r.files_per_s) for r in runs],
            "editor": editor, "targets": targets, "versions": versions, "corpus": corpus_info,
            "load": [load_before, load_after], "cores": cores,
        }, indent=2))
    if not args.keep_logs:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _uncached(files: list[Path], texts: dict, settings, cache: Path) -> list[Path]:
    """Files the warm runs cannot take from the cache (no entry under the key gradlint computes)."""
    try:
        from gradlint.cache import Cache, entry_key, settings_fingerprint
    except ImportError:
        return []
    c = Cache(cache)
    fp = settings_fingerprint(settings)
    return [p for p in files if texts[p] is None or c.get(entry_key(texts[p], fp, str(p)), str(p)) is None]


def _cpu(run: Run) -> float:
    return statistics.median(run.cpu) or float("nan")


def _count_files(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def _dist_version(dist: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"


def _display(path: Path, corpus: Path) -> str:
    try:
        return str(path.resolve().relative_to(corpus.resolve()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
