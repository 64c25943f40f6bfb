"""A small autoencoder; the reconstruction error is reported under torch.no_grad()."""
import torch
from torch import nn

torch.manual_seed(0)
enc = nn.Sequential(nn.Linear(8, 4), nn.Sigmoid())
dec = nn.Sequential(nn.Linear(4, 8))
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
data = torch.rand(16, 8)
for epoch in range(5):
    recon = dec(enc(data))
    loss = ((recon - data) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    err = (dec(enc(data)) - data).abs().mean()
print("OUT:", err.requires_grad, err.dim(), f"{err:.3f}".count("."))
