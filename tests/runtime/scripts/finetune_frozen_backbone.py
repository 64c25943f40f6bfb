"""Fine-tuning a new head on a frozen backbone: requires_grad_(False), an optimizer over the head only."""
import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
head = nn.Linear(16, 3)
backbone.requires_grad_(False)
opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
x, y = torch.randn(20, 10), torch.randint(0, 3, (20,))
for epoch in range(3):
    feats = backbone(x)
    loss = nn.functional.cross_entropy(head(feats), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("OUT:", feats.requires_grad, backbone[0].weight.grad is None, head.weight.grad is not None)
