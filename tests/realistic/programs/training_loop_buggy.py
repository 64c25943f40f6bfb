"""A hand-rolled training loop with a forgotten zero_grad and validation that leaves the model in eval mode."""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.MSELoss()


def fit(train_loader, val_loader, epochs=10):
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()  # expect: GL007
        model.eval()  # expect: GL016
        with torch.no_grad():
            val = sum(criterion(model(x), y).item() for x, y in val_loader)
        print(epoch, val)
