"""The classic truncated-BPTT bug: the hidden state is carried across batches without detach(), so the
second backward runs into the first batch's freed graph."""
import torch
import torch.nn as nn

torch.manual_seed(0)
rnn = nn.LSTM(4, 6)
head = nn.Linear(6, 1)
opt = torch.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.1)
hidden = (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6))
for step in range(3):
    x = torch.randn(5, 2, 4)
    out, hidden = rnn(x, hidden)
    loss = head(out[-1]).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
