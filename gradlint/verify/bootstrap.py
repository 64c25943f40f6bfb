"""Child-process entry point: run ONE fixture with `torch` bound to a backend and record what happened.

    python -m gradlint.verify.bootstrap BACKEND FIXTURE RESULT_JSON

BACKEND is ``engine`` (``import torch`` and every ``torch.X`` resolve to ``gradlint.runtime[.X]``; the
same module objects are registered under the ``torch...`` names and real PyTorch can never be
imported) or ``torch`` (real PyTorch). The fixture runs as ``__main__`` with ``sys.argv[0]`` and
``sys.path[0]`` set as ``python FIXTURE`` would set them. Its stdout/stderr go to the parent; the
outcome (exception, warnings, exit status) is written as JSON to RESULT_JSON. Observations are
parsed by the parent from stdout.

Fault injection (for tests that prove verification can fail): with the engine backend,
``GRADLINT_RUNTIME_FAULT=name[,name...]`` switches off engine checks before the fixture runs; see
:data:`FAULTS`.

This module must stay import-light: it imports neither libcst nor click nor the linter.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import runpy
import sys
import traceback
import warnings

ENGINE_PACKAGE = "gradlint.runtime"
FAULT_ENV = "GRADLINT_RUNTIME_FAULT"


# --------------------------------------------------------------------------------------------------
# the engine as `torch`


def _engine_name(fullname: str) -> str:
    return ENGINE_PACKAGE + fullname[len("torch"):]


def _is_torch_name(fullname: str) -> bool:
    return fullname == "torch" or fullname.startswith("torch.")


def _alias_loaded_engine_modules() -> None:
    """Register every already-imported gradlint.runtime[.X] module under torch[.X] too."""
    prefix = ENGINE_PACKAGE
    for name, module in list(sys.modules.items()):
        if module is None:
            continue
        if name == prefix or name.startswith(prefix + "."):
            alias = "torch" + name[len(prefix):]
            if not name.rsplit(".", 1)[-1].startswith("_") or alias == "torch":
                sys.modules.setdefault(alias, module)


class _AliasLoader(importlib.abc.Loader):
    """Hands out an already-imported engine module for a `torch...` name, keeping its own __spec__."""

    def __init__(self, module):
        self.module = module
        self.spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        # importlib's _init_module_attrs set __spec__ to the alias spec; give the engine module its own back.
        if self.spec is not None:
            try:
                module.__spec__ = self.spec
            except AttributeError:  # pragma: no cover
                pass


class EngineFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: owns every `torch` / `torch.X` name, so real PyTorch is never found."""

    def find_spec(self, fullname, path=None, target=None):
        if not _is_torch_name(fullname):
            return None
        target_name = _engine_name(fullname)
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == target_name or target_name.startswith(exc.name + ".")):
                raise ModuleNotFoundError(
                    f"No module named {fullname!r} ({fullname} is not supported by the gradlint runtime)",
                    name=fullname,
                ) from None
            raise
        _alias_loaded_engine_modules()
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), origin=getattr(module, "__file__", None))


def install_engine() -> object:
    """Bind `torch` to the engine in this process and return the engine's top-level module."""
    for name in list(sys.modules):
        if _is_torch_name(name):
            mod = sys.modules[name]
            mod_name = getattr(mod, "__name__", "") or ""
            if not (mod_name == ENGINE_PACKAGE or mod_name.startswith(ENGINE_PACKAGE + ".")):
                raise RuntimeError(f"real PyTorch ({name}) was imported before the engine could be installed")
    if not any(isinstance(f, EngineFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, EngineFinder())
    engine = importlib.import_module(ENGINE_PACKAGE)
    _alias_loaded_engine_modules()
    import torch  # noqa: F401  (through EngineFinder)

    assert sys.modules["torch"] is engine
    return engine


def real_torch_loaded() -> bool:
    """True if any module of real PyTorch is in this process."""
    for name, mod in list(sys.modules.items()):
        if mod is None or not (_is_torch_name(name) or name in ("functorch", "torchgen")):
            continue
        mod_name = getattr(mod, "__name__", "") or ""
        if not (mod_name == ENGINE_PACKAGE or mod_name.startswith(ENGINE_PACKAGE + ".")):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# fault injection: switch engine checks off to prove the fixtures notice


def _engine_modules():
    for mod_name in list(sys.modules):
        if mod_name == ENGINE_PACKAGE or mod_name.startswith(ENGINE_PACKAGE + "."):
            mod = sys.modules[mod_name]
            if mod is not None:
                yield mod_name, mod


def _fault_no_leaf_check(engine) -> None:
    """In-place ops on leaves (and views of leaves) that require grad no longer raise.

    The engine funnels every in-place write through one check function (`_check_inplace`); it is
    replaced, in every engine module that holds a reference to it, by one that keeps only the
    inference-tensor check."""
    from gradlint.runtime import _errors as E

    def no_leaf_check(t, *args, **kwargs):
        if getattr(t, "_inference", False):
            core = sys.modules.get(ENGINE_PACKAGE + "._core")
            mode = getattr(core, "_mode", None)
            if mode is not None and not getattr(mode, "inference", False):
                raise RuntimeError(E.INFERENCE_INPLACE)

    patched = []
    for mod_name, mod in _engine_modules():
        for attr in ("_check_inplace", "check_inplace"):
            if callable(mod.__dict__.get(attr)):  # not getattr: engine modules raise for unknown names
                setattr(mod, attr, no_leaf_check)
                patched.append(f"{mod_name}.{attr}")
    if not patched:
        raise RuntimeError("fault no-leaf-check: found no _check_inplace in the engine to patch")


def _fault_no_version_bump(engine) -> None:
    """In-place ops no longer bump version counters, so the saved-tensor check never fires."""
    for mod_name, mod in _engine_modules():
        cls = mod.__dict__.get("_Version")
        if not isinstance(cls, type):
            continue
        bump = cls.__dict__.get("bump")
        if callable(bump):
            cls.bump = lambda self, *a, **k: None  # type: ignore[attr-defined]
            return
        slot = cls.__dict__.get("value")
        if slot is not None and hasattr(slot, "__set__"):

            class _FrozenValue:
                """The first assignment (the counter's creation) sticks; increments are dropped."""

                def __get__(self, obj, owner=None):
                    return self if obj is None else slot.__get__(obj, owner)

                def __set__(self, obj, value):
                    try:
                        slot.__get__(obj, type(obj))
                    except AttributeError:
                        slot.__set__(obj, value)

            cls.value = _FrozenValue()
            return
    raise RuntimeError("fault no-version-bump: found no _Version counter in the engine to patch")


FAULTS = {
    "no-leaf-check": _fault_no_leaf_check,
    "no-version-bump": _fault_no_version_bump,
}


def apply_faults(engine, spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name not in FAULTS:
            raise RuntimeError(f"unknown {FAULT_ENV} fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        FAULTS[name](engine)
    return names


# --------------------------------------------------------------------------------------------------
# running the fixture


class _WarningRecorder:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self._orig = warnings.showwarning

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        self.records.append(
            {
                "category": getattr(category, "__name__", str(category)),
                "message": str(message),
                "filename": str(filename),
                "lineno": int(lineno or 0),
            }
        )
        try:
            self._orig(message, category, filename, lineno, file, line)
        except Exception:  # pragma: no cover
            pass


def _exception_record(exc: BaseException) -> dict:
    message = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        message = repr(exc.args[0])
    lines = message.splitlines()
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": message,
        "first_line": lines[0] if lines else "",
    }


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m gradlint.verify.bootstrap engine|torch FIXTURE RESULT_JSON", file=sys.stderr)
        return 2
    backend, fixture, result_path = argv[1], os.path.abspath(argv[2]), argv[3]
    result: dict = {
        "backend": backend,
        "status": "backend-error",
        "exception": None,
        "warnings": [],
        "exit_code": 0,
        "faults": [],
        "torch_module": None,
        "real_torch_loaded": None,
        "error": None,
    }

    def write() -> None:
        with open(result_path, "w", encoding="utf-8") as fh:
            json.dump(result, fh)

    # 1. the backend, imported before recording so that import-time noise is not the fixture's
    try:
        if backend == "engine":
            engine = install_engine()
            fault = os.environ.get(FAULT_ENV, "")
            if fault:
                result["faults"] = apply_faults(engine, fault)
        elif backend == "torch":
            if os.environ.get(FAULT_ENV):
                raise RuntimeError(f"{FAULT_ENV} only applies to the engine backend")
            import torch  # noqa: F401
        else:
            raise RuntimeError(f"unknown backend {backend!r}")
    except BaseException as exc:  # noqa: BLE001
        result["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        write()
        return 0

    import torch as bound_torch

    result["torch_module"] = getattr(bound_torch, "__name__", None)
    result["torch_version"] = str(getattr(bound_torch, "__version__", ""))

    # 2. the fixture, as `python FIXTURE` would run it
    recorder = _WarningRecorder()
    warnings.simplefilter("always")
    warnings.showwarning = recorder
    sys.argv = [fixture]
    sys.path[0] = os.path.dirname(fixture)
    status = "ok"
    try:
        runpy.run_path(fixture, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None or code == 0:
            status = "ok"
        else:
            status = "exit"
            result["exit_code"] = code if isinstance(code, int) else 1
    except BaseException as exc:  # noqa: BLE001
        status = "exception"
        result["exception"] = _exception_record(exc)
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            pass
    warnings.showwarning = recorder._orig
    result["status"] = status
    result["warnings"] = recorder.records
    result["real_torch_loaded"] = real_torch_loaded() if backend == "engine" else None
    if backend == "engine" and result["real_torch_loaded"]:
        result["status"] = "backend-error"
        result["error"] = "real PyTorch was imported while running on the engine"
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
