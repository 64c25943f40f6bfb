"""The fixture declaration contract: FIXTURE literals and `# gradlint-expect:` markers, read without running."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradlint.fixtures import (
    FIXTURES_DIR,
    ExpectedException,
    ExpectedWarning,
    FixtureError,
    all_fixtures,
    fixtures_for,
    parse_fixture_source,
    parse_markers,
    rule_codes,
)

CORE_RULES = ("GL001", "GL002", "GL003", "GL004", "GL005")


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


GOOD = src(
    '''
    import torch

    FIXTURE = {
        "rule": "GL001",
        "kind": "bad",
        "summary": "demo",
        "expect": {
            "exception": {"type": "RuntimeError", "message": "a leaf Variable"},
            "warnings": [{"category": "UserWarning", "message": "The .grad attribute"}],
            "observe": {"weight_updated": False, "grad": [1.0, 2.0], "name": "AddBackward0"},
        },
    }
    w = torch.zeros(3, requires_grad=True)
    s = "# gradlint-expect: GL009"   # a marker inside a string is not a marker
    w += 1  # gradlint-expect: GL001, GL003
    '''
)


def test_parses_declaration_and_markers():
    f = parse_fixture_source(GOOD, Path("/x/gl001_inplace_on_leaf/bad_demo.py"))
    assert (f.rule, f.kind, f.summary) == ("GL001", "bad", "demo")
    assert f.expect.exception == ExpectedException("RuntimeError", "a leaf Variable")
    assert f.expect.warnings == (ExpectedWarning("UserWarning", "The .grad attribute"),)
    assert f.expect.observe == {"weight_updated": False, "grad": [1.0, 2.0], "name": "AddBackward0"}
    assert f.expected_lines == (15,)
    assert f.markers == {15: ("GL001", "GL003")}
    assert f.golden_path.name == "bad_demo.torch.json"
    assert f.id == "gl001_inplace_on_leaf/bad_demo.py"


def test_markers_are_comments_only():
    assert parse_markers('x = "# gradlint-expect: GL001"\ny = 1  #gradlint-expect:GL002\n') == {2: ("GL002",)}


def test_header_is_never_executed(tmp_path):
    # a side effect in the program must not happen when the declaration is read
    marker = tmp_path / "ran"
    text = GOOD + f"open({str(marker)!r}, 'w').close()\n"
    parse_fixture_source(text, tmp_path / "bad_demo.py")
    assert not marker.exists()


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda s: s.replace("FIXTURE = {", "SPEC = {"), "no module-level `FIXTURE"),
        (lambda s: s.replace('"summary": "demo"', '"summary": str(1)'), "must be a literal"),
        (lambda s: s.replace('"kind": "bad"', '"kind": "ugly"'), "'bad' or 'good'"),
        (lambda s: s.replace('"rule": "GL001"', '"rule": "G1"'), "a code like"),
        (lambda s: s.replace('"summary"', '"sumary"'), "unknown key"),
        (lambda s: s.replace('"observe"', '"observed"'), "unknown key(s) in expect"),
        (lambda s: s.replace("import torch\n", "import os\nimport torch\n", 1), "starts with `import torch`"),
        (lambda s: s.replace("  # gradlint-expect: GL001, GL003", ""), "at least one line"),
        (lambda s: s.replace("# gradlint-expect: GL001, GL003", "# gradlint-expect: oops"), "malformed marker"),
        (lambda s: s.replace('{"type": "RuntimeError", "message": "a leaf Variable"}', '{"type": "RuntimeError"}'),
         "needs string 'type' and 'message'"),
        (lambda s: s + "FIXTURE = {}\n", "assigned twice"),
        (lambda s: s + "def broken(:\n", "does not parse"),
    ],
)
def test_malformed_declarations_are_rejected(mutation, message):
    with pytest.raises(FixtureError) as err:
        parse_fixture_source(mutation(GOOD), Path("/x/gl001_inplace_on_leaf/bad_demo.py"))
    assert message in str(err.value)


def test_good_fixture_must_not_expect_its_rule():
    text = GOOD.replace('"kind": "bad"', '"kind": "good"')
    with pytest.raises(FixtureError, match="must not expect GL001"):
        parse_fixture_source(text, Path("/x/gl001_inplace_on_leaf/good_demo.py"))


def test_folder_and_file_name_must_agree():
    with pytest.raises(FixtureError, match="folder"):
        parse_fixture_source(GOOD, Path("/x/gl002_rebind_loses_grad/bad_demo.py"))
    with pytest.raises(FixtureError, match="file name"):
        parse_fixture_source(GOOD, Path("/x/gl001_inplace_on_leaf/good_demo.py"))


def test_empty_expectation_is_rejected():
    text = src(
        '''
        import torch
        FIXTURE = {"rule": "GL001", "kind": "good", "expect": {}}
        '''
    )
    with pytest.raises(FixtureError, match="declares nothing"):
        parse_fixture_source(text, Path("good_x.py"))


# ---------------------------------------------------------------------------------------------- the shipped set


def test_every_core_rule_has_three_bad_and_three_good_fixtures():
    assert set(CORE_RULES) <= set(rule_codes())
    for code in CORE_RULES:
        fs = fixtures_for(code)
        assert sum(f.kind == "bad" for f in fs) >= 3, code
        assert sum(f.kind == "good" for f in fs) >= 3, code


def test_order_is_rule_then_bad_then_good_then_name():
    fs = all_fixtures()
    keys = [(f.rule, f.kind != "bad", f.name) for f in fs]
    assert keys == sorted(keys)
    assert fixtures_for("gl001") == [f for f in fs if f.rule == "GL001"]


def test_rule_folders_are_named_after_the_rules():
    rules = pytest.importorskip("gradlint.rules")
    names = {r.code: r.name for r in rules.ALL_RULES}
    for f in all_fixtures():
        assert f.rule in names, f.id
        assert f.folder == f"{f.rule.lower()}_{names[f.rule].replace('-', '_')}", f.id


def test_rule_folders_are_data_not_packages():
    # tests/test_packaging.py requires every folder with an __init__.py to be a declared package
    for folder in FIXTURES_DIR.iterdir():
        if folder.is_dir() and folder.name.startswith("gl"):
            assert not (folder / "__init__.py").exists(), folder


def test_every_fixture_has_a_golden():
    missing = [f.id for f in all_fixtures() if not f.golden_path.exists()]
    assert not missing, "record them: python -m gradlint.verify.golden --update"


def test_fixtures_do_not_catch_broadly():
    # a fixture shows its exception to the user, it does not swallow it
    for f in all_fixtures():
        text = f.source()
        assert "except Exception" not in text and "except:" not in text, f.id


def test_discovery_rejects_stray_files_in_rule_folders(tmp_path):
    folder = tmp_path / "gl001_inplace_on_leaf"
    folder.mkdir()
    (folder / "bad_x.py").write_text(GOOD.replace("bad_demo", "bad_x"))
    assert [f.name for f in all_fixtures(tmp_path)] == ["bad_x.py"]
    (folder / "helper.py").write_text("import torch\n")
    with pytest.raises(FixtureError, match="bad_<what>.py or good_<what>.py"):
        all_fixtures(tmp_path)
