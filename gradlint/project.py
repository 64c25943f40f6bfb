"""Project-wide analysis: what each file exports, how imports connect the files, and what one file's
analysis may learn from the others (see docs/project.md).

Real training code is spread over files: the model in `models.py`, the loop in `train.py`, `evaluate()`,
`sgd()`, `weights_init()` in `utils.py`. Each file alone looks innocent or undecidable. The check runs in
two steps:

1. every file of the project gets a **summary** (`gradlint.summary.summarize`): its top-level functions and the methods of
   its top-level classes (parameters, the train/eval mode a call leaves a model in, whether it trains,
   whether its findings depend on its callers), its imports (absolute, relative with their dots, `*` and
   `__all__`), the calls it makes to functions imported from the project and to methods of instances of
   imported classes (the grad mode and train/eval mode at the call, the values of the arguments as this
   file's model knows them), its classes (module or not, mode-free or not, what `self.X` holds, their
   methods), what its top-level names hold at its end (`values`), and the imported names it reads
   (`reads`). A summary is plain JSON, cached by the file's content.
2. `link` resolves every imported call to the function it reaches (through packages, relative imports,
   re-exports in `__init__.py`, `from m import *` with `__all__`, `src/` layouts and scripts importing
   their neighbours) and gives each file its **external facts** (`ExternalFacts`): the calls from other
   files into its functions, what the imported functions it calls do, what the names it imports hold and
   the classes of the instances it handles (`gradlint.model.imported`). A file whose external facts are
   empty keeps its single-file findings; the others are checked again with them, and their cache key
   holds the digest of exactly those facts — editing `utils.py` re-checks `train.py` only when what
   `train.py` learns from it changes.

Resolution is bounded (re-export chains of at most `_MAX_HOPS`, every module visited once per lookup), so
import cycles terminate. Names from outside the project (installed packages) stay unknown.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (no LibCST and no model here: a warm run links cached summaries and looks up cached findings without them)
# the summaries (re-exported: the linter, the runner and the cache import them from here)
from gradlint.summary import SUMMARY_VERSION, summarize, summarize_text, valid_summary  # noqa: F401

_MAX_HOPS = 8
_MAX_CLASS_DEPTH = 3  # classes held by attributes of classes ... followed at most this deep
_MAX_CLASSES = 32  # other files' classes in one file's facts at most

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
        # lookups remembered: (module, dotted name), or (importer's folder, "=" + target) for a lookup from a
        # file -> (what it resolves to, the missing files it met, how many re-exports deeper it went); only
        # lookups that met no cycle and no bound (their answer does not depend on where they started). Without
        # it, a name looked up through `from .x import *` hubs (transformers' packages) visits every module
        # below the hub again for every call that names it (`needed()` + `link()` over the benchmark corpus's
        # summaries: 13 s of CPU, 0.7 s with it).
        # A lookup that met a missing file is forgotten when that file's summary is added (`add`); the
        # others read nothing that changes.
        self._memo: dict[tuple[str, str], tuple[tuple[str, str] | None, frozenset[str], int]] = {}
        self._by_missing: dict[str, list[tuple[str, str]]] = defaultdict(list)  # missing file -> lookups
        self._cuts = 0  # lookups cut short so far (a cycle or the hop bound)
        self._reach = 0  # the deepest re-export the current lookup went through
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
            entry = _entry_of(self._abs[c], depth)
            if _starts_near(entry, here):
                best.append((len(entry), c))
        if not best:
            roots = _root_starts(str(self.root))
            best = [(0, c) for c in cands if _entry_of(self._abs[c], depth) in roots]
        if not best:
            return None
        best.sort(reverse=True)
        if len(best) > 1 and best[0][0] == best[1][0]:
            return None  # two equally near candidates: do not guess
        return best[0][1]

    def _relative_base(self, importer: str, dots: int) -> str:
        return _package_folder(os.path.dirname(self._abs[importer]), dots)

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
        if seen is None:  # a lookup from a file: its answer depends on the file's folder only
            key = (os.path.dirname(self._abs[importer]), "=" + target)  # ("=": not a module's dotted name)
            memo = self._recall(key, hops)
            if memo is not None:
                return memo[0]
            return self._remember(key, hops, self._resolve, target, importer, hops, set())
        return self._resolve(target, importer, hops, seen)

    def _resolve(self, target: str, importer: str, hops: int, seen: set[tuple[str, str]]) -> tuple[str, str] | None:
        if hops > _MAX_HOPS:
            self._cuts += 1
            return None
        self._reach = max(self._reach, hops)
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
        memo = self._recall(key, hops)
        if memo is not None:
            return memo[0]
        if key in seen:
            self._cuts += 1
            return None  # an import cycle (or a module this lookup already went through)
        seen.add(key)
        return self._remember(key, hops, self._lookup, mod, rest, hops, seen)

    def _recall(self, key: tuple[str, str], hops: int) -> tuple[tuple[str, str] | None] | None:
        """A remembered lookup that, started `hops` re-exports deep, stays within the bound."""
        memo = self._memo.get(key)
        if memo is None or hops + memo[2] > _MAX_HOPS:
            return None
        if memo[1]:
            self.missing.update(memo[1])
        return (memo[0],)

    def _remember(self, key: tuple[str, str], hops: int, fn: Callable, *args) -> tuple[str, str] | None:
        """fn(*args), a lookup started `hops` deep, remembered under `key` with the missing files it met and
        how many re-exports deeper it went — unless it met a cut (a cycle or the bound)."""
        outer, cuts, reach = self.missing, self._cuts, self._reach
        self.missing, self._reach = set(), hops
        try:
            found = fn(*args)
        finally:
            met, self.missing = self.missing, outer
            outer.update(met)
            deeper = self._reach - hops
            self._reach = max(reach, self._reach)
        if self._cuts == cuts:
            self._memo[key] = (found, frozenset(met), deeper)
            for m in met:
                self._by_missing[m].append(key)
        return found

    def _lookup(self, mod: str, rest: list[str], hops: int, seen: set[tuple[str, str]]) -> tuple[str, str] | None:
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
        if path in self.summaries:  # (a summary replaced: any lookup may have read it)
            self._memo.clear()
            self._by_missing.clear()
        self.summaries[path] = summary
        for key in self._by_missing.pop(path, ()):
            self._memo.pop(key, None)

    def needed(self, focus: set[str] | None = None, names: set[str] | None = None) -> set[str]:
        """The files whose summaries the resolution of the known calls would read but are not there yet
        (the modules a call's import goes through: packages, re-export hubs, the defining file). With
        `focus` (the files whose facts are wanted), another file's calls are followed only where their
        target spells one of `names` (the functions and classes of the focus whose callers matter): its
        other calls and its reads tell the focus nothing."""
        self.missing = set()
        for caller, s in list(self.summaries.items()):
            if focus is not None and caller not in focus:
                for c in s["calls"]:
                    if names and not names.isdisjoint(c["t"].split(".")):
                        self.resolve(c["t"], caller)
                continue
            for c in s["calls"]:
                self.resolve(c["t"], caller)
            imported = s["imports"]["names"]
            for r in s["reads"]:
                if r in imported:
                    self.resolve(imported[r], caller)
        return self.missing

    def complete(self, callers: list[str], load: "Callable[[list[str]], list[dict[str, Any] | None]]",
                 readable: set[str] | None = None, focus: set[str] | None = None,
                 names: set[str] | None = None) -> None:
        """Read the summaries the known calls need, to a fixed point: `callers` (files that may call the
        known functions) first, then the modules the calls go through (packages, re-export hubs, the files
        defining the imported functions). `load(paths)` gives their summaries (None: none); each file is
        asked for once; only `readable` files are (all, without it). `focus`, `names`: see `needed`."""
        asked: set[str] = set()
        want = set(callers)
        for _ in range(16):
            want = {p for p in want | self.needed(focus, names)
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
            # the other files' classes whose facts the file's own check would use (`asks`, recorded by its
            # first check: `gradlint.model.imported.ImportedNames.ask_class`); absent: all of them
            asks = s.get("asks")
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
                    # (a class the file does not ask for changes none of its findings: no second check for it)
                    if asks is None or _asked(asks, c["t"], cls):
                        if cls["module"]:
                            # an instance of a model class of another file: is it free of train/eval behaviour?
                            callees[caller][c["t"]] = [display_path(file, self.root), cls["line"], name, None, 0,
                                                       False, False, cls["mode_free"]]
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


# attributes of a module read through an instance that the class's facts may turn into parameters
_MODULE_ATTRS = frozenset({"weight", "bias"})


def _asked(asks: dict[str, list[str] | None], target: str, cls: dict[str, Any]) -> bool:
    """Does a file's first check ask for the class `cls` (its summary) that `target` names: as a whole, or
    an attribute chain read through its instances (`"fc.weight"`, `gradlint.model.imported.ask_class`) whose
    first attribute the class holds as a tensor or parameter list, or as a module that the chain reads
    further (`self.head.fc` alone, an `nn.Linear` stored or called, changes no finding)?"""
    if target not in asks:
        return False
    paths = asks[target]
    if paths is None:
        return True
    for path in paths:
        first, _, rest = path.partition(".")
        if cls["module"] and (first in _MODULE_ATTRS or rest):
            return True  # (through a model: what its attributes are changes what the chain reaches)
        held = cls["attrs"].get(first)
        if held is not None and (rest or (held[0] != "module" and held[2] is None)):
            return True
    return False


def wanted(summaries: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """The names whose callers matter, each with the files defining it: the functions whose findings depend
    on their callers (a method's callers spell its class: `Trainer(...)`)."""
    out: dict[str, set[str]] = defaultdict(set)
    for path, s in summaries.items():
        for n, d in s["defs"].items():
            if d["wants"]:
                out[n.partition(".")[0]].add(path)
    return out


def mentioning(paths: list[str], names: dict[str, set[str]], root: Path | str) -> list[str]:
    """The files among `paths` that may call one of `names` (name -> the files defining it) from another
    file: their text spells the name as a word, and spells a way to import it from its file — the first
    part of a dotted import that can reach the file from where the caller is (see `Project._module`: the
    folder the dotted path starts from holds both files, or is the root or its `src`), or a relative
    `from . import` / `from .. import` of the file's package. (Without the second condition, a check of
    timm and torchvision in a folder that also holds transformers read 2,600 of transformers' files, most
    for spelling `_init_weights` or `sigmoid`.) A name re-exported by a hub outside the defining file's
    packages is not followed to the hub's users."""
    if not names:
        return []
    import re

    # (the text's words against the names: one pass over the text, where a regex alternation of the names —
    # hundreds on a large project — tried each name at each position, 20x slower)
    words_of = re.compile(r"\w+")
    package_imports = re.compile(r"\bfrom\s+(\.+)\s+import\b")  # `from . import`, `from .. import`
    root_s = os.path.abspath(str(root))
    where: dict[str, tuple[str, list[str]]] = {}  # defining file -> (its folder, its module's parts)
    for files in names.values():
        for d in files:
            if d not in where:
                a = os.path.abspath(d)
                where[d] = (os.path.dirname(a), _module_parts(a, root_s))
    out = []
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                text = fh.read(2_000_000)
        except OSError:
            continue
        if "import" not in text:
            continue
        words = set(words_of.findall(text))
        spelled = [n for n in names if n in words]
        if not spelled:
            continue
        here = os.path.dirname(os.path.abspath(p))
        bases = None  # the packages its `from . import` / `from .. import` ... name
        for n in spelled:
            for d in names[n]:
                folder, parts = where[d]
                if _importable_by_words(here, folder, parts, root_s, words):
                    break
                if bases is None:
                    bases = {_package_folder(here, len(m.group(1))) for m in package_imports.finditer(text)}
                if folder in bases:  # (a name of the package's __init__.py; a module of it is spelled)
                    break
            else:
                continue
            out.append(p)
            break
    return out


def _package_folder(folder: str, dots: int) -> str:
    """The folder a relative import with `dots` dots starts from, in a file of `folder`."""
    for _ in range(dots - 1):
        folder = os.path.dirname(folder)
    return folder


def _starts_near(entry: str, here: str) -> bool:
    """Can a dotted import written in a file of folder `here` start at folder `entry` — the file's own
    folder, or a package above it? (`Project._module`; else only at the root, `_root_starts`.)"""
    return entry == here or here.startswith(entry + os.sep)


def _root_starts(root: str) -> set[str]:
    """Where a dotted import that starts nowhere near its file may start: the root, or `root/src`."""
    return {root, os.path.join(root, "src")}


def _importable_by_words(here: str, folder: str, parts: list[str], root: str, words: set[str]) -> bool:
    """Does a file in folder `here`, whose text has `words`, spell the first part of a dotted import that
    can reach the module `parts` (in `folder`)? A dotted path can start where `Project._module` lets it
    (`_starts_near`, `_root_starts`): its first part is the module's part just below that folder."""
    if not (folder == root or folder.startswith(root + os.sep)):
        return True  # (outside the root: no rule for it, as before)
    roots = _root_starts(root)
    entry = root
    for part in parts:
        if (entry in roots or _starts_near(entry, here)) and part in words:
            return True
        entry = os.path.join(entry, part)
    return False


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
