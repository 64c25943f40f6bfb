"""torch.optim: SGD (momentum, dampening, weight decay, nesterov) and Adam, with torch's update math."""

from __future__ import annotations

import math
from typing import Any

from gradlint.runtime import _errors as E
from gradlint.runtime._core import Tensor, no_grad

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD"]


class Optimizer:
    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        from collections import defaultdict

        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got torch.FloatTensor")
        groups = list(params)
        if not groups:
            raise ValueError(E.EMPTY_PARAMS)
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + type(p).__name__)
            if not p.is_leaf:
                raise ValueError(E.NONLEAF_OPTIMIZE)
        seen = {id(q) for grp in self.param_groups for q in grp["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(E.DUPLICATE_PARAMS)
        g = {**self.defaults, **group, "params": params}
        self.param_groups.append(g)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p._grad is not None:
                    if set_to_none:
                        p._grad = None
                    else:
                        p._grad.detach_()
                        p._grad.zero_()

    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            from gradlint.runtime._core import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for g in self.param_groups:
                for p in g["params"]:
                    if p._grad is not None:
                        self._update(p, p._grad, g, self.state.setdefault(p, {}))
        return loss

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"state": dict(self.state), "param_groups": [{k: v for k, v in g.items() if k != "params"}
                                                           for g in self.param_groups]}


class SGD(Optimizer):
    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, maximize: bool = False, **kw: Any) -> None:
        if kw:
            raise E.unsupported(f"SGD({', '.join(kw)}=...)")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        d_p = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            d_p = d_p + group["weight_decay"] * p
        m = group["momentum"]
        if m:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = d_p.clone()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(m).add_(d_p, alpha=1 - group["dampening"])
            d_p = d_p + m * buf if group["nesterov"] else buf
        p.add_(d_p, alpha=-group["lr"])


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, **kw: Any) -> None:
        kw = {k: v for k, v in kw.items() if k not in ("foreach", "fused", "capturable", "differentiable") or v}
        if kw:
            raise E.unsupported(f"{type(self).__name__}({', '.join(kw)}=...)")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        from gradlint.runtime import zeros_like

        if self.decoupled and group["weight_decay"]:
            p.mul_(1 - group["lr"] * group["weight_decay"])

        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if group["weight_decay"] and not self.decoupled:
            grad = grad + group["weight_decay"] * p
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - beta1**step
        bias2 = 1 - beta2**step
        step_size = group["lr"] / bias1
        second = state["exp_avg_sq"]
        if group["amsgrad"]:
            state["max_exp_avg_sq"]._a[...] = (state["max_exp_avg_sq"]._a.clip(min=second._a)).astype(second._a.dtype)
            second = state["max_exp_avg_sq"]
        denom = second.sqrt() / math.sqrt(bias2) + group["eps"]
        p.addcdiv_(state["exp_avg"], denom, value=-step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr * weight_decay before the Adam step)."""

    decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, **kw: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, **kw)


class RMSprop(Optimizer):
    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, **kw: Any) -> None:
        if kw:
            raise E.unsupported(f"RMSprop({', '.join(kw)}=...)")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        from gradlint.runtime import zeros_like

        if not state:
            state["step"] = 0
            state["square_avg"] = zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        alpha = group["alpha"]
        sq = state["square_avg"]
        sq.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            ga = state["grad_avg"]
            ga.lerp_(grad, 1 - alpha)
            avg = (sq - ga * ga).sqrt() + group["eps"]
        else:
            avg = sq.sqrt() + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(grad, avg)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(grad, avg, value=-group["lr"])
