"""Fine-tuning a pretrained backbone: correct freezing, correct evaluation."""
import torch
import torch.nn as nn
import torchvision


def build(num_classes):
    model = torchvision.models.resnet18(weights=None)
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def evaluate(model, val_loader):
    model.eval()
    correct = total = 0
    with torch.no_grad:  # expect: GL010
        for images, labels in val_loader:
            logits = model(images)
            correct += (logits.argmax(1) == labels).sum().item()
            total += labels.numel()
    return correct / total


def fit(model, train_loader, val_loader, epochs):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        acc = evaluate(model, val_loader)
        print(f"epoch {epoch}: {acc:.3f}")
