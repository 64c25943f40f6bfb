"""GL021 optimizer-stale-params: a submodule / parameter replaced after an optimizer captured the model's
parameters, and the look-alikes that stay silent (catalogue Part C, NEW_N6)."""

from __future__ import annotations

import pytest

from ._lint import rows

BAD = {
    "sequential_item": (
        """
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model[2] = nn.Linear(8, 3)
        for x, y in loader:
            opt.step()
        """, [6]),
    "attribute_from_import_optim": (
        """
        from torch import nn, optim
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        model.fc = nn.Linear(512, 10)
        train(model, optimizer)
        """, [4]),
    "optim_module_alias": (
        """
        import torch.optim as optim
        import torch.nn as nn
        def finetune(model, loader):
            optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            model.classifier[6] = nn.Linear(4096, 2)
            for x, y in loader:
                optimizer.zero_grad()
                optimizer.step()
        """, [6]),
    "parameter_replaced": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(layer.parameters(), lr=0.1)
        layer.weight = nn.Parameter(torch.zeros(2, 4))
        opt.step()
        """, [5]),
    "params_through_a_name": (
        """
        import torch
        import torch.nn as nn
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        model.head = nn.Linear(768, 5)
        opt.step()
        """, [6]),
    "param_group_dicts": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters(), "lr": 1e-2}], lr=1e-3)
        model.head = nn.Linear(512, 3)
        opt.step()
        """, [5]),
    "method_self_model": (
        """
        import torch
        import torch.nn as nn
        class Finetuner:
            def setup(self, n_classes):
                self.optimizer = torch.optim.Adam(self.model.parameters())
                self.model.fc = nn.Linear(2048, n_classes)
                return self.optimizer
        """, [7]),
    "swap_inside_epoch_loop": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(10):
            for x, y in loader:
                opt.step()
            if epoch == 5:
                model.head = nn.Linear(8, 3)
        """, [9]),
    "ctor_bound_to_name_and_local_class": (
        """
        import torch
        import torch.nn as nn
        class Head(nn.Module):
            def forward(self, x):
                return x
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        head = nn.Linear(8, 3)
        model.fc = head
        model.extra = Head()
        opt.step()
        """, [9, 10]),
    "sequential_with_parameters": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 3))
        opt.step()
        """, [5]),
}

GOOD = {
    "optimizer_after_swap": (
        """
        import torch
        import torch.nn as nn
        model.fc = nn.Linear(512, 10)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.step()
        """),
    "model_to_keeps_identity": (
        """
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.to(torch.float64)
        model.fc = model.fc.to(device)
        model = model.cuda()
        opt.step()
        """),
    "parameter_free_swap": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.fc = nn.Identity()
        model.act = nn.ReLU()
        model.tail = nn.Sequential(nn.Dropout(0.1), nn.Flatten())
        opt.step()
        """),
    "different_model": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        teacher.fc = nn.Linear(8, 3)
        opt.step()
        """),
    "other_submodule": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.backbone.parameters(), lr=0.1)
        model.head = nn.Linear(8, 3)
        opt.step()
        """),
    "add_param_group": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.fc = nn.Linear(8, 3)
        opt.add_param_group({"params": model.fc.parameters()})
        opt.step()
        """),
    "optimizer_not_used_after": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt)
        model.fc = nn.Linear(8, 3)
        torch.save(model.state_dict(), "m.pt")
        """),
    "optimizer_rebuilt_by_helper": (
        """
        import torch
        import torch.nn as nn
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.fc = nn.Linear(8, 3)
        opt = make_optimizer(model)
        opt.step()
        """),
    "rebuilt_each_stage": (
        """
        import torch
        import torch.nn as nn
        for n_classes in (10, 100):
            model.fc = nn.Linear(512, n_classes)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            opt.step()
        """),
    "different_functions": (
        """
        import torch
        import torch.nn as nn
        def build(model):
            return torch.optim.SGD(model.parameters(), lr=0.1)
        def swap(model):
            model.fc = nn.Linear(8, 3)
        """),
    "modules_in_init": (
        """
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.head = nn.Linear(2, 1)
        """),
    "scheduler_is_not_an_optimizer": (
        """
        import torch
        import torch.nn as nn
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        model.fc = nn.Linear(8, 3)
        sched.step()
        """),
}


@pytest.mark.parametrize("name", BAD)
def test_bad(name):
    snippet, expected = BAD[name]
    assert rows("GL021", snippet) == expected


@pytest.mark.parametrize("name", GOOD)
def test_good(name):
    assert rows("GL021", GOOD[name]) == []


def test_off_by_default_and_message():
    import textwrap

    from gradlint.linter import lint_source
    from gradlint.rules import get_rule
    from gradlint.settings import Settings

    rule = get_rule("GL021")
    assert rule.default_enabled is False and "## Why it is off by default" in rule.docs
    res = lint_source(textwrap.dedent(BAD["sequential_item"][0]), "train.py", Settings(selected=frozenset({"GL021"})))
    (d,) = res.diagnostics
    assert "`model[2]`" in d.message and "`opt`" in d.message and "never updates them" in d.message
