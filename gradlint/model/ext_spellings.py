"""Grad-mode spellings: the syntax scans behind GL009, GL010 and GL020, which need no values.

- attribute spellings close to `requires_grad` (assignment, annotated and chained assignment, `setattr`) and
  misspelt `requires_grad=` keywords of torch calls (`TypoAttr`, `KwargTypo`); the typo-like names read
  anywhere (`attr_reads`: a user-defined attribute of that name is not a typo), `self.requires_grad` reads;
- `<module>.requires_grad = ...` on an `nn.Module` (`ModuleRequiresGrad`: a Python attribute, no parameter
  changes);
- `with` items that name a grad-mode class without calling it (`with torch.no_grad:`, `UncalledWithItem`);
- bare grad-mode statements (`torch.no_grad()`, `torch.set_grad_enabled(False)` outside a `with`:
  `BareGradStatement`), and where the core training facts (backward, optimizer step, optimizer built) run
  outside an explicit `enable_grad` block (`training_seqs`, for GL020).

Values made under no_grad / inference_mode and their uses (GL011, GL012) are in `ext_nograd_uses`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from gradlint.model.evaluate import _const_bool, _kwarg, _positional
from gradlint.model.extension import Extension
from gradlint.model.facts import FunctionInfo, Mode
from gradlint.model.names import TORCH_FACTORIES, dotted
from gradlint.model.values import Kind

REQUIRES_GRAD = "requires_grad"
_NORMAL = "requiresgrad"


_TYPO_CACHE: dict[str, bool] = {}


def is_requires_grad_typo(name: str) -> bool:
    """A spelling close to `requires_grad` that is not it (`require_grad`, `requires_grads`, `requieres_grad`,
    `requiresGrad`); private names (`_requires_grad`), the method `requires_grad_` and longer names that
    merely contain it (`require_grad_flag`) are not. (Asked for every attribute read and keyword: the
    answer for a name is kept — a file spells few distinct ones.)"""
    found = _TYPO_CACHE.get(name)
    if found is None:
        if len(_TYPO_CACHE) > 50_000:
            _TYPO_CACHE.clear()
        found = _TYPO_CACHE[name] = _is_requires_grad_typo(name)
    return found


def _is_requires_grad_typo(name: str) -> bool:
    if name == REQUIRES_GRAD or name.startswith("_") or name.endswith("_"):
        return False
    low = name.lower()
    if "grad" not in low and "gard" not in low:
        return False
    norm = low.replace("_", "")
    if norm == _NORMAL:
        return True
    return _distance(norm, _NORMAL) <= 2 and abs(len(norm) - len(_NORMAL)) <= 2


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]



# ------------------------------------------------------------------------------------------ facts


@dataclass(eq=False)
class UncalledWithItem:
    item: cst.WithItem
    kind: str  # "no_grad", "enable_grad", "inference_mode", "set_grad_enabled"
    text: str  # how the code names it: `torch.no_grad`


@dataclass(eq=False)
class BareGradStatement:
    stmt: cst.Expr
    call: cst.Call
    kind: str
    flag: bool | None  # set_grad_enabled's / inference_mode's constant argument (None: not constant / none)
    seq: int
    function: FunctionInfo | None
    text: str


@dataclass(eq=False)
class TypoAttr:
    node: cst.CSTNode  # the attribute name (or setattr's string) to report
    attr: str
    receiver: cst.BaseExpression
    how: str  # "assignment", "annotated assignment", "setattr"
    function: FunctionInfo | None


@dataclass(eq=False)
class ModuleRequiresGrad:
    node: cst.Attribute
    value: bool | None
    origin: str
    stmt: cst.Assign | None = None  # the single-target assignment (for the fix)


@dataclass(eq=False)
class KwargTypo:
    node: cst.Arg
    keyword: str
    callee: str  # `torch.zeros`, `nn.Parameter`, `requires_grad_`



class SpellingFacts(Extension):
    name = "spellings"

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.uncalled_with_items: list[UncalledWithItem] = []
        self.bare_statements: list[BareGradStatement] = []
        self.typo_attrs: list[TypoAttr] = []
        self.module_requires_grad: list[ModuleRequiresGrad] = []
        self.kwarg_typos: list[KwargTypo] = []
        # backward / autograd.grad / optimizer step / optimizer built (core facts, not in an explicit
        # enable_grad block): (seq, function)
        self.training_seqs: list[tuple[int, FunctionInfo | None]] = []
        self._enable_blocks: list[bool] = []  # per enclosing `with`: does it explicitly enable grad?
        self.attr_reads: set[str] = set()  # typo-like attribute names read somewhere (user-defined attributes)
        self.self_requires_grad_read = False  # `self.requires_grad` read: a class defines its own attribute
        self._targets: set[int] = set()  # ids of Attribute nodes that are assignment targets
        self._stmt: cst.Assign | None = None

    # -------------------------------------------------------------------- GL010: uncalled with items

    def visit_With(self, node: cst.With) -> None:
        explicit_enable = False
        for item in node.items:
            expr = item.item
            if type(expr) is cst.Call and self.b.mode_of_grad_ctx(expr, Mode.INHERITED) is Mode.ENABLED:
                explicit_enable = True  # `with torch.enable_grad():` / `with torch.set_grad_enabled(True):`
            if type(expr) in (cst.Name, cst.Attribute):
                kind = self.b.grad_mode_kind(expr)
                if kind is not None:
                    self.uncalled_with_items.append(UncalledWithItem(item, kind, dotted(expr) or kind))
        self._enable_blocks.append(explicit_enable)

    def leave_With(self, node: cst.With) -> None:
        self._enable_blocks.pop()

    # -------------------------------------------------------------------- GL020: bare statements

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if type(call) is not cst.Call:
            return
        kind = self.b.grad_mode_kind(call.func)
        if kind is None:
            return
        arg = _kwarg(call, "mode") or (_positional(call)[0] if _positional(call) else None)
        flag = _const_bool(arg.value) if arg is not None else None
        self.bare_statements.append(
            BareGradStatement(node, call, kind, flag, self.b.next_seq(), self.b.function,
                              dotted(call.func) or kind)
        )

    # -------------------------------------------------------------------- GL009: assignments

    def visit_Assign(self, node: cst.Assign) -> None:
        self._stmt = node if len(node.targets) == 1 else None
        for t in node.targets:
            self._target(t.target, node.value, "assignment")
        self._stmt = None

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target, node.value, "annotated assignment")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if type(node.target) is cst.Attribute:
            self._targets.add(id(node.target))

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None, how: str) -> None:
        if type(target) in (cst.Tuple, cst.List):
            for el in target.elements:
                self._target(el.value, None, how)
            return
        if type(target) is not cst.Attribute:
            return
        self._targets.add(id(target))
        attr = target.attr.value
        recv = target.value
        if is_requires_grad_typo(attr):
            if self.b.classify(recv).kind is not Kind.SELF:
                self.typo_attrs.append(TypoAttr(target.attr, attr, recv, how, self.b.function))
        elif attr == REQUIRES_GRAD:
            rv = self.b.classify(recv)
            if rv.kind is Kind.MODULE:
                flag = _const_bool(value) if value is not None else None
                q = self.b.imports.resolve(recv) if type(recv) in (cst.Name, cst.Attribute) else None
                if not (q and q.startswith("torch.")):
                    self.module_requires_grad.append(ModuleRequiresGrad(target, flag, rv.origin, self._stmt))

    # -------------------------------------------------------------------- calls

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        b = self.b
        # setattr(x, "require_grad", v); getattr(x, "require_grad") reads a user-defined attribute
        if type(func) is cst.Name and (func.value == "getattr" or (
                func.value == "setattr" and "setattr" not in b.imports.aliases)):
            pos = _positional(node)
            if len(pos) >= 2 and type(pos[1].value) is cst.SimpleString:
                key = pos[1].value.evaluated_value
                if isinstance(key, str) and is_requires_grad_typo(key):
                    if func.value == "getattr":
                        self.attr_reads.add(key)
                    elif b.classify(pos[0].value).kind is not Kind.SELF:
                        self.typo_attrs.append(TypoAttr(pos[1].value, key, pos[0].value, "`setattr`", b.function))
        # misspelt requires_grad= keywords of torch calls (a TypeError at the call; only a call with arguments
        # can have one)
        if node.args:
            q = b.imports.resolve(func) if type(func) in (cst.Name, cst.Attribute) else None
            if q is not None and (q.rsplit(".", 1)[-1] in TORCH_FACTORIES and q.count(".") == 1
                                  or q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter")):
                self._kwarg_typos(node, q)
            if type(func) is cst.Attribute and func.attr.value == "requires_grad_":
                self._kwarg_typos(node, "requires_grad_")
        # training signals (GL020): a backward pass, an optimizer step, an optimizer built (the core model's
        # training facts, `gradlint.model.training`, recorded for this call by the builder just before)
        tr = b.training
        nid = id(node)
        if nid in tr.backward_at or (nid in tr.step_at and not tr.step_at[nid].scheduler) or (
                tr.optimizers and tr.optimizers[-1].node is node):
            if not any(self._enable_blocks):
                # a backward inside an explicit `with torch.enable_grad():` (saliency, attacks) does not
                # depend on the global switch: the author turned grad mode on for it
                self.training_seqs.append((b.next_seq(), b.function))

    def _kwarg_typos(self, node: cst.Call, callee: str) -> None:
        for a in node.args:
            if a.keyword is not None and is_requires_grad_typo(a.keyword.value):
                self.kwarg_typos.append(KwargTypo(a, a.keyword.value, callee))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self._targets:
            return
        attr = node.attr.value
        if is_requires_grad_typo(attr):
            self.attr_reads.add(attr)
        elif attr == REQUIRES_GRAD and type(node.value) is cst.Name and node.value.value == "self":
            self.self_requires_grad_read = True


__all__ = [
    "BareGradStatement",
    "KwargTypo",
    "ModuleRequiresGrad",
    "SpellingFacts",
    "TypoAttr",
    "UncalledWithItem",
    "is_requires_grad_typo",
]
