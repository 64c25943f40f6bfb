"""An LSTM language model with truncated BPTT: the hidden state tuple is detached between batches."""
import torch
import torch.nn as nn

torch.manual_seed(0)
vocab, emb, hid, seq, batch = 12, 8, 10, 5, 3


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hid, num_layers=2, batch_first=True)
        self.out = nn.Linear(hid, vocab)

    def forward(self, tokens, hidden=None):
        h, hidden = self.rnn(self.embed(tokens), hidden)
        return self.out(h), hidden


model = LM()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
stream = torch.randint(0, vocab, (batch, 4 * seq + 1))
hidden = None
for i in range(0, 4 * seq, seq):
    inp, tgt = stream[:, i : i + seq], stream[:, i + 1 : i + 1 + seq]
    if hidden is not None:
        hidden = tuple(h.detach() for h in hidden)
    logits, hidden = model(inp, hidden)
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
print("OUT:", logits.shape, [h.shape for h in hidden], hidden[0].requires_grad)
