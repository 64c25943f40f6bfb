"""Backward: topological traversal of the grad_fn graph, accumulation into leaves' .grad,
retain_grad, freeing saved tensors, and torch.autograd.grad."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradlint.runtime import _errors as E
from gradlint.runtime._core import AccumulateGrad, Node, Tensor, _mode


def _collect(roots: Sequence[Node]) -> dict[Node, int]:
    """Number of incoming edges per node reachable from the roots."""
    deps: dict[Node, int] = {}
    stack = list(roots)
    seen = set(id(r) for r in roots)
    for r in roots:
        deps.setdefault(r, 0)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return deps


def _needed(roots: Sequence[Node], targets: set[int]) -> set[int]:
    """Nodes on a path from the roots to a target node (torch executes only these when inputs are given)."""
    memo: dict[int, bool] = {}
    order: list[Node] = []
    stack = [(r, False) for r in roots]
    while stack:  # iterative post-order
        node, done = stack.pop()
        if done:
            memo[id(node)] = id(node) in targets or any(
                n is not None and memo.get(id(n), False) for n, _ in node.next_functions)
            continue
        if id(node) in memo:
            continue
        memo[id(node)] = False
        stack.append((node, True))
        for n, _ in node.next_functions:
            if n is not None and id(n) not in memo:
                stack.append((n, False))
        order.append(node)
    return {k for k, v in memo.items() if v}


def run_backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Tensor | None], retain_graph: bool | None,
                 create_graph: bool, inputs: Sequence[Tensor] | None = None,
                 capture: Sequence[Tensor] | None = None, allow_unused: bool = False) -> list[Tensor | None] | None:
    if retain_graph is None:
        retain_graph = create_graph
    roots: list[Node] = []
    root_grads: list[Tensor] = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad or (t.grad_fn is None and t._view_of is not None):  # (a view made in no_grad)
            raise RuntimeError(E.NO_GRAD_FN.replace("element 0", f"element {i}"))
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(E.IMPLICIT_SCALAR)
            g = Tensor(np.ones(t._a.shape, dtype=t._a.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=t._a.dtype))
        if g.shape != t.shape:
            raise RuntimeError(E.GRAD_OUTPUT_SHAPE.format(i=i, got=g.shape, want=t.shape))
        node = t.grad_fn if t.grad_fn is not None else _leaf_node(t)
        roots.append(node)
        root_grads.append(g)

    if inputs is not None:
        for t in inputs:
            if not t.requires_grad:
                raise RuntimeError(E.RETAIN_GRAD_NO_GRAD)
    targets = capture if capture is not None else inputs
    target_nodes: dict[int, list[int]] = {}
    if targets is not None:
        for i, c in enumerate(targets):
            n = c.grad_fn if c.grad_fn is not None else _leaf_node(c)
            target_nodes.setdefault(id(n), []).append(i)
        needed = _needed(roots, set(target_nodes))
    captured: list[Tensor | None] = [None] * (len(capture) if capture is not None else 0)

    deps = _collect(roots)
    pending: dict[Node, Tensor] = {}
    for node, g in zip(roots, root_grads):
        pending[node] = pending[node] + g if node in pending else g
    ready = [r for r in dict.fromkeys(roots) if deps[r] == 0]

    prev_mode = _mode.grad
    _mode.grad = create_graph
    try:
        while ready:
            node = ready.pop()
            grad = pending.pop(node, None)
            run = targets is None or id(node) in needed
            if run and grad is not None:
                for t in node._retained:
                    t._grad = grad if t._grad is None else t._grad + grad
            if targets is not None and id(node) in target_nodes and grad is not None:
                for i in target_nodes[id(node)]:
                    if capture is not None:
                        captured[i] = grad if captured[i] is None else captured[i] + grad
                    elif not isinstance(node, AccumulateGrad):
                        _accumulate(targets[i], grad, create_graph, nonleaf=True)
            if isinstance(node, AccumulateGrad):
                if run and capture is None and grad is not None:
                    _accumulate(node.variable, grad, create_graph)
                continue
            if not run or grad is None:
                in_grads: Sequence[Tensor | None] = [None] * len(node.next_functions)
            else:
                node._check_saved()
                in_grads = node._backward(grad)
                if not retain_graph:
                    node._release()
            for (nxt, _), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    if not isinstance(g, Tensor):
                        g = Tensor(np.asarray(g))
                    pending[nxt] = pending[nxt] + g if nxt in pending else g
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    finally:
        _mode.grad = prev_mode
    if capture is not None:
        for c, g in zip(capture, captured):
            if g is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
        return captured
    return None


def _accumulate(var: Tensor, grad: Tensor, create_graph: bool, nonleaf: bool = False) -> None:
    if var._view_of is not None and var.grad_fn is None and not nonleaf:
        return  # a view made in no_grad mode: torch accumulates its gradient nowhere
    if not nonleaf and not var.requires_grad:
        return  # AccumulateGrad of a tensor detach_()-ed since the graph was built: nothing is stored
    if create_graph:
        var._grad = grad if var._grad is None else var._grad + grad
    elif var._grad is None:
        var._grad = Tensor(np.array(grad._a, dtype=var._a.dtype))
    else:  # accumulate in place, as torch does (p.grad keeps its identity)
        np.add(var._grad._a, grad._a, out=var._grad._a, casting="unsafe")
        var._grad._vc.value += 1


def _leaf_node(t: Tensor) -> Node:
    if t._accumulator is None:
        t._accumulator = AccumulateGrad(t)
    return t._accumulator


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         only_inputs=True, materialize_grads=False):
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos: list = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(E.NO_GRAD_FN.replace("element 0", f"element {i}"))
    for i in ins:
        if not i.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    res = run_backward(outs, gos, retain_graph, create_graph, capture=ins, allow_unused=bool(allow_unused))
    assert res is not None
    if materialize_grads:
        res = [r if r is not None else Tensor(np.zeros(i._a.shape, i._a.dtype)) for r, i in zip(res, ins)]
    return tuple(res)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    gs = [grad_tensors] if isinstance(grad_tensors, Tensor) or grad_tensors is None else list(grad_tensors)
    if len(gs) == 1 and len(ts) > 1 and gs[0] is None:
        gs = [None] * len(ts)
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward(ts, gs, retain_graph, create_graph, inputs=inputs)
