"""An in-place activation on a tensor a previous op saved for backward: sigmoid saves its output, the
in-place ReLU overwrites it, and backward fails."""
import torch
import torch.nn as nn

torch.manual_seed(0)
lin = nn.Linear(4, 4)
x = torch.randn(2, 4)
h = torch.sigmoid(lin(x))
h.relu_()
h.sum().backward()
