"""The GAN bug: one forward, the generator's loss backpropagated with retain_graph=True, the discriminator
updated in place by opt_d.step(), then a second backward through weights the step modified."""
import torch
import torch.nn as nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
opt_g = torch.optim.SGD(G.parameters(), lr=0.01)
opt_d = torch.optim.SGD(D.parameters(), lr=0.01)
fake = G(torch.randn(4, 4))
score = D(fake)
d_loss = score.mean()
g_loss = -score.mean()
opt_d.zero_grad()
d_loss.backward(retain_graph=True)
opt_d.step()
opt_g.zero_grad()
g_loss.backward()
opt_g.step()
