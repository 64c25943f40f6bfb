"""`examples/train_buggy.py` done right: `gradlint check examples/train_fixed.py` finds nothing."""

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x, y = torch.randn(256, 10), torch.randint(0, 3, (256,))
train_loader = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
val_loader = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=32)

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
criterion = nn.CrossEntropyLoss()
lr = 0.1


@torch.no_grad()
def sgd_step(model):
    for p in model.parameters():
        p -= lr * p.grad


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = 0
    for xb, yb in loader:
        out = model(xb)
        correct += (out.argmax(1) == yb).sum().item()
    return correct / len(loader.dataset)


for epoch in range(3):
    model.train()
    for xb, yb in train_loader:
        model.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        sgd_step(model)
    print(f"epoch {epoch}: val accuracy {evaluate(model, val_loader):.2f}")
