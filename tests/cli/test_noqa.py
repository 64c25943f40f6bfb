"""gradlint.noqa: the ruff-compatible reading of `# noqa` comments (unit level)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlint.noqa import ALL, NoqaMap, is_suppressed, parse_noqa


@pytest.mark.parametrize(
    "comment, expected",
    [
        ("# noqa", ALL),
        ("#noqa", ALL),
        ("# NOQA", ALL),
        ("# NoQA", ALL),
        ("# noqa because the fixture is wrong on purpose", ALL),  # text after a blank noqa: a comment
        ("# noqa# and another comment", ALL),
        ("# noqa: GL001", {"GL001"}),
        ("# noqa:GL001", {"GL001"}),
        ("# noqa:GL001,GL003", {"GL001", "GL003"}),
        ("# noqa: GL001, GL003", {"GL001", "GL003"}),
        ("# NOQA : GL001 GL002", {"GL001", "GL002"}),
        ("# noqa   :   GL001", {"GL001"}),
        ("# noqa: GL001 the reason why", {"GL001"}),
        ("# noqa: GL001, GL002 reason GL003", {"GL001", "GL002"}),  # the list ends at the first non-code
        ("# noqa: GL001#comment", {"GL001"}),
        ("# noqa: GL001GL002", {"GL001", "GL002"}),  # joined codes, read as ruff reads them
        ("# noqa: GL001, , GL002", {"GL001", "GL002"}),
        ("# noqa: gl001", {"GL001"}),
        ("# noqa: E501", {"E501"}),  # unknown codes are kept, and match nothing of ours
        ("# type: ignore  # noqa: GL003", {"GL003"}),
        ("# first # second # noqa", ALL),
        # malformed: not a directive at all (never a blanket suppression)
        ("#noqaGL001", None),
        ("# noqa; GL001", None),
        ("# noqa:", None),
        ("# noqa: reasons only", None),
        ("# no qa", None),
        ("# this is not noqa", None),
        ("# gradlint: noqa", None),  # a file directive after code does nothing (as ruff)
    ],
)
def test_line_directives(comment, expected):
    m = parse_noqa(f"x = 1  {comment}\n")
    got = m.lines.get(1)
    assert got == expected
    assert not m.file_exempt and not m.file_codes


def test_codes_for_line_and_is_suppressed():
    m = parse_noqa("a = 1  # noqa\nb = 2  # noqa: GL001,E501\nc = 3\n")
    assert m.codes_for_line(1) == ALL
    assert m.codes_for_line(2) == {"GL001", "E501"}
    assert m.codes_for_line(3) == set()
    assert is_suppressed(1, "GL004", m)
    assert is_suppressed(2, "GL001", m) and is_suppressed(2, "gl001", m)
    assert not is_suppressed(2, "GL003", m)
    assert not is_suppressed(3, "GL001", m)


@pytest.mark.parametrize(
    "source",
    [
        's = "# noqa"\n',
        "s = '# noqa: GL001'\n",
        's = """\n# noqa\n"""\n',
        "s = f'{x} # noqa'\n",
        'b = b"# noqa"\n',
    ],
)
def test_noqa_inside_a_string_does_not_count(source):
    m = parse_noqa(source)
    assert m.lines == {} and not m.file_exempt


@pytest.mark.parametrize(
    "source, exempt, codes",
    [
        ("# gradlint: noqa\nimport torch\n", True, set()),
        ("import torch\n\n# gradlint: noqa\n", True, set()),  # anywhere in the file
        ("def f():\n    # gradlint: noqa\n    pass\n", True, set()),  # own line, any indentation
        ("#gradlint:noqa\n", True, set()),
        ("# GRADLINT : NOQA\n", True, set()),
        ("# license header # gradlint: noqa\n", True, set()),
        ("# gradlint: noqa: GL001, GL003\n", False, {"GL001", "GL003"}),
        ("# gradlint: noqa:GL004\nx = 1\n# gradlint: noqa: GL005\n", False, {"GL004", "GL005"}),
        ("x = 1  # gradlint: noqa\n", False, set()),  # not on its own line: ignored (as ruff)
        ("s = '# gradlint: noqa'\n", False, set()),
        ("# ruff: noqa\n", False, set()),  # another tool's directive
        ("# flake8: noqa\n", False, set()),
        ("# gradlint: noqa; GL001\n", False, set()),  # malformed
    ],
)
def test_file_directives(source, exempt, codes):
    m = parse_noqa(source)
    assert m.file_exempt is exempt
    assert m.file_codes == codes


def test_file_codes_suppress_everywhere():
    m = parse_noqa("# gradlint: noqa: GL003\nx = 1\n")
    assert is_suppressed(2, "GL003", m) and is_suppressed(99, "GL003", m)
    assert not is_suppressed(2, "GL001", m)
    exempt = parse_noqa("# gradlint: noqa\n")
    assert is_suppressed(5, "GL001", exempt)


def test_multiline_string_maps_to_its_last_line():
    src = 'f(p.data, """\nline\n""")  # noqa: GL003\nnext = 1\n'
    m = parse_noqa(src)
    assert [m.noqa_row(r) for r in (1, 2, 3, 4)] == [3, 3, 3, 4]
    assert is_suppressed(1, "GL003", m) and is_suppressed(2, "GL003", m)
    assert not is_suppressed(4, "GL003", m)


def test_backslash_continuation_maps_to_the_last_line():
    src = "w += \\\n    1 + \\\n    2  # noqa\nz = 3\n"
    m = parse_noqa(src)
    assert [m.noqa_row(r) for r in (1, 2, 3, 4)] == [3, 3, 3, 4]
    assert is_suppressed(1, "GL001", m)


def test_bracketed_lines_keep_their_own_rows():
    src = "f(\n    a,  # noqa: GL001\n    b,\n)\n"
    m = parse_noqa(src)
    assert [m.noqa_row(r) for r in (1, 2, 3, 4)] == [1, 2, 3, 4]
    assert is_suppressed(2, "GL001", m) and not is_suppressed(1, "GL001", m)


def test_crlf_and_cr_sources():
    assert parse_noqa("a = 1\r\nb = 2  # noqa\r\n").lines == {2: ALL}
    cr = parse_noqa("a = 1\rb = 2  # noqa: GL001\r")
    assert cr.lines == {2: {"GL001"}} and cr.row_map == {}


def test_untokenizable_source_falls_back_to_lines():
    m = parse_noqa('x = (\ny = 1  # noqa: GL002\ns = """unterminated\n')
    assert m.lines.get(2) == {"GL002"}


def test_no_noqa_text_is_cheap_and_empty():
    m = parse_noqa("import torch\n" * 100)
    assert m == NoqaMap()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("#noqaNOQA:GL0123, \n\r\t\\'\"()x=") + ["gradlint", "noqa", "GL001"]), max_size=40).map("".join))
def test_parse_noqa_never_raises(text):
    m = parse_noqa(text)
    for row in range(1, text.count("\n") + 3):
        is_suppressed(row, "GL001", m)
        assert m.noqa_row(row) >= row
