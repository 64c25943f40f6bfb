"""Analyses skipped because the file never spells a word (ModelBuilder.mentions) change no finding.

Some model facts are read only by rules whose prefilter needs a word in the file; the model skips working
them out when the word is absent. That is sound only while those rules' prefilters stay within the words
the model tests, and while the skipped work feeds nothing else. Both are checked here: the prefilters by
reading the rules, the findings by linting every fixture, realistic program and rule example with the
gates open (no source text given) and closed (the text given), and comparing.
"""

from __future__ import annotations

import inspect

import libcst as cst
import pytest

from gradlint.linter import parse_module
from gradlint.model import build_model
from gradlint.model.ext_nograd_uses import INFERENCE_USE_WORDS
from gradlint.model.regions import REGION_WORDS
from gradlint.model.ext_training import GRAPH_REUSE_WORDS
from gradlint.positions import Positions
from gradlint.rules import ALL_RULES
from gradlint.settings import RuleOptions

from ._examples import example_sources

def _findings(source: str, gated: bool) -> list[tuple]:
    module = parse_module(source)
    options = RuleOptions()
    extensions = tuple(dict.fromkeys(e for r in ALL_RULES for e in r.extensions))
    model = build_model(module, options, "example.py", extensions, source if gated else None)
    found = []
    for rule in ALL_RULES:
        for f in rule().check(model, options):
            found.append((rule.code, f.node, f.message))
    pos = Positions(module, [n for _, n, _ in found])
    return sorted((code, pos.get(node).start.line, pos.get(node).start.column, msg) for code, node, msg in found)


def test_rules_reading_gated_facts_need_the_gate_words():
    for rule in ALL_RULES:
        text = inspect.getsource(inspect.getmodule(rule))
        if any(q in text for q in ("made_without_grad(", "is_inference_tensor(", "runs_without_grad(")):
            assert set(rule.prefilter) <= set(REGION_WORDS), rule.code
        if "inference_uses" in text:
            assert set(rule.prefilter) <= set(INFERENCE_USE_WORDS), rule.code
        if ".carried" in text:
            assert set(rule.prefilter) <= set(GRAPH_REUSE_WORDS), rule.code


@pytest.mark.parametrize("name,source", example_sources(),
                         ids=lambda v: v if isinstance(v, str) and len(v) < 80 else "")
def test_same_findings_with_and_without_the_text(name, source):
    try:
        open_gates = _findings(source, gated=False)
    except cst.ParserSyntaxError:
        pytest.skip("not Python")
    assert _findings(source, gated=True) == open_gates, name
