"""CCA fits from covariance blocks: scaling, ε-pruning, whitening, SVD (SPEC §6.4).

On training covariance blocks: Σxx /= max|Σxx|, Σyy /= max|Σyy|, Σxy /= sqrt(max|Σxx| max|Σyy|);
keep the dimensions whose scaled variance is ≥ ε of their view; Wx = (Σxx + εx I)^-½,
Wy = (Σyy + εy I)^-½; svd(Wx Σxy Wy) = u s vᵀ; projections Px = uᵀ Wx, Py = vᵀ Wy restricted to
the k canonical directions. The inverse square roots come from one eigendecomposition per view
and kept-dimension mask (shared by all ε candidates of a trial); this is the same matrix as the
reference's pinv-then-square-root, computed more accurately. Signs are fixed (SPEC §6.5): pair i
is negated when the largest-|·| entry of Px row i is negative.

Two optional steps drop eigen-directions of a view's kept block before whitening, so that
W = V_r (Λ_r + εI)^-½ V_rᵀ uses only the retained eigenvectors V_r:

* ``null_tol`` (stable CCA): drop the numerically null directions, eigenvalues below
  ``null_tol`` × the largest. A centred one-hot or sum-to-one view has an exactly null direction;
  the reference whitens it by ε^-½ ≈ 1e5, and its canonical pair is rounding noise on held-out
  data. None keeps the reference's behaviour.
* ``svd_keep`` (SVCCA, Raghu et al. 2017): keep the fewest top directions whose eigenvalues
  (the squared singular values of the centred training data) explain ``svd_keep`` of the view's
  variance. None keeps every direction.

Then k = min(r_x, r_y) canonical directions (r = retained directions of a view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lwa_cli.analysis.cca.inputs import (
    as_rows,
    check_eps,
    check_fraction,
    check_pair,
    context,
    serial_blas,
)
from lwa_cli.analysis.cca.stats import accumulate_split_stats
from lwa_cli.errors import LwaError

#: Eigenvalues of Σ + εI below this fraction of the largest make the fit fail (like pinv).
_RCOND = 1e-15


class CandidateFitError(LwaError):
    """One (ε_x, ε_y) candidate cannot be fitted; cross-validation tries the next one."""


@dataclass(frozen=True)
class CCAFit:
    """Fitted CCA parameters.

    Attributes
    ----------
    proj_x : (r, kx) projection of the kept x dimensions; row i is canonical direction i. Fits
        made here have r = k; square (kx, kx) matrices from the reference also work (only the
        first k rows are used).
    proj_y : (r, ky) the same for y.
    x_keep, y_keep : (dx,), (dy,) bool masks of the kept (not pruned) dimensions.
    canonical_corrs : (k,) canonical correlations on the training data, or None if unknown.
    eps_x, eps_y : the regularisation of the fit, or None if unknown.
    n_directions : k, the number of canonical directions; None means min(kx, ky) (the
        reference). Smaller when ``null_tol`` or ``svd_keep`` dropped eigen-directions.
    x_null_dims, y_null_dims : eigen-directions dropped as numerically null (``null_tol``).
    x_rank, y_rank : eigen-directions each view kept for whitening (None: all kept dims).
    """

    proj_x: np.ndarray
    proj_y: np.ndarray
    x_keep: np.ndarray
    y_keep: np.ndarray
    canonical_corrs: np.ndarray | None = None
    eps_x: float | None = None
    eps_y: float | None = None
    n_directions: int | None = None
    x_null_dims: int = 0
    y_null_dims: int = 0
    x_rank: int | None = None
    y_rank: int | None = None

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
        if self.n_directions is not None and not 1 <= self.n_directions <= min(self.kx, self.ky):
            raise LwaError(f"CCAFit n_directions must lie in 1..{min(self.kx, self.ky)}")
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
        """Number of canonical directions (min(kx, ky) unless directions were dropped)."""
        return self.n_directions if self.n_directions is not None else min(self.kx, self.ky)


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


def retained_directions(w: np.ndarray, null_tol: float | None,
                        svd_keep: float | None) -> tuple[np.ndarray, int]:
    """Indices of the eigenvalues ``w`` (ascending, as from eigh) kept for whitening, and the
    number dropped as null: first those below ``null_tol`` × max(w), then the tail beyond the
    top directions explaining ``svd_keep`` of the remaining variance."""
    idx = np.arange(w.size)
    n_null = 0
    if null_tol is not None:
        idx = idx[w >= null_tol * w[-1]]
        n_null = w.size - idx.size
    if svd_keep is not None and svd_keep < 1.0 and idx.size:  # svd_keep = 1 keeps all
        top = np.clip(w[idx][::-1], 0.0, None)  # descending
        share = np.cumsum(top) / top.sum()
        r = int(np.searchsorted(share, svd_keep, side="left")) + 1  # fewest reaching it
        idx = idx[idx.size - min(r, idx.size):]
    return idx, n_null


class CovarianceCCA:
    """CCA fits of one training set given its covariance blocks, for any (ε_x, ε_y).

    The max-abs scaling is done once; eigendecompositions of Σxx and Σyy are cached per
    kept-dimension mask, so each further candidate costs one small SVD and two products.

    Parameters
    ----------
    sxx, sxy, syy : covariance blocks (dx, dx), (dx, dy), (dy, dy) of the training data.
    name : context for error messages.
    null_tol : drop eigen-directions of each view's kept block whose eigenvalue is below
        ``null_tol`` × the largest (stable CCA for singular views); None: the reference.
    svd_keep : SVCCA: keep the top eigen-directions explaining this share of each view's
        variance; None: keep all.

    Built once per candidate fit, it trusts `null_tol` and `svd_keep`: `fit_cca`,
    `fit_cca_from_cov` and `cross_validated_pwcca` check them, once per call.
    """

    def __init__(
        self, sxx: np.ndarray, sxy: np.ndarray, syy: np.ndarray, *, name: str | None = None,
        null_tol: float | None = None, svd_keep: float | None = None,
    ) -> None:  # the public entries check null_tol and svd_keep, once per call
        sxx, sxy, syy = (np.asarray(a, dtype=np.float64) for a in (sxx, sxy, syy))
        dx, dy = sxx.shape[0], syy.shape[0]
        if sxx.shape != (dx, dx) or syy.shape != (dy, dy) or sxy.shape != (dx, dy):
            raise LwaError(
                f"covariance blocks have inconsistent shapes {sxx.shape}, {sxy.shape}, {syy.shape}"
            )
        if not (np.isfinite(sxx).all() and np.isfinite(sxy).all() and np.isfinite(syy).all()):
            raise LwaError(
                f"the covariance{context(name)} is not finite: the features hold values too "
                "large for float64 products; rescale them"
            )
        self.name = name
        self.null_tol = null_tol
        self.svd_keep = svd_keep
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
                    f"eigendecomposition of view {view}'s covariance{context(self.name)} "
                    f"failed ({err})"
                ) from err
        return self._eig[key]

    def _whitening(self, view: str, keep: np.ndarray,
                   eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Return (retained eigenvector indices, their eigenvectors V_r, (w_r + ε)^-½, number
        of null directions dropped) of the kept block of one view."""
        w, v = self._eigh(view, keep)
        idx, n_null = retained_directions(w, self.null_tol, self.svd_keep)
        if idx.size == 0:
            raise CandidateFitError(
                f"null_tol = {self.null_tol:g} drops every direction of view {view}"
                f"{context(self.name)}"
            )
        shifted = w[idx] + eps
        if shifted.min() <= _RCOND * shifted.max():
            raise CandidateFitError(
                f"the covariance of view {view}{context(self.name)} plus ε = {eps:g} is "
                f"singular (smallest eigenvalue {shifted.min():.3g}); use a larger ε"
            )
        full = idx.size == w.size
        return idx, (v if full else v[:, idx]), 1.0 / np.sqrt(shifted), n_null

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
        check_eps(eps_x, eps_y)
        with serial_blas():
            return self._fit(eps_x, eps_y)

    def _check_masks(self, x_keep: np.ndarray, y_keep: np.ndarray, eps_x: float,
                     eps_y: float) -> None:
        if self.constant_view is not None:
            raise CandidateFitError(
                f"every dimension of view {self.constant_view}{context(self.name)} is "
                "constant on the training data, so CCA would prune them all"
            )
        sides = (("x", x_keep, self.x_var, eps_x), ("y", y_keep, self.y_var, eps_y))
        for view, keep, var, eps in sides:
            if not keep.any():
                raise CandidateFitError(
                    f"ε_{view} = {eps:g} prunes every dimension of view {view}"
                    f"{context(self.name)} (scaled variances are at most 1); use ε_{view} < 1"
                )
            zero = np.flatnonzero(keep & (var == 0.0))
            if zero.size:
                raise CandidateFitError(
                    f"ε_{view} = 0 keeps {zero.size} constant dimension(s) of view {view}"
                    f"{context(self.name)} (first: {int(zero[0])}), whose covariance is "
                    f"singular; use ε_{view} > 0"
                )

    def _fit(self, eps_x: float, eps_y: float) -> CCAFit:
        x_keep, y_keep = self.keep_masks(eps_x, eps_y)
        self._check_masks(x_keep, y_keep, eps_x, eps_y)
        sel_x, vx, ix, null_x = self._whitening("x", x_keep, eps_x)
        sel_y, vy, iy, null_y = self._whitening("y", y_keep, eps_y)
        key = (x_keep.tobytes(), y_keep.tobytes())
        if key not in self._rotated:
            full_x, full_y = self._eigh("x", x_keep)[1], self._eigh("y", y_keep)[1]
            self._rotated[key] = full_x.T @ self.sxy[np.ix_(x_keep, y_keep)] @ full_y
        rotated = self._rotated[key]
        if sel_x.size < rotated.shape[0] or sel_y.size < rotated.shape[1]:
            rotated = rotated[np.ix_(sel_x, sel_y)]
        # Wx Σxy Wy = Vx (Dx B Dy) Vyᵀ, so its SVD is that of the small rotated matrix.
        core = ix[:, None] * rotated * iy[None, :]
        try:
            u, s, vt = np.linalg.svd(core, full_matrices=False)
        except np.linalg.LinAlgError as err:
            raise CandidateFitError(f"the CCA SVD{context(self.name)} did not converge") from err
        kx, ky = int(x_keep.sum()), int(y_keep.sum())
        k = min(sel_x.size, sel_y.size)
        proj_x = (u[:, :k].T * ix[None, :]) @ vx.T
        proj_y = (vt[:k] * iy[None, :]) @ vy.T
        proj_x, proj_y = align_signs(proj_x, proj_y)
        reduced = k < min(kx, ky)
        return CCAFit(proj_x, proj_y, x_keep, y_keep, np.abs(s[:k]), float(eps_x), float(eps_y),
                      n_directions=k if reduced else None, x_null_dims=null_x,
                      y_null_dims=null_y, x_rank=int(sel_x.size), y_rank=int(sel_y.size))


def fit_cca_from_cov(
    sxx: np.ndarray,
    sxy: np.ndarray,
    syy: np.ndarray,
    eps_x: float,
    eps_y: float,
    *,
    name: str | None = None,
    null_tol: float | None = None,
    svd_keep: float | None = None,
) -> CCAFit:
    """Fit CCA from covariance blocks (e.g. pooled split statistics); see :class:`CovarianceCCA`."""
    check_fraction("null_tol", null_tol, upper_open=True)
    check_fraction("svd_keep", svd_keep, upper_open=False)
    model = CovarianceCCA(sxx, sxy, syy, name=name, null_tol=null_tol, svd_keep=svd_keep)
    return model.fit(eps_x, eps_y)


def fit_cca(
    x: Any,
    y: Any,
    eps_x: float,
    eps_y: float,
    *,
    name: str | None = None,
    device: str = "cpu",
    chunk_rows: int | None = None,
    null_tol: float | None = None,
    svd_keep: float | None = None,
) -> CCAFit:
    """Fit CCA on views x (n, dx) and y (n, dy) with regularisation (ε_x, ε_y).

    The covariance is streamed over row chunks in float64 (x, y may be h5py datasets).
    ``null_tol`` and ``svd_keep`` are described in :class:`CovarianceCCA`.

    Raises
    ------
    LwaError
        Too few points (CCA needs more points than dimensions in each view), NaN/inf inputs,
        or a fit failure (:class:`CandidateFitError`).
    """
    check_fraction("null_tol", null_tol, upper_open=True)
    check_fraction("svd_keep", svd_keep, upper_open=False)
    x, y = as_rows(x, "x", name), as_rows(y, "y", name)
    n, dx, dy = check_pair(x, y, name)
    needed = max(dx, dy) + 1
    if n < needed:
        raise LwaError(
            f"CCA{context(name)} needs more points than dimensions: {n} points for views of "
            f"{dx} and {dy} dimensions; give at least {needed} points"
        )
    stats, _ = accumulate_split_stats(
        x, y, np.zeros(n, dtype=np.int64), 1, chunk_rows=chunk_rows, device=device, name=name
    )
    model = CovarianceCCA(*stats.covariance([0]), name=name, null_tol=null_tol, svd_keep=svd_keep)
    return model.fit(eps_x, eps_y)
