"""`python -m gradlint.docs`: write `docs/rules.md`, the rule pages and the rule catalogue from the rules'
own metadata.

The page is an index table (code, name, on by default, fixable, summary) and one section per rule: its
`docs` Markdown (headings demoted one level, so the rule's `## What it does` becomes `### What it
does` under the rule's `## GL001 inplace-on-leaf`) and the fixtures that prove it (path, bad or good,
the fixture's summary and what it shows when run). Nothing is written by hand: `tests/test_docs.py`
fails when the committed page differs from what this module renders.

    python -m gradlint.docs            # (re)write docs/rules.md, gradlint/docs-site/ and gradlint/catalog.json
    python -m gradlint.docs --check    # exit 1 if any of them is stale
    python -m gradlint.docs -o PATH    # write docs/rules.md elsewhere (`-` for stdout)

`gradlint/docs-site/` is a static site: `index.html` and one page per rule (`GL001.html` …), the rule's docs
and tier, shipped with the package. The JSON `url`, SARIF `helpUri` and the language server's links point
at the bundled page, or at `<docs-url>/GL001.html` when a base URL is configured (gradlint/catalog.py):
publish the folder there. `gradlint/catalog.json` lets `gradlint rules`, `explain` and `check` read the
rules' metadata without importing the rules (and LibCST).
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
        "Tiers: a **bug** raises, or silently computes the wrong thing (wrong gradients, parameters not "
        "updated, Dropout/BatchNorm in the wrong mode, a graph kept for the whole run); **hygiene** is "
        "correct today but fragile or wasteful. A rule's findings have its default tier unless a finding "
        "is escalated; `gradlint check --bugs-only` reports only bugs.",
        "",
        "| code | name | default | fixable | tier | summary |",
        "|---|---|---|---|---|---|",
    ]
    for r in ALL_RULES:
        lines.append(f"| [{r.code}](#{anchor(r)}) | {r.name} | {'on' if r.default_enabled else 'off'} | "
                     f"{'yes' if r.fixable else 'no'} | {r.tier} | {_cell(r.summary)} |")
    for r in ALL_RULES:
        lines += [
            "",
            f"## {r.code} {r.name}",
            "",
            f"{_cell(r.summary)}",
            "",
            f"On by default: {'yes' if r.default_enabled else 'no'}. Fixable: {'yes' if r.fixable else 'no'}. "
            f"Tier: {tier_text(r.tier)}. "
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


def tier_text(tier: str) -> str:
    from gradlint.catalog import TIER_TEXT

    return TIER_TEXT.get(tier, tier)


def is_stale(path: Path | None = None) -> bool:
    path = path or default_output()
    try:
        return path.read_text(encoding="utf-8") != render()
    except OSError:
        return True


# ------------------------------------------------------------------------------------------ the site
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")
_CSS = ("body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "pre{background:#f5f5f5;padding:.75rem;overflow-x:auto}code{font-family:ui-monospace,monospace}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
        ".bug{color:#b00020;font-weight:bold}.hygiene{color:#8a6d00;font-weight:bold}")


def _inline(text: str) -> str:
    import html

    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        if m.group(1) is not None:
            out.append(f"<code>{html.escape(m.group(1), quote=False)}</code>")
        elif m.group(2) is not None:
            out.append(f"<strong>{_inline(m.group(2))}</strong>")
        else:
            out.append(f'<a href="{html.escape(m.group(4))}">{_inline(m.group(3))}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def markdown_to_html(markdown: str) -> str:
    """The Markdown the rules' docs use — headings, paragraphs, `*`/`-` lists, fenced code, inline code,
    bold, links — as HTML (no dependency; anything else is shown as text)."""
    import html

    out: list[str] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            lang = line.strip()[3:].strip()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                code.append(lines[i])
                i += 1
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            out.append(f"<pre><code{cls}>{html.escape(chr(10).join(code), quote=False)}</code></pre>")
        elif _HEADING.match(line) or line.startswith("######"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif re.match(r"^\s*[*-] ", line):
            if para:
                flush()
            items.append(re.sub(r"^\s*[*-] ", "", line))
        elif not line.strip():
            flush()
        elif items and line.startswith(" "):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def _page(title: str, body: str) -> str:
    import html

    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
            f"<!-- Generated from the rules' own metadata by `{REGENERATE}`; do not edit by hand. -->\n"
            "</body>\n</html>\n")


def render_site() -> dict[str, str]:
    """The static site: file name -> HTML (`index.html` and one `GL001.html` per rule)."""
    import html

    from gradlint.catalog import from_rules

    rules = from_rules()
    pages: dict[str, str] = {}
    rows = "".join(
        f"<tr><td><a href=\"{r.code}.html\">{r.code}</a></td><td>{r.name}</td>"
        f"<td class=\"{r.tier}\">{r.tier}</td><td>{'on' if r.default_enabled else 'off'}</td>"
        f"<td>{'yes' if r.fixable else 'no'}</td><td>{_inline(r.summary)}</td></tr>"
        for r in rules)
    pages["index.html"] = _page("gradlint rules", (
        "<h1>gradlint rules</h1>\n<p>A <span class=\"bug\">bug</span> raises, or silently computes the "
        "wrong thing; <span class=\"hygiene\">hygiene</span> is correct today but fragile or wasteful.</p>\n"
        "<table><tr><th>code</th><th>name</th><th>tier</th><th>default</th><th>fixable</th><th>summary</th></tr>"
        f"{rows}</table>"))
    for r in rules:
        head = (f"<p><a href=\"index.html\">All rules</a></p>\n<h1>{r.code} {html.escape(r.name)}</h1>\n"
                f"<p>{_inline(r.summary)}</p>\n<p>Tier: <span class=\"{r.tier}\">{r.tier}</span> "
                f"({html.escape(tier_text(r.tier).split(' — ', 1)[-1])}). On by default: "
                f"{'yes' if r.default_enabled else 'no'}. Fixable: {'yes' if r.fixable else 'no'}.</p>\n")
        pages[f"{r.code}.html"] = _page(f"{r.code} {r.name} — gradlint", head + markdown_to_html(r.docs))
    return pages


def generated_files() -> dict[Path, str]:
    """Everything this module writes besides docs/rules.md: the site pages and the catalogue."""
    from gradlint.catalog import CATALOG_FILE, SITE_DIR, render_catalog

    files = {SITE_DIR / name: text for name, text in render_site().items()}
    files[CATALOG_FILE] = render_catalog()
    return files


def stale_generated() -> list[Path]:
    from gradlint.catalog import SITE_DIR

    files = generated_files()
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if SITE_DIR.is_dir():  # pages of rules that no longer exist
        stale += [p for p in SITE_DIR.glob("*.html") if p not in files]
    return stale


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
        stale = ([path] if is_stale(path) else []) + ([] if args.output else stale_generated())
        for p in stale:
            print(f"{p} is stale: regenerate it with `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    if not args.output:
        from gradlint.catalog import SITE_DIR

        files = generated_files()
        for p in SITE_DIR.glob("*.html") if SITE_DIR.is_dir() else ():
            if p not in files:
                p.unlink()
        for p, content in files.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            if not p.is_file() or p.read_text(encoding="utf-8") != content:
                p.write_text(content, encoding="utf-8", newline="\n")
                print(f"wrote {p}", file=sys.stderr)
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
