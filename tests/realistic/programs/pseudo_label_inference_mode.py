"""Pseudo-labelling with targets computed under inference_mode, then trained on."""
import torch
import torch.nn as nn

teacher = nn.Linear(8, 4)
student = nn.Linear(8, 4)
opt = torch.optim.SGD(student.parameters(), lr=0.1)
x = torch.randn(32, 8)

with torch.inference_mode():
    soft_targets = teacher(x).softmax(-1)

for step in range(10):
    opt.zero_grad()
    logits = student(x)
    loss = (logits.log_softmax(-1) * soft_targets).sum(-1).mean().neg()  # expect: GL012
    loss.backward()
    opt.step()
