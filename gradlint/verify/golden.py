"""Golden outcomes: what real PyTorch did on each fixture, committed beside it as ``<stem>.torch.json``.

They let the engine-vs-torch comparison run without torch installed; when torch is installed, the
tests also re-run torch live and check the goldens are current.

    python -m gradlint.verify.golden --update [CODE ...]   # re-record with real torch
    python -m gradlint.verify.golden --check  [CODE ...]   # re-run torch, compare with the goldens
    python -m gradlint.verify.golden --engine [CODE ...]   # run the engine, compare with the goldens

A golden records only what is compared: the status, the exception (type, full message, first line),
the warnings (unique, torch's "Triggered internally" suffix stripped) and the observations — plus the
sha256 of the fixture it was recorded from, so a stale golden is noticed without torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Sequence

from gradlint.fixtures import Fixture, all_fixtures, fixtures_for
from gradlint.verify.runner import Outcome, run_fixtures, torch_available

GOLDEN_FORMAT = 1


def golden_path(fixture: Fixture) -> Path:
    return fixture.golden_path


def source_digest(fixture: Fixture) -> str:
    """sha256 of the fixture's bytes: a golden is only valid for the exact program it was recorded from."""
    return hashlib.sha256(fixture.path.read_bytes()).hexdigest()


def golden_record(outcome: Outcome, fixture: Fixture, digest: str | None = None) -> dict:
    return {
        "format": GOLDEN_FORMAT,
        "fixture": fixture.id,
        "source_sha256": digest or source_digest(fixture),
        "backend": "torch",
        "torch_version": outcome.torch_version,
        "status": outcome.status,
        "exception": (
            {
                "type": outcome.exception.type,
                "message": outcome.exception.message,
                "first_line": outcome.exception.first_line,
            }
            if outcome.exception
            else None
        ),
        "warnings": [{"category": w.category, "message": w.message} for w in outcome.warnings],
        "observations": outcome.observations,
    }


def read_golden(fixture: Fixture) -> dict | None:
    path = golden_path(fixture)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def golden_is_current(fixture: Fixture, data: dict | None = None) -> bool:
    data = data if data is not None else read_golden(fixture)
    return data is not None and data.get("source_sha256") == source_digest(fixture)


def load_golden(fixture: Fixture) -> Outcome | None:
    data = read_golden(fixture)
    if data is None:
        return None
    return Outcome.from_dict(
        {
            "fixture": str(fixture.path),
            "backend": "torch",
            "status": data["status"],
            "exception": data.get("exception"),
            "warnings": [dict(w, count=1) for w in data.get("warnings") or ()],
            "observations": data.get("observations") or {},
            "torch_version": data.get("torch_version"),
        }
    )


def write_golden(fixture: Fixture, outcome: Outcome, digest: str | None = None) -> Path:
    if outcome.backend != "torch":
        raise ValueError("goldens record real PyTorch's outcomes only")
    path = golden_path(fixture)
    record = golden_record(outcome, fixture, digest)
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _select(codes: Sequence[str]) -> list[Fixture]:
    if not codes:
        return all_fixtures()
    out: list[Fixture] = []
    for code in codes:
        found = fixtures_for(code)
        if not found:
            raise SystemExit(f"no fixtures for {code}")
        out.extend(found)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from gradlint.verify.check import check_declaration, compare_outcomes

    parser = argparse.ArgumentParser(prog="python -m gradlint.verify.golden", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="re-record the goldens with real PyTorch")
    mode.add_argument("--check", action="store_true", help="re-run real PyTorch and compare with the goldens")
    mode.add_argument("--engine", action="store_true", help="run the engine and compare with the goldens")
    parser.add_argument("codes", nargs="*", metavar="CODE")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)

    fixtures = _select(args.codes)
    backend = "engine" if args.engine else "torch"
    if backend == "torch" and not torch_available():
        print("real PyTorch is not importable by this interpreter", file=sys.stderr)
        return 2
    digests = [source_digest(f) for f in fixtures]
    outcomes = run_fixtures([f.path for f in fixtures], backend, jobs=args.jobs)
    status = 0
    for fixture, digest, outcome in zip(fixtures, digests, outcomes):
        if args.update:
            problems = check_declaration(fixture, outcome)
            if outcome.status not in ("ok", "exception"):
                print(f"NOT WRITTEN {fixture.id}: {outcome.describe()}")
                status = 1
                continue
            if source_digest(fixture) != digest:
                print(f"NOT WRITTEN {fixture.id}: the file changed while it ran; run --update again")
                status = 1
                continue
            write_golden(fixture, outcome, digest)
            note = "" if not problems else "  (torch does NOT show the declared outcome: " + "; ".join(problems) + ")"
            if problems:
                status = 1
            print(f"wrote {golden_path(fixture).name}: {outcome.describe()}{note}")
        else:
            golden = load_golden(fixture)
            if golden is None:
                print(f"MISSING golden for {fixture.id}")
                status = 1
                continue
            problems = compare_outcomes(golden, outcome)
            if not golden_is_current(fixture):
                problems.insert(0, "the golden is stale: the fixture changed since it was recorded")
            print(f"{'same' if not problems else 'DIFFERS'}  {fixture.id}")
            for p in problems:
                print(f"    {p}")
            status = status or (1 if problems else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
