"""A Hugging Face-style custom loop with gradient accumulation and clipping: nothing to report."""
import torch
from torch.nn.utils import clip_grad_norm_


def train(model, dataloader, optimizer, scheduler, accum_steps=4, max_norm=1.0, epochs=3):
    model.train()
    tr_loss = 0.0
    global_step = 0
    for epoch in range(epochs):
        for step, batch in enumerate(dataloader):
            outputs = model(**batch)
            loss = outputs.loss / accum_steps
            loss.backward()
            tr_loss += loss.item()
            if (step + 1) % accum_steps == 0:
                clip_grad_norm_(model.parameters(), max_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                global_step += 1
    return tr_loss / max(global_step, 1)


@torch.no_grad()
def evaluate(model, dataloader):
    model.eval()
    losses = []
    for batch in dataloader:
        losses.append(model(**batch).loss)
    return torch.stack(losses).mean().item()
