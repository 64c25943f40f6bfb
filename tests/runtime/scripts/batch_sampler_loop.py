"""Manual batching with a BatchSampler over a RandomSampler; f-string logging of 0-d tensors."""
import torch
import torch.nn as nn
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

torch.manual_seed(0)
x, y = torch.randn(10, 3), torch.randn(10, 1)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
logs = []
for idx in BatchSampler(RandomSampler(range(10)), batch_size=4, drop_last=False):
    idx = torch.tensor(idx)
    loss = nn.functional.mse_loss(model(x[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    logs.append(f"loss={loss:.4f}")
print("OUT:", len(logs), list(BatchSampler(SequentialSampler(range(5)), 2, True)), logs[0][:5])
