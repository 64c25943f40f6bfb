"""WGAN-GP: the gradient penalty differentiates the critic's gradient (autograd.grad with create_graph)."""
import torch
import torch.nn as nn

torch.manual_seed(0)
critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
gen = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.0, 0.9))
opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.0, 0.9))
for it in range(3):
    real = torch.randn(8, 2)
    fake = gen(torch.randn(8, 3)).detach()
    eps = torch.rand(8, 1)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
    c_loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
    opt_c.zero_grad()
    c_loss.backward()
    opt_c.step()
    g_loss = -critic(gen(torch.randn(8, 3))).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
print("OUT:", grad.requires_grad, mix.is_leaf, critic[0].weight.grad.shape)
