"""Gradient accumulation over micro-batches: loss / steps, step and zero_grad every `accum` batches."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
accum = 4
data = [(torch.randn(3, 5), torch.randn(3, 1)) for _ in range(8)]
opt.zero_grad()
steps = 0
for i, (x, y) in enumerate(data):
    loss = nn.functional.mse_loss(model(x), y) / accum
    loss.backward()
    if (i + 1) % accum == 0:
        opt.step()
        opt.zero_grad()
        steps += 1
print("OUT:", steps, model[0].weight.grad)
