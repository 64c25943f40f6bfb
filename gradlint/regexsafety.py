"""Refuse regular expressions whose matching time can explode (ReDoS) before they are ever run.

The rule options (`eval-function-patterns`, `model-names` and their `extend-` forms) are regular
expressions that gradlint matches (`re.fullmatch`) against every function and variable name of every
file. Python's `re` backtracks: `(a+)+b` against a 28-character name takes seconds and doubles with each
character, and a configuration comes with any cloned repository — so a pattern is checked statically
when the configuration is read, and a dangerous one is a configuration error naming the file and key.

    catastrophic_reason(pattern) -> str | None    # why the pattern is refused, or None if it is safe

Refused (each makes backtracking super-linear in the length of the name):

- a repetition that can vary in length inside a repetition that can run more than once: `(a+)+`,
  `(\\w*_?)*`, `(a{1,5})*` (exponential), `(.*a){12}` (polynomial of degree 12);
- alternatives that can match the same text inside such a repetition: `(a|ab)*`, `(a|a)*`
  (exponential);
- three or more unbounded repetitions in sequence whose characters overlap: `\\w*\\w*\\w*x`,
  `\\w+_\\w+_\\w+`  (polynomial of degree three or more);
- back-references (`(a)\\1`: matching them is NP-hard in general).

Two overlapping unbounded repetitions (`\\w*_eval_\\w*`) stay allowed: quadratic at worst in the length
of one name. Every default pattern passes (tests/test_reliability.py checks it).
"""

from __future__ import annotations

import sys
from functools import lru_cache

if sys.version_info >= (3, 11):
    from re import _constants as C  # noqa: N812
    from re import _parser as P  # noqa: N812
else:  # pragma: no cover
    import sre_constants as C  # noqa: N812
    import sre_parse as P  # noqa: N812

# The characters a pattern element can match, judged on a sample: ASCII plus a few letters and spaces
# beyond it (enough to tell `\w`, `\d`, `\s`, `.`, classes and literals apart for overlap tests).
_SAMPLE = [chr(i) for i in range(128)] + ["é", "ß", "Ω", "中", "\u00a0", "\u2028", "٣"]
_ALL = frozenset(_SAMPLE)

_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT} | ({C.POSSESSIVE_REPEAT} if hasattr(C, "POSSESSIVE_REPEAT") else set())
_UNBOUNDED_AT = 32  # a repetition allowing more than this many iterations counts as unbounded


def _category(cat) -> frozenset[str]:
    name = str(cat)
    neg = "NOT_" in name
    if "DIGIT" in name:
        got = {c for c in _SAMPLE if c.isdigit()}
    elif "SPACE" in name:
        got = {c for c in _SAMPLE if c.isspace()}
    elif "WORD" in name:
        got = {c for c in _SAMPLE if c.isalnum() or c == "_"}
    elif "LINEBREAK" in name:
        got = {"\n"}
    else:
        got = set(_ALL)
    return frozenset(_ALL - got if neg else got)


def _chars_of_in(items) -> frozenset[str]:
    neg = False
    got: set[str] = set()
    for op, av in items:
        if op is C.NEGATE:
            neg = True
        elif op is C.LITERAL:
            got.add(chr(av))
        elif op is C.RANGE:
            lo, hi = av
            got |= {c for c in _SAMPLE if lo <= ord(c) <= hi}
            if hi - lo > 256:
                got |= {c for c in _SAMPLE if ord(c) > 127}
        elif op is C.CATEGORY:
            got |= _category(av)
        else:
            got |= _ALL
    return frozenset(_ALL - got if neg else got)


def _fold(chars: frozenset[str], ignore_case: bool) -> frozenset[str]:
    if not ignore_case:
        return chars
    return frozenset(chars | {c.lower() for c in chars} | {c.upper() for c in chars if len(c.upper()) == 1})


class _Refused(Exception):
    pass


class _Walker:
    def __init__(self, ignore_case: bool) -> None:
        self.ignore_case = ignore_case

    # ---- facts about a sequence of items: which characters it can consume, can it match "", first chars

    def chars(self, seq) -> frozenset[str]:
        out: set[str] = set()
        for op, av in seq:
            out |= self.item_chars(op, av)
        return frozenset(out)

    def item_chars(self, op, av) -> frozenset[str]:
        if op is C.LITERAL:
            return _fold(frozenset({chr(av)}), self.ignore_case)
        if op is C.NOT_LITERAL:
            return _ALL - {chr(av)}
        if op is C.ANY:
            return _ALL
        if op is C.IN:
            return _fold(_chars_of_in(av), self.ignore_case)
        if op in _REPEATS:
            return self.chars(av[2])
        if op is C.SUBPATTERN:
            return self.chars(av[-1])
        if op is C.BRANCH:
            return frozenset().union(*(self.chars(alt) for alt in av[1]))
        if op is getattr(C, "ATOMIC_GROUP", None):
            return self.chars(av)
        if op is C.GROUPREF_EXISTS:
            return self.chars(av[1]) | (self.chars(av[2]) if av[2] else frozenset())
        return frozenset()  # assertions, anchors: consume nothing

    def nullable(self, seq) -> bool:
        return all(self.item_nullable(op, av) for op, av in seq)

    def item_nullable(self, op, av) -> bool:
        if op in _REPEATS:
            return av[0] == 0 or self.nullable(av[2])
        if op is C.SUBPATTERN:
            return self.nullable(av[-1])
        if op is C.BRANCH:
            return any(self.nullable(alt) for alt in av[1])
        if op is getattr(C, "ATOMIC_GROUP", None):
            return self.nullable(av)
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return True
        if op is C.GROUPREF_EXISTS:
            return True
        return False

    def first(self, seq) -> frozenset[str]:
        out: set[str] = set()
        for op, av in seq:
            if op in _REPEATS:
                out |= self.first(av[2])
            elif op is C.SUBPATTERN:
                out |= self.first(av[-1])
            elif op is C.BRANCH:
                for alt in av[1]:
                    out |= self.first(alt)
            elif op is getattr(C, "ATOMIC_GROUP", None):
                out |= self.first(av)
            else:
                out |= self.item_chars(op, av)
            if not self.item_nullable(op, av):
                break
        return frozenset(out)

    def varies(self, op, av) -> bool:
        """Can this item match texts of different lengths by repeating (a quantifier with lo < hi)?"""
        if op in _REPEATS:
            lo, hi, sub = av
            return lo != hi or self.any_varies(sub)
        return self.any_varies_item(op, av)

    def any_varies(self, seq) -> bool:
        return any(self.varies(op, av) for op, av in seq)

    def any_varies_item(self, op, av) -> bool:
        if op is C.SUBPATTERN:
            return self.any_varies(av[-1])
        if op is C.BRANCH:
            return any(self.any_varies(alt) for alt in av[1])
        if op is getattr(C, "ATOMIC_GROUP", None):
            return self.any_varies(av)
        if op is C.GROUPREF_EXISTS:
            return self.any_varies(av[1]) or bool(av[2] and self.any_varies(av[2]))
        return False

    # ---- the checks

    def check(self, seq, in_unbounded: bool) -> None:
        """`in_unbounded`: inside a repetition that can run more than once."""
        self.check_sequence(seq)
        for op, av in seq:
            if op in (C.GROUPREF, getattr(C, "GROUPREF_IGNORE", None), getattr(C, "GROUPREF_LOC_IGNORE", None),
                      getattr(C, "GROUPREF_UNI_IGNORE", None)) and op is not None:
                raise _Refused("back-references are not allowed")
            if op in _REPEATS:
                lo, hi, sub = av
                possessive = op is getattr(C, "POSSESSIVE_REPEAT", object())
                repeats = hi > 1 and not possessive  # (bounded ones too: `(.*a){12}` is degree 12)
                if in_unbounded and (lo != hi or self.any_varies(sub)) and not possessive:
                    raise _Refused("a repetition inside a repetition (like `(a+)+` or `(.*a){9}`) can take "
                                   "exponential time")
                self.check(sub, in_unbounded or repeats)
            elif op is C.SUBPATTERN:
                self.check(av[-1], in_unbounded)
            elif op is C.BRANCH:
                alts = av[1]
                if in_unbounded:
                    # (Python's parser factors common prefixes: `(a|ab)` arrives as `a(?:|b)`)
                    firsts = [self.first(alt) for alt in alts]
                    for i in range(len(alts)):
                        if self.nullable(alts[i]) or any(firsts[i] & firsts[j] for j in range(i + 1, len(alts))):
                            raise _Refused("alternatives that can match the same text inside a repetition "
                                           "(like `(a|ab)*`) can take exponential time")
                for alt in alts:
                    self.check(alt, in_unbounded)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                self.check(av[1], in_unbounded)
            elif op is getattr(C, "ATOMIC_GROUP", None):
                self.check(av, in_unbounded)
            elif op is C.GROUPREF_EXISTS:
                self.check(av[1], in_unbounded)
                if av[2]:
                    self.check(av[2], in_unbounded)

    def check_sequence(self, seq) -> None:
        """Three or more unbounded repetitions in a row (groups flattened) over overlapping characters."""
        reps = [self.chars(av[2]) for op, av in _flatten(seq)
                if op in _REPEATS and (av[1] is C.MAXREPEAT or av[1] > _UNBOUNDED_AT)
                and op is not getattr(C, "POSSESSIVE_REPEAT", object())]
        if len(reps) < 3:
            return
        for i in range(len(reps)):
            overlapping = [r for r in reps if r & reps[i]]
            if len(overlapping) >= 3:
                raise _Refused("three or more repetitions over the same characters (like `\\w*\\w*\\w*`) "
                               "can take polynomial time")


def _flatten(seq):
    for op, av in seq:
        if op is C.SUBPATTERN:
            yield from _flatten(av[-1])
        else:
            yield op, av


@lru_cache(maxsize=256)
def catastrophic_reason(pattern: str) -> str | None:
    """None if `pattern` is safe to match against names; otherwise why not (one short sentence).
    The pattern must compile (check with re.compile first)."""
    try:
        parsed = P.parse(pattern)
    except Exception:  # noqa: BLE001 - re.compile reports it
        return None
    flags = getattr(getattr(parsed, "state", None), "flags", 0) or 0
    walker = _Walker(ignore_case=bool(flags & C.SRE_FLAG_IGNORECASE))
    try:
        walker.check(list(parsed), False)
    except _Refused as exc:
        return str(exc)
    except RecursionError:
        return "too deeply nested"
    return None
