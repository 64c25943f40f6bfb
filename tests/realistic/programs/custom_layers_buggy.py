"""Custom layers with subtle grad-mode bugs."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLPBlock(nn.Module):
    def __init__(self, dim, p=0.1):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.p = p

    def forward(self, x):
        return F.dropout(F.gelu(self.fc(x)), self.p)  # expect: GL018


def make_embedding(vocab, dim, pretrained):
    emb = nn.Embedding(vocab, dim)
    emb.weight.require_grad = False  # expect: GL009
    return emb


def scale_init(n):
    w = torch.randn(n, n, requires_grad=True) * 0.01  # expect: GL008
    opt = torch.optim.SGD([w], lr=0.1)
    return w, opt
