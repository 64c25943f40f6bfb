"""GL020 grad-mode-bare-call."""

from __future__ import annotations

from collections.abc import Iterator

from gradlint.model import SemanticModel
from gradlint.model.ext_spellings import BareGradStatement, SpellingFacts
from gradlint.rules.base import Finding, Rule
from gradlint.settings import RuleOptions

NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"


class GradModeBareCall(Rule):
    code = "GL020"
    name = "grad-mode-bare-call"
    tier = "bug"
    summary = "A bare `torch.no_grad()` statement (no effect), or a global `torch.set_grad_enabled(False)` that is never restored"
    docs = f"""\
## What it does
Flags grad-mode calls written as statements of their own, outside a `with`:

* `torch.no_grad()`, `torch.enable_grad()`, `torch.inference_mode()` (with any argument): the call
  creates a context-manager object and throws it away;
* `torch.set_grad_enabled(False)` inside a function that does not switch grad mode back later in the
  same function, or at module level of a file that also trains (calls `.backward()`,
  `torch.autograd.grad`, an optimizer) without switching it back.

Aliases are followed (`import torch as T`, `from torch import no_grad`, `torch.autograd.no_grad`).
Reported at the statement.

## Why is this bad?
A bare `torch.no_grad()` has **no effect** (verified on PyTorch 2.13: right after it
`torch.is_grad_enabled()` is still `True` and `(x * 2).requires_grad` is `True`; after a bare
`torch.inference_mode()`, `torch.is_inference_mode_enabled()` is `False`). The code that was meant to run
without recording still builds graphs: wasted memory and time, so these findings are **hygiene** (a bare
`torch.enable_grad()`, which leaves gradients off where they were wanted, stays a bug).

A bare `torch.set_grad_enabled(False)` is the opposite: it takes effect immediately, **globally and
persistently** for the thread. Every later forward pass records nothing, and the next training step
fails far from the cause:

```
RuntimeError: {NO_GRAD_FN}
```

## Example
```python
def evaluate(model, loader):
    torch.no_grad()                      # does nothing
    return [model(x) for x in loader]

def setup_inference(model):
    torch.set_grad_enabled(False)        # ...and training code run afterwards breaks
    model.eval()
```

## Use instead
```python
def evaluate(model, loader):
    with torch.no_grad():
        return [model(x) for x in loader]
```
or decorate the function with `@torch.no_grad()`; use `with torch.set_grad_enabled(False):` for a block.

## Not flagged
`with torch.no_grad():`, decorators, `torch.no_grad()(fn)`; `torch.set_grad_enabled(True)` and
`torch.set_grad_enabled(flag)` with a non-constant flag (Lightning-style switching); a
`set_grad_enabled(False)` that the same function (or the module, for a module-level one) later switches
back with `set_grad_enabled(True)` / `set_grad_enabled(prev)` before any training step; a method whose class
switches it back in another method (a context manager's `__enter__`/`__exit__`, as torch's own
`no_grad` is written, or `setUp`/`tearDown`); `torch.set_grad_enabled(False)` at the
top level of an inference-only script (no `backward()`, `autograd.grad` or optimizer in the file), also
inside `if __name__ == "__main__":` or in that script's `main()` entry point.

## Fix safety
No automatic fix: turning the statement into a `with` block needs to know which statements it was meant
to cover.

## Options
None.
"""
    VALID = (
        """\
import torch
with torch.no_grad():
    y = model(x)
""",
        """\
import torch
torch.set_grad_enabled(False)
model = load()
print(model(x))
""",
        """\
import torch
def f(model, x):
    torch.set_grad_enabled(False)
    y = model(x)
    torch.set_grad_enabled(True)
    return y
""",
        """\
import torch
def step(self, train):
    torch.set_grad_enabled(train)
""",
        """\
import torch
@torch.no_grad()
def f(x):
    return x * 2
""",
    )
    INVALID = (
        """\
import torch
def evaluate(model, x):
    torch.no_grad()  # gradlint-expect: GL020
    return model(x)
""",
        """\
import torch
def setup(model):
    torch.set_grad_enabled(False)  # gradlint-expect: GL020
    model.eval()
""",
        """\
import torch as T
T.set_grad_enabled(False)  # gradlint-expect: GL020
loss = model(x).sum()
loss.backward()
""",
    )
    prefilter = ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")
    extensions = (SpellingFacts,)

    def check(self, model: SemanticModel, options: RuleOptions) -> Iterator[Finding]:
        facts = model.ext(SpellingFacts)
        for st in facts.bare_statements:
            if st.kind in ("no_grad", "enable_grad", "inference_mode"):
                what = {"no_grad": "grad mode stays on: the code after it still records graphs",
                        "enable_grad": "grad mode is not changed",
                        "inference_mode": "inference mode is not entered: the code after it still records graphs"}[st.kind]
                yield Finding(
                    st.stmt,
                    f"bare `{st.text}()` statement has no effect: it creates a context manager and discards it, "
                    f"so {what}; use `with {st.text}():` around the block (or decorate the function)",
                    # a forgotten no_grad/inference_mode only wastes memory; a forgotten enable_grad loses gradients
                    tier=None if st.kind == "enable_grad" else "hygiene",
                )
            elif st.kind == "set_grad_enabled" and st.flag is False and self._leaks(st, facts, model):
                yield Finding(
                    st.stmt,
                    f"bare `{st.text}(False)` turns grad mode off globally and for good (not just for a block): "
                    f"later training code records nothing and `backward()` raises `RuntimeError: {NO_GRAD_FN}`; "
                    f"use `with {st.text}(False):` around the code that needs it, or switch it back with "
                    f"`{st.text}(True)`",
                )

    @staticmethod
    def _restore_seq(st: BareGradStatement, facts: SpellingFacts) -> int | None:
        """Where the same function (or the module) switches grad mode back: `set_grad_enabled(True)` or
        `set_grad_enabled(prev)`."""
        seqs = [o.seq for o in facts.bare_statements
                if o.kind == "set_grad_enabled" and o.flag is not False and o.seq > st.seq and o.function is st.function]
        return min(seqs) if seqs else None

    @staticmethod
    def _paired_in_class(st: BareGradStatement, facts: SpellingFacts) -> bool:
        """A method whose class switches grad mode back in another method: a context manager's
        `__enter__`/`__exit__` (torch's own `no_grad`), `setUp`/`tearDown`."""
        fn = st.function
        if fn is None or fn.class_info is None:
            return False
        if fn.name in ("__enter__", "__aenter__"):
            return True
        return any(
            o.kind == "set_grad_enabled" and o.flag is not False and o.function is not None
            and o.function is not fn and o.function.class_info is fn.class_info
            for o in facts.bare_statements
        )

    def _leaks(self, st: BareGradStatement, facts: SpellingFacts, model: SemanticModel) -> bool:
        if self._paired_in_class(st, facts):
            return False
        restore = self._restore_seq(st, facts)
        if restore is not None:
            # switched back later: a leak only if training runs in between, in the same scope
            return any(st.seq < seq < restore and fn is st.function for seq, fn in facts.training_seqs)
        if facts.training_seqs:
            return True  # the file trains: everything after this call records nothing
        fn = st.function
        if fn is None:
            return False  # top level of an inference-only script
        if fn.parent is None and fn.class_info is None and (
            fn.name == "main" or any(s.function is None for s in model.call_sites(fn))
        ):
            return False  # the entry point of an inference-only script
        return True
