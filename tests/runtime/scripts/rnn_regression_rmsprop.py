"""A vanilla RNN regressing the running sum of its inputs, trained with RMSprop."""
import torch
import torch.nn as nn

torch.manual_seed(3)
rnn = nn.RNN(1, 16)
readout = nn.Linear(16, 1)
params = list(rnn.parameters()) + list(readout.parameters())
opt = torch.optim.RMSprop(params, lr=1e-2)
for it in range(5):
    x = torch.rand(6, 4, 1)
    target = x.sum(0)
    out, h = rnn(x)
    pred = readout(out[-1])
    loss = nn.MSELoss()(pred, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("OUT:", pred.shape, h.shape, loss.dim())
