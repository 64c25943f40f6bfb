"""Import aliases and qualified names, without LibCST's (slow) QualifiedNameProvider.

A file's imports are read into one map from local name to dotted origin (`nn` -> `torch.nn`,
`ng` -> `torch.no_grad`). Imports anywhere in the file count: scripts and notebooks import inside
functions, and a name bound by an import is almost never rebound to something unrelated.
"""

from __future__ import annotations

import libcst as cst


def dotted(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    # exact type tests: LibCST's node classes are ABCs, so isinstance() costs a Python-level call each
    tp = type(expr)
    if tp is cst.Name:
        return expr.value
    if tp is not cst.Attribute:
        return None
    head = expr.value
    if type(head) is cst.Name:  # (the common `a.b`: no list to build)
        return f"{head.value}.{expr.attr.value}"
    parts: list[str] = []
    while type(expr) is cst.Attribute:
        parts.append(expr.attr.value)
        expr = expr.value
    if type(expr) is cst.Name:
        parts.append(expr.value)
        return ".".join(reversed(parts))
    return None


class _Enough(Exception):
    pass


from libcst._nodes.internal import CodegenState as _CodegenState  # noqa: E402


class _BoundedState(_CodegenState):
    """A codegen state that collects generated code and stops once `limit` characters are there."""

    limit: int = 0
    size: int = 0

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.size += len(value)
        if self.size > self.limit:
            raise _Enough


def _tight(ws: cst.BaseParenthesizableWhitespace) -> bool:
    return type(ws) is cst.SimpleWhitespace and not ws.value


def _tight_code(node: cst.CSTNode) -> str | None:
    """The code of `a.b.c` or `a.b.c()` spelled with no parentheses, spaces or arguments, else None."""
    call = type(node) is cst.Call
    if call:
        if node.args or node.lpar or node.rpar or not (
                _tight(node.whitespace_after_func) and _tight(node.whitespace_before_args)):
            return None
        node = node.func
    expr = node
    while type(expr) is cst.Attribute:
        dot = expr.dot
        if expr.lpar or expr.rpar or expr.attr.lpar or not (_tight(dot.whitespace_before) and _tight(
                dot.whitespace_after)):
            return None
        expr = expr.value
    if type(expr) is not cst.Name or expr.lpar or expr.rpar:
        return None
    text = dotted(node)
    return text + "()" if call else text


def short_code(node: cst.CSTNode, limit: int = 40) -> str:
    """The node's source on one line, cut to `limit` characters — in time proportional to `limit`, not to
    the node's size (a message about one operand of a 4,000-term sum must not regenerate the whole sum)."""
    # LibCST generates a left-nested chain (`a + b + c ...`, `x.f().g()...`) by descending its whole left
    # spine before the first token: abbreviate deep chains instead of paying their depth on every call
    spine, depth = node, 0
    while depth <= 32:
        nxt = getattr(spine, "left", None) if type(spine) in (cst.BinaryOperation, cst.BooleanOperation) else (
            getattr(spine, "value", None) if type(spine) in (cst.Attribute, cst.Subscript) else (
                getattr(spine, "func", None) if type(spine) is cst.Call else None))
        if nxt is None:
            break
        spine, depth = nxt, depth + 1
    if depth > 32:
        return "…"
    text = _tight_code(node)
    if text is not None:  # (what the code generator prints, without its per-node context managers)
        return text if len(text) <= limit else text[: limit - 1] + "…"
    state = _BoundedState(default_indent="    ", default_newline="\n")
    state.limit = limit * 2 + 16
    try:
        node._codegen(state)
        cut = False
    except _Enough:
        cut = True
    except Exception:
        return "..."
    text = " ".join("".join(state.tokens).split())
    if cut or len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def target_names(target: cst.BaseExpression, *, starred: bool = False) -> list[str]:
    """The names an assignment / `for` / `with ... as` target binds, in source order (`a, (b, c)` ->
    a, b, c); with `starred`, also the name of a `*rest` element."""
    if type(target) is cst.Name:
        return [target.value]
    if type(target) in (cst.Tuple, cst.List):
        out: list[str] = []
        for el in target.elements:
            out += target_names(el.value, starred=starred)
        return out
    if starred and type(target) is cst.StarredElement:
        return target_names(target.value, starred=starred)
    return []


def _positional(call: cst.Call) -> list[cst.Arg]:
    """The positional arguments of a call (no keyword, no star)."""
    return [a for a in call.args if a.keyword is None and not a.star]


def paired_items(target: cst.BaseExpression,
                 value: cst.BaseExpression) -> list[tuple[cst.BaseExpression, cst.BaseExpression]] | None:
    """`a, b = x, y`: each target item with the item bound to it, when both sides are tuple or list literals
    of the same length without a starred item; None otherwise."""
    if (type(target) in (cst.Tuple, cst.List) and type(value) in (cst.Tuple, cst.List)
            and len(target.elements) == len(value.elements)
            and all(type(e) is cst.Element for e in (*target.elements, *value.elements))):
        return [(el.value, src.value) for el, src in zip(target.elements, value.elements)]
    return None


def is_full_slice(target: cst.Subscript) -> bool:
    """`x[:]` (torch treats an in-place write into it like a write to `x` itself)."""
    return len(target.slice) == 1 and type(target.slice[0].slice) is cst.Slice and all(
        getattr(target.slice[0].slice, f) is None for f in ("lower", "upper", "step"))


def _module_name(node: cst.BaseExpression | None) -> str | None:
    if node is None:
        return None
    return dotted(node)


_UNSEEN = object()


class ImportMap:
    """Local name -> dotted origin."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.relative: set[str] = set()  # local names bound by relative imports (`from .base import X`)
        # where they come from, with the leading dots: `from ..utils import ev as e` -> e: "..utils.ev"
        # (project-wide analysis resolves them against the file's package)
        self.relative_origin: dict[str, str] = {}
        self.stars: list[str] = []  # `from M import *`: M (relative ones with their dots)
        self._resolved: dict[str, str | None] = {}  # dotted name -> resolve(); emptied when aliases change
        # id(expr) -> (expr, resolve(expr)): the walk resolves a call's callee several times (the facts and
        # each extension); the entry keeps its node alive, so the id stays its. Emptied with `_resolved`.
        self._by_node: dict[int, tuple[cst.BaseExpression, str | None]] = {}

    def add_import(self, node: cst.Import) -> None:
        self._resolved.clear()
        self._by_node.clear()
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                self.aliases[alias.asname.name.value] = full
            else:
                top = full.split(".", 1)[0]
                self.aliases[top] = top

    def add_import_from(self, node: cst.ImportFrom) -> None:
        self._resolved.clear()
        self._by_node.clear()
        if node.relative:
            dots = "." * len(node.relative)
            base = _module_name(node.module)
            prefix = f"{dots}{base}." if base else dots
            if type(node.names) is cst.ImportStar:
                if base:
                    self.stars.append(f"{dots}{base}")
                return
            for alias in node.names:
                local = alias.asname.name if alias.asname is not None else alias.name
                name = dotted(alias.name)
                if type(local) is cst.Name:
                    self.relative.add(local.value)
                    if name is not None:
                        self.relative_origin[local.value] = prefix + name
            return
        module = _module_name(node.module)
        if module is None:
            return
        if type(node.names) is cst.ImportStar:
            self.stars.append(module)
            return
        for alias in node.names:
            name = dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                local = alias.asname.name.value
            self.aliases[local] = f"{module}.{name}"

    def resolve(self, expr: cst.BaseExpression) -> str | None:
        """The qualified name of a Name/Attribute chain through the import aliases.

        Returns None when the chain does not start at an imported name. `torch` is assumed to be
        the torch module even when the file does not import it (notebook cells, snippets).
        """
        tp = type(expr)
        if tp is cst.Name:  # (a name is its own key: no per-node memo needed)
            d = expr.value
            found = self._resolved.get(d, _UNSEEN)
            if found is _UNSEEN:
                origin = self.aliases.get(d)
                found = self._resolved[d] = "torch" if origin is None and d == "torch" else origin
            return found
        if tp is not cst.Attribute:
            return None
        hit = self._by_node.get(id(expr))
        if hit is not None and hit[0] is expr:
            return hit[1]
        d = dotted(expr)
        if d is None:
            found = None
        else:
            found = self._resolved.get(d, _UNSEEN)
            if found is _UNSEEN:
                head, _, rest = d.partition(".")
                origin = self.aliases.get(head)
                if origin is None and head == "torch":
                    origin = "torch"
                found = None if origin is None else f"{origin}.{rest}" if rest else origin
                self._resolved[d] = found
        self._by_node[id(expr)] = (expr, found)
        return found

    def origin(self, expr: cst.BaseExpression) -> str | None:
        """Like `resolve`, and also through relative imports (the origin then starts with its dots:
        `from .utils import evaluate` makes `evaluate` -> ".utils.evaluate")."""
        found = self.resolve(expr)
        if found is not None or not self.relative_origin:
            return found
        d = dotted(expr)
        if d is None:
            return None
        head, _, rest = d.partition(".")
        origin = self.relative_origin.get(head)
        if origin is None:
            return None
        return f"{origin}.{rest}" if rest else origin

    def imports_torch(self) -> bool:
        return any(v == "torch" or v.startswith("torch.") for v in self.aliases.values())


# --- vocabularies -------------------------------------------------------------------------------

GRAD_MODE_NAMES = {
    "torch.no_grad": "no_grad",
    "torch.autograd.no_grad": "no_grad",
    "torch.autograd.grad_mode.no_grad": "no_grad",
    "torch.enable_grad": "enable_grad",
    "torch.autograd.enable_grad": "enable_grad",
    "torch.autograd.grad_mode.enable_grad": "enable_grad",
    "torch.set_grad_enabled": "set_grad_enabled",
    "torch.autograd.set_grad_enabled": "set_grad_enabled",
    "torch.autograd.grad_mode.set_grad_enabled": "set_grad_enabled",
    "torch.inference_mode": "inference_mode",
    "torch.autograd.inference_mode": "inference_mode",
    "torch.autograd.grad_mode.inference_mode": "inference_mode",
}

# torch functions that create a tensor and take `requires_grad=`
TORCH_FACTORIES = frozenset(
    """tensor as_tensor zeros ones empty full rand randn randint randperm arange range linspace logspace
    eye zeros_like ones_like empty_like full_like rand_like randn_like randint_like normal empty_strided
    from_numpy""".split()
)

# torch functions known to return a single tensor (used to know that `x.data` is a tensor's .data)
TORCH_TENSOR_FUNCS = TORCH_FACTORIES | frozenset(
    """cat concat concatenate stack hstack vstack matmul mm bmm addmm einsum sigmoid tanh relu softmax
    log_softmax exp log log1p sqrt rsqrt abs neg sum mean prod std var norm clamp clip where flatten
    reshape squeeze unsqueeze transpose permute t cumsum cumprod diag tril triu outer dot mul add sub div
    pow square sin cos tan erf gather index_select masked_select take bernoulli multinomial sign round floor
    ceil cdist logsumexp amax amin argmax argmin clone detach""".split()
)

# In-place methods that are NOT data mutations (never flagged as in-place updates)
NON_MUTATING_UNDERSCORE_METHODS = frozenset(
    {"requires_grad_", "share_memory_", "retain_grad_", "detach_", "record_stream_", "pin_memory_"}
)


def is_inplace_method(name: str) -> bool:
    return (
        name.endswith("_")
        and not name.endswith("__")
        and not name.startswith("_")
        and name not in NON_MUTATING_UNDERSCORE_METHODS
    )
