"""Cross-validated projection-weighted CCA (PWCCA): the numerical core of ``lwa cca``.

Pure functions over arrays of shape (n_samples, n_features) (the scikit-learn layout; the
reference and the golden files use features × samples). Nothing here reads or writes files.

Fit (SPEC §6.4) on training covariance blocks: Σxx /= max|Σxx|, Σyy /= max|Σyy|,
Σxy /= sqrt(max|Σxx| max|Σyy|); keep the dimensions whose scaled variance is ≥ ε of their view;
Wx = (Σxx + εx I)^-½, Wy = (Σyy + εy I)^-½; svd(Wx Σxy Wy) = u s vᵀ; projections Px = uᵀ Wx,
Py = vᵀ Wy restricted to the k = min(kx, ky) canonical directions. The inverse square roots come
from one eigendecomposition per view and kept-dimension mask (shared by all ε candidates of a
trial), which is the same matrix as the reference's pinv-then-square-root, computed more
accurately. Signs are fixed (SPEC §6.5): pair i is negated when the largest-|·| entry of Px row i
is negative.

Score (SPEC §6.5) on evaluation data centred by its own means: x̃ = Px (X − μx),
ỹ = Py (Y − μy); ρᵢ = corr(x̃ᵢ, ỹᵢ). Metrics:

* ``"pwcca"`` (default, the reference's weighting): A = the first k kept dimensions of X,
  uncentred, m their means; Q = orthonormal factor of QR((x̃ + m)ᵀ); aᵢ = Σⱼ |⟨Qᵢ, Aⱼ⟩|;
  score_x = Σ aᵢρᵢ / Σ aᵢ. PWCCA = score_x if x keeps fewer dimensions than y, else score_y.
* ``"pwcca-morcos"`` (Morcos et al., 2018): Q = orthonormalised centred canonical variates of a
  view, aᵢ = Σⱼ |⟨Qᵢ, zⱼ⟩| over all kept centred neurons zⱼ of that view; same view choice.
* ``"svcca"``: the plain mean of ρᵢ over the k canonical directions (no projection weighting
  and no SVD step beyond the ε pruning of low-variance dimensions).
* ``"cka"``: linear CKA of the evaluation split (see :mod:`lwa_cli.analysis.similarity`); it
  has no parameters, so no ε candidates are fitted.

With ``mean_score=True`` the pwcca metrics average the x-side and y-side scores.

Cross-validation (SPEC §6.1–6.3) uses per-split sufficient statistics from one streaming pass
(:mod:`lwa_cli.analysis.cca_stats`); every training covariance is a combination of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
import scipy.linalg
from threadpoolctl import ThreadpoolController

from lwa_cli.analysis.cca_stats import (
    SplitStats,
    accumulate_split_stats,
    check_finite,
    default_chunk_rows,
    take_rows,
)
from lwa_cli.analysis.similarity import linear_cka_from_cov
from lwa_cli.choices import CCA_METRICS
from lwa_cli.errors import LwaError, LwaUsageError

METRICS = CCA_METRICS
SMALL_EPSILONS = (1e-10, 1e-11, 1e-9)
LARGE_EPSILONS = (1e-8, 1e-7, 1e-6, 1e-5)
#: Eigenvalues of Σ + εI below this fraction of the largest make the fit fail (like pinv).
_RCOND = 1e-15


class CandidateFitError(LwaError):
    """One (ε_x, ε_y) candidate cannot be fitted; cross-validation tries the next one."""


def _context(name: str | None) -> str:
    return f" ({name})" if name else ""


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _serial_blas() -> AbstractContextManager:
    """Run the small, latency-bound LAPACK calls (eigh, SVD, QR) on one BLAS thread.

    They gain little from threads, and on a busy machine OpenBLAS threads waiting for each
    other slow them down by orders of magnitude (measured 40–500×). The streaming
    cross-products, which are compute-bound, keep every thread.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------------
# Fitting


@dataclass(frozen=True)
class CCAFit:
    """Fitted CCA parameters.

    Attributes
    ----------
    proj_x : (r, kx) projection of the kept x dimensions; row i is canonical direction i. Fits
        made here have r = k = min(kx, ky); square (kx, kx) matrices from the reference also
        work (only the first k rows are used).
    proj_y : (r, ky) the same for y.
    x_keep, y_keep : (dx,), (dy,) bool masks of the kept (not pruned) dimensions.
    canonical_corrs : (k,) canonical correlations on the training data, or None if unknown.
    eps_x, eps_y : the regularisation of the fit, or None if unknown.
    """

    proj_x: np.ndarray
    proj_y: np.ndarray
    x_keep: np.ndarray
    y_keep: np.ndarray
    canonical_corrs: np.ndarray | None = None
    eps_x: float | None = None
    eps_y: float | None = None

    def __post_init__(self) -> None:
        for side, proj, keep in (("x", self.proj_x, self.x_keep), ("y", self.proj_y, self.y_keep)):
            keep = np.asarray(keep)
            if keep.dtype != np.bool_ or keep.ndim != 1:
                raise LwaError(f"CCAFit {side}_keep must be a 1-D bool mask")
            if np.ndim(proj) != 2 or np.shape(proj)[1] != int(keep.sum()):
                raise LwaError(
                    f"CCAFit proj_{side} has shape {np.shape(proj)} but {side}_keep keeps "
                    f"{int(keep.sum())} dimensions"
                )
        if min(len(self.proj_x), len(self.proj_y)) < self.k:
            raise LwaError(f"CCAFit projections need at least k = {self.k} rows")

    @property
    def kx(self) -> int:
        """Number of kept x dimensions."""
        return int(self.x_keep.sum())

    @property
    def ky(self) -> int:
        """Number of kept y dimensions."""
        return int(self.y_keep.sum())

    @property
    def k(self) -> int:
        """Number of canonical directions, min(kx, ky)."""
        return min(self.kx, self.ky)


def align_signs(proj_x: np.ndarray, proj_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fix each canonical pair's sign: negate rows i < k of both projections when the
    largest-magnitude entry of ``proj_x`` row i is negative (SPEC §6.5)."""
    k = min(proj_x.shape[0], proj_y.shape[0], proj_x.shape[1], proj_y.shape[1])
    lead = proj_x[np.arange(k), np.argmax(np.abs(proj_x[:k]), axis=1)]
    flip = np.where(lead < 0, -1.0, 1.0)
    proj_x, proj_y = proj_x.copy(), proj_y.copy()
    proj_x[:k] *= flip[:, None]
    proj_y[:k] *= flip[:, None]
    return proj_x, proj_y


class CovarianceCCA:
    """CCA fits of one training set given its covariance blocks, for any (ε_x, ε_y).

    The max-abs scaling is done once; eigendecompositions of Σxx and Σyy are cached per
    kept-dimension mask, so each further candidate costs one small SVD and two products.

    Parameters
    ----------
    sxx, sxy, syy : covariance blocks (dx, dx), (dx, dy), (dy, dy) of the training data.
    name : context for error messages.
    """

    def __init__(
        self, sxx: np.ndarray, sxy: np.ndarray, syy: np.ndarray, *, name: str | None = None
    ) -> None:
        sxx, sxy, syy = (np.asarray(a, dtype=np.float64) for a in (sxx, sxy, syy))
        dx, dy = sxx.shape[0], syy.shape[0]
        if sxx.shape != (dx, dx) or syy.shape != (dy, dy) or sxy.shape != (dx, dy):
            raise LwaError(
                f"covariance blocks have inconsistent shapes {sxx.shape}, {sxy.shape}, {syy.shape}"
            )
        if not (np.isfinite(sxx).all() and np.isfinite(sxy).all() and np.isfinite(syy).all()):
            raise LwaError(
                f"the covariance{_context(name)} is not finite: the features hold values too "
                "large for float64 products; rescale them"
            )
        self.name = name
        xmax = float(np.max(np.abs(sxx))) if dx else 0.0
        ymax = float(np.max(np.abs(syy))) if dy else 0.0
        self.constant_view = "x" if xmax == 0.0 else "y" if ymax == 0.0 else None
        if self.constant_view is None:
            self.sxx = sxx / xmax
            self.syy = syy / ymax
            self.sxy = sxy / np.sqrt(xmax * ymax)
        else:
            self.sxx, self.syy, self.sxy = sxx, syy, sxy
        self.x_var = np.abs(np.diagonal(self.sxx))
        self.y_var = np.abs(np.diagonal(self.syy))
        self._eig: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}
        self._rotated: dict[tuple[bytes, bytes], np.ndarray] = {}

    def _eigh(self, view: str, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (view, keep.tobytes())
        if key not in self._eig:
            cov = self.sxx if view == "x" else self.syy
            try:
                self._eig[key] = np.linalg.eigh(cov[np.ix_(keep, keep)])
            except np.linalg.LinAlgError as err:
                raise CandidateFitError(
                    f"eigendecomposition of view {view}'s covariance{_context(self.name)} "
                    f"failed ({err})"
                ) from err
        return self._eig[key]

    def _whitening(self, view: str, keep: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (eigenvectors V, (w + ε)^-½) of the kept block of one view."""
        w, v = self._eigh(view, keep)
        shifted = w + eps
        if shifted.min() <= _RCOND * shifted.max():
            raise CandidateFitError(
                f"the covariance of view {view}{_context(self.name)} plus ε = {eps:g} is "
                f"singular (smallest eigenvalue {shifted.min():.3g}); use a larger ε"
            )
        return v, 1.0 / np.sqrt(shifted)

    def keep_masks(self, eps_x: float, eps_y: float) -> tuple[np.ndarray, np.ndarray]:
        """Dimensions kept for (ε_x, ε_y): scaled variance ≥ ε of their view."""
        return self.x_var >= eps_x, self.y_var >= eps_y

    def fit(self, eps_x: float, eps_y: float) -> CCAFit:
        """Fit CCA with regularisation (ε_x, ε_y); signs fixed by :func:`align_signs`.

        Raises
        ------
        CandidateFitError
            If a view is constant, every dimension of a view is pruned, ε = 0 keeps constant
            dimensions, or a covariance is singular for this ε.
        """
        _check_eps(eps_x, eps_y)
        with _serial_blas():
            return self._fit(eps_x, eps_y)

    def _fit(self, eps_x: float, eps_y: float) -> CCAFit:
        if self.constant_view is not None:
            raise CandidateFitError(
                f"every dimension of view {self.constant_view}{_context(self.name)} is "
                "constant on the training data, so CCA would prune them all"
            )
        x_keep, y_keep = self.keep_masks(eps_x, eps_y)
        sides = (("x", x_keep, self.x_var, eps_x), ("y", y_keep, self.y_var, eps_y))
        for view, keep, var, eps in sides:
            if not keep.any():
                raise CandidateFitError(
                    f"ε_{view} = {eps:g} prunes every dimension of view {view}"
                    f"{_context(self.name)} (scaled variances are at most 1); use ε_{view} < 1"
                )
            zero = np.flatnonzero(keep & (var == 0.0))
            if zero.size:
                raise CandidateFitError(
                    f"ε_{view} = 0 keeps {zero.size} constant dimension(s) of view {view}"
                    f"{_context(self.name)} (first: {int(zero[0])}), whose covariance is "
                    f"singular; use ε_{view} > 0"
                )
        vx, ix = self._whitening("x", x_keep, eps_x)
        vy, iy = self._whitening("y", y_keep, eps_y)
        key = (x_keep.tobytes(), y_keep.tobytes())
        if key not in self._rotated:
            self._rotated[key] = vx.T @ self.sxy[np.ix_(x_keep, y_keep)] @ vy
        # Wx Σxy Wy = Vx (Dx B Dy) Vyᵀ, so its SVD is that of the small rotated matrix.
        core = ix[:, None] * self._rotated[key] * iy[None, :]
        try:
            u, s, vt = np.linalg.svd(core, full_matrices=False)
        except np.linalg.LinAlgError as err:
            raise CandidateFitError(f"the CCA SVD{_context(self.name)} did not converge") from err
        k = min(int(x_keep.sum()), int(y_keep.sum()))
        proj_x = (u[:, :k].T * ix[None, :]) @ vx.T
        proj_y = (vt[:k] * iy[None, :]) @ vy.T
        proj_x, proj_y = align_signs(proj_x, proj_y)
        return CCAFit(proj_x, proj_y, x_keep, y_keep, np.abs(s[:k]), float(eps_x), float(eps_y))


def _check_eps(eps_x: float, eps_y: float) -> None:
    for view, eps in (("x", eps_x), ("y", eps_y)):
        if not (isinstance(eps, int | float | np.floating) and math.isfinite(eps) and eps >= 0):
            raise LwaUsageError(f"ε_{view} must be a finite number ≥ 0, not {eps!r}")


def fit_cca_from_cov(
    sxx: np.ndarray,
    sxy: np.ndarray,
    syy: np.ndarray,
    eps_x: float,
    eps_y: float,
    *,
    name: str | None = None,
) -> CCAFit:
    """Fit CCA from covariance blocks (e.g. pooled split statistics); see :class:`CovarianceCCA`."""
    return CovarianceCCA(sxx, sxy, syy, name=name).fit(eps_x, eps_y)


def fit_cca(
    x: Any,
    y: Any,
    eps_x: float,
    eps_y: float,
    *,
    name: str | None = None,
    device: str = "cpu",
    chunk_rows: int | None = None,
) -> CCAFit:
    """Fit CCA on views x (n, dx) and y (n, dy) with regularisation (ε_x, ε_y).

    The covariance is streamed over row chunks in float64 (x, y may be h5py datasets).

    Raises
    ------
    LwaError
        Too few points (CCA needs more points than dimensions in each view), NaN/inf inputs,
        or a fit failure (:class:`CandidateFitError`).
    """
    x, y = _as_rows(x, "x", name), _as_rows(y, "y", name)
    n, dx, dy = _check_pair(x, y, name)
    needed = max(dx, dy) + 1
    if n < needed:
        raise LwaError(
            f"CCA{_context(name)} needs more points than dimensions: {n} points for views of "
            f"{dx} and {dy} dimensions; give at least {needed} points"
        )
    stats, _ = accumulate_split_stats(
        x, y, np.zeros(n, dtype=np.int64), 1, chunk_rows=chunk_rows, device=device, name=name
    )
    return fit_cca_from_cov(*stats.covariance([0]), eps_x, eps_y, name=name)


# --------------------------------------------------------------------------------------------
# Scoring


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


def _reference_side(variates: np.ndarray, raw: np.ndarray, means: np.ndarray,
                    rho: np.ndarray) -> float:
    """The reference's weighting of one view (SPEC §6.5); raw/means: first k kept dims."""
    weights = np.abs(_q_transpose_times(variates + means[None, :], raw)).sum(axis=1)
    return float(np.sum(weights / weights.sum() * rho))


def _morcos_side(variates: np.ndarray, cen_kept: np.ndarray, rho: np.ndarray) -> float:
    """Morcos et al. (2018) weighting: |⟨orthonormalised centred variates, centred neurons⟩|."""
    weights = np.abs(_q_transpose_times(variates, cen_kept)).sum(axis=1)
    return float(np.sum(weights / weights.sum() * rho))


def _variates_and_rho(fit: CCAFit, data: EvalData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical variates (n, k) of both views and their per-direction correlations ρ (k,)."""
    k = fit.k
    xt = _variates(data.cen_x, fit.proj_x, fit.x_keep, k)
    yt = _variates(data.cen_y, fit.proj_y, fit.y_keep, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.einsum("ij,ij->j", xt, yt) / np.sqrt(
            np.einsum("ij,ij->j", xt, xt) * np.einsum("ij,ij->j", yt, yt)
        )
    return xt, yt, rho


def _score(fit: CCAFit, data: EvalData, metric: str, mean_score: bool) -> float:
    """Score a fit on evaluation data; NaN when a variate is constant on these data."""
    xt, yt, rho = _variates_and_rho(fit, data)
    if not np.isfinite(rho).all():
        return float("nan")
    if metric == "svcca":
        return float(rho.mean())
    sides = ("x", "y") if mean_score else ("x",) if fit.kx < fit.ky else ("y",)
    scores = []
    with _serial_blas():
        for side in sides:
            variates, keep = (xt, fit.x_keep) if side == "x" else (yt, fit.y_keep)
            raw, cen, mean = (
                (data.raw_x, data.cen_x, data.mean_x) if side == "x"
                else (data.raw_y, data.cen_y, data.mean_y)
            )
            kept = np.flatnonzero(keep)
            if metric == "pwcca":
                first = kept[: fit.k]
                raw_first = raw[:, first].astype(np.float64)
                scores.append(_reference_side(variates, raw_first, mean[first], rho))
            else:
                scores.append(_morcos_side(variates, cen[:, kept], rho))
    return float(np.mean(scores)) if mean_score else scores[0]


def projected_correlations(fit: CCAFit, x: Any, y: Any, *, name: str | None = None) -> np.ndarray:
    """Per-direction correlations ρᵢ (k,) of the fit's canonical variates on data (x, y)."""
    return _variates_and_rho(fit, _eval_data(fit, x, y, name))[2]


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
    mean_score : average the x-side and y-side weighted scores instead of taking the side
        with fewer kept dimensions (y on a tie).
    metric : "pwcca" (reference weighting), "pwcca-morcos" or "svcca" (see module doc).
    name : context for error messages.

    Raises
    ------
    LwaError
        Mismatched dimensions, NaN/inf inputs, fewer points than canonical directions, or a
        canonical variate that is constant on these data.
    """
    if metric not in METRICS or metric == "cka":
        raise LwaUsageError(
            f"metric {metric!r} cannot score a CCA fit; use one of pwcca, pwcca-morcos, svcca"
        )
    data = _eval_data(fit, x, y, name)
    score = _score(fit, data, metric, mean_score)
    if not math.isfinite(score):
        raise LwaError(
            f"a canonical variate is constant on the evaluation data{_context(name)}, so its "
            "correlation is undefined; use more or more varied evaluation points"
        )
    return score


def _eval_data(fit: CCAFit, x: Any, y: Any, name: str | None) -> EvalData:
    x, y = _as_rows(x, "x", name), _as_rows(y, "y", name)
    n, dx, dy = _check_pair(x, y, name)
    if (dx, dy) != (fit.x_keep.size, fit.y_keep.size):
        raise LwaError(
            f"evaluation data{_context(name)} have {dx} and {dy} dimensions but the fit expects "
            f"{fit.x_keep.size} and {fit.y_keep.size}"
        )
    if n < max(fit.k, 2):
        raise LwaError(
            f"scoring{_context(name)} needs at least {max(fit.k, 2)} points (one per canonical "
            f"direction); got {n}"
        )
    raw_x, raw_y = np.asarray(x[:]), np.asarray(y[:])
    check_finite(raw_x, 0, "x", name)
    check_finite(raw_y, 0, "y", name)
    return EvalData.from_rows(raw_x, raw_y)


# --------------------------------------------------------------------------------------------
# Cross-validation


@dataclass(frozen=True)
class CandidateResult:
    """One (ε_x, ε_y) candidate of a trial: its dev and test scores and kept dimensions."""

    eps_x: float
    eps_y: float
    dev_score: float
    test_score: float
    x_dims_kept: int
    y_dims_kept: int


@dataclass(frozen=True)
class TrialResult:
    """One cross-validation trial (train on the other splits, select on dev, score on test)."""

    dev_split: int
    test_split: int
    n_train: int
    n_dev: int
    n_test: int
    candidates: list[CandidateResult]
    chosen_index: int | None
    chosen_eps: tuple[float, float] | None
    dev_score: float
    test_score: float
    x_dims_kept: int
    y_dims_kept: int


@dataclass(frozen=True)
class SkippedTrial:
    """A (dev, test) pair whose candidates all failed, with the last failure's reason."""

    dev_split: int
    test_split: int
    reason: str


@dataclass(frozen=True)
class CVResult:
    """Result of :func:`cross_validated_pwcca`.

    ``score`` is the mean of the trials' test scores (training order). ``dims_kept`` lists
    (kx, ky) of each trial's chosen candidate; ``n`` counts the points in the splits.
    """

    score: float
    metric: str
    mean_score: bool
    n: int
    dx: int
    dy: int
    trials: list[TrialResult]
    skipped: list[SkippedTrial] = field(default_factory=list)

    @property
    def trial_scores(self) -> list[float]:
        """Test score of each trial, in training order."""
        return [t.test_score for t in self.trials]

    @property
    def dims_kept(self) -> list[tuple[int, int]]:
        """(kx, ky) of each trial's chosen candidate."""
        return [(t.x_dims_kept, t.y_dims_kept) for t in self.trials]

    @property
    def chosen_eps(self) -> list[tuple[float, float] | None]:
        """(ε_x, ε_y) chosen in each trial (None for CKA)."""
        return [t.chosen_eps for t in self.trials]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        out = asdict(self)
        out["dims_kept"] = self.dims_kept
        return out


def epsilon_candidates(rng: np.random.Generator) -> list[tuple[float, float]]:
    """The 25 (ε_x, ε_y) pairs in trial order (SPEC §6.3): the 9 pairs of {1e-10, 1e-11, 1e-9}²
    shuffled, then the 16 pairs of {1e-8, …, 1e-5}² shuffled."""
    out: list[tuple[float, float]] = []
    for values in (SMALL_EPSILONS, LARGE_EPSILONS):
        pairs = [(a, b) for a in values for b in values]
        out.extend(pairs[i] for i in rng.permutation(len(pairs)))
    return out


def make_splits(
    n: int, labels: Sequence[Any] | np.ndarray | None, n_splits: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Split indices 0..n-1 into ``n_splits`` sorted index arrays (SPEC §6.1).

    Each label's indices (all indices when ``labels`` is None) are dealt out separately:
    size = len(idx) // n_splits indices drawn without replacement for every split, then the
    left-over (< n_splits) indices go to random splits. Labels are visited in order of first
    appearance.
    """
    if labels is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise LwaError(f"labels have shape {labels.shape}; expected one label per point ({n})")
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse))[:-1]
        by_label = np.split(order, bounds)
        groups = [by_label[g] for g in np.argsort(first)]
    parts: list[list[np.ndarray]] = [[] for _ in range(n_splits)]
    for idx in groups:
        size = idx.size // n_splits
        perm = rng.permutation(idx)
        for s in range(n_splits):
            parts[s].append(perm[s * size : (s + 1) * size])
        leftover = perm[n_splits * size :]
        targets = rng.integers(n_splits, size=leftover.size)
        for left, split in zip(leftover, targets, strict=True):
            parts[split].append(np.array([left]))
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def draw_trial_pairs(n_splits: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Disjoint (dev, test) pairs in draw order (SPEC §6.2): at most n_splits // 2."""
    perm = rng.permutation(n_splits)
    return [(int(perm[2 * i]), int(perm[2 * i + 1])) for i in range(n_splits // 2)]


def cross_validated_pwcca(
    x: Any,
    y: Any,
    labels: Sequence[Any] | np.ndarray | None = None,
    *,
    splits: Sequence[np.ndarray] | None = None,
    trials: Sequence[tuple[int, int]] | None = None,
    eps_candidates: Sequence[Sequence[tuple[float, float]]] | None = None,
    n_splits: int = 10,
    n_trials: int = 3,
    n_candidates: int = 6,
    seed: int = 0,
    metric: str = "pwcca",
    mean_score: bool = False,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    rows_progress: Callable[[int], None] | None = None,
    name: str | None = None,
    chunk_rows: int | None = None,
) -> CVResult:
    """Cross-validated PWCCA (or another metric) of views x (n, dx) and y (n, dy).

    Parameters
    ----------
    x, y : numpy arrays or row-sliceable array-likes (h5py datasets); read in row chunks.
    labels : one label per point; splits are stratified by label when given.
    splits : index arrays of the splits (overrides ``labels``/``n_splits``).
    trials : (dev, test) split pairs tried in order; by default disjoint random pairs.
    eps_candidates : per trial attempt, the ordered (ε_x, ε_y) pairs to try; by default
        :func:`epsilon_candidates`.
    n_trials : trials that must succeed; a pair whose candidates all fail is skipped and the
        next pair is tried.
    n_candidates : candidates kept per trial: the first ones that fit.
    seed : seeds ``np.random.default_rng`` for splits, pairs and ε orders (independent streams).
    metric : "pwcca", "pwcca-morcos", "svcca" or "cka" (see module doc). For "cka" each trial's
        score is the linear CKA of its test split (dev score: of its dev split); nothing is fit.
    mean_score : average the x- and y-side weighted scores (pwcca metrics).
    device : "cpu" or a torch device ("cuda") for the streaming statistics.
    progress : called with 1 each time a candidate (or, for CKA, a trial) finishes;
        n_trials × n_candidates calls in a run without failures.
    rows_progress : called with the number of rows read after each chunk of the streaming
        pass (the calls add up to n), for a progress bar over the one pass over the data.
    name : context for error messages (e.g. "layer T3").
    chunk_rows : rows per streaming chunk (default: ~96 MiB of float64 rows).

    Returns
    -------
    CVResult with the mean test score and every trial's candidates. When failed pairs leave
    fewer than ``n_trials`` usable pairs, the score is the mean over the trials that succeeded
    (``CVResult.trials`` is shorter and ``CVResult.skipped`` says why).

    Raises
    ------
    LwaUsageError
        Invalid arguments (metric, counts, splits, trials, ε).
    LwaError
        Too few points, NaN/inf inputs, a view constant in every dimension, or every trial
        failing.
    """
    if metric not in METRICS:
        raise LwaUsageError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    for label, value, low in (("n_trials", n_trials, 1), ("n_candidates", n_candidates, 1),
                              ("n_splits", n_splits, 3)):
        if not isinstance(value, int | np.integer) or value < low:
            raise LwaUsageError(f"{label} must be an integer ≥ {low}, not {value!r}")
    x, y = _as_rows(x, "x", name), _as_rows(y, "y", name)
    n, dx, dy = _check_pair(x, y, name)

    split_rng, pair_rng, eps_rng = np.random.default_rng(seed).spawn(3)
    if splits is None:
        splits = make_splits(n, labels, n_splits, split_rng)
    else:
        splits = _check_splits(splits, n)
    n_splits = len(splits)
    sizes = np.array([s.size for s in splits])
    if trials is None:
        attempts = draw_trial_pairs(n_splits, pair_rng)
    else:
        attempts = _check_trials(trials, n_splits)
    if eps_candidates is None:
        eps_lists = [epsilon_candidates(eps_rng) for _ in attempts]
    else:
        eps_lists = [list(c) for c in eps_candidates]
        if len(eps_lists) < min(len(attempts), n_trials):
            raise LwaUsageError(
                f"eps_candidates holds {len(eps_lists)} lists but {min(len(attempts), n_trials)} "
                "trials need one each"
            )
        for pairs in eps_lists:
            for pair in pairs:
                _check_eps(*pair)
        attempts = attempts[: len(eps_lists)]  # an attempt needs its own ε list
    if metric != "cka":
        for dev, test in attempts[:n_trials]:
            _check_sizes(sizes, dev, test, dx, dy, name)

    split_of_row = np.full(n, -1, dtype=np.int64)
    for s, idx in enumerate(splits):
        split_of_row[idx] = s
    rows = chunk_rows or default_chunk_rows(dx + dy)
    in_memory = isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    first_eval = [] if in_memory or metric == "cka" else sorted(
        {s for pair in attempts[:n_trials] for s in pair}
    )
    stats, collected = accumulate_split_stats(
        x, y, split_of_row, n_splits, chunk_rows=rows, device=device, name=name,
        collect=[splits[s] for s in first_eval], on_chunk=rows_progress,
    )
    held = dict(zip(first_eval, collected, strict=True))
    _check_not_constant(stats, name)

    def eval_rows(s: int) -> EvalData:
        if s not in held:
            held[s] = (take_rows(x, splits[s], rows), take_rows(y, splits[s], rows))
        return EvalData.from_rows(*held.pop(s))

    done: list[TrialResult] = []
    skipped: list[SkippedTrial] = []
    for t, (dev, test) in enumerate(attempts):
        if len(done) == n_trials:
            break
        if metric == "cka":
            done.append(_cka_trial(stats, dev, test))
            if progress is not None:
                progress(1)
            continue
        _check_sizes(sizes, dev, test, dx, dy, name)
        train = [s for s in range(n_splits) if s not in (dev, test)]
        model = CovarianceCCA(*stats.covariance(train), name=name)
        trial = _run_trial(model, eval_rows(dev), eval_rows(test), eps_lists[t], n_candidates,
                           metric, mean_score, progress)
        if isinstance(trial, str):
            skipped.append(SkippedTrial(dev, test, trial))
            continue
        candidates, chosen = trial
        best = candidates[chosen]
        done.append(TrialResult(
            dev_split=dev, test_split=test, n_train=int(sizes[train].sum()),
            n_dev=int(sizes[dev]), n_test=int(sizes[test]), candidates=candidates,
            chosen_index=chosen, chosen_eps=(best.eps_x, best.eps_y), dev_score=best.dev_score,
            test_score=best.test_score, x_dims_kept=best.x_dims_kept,
            y_dims_kept=best.y_dims_kept,
        ))
    if not done:
        reasons = "; ".join(f"dev {s.dev_split}/test {s.test_split}: {s.reason}" for s in skipped)
        raise LwaError(f"every CCA trial failed{_context(name)}: {reasons}")
    return CVResult(
        score=float(np.mean([t.test_score for t in done])), metric=metric, mean_score=mean_score,
        n=int(sizes.sum()), dx=dx, dy=dy, trials=done, skipped=skipped,
    )


def _run_trial(
    model: CovarianceCCA,
    dev: EvalData,
    test: EvalData,
    eps_list: Sequence[tuple[float, float]],
    n_candidates: int,
    metric: str,
    mean_score: bool,
    progress: Callable[[int], None] | None,
) -> tuple[list[CandidateResult], int] | str:
    """Fit candidates in order until ``n_candidates`` succeed; return them and the index of
    the best dev score, or the last failure's reason when none succeeds."""
    candidates: list[CandidateResult] = []
    reason = "no ε candidates were given"
    for eps_x, eps_y in eps_list:
        try:
            fit = model.fit(eps_x, eps_y)
        except CandidateFitError as err:
            reason = str(err)
            continue
        dev_score = _score(fit, dev, metric, mean_score)
        test_score = _score(fit, test, metric, mean_score)
        if not (math.isfinite(dev_score) and math.isfinite(test_score)):
            reason = (f"a canonical variate of ε = ({eps_x:g}, {eps_y:g}) is constant on the "
                      "dev or test split")
            continue
        candidates.append(CandidateResult(float(eps_x), float(eps_y), dev_score, test_score,
                                          fit.kx, fit.ky))
        if progress is not None:
            progress(1)
        if len(candidates) == n_candidates:
            break
    if not candidates:
        return reason
    return candidates, int(np.argmax([c.dev_score for c in candidates]))


def _cka_trial(stats: SplitStats, dev: int, test: int) -> TrialResult:
    """A CKA 'trial': the linear CKA of the test split (and of the dev split)."""
    scores = [linear_cka_from_cov(*stats.covariance([s])) for s in (dev, test)]
    train = int(stats.counts.sum() - stats.counts[dev] - stats.counts[test])
    dx = stats.dx
    dy = stats.means.shape[1] - dx
    return TrialResult(dev, test, train, int(stats.counts[dev]), int(stats.counts[test]), [],
                       None, None, scores[0], scores[1], dx, dy)


# --------------------------------------------------------------------------------------------
# Input checks


def _as_rows(view: Any, label: str, name: str | None) -> Any:
    """Accept numpy arrays and row-sliceable array-likes with a 2-D ``shape``."""
    if not hasattr(view, "shape") or not hasattr(view, "__getitem__"):
        view = np.asarray(view)
    if len(view.shape) != 2:
        raise LwaError(
            f"view {label}{_context(name)} must be 2-D (points × dimensions), got shape "
            f"{tuple(view.shape)}"
        )
    if isinstance(view, np.ndarray) and view.dtype.kind not in "biuf":
        raise LwaError(f"view {label}{_context(name)} must hold numbers, not {view.dtype}")
    return view


def _check_pair(x: Any, y: Any, name: str | None) -> tuple[int, int, int]:
    n, dx = int(x.shape[0]), int(x.shape[1])
    if int(y.shape[0]) != n:
        raise LwaError(
            f"views x and y{_context(name)} hold {n} and {int(y.shape[0])} points; they must "
            "be paired point by point"
        )
    dy = int(y.shape[1])
    if dx == 0 or dy == 0:
        raise LwaError(f"views x and y{_context(name)} need at least one dimension each")
    return n, dx, dy


def _check_splits(splits: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    out = [np.asarray(s, dtype=np.int64).ravel() for s in splits]
    if len(out) < 3:
        raise LwaUsageError(f"cross-validation needs at least 3 splits, got {len(out)}")
    allidx = np.concatenate(out)
    if allidx.size and (allidx.min() < 0 or allidx.max() >= n):
        raise LwaUsageError(f"split indices must lie in 0..{n - 1}")
    if np.unique(allidx).size != allidx.size:
        raise LwaUsageError("splits overlap: every point may belong to one split only")
    if any(s.size == 0 for s in out):
        raise LwaUsageError("every split must hold at least one point")
    return out


def _check_trials(trials: Sequence[tuple[int, int]], n_splits: int) -> list[tuple[int, int]]:
    out = []
    for pair in trials:
        dev, test = (int(v) for v in pair)
        if dev == test or not (0 <= dev < n_splits and 0 <= test < n_splits):
            raise LwaUsageError(
                f"trial ({dev}, {test}) needs two different splits in 0..{n_splits - 1}"
            )
        out.append((dev, test))
    if not out:
        raise LwaUsageError("trials is empty: give at least one (dev, test) pair")
    return out


def _check_sizes(sizes: np.ndarray, dev: int, test: int, dx: int, dy: int,
                 name: str | None) -> None:
    """CCA needs more training points than dimensions and an eval split per direction."""
    n_splits = sizes.size
    n_train = int(sizes.sum() - sizes[dev] - sizes[test])
    needed = max(math.ceil((max(dx, dy) + 1) * n_splits / (n_splits - 2)),
                 n_splits * min(dx, dy))
    if n_train <= max(dx, dy):
        raise LwaError(
            f"CCA{_context(name)} needs more points than dimensions: trial (dev {dev}, test "
            f"{test}) trains on {n_train} points for views of {dx} and {dy} dimensions; give "
            f"at least {needed} points"
        )
    small = min(int(sizes[dev]), int(sizes[test]))
    if small < min(dx, dy):
        raise LwaError(
            f"CCA{_context(name)}: a dev/test split of trial (dev {dev}, test {test}) holds "
            f"{small} points, fewer than the {min(dx, dy)} canonical directions; give at least "
            f"{needed} points"
        )


def _check_not_constant(stats: SplitStats, name: str | None) -> None:
    """A view with zero variance in every dimension cannot be analysed at all."""
    _, _, cross = stats.pooled(range(stats.n_splits))
    diag = np.diagonal(cross)
    for view, part in (("x", diag[: stats.dx]), ("y", diag[stats.dx :])):
        if not np.any(part > 0):
            raise LwaError(
                f"every dimension of view {view}{_context(name)} is constant, so CCA would "
                "prune them all; check the features"
            )
