"""The rule-facing side of fixes: the edit primitives a rule builds a fix from (`FixSpec` of `Replace`,
`WrapInBlock`, ...; node edits, never text positions) and the helpers that find what to edit for a node
(its statement, the update loop around it, how this file spells `torch.no_grad`).

The linter resolves a FixSpec into text edits (gradlint/fix.py `resolve_fix`) with the positions it
computes for reported files only. Conventions of the resolver:
- a "\\n" in `content` is written with the file's line ending (CRLF files stay CRLF);
- relative lines (ReplaceLines, InsertLinesBefore/After) get the anchor line's indentation, and their
  own indentation, written in units of four spaces, becomes the file's unit (tabs in a tab file);
- a decorated def/class spans from its first decorator;
- the edits of one fix must not overlap, except edits inside a WrapInBlock's lines: those are applied
  to the wrapped text (e.g. Replace `p.data` by `p` + WrapInBlock of its statement in no_grad);
- a fix that cannot be resolved (a node not in the module, whole-line edits on a node that shares
  its line with other code) is dropped: the finding is reported without a fix;
- in a file that imports no torch library (`model.uses_torch` is false: a snippet, a helper module, a
  file of another framework) every fix is dropped: a fix never brings torch (`import torch`, `no_grad`,
  `.detach()`) into code that may not be torch's.

Layout (as ruff's `fix/edits.rs`, `fix/mod.rs` and `linter.rs`): this module is what rules use;
gradlint/fix.py turns node edits into text edits and applies them (it never imports the linter);
gradlint/linter.py `fix_source` is the fix-and-relint loop (the CLI, the notebook code and the language
server call it); the `check` command's fix options live in gradlint/cli.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from gradlint.model.walk import iter_nodes, parent_map  # noqa: F401  (iter_nodes: for rules' own searches)

if TYPE_CHECKING:
    from gradlint.model import SemanticModel

# ============================================================================ edit primitives


@dataclass(frozen=True)
class Replace:
    """Replace the source text of `node` (its own span, without leading/trailing whitespace) with `content`."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertBefore:
    """Insert `content` at the start of `node`'s span."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertAfter:
    """Insert `content` at the end of `node`'s span."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class ReplaceLines:
    """Replace whole lines: from the start of the line where `first` starts to the end of the line where
    `last` ends (newline included). `content` is lines written *relative* to that block: the resolver
    prefixes every non-empty line with the indentation of `first`'s line and keeps the file's newline."""

    first: cst.CSTNode
    last: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertLinesBefore:
    """Insert lines before the line where `node` starts; `content` is relative lines, indented like `node`."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class InsertLinesAfter:
    """Insert lines after the line where `node` ends (its whole statement, for a compound statement: after
    its last body line); `content` is relative lines, indented like the line where `node` starts."""

    node: cst.CSTNode
    content: str


@dataclass(frozen=True)
class WrapInBlock:
    """Wrap the statements from `first` to `last` (whole lines, same block) in a compound statement:
    `header` (e.g. "with torch.no_grad():") goes at their indentation, the lines move one indentation
    unit (the file's own: spaces or tabs) deeper. Comments and blank lines between them move along."""

    first: cst.CSTNode
    last: cst.CSTNode
    header: str


NodeEdit = Replace | InsertBefore | InsertAfter | ReplaceLines | InsertLinesBefore | InsertLinesAfter | WrapInBlock


@dataclass(frozen=True)
class FixSpec:
    """A rule's fix: `safe` only if it cannot change what a correct program computes."""

    message: str
    edits: tuple[NodeEdit, ...]
    safe: bool = False


# ============================================================================ helpers


def torch_ref(model: "SemanticModel", attr: str) -> tuple[str, tuple[NodeEdit, ...]]:
    """How to write `torch.<attr>` (e.g. "no_grad") in this file, respecting its imports: `T.no_grad` after
    `import torch as T`, `ng` after `from torch import no_grad as ng`; else `torch.no_grad` plus the edit
    that adds `import torch` (after the module docstring and `__future__` imports) when nothing binds it."""
    aliases = model.imports.aliases
    for local, origin in aliases.items():
        if origin == f"torch.{attr}":
            return local, ()
    for local, origin in aliases.items():
        if origin == "torch":
            return f"{local}.{attr}", ()
    body = model.module.body
    index = 0
    while index < len(body) and _is_docstring_or_future(body[index], index):
        index += 1
    if index < len(body):
        return f"torch.{attr}", (InsertLinesBefore(body[index], "import torch\n"),)
    return f"torch.{attr}", (InsertAfter(body[-1], "\nimport torch"),) if body else ()


def _is_docstring_or_future(stmt: cst.CSTNode, index: int) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__"


def parents(model) -> dict[int, cst.CSTNode]:
    """id(node) -> parent node, for the model's module (cached on the model)."""
    found = getattr(model, "_fix_parents", None)
    if found is None:
        # (LibCST's `.children` runs a visitor per node: far slower); the language server keeps the maps of
        # a document's statements from one edit to the next (`parent_cache`: gradlint.incremental)
        found = parent_map(model.module, getattr(model, "parent_cache", None))
        model._fix_parents = found
    return found


def parent_of(model, node: cst.CSTNode) -> cst.CSTNode | None:
    return parents(model).get(id(node))


def statement_of(model, node: cst.CSTNode) -> cst.CSTNode | None:
    """The innermost statement holding `node`: a SimpleStatementLine, a compound statement, or — for a
    small statement in a one-line suite (`for p in ps: p -= x`) — that SimpleStatementSuite."""
    table = parents(model)
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, (cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.BaseCompoundStatement)):
            return current
        current = table.get(id(current))
    return None


def small_statement_of(model, node: cst.CSTNode) -> cst.BaseSmallStatement | None:
    table = parents(model)
    current: cst.CSTNode | None = node
    while current is not None:
        if isinstance(current, cst.BaseSmallStatement):
            return current
        if isinstance(current, cst.BaseStatement):
            return None
        current = table.get(id(current))
    return None


def block_statements(model, stmt: cst.CSTNode) -> tuple[cst.CSTNode, ...] | None:
    """The statements of the block `stmt` belongs to (its siblings, itself included)."""
    parent = parent_of(model, stmt)
    if isinstance(parent, (cst.Module, cst.IndentedBlock)):
        return tuple(parent.body)
    return None


def enclosing_compound(model, stmt: cst.CSTNode) -> cst.BaseCompoundStatement | None:
    """The compound statement whose body directly holds `stmt` (through its IndentedBlock or suite)."""
    parent = parent_of(model, stmt)
    if isinstance(parent, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        owner = parent_of(model, parent)
        if isinstance(owner, cst.BaseCompoundStatement):
            return owner
    if isinstance(stmt, cst.SimpleStatementSuite):
        owner = parent_of(model, stmt)
        if isinstance(owner, cst.BaseCompoundStatement):
            return owner
    return None


def body_statements(compound: cst.BaseCompoundStatement) -> tuple[cst.CSTNode, ...]:
    """The statements of a compound statement's own body (small statements for a one-line suite)."""
    body = compound.body
    if isinstance(body, cst.IndentedBlock):
        return tuple(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return tuple(body.body)
    return ()


def no_grad_wrap(model, first: cst.CSTNode, last: cst.CSTNode | None = None, *, message: str, safe: bool):
    """A FixSpec wrapping the statements `first`..`last` in `with torch.no_grad():` (alias-aware, adds
    `import torch` when nothing binds it)."""
    ref, imports = torch_ref(model, "no_grad")
    return FixSpec(message, (WrapInBlock(first, last if last is not None else first, f"with {ref}():"),) + imports, safe)


def is_whole_line_statement(model, stmt: cst.CSTNode) -> bool:
    """A statement on lines of its own in an indented block or the module (wrappable)."""
    if not isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return False
    return isinstance(parent_of(model, stmt), (cst.Module, cst.IndentedBlock))


def update_statements(model) -> set[int]:
    """ids of the small statements that hold an in-place op (model.inplace_ops) on a leaf that requires
    grad, on a `.grad` or through `.data`: parameter updates and their bookkeeping (`p.grad.zero_()`).
    In-place ops on activations (`h.relu_()`) are not updates: they must stay recorded."""
    from gradlint.model import Kind

    out: set[int] = set()
    for o in model.inplace_ops:
        target = o.target
        if o.value.kind is Kind.LEAF or (isinstance(target, cst.Attribute) and target.attr.value in ("grad", "data")):
            out.add(id(small_statement_of(model, o.node)))
    return out


def is_update_statement(model, stmt: cst.CSTNode, updates: set[int]) -> bool:
    """Does `stmt` only do in-place updates (and `for`/`if`/`continue` bookkeeping around them)?"""
    if isinstance(stmt, (cst.Pass, cst.Continue)):
        return True
    if isinstance(stmt, cst.BaseSmallStatement):
        return id(stmt) in updates
    if isinstance(stmt, cst.SimpleStatementLine):
        return all(is_update_statement(model, s, updates) for s in stmt.body)
    if isinstance(stmt, cst.For):
        return stmt.orelse is None and stmt.asynchronous is None and all(
            is_update_statement(model, s, updates) for s in body_statements(stmt))
    if isinstance(stmt, cst.If):
        if not all(is_update_statement(model, s, updates) for s in body_statements(stmt)):
            return False
        orelse = stmt.orelse
        if orelse is None:
            return True
        if isinstance(orelse, cst.If):
            return is_update_statement(model, orelse, updates)
        return all(is_update_statement(model, s, updates) for s in body_statements(orelse))
    return False


def update_wrap_target(model, node: cst.CSTNode, updates: set[int]
                       ) -> tuple[cst.CSTNode, cst.CSTNode, str] | None:
    """What to wrap in `no_grad` for the update at `node`: (first, last, what) — its statement and the
    update statements right before and after it in the same block, or the enclosing `for` loop(s) when
    every statement in them is an update; `what` is "the update(s)" / "the update loop". None when the
    statement holds other code (`y = 2 * w; w += 1`) or the op sits in a condition or header."""
    stmt = statement_of(model, node)
    if stmt is None:
        return None
    if isinstance(stmt, cst.SimpleStatementSuite):  # `for p in ps: p -= x`: the one-line compound
        owner = enclosing_compound(model, stmt)
        if owner is None or not is_update_statement(model, owner, updates):
            return None
        stmt = owner
    elif not is_update_statement(model, stmt, updates):
        return None
    what = "the update"
    outer = enclosing_compound(model, stmt)
    while isinstance(outer, cst.For) and is_update_statement(model, outer, updates):
        stmt, what = outer, "the update loop"
        outer = enclosing_compound(model, stmt)
    if not is_whole_line_statement(model, stmt):
        return None
    first = last = stmt
    siblings = block_statements(model, stmt)
    if siblings is not None and what == "the update":
        i = next(k for k, s in enumerate(siblings) if s is stmt)
        j = k = i
        # (never across a notebook cell boundary: the wrap would move lines from one cell into another)
        while j > 0 and _holds_update(model, siblings[j - 1], updates) and not _starts_cell(siblings[j]):
            j -= 1
        while (k + 1 < len(siblings) and _holds_update(model, siblings[k + 1], updates)
               and not _starts_cell(siblings[k + 1])):
            k += 1
        first, last = siblings[j], siblings[k]
        if j != k:
            what = "the updates"
    return first, last, what


def _starts_cell(stmt: cst.CSTNode) -> bool:
    """Is `stmt` the first statement of a notebook cell (a cell boundary line among its leading lines)?"""
    from gradlint.notebook import CELL_BOUNDARY

    return any(line.comment is not None and line.comment.value.startswith(CELL_BOUNDARY)
               for line in getattr(stmt, "leading_lines", ()))


def _holds_update(model, stmt: cst.CSTNode, updates: set[int]) -> bool:
    """A neighbouring line that joins an update's wrap: update statements only, at least one real update. A
    bare `pass` is not one: in a notebook it is the placeholder of an IPython line (`%timeit f()`), which
    must stay where it is, outside the block the fix adds."""
    return (isinstance(stmt, cst.SimpleStatementLine) and is_update_statement(model, stmt, updates)
            and any(id(s) in updates for s in stmt.body))


def is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def is_store_target(model, node: cst.CSTNode) -> bool:
    """Is `node` (an expression) written to — an assignment / `for` / `with ... as` / `del` target, also
    inside a tuple or list target (`p.data, meta = repack(...)`)? Such a node cannot become a call."""
    table = parents(model)
    child = node
    parent = table.get(id(node))
    while isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
        child, parent = parent, table.get(id(parent))
    if isinstance(parent, cst.AssignTarget):
        return parent.target is child
    if isinstance(parent, (cst.AugAssign, cst.AnnAssign)):
        return parent.target is child
    if isinstance(parent, (cst.For, cst.CompFor)):
        return parent.target is child
    if isinstance(parent, cst.AsName):
        return parent.name is child
    return isinstance(parent, cst.Del)
