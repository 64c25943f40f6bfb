"""The edit primitives of rules/base.py resolved into text edits (gradlint.fix.resolve_fix), and the
one-pass applier (gradlint.fix.apply_edits)."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from gradlint.diagnostic import Applicability, Edit, Fix, Location
from gradlint.fix import apply_edits, resolve_fix, unified_diff
from gradlint.rules.base import (FixSpec, InsertAfter, InsertBefore, InsertLinesAfter, InsertLinesBefore, Replace,
                                 ReplaceLines, WrapInBlock)


def parse(src: str):
    module = cst.parse_module(src)
    return module, MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def run(src: str, spec_for) -> str:
    module, positions = parse(src)
    fix = resolve_fix(spec_for(module), module, positions, src)
    assert fix is not None
    out, applied = apply_edits(src, [fix])
    assert applied == [fix]
    return out


def test_replace_insert_before_after():
    src = "x = foo(a)  # c\n"

    def spec(m):
        call = m.body[0].body[0].value
        return FixSpec("m", (Replace(call.func, "bar"), InsertBefore(call.args[0], "b, "), InsertAfter(call, ".y")))

    assert run(src, spec) == "x = bar(b, a).y  # c\n"


def test_insert_lines_before_decorated_def_goes_above_decorators():
    src = "class A:\n    @dec\n    # mid\n    @dec2\n    def f(self):\n        pass\n"

    def spec(m):
        fn = m.body[0].body.body[0]
        return FixSpec("m", (InsertLinesBefore(fn, "# before\n"), InsertLinesBefore(fn.name, "@inner()\n")))

    assert run(src, spec) == (
        "class A:\n    # before\n    @dec\n    # mid\n    @dec2\n    @inner()\n    def f(self):\n        pass\n")


def test_insert_lines_after_compound_and_at_eof_without_newline():
    src = "for x in y:\n    a(x)\nb()"

    def spec(m):
        return FixSpec("m", (InsertLinesAfter(m.body[0], "done()\n"), InsertLinesAfter(m.body[1], "end()\n")))

    assert run(src, spec) == "for x in y:\n    a(x)\ndone()\nb()\nend()\n"


def test_replace_lines_relative_content_tabs_and_crlf():
    src = "if t:\r\n\tx = 1  # old\r\n\ty = 2\r\n"

    def spec(m):
        block = m.body[0].body.body
        return FixSpec("m", (ReplaceLines(block[0], block[1], "if u:\n    z = 3\n"),))

    assert run(src, spec) == "if t:\r\n\tif u:\r\n\t\tz = 3\r\n"


def test_wrap_keeps_multiline_strings_comments_and_blank_lines():
    src = 'def f():\n    s = """a\nb"""\n\n    # note\n    g(s)  # tail\n    h()\n'

    def spec(m):
        body = m.body[0].body.body
        return FixSpec("m", (WrapInBlock(body[0], body[1], "with ctx():"),))

    assert run(src, spec) == (
        'def f():\n    with ctx():\n        s = """a\nb"""\n\n        # note\n        g(s)  # tail\n    h()\n')


def test_wrap_absorbs_inner_edits_of_the_same_fix():
    src = "for p in ps:\n    p.data.add_(1)\n"

    def spec(m):
        loop = m.body[0]
        attr = loop.body.body[0].body[0].value.func.value  # `p.data`
        return FixSpec("m", (Replace(attr, "p"), WrapInBlock(loop, loop, "with torch.no_grad():"),
                             InsertLinesBefore(loop, "import torch\n")))

    assert run(src, spec) == "import torch\nwith torch.no_grad():\n    for p in ps:\n        p.add_(1)\n"


def test_whole_line_edits_on_shared_lines_are_dropped():
    src = "a = 1; b = 2\nfor x in y: z(x)\n"
    module, positions = parse(src)
    small = module.body[0].body[1]
    inner = module.body[1].body.body[0]
    assert resolve_fix(FixSpec("m", (WrapInBlock(small, small, "with c():"),)), module, positions, src) is None
    assert resolve_fix(FixSpec("m", (WrapInBlock(inner, inner, "with c():"),)), module, positions, src) is None
    foreign = cst.parse_module("q = 1\n").body[0]
    assert resolve_fix(FixSpec("m", (Replace(foreign, "x"),)), module, positions, src) is None


def test_apply_edits_skips_overlapping_and_dedupes_identical():
    src = "a\nb\nc\n"
    imp = Edit("import torch\n", Location(1, 1), Location(1, 1))
    f1 = Fix(Applicability.SAFE, "one", (imp, Edit("B", Location(2, 1), Location(2, 2))))
    f2 = Fix(Applicability.SAFE, "two", (imp, Edit("C", Location(3, 1), Location(3, 2))))
    f3 = Fix(Applicability.SAFE, "three", (Edit("X", Location(2, 1), Location(3, 2)),))  # overlaps both
    out, applied = apply_edits(src, [f3, f1, f2])
    assert out == "import torch\na\nB\nC\n"
    assert [f.message for f in applied] == ["one", "two"]


def test_unified_diff_format():
    d = unified_diff("x.py", "a\nb\n", "a\nc\n")
    assert d.startswith("--- x.py\n+++ x.py\n@@ ")
    assert "-b\n+c\n" in d
    assert unified_diff("x.py", "a", "b").endswith("\\ No newline at end of file\n")
