"""An ImageNet-example-shaped script with train/validate done right: nothing to report."""
import torch
import torch.nn as nn


class AverageMeter:
    def __init__(self):
        self.sum = 0.0
        self.count = 0

    def update(self, val, n=1):
        self.sum += val * n
        self.count += n


def train(train_loader, model, criterion, optimizer, epoch):
    losses = AverageMeter()
    model.train()
    for i, (images, target) in enumerate(train_loader):
        output = model(images)
        loss = criterion(output, target)
        losses.update(loss.item(), images.size(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def validate(val_loader, model, criterion):
    losses = AverageMeter()
    model.eval()
    with torch.no_grad():
        for i, (images, target) in enumerate(val_loader):
            output = model(images)
            loss = criterion(output, target)
            losses.update(loss.item(), images.size(0))
    return losses.sum / max(losses.count, 1)


def main(train_loader, val_loader, model, epochs=90):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    best = float("inf")
    for epoch in range(epochs):
        train(train_loader, model, criterion, optimizer, epoch)
        loss = validate(val_loader, model, criterion)
        scheduler.step()
        best = min(best, loss)
