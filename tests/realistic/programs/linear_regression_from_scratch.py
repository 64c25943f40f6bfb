"""Linear regression 'from scratch', as blog posts write it."""
import torch

torch.manual_seed(0)
X = torch.randn(100, 3)
true_w = torch.tensor([2.0, -1.0, 0.5])
y = X @ true_w + 0.1 * torch.randn(100)

w = torch.randn(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1

for epoch in range(100):
    pred = X @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    w -= lr * w.grad  # expect: GL001
    b -= lr * b.grad  # expect: GL001
    w.grad.zero_()
    b.grad.zero_()
    print(epoch, loss.item())
