"""Acoustic word discrimination: samediff goldens, the tie rule, blockwise = one-shot, filters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.metrics import average_precision_score

from lwa_cli.analysis.awd import awd_score, same_different_ap, select_awd_tokens
from lwa_cli.errors import LwaError, LwaUsageError

TOL = 1e-12


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    spec = json.loads((golden_dir / "awd.json").read_text())["cases"]
    with np.load(golden_dir / "awd.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return spec, arrays


def _matches(labels: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(labels), 1)
    return labels[i] == labels[j]


def _samediff_ap(d: np.ndarray, same: np.ndarray, order: np.ndarray) -> float:
    """samediff's per-item AP for one given ranking of the pairs."""
    m = same[order]
    precision = np.cumsum(m) / np.arange(1, m.size + 1)
    return float(np.sum(precision * m) / m.sum())


def _brute_force(d: np.ndarray, same: np.ndarray) -> tuple[float, float, float, float]:
    """Grouped AP/PRB over every distinct-distance threshold, plus the tie-order bounds."""
    values, inverse = np.unique(d, return_inverse=True)
    pos = np.bincount(inverse, weights=same, minlength=values.size)
    tot = np.bincount(inverse, minlength=values.size)
    tp, count = np.cumsum(pos), np.cumsum(tot)
    n_pos = same.sum()
    precision = tp / count
    ap = float(np.sum(pos * precision) / n_pos)
    recall = tp / n_pos
    p_max = np.maximum.accumulate(precision[::-1])[::-1]
    k = int(np.argmin(np.abs(recall - p_max)))
    prb = float((recall[k] + p_max[k]) / 2)
    first = np.lexsort((~same, d))  # same pairs first inside ties
    last = np.lexsort((same, d))
    return ap, prb, _samediff_ap(d, same, last), _samediff_ap(d, same, first)


def _check(result, expected: tuple[float, float, float, float], tol: float = 0.0) -> None:
    got = (result.ap, result.prb, result.ap_ties_min, result.ap_ties_max)
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


@pytest.mark.parametrize("case", ["main", "main_mvn", "singleton", "medium", "ties"])
def test_golden_cases(golden, case: str) -> None:
    spec, arrays = golden
    e = spec[case]
    x, labels = arrays[f"{case}__X"], arrays[f"{case}__labels"]
    cos = awd_score(x, labels)
    euc = awd_score(x, labels, distance="euclidean")
    assert (cos.n_tokens, cos.n_types, cos.n_pairs, cos.n_same_pairs) == (
        e["n_tokens"], e["n_types"], e["n_pairs"], e["n_same_pairs"]
    )
    if case == "ties":
        # Grouped rule = scikit-learn; samediff's argsort value is order-dependent.
        assert abs(cos.ap - 0.2594035346526006) < TOL
        assert abs(cos.ap - e["sklearn_ap"]) < TOL
        assert abs(euc.ap - e["euclidean"]["sklearn_ap"]) < TOL
        assert abs(cos.ap_ties_max - e["tie_analysis"]["positives_first"]) < TOL
        assert abs(cos.ap_ties_min - e["tie_analysis"]["positives_last"]) < TOL
        assert cos.n_mixed_tie_groups == e["tie_analysis"]["n_tie_groups_mixing_same_and_different"]
        assert cos.ap_ties_min <= e["ap"] <= cos.ap_ties_max
        assert cos.ap_ties_min <= e["other_numpy_rerun"]["ap"] <= cos.ap_ties_max
    else:
        assert abs(cos.ap - e["ap"]) < TOL and abs(cos.prb - e["prb"]) < TOL
        assert abs(euc.ap - e["euclidean"]["ap"]) < TOL
        assert abs(euc.prb - e["euclidean"]["prb"]) < TOL
        assert cos.ap_ties_min == cos.ap_ties_max == cos.ap and cos.n_mixed_tie_groups == 0


def test_golden_mvn_from_raw(golden) -> None:
    spec, arrays = golden
    r = awd_score(arrays["main__X"], arrays["main__labels"], mvn=True)
    assert abs(r.ap - spec["main_mvn"]["ap"]) < TOL and abs(r.prb - spec["main_mvn"]["prb"]) < TOL
    assert r.mvn and r.distance == "cosine"


@pytest.mark.parametrize("case", ["main", "singleton", "ties"])
def test_golden_distances_one_shot(golden, case: str) -> None:
    spec, arrays = golden
    d, same = arrays[f"{case}__distances"], arrays[f"{case}__matches"]
    assert np.array_equal(same, _matches(arrays[f"{case}__labels"]))
    ap, prb, lo, hi = same_different_ap(d, same)
    e = spec[case]
    assert abs(prb - e["prb"]) < TOL
    assert abs(ap - (e["sklearn_ap"] if case == "ties" else e["ap"])) < TOL
    assert abs(ap - average_precision_score(same, -d)) < TOL
    if case == "ties":
        # The whole tie-free value set of samediff: our own argsort order gives one of the
        # values inside the bounds, and it is not the grouped value.
        argsort_ap = _samediff_ap(d, same, np.argsort(d))
        assert lo <= argsort_ap <= hi and abs(argsort_ap - ap) > 1e-3
        assert _samediff_ap(d, same, np.lexsort((~same, d))) == pytest.approx(hi, abs=TOL)


def test_ties_distances_equal_scipy_bitwise(golden) -> None:
    # Exactly representable data: the blockwise kernel reproduces pdist's tie groups exactly
    # (including the 1.1e-16 group from |x||x| != x.x), so the grouped AP is scipy's.
    _, arrays = golden
    x, labels = arrays["ties__X"], arrays["ties__labels"]
    assert np.unique(pdist(x, "cosine")).size == 16
    assert awd_score(x, labels, block_rows=5).ap == awd_score(x, labels).ap


def _tied_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 70))
    x = rng.integers(-1, 2, size=(n, 3)).astype(np.float64)
    x[~x.any(axis=1), 0] = 1.0
    labels = rng.integers(0, int(rng.integers(2, 8)), size=n)
    return x, labels


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_heavy_ties_match_brute_force(seed: int, distance: str) -> None:
    x, labels = _tied_data(seed)
    metric = "cosine" if distance == "cosine" else "euclidean"
    d, same = pdist(x, metric), _matches(labels)
    if distance == "cosine":
        d = np.where(np.abs(d) < 1e-12, np.round(d, 20), d)
    expected = _brute_force(d, same)
    r = awd_score(x, labels, distance=distance, block_rows=int(seed % 5) + 1)
    _check(r, expected, tol=1e-15)
    _check(r, same_different_ap(d, same), tol=1e-15)
    assert abs(r.ap - average_precision_score(same, -d)) < 1e-12


def test_blockwise_equals_one_shot_exactly() -> None:
    rng = np.random.default_rng(7)
    n, dim = 400, 12
    labels = rng.zipf(1.6, size=n) % 60
    x = rng.standard_normal((60, dim))[labels] * 0.7 + rng.standard_normal((n, dim))
    # No duplicated vectors here: with duplicates, mathematically equal distances can differ
    # in the last bit between BLAS block shapes (integer data with ties: test above).
    results = [awd_score(x, labels, block_rows=b) for b in (1, 3, 64, 399, None)]
    assert all(r == results[0] for r in results[1:])
    d, same = pdist(x, "cosine"), _matches(labels)
    _check(results[0], _brute_force(d, same), tol=TOL)
    # The one-shot path on the same values is bit-identical.
    full = [awd_score(x, labels, block_rows=n).ap]
    assert full[0] == results[0].ap
    euc = [awd_score(x, labels, distance="euclidean", block_rows=b) for b in (2, 50, None)]
    assert euc[0] == euc[1] == euc[2]
    _check(euc[0], _brute_force(pdist(x), same), tol=TOL)


def test_counts_and_singletons() -> None:
    rng = np.random.default_rng(3)
    labels = np.array(["a"] * 4 + ["b"] * 3 + ["c", "d"])
    r = awd_score(rng.standard_normal((9, 4)), labels)
    assert (r.n_tokens, r.n_types, r.n_types_paired, r.n_pairs, r.n_same_pairs) == (9, 4, 2, 36, 9)
    assert set(r.to_dict()) >= {"ap", "prb", "tie_rule", "n_same_pairs"}


def test_perfect_separation() -> None:
    x = np.repeat(np.eye(3), 4, axis=0) + 0.01 * np.arange(12)[:, None]
    r = awd_score(x, np.repeat([0, 1, 2], 4))
    assert r.ap == 1.0 and r.prb == 1.0


def test_bad_inputs() -> None:
    x = np.random.default_rng(0).standard_normal((6, 3))
    with pytest.raises(LwaError, match="no same pair"):
        awd_score(x, np.arange(6))
    with pytest.raises(LwaUsageError, match="distance"):
        awd_score(x, np.zeros(6), distance="manhattan")  # type: ignore[arg-type]
    with pytest.raises(LwaError, match="labels of shape"):
        awd_score(x, np.zeros(5))
    with pytest.raises(LwaError, match="at least 2 tokens"):
        awd_score(x[:1], np.zeros(1))
    y = x.copy()
    y[2] = 0.0
    with pytest.raises(LwaError, match="token 2 has an all-zero"):
        awd_score(y, np.zeros(6))
    assert awd_score(y, np.zeros(6), distance="euclidean").n_same_pairs == 15
    y[4, 1] = np.nan
    with pytest.raises(LwaError, match="token 4"):
        awd_score(y, np.zeros(6), distance="euclidean")
    with pytest.raises(LwaUsageError, match="block_rows"):
        awd_score(x, np.zeros(6), block_rows=0)
    with pytest.raises(LwaError, match="no same pair"):
        same_different_ap([0.1, 0.2], [False, False])


def test_mvn_constant_dimension_is_ignored() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 4))
    labels = rng.integers(0, 5, size=30)
    with_const = np.column_stack([x, np.full(30, 3.0)])
    assert awd_score(with_const, labels, mvn=True).ap == pytest.approx(
        awd_score(x, labels, mvn=True).ap, abs=1e-12
    )


def test_select_awd_tokens() -> None:
    words = np.array(["because", "the", "because", "market", "a", "market", "because"] * 3)
    dur = np.tile([0.6, 0.1, 0.4, 0.7, 0.05, 0.55, 0.8], 3)
    assert list(select_awd_tokens(words, min_chars=6)) == [
        i for i, w in enumerate(words) if len(w) >= 6
    ]
    kept = select_awd_tokens(words, dur, min_chars=6, min_seconds=0.5)
    assert all(dur[kept] >= 0.5) and all(np.char.str_len(words[kept]) >= 6)
    capped = select_awd_tokens(words, max_per_word=2, seed=5)
    assert np.array_equal(capped, select_awd_tokens(words, max_per_word=2, seed=5))
    assert np.all(np.diff(capped) > 0)
    _, counts = np.unique(words[capped], return_counts=True)
    assert counts.tolist() == [2, 2, 2, 2]  # a, because, market, the
    others = {tuple(select_awd_tokens(words, max_per_word=2, seed=s)) for s in range(6)}
    assert len(others) > 1
    with pytest.raises(LwaUsageError, match="durations"):
        select_awd_tokens(words, min_seconds=0.5)
    with pytest.raises(LwaUsageError, match="max_per_word"):
        select_awd_tokens(words, max_per_word=0)
