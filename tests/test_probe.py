"""Probing numerics: the linear probe against scikit-learn, C search, MDL, metrics, control
task, the MLP, and the checks on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from lwa_cli.analysis.probe import probe_layer
from lwa_cli.analysis.probe.linear import fit_linear, held_out_split, select_c
from lwa_cli.analysis.probe.mdl import BLOCKS, block_ends, online_codelength
from lwa_cli.analysis.probe.metrics import (
    control_labels,
    control_mapping,
    majority_accuracy,
    probe_metrics,
)
from lwa_cli.analysis.probe.mlp import fit_mlp
from lwa_cli.errors import LwaError


def blobs(n: int, k: int, d: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes around random means; smaller `spread` = higher signal-to-noise."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * 2
    y = rng.integers(0, k, n)
    return means[y] + rng.normal(size=(n, d)) * spread, y


@pytest.mark.parametrize("backend", ["sklearn", "torch"])
@pytest.mark.parametrize(("k", "c"), [(2, 0.3), (3, 1.0), (5, 0.05)])
def test_linear_probe_equals_sklearn(backend, k, c):
    x, y = blobs(240, k, 6, 2.0, seed=k)
    ref = LogisticRegression(C=c, solver="lbfgs", max_iter=10_000, tol=1e-10).fit(x, y)
    mine = fit_linear(x, y, k, c, backend=backend, max_iter=10_000, tol=1e-10)
    p, p_ref = mine.predict_proba(x), ref.predict_proba(x)
    np.testing.assert_array_equal(p.argmax(1), p_ref.argmax(1))
    assert abs(log_loss(y, p) - log_loss(y, p_ref)) <= 1e-6
    # Weights: the binary case is sklearn's single vector = our class-1 row minus class-0 row.
    w = mine.coef[1:2] - mine.coef[0:1] if k == 2 else mine.coef
    np.testing.assert_allclose(w, ref.coef_, rtol=1e-4, atol=1e-4 * np.abs(ref.coef_).max())
    b = mine.intercept[1:] - mine.intercept[:1] if k == 2 else mine.intercept
    np.testing.assert_allclose(b - b.mean() * (k > 2), ref.intercept_ - ref.intercept_.mean()
                               * (k > 2), atol=1e-4 * max(1.0, np.abs(ref.intercept_).max()))


def test_absent_class_gets_probability_zero():
    x, y = blobs(120, 3, 4, 1.0, seed=1)
    y = np.where(y == 1, 0, y)  # class 1 never occurs
    model = fit_linear(x, y, 4, 1.0)
    p = model.predict_proba(x)
    assert p.shape == (120, 4)
    assert np.all(p[:, 1] == 0) and np.all(p[:, 3] == 0)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert model.present.tolist() == [True, False, True, False]


def test_c_search_picks_the_best_held_out_cross_entropy_and_is_reproducible():
    x, y = blobs(400, 4, 10, 3.0, seed=3)
    grid = (1e-3, 1e-1, 10.0)
    tight = {"tol": 1e-10, "max_iter": 10_000}  # converged: warm starts change nothing
    model, search = select_c(x, y, 4, grid, seed=7, **tight)
    again, search2 = select_c(x, y, 4, grid[::-1], seed=7, **tight)  # grid order irrelevant
    assert search == search2
    np.testing.assert_array_equal(model.coef, again.coef)
    # Recompute the held-out cross-entropies independently with sklearn.
    fit_rows, out_rows = held_out_split(400, 0.1, 7)
    ce = [log_loss(y[out_rows], LogisticRegression(C=c, max_iter=10_000, tol=1e-10)
                   .fit(x[fit_rows], y[fit_rows]).predict_proba(x[out_rows]), labels=range(4))
          for c in grid]
    np.testing.assert_allclose(search.held_out_cross_entropy, ce, rtol=1e-6)
    assert search.c == grid[int(np.argmin(ce))]
    assert search.n_held_out == 40
    # The final model is refitted on all rows with the chosen C.
    ref = LogisticRegression(C=search.c, max_iter=10_000, tol=1e-10).fit(x, y)
    np.testing.assert_array_equal(model.predict_proba(x).argmax(1), ref.predict(x))


def test_a_one_value_grid_fits_all_rows_without_a_held_out_part():
    x, y = blobs(60, 3, 4, 1.0, seed=5)
    y[:2] = 2  # class 2 in two rows only: a held-out part could take it from the fit rows
    y[2:] = np.where(y[2:] == 2, 1, y[2:])
    model, search = select_c(x, y, 3, (0.5,), seed=0, tol=1e-10, max_iter=10_000)
    assert (search.c, search.grid, search.n_held_out) == (0.5, (0.5,), 0)
    assert search.held_out_cross_entropy == () and model.present.tolist() == [True] * 3
    ref = fit_linear(x, y, 3, 0.5, tol=1e-10, max_iter=10_000)
    np.testing.assert_array_equal(model.coef, ref.coef)


def test_metrics_and_majority_baseline():
    y = np.array([0, 0, 1, 2, 2, 2])
    proba = np.full((6, 3), 0.1)
    proba[np.arange(6), [0, 1, 1, 2, 2, 0]] = 0.8
    m = probe_metrics(y, proba)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # F1 per class: 0 → P 1/2 R 1/2; 1 → P 1/2 R 1; 2 → P 1 R 2/3.
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert m["cross_entropy"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6)
    assert majority_accuracy(np.array([2, 2, 1]), y) == pytest.approx(0.5)


def test_control_task_is_seeded_and_type_consistent():
    words = np.array(["the", "cat", "the", "sat", "cat", "on", "the"])
    labels = control_labels(words, 3, seed=5)
    mapping = control_mapping(words, 3, seed=5)
    assert [mapping[w] for w in words] == labels.tolist()
    # Same type, same class; independent of token order; reproducible; another seed differs.
    perm = np.random.default_rng(0).permutation(len(words))
    np.testing.assert_array_equal(control_labels(words[perm], 3, seed=5), labels[perm])
    np.testing.assert_array_equal(control_labels(words, 3, seed=5), labels)
    many = np.array([f"w{i}" for i in range(200)])
    assert not np.array_equal(control_labels(many, 3, 1), control_labels(many, 3, 2))
    assert set(control_labels(many, 3, 1).tolist()) == {0, 1, 2}


class _Uniform:
    def __init__(self, k):
        self.k = k

    def predict_proba(self, x):
        return np.full((len(x), self.k), 1 / self.k)


def test_mdl_of_a_uniform_probe_is_the_uniform_code_exactly():
    x, y = blobs(1000, 5, 3, 1.0, seed=0)
    code = online_codelength(x, y, 5, lambda xp, yp: _Uniform(5), seed=0)
    assert code.uniform_bits == pytest.approx(1000 * np.log2(5), rel=1e-15)
    assert code.online_bits == pytest.approx(code.uniform_bits, rel=1e-12)
    assert code.compression == pytest.approx(1.0, rel=1e-12)
    assert code.block_ends == (1, 2, 4, 8, 16, 32, 62, 125, 250, 500, 1000)
    assert code.block_bits[0] == pytest.approx(np.log2(5))


def test_mdl_blocks_computed_independently():
    """The online code recomputed here block by block with a nearest-class-mean probe."""
    x, y = blobs(600, 3, 4, 1.5, seed=2)

    class Means:
        def __init__(self, xp, yp):
            self.means = np.stack([xp[yp == c].mean(0) if np.any(yp == c) else xp.mean(0)
                                   for c in range(3)])

        def predict_proba(self, xq):
            logits = -((xq[:, None, :] - self.means[None]) ** 2).sum(-1)
            e = np.exp(logits - logits.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)

    code = online_codelength(x, y, 3, Means, seed=4, mix=0.0)
    order = np.random.default_rng(4).permutation(600)
    xs, ys = x[order], y[order]
    ends = [max(1, int(np.floor(600 * f))) for f in BLOCKS]
    expected = ends[0] * np.log2(3)
    for a, b in zip(ends[:-1], ends[1:], strict=True):
        if len(set(ys[:a].tolist())) < 2:
            expected += (b - a) * np.log2(3)
        else:
            p = Means(xs[:a], ys[:a]).predict_proba(xs[a:b])[np.arange(b - a), ys[a:b]]
            expected -= np.log2(p).sum()
    assert np.isfinite(expected) and code.online_bits == pytest.approx(expected, rel=1e-12)


def test_mdl_of_a_separable_problem_is_little_more_than_the_first_block():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 2000)
    x = np.eye(4)[y] * 10 + rng.normal(size=(2000, 4)) * 0.01
    code = online_codelength(x, y, 4, lambda xp, yp: fit_linear(xp, yp, 4, 10.0), seed=0)
    first = code.block_ends[0] * 2.0  # log2(4) = 2 bits per label
    assert code.block_bits[0] == pytest.approx(first)
    # Every later label costs ≤ ~0.1 bit except while classes are still unseen.
    assert code.online_bits < first + 0.1 * 2000
    assert code.compression > 8


def test_mdl_falls_as_the_signal_to_noise_ratio_rises():
    bits = []
    for spread in (8.0, 2.0, 0.5):
        x, y = blobs(1500, 4, 6, spread, seed=11)
        fit = lambda xp, yp: fit_linear(xp, yp, 4, 1.0)  # noqa: E731
        bits.append(online_codelength(x, y, 4, fit, seed=0).online_bits)
    assert bits[0] > bits[1] > bits[2]
    assert bits[0] > 0.9 * 1500 * 2 > 3 * bits[2]  # noise: about the uniform code (2 bits)


def test_block_ends_validation():
    assert block_ends(10) == (1, 2, 5, 10)
    with pytest.raises(LwaError, match="end at 1"):
        block_ends(10, (0.5,))


def test_probe_layer_measures_and_baselines():
    x, y = blobs(600, 3, 5, 1.0, seed=5)
    res = probe_layer(x[:400], y[:400], x[400:], y[400:], ["a", "b", "c"], mdl=True)
    ref = LogisticRegression(C=res.c, max_iter=1000).fit(
        (x[:400] - x[:400].mean(0)) / x[:400].std(0), y[:400])
    pred = ref.predict((x[400:] - x[:400].mean(0)) / x[:400].std(0))
    assert res.accuracy == pytest.approx(np.mean(pred == y[400:]), abs=1 / 200)
    assert res.accuracy > 0.9 > res.majority_accuracy
    assert res.majority_accuracy == pytest.approx(
        np.mean(y[400:] == np.argmax(np.bincount(y[:400]))))
    out = res.to_dict()
    assert out["compression"] == pytest.approx(out["uniform_bits"] / out["mdl_bits"])
    assert out["uniform_bits"] == pytest.approx(400 * np.log2(3))
    assert (res.n_train, res.n_eval, res.n_classes) == (400, 200, 3)


def test_control_task_selectivity():
    rng = np.random.default_rng(0)
    types = np.array([f"w{i}" for i in range(12)])
    tok = rng.integers(0, 12, 900)
    y = tok % 4  # the task: a function of the type, learnable from the features
    x = np.eye(12)[tok] * 3 + rng.normal(size=(900, 12)) * 0.3
    res = probe_layer(x[:600], y[:600], x[600:], y[600:], ["a", "b", "c", "d"],
                      control_types=(types[tok[:600]], types[tok[600:]]), seed=1)
    assert res.accuracy > 0.95
    assert res.control_accuracy is not None and res.control_accuracy > 0.9  # memorised types
    assert res.selectivity == pytest.approx(res.accuracy - res.control_accuracy)


def test_mlp_probe_is_seeded_and_learns_a_nonlinear_problem():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(1200, 2))
    y = ((x[:, 0] * x[:, 1]) > 0).astype(int)  # XOR: no linear probe can do it
    a = fit_mlp(x[:900], y[:900], 2, hidden=32, seed=3, lr=1e-2)
    b = fit_mlp(x[:900], y[:900], 2, hidden=32, seed=3, lr=1e-2)
    np.testing.assert_array_equal(a.w1, b.w1)
    assert np.mean(a.predict_proba(x[900:]).argmax(1) == y[900:]) > 0.9
    linear = fit_linear(x[:900], y[:900], 2, 1.0)
    assert np.mean(linear.predict_proba(x[900:]).argmax(1) == y[900:]) < 0.7
    res = probe_layer(x[:900], y[:900], x[900:], y[900:], ["-", "+"], probe="mlp", seed=3,
                      hidden=32)
    assert res.backend == "torch" and res.accuracy > 0.85


def test_bad_input_is_refused_with_names():
    x, y = blobs(50, 3, 4, 1.0, seed=0)
    with pytest.raises(LwaError, match="class.*zh.*no training example"):
        probe_layer(x, np.where(y == 2, 0, y), x, y, ["aa", "b", "zh"])
    with pytest.raises(LwaError, match="at least two classes"):
        probe_layer(x, np.zeros(50, dtype=int), x, np.zeros(50, dtype=int), ["aa"])
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(LwaError, match=r"training data: 1 row\(s\) hold NaN.*row 7"):
        probe_layer(bad, y, x, y, ["a", "b", "c"])
    with pytest.raises(LwaError, match="evaluation data"):
        probe_layer(x, y, bad, y, ["a", "b", "c"])
    with pytest.raises(LwaError, match="labels must lie in 0…2"):
        probe_layer(x, y + 1, x, y, ["a", "b", "c"])
    with pytest.raises(LwaError, match="probe must be one of"):
        probe_layer(x, y, x, y, ["a", "b", "c"], probe="svm")
    with pytest.raises(LwaError, match="C must be a positive"):
        fit_linear(x, y, 3, 0.0)
