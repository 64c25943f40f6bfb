"""Does gradlint's cost grow linearly with the file? And how long from an edit to fresh diagnostics in
the editor? (issue 16; not a test: a measurement, printed as Markdown tables for docs/reliability.md)

    python bench/scaling.py                      # both tables
    python bench/scaling.py --sizes 1000,3000    # other sizes
    python bench/scaling.py --no-lsp             # the scaling table only

Scaling: `lint_source` in this process on generated training files (bench/synthetic.py) of 1k … 24k
lines, with findings (one GL001 with a block-wrapping fix per ~100 lines) and without, after one warm-up
call; CPU time (`time.process_time`, so a loaded machine inflates it less than wall time), median of
`--repeat` calls. The parse alone (gradlint's LibCST parse, GC paused) is timed on the same text.

LSP latency: `gradlint lsp` in a subprocess, spoken to over stdio; a 3,000-line file with ~30 findings
is opened, then edited `--edits` times (a whole-document change that rewrites the first line's docstring); each latency
is the wall time from writing the `didChange` to reading the `publishDiagnostics` for that version —
with the debounce set to 0 (pure analysis + transport) and with the default debounce — and the server
process's CPU time over the same span (from /proc: less sensitive to a loaded machine than wall time).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import training_file  # noqa: E402


def scaling(sizes: list[int], repeat: int) -> list[dict]:
    from gradlint.config import ConfigResolver, Overrides
    from gradlint.linter import _big_stack_executor, lint_source, parse_module

    settings = ConfigResolver(None, Overrides()).settings_for(Path("train.py"))
    rows = []
    for n in sizes:
        for findings in (False, True):
            src = training_file(n, findings)
            lines = src.count("\n")
            result = lint_source(src, "train.py", settings)  # warm-up
            assert result.error is None, result.error
            times = []
            for _ in range(repeat):
                t = time.process_time()
                lint_source(src, "train.py", settings)
                times.append(time.process_time() - t)

            def parse_once() -> float:
                gc.disable()
                try:
                    t0 = time.process_time()
                    parse_module(src)
                    return time.process_time() - t0
                finally:
                    gc.enable()

            parse = statistics.median(_big_stack_executor().submit(parse_once).result() for _ in range(repeat))
            cpu = statistics.median(times)
            rows.append({"lines": lines, "findings": len(result.diagnostics), "cpu_s": cpu, "parse_s": parse,
                         "ms_per_kline": 1000 * cpu / (lines / 1000)})
            print(f"{lines:>7} lines {len(result.diagnostics):>4} findings: {cpu:7.3f} s CPU "
                  f"(parse {parse:.3f} s)", file=sys.stderr)
    return rows


def p90(values: list[float]) -> float:
    """The 90th percentile (the value at 90 % of the way through the sorted values, rounded to the nearest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


class RawClient:
    """Just enough of an LSP client: framed JSON-RPC over the server's stdio."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        self.buf = b""
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def receive(self, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            if b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                if len(rest) >= length:
                    self.buf = rest[length:]
                    return json.loads(rest[:length])
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the server")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise EOFError("the server closed its output")
                self.buf += chunk

    def open_session(self, folder: Path, uri: str, text: str, debounce_ms: int | None) -> dict:
        """initialize (with the folder as root and, if given, the debounce), initialized, didOpen of `text`;
        returns the first diagnostics published for it."""
        opts = {} if debounce_ms is None else {"debounce": debounce_ms}
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": folder.as_uri(), "capabilities": {}, "initializationOptions": opts}})
        while self.receive().get("id") != 1:
            pass
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        self.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}}})
        return self.wait_publish(1)

    def cpu_seconds(self) -> float | None:
        """The server's CPU time so far (user + system), from /proc; None where there is no /proc."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def wait_publish(self, version: int) -> dict:
        while True:
            msg = self.receive()
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"].get("version") == version:
                return msg["params"]

    def close(self) -> None:
        try:
            self.send({"jsonrpc": "2.0", "id": 99, "method": "shutdown"})
            self.send({"jsonrpc": "2.0", "method": "exit"})
            self.proc.wait(30)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def lsp_latency(lines: int, edits: int, debounce_ms: int | None, folder: Path) -> dict:
    src = training_file(lines, True)
    path = folder / "train.py"
    path.write_text(src)
    uri = path.as_uri()
    client = RawClient([sys.executable, "-m", "gradlint", "lsp"], folder)
    try:
        first = client.open_session(folder, uri, src, debounce_ms)
        latencies, cpu = [], []
        for i in range(edits):
            version = i + 2
            text = src.replace("(gradlint benchmark)", f"(gradlint benchmark, edit {i})", 1)
            cpu0 = client.cpu_seconds()
            start = time.perf_counter()
            client.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
            got = client.wait_publish(version)
            latencies.append(time.perf_counter() - start)
            cpu1 = client.cpu_seconds()
            if cpu0 is not None and cpu1 is not None:
                cpu.append(cpu1 - cpu0)
            assert got["diagnostics"] == first["diagnostics"]  # (the edit is in line 1's docstring: no finding moves)
        return {"lines": src.count("\n"), "findings": len(first["diagnostics"]), "debounce_ms": debounce_ms,
                "median_ms": 1000 * statistics.median(latencies),
                "p90_ms": 1000 * p90(latencies),
                "min_ms": 1000 * min(latencies),
                # the server's CPU time from didChange to publishDiagnostics (clock-tick resolution, ~10 ms):
                # the analysis and the protocol work, without the time the process waited for a CPU
                "cpu_ms": 1000 * statistics.median(cpu) if cpu else None}
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,6000,12000,24000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--no-lsp", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", file=sys.stderr)
    rows = scaling(sizes, args.repeat)
    base: dict[bool, dict] = {}
    for r in rows:  # the smallest file of each kind (rows come smallest first)
        base.setdefault(r["findings"] > 0, r)
    print("| lines | findings | CPU (s) | ms per 1,000 lines | vs the smallest file, per line | parse alone (s) "
          "| analysis: CPU − parse (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ref = base[r["findings"] > 0]
        print(f"| {r['lines']:,} | {r['findings']} | {r['cpu_s']:.3f} | {r['ms_per_kline']:.0f} | "
              f"{r['ms_per_kline'] / ref['ms_per_kline']:.2f}× | {r['parse_s']:.3f} | "
              f"{r['cpu_s'] - r['parse_s']:.3f} |")
    if not args.no_lsp:
        import tempfile

        print()
        print("| file | findings | debounce | edit → diagnostics, median (ms) | p90 (ms) | min (ms) "
              "| server CPU per edit, median (ms) |")
        print("|---|---:|---|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for debounce in (0, None):
                r = lsp_latency(3000, args.edits, debounce, Path(tmp))
                from gradlint.lsp import DEFAULT_DEBOUNCE_MS

                label = "0 ms" if debounce == 0 else f"default ({DEFAULT_DEBOUNCE_MS} ms)"
                cpu = "n/a" if r["cpu_ms"] is None else f"{r['cpu_ms']:.0f}"
                print(f"| {r['lines']:,} lines | {r['findings']} | {label} | {r['median_ms']:.0f} | "
                      f"{r['p90_ms']:.0f} | {r['min_ms']:.0f} | {cpu} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
