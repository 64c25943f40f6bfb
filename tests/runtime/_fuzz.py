"""A differential fuzzer: random small programs over the engine's surface, run on the engine and on real
PyTorch, compared strictly.

A program is Python source over a module bound to the name `T` (the engine or torch). It calls
`obs(name, value)` after each statement; `observe` turns a tensor into its value (rounded), grad,
is_leaf, requires_grad, grad_fn name, _version and dtype, and a module into its training flags. The
first exception ends a program and is recorded by type and message.

`python -m tests.runtime._fuzz BACKEND` reads a JSON list of programs on stdin and writes their
outcomes as JSON on stdout; batches of programs run in one process per backend.
"""

from __future__ import annotations

import json
import math
import random
import sys
import warnings
from typing import Any

# ----------------------------------------------------------------------------------------------- generator

VALUES = [-1.5, -0.5, 0.25, 0.75, 1.0, 2.0, -2.0, 0.5, 1.5, -0.25, 3.0, -1.0]
SHAPES = [(2, 3), (3,), (2, 3), ()]


def _lit(rng: random.Random, shape: tuple) -> str:
    if not shape:
        return repr(rng.choice(VALUES))
    if len(shape) == 1:
        return repr([rng.choice(VALUES) for _ in range(shape[0])])
    return repr([[rng.choice(VALUES) for _ in range(shape[1])] for _ in range(shape[0])])


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.vars: dict[str, tuple] = {}  # name -> shape
        self.leaves: list[str] = []
        self.n = 0
        self.indent = ""
        self.has_opt = False
        self.has_module = False
        self.grads: set[str] = set()  # variables holding gradients (their _version is not compared)

    def new(self, shape: tuple) -> str:
        name = f"v{self.n}"
        self.n += 1
        self.vars[name] = shape
        return name

    def emit(self, line: str, name: str | None = None) -> None:
        self.lines.append(self.indent + line)
        if name is not None:
            self.lines.append(self.indent + f"obs({name!r}, {name})")

    def pick(self, want_dims: tuple[int, ...] | None = None) -> str:
        names = [n for n, s in self.vars.items() if want_dims is None or len(s) in want_dims]
        if not names:
            names = list(self.vars)
        return self.rng.choice(names)

    # ---- statements
    def leaf(self) -> None:
        shape = self.rng.choice(SHAPES)
        rg = self.rng.random() < 0.7
        name = self.new(shape)
        self.leaves.append(name)
        self.emit(f"{name} = T.tensor({_lit(self.rng, shape)}, requires_grad={rg})", name)

    def binary(self) -> None:
        a = self.pick()
        r = self.rng.random()
        op = self.rng.choice(["+", "-", "*", "/"])
        if r < 0.4:
            s = self.rng.choice([2, 0.5, 3.0, -1])
            expr = f"{a} {op} {s}" if self.rng.random() < 0.7 else f"{s} {op} {a}"
            shape = self.vars[a]
        else:
            b = self.pick()
            expr = f"{a} {op} {b}"
            sa, sb = self.vars[a], self.vars[b]
            shape = sa if len(sa) >= len(sb) else sb
        name = self.new(shape)
        self.emit(f"{name} = {expr}", name)

    def unary(self) -> None:
        a = self.pick()
        fn = self.rng.choice(["exp()", "tanh()", "sigmoid()", "relu()", "abs()", "sin()", "cos()", "pow(2)",
                              "clamp(-1, 1)", "clamp(min=0)", "neg()", "square()", "sqrt()", "log()", "clone()",
                              "contiguous()", "reciprocal()"])
        name = self.new(self.vars[a])
        self.emit(f"{name} = {a}.{fn}", name)

    def reduce(self) -> None:
        a = self.pick()
        shape = self.vars[a]
        nd = len(shape)
        choices = ["sum()", "mean()", "max()"]
        if nd:
            choices += ["sum(0)", "mean(-1)", "max(0).values", "min(-1)[0]", "softmax(-1)", "log_softmax(0)",
                        "norm()", "sum(dim=0, keepdim=True)"]
        if self.rng.random() < 0.05:
            choices.append("sum(2)")  # a dim out of range on some shapes
        fn = self.rng.choice(choices)
        out = () if fn in ("sum()", "mean()", "max()", "norm()") else shape[1:] if fn.startswith(("sum(0", "max(0", "log_softmax(0")) else shape[:-1]
        if fn.startswith(("softmax", "log_softmax")):
            out = shape
        if fn == "sum(dim=0, keepdim=True)":
            out = (1, *shape[1:])
        name = self.new(out)
        self.emit(f"{name} = {a}.{fn}", name)

    def view(self) -> None:
        a = self.pick()
        shape = self.vars[a]
        opts: list[tuple[str, tuple]] = [(".detach()", shape), (".data", shape), (".view(-1)", (max(1, math.prod(shape)),)),
                                         (".unsqueeze(0)", (1, *shape)), ("[...]", shape)]
        if shape:
            opts += [("[0]", shape[1:]), ("[1:]", (shape[0] - 1, *shape[1:])), (".t()", shape[::-1] if len(shape) == 2 else shape),
                     (".transpose(0, -1)", shape[::-1]), (".reshape(-1)", (math.prod(shape),)), ("[:, 0]" if len(shape) == 2 else "[0]", shape[:1] if len(shape) == 2 else ()),
                     (".expand(2, *%s.shape)" % a, (2, *shape))]
            if len(shape) == 2:
                opts.append((".view(3, 2)", (3, 2)))
        suffix, out = self.rng.choice(opts)
        name = self.new(out)
        self.emit(f"{name} = {a}{suffix}", name)

    def inplace(self) -> None:
        a = self.pick()
        b = self.pick()
        stmt = self.rng.choice([f"{a}.add_(1)", f"{a}.mul_(2)", f"{a}.sub_({b})", f"{a}.mul_({b})", f"{a} += 1",
                                f"{a} *= 0.5", f"{a}.relu_()", f"{a}.zero_()", f"{a}.clamp_(-1, 1)", f"{a}.div_(2)",
                                f"{a}.exp_()", f"{a}.sigmoid_()", f"{a}.tanh_()", f"{a}.copy_({b})", f"{a}.fill_(0.5)",
                                f"{a}[0] = 1.0" if self.vars[a] else f"{a}.add_(2)", f"{a}.masked_fill_({a} > 0, 0.0)",
                                f"{a}.abs_()", f"{a}.pow_(2)", f"{a}.detach_()", f"{a}.requires_grad_()",
                                f"{a}.retain_grad()"])
        self.emit(stmt)
        self.emit(f"obs({a!r}, {a}, grad={a in self.grads})")

    def backward(self) -> None:
        a = self.pick()
        retain = self.rng.random() < 0.5
        r = self.rng.random()
        if r < 0.45:
            self.emit(f"{a}.sum().backward(retain_graph={retain})")
        elif r < 0.6:
            self.emit(f"{a}.backward(T.ones_like({a}), retain_graph={retain})")
        elif r < 0.7 and self.leaves:
            leaf = self.rng.choice(self.leaves)
            self.emit(f"{a}.sum().backward(inputs=[{leaf}], retain_graph={retain})")
        elif self.leaves:
            leaf = self.rng.choice(self.leaves)
            cg = self.rng.random() < 0.3
            name = self.new(self.vars[leaf])
            self.emit(f"{name} = T.autograd.grad({a}.sum(), [{leaf}], retain_graph={retain}, create_graph={cg}, "
                      f"allow_unused=True)[0]")
            self.emit(f"obs({name!r}, {name}, grad=True)")
            self.grads.add(name)
        else:
            self.emit(f"{a}.sum().backward()")
        for leaf in self.leaves:
            self.emit(f"obs({leaf!r} + '.grad', {leaf}.grad)")

    def grad_mode_block(self) -> None:
        mode = self.rng.choice(["T.no_grad()", "T.enable_grad()", "T.inference_mode()", "T.set_grad_enabled(False)",
                                "T.inference_mode(False)", "T.set_grad_enabled(True)"])
        self.emit(f"with {mode}:")
        self.indent += "    "
        for _ in range(self.rng.randint(1, 3)):
            self.statement(depth=1)
        self.indent = self.indent[:-4]

    def decorated(self) -> None:
        mode = self.rng.choice(["T.no_grad()", "T.no_grad", "T.enable_grad()", "T.inference_mode()"])
        a = self.pick()
        if self.rng.random() < 0.5:
            self.emit(f"@{mode}\ndef f{self.n}(x):\n    return x * 2")
            name = self.new(self.vars[a])
            self.emit(f"{name} = f{self.n - 1}({a})", name)
        else:
            k = self.n
            self.emit(f"@{mode}\ndef g{k}(x):\n    yield x * 2\n    yield T.is_grad_enabled()")
            name = self.new(self.vars[a])
            self.emit(f"{name}, flag{k} = list(g{k}({a}))", name)
            self.emit(f"obs('flag', flag{k})")

    def optimizer(self) -> None:
        rg = [leaf for leaf in self.leaves]
        if not rg:
            return self.leaf()
        if not self.has_opt:
            kind = self.rng.choice(["SGD([%s], lr=0.1)", "SGD([%s], lr=0.1, momentum=0.9)", "Adam([%s], lr=0.1)",
                                    "AdamW([%s], lr=0.1)", "RMSprop([%s], lr=0.1)", "SGD([%s], lr=0.1, weight_decay=0.1)"])
            params = ", ".join(self.rng.sample(rg, k=min(len(rg), self.rng.randint(1, 2))))
            self.emit(f"opt = T.optim.{kind % params}")
            self.has_opt = True
        stmt = self.rng.choice(["opt.step()", "opt.zero_grad()", "opt.step()"])
        self.emit(stmt)
        for leaf in rg:
            self.emit(f"obs({leaf!r}, {leaf})")

    def module(self) -> None:
        if not self.has_module:
            self.emit("m = T.nn.Sequential(T.nn.Linear(3, 2), T.nn.ReLU(), T.nn.Dropout(%s), T.nn.%s)"
                      % (self.rng.choice(["0.0", "1.0"]), self.rng.choice(["BatchNorm1d(2)", "LayerNorm(2)", "Tanh()", "GELU()"])))
            self.emit("with T.no_grad():\n    m[0].weight.copy_(T.tensor([[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]]))\n"
                      "    m[0].bias.fill_(0.1)")
            self.has_module = True
        r = self.rng.random()
        if r < 0.2:
            self.emit(self.rng.choice(["m.eval()", "m.train()", "m.requires_grad_(False)", "m.zero_grad()"]))
            self.emit("obs('m', m)")
            return
        a = self.pick((1, 2))
        name = self.new(self.vars[a][:-1] + (2,))
        self.emit(f"{name} = m({a})", name)
        self.emit("obs('w', m[0].weight)")

    def combine(self) -> None:
        a, b = self.pick(), self.pick()
        sa, sb = self.vars[a], self.vars[b]
        opts: list[tuple[str, tuple]] = [(f"T.where({a} > 0, {a}, {b})", sa if len(sa) >= len(sb) else sb),
                                         (f"{a}.masked_fill({a} < 0, 0.5)", sa),
                                         (f"T.stack([{a}, {a}])", (2, *sa)), (f"T.maximum({a}, {b})", sa if len(sa) >= len(sb) else sb)]
        if sa:
            opts += [(f"T.cat([{a}, {a} * 2])", (2 * sa[0], *sa[1:])), (f"{a}[T.tensor([0, 0])]", (2, *sa[1:])),
                     (f"{a}[{a} > 0]", ("?",)), (f"{a} @ {b}.t()" if len(sa) == 2 else f"{a} @ {b}", ("?",)),
                     (f"T.nn.functional.mse_loss({a}, {b})", ()), (f"{a}.unbind(0)[0]", sa[1:]),
                     (f"T.nn.functional.cross_entropy({a}, T.tensor([0, 2]))" if len(sa) == 2 else f"{a}.norm(1)", ())]
        expr, shape = self.rng.choice(opts)
        name = self.new(shape if "?" not in shape else (3,))
        self.emit(f"{name} = {expr}", name)

    def grad_edit(self) -> None:
        a = self.rng.choice(self.leaves) if self.leaves else self.pick()
        stmt = self.rng.choice([f"{a}.grad = None", f"{a}.grad.zero_()", f"{a}.grad = T.zeros_like({a})",
                                f"{a}.requires_grad = False", f"{a}.requires_grad = True",
                                f"T.autograd.backward([{self.pick()}.sum()], retain_graph=True)",
                                f"T.nn.utils.clip_grad_norm_([{a}], 0.5)", f"{a}.data = {a}.data * 2",
                                f"{self.pick()}.requires_grad = False"])
        self.emit(stmt)
        self.emit(f"obs({a!r}, {a}, grad={a in self.grads})")
        self.emit(f"obs({a!r} + '.grad', {a}.grad)")

    def statement(self, depth: int = 0) -> None:
        r = self.rng.random()
        table = [(0.09, self.leaf), (0.20, self.binary), (0.28, self.unary), (0.35, self.reduce), (0.45, self.view),
                 (0.59, self.inplace), (0.68, self.backward), (0.73, self.grad_mode_block if depth == 0 else self.unary),
                 (0.77, self.decorated if depth == 0 else self.binary), (0.82, self.optimizer), (0.87, self.module),
                 (0.95, self.combine), (1.01, self.grad_edit)]
        for p, fn in table:
            if r < p:
                fn()
                return


def generate(seed: int) -> str:
    rng = random.Random(seed)
    g = _Gen(rng)
    g.leaf()
    g.leaf()
    for _ in range(rng.randint(4, 12)):
        g.statement()
    for name in list(g.vars):
        g.emit(f"obs({name!r}, {name}, grad={name in g.grads})")
    return "\n".join(g.lines) + "\n"


# ----------------------------------------------------------------------------------------------- runner


def _round(x: Any) -> Any:
    if isinstance(x, list):
        return [_round(v) for v in x]
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return float(f"{x:.4g}")
    return x


def observe(T: Any, value: Any, grad: bool = False) -> Any:
    """grad=True for gradients produced by backward/autograd.grad: their _version is an allocation detail
    (whether torch's AccumulateGrad stole or cloned the buffer) that the engine does not model."""
    if isinstance(value, T.Tensor):
        out: dict[str, Any] = {"value": _round(value.detach().tolist()), "dtype": str(value.dtype).replace("torch.", "")}
        for key, get in (("requires_grad", lambda: value.requires_grad), ("is_leaf", lambda: value.is_leaf),
                         ("grad_fn", lambda: type(value.grad_fn).__name__ if value.grad_fn is not None else None),
                         ("version", lambda: value._version), ("inference", lambda: value.is_inference()),
                         ("grad", lambda: None if value.grad is None else _round(value.grad.tolist()))):
            try:
                out[key] = get()
            except Exception as e:  # noqa: BLE001 - what happened is the observation
                out[key] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if grad:
            out.pop("version")
        return out
    if isinstance(value, T.nn.Module):
        return {"training": [m.training for m in value.modules()],
                "requires_grad": [p.requires_grad for p in value.parameters()]}
    if isinstance(value, (bool, int, float, type(None))):
        return _round(value)
    return repr(type(value).__name__)


def run_program(T: Any, src: str) -> dict:
    observations: list = []

    def obs(name: str, value: Any, grad: bool = False) -> None:
        observations.append([name, observe(T, value, grad or name.endswith(".grad"))])

    T.set_grad_enabled(True)
    T.manual_seed(0)
    env = {"T": T, "obs": obs}
    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(compile(src, "<fuzz>", "exec"), env)  # noqa: S102 - our own generated programs
        except Exception as e:  # noqa: BLE001
            msg = str(e).split(" (Triggered internally")[0]
            error = [type(e).__name__, msg]
    T.set_grad_enabled(True)
    return {"obs": observations, "error": error}


def run_batch(backend: str, programs: list[str]) -> list[dict]:
    if backend == "engine":
        from gradlint.verify.bootstrap import install_engine

        install_engine()
    import torch as T

    return [run_program(T, p) for p in programs]


def compare(a: dict, b: dict) -> str | None:
    """None if the outcomes agree; else a short description of the first difference."""
    if a["error"] != b["error"]:
        return f"error: {a['error']} != {b['error']}"
    if len(a["obs"]) != len(b["obs"]):
        return f"observation count {len(a['obs'])} != {len(b['obs'])}"
    for (na, va), (nb, vb) in zip(a["obs"], b["obs"]):
        if not _close(va, vb):
            return f"{na}: {va} != {vb}"
    return None


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y))
    if isinstance(x, float) and isinstance(y, float) and not isinstance(x, bool):
        return math.isclose(x, y, rel_tol=2e-3, abs_tol=2e-4)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and type(x) is not bool and type(y) is not bool:
        return math.isclose(x, y, rel_tol=2e-3, abs_tol=2e-4)
    return x == y


def main() -> None:
    backend = sys.argv[1]
    programs = json.load(sys.stdin)
    json.dump(run_batch(backend, programs), sys.stdout)


if __name__ == "__main__":
    main()
