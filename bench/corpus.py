"""Build the benchmark corpus: pinned wheels from the package index, their `.py` files extracted.

    python bench/corpus.py                       # download into bench/corpus/wheels/, extract
    python bench/corpus.py --wheel-cache DIR     # use wheels already in DIR (copied, not re-downloaded)
    python bench/corpus.py --force               # re-extract even if the manifest says it is current

Layout (bench/corpus/ is git-ignored):

    bench/corpus/wheels/<the three wheels>
    bench/corpus/<name>/...                      # every .py member of the wheel, at its path in the wheel
    bench/corpus/MANIFEST.json                   # per project: version, wheel file, sha256, files, lines, bytes

The wheels are fetched with `pip download --no-deps --only-binary=:all:`, so pip's own index
configuration applies. torchvision's wheel is platform-specific; its `.py` files are the same on every
platform, and the manifest records which wheel was used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_ROOT = BENCH / "corpus"

# The pinned corpus (issue 7). Changing a version changes every number in docs/performance.md.
PINNED: dict[str, str] = {
    "torchvision": "0.29.1",
    "timm": "1.0.31",
    "transformers": "5.23.0",
}


def _dist_name(name: str) -> str:
    return name.replace("-", "_").lower()


def find_wheel(folder: Path, name: str, version: str) -> Path | None:
    if not folder.is_dir():
        return None
    prefix = f"{_dist_name(name)}-{version}-"
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[0] if found else None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, version: str, wheels: Path, cache: Path | None) -> Path:
    """The wheel for name==version in `wheels/`: from the cache folder if it has it, else pip download."""
    wheels.mkdir(parents=True, exist_ok=True)
    have = find_wheel(wheels, name, version)
    if have is not None:
        return have
    if cache is not None:
        cached = find_wheel(cache, name, version)
        if cached is not None:
            dest = wheels / cached.name
            shutil.copy2(cached, dest)
            return dest
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", "-d", str(wheels), f"{name}=={version}"]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    got = find_wheel(wheels, name, version)
    if got is None:
        raise SystemExit(f"pip download did not produce a wheel for {name}=={version} in {wheels}")
    return got


def extract(wheel: Path, dest: Path) -> dict[str, int]:
    """Every `.py` member of the wheel under dest/ (dest is emptied first). Returns counts."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = lines = size = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or not name.endswith(".py"):
                continue
            parts = Path(name).parts
            if name.startswith("/") or ".." in parts:  # never write outside dest
                continue
            data = zf.read(info)
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files += 1
            size += len(data)
            lines += data.count(b"\n")
    return {"files": files, "lines": lines, "bytes": size}


def build(root: Path = DEFAULT_ROOT, cache: Path | None = None, force: bool = False,
          names: list[str] | None = None) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for name in names or list(PINNED):
        version = PINNED[name]
        wheel = fetch(name, version, root / "wheels", cache)
        digest = sha256(wheel)
        old = manifest.get(name)
        if not force and old and old.get("sha256") == digest and (root / name).is_dir():
            print(f"{name} {version}: up to date ({old['files']} files)", file=sys.stderr)
            continue
        counts = extract(wheel, root / name)
        manifest[name] = {"version": version, "wheel": wheel.name, "sha256": digest, **counts}
        print(f"{name} {version}: {counts['files']} files, {counts['lines']} lines", file=sys.stderr)
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="corpus folder (default bench/corpus)")
    ap.add_argument("--wheel-cache", type=Path, default=None,
                    help="a folder that may already hold the pinned wheels (used instead of downloading)")
    ap.add_argument("--force", action="store_true", help="re-extract even when the manifest is current")
    ap.add_argument("--only", action="append", choices=sorted(PINNED), help="only this project (repeatable)")
    args = ap.parse_args(argv)
    build(args.root, args.wheel_cache, args.force, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
