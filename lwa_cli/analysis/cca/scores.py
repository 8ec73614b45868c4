"""Scoring a CCA fit on held-out data: per-direction correlations and the metrics (SPEC §6.5).

Evaluation data are centred by their own means: x̃ = Px (X − μx), ỹ = Py (Y − μy) over the k
canonical directions; ρᵢ = corr(x̃ᵢ, ỹᵢ). Metrics (``lwa_cli.choices.CCA_METRICS``):

* ``"pwcca"`` (default, the reference's weighting): A = the first k kept dimensions of the
  weighted view, uncentred, m their means; Q = orthonormal factor of QR((ṽ + m)ᵀ);
  aᵢ = Σⱼ |⟨Qᵢ, Aⱼ⟩|; score = Σ aᵢρᵢ / Σ aᵢ. **Weights x if x keeps fewer dimensions than y,
  else y** (y on a tie: the reference's ``<``).
* ``"pwcca-morcos"`` (Morcos et al., 2018): Q = orthonormalised centred canonical variates of
  the weighted view, aᵢ = Σⱼ |⟨Qᵢ, zⱼ⟩| over all its kept centred neurons zⱼ. **Weights x if
  x keeps at most as many dimensions as y, else y** (x on a tie: google/svcca ``pwcca.py``
  compares with ``<=``).
* ``"svcca"`` (Raghu et al., 2017): the mean of ρᵢ of a fit made on each view's top singular
  directions (``svd_keep``, see :mod:`lwa_cli.analysis.cca.fit`). Symmetric: no view weighted.
* ``"mean-cca"``: the plain mean of ρᵢ over all canonical directions (no SVD step). Symmetric.
* ``"cka"``: linear CKA, computed by the cross-validation without a fit.

With ``mean_score=True`` the pwcca metrics average the x-side and y-side weighted scores.

Two equivalent paths compute a score. :func:`score_rows` works on the evaluation rows, as the
reference does; :func:`score_moments` works on the split's mean and centred cross-product
(what the streaming pass already holds), so cross-validation never re-reads rows: with B the
n × k matrix of (shifted) variates and A the weighted columns, Qᵀ A = L⁻¹ (Bᵀ A) where
Bᵀ B = L Lᵀ, and both Gram matrices are small products of the fit with the cross-product.
The moments path loses precision when a variate cancels (a direction that whitens a
numerically null direction of the data); it then returns None and the caller scores the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from lwa_cli.analysis.cca.fit import CCAFit
from lwa_cli.analysis.cca.inputs import as_rows, check_pair, context, serial_blas
from lwa_cli.analysis.cca.stats import SplitStats, check_finite
from lwa_cli.choices import CCA_METRICS
from lwa_cli.errors import LwaError, LwaUsageError

METRICS = CCA_METRICS
#: Metrics that score a CCA fit (all but CKA).
FIT_METRICS = tuple(m for m in METRICS if m != "cka")
#: The moments path is used when no variate loses more than ~6 of float64's 16 digits to
#: cancellation: (Σⱼ |pᵢⱼ| σⱼ)² / var(variate i) below this bound (≤ 1e-10 relative error).
_MAX_CANCELLATION = 1e6
#: ... and when the Gram matrix of the weighting's QR has a condition number below this.
_MAX_GRAM_CONDITION = 1e8


def weighted_sides(metric: str, kx: int, ky: int, mean_score: bool) -> tuple[str, ...]:
    """The view(s) whose weighting enters the score (see module doc)."""
    if metric not in ("pwcca", "pwcca-morcos"):
        return ()
    if mean_score:
        return ("x", "y")
    x_wins = kx <= ky if metric == "pwcca-morcos" else kx < ky
    return ("x",) if x_wins else ("y",)


def _combine(rho: np.ndarray, side_scores: list[float]) -> float:
    """Mean ρ for the unweighted metrics, else the (mean of the) weighted side score(s)."""
    if not side_scores:
        return float(rho.mean())
    return float(np.mean(side_scores))


# --------------------------------------------------------------------------------------------
# Rows path


@dataclass(frozen=True)
class EvalData:
    """One evaluation set: raw rows (input dtype), float64 centred rows and means."""

    raw_x: np.ndarray
    raw_y: np.ndarray
    cen_x: np.ndarray
    cen_y: np.ndarray
    mean_x: np.ndarray
    mean_y: np.ndarray

    @classmethod
    def from_rows(cls, raw_x: np.ndarray, raw_y: np.ndarray) -> EvalData:
        """Centre each view by its own means (as the reference does for dev/test splits)."""
        cen_x = np.array(raw_x, dtype=np.float64)
        cen_y = np.array(raw_y, dtype=np.float64)
        mean_x, mean_y = cen_x.mean(axis=0), cen_y.mean(axis=0)
        cen_x -= mean_x
        cen_y -= mean_y
        return cls(raw_x, raw_y, cen_x, cen_y, mean_x, mean_y)


def _variates(cen: np.ndarray, proj: np.ndarray, keep: np.ndarray, k: int) -> np.ndarray:
    """Canonical variates (n, k) = centred kept columns @ proj[:k]ᵀ, without copying columns."""
    if keep.all():
        return cen @ proj[:k].T
    padded = np.zeros((k, keep.size))
    padded[:, keep] = proj[:k]
    return cen @ padded.T


def _q_transpose_times(basis: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Qᵀ · data (k, m) for Q the orthonormal factor of QR(basis) (n, k).

    Householder QR as in the reference, but Q is applied without being formed (LAPACK ormqr).
    Q is unique up to column signs, which the |·| of every caller removes.
    """
    product, _ = scipy.linalg.qr_multiply(basis, data.T, mode="right")
    return product.T


def _weighted(weights: np.ndarray, rho: np.ndarray) -> float:
    return float(np.sum(weights / weights.sum() * rho))


def variates_and_rho(fit: CCAFit, data: EvalData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical variates (n, k) of both views and their per-direction correlations ρ (k,)."""
    k = fit.k
    xt = _variates(data.cen_x, fit.proj_x, fit.x_keep, k)
    yt = _variates(data.cen_y, fit.proj_y, fit.y_keep, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.einsum("ij,ij->j", xt, yt) / np.sqrt(
            np.einsum("ij,ij->j", xt, xt) * np.einsum("ij,ij->j", yt, yt)
        )
    return xt, yt, rho


def score_rows(fit: CCAFit, data: EvalData, metric: str, mean_score: bool) -> float:
    """Score a fit on evaluation rows; NaN when a variate is constant on these data."""
    xt, yt, rho = variates_and_rho(fit, data)
    if not np.isfinite(rho).all():
        return float("nan")
    scores = []
    with serial_blas():
        for side in weighted_sides(metric, fit.kx, fit.ky, mean_score):
            variates, keep = (xt, fit.x_keep) if side == "x" else (yt, fit.y_keep)
            raw, cen, mean = (
                (data.raw_x, data.cen_x, data.mean_x) if side == "x"
                else (data.raw_y, data.cen_y, data.mean_y)
            )
            kept = np.flatnonzero(keep)
            if metric == "pwcca":
                first = kept[: fit.k]
                basis = variates + mean[first][None, :]
                a = _q_transpose_times(basis, raw[:, first].astype(np.float64))
            else:
                a = _q_transpose_times(variates, cen[:, kept])
            scores.append(_weighted(np.abs(a).sum(axis=1), rho))
    return _combine(rho, scores)


# --------------------------------------------------------------------------------------------
# Moments path


@dataclass(frozen=True)
class EvalMoments:
    """One evaluation set by its moments: count, means and centred cross-product sums."""

    n: int
    mean_x: np.ndarray
    mean_y: np.ndarray
    cxx: np.ndarray
    cxy: np.ndarray
    cyy: np.ndarray

    @classmethod
    def from_stats(cls, stats: SplitStats, split: int) -> EvalMoments:
        """The moments of one split of the streaming statistics."""
        dx = stats.dx
        mean, cross = stats.means[split], stats.cross[split]
        return cls(int(stats.counts[split]), mean[:dx], mean[dx:], cross[:dx, :dx],
                   cross[:dx, dx:], cross[dx:, dx:])


def _cancellation(proj: np.ndarray, cov: np.ndarray, gram_diag: np.ndarray) -> float:
    """max over directions of (Σⱼ |pᵢⱼ| σⱼ)² / var_i: the rounding amplification."""
    scale = np.abs(proj) @ np.sqrt(np.clip(np.diagonal(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = scale**2 / gram_diag
    return float(np.max(ratio)) if np.all(gram_diag > 0) else math.inf


def _side_from_moments(metric: str, n: int, proj: np.ndarray, sp: np.ndarray, gram: np.ndarray,
                       mean_kept: np.ndarray, rho: np.ndarray) -> float | None:
    """One view's weighted score from its moments; None when the Gram matrix is too
    ill-conditioned for a Cholesky factor to stand in for the QR."""
    k = proj.shape[0]
    if metric == "pwcca":
        m = mean_kept[:k]
        btb = gram + n * np.outer(m, m)
        bta = sp[:, :k] + n * np.outer(m, m)
    else:
        btb, bta = gram, sp
    try:
        chol = np.linalg.cholesky(btb)
    except np.linalg.LinAlgError:
        return None
    diag = np.abs(np.diagonal(chol))
    if (diag.max() / diag.min()) ** 2 > _MAX_GRAM_CONDITION:
        return None
    a = scipy.linalg.solve_triangular(chol, bta, lower=True)
    return _weighted(np.abs(a).sum(axis=1), rho)


def _kept(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The kept rows/columns of a cross-product block (no copy when all are kept)."""
    if rows.size == block.shape[0] and cols.size == block.shape[1]:
        return block
    return block[np.ix_(rows, cols)]


def score_moments(fit: CCAFit, mom: EvalMoments, metric: str, mean_score: bool) -> float | None:
    """Score a fit from an evaluation set's moments (same value as :func:`score_rows` up to
    rounding); NaN when a variate is constant, None when rounding would make it unreliable."""
    k = fit.k
    xk, yk = np.flatnonzero(fit.x_keep), np.flatnonzero(fit.y_keep)
    px, py = fit.proj_x[:k], fit.proj_y[:k]
    cxx, cyy, cxy = _kept(mom.cxx, xk, xk), _kept(mom.cyy, yk, yk), _kept(mom.cxy, xk, yk)
    with serial_blas():
        sx, sy = px @ cxx, py @ cyy
        gx, gy = sx @ px.T, sy @ py.T
        gxx, gyy = np.diagonal(gx), np.diagonal(gy)
        if np.any(gxx <= 0) or np.any(gyy <= 0):
            return float("nan") if np.all(gxx >= 0) and np.all(gyy >= 0) else None
        if max(_cancellation(px, cxx, gxx), _cancellation(py, cyy, gyy)) > _MAX_CANCELLATION:
            return None
        cross = np.einsum("ij,ij->i", px @ cxy, py)
        rho = cross / np.sqrt(gxx * gyy)
        scores = []
        for side in weighted_sides(metric, fit.kx, fit.ky, mean_score):
            if side == "x":
                score = _side_from_moments(metric, mom.n, px, sx, gx, mom.mean_x[xk], rho)
            else:
                score = _side_from_moments(metric, mom.n, py, sy, gy, mom.mean_y[yk], rho)
            if score is None:
                return None
            scores.append(score)
    return _combine(rho, scores)


# --------------------------------------------------------------------------------------------
# Public scoring of one fit


def _eval_data(fit: CCAFit, x: Any, y: Any, name: str | None) -> EvalData:
    x, y = as_rows(x, "x", name), as_rows(y, "y", name)
    n, dx, dy = check_pair(x, y, name)
    if (dx, dy) != (fit.x_keep.size, fit.y_keep.size):
        raise LwaError(
            f"evaluation data{context(name)} have {dx} and {dy} dimensions but the fit expects "
            f"{fit.x_keep.size} and {fit.y_keep.size}"
        )
    if n < max(fit.k, 2):
        raise LwaError(
            f"scoring{context(name)} needs at least {max(fit.k, 2)} points (one per canonical "
            f"direction); got {n}"
        )
    raw_x, raw_y = np.asarray(x[:]), np.asarray(y[:])
    check_finite(raw_x, 0, "x", name)
    check_finite(raw_y, 0, "y", name)
    return EvalData.from_rows(raw_x, raw_y)


def projected_correlations(fit: CCAFit, x: Any, y: Any, *, name: str | None = None) -> np.ndarray:
    """Per-direction correlations ρᵢ (k,) of the fit's canonical variates on data (x, y)."""
    return variates_and_rho(fit, _eval_data(fit, x, y, name))[2]


def pwcca_score(
    fit: CCAFit,
    x: Any,
    y: Any,
    mean_score: bool = False,
    *,
    metric: str = "pwcca",
    name: str | None = None,
) -> float:
    """Score a fit on evaluation data x (n, dx), y (n, dy), centred by their own means.

    Parameters
    ----------
    fit : fitted (or stored) projections and kept-dimension masks.
    mean_score : average the x-side and y-side weighted scores instead of weighting the view
        the metric chooses (see module doc).
    metric : "pwcca" (reference weighting), "pwcca-morcos", "svcca" or "mean-cca" (see module
        doc); "svcca" and "mean-cca" both give the mean ρ of this fit, which is SVCCA when the
        fit was made with ``svd_keep``.
    name : context for error messages.

    Raises
    ------
    LwaError
        Mismatched dimensions, NaN/inf inputs, fewer points than canonical directions, or a
        canonical variate that is constant on these data.
    """
    if metric not in FIT_METRICS:
        raise LwaUsageError(
            f"metric {metric!r} cannot score a CCA fit; use one of {', '.join(FIT_METRICS)}"
        )
    data = _eval_data(fit, x, y, name)
    score = score_rows(fit, data, metric, mean_score)
    if not math.isfinite(score):
        raise LwaError(
            f"a canonical variate is constant on the evaluation data{context(name)}, so its "
            "correlation is undefined; use more or more varied evaluation points"
        )
    return score
