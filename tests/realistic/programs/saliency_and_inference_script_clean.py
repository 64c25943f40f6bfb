"""An inference script that turns grad off globally, and a saliency map that needs gradients: nothing to report."""
import torch
import torch.nn as nn

torch.set_grad_enabled(False)
model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
model.eval()
x = torch.randn(4, 10)
print(model(x).argmax(1))


def saliency(model, image, target):
    model.eval()
    with torch.enable_grad():
        image = image.clone().requires_grad_(True)
        score = model(image)[0, target]
        score.backward()
    return image.grad.abs()
