"""Conv + BatchNorm2d: train steps, then evaluation in inference_mode with running statistics."""
import torch
from torch import nn

torch.manual_seed(1)
model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                      nn.Linear(6 * 2 * 2, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
data = torch.randn(8, 3, 4, 4)
target = torch.randint(0, 2, (8,))
for step in range(3):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(model(data), target)
    loss.backward()
    opt.step()
model.eval()
with torch.inference_mode():
    out = model(data[:2])
print("OUT:", out.shape, out.is_inference(), int(model[1].num_batches_tracked), model.training)
