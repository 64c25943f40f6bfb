"""Loop back-edge joins of the binding table (`gradlint.model.bindings.LoopJoins`, `model.loop_joins`): what
a name holds at a loop's head (the value before the loop joined with what each iteration leaves at the end
of its body and at `continue`), what the previous iteration left, and which bindings reach a point of the
body (`Reach`: was the name bound on every path since the head?).

Each program calls `probe(name)` where a point is asked; the extension records `builder.reach(name)` there.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import Kind, build_model
from gradlint.model.ext_training import TrainingFacts
from gradlint.model.extension import Extension
from gradlint.model.values import CUT, GRADISH, NUM, PLAIN, RG
from gradlint.settings import RuleOptions


class Reaches(Extension):
    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.points: list = []

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is cst.Name and node.func.value == "probe":
            self.points.append(self.b.reach(node.args[0].value.value))


def build(code: str):
    m = build_model(cst.parse_module(textwrap.dedent(code)), RuleOptions(), "train.py",
                    extensions=(Reaches, TrainingFacts))
    return m, m.loop_joins, m.ext(Reaches).points


HEADER = """\
import torch
model = torch.nn.Linear(3, 1)
"""


# ------------------------------------------------------------------ values at the head / from the previous iteration


def test_a_name_rebound_in_the_body_is_known_per_iteration():
    m, j, _ = build(HEADER + """
w = torch.zeros(3, requires_grad=True)
for i in range(3):
    w = w * 2
""")
    loop = m.loops[0]
    assert m.loops[0] is loop
    prev = j.value_from_previous_iteration(loop, "w")
    assert prev is not None and prev.kind is Kind.NONLEAF  # the second iteration starts from a non-leaf
    entry = j.at_loop_entry(loop, "w")
    assert entry.kind is Kind.UNKNOWN  # a leaf on the first iteration, a non-leaf after: joined
    assert j.rebound_in_loop(loop, "w")


def test_a_name_not_rebound_holds_the_same_value_on_every_iteration():
    m, j, _ = build(HEADER + """
w = torch.zeros(3, requires_grad=True)
for i in range(3):
    y = w * 2
""")
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "w") is None
    entry = j.at_loop_entry(loop, "w")
    assert entry.kind is Kind.LEAF and entry.prov.state == RG
    assert not j.rebound_in_loop(loop, "w")
    assert j.rebound_in_loop(loop, "y") and j.rebound_in_loop(loop, "i")  # (the target: at every head)


def test_rebound_in_one_branch_joins_with_the_value_before():
    src = HEADER + """
w = torch.zeros(3, requires_grad=True)
for i in range(3):
    if i == 0:
        w = w.detach()
    {other}
    probe(w)
"""
    m, j, points = build(src.format(other="pass"))
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "w").kind is Kind.UNKNOWN  # detached, or the leaf from before
    assert not j.bound_this_iteration(loop, points[0])  # the fall-through path did not rebind it
    m, j, points = build(src.format(other="else_ = 0").replace("    else_ = 0", "    else:\n        w = w.detach()"))
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "w").kind is Kind.TENSOR  # both branches detach it
    assert j.bound_this_iteration(loop, points[0])


def test_continue_is_a_back_edge():
    src = HEADER + """
s = torch.zeros(3, requires_grad=True)
for i in range(3):
    if i > 1:
        {jump}
    s = s.detach()
    probe(s)
"""
    m, j, points = build(src.format(jump="continue"))
    loop = m.loops[0]
    # the `continue` path hands the head's value on; the end of the body a detached tensor
    assert j.value_from_previous_iteration(loop, "s").kind is Kind.UNKNOWN
    assert j.bound_this_iteration(loop, points[0])
    m, j, points = build(src.format(jump="pass"))
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "s").kind is Kind.TENSOR
    assert j.bound_this_iteration(loop, points[0])


def test_code_after_continue_does_not_reach_the_join():
    src = HEADER + """
s = torch.zeros(3, requires_grad=True)
for i in range(3):
    if i > 1:
        s = s.detach()
        {jump}
    probe(s)
"""
    m, _, points = build(src.format(jump="continue"))
    assert points[0].at(m.loops[0]) == frozenset({0})  # only the head's value reaches the probe
    m, _, points = build(src.format(jump="pass"))
    assert len(points[0].at(m.loops[0])) == 2  # the head's, or the detached one


def test_while_loops_join_too():
    src = HEADER + """
h = torch.zeros(3)
while True:
    {body}
    probe(h)
    if h.sum() > 3:
        break
"""
    m, j, points = build(src.format(body="h = model(h)"))
    loop = m.loops[0]
    prev = j.value_from_previous_iteration(loop, "h")
    assert prev is not None and prev.prov.state in GRADISH
    assert j.bound_this_iteration(loop, points[0])
    m, j, points = build(src.format(body="y = model(h)"))
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "h") is None
    assert j.at_loop_entry(loop, "h").prov.state == PLAIN
    assert not j.bound_this_iteration(loop, points[0])


def test_nested_loops():
    src = HEADER + """
for epoch in range(3):
    {outer}
    for x in xs:
        {inner}
        probe(acc)
    probe(acc)
"""
    # re-created at the top of each outer iteration: fresh for the outer loop, carried across the inner one
    m, j, points = build(src.format(outer="acc = []", inner="pass"))
    outer, inner = m.loops
    assert j.bound_this_iteration(outer, points[0]) and not j.bound_this_iteration(inner, points[0])
    assert j.bound_this_iteration(outer, points[1])
    assert j.value_from_previous_iteration(inner, "acc") is None
    # bound only inside the inner loop: it may not run, so the outer iteration may see the previous one's
    m, j, points = build(src.format(outer="pass", inner="acc = []"))
    outer, inner = m.loops
    assert j.bound_this_iteration(inner, points[0]) and j.bound_this_iteration(outer, points[0])
    assert not j.bound_this_iteration(outer, points[1])
    assert j.rebound_in_loop(outer, "acc") and j.rebound_in_loop(inner, "acc")


def test_a_graph_carried_across_iterations_or_cut():
    src = HEADER + """
total = 0
for x, y in loader:
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    {acc}
"""
    m, j, _ = build(src.format(acc="total = total + loss"))
    loop = m.loops[0]
    prev = j.value_from_previous_iteration(loop, "total")
    assert prev.prov.state in GRADISH  # the next iteration adds to a value carrying this one's graph
    accs = m.ext(TrainingFacts).accumulations
    assert len(accs) == 1 and j.crosses_iterations(loop, accs[0].reach, accs[0].stmt)
    m, j, _ = build(src.format(acc="total += loss.item()"))
    loop = m.loops[0]
    assert j.value_from_previous_iteration(loop, "total").prov.state in (NUM, CUT)
    assert not m.ext(TrainingFacts).accumulations


def test_an_accumulator_re_created_each_iteration_does_not_cross_iterations():
    src = HEADER + """
for x, y in loader:
    {before}
    loss = ((model(x) - y) ** 2).mean()
    total += loss
    {after}
"""
    def crosses(before="pass", after="pass"):
        m, j, _ = build(src.format(before=before, after=after))
        acc = m.ext(TrainingFacts).accumulations[0]
        return j.crosses_iterations(m.loops[0], acc.reach, acc.stmt)

    assert crosses()
    assert not crosses(before="total = 0")
    assert not crosses(after="total = 0")  # reset after it: what it accumulates never reaches the next one
    assert crosses(after="if x is None:\n        total = 0")  # reset on one path only
    assert not crosses(before="if x is None:\n        total = 0\n    else:\n        total = 1")
    assert crosses(after="if x is None:\n        continue\n    total = 0")  # the `continue` skips the reset


def test_a_list_cleared_each_iteration():
    src = HEADER + """
losses = []
for x, y in loader:
    losses.append(((model(x) - y) ** 2).mean())
    {after}
"""
    for after, crosses in (("pass", True), ("losses.clear()", False), ("del losses[:]", False),
                           ("losses = []", False)):
        m, j, _ = build(src.format(after=after))
        acc = m.ext(TrainingFacts).accumulations[0]
        assert j.crosses_iterations(m.loops[0], acc.reach, acc.stmt) is crosses, after


def test_a_carried_hidden_state_and_a_repackaged_one():
    src = HEADER + """
h = torch.zeros(3)
for x in xs:
    h = model(x + h)
    {after}
"""
    m, j, _ = build(src.format(after="pass"))
    loop = m.loops[0]
    assert not j.rebound_in_loop(loop, "h", besides=m.ext(TrainingFacts).carried[0].stmt)
    m, j, _ = build(src.format(after="repackage_hidden(h)"))
    assert j.rebound_in_loop(m.loops[0], "h", besides=m.ext(TrainingFacts).carried[0].stmt)
    m, j, _ = build(src.format(after="h.detach_()"))
    assert j.rebound_in_loop(m.loops[0], "h", besides=m.ext(TrainingFacts).carried[0].stmt)


def test_a_releafed_value_each_iteration_or_once():
    src = HEADER + """
s = torch.zeros(3, requires_grad=True)
for i in range(10):
{releaf}
    loss = (s ** 2).sum()
    loss.backward()
    with torch.no_grad():
        s = s - 0.1 * s.grad
"""
    def fresh(releaf):
        m, j, _ = build(src.format(releaf=releaf))
        rb = m.rebinds[-1]  # the update (a releaf spelled `s = ...` is a rebind too)
        sites = [r.node for r in m.releafs if r.name == "s"]
        return j.bound_this_iteration(rb.loop, rb.reach, sites)

    assert fresh("    s = s.detach().requires_grad_(True)")
    assert fresh("    s = s.detach()\n    s.requires_grad_()")
    assert not fresh("    if i == 0:\n        s = s.detach().requires_grad_(True)")  # iteration 2 sees the update
    assert not fresh("    pass")
    assert not fresh("    s = s * 1.0")  # bound, but not a fresh leaf


def test_try_handlers_and_match_cases_may_not_run():
    src = HEADER + """
for x in xs:
    try:
        {body}
    except ValueError:
        {handler}
    probe(h)
"""
    m, j, points = build(src.format(body="h = model(x)", handler="h = None"))
    assert j.bound_this_iteration(m.loops[0], points[0])
    m, j, points = build(src.format(body="y = model(x)", handler="h = None"))
    assert not j.bound_this_iteration(m.loops[0], points[0])
    m, j, points = build(src.format(body="h = model(x)", handler="raise"))
    assert j.bound_this_iteration(m.loops[0], points[0])
    src = HEADER + """
for x in xs:
    match x:
        case 1:
            h = model(x)
        case _:
            {other}
    probe(h)
"""
    m, j, points = build(src.format(other="h = None"))
    assert j.bound_this_iteration(m.loops[0], points[0])  # every case binds it
    m, j, points = build(src.format(other="pass"))
    assert not j.bound_this_iteration(m.loops[0], points[0])
