"""`python -m tests.runtime._scripts_runner BACKEND SCRIPT...`: run each script as `__main__` in this one
process (torch imported once), and print one JSON line per script: status, exception type, module and
first message line, and the script's `OUT:` lines."""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys


def main(argv: list[str]) -> None:
    backend, scripts = argv[1], argv[2:]
    if backend == "engine":
        from gradlint.verify.bootstrap import install_engine

        install_engine()
    import torch

    results = []
    for path in scripts:
        torch.set_grad_enabled(True)
        torch.manual_seed(0)
        buf = io.StringIO()
        exc_info = None
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            try:
                runpy.run_path(path, run_name="__main__")
            except Exception as e:  # noqa: BLE001 - the outcome is what we compare
                lines = str(e).splitlines()
                exc_info = [type(e).__name__, lines[0] if lines else "", type(e).__module__]
        results.append({"script": path, "status": "ok" if exc_info is None else "exception",
                        "exception": exc_info[:2] if exc_info else None, "module": exc_info[2] if exc_info else None,
                        "out": [ln for ln in buf.getvalue().splitlines() if ln.startswith("OUT:")]})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
