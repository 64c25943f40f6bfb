"""docs/rules.md is generated from the rules' metadata (`python -m gradlint.docs`) and must be current."""

from __future__ import annotations

import textwrap

from gradlint.docs import REGENERATE, anchor, default_output, demote_headings, main, render
from gradlint.rules import ALL_RULES


def test_rules_md_is_current():
    path = default_output()
    assert path.is_file(), f"{path} is missing: generate it with `{REGENERATE}`"
    assert path.read_text(encoding="utf-8") == render(), (
        f"{path} is stale (a rule's metadata, docs or fixtures changed): regenerate it with `{REGENERATE}`"
    )


def test_index_and_sections_cover_every_rule():
    text = render()
    for r in ALL_RULES:
        assert f"| [{r.code}](#{anchor(r)}) | {r.name} | {'on' if r.default_enabled else 'off'} |" in text
        assert f"\n## {r.code} {r.name}\n" in text
        # the rule's own sections, one level down
        assert "\n### What it does\n" in text.split(f"\n## {r.code} {r.name}\n", 1)[1]
    assert text.count("\n### Fixtures\n") == len(ALL_RULES)


def test_fixtures_are_listed_by_path():
    text = render()
    gl001 = text.split("\n## GL001 ", 1)[1].split("\n## GL002 ", 1)[0]
    assert "| `fixtures/gl001_inplace_on_leaf/bad_manual_sgd_param_loop.py` | bad |" in gl001
    assert "RuntimeError: a leaf Variable that requires grad" in gl001
    bad = gl001.index("| bad |")
    good = gl001.index("| good |")
    assert bad < good  # bad fixtures first


def test_demote_headings_skips_code_blocks():
    md = textwrap.dedent("""\
        ## What it does
        text
        ```python
        # a comment, not a heading
        ## nor this
        ```
        ### Sub
        ~~~
        # still code
        ~~~
        #not-a-heading
        """)
    assert demote_headings(md).splitlines() == [
        "### What it does", "text", "```python", "# a comment, not a heading", "## nor this", "```",
        "#### Sub", "~~~", "# still code", "~~~", "#not-a-heading",
    ]


def test_check_mode(tmp_path, capsys):
    out = tmp_path / "rules.md"
    assert main(["--check", "-o", str(out)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["-o", str(out)]) == 0
    assert main(["--check", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
