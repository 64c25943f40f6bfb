"""The graph a value carries (graph roots) and the control-flow facts of backward passes, read from the one
binding table: the roots live beside each binding (`gradlint.model.bindings`), merged where the bindings
merge, and whether a backward runs on every iteration is the loop joins' (`model.loop_joins`)."""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import build_model
from gradlint.model.ext_training import TrainingFacts
from gradlint.settings import RuleOptions


def facts(code: str):
    src = textwrap.dedent(code)
    m = build_model(cst.parse_module(src), RuleOptions(), "train.py", extensions=(TrainingFacts,), source=src)
    return m, m.ext(TrainingFacts)


def loop_at(model, line_text: str):
    for lp in model.loops:
        if model.module.code_for_node(lp.node).splitlines()[0].strip() == line_text:
            return lp
    raise AssertionError(f"no loop {line_text!r}")


def backward_of(model, t, text: str):
    """The backward pass whose call is `text`."""
    return next(b for b in t.backwards if model.code(b.node) == text)


def modules(t, roots) -> set[str]:
    """The modules whose calls made these roots."""
    return {mr.module for r in roots if (mr := t.model_roots.get(r)) is not None}


# ------------------------------------------------------------------ runs on every iteration (loop joins)


def test_a_backward_runs_on_every_iteration_unless_a_branch_or_an_inner_loop_holds_it():
    m, t = facts("""
        import torch
        loss = crit(model(x), y)
        for i in range(3):
            loss.backward()
            if i:
                aux.backward()
            for j in range(i):
                inner.backward()
            with torch.autocast("cuda"):
                scaled.backward()
            f = lambda: deferred.backward()
    """)
    outer = loop_at(m, "for i in range(3):")
    assert backward_of(m, t, "loss.backward()").unconditional_in is outer
    assert backward_of(m, t, "aux.backward()").unconditional_in is None
    inner = backward_of(m, t, "inner.backward()")
    assert inner.unconditional_in is loop_at(m, "for j in range(i):")  # every iteration of its own loop
    assert not m.loop_joins.runs_every_iteration(outer, inner.node)  # the inner loop may run none
    assert backward_of(m, t, "scaled.backward()").unconditional_in is outer
    assert backward_of(m, t, "deferred.backward()").unconditional_in is None  # runs when the lambda is called


def test_a_backward_in_a_try_body_whose_handler_goes_on_does_not_run_on_every_iteration():
    # the handler may start before the backward and the iteration then runs to its end without it
    m, t = facts("""
        import torch
        loss = crit(model(x), y)
        for x in data:
            try:
                loss.backward()
            except RuntimeError:
                pass
        for x in data:
            try:
                again.backward()
            except RuntimeError:
                continue
    """)
    assert backward_of(m, t, "loss.backward()").unconditional_in is None
    # a handler that leaves the iteration: every iteration that reaches the end of the body ran it
    assert backward_of(m, t, "again.backward()").unconditional_in is m.loops[1]


def test_an_iteration_cut_short_by_continue_does_not_count():
    m, t = facts("""
        import torch
        loss = crit(model(x), y)
        for i in range(3):
            if i == 0:
                continue
            loss.backward()
        for i in range(3):
            if i == 0:
                other.backward()
                continue
            pass
    """)
    first, _ = m.loops
    assert backward_of(m, t, "loss.backward()").unconditional_in is first
    assert backward_of(m, t, "other.backward()").unconditional_in is None


# ------------------------------------------------------------------ the graphs a value carries (binding table)


def test_a_tuple_unpacked_output_carries_the_module_call_and_a_detached_value_none():
    m, t = facts("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(3, 5)
        out, (h, c) = lstm(x, (h0, c0))
        h.sum().backward()
        d = out.detach()
        d.sum().backward()
    """)
    assert modules(t, backward_of(m, t, "h.sum().backward()").roots) == {"lstm"}
    assert backward_of(m, t, "d.sum().backward()").roots == frozenset()
    table = t.b  # the builder: its binding table, as the walk left the module's scope
    assert table.roots_of("c") == table.roots_of("out") and modules(t, table.roots_of("c")) == {"lstm"}
    assert table.roots_of("d") == frozenset() == table.roots_of("lstm") and table.roots_of("x") is None


def test_after_if_else_a_name_carries_the_graphs_of_every_branch():
    m, t = facts("""
        import torch
        import torch.nn as nn
        student, teacher = nn.Linear(3, 3), nn.Linear(3, 3)
        if cond:
            out = student(x)
        else:
            out = teacher(x)
        out.sum().backward()
    """)
    assert modules(t, backward_of(m, t, "out.sum().backward()").roots) == {"student", "teacher"}


def test_each_branch_starts_from_the_graphs_before_the_if():
    m, t = facts("""
        import torch
        h = model(x)
        if cond:
            h = h.detach()
        else:
            h.sum().backward()
        h.mean().backward()
    """)
    assert modules(t, backward_of(m, t, "h.sum().backward()").roots) == {"model"}  # not the detached `h`
    assert modules(t, backward_of(m, t, "h.mean().backward()").roots) == {"model"}  # (the branch without `if`)


def test_a_value_rebound_in_a_loop_carries_the_previous_iterations_graphs_at_the_head():
    m, t = facts("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 5)
        h = torch.zeros(2, 5)
        g = torch.zeros(2, 5)
        for x in data:
            h = cell(x, h)
            g = cell(x, g).detach()
            h.pow(2).mean().backward()
    """)
    loop = m.loops[0]
    joins = m.loop_joins
    carried = joins.roots_from_previous_iteration(loop, "h")
    assert modules(t, carried) == {"cell"}
    assert joins.roots_at_loop_entry(loop, "h") == carried  # (the zeros before the loop carry none)
    assert joins.roots_from_previous_iteration(loop, "g") == frozenset()  # detached every iteration
    assert joins.roots_from_previous_iteration(loop, "cell") is None  # not rebound in the loop


def test_a_continue_before_the_rebinding_leaves_the_heads_graphs_for_the_next_iteration():
    m, t = facts("""
        import torch
        h = model(x0)
        for x in data:
            if x is None:
                continue
            h = h.detach()
            h.sum().backward()
        g = model(x0)
        while True:
            if done():
                continue
            g = g.detach()
            g.sum().backward()
    """)
    first, second = m.loops
    # the path through `continue` leaves `h` as it was at the head: the graph of `model(x0)`
    assert modules(t, m.loop_joins.roots_from_previous_iteration(first, "h")) == {"model"}
    assert modules(t, m.loop_joins.roots_from_previous_iteration(second, "g")) == {"model"}  # (no loop target)


def test_a_function_that_returns_a_graph_and_its_calls():
    m, t = facts("""
        import torch
        def compute(x, y):
            out = model(x)
            return criterion(out, y)
        def score(x):
            return model(x).item()
        @torch.no_grad()
        def predict(x):
            return model(x)
        def shadowed(x):
            return model(x)
        a = compute(x, y)
        b = score(x)
        c = predict(x)
        with torch.no_grad():
            d = compute(x, y)
    """)
    by_name = {f.name: f for f in m.functions}
    assert by_name["compute"].returns_graph and by_name["shadowed"].returns_graph
    assert not by_name["score"].returns_graph and not by_name["predict"].returns_graph
    # a call of a function that returns a graph makes one, with grad mode on
    table = t.b
    assert table.roots_of("a") and not table.roots_of("b") and not table.roots_of("c")
    assert not table.roots_of("d")
