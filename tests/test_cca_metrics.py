"""CCA metrics against independent textbook implementations written here: SVCCA (Raghu et
al. 2017), PWCCA's view choice on a tie (Morcos et al., google/svcca), and the moments scoring
path against the rows path."""

from __future__ import annotations

import numpy as np
import pytest

from lwa_cli.analysis.cca import (
    EvalData,
    EvalMoments,
    cross_validated_pwcca,
    fit_cca,
    pwcca_score,
    score_moments,
    score_rows,
)
from lwa_cli.analysis.cca.scores import weighted_sides
from lwa_cli.analysis.cca.stats import accumulate_split_stats


def _low_rank_views(n: int, seed: int = 0, dx: int = 40, dy: int = 30):
    """Low-rank-plus-noise views: 4 shared and 6 private latent dims, small isotropic noise,
    non-zero means (what real layers look like)."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, 4))
    private_x, private_y = rng.standard_normal((n, 6)), rng.standard_normal((n, 6))
    mix = [rng.standard_normal((k, d)) for k, d in ((4, dx), (6, dx), (4, dy), (6, dy))]
    x = shared @ mix[0] + private_x @ mix[1] + 0.05 * rng.standard_normal((n, dx)) + 1.5
    y = shared @ mix[2] + private_y @ mix[3] + 0.05 * rng.standard_normal((n, dy)) - 0.5
    return x, y


def _textbook_cca(xtr: np.ndarray, ytr: np.ndarray):
    """CCA by QR of each centred view and SVD of Qxᵀ Qy: (Wx, Wy, canonical correlations)."""
    qx, rx = np.linalg.qr(xtr - xtr.mean(0))
    qy, ry = np.linalg.qr(ytr - ytr.mean(0))
    u, s, vt = np.linalg.svd(qx.T @ qy, full_matrices=False)
    k = min(xtr.shape[1], ytr.shape[1])
    return np.linalg.solve(rx, u[:, :k]), np.linalg.solve(ry, vt[:k].T), s[:k]


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def _svd_basis(view: np.ndarray, keep: float) -> np.ndarray:
    """Top right singular vectors of the centred view explaining ``keep`` of its variance."""
    _, s, vt = np.linalg.svd(view - view.mean(0), full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    return vt[: int(np.searchsorted(share, keep)) + 1].T


def _textbook_svcca(xtr, ytr, xev, yev, keep=0.99):
    bx, by = _svd_basis(xtr, keep), _svd_basis(ytr, keep)
    wx, wy, s = _textbook_cca(xtr @ bx, ytr @ by)
    rho = _corr((xev - xev.mean(0)) @ bx @ wx, (yev - yev.mean(0)) @ by @ wy)
    return float(rho.mean()), s, (bx.shape[1], by.shape[1])


def test_svcca_matches_a_textbook_implementation() -> None:
    x, y = _low_rank_views(3000)
    xtr, ytr, xev, yev = x[:2000], y[:2000], x[2000:], y[2000:]
    expected, train_corrs, (rx, ry) = _textbook_svcca(xtr, ytr, xev, yev)
    assert (rx, ry) == (10, 10)  # the 10 latent dims carry > 99 % of each view's variance
    fit = fit_cca(xtr, ytr, 1e-10, 1e-10, svd_keep=0.99)
    assert (fit.x_rank, fit.y_rank, fit.k) == (rx, ry, 10)
    np.testing.assert_allclose(fit.canonical_corrs, train_corrs, atol=1e-8)
    got = pwcca_score(fit, xev, yev, metric="svcca")
    assert got == pytest.approx(expected, abs=1e-8)
    # Without the SVD step the mean runs over all 30 directions, most of them noise pairs.
    plain = pwcca_score(fit_cca(xtr, ytr, 1e-10, 1e-10), xev, yev, metric="mean-cca")
    assert got > plain + 0.2


def test_svd_keep_one_keeps_every_direction() -> None:
    x, y = _low_rank_views(1500)
    full = fit_cca(x, y, 1e-10, 1e-10, svd_keep=1.0)
    plain = fit_cca(x, y, 1e-10, 1e-10)
    assert full.k == plain.k == 30
    np.testing.assert_allclose(full.canonical_corrs, plain.canonical_corrs, atol=1e-12)


def test_cross_validated_svcca_records_its_settings() -> None:
    x, y = _low_rank_views(2000, seed=1)
    result = cross_validated_pwcca(x, y, metric="svcca", n_candidates=2)
    assert result.svd_keep == 0.99 and result.null_tol is None
    assert result.n_directions == [10, 10, 10]
    plain = cross_validated_pwcca(x, y, metric="mean-cca", n_candidates=2)
    assert plain.svd_keep is None and plain.n_directions == [30, 30, 30]
    assert result.score > plain.score + 0.2
    assert result.to_dict()["n_directions"] == [10, 10, 10]


def _textbook_morcos(xtr, ytr, xev, yev) -> tuple[float, float]:
    """Projection weighting of Morcos et al. on held-out data, for the x and the y view."""
    wx, wy, _ = _textbook_cca(xtr, ytr)
    xc, yc = xev - xev.mean(0), yev - yev.mean(0)
    hx, hy = xc @ wx, yc @ wy
    rho = _corr(hx, hy)
    out = []
    for h, z in ((hx, xc), (hy, yc)):
        q, _ = np.linalg.qr(h)
        weights = np.abs(q.T @ z).sum(axis=1)
        out.append(float(np.sum(weights / weights.sum() * rho)))
    return out[0], out[1]


def test_pwcca_morcos_weights_x_on_a_tie() -> None:
    rng = np.random.default_rng(7)
    n, d = 2400, 30
    latent = rng.standard_normal((n, 5))
    x = latent @ rng.standard_normal((5, d)) + rng.standard_normal((n, d)) * rng.uniform(
        0.5, 3.0, d)
    y = latent @ rng.standard_normal((5, d)) + 2.0 * rng.standard_normal((n, d))
    xtr, ytr, xev, yev = x[:1600], y[:1600], x[1600:], y[1600:]
    x_side, y_side = _textbook_morcos(xtr, ytr, xev, yev)
    assert abs(x_side - y_side) > 1e-3  # the tie rule matters on these views
    fit = fit_cca(xtr, ytr, 1e-10, 1e-10)
    assert fit.kx == fit.ky == d
    assert pwcca_score(fit, xev, yev, metric="pwcca-morcos") == pytest.approx(x_side, abs=1e-7)
    both = pwcca_score(fit, xev, yev, metric="pwcca-morcos", mean_score=True)
    assert both == pytest.approx((x_side + y_side) / 2, abs=1e-7)
    # The reference's own weighting keeps its rule: y on a tie.
    assert weighted_sides("pwcca", d, d, False) == ("y",)
    assert weighted_sides("pwcca-morcos", d, d, False) == ("x",)
    assert weighted_sides("pwcca-morcos", d + 1, d, False) == ("y",)


@pytest.mark.parametrize("metric", ["pwcca", "pwcca-morcos", "svcca", "mean-cca"])
@pytest.mark.parametrize("mean_score", [False, True])
def test_moments_path_equals_rows_path(metric: str, mean_score: bool) -> None:
    x, y = _low_rank_views(1800, seed=3, dx=25, dy=12)
    x[:, 4] = 0.25  # a constant column, pruned by ε
    split_of_row = np.arange(1800) % 3
    stats, _ = accumulate_split_stats(x, y, split_of_row, 3, chunk_rows=257)
    svd_keep = 0.99 if metric == "svcca" else None
    fit = fit_cca(x[split_of_row == 0], y[split_of_row == 0], 1e-10, 1e-10, svd_keep=svd_keep)
    for s in (1, 2):
        rows = EvalData.from_rows(x[split_of_row == s], y[split_of_row == s])
        expected = score_rows(fit, rows, metric, mean_score)
        got = score_moments(fit, EvalMoments.from_stats(stats, s), metric, mean_score)
        assert got == pytest.approx(expected, abs=1e-10)


class _CountingRows:
    """A row-sliceable view (like an h5py dataset) that counts the rows read."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.rows_read = array, 0
        self.shape, self.dtype = array.shape, array.dtype

    def __getitem__(self, key: slice) -> np.ndarray:
        out = self.array[key]
        self.rows_read += out.shape[0]
        return out


def _one_hot_views(n: int = 1500, seed: int = 2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 8, n)
    y = np.eye(8)[labels]  # rows sum to 1: the centred view has an exact null direction
    x = y @ rng.standard_normal((8, 12)) + rng.standard_normal((n, 12))
    return x, y, labels


def test_cross_validation_reads_the_rows_once() -> None:
    x, y = _low_rank_views(1500, seed=4, dx=12, dy=6)
    cx, cy = _CountingRows(x), _CountingRows(y)
    got = cross_validated_pwcca(cx, cy, n_candidates=3, chunk_rows=200)
    assert (cx.rows_read, cy.rows_read) == (1500, 1500)  # one pass; scores from moments
    assert got.score == pytest.approx(cross_validated_pwcca(x, y, n_candidates=3).score,
                                      abs=1e-12)


def test_null_pair_is_scored_on_rows_unless_dropped() -> None:
    x, y, labels = _one_hot_views()
    cx, cy = _CountingRows(x), _CountingRows(y)
    plain = cross_validated_pwcca(cx, cy, labels, n_candidates=2, chunk_rows=200)
    # The reference's noise pair cancels in the moments, so its dev/test rows are read again.
    assert cx.rows_read > 1500
    cx, cy = _CountingRows(x), _CountingRows(y)
    stable = cross_validated_pwcca(cx, cy, labels, n_candidates=2, chunk_rows=200,
                                   null_tol=1e-12)
    assert (cx.rows_read, cy.rows_read) == (1500, 1500)
    assert stable.null_dims_dropped == [(0, 1)] * 3 and stable.n_directions == [7] * 3
    assert plain.null_dims_dropped == [(0, 0)] * 3 and plain.n_directions == [8] * 3
    record = stable.to_dict()
    assert record["null_tol"] == 1e-12 and record["null_dims_dropped"] == [(0, 1)] * 3


def test_torch_statistics_give_the_numpy_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from lwa_cli.analysis.cca import stats as cca_stats

    x, y = _low_rank_views(1200, seed=6, dx=10, dy=5)
    expected = cross_validated_pwcca(x, y, n_candidates=2, null_tol=1e-12)
    monkeypatch.setattr(cca_stats, "get_backend", lambda device: cca_stats._TorchBackend("cpu"))
    got = cross_validated_pwcca(x, y, n_candidates=2, null_tol=1e-12, device="cuda")
    assert got.score == pytest.approx(expected.score, abs=1e-10)
