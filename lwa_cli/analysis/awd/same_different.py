"""Same-different average precision and breakeven from pair counts (tie rule: grouped).

The exact AP / PRB machinery behind `lwa_cli.analysis.awd`: pairs are summarised by the
distinct same-pair distances u_1 < ... < u_m and, per u_j, the numbers of same pairs at u_j and
of different pairs below / at u_j. Pairs at exactly the same distance form one threshold, as
in scikit-learn's ``average_precision_score``; ``average_precisions`` also gives the bounds of
any order-dependent (argsort) ranking inside ties. `same_different_ap` applies it to
precomputed distances (e.g. samediff's ``pdist`` order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class Groups:
    """Counts per distinct same-pair distance u_j (ascending)."""

    pos: NDArray[np.int64]  # same pairs at u_j
    neg_lt: NDArray[np.int64]  # different pairs below u_j
    neg_le: NDArray[np.int64]  # different pairs at or below u_j


def _rank_sum(a: NDArray[np.int64], b: NDArray[np.int64], k: NDArray[np.int64]) -> float:
    """``sum_j sum_{i=1..k_j} (a_j + i) / (b_j + i)``: the precisions of a tie group's same
    pairs ranked consecutively after ``a_j`` same and ``b_j`` pairs in all. Only groups with
    several same pairs are expanded, so memory stays O(groups) on tie-free data."""
    total = (a + 1) / (b + 1)
    multi = np.flatnonzero(k > 1)
    if multi.size:
        extra_n = k[multi] - 1
        grp = np.repeat(multi, extra_n)
        i = 2 + np.arange(grp.size) - np.repeat(np.cumsum(extra_n) - extra_n, extra_n)
        total += np.bincount(grp, weights=(a[grp] + i) / (b[grp] + i), minlength=k.size)
    return float(np.sum(total))


def average_precisions(g: Groups) -> tuple[float, float, float]:
    """``(grouped AP, AP with same pairs last in ties, AP with same pairs first in ties)``."""
    n_pos = int(g.pos.sum())
    hits = np.cumsum(g.pos)
    ap = float(np.sum(g.pos * (hits / (hits + g.neg_le))) / n_pos)
    before = hits - g.pos  # same pairs below u_j
    below = before + g.neg_lt  # all pairs below u_j
    ap_max = _rank_sum(before, below, g.pos) / n_pos
    ap_min = _rank_sum(before, below + (g.neg_le - g.neg_lt), g.pos) / n_pos
    return ap, ap_min, ap_max


def breakeven(
    g: Groups, u: NDArray[np.float64], gap_values: Callable[[float, float], NDArray[np.float64]]
) -> float:
    """Exact PRB from the group counts plus the different-pair distances of one gap.

    Recall is non-decreasing and the right-maximised precision non-increasing along the
    thresholds, so recall - precision is non-decreasing and its smallest magnitude sits where
    it changes sign: between the end of group j-1 and the end of group j, j = the first group
    with recall >= precision. The thresholds in between are the distinct different-pair
    distances strictly inside (u_{j-1}, u_j), which ``gap_values(lo, hi)`` returns.
    """
    n_pos = int(g.pos.sum())
    hits = np.cumsum(g.pos)
    count = hits + g.neg_le
    recall = hits / n_pos
    precision = hits / count
    # Different pairs after a group only lower the precision, so the right maximum over all
    # thresholds equals the right maximum over the group ends.
    p_max = np.maximum.accumulate(precision[::-1])[::-1]
    j = int(np.argmax(recall - p_max >= 0))
    r_pts: list[NDArray[np.float64]] = []
    p_pts: list[NDArray[np.float64]] = []
    if j > 0:
        r_pts.append(recall[j - 1 : j])
        p_pts.append(p_max[j - 1 : j])
    n_gap = int(g.neg_lt[j] - (g.neg_le[j - 1] if j > 0 else 0))
    if n_gap > 0:
        if j == 0 or n_gap == 1:
            # Before the first same pair every threshold has precision 0: one point suffices.
            ends = np.array([n_gap], dtype=np.int64)
        else:
            _, per_value = np.unique(gap_values(float(u[j - 1]), float(u[j])), return_counts=True)
            if int(per_value.sum()) != n_gap:
                raise RuntimeError("second pass found a different number of gap distances")
            ends = np.cumsum(per_value)
        tp0 = hits[j - 1] if j > 0 else 0
        n0 = count[j - 1] if j > 0 else 0
        r_pts.append(np.full(ends.size, recall[j - 1] if j > 0 else 0.0))
        p_pts.append(np.maximum(tp0 / (n0 + ends), p_max[j]))
    r_pts.append(recall[j : j + 1])
    p_pts.append(p_max[j : j + 1])
    r = np.concatenate(r_pts)
    p = np.concatenate(p_pts)
    k = int(np.argmin(np.abs(r - p)))
    return float((r[k] + p[k]) / 2)


def count_groups(
    same_sorted: NDArray[np.float64], different_blocks: Iterator[NDArray[np.float64]]
) -> tuple[NDArray[np.float64], Groups]:
    """Distinct same-pair distances and the group counts, from sorted same-pair distances and
    any number of arrays of different-pair distances (each sorted here, in place)."""
    # Distinct values of the already sorted array, without np.unique's sorted copy.
    starts = np.flatnonzero(np.r_[True, same_sorted[1:] != same_sorted[:-1]])
    u = same_sorted[starts]
    pos = np.diff(np.r_[starts, same_sorted.size])
    neg_lt = np.zeros(u.size, dtype=np.int64)
    neg_le = np.zeros(u.size, dtype=np.int64)
    for values in different_blocks:
        values.sort()
        neg_lt += np.searchsorted(values, u, side="left")
        neg_le += np.searchsorted(values, u, side="right")
    return u, Groups(pos.astype(np.int64), neg_lt, neg_le)


def same_different_ap(
    distances: ArrayLike, same: ArrayLike
) -> tuple[float, float, float, float]:
    """AP, PRB and the tie bounds from precomputed pair distances (e.g. ``pdist`` order).

    Parameters
    ----------
    distances : array_like of float, shape (n_pairs,)
    same : array_like of bool, shape (n_pairs,)
        True for a same pair.

    Returns
    -------
    (ap, prb, ap_ties_min, ap_ties_max), under the grouped tie rule of the module docstring.

    Raises
    ------
    LwaError
        Shapes differ, distances not finite, or no same pair.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    m = np.asarray(same, dtype=bool).ravel()
    if d.shape != m.shape:
        raise LwaError(f"{d.size} distances but {m.size} same/different flags")
    if not np.isfinite(d).all():
        raise LwaError("pair distances contain NaN or infinite values")
    if not m.any():
        raise LwaError("no same pair: AP is undefined when no two tokens share a label")
    neg = d[~m]
    u, groups = count_groups(np.sort(d[m]), iter([neg]))  # sorts neg in place

    def gap_values(lo: float, hi: float) -> NDArray[np.float64]:
        return neg[(neg > lo) & (neg < hi)]

    ap, ap_min, ap_max = average_precisions(groups)
    return ap, breakeven(groups, u, gap_values), ap_min, ap_max
