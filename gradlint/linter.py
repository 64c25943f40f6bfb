"""Parse once, build the semantic model once, run every selected rule, apply noqa.

Public API (used by the CLI, the verifier, the notebook code and the language server):

    lint_source(source: str, filename: str, settings: Settings) -> FileResult
    lint_fix(source: str, filename: str, settings: Settings, *, unsafe=False) -> FixResult
        the fix-and-relint loop (ruff's `lint_fix`): gradlint.fix applies the fixes, this re-lints

A file that does not parse yields FileResult(error=FileError(...)) and no diagnostics.
"""

from __future__ import annotations

import ast
import gc
import os
import re
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate

import libcst as cst
from libcst._nodes.base import CSTNode as _CSTNode

from gradlint import fix as fixmod
from gradlint.catalog import rule_url
from gradlint.diagnostic import BUG, Diagnostic, FileError, FileResult, Location, is_applicable
from gradlint.model import build_model
from gradlint.model.builder import ECO_IMPORT
from gradlint.positions import Positions
from gradlint.settings import Settings

_PLAN_CACHE: dict[frozenset[str], tuple[list, tuple[tuple[str, ...], ...], tuple]] = {}


def _plan(settings: Settings) -> tuple[list, tuple[tuple[str, ...], ...], tuple]:
    """The selected rules, their prefilter tokens (grouped by what else the file must contain), and the
    model extensions they need."""
    plan = _PLAN_CACHE.get(settings.selected)
    if plan is None:
        from gradlint.rules import ALL_RULES

        rules = [r for r in ALL_RULES if r.code in settings.selected]
        # rules that need only one of their tokens; those that also need the text "torch"; and those that
        # also need a torch import statement's text
        groups = tuple(
            tuple(dict.fromkeys(t for r in rules if r.prefilter_needs_torch == need for t in r.prefilter))
            for need in (None, "torch", "import")
        )
        extensions = tuple(dict.fromkeys(e for r in rules for e in r.extensions))
        plan = (rules, groups, extensions)
        _PLAN_CACHE[settings.selected] = plan
    return plan


def _selected_rules(settings: Settings):
    return _plan(settings)[0]


def could_fire(source: str, settings: Settings) -> bool:
    """Can any selected rule fire in this text? (Each rule declares the substrings it needs.)"""
    plain, with_torch, with_import = _plan(settings)[1]
    if any(tok in source for tok in plain):
        return True
    if "torch" in source and any(tok in source for tok in with_torch):
        return True
    return any(tok in source for tok in with_import) and ECO_IMPORT.search(source) is not None


# LibCST's native parser recurses on the C stack: a main-thread stack (8 MB) overflows — a segfault, not
# an exception — at about 1,500 nested brackets or a chain of ~20,000 binary operators. Files are therefore
# parsed and analysed on a worker thread with a large stack.
#
# Bounds (issue 16): LibCST's cost grows faster than linearly with the depth of an expression (a chain
# `a + a + … + a` of 2,000 operands takes seconds, 3,000 tens of seconds) and its memory with the number of
# nodes (~6 KB per node). Before LibCST sees a file, CPython's own parser (`ast`, C speed, ~10% of a LibCST
# parse) checks it: a syntax error is reported at CPython's position with CPython's message, and a file
# over one of these bounds is refused with a one-line reason (the run goes on; exit 2):
MAX_SOURCE_CHARS = 1_000_000  # characters in the file (~35,000 lines of ordinary code)
MAX_AST_NODES = 200_000  # CPython AST nodes (ordinary code has ~7 per line: ~28,000 lines)
MAX_EXPRESSION_DEPTH = 1000  # nesting of one expression (a chain of N binary operators nests N deep)
MAX_BRACKET_DEPTH = 200  # CPython's own limit ("too many nested parentheses")
_STACK_SIZE = 512 * 1024 * 1024
_BRACKETS = re.compile(r"[^()\[\]{}]+")
_DEPTH_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
_NEWLINES = re.compile(r"\r\n|\r|\n")
_WORDS = re.compile(r"\w+")
_executor: ThreadPoolExecutor | None = None
_executor_pid = 0


def bracket_depth(source: str) -> int:
    """The deepest bracket nesting in the text (brackets inside strings are counted too: an upper bound
    in practice, since they are rarely unbalanced)."""
    only = _BRACKETS.sub("", source)
    if len(only) < MAX_BRACKET_DEPTH:
        return len(only)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, only)), default=0)


class _Refused(Exception):
    """The file is over a bound; str(exc) is the one-line reason. `row`/`column`: where, if known."""

    def __init__(self, reason: str, row: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.row, self.column = reason, row, column


# CPython's messages for its own limits (not mistakes in the code): refused, never handed to LibCST.
_CPYTHON_LIMITS = ("too many nested parentheses", "too many levels of indentation", "too many statically nested",
                   "too complex", "exceeds the limit")


def cpython_check(source: str, filename: str = "<unknown>", keep: list | None = None) -> SyntaxError | None:
    """Parse with CPython (`ast`), enforcing the bounds above. Returns the SyntaxError if CPython rejects
    the text (positions are CPython's: 1-based line and column), None if it parses within bounds; raises
    `_Refused` for a file over a bound. Run it on the big-stack thread (AST construction recurses)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise _Refused(f"file too large to analyse ({len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,})")
    if len(source) > MAX_AST_NODES:  # long enough to hold too many nodes: count words before building any
        words = sum(1 for _ in _WORDS.finditer(source))
        if words > MAX_AST_NODES:
            raise _Refused(f"too many tokens to analyse ({words:,} names, numbers and words; "
                           f"the limit is {MAX_AST_NODES:,})")
    try:
        with warnings.catch_warnings():  # CPython's SyntaxWarnings (`"\d"`, `is 1`) are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename)
    except SyntaxError as exc:  # (IndentationError and TabError are SyntaxErrors)
        msg = str(getattr(exc, "msg", "") or "")
        if any(m in msg for m in _CPYTHON_LIMITS):
            raise _Refused(f"not analysed: {msg}", exc.lineno, exc.offset) from None
        return exc
    except (RecursionError, MemoryError):
        raise _Refused(f"not analysed: too deeply nested (an expression deeper than {MAX_EXPRESSION_DEPTH:,})") from None
    except ValueError as exc:  # e.g. NUL bytes
        return SyntaxError(str(exc))
    _check_tree(tree, source)
    if keep is not None:
        keep.append(tree)  # (project summaries read line numbers from it: gradlint.summary.summarize)
    return None


def _check_tree(tree: ast.AST, source: str) -> None:
    """Count nodes and measure expression depth — only where a bound could be exceeded: every node when
    the text is long enough to hold MAX_AST_NODES of them; the depth of an expression only when its text
    is longer than MAX_EXPRESSION_DEPTH characters (each level takes at least one)."""
    count_all = len(source) > MAX_AST_NODES
    starts = None
    AST, expr = ast.AST, ast.expr
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        nodes += 1
        if depth:  # inside an expression that is being measured
            if depth > MAX_EXPRESSION_DEPTH:
                raise _Refused(f"expression nested more than {MAX_EXPRESSION_DEPTH:,} deep (e.g. a chain of "
                               f"{MAX_EXPRESSION_DEPTH:,}+ operators); not analysed",
                               getattr(node, "lineno", None), (getattr(node, "col_offset", -1) + 1) or None)
            depth += 1
        elif isinstance(node, expr):
            if starts is None:
                starts = [0] + [m.end() for m in _NEWLINES.finditer(source)]
            try:
                span = (starts[node.end_lineno - 1] + node.end_col_offset) - (starts[node.lineno - 1] + node.col_offset)
            except (IndexError, TypeError):
                span = MAX_EXPRESSION_DEPTH + 1
            if span > MAX_EXPRESSION_DEPTH:
                depth = 1
            elif not count_all:
                continue  # short: cannot be deep, and the nodes need no counting
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        push((item, depth))
            elif isinstance(value, AST):
                push((value, depth))
    if count_all and nodes > MAX_AST_NODES:
        raise _Refused(f"too many syntax nodes to analyse ({nodes:,}; the limit is {MAX_AST_NODES:,})")


def _big_stack_executor() -> ThreadPoolExecutor:
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():  # a forked worker needs its own thread
        old = threading.stack_size()
        threading.stack_size(_STACK_SIZE)
        try:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gradlint-parse")
            _executor.submit(lambda: None).result()  # start the thread while the stack size is set
        finally:
            threading.stack_size(old)
        _executor_pid = os.getpid()
    return _executor


def lint_source(source: str, filename: str, settings: Settings, *, prefilter: bool = True,
                project: bool = False, external: dict | None = None, parse=None) -> FileResult:
    """Lint one file's text. With `prefilter` (the default), text that cannot hold a finding is not parsed.

    Project-wide analysis (gradlint.project): with `project`, the result also carries the file's summary
    (`FileResult.summary`; from CPython's `ast` when no rule can fire in the text); `external` is what the
    rest of the project tells about the file (`Project.link()`'s JSON for it). `parse`: what turns the
    text into its LibCST module instead of `parse_module` (the language server's per-document
    `gradlint.incremental.IncrementalParser`, which gives the same tree; its `check` then replaces
    `cpython_check` and its `parent_cache` keeps the statements' parent maps from one edit to the next)."""
    result = FileResult(filename=filename)
    rules = _selected_rules(settings)
    if not rules or (prefilter and not could_fire(source, settings)):
        if project and rules:
            result.summary = summarize_source(source, filename, settings)
        return result
    if len(source) > MAX_SOURCE_CHARS:  # (before any work on it)
        result.error = FileError(filename, f"file too large to analyse ({len(source):,} characters; "
                                           f"the limit is {MAX_SOURCE_CHARS:,})")
        return result
    return _big_stack_executor().submit(_without_gc, _lint_parsed, source, filename, settings, rules, result,
                                        project, external, parse).result()


# A file no rule can fire in still exports what its functions do to a model's mode, or that they train
# (`def prepare(model): model.eval()` needs no torch import): such files get the model's summary; others
# CPython's (imports and function names only).
_EFFECT_TOKENS = (".eval(", ".train(", "backward")


def summarize_source(source: str, filename: str, settings: Settings) -> dict | None:
    """The project summary of a file that is not reported on (its model only, no rules), or None."""
    if not _selected_rules(settings) or len(source) > MAX_SOURCE_CHARS:
        return None
    if not could_fire(source, settings) and not any(t in source for t in _EFFECT_TOKENS):
        from gradlint.project import summarize_text

        return summarize_text(source)
    return _big_stack_executor().submit(_without_gc, _summary_parsed, source, filename, settings).result()


def _without_gc(fn, *args):
    """fn(*args) with the cyclic garbage collector paused. A parse allocates millions of objects, none of
    them garbage until the file is done: the collector would only traverse them again and again (~10% of a
    parse). It is resumed once the file's tree is released (its few cycles are collected then, as usual)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fn(*args)
    finally:
        if enabled:
            gc.enable()


def _summary_parsed(source: str, filename: str, settings: Settings) -> dict | None:
    from gradlint.project import summarize

    trees: list = []
    module = _parse_checked(source, filename, FileResult(filename=filename), trees)
    if module is None:
        return None
    try:
        model = build_model(module, settings.options, filename, (), source, project=True)
    except RecursionError:
        return None
    try:
        return summarize(model, trees[0] if trees else None, source)
    finally:
        model.release()


# LibCST validates every node in its constructor (CSTNode.__post_init__ -> _validate): needed for trees
# built by hand, redundant for the ones its own parser builds from valid source, and ~20% of a parse.
# parse_module() below skips it for the parser's nodes only; nodes built by rules and fixes are validated.
_ORIGINAL_POST_INIT = _CSTNode.__dict__.get("__post_init__")
_PARSE_LOCK = threading.Lock()


def _no_validation(self) -> None:
    pass


def parse_module(source: str) -> cst.Module:
    """`libcst.parse_module(source)`, the same tree, without re-validating what the parser produced."""
    if _ORIGINAL_POST_INIT is None:  # a LibCST without the hook: parse as is
        return cst.parse_module(source)
    with _PARSE_LOCK:
        _CSTNode.__post_init__ = _no_validation
        try:
            return cst.parse_module(source)
        finally:
            _CSTNode.__post_init__ = _ORIGINAL_POST_INIT


def _lint_parsed(source: str, filename: str, settings: Settings, rules, result: FileResult,
                 project: bool = False, external: dict | None = None, parse=None) -> FileResult:
    from gradlint import noqa

    noqa_map = noqa.parse_noqa(source)
    trees: list | None = [] if project else None
    module = (_parse_checked(source, filename, result, trees, parse)
              if not noqa_map.file_exempt or project else None)
    if module is None:
        return result
    ext = None
    if external:
        from gradlint.model.project_facts import ExternalFacts

        ext = ExternalFacts.from_json(external)
    try:
        model = build_model(module, settings.options, filename, _plan(settings)[2], source, project=project,
                            external=ext)
    except RecursionError:
        result.error = FileError(filename, "too deeply nested to analyse")
        return result
    model.parent_cache = getattr(parse, "parent_cache", None)  # (gradlint.edits.parents)
    model.position_cache = getattr(parse, "position_cache", None)  # (gradlint.positions._by_statement)
    try:
        if project:
            from gradlint.project import summarize

            result.summary = summarize(model, trees[0] if trees else None, source)
        if not noqa_map.file_exempt:
            result = _diagnose(source, filename, rules, module, model, noqa_map, settings, result)
        if project and result.summary is not None:
            # (after the rules: a rule may ask for another file's class too, e.g. GL004's tier)
            result.summary["asks"] = model.class_asks()
        return result
    finally:
        model.release()


def _parse_checked(source: str, filename: str, result: FileResult, keep: list | None = None,
                   parse=None) -> cst.Module | None:
    """CPython's check (bounds, syntax errors at CPython's position), then LibCST's parse. On failure sets
    `result.error` (one line) and returns None. `keep`: CPython's tree is appended to it."""
    try:
        # (the language server's parser checks only what an edit touched: gradlint.incremental)
        cpython_error = getattr(parse, "check", cpython_check)(source, filename, keep)
    except _Refused as exc:
        result.error = FileError(filename, exc.reason, exc.row, exc.column)
        return None
    if cpython_error is not None and bracket_depth(source) > MAX_BRACKET_DEPTH:
        # (CPython rejected it anyway; LibCST's time grows fast with nesting: do not try it)
        result.error = _syntax_error(filename, cpython_error)
        return None
    try:
        return (parse or parse_module)(source)
    except Exception as exc:  # ParserSyntaxError, RecursionError, the native parser's other failures
        if cpython_error is not None:
            result.error = _syntax_error(filename, cpython_error)
        elif isinstance(exc, cst.ParserSyntaxError):
            m = re.search(r"error at (\d+):(\d+)", exc.message)
            row, col = (int(m.group(1)), int(m.group(2))) if m else (exc.raw_line, exc.raw_column + 1)
            detail = re.sub(r"^(parser error: )?error at \d+:\d+: ", "", _first_line(exc.message))
            if len(detail) > 80:
                detail = detail[:77] + "..."
            result.error = FileError(
                filename, f"valid Python that LibCST (gradlint's parser) cannot parse ({detail})", row, col)
        elif isinstance(exc, RecursionError):
            result.error = FileError(filename, "too deeply nested for the parser")
        else:
            result.error = FileError(filename, f"valid Python that LibCST (gradlint's parser) cannot parse: "
                                               f"{_first_line(str(exc))}")
        return None
    # (a text CPython rejects but LibCST parses — e.g. syntax newer than this Python — is analysed)


def _syntax_error(filename: str, exc: SyntaxError) -> FileError:
    """CPython's message at CPython's position (1-based line and column)."""
    msg = _first_line(str(getattr(exc, "msg", "") or exc))
    row = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
    col = exc.offset if row is not None and isinstance(exc.offset, int) and exc.offset > 0 else (1 if row else None)
    return FileError(filename, f"syntax error: {msg}", row, col)


def _diagnose(source: str, filename: str, rules, module: cst.Module, model, noqa_map, settings: Settings,
              result: FileResult) -> FileResult:
    from gradlint import noqa

    findings = []
    if model.other_framework:
        return result  # MXNet / TensorFlow / JAX code: torch's rules do not apply
    for rule_cls in rules:
        rule = rule_cls()
        for finding in rule.check(model, settings.options):
            findings.append((rule_cls, finding))
    if not findings:
        return result
    # Positions only for files with findings, and only for the reported nodes and the nodes their fixes edit.
    from gradlint.edits import parents  # (the model's parent map: fixes and GL001 use it too)

    positions = Positions(module, _nodes_to_locate(findings), source, parents(model),
                          getattr(model, "position_cache", None))
    seen: set[tuple] = set()
    text_lines = None  # the line table for resolving fixes, built on the first fix
    for rule_cls, finding in findings:
        rng = positions.get(finding.node)
        if rng is None:
            continue
        start = Location(rng.start.line, rng.start.column + 1)
        end = Location(rng.end.line, rng.end.column + 1)
        key = (rule_cls.code, start)
        if key in seen:
            continue
        seen.add(key)
        if noqa.is_suppressed(start.row, rule_cls.code, noqa_map):
            continue
        tier = finding.tier or rule_cls.tier
        if settings.bugs_only and tier != BUG:  # `--bugs-only` / `bugs-only = true`: hygiene is not reported
            continue
        fix = None
        # node edits -> text edits (gradlint.fix); a suppressed finding has none, and a file that imports no
        # torch library none at all: a fix never brings torch (`import torch`, `no_grad`, `.detach()`) into
        # code that may not be torch's (gradlint/edits.py)
        if finding.fix is not None and model.uses_torch:
            if text_lines is None:
                text_lines = fixmod._Text(source)
            fix = fixmod.resolve_fix(finding.fix, module, positions, source, text_lines)
        result.diagnostics.append(
            Diagnostic(
                code=rule_cls.code,
                name=rule_cls.name,
                message=finding.message,
                filename=filename,
                location=start,
                end_location=end,
                fix=fix,
                noqa_row=noqa_map.noqa_row(start.row),
                url=rule_cls.url() or rule_url(rule_cls.code, settings.docs_url),
                tier=tier,
                related=tuple(finding.related),
            )
        )
    result.diagnostics.sort(key=Diagnostic.sort_key)
    return result


def _nodes_to_locate(findings) -> list[cst.CSTNode]:
    nodes: list[cst.CSTNode] = []
    for _, finding in findings:
        nodes.append(finding.node)
        if finding.fix is not None:
            for edit in finding.fix.edits:
                for attr in ("node", "first", "last"):
                    node = getattr(edit, attr, None)
                    if isinstance(node, cst.CSTNode):
                        nodes.append(node)
                        decorators = getattr(node, "decorators", None)
                        if decorators:
                            nodes.append(decorators[0])
    return nodes


# ------------------------------------------------------------------------------------ fixing


def lint_fix(source: str, filename: str, settings: Settings, *, unsafe: bool = False,
             max_passes: int = fixmod.MAX_PASSES, first: list[Diagnostic] | None = None) -> fixmod.FixResult:
    """Fix `source`: lint -> apply the non-overlapping applicable fixes (gradlint.fix.apply_edits) -> re-lint,
    until no applicable fix is left (at most `max_passes` passes). `first`: the diagnostics of `source` if
    already known.

    Every fix must remove its finding. A fix that does not — its finding, with the same fix, is offered as
    often after the pass that applied it as before — is dropped: the run starts again from `source`
    without it, and its finding is reported with no fix (so fixing always converges; a rule whose fix does
    not cure its finding is a bug to report, never a reason to stack the same edit ten times). A result
    that does not parse (LibCST, and `compile` when the input compiled) is refused: FixResult.source is
    then the input and `error` says why; so are fixes still applicable after `max_passes` passes."""
    if first is None:
        res = lint_source(source, filename, settings)
        if res.error is not None:
            return fixmod.FixResult(source, error=res.error.reason)
        first = res.diagnostics
    dropped: set[tuple] = set()
    for _ in range(max_passes):  # each round drops at least one more fix
        result, ineffective = _fix_passes(source, filename, settings, unsafe, max_passes, first, dropped)
        if not ineffective:
            return result
        dropped |= ineffective
    codes = ", ".join(sorted({sig[0] for sig in dropped}))
    return fixmod.FixResult(source, remaining=list(first), error=f"the fixes did not converge ({codes}: fixes that "
                            "do not remove their finding); file left unchanged (please report this)")


def _fix_signature(d: Diagnostic, lines: list[str] | None = None) -> tuple:
    """What identifies a fix across passes (positions move): its rule, message and edit texts, and — when
    `lines` (the text's lines) are given — the text of the line it is reported on, so that two findings
    offering the same edit on different lines (`w.data` -> `w` twice) are told apart."""
    assert d.fix is not None
    row = d.location.row - 1
    line = lines[row].strip() if lines is not None and 0 <= row < len(lines) else None
    return (d.code, d.fix.message, tuple(e.content for e in d.fix.edits), line)


def _fix_passes(source: str, filename: str, settings: Settings, unsafe: bool, max_passes: int,
                first: list[Diagnostic], dropped: set[tuple]) -> tuple[fixmod.FixResult, set[tuple]]:
    """One run of the loop of `lint_fix`, fixes in `dropped` left out. Returns the result, and the signatures
    of fixes found not to remove their finding (the run is then to be started again without them)."""
    from collections import Counter
    from dataclasses import replace

    def applicable(diags: list[Diagnostic], lines: list[str]) -> list[Diagnostic]:
        return [d for d in diags if is_applicable(d.fix, unsafe) and _fix_signature(d, lines) not in dropped]

    def without_dropped(diags: list[Diagnostic], lines: list[str]) -> list[Diagnostic]:
        return [replace(d, fix=None) if d.fix is not None and _fix_signature(d, lines) in dropped else d
                for d in diags]

    diagnostics = first
    text = source
    fixed = 0
    by_rule: Counter = Counter()
    compiled_before: bool | None = None
    passes = 0
    lines = _NEWLINES.split(source)
    while passes < max_passes:
        todo = applicable(diagnostics, lines)
        if not todo:
            break
        passes += 1
        new, applied = fixmod.apply_edits(text, [d.fix for d in todo])
        if new == text:
            break
        if compiled_before is None:
            compiled_before = fixmod.compiles(source, filename)
        problem = fixmod.parse_problem(new, compiled_before, filename)
        if problem is not None:
            return fixmod.FixResult(source, remaining=list(first), passes=passes,
                                    error=f"{problem}; fixes not applied, file left unchanged (please report this)"), set()
        ids = {id(f) for f in applied}
        applied_sigs: Counter = Counter()
        for d in todo:
            if id(d.fix) in ids:
                ids.discard(id(d.fix))
                fixed += 1
                by_rule[(d.code, d.name)] += 1
                applied_sigs[_fix_signature(d, lines)] += 1
        before = Counter(_fix_signature(d, lines) for d in todo)
        text = new
        lines = _NEWLINES.split(text)
        res = lint_source(text, filename, settings)
        if res.error is not None:
            return fixmod.FixResult(source, remaining=list(first), passes=passes,
                                    error=f"the fixed code cannot be checked ({res.error.reason}); file left unchanged"), set()
        diagnostics = res.diagnostics
        after = Counter(_fix_signature(d, lines) for d in applicable(diagnostics, lines))
        ineffective = {sig for sig in applied_sigs if after[sig] >= before[sig]}
        if ineffective:
            return fixmod.FixResult(source), ineffective
    if passes >= max_passes and applicable(diagnostics, lines):
        codes = ", ".join(sorted({d.code for d in applicable(diagnostics, lines)}))
        return fixmod.FixResult(source, remaining=without_dropped(first, _NEWLINES.split(source)), passes=passes,
                                error=f"the fixes did not converge after {max_passes} passes ({codes}); "
                                      "file left unchanged (please report this)"), set()
    changed = text != source
    return fixmod.FixResult(text, fixed if changed else 0, without_dropped(diagnostics, lines),
                            by_rule if changed else Counter(), None, passes), set()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "invalid syntax"


if sys.getrecursionlimit() < 20000:
    # The model's walker recurses once per tree level; deep trees are analysed on the big-stack thread.
    sys.setrecursionlimit(20000)
