"""GL004 eval-mode-missing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from gradlint.model import EvalContext, ModelCall, SemanticModel
from gradlint.model.modes import MODE_DEPENDENT, ModeFree, self_sites
from gradlint import edits as fixes
from gradlint.rules.base import Finding, FixSpec, InsertLinesAfter, InsertLinesBefore, Rule
from gradlint.settings import RuleOptions


class EvalModeMissing(Rule):
    code = "GL004"
    name = "eval-mode-missing"
    tier = "bug"
    summary = "Evaluation code calls the model without putting it in eval mode first"
    docs = """\
## What it does
Flags evaluation code that calls the model before any `model.eval()`, `model.train(False)` or
`model = model.eval()` — in the function itself, in a helper of the same file it calls first, or at
the place this file calls the evaluation function. Evaluation code is a function whose name says so
(`evaluate`, `validate`, `test`, `predict`, `infer`, `run_validation`, … — see Options), or a loop over
a validation/test loader (`val_loader`, `test_dl`, `loaders["val"]`, …) that does no backward/step.
Reported at the first model call. An `.eval()` counts for the model it switches: after `student.eval()`,
an evaluation through `teacher(x)`, or after `model.eval()` one through the EMA copy `ema_model(x)` taken while
`model` was in train mode, is reported at that call — when the evaluated model is known to be another object
than every model switched there (built apart in this file, another parameter, a copy), and to start in train
mode (a torch, torchvision or timm model, a module class of the file, a parameter, a copy made after
`model.train()`).

## Why is this bad?
`torch.no_grad()` and `torch.inference_mode()` do **not** switch a model to eval mode. In train mode,
Dropout keeps dropping activations and BatchNorm normalises with batch statistics *and updates its
running statistics with the evaluation data*. Results are noisy and wrong, two evaluations of the same
input differ, and the model's later eval-mode behaviour is contaminated. Nothing raises (except
BatchNorm on a batch of one: `ValueError: Expected more than 1 value per channel when training`).
Real fixes: torchtune #1049, ELF #110, deepspeech.pytorch #22, ethos-ares #20 ("definitely a bug").

A finding is in the **bug** tier when the model may have such layers; it is **hygiene** when the model is
known to compute the same in train and eval mode, so that `.eval()` changes nothing today and the finding
guards against the layer added later. Known means: built in this file (a class of the file, or an `nn.*`
constructor such as `nn.Sequential(...)`) in a file that spells no mode-dependent layer (Dropout,
BatchNorm, InstanceNorm, RReLU, or code reading `.training`); or built — where it is assigned, at the
module level from the last assignment before the evaluation (and the class definition in force there, for
a notebook that redefines it), or, for a parameter, at every call site of this file — only from torch
layers without mode-dependent behaviour (`nn.Linear`, `nn.Conv2d`, activations, pooling, `nn.Embedding`,
`nn.LayerNorm`, `nn.RNN`/`LSTM`/`GRU` without `dropout=`, `nn.Sequential`/`ModuleList` of them) and classes
of this file whose bodies build nothing else (a layer handed to the constructor counts as what the
constructor call passes), and functions or lambdas (no mode at all). Call sites include calls through the
file's own module (`d2l = sys.modules[__name__]; d2l.evaluate_loss(net, ...)`). An instance of a model
class of another file of the project (`from model import Net; model = Net(...)`) is known from that
file's summary, decided the same way (`gradlint/model/modes.py`). A model of a library, an unknown layer,
a class of another file built from anything else, or a parameter that a call from another file fills
stays a bug.

## Example
```python
def evaluate(model, loader):
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
```

## Use instead
```python
def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
```
(and `model.train()` again before training resumes).

## Not flagged
After an `.eval()` of another model: an alias, a wrapper (`nn.DataParallel(model)`), a container of the switched
model's own layers (`nn.Sequential(*list(model.children())[:-1])`) or an attribute of another object
(`ema.module`) the file cannot tell apart from the switched model, a model that may start in eval mode
(`from_pretrained`, a checkpoint, another library's or file's class, a class that switches itself, a copy of
unknown mode), a module known to compute the same in both modes (`nn.Softmax`). Calls of something that is not
a model: a function of the file or of an imported module bound to the name
(`net, loss = d2l.linreg, d2l.squared_loss`), a lambda. Lightning's `validation_step` / `test_step` / `predict_step` (the framework sets eval mode); a
model's own methods (`self(...)` inside an `nn.Module`: the caller decides the mode); classes where
some method puts that model in eval mode; pytest/unittest test functions and functions named `test*`
that call a model once without a loop; loops that call `backward()` or an optimizer `step()`.

## Fix safety
The fix inserts `<model>.eval()` at the start of the evaluation function (after its docstring) when the
model is a parameter of the function or `self.<attr>`, otherwise right before the loop (for an
evaluation loop) or the statement that first calls the model. For an evaluation loop inside a
training function (it calls `backward()` or `step()`) with code after it (or inside an epoch loop),
`<model>.train()` is also inserted right after the loop, so training resumes in training mode. **Unsafe**: it changes what the model
computes on purpose (Dropout off, BatchNorm running statistics used and no longer updated), and the
model stays in eval mode afterwards — training code that runs later must call `model.train()` (as it
should anyway). An evaluation function that this file calls from training code (`ls.append(eval_loss())`
inside the training loop, also through the file's own module) gets no fix: `.eval()` at its start would leave the rest of training in eval
mode.

## Options
`eval-function-patterns` / `extend-eval-function-patterns` (regular expressions for evaluation function
names), `model-names` / `extend-model-names` (regular expressions for names that hold a model).
"""
    VALID = (
        """\
import torch
def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
""",
        """\
import torch
class Lit(LightningModule):
    def validation_step(self, batch, i):
        return self.net(batch)
""",
        """\
import torch
def test_forward():
    model = Net()
    assert model(x).shape == (2, 3)
""",
    )
    INVALID = (
        """\
import torch
def evaluate(model, loader):
    with torch.no_grad():
        for x, y in loader:
            out = model(x)  # gradlint-expect: GL004
""",
        """\
import torch
def train(model, train_loader, val_loader, opt):
    for x, y in train_loader:
        opt.zero_grad(); model(x).sum().backward(); opt.step()
    with torch.no_grad():
        for x, y in val_loader:
            out = model(x)  # gradlint-expect: GL004
""",
    )

    fixable = True

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        for ctx in model.eval_contexts():
            if model.loop_trains(ctx.loop) if ctx.loop is not None else ctx.has_step:
                continue  # a training loop (the model's one definition), or a function that steps an optimizer
            calls = [c for c in ctx.model_calls if not c.not_module]  # `.eval()` needs an nn.Module
            if not calls:
                continue
            first = min(calls, key=lambda c: c.seq)
            if _eval_mode_set(model, ctx, first.seq) or _global_left_in_eval(model, ctx, first):
                # an `.eval()` there may be of another model: `student.eval()`, then `teacher(x)`
                first = _other_model_evaluated(model, ctx, calls)
                if first is None:
                    continue
            inert = _built_without_mode_layers(model, first)
            today = (" (the model is built of layers without Dropout or BatchNorm, so its results do not change today; "
                     "they will once one is added)" if inert else "")
            yield Finding(
                first.node,
                f"evaluation code ({ctx.reason}) calls `{first.text}` without `{first.text}.eval()` first: "
                "Dropout stays active and BatchNorm uses and updates batch statistics, so results are noisy "
                f"and the running statistics are contaminated{today}; call `.eval()` before evaluating "
                "(no_grad/inference_mode do not do it)",
                fix=_eval_fix(model, ctx, first),
                tier="hygiene" if inert else None,
            )


# a model built in this file: a class of the file, or a torch.nn constructor (`nn.Sequential(...)`)
_NN_CONSTRUCTOR = re.compile(r"^an? `nn\.\w+`$")


def _built_without_mode_layers(model: SemanticModel, call) -> bool:
    """The evaluated model is known to compute the same in train and eval mode — `.eval()` changes nothing
    today, so the finding is hygiene, not a bug: either the file spells no mode-dependent layer at all
    (Dropout, BatchNorm, ...) and builds the model itself, or what builds it is known layer by layer
    (`ModeFree` (gradlint/model/modes.py)): torch layers without such behaviour, classes of the file made only of them, and — for a
    model that is a parameter — what every call site of this file passes. A model from elsewhere (another
    file's class, torchvision, a checkpoint, a call from another file) may have such layers: a bug."""
    value = call.value
    if value is None:
        return False
    if value.ref is None:
        ext = model.external_class(value.cls)
        if ext is not None and ext.module and ext.mode_free:
            return True  # an instance of another file's class that its summary says is mode-free
        local_class = value.cls is not None and value.cls in model.classes
        if (local_class or _NN_CONSTRUCTOR.match(value.origin or "")) and MODE_DEPENDENT.search(
                model.source_text) is None:
            return True
    return ModeFree(model).call(call)


def _names(code: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


def _params(fn: cst.FunctionDef) -> set[str]:
    p = fn.params
    names = [a.name.value for a in (*p.posonly_params, *p.params, *p.kwonly_params)]
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return set(names)


def _eval_fix(model: SemanticModel, ctx: EvalContext, first) -> FixSpec | None:
    text = first.text
    if not text or not all(part.isidentifier() for part in text.split(".")):
        return None
    root = text.split(".", 1)[0]
    anchor = None
    fn = ctx.function
    if ctx.loop is None and fn is not None and _called_while_training(model, fn):
        # `eval_loss()` called every N batches of a training loop (d2l's train_ch7): `.eval()` at its start
        # would leave the model in eval mode for the rest of training (and `net` there may not even be a
        # module); restoring the mode is the author's call
        return None
    if ctx.loop is None and fn is not None and isinstance(fn.node.body, cst.IndentedBlock) and (
            root in _params(fn.node)):
        body = fn.node.body.body
        i = 1 if body and fixes.is_docstring(body[0]) else 0
        if i < len(body):
            anchor = body[i]
    elif ctx.loop is not None and fixes.is_whole_line_statement(model, ctx.loop.node):
        target = model.module.code_for_node(ctx.loop.node.target) if isinstance(ctx.loop.node, cst.For) else ""
        if root not in _names(target):
            anchor = ctx.loop.node
    if anchor is None:  # right before the statement that first calls the model
        stmt = fixes.statement_of(model, first.node)
        while stmt is not None and not fixes.is_whole_line_statement(model, stmt):
            parent = fixes.parent_of(model, stmt)
            stmt = fixes.statement_of(model, parent) if parent is not None else None
        if stmt is None:
            return None
        if isinstance(stmt, cst.For) and root in _names(model.module.code_for_node(stmt.target)):
            return None
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return None
        anchor = stmt
    edits = (InsertLinesBefore(anchor, f"{text}.eval()\n"),)
    if (ctx.loop is not None and anchor is ctx.loop.node and fn is not None and (fn.has_step or fn.has_backward)
            and _later_in_block(model, anchor)):
        # an evaluation loop inside a training function: back to training mode after it
        edits += (InsertLinesAfter(anchor, f"{text}.train()\n"),)
        return FixSpec(f"Call `{text}.eval()` before the evaluation loop and `{text}.train()` after it", edits,
                       safe=False)
    return FixSpec(f"Call `{text}.eval()` before evaluating", edits, safe=False)


def _called_while_training(model: SemanticModel, fn) -> bool:
    """Is the evaluation function `fn` called from training code of this file (a function, or a top-level
    loop, that runs backward or an optimizer step)?"""
    for site in [*model.call_sites(fn), *self_sites(model, fn)]:
        caller = site.function
        if caller is not None and (caller.has_step or caller.has_backward):
            return True
        if model.innermost_training_loop(caller, site.seq) is not None:
            return True
    return False


def _later_in_block(model: SemanticModel, stmt) -> bool:
    """Does code follow `stmt`, in its block or an enclosing loop (which training may run next)?"""
    siblings = fixes.block_statements(model, stmt)
    if siblings is None:
        return False
    if siblings[-1] is not stmt and not all(isinstance(s, cst.SimpleStatementLine) and all(
            isinstance(x, cst.Return) for x in s.body) for s in siblings[list(map(id, siblings)).index(id(stmt)) + 1:]):
        return True
    owner = fixes.enclosing_compound(model, stmt)
    while owner is not None:
        if isinstance(owner, (cst.For, cst.While)):
            return True
        owner = fixes.enclosing_compound(model, owner)
    return False


def _global_left_in_eval(model: SemanticModel, ctx: EvalContext, call) -> bool:
    """An evaluation function of a model of the module's top level that the top level put in eval mode for
    good (`detection.eval()` right after loading it), run only after that (chenyuntc/pytorch-book)."""
    fn = ctx.function
    if fn is None or ctx.loop is not None or not call.module_global or model.external_sites(fn):
        return False
    since = model.left_in_eval_from(call.text)
    return since is not None and model.runs_after(fn, since)


def _other_model_evaluated(model: SemanticModel, ctx: EvalContext, calls: list) -> ModelCall | None:
    """The first call of a model that no `.eval()` before it can have switched, when the evaluation code
    switches only other models: every switch there (in the function, its helpers, its callers) is known to be
    of a different object (`student.eval()` and `teacher(x)` built apart, two parameters, a copy made while the
    original was in train mode), and the evaluated model is known to start in train mode
    (`ModelObjects.made_in_train_mode`) — not a model known to compute the same in both modes, not an alias,
    an attribute of another object or a wrapper the file cannot follow (`model.module`, `ema.module`)."""
    seen: set[str] = set()
    for call in sorted(calls, key=lambda c: c.seq):
        text = call.text
        if not text or text in seen:
            continue
        seen.add(text)
        if not model.model_objects().made_in_train_mode(text, call.function):
            continue  # (what the file cannot follow, or a model that may start in eval mode)
        if _eval_mode_set(model, ctx, call.seq, call) or _global_left_in_eval(model, ctx, call):
            continue
        if _built_without_mode_layers(model, call):
            continue  # (`softmax = nn.Softmax(1)` beside the model: nothing to switch)
        return call
    return None


def _eval_mode_set(model: SemanticModel, ctx: EvalContext, before: int, call: ModelCall | None = None) -> bool:
    """Is the model in eval mode at `before`, as the evaluation code, its helpers and its callers tell? With
    `call`, only the switches that may be of the model it calls count."""
    fn = ctx.function
    of = (call.text, call.function) if call is not None else None
    if fn is None:
        return model.eval_mode_at(None, before, of) is True
    if model.sets_eval(fn, before, model=of):
        return True
    # the enclosing functions (a nested evaluate() defined inside main())
    parent = fn.parent
    while parent is not None:
        if model.sets_eval(parent, before, model=of):
            return True
        parent = parent.parent
    if ctx.loop is None:
        # callers that put the model in eval mode before calling this function
        for site in model.call_sites(fn):
            # the caller (or a helper it called earlier, like `evaluate()`) left the model in eval mode
            if model.eval_mode_at(site.function, site.seq, of) is True:
                return True
        # callers in other files of the project: every one of them has the model in eval mode
        ext = model.external_sites(fn)
        if ext and all(s.eval_mode is True for s in ext):
            return True
        # a class whose methods put the model in eval mode (an evaluator / predictor object)
        if fn.class_info is not None and any(model.sets_eval(m, model=of) for m in fn.class_info.methods):
            return True
    return False


# torch.nn layers that compute the same in train and eval mode