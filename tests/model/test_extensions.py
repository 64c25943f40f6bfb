"""Model extensions run inside the builder's single walk, see its state, and are built only on demand."""

from __future__ import annotations

import libcst as cst

from gradlint.model import Mode, build_model
from gradlint.model.extension import Extension
from gradlint.settings import RuleOptions

SRC = """\
import torch
w = torch.zeros(2, requires_grad=True)
def f(x):
    for i in range(3):
        with torch.no_grad():
            y = w * 2
    return x
"""


class Recorder(Extension):
    def __init__(self, builder):
        super().__init__(builder)
        self.seen = []
        self.finished = None

    def visit_Assign(self, node):
        self.seen.append(("assign", self.b.mode, self.b.function.name if self.b.function else None,
                          len(self.b.enclosing_loops), self.b.classify(node.value).kind.value))

    def leave_With(self, node):
        # still inside the with: the region is not popped yet
        self.seen.append(("leave_with", self.b.mode))

    def finish(self, model):
        self.finished = model


def test_extension_sees_builder_state_in_one_walk():
    module = cst.parse_module(SRC)
    model = build_model(module, RuleOptions(), "x.py", (Recorder,))
    rec = model.ext(Recorder)
    assert rec.finished is model
    assert rec.seen == [
        ("assign", Mode.ENABLED, None, 0, "leaf"),
        ("assign", Mode.DISABLED, "f", 1, "nonleaf"),
        ("leave_with", Mode.DISABLED),
    ]


def test_extension_not_built_unless_asked():
    model = build_model(cst.parse_module(SRC), RuleOptions(), "x.py")
    try:
        model.ext(Recorder)
    except KeyError as exc:
        assert "Recorder" in str(exc)
    else:
        raise AssertionError("expected KeyError")
