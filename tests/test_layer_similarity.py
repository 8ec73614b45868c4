"""Layer × layer similarity measures against independent implementations and their
invariances.

Independent references: textbook formulas written out here in n × n (Gram) space, which
the feature-space code never forms; ``repsim`` 0.1.5 (``repsim.cka(..., "linear",
"gretton")``, linear CKA); ``rsatoolbox`` 0.3.2 (correlation-distance RDMs compared by
Spearman); ``scipy.linalg.orthogonal_procrustes`` and ``scipy.linalg.sqrtm`` for the
Procrustes shape distance of Williams et al. (2021, as in netrep, which is not on PyPI).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes, sqrtm
from scipy.stats import ortho_group, spearmanr

from lwa_cli.analysis.similarity import MEASURES, best_match, similarity_map
from lwa_cli.analysis.similarity import stats as layer_stats
from lwa_cli.choices import SIMILARITY_MEASURES
from lwa_cli.errors import LwaError, LwaUsageError

ALL = ["cka", "cka-debiased", "procrustes", "rsa", "mknn"]


def _pair(seed: int, n: int = 120, dx: int = 7, dy: int = 11, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dx)) * rng.uniform(0.2, 3.0, size=dx) + rng.normal(size=dx) * 4
    y = x @ rng.normal(size=(dx, dy)) + noise * rng.normal(size=(n, dy)) + 2.0
    return x, y


def _map(x, y, measures, **kw):
    return {m: v[0, 0] for m, v in similarity_map([x], [y], measures, **kw).items()}


# --- textbook references -----------------------------------------------------------------

def _centred_gram(a):
    h = np.eye(len(a)) - 1.0 / len(a)
    return h @ a @ a.T @ h


def _cka_gram(x, y):
    k, l_ = _centred_gram(x), _centred_gram(y)
    return np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_))


def _hsic_unbiased(k, l_):
    """Song et al. (2012), eq. 5: the U-statistic with zeroed diagonals."""
    n = len(k)
    k, l_ = k.copy(), l_.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l_, 0)
    one = np.ones(n)
    return (np.trace(k @ l_) + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * one @ k @ l_ @ one) / (n * (n - 3))


def _cka_debiased_gram(x, y):
    k, l_ = x @ x.T, y @ y.T  # uncentred: the unbiased HSIC needs no centring
    return _hsic_unbiased(k, l_) / np.sqrt(_hsic_unbiased(k, k) * _hsic_unbiased(l_, l_))


def _procrustes_textbook(x, y, alpha=1.0):
    """Williams et al. (2021): centre, partially whiten, rotate optimally, take the angle."""
    def whiten(a):
        a = a - a.mean(axis=0)
        if alpha == 1.0:
            return a
        cov = a.T @ a
        root = np.real(sqrtm(cov))
        z = alpha * np.eye(len(cov)) + (1 - alpha) * np.linalg.inv(root)
        az = a @ z
        return az * np.linalg.norm(a) / np.linalg.norm(az)  # netrep keeps the variance

    a, b = whiten(x), whiten(y)
    d = max(a.shape[1], b.shape[1])  # zero-pad to equal width, as netrep does
    a = np.pad(a, ((0, 0), (0, d - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, d - b.shape[1])))
    r, _ = orthogonal_procrustes(a, b)
    cos = np.sum((a @ r) * b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.arccos(np.clip(cos, -1, 1))


def _mknn_textbook(x, y, k):
    """Huh et al. (2024): per row, the share of its k cosine neighbours both spaces agree on."""
    def neighbours(a):
        u = a / np.linalg.norm(a, axis=1, keepdims=True)
        s = u @ u.T
        np.fill_diagonal(s, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:k]) for row in s]

    na, nb = neighbours(x), neighbours(y)
    return np.mean([len(p & q) / k for p, q in zip(na, nb, strict=True)])


# --- parity --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_space_measures_equal_the_gram_space_textbook(seed):
    x, y = _pair(seed, n=60, dx=5, dy=9)
    got = _map(x, y, ["cka", "cka-debiased", "procrustes"])
    assert got["cka"] == pytest.approx(_cka_gram(x, y), abs=1e-12)
    assert got["cka-debiased"] == pytest.approx(_cka_debiased_gram(x, y), abs=1e-12)
    assert got["procrustes"] == pytest.approx(_procrustes_textbook(x, y), abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_whitened_procrustes_equals_the_textbook(alpha):
    x, y = _pair(3, n=200, dx=4, dy=6)
    got = _map(x, y, ["procrustes"], alpha=alpha)["procrustes"]
    assert got == pytest.approx(_procrustes_textbook(x, y, alpha), abs=1e-8)


def test_cka_equals_repsim():
    repsim = pytest.importorskip("repsim")
    x, y = _pair(4, n=80)
    ref = repsim.cka([x, y], "linear", "gretton")[0, 1]
    assert _map(x, y, ["cka"])["cka"] == pytest.approx(ref, abs=1e-10)


def test_rsa_equals_rsatoolbox():
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    x, y = _pair(5, n=50)
    ref = compare(calc_rdm(Dataset(x), method="correlation"),
                  calc_rdm(Dataset(y), method="correlation"), method="spearman")[0, 0]
    assert _map(x, y, ["rsa"], rsa_rows=50)["rsa"] == pytest.approx(ref, abs=1e-12)


def test_rsa_on_a_subsample_is_spearman_of_those_rows_rdms():
    x, y = _pair(6, n=300)
    got = _map(x, y, ["rsa"], rsa_rows=40, seed=9)["rsa"]
    rows = np.random.default_rng(9).permutation(300)[:40]
    iu = np.triu_indices(40, 1)
    rho = spearmanr((1 - np.corrcoef(x[rows]))[iu], (1 - np.corrcoef(y[rows]))[iu])[0]
    assert got == pytest.approx(rho, abs=1e-12)


def test_mknn_equals_the_textbook_and_shares_the_rsa_subsample_prefix():
    x, y = _pair(7, n=150, noise=2.0)
    got = _map(x, y, ["mknn"], knn_rows=150, k=5)["mknn"]
    assert got == pytest.approx(_mknn_textbook(x, y, 5), abs=1e-15)
    assert 0.05 < got < 1.0
    rows = np.random.default_rng(0).permutation(150)[:60]
    both = _map(x, y, ["rsa", "mknn"], rsa_rows=150, knn_rows=60, k=5)
    assert both["mknn"] == pytest.approx(_mknn_textbook(x[rows], y[rows], 5), abs=1e-15)


# --- invariances ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_invariance_to_orthogonal_maps_isotropic_scaling_and_row_order(seed):
    x, y = _pair(10 + seed, n=90, dx=6, dy=6)
    rng = np.random.default_rng(seed)
    q = ortho_group.rvs(6, random_state=seed)
    perm = rng.permutation(90)
    base = similarity_map([x], [y], ALL, rsa_rows=90, knn_rows=90, k=5)
    rotated = similarity_map([x @ q * 3.7], [y], ALL, rsa_rows=90, knn_rows=90, k=5)
    shuffled = similarity_map([x[perm]], [y[perm]], ALL, rsa_rows=90, knn_rows=90, k=5)
    for m in ("cka", "cka-debiased", "procrustes"):  # invariant to rotation and scale
        assert rotated[m][0, 0] == pytest.approx(base[m][0, 0], abs=1e-10), m
    for m in ALL:  # every measure, subsampled ones over all rows: invariant to row order
        assert shuffled[m][0, 0] == pytest.approx(base[m][0, 0], abs=1e-10), m
    scaled = similarity_map([x * 0.01], [y * 50], ALL, rsa_rows=90, knn_rows=90, k=5)
    for m in ALL:
        assert scaled[m][0, 0] == pytest.approx(base[m][0, 0], abs=1e-10), m


def test_whitened_procrustes_is_invariant_to_any_invertible_map():
    x, y = _pair(20, n=150, dx=5, dy=5)
    a = np.random.default_rng(1).normal(size=(5, 5))
    full = _map(x, y, ["procrustes"], alpha=0.0)["procrustes"]
    assert _map(x @ a, y, ["procrustes"], alpha=0.0)["procrustes"] == pytest.approx(full,
                                                                                      abs=1e-7)
    assert _map(x @ a, y, ["procrustes"])["procrustes"] != pytest.approx(
        _map(x, y, ["procrustes"])["procrustes"], abs=1e-3)


def test_a_model_against_itself_has_the_maximum_on_the_diagonal():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(200, 8))]
    for _ in range(4):
        layers.append(np.tanh(layers[-1] @ rng.normal(size=(8, 8)) / 2) + 0.3 * rng.normal(
            size=(200, 8)))
    maps = similarity_map(layers, None, ALL, rsa_rows=200, knn_rows=200, k=5)
    for m, v in maps.items():
        diag = np.diag(v)
        if m == "procrustes":
            assert np.allclose(diag, 0, atol=1e-6)
            assert (v >= diag[:, None] - 1e-12).all()
        else:
            assert np.allclose(diag, 1, atol=1e-12), m
            assert (v <= diag[:, None] + 1e-12).all(), m
        assert np.allclose(v, v.T, atol=1e-10), m
        assert (best_match(v, m) == np.arange(5)).all(), m


# --- streaming, sharing, reproducibility ------------------------------------------------------

def test_grouped_and_chunked_passes_give_the_same_map(monkeypatch):
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(500, d)) for d in (4, 6, 5)]
    ys = [x @ rng.normal(size=(x.shape[1], 7)) for x in xs] + [rng.normal(size=(500, 3))]
    one = similarity_map(xs, ys, ALL, rsa_rows=100, knn_rows=80, k=4)
    monkeypatch.setattr(layer_stats, "CHUNK_BYTES", 1)  # 64-row chunks
    many = similarity_map(xs, ys, ALL, rsa_rows=100, knn_rows=80, k=4, memory_bytes=1)
    for m in ALL:
        np.testing.assert_allclose(many[m], one[m], rtol=0, atol=1e-12)
        pair = np.array([[_map(x, y, [m], rsa_rows=100, knn_rows=80, k=4)[m] for y in ys]
                         for x in xs])
        np.testing.assert_allclose(pair, one[m], rtol=0, atol=1e-12)


def test_results_are_the_same_across_blas_thread_counts():
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(3000, 64)) for _ in range(2)]
    ys = [x @ rng.normal(size=(64, 96)) + rng.normal(size=(3000, 96)) for x in xs]
    with threadpool_limits(1):
        one = similarity_map(xs, ys, ALL, rsa_rows=300, knn_rows=300, k=5)
    with threadpool_limits(4):
        four = similarity_map(xs, ys, ALL, rsa_rows=300, knn_rows=300, k=5)
    for m in ALL:
        np.testing.assert_allclose(four[m], one[m], rtol=0, atol=1e-10)


def test_float32_inputs_accumulate_in_float64():
    x, y = _pair(8, n=400)
    got = _map(x.astype(np.float32), y.astype(np.float32), ["cka"])["cka"]
    ref = _map(x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64),
               ["cka"])["cka"]
    assert got == ref


# --- degenerate inputs: clear messages, never NaN -----------------------------------------------

def test_n_smaller_than_d_and_constant_columns_give_finite_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 40))
    x[:, 3] = 5.0
    y = rng.normal(size=(6, 30))
    got = _map(x, y, ALL, rsa_rows=6, knn_rows=6, k=2)
    assert all(np.isfinite(v) for v in got.values())
    assert got["cka"] == pytest.approx(_cka_gram(x, y), abs=1e-12)
    assert got["cka-debiased"] == pytest.approx(_cka_debiased_gram(x, y), abs=1e-12)
    assert got["procrustes"] == pytest.approx(_procrustes_textbook(x, y), abs=1e-9)


@pytest.mark.parametrize("measure, x, match", [
    ("cka", np.ones((10, 3)), "constant in every dimension"),
    ("procrustes", np.ones((10, 3)), "constant in every dimension"),
    ("cka-debiased", np.ones((10, 3)), "not positive"),
    ("cka-debiased", np.eye(3)[:3], "at least 4 rows"),
    ("rsa", np.ones((10, 3)), "constant across dimensions"),
    ("mknn", np.zeros((10, 3)), "rows are zero"),
])
def test_undefined_measures_raise_a_clear_error(measure, x, match):
    y = np.random.default_rng(0).normal(size=(len(x), 4))
    with pytest.raises(LwaError, match=match):
        similarity_map([x], [y], [measure], rsa_rows=10, knn_rows=10, k=2)


def test_bad_inputs_and_options_name_the_problem():
    x = np.zeros((1, 3))
    with pytest.raises(LwaError, match="at least 2 shared rows"):
        similarity_map([x], [x], ["cka"])
    a, b = np.ones((5, 2)), np.ones((6, 2))
    with pytest.raises(LwaError, match="model A has 5 rows, model B 6"):
        similarity_map([a], [b], ["cka"])
    bad = np.random.default_rng(0).normal(size=(5, 2))
    bad[2, 1] = np.nan
    with pytest.raises(LwaError, match="NaN or infinite"):
        similarity_map([bad], None, ["cka"])
    with pytest.raises(LwaUsageError, match="measures='nope' unknown"):
        similarity_map([bad], None, ["nope"])
    with pytest.raises(LwaUsageError, match="k=5 must be at least 1 and below knn_rows=5"):
        similarity_map([bad], None, ["mknn"], k=5, knn_rows=5)
    with pytest.raises(LwaUsageError, match="alpha=2.0 must be in"):
        similarity_map([bad], None, ["procrustes"], alpha=2.0)
    with pytest.raises(LwaError, match="needs more than 4 rows"):
        similarity_map([np.eye(4)], None, ["mknn"], k=4, knn_rows=100)


def test_cli_choices_list_the_measures():
    assert set(SIMILARITY_MEASURES) == set(MEASURES)


def test_pwcca_entries_come_from_the_pair_scorer():
    x, y = _pair(9, n=50)
    calls = []

    def scorer(i, j):
        calls.append((i, j))
        return 0.25 * i + j

    got = similarity_map([x, x], [y, y, y], ["cka", "pwcca"], pwcca=scorer)
    assert list(got) == ["pwcca", "cka"]  # canonical order
    np.testing.assert_array_equal(got["pwcca"], [[0, 1, 2], [0.25, 1.25, 2.25]])
    assert sorted(calls) == [(i, j) for i in range(2) for j in range(3)]
    with pytest.raises(LwaUsageError, match="pwcca needs a scoring function"):
        similarity_map([x], [y], ["pwcca"])
