"""A mean-teacher setup: the teacher is an exponential moving average of the student, updated in place
under no_grad; consistency loss against the teacher's predictions."""
import copy

import torch
import torch.nn as nn

torch.manual_seed(0)
student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
teacher = copy.deepcopy(student)
for p in teacher.parameters():
    p.requires_grad_(False)
opt = torch.optim.SGD(student.parameters(), lr=0.1)
for step in range(4):
    x = torch.randn(6, 4)
    with torch.no_grad():
        target = teacher(x).softmax(-1)
    loss = ((student(x).softmax(-1) - target) ** 2).sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for tp, sp in zip(teacher.parameters(), student.parameters()):
            tp.mul_(0.9).add_(sp, alpha=0.1)
print("OUT:", target.requires_grad, all(p.grad is None for p in teacher.parameters()), teacher[0].weight._version)
