"""Fine-tuning with a frozen convolutional backbone kept in eval mode (BatchNorm statistics frozen) and
features computed under no_grad."""
import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())
for p in backbone.parameters():
    p.requires_grad = False
backbone.eval()
head = nn.Linear(4, 2)
opt = torch.optim.Adam(head.parameters(), lr=1e-2)
images, labels = torch.randn(6, 3, 4, 4), torch.randint(0, 2, (6,))
for step in range(3):
    with torch.no_grad():
        feats = backbone(images)
    loss = nn.CrossEntropyLoss()(head(feats), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("OUT:", int(backbone[1].num_batches_tracked), feats.requires_grad, backbone.training, head.training)
