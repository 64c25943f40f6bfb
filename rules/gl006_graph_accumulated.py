"""GL006 graph-accumulated."""

from __future__ import annotations

from collections.abc import Iterator

import re

import libcst as cst

from gradlint.model import LoopInfo, Mode, SemanticModel, dotted
from gradlint.model.builder import TORCH_ECOSYSTEM
from gradlint.model.ext_training import Accumulation, TrainingFacts
from gradlint.rules.base import Finding, FixSpec, Replace, Rule
from gradlint.settings import RuleOptions

# `model.uses_torch` needs one of these imported (a Keras/JAX `model(x)` is not a torch graph)
TORCH_TOKENS = tuple(sorted(TORCH_ECOSYSTEM))


DATA_ITERABLE = re.compile(r"\w*(loader|batch|dataset|samples|examples)\w*|data|\w+_data|data_\w+", re.IGNORECASE)
ITER_WRAPPERS = frozenset({"enumerate", "tqdm", "iter", "zip", "list", "progress_bar", "track"})


def _is_data_loop(loop: LoopInfo) -> bool:
    """A loop over batches (`loader`, `train_dataloader`, `enumerate(tqdm(batches))`, `data`)."""
    node = loop.node
    if not isinstance(node, cst.For):
        return False
    expr = node.iter
    while isinstance(expr, cst.Call):
        func = expr.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if name not in ITER_WRAPPERS or not expr.args:
            return False
        expr = expr.args[0].value
    d = dotted(expr)
    return d is not None and bool(DATA_ITERABLE.fullmatch(d.rsplit(".", 1)[-1]))


SMALL_LOOP = 16  # iterations: below this, the message speaks of memory held, not of a growing leak


def _module_constant(model, name: str) -> int | None:
    """The integer a module-level name holds when the module's code binds it exactly once, with an integer
    literal, and no function rebinds it (`global`)."""
    from gradlint.model.walk import iter_nodes

    found: list[cst.BaseExpression] = []
    for n in iter_nodes(model.module, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        targets: list[cst.BaseExpression] = []
        if isinstance(n, cst.Assign):
            targets = [t.target for t in n.targets]
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
            targets = [n.target]
        elif isinstance(n, cst.WithItem) and n.asname is not None:
            targets = [n.asname.name]
        hit = [x for t in targets for x in iter_nodes(t) if isinstance(x, cst.Name) and x.value == name]
        if hit:
            single = isinstance(n, cst.Assign) and len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name)
            found.append(n.value if single else cst.Name(name))
    if len(found) != 1 or not isinstance(found[0], cst.Integer):
        return None
    if re.search(r"\bglobal\b[^\n]*\b" + re.escape(name) + r"\b", model.source_text):
        return None
    return int(found[0].value.replace("_", ""), 0)


def _constant_count(loop: LoopInfo, model=None) -> int | None:
    """The number of iterations of `for _ in range(<int>)` / `range(<int>, <int>)` / a literal list or tuple
    (with the model, also `range(N)` for a module-level `N` bound once to an integer)."""
    node = loop.node
    if not isinstance(node, cst.For):
        return None
    it = node.iter
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate" and it.args:
        it = it.args[0].value
    if isinstance(it, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement) for e in it.elements):
        return len(it.elements)
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range" and 1 <= len(it.args) <= 2:
        vals = []
        for a in it.args:
            if a.keyword is None and isinstance(a.value, cst.Name) and model is not None:
                n = _module_constant(model, a.value.value)
                if n is None:
                    return None
                vals.append(n)
                continue
            if a.keyword is not None or not isinstance(a.value, cst.Integer):
                return None
            vals.append(int(a.value.value.replace("_", ""), 0))
        lo, hi = (0, vals[0]) if len(vals) == 1 else vals
        return max(hi - lo, 0)
    return None


def _holder(model: SemanticModel, acc: Accumulation) -> str:
    """What the accumulation adds to, as the statement spells it (`self.losses`, `history["loss"]`)."""
    stmt = acc.stmt
    if isinstance(stmt, cst.AugAssign):
        return model.code(stmt.target, 40)
    if isinstance(stmt, cst.Call) and isinstance(stmt.func, cst.Attribute):
        return model.code(stmt.func.value, 40)
    return acc.key


class GraphAccumulated(Rule):
    code = "GL006"
    name = "graph-accumulated"
    tier = "bug"
    summary = "A tensor that carries an autograd graph is accumulated across loop iterations (`total += loss`)"
    fixable = True
    docs = """\
## What it does
Flags a loop that accumulates a tensor carrying an autograd graph into something that outlives the
iteration: `total += loss`, `total = total + loss`, `losses.append(loss)`, `history["loss"].append(loss)`,
`stats[k] += loss`, `preds = torch.cat([preds, out])`, a running average `avg = 0.9 * avg + 0.1 * loss`.
The value must be known to carry a graph: computed from a model call, a loss / criterion call, an op on a
tensor that requires grad, or a call of a function (or a method of a class) of the file that returns such
a value, or backpropagated already (`loss.backward()` raises on a value without a graph), with grad mode on (not under `torch.no_grad()`, `torch.inference_mode()`, a `@torch.no_grad()`
function or one this file only calls under them). Reported at the accumulating statement. The message
says which leak it is:
only the graph skeleton (the loop calls `backward()` every iteration) or the saved activations too
(no `backward()` in the loop, or `backward(retain_graph=True)`).

The loop may be in the caller: a training step with no loop of its own that backpropagates its loss and
then keeps it where it outlives the call — `self.losses.append(loss)`, `self.total += loss`, a global
`history.append(loss)`, a list the caller passes — leaves one graph there per call, that is per batch
(`Trainer.fit()` calling `self.train_step(x, y)` for each batch). The accumulator must not be re-created
by the step itself, and the value kept must share the graph the step's `backward()` freed.

## Why is this bad?
The accumulator keeps every iteration's graph reachable, so it is never freed. Measured on PyTorch
2.13 (50 iterations of a 512→2048→1 MLP):

* `total += loss` with `loss.backward()` every iteration: backward frees the saved activations (0/50
  alive), but the graph skeleton stays: 404 autograd nodes reachable after 50 iterations, 24,004 after
  3,000, and CPU memory grows by roughly 5–550 KB per iteration: a slow leak, nothing raises.
* no `backward()` in the loop (a validation loop without `no_grad`) or `backward(retain_graph=True)`:
  nothing frees these graphs, so every iteration's saved activations stay alive too (50/50 alive), about
  2 MB per iteration here: over a loader, the classic out-of-memory after N batches.

For a loop of a handful of iterations (`for i in range(3)`, a literal list; at most 16 in all, counting the
enclosing loops the accumulator lives across) memory does not keep growing: the message says how many
graphs (and, without a backward, forward passes' activations) the accumulator holds instead. A bound may
also be a module-level name bound once to an integer (`n_c = 10; for idx in range(n_c)`). When such an
accumulator is also re-created on every iteration of an enclosing loop (a per-epoch sample grid:
`stack_imgs = []` then `range(n_c)` generator calls), the graphs are held only until the next iteration:
bounded, transient waste, so that finding is **hygiene**; otherwise it is a bug.

`total` also prints as `tensor(..., grad_fn=<AddBackward0>)` instead of a number.

## Example
```python
total_loss = 0
for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    total_loss += loss
```

## Use instead
```python
    total_loss += loss.item()     # or float(loss); `loss.detach()` to keep a tensor
```

## Not flagged
* `loss.item()`, `float(loss)`, `loss.detach()`, `loss.cpu().item()` accumulations;
* accumulation under `torch.no_grad()` / `torch.inference_mode()`, in a `@torch.no_grad()` function,
  or with `set_grad_enabled(flag)` (unknown mode);
* sum-then-backward: `loss = loss + l_i` over tasks or micro-batches, then `loss.backward()` (or a value
  computed from the accumulator, `torch.stack(losses).mean().backward()`, `scaler.scale(total)`,
  `accelerator.backward(total)`) anywhere in the function;
* an accumulator re-created every iteration (`losses = []` / `losses.clear()` / `total = 0` in the loop
  body, not under a condition);
* a helper that sums losses and returns the sum (the caller backpropagates it), unless it is evaluation
  code and has no `backward()`;
* without a `backward()` in the loop — itself or in a function or method of the file it calls (`l =
  agent.update(x, y)` where `update` runs `loss.backward()` and returns the loss) — only evaluation code
  (GL004's names: `evaluate`, `val_loader` …)
  and loops over batches (`loader`, `batches`, `dataset`, `data`, through `enumerate`/`tqdm`/`zip`) are
  checked: a model's own methods collecting features, pyramid levels or time steps, and other loops
  (`range(n)`, over layers or crops) are a forward pass, not a leak; `self.<attr>` accumulators too (another
  method may backpropagate them: REINFORCE's `self.saved_log_probs.append(...)`);
* a training step that keeps a graph it does not backpropagate itself, or backpropagates with
  `retain_graph=True`;
* values that are not known to carry a graph (results of unknown functions — unless `backward()` runs on
  them first: `l = compute(model, x, y); l.backward(); total += l`), and test files.

## Fix safety
The fix makes the accumulated value history-free. When the accumulator starts as a Python number in the
same function (`total = 0`; for `self.total`, in any method) and the statement is `+=` / `= acc + ...`,
the fix is `.item()`: **unsafe**, because it turns the accumulator into a Python float (later
`total.item()`, `.cpu()` or tensor arithmetic change or break) and `.item()` raises for a non-scalar
tensor (`reduction="none"`).
Otherwise (lists, dicts, tensor accumulators) the fix is `.detach()`: **safe** — it keeps the same
values, dtype and device and only drops the history nobody backpropagates (the rule has checked that
the accumulator is never passed to `backward()`); it is unsafe when the accumulator is returned from the
function (a caller could backpropagate it). No fix for tuples/lists/dicts appended as a whole.

## Options
None.
"""
    VALID = (
        """\
import torch
total = 0
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    total += loss.item()
""",
        """\
import torch
with torch.no_grad():
    total = 0
    for x, y in loader:
        total += criterion(model(x), y)
""",
        """\
import torch
total = 0
for x in chunks:
    total = total + model(x).pow(2).mean()
total.backward()
""",
        """\
import torch
for x, y in loader:
    losses = []
    losses.append(criterion(model(x), y))
""",
    )
    INVALID = (
        """\
import torch
total = 0
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    total += loss  # gradlint-expect: GL006
""",
        """\
import torch
losses = []
for x, y in val_loader:
    losses.append(criterion(model(x), y))  # gradlint-expect: GL006
""",
    )
    prefilter = TORCH_TOKENS
    prefilter_needs_torch = "import"  # check() returns at once unless model.uses_torch
    extensions = (TrainingFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        if not model.uses_torch or model.is_test_file:
            return
        t = model.ext(TrainingFacts)
        reported: set[int] = set()
        for acc in t.accumulations:
            if id(acc.stmt) in reported:
                continue
            if model.effective_mode(acc.mode, acc.fn) is not Mode.ENABLED:
                continue
            if not acc.loops:
                freed = self._kept_across_calls(t, acc)
                if freed:
                    reported.add(id(acc.stmt))
                    yield Finding(acc.stmt, self._across_calls_message(model, t, acc, freed),
                                  self._fix(model, t, acc, False))
                continue
            loop = acc.loops[-1]
            if not model.loop_joins.crosses_iterations(loop, acc.reach, acc.stmt):
                continue  # re-created every iteration (what one iteration accumulates does not reach the next)
            derived = t.derived_closure(acc.fn, acc.key)
            in_fn = [b for b in t.backwards if b.fn is acc.fn]
            if any(b.keys & derived for b in in_fn):
                continue  # sum-then-backward: the accumulator is the objective
            in_loop = [b for b in in_fn if loop in b.loops] or self._through_helpers(model, t, loop)
            returned = bool(t.state(acc.fn).returned & derived)
            if not in_loop:
                if "." in acc.key:
                    continue  # `self.losses`: another method may backpropagate it
                if acc.fn is not None and acc.fn.class_info is not None and acc.fn.class_info.is_module:
                    continue  # a model's own forward code collecting features / pyramid levels
                evaluation = bool(loop.eval_reason or (acc.fn is not None and acc.fn.eval_reason))
                if not evaluation and not _is_data_loop(loop):
                    continue  # not a loop over batches: a forward pass collecting intermediate results
                if returned and not evaluation:
                    continue  # a helper summing losses for its caller
            reported.add(id(acc.stmt))
            # re-created on every iteration of an enclosing loop and filled a handful of times: the graphs are
            # held only until the next iteration — bounded, transient waste, not a leak nor a graph kept for
            # the run (clustergan's per-epoch sample grid)
            transient = len(acc.loops) > 1 and self._iterations(t, acc, model) is not None and any(
                not model.loop_joins.crosses_iterations(outer, acc.reach, acc.stmt) for outer in acc.loops[:-1])
            yield Finding(acc.stmt, self._message(model, t, acc, in_loop), self._fix(model, t, acc, returned),
                          tier="hygiene" if transient else None)

    @staticmethod
    def _kept_across_calls(t: TrainingFacts, acc: Accumulation) -> list:
        """A training step's own loss kept where it outlives the call: in a function with no loop of its own
        that backpropagates the very graph it adds (`loss.backward()` ... `self.losses.append(loss)`), into an
        accumulator the function does not create — an attribute of `self`, a global, a list its caller
        passes. Each call (a training step runs once per batch) leaves one more graph there. Returns those
        backward passes (none: not such an accumulation)."""
        fn = acc.fn
        if fn is None or not acc.roots or (acc.key.startswith("self.") and fn.class_info is None):
            return []
        if any(b.fn is fn and b.key == acc.key for b in t.bindings):
            return []  # (re-created by the function itself: it lives for one call)
        return [b for b in t.backwards if b.fn is fn and b.frees and b.roots & acc.roots]

    def _across_calls_message(self, model: SemanticModel, t: TrainingFacts, acc: Accumulation, freed) -> str:
        piece, holder, fix = model.code(acc.piece, 40), _holder(model, acc), self._fix_words(model, t, acc)
        name = acc.fn.name if acc.fn is not None else "the function"
        return (f"`{model.code(acc.stmt)}` keeps `{piece}`, which carries its autograd graph, in `{holder}`, which "
                f"outlives each call of `{name}()`: `{model.code(freed[0].node, 40)}` freed the saved activations "
                "but not the graph's nodes, so every call (one per training step) leaves its graph reachable "
                f"from `{holder}` and memory grows a little with every step (a slow leak); {fix}")

    @staticmethod
    def _through_helpers(model: SemanticModel, t: TrainingFacts, loop) -> list:
        """The backward passes of the functions of the file that the loop calls (`l = agent.update(x, y)`
        where `update` runs `loss.backward()` and returns the loss): the loop trains through them."""
        callees = {id(f) for call in model.calls_in(loop) for f in model.functions_named(call.name)}
        return [b for b in t.backwards if b.fn is not None and id(b.fn) in callees] if callees else []

    def _message(self, model: SemanticModel, t: TrainingFacts, acc: Accumulation, in_loop) -> str:
        piece, holder = model.code(acc.piece, 40), _holder(model, acc)
        what = (f"`{model.code(acc.stmt)}` accumulates `{piece}`, which carries its autograd graph, into `{holder}`, "
                "which lives across loop iterations: every iteration's graph stays reachable from it")
        runs = self._iterations(t, acc, model)
        if runs is not None:
            # a loop of a handful of iterations: memory does not grow without bound, it is held
            times = "once" if runs == 1 else f"{runs} times"
            if in_loop and not any(b.retain_true for b in in_loop):
                leak = (f"the loop runs {times}, so {runs} graph skeleton{'s' if runs != 1 else ''} (autograd's "
                        f"nodes; `backward()` freed the saved activations) stay alive as long as `{holder}` does — small, "
                        "not a growing leak, but the value prints with a `grad_fn` and keeps the graph")
            elif in_loop:
                leak = (f"`backward(retain_graph=True)` keeps the saved activations, and the loop runs {times}: "
                        f"{runs} forward passes' activations stay alive as long as `{holder}` does")
            else:
                leak = (f"nothing in the loop calls `backward()`: these graphs are never backpropagated, so none is "
                        f"freed and all the saved activations of "
                        f"the loop's {runs} forward pass{'es' if runs != 1 else ''} stay alive as long as `{holder}` does")
        elif in_loop and not any(b.retain_true for b in in_loop):
            leak = ("the loop's `backward()` frees the saved activations but not the graph's nodes, so memory "
                    "grows a little with every iteration (a slow leak; measured 5-550 KB per iteration)")
        elif in_loop:
            leak = ("`backward(retain_graph=True)` keeps the saved activations too, so memory grows by a whole "
                    "forward pass per iteration, held for as long as the accumulator lives")
        else:
            leak = ("nothing in the loop calls `backward()`: these graphs are never backpropagated, so none is freed "
                    "and every iteration's saved activations (all of its forward pass) stay alive too — memory grows "
                    "by a whole forward pass per iteration, held for as long as the accumulator lives")
        fix = self._fix_words(model, t, acc)
        if not in_loop:
            fix += ", or run the loop under `torch.no_grad()`"
        return f"{what}; {leak}; {fix}"

    def _fix_words(self, model: SemanticModel, t: TrainingFacts, acc: Accumulation) -> str:
        piece = model.code(acc.piece, 40)
        if isinstance(acc.piece, (cst.BinaryOperation, cst.UnaryOperation, cst.BooleanOperation,
                                  cst.Comparison, cst.IfExp)) and not acc.piece.lpar:
            piece = f"({piece})"  # (`(loss * 0.001).detach()`, not `loss * 0.001.detach()`)
        if self._number_accumulator(t, acc):
            return f"accumulate `{piece}.item()` (or `.detach()` to keep a tensor)"
        return f"store `{piece}.detach()` (or `.item()` for a scalar)"

    @staticmethod
    def _iterations(t: TrainingFacts, acc: Accumulation, model: SemanticModel | None = None) -> int | None:
        """How many times the accumulation runs in the accumulator's lifetime, when every loop it lives across
        has a small constant count (`range(3)`, `range(n_c)` with `n_c = 10` bound once at the module level, a
        literal list); None when that is not known or large."""
        total = 1
        for i, loop in enumerate(reversed(acc.loops)):
            if i and model is not None and not model.loop_joins.crosses_iterations(loop, acc.reach, acc.stmt):
                break  # re-created on every iteration of this loop: it lives only across the inner ones
            n = _constant_count(loop, model)
            if n is None:
                return None
            total *= n
        return total if total <= SMALL_LOOP else None

    @staticmethod
    def _number_accumulator(t: TrainingFacts, acc: Accumulation) -> bool:
        # (`self.total = 0.0` is bound in another method, `__init__` or an epoch's start)
        anywhere = acc.key.startswith("self.")
        return acc.op in ("+=", "-=", "= +") and any(
            b.key == acc.key and (anywhere or b.fn is acc.fn) and b.number_literal for b in t.bindings)

    def _fix(self, model: SemanticModel, t: TrainingFacts, acc: Accumulation, returned: bool) -> FixSpec | None:
        piece = acc.piece
        if not isinstance(piece, (cst.Name, cst.Attribute, cst.Subscript, cst.Call, cst.BinaryOperation,
                                  cst.UnaryOperation)):
            return None
        text = model.module.code_for_node(piece).strip()
        if isinstance(piece, (cst.BinaryOperation, cst.UnaryOperation)) and not piece.lpar:
            text = f"({text})"
        if self._number_accumulator(t, acc):
            return FixSpec(f"Accumulate `{model.code(piece, 30)}.item()`", (Replace(piece, f"{text}.item()"),),
                           safe=False)
        return FixSpec(f"Accumulate `{model.code(piece, 30)}.detach()`", (Replace(piece, f"{text}.detach()"),),
                       safe=not returned)
