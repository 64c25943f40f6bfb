"""Project-wide analysis: what each file exports, how imports connect the files, and what one file's
analysis may learn from the others (see docs/project.md).

Real training code is spread over files: the model in `models.py`, the loop in `train.py`, `evaluate()`,
`sgd()`, `weights_init()` in `utils.py`. Each file alone looks innocent or undecidable. The check runs in
two steps:

1. every file of the project gets a **summary** (`summarize`): its top-level functions (parameters, the
   train/eval mode a call leaves a model in, whether it trains, whether its findings depend on its
   callers), its imports (absolute, relative with their dots, `*` and `__all__`), and the calls it makes
   to functions imported from the project (the grad mode and train/eval mode at the call, the values of
   the arguments as this file's model knows them). A summary is plain JSON, cached by the file's content.
2. `link` resolves every imported call to the function it reaches (through packages, relative imports,
   re-exports in `__init__.py`, `from m import *` with `__all__`, `src/` layouts and scripts importing
   their neighbours) and gives each file its **external facts** (`ExternalFacts`): the calls from other
   files into its functions, and what the imported functions it calls do. A file whose external facts are
   empty keeps its single-file findings; the others are checked again with them, and their cache key
   holds the digest of exactly those facts — editing `utils.py` re-checks `train.py` only when what
   `train.py` learns from it changes.

Resolution is bounded (re-export chains of at most `_MAX_HOPS`, every module visited once per lookup), so
import cycles terminate. Names from outside the project (installed packages) stay unknown.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# (no LibCST and no model here: a warm run links cached summaries and looks up cached findings without them)

if TYPE_CHECKING:

    from gradlint.model import SemanticModel

SUMMARY_VERSION = 3
_MAX_HOPS = 8
# the names of `gradlint.model.values.Kind` and `gradlint.model.facts.Mode` (tests/project checks they agree)
KINDS = frozenset("unknown leaf tensor nonleaf module params named_params groups group modules named_modules "
                  "batches self other".split())
MODES = frozenset("enabled disabled inference unknown inherited".split())

# ------------------------------------------------------------------------------------------------ summaries

def summarize(model: "SemanticModel", tree: Any, source: str | None = None) -> dict[str, Any]:
    """The summary of one file (see the module's docstring), from its model. Line numbers come from
    CPython's tree of the same text (`tree`, already built by the linter's syntax check: an `ast.Module`,
    or the language server's `gradlint.incremental.CheckedStatements`): generating LibCST positions for
    them would cost a third of a parse."""
    from gradlint.model.facts import Mode
    from gradlint.model.names import dotted
    from gradlint.model.project_facts import value_to_json

    def_lines: dict[str, int] = {}
    call_lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
    statements = _statements(tree) if tree is not None else None
    if statements is not None:
        for offset, stmt in statements:
            _top_level_defs((stmt,), def_lines, offset)
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
                for node in ast.walk(stmt):
                    if isinstance(node, ast.Call):
                        text = _ast_dotted(node.func)
                        if text in walk:
                            call_lines.setdefault(text, []).append((node.lineno + offset, node.col_offset + 1))
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
    for f in top_fns:
        params = [p.name.value for p in f.node.params.params]
        effect = model.mode_effect(f)
        # its findings may depend on its callers: values from its parameters, the grad mode it runs in,
        # the train/eval mode of the model it evaluates
        wants = id(f.node) in model.deferred_fns or bool(f.eval_reason) or (
            f.decorator_mode is Mode.INHERITED and id(f) in owns)
        line = def_lines.get(f.name, 0)
        # trains: runs backward (itself, or through helpers of its file or imported ones) — not merely a
        # `.step()` (a decorator `@smp.step()`, a scheduler's or profiler's step), which is too weak a sign
        # to hand to other files
        trains = model.reaches(f, lambda g: g.has_backward or model.calls_training_import(g))
        defs[f.name] = {"line": line, "params": params, "effect": effect, "switch": line,
                        "sets_eval": model.sets_eval(f), "trains": trains, "wants": wants}
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
            "eval_switch": eval_switch, "classes": _classes_of(model, def_lines, statements)}


def _classes_of(model: "SemanticModel", def_lines: dict[str, int],
                statements: list[tuple[int, ast.stmt]] | None = None) -> dict[str, Any]:
    """The file's top-level `nn.Module` classes: whether each computes the same in train and eval mode
    (`gradlint.model.modes`: made only of torch layers without Dropout/BatchNorm-like behaviour), so that
    another file evaluating an instance knows whether a missing `.eval()` changes its results (GL004)."""
    import libcst as cst

    from gradlint.model.modes import MODE_DEPENDENT, ModeFree

    names = [st.name.value for st in model.module.body if type(st) is cst.ClassDef]
    names = [n for n in dict.fromkeys(names) if (info := model.classes.get(n)) is not None and info.is_module]
    if not names:
        return {}
    # a mode-dependent layer spelt outside the classes (`DROP = nn.Dropout(0.1)` handed to a class by name)
    # leaves no class of the file decided free; one inside a class is that class's own (ModeFree reads it)
    free = MODE_DEPENDENT.search(_outside_classes(model.source_text, statements)) is None
    texts = _class_texts(model, statements) if free else {}
    modes = ModeFree(model, texts) if free else None

    def mode_free(name: str) -> bool:
        if modes is None:
            return False
        text = texts.get(name)
        if text is not None and MODE_DEPENDENT.search(text):
            return False  # (decided by its text: no walk of it)
        return modes.class_named(name)

    return {n: {"line": def_lines.get(n, 0), "mode_free": mode_free(n)} for n in names}


def _class_texts(model: "SemanticModel", statements: list[tuple[int, ast.stmt]] | None) -> dict:
    """The source text of each top-level class defined once, by its name and by its LibCST node's id, from
    CPython's line numbers (generating each class's code again would cost as much as the file's parse)."""
    import libcst as cst

    if statements is None:
        return {}
    lines = model.source_text.splitlines(keepends=True)
    spans: dict[str, list[tuple[int, int]]] = {}
    for offset, stmt in statements:
        if isinstance(stmt, ast.ClassDef):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)]) + offset - 1
            spans.setdefault(stmt.name, []).append((first, stmt.end_lineno + offset))
    nodes: dict[str, list] = {}
    for st in model.module.body:
        if type(st) is cst.ClassDef:
            nodes.setdefault(st.name.value, []).append(st)
    out: dict = {}
    for name, found in spans.items():
        if len(found) == 1 and len(nodes.get(name, ())) == 1:
            first, end = found[0]
            out[name] = out[id(nodes[name][0])] = "".join(lines[first:end])
    return out


def _outside_classes(source: str, statements: list[tuple[int, ast.stmt]] | None) -> str:
    """The source without the lines of its top-level class definitions (all of it without CPython's tree)."""
    if statements is None:
        return source
    lines = source.splitlines(keepends=True)
    for offset, stmt in statements:
        if isinstance(stmt, ast.ClassDef):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)]) + offset - 1
            for k in range(first, min(stmt.end_lineno + offset, len(lines))):
                lines[k] = "\n"
    return "".join(lines)


def _statements(tree: Any) -> list[tuple[int, ast.stmt]]:
    """The top-level statements of CPython's tree, each with what to add to its line numbers."""
    found = getattr(tree, "statements", None)  # (gradlint.incremental.CheckedStatements)
    if found is not None:
        return found
    return [(0, stmt) for stmt in tree.body]


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


def _spelled_calls(source: str, text: str, starts: list[int]) -> list[tuple[int, int]] | None:
    """(line, column) of each `text(` in the source, in order — a quick look that the caller checks against
    the number of calls the model recorded. `starts`: the offsets of the lines, filled on first use."""
    import re
    from bisect import bisect_right

    # (the literal first: a pattern that starts with a look-behind is tried at every offset of the text)
    pattern = r"\s*\.\s*".join(map(re.escape, text.split("."))) + r"\s*\("
    hits = [h for h in (m.start() for m in re.finditer(pattern, source))
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
            "calls": [], "eval_switch": False, "classes": {}}


# --- validation: summaries come back from the cache, which is untrusted input

def _is_str(v: Any) -> bool:
    return isinstance(v, str) and len(v) < 1000


def _valid_value(v: Any) -> bool:
    return v is None or (isinstance(v, list) and len(v) == 2 and v[0] in KINDS and isinstance(v[1], str))


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
        classes = data["classes"]
        if not isinstance(classes, dict) or not all(
                _is_str(k) and isinstance(c, dict) and isinstance(c["line"], int) and isinstance(c["mode_free"], bool)
                for k, c in classes.items()):
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


# ------------------------------------------------------------------------------------------------ external facts

# ------------------------------------------------------------------------------------------------ linking

def display_path(path: str, root: Path | None = None) -> str:
    """A path for messages: relative to the working folder when below it, else to the project's root."""
    for base in (None, root):
        try:
            rel = os.path.relpath(path, base) if base is not None else os.path.relpath(path)
        except ValueError:
            continue
        if not rel.startswith(".."):
            return rel
    return path


class Project:
    """The files of a project and their summaries; `link()` resolves imported calls across them."""

    def __init__(self, root: Path, files: list[str], summaries: dict[str, dict[str, Any]]) -> None:
        self.root = Path(os.path.abspath(root))
        self.summaries = dict(summaries)
        self.missing: set[str] = set()  # files a resolution needed whose summary is not there (yet)
        self._abs: dict[str, str] = {p: os.path.abspath(p) for p in dict.fromkeys([*files, *summaries])}
        self._by_abs: dict[str, str] = {a: p for p, a in self._abs.items()}
        # every dotted suffix of every file's module path -> the files (a script's `import utils` finds
        # its neighbour; `import pkg.utils` finds root/pkg/utils.py or root/src/pkg/utils.py)
        self._suffixes: dict[str, list[str]] = defaultdict(list)
        for p, a in self._abs.items():
            parts = _module_parts(a, str(self.root))
            for i in range(len(parts)):
                self._suffixes[".".join(parts[i:])].append(p)

    # --- modules

    def _module(self, dotted_name: str, importer: str) -> str | None:
        """The project file that `import dotted_name` in `importer` loads, if there is exactly one best."""
        cands = self._suffixes.get(dotted_name)
        if not cands:
            return None
        # (even a single candidate must be importable from there: a script in another tutorial's folder that
        # imports `utils` does not reach this folder's utils.py)
        depth = dotted_name.count(".") + 1
        here = os.path.dirname(self._abs[importer])
        best: list[tuple[int, str]] = []
        for c in cands:
            a = self._abs[c]
            entry = a
            for _ in range(depth if not a.endswith("__init__.py") else depth + 1):
                entry = os.path.dirname(entry)
            if entry == here or here.startswith(entry + os.sep):  # the script's folder, or a package above it
                best.append((len(entry), c))
        if not best:
            roots = {str(self.root), os.path.join(str(self.root), "src")}
            best = [(0, c) for c in cands if _entry_of(self._abs[c], depth) in roots]
        if not best:
            return None
        best.sort(reverse=True)
        if len(best) > 1 and best[0][0] == best[1][0]:
            return None  # two equally near candidates: do not guess
        return best[0][1]

    def _relative_base(self, importer: str, dots: int) -> str:
        base = os.path.dirname(self._abs[importer])
        for _ in range(dots - 1):
            base = os.path.dirname(base)
        return base

    def _file_at(self, folder: str, parts: list[str]) -> str | None:
        path = os.path.join(folder, *parts)
        for cand in (path + ".py", os.path.join(path, "__init__.py")):
            found = self._by_abs.get(cand)
            if found is not None:
                return found
        return None

    # --- names

    def resolve(self, target: str, importer: str, hops: int = 0,
                seen: set[tuple[str, str]] | None = None) -> tuple[str, str] | None:
        """The (file, function name) an imported origin reaches, or None."""
        if hops > _MAX_HOPS:
            return None
        seen = seen if seen is not None else set()
        if target.startswith("."):
            dots = len(target) - len(target.lstrip("."))
            parts = [p for p in target[dots:].split(".") if p]
            base = self._relative_base(importer, dots)
            for k in range(len(parts) - 1, -1, -1):
                mod = self._file_at(base, parts[:k]) if k else self._by_abs.get(os.path.join(base, "__init__.py"))
                if mod is not None:
                    return self._name_in(mod, parts[k:], hops, seen)
            return None
        parts = target.split(".")
        for k in range(len(parts) - 1, 0, -1):
            mod = self._module(".".join(parts[:k]), importer)
            if mod is not None:
                return self._name_in(mod, parts[k:], hops, seen)
        return None

    def _name_in(self, mod: str, rest: list[str], hops: int, seen: set[tuple[str, str]]) -> tuple[str, str] | None:
        if not rest:
            return None
        key = (mod, ".".join(rest))
        if key in seen:
            return None  # an import cycle
        seen.add(key)
        s = self.summaries.get(mod)
        if s is None:
            self.missing.add(mod)
            return None
        name = rest[0]
        if len(rest) == 1 and (name in s["defs"] or name in s["classes"]):
            return mod, name
        origin = s["imports"]["names"].get(name)
        if origin is not None:
            tail = ".".join(rest[1:])
            return self.resolve(f"{origin}.{tail}" if tail else origin, mod, hops + 1, seen)
        if len(rest) == 1:
            for star in s["imports"]["stars"]:
                found = self._star(star, mod, name, hops, seen)
                if found is not None:
                    return found
        return None

    def _star(self, star: str, mod: str, name: str, hops: int, seen) -> tuple[str, str] | None:
        if star.startswith("."):
            dots = len(star) - len(star.lstrip("."))
            src = self._file_at(self._relative_base(mod, dots), [p for p in star[dots:].split(".") if p])
        else:
            src = self._module(star, mod)
        if src is None:
            return None
        exported = self.summaries.get(src, {}).get("imports", {}).get("all")
        if exported is not None and name not in exported:
            return None
        if exported is None and name.startswith("_"):
            return None
        return self._name_in(src, [name], hops + 1, seen)

    # --- which files a check needs

    def add(self, path: str, summary: dict[str, Any]) -> None:
        self.summaries[path] = summary

    def needed(self) -> set[str]:
        """The files whose summaries the resolution of the known calls would read but are not there yet
        (the modules a call's import goes through: packages, re-export hubs, the defining file)."""
        self.missing = set()
        for caller, s in list(self.summaries.items()):
            for c in s["calls"]:
                self.resolve(c["t"], caller)
        return self.missing

    def complete(self, callers: list[str], load: "Callable[[list[str]], list[dict[str, Any] | None]]",
                 readable: set[str] | None = None) -> None:
        """Read the summaries the known calls need, to a fixed point: `callers` (files that may call the
        known functions) first, then the modules the calls go through (packages, re-export hubs, the files
        defining the imported functions). `load(paths)` gives their summaries (None: none); each file is
        asked for once; only `readable` files are (all, without it)."""
        asked: set[str] = set()
        want = set(callers)
        for _ in range(16):
            want = {p for p in want | self.needed()
                    if p not in self.summaries and p not in asked and (readable is None or p in readable)}
            if not want:
                return
            order = sorted(want)
            asked.update(order)
            for p, summary in zip(order, load(order)):
                if summary is not None:
                    self.add(p, summary)
            want = set()

    # --- facts

    def link(self) -> dict[str, dict[str, Any]]:
        """Every file's external facts, as JSON (`gradlint.model.project_facts.ExternalFacts`); files that
        learn nothing are left out."""
        incoming: dict[str, dict[str, list]] = defaultdict(dict)
        callees: dict[str, dict[str, list]] = defaultdict(dict)
        for caller, s in self.summaries.items():
            shown = display_path(caller, self.root)
            for c in s["calls"]:
                found = self.resolve(c["t"], caller)
                if found is None:
                    continue
                file, name = found
                if file == caller:
                    continue
                cls = self.summaries[file]["classes"].get(name)
                if cls is not None and name not in self.summaries[file]["defs"]:
                    # an instance of a model class of another file: is it free of train/eval behaviour?
                    callees[caller][c["t"]] = [display_path(file, self.root), cls["line"], name, None, 0, False,
                                               False, cls["mode_free"]]
                    continue
                d = self.summaries[file]["defs"][name]
                if d["wants"] and (not d.get("unparsed") or any(
                        v is not None for v in (*(c["args"] or ()), *(c["kwargs"] or {}).values()))):
                    incoming[file].setdefault(name, []).append(
                        [shown, c["line"], c["col"], c["mode"], c["eval"], c["args"], c["kwargs"], c["via"], c["in"],
                         c.get("cell")])
                if d["effect"] is not None or d["trains"]:
                    callees[caller][c["t"]] = [display_path(file, self.root), d["line"], name, d["effect"],
                                               d["switch"], d["sets_eval"], d["trains"]]
        # What a helper does to the train/eval mode, or that it trains, matters to a file only where a model
        # may be put in eval mode: by the file itself, or by a helper it imports. Elsewhere the facts would
        # change nothing but the cache key (and cost a second check).
        for caller, found in list(callees.items()):
            if self.summaries[caller].get("eval_switch") or any(c[3] is True for c in found.values()):
                continue
            kept = {t: c for t, c in found.items() if len(c) > 7}  # (model classes: GL004's tier wherever)
            if kept:
                callees[caller] = kept
            else:
                del callees[caller]
        out: dict[str, dict[str, Any]] = {}
        for path in set(incoming) | set(callees):
            out[path] = {"incoming": dict(sorted(incoming.get(path, {}).items())),
                         "callees": dict(sorted(callees.get(path, {}).items()))}
        return out


def mentioning(paths: list[str], names: set[str]) -> list[str]:
    """The files among `paths` whose text spells one of `names` (as a word) and imports something: the
    files that may call functions of that name from another file."""
    if not names:
        return []
    import re

    pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b")
    out = []
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                text = fh.read(2_000_000)
        except OSError:
            continue
        if "import" in text and pattern.search(text):
            out.append(p)
    return out


def facts_digest(facts: dict[str, Any] | None) -> str:
    """Of exactly what a file's analysis is given by the project ("" when nothing)."""
    if not facts:
        return ""
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _module_parts(abs_path: str, root: str) -> list[str]:
    """The dotted parts of a file's module path below the project root (an `__init__.py` is its folder)."""
    rel = os.path.relpath(abs_path, root)
    if rel.startswith(".."):
        rel = abs_path.lstrip(os.sep)
    parts = rel.replace(os.sep, "/").split("/")
    last = parts[-1]
    if last.endswith(".py"):
        parts[-1] = last[:-3]
    if parts[-1] == "__init__":
        parts.pop()
    return [p for p in parts if p]


def _entry_of(abs_path: str, depth: int) -> str:
    entry = abs_path
    for _ in range(depth + (1 if abs_path.endswith("__init__.py") else 0)):
        entry = os.path.dirname(entry)
    return entry


_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def project_root(paths: list[str], config_root: Path | None) -> Path:
    """The project a check belongs to: the root of the gradlint configuration that applies, when every
    path is below it; else the nearest folder at or above the paths' common folder with a project marker
    (pyproject.toml, setup.py, setup.cfg, .git); else that common folder."""
    absolute = [os.path.abspath(p) for p in paths] or [os.getcwd()]
    folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    common = os.path.commonpath(folders)
    if config_root is not None:
        root = str(config_root)
        if all(f == root or f.startswith(root + os.sep) for f in folders):
            return Path(root)
    d = common
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in _MARKERS):
            return Path(d)
        parent = os.path.dirname(d)
        if parent == d:
            return Path(common)
        d = parent
