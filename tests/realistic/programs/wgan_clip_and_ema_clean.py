"""WGAN critic weight clipping between steps, and an EMA of the weights under no_grad: nothing to report."""
import copy

import torch
import torch.nn as nn

critic = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
ema = copy.deepcopy(critic)


@torch.no_grad()
def update_ema(decay=0.999):
    for ema_p, p in zip(ema.parameters(), critic.parameters()):
        ema_p.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train(loader, clip=0.01):
    for real, fake in loader:
        opt.zero_grad()
        loss = critic(fake).mean() - critic(real).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-clip, clip)
        update_ema()
