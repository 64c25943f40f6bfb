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


def test_rule_pages_and_catalogue_are_current():
    """gradlint/docs-site/*.html and gradlint/catalog.json are generated with docs/rules.md."""
    from gradlint.docs import stale_generated

    stale = stale_generated()
    assert stale == [], f"stale: {[str(p) for p in stale]}: regenerate them with `{REGENERATE}`"


def test_catalogue_matches_the_rules_and_falls_back_when_stale(tmp_path):
    import json

    from gradlint import catalog

    assert catalog.from_file() == catalog.from_rules()  # the committed file is current
    data = json.loads(catalog.CATALOG_FILE.read_text(encoding="utf-8"))
    data["rules"][0]["summary"] = "edited"
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps(data), encoding="utf-8")
    assert catalog.from_file(fresh)[0].summary == "edited"  # digest matches: the file is read, not the rules
    data["digest"] = "0" * 64
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    assert catalog.from_file(stale)[0].summary == ALL_RULES[0].summary  # stale: the rules themselves
    assert catalog.from_file(tmp_path / "missing.json") == catalog.from_rules()


def test_markdown_to_html():
    from gradlint.docs import markdown_to_html

    html = markdown_to_html("## What it does\nFlags `x.data` and **this** [link](https://e.org).\n\n"
                            "* one\n* two `<b>`\n\n```python\nif a < b:\n    pass\n```\n")
    assert "<h2>What it does</h2>" in html
    assert "<p>Flags <code>x.data</code> and <strong>this</strong> <a href=\"https://e.org\">link</a>.</p>" in html
    assert "<ul><li>one</li><li>two <code>&lt;b&gt;</code></li></ul>" in html
    assert '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>' in html
