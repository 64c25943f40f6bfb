"""GL012 inference-tensor-escapes: true positives in several shapes, and the look-alikes that stay silent
(the catalogue's "not every use errors" cases)."""

from __future__ import annotations

import pytest

from ._lint import rows

PRE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

GL012_BAD = {
    "mul_with_leaf": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n"
                      "w = torch.randn(3, requires_grad=True)\ny = x * w\n", [5]),
    "alias_torch": ("import torch as T\nwith T.inference_mode():\n    x = T.randn(4, 3)\n"
                    "w = T.randn(3, requires_grad=True)\ny = w / x\n", [5]),
    "from_import": ("import torch\nfrom torch import inference_mode\nwith inference_mode():\n    x = torch.randn(4, 3)\n"
                    "w = torch.randn(3, 2, requires_grad=True)\ny = x @ w\n", [6]),
    "mse_target": (PRE + "teacher = nn.Linear(3, 2)\nstudent = nn.Linear(3, 2)\nwith torch.inference_mode():\n"
                   "    target = teacher(x)\nloss = F.mse_loss(student(x), target)\n", [8]),
    "cross_entropy_labels": (PRE + "with torch.inference_mode():\n    labels = torch.argmax(teacher_logits, 1)\n"
                             "loss = F.cross_entropy(model(x), labels)\n", [6]),
    "loss_module": (PRE + "crit = nn.MSELoss()\nwith torch.inference_mode():\n    t = torch.randn(4, 2)\n"
                    "loss = crit(model(x), t)\n", [7]),
    "linear_layer_input": (PRE + "layer = nn.Linear(3, 1)\nwith torch.inference_mode():\n    feats = torch.randn(4, 3) * 2\n"
                           "out = layer(feats)\n", [7]),
    "functional_linear": (PRE + "lin = nn.Linear(3, 1)\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n"
                          "out = F.linear(x, lin.weight)\n", [7]),
    "torch_mul": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\n"
                  "y = torch.mul(x, w)\n", [5]),
    "method_mul": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\n"
                   "y = w.mul(x)\n", [5]),
    "view_of_inference_tensor": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\n    row = x[0]\n"
                                 "w = torch.ones(3, requires_grad=True)\ny = row * w\n", [6]),
    "inplace_method": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf.add_(1)\n", [4]),
    "inplace_augassign": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf += 1\n", [4]),
    "inplace_setitem": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nbuf[0] = 1.0\n", [4]),
    "inplace_under_no_grad": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\nwith torch.no_grad():\n"
                              "    buf.copy_(torch.ones(3))\n", [5]),
    "requires_grad_method": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad_()\n", [4]),
    "requires_grad_attr": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad = True\n", [4]),
    "decorated_producer_param_operand": (
        "import torch\nfrom torch import nn\n@torch.inference_mode()\ndef embed(x):\n    return x * 2\n"
        "lin = nn.Linear(3, 1)\ne = embed(torch.randn(2, 3))\nout = lin(e)\n", [8]),
    "method_in_class_loop": (
        """
        import torch
        import torch.nn.functional as F
        class Distiller:
            def __init__(self, student, teacher):
                self.student = student
                self.teacher = teacher
            def fit(self, loader, model):
                for x in loader:
                    with torch.inference_mode():
                        target = self.teacher(torch.as_tensor(x))
                    loss = F.mse_loss(model(x), target)
                    loss.backward()
        """, [12]),
    "model_output_in_enabled_mode": (
        PRE + "with torch.inference_mode():\n    t = torch.randn(4, 2)\nout = model(x)\ny = out * t\n", [7]),
}

GL012_GOOD = {
    "add_saves_nothing": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\n(w + x - x).sum().backward()\n"),
    "cat_saves_nothing": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\ny = torch.cat([x, w])\n"),
    "metrics_and_reads": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "print(x.mean().item(), x * 2, (x == 1).sum())\nacc = x.tolist()\n"),
    "clone_after_block": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                          "w = torch.randn(3, requires_grad=True)\ny = x.clone() * w\n"),
    "rebound_clone": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx = x.clone()\n"
                      "w = torch.randn(3, requires_grad=True)\ny = x * w\nx.add_(1)\n"),
    "made_under_no_grad": ("import torch\nwith torch.no_grad():\n    x = torch.randn(3)\n"
                           "w = torch.randn(3, requires_grad=True)\ny = x * w\nx.add_(1)\n"),
    "used_under_no_grad": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                           "w = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    y = x * w\n"),
    "inplace_inside_later_inference_block": ("import torch\nwith torch.inference_mode():\n    buf = torch.zeros(3)\n"
                                             "with torch.inference_mode():\n    buf.add_(1)\n"),
    "no_grad_requiring_operand": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\n"
                                  "d = torch.randn(3)\ny = x * d\n"),
    "l1_and_kl_targets": (PRE + "student = nn.Linear(3, 2)\nwith torch.inference_mode():\n    t = torch.randn(4, 2)\n"
                          "a = F.l1_loss(student(x), t)\nb = F.kl_div(student(x), t)\n"),
    "view_of_normal_tensor": ("import torch\ndata = torch.randn(4, 3)\nwith torch.inference_mode():\n    row = data[0]\n"
                              "w = torch.randn(3, requires_grad=True)\ny = row * w\n"),
    "other_branch": ("import torch\nif cached:\n    with torch.inference_mode():\n        x = torch.randn(3)\nelse:\n"
                     "    x = torch.randn(3)\nw = torch.ones(3, requires_grad=True)\ny = x * w\n"),
    "unknown_function_result": ("import torch\nwith torch.inference_mode():\n    x = get_cached()\n"
                                "w = torch.ones(3, requires_grad=True)\ny = x * w\n"),
    "frozen_layer": (PRE + "layer = nn.Linear(3, 1)\nlayer.requires_grad_(False)\nwith torch.inference_mode():\n"
                     "    feats = torch.randn(4, 3) * 2\nout = layer(feats)\n"),
    "requires_grad_false": ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx.requires_grad_(False)\n"),
    "inference_use_inside_block": ("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.inference_mode():\n"
                                   "    x = torch.randn(3)\n    y = x * w\n    x.add_(1)\n"),
    "operand_of_unknown_provenance": (
        "import torch\n@torch.inference_mode()\ndef embed(x):\n    return x * 2\n"
        "def train(w, x):\n    e = embed(x)\n    return (e * w).sum()\n"),
    "other_function": ("import torch\ndef a():\n    with torch.inference_mode():\n        x = torch.randn(3)\n"
                       "def b(x, w):\n    return x * w\n"),
}


@pytest.mark.parametrize("name", sorted(GL012_BAD))
def test_gl012_true_positives(name):
    code, expected = GL012_BAD[name]
    assert rows("GL012", code) == expected


@pytest.mark.parametrize("name", sorted(GL012_GOOD))
def test_gl012_lookalikes_stay_silent(name):
    assert rows("GL012", GL012_GOOD[name]) == []


def test_gl012_copy_after_block_is_normal():
    code = ("import torch\nwith torch.inference_mode():\n    x = torch.randn(3)\nx = x.to('cuda')\n"
            "w = torch.ones(3, requires_grad=True)\ny = x * w\n")
    assert rows("GL012", code) == []


def test_gl012_views_and_detach_outside_stay_inference():
    code = ("import torch\nwith torch.inference_mode():\n    x = torch.randn(4, 3)\nv = x.view(12)\nd = x.detach()\n"
            "w = torch.ones(12, requires_grad=True)\ny = v * w\nz = d[0] * w[:3]\n")
    assert rows("GL012", code) == [7, 8]  # `d[0]`: a view of a detached inference tensor (verified: raises)


# Inference tensors kept in a list built in the block and read back as its elements (each verified on torch
# 2.13: "Inference tensors cannot be saved for backward").
GL012_LISTS = {
    "comprehension_zip_loop": ("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        batches = [torch.randn(8, 16) for _ in range(4)]
        with torch.inference_mode():
            teacher_logits = [teacher(xb) for xb in batches]
            soft_targets = [F.softmax(t / 2.0, dim=-1) for t in teacher_logits]
        for epoch in range(2):
            for xb, target in zip(batches, soft_targets):
                student_logp = F.log_softmax(student(xb) / 2.0, dim=-1)
                loss = -(target * student_logp).sum(dim=-1).mean()
                loss.backward()
    """, [13]),
    "comprehension_indexed": ("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        xs = [torch.randn(2, 4) for _ in range(2)]
        with torch.inference_mode():
            soft = [F.softmax(teacher(x), dim=-1) for x in xs]
        loss = -(soft[0] * F.log_softmax(student(xs[0]), -1)).sum()
        for i, x in enumerate(xs):
            loss = F.mse_loss(student(x), soft[i])
    """, [9, 11]),
    "append_in_block_zip_loop": ("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            soft = []
            for x in xs:
                soft.append(F.softmax(teacher(x), dim=-1))
        for x, t in zip(xs, soft):
            loss = F.mse_loss(student(x), t)
            loss.backward()
    """, [11]),
    "empty_list_before_block_enumerate": ("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        targets = []
        with torch.inference_mode():
            for x in xs:
                targets.append(teacher(x))
        for i, t in enumerate(targets):
            loss = F.mse_loss(student(xs[i]), t)
    """, [11]),
    "plain_for_over_the_list": ("""
        import torch
        with torch.inference_mode():
            feats = [encoder(x) for x in xs]
        w = torch.randn(3, requires_grad=True)
        for f in feats:
            (f * w).sum().backward()
    """, [7]),
}

GL012_LISTS_GOOD = {
    "advanced_indexing_of_an_inference_tensor_copies": """
        import torch
        with torch.inference_mode():
            x = torch.randn(4, 3)
        w = torch.ones(3, requires_grad=True)
        idx = torch.tensor([0, 1])
        y = x[idx] * w
        z = x[[0, 1]] * w
    """,
    "cloned_into_a_new_list": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            cached = [teacher(b) for b in batches]
        cached = [t.clone() for t in cached]
        for b, t in zip(batches, cached):
            loss = F.mse_loss(student(b), t)
    """,
    "appended_outside_the_block": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        targets = []
        for x in xs:
            targets.append(teacher(x))
        for x, t in zip(xs, targets):
            loss = F.mse_loss(student(x), t)
    """,
    "a_normal_tensor_appended_after": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            mixed = [teacher(x) for x in xs]
        mixed.append(torch.randn(2, 3))
        for x, m in zip(xs, mixed):
            loss = F.mse_loss(student(x), m)
    """,
    "generator_runs_outside": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            gen = (teacher(x) for x in xs)
        for x, g in zip(xs, gen):
            loss = F.mse_loss(student(x), g)
    """,
    "non_tensor_elements": """
        import torch
        with torch.inference_mode():
            scores = [teacher(x).argmax(1).tolist() for x in xs]
            means = [teacher(x).mean().item() for x in xs]
        w = torch.randn(3, requires_grad=True)
        for s, m in zip(scores, means):
            (w * m).sum().backward()
    """,
    "elements_used_in_add_and_metrics": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            emb = [encoder(x) for x in xs]
        for x, e in zip(xs, emb):
            out = student(x) + e
            loss = F.l1_loss(out, e)
            print((e.argmax(1) == 0).float().mean().item())
    """,
    "appended_in_a_branch_outside": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
        with torch.inference_mode():
            cache = [teacher(x) for x in xs]
        if refresh:
            cache.append(student(x).detach())
        for x, t in zip(xs, cache):
            loss = F.mse_loss(student(x), t)
    """,
}


@pytest.mark.parametrize("name", sorted(GL012_LISTS))
def test_gl012_inference_tensors_kept_in_a_list(name):
    code, expected = GL012_LISTS[name]
    assert rows("GL012", code) == expected


@pytest.mark.parametrize("name", sorted(GL012_LISTS_GOOD))
def test_gl012_list_lookalikes_stay_silent(name):
    assert rows("GL012", GL012_LISTS_GOOD[name]) == []
