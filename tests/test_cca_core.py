"""The CCA engine on synthetic data: streaming statistics, fits, metrics, protocol, errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.analysis.cca import (
    CandidateFitError,
    CCAFit,
    CovarianceCCA,
    cross_validated_pwcca,
    epsilon_candidates,
    fit_cca,
    fit_cca_from_cov,
    make_splits,
    projected_correlations,
    pwcca_score,
)
from lwa_cli.analysis.cca import stats as cca_stats
from lwa_cli.analysis.cca.cka import linear_cka, linear_cka_from_cov
from lwa_cli.analysis.cca.stats import accumulate_split_stats, take_rows
from lwa_cli.errors import LwaError, LwaUsageError


def _views(n: int = 700, dx: int = 12, dy: int = 5, seed: int = 0,
           constant: tuple[int, ...] = (3, 9)) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 views sharing a 3-d latent, with non-zero means and constant x dims."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 3))
    x = latent @ rng.standard_normal((3, dx)) + rng.standard_normal((n, dx)) + 2.0
    y = latent @ rng.standard_normal((3, dy)) + 0.7 * rng.standard_normal((n, dy)) - 1.0
    x[:, list(constant)] = np.float32(-0.7)
    return x.astype(np.float32), y.astype(np.float32)


def _naive_fit(x: np.ndarray, y: np.ndarray, eps_x: float, eps_y: float) -> CCAFit:
    """The reference's way: np.cov of the stacked views, then the fit."""
    dx = x.shape[1]
    cov = np.cov(np.asarray(x, np.float64).T, np.asarray(y, np.float64).T)
    return fit_cca_from_cov(cov[:dx, :dx], cov[:dx, dx:], cov[dx:, dx:], eps_x, eps_y)


# ---------------------------------------------------------------------------------------------
# Streaming statistics


def test_split_statistics_match_np_cov_and_keep_constants_exact() -> None:
    x, y = _views()
    rng = np.random.default_rng(1)
    split_of_row = rng.integers(-1, 4, size=x.shape[0])  # -1: rows in no split
    stats, _ = accumulate_split_stats(x, y, split_of_row, 4, chunk_rows=97)
    train = [0, 2, 3]
    rows = np.flatnonzero(np.isin(split_of_row, train))
    sxx, sxy, syy = stats.covariance(train)
    ref = np.cov(x[rows].astype(np.float64).T, y[rows].astype(np.float64).T)
    np.testing.assert_allclose(sxx, ref[:12, :12], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sxy, ref[:12, 12:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(syy, ref[12:, 12:], rtol=0, atol=1e-12)
    assert np.all(sxx[[3, 9]] == 0.0) and np.all(sxy[[3, 9]] == 0.0)
    assert stats.counts.tolist() == [int((split_of_row == s).sum()) for s in range(4)]


def test_statistics_do_not_depend_on_chunking() -> None:
    x, y = _views()
    split_of_row = np.arange(x.shape[0]) % 5
    whole, _ = accumulate_split_stats(x, y, split_of_row, 5, chunk_rows=10_000)
    small, _ = accumulate_split_stats(x, y, split_of_row, 5, chunk_rows=13)
    np.testing.assert_array_equal(whole.counts, small.counts)
    np.testing.assert_allclose(whole.cross, small.cross, rtol=0, atol=1e-9)
    np.testing.assert_allclose(whole.means, small.means, rtol=0, atol=1e-13)


def test_torch_backend_runs_the_same_code(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _views()
    split_of_row = np.arange(x.shape[0]) % 3
    expected, _ = accumulate_split_stats(x, y, split_of_row, 3, chunk_rows=128)
    monkeypatch.setattr(cca_stats, "get_backend", lambda device: cca_stats._TorchBackend("cpu"))
    got, _ = accumulate_split_stats(x, y, split_of_row, 3, chunk_rows=128, device="cuda")
    np.testing.assert_allclose(got.cross, expected.cross, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got.means, expected.means, rtol=0, atol=1e-12)


def test_cuda_without_gpu_is_a_usage_error() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    x, y = _views(n=50)
    with pytest.raises(LwaUsageError, match="no CUDA GPU"):
        cross_validated_pwcca(x, y, device="cuda")


def test_collect_and_take_rows_keep_the_requested_order(tmp_path: Path) -> None:
    x, y = _views()
    idx = np.array([650, 3, 99, 4, 500])
    with h5py.File(tmp_path / "v.h5", "w") as handle:
        handle["x"] = x
        handle["y"] = y
    with h5py.File(tmp_path / "v.h5", "r") as handle:
        _, collected = accumulate_split_stats(handle["x"], handle["y"], np.zeros(700, int), 1,
                                              chunk_rows=64, collect=[idx])
        np.testing.assert_array_equal(collected[0][0], x[idx])
        np.testing.assert_array_equal(collected[0][1], y[idx])
        np.testing.assert_array_equal(take_rows(handle["x"], idx, 64), x[idx])


# ---------------------------------------------------------------------------------------------
# Fits and scores


def test_fast_path_equals_naive_np_cov_path() -> None:
    x, y = _views(n=900)
    splits = make_splits(900, None, 10, np.random.default_rng(3))
    result = cross_validated_pwcca(x, y, splits=splits, trials=[(2, 7)],
                                   eps_candidates=[[(1e-9, 1e-10), (1e-6, 1e-8)]],
                                   n_trials=1, n_candidates=2, chunk_rows=101)
    train = np.concatenate([splits[s] for s in range(10) if s not in (2, 7)])
    for cand in result.trials[0].candidates:
        naive = _naive_fit(x[train], y[train], cand.eps_x, cand.eps_y)
        streamed = fit_cca(x[train], y[train], cand.eps_x, cand.eps_y, chunk_rows=50)
        np.testing.assert_allclose(streamed.proj_x, naive.proj_x, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(streamed.proj_y, naive.proj_y, rtol=1e-8, atol=1e-10)
        assert cand.dev_score == pytest.approx(
            pwcca_score(naive, x[splits[2]], y[splits[2]]), abs=1e-10)
        assert cand.test_score == pytest.approx(
            pwcca_score(naive, x[splits[7]], y[splits[7]]), abs=1e-10)
        assert (cand.x_dims_kept, cand.y_dims_kept) == (10, 5)


def test_h5py_input_gives_the_numpy_result(tmp_path: Path) -> None:
    x, y = _views(n=800)
    with h5py.File(tmp_path / "v.h5", "w") as handle:
        handle["x"] = x
        handle["y"] = y
    expected = cross_validated_pwcca(x, y, seed=4, n_candidates=2)
    with h5py.File(tmp_path / "v.h5", "r") as handle:
        got = cross_validated_pwcca(handle["x"], handle["y"], seed=4, n_candidates=2,
                                    chunk_rows=77)
    assert got.score == pytest.approx(expected.score, abs=1e-12)
    assert [t.dev_split for t in got.trials] == [t.dev_split for t in expected.trials]


def test_fit_fixes_signs_and_reproduces_canonical_correlations() -> None:
    x, y = _views(n=2000, constant=())
    fit = fit_cca(x, y, 1e-10, 1e-10)
    assert fit.proj_x.shape == (5, 12) and fit.proj_y.shape == (5, 5)
    lead = fit.proj_x[np.arange(5), np.argmax(np.abs(fit.proj_x), axis=1)]
    assert np.all(lead > 0)
    # On the training data the variates' correlations are the canonical correlations.
    np.testing.assert_allclose(projected_correlations(fit, x, y), fit.canonical_corrs,
                               atol=1e-8)
    assert np.all(np.diff(fit.canonical_corrs) <= 0)
    from sklearn.cross_decomposition import CCA

    sk = CCA(n_components=1, max_iter=2000, tol=1e-12).fit(x.astype(float), y.astype(float))
    u, v = sk.transform(x.astype(float), y.astype(float))
    assert abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1]) == pytest.approx(fit.canonical_corrs[0],
                                                                     abs=1e-6)


def test_candidates_share_eigendecompositions() -> None:
    x, y = _views(n=600)
    cov = np.cov(x.astype(float).T, y.astype(float).T)
    model = CovarianceCCA(cov[:12, :12], cov[:12, 12:], cov[12:, 12:])
    for eps in (1e-10, 1e-11, 1e-9):
        model.fit(eps, 1e-10)
    assert len(model._eig) == 2  # one mask per view: the constant dims are pruned for all ε


def test_metrics_svcca_and_morcos() -> None:
    x, y = _views(n=1500, constant=())
    fit = fit_cca(x, y, 1e-10, 1e-10)
    rho = projected_correlations(fit, x[:700], y[:700])
    assert pwcca_score(fit, x[:700], y[:700], metric="mean-cca") == pytest.approx(rho.mean())
    # Morcos weights on the training data: the variates are orthogonal there, so the QR is a
    # normalisation; weights = Σ_j |<h_i/|h_i|, z_j>| on the view with fewer dims (y).
    yc = y.astype(float) - y.astype(float).mean(0)
    h = yc @ fit.proj_y.T
    weights = np.abs((h / np.linalg.norm(h, axis=0)).T @ yc).sum(1)
    expected = np.sum(weights / weights.sum() * fit.canonical_corrs)
    assert pwcca_score(fit, x, y, metric="pwcca-morcos") == pytest.approx(expected, abs=1e-9)
    # Textbook PWCCA ignores direction signs; the reference weighting does not.
    flipped = CCAFit(-fit.proj_x, -fit.proj_y, fit.x_keep, fit.y_keep)
    assert pwcca_score(flipped, x, y, metric="pwcca-morcos") == pytest.approx(
        pwcca_score(fit, x, y, metric="pwcca-morcos"), abs=1e-12)
    assert abs(pwcca_score(flipped, x, y) - pwcca_score(fit, x, y)) > 1e-4


def test_mean_score_averages_the_two_sides() -> None:
    x, y = _views(n=1500)
    fit = fit_cca(x, y, 1e-10, 1e-10)
    y_side = pwcca_score(fit, x, y)  # y keeps fewer dims (5 < 10)
    both = pwcca_score(fit, x, y, mean_score=True)
    # The reference weighting of the x view, written out (SPEC §6.5).
    x64 = x.astype(float)[:, fit.x_keep]
    means = x64.mean(0)
    variates = (x64 - means) @ fit.proj_x.T
    q, _ = np.linalg.qr(variates + means[:5])
    weights = np.abs(q.T @ x64[:, :5]).sum(1)
    x_side = np.sum(weights / weights.sum() * projected_correlations(fit, x, y))
    assert both == pytest.approx((x_side + y_side) / 2, abs=1e-12)
    assert abs(x_side - y_side) > 1e-3


# ---------------------------------------------------------------------------------------------
# CKA


def test_linear_cka_invariances_and_kernel_formula() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 7)) + 3.0
    y = np.tanh(x @ rng.standard_normal((7, 4))) + rng.standard_normal((60, 4)) * 0.3
    rotation, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    assert linear_cka(x, x @ rotation * 2.5 + 1.0) == pytest.approx(1.0, abs=1e-12)
    h = np.eye(60) - 1.0 / 60
    k, lk = h @ x @ x.T @ h, h @ y @ y.T @ h
    kernel = np.trace(k @ lk) / np.sqrt(np.trace(k @ k) * np.trace(lk @ lk))
    assert linear_cka(x, y) == pytest.approx(kernel, abs=1e-12)
    assert 0.0 < kernel < 1.0
    with pytest.raises(LwaError, match="view y is constant"):
        linear_cka_from_cov(np.eye(2), np.zeros((2, 2)), np.zeros((2, 2)))


def test_cka_metric_scores_the_test_splits() -> None:
    x, y = _views(n=800)
    result = cross_validated_pwcca(x, y, metric="cka", seed=2)
    splits = make_splits(800, None, 10, np.random.default_rng(2).spawn(3)[0])
    expected = [linear_cka(x[splits[t.test_split]], y[splits[t.test_split]])
                for t in result.trials]
    assert result.trial_scores == pytest.approx(expected, abs=1e-12)
    assert result.score == pytest.approx(np.mean(expected), abs=1e-12)
    assert all(not t.candidates and t.chosen_eps is None for t in result.trials)


# ---------------------------------------------------------------------------------------------
# Protocol


def test_splits_are_stratified_partitions() -> None:
    labels = np.array(["a"] * 47 + ["b"] * 3 + ["c"] * 20)
    splits = make_splits(70, labels, 10, np.random.default_rng(0))
    joined = np.concatenate(splits)
    assert sorted(joined.tolist()) == list(range(70))
    for split in splits:
        assert np.all(np.diff(split) > 0)
        assert (labels[split] == "a").sum() >= 4 and (labels[split] == "c").sum() == 2
    sizes = sorted(len(s) for s in splits)
    assert sizes[0] >= 6 and sum(sizes) == 70


def test_epsilon_candidates_order() -> None:
    pairs = epsilon_candidates(np.random.default_rng(0))
    small = {1e-9, 1e-10, 1e-11}
    assert len(pairs) == 25 and len(set(pairs)) == 25
    assert all(set(p) <= small for p in pairs[:9])
    assert all(not set(p) & small for p in pairs[9:])
    assert pairs != epsilon_candidates(np.random.default_rng(1))


def test_cross_validation_is_deterministic_and_reports_progress() -> None:
    x, y = _views(n=900)
    calls: list[int] = []
    rows: list[int] = []
    first = cross_validated_pwcca(x, y, seed=7, progress=calls.append, rows_progress=rows.append,
                                  chunk_rows=100)
    second = cross_validated_pwcca(x, y, seed=7, chunk_rows=100)
    other = cross_validated_pwcca(x, y, seed=8)
    assert first.to_dict() == second.to_dict()
    assert first.score != other.score
    assert calls == [1] * 18
    assert rows == [100] * 9
    pairs = [(t.dev_split, t.test_split) for t in first.trials]
    assert len({s for p in pairs for s in p}) == 6
    for trial in first.trials:
        assert len(trial.candidates) == 6 and trial.n_train + trial.n_dev + trial.n_test == 900
        assert trial.test_score == trial.candidates[trial.chosen_index].test_score
    assert first.dims_kept == [(10, 5)] * 3
    assert 0.0 < first.score < 1.0


# ---------------------------------------------------------------------------------------------
# Errors


def test_too_few_points_says_how_many_are_needed() -> None:
    x, y = _views(n=12)
    with pytest.raises(LwaError, match="give at least 13 points"):
        fit_cca(x, y, 1e-10, 1e-10)
    x, y = _views(n=14)
    with pytest.raises(LwaError, match=r"needs more points.*give at least 50 points"):
        cross_validated_pwcca(x, y)
    x, y = _views(n=40)
    with pytest.raises(LwaError, match=r"holds 4 points, fewer than the 5 canonical"):
        cross_validated_pwcca(x, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_names_the_layer_and_row(bad: float) -> None:
    x, y = _views(n=300)
    y[123, 2] = bad
    with pytest.raises(LwaError, match=r"view y \(layer T3\).*row 123, dimension 2"):
        cross_validated_pwcca(x, y, name="layer T3")
    with pytest.raises(LwaError, match="row 123"):
        fit_cca(x, y, 1e-10, 1e-10)


def test_constant_view_cannot_be_analysed() -> None:
    x, y = _views(n=300)
    y[:] = 1.5
    with pytest.raises(LwaError, match="every dimension of view y .*constant"):
        cross_validated_pwcca(x, y, name="mel")
    with pytest.raises(CandidateFitError, match="constant on the training data"):
        fit_cca(x, y, 1e-10, 1e-10)


def test_epsilon_that_prunes_everything_is_a_clear_error() -> None:
    x, y = _views(n=300)
    with pytest.raises(CandidateFitError, match="prunes every dimension of view x"):
        fit_cca(x, y, 2.0, 1e-10)


def test_zero_epsilon_with_constant_dimensions() -> None:
    x, y = _views(n=300)
    with pytest.raises(CandidateFitError, match=r"ε_x = 0 keeps 2 constant dimension\(s\)"):
        fit_cca(x, y, 0.0, 1e-10)
    assert fit_cca(x[:, [0, 1, 2]], y, 0.0, 0.0).kx == 3  # no constant dims: ε = 0 is fine


def test_failed_candidates_and_trials_are_skipped() -> None:
    x, y = _views(n=600)
    eps = [[(0.0, 1e-10)], [(0.0, 1e-10), (1e-10, 1e-10), (1e-9, 1e-9)]]
    result = cross_validated_pwcca(x, y, trials=[(0, 1), (2, 3)], eps_candidates=eps,
                                   n_trials=1, n_candidates=6)
    assert [(s.dev_split, s.test_split) for s in result.skipped] == [(0, 1)]
    assert "ε_x = 0 keeps" in result.skipped[0].reason
    assert [(c.eps_x, c.eps_y) for c in result.trials[0].candidates] == [(1e-10, 1e-10),
                                                                         (1e-9, 1e-9)]
    with pytest.raises(LwaError, match=r"every CCA trial failed \(L2\).*dev 0/test 1"):
        cross_validated_pwcca(x, y, trials=[(0, 1)], eps_candidates=[[(0.0, 0.0)]],
                              name="L2")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metric": "cosine"}, "unknown metric"),
        ({"n_trials": 0}, "n_trials must be"),
        ({"n_splits": 2}, "n_splits must be"),
        ({"splits": [np.arange(10), np.arange(5, 20), np.arange(20, 30)]}, "overlap"),
        ({"splits": [np.arange(10), np.arange(10, 20), np.arange(20, 999)]}, "must lie in"),
        ({"trials": [(1, 1)]}, "two different splits"),
        ({"eps_candidates": [[(-1e-9, 1e-9)]] * 3}, "finite number ≥ 0"),
        ({"eps_candidates": [[(1e-9, 1e-9)]]}, "trials need one each"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict, match: str) -> None:
    x, y = _views(n=300)
    with pytest.raises(LwaUsageError, match=match):
        cross_validated_pwcca(x, y, **kwargs)


def test_bad_shapes_and_fits() -> None:
    x, y = _views(n=300)
    with pytest.raises(LwaError, match="paired point by point"):
        cross_validated_pwcca(x, y[:-1])
    with pytest.raises(LwaError, match="must be 2-D"):
        fit_cca(x[:, 0], y, 1e-10, 1e-10)
    fit = fit_cca(x, y, 1e-10, 1e-10)
    with pytest.raises(LwaError, match="the fit expects 12 and 5"):
        pwcca_score(fit, x[:, :5], y)
    with pytest.raises(LwaError, match="needs at least 5 points"):
        pwcca_score(fit, x[:3], y[:3])
    with pytest.raises(LwaError, match="keeps 10 dimensions"):
        CCAFit(fit.proj_x[:, :4], fit.proj_y, fit.x_keep, fit.y_keep)
    with pytest.raises(LwaUsageError, match="cannot score"):
        pwcca_score(fit, x, y, metric="cka")
