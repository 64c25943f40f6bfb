"""A bootstrapped (TD-style) target: computed from the same network but detached, so only the online
prediction is differentiated; the target network's copy is refreshed with load_state_dict."""
import torch
import torch.nn as nn

torch.manual_seed(0)
q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
q_target = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
q_target.load_state_dict(q.state_dict())
opt = torch.optim.Adam(q.parameters(), lr=1e-3)
for step in range(5):
    s, s2 = torch.randn(8, 4), torch.randn(8, 4)
    a, r = torch.randint(0, 2, (8,)), torch.randn(8)
    q_sa = q(s).gather(1, a.unsqueeze(1)).squeeze(1)
    target = r + 0.99 * q_target(s2).max(1).values.detach()
    loss = nn.functional.mse_loss(q_sa, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 2 == 0:
        q_target.load_state_dict(q.state_dict())
print("OUT:", target.requires_grad, q_sa.grad_fn is not None, q_target[0].weight.grad)
