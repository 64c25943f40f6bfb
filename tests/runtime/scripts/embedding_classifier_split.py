"""A bag-of-embeddings text classifier with padding_idx, a random_split train/validation split and a
DataLoader; validation in eval mode under no_grad."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
PAD = 0
tokens = torch.randint(1, 20, (24, 6))
tokens[:, 4:] = PAD
labels = torch.randint(0, 2, (24,))
train_set, val_set = random_split(TensorDataset(tokens, labels), [18, 6], generator=torch.Generator().manual_seed(0))


class BagClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8, padding_idx=PAD)
        self.fc = nn.Linear(8, 2)

    def forward(self, tok):
        mask = (tok != PAD).float().unsqueeze(-1)
        pooled = (self.emb(tok) * mask).sum(1) / mask.sum(1)
        return self.fc(pooled)


model = BagClassifier()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(2):
    model.train()
    for tok, lab in DataLoader(train_set, batch_size=6, shuffle=True):
        loss = nn.functional.cross_entropy(model(tok), lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
model.eval()
correct = 0
with torch.no_grad():
    for tok, lab in DataLoader(val_set, batch_size=3):
        correct += (model(tok).argmax(1) == lab).sum().item()
print("OUT:", len(train_set), len(val_set), model.emb.weight.grad[PAD].abs().sum().item(), 0 <= correct <= 6)
