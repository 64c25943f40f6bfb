"""A DCGAN-style tutorial script whose bugs travel with values: an init function applied to the
networks, a positional-encoding helper handed an embedding's weight, and a hand-written optimizer class
stepped with grad mode on. A manual SGD helper given a model's parameters is fine: it is only ever
called under no_grad."""
import torch
import torch.nn as nn


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.normal_(0.0, 0.02)  # expect: GL001
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)


def init_positions(table):
    table[:, 0::2] = 0.0  # expect: GL001


def sgd(params, lr):
    for p in params:
        p -= lr * p.grad  # only ever called under no_grad: fine


class Momentum:
    def __init__(self, params, lr, beta=0.9):
        self.params = list(params)
        self.lr = lr
        self.beta = beta

    def step(self):
        for p in self.params:
            p.add_(p.grad, alpha=-self.lr)  # expect: GL001


class Generator(nn.Module):
    def __init__(self, nz=8):
        super().__init__()
        self.pos = nn.Embedding(16, nz)
        init_positions(self.pos.weight)
        self.net = nn.Sequential(nn.ConvTranspose2d(nz, 4, 4), nn.BatchNorm2d(4), nn.Tanh())

    def forward(self, z):
        return self.net(z + self.pos.weight[0].view(1, -1, 1, 1))


netG = Generator()
netG.apply(weights_init)
netD = nn.Sequential(nn.Conv2d(4, 1, 4), nn.Flatten(), nn.Sigmoid())
opt_d = Momentum(netD.parameters(), lr=0.01)
criterion = nn.BCELoss()

for real, labels in dataloader:
    opt_g_params = list(netG.parameters())
    fake = netG(torch.randn(real.size(0), 8, 1, 1))
    d_loss = criterion(netD(fake.detach()), torch.zeros(real.size(0), 1))
    d_loss.backward()
    opt_d.step()
    for p in netD.parameters():
        p.grad = None
    g_loss = criterion(netD(fake), torch.ones(real.size(0), 1))
    g_loss.backward()
    with torch.no_grad():
        sgd(netG.parameters(), 0.01)
    for p in netG.parameters():
        p.grad = None
    print(d_loss.item(), g_loss.item())
