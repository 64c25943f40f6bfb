"""The training facts (`gradlint.model.training`): optimizers and what they captured, steps resolved to
their optimizer, backward passes, gradient resets, and the one definition of a training loop the rules
share (GL004, GL005, GL007, GL013, GL016)."""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import Kind, build_model
from gradlint.model.ext_training import TrainingFacts
from gradlint.model.project_facts import ExtCallee, ExternalFacts
from gradlint.settings import RuleOptions
from tests.rules._lint import rows


def model_of(code: str, external: ExternalFacts | None = None, extensions=()):
    src = textwrap.dedent(code)
    return build_model(cst.parse_module(src), RuleOptions(), "train.py", extensions=extensions, source=src,
                       external=external)


def fn(model, name):
    return next(f for f in model.functions if f.name == name)


def loop_at(model, line_text: str):
    """The loop whose header is `line_text` (stripped)."""
    for lp in model.loops:
        header = model.module.code_for_node(lp.node).splitlines()[0].strip()
        if header == line_text:
            return lp
    raise AssertionError(f"no loop {line_text!r}")


# ------------------------------------------------------------------ optimizers


def test_optimizer_records_its_binding_what_it_captured_and_its_groups():
    m = model_of("""
        import torch
        import torch.nn as nn
        class Trainer:
            def __init__(self, net):
                self.net = nn.Linear(2, 2)
                params = list(self.net.parameters())
                self.optimizer = torch.optim.Adam(params, lr=1e-3)
        model = nn.Linear(2, 2)
        head = nn.Linear(2, 2)
        opt = torch.optim.SGD([{"params": model.parameters()}, {"params": head.parameters(), "lr": 0.1}])
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    """)
    assert [o.var for o in m.optimizers] == ["self.optimizer", "opt"]
    first, second = m.optimizers
    assert first.qname == "torch.optim.Adam" and first.receivers == {"self.net"}  # through the name `params`
    assert first.function is fn(m, "__init__")
    assert second.receivers == {"model", "head"} and second.groups == 2 and second.function is None
    assert first.params.kind is Kind.PARAMS and "self.net" in first.params.origin  # the evaluator's `params`
    assert m.training.schedulers == {"sched"}  # a scheduler is not an optimizer


def test_optimizer_value_comes_from_the_evaluator():
    m = model_of("""
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
    """)
    (opt,) = m.optimizers
    assert opt.params.kind is Kind.PARAMS and "model" in opt.params.origin


def test_optimizer_in_a_loop_names_its_leaves():
    m = model_of("""
        import torch
        for i in range(3):
            x = torch.randn(2, requires_grad=True)
            opt = torch.optim.SGD([x], lr=0.1)
    """)
    (opt,) = m.optimizers
    assert opt.param_names == ("x",) and len(opt.loops) == 1


# ------------------------------------------------------------------ steps, backward passes, resets


def test_step_resolves_its_optimizer_and_skips_schedulers_and_modules():
    m = model_of("""
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 2)
        learner = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(learner, 10)
        scaler = torch.cuda.amp.GradScaler()
        for x in data:
            model(x).sum().backward()
            learner.step()
            scaler.step(learner)
            sched.step()
            env.step(0)
            trainer.step()
    """)
    steps = {s.receiver: s for s in m.steps}
    assert set(steps) == {"learner", "scaler", "sched", "trainer"}  # env.step(action) is not a step
    assert steps["learner"].optimizer == "learner" and steps["learner"].ctor is m.optimizers[0]
    assert steps["scaler"].optimizer == "learner"
    assert steps["sched"].scheduler and steps["sched"].optimizer is None
    assert steps["trainer"].optimizer is None and not steps["trainer"].scheduler  # a step, of an unknown object
    (loop,) = m.loops
    assert loop.has_step and loop.has_backward


def test_a_scheduler_step_alone_is_not_training():
    m = model_of("""
        import torch
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        def evaluate(model, loader):
            for x in loader:
                model(x)
                sched.step()
    """)
    f = fn(m, "evaluate")
    assert not f.has_step and not m.loop_trains(f.loops[0])


def test_backward_targets():
    m = model_of("""
        import torch
        loss.backward()
        scaler.scale(loss2).backward()
        accelerator.backward(loss3)
        torch.autograd.backward(loss4)
        g = torch.autograd.grad(loss5, [w])
    """)
    got = [(b.kind, m.code(b.target)) for b in m.backwards]
    assert got == [("backward", "loss"), ("backward", "loss2"), ("backward", "loss3"), ("backward", "loss4"),
                   ("grad", "loss5")]


def test_resets_of_every_form():
    m = model_of("""
        import torch
        opt.zero_grad()
        model.zero_grad(set_to_none=True)
        p.grad = None
        p.grad.zero_()
        p.grad.data.zero_()
        del q.grad
        zero_grad(model)
        p.grad.add_(g)
    """)
    assert [r.receiver for r in m.resets] == ["opt", "model", "", "", "", "", ""]


def test_the_graph_extension_adds_graphs_to_the_core_backward_passes():
    m = model_of("""
        import torch
        out = model(x)
        loss = crit(out, y)
        loss.backward()
        opt.step()
    """, extensions=(TrainingFacts,))
    t = m.ext(TrainingFacts)
    (core,) = m.backwards
    (b,) = t.backwards
    assert b.node is core.node and b.roots  # the same call, with the graph it frees
    (step,) = m.steps
    assert t.step_path(step) and t.may_precede(b.path, b.seq, t.step_path(step), step.seq)


# ------------------------------------------------------------------ the training loop


def test_loop_trains_directly_through_a_helper_and_through_an_import():
    code = """
        import torch
        from .engine import train_one_epoch
        def step(model, x, opt):
            model(x).sum().backward()
            opt.step()
        def run(model, opt):
            for epoch in range(3):
                step(model, x, opt)
            for epoch2 in range(3):
                train_one_epoch(model)
            for x in val_loader:
                model(x)
    """
    m = model_of(code)
    assert m.loop_trains(loop_at(m, "for epoch in range(3):"))  # through the call graph
    assert not m.loop_trains(loop_at(m, "for epoch2 in range(3):"))  # nothing known about the import
    assert not m.loop_trains(loop_at(m, "for x in val_loader:"))
    ext = ExternalFacts(callees={".engine.train_one_epoch": ExtCallee("engine.py", 3, "train_one_epoch", False, 3,
                                                                      False, True)})
    m = model_of(code, external=ext)
    assert m.loop_trains(loop_at(m, "for epoch2 in range(3):"))  # the imported function trains
    assert [lp.node for lp in m.training_loops()] == [loop_at(m, "for epoch in range(3):").node,
                                                      loop_at(m, "for epoch2 in range(3):").node]


def test_innermost_training_loop_and_nesting():
    m = model_of("""
        import torch
        for epoch in range(3):
            for x, y in loader:
                crit(model(x), y).backward()
                opt.step()
            evaluate(model)
    """)
    outer, inner = loop_at(m, "for epoch in range(3):"), loop_at(m, "for x, y in loader:")
    assert m.loop_trains(outer) and m.loop_trains(inner)
    assert m.in_training_loop(inner) and not m.in_training_loop(outer)
    (call,) = [c for c in m.local_calls if c.name == "evaluate"]
    assert m.innermost_training_loop(None, call.seq) is outer  # after the inner loop, in the epoch loop
    site = next(mc for mc in m.model_calls)
    assert m.innermost_training_loop(None, site.seq) is inner
    assert m.innermost_training_loop(None, outer.end_seq + 1) is None


def test_resets_gradients_itself_through_a_helper_or_not_of_this_optimizer():
    m = model_of("""
        import torch
        def clear(opt):
            opt.zero_grad()
        for x in a:
            clear(opt)
            loss.backward()
            opt.step()
        for x in b:
            loss.backward()
            d_opt.zero_grad()
            d_opt.step()
            g_opt.step()
        for x in c:
            loss.backward()
            opt.step()
    """)
    la, lb, lc = m.loops
    assert m.resets_gradients(la, "opt")  # through the helper
    assert m.resets_gradients(lb, "d_opt") and not m.resets_gradients(lb, "g_opt")  # another optimizer's reset
    assert not m.resets_gradients(lc, "opt")


def test_reset_of_a_parameter_loop_knows_the_model_it_resets():
    m = model_of("""
        import torch
        for x in data:
            for p in netD.parameters():
                p.grad = None
            for name, q in self.netG.named_parameters():
                q.grad.data.zero_()
            params = list(enc.parameters())
            for r in params:
                del r.grad
            for s in chain(a.parameters(), b.parameters()):
                s.grad = None
            w.grad = None
    """)
    assert [(r.receiver, r.params_of) for r in m.resets] == [
        ("", "netD"), ("", "self.netG"), ("", "enc"), ("", ""), ("", "")]


def test_a_model_reset_counts_for_the_optimizers_of_that_model_only():
    m = model_of("""
        import torch
        optD = torch.optim.Adam(netD.parameters())
        optG = torch.optim.Adam(netG.parameters())
        opt_all = torch.optim.SGD(list(netD.parameters()) + list(netG.parameters()), lr=0.1)
        for real in a:
            netD.zero_grad()
            d_loss.backward()
            optD.step()
            g_loss.backward()
            optG.step()
        for real in b:
            for p in netG.parameters():
                p.grad = None
            d_loss.backward()
            optD.step()
            g_loss.backward()
            optG.step()
        for real in c:
            netD.zero_grad()
            d_loss.backward()
            optD.step()
            unknown_opt.step()
            opt_all.step()
    """)
    la, lb, lc = loop_at(m, "for real in a:"), loop_at(m, "for real in b:"), loop_at(m, "for real in c:")
    (reset_a,) = m.gradient_resets(la)
    assert m.gradient_resets(la, "optD") == [reset_a] and m.gradient_resets(la, "optG") == []
    assert m.resets_gradients(la, "optD") and not m.resets_gradients(la, "optG")
    assert m.gradient_resets(lb, "optD") == [] and len(m.gradient_resets(lb, "optG")) == 1
    # an optimizer built elsewhere, or one over the model reset (among others): counts
    assert m.resets_gradients(lc, "unknown_opt") and m.resets_gradients(lc, "opt_all")


def test_steps_and_resets_are_marked_for_the_loop_joins():
    m = model_of("""
        import torch
        for i, x in enumerate(a):
            loss.backward()
            opt.step()
            if i % 5 == 0:
                opt.zero_grad()
        for i, x in enumerate(b):
            if i % 5 == 0:
                opt.zero_grad(set_to_none=True)
            else:
                opt.zero_grad()
            loss.backward()
            if (i + 1) % 4 == 0:
                opt.step()
        for i, x in enumerate(c):
            loss.backward()
            opt.step()
            for p in model.parameters():
                p.grad = None
        for i, x in enumerate(d):
            if use_optimizer:
                opt.zero_grad()
            else:
                model.zero_grad()
            loss.backward()
            opt.step()
    """)
    la, lb, lc, ld = m.loops[0], m.loops[1], m.loops[2], m.loops[4]
    joins, marker = m.loop_joins, m.training.reset_marker
    step_a, step_b, step_c, _ = m.steps
    assert joins.runs_every_iteration(la, step_a.node) and not joins.runs_every_iteration(lb, step_b.node)
    assert joins.runs_every_iteration(lc, step_c.node)
    assert not joins.runs_every_iteration(la, marker(None, "opt"))  # only when `i % 5 == 0`
    assert joins.runs_every_iteration(lb, marker(None, "opt"))  # one of the two branches on every path
    assert m.conditional_resets(la, "opt") == m.gradient_resets(la, "opt") != []
    assert m.conditional_resets(lb, "opt") == []
    assert m.conditional_resets(lc, "opt") == []  # in an inner loop: not followed
    # two receivers, one in each branch: no receiver's resets on every path, all the loop's resets together
    assert not joins.runs_every_iteration(ld, marker(None, "opt")) and joins.runs_every_iteration(ld, marker(None))
    assert m.conditional_resets(ld, "opt") == []


def test_trained_models_and_train_mode_restored():
    m = model_of("""
        import torch
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        teacher.eval()
        for epoch in range(3):
            for x in loader:
                net(x).sum().backward()
                opt.step()
            net.eval()
            net.train()
        for epoch in range(3):
            net = build()
            net(x).sum().backward()
            opt.step()
            net.eval()
    """)
    assert m.is_trained("net") and m.is_trained("self.net") and not m.is_trained("teacher")
    first, _, second = m.loops
    assert m.restores_train_mode(first, "net")  # `net.train()` in the loop
    assert m.restores_train_mode(second, "net")  # the model is rebuilt every iteration


def test_a_model_updated_in_place_from_its_gradients_is_trained_and_its_loop_updates():
    m = model_of("""
        import torch
        for x, y in loader:
            net.zero_grad()
            net(x).sum().backward()
            for p in net.parameters():
                p.data.sub_(0.01 * p.grad.data)
            with torch.no_grad():
                for name, w in other.named_parameters():
                    w -= 0.01 * w.grad
            for e in ema.parameters():
                e.data.mul_(0.99)
    """)
    assert m.is_trained("net") and m.is_trained("other")
    assert not m.is_trained("ema")  # an update that reads no gradient (an EMA copy) trains nothing
    # the update is the first statement of the inner loop's body: it belongs to that loop
    assert m.loop_updates(loop_at(m, "for p in net.parameters():"))
    assert m.loop_updates(loop_at(m, "for name, w in other.named_parameters():"))


def test_eval_switches_of_a_helper_that_restores_are_none():
    m = model_of("""
        import torch
        def validate(model):
            model.eval()
            model(x)
        def validate_and_restore(model):
            was = model.training
            model.eval()
            model(x)
            model.train(was)
    """)
    assert len(m.eval_switches(fn(m, "validate"))) == 1
    assert m.eval_switches(fn(m, "validate_and_restore")) == []
    assert m.sets_train(fn(m, "validate_and_restore")) and not m.sets_train(fn(m, "validate"))


def test_ends_loop_after():
    m = model_of("""
        import torch
        for epoch in range(3):
            if done:
                model.eval()
                break
            model.eval()
    """)
    (loop,) = m.loops
    first, second = m.switches
    assert m.ends_loop_after(loop, first.node) and not m.ends_loop_after(loop, second.node)


# ------------------------------------------------------------------ the rules share the definition


def test_gl004_gl005_skip_a_loop_over_val_data_that_trains_through_a_helper():
    code = """
        import torch
        import torchvision
        def fit_step(model, x, opt):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        model = torchvision.models.resnet18()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in val_loader:
            fit_step(model, x, opt)
            model(x)
    """
    assert rows("GL004", code) == [] and rows("GL005", code) == []
    helperless = code.replace("fit_step(model, x, opt)\n", "print(x)\n")  # (the call, not the def)
    assert rows("GL004", helperless) == [12] and rows("GL005", helperless) == [12]


def test_gl016_a_loop_that_only_steps_a_scheduler_is_not_training():
    code = """
        import torch
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        for epoch in range(3):
            net.eval()
            sched.step()
    """
    assert rows("GL016", code) == []
    assert rows("GL016", code.replace("sched.step()", "opt.step()")) == [6]


def test_gl007_a_helper_that_resets_through_another_helper():
    code = """
        import torch
        def clear(opt):
            opt.zero_grad()
        def housekeeping(opt):
            clear(opt)
        for x in loader:
            housekeeping(opt)
            crit(model(x), y).backward()
            opt.step()
    """
    assert rows("GL007", code) == []
    assert rows("GL007", code.replace("    housekeeping(opt)\n", "    pass\n")) == [10]


# ------------------------------------------------------------------ one `Step` fact per `X.step()`


def test_a_step_carries_what_its_receiver_holds_and_its_grad_mode():
    """`Step` is the one fact for `X.step()`: the receiver's value (for the grad mode of an optimizer-like
    class's `step`), the grad mode there, and the resolution to an optimizer (no separate `StepCall`)."""
    from gradlint.model import Mode

    m = model_of("""
        import torch
        class MySGD:
            def __init__(self, params, lr):
                self.params = list(params)
            def step(self):
                for p in self.params:
                    p -= 0.1 * p.grad
        class Holder:
            def run(self):
                self.optim.step()
        def fit(model):
            opt = MySGD(model.parameters(), 0.1)
            with torch.no_grad():
                opt.step()
            model.step()
            scaler.step(opt)
    """)
    assert not hasattr(m, "step_calls")
    steps = {(s.receiver, s.direct): s for s in m.steps}
    assert set(steps) == {("self.optim", True), ("opt", True), ("scaler", False)}  # not the module's own step
    opt = steps[("opt", True)]
    assert opt.value.cls == "MySGD" and opt.mode is Mode.DISABLED and opt.function is fn(m, "fit")
    assert opt.optimizer == "opt" and not opt.on_attribute
    attr = steps[("self.optim", True)]
    assert attr.on_attribute and attr.value.kind is Kind.UNKNOWN and attr.mode is Mode.INHERITED
    assert steps[("scaler", False)].optimizer == "opt"
    # the `step` of the optimizer-like class runs in the grad mode of the steps that may reach it: one with
    # grad mode on (`self.optim.step()`, an attribute the walk cannot tie to a class) decides
    assert m.function_mode(fn(m, "step")) is Mode.ENABLED


def test_an_optimizer_like_step_reached_only_under_no_grad_runs_without_grad():
    from gradlint.model import Mode

    m = model_of("""
        import torch
        class MySGD:
            def __init__(self, params, lr):
                self.params = list(params)
            def step(self):
                for p in self.params:
                    p -= 0.1 * p.grad
        def fit(model, opt):
            with torch.no_grad():
                opt.step()
        fit(net, MySGD(net.parameters(), 0.1))
    """)
    (step,) = m.steps
    assert step.value.deferred  # `opt` is fit's parameter: resolved through the call graph
    assert m.calls.resolve(step.value).cls == "MySGD"
    assert m.function_mode(fn(m, "step")) is Mode.DISABLED


# ------------------------------------------------------------------ the tensors an optimizer is handed


def test_optimizer_tensors_one_by_one_with_their_provenance():
    from gradlint.model.values import NONLEAF, RG

    m = model_of("""
        import torch
        w = torch.randn(3, requires_grad=True)
        b = torch.zeros(3, requires_grad=True) * 2
        opt = torch.optim.SGD([w, b], lr=0.1)
        params = [w, self_b] if cond else None
        params = [w, b]
        opt2 = torch.optim.adam.Adam(params)
        opt3 = torch.optim.Adam([{"params": [w]}, {"params": b, "lr": 1}])
        other = [w]
        other = make()
        opt4 = torch.optim.Adam(other)
    """)
    o1, o2, o3, o4 = m.optimizers
    assert [(k, p.state) for k, p in o1.tensors] == [("w", RG), ("b", NONLEAF)]
    assert [k for k, _ in o2.tensors] == ["w", "b"]  # the list literal `params` was bound to, in this scope
    assert [k for k, _ in o3.tensors] == ["w", "b"]  # each group's "params"
    assert o4.tensors == ()  # `other` was rebound to something else


def test_gl008_reads_the_core_optimizer_facts():
    """GL008's optimizer parameters are the core `Optimizer` facts: an optimizer named through its submodule
    (`torch.optim.adam.Adam`) is one too (its own search knew only `torch.optim.<X>`)."""
    from gradlint.model.ext_tensors import TensorFacts

    m = model_of("""
        import torch
        b = torch.randn(3, requires_grad=True) * 0.01
        params = [b]
        opt = torch.optim.adam.Adam(params, lr=0.1)
    """, extensions=(TensorFacts,))
    (op,) = m.ext(TensorFacts).optimizer_params
    assert op.call is m.optimizers[0].node and op.key == "b" and op.optimizer == "torch.optim.adam.Adam"


# ------------------------------------------------------------------ which model a switch is of


def test_other_model_tells_models_built_apart():
    """`other_model(a, fn_a, b, fn_b)`: known different objects — two constructions of the file, two
    `self.X` built apart, two parameters; not an alias, a wrapper, a container, a copy's original and copy
    when unknown, an attribute of another object, a name the file does not bind."""
    m = model_of("""
        import copy
        import torch.nn as nn
        G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16)).to(device)
        D = nn.DataParallel(Discriminator(ndf))
        alias = G
        wrapped = nn.DataParallel(G)
        whole = nn.Sequential(G, nn.Linear(16, 1))
        ema = copy.deepcopy(G)
        both = G if flag else D
        def fit(netG, netD):
            pass
        class Trainer:
            def __init__(self, nz):
                self.gen = Generator(nz)
                self.disc = Discriminator(nz)
                self.again = self.gen
    """)
    f = fn(m, "fit")
    t = fn(m, "__init__")
    assert m.other_model("G", None, "D", None)
    assert m.other_model("G", None, "ema", None)  # a copy is another object
    assert m.other_model("netG", f, "netD", f)  # two parameters no call site fills with the same model
    assert m.other_model("self.gen", t, "self.disc", t)
    for same in ("alias", "wrapped", "whole", "both", "G.module", "unknown_name"):
        assert not m.other_model("G", None, same, None), same
    assert not m.other_model("self.gen", t, "self.again", t)
    assert not m.other_model("netG", f, "G", None)  # a parameter may hold any model of the file
    objects = m.model_objects()
    assert objects.holds("G", None) == objects.holds("alias", None) == objects.holds("wrapped", None)
    assert objects.holds("whole", None) is None  # handed an existing model: it may hold it


def test_restores_train_mode_counts_the_switch_of_the_same_model():
    m = model_of("""
        import torch
        import torch.nn as nn
        G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16))
        D = nn.Sequential(nn.Linear(16, 1))
        net = G
        opt = torch.optim.Adam(G.parameters())
        for epoch in range(3):
            D.train()
            opt.zero_grad(); G(z).sum().backward(); opt.step()
            G.eval()
        for epoch in range(3):
            net.train()
            opt.zero_grad(); G(z).sum().backward(); opt.step()
            G.eval()
    """)
    first, second = m.loops
    assert not m.restores_train_mode(first, "G")  # D.train() is of another model
    assert m.restores_train_mode(first, "D")
    assert m.restores_train_mode(second, "G")  # net is G


def test_eval_switches_of_another_model_are_passed_over_when_asked_for_a_model():
    """`sets_eval(fn, before, model=...)`, `eval_mode_at(fn, before, model)`, `last_mode_event(..., model)`:
    a switch of another model does not count, in the function and in the helpers it calls."""
    m = model_of("""
        import torch.nn as nn
        student = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
        teacher = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
        def evaluate(batches):
            student.eval()
            return [teacher(x) for x in batches]
        def switch(a, b):
            a.eval()
        teacher.train()
        switch(student, teacher)
        probe()
    """)
    ev = fn(m, "evaluate")
    end = max(c.seq for c in m.local_calls) + 1
    assert m.sets_eval(ev) and m.sets_eval(ev, model=("student", ev))
    assert not m.sets_eval(ev, model=("teacher", ev))
    assert m.eval_mode_at(None, end) is True
    assert m.eval_mode_at(None, end, ("student", None)) is True  # through the helper's `a.eval()`
    assert m.eval_mode_at(None, end, ("teacher", None)) is False  # passed over to `teacher.train()`


def test_made_in_train_mode():
    """Evaluation of another model is reported only for a model known to start in train mode."""
    m = model_of("""
        import copy
        import torch.nn as nn
        from transformers import AutoModel
        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
        early = copy.deepcopy(model)
        model.train()
        ema = copy.deepcopy(model)
        model.eval()
        late = copy.deepcopy(model)
        bert = AutoModel.from_pretrained("b")
        def make():
            return copy.deepcopy(model)
        inner = make()
    """)
    objects = m.model_objects()
    assert objects.made_in_train_mode("model", None)
    assert objects.made_in_train_mode("ema", None)  # copied after `model.train()`
    for name in ("early", "late", "bert", "unknown"):
        assert not objects.made_in_train_mode(name, None), name
