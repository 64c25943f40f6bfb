"""`python -m gradlint.docs`: write `docs/rules.md` from the rules' own metadata.

The page is an index table (code, name, on by default, fixable, summary) and one section per rule: its
`docs` Markdown (headings demoted one level, so the rule's `## What it does` becomes `### What it
does` under the rule's `## GL001 inplace-on-leaf`) and the fixtures that prove it (path, bad or good,
the fixture's summary and what it shows when run). Nothing is written by hand: `tests/test_docs.py`
fails when the committed page differs from what this module renders.

    python -m gradlint.docs            # (re)write docs/rules.md of this checkout
    python -m gradlint.docs --check    # exit 1 if docs/rules.md is stale
    python -m gradlint.docs -o PATH    # write elsewhere (`-` for stdout)
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

REGENERATE = "python -m gradlint.docs"
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,5}) ")


def default_output() -> Path:
    """`docs/rules.md` of the source checkout gradlint runs from, else of the current folder."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "rules").is_dir():
        return root / "docs" / "rules.md"
    return Path.cwd() / "docs" / "rules.md"


def demote_headings(markdown: str) -> str:
    """Add one `#` to every ATX heading outside fenced code blocks."""
    out = []
    fence: str | None = None
    for line in markdown.splitlines():
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
        elif fence is None and _HEADING.match(line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def anchor(rule) -> str:
    """GitHub's anchor for the rule's `## GL001 inplace-on-leaf` heading."""
    return f"{rule.code.lower()}-{rule.name.lower()}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _fixture_rows(rule) -> list[str]:
    from gradlint.fixtures import FIXTURES_DIR, FixtureError, load_fixture

    folder_name = f"{rule.code.lower()}_{rule.name.replace('-', '_')}"
    folder = FIXTURES_DIR / folder_name
    if not folder.is_dir():
        return []
    rows = []
    paths = sorted(folder.glob("*.py"), key=lambda p: (not p.name.startswith("bad_"), p.name))
    for path in paths:
        rel = f"fixtures/{folder_name}/{path.name}"
        try:
            fx = load_fixture(path)
        except (FixtureError, OSError, UnicodeDecodeError) as exc:
            rows.append(f"| `{rel}` | ? | (cannot be read: {_cell(exc)}) | |")
            continue
        rows.append(f"| `{rel}` | {fx.kind} | {_cell(fx.summary)} | {_cell(fx.expect.describe())} |")
    return rows


def render() -> str:
    from gradlint.rules import ALL_RULES

    lines = [
        "# Rules",
        "",
        f"<!-- Generated from the rules' own metadata by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every rule's documentation, as `gradlint explain CODE` prints it, and the fixtures that prove it: "
        "programs that `gradlint verify` runs on gradlint's autograd engine and on real PyTorch "
        "(a bad one shows the symptom and is flagged on its marked lines; a good one is the fix or a "
        "look-alike that must stay silent).",
        "",
        "| code | name | default | fixable | summary |",
        "|---|---|---|---|---|",
    ]
    for r in ALL_RULES:
        lines.append(f"| [{r.code}](#{anchor(r)}) | {r.name} | {'on' if r.default_enabled else 'off'} | "
                     f"{'yes' if r.fixable else 'no'} | {_cell(r.summary)} |")
    for r in ALL_RULES:
        lines += [
            "",
            f"## {r.code} {r.name}",
            "",
            f"{_cell(r.summary)}",
            "",
            f"On by default: {'yes' if r.default_enabled else 'no'}. Fixable: {'yes' if r.fixable else 'no'}. "
            f"Source: `rules/{r.code.lower()}_{r.name.replace('-', '_')}.py`.",
            "",
        ]
        docs = textwrap.dedent(r.docs).strip()
        if docs:
            lines += [demote_headings(docs), ""]
        lines.append("### Fixtures")
        lines.append("")
        rows = _fixture_rows(r)
        if rows:
            lines += ["| fixture | kind | what it does | what running it shows |", "|---|---|---|---|", *rows]
        else:
            lines.append("(none)")
    return "\n".join(lines) + "\n"


def is_stale(path: Path | None = None) -> bool:
    path = path or default_output()
    try:
        return path.read_text(encoding="utf-8") != render()
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradlint.docs", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="where to write (default: docs/rules.md; - for stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    args = parser.parse_args(argv)
    if args.output == "-":
        sys.stdout.write(render())
        return 0
    path = Path(args.output) if args.output else default_output()
    if args.check:
        if is_stale(path):
            print(f"{path} is stale: regenerate it with `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    text = render()
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old != text:
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path}", file=sys.stderr)
    else:
        print(f"{path} is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
