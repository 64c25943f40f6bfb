"""torch.nn: Module and the layers and losses the engine supports."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradlint.runtime import _errors as E
from gradlint.runtime._core import Tensor, float32, no_grad
from gradlint.runtime.nn import functional, init, utils
from gradlint.runtime.nn.parameter import Parameter

F = functional

__all__ = [
    "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "Identity",
    "L1Loss", "Linear", "MSELoss", "Module", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Tanh", "functional", "init", "utils", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm2d", "GELU", "LeakyReLU", "Softmax", "LayerNorm", "RNN", "GRU", "LSTM",
]


class Module:
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self.__dict__.pop(name, None)
            params.pop(name, None)
            self._modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(torch.nn.Parameter or None expected)")
            params[name] = None
        elif params is not None and name in self._buffers:
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # ---- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, Module]]:
        memo = memo if memo is not None else set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mname, m in self.named_modules(prefix=prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    # ---- modes
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p._grad is not None:
                if set_to_none:
                    p._grad = None
                else:
                    p._grad.detach_()
                    p._grad.zero_()

    # ---- state
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        out: OrderedDict = OrderedDict()
        for name, p in self.named_parameters():
            out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self.named_buffers():
            out[prefix + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> Any:
        own = dict(self.named_parameters())
        own.update(dict(self.named_buffers()))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               f"missing keys {missing}, unexpected keys {unexpected}")
        with no_grad():
            for k, v in state_dict.items():
                if k in own:
                    own[k].copy_(v)
        return (missing, unexpected)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        for a in list(args) + list(kwargs.values()):
            if str(a).split(":")[0] not in ("cpu",) and not hasattr(a, "is_floating_point"):
                raise E.unsupported(f"Module.to({a!r}) (the gradlint runtime runs on the CPU)")
        dt = next((a for a in list(args) + [kwargs.get("dtype")] if hasattr(a, "is_floating_point")), None)
        if dt is not None:
            for p in self.parameters():  # keeps Parameter identity, like torch
                p._a = p._a.astype(dt.np)
        return self

    def cpu(self) -> Module:
        return self

    def apply(self, fn) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        dt = dtype or float32
        self.weight = Parameter(Tensor(np.empty((out_features, in_features), dtype=dt.np)))
        self.bias = Parameter(Tensor(np.empty((out_features,), dtype=dt.np))) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, **kw: Any) -> None:
        super().__init__()
        if kw:
            raise E.unsupported(f"Embedding({', '.join(kw)}=...)")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = Parameter(Tensor(np.zeros((num_embeddings, embedding_dim), dtype=np.float32)))
        init.normal_(self.weight)
        if padding_idx is not None:
            with no_grad():
                self.weight[padding_idx].fill_(0)

    def forward(self, idx: Tensor) -> Tensor:
        return F.embedding(idx, self.weight, self.padding_idx)


class Conv2d(Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, **kw: Any) -> None:
        super().__init__()
        if groups != 1 or kw:
            raise E.unsupported("Conv2d with groups or padding_mode")
        kh, kw_ = F._pair(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw_)
        self.stride, self.padding, self.dilation = F._pair(stride), F._pair(padding), F._pair(dilation)
        self.weight = Parameter(Tensor(np.empty((out_channels, in_channels, kh, kw_), dtype=np.float32)))
        self.bias = Parameter(Tensor(np.empty((out_channels,), dtype=np.float32))) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            init.uniform_(self.bias, -1 / math.sqrt(in_channels * kh * kw_), 1 / math.sqrt(in_channels * kh * kw_))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class MaxPool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, **kw: Any) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation, self.kw = kernel_size, stride, padding, dilation, kw

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, **self.kw)


class AvgPool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope, self.inplace)


class Softmax(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)


class LayerNorm(Module):
    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(Tensor(np.ones(self.normalized_shape, dtype=np.float32)))
            self.bias = Parameter(Tensor(np.zeros(self.normalized_shape, dtype=np.float32))) if bias else None
            if not bias:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class _RNNBase(Module):
    """RNN/GRU/LSTM written with the engine's ops (torch's gate layout and initialisation)."""

    gates = 1
    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, **kw: Any) -> None:
        super().__init__()
        if bidirectional or kw.get("proj_size"):
            raise E.unsupported(f"{type(self).__name__}(bidirectional/proj_size)")
        nonlinearity = kw.pop("nonlinearity", "tanh")
        if kw:
            raise E.unsupported(f"{type(self).__name__}({', '.join(kw)}=...)")
        self.nonlinearity = nonlinearity
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size
            shapes = {f"weight_ih_l{layer}": (self.gates * hidden_size, in_size),
                      f"weight_hh_l{layer}": (self.gates * hidden_size, hidden_size)}
            if bias:
                shapes.update({f"bias_ih_l{layer}": (self.gates * hidden_size,), f"bias_hh_l{layer}": (self.gates * hidden_size,)})
            for name, shape in shapes.items():
                p = Parameter(Tensor(np.empty(shape, dtype=np.float32)))
                init.uniform_(p, -bound, bound)
                setattr(self, name, p)

    def _cell(self, x: Tensor, state: Any, layer: int) -> Any:
        raise NotImplementedError

    def _zeros(self, batch: int) -> Tensor:
        return Tensor(np.zeros((self.num_layers, batch, self.hidden_size), dtype=np.float32))

    def forward(self, x: Tensor, hx: Any = None) -> Any:
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1) if not self.batch_first else x.unsqueeze(0)
        if x.dim() != 3:
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {x.dim()}D instead")
        if self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[2] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[2]}")
        batch = x.shape[1]
        is_lstm = self.gates == 4
        if hx is None:
            hx = (self._zeros(batch), self._zeros(batch)) if is_lstm else self._zeros(batch)
        elif unbatched:
            hx = tuple(h.unsqueeze(1) for h in hx) if is_lstm else hx.unsqueeze(1)
        layer_in = list(x.unbind(0)) if False else [x[t] for t in range(x.shape[0])]
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            state = (hx[0][layer], hx[1][layer]) if is_lstm else hx[layer]
            outs = []
            for xt in layer_in:
                state = self._cell(xt, state, layer)
                outs.append(state[0] if is_lstm else state)
            if is_lstm:
                finals_h.append(state[0])
                finals_c.append(state[1])
            else:
                finals_h.append(state)
            layer_in = outs
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = [F.dropout(o, self.dropout, True) for o in layer_in]
        from gradlint.runtime import _ops as O

        out = O.stack(layer_in, 0)
        if self.batch_first:
            out = out.transpose(0, 1)
        h_n = O.stack(finals_h, 0)
        if unbatched:
            out = out.squeeze(1 if not self.batch_first else 0)
            h_n = h_n.squeeze(1)
        if is_lstm:
            c_n = O.stack(finals_c, 0)
            return out, (h_n, c_n.squeeze(1) if unbatched else c_n)
        return out, h_n

    def _lin(self, x: Tensor, h: Tensor, layer: int) -> tuple[Tensor, Tensor]:
        bi = getattr(self, f"bias_ih_l{layer}") if self.bias else None
        bh = getattr(self, f"bias_hh_l{layer}") if self.bias else None
        return (F.linear(x, getattr(self, f"weight_ih_l{layer}"), bi), F.linear(h, getattr(self, f"weight_hh_l{layer}"), bh))


class RNN(_RNNBase):
    gates = 1

    def _cell(self, x: Tensor, h: Tensor, layer: int) -> Tensor:
        a, b = self._lin(x, h, layer)
        return F.tanh(a + b) if self.nonlinearity == "tanh" else F.relu(a + b)


class GRU(_RNNBase):
    gates = 3

    def _cell(self, x: Tensor, h: Tensor, layer: int) -> Tensor:
        a, b = self._lin(x, h, layer)
        H = self.hidden_size
        r = F.sigmoid(a[:, :H] + b[:, :H])
        z = F.sigmoid(a[:, H : 2 * H] + b[:, H : 2 * H])
        n = F.tanh(a[:, 2 * H :] + r * b[:, 2 * H :])
        return (1 - z) * n + z * h


class LSTM(_RNNBase):
    gates = 4

    def _cell(self, x: Tensor, state: Any, layer: int) -> Any:
        h, c = state
        a, b = self._lin(x, h, layer)
        g = a + b
        H = self.hidden_size
        i, f = F.sigmoid(g[:, :H]), F.sigmoid(g[:, H : 2 * H])
        cell, o = F.tanh(g[:, 2 * H : 3 * H]), F.sigmoid(g[:, 3 * H :])
        c = f * c + i * cell
        return o * F.tanh(c), c


class ReLU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, inplace=self.inplace)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Identity(Module):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)


class _BatchNorm(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(Tensor(np.ones(num_features, dtype=np.float32)))
            self.bias = Parameter(Tensor(np.zeros(num_features, dtype=np.float32)))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.asarray(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    dims: tuple[int, ...] = (2, 3)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() not in self.dims:
            raise ValueError(f"expected {' or '.join(f'{d}D' for d in self.dims)} input (got {x.dim()}D input)")
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
                            self.momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    dims = (4,)


class Sequential(Module):
    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for k, m in modules[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def __getitem__(self, idx: int) -> Module:
        keys = list(self._modules)
        if isinstance(idx, slice):
            return Sequential(*[self._modules[k] for k in keys[idx]])
        return self._modules[keys[idx]]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        self._modules[keys[idx]] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for i, m in enumerate(modules or []):
            self.add_module(str(i), m)

    def __getitem__(self, idx: int) -> Module:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, m: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), m)
        return self


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise E.unsupported(f"torch.nn.{name}")
