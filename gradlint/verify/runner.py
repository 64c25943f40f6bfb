"""Run fixtures in fresh subprocesses against a backend and record their outcomes.

    outcome = run_fixture(path, backend="engine")            # or backend="torch"
    outcomes = run_fixtures(paths, backend="engine", jobs=2)   # parallel, same order as `paths`

Each run is ``sys.executable -m gradlint.verify.bootstrap BACKEND FIXTURE RESULT_JSON`` in a fresh
process (see :mod:`gradlint.verify.bootstrap`), with a timeout. The outcome records the exception
(type, full message and its first line), the warnings (category and message, with torch's
"(Triggered internally at ...)" suffix stripped), the observations the program printed as
``observe: name=value`` lines, and the exit status.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

BACKENDS = ("engine", "torch")
DEFAULT_TIMEOUT = 20.0
FAULT_ENV = "GRADLINT_RUNTIME_FAULT"

# `observe: name=value` on a line of its own; value is a Python literal (else kept as a string).
OBSERVE_RE = re.compile(r"^observe:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")
# torch appends the C++ source location to warnings raised from C++ (TORCH_WARN)
TRIGGERED_RE = re.compile(r"\s*\(Triggered internally at [^)]*\)\.?\s*$", re.DOTALL)

# statuses
OK, EXCEPTION, EXIT, TIMEOUT, CRASH, BACKEND_ERROR = "ok", "exception", "exit", "timeout", "crash", "backend-error"


@dataclass
class ExceptionInfo:
    type: str
    message: str
    first_line: str
    module: str = ""

    def describe(self) -> str:
        return f"{self.type}: {self.first_line}" if self.first_line else self.type


@dataclass
class WarningInfo:
    category: str
    message: str
    count: int = 1


@dataclass
class Outcome:
    fixture: str  # path as given
    backend: str
    status: str  # ok | exception | exit | timeout | crash | backend-error
    exception: ExceptionInfo | None = None
    warnings: list[WarningInfo] = field(default_factory=list)  # unique (category, message), first-seen order
    observations: dict[str, Any] = field(default_factory=dict)  # last printed value of each name
    exit_code: int | None = 0
    duration: float = 0.0
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # backend-error / crash / timeout details
    faults: list[str] = field(default_factory=list)
    torch_module: str | None = None
    torch_version: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        data = dict(data)
        exc = data.get("exception")
        data["exception"] = ExceptionInfo(**exc) if exc else None
        data["warnings"] = [WarningInfo(**w) for w in data.get("warnings") or ()]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def describe(self) -> str:
        """One human line: 'RuntimeError: ...' or 'ran; weight_updated=True, ...'."""
        if self.status == EXCEPTION and self.exception is not None:
            text = self.exception.describe()
        elif self.status == OK:
            obs = ", ".join(f"{k}={_fmt(v)}" for k, v in self.observations.items())
            text = "ran" + (f"; {obs}" if obs else "")
        elif self.status == TIMEOUT:
            text = f"timed out ({self.error})"
        elif self.status == EXIT:
            text = f"exited with status {self.exit_code}"
        else:
            text = f"{self.status}: {self.error or 'no result'}"
        if self.warnings:
            text += "; warned " + "; ".join(f"{w.category}: {_first_sentence(w.message)}" for w in self.warnings)
        return text


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _first_sentence(text: str) -> str:
    first = text.split(". ", 1)[0]
    return first if first.endswith(".") else first + ("." if len(first) < len(text) else "")


def strip_triggered(message: str) -> str:
    """Drop torch's '(Triggered internally at /pytorch/....cpp:123.)' suffix."""
    return TRIGGERED_RE.sub("", message).rstrip()


def parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_observations(stdout: str) -> dict[str, Any]:
    observations: dict[str, Any] = {}
    for line in stdout.splitlines():
        m = OBSERVE_RE.match(line.strip())
        if m:
            observations[m.group("name")] = parse_value(m.group("value"))
    return observations


def unique_warnings(records: Iterable[dict]) -> list[WarningInfo]:
    seen: dict[tuple[str, str], WarningInfo] = {}
    for rec in records:
        key = (rec["category"], strip_triggered(rec["message"]))
        if key in seen:
            seen[key].count += 1
        else:
            seen[key] = WarningInfo(category=key[0], message=key[1])
    return list(seen.values())


def _package_root() -> str:
    """The directory that must be on sys.path for `import gradlint` to find this copy of gradlint."""
    import gradlint

    return str(Path(gradlint.__file__).resolve().parent.parent)


def child_env(backend: str, fault: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    root = _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONIOENCODING"] = "utf-8"
    env.setdefault("OMP_NUM_THREADS", "1")  # deterministic and polite on 2 cores
    env.setdefault("MKL_NUM_THREADS", "1")
    env.pop("PYTHONSTARTUP", None)
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return env


def torch_available() -> bool:
    """Real PyTorch is importable by the interpreter that runs the fixtures (checked without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def run_fixture(
    path: str | os.PathLike,
    backend: str = "engine",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    fault: str | None = None,
    python: str | None = None,
) -> Outcome:
    """Run one fixture in a fresh subprocess and record its outcome."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if fault and backend != "engine":
        raise ValueError("fault injection only applies to the engine backend")
    path = str(Path(path).resolve())
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gradlint-verify-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        cmd = [python or sys.executable, "-X", "utf8", "-m", "gradlint.verify.bootstrap", backend, path, result_path]
        try:
            proc = subprocess.run(
                cmd,
                cwd=tmp,
                env=child_env(backend, fault),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return Outcome(
                fixture=path, backend=backend, status=TIMEOUT, exit_code=None,
                duration=time.monotonic() - start, stdout=out, stderr=err,
                observations=parse_observations(out), error=f"no result after {timeout:g}s",
            )
        duration = time.monotonic() - start
        raw = None
        if os.path.exists(result_path):
            try:
                with open(result_path, encoding="utf-8") as fh:
                    raw = json.load(fh)
            except (OSError, ValueError):
                raw = None
    if raw is None:
        return Outcome(
            fixture=path, backend=backend, status=CRASH, exit_code=proc.returncode, duration=duration,
            stdout=proc.stdout, stderr=proc.stderr, observations=parse_observations(proc.stdout),
            error=f"the child process died (exit status {proc.returncode}) without a result: "
            + (_last_line(proc.stderr) or "no output"),
        )
    exc = raw.get("exception")
    return Outcome(
        fixture=path,
        backend=backend,
        status=raw.get("status", CRASH),
        exception=ExceptionInfo(
            type=exc["type"], message=exc["message"], first_line=exc["first_line"], module=exc.get("module", "")
        ) if exc else None,
        warnings=unique_warnings(raw.get("warnings") or ()),
        observations=parse_observations(proc.stdout),
        exit_code=raw.get("exit_code", proc.returncode),
        duration=duration,
        stdout=proc.stdout,
        stderr=proc.stderr,
        error=raw.get("error"),
        faults=list(raw.get("faults") or ()),
        torch_module=raw.get("torch_module"),
        torch_version=raw.get("torch_version"),
    )


def _last_line(text: str) -> str:
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 2))


def run_fixtures(
    paths: Sequence[str | os.PathLike],
    backend: str = "engine",
    *,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    fault: str | None = None,
) -> list[Outcome]:
    """Run many fixtures on a small thread pool (each in its own process); results in input order."""
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(paths) <= 1:
        return [run_fixture(p, backend, timeout=timeout, fault=fault) for p in paths]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda p: run_fixture(p, backend, timeout=timeout, fault=fault), paths))
