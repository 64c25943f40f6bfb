"""GL013 backward-through-freed-graph."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from gradlint.model import Mode, SemanticModel
from gradlint.model.facts import LoopInfo
from gradlint.model.ext_training import (
    GRAPH_REUSE_WORDS,
    Backward,
    Carried,
    ModelRoot,
    Step,
    TrainingFacts,
    _keys_in,
    dominates,
)
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

MODIFIED_INPLACE = (
    "RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation"
)
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
* the same with the loss rebuilt in the loop from a value built once before it (`out = model(x)` or a
  backbone's features computed with grad mode on, then `loss = head(out).sum(); loss.backward()` every
  iteration): the first backward frees the tensors that module call (or a `*`, `/`, `**`) saved. Not when
  the value is detached, made under `no_grad`, made by a model frozen with `requires_grad_(False)` (or a
  loop setting its parameters' `requires_grad = False`), or rebound in the loop. Reported at the backward.
* a recurrent hidden state or other carried tensor fed into the next iteration's graph without
  `.detach()`: `h = cell(x, h)`, `h, c = lstm(x, (h, c))`, `ema = 0.9 * ema + 0.1 * out`,
  `total = total + loss` with a `backward()` in the loop through a value computed from it — including
  the common "fix" `backward(retain_graph=True)`. Reported at the carried assignment. Also a module that
  keeps its state for its next call (`out, self.hidden = self.lstm(x, self.hidden)` in `forward`) when a
  training loop of the file calls it and backpropagates every iteration, and nothing detaches or
  re-initialises that state (a method of the class, `model.hidden = ...`).
* a backward pass through a module call made before an optimizer step over that module's parameters, when
  an earlier backward filled their gradients: the GAN training step `d_loss.backward(retain_graph=True);
  opt_D.step(); g_loss.backward()` with `g_loss` computed from `D(...)` outputs of before the step, or
  two losses of one forward pass with `opt.step()` between their backward passes. Only when the file shows
  which modules the optimizer was built from (`torch.optim.Adam(D.parameters())`, also through a list or an
  `itertools.chain(...)` — under any alias — bound to a name first), the call, the step and
  both backward passes are in one function, and the step can run between them (also a step under an `if`:
  it crashes whenever it runs). Reported at the second backward. `retain_variables=True`, the pre-0.4 name
  of `retain_graph=True`, counts as it (the graph is kept; the step's in-place update is what raises).

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

`optimizer.step()` updates the parameters in place. A module call saves its weights for the backward pass
(a linear layer needs its weight for the gradient of its input), so a backward through a call made before
the step finds them at a newer version and raises, on PyTorch 2.13, `RuntimeError: one of the variables
needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [8, 1]],
which is output 0 of AsStrided, is at version 2; expected version 1 instead.` It is the most common GAN
crash in tutorials (eriklindernoren/PyTorch-GAN's softmax GAN and ClusterGAN have this shape).

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
`loss1.backward(retain_graph=True); loss2.backward()`. For a GAN, compute the generator loss from a fresh
`D(fake)` after `opt_D.step()` (and use `fake.detach()` in the discriminator loss):
```python
d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
d_loss.backward()
opt_D.step()
g_loss = bce(D(fake), ones)         # D called after its step
g_loss.backward()
opt_G.step()
```

## Not flagged
`retain_graph=True` on the first pass; `create_graph=True` (double backward, gradient penalties,
MAML); GAN discriminator/generator steps where the discriminator step uses `fake.detach()`; two losses
from separately computed forward passes; backward passes in different branches (`if`/`else`,
`try`/`except`); a carried state that is detached, re-initialised or repackaged anywhere in the loop
(`h = h.detach()`, `h.detach_()`, `h = repackage_hidden(h)`, `h = model.init_hidden()`), also when only
every k steps (truncated BPTT); loops with a `break`/`return` (they may run once); a carried state in
a loop without a backward pass (a forward pass over layers or time steps); values the model does not know
to carry a graph (results of unknown functions); test files (they trigger the error on purpose). For a step
between a forward pass and its backward: a module called afresh after the step; a step whose optimizer
covers other modules than the ones the backward goes through (bicyclegan's encoder step followed by a
backward through the generator); a step with no backward before it (after `zero_grad()` the gradients are
None and `step()` changes nothing); a single `nn.Linear`/`nn.Conv*`/`nn.Embedding` whose input does not
require grad (it saves no weight); the step and the backward in exclusive branches; an optimizer passed in
as an argument (its parameters are not shown).

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
        owners = self._optimized_modules(model)
        for b in backwards:
            finding = (self._second_backward(model, t, b, backwards) or self._loop_invariant(model, t, b)
                       or self._built_before_loop(model, t, b) or self._stepped_between(model, t, owners, b, backwards))
            if finding is not None and id(b.node) not in reported:
                reported.add(id(b.node))
                yield finding
        yield from self._carried(model, t, backwards)
        yield from self._carried_across_calls(model, t, backwards)

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

    # ---------------------------------------------------------------- an optimizer step between forward and backward

    @staticmethod
    def _optimized_modules(model: SemanticModel) -> dict[str, set[str]]:
        """Optimizer variable -> the modules whose `.parameters()` it was built from (every construction)."""
        out: dict[str, set[str]] = {}
        for o in model.optimizers:
            if o.var:
                out.setdefault(o.var, set()).update(o.receivers)
        return out

    @staticmethod
    def _covers(owners: set[str], module: str) -> bool:
        """Does an optimizer over `owners`' parameters update parameters that a call of `module` uses?"""
        for o in owners:
            if module == o or module.startswith(o + "."):
                return True
            if module != "self" and o.startswith(module + "."):
                return True  # an optimizer over a submodule of the called model
        return False

    def _stepped_between(self, model: SemanticModel, t: TrainingFacts, owners: dict[str, set[str]], b: Backward,
                         backwards: list[Backward]) -> Finding | None:
        """`d_loss.backward(retain_graph=True); opt_D.step(); g_loss.backward()` with `g_loss` computed from
        `D(...)` before the step: the step modified in place the weights autograd saved for `D(...)`."""
        for s in model.steps:
            if s.optimizer is None or s.function is not b.fn or not t.may_precede(t.step_path(s), s.seq, b.path, b.seq):
                continue
            over = owners.get(s.optimizer)
            if not over:
                continue  # an optimizer whose parameters the file does not show: silent
            calls = [mr for r in sorted(b.roots) if (mr := t.model_roots.get(r)) is not None
                     and mr.fn is b.fn and mr.saves_weights and self._covers(over, mr.module)
                     and t.may_precede(mr.path, mr.seq, t.step_path(s), s.seq)]
            if not calls:
                continue
            # the step changes the parameters only when a backward before it filled their gradients
            # (after `zero_grad()` they are None and `step()` skips them)
            filled = next((f for f in backwards if f is not b and f.fn is b.fn
                           and t.may_precede(f.path, f.seq, t.step_path(s), s.seq)
                           and any((mr := t.model_roots.get(r)) is not None and self._covers(over, mr.module)
                                   for r in f.roots)), None)
            if filled is None:
                continue
            return Finding(b.node, self._stepped_message(model, b, s, filled, calls[0]))
        return None

    def _stepped_message(self, model: SemanticModel, b: Backward, s: Step, filled: Backward, call: ModelRoot) -> str:
        step = f"`{model.code(s.node)}`"
        return (
            f"`{model.code(b.node)}` backpropagates through a call of `{call.module}` made before {step}; {step} "
            f"updated `{call.module}`'s parameters in place (`{model.code(filled.node)}` had filled their gradients), "
            "and autograd saved those very tensors for that call, so this raises "
            f"`{MODIFIED_INPLACE}`; call `{call.module}` again after the step (a fresh forward pass for this loss), "
            f"or run this backward before {step}"
        )

    @staticmethod
    def _every_iteration(t: TrainingFacts, b: Backward) -> tuple[LoopInfo, int] | None:
        """The innermost loop in which the freeing backward `b` runs on every iteration (a loop that may run
        once, or a conditional backward, may backpropagate once), with the first graph root made in it."""
        if not b.frees or not b.keys or not b.loops:
            return None
        loop = b.loops[-1]
        if id(loop) in t.exits or b.unconditional_in is not loop:
            return None
        start = t.loop_start_root.get(id(loop))
        return None if start is None else (loop, start)

    def _loop_invariant(self, model: SemanticModel, t: TrainingFacts, b: Backward) -> Finding | None:
        found = self._every_iteration(t, b)
        if found is None:
            return None
        loop, start = found
        if not any(r < start for r in b.roots):
            return None
        if any(r >= start for r in b.roots):
            return None  # part of the graph is rebuilt in the loop: not provably the same graph
        if self._assigned_in(model, t, b.keys, b.fn, loop):
            return None
        return Finding(
            b.node,
            f"`{model.code(b.node)}` runs on every iteration of the loop, but the graph it backpropagates "
            "was built before the loop and is not rebuilt in it: the first iteration frees it, and the second "
            f"raises `{BACKWARD_TWICE}`; compute the forward pass (and the loss) inside the loop",
        )

    def _built_before_loop(self, model: SemanticModel, t: TrainingFacts, b: Backward) -> Finding | None:
        """`out = model(x)` before the loop, `loss = out.sum(); loss.backward()` in it: the loss is rebuilt every
        iteration, but part of its graph — a module call (or an op) that saved tensors for the backward — was
        built once, before the loop, through a name the loop never rebinds. The first backward frees what
        that part saved; the second iteration's raises."""
        found = self._every_iteration(t, b)
        if found is None:
            return None
        loop, start = found
        if not any(r >= start for r in b.roots):
            return None  # (a graph built wholly before the loop: `_loop_invariant`)
        for key in sorted(t.sources_closure(b.fn, b.keys) - set(b.keys)):
            if self._assigned_in(model, t, {key}, b.fn, loop):
                continue  # rebuilt, detached or accumulated in the loop
            entry = model.loop_joins.roots_at_loop_entry(loop, key) or frozenset()
            saving = sorted(r for r in entry if r < start and r in b.roots
                            and (r in t.model_roots or r in t.saved_inputs))
            if not saving:
                continue
            made = t.model_roots.get(saving[0])
            what = f"the call of `{made.module}`" if made is not None else "an op"
            return Finding(
                b.node,
                f"`{model.code(b.node)}` runs on every iteration of the loop, but part of the graph it "
                f"backpropagates — `{key}`, from {what} before the loop — is built only once: the first "
                f"backward frees the tensors it saved, and the second iteration raises `{BACKWARD_TWICE}`; "
                f"compute `{key}` inside the loop (or `.detach()` it if no gradient should flow into it)",
            )
        return None

    @staticmethod
    def _assigned_in(model: SemanticModel, t: TrainingFacts, keys, fn, loop, skip=None) -> bool:
        """Is one of `keys` bound (re-created, detached, repackaged, accumulated) in the loop by a statement
        other than `skip`?"""
        if any(model.loop_joins.rebound_in_loop(loop, k, besides=skip) for k in keys):
            return True
        return any(a.key in keys and a.fn is fn and loop in a.loops and a.stmt is not skip for a in t.accumulations)

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
                if self._assigned_in(model, t, c.keys, c.fn, loop, skip=c.stmt):
                    break  # detached / re-initialised / repackaged in the loop
                if not all(model.loop_joins.crosses_iterations(loop, r, c.stmt) for r in c.reach):
                    break  # what it reads is not the previous iteration's, or what it leaves never reaches the next
                key = (id(loop), c.keys[0])
                if key in done:
                    break
                done.add(key)
                yield Finding(c.stmt, self._carried_message(model, c, through))
                break

    def _carried_across_calls(self, model: SemanticModel, t: TrainingFacts,
                              backwards: list[Backward]) -> Iterator[Finding]:
        """A module that keeps its recurrent state for its next call (`out, self.hidden = self.lstm(x,
        self.hidden)` in `forward`), never detached nor re-initialised — not by a method of its class, not
        from outside (`model.hidden = ...`) — and a training loop of the file that calls an instance of it and
        backpropagates on every iteration: the second iteration's graph reaches into the first one's."""
        for c in t.carried:
            fn = c.fn
            if c.loops or fn is None or fn.class_info is None or not model.runs_in_forward(fn):
                continue
            cls = fn.class_info
            for key in (k for k in c.keys if k.startswith("self.")):
                attr = key[len("self."):]
                if any(b.node is not c.stmt and (b.key == key and not (b.fn is not None and b.fn.name == "__init__"
                                                                       and b.fn.class_info is cls))
                       or (b.key.endswith("." + attr) and not b.key.startswith("self.")) for b in t.bindings):
                    continue  # re-created somewhere: a reset or detach method, `model.hidden = model.init_hidden()`
                through = [b for b in backwards if b.frees and b.unconditional_in is not None and any(
                    mc.value is not None and mc.value.cls == cls.name for mc in b.unconditional_in.model_calls)]
                if not through or "detach" in model.module.code_for_node(cls.node):
                    continue
                yield Finding(c.stmt, self._across_calls_message(model, c, key, through[0]))
                break

    def _across_calls_message(self, model: SemanticModel, c: Carried, key: str, b: Backward) -> str:
        return (f"`{model.code(c.stmt)}` keeps `{key}`, which carries this call's graph, for the next call of "
                f"`{c.fn.name if c.fn is not None else 'forward'}()`, and the training loop calls the model and "
                f"`{model.code(b.node)}` on every iteration: the first backward frees that graph, so the second "
                f"iteration raises `{BACKWARD_TWICE}`; detach the state before keeping it (`{key} = "
                f"tuple(h.detach() for h in {key})` for an LSTM's pair), or re-initialise it for each batch")

    def _carried_message(self, model: SemanticModel, c: Carried, through: list[Backward]) -> str:
        # the names whose previous value the statement reads (`hidden` in `output, hidden = rnn(x, hidden)`)
        read = _keys_in(c.stmt.value) if isinstance(c.stmt, cst.Assign) else set()
        keys = [k for k in c.keys if k in read] or list(c.keys)
        names = ", ".join(f"`{k}`" for k in keys)
        b = through[0]
        head = (f"`{model.code(c.stmt)}` feeds {names}, which still carries the previous iteration's graph, into "
                f"this iteration's graph, and `{model.code(b.node)}` in the loop backpropagates through it")
        if all(x.retain_true for x in through):
            return (f"{head}; `retain_graph=True` only hides the error: every backward traverses all previous "
                    "iterations' graphs (memory and backward time grow every iteration), and once "
                    "`optimizer.step()` has updated the weights in place a later backward raises `RuntimeError: "
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation`; detach the carried state each iteration (`{keys[0]} = {keys[0]}.detach()`) "
                    "and drop `retain_graph=True`")
        return (f"{head}: the first backward frees that graph, so the second iteration raises `{BACKWARD_TWICE}`; "
                f"detach the carried state each iteration (`{keys[0]} = {keys[0]}.detach()`, truncated "
                "backpropagation through time)")
