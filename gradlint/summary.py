"""A file's project summary (see gradlint/project.py and docs/project.md): what one file exports to the
rest of its project and what it asks of it, as plain JSON built from its semantic model (`summarize`) or,
for a file no rule can fire in, from CPython's `ast` (`summarize_text`); and its validation when it comes
back from the cache (`valid_summary`).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from typing import TYPE_CHECKING, Any

# (no LibCST and no model at import time: a warm run validates cached summaries without them)

if TYPE_CHECKING:

    from gradlint.model import SemanticModel

SUMMARY_VERSION = 5

# the names of `gradlint.model.values.Kind` and `gradlint.model.facts.Mode` (tests/project checks they agree)
KINDS = frozenset("unknown leaf tensor nonleaf module params named_params groups group modules named_modules "
                  "batches self other".split())
MODES = frozenset("enabled disabled inference unknown inherited".split())

# ------------------------------------------------------------------------------------------------ summaries

def summarize(model: "SemanticModel", tree: Any, source: str | None = None) -> dict[str, Any]:
    """The summary of one file (see `gradlint.project`'s docstring), from its model. Line numbers come from
    CPython's tree of the same text (`tree`, already built by the linter's syntax check: an `ast.Module`, or
    the language server's `gradlint.incremental.CheckedStatements`): generating LibCST positions for them
    would cost a third of a parse."""
    from gradlint.model.facts import Mode
    from gradlint.model.names import dotted
    from gradlint.model.project_facts import value_to_json

    def_lines: dict[str, int] = {}
    call_lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
    statements = _statements(tree) if tree is not None else None
    if statements is not None:
        for offset, stmt in statements:
            _top_level_defs((stmt,), def_lines, offset)
            _method_defs((stmt,), def_lines, offset)
        counts: dict[str, int] = defaultdict(int)
        for c in model.imported_calls:
            text = dotted(c.node.func)
            if text is not None:
                counts[text] += 1
        walk = set()
        starts: list[int] = []
        for text, n in counts.items():
            found = _spelled_calls(source, text, starts) if source is not None else None
            if found is not None and len(found) == n:
                call_lines[text] = found
            else:
                walk.add(text)
        if walk:  # (a spelling in a string or comment, or a call split over lines: CPython's tree tells)
            for offset, stmt in statements:
                _walk_calls(stmt, walk, call_lines, offset)
            for text in walk:
                call_lines.get(text, []).sort()
    # the n-th recorded call of a text is the n-th call of that text in the source (both in source order);
    # where the counts differ (a call the walk did not record), the calls of that text get no line
    position: dict[int, tuple[int, int]] = {}
    by_text: dict[str, list] = defaultdict(list)
    for c in model.imported_calls:
        by_text[dotted(c.node.func) or ""].append(c)
    for text, group in by_text.items():
        lines = call_lines.get(text, [])
        if len(lines) == len(group):
            for c, where in zip(sorted(group, key=lambda c: c.seq), lines):
                position[id(c)] = where

    imports = model.imports
    top_fns = [f for f in model.functions if f.parent is None and f.class_info is None]
    # functions whose findings depend on the grad mode they run in: an in-place op on a leaf (GL001), a
    # rebinding of a leaf (GL002), a `.data` use (GL003); evaluation code (GL004/GL005) by its reason
    from gradlint.model.values import Kind

    owns: set[int] = {id(x.function) for x in model.data_accesses}
    owns.update(id(x.function) for x in (*model.inplace_ops, *model.rebinds) if x.value.kind is Kind.LEAF)
    defs: dict[str, Any] = {}
    top_classes = _top_class_names(model)
    methods = [f for f in model.functions if f.parent is None and f.class_info is not None
               and f.class_info.name in top_classes and model.classes.get(f.class_info.name) is f.class_info
               and (f.name == "__init__" or not f.name.startswith("__"))]
    for f in (*top_fns, *methods):
        key = f.name if f.class_info is None else f"{f.class_info.name}.{f.name}"
        params = [p.name.value for p in f.node.params.params]
        effect = model.mode_effect(f)
        # its findings may depend on its callers: values from its parameters, the grad mode it runs in,
        # the train/eval mode of the model it evaluates
        wants = id(f.node) in model.deferred_fns or bool(f.eval_reason) or (
            f.decorator_mode is Mode.INHERITED and id(f) in owns)
        # trains: runs backward (itself, or through helpers of its file or imported ones) — not merely a
        # `.step()` (a decorator `@smp.step()`, a scheduler's or profiler's step), which is too weak a sign
        # to hand to other files
        trains = model.reaches(f, lambda g: g.has_backward or model.calls_training_import(g))
        sets_eval = model.sets_eval(f)
        if f.class_info is not None and not (wants or effect is not None or trains or sets_eval):
            continue  # (a method is exported only when a call of it tells or learns something)
        line = def_lines.get(key, 0)
        defs[key] = {"line": line, "params": params, "effect": effect, "switch": line,
                     "sets_eval": sets_eval, "trains": trains, "wants": wants}
    out_calls = []
    for c in model.imported_calls:
        fn = c.function
        while fn is not None and fn.parent is not None:
            fn = fn.parent
        mode = model.effective_mode(c.mode, c.function)
        args = None if c.args is None else [value_to_json(model.calls.resolve(a)) for a in c.args]
        kwargs = None if c.kwargs is None else {k: value_to_json(model.calls.resolve(v)) for k, v in c.kwargs.items()}
        line, col = position.get(id(c), (0, 0))
        out_calls.append({
            "t": c.target, "name": c.name, "line": line, "col": col, "mode": mode.value,
            "eval": model.eval_mode_at(c.function, c.seq), "args": args, "kwargs": kwargs, "via": c.via,
            "in": fn.name if fn is not None else None,
        })
    # the file switches a model to eval mode itself: what imported helpers do to the mode matters here
    eval_switch = any(sw.kind != "train" for sw in model.switches)
    return {"v": SUMMARY_VERSION, "defs": defs, "imports": _imports_of(imports, statements), "calls": out_calls,
            "eval_switch": eval_switch, "classes": _classes_of(model, def_lines, top_classes, statements),
            "values": _values_of(model), "reads": _reads_of(model),
            # (what the walk asked of other files' classes; the linter adds what its rules ask)
            "asks": model.class_asks()}


def _top_class_names(model: SemanticModel) -> list[str]:
    import libcst as cst

    names = [st.name.value for st in model.module.body if type(st) is cst.ClassDef]
    return [n for n in dict.fromkeys(names) if model.classes.get(n) is not None]


def _classes_of(model: SemanticModel, def_lines: dict[str, int], names: list[str],
                statements: list[tuple[int, ast.stmt]] | None = None) -> dict[str, Any]:
    """The file's top-level classes: whether each is an `nn.Module` and computes the same in train and eval
    mode (`gradlint.model.modes`: made only of torch layers without Dropout/BatchNorm-like behaviour), so that
    another file evaluating an instance knows whether a missing `.eval()` changes its results (GL004); what
    `self.X` holds (`gradlint.model.imported.class_attrs`); its method names."""
    from gradlint.model.imported import MAX_EXPORTED, class_attrs
    from gradlint.model.modes import MODE_DEPENDENT, ModeFree
    from gradlint.model.project_facts import export_value

    if not names:
        return {}
    # a mode-dependent layer spelt outside the classes (`DROP = nn.Dropout(0.1)` handed to a class by name)
    # leaves no class of the file decided free; one inside a class is that class's own (ModeFree reads it)
    lines = model.source_text.splitlines(keepends=True)
    spans = _class_spans(statements) if statements is not None else None
    free = MODE_DEPENDENT.search(_outside_classes(lines, spans)) is None
    texts = _class_texts(model, lines, spans) if free and spans is not None else {}
    modes = ModeFree(model, texts) if free else None

    def mode_free(name: str) -> bool:
        if modes is None:
            return False
        text = texts.get(name)
        if text is not None and MODE_DEPENDENT.search(text):
            return False  # (decided by its text: no walk of it)
        return modes.class_named(name)

    out = {}
    for n in names:
        info = model.classes[n]
        attrs = {a: j for a, v in class_attrs(info).items() if (j := export_value(v)) is not None}
        out[n] = {"line": def_lines.get(n, 0), "module": info.is_module,
                  "mode_free": bool(info.is_module and mode_free(n)),
                  "attrs": attrs, "methods": sorted(info.method_names)[:MAX_EXPORTED]}
    return out


def _values_of(model: SemanticModel) -> dict[str, Any]:
    """What the file's top-level names hold at its end (`gradlint.model.imported.module_values`)."""
    from gradlint.model.imported import module_values
    from gradlint.model.project_facts import export_value

    return {n: j for n, v in module_values(model).items() if (j := export_value(v)) is not None}


def _reads_of(model: SemanticModel) -> list[str]:
    """The imported names the file reads as values (`from utils import model` ... `model.eval()`), when they
    may come from the project."""
    from gradlint.model.imported import MAX_EXPORTED
    from gradlint.model.project_facts import EXTERNAL_TOPS

    reads = model._builder.import_reads
    if not reads:
        return []
    origins = model.imports.aliases
    out = [n for n in sorted(reads)
           if n in model.imports.relative_origin or (n in origins and origins[n].partition(".")[0] not in EXTERNAL_TOPS)]
    return out[:MAX_EXPORTED]


def _statements(tree: Any) -> list[tuple[int, ast.stmt]]:
    """The top-level statements of CPython's tree, each with what to add to its line numbers."""
    found = getattr(tree, "statements", None)  # (gradlint.incremental.CheckedStatements)
    if found is not None:
        return found
    return [(0, stmt) for stmt in tree.body]


def _class_spans(statements: list[tuple[int, ast.stmt]]) -> list[tuple[str, int, int]]:
    """(name, first line, end line) of each top-level class definition, 0-based, end exclusive, its
    decorators included."""
    out = []
    for offset, stmt in statements:
        if isinstance(stmt, ast.ClassDef):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)]) + offset - 1
            out.append((stmt.name, first, stmt.end_lineno + offset))
    return out


def _outside_classes(lines: list[str], spans: list[tuple[str, int, int]] | None) -> str:
    """The source without the lines of its top-level class definitions (all of it without CPython's tree)."""
    if spans is None:
        return "".join(lines)
    kept = list(lines)
    for _, first, end in spans:
        for k in range(first, min(end, len(kept))):
            kept[k] = "\n"
    return "".join(kept)


def _class_texts(model: SemanticModel, lines: list[str], spans: list[tuple[str, int, int]]) -> dict:
    """The source text of each top-level class defined once, by its name and by its LibCST node's id, from
    CPython's line numbers (generating each class's code again would cost as much as the file's parse)."""
    import libcst as cst

    found: dict[str, list[tuple[int, int]]] = {}
    for name, first, end in spans:
        found.setdefault(name, []).append((first, end))
    nodes: dict[str, list] = {}
    for st in model.module.body:
        if type(st) is cst.ClassDef:
            nodes.setdefault(st.name.value, []).append(st)
    out: dict = {}
    for name, where in found.items():
        if len(where) == 1 and len(nodes.get(name, ())) == 1:
            first, end = where[0]
            out[name] = out[id(nodes[name][0])] = "".join(lines[first:end])
    return out


def _top_level_defs(body, out: dict[str, int], offset: int = 0) -> None:
    """Functions defined at the module level, also inside `if`/`try`/`with` blocks (`if is_available():
    def f(): ...`) — not inside functions or classes. `offset`: added to the line numbers."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.setdefault(node.name, node.lineno + offset)
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.AsyncWith)):
            _top_level_defs(node.body, out, offset)
            _top_level_defs(getattr(node, "orelse", []), out, offset)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for part in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                _top_level_defs(part, out, offset)


def _method_defs(body, out: dict[str, int], offset: int = 0) -> None:
    """`Cls.method` -> line, for the methods of top-level classes."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            for st in node.body:
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.setdefault(f"{node.name}.{st.name}", st.lineno + offset)
            out.setdefault(node.name, node.lineno + offset)


# the compiled pattern of each call text seen (the same few hundred texts recur from file to file; `re`'s
# own cache of 512 patterns, shared with everything else, kept a third of them: compiling was half the cost)
_CALL_PATTERNS: dict[str, Any] = {}


def _spelled_calls(source: str, text: str, starts: list[int]) -> list[tuple[int, int]] | None:
    """(line, column) of each `text(` in the source, in order — a quick look that the caller checks against
    the number of calls the model recorded. `starts`: the offsets of the lines, filled on first use."""
    import re
    from bisect import bisect_right

    # (the literal first: a pattern that starts with a look-behind is tried at every offset of the text)
    pattern = _CALL_PATTERNS.get(text)
    if pattern is None:
        if len(_CALL_PATTERNS) > 4096:
            _CALL_PATTERNS.clear()
        pattern = _CALL_PATTERNS[text] = re.compile(r"\s*\.\s*".join(map(re.escape, text.split("."))) + r"\s*\(")
    hits = [h for h in (m.start() for m in pattern.finditer(source))
            if h == 0 or not (source[h - 1].isalnum() or source[h - 1] in "_.")]
    if not hits:
        return []
    if not starts:
        starts += [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", source)]
    out = []
    for h in hits:
        i = bisect_right(starts, h) - 1
        out.append((i + 1, h - starts[i] + 1))
    return out


def _walk_calls(root: ast.AST, texts: set[str], out: dict[str, list[tuple[int, int]]], offset: int) -> None:
    """Add to `out` the (line, column) of each call below `root` whose callee spells one of `texts` (in no
    particular order). (`ast.walk`'s generators took twice as long: this runs over whole files.)"""
    AST, Call, Attribute, Name = ast.AST, ast.Call, ast.Attribute, ast.Name
    lasts = {t.rpartition(".")[2] for t in texts}
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if type(node) is Call:
            func = node.func
            last = func.attr if type(func) is Attribute else func.id if type(func) is Name else None
            if last in lasts:
                text = _ast_dotted(func)
                if text in texts:
                    out.setdefault(text, []).append((node.lineno + offset, node.col_offset + 1))
        for name in node._fields:
            child = getattr(node, name, None)
            if type(child) is list:
                for item in child:
                    if isinstance(item, AST):
                        push(item)
            elif isinstance(child, AST):
                push(child)


def _ast_dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _imports_of(imports, statements: list[tuple[int, ast.stmt]] | None) -> dict[str, Any]:
    names = dict(imports.aliases)
    names.update(imports.relative_origin)
    return {"names": names, "stars": list(imports.stars),
            "all": _dunder_all(statements) if statements is not None else None}


def _dunder_all(statements: list[tuple[int, ast.stmt]]) -> list[str] | None:
    found = None
    for _, node in statements:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id == "__all__" and isinstance(node.value, (ast.List, ast.Tuple)):
            found = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


def summarize_text(source: str) -> dict[str, Any] | None:
    """A summary from CPython's `ast`, for a file no rule can fire in (the linter never parses it with
    LibCST): its imports and `__all__` (a re-export hub such as an `__init__.py`), and its top-level
    functions, whose findings may still depend on what other files pass them. None if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    names: dict[str, str] = {}
    stars: list[str] = []
    defs: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".", 1)[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            for a in node.names:
                if a.name == "*":
                    if node.module:
                        stars.append(base)
                    continue
                origin = f"{base}.{a.name}" if node.module else f"{base}{a.name}"
                names[a.asname or a.name] = origin
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[node.name] = {"line": node.lineno, "params": [a.arg for a in node.args.posonlyargs + node.args.args],
                               "effect": None, "switch": 0, "sets_eval": False, "trains": False, "wants": True,
                               "unparsed": True}
    all_names = _dunder_all(_statements(tree))
    return {"v": SUMMARY_VERSION, "defs": defs, "imports": {"names": names, "stars": stars, "all": all_names},
            "calls": [], "eval_switch": False, "classes": {}, "values": _instances_of(tree, names), "reads": []}


def _instances_of(tree: ast.Module, names: dict[str, str]) -> dict[str, Any]:
    """`model = Net(4)` at the top level of a file read with `ast` only, `Net` imported: an instance of that
    class (its kind is the class's, which the project tells)."""
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:  # (the last assignment at the top level decides)
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out.pop(n.id, None)
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)):
            continue
        func = _ast_dotted(node.value.func)
        if func is None:
            continue
        head, _, rest = func.partition(".")
        last = func.rpartition(".")[2]
        if head in names and last[:1].isupper():
            out[node.targets[0].id] = ["unknown", f"a `{last}`", f"{names[head]}.{rest}" if rest else names[head]]
    return out


# --- validation: summaries come back from the cache, which is untrusted input

def _is_str(v: Any) -> bool:
    return isinstance(v, str) and len(v) < 1000


def _valid_value(v: Any) -> bool:
    return v is None or (isinstance(v, list) and len(v) == 2 and v[0] in KINDS and isinstance(v[1], str))


def _valid_export(v: Any) -> bool:
    """[kind, origin, class or None] (`gradlint.model.project_facts.export_value`)."""
    return (isinstance(v, list) and len(v) == 3 and v[0] in KINDS and _is_str(v[1])
            and (v[2] is None or _is_str(v[2])))


def valid_summary(data: Any) -> bool:
    try:
        if not isinstance(data, dict) or data.get("v") != SUMMARY_VERSION:
            return False
        defs, imports, calls = data["defs"], data["imports"], data["calls"]
        if not isinstance(defs, dict) or not isinstance(imports, dict) or not isinstance(calls, list) \
                or not isinstance(data["eval_switch"], bool):
            return False
        for name, d in defs.items():
            if not (_is_str(name) and isinstance(d, dict) and isinstance(d["line"], int)
                    and isinstance(d["params"], list) and all(_is_str(p) for p in d["params"])
                    and d["effect"] in (None, True, False) and isinstance(d["switch"], int)
                    and isinstance(d["sets_eval"], bool) and isinstance(d["trains"], bool)
                    and isinstance(d["wants"], bool)):
                return False
        classes, values, reads = data["classes"], data["values"], data["reads"]
        if not isinstance(classes, dict) or not all(
                _is_str(k) and isinstance(c, dict) and isinstance(c["line"], int) and isinstance(c["mode_free"], bool)
                and isinstance(c["module"], bool) and isinstance(c["attrs"], dict)
                and all(_is_str(a) and _valid_export(v) for a, v in c["attrs"].items())
                and isinstance(c["methods"], list) and all(_is_str(m) for m in c["methods"])
                for k, c in classes.items()):
            return False
        if not (isinstance(values, dict) and all(_is_str(k) and _valid_export(v) for k, v in values.items())
                and isinstance(reads, list) and all(_is_str(r) for r in reads)):
            return False
        asks = data.get("asks")  # (absent: a summary from CPython's tree, or of a file not reported on)
        if asks is not None and not (isinstance(asks, dict) and all(
                _is_str(c) and (a is None or (isinstance(a, list) and all(_is_str(x) for x in a)))
                for c, a in asks.items())):
            return False
        names, stars, all_names = imports["names"], imports["stars"], imports["all"]
        if not (isinstance(names, dict) and all(_is_str(k) and _is_str(v) for k, v in names.items())
                and isinstance(stars, list) and all(_is_str(s) for s in stars)
                and (all_names is None or (isinstance(all_names, list) and all(_is_str(s) for s in all_names)))):
            return False
        for c in calls:
            if not (isinstance(c, dict) and _is_str(c["t"]) and _is_str(c["name"]) and isinstance(c["line"], int)
                    and isinstance(c["col"], int) and c["mode"] in MODES and c["eval"] in (None, True, False)
                    and (c["args"] is None or (isinstance(c["args"], list) and all(map(_valid_value, c["args"]))))
                    and (c["kwargs"] is None or (isinstance(c["kwargs"], dict) and all(
                        _is_str(k) and _valid_value(v) for k, v in c["kwargs"].items())))
                    and c["via"] in ("", "apply") and (c["in"] is None or _is_str(c["in"]))
                    and (c.get("cell") is None or isinstance(c["cell"], int))):
                return False
    except (KeyError, TypeError, AttributeError):
        return False
    return True
