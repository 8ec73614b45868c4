"""The non-linear probe: one hidden layer (ReLU), Adam, early stopping on held-out rows.

Seeded throughout (a private `torch.Generator` draws the initial weights and the minibatch
order; no global random state is touched), float32, on any torch device. Training stops when
the held-out cross-entropy has not improved for `patience` epochs; the weights of the best
epoch are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.probe.linear import HELD_OUT, held_out_split
from lwa_cli.errors import LwaError

HIDDEN = 256
EPOCHS = 100
PATIENCE = 5
BATCH = 512
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class MLPProbe:
    """A fitted one-hidden-layer probe (weights as float32 numpy arrays)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    present: np.ndarray  # (K,) bool: classes seen in training (others get probability 0)
    n_epochs: int  # epochs run
    best_epoch: int  # the epoch whose weights are kept
    held_out_cross_entropy: float

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        h = np.maximum(np.asarray(x, dtype=np.float32) @ self.w1 + self.b1, 0)
        logits = (h @ self.w2 + self.b2).astype(np.float64)
        logits[:, ~self.present] = -np.inf
        return softmax(logits, axis=1)


def fit_mlp(x: np.ndarray, y: np.ndarray, n_classes: int, *, hidden: int = HIDDEN,
            seed: int = 0, device: str = "cpu", epochs: int = EPOCHS,
            patience: int = PATIENCE, batch_size: int = BATCH, lr: float = LEARNING_RATE,
            held_out: float = HELD_OUT) -> MLPProbe:
    """Fit the MLP probe on rows `x` (labels `y` in ``0 … n_classes-1``)."""
    import torch
    import torch.nn.functional as F

    if hidden < 1 or epochs < 1 or patience < 1 or batch_size < 1:
        raise LwaError("hidden, epochs, patience and batch_size must be positive")
    y = np.asarray(y, dtype=np.int64)
    present = np.zeros(n_classes, dtype=bool)
    present[np.unique(y)] = True
    if present.sum() < 2:
        raise LwaError(f"a probe needs at least two classes in its training rows, got "
                       f"{int(present.sum())}")
    fit_rows, out_rows = held_out_split(len(y), held_out, seed)
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(int(seed))
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=dev)
    yt = torch.as_tensor(y, device=dev)
    fit_x, fit_y = xt[torch.as_tensor(fit_rows, device=dev)], yt[torch.as_tensor(fit_rows,
                                                                                 device=dev)]
    out_x, out_y = xt[torch.as_tensor(out_rows, device=dev)], yt[torch.as_tensor(out_rows,
                                                                                 device=dev)]
    d = xt.shape[1]
    # torch.nn.Linear's default initialisation, drawn from the private generator.
    params = [(torch.rand(d, hidden, generator=gen) * 2 - 1) / d ** 0.5,
              (torch.rand(hidden, generator=gen) * 2 - 1) / d ** 0.5,
              (torch.rand(hidden, n_classes, generator=gen) * 2 - 1) / hidden ** 0.5,
              (torch.rand(n_classes, generator=gen) * 2 - 1) / hidden ** 0.5]
    params = [p.to(dev).requires_grad_() for p in params]
    mask = torch.as_tensor(~present, device=dev)
    opt = torch.optim.Adam(params, lr=lr)

    def logits(rows: torch.Tensor) -> torch.Tensor:
        z = torch.relu(rows @ params[0] + params[1]) @ params[2] + params[3]
        return z.masked_fill(mask, float("-inf"))

    best, best_state, best_epoch, since = float("inf"), None, 0, 0
    epoch = 0
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(fit_rows), generator=gen).to(dev)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            F.cross_entropy(logits(fit_x[idx]), fit_y[idx]).backward()
            opt.step()
        with torch.no_grad():
            loss = float(F.cross_entropy(logits(out_x), out_y))
        if loss < best:
            best, best_epoch, since = loss, epoch, 0
            best_state = [p.detach().cpu().numpy().copy() for p in params]
        else:
            since += 1
            if since >= patience:
                break
    if best_state is None:  # the held-out loss was never finite
        best_state = [p.detach().cpu().numpy().copy() for p in params]
    return MLPProbe(*best_state, present=present, n_epochs=epoch, best_epoch=best_epoch,
                    held_out_cross_entropy=best)
