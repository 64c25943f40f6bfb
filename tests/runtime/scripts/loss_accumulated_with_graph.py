"""Logging the running loss as a tensor (total += loss) keeps every graph alive; then calling backward on
the running total a second time, after the per-step backwards freed the graphs, fails."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
total = 0
for step in range(3):
    loss = model(torch.randn(5, 3)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    total += loss
print("OUT:", total.requires_grad, type(total.grad_fn).__name__)
total.backward()
