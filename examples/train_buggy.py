"""A small training script with the grad-mode mistakes gradlint catches.

Run `gradlint check examples/` to see them; `examples/train_fixed.py` is the same script done right.
"""

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


def sgd_step(model):
    for p in model.parameters():
        p -= lr * p.grad  # GL001: raises "a leaf Variable that requires grad is being used in an in-place operation."


def evaluate(model, loader):
    correct = 0
    for xb, yb in loader:
        out = model(xb)  # GL004 (no model.eval()) and GL005 (grad mode on)
        correct += (out.data.argmax(1) == yb).sum().item()  # GL003: .data read
    return correct / len(loader.dataset)


for epoch in range(3):
    model.train()
    for xb, yb in train_loader:
        model.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p = p - lr * p.grad  # GL002: rebinds the loop variable; the model never changes
    print(f"epoch {epoch}: val accuracy {evaluate(model, val_loader):.2f}")
