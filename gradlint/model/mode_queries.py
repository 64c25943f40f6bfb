"""The train/eval mode of models, asked of the switches and calls the walk recorded (part of `SemanticModel`).

`model.eval()` / `model.train()` / `model.train(flag)` are `ModeSwitch` facts; a call of a function of the file
that switches (its `mode_effect`), or of another file's helper (its summary's `effect`), decides a mode too.
`last_mode_event(fn, before)` is the last event of `fn`'s own body before a point that decides it (for one
model, passing over switches known to be of another: `other_model`); `eval_mode_at`, `sets_eval`,
`mode_effect` and `left_in_eval_from` are built on it. `model.train(was_training)` restores the mode the model
had: it decides nothing.
"""

from __future__ import annotations

from gradlint.model.facts import FunctionInfo, ImportedCall, LocalCall, ModeSwitch


class ModeQueries:
    def left_in_eval_from(self, receiver: str) -> int | None:
        """Where the module's top level puts the model `receiver` (a name of the top level) in eval mode for
        good: the sequence point of its first `receiver.eval()` there, when nothing in the file can put it
        back in train mode — no `train()` / `train(flag)` of it at the top level, none of any model in a
        function (a helper handed it), no imported helper that sets train mode. None otherwise."""
        first = min((sw.seq for sw in self.switches
                     if sw.function is None and sw.kind == "eval" and sw.receiver == receiver), default=None)
        if first is None:
            return None
        if any(sw.kind != "eval" and (sw.function is not None or sw.receiver == receiver) for sw in self.switches):
            return None
        if any(ext.effect is False for ext in self.external.callees.values()):
            return None
        return first

    def runs_after(self, fn: FunctionInfo, seq: int, _seen: set[int] | None = None) -> bool:
        """Does every run of `fn` come after sequence point `seq` of the module's top level? Each call of it
        in the file is at the top level after `seq`, or in a function of which the same holds; a function no
        code of the file calls runs after the whole top level (a notebook's later cell, an importer)."""
        seen = _seen if _seen is not None else set()
        if id(fn) in seen:
            return True  # (recursion: the other callers decide)
        seen.add(id(fn))
        for site in self.call_sites(fn):
            caller = site.function
            if caller is None:
                if site.seq <= seq:
                    return False
            elif not self.runs_after(caller, seq, seen):
                return False
        return True

    def sets_eval(self, fn: FunctionInfo | None, before: int | None = None, _seen: set[int] | None = None,
                  model: tuple[str, FunctionInfo | None] | None = None) -> bool:
        """Does fn (None: the module's top level) put a model in eval mode (itself, or through a helper of
        this file it calls) before sequence point `before`? With `model` (a receiver and the function that
        spells it), a switch (of `fn` or of a helper of this file) counts only when its receiver may be that
        model (not `student.eval()` for `teacher`); an imported function's always counts."""
        seen = _seen if _seen is not None else set()
        if id(fn) in seen:
            return False
        seen.add(id(fn))
        if model is None:
            seqs = fn.eval_seqs if fn is not None else self.module_eval_seqs
            if any(before is None or s < before for s in seqs):
                return True
        elif any(sw.kind != "train" and (before is None or sw.seq < before)
                 and not self.other_model(sw.receiver, fn, *model) for sw in self._switches_of.get(id(fn), ())):
            return True
        for call in self._calls_by_fn.get(id(fn), ()):
            if before is not None and call.seq >= before:
                continue
            for callee in self.functions_named(call.name):
                if self.sets_eval(callee, None, seen, model):
                    return True
        if self.external.callees:
            for icall in self._imported_by_fn.get(id(fn), ()):
                ext = self.external.callees.get(icall.target)
                # (an imported helper that leaves the model in eval mode; one that restores the mode it
                # found does not count)
                if ext is not None and ext.effect is True and (before is None or icall.seq < before):
                    return True
        return False

    def mode_effect(self, fn: FunctionInfo, _seen: set[int] | None = None) -> bool | None:
        """The train/eval mode a call of `fn` leaves a model in: True after `model.eval()` (its own, or a
        helper's it calls last), False after `model.train()`, None when it switches nothing."""
        key = id(fn)
        if key in self._mode_effects:
            return self._mode_effects[key]
        seen = _seen if _seen is not None else set()
        if key in seen:
            return None
        seen.add(key)
        result = self._last_switch(fn, None, seen)
        self._mode_effects[key] = result
        return result

    def eval_mode_at(self, fn: FunctionInfo | None, before: int,
                     model: tuple[str, FunctionInfo | None] | None = None) -> bool | None:
        """Is a model in eval mode at sequence point `before` of `fn` (None: the module's top level), as
        far as the switches and the calls of that scope before it tell? True / False, None: nothing there.
        `model`: that model (a receiver, the function that spells it; see `last_mode_event`)."""
        found = self.last_mode_event(fn, before, None if model is None else set(), model)
        return found[0] if found is not None else None

    def _last_switch(self, fn: FunctionInfo | None, before: int | None, seen: set[int]) -> bool | None:
        found = self.last_mode_event(fn, before, seen)
        return found[0] if found is not None else None

    def last_mode_event(self, fn: FunctionInfo | None, before: int | None, _seen: set[int] | None = None,
                        model: tuple[str, FunctionInfo | None] | None = None,
                        ) -> tuple[bool, ModeSwitch | LocalCall] | None:
        """The last event of `fn`'s own body (None: the module's top level) before `before` that decides a
        model's train/eval mode — a switch, or a call of a helper that switches — and whether it leaves eval.
        `model` (a receiver, the function that spells it): the switches known to be of another model
        (`other_model`) are passed over, in `fn` and in the helpers it calls (`evaluate(student, teacher)` that
        switches only `student`, asked for `teacher`)."""
        seen = _seen if _seen is not None else set()
        for seq, event, callees in self._mode_events(fn):
            if before is not None and seq >= before:
                continue
            if type(event) is ModeSwitch:
                if model is not None and self.other_model(event.receiver, event.function, *model):
                    continue
                if event.kind == "restore":
                    return None  # `model.train(was_training)`: back to the mode it was in before, not decided here
                return event.kind != "train", event
            if type(event) is ImportedCall:
                return self.external.callees[event.target].effect, event
            for callee in callees:
                if model is None:
                    effect = self.mode_effect(callee, seen)
                elif id(callee) in seen:
                    continue
                else:
                    found = self.last_mode_event(callee, None, seen | {id(fn)}, model)
                    effect = found[0] if found is not None else None
                if effect is not None:
                    return effect, event
        return None

    def _mode_events(self, fn: FunctionInfo | None) -> list[tuple[int, ModeSwitch | LocalCall | ImportedCall, list[FunctionInfo]]]:
        """The events of `fn`'s own body that may decide a model's mode, last first: its switches, its calls
        of functions of the file (with those functions), its calls of imported helpers that switch. Built once
        per function (GL004 and the summary ask at every evaluation and every imported call)."""
        key = id(fn)
        found = self._mode_events_of.get(key)
        if found is not None:
            return found
        events: list[tuple[int, ModeSwitch | LocalCall | ImportedCall, list[FunctionInfo]]] = [(s.seq, s, []) for s in self._switches_of.get(key, ())]
        for c in self._calls_by_fn.get(key, ()):
            callees = [g for g in self.functions_named(c.name) if g is not fn]
            if callees:
                events.append((c.seq, c, callees))
        if self.external.callees:
            for c in self._imported_by_fn.get(key, ()):
                ext = self.external.callees.get(c.target)
                if ext is not None and ext.effect is not None:
                    events.append((c.seq, c, []))
        events.sort(key=lambda e: e[0], reverse=True)
        self._mode_events_of[key] = events
        return events
