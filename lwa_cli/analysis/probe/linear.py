"""The linear probe: multinomial logistic regression with an L2 penalty, C from a small grid.

The objective is scikit-learn's: ``mean cross-entropy + ||W||² / (2 C n)`` (intercepts not
penalised; two classes use the binary form, one weight vector). Two solvers minimise it:

- ``backend="sklearn"`` (the CPU default): `sklearn.linear_model.LogisticRegression` with
  lbfgs, in float64;
- ``backend="torch"`` (the GPU path, any torch device): full-batch L-BFGS with a strong-Wolfe
  line search in float64, stopping on the same max-|gradient| tolerance; its optimum equals
  scikit-learn's (tests: predictions identical, log-loss within 1e-6).

`select_c` holds out a seeded tenth of the training rows, fits each C of the grid in
ascending order (each warm-started from the previous one), keeps the C with the lowest
held-out cross-entropy (ties: the smaller C) and refits on all training rows with it.
Classes absent from the rows a model is fitted on get probability 0 (`LinearProbe.present`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from lwa_cli.errors import LwaError

C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
"""Inverse regularisation strengths tried (features are standardised first)."""
HELD_OUT = 0.1
MAX_ITER = 1000
TOL = 1e-4
"""Stop when the largest |gradient| entry is below this (scikit-learn's default)."""
BACKENDS = ("sklearn", "torch")


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear probe over ``K`` classes.

    Attributes
    ----------
    coef : (K, D) float64 weights; rows of absent classes are zero.
    intercept : (K,) float64.
    present : (K,) bool, the classes the probe was fitted on (the others get probability 0).
    n_iter : solver iterations.
    """

    coef: np.ndarray
    intercept: np.ndarray
    present: np.ndarray
    n_iter: int

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` of the rows of `x`."""
        cols = np.flatnonzero(self.present)
        logits = np.asarray(x, dtype=np.float64) @ self.coef[cols].T + self.intercept[cols]
        out = np.zeros((logits.shape[0], len(self.present)))
        out[:, cols] = softmax(logits, axis=1)
        return out


def fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int, c: float, *,
               backend: str = "sklearn", device: str = "cpu", max_iter: int = MAX_ITER,
               tol: float = TOL, init: LinearProbe | None = None) -> LinearProbe:
    """Fit the L2 logistic regression with inverse strength `c` on rows `x`, labels `y`.

    `y` holds class indices ``0 … n_classes-1``; at least two must occur. `init` warm-starts
    the solver (the optimum is the same; only the iterations change).
    """
    if backend not in BACKENDS:
        raise LwaError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not (np.isfinite(c) and c > 0):
        raise LwaError(f"C must be a positive number, got {c}")
    y = np.asarray(y, dtype=np.int64)
    classes = np.unique(y)
    if len(classes) < 2:
        raise LwaError(f"a probe needs at least two classes in its training rows, got "
                       f"{len(classes)}")
    local = np.searchsorted(classes, y)
    start = None if init is None else _start(init, classes)
    fit = _fit_sklearn if backend == "sklearn" else _fit_torch
    w, b, n_iter = fit(np.asarray(x, dtype=np.float64), local, len(classes), c, device,
                       max_iter, tol, start)
    if len(classes) == 2:  # binary form: p(second) = sigmoid(x·w + b)
        w, b = np.vstack([np.zeros_like(w[0]), w[0]]), np.array([0.0, b[0]])
    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.zeros(n_classes)
    coef[classes], intercept[classes] = w, b
    present = np.zeros(n_classes, dtype=bool)
    present[classes] = True
    return LinearProbe(coef, intercept, present, int(n_iter))


def _start(init: LinearProbe, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solver start (weights, intercepts) in the solver's shape for `classes`."""
    w, b = init.coef[classes], init.intercept[classes]
    if len(classes) == 2:
        return (w[1] - w[0])[None, :], np.array([b[1] - b[0]])
    return w, b


def _fit_sklearn(x, y, k, c, device, max_iter, tol, start):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, tol=tol,
                               warm_start=start is not None)
    if start is not None:
        model.coef_, model.intercept_ = start[0].copy(), start[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # n_iter == max_iter says it
        # Small MDL prefixes hold many classes per row; sklearn warns of a "regression".
        warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
        model.fit(x, y)
    return model.coef_, model.intercept_, int(np.max(model.n_iter_))


def _fit_torch(x, y, k, c, device, max_iter, tol, start):
    import torch
    import torch.nn.functional as F

    dev = torch.device(device)
    xt = torch.as_tensor(x, dtype=torch.float64, device=dev)
    yt = torch.as_tensor(y, device=dev)
    n, d = xt.shape
    cols = 1 if k == 2 else k
    w0 = np.zeros((cols, d)) if start is None else start[0]
    b0 = np.zeros(cols) if start is None else start[1]
    w = torch.tensor(np.ascontiguousarray(w0.T), dtype=torch.float64, device=dev,
                     requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, device=dev, requires_grad=True)
    strength = 1.0 / (c * n)
    target = yt.to(torch.float64) if k == 2 else yt

    def objective() -> torch.Tensor:
        z = xt @ w + b
        ce = (F.binary_cross_entropy_with_logits(z[:, 0], target) if k == 2
              else F.cross_entropy(z, target))
        return ce + 0.5 * strength * (w * w).sum()

    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, max_eval=max_iter * 2,
                            tolerance_grad=tol, tolerance_change=64 * np.finfo(float).eps,
                            history_size=10, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    opt.step(closure)
    n_iter = opt.state[opt.param_groups[0]["params"][0]].get("n_iter", 0)
    return w.detach().cpu().numpy().T, b.detach().cpu().numpy(), n_iter


@dataclass(frozen=True)
class CSearch:
    """The regularisation search: the chosen C and the held-out scores of the grid."""

    c: float
    grid: tuple[float, ...]
    held_out_cross_entropy: tuple[float, ...]
    held_out_accuracy: tuple[float, ...]
    n_held_out: int


def held_out_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (fit rows, held-out rows) of ``n`` rows; the held-out part is ≥ 1 row."""
    if not 0 < fraction < 1:
        raise LwaError(f"the held-out fraction must lie in (0, 1), got {fraction}")
    if n < 2:
        raise LwaError(f"a held-out split needs at least two training rows, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_out = min(n - 1, max(1, round(n * fraction)))
    return np.sort(order[n_out:]), np.sort(order[:n_out])


def select_c(x: np.ndarray, y: np.ndarray, n_classes: int, grid: Sequence[float] = C_GRID, *,
             held_out: float = HELD_OUT, seed: int = 0, backend: str = "sklearn",
             device: str = "cpu", max_iter: int = MAX_ITER,
             tol: float = TOL) -> tuple[LinearProbe, CSearch]:
    """Choose C on a held-out part of the training rows, then refit on all of them.

    A grid of one value has nothing to choose: the probe is fitted on all the rows at once
    (no held-out part, whose rows could otherwise miss classes on small data).
    """
    from lwa_cli.analysis.probe.metrics import probe_metrics

    grid = tuple(sorted(float(c) for c in grid))
    if not grid:
        raise LwaError("the C grid is empty")
    kw = {"backend": backend, "device": device, "max_iter": max_iter, "tol": tol}
    if len(grid) == 1:
        return fit_linear(x, y, n_classes, grid[0], **kw), CSearch(grid[0], grid, (), (), 0)
    fit_rows, out_rows = held_out_split(len(y), held_out, seed)
    x_fit, x_out = x[fit_rows], x[out_rows]  # one copy for the whole grid
    models, ce, acc = [], [], []
    for c in grid:
        model = fit_linear(x_fit, y[fit_rows], n_classes, c,
                           init=models[-1] if models else None, **kw)
        scores = probe_metrics(y[out_rows], model.predict_proba(x_out))
        models.append(model)
        ce.append(scores["cross_entropy"])
        acc.append(scores["accuracy"])
    best = int(np.argmin(ce))
    del x_fit, x_out
    final = fit_linear(x, y, n_classes, grid[best], init=models[best], **kw)
    return final, CSearch(grid[best], grid, tuple(ce), tuple(acc), len(out_rows))
