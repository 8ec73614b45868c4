"""The cross-validation protocol of CCA (SPEC §6.1–6.3): splits, trial pairs, ε candidates,
and the checks that every trial has enough points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lwa_cli.analysis.cca.inputs import context
from lwa_cli.errors import LwaError, LwaUsageError

SMALL_EPSILONS = (1e-10, 1e-11, 1e-9)
LARGE_EPSILONS = (1e-8, 1e-7, 1e-6, 1e-5)


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


def check_splits(splits: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
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


def check_trials(trials: Sequence[tuple[int, int]], n_splits: int) -> list[tuple[int, int]]:
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


def check_sizes(sizes: np.ndarray, dev: int, test: int, dx: int, dy: int,
                 name: str | None) -> None:
    """CCA needs more training points than dimensions and an eval split per direction."""
    n_splits = sizes.size
    n_train = int(sizes.sum() - sizes[dev] - sizes[test])
    needed = max(math.ceil((max(dx, dy) + 1) * n_splits / (n_splits - 2)),
                 n_splits * min(dx, dy))
    if n_train <= max(dx, dy):
        raise LwaError(
            f"CCA{context(name)} needs more points than dimensions: trial (dev {dev}, test "
            f"{test}) trains on {n_train} points for views of {dx} and {dy} dimensions; give "
            f"at least {needed} points"
        )
    small = min(int(sizes[dev]), int(sizes[test]))
    if small < min(dx, dy):
        raise LwaError(
            f"CCA{context(name)}: a dev/test split of trial (dev {dev}, test {test}) holds "
            f"{small} points, fewer than the {min(dx, dy)} canonical directions; give at least "
            f"{needed} points"
        )
