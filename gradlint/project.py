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

SUMMARY_VERSION = 4
_MAX_HOPS = 8
_MAX_CLASS_DEPTH = 3  # classes held by attributes of classes ... followed at most this deep
_MAX_CLASSES = 32  # other files' classes in one file's facts at most
# the names of `gradlint.model.values.Kind` and `gradlint.model.facts.Mode` (tests/project checks they agree)
KINDS = frozenset("unknown leaf tensor nonleaf module params named_params groups group modules named_modules "
                  "batches self other".split())
MODES = frozenset("enabled disabled inference unknown inherited".split())

# ------------------------------------------------------------------------------------------------ summaries

def summarize(model: "SemanticModel", tree: ast.Module | None, source: str | None = None) -> dict[str, Any]:
    """The summary of one file (see the module's docstring), from its model. Line numbers come from
    CPython's tree of the same text (`tree`, already built by the linter's syntax check): generating
    LibCST positions for them would cost a third of a parse."""
    from gradlint.model.facts import Mode
    from gradlint.model.names import dotted
    from gradlint.model.project_facts import value_to_json

    def_lines: dict[str, int] = {}
    call_lines: dict[str, list[tuple[int, int]]] = defaultdict(list)
    if tree is not None:
        _top_level_defs(tree.body, def_lines)
        _method_defs(tree.body, def_lines)
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
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    text = _ast_dotted(node.func)
                    if text in walk:
                        call_lines.setdefault(text, []).append((node.lineno, node.col_offset + 1))
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
    return {"v": SUMMARY_VERSION, "defs": defs, "imports": _imports_of(imports, tree), "calls": out_calls,
            "eval_switch": eval_switch, "classes": _classes_of(model, def_lines, top_classes),
            "values": _values_of(model), "reads": _reads_of(model)}


def _top_class_names(model: SemanticModel) -> list[str]:
    import libcst as cst

    names = [st.name.value for st in model.module.body if type(st) is cst.ClassDef]
    return [n for n in dict.fromkeys(names) if model.classes.get(n) is not None]


def _classes_of(model: SemanticModel, def_lines: dict[str, int], names: list[str]) -> dict[str, Any]:
    """The file's top-level classes: whether each is an `nn.Module` and computes the same in train and eval
    mode (`gradlint.model.modes`: made only of torch layers without Dropout/BatchNorm-like behaviour), so that
    another file evaluating an instance knows whether a missing `.eval()` changes its results (GL004); what
    `self.X` holds (`gradlint.model.imported.class_attrs`); its method names."""
    from gradlint.model.imported import MAX_EXPORTED, class_attrs
    from gradlint.model.modes import MODE_DEPENDENT, ModeFree
    from gradlint.model.project_facts import export_value

    if not names:
        return {}
    free = MODE_DEPENDENT.search(model.source_text) is None  # (else no class of the file is decided free)
    modes = ModeFree(model) if free else None
    out = {}
    for n in names:
        info = model.classes[n]
        attrs = {a: j for a, v in class_attrs(info).items() if (j := export_value(v)) is not None}
        out[n] = {"line": def_lines.get(n, 0), "module": info.is_module,
                  "mode_free": bool(info.is_module and modes is not None and modes.class_named(n)),
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


def _top_level_defs(body: list, out: dict[str, int]) -> None:
    """Functions defined at the module level, also inside `if`/`try`/`with` blocks (`if is_available():
    def f(): ...`) — not inside functions or classes."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.setdefault(node.name, node.lineno)
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.AsyncWith)):
            _top_level_defs(node.body, out)
            _top_level_defs(getattr(node, "orelse", []), out)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for part in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                _top_level_defs(part, out)


def _method_defs(body: list, out: dict[str, int]) -> None:
    """`Cls.method` -> line, for the methods of top-level classes."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            for st in node.body:
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.setdefault(f"{node.name}.{st.name}", st.lineno)
            out.setdefault(node.name, node.lineno)


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


def _imports_of(imports, tree: ast.Module | None) -> dict[str, Any]:
    names = dict(imports.aliases)
    names.update(imports.relative_origin)
    return {"names": names, "stars": list(imports.stars), "all": _dunder_all(tree) if tree is not None else None}


def _dunder_all(tree: ast.Module) -> list[str] | None:
    found = None
    for node in tree.body:
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
    all_names = _dunder_all(tree)
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
        if len(rest) == 1 and (name in s["defs"] or name in s["classes"] or name in s["values"]):
            return mod, name
        if len(rest) == 2 and (name in s["classes"] or name in s["values"]):
            # a method: of a class of the file (`engine.Trainer.evaluate`), or of the class of an instance the
            # file holds (`utils.trainer.evaluate` after `trainer = Trainer()` in utils.py)
            ref = (mod, name) if name in s["classes"] else self.class_ref(mod, s["values"][name][2], hops + 1, seen)
            if ref is None:
                return None
            method = f"{ref[1]}.{rest[1]}"
            return (ref[0], method) if method in self.summaries[ref[0]]["defs"] else None
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

    def class_ref(self, file: str, cls: str | None, hops: int = 0,
                  seen: set[tuple[str, str]] | None = None) -> tuple[str, str] | None:
        """The (file, class) that an instance's class in `file`'s summary names: a class of the file by its
        name, or an import origin resolved from there."""
        if cls is None:
            return None
        if cls in self.summaries[file]["classes"]:
            return file, cls
        found = self.resolve(cls, file, hops, seen)
        if found is not None and found[1] in self.summaries[found[0]]["classes"]:
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
            names = s["imports"]["names"]
            for r in s["reads"]:
                if r in names:
                    self.resolve(names[r], caller)
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
        values: dict[str, dict[str, list]] = defaultdict(dict)
        classes: dict[str, dict[str, dict]] = defaultdict(dict)
        for caller, s in self.summaries.items():
            shown = display_path(caller, self.root)
            for c in s["calls"]:
                found = self.resolve(c["t"], caller)
                if found is None:
                    continue
                file, name = found
                if file == caller:
                    continue
                site = [shown, c["line"], c["col"], c["mode"], c["eval"], c["args"], c["kwargs"], c["via"], c["in"],
                        c.get("cell")]
                cls = self.summaries[file]["classes"].get(name)
                if cls is not None and name not in self.summaries[file]["defs"]:
                    if cls["module"]:
                        # an instance of a model class of another file: is it free of train/eval behaviour?
                        callees[caller][c["t"]] = [display_path(file, self.root), cls["line"], name, None, 0, False,
                                                   False, cls["mode_free"]]
                    # what its instances hold (`t = Trainer(); t.w`), for the caller's values
                    self._class_fact(file, name, classes[caller], c["t"])
                    init = self.summaries[file]["defs"].get(f"{name}.__init__")
                    if init is not None and init["wants"]:
                        incoming[file].setdefault(f"{name}.__init__", []).append(site + [True])
                    continue
                d = self.summaries[file]["defs"].get(name)
                if d is None:
                    continue  # (a call of an object another file holds: `model(x)` after `from utils import model`)
                if d["wants"] and (not d.get("unparsed") or any(
                        v is not None for v in (*(c["args"] or ()), *(c["kwargs"] or {}).values()))):
                    # (a method's arguments start after `self`)
                    incoming[file].setdefault(name, []).append(site + [True] if "." in name else site)
                if d["effect"] is not None or d["trains"]:
                    callees[caller][c["t"]] = [display_path(file, self.root), d["line"], name, d["effect"],
                                               d["switch"], d["sets_eval"], d["trains"]]
            # the imported names it reads: what they hold at the end of their module
            names = s["imports"]["names"]
            for r in s["reads"]:
                origin = names.get(r)
                found = self.resolve(origin, caller) if origin is not None else None
                if found is None or found[0] == caller:
                    continue
                file, name = found
                v = self.summaries[file]["values"].get(name)
                if v is None:
                    continue
                kind, key = v[0], None
                ref = self.class_ref(file, v[2])
                if ref is not None:
                    key = self._class_fact(ref[0], ref[1], classes[caller])
                    if key is not None and kind == "unknown" and classes[caller][key]["module"]:
                        kind = "module"
                if kind == "unknown" and key is None:
                    continue
                where = display_path(file, self.root)
                values[caller][r] = [kind, f"{v[1]} in {where}" if v[1] else f"`{name}` of {where}", key]
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
        for path in set(incoming) | set(callees) | set(values) | {p for p, c in classes.items() if c}:
            out[path] = {"incoming": dict(sorted(incoming.get(path, {}).items())),
                         "callees": dict(sorted(callees.get(path, {}).items()))}
            if values.get(path):
                out[path]["values"] = dict(sorted(values[path].items()))
            if classes.get(path):
                out[path]["classes"] = dict(sorted(classes[path].items()))
        return out

    def _class_fact(self, file: str, name: str, out: dict[str, dict], key: str | None = None,
                    depth: int = 0) -> str | None:
        """Put another file's class into a file's facts (`out`: key -> `project_facts.ExtClass` JSON), the
        classes its attributes hold too (to depth `_MAX_CLASS_DEPTH`, at most `_MAX_CLASSES` a file); its key
        (`key`, else "file::Class"), or None when it tells nothing (not a module, no attribute)."""
        cls = self.summaries[file]["classes"][name]
        if not cls["module"] and not cls["attrs"]:
            return None
        shown = display_path(file, self.root)
        key = key or f"{shown}::{name}"
        if key in out:
            return key
        if len(out) >= _MAX_CLASSES:
            return None
        record = {"file": shown, "line": cls["line"], "name": name, "module": cls["module"],
                  "mode_free": cls["mode_free"], "attrs": {}, "methods": cls["methods"]}
        out[key] = record
        for attr, (kind, origin, ref_name) in cls["attrs"].items():
            inner = None
            if ref_name is not None and depth < _MAX_CLASS_DEPTH:
                ref = self.class_ref(file, ref_name)
                if ref is not None:
                    inner = self._class_fact(ref[0], ref[1], out, None, depth + 1)
                    if inner is not None and kind == "unknown" and out[inner]["module"]:
                        kind = "module"
            if kind != "unknown" or inner is not None:
                record["attrs"][attr] = [kind, origin, inner]
        return key


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
