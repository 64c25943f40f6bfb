"""Output formats: sarif (validated against the official SARIF 2.1.0 schema), github, json-lines, junit,
and `--statistics`.

`sarif-schema-2.1.0.json` beside this file is the OASIS SARIF 2.1.0 (errata 01) JSON schema, verbatim
(`https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json`).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradlint.cli import main
from gradlint.diagnostic import Applicability, Diagnostic, Edit, FileError, Fix, Location
from gradlint.report import MACHINE_READABLE, formats, write_report
from gradlint.report import github as gh
from gradlint.report.sarif import to_sarif
from gradlint.report.statistics import write_statistics
from gradlint.rules import ALL_RULES

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads((Path(__file__).with_name("sarif-schema-2.1.0.json")).read_text(encoding="utf-8"))

# GL001 at 3:1 and 6:1, GL003 at 5:5.
BAD = (
    "import torch\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "w += 1\n"
    "for p in model.parameters():\n"
    "    p.data.add_(p.grad, alpha=-0.1)\n"
    "w += 2\n"
)


def diag(code="GL001", row=3, col=1, end_row=3, end_col=7, filename="train.py", message="bad thing", fix=None):
    rule = next(r for r in ALL_RULES if r.code == code)
    return Diagnostic(code=code, name=rule.name, message=message, filename=filename,
                      location=Location(row, col), end_location=Location(end_row, end_col), fix=fix,
                      noqa_row=row)


SAFE_FIX = Fix(Applicability.SAFE, "Wrap in `with torch.no_grad():`",
               (Edit("with torch.no_grad():\n    ", Location(3, 1), Location(3, 1)),))


def validate(doc: dict) -> None:
    validator_cls = jsonschema.validators.validator_for(SCHEMA)
    validator_cls.check_schema(SCHEMA)
    errors = sorted(validator_cls(SCHEMA, format_checker=validator_cls.FORMAT_CHECKER).iter_errors(doc),
                    key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def run_cli(tmp_path: Path, monkeypatch, *args: str, files: dict[str, str] | None = None):
    for name, text in (files or {"train.py": BAD}).items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["check", "--no-cache", *args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res


# ----------------------------------------------------------------------------- registry


def test_formats_registered_and_machine_readable():
    for name in ("sarif", "github", "json-lines", "junit"):
        assert name in formats()
        assert name in MACHINE_READABLE


@pytest.mark.parametrize("fmt", ["sarif", "github", "json-lines", "junit"])
def test_cli_stdout_is_only_the_document(tmp_path, monkeypatch, fmt):
    res = run_cli(tmp_path, monkeypatch, "--output-format", fmt, "train.py")
    assert res.exit_code == 1
    assert "Found" not in res.stdout and "\x1b[" not in res.stdout
    assert "Found" not in res.stderr  # machine-readable: no summary
    if fmt == "sarif":
        validate(json.loads(res.stdout))
    elif fmt == "json-lines":
        assert [json.loads(x)["code"] for x in res.stdout.splitlines()] == ["GL001", "GL003", "GL001"]
    elif fmt == "junit":
        ET.fromstring(res.stdout)
    else:
        # GL001 is a bug (an error annotation), GL003 hygiene (a warning)
        assert [x.split(" ", 1)[0] for x in res.stdout.splitlines()] == ["::error", "::warning", "::error"]


# ----------------------------------------------------------------------------- sarif


def test_sarif_from_cli_validates_and_has_regions(tmp_path, monkeypatch):
    res = run_cli(tmp_path, monkeypatch, "--output-format", "sarif", ".",
                  files={"pkg/train.py": BAD, "pkg/clean.py": "import torch\n"})
    doc = json.loads(res.stdout)
    validate(doc)
    run = doc["runs"][0]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["GL001", "GL003", "GL001"]
    first = results[0]
    assert first["level"] == "error"
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "pkg/train.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 7}
    assert results[1]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 5
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == Path(os.getcwd()).as_uri() + "/"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["invocations"] == [{"executionSuccessful": True}]
    rules = run["tool"]["driver"]["rules"]
    assert rules[first["ruleIndex"]]["id"] == "GL001"


def test_sarif_rule_metadata_comes_from_the_rules():
    doc = to_sarif([], [])
    validate(doc)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in ALL_RULES]
    for desc, rule in zip(rules, ALL_RULES):
        assert desc["name"] == rule.name
        assert desc["shortDescription"]["text"] == rule.summary
        assert desc["fullDescription"]["text"]
        assert desc["defaultConfiguration"]["level"] == {"bug": "error", "hygiene": "warning"}[rule.tier]
        assert desc["defaultConfiguration"]["enabled"] is rule.default_enabled
        docs = textwrap.dedent(rule.docs).strip()
        assert desc["help"]["text"] == docs
        assert docs in desc["help"]["markdown"]
        assert desc["helpUri"].endswith(f"/{rule.code}.html")
    gl001 = rules[0]
    assert gl001["fullDescription"]["markdown"].startswith("Flags an in-place operation")
    assert "## Why is this bad?" in gl001["help"]["markdown"]


def test_sarif_fix_error_outside_root_and_odd_text_validate(tmp_path):
    outside = str(tmp_path.parent / "elsewhere" / "a b%.py")
    diags = [
        diag(fix=SAFE_FIX, message="quote \" backslash \\ newline\n tab\t unicode \u00e9\U0001f600"),
        diag("GL003", 5, 5, 5, 11, filename=outside),
    ]
    errors = [FileError("broken.py", "syntax error: invalid syntax", 2, 4), FileError("gone.py", "no such file")]
    doc = to_sarif(diags, errors, root=str(tmp_path))
    validate(doc)
    run = doc["runs"][0]
    assert run["results"][0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] \
        .startswith("with torch.no_grad():")
    assert run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": Path(outside).as_uri()}
    assert "%20" in Path(outside).as_uri()
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False
    notes = inv["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == ["broken.py: syntax error: invalid syntax", "gone.py: no such file"]
    assert notes[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_sarif_uri_is_percent_encoded(tmp_path):
    doc = to_sarif([diag(filename=str(tmp_path / "dir with space" / "t#1.py"))], [], root=str(tmp_path))
    validate(doc)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "dir%20with%20space/t%231.py"


def test_schema_rejects_a_broken_document():
    doc = to_sarif([diag()], [])
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(AssertionError):
        validate(doc)


# ----------------------------------------------------------------------------- github


def test_github_annotation_format():
    out = StringIO()
    write_report("github", [diag()], {}, out, True)
    path = os.path.abspath("train.py")
    assert out.getvalue() == (
        f"::error title=gradlint (GL001),file={path},line=3,col=1,endLine=3,endColumn=7"
        "::train.py:3:1: GL001 bad thing\n"
    )


def test_github_escaping():
    assert gh.escape_data("100% a\r\nb") == "100%25 a%0D%0Ab"
    assert gh.escape_property("C:\\x,y%\n") == "C%3A\\x%2Cy%25%0A"
    out = StringIO()
    write_report("github", [diag(filename="we,ird:name.py", message="50% done\nnext, line: x")], {}, out, False)
    line = out.getvalue()
    assert line.count("\n") == 1
    props, _, message = line[len("::error "):].partition("::")
    assert "we%2Cird%3Aname.py" in props
    assert message == "we,ird:name.py:3:1: GL001 50%25 done%0Anext, line: x\n"


def test_github_file_errors_are_annotated():
    out = StringIO()
    write_report("github", [], {}, out, False, errors=[FileError("bad.py", "syntax error: x", 4, 2)])
    assert out.getvalue() == (f"::error title=gradlint (file not checked),file={os.path.abspath('bad.py')},"
                              "line=4,col=2::bad.py: syntax error: x\n")


# ----------------------------------------------------------------------------- json-lines


def test_json_lines_matches_json(tmp_path, monkeypatch):
    whole = json.loads(run_cli(tmp_path, monkeypatch, "--output-format", "json", "train.py").stdout)
    res = run_cli(tmp_path, monkeypatch, "--output-format", "json-lines", "train.py")
    lines = res.stdout.splitlines()
    assert [json.loads(x) for x in lines] == whole
    assert len(lines) == 3


def test_json_lines_empty_run_writes_nothing():
    out = StringIO()
    write_report("json-lines", [], {}, out, False)
    assert out.getvalue() == ""


# ----------------------------------------------------------------------------- junit


def test_junit_structure():
    diags = [diag(filename="a/train.py"), diag("GL003", 5, 5, 5, 11, filename="a/train.py"),
             diag(filename="b.py", message="ctl \x01\x1b char & <tag> \"q\"")]
    out = StringIO()
    write_report("junit", diags, {}, out, False, errors=[FileError("c.py", "syntax error: bad", 1, 1)])
    text = out.getvalue()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "3", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["a/train.py", "b.py", "c.py"]
    a = suites["a/train.py"]
    assert (a.get("tests"), a.get("failures")) == ("2", "2")
    cases = a.findall("testcase")
    assert [c.get("name") for c in cases] == ["org.gradlint.GL001", "org.gradlint.GL003"]
    assert cases[1].get("line") == "5" and cases[1].get("column") == "5"
    assert cases[0].get("classname") == "a.train"
    fail = cases[0].find("failure")
    assert fail.get("message") == "bad thing"
    assert fail.text == "line 3, col 1, [bug] bad thing" and fail.get("type") == "bug"
    odd = suites["b.py"].find("testcase/failure").get("message")
    assert odd == "ctl \ufffd\ufffd char & <tag> \"q\""
    err = suites["c.py"].find("testcase/error")
    assert err.get("message") == "syntax error: bad"


def test_junit_clean_run_is_one_passing_case():
    out = StringIO()
    write_report("junit", [], {}, out, False)
    root = ET.fromstring(out.getvalue())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")
    case = root.find("testsuite/testcase")
    assert case.get("name") == "No errors found" and case.find("failure") is None


# ----------------------------------------------------------------------------- --statistics


def test_statistics_text():
    diags = [diag(), diag(row=6), diag("GL003", 5, 5, 5, 11)] + [diag("GL002", row=r) for r in range(10, 20)]
    out = StringIO()
    write_statistics(diags, out)
    assert out.getvalue() == "10\tGL002\trebind-loses-grad\n 2\tGL001\tinplace-on-leaf\n 1\tGL003\tdata-attribute\n"


def test_statistics_marks_fixable_rules():
    out = StringIO()
    write_statistics([diag(fix=SAFE_FIX), diag("GL003", 5, 5, 5, 11)], out)
    assert out.getvalue() == "1\tGL001\t[*] inplace-on-leaf\n1\tGL003\t[ ] data-attribute\n"


def test_statistics_cli(tmp_path, monkeypatch):
    res = run_cli(tmp_path, monkeypatch, "--statistics", "train.py")
    assert res.exit_code == 1
    # (the `[*]`/`[ ]` column depends on which rules have fixes: tested above)
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"2\tGL001\t(\[[* ]\] )?inplace-on-leaf", lines[0])
    assert re.fullmatch(r"1\tGL003\t(\[[* ]\] )?data-attribute", lines[1])
    assert "Found 3 errors: 2 bugs, 1 hygiene." in res.stderr
    res = run_cli(tmp_path, monkeypatch, "--statistics", "--output-format", "json", "train.py")
    assert [(r["code"], r["name"], r["count"]) for r in json.loads(res.stdout)] == [
        ("GL001", "inplace-on-leaf", 2), ("GL003", "data-attribute", 1)]
    clean = run_cli(tmp_path, monkeypatch, "--statistics", "clean.py", files={"clean.py": "import torch\n"})
    assert clean.exit_code == 0 and clean.stdout == ""


def test_statistics_unsafe_fixes_count_as_fixable_only_when_enabled():
    unsafe_fix = Fix(Applicability.UNSAFE, "m", SAFE_FIX.edits)
    out = StringIO()
    write_statistics([diag(fix=unsafe_fix), diag("GL003", 5, 5, 5, 11)], out)
    assert out.getvalue() == "1\tGL001\tinplace-on-leaf\n1\tGL003\tdata-attribute\n"
    out = StringIO()
    write_statistics([diag(fix=unsafe_fix), diag("GL003", 5, 5, 5, 11)], out, unsafe=True)
    assert out.getvalue() == "1\tGL001\t[*] inplace-on-leaf\n1\tGL003\t[ ] data-attribute\n"


# ----------------------------------------------------------------------------- notebooks


def test_notebook_findings_name_the_cell_and_claim_no_file_lines(tmp_path):
    from dataclasses import replace

    d = replace(diag(filename="nb.ipynb"), cell=3)
    assert gh.line(d).startswith("::error title=gradlint (GL001),file=")
    assert "line=" not in gh.line(d).split("::")[1] and "nb.ipynb:cell 3:" in gh.line(d)
    doc = to_sarif([d], [], root=str(tmp_path))
    validate(doc)
    result = doc["runs"][0]["results"][0]
    assert "region" not in result["locations"][0]["physicalLocation"]
    assert result["message"]["text"].startswith("cell 3, line ") and result["properties"]["cell"] == 3
    out = StringIO()
    write_report("junit", [d], {}, out, False, errors=[], files=["nb.ipynb"])
    failure = ET.fromstring(out.getvalue()).find(".//failure")
    assert failure is not None and failure.text.startswith("cell 3, line ")
