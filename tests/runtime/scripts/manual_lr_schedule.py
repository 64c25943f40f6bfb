"""A manual learning-rate schedule through param_groups, per-group weight decay and clip_grad_value_."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1))
opt = torch.optim.SGD([{"params": model[0].parameters(), "weight_decay": 1e-3},
                       {"params": model[2].parameters(), "lr": 0.01}], lr=0.1, momentum=0.5)
x, y = torch.randn(10, 3), torch.randn(10, 1)
lrs = []
for epoch in range(4):
    for g in opt.param_groups:
        g["lr"] = g["lr"] * 0.5
    lrs.append(round(opt.param_groups[0]["lr"], 4))
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
    opt.step()
print("OUT:", lrs, len(opt.state), "momentum_buffer" in opt.state[model[0].weight])
