"""The label of each model frame from time-aligned segments (frame-level phone probing).

Rule: frame ``t`` of a layer with frame period ``P`` seconds covers ``[t·P, (t+1)·P)`` (the
same convention as the segment arithmetic of SPEC §4, ``s = floor(start / P)``); its label is
that of the segment containing the frame's centre ``(t + ½)·P``, i.e. the segment with
``start ≤ centre < end``. A frame spanning a boundary thus takes the label of the segment
holding most of it. Frames whose centre lies in no segment (a gap left by a dropped ``sp`` /
``spn`` interval, or past the last segment) get no label (index -1) and are left out.
"""

from __future__ import annotations

import numpy as np

from lwa_cli.errors import LwaError


def frame_segments(starts: np.ndarray, ends: np.ndarray, n_frames: int,
                   period: float) -> np.ndarray:
    """Index of the segment holding each frame's centre, -1 where none (see module doc).

    `starts`, `ends` are one utterance's segments in seconds, in time order and not
    overlapping.
    """
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise LwaError("segment starts and ends must be 1-D arrays of one length")
    if not (np.isfinite(period) and period > 0):
        raise LwaError(f"the frame period must be a positive number of seconds, got {period}")
    if n_frames < 0:
        raise LwaError(f"n_frames must be >= 0, got {n_frames}")
    if len(starts) > 1 and np.any(starts[1:] < ends[:-1]):
        raise LwaError("segments must be in time order and must not overlap")
    centres = (np.arange(n_frames, dtype=np.float64) + 0.5) * period
    idx = np.searchsorted(starts, centres, side="right") - 1
    inside = idx >= 0
    inside[inside] = centres[inside] < ends[idx[inside]]
    return np.where(inside, idx, -1)


def frame_labels(starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, n_frames: int,
                 period: float) -> np.ndarray:
    """The label of each frame (numpy unicode; ``""`` for a frame without one)."""
    idx = frame_segments(starts, ends, n_frames, period)
    labels = np.asarray(labels, dtype=str)
    out = np.full(n_frames, "", dtype=labels.dtype if labels.size else "<U1")
    out[idx >= 0] = labels[idx[idx >= 0]]
    return out
