"""The grad-mode region a value was made in (`gradlint.model.regions`): `Prov.off` / `Prov.inference` on the
one binding table, decided after the walk by `SemanticModel.made_without_grad`, `is_inference_tensor`,
`returned_by`, `runs_without_grad`, `releafed_after`.

Each program calls `probe(name)` where the value is asked; the probe extension records what the name holds
in its own scope there (`ModelBuilder.own_prov`). Every fact is tested both ways.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from gradlint.model import Mode, build_model
from gradlint.model.extension import Extension
from gradlint.model.regions import Returned, merge_regions
from gradlint.model.values import PLAIN, Prov
from gradlint.settings import RuleOptions


class Probe(Extension):
    needs_regions = True

    def __init__(self, builder) -> None:
        super().__init__(builder)
        self.values: list[Prov | None] = []

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is cst.Name and node.func.value == "probe":
            self.values.append(self.b.own_prov(node.args[0].value.value))


def probe(code: str, source: bool = False):
    text = textwrap.dedent(code)
    m = build_model(cst.parse_module(text), RuleOptions(), "train.py", extensions=(Probe,),
                    source=text if source else None)
    return m, m.ext(Probe).values


def made(code: str) -> list[bool]:
    m, values = probe(code)
    return [m.made_without_grad(v) for v in values]


def inference(code: str) -> list[bool]:
    m, values = probe(code)
    return [m.is_inference_tensor(v) for v in values]


# ------------------------------------------------------------------ made with grad mode off


def test_assigned_under_no_grad_reaches_a_later_use():
    assert made("""
        import torch
        with torch.no_grad():
            loss = model(x).sum()
        probe(loss)
        out = model(x).sum()
        probe(out)
    """) == [True, False]


def test_every_grad_off_region_and_not_a_variable_flag():
    assert made("""
        import torch
        with torch.inference_mode():
            a = model(x)
        with torch.set_grad_enabled(False):
            b = model(x)
        with torch.set_grad_enabled(flag):
            c = model(x)
        with torch.no_grad():
            with torch.enable_grad():
                d = model(x)
        probe(a); probe(b); probe(c); probe(d)
    """) == [True, True, False, False]


def test_aliases_and_views_keep_it_derived_values_need_every_input():
    assert made("""
        import torch
        with torch.no_grad():
            a = model(x).sum()
            b = model(y).sum()
        l1 = a
        l2 = a.float()
        l3 = a[0]
        l4 = (a + b) * 0.5
        l5 = a + model(y).sum()
        l6 = a * w
        l7 = a.detach()
        probe(l1); probe(l2); probe(l3); probe(l4); probe(l5); probe(l6); probe(l7)
    """) == [True, True, True, True, False, False, False]


def test_a_binding_that_does_not_dominate_is_unknown():
    assert made("""
        import torch
        loss = model(x).sum()
        if cond:
            with torch.no_grad():
                loss = model(x).sum()
        probe(loss)
        if cond:
            with torch.no_grad():
                only_here = model(x).sum()
        probe(only_here)
        for batch in loader:
            with torch.no_grad():
                in_loop = model(batch).sum()
            probe(in_loop)
        probe(in_loop)
        with torch.no_grad():
            kept = model(x).sum()
        if cond:
            kept = kept * 2
        probe(kept)
        with torch.no_grad():
            either = model(x).sum()
        if cond:
            with torch.no_grad():
                either = model(y).sum()
        probe(either)  # made under no_grad whichever branch ran
    """) == [False, False, True, False, True, True]


def test_both_branches_agreeing_on_the_same_value_keep_it():
    assert made("""
        import torch
        with torch.no_grad():
            loss = model(x).sum()
        if cond:
            print(loss)
        probe(loss)
    """) == [True]


def test_tuple_unpacked_from_a_call_but_not_from_a_literal():
    assert made("""
        import torch
        with torch.no_grad():
            out, loss = model(x)
            a, b = p, q
        probe(loss); probe(a)
    """) == [True, False]


def test_a_new_leaf_is_not_made_without_grad():
    assert made("""
        import torch
        with torch.no_grad():
            w = torch.zeros(3, requires_grad=True)
            p = torch.nn.Parameter(torch.zeros(3))
            t = torch.zeros(3)
        probe(w); probe(p); probe(t)
    """) == [False, False, True]


def test_releafed_values_are_leaves_again():
    assert made("""
        import torch
        with torch.no_grad():
            a = model(x).sum()
            b = model(x).sum()
            c = model(x).sum()
            d = model(x).sum()
            e = model(x).sum()
        a.requires_grad_()
        b.requires_grad = True
        c.retain_grad()
        d = d.detach().requires_grad_()
        probe(a); probe(b); probe(c); probe(d); probe(e)
    """) == [False, False, False, False, True]


def test_releafed_after_a_use():
    m, _ = probe("""
        import torch
        with torch.no_grad():
            s = model(x).sum()
        for i in range(3):
            s.backward()
            s.requires_grad_()
    """)
    (releaf,) = [r for r in m.releafs if r.name == "s"]
    assert m.releafed_after("s", None, releaf.seq - 1)
    assert not m.releafed_after("s", None, releaf.seq)
    assert not m.releafed_after("t", None, 0)


def test_only_the_scopes_own_bindings_count():
    assert made("""
        import torch
        with torch.no_grad():
            loss = model(x).sum()
        def train():
            probe(loss)
            local = loss
            probe(local)
    """) == [False, False]


# ------------------------------------------------------------------ through functions


def test_returned_by_a_decorated_helper_defined_before_or_after():
    m, values = probe("""
        import torch
        @torch.no_grad()
        def before(model, x):
            return model(x).sum()
        class Trainer:
            def step(self, x):
                a = before(self.model, x)
                b = self.after(x)
                c = plain(self.model, x)
                probe(a); probe(b); probe(c)
            @torch.no_grad()
            def after(self, x):
                return self.model(x).sum()
        def plain(model, x):
            return model(x).sum()
    """)
    assert [m.made_without_grad(v) for v in values] == [True, True, False]
    assert [m.returned_by(v) for v in values] == ["before", "after", None]
    assert all(type(c) is Returned for v in values for c in v.off)


def test_decorated_helper_that_turns_grad_mode_back_on():
    assert made("""
        import torch
        @torch.no_grad()
        def compute(model, x):
            with torch.enable_grad():
                return model(x).sum()
        loss = compute(model, x)
        probe(loss)
    """) == [False]


def test_plain_function_body_runs_as_its_callers_do():
    m, values = probe("""
        import torch
        def only_no_grad(model, x):
            loss = model(x).sum()
            probe(loss)
        def both_ways(model, x):
            loss = model(x).sum()
            probe(loss)
        with torch.no_grad():
            only_no_grad(model, x)
            both_ways(model, x)
        both_ways(model, y)
    """)
    assert [m.made_without_grad(v) for v in values] == [True, False]
    only, both = m.functions
    assert m.runs_without_grad(Mode.INHERITED, only) and not m.runs_without_grad(Mode.INHERITED, both)
    assert m.runs_without_grad(Mode.DISABLED, None) and not m.runs_without_grad(Mode.ENABLED, None)


def test_a_helper_called_under_no_grad_makes_a_no_grad_value():
    assert made("""
        import torch
        def helper(model, x):
            with torch.enable_grad():
                return model(x).sum()
        def forward(model, x):
            return model(x).sum()
        with torch.no_grad():
            a = helper(model, x)
            b = forward(model, x)
        probe(a); probe(b)
    """) == [False, True]


def test_lightning_evaluation_hooks_run_under_no_grad():
    assert made("""
        import lightning as L
        class Lit(L.LightningModule):
            def test_step(self, batch, i):
                loss = self.model(batch).sum()
                probe(loss)
            def training_step(self, batch, i):
                loss = self.model(batch).sum()
                probe(loss)
    """) == [True, False]


# ------------------------------------------------------------------ inference tensors


def test_inference_tensors_views_and_copies():
    assert inference("""
        import torch
        data = torch.randn(4, 3)
        with torch.inference_mode():
            x = torch.randn(4, 3)
            row = data[0]
            unknown = get_cached()
        v = x.view(12)
        d = x.detach()
        moved = x.to("cuda")
        c = x.clone()
        probe(x); probe(v); probe(d); probe(moved); probe(c); probe(row); probe(unknown)
    """) == [True, True, True, False, False, False, False]


def test_no_grad_is_not_inference_and_detach_is_not_off():
    m, (x, d) = probe("""
        import torch
        with torch.no_grad():
            x = torch.randn(3)
        with torch.inference_mode():
            y = torch.randn(3)
        d = y.detach()
        probe(x); probe(d)
    """)
    assert m.made_without_grad(x) and not m.is_inference_tensor(x)
    assert m.is_inference_tensor(d) and not m.made_without_grad(d)


def test_in_place_updates_keep_an_inference_tensor():
    assert inference("""
        import torch
        with torch.inference_mode():
            buf = torch.zeros(3)
            other = torch.zeros(3)
        buf += 1
        buf[0] = x
        buf.copy_(src)
        other = other + 1
        probe(buf); probe(other)
    """) == [True, False]


def test_decorated_inference_helper():
    assert inference("""
        import torch
        @torch.inference_mode()
        def embed(x):
            return x * 2
        @torch.no_grad()
        def embed_ng(x):
            return x * 2
        e = embed(torch.randn(2, 3))
        f = embed_ng(torch.randn(2, 3))
        probe(e); probe(f)
    """) == [True, False]


def test_inference_branch_that_does_not_dominate():
    assert inference("""
        import torch
        if cached:
            with torch.inference_mode():
                x = torch.randn(3)
        else:
            x = torch.randn(3)
        probe(x)
    """) == [False]


# ------------------------------------------------------------------ merges and text gates


def test_merge_regions():
    made_off = Prov(PLAIN, off=frozenset())
    plain = Prov(PLAIN)
    assert merge_regions(made_off, made_off, [made_off]) is made_off
    assert merge_regions(made_off, None, [made_off]).off is None  # not bound before the statement
    assert merge_regions(made_off, plain, [made_off]).off is None  # the values disagree
    assert merge_regions(plain, None, [plain]) is plain
    assert merge_regions(None, None, []) is None


class PlainProbe(Probe):
    needs_regions = False


def test_regions_only_when_an_extension_asks():
    text = "import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nprobe(loss)\n"
    m = build_model(cst.parse_module(text), RuleOptions(), "train.py", extensions=(PlainProbe,), source=text)
    (v,) = m.ext(PlainProbe).values
    assert v is not None and v.state == PLAIN and v.off is None


def test_files_without_a_grad_mode_word_track_nothing():
    code = """
        import torch
        def helper_decorated_elsewhere(model, x):
            loss = model(x).sum()
            probe(loss)
    """
    m, (v,) = probe(code, source=True)
    assert v is not None and v.off is None
    m, (v,) = probe(code)
    assert v.off == frozenset({m.functions[0]})  # (its callers decide; it has none here)
    assert not m.made_without_grad(v)
