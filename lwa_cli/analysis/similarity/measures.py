"""The similarity measures of a layer × layer map, from the shared statistics of
`lwa_cli.analysis.similarity.stats` (pure functions; no I/O).

Feature space (exact, from the centred Gram and cross blocks; all rows):

- ``cka``: linear CKA (Kornblith et al., 2019), ‖XcᵀYc‖²_F / (‖XcᵀXc‖_F ‖YcᵀYc‖_F); reuses
  `lwa_cli.analysis.cca.cka.linear_cka_from_cov`.
- ``cka-debiased``: linear CKA with the unbiased HSIC estimator (Song et al., 2012), in the
  feature-space form of Kornblith et al.'s reference code:
  HSIC₁ ∝ ‖XcᵀYc‖²_F − n/(n−2)·r_xᵀr_y + ‖Xc‖²_F‖Yc‖²_F/((n−1)(n−2)), r = row squared norms.
- ``procrustes``: the angular Procrustes shape distance of Williams et al. (2021),
  arccos(‖X̃ᵀỸ‖_* / (‖X̃‖_F ‖Ỹ‖_F)) with X̃ = Xc Zx centred and partially whitened
  (``alpha`` = 1: no whitening, plain Procrustes; 0: full whitening, a CCA distance), as
  ``netrep.metrics.LinearMetric(alpha, score_method="angular")``. A distance in [0, π/2]:
  0 for the same shape.

On a seeded subsample of rows (n × n matrices):

- ``rsa``: Spearman correlation of the two correlation-distance RDMs (upper triangles).
- ``mknn``: mutual k-nearest-neighbour alignment (Huh et al., 2024): mean over rows of
  |kNN_X(i) ∩ kNN_Y(i)| / k, neighbours by cosine similarity, the row itself excluded.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import rankdata

from lwa_cli.analysis.cca.cka import linear_cka_from_cov
from lwa_cli.analysis.similarity.stats import LayerStats
from lwa_cli.errors import LwaError

WHITEN_TOL = 1e-7
"""Eigenvalues of XcᵀXc below this fraction of the largest are floored to it when whitening
(netrep floors at an absolute 1e-7; a relative floor keeps the distance scale-invariant)."""


def cka(sx: LayerStats, sy: LayerStats, cross: np.ndarray) -> float:
    """Linear CKA of one pair (see the module docstring)."""
    return linear_cka_from_cov(sx.gram, cross, sy.gram)


def _debiased_dot(xty: float, rx: np.ndarray, ry: np.ndarray, n: int) -> float:
    return (xty - n / (n - 2.0) * float(rx @ ry)
            + float(rx.sum()) * float(ry.sum()) / ((n - 1.0) * (n - 2.0)))


def _debiased_norm(s: LayerStats, n: int) -> float:
    if "hsic_self" not in s.cache:
        s.cache["hsic_self"] = _debiased_dot(float(np.sum(s.gram * s.gram)), s.row_sq,
                                             s.row_sq, n)
    return s.cache["hsic_self"]


def cka_debiased(sx: LayerStats, sy: LayerStats, cross: np.ndarray) -> float:
    """Debiased linear CKA of one pair; may be slightly negative for unrelated views."""
    n = len(sx.row_sq)
    if n < 4:
        raise LwaError(f"debiased CKA needs at least 4 rows (the unbiased HSIC divides by "
                       f"n − 3), got {n}")
    hx, hy = _debiased_norm(sx, n), _debiased_norm(sy, n)
    if hx <= 0 or hy <= 0:
        raise LwaError("debiased CKA is undefined: the unbiased HSIC of a layer with itself "
                       f"is not positive ({min(hx, hy):.3g}; a constant layer, or too few "
                       "rows for its rank)")
    return _debiased_dot(float(np.sum(cross * cross)), sx.row_sq, sy.row_sq, n) / np.sqrt(hx * hy)


def whitener(gram: np.ndarray, alpha: float) -> np.ndarray:
    """The (partial) whitening matrix Z of netrep's ``whiten(X, alpha)`` from XcᵀXc."""
    if alpha > 1 - 1e-7:
        return np.eye(gram.shape[0])
    lam, v = np.linalg.eigh(gram)
    top = max(float(lam[-1]), 0.0)
    if top == 0.0:
        raise LwaError("procrustes: a layer is constant in every dimension")
    lam = np.maximum(lam, WHITEN_TOL * top)
    d = alpha + (1 - alpha) * lam ** -0.5
    new_var = np.sum(alpha**2 * lam + 2 * alpha * (1 - alpha) * lam**0.5 + (1 - alpha) ** 2)
    d *= np.sqrt(lam.sum() / new_var)
    return (v * d) @ v.T


def _shape(s: LayerStats, alpha: float) -> tuple[np.ndarray | None, float]:
    key = ("procrustes", alpha)
    if key not in s.cache:
        if float(np.trace(s.gram)) <= 0.0:
            raise LwaError("procrustes is undefined: a layer is constant in every dimension; "
                           "check the features")
        z = None if alpha > 1 - 1e-7 else whitener(s.gram, alpha)
        norm2 = float(np.trace(s.gram)) if z is None else float(np.sum((z @ s.gram) * z))
        s.cache[key] = (z, norm2)
    return s.cache[key]


def procrustes(sx: LayerStats, sy: LayerStats, cross: np.ndarray, alpha: float = 1.0) -> float:
    """Angular Procrustes shape distance of one pair, in radians (see the module docstring)."""
    zx, nx = _shape(sx, alpha)
    zy, ny = _shape(sy, alpha)
    m = cross if zx is None else zx @ cross
    m = m if zy is None else m @ zy
    nuclear = float(np.linalg.svd(m, compute_uv=False).sum())
    return float(np.arccos(np.clip(nuclear / np.sqrt(nx * ny), -1.0, 1.0)))


def _rdm_ranks(s: LayerStats, m: int) -> np.ndarray:
    """Standardised ranks of the upper triangle of the correlation-distance RDM of the
    first `m` subsampled rows (cached per layer)."""
    key = ("rsa", m)
    if key not in s.cache:
        rows = s.sub[:m] - s.sub[:m].mean(axis=1, keepdims=True)
        norms = np.linalg.norm(rows, axis=1)
        if (norms == 0).any():
            raise LwaError(f"rsa: {int((norms == 0).sum())} subsampled rows are constant "
                           "across dimensions (correlation distance undefined)")
        rows /= norms[:, None]
        upper = np.triu_indices(m, 1)
        dist = 1.0 - (rows @ rows.T)[upper]
        ranks = rankdata(dist)
        ranks -= ranks.mean()
        sd = np.linalg.norm(ranks)
        if sd == 0:
            raise LwaError("rsa: every pair of subsampled rows is at the same distance")
        s.cache[key] = ranks / sd
    return s.cache[key]


def rsa(sx: LayerStats, sy: LayerStats, m: int) -> float:
    """Spearman ρ of the correlation-distance RDMs of the first `m` subsampled rows."""
    if m < 3:
        raise LwaError(f"rsa needs at least 3 rows (`rsa_rows` and the sample), got {m}",
                       params=("rsa_rows",))
    return float(_rdm_ranks(sx, m) @ _rdm_ranks(sy, m))


def _neighbours(s: LayerStats, m: int, k: int) -> sparse.csr_matrix:
    """k nearest neighbours (cosine, self excluded, ties to the lower index) of the first
    `m` subsampled rows, as an m × m 0/1 matrix (cached per layer)."""
    key = ("mknn", m, k)
    if key not in s.cache:
        rows = s.sub[:m]
        norms = np.linalg.norm(rows, axis=1)
        if (norms == 0).any():
            raise LwaError(f"mknn: {int((norms == 0).sum())} subsampled rows are zero "
                           "(cosine similarity undefined)")
        unit = rows / norms[:, None]
        sim = unit @ unit.T
        np.fill_diagonal(sim, -np.inf)
        nn = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        s.cache[key] = sparse.csr_matrix(
            (np.ones(m * k), nn.ravel(), np.arange(0, m * k + 1, k)), shape=(m, m))
    return s.cache[key]


def mknn(sx: LayerStats, sy: LayerStats, m: int, k: int) -> float:
    """Mutual k-NN alignment of the first `m` subsampled rows, in [0, 1]."""
    if not 1 <= k < m:
        raise LwaError(f"mknn needs 1 ≤ k < the subsampled rows ({m}), got k={k}",
                       params=("k",))
    shared = _neighbours(sx, m, k).multiply(_neighbours(sy, m, k)).sum()
    return float(shared) / (m * k)
