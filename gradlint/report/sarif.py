"""SARIF 2.1.0 (the OASIS standard), for GitHub code scanning and other SARIF viewers.

One run: `tool.driver` carries every rule's metadata (id, name, short and full description, the rule's
docs as help Markdown, helpUri its documentation page, default level by its tier); each finding is a result
with its rule id and index, its level (`error` for a bug, `warning` for hygiene), its message and one physical location (a 1-based region: start and end
line and column, columns counted in Unicode code points — `run.columnKind` says so). A finding with a
fix also carries it as a SARIF `fix`. Files that could not be checked become tool execution
notifications of the run's invocation (`executionSuccessful` is false then).

Paths under the current folder are written relative to it, with `uriBaseId` `%SRCROOT%` (declared in
`originalUriBaseIds` as the current folder), which is what code scanning expects when gradlint runs at the
repository root; other paths are absolute `file://` URIs. Nothing but the JSON document goes to stdout.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import quote

from gradlint import __version__
from gradlint.catalog import rule_url
from gradlint.diagnostic import BUG, Diagnostic

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
_SECTION = re.compile(r"^## +(.+?)\s*$", re.M)


def docs_sections(docs: str) -> dict[str, str]:
    """A rule's docs split at its `## ` headings: heading -> body text (stripped)."""
    text = textwrap.dedent(docs).strip()
    parts = _SECTION.split(text)
    out: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        out[parts[i]] = parts[i + 1].strip()
    return out


def _plain(markdown: str) -> str:
    """Markdown prose as one plain paragraph (the first one): what a viewer without Markdown shows."""
    para = markdown.strip().split("\n\n")[0]
    return " ".join(para.split())


def level(tier: str) -> str:
    """The SARIF level of a tier: `error` for a bug, `warning` for hygiene."""
    return "error" if tier == BUG else "warning"


def rule_descriptor(rule: Any, url: str | None = None) -> dict[str, Any]:
    """`rule`: a gradlint.catalog.RuleInfo (or a Rule class); `url`: its documentation page."""
    docs = textwrap.dedent(rule.docs).strip()
    what = docs_sections(rule.docs).get("What it does", "")
    desc: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary or rule.name},
        "fullDescription": {"text": _plain(what) or rule.summary or rule.name},
        "defaultConfiguration": {"level": level(rule.tier), "enabled": bool(rule.default_enabled)},
        "properties": {"tags": ["pytorch", "autograd", "correctness" if rule.tier == BUG else "maintainability"],
                       "precision": "high", "problem.severity": "error" if rule.tier == BUG else "warning",
                       "tier": rule.tier},
    }
    if what:
        desc["fullDescription"]["markdown"] = what
    if docs:
        desc["help"] = {"text": docs, "markdown": f"# {rule.code} {rule.name}\n\n{docs}"}
    desc["helpUri"] = url or rule_url(rule.code)
    return desc


def _artifact(filename: str, root: Path) -> dict[str, str]:
    path = Path(os.path.abspath(filename))
    try:
        rel = path.relative_to(root)
    except ValueError:
        return {"uri": path.as_uri()}
    return {"uri": quote(PurePosixPath(*rel.parts).as_posix()), "uriBaseId": SRCROOT}


def _region(row: int, col: int, end_row: int, end_col: int) -> dict[str, int]:
    row = max(1, row)
    col = max(1, col)
    end_row = max(row, end_row)
    end_col = max(1, end_col)
    if end_row == row and end_col < col:
        end_col = col
    return {"startLine": row, "startColumn": col, "endLine": end_row, "endColumn": end_col}


def _fix(d: Diagnostic, root: Path) -> dict[str, Any]:
    return {
        "description": {"text": d.fix.message or f"{d.fix.applicability.value} fix"},
        "artifactChanges": [{
            "artifactLocation": _artifact(d.filename, root),
            "replacements": [
                {"deletedRegion": _region(e.location.row, e.location.column, e.end_location.row,
                                          e.end_location.column),
                 "insertedContent": {"text": e.content}}
                for e in d.fix.edits
            ],
        }],
    }


def to_sarif(diagnostics: list[Diagnostic], errors: list | tuple = (), root: str | None = None) -> dict[str, Any]:
    from gradlint.catalog import load

    ALL_RULES = load()  # the rules' metadata, without importing them
    urls = {d.code: d.url for d in diagnostics if d.url}  # the configured page, as the findings carry it
    base = Path(os.path.abspath(root or os.getcwd()))
    index = {r.code: i for i, r in enumerate(ALL_RULES)}
    results = []
    for d in diagnostics:
        physical: dict[str, Any] = {"artifactLocation": _artifact(d.filename, base)}
        text = d.message
        if d.cell is None:
            physical["region"] = _region(d.location.row, d.location.column, d.end_location.row,
                                         d.end_location.column)
        else:  # a notebook: rows are within the cell, not lines of the .ipynb file
            text = f"cell {d.cell}, line {d.location.row}, column {d.location.column}: {d.message}"
        result: dict[str, Any] = {
            "ruleId": d.code,
            "level": level(d.tier),
            "message": {"text": text},
            "locations": [{"physicalLocation": physical}],
        }
        if d.cell is not None:
            result["properties"] = {"cell": d.cell, "row": d.location.row, "column": d.location.column}
        if d.related:  # project-wide analysis: the calls in other files that make it a bug
            result["relatedLocations"] = [
                {"id": i, "message": {"text": r.message}, "physicalLocation": {
                    "artifactLocation": _artifact(r.filename, base), "region": _region(r.row, r.column, r.row, r.column)}}
                for i, r in enumerate(d.related)]
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.fix is not None and d.fix.edits and d.cell is None:
            result["fixes"] = [_fix(d, base)]
        results.append(result)
    notifications = []
    for e in errors:
        note: dict[str, Any] = {"level": "error", "message": {"text": f"{e.filename}: {e.reason}"},
                                "descriptor": {"id": "gradlint/file-not-checked"}}
        loc: dict[str, Any] = {"artifactLocation": _artifact(e.filename, base)}
        if e.row:
            loc["region"] = _region(e.row, e.column or 1, e.row, e.column or 1)
        note["locations"] = [{"physicalLocation": loc}]
        notifications.append(note)
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "gradlint",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": [rule_descriptor(r, urls.get(r.code)) for r in ALL_RULES],
        }},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool, *,
           errors: list | tuple = (), **_: Any) -> None:
    json.dump(to_sarif(diagnostics, errors), out, indent=2)
    out.write("\n")
