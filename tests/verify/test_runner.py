"""The runner: fresh subprocesses, `torch` bound to the engine (never real torch) or to real PyTorch."""

from __future__ import annotations

import textwrap

import pytest

from gradlint.fixtures import FIXTURES_DIR
from gradlint.verify.check import values_match
from gradlint.verify.runner import (
    Outcome,
    parse_observations,
    run_fixture,
    strip_triggered,
    unique_warnings,
)

SGD_BAD = FIXTURES_DIR / "gl001_inplace_on_leaf" / "bad_manual_sgd_param_loop.py"
REBIND_WARN = FIXTURES_DIR / "gl002_rebind_loses_grad" / "bad_rebind_standalone_outside_no_grad.py"
LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


def write(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------- parsing


def test_parse_observations_literals_strings_and_last_wins():
    out = "\n".join(
        [
            "hello",
            "observe: a=True",
            "observe: b = [1.0, 2.5]",
            "observe: c=AddmmBackward0",
            "observe: d=None",
            "observe: a=False",
            "  observe: e='quoted'",
            "not observe: f=1",
        ]
    )
    assert parse_observations(out) == {"a": False, "b": [1.0, 2.5], "c": "AddmmBackward0", "d": None, "e": "quoted"}


def test_strip_triggered_suffix():
    msg = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. See x for more information."
           " (Triggered internally at /pytorch/build/aten/src/ATen/core/TensorBody.h:491.)")
    assert strip_triggered(msg) == "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. See x for more information."
    assert strip_triggered("plain message") == "plain message"


def test_unique_warnings_keep_first_seen_order_and_count():
    recs = [
        {"category": "UserWarning", "message": "b (Triggered internally at x.cpp:1.)"},
        {"category": "UserWarning", "message": "a"},
        {"category": "UserWarning", "message": "b"},
    ]
    ws = unique_warnings(recs)
    assert [(w.category, w.message, w.count) for w in ws] == [("UserWarning", "b", 2), ("UserWarning", "a", 1)]


def test_values_match_tolerance_and_types():
    assert values_match(0.1966119259595871, 0.19661194)
    assert values_match([1.0, [2.0, 3.0]], [1.0, [2.0, 3.0000001]])
    assert not values_match(2000.0, 20.0)
    assert not values_match(True, 1)  # a boolean observation is not a number
    assert not values_match(1, 1.5)
    assert values_match(None, None) and not values_match(None, 0)
    assert values_match("AddBackward0", "AddBackward0") and not values_match("AddBackward0", "SubBackward0")
    assert values_match(float("nan"), float("nan"))


def test_outcome_round_trips_through_dict():
    o = run_fixture(SGD_BAD, "engine")
    assert Outcome.from_dict(o.to_dict()) == o


# ------------------------------------------------------------------------------------------------- engine


def test_engine_records_exception_and_observations():
    o = run_fixture(SGD_BAD, "engine")
    assert o.status == "exception", o.stderr
    assert o.exception.type == "RuntimeError"
    assert o.exception.message == LEAF_MSG and o.exception.first_line == LEAF_MSG
    assert o.observations["loss_is_finite"] is True
    assert "finished_training" not in o.observations  # the program died before printing it
    assert o.torch_module == "gradlint.runtime"
    assert o.describe() == f"RuntimeError: {LEAF_MSG}"


def test_engine_records_warnings():
    o = run_fixture(REBIND_WARN, "engine")
    assert o.status == "exception" and o.exception.type == "TypeError"
    assert [w.category for w in o.warnings] == ["UserWarning"]
    assert o.warnings[0].message.startswith("The .grad attribute of a Tensor that is not a leaf Tensor")
    assert "Triggered internally" not in o.warnings[0].message


def test_engine_binds_every_torch_name_to_the_engine_and_never_loads_real_torch(tmp_path):
    prog = write(
        tmp_path,
        "probe.py",
        """
        import sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader
        import torch.optim
        import gradlint.runtime as rt
        import gradlint.runtime.nn.functional
        print(f"observe: torch_is_engine={torch is rt}")
        print(f"observe: nn_is_engine={nn is rt.nn and sys.modules['torch.nn'] is rt.nn}")
        print(f"observe: functional_is_engine={F is sys.modules['gradlint.runtime.nn.functional']}")
        print(f"observe: same_module_under_both_names={sys.modules['torch.nn.functional'] is F}")
        print(f"observe: engine_keeps_its_name={torch.__name__}")
        print(f"observe: engine_keeps_its_spec={torch.__spec__.name}")
        print(f"observe: argv0_is_fixture={sys.argv[0] == __file__}")
        print(f"observe: path0_is_fixture_dir={sys.path[0] == __import__('os').path.dirname(__file__)}")
        print(f"observe: name={__name__}")
        try:
            import torch._C
        except ImportError as exc:
            print(f"observe: private_import_error={type(exc).__name__}")
        real = [m for m, mod in sys.modules.items() if m.split('.')[0] in ('torch', 'functorch')
                and not getattr(mod, '__name__', '').startswith('gradlint.runtime')]
        print(f"observe: real_torch_modules={real}")
        """,
    )
    o = run_fixture(prog, "engine")
    assert o.status == "ok", o.stderr
    assert o.observations == {
        "torch_is_engine": True,
        "nn_is_engine": True,
        "functional_is_engine": True,
        "same_module_under_both_names": True,
        "engine_keeps_its_name": "gradlint.runtime",
        "engine_keeps_its_spec": "gradlint.runtime",
        "argv0_is_fixture": True,
        "path0_is_fixture_dir": True,
        "name": "__main__",
        "private_import_error": "ModuleNotFoundError",
        "real_torch_modules": [],
    }


def test_engine_unsupported_submodule_is_a_clear_import_error(tmp_path):
    prog = write(tmp_path, "func.py", "import torch\nfrom torch.func import functional_call\n")
    o = run_fixture(prog, "engine")
    assert o.status == "exception"
    assert o.exception.type == "ModuleNotFoundError"
    assert "not supported by the gradlint runtime" in o.exception.message


def test_exit_status_and_system_exit(tmp_path):
    ok = run_fixture(write(tmp_path, "ok.py", "import torch\nimport sys\nsys.exit(0)\n"), "engine")
    assert ok.status == "ok"
    bad = run_fixture(write(tmp_path, "bad.py", "import torch\nimport sys\nsys.exit(3)\n"), "engine")
    assert bad.status == "exit" and bad.exit_code == 3


def test_timeout(tmp_path):
    prog = write(tmp_path, "slow.py", "import torch, time\nprint('observe: started=True', flush=True)\ntime.sleep(30)\n")
    o = run_fixture(prog, "engine", timeout=2)
    assert o.status == "timeout"
    assert "2s" in o.error


def test_unknown_fault_is_a_backend_error():
    o = run_fixture(SGD_BAD, "engine", fault="no-such-fault")
    assert o.status == "backend-error"
    assert "unknown GRADLINT_RUNTIME_FAULT fault" in o.error


def test_fault_no_leaf_check_removes_the_error():
    o = run_fixture(SGD_BAD, "engine", fault="no-leaf-check")
    assert o.faults == ["no-leaf-check"]
    assert o.status == "ok", o.describe()


def test_fault_needs_engine_backend():
    with pytest.raises(ValueError):
        run_fixture(SGD_BAD, "torch", fault="no-leaf-check")


def test_unknown_backend():
    with pytest.raises(ValueError):
        run_fixture(SGD_BAD, "jax")


# ------------------------------------------------------------------------------------------------- real torch


@pytest.mark.torch
def test_torch_backend_records_the_same_outcome():
    pytest.importorskip("torch")
    o = run_fixture(SGD_BAD, "torch")
    assert o.status == "exception", o.stderr
    assert (o.exception.type, o.exception.message) == ("RuntimeError", LEAF_MSG)
    assert o.torch_module == "torch" and o.torch_version.startswith("2.")


@pytest.mark.torch
def test_torch_backend_strips_triggered_internally():
    pytest.importorskip("torch")
    o = run_fixture(REBIND_WARN, "torch")
    assert len(o.warnings) == 1
    assert o.warnings[0].message.endswith("See github.com/pytorch/pytorch/pull/30531 for more information.")
