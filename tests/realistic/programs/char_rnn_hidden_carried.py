"""A char-RNN training loop that carries the hidden state across batches."""
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.cell = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, h):
        h = torch.tanh(self.cell(torch.cat([self.embed(x), h], dim=-1)))
        return self.out(h), h


def train(model, batches, hidden_size, epochs=2):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        hidden = torch.zeros(1, hidden_size)
        for x, y in batches:
            optimizer.zero_grad()
            logits, hidden = model(x, hidden)  # expect: GL013
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
