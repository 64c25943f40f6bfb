"""Synthetic training files of a chosen length, with or without findings (for the scaling and editor
benchmarks in bench/scaling.py and the hostile-input tests).

    training_file(lines, findings=True) -> str

The file is one realistic header (imports, a model, loaders) followed by copies of one ~100-line block
of training, evaluation and utility code; each copy has its own names, so nothing is shared across
copies. With `findings`, each block has one GL001 (an in-place update of a parameter with grad mode on,
which has a block-wrapping `with torch.no_grad():` fix); without, the same line is written correctly
under `torch.no_grad()`. So a 3,000-line file has 30 findings and a 24,000-line one 240.
"""

from __future__ import annotations

HEADER = '''"""A generated training script (gradlint benchmark)."""

import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x, y = torch.randn(256, 10), torch.randint(0, 3, (256,))
train_loader = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
val_loader = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=32)
criterion = nn.CrossEntropyLoss()
lr = 0.1
'''

BLOCK = '''

class Net{i}(nn.Module):
    """Block {i}: a small classifier."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, width)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(width, 3)
        self.scale = math.sqrt(width)

    def forward(self, xb):
        h = F.relu(self.fc1(xb)) / self.scale
        h = self.drop(h)
        return self.fc2(h)


def make_optimizer_{i}(model, lr=lr, momentum=0.9):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


def manual_step_{i}(model):
    {update}


def clip_{i}(model, max_norm=1.0):
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float(p.grad.norm()) ** 2
    total = total ** 0.5
    if total > max_norm:
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(max_norm / (total + 1e-6))
    return total


def train_epoch_{i}(model, optimizer, loader):
    model.train()
    running = 0.0
    for step, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        out = model(xb)
        loss = criterion(out, yb)
        loss.backward()
        clip_{i}(model)
        optimizer.step()
        running += loss.item()
        if step % 10 == 0:
            print(f"block {i} step {{step}}: loss {{loss.item():.4f}}")
    return running / max(1, len(loader))


@torch.no_grad()
def evaluate_{i}(model, loader):
    model.eval()
    correct = 0
    seen = 0
    for xb, yb in loader:
        out = model(xb)
        correct += (out.argmax(1) == yb).sum().item()
        seen += yb.numel()
    model.train()
    return correct / max(1, seen)


def run_{i}(epochs=2):
    model = Net{i}()
    optimizer = make_optimizer_{i}(model)
    history = []
    for epoch in range(epochs):
        loss = train_epoch_{i}(model, optimizer, train_loader)
        acc = evaluate_{i}(model, val_loader)
        history.append((epoch, loss, acc))
        if acc > 0.99:
            break
    manual_step_{i}(model)
    return history
'''

BAD_UPDATE = """for p in model.parameters():
        if p.grad is not None:
            p -= lr * p.grad"""
GOOD_UPDATE = """with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= lr * p.grad"""


def training_file(lines: int, findings: bool = True) -> str:
    """About `lines` lines (never fewer) of training code; one GL001 per block with `findings`."""
    parts = [HEADER]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(BLOCK.format(i=i, update=BAD_UPDATE if findings else GOOD_UPDATE))
        i += 1
    return "".join(parts)


if __name__ == "__main__":  # pragma: no cover
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    sys.stdout.write(training_file(n, findings="--clean" not in sys.argv))
