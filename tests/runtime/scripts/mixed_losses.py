"""A multi-task head trained on a weighted sum of cross-entropy, MSE, L1 and BCE-with-logits losses."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 12), nn.ReLU())
        self.cls = nn.Linear(12, 3)
        self.reg = nn.Linear(12, 2)
        self.tag = nn.Linear(12, 4)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h), self.tag(h)


model = MultiTask()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(10, 6)
y_cls, y_reg, y_tag = torch.randint(0, 3, (10,)), torch.randn(10, 2), (torch.rand(10, 4) > 0.5).float()
for step in range(3):
    c, r, t = model(x)
    loss = F.cross_entropy(c, y_cls) + 0.5 * F.mse_loss(r, y_reg) + 0.1 * F.l1_loss(r, y_reg) + \
        F.binary_cross_entropy_with_logits(t, y_tag)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("OUT:", f"{loss.item():.0f}".isdigit(), type(loss.grad_fn).__name__)
