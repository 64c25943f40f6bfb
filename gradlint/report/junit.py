"""JUnit XML (as ruff's `junit` format): a `<testsuite>` per file with findings, a `<testcase>` per
finding holding a `<failure>` whose `type` is the finding's tier (`bug` / `hygiene`); a file that could not be checked is a testsuite with one `<error>`
testcase. A run with nothing found is one passing testcase, so CI dashboards show the check ran.

    <testsuites name="gradlint" tests="1" failures="1" errors="0">
      <testsuite name="train.py" tests="1" disabled="0" errors="0" failures="1" package="org.gradlint">
        <testcase name="org.gradlint.GL001" classname="train" line="3" column="1">
          <failure message="in-place `-=` on ..." type="bug">line 3, col 1, [bug] in-place `-=` on ...</failure>
        </testcase>
      </testsuite>
    </testsuites>

Characters XML 1.0 cannot hold (most control characters) are replaced by U+FFFD, so the document is
always well-formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import IO, Any

from gradlint.diagnostic import Diagnostic

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _classname(filename: str) -> str:
    name = filename.replace("\\", "/")
    if name.endswith(".py"):
        name = name[:-3]
    return name.replace("/", ".").lstrip(".")


def to_xml(diagnostics: list[Diagnostic], errors: list | tuple = ()) -> ET.Element:
    by_file: dict[str, list[Diagnostic]] = defaultdict(list)
    for d in diagnostics:
        by_file[d.filename].append(d)
    errors_by_file = {e.filename: e for e in errors}
    root = ET.Element("testsuites", name="gradlint")
    tests = failures = n_errors = 0
    for filename in sorted(set(by_file) | set(errors_by_file)):
        found = by_file.get(filename, [])
        error = errors_by_file.get(filename)
        suite = ET.SubElement(root, "testsuite", name=_clean(filename), tests=str(len(found) + (error is not None)),
                              disabled="0", errors=str(int(error is not None)), failures=str(len(found)),
                              package="org.gradlint")
        if error is not None:
            attrs = {"name": "org.gradlint.file-not-checked", "classname": _clean(_classname(filename))}
            if error.row:
                attrs["line"] = str(error.row)
                attrs["column"] = str(error.column or 1)
            case = ET.SubElement(suite, "testcase", attrs)
            ET.SubElement(case, "error", message=_clean(error.reason)).text = _clean(error.reason)
        for d in found:
            case = ET.SubElement(suite, "testcase", name=f"org.gradlint.{d.code}",
                                 classname=_clean(_classname(filename)), line=str(d.location.row),
                                 column=str(d.location.column))
            fail = ET.SubElement(case, "failure", message=_clean(d.message), type=d.tier)
            where = f"cell {d.cell}, " if d.cell is not None else ""
            fail.text = _clean(f"{where}line {d.location.row}, col {d.location.column}, [{d.tier}] {d.message}")
        tests += len(found) + (error is not None)
        failures += len(found)
        n_errors += error is not None
    if tests == 0:
        suite = ET.SubElement(root, "testsuite", name="gradlint", tests="1", disabled="0", errors="0",
                              failures="0", package="org.gradlint")
        ET.SubElement(suite, "testcase", name="No errors found", classname="gradlint")
        tests = 1
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(n_errors))
    return root


def report(diagnostics: list[Diagnostic], sources: dict[str, str], out: IO[str], color: bool, *,
           errors: list | tuple = (), **_: Any) -> None:
    root = to_xml(diagnostics, errors)
    ET.indent(root, space="  ")
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")
