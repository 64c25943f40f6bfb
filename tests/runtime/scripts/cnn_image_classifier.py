"""A small CNN on random 'images': conv/pool/flatten/linear, SGD with momentum, eval under no_grad."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8, 3))

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        return self.head(F.relu(self.conv2(x)))


x = torch.randn(12, 1, 8, 8)
y = torch.randint(0, 3, (12,))
loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(2):
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
model.eval()
with torch.no_grad():
    pred = model(x).argmax(1)
print("OUT:", pred.shape, pred.requires_grad, loss.grad_fn is not None, model.conv1.weight.grad.shape)
