"""A MAML-style inner loop: adapted weights are built from autograd.grad(create_graph=True) and the outer
loss backpropagates through the adaptation (second-order gradients)."""
import torch
import torch.nn.functional as F

torch.manual_seed(0)
w = torch.randn(3, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
meta_opt = torch.optim.SGD([w, b], lr=0.01)
for task in range(3):
    xs, ys = torch.randn(5, 3), torch.randn(5, 1)
    xq, yq = torch.randn(5, 3), torch.randn(5, 1)
    inner = F.mse_loss(xs @ w + b, ys)
    gw, gb = torch.autograd.grad(inner, (w, b), create_graph=True)
    w2, b2 = w - 0.1 * gw, b - 0.1 * gb
    outer = F.mse_loss(xq @ w2 + b2, yq)
    meta_opt.zero_grad()
    outer.backward()
    meta_opt.step()
print("OUT:", w2.requires_grad, w.grad.shape, gw.grad_fn is not None)
