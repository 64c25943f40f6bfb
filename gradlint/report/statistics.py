"""`gradlint check --statistics`: how many findings per rule instead of the findings (as ruff's).

    3\tGL001\t[*] inplace-on-leaf
    1\tGL003\t[ ] data-attribute

Sorted by count (most first), then code; counts are right-aligned and codes left-aligned to the widest.
`[*]` marks a rule with a safe fix (or, with `--unsafe-fixes`, any fix) for some of its findings; the `[*]`/`[ ]` column is shown only when
any rule has one. With a JSON output format the same table is a JSON array of {code, name, count, fixable}.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import IO

from gradlint.diagnostic import Applicability, Diagnostic


def rows(diagnostics: list[Diagnostic], unsafe: bool = False) -> list[tuple[str, str, int, bool]]:
    counts: Counter[str] = Counter(d.code for d in diagnostics)
    names = {d.code: d.name for d in diagnostics}
    ok = (Applicability.SAFE, Applicability.UNSAFE) if unsafe else (Applicability.SAFE,)
    fixable = {d.code for d in diagnostics if d.fix is not None and d.fix.applicability in ok}
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return [(c, names[c], counts[c], c in fixable) for c in order]


def write_statistics(diagnostics: list[Diagnostic], out: IO[str], as_json: bool = False,
                     unsafe: bool = False) -> None:
    table = rows(diagnostics, unsafe)
    if as_json:
        json.dump([{"code": c, "name": n, "count": k, "fixable": f} for c, n, k, f in table], out, indent=2)
        out.write("\n")
        return
    if not table:
        return
    count_w = max(len(str(k)) for _, _, k, _ in table)
    code_w = max(len(c) for c, _, _, _ in table)
    any_fixable = any(f for *_, f in table)
    for code, name, count, fixable in table:
        mark = ("[*] " if fixable else "[ ] ") if any_fixable else ""
        out.write(f"{count:>{count_w}}\t{code:<{code_w}}\t{mark}{name}\n")
