"""Early stopping: the best state_dict is kept (cloned tensors), restored with load_state_dict; the
validation pass runs in eval mode under inference_mode."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
xt, yt = torch.randn(32, 4), torch.randn(32, 1)
xv, yv = torch.randn(8, 4), torch.randn(8, 1)
best, best_state, bad_epochs = float("inf"), None, 0
for epoch in range(6):
    model.train()
    loss = nn.functional.mse_loss(model(xt), yt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    with torch.inference_mode():
        val = nn.functional.mse_loss(model(xv), yv).item()
    if val < best:
        best, bad_epochs = val, 0
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    else:
        bad_epochs += 1
model.load_state_dict(best_state)
print("OUT:", sorted(best_state)[:3], model.training, isinstance(best, float))
