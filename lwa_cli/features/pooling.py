"""Segment frame bounds and mean pooling for phone and word spans (SPEC §4, "Spans").

A segment given by its start and end time (seconds) covers the model frames ``[start, end)``.
The bounds are computed in float64 exactly as the reference does (``golden/segment_idx.json``);
the reference's failures are turned into a per-segment status so that the caller can drop or
keep the segment, count it and warn once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The segment is exactly what the reference computes.
STATUS_OK = 0
#: The reference would index past the utterance (or before it); lwa clipped the segment to it.
STATUS_CLIPPED = 1
#: The reference fails on this segment (empty after clipping, or end before start); lwa drops it.
STATUS_DROPPED = 2

STATUS_NAMES = {STATUS_OK: "ok", STATUS_CLIPPED: "clipped", STATUS_DROPPED: "dropped"}

#: Frame period of every registered model (20 ms).
FRAME_STRIDE_S = 0.02


class SegmentBounds(NamedTuple):
    """Frame bounds of a batch of segments.

    Attributes
    ----------
    start, end : ndarray of int64, shape (n,)
        Segment ``i`` covers frames ``start[i] .. end[i] - 1``. Dropped segments have
        ``start == end == 0`` so that nothing can be read from them by mistake.
    status : ndarray of int8, shape (n,)
        ``STATUS_OK``, ``STATUS_CLIPPED`` or ``STATUS_DROPPED`` per segment.
    """

    start: NDArray[np.int64]
    end: NDArray[np.int64]
    status: NDArray[np.int8]

    @property
    def kept(self) -> NDArray[np.bool_]:
        """Mask of the segments to pool (status ok or clipped)."""
        return self.status != STATUS_DROPPED

    @property
    def n_clipped(self) -> int:
        """Number of segments clipped to the utterance."""
        return int(np.count_nonzero(self.status == STATUS_CLIPPED))

    @property
    def n_dropped(self) -> int:
        """Number of segments dropped."""
        return int(np.count_nonzero(self.status == STATUS_DROPPED))


def segment_bounds(
    starts: ArrayLike,
    ends: ArrayLike,
    n_frames: ArrayLike,
    *,
    trim: bool,
    stride: float = FRAME_STRIDE_S,
) -> SegmentBounds:
    """Frame bounds ``[start, end)`` of segments given in seconds, vectorised.

    Steps, in float64 (SPEC §4): ``s = floor(start / stride)``, ``e = ceil(end / stride)``;
    with ``trim`` (phones) ``k = floor((e - s + 1) / 3)`` frames are removed from both ends;
    if ``e == s`` then ``e = s + 1``; if ``e == n_frames + 1`` then ``e = n_frames``. Where
    this yields ``s < e <= n_frames`` (with ``s >= 0``) the result is exactly the reference's
    ``get_segment_idx`` and the status is ok. The reference asserts ``e > s`` after those steps
    and otherwise returns ``range(s, e)`` unchecked; lwa differs only where that is broken:

    * ``e > n_frames + 1`` (the reference's indices run past the utterance) or ``s < 0``:
      ``e`` is clipped to ``n_frames`` and ``s`` to 0; status clipped if frames remain.
    * the reference's assertion fails (end before start, or a segment starting at or after
      ``n_frames``, e.g. start == utterance end), or nothing remains after clipping, or a time
      is not finite: status dropped, bounds ``(0, 0)``.

    Parameters
    ----------
    starts, ends : array_like of float, shape (n,)
        Segment times in seconds (anything ``float()`` accepts, e.g. numeric strings).
    n_frames : int or array_like of int, shape (n,)
        Frames in the utterance of each segment (scalar: the same for all).
    trim : bool
        Keep only the middle of the segment (the reference's ``offset``; used for phones).
    stride : float
        Frame period in seconds.

    Returns
    -------
    SegmentBounds
        ``start``, ``end`` (int64) and ``status`` (int8) arrays of shape (n,).
    """
    if not stride > 0:
        raise ValueError(f"stride must be positive, got {stride}")
    t0 = np.atleast_1d(np.asarray(starts, dtype=np.float64))
    t1 = np.atleast_1d(np.asarray(ends, dtype=np.float64))
    if t0.ndim != 1 or t0.shape != t1.shape:
        raise ValueError(f"starts and ends must be 1-D of equal length, got {t0.shape}, {t1.shape}")
    n = np.broadcast_to(np.asarray(n_frames, dtype=np.int64), t0.shape)
    if np.any(n < 0):
        raise ValueError("n_frames must be non-negative")

    finite = np.isfinite(t0) & np.isfinite(t1)
    # Non-finite times become 0 here only to keep the integer cast defined; they are dropped.
    s = np.floor(np.where(finite, t0, 0.0) / stride).astype(np.int64)
    e = np.ceil(np.where(finite, t1, 0.0) / stride).astype(np.int64)
    if trim:
        k = np.floor_divide(e - s + 1, 3)
        s = s + k
        e = e - k
    e = np.where(e == s, e + 1, e)
    e = np.where(e == n + 1, n, e)

    reference_fails = (e <= s) | ~finite
    past = e > n
    before = s < 0
    s = np.maximum(s, 0)
    e = np.minimum(e, n)
    empty = e <= s

    status = np.full(t0.shape, STATUS_OK, dtype=np.int8)
    status[past | before] = STATUS_CLIPPED
    dropped = reference_fails | empty
    status[dropped] = STATUS_DROPPED
    s = np.where(dropped, 0, s)
    e = np.where(dropped, 0, e)
    return SegmentBounds(start=s, end=e, status=status)


def mean_pool(features: ArrayLike, start: ArrayLike, end: ArrayLike) -> NDArray[np.float32]:
    """Mean of ``features[start[i]:end[i]]`` for every segment ``i``, vectorised.

    Sums come from a float64 cumulative sum, so long utterances lose no precision.

    Parameters
    ----------
    features : array_like, shape (T, D)
        Frame features of one utterance.
    start, end : array_like of int, shape (n,)
        Segment bounds with ``0 <= start < end <= T`` (drop the dropped segments first).

    Returns
    -------
    ndarray of float32, shape (n, D)
    """
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (frames, dims), got shape {x.shape}")
    s = np.atleast_1d(np.asarray(start, dtype=np.int64))
    e = np.atleast_1d(np.asarray(end, dtype=np.int64))
    if s.ndim != 1 or s.shape != e.shape:
        raise ValueError(f"start and end must be 1-D of equal length, got {s.shape}, {e.shape}")
    bad = (s < 0) | (e <= s) | (e > x.shape[0])
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"segment {i} has bounds [{s[i]}, {e[i]}) outside 0 <= start < end <= {x.shape[0]}"
        )
    csum = np.zeros((x.shape[0] + 1, x.shape[1]), dtype=np.float64)
    np.cumsum(x, axis=0, dtype=np.float64, out=csum[1:])
    means = (csum[e] - csum[s]) / (e - s)[:, None]
    return means.astype(np.float32)
