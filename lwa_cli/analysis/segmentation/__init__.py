"""Training-free word segmentation from the frame features of one layer (TACL 2024).

As the reference (``codes/tools/word_segmentation_librispeech.py``) computes it:

1. z-score every feature dimension over all frames of all utterances of the sample
   (population std, in the feature dtype: the operations of ``scipy.stats.zscore``);
2. per utterance, the dissimilarity ``d_t`` of consecutive frames t, t+1 (length T−1):
   Euclidean ``||z_{t+1} − z_t||`` or cosine ``1 − cos(z_{t+1}, z_t)``;
3. a 'valid' moving mean of width w (length T−w), by the reference's cumsum difference;
4. peaks ``scipy.signal.find_peaks(s, prominence=p)``;
5. boundary frames ``sort(peaks + w // 2)``, times ``frame × 0.02 s``.

`tune_layer` scores a whole grid of (prominence, metric, window) at once. Steps 1–3 depend on
neither the prominence nor (step 2) the window, so they are computed once per layer, metric and
window. ``find_peaks(s, prominence=p)`` keeps the local maxima whose prominence is ``>= p``
(the local maxima and their prominences do not depend on p), so one call with
``prominence=0`` gives every threshold's peaks by filtering. Under reference matching a
prediction's hit does not depend on the other predictions, and a reference boundary is found
at threshold p iff the most prominent prediction within reach has prominence ``>= p``: the
counts of all prominences follow from one pass. One-to-one matching runs the greedy pointer
for all (threshold, utterance) lanes together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from lwa_cli.analysis.segmentation.boundaries import (
    BoundaryScores,
    check_matching,
    greedy_match_counts,
    scores_from_counts,
    windows,
    windows_of_refs,
)
from lwa_cli.errors import LwaError, LwaUsageError

#: Seconds per frame of the models' features (20 ms).
FRAME_PERIOD = 0.02
#: Default tolerance of the boundary scores, in seconds.
TOLERANCE = 0.02
METRICS: tuple[str, ...] = ("euclidean", "cosine")
#: Names the reference uses for the metrics.
METRIC_ALIASES: Mapping[str, str] = {"eucli": "euclidean", "euclidean": "euclidean",
                                     "cosine": "cosine"}  # fmt: skip


@dataclass(frozen=True)
class SegmentationGrid:
    """Grid of configurations, looped prominence ▸ metric ▸ window (the reference's order)."""

    prominences: tuple[float, ...] = (0.0, 1e-5, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3,
                                      1.0, 2.0, 4.0, 6.0, 8.0, 10.0)  # fmt: skip
    metrics: tuple[str, ...] = METRICS
    windows: tuple[int, ...] = (1, 2, 4, 6, 8, 16)

    def __post_init__(self) -> None:
        for name, values in (("prominence", self.prominences), ("metric", self.metrics),
                             ("window", self.windows)):  # fmt: skip
            if not values:
                raise LwaUsageError(f"the segmentation grid has no {name} value")
            if len(set(values)) != len(values):
                raise LwaUsageError(f"the segmentation grid repeats a {name} value: {values}")
        for p in self.prominences:
            if not np.isfinite(p) or p < 0:
                raise LwaUsageError(f"prominence {p} must be a finite number >= 0")
        for metric in self.metrics:
            if metric not in METRICS:
                raise LwaUsageError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
        for w in self.windows:
            if isinstance(w, bool) or int(w) != w or w < 1:
                raise LwaUsageError(f"window {w!r} must be an integer >= 1")

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.prominences), len(self.metrics), len(self.windows)


def check_metric(metric: str) -> str:
    """The canonical metric name (``eucli`` is accepted for ``euclidean``)."""
    if metric not in METRIC_ALIASES:
        raise LwaUsageError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    return METRIC_ALIASES[metric]


def zscore_frames(features: np.ndarray) -> np.ndarray:
    """z-score each column over all rows, with the operations of ``scipy.stats.zscore``.

    Mean, population variance and the division are taken in the feature dtype (float32 stays
    float32), so the result equals ``scipy.stats.zscore(features, axis=0)`` bit for bit, but
    with one temporary instead of several. A constant column (where scipy gives NaN) is set to
    0: it carries no information and would otherwise make every dissimilarity NaN.
    """
    x = np.asarray(features)
    if x.ndim != 2 or x.shape[0] == 0:
        raise LwaError(f"features must be a non-empty 2-D array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    mean = np.mean(x, axis=0, keepdims=True)
    out = np.subtract(x, mean)
    np.multiply(out, out, out=out)
    std = np.mean(out, axis=0, keepdims=True) ** 0.5
    np.subtract(x, mean, out=out)
    constant = std <= np.abs(np.finfo(x.dtype).eps * mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(out, std, out=out)
    out[:, constant[0]] = 0
    return out


def dissimilarity(z: np.ndarray, metric: str) -> np.ndarray:
    """Consecutive-frame dissimilarity of one utterance's z-scored frames (length T−1)."""
    metric = check_metric(metric)
    if metric == "euclidean":
        return np.linalg.norm(z[1:] - z[:-1], axis=1)
    norms = np.linalg.norm(z, axis=1)
    return 1 - np.sum(z[1:] * z[:-1], axis=1) / norms[1:] / norms[:-1]


def moving_mean(d: np.ndarray, window: int) -> np.ndarray:
    """'Valid' moving mean of width ``window`` by the reference's cumsum difference.

    Length ``len(d) − window + 1`` (empty when shorter than the window); the cumsum form is
    kept, not a direct mean, because its rounding decides ties between neighbouring peaks.
    """
    c = np.cumsum(d, axis=0)
    c[window:] = c[window:] - c[:-window]
    return c[window - 1 :] / window


def peaks_with_prominence(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All local maxima of ``s`` (find_peaks' rule) and their prominences."""
    peaks, props = find_peaks(s, prominence=0)
    return peaks.astype(np.int64), props["prominences"]


def _utterance_slices(lengths: np.ndarray, n_rows: int) -> list[slice]:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or np.any(lengths < 1):
        raise LwaError("lengths must be a non-empty list of frame counts >= 1")
    if int(lengths.sum()) != n_rows:
        raise LwaError(f"the frame counts add up to {int(lengths.sum())}, the features have "
                       f"{n_rows} rows")  # fmt: skip
    ends = np.cumsum(lengths)
    return [slice(int(e - n), int(e)) for e, n in zip(ends, lengths, strict=True)]


def segment(
    features: np.ndarray, lengths: Sequence[int], metric: str, window: int, prominence: float
) -> list[np.ndarray]:
    """Predicted boundary frames (int64, sorted, in 20 ms frames) of every utterance.

    ``features`` are the frames of all utterances concatenated (``sum(lengths)`` rows); the
    z-score is taken over all of them. An utterance without peaks gets an empty array.
    """
    SegmentationGrid((float(prominence),), (check_metric(metric),), (int(window),))
    z = zscore_frames(features)
    out = []
    for rows in _utterance_slices(np.asarray(lengths), z.shape[0]):
        s = moving_mean(dissimilarity(z[rows], metric), int(window))
        peaks, prom = peaks_with_prominence(s)
        out.append(np.sort(peaks[prom >= prominence] + int(window) // 2))
    return out


@dataclass(frozen=True)
class TuneResult:
    """Every configuration's scores for one layer, and the best.

    Grids have shape ``grid.shape`` = (prominence, metric, window). ``best`` is the index of
    the highest F, the first in grid order on ties (all-zero F gives the first configuration).
    """

    grid: SegmentationGrid
    matching: str
    tolerance: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    os: np.ndarray
    r_value: np.ndarray
    n_pred: np.ndarray
    n_utts_without_peaks: np.ndarray
    n_utterances: int
    n_left_out: int
    best: tuple[int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        flat = int(np.argmax(self.f1.reshape(-1)))
        object.__setattr__(self, "best", tuple(int(i) for i in np.unravel_index(flat,
                                                                                self.f1.shape)))

    @property
    def best_config(self) -> tuple[float, str, int]:
        """(prominence, metric, window) of `best`."""
        i, j, k = self.best
        return self.grid.prominences[i], self.grid.metrics[j], self.grid.windows[k]

    def scores_at(self, index: tuple[int, int, int]) -> dict[str, float]:
        return {name: float(getattr(self, name)[index])
                for name in ("precision", "recall", "f1", "os", "r_value")}  # fmt: skip


def _max_in_runs(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max(values[lo_i:hi_i])`` per run, −inf for an empty run (runs are a few long)."""
    best = np.full(lo.shape, -np.inf)
    if values.size == 0:
        return best
    for offset in range(int((hi - lo).max(initial=0))):
        index = lo + offset
        inside = index < hi
        candidate = values[np.minimum(index, values.size - 1)]
        best = np.where(inside & (candidate > best), candidate, best)
    return best


def _counts_reference(frames, proms, refs, thresholds, tolerance):
    """(n_pred, hit_pred, hit_ref) per threshold, reference matching, for one (metric, w).

    ``frames`` are sorted (peaks are in index order), so their times are too.
    """
    n_pred = np.zeros(len(thresholds), dtype=np.int64)
    hit_pred = np.zeros(len(thresholds), dtype=np.int64)
    hit_ref = np.zeros(len(thresholds), dtype=np.int64)
    for frame, prom, ref in zip(frames, proms, refs, strict=True):
        t = frame * FRAME_PERIOD
        kept = prom[None, :] >= thresholds[:, None]
        n_pred += kept.sum(axis=1)
        lo, hi = windows(t, ref, tolerance)
        hit_pred += (kept & (hi > lo)[None, :]).sum(axis=1)
        r_lo, r_hi = windows_of_refs(t, ref, tolerance)
        best = _max_in_runs(prom, r_lo, r_hi)
        hit_ref += (best[None, :] >= thresholds[:, None]).sum(axis=1)
    return n_pred, hit_pred, hit_ref


def _counts_one_to_one(frames, proms, refs, thresholds, tolerance):
    """(n_pred, matched) per threshold, greedy one-to-one matching, for one (metric, w)."""
    n_t, n_u = len(thresholds), len(frames)
    width = max((len(f) for f in frames), default=0)
    lo_all = np.full((n_t, n_u, width), -1, dtype=np.int64)
    hi_all = np.full((n_t, n_u, width), -1, dtype=np.int64)
    n_pred = np.zeros(n_t, dtype=np.int64)
    for u, (frame, prom, ref) in enumerate(zip(frames, proms, refs, strict=True)):
        lo, hi = windows(frame * FRAME_PERIOD, ref, tolerance)
        for i, p in enumerate(thresholds):
            kept = prom >= p
            k = int(kept.sum())
            n_pred[i] += k
            lo_all[i, u, :k] = lo[kept]
            hi_all[i, u, :k] = hi[kept]
    matched = greedy_match_counts(lo_all.reshape(n_t * n_u, width),
                                  hi_all.reshape(n_t * n_u, width))  # fmt: skip
    return n_pred, matched.reshape(n_t, n_u).sum(axis=1)


def tune_layer(
    features: np.ndarray,
    lengths: Sequence[int],
    ref_boundaries: Sequence[np.ndarray | None],
    grid: SegmentationGrid | None = None,
    tolerance: float = TOLERANCE,
    matching: str = "reference",
) -> TuneResult:
    """Score every configuration of ``grid`` on one layer.

    Parameters
    ----------
    features : np.ndarray
        ``[sum(lengths), D]`` frames of all utterances, concatenated in utterance order.
    lengths : sequence of int
        Frames per utterance.
    ref_boundaries : sequence of (np.ndarray or None)
        Per utterance the sorted reference boundary times in seconds (`reference_boundaries`),
        or None for an utterance left out of the scoring (its frames still enter the z-score,
        as in the reference). An utterance without peaks keeps its references (all missed).
    grid : SegmentationGrid, optional
        Default: the reference's 15 × 2 × 6 grid.
    tolerance : float
        Seconds.
    matching : {"reference", "one-to-one"}
    """
    grid = grid or SegmentationGrid()
    check_matching(matching)
    slices = _utterance_slices(np.asarray(lengths), np.asarray(features).shape[0])
    if len(ref_boundaries) != len(slices):
        raise LwaError(f"{len(ref_boundaries)} reference boundary lists for {len(slices)} "
                       "utterances")  # fmt: skip
    scored = [u for u, ref in enumerate(ref_boundaries) if ref is not None]
    refs = [np.asarray(ref_boundaries[u], dtype=np.float64) for u in scored]
    n_ref = sum(len(r) for r in refs)
    thresholds = np.asarray(grid.prominences, dtype=np.float64)
    z = zscore_frames(features)
    shape = grid.shape
    n_pred = np.zeros(shape, dtype=np.int64)
    hit_pred = np.zeros(shape, dtype=np.int64)
    hit_ref = np.zeros(shape, dtype=np.int64)
    no_peaks = np.zeros(shape, dtype=np.int64)
    for j, metric in enumerate(grid.metrics):
        dists = [dissimilarity(z[slices[u]], metric) for u in scored]
        for k, window in enumerate(grid.windows):
            frames, proms = [], []
            for d in dists:
                peaks, prom = peaks_with_prominence(moving_mean(d, window))
                frames.append(peaks + window // 2)
                proms.append(prom)
            maxprom = np.array([p.max() if p.size else -np.inf for p in proms])
            no_peaks[:, j, k] = (maxprom[None, :] < thresholds[:, None]).sum(axis=1)
            if matching == "reference":
                counts = _counts_reference(frames, proms, refs, thresholds, tolerance)
                n_pred[:, j, k], hit_pred[:, j, k], hit_ref[:, j, k] = counts
            else:
                n_pred[:, j, k], hit_pred[:, j, k] = _counts_one_to_one(
                    frames, proms, refs, thresholds, tolerance
                )
                hit_ref[:, j, k] = hit_pred[:, j, k]
    grids = {name: np.zeros(shape) for name in ("precision", "recall", "f1", "os", "r_value")}
    for index in np.ndindex(shape):
        s: BoundaryScores = scores_from_counts(
            int(n_pred[index]), n_ref, int(hit_pred[index]), int(hit_ref[index]), matching
        )
        for name, values in grids.items():
            values[index] = getattr(s, name)
    return TuneResult(grid=grid, matching=matching, tolerance=float(tolerance), **grids,
                      n_pred=n_pred, n_utts_without_peaks=no_peaks, n_utterances=len(slices),
                      n_left_out=len(slices) - len(scored))  # fmt: skip


def tune_layers(
    layer_features: Mapping[str, np.ndarray],
    layers: Sequence[str],
    lengths: Sequence[int],
    ref_boundaries: Sequence[np.ndarray | None],
    grid: SegmentationGrid | None = None,
    tolerance: float = TOLERANCE,
    matching: str = "reference",
) -> dict[str, TuneResult]:
    """`tune_layer` for each requested layer; a layer without features is an error (the
    reference silently reused the previous layer's matrix)."""
    missing = [layer for layer in layers if layer not in layer_features]
    if missing:
        raise LwaError(f"no frame features for layer(s) {', '.join(map(str, missing))}; "
                       f"available: {', '.join(map(str, layer_features)) or 'none'}")  # fmt: skip
    return {layer: tune_layer(layer_features[layer], lengths, ref_boundaries, grid, tolerance,
                              matching) for layer in layers}  # fmt: skip
