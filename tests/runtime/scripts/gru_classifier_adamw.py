"""A GRU sequence classifier (batch_first) trained with AdamW and gradient clipping by value."""
import torch
from torch import nn

torch.manual_seed(0)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        _, h = self.gru(x)
        return self.fc(h[-1])


model = Classifier()
opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
x, y = torch.randn(6, 7, 3), torch.randint(0, 4, (6,))
for epoch in range(4):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), 0.5)
    opt.step()
print("OUT:", type(opt.state).__name__, sorted(opt.state[model.fc.weight].keys()), model.fc.weight.grad.abs().max() <= 0.5)
