"""Property test of the fixes (issue 14, item 6, "done when"): over generated update loops, evaluation
functions and `.data` uses, for each fix kind,

- the fixed text parses and a second `--fix` changes nothing (idempotent);
- the finding the fix is for is gone from the fixed text;
- run on gradlint's autograd engine (gradlint/runtime, as `gradlint verify` runs fixtures), the symptom is
  gone — the update runs instead of raising, evaluation records no graph and dropout is off — and the
  result is the one of a hand-written correct program;
- safe fixes (`--fix` without `--unsafe-fixes`) never change what a program that ran computes.

Each example's programs run in one child process with `torch` bound to the engine (the test process may
have imported real torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradlint.linter import lint_fix, lint_source
from gradlint.rules import ALL_RULES
from gradlint.settings import Settings

EVERY_RULE = Settings(selected=frozenset(r.code for r in ALL_RULES))
SETTINGS = settings(max_examples=int(os.environ.get("GRADLINT_FIX_EXAMPLES", "12")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

_CHILD = r"""
import contextlib, io, json, sys
from gradlint.verify.bootstrap import install_engine
install_engine()
out = []
for src in json.load(sys.stdin):
    buf = io.StringIO()
    rec = {"status": "ok", "exception": None, "observe": {}}
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(src, "program.py", "exec"), {"__name__": "__main__"})
    except Exception as exc:
        rec["status"] = "exception"
        rec["exception"] = f"{type(exc).__name__}: {exc}"
    for line in buf.getvalue().splitlines():
        if line.startswith("observe: "):
            key, _, value = line[len("observe: "):].partition("=")
            rec["observe"][key] = json.loads(value)
    out.append(rec)
print(json.dumps(out))
"""


def run_on_engine(*sources: str) -> list[dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH", "")) if p)
    res = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(list(sources)), capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def close(a, b, tol: float = 1e-5) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    return a == b


def fix_both(src: str):
    """(safe-only result, safe+unsafe result), each checked to parse and to be idempotent."""
    out = []
    for unsafe in (False, True):
        r = lint_fix(src, "train.py", EVERY_RULE, unsafe=unsafe)
        assert r.error is None, (r.error, src)
        compile(r.source, "train.py", "exec")
        again = lint_fix(r.source, "train.py", EVERY_RULE, unsafe=unsafe)
        assert again.error is None and again.source == r.source, ("not idempotent", src, r.source, again.source)
        out.append(r)
    return out


def codes(src: str) -> list[str]:
    res = lint_source(src, "train.py", EVERY_RULE)
    assert res.error is None, res.error
    return [d.code for d in res.diagnostics]


# ---------------------------------------------------------------------------------------- update loops

# (statement for parameter `p`, the rule it breaks, whether the program raises as written)
UPDATES = {
    "inplace_sub": ("{p} -= lr * {p}.grad", "GL001", True),
    "sub_method": ("{p}.sub_(lr * {p}.grad)", "GL001", True),
    "add_alpha": ("{p}.add_({p}.grad, alpha=-lr)", "GL001", True),
    "data_sub": ("{p}.data -= lr * {p}.grad", "GL003", False),
    "data_assign": ("{p}.data = {p}.data - lr * {p}.grad.data", "GL003", False),
    "data_add_": ("{p}.data.add_({p}.grad.data, alpha=-lr)", "GL003", False),
    "data_scaled": ("{p}.data = {p}.data * decay - lr * {p}.grad", "GL003", False),
}
ZEROS = {"none": "", "zero": "{p}.grad.zero_()", "data_zero": "{p}.grad.data.zero_()", "none_set": "{p}.grad = None"}


@st.composite
def update_programs(draw):
    form = draw(st.sampled_from(sorted(UPDATES)))
    zero = draw(st.sampled_from(sorted(ZEROS)))
    over_model = draw(st.booleans())
    steps = draw(st.integers(1, 3))
    lr = draw(st.sampled_from([0.1, 0.05, 0.5]))
    guard = draw(st.booleans()) and over_model  # `if p.grad is None: continue`
    in_function = draw(st.booleans())
    stmt, code, raises = UPDATES[form]
    z = ZEROS[zero]
    if over_model:
        setup = "model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))"
        forward = "loss = model(x).pow(2).sum()"
        body = "for p in model.parameters():\n" + ("    if p.grad is None:\n        continue\n" if guard else "")
        body += f"    {stmt.format(p='p')}\n" + (f"    {z.format(p='p')}\n" if z else "")
        ref_body = "with torch.no_grad():\n    for p in model.parameters():\n        p -= lr * p.grad\n" + (
            "        p.grad = None\n" if z else "")
        if form == "data_scaled":
            ref_body = ref_body.replace("p -= lr * p.grad", "p.mul_(decay).sub_(lr * p.grad)")
        result = "[q.tolist() for q in model.parameters()]"
    else:
        setup = "w = torch.randn(3, requires_grad=True)"
        forward = "loss = (x * w).sum().pow(2)"
        body = f"{stmt.format(p='w')}\n" + (f"{z.format(p='w')}\n" if z else "")
        ref_body = "with torch.no_grad():\n    w -= lr * w.grad\n" + ("w.grad = None\n" if z else "")
        if form == "data_scaled":
            ref_body = ref_body.replace("w -= lr * w.grad", "w.mul_(decay).sub_(lr * w.grad)")
        result = "w.tolist()"
    def program(update: str) -> str:
        loop = (f"for step in range({steps}):\n    x = torch.randn(2, 3)\n    {forward}\n    loss.backward()\n"
                + textwrap.indent(update, "    "))
        main = f"{setup}\n{loop}"
        if in_function:
            main = "def train(lr, decay):\n" + textwrap.indent(main + f"\nreturn {result}\n", "    ")
            tail = "final = train(lr, decay)\n"
        else:
            tail = f"final = {result}\n"
        return (f"import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\nlr = {lr}\ndecay = 0.9\n{main}\n{tail}"
                "print('observe: final=' + __import__('json').dumps(final))\n")

    return program(body), program(ref_body), code, raises


@SETTINGS
@given(update_programs())
def test_update_loop_fixes(case):
    src, reference, code, raises = case
    assert code in codes(src), src
    safe, every = fix_both(src)
    assert code not in codes(every.source), every.source
    original, safe_run, every_run, ref_run = run_on_engine(src, safe.source, every.source, reference)
    assert ref_run["status"] == "ok", ref_run
    assert (original["status"] == "exception") == raises, (original, src)
    # the symptom is gone, and the fixed update computes what the correct program computes
    assert every_run["status"] == "ok", (every_run, every.source)
    assert close(every_run["observe"]["final"], ref_run["observe"]["final"]), (every.source, reference)
    # safe fixes never change what a program that ran computes
    if original["status"] == "ok":
        assert safe_run["status"] == "ok" and close(safe_run["observe"]["final"], original["observe"]["final"])


# ---------------------------------------------------------------------------------------- evaluation


@st.composite
def eval_programs(draw):
    as_function = draw(st.booleans())
    has_eval = draw(st.booleans())
    loader = draw(st.sampled_from(["val_loader", "test_loader", "valid_loader"]))
    keep = draw(st.sampled_from(["append", "loss_sum"]))
    n = draw(st.integers(1, 3))
    use = ("outs.append(model(x))" if keep == "append" else "outs.append(crit(model(x), y))")
    body = (("model.eval()\n" if has_eval else "") + f"outs = []\nfor x, y in {loader}:\n    {use}\n")
    head = ("import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
            "model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))\n"
            "crit = nn.MSELoss()\n"
            f"{loader} = [(torch.randn(4, 3), torch.randn(4, 2)) for _ in range({n})]\n")
    if as_function:
        prog = head + "def evaluate(model, " + loader + "):\n" + textwrap.indent(body + "return outs\n", "    ")
        run = f"outs = evaluate(model, {loader})\nagain = evaluate(model, {loader})\n"
    else:
        run = body + "first = outs\n" + body + "again = outs\nouts = first\n"
        prog = head
    prog += run + ("print('observe: values=' + __import__('json').dumps([o.tolist() for o in outs]))\n"
                   "print('observe: records_graph=' + str(any(o.requires_grad for o in outs)).lower())\n"
                   "print('observe: deterministic=' + str(all(torch.equal(a, b) for a, b in zip(outs, again))).lower())\n")
    return prog, has_eval


@SETTINGS
@given(eval_programs())
def test_evaluation_fixes(case):
    src, has_eval = case
    found = codes(src)
    assert "GL005" in found and (("GL004" in found) != has_eval), (found, src)
    safe, every = fix_both(src)
    assert not {"GL004", "GL005"} & set(codes(every.source)), every.source
    original, safe_run, every_run = run_on_engine(src, safe.source, every.source)
    assert original["status"] == "ok" and original["observe"]["records_graph"] is True
    assert original["observe"]["deterministic"] is has_eval  # dropout on: the two passes differ
    # symptoms gone: no graph recorded, dropout off (both passes agree)
    assert every_run["status"] == "ok", every_run
    assert (every_run["observe"]["records_graph"], every_run["observe"]["deterministic"]) == (False, True), every.source
    # GL004/GL005's fixes are unsafe (they change what the code computes, on purpose); a safe fix that
    # applies here (GL006's `.detach()` on what is kept) changes no value
    assert safe_run["status"] == "ok" and close(safe_run["observe"]["values"], original["observe"]["values"], 0)


# ---------------------------------------------------------------------------------------- `.data` reads

READS = {  # (expression reading `.data` of `t`, what gets printed)
    "scaled": "{t}.data * 2",
    "clone": "{t}.data.clone()",
    "sum": "{t}.data.sum()",
    "argmax": "({t}.data.argmax(1) == y).float().mean()",
    "abs_max": "{t}.data.abs().max()",
    "tolist": "{t}.data.tolist()",
    "detach_redundant": "{t}.data.detach()",
}


@st.composite
def read_programs(draw):
    form = draw(st.sampled_from(sorted(READS)))
    of = draw(st.sampled_from(["out", "param", "grad"]))
    t = {"out": "out", "param": "model.weight", "grad": "model.weight.grad"}[of]
    if form == "argmax" and of != "out":
        t = "out"
    expr = READS[form].format(t=t)
    in_function = draw(st.booleans())
    body = (f"out = model(x)\nloss = out.pow(2).mean()\nloss.backward()\nv = {expr}\n"
            "if hasattr(v, 'tolist'):\n    v = v.tolist()\n")
    head = ("import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\nmodel = nn.Linear(3, 2)\n"
            "x = torch.randn(4, 3)\ny = torch.randint(0, 2, (4,))\n")
    if in_function:
        prog = head + "def step(model, x, y):\n" + textwrap.indent(body + "return v\n", "    ") + "v = step(model, x, y)\n"
    else:
        prog = head + body
    return prog + "print('observe: v=' + __import__('json').dumps(v))\n"


@SETTINGS
@given(read_programs())
def test_data_read_fixes_are_safe_and_change_no_value(case):
    src = case
    assert "GL003" in codes(src), src
    safe, every = fix_both(src)
    assert "GL003" not in codes(safe.source), safe.source
    assert ".data" not in safe.source
    original, safe_run = run_on_engine(src, safe.source)
    assert original["status"] == "ok" and safe_run["status"] == "ok", (original, safe_run, safe.source)
    assert close(safe_run["observe"]["v"], original["observe"]["v"], 0), safe.source


def test_the_engine_runner_reports_a_raising_program():
    # (the runner itself: a program that raises is told apart from one that runs)
    bad, good = run_on_engine("import torch\nw = torch.ones(2, requires_grad=True)\nw += 1\n",
                              "import torch\nprint('observe: ok=1')\n")
    assert bad["status"] == "exception" and "leaf Variable" in bad["exception"]
    assert good == {"status": "ok", "exception": None, "observe": {"ok": 1}}

