"""GL020 grad-mode-bare-call: true positives in several shapes, and the look-alikes that stay silent."""

from __future__ import annotations

import pytest

from ._lint import rows

GL020_BAD = {
    "bare_no_grad": ("import torch\ndef evaluate(model, x):\n    torch.no_grad()\n    return model(x)\n", [3]),
    "bare_no_grad_module_level": ("import torch\ntorch.no_grad()\ny = model(x)\n", [2]),
    "alias": ("import torch as T\nT.inference_mode()\n", [2]),
    "from_import": ("from torch import no_grad, enable_grad\nno_grad()\nenable_grad()\n", [2, 3]),
    "autograd_path": ("import torch\ntorch.autograd.no_grad()\n", [2]),
    "inference_mode_false_arg": ("import torch\ntorch.inference_mode(False)\n", [2]),
    "method_in_class": (
        """
        import torch
        class Evaluator:
            def run(self, loader):
                torch.no_grad()
                for x in loader:
                    self.model(x)
        """, [5]),
    "set_grad_enabled_in_helper": ("import torch\ndef setup(model):\n    torch.set_grad_enabled(False)\n    model.eval()\n", [3]),
    "set_grad_enabled_kwarg": ("import torch\ndef setup(model):\n    torch.set_grad_enabled(mode=False)\n", [3]),
    "set_grad_enabled_top_level_training_file": (
        "import torch as T\nT.set_grad_enabled(False)\nloss = model(x).sum()\nloss.backward()\n", [2]),
    "set_grad_enabled_restored_after_training": (
        "import torch\ntorch.set_grad_enabled(False)\nw = torch.randn(2, requires_grad=True)\n(w * 3).sum().backward()\n"
        "torch.set_grad_enabled(True)\n", [2]),
    "set_grad_enabled_in_nested_function": (
        "import torch\ndef outer():\n    def inner():\n        torch.set_grad_enabled(False)\n    inner()\n", [4]),
    "set_grad_enabled_in_loop_with_training": (
        "import torch\nfor epoch in range(3):\n    torch.set_grad_enabled(False)\n    validate()\n"
        "opt = torch.optim.SGD(params, lr=0.1)\n", [3]),
    "main_of_training_script": (
        "import torch\ndef main():\n    torch.set_grad_enabled(False)\n    opt.step()\nif __name__ == '__main__':\n    main()\n", [3]),
}

GL020_GOOD = {
    "with_blocks": "import torch\nwith torch.no_grad():\n    pass\nwith torch.inference_mode():\n    pass\n",
    "decorators": "import torch\n@torch.no_grad()\ndef f(x):\n    return x\n@torch.no_grad\ndef g(x):\n    return x\n",
    "direct_call_form": "import torch\ntorch.no_grad()(fn)\nf = torch.no_grad()\n",
    "set_grad_enabled_true": "import torch\ntorch.set_grad_enabled(True)\n",
    "set_grad_enabled_variable": "import torch\ndef step(self, train):\n    torch.set_grad_enabled(train)\n    loss.backward()\n",
    "paired_in_function": (
        "import torch\ndef validate(model, x):\n    torch.set_grad_enabled(False)\n    out = model(x)\n"
        "    torch.set_grad_enabled(True)\n    return out\nloss.backward()\n"),
    "restored_to_previous": (
        "import torch\ndef validate(model, x):\n    prev = torch.is_grad_enabled()\n    torch.set_grad_enabled(False)\n"
        "    out = model(x)\n    torch.set_grad_enabled(prev)\n    return out\nopt.step()\n"),
    "inference_script_top_level": "import torch\ntorch.set_grad_enabled(False)\nmodel = load()\nprint(model(x))\n",
    "inference_script_main_guard": (
        "import torch\nif __name__ == '__main__':\n    torch.set_grad_enabled(False)\n    print(model(x))\n"),
    "inference_script_main_function": (
        "import torch\ndef main():\n    torch.set_grad_enabled(False)\n    print(model(x))\nif __name__ == '__main__':\n    main()\n"),
    "inference_script_entry_called_at_top": (
        "import torch\ndef run_demo():\n    torch.set_grad_enabled(False)\n    print(model(x))\nrun_demo()\n"),
    "with_set_grad_enabled": "import torch\nwith torch.set_grad_enabled(False):\n    pass\nloss.backward()\n",
    "context_manager_enter": (
        "import torch\nclass no_grad_cm:\n    def __enter__(self):\n        self.prev = torch.is_grad_enabled()\n"
        "        torch.set_grad_enabled(False)\n    def __exit__(self, *exc):\n        torch.set_grad_enabled(self.prev)\n"
        "loss.backward()\n"),
    "setup_teardown": (
        "import torch\nimport unittest\nclass T(unittest.TestCase):\n    def setUp(self):\n        torch.set_grad_enabled(False)\n"
        "    def tearDown(self):\n        torch.set_grad_enabled(True)\n    def test_x(self):\n        opt.step()\n"),
    "other_library_call": "import torch\nimport contextlib\ncontextlib.nullcontext()\nis_grad_enabled()\n",
}


@pytest.mark.parametrize("name", sorted(GL020_BAD))
def test_gl020_true_positives(name):
    code, expected = GL020_BAD[name]
    assert rows("GL020", code) == expected


@pytest.mark.parametrize("name", sorted(GL020_GOOD))
def test_gl020_lookalikes_stay_silent(name):
    assert rows("GL020", GL020_GOOD[name]) == []


def test_global_off_in_inference_script_with_explicit_enable_grad_saliency_is_silent():
    code = """
        import torch
        torch.set_grad_enabled(False)
        model = load()
        print(model(x))
        def saliency(model, image):
            with torch.enable_grad():
                image = image.clone().requires_grad_(True)
                model(image).sum().backward()
            return image.grad
        """
    assert rows("GL020", code) == []


def test_global_off_then_training_outside_enable_grad_still_flagged():
    code = """
        import torch
        torch.set_grad_enabled(False)
        def train(model, x):
            with torch.enable_grad():
                pass
            model(x).sum().backward()
        """
    assert rows("GL020", code) == [3]
