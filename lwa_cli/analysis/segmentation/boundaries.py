"""Scoring predicted word boundaries against reference boundaries.

Two matchings, both with counts summed over utterances before the ratios are taken:

* ``reference`` — the rule of the reference's ``word_segmentation_librispeech.py``: a
  prediction is a hit when *some* reference boundary lies within ±tolerance; a reference
  boundary is missed when *no* prediction lies within it. This is many-to-one: two predictions
  next to one reference boundary both count as hits, so precision and recall are overstated.
  It is kept so that the published numbers reproduce. ``TP = 0`` gives P = R = F = 0.
* ``one-to-one`` — the ZeroSpeech / kamperh/vqwordseg rule (``score_boundaries``): predictions
  are taken in time order and each one takes the *first still unmatched* reference boundary
  within the tolerance. ``P = correct / n_pred``, ``R = correct / n_ref``, plus
  over-segmentation ``OS = R/P − 1`` and the R-value.

Windows are evaluated exactly as written in the reference: a prediction ``t`` lies within
reference ``g`` iff ``g − tol <= t <= g + tol`` in float64 (so ties at exactly ±tol depend on
rounding, as there). Because ``g − tol`` and ``g + tol`` are monotone in ``g``, the references
within reach of a prediction form one contiguous run of the sorted reference list, found with
`numpy.searchsorted`; the greedy one-to-one matching then reduces to one pointer per utterance
(a reference skipped because it lies before a prediction's window is out of reach of every
later prediction), which is run for many utterances at once in `greedy_match_counts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.errors import LwaUsageError

MATCHINGS: tuple[str, ...] = ("reference", "one-to-one")


@dataclass(frozen=True)
class BoundaryScores:
    """Boundary precision, recall, F-score, over-segmentation and R-value, with their counts.

    ``n_hit_pred`` counts predictions that are hits; ``n_hit_ref`` counts reference boundaries
    that are found. Under one-to-one matching both equal the number of matched pairs.
    """

    precision: float
    recall: float
    f1: float
    os: float
    r_value: float
    n_pred: int
    n_ref: int
    n_hit_pred: int
    n_hit_ref: int


def check_matching(matching: str) -> str:
    """Return ``matching`` if it is one of `MATCHINGS`, else raise `LwaUsageError`."""
    if matching not in MATCHINGS:
        raise LwaUsageError(f"unknown matching {matching!r}; choose one of {', '.join(MATCHINGS)}")
    return matching


def over_segmentation(precision: float, recall: float, n_pred: int, n_ref: int) -> float:
    """``R/P − 1`` (vqwordseg ``get_os``); with P = 0 the count form ``n_pred/n_ref − 1``.

    vqwordseg returns −inf when P = 0; the count form is the quantity ``R/P − 1`` stands for
    (both equal ``n_pred/n_ref − 1`` whenever a boundary is matched). NaN without references.
    """
    if precision > 0:
        return recall / precision - 1
    if n_ref == 0:
        return math.nan
    return n_pred / n_ref - 1


def r_value(recall: float, os: float) -> float:
    """R-value (Räsänen et al. 2009) as vqwordseg ``get_rvalue`` writes it."""
    r1 = math.sqrt((1 - recall) ** 2 + os**2)
    r2 = (-os + recall - 1) / math.sqrt(2)
    return 1 - (abs(r1) + abs(r2)) / 2


def scores_from_counts(
    n_pred: int, n_ref: int, n_hit_pred: int, n_hit_ref: int, matching: str
) -> BoundaryScores:
    """P/R/F/OS/R-value from summed counts, in the float operations of the matching's origin.

    ``reference``: the reference's ``f1_score`` (all zero when no prediction is a hit).
    ``one-to-one``: vqwordseg ``score_boundaries`` (P = 0 without predictions and R = 0
    without references, where vqwordseg divides by zero; F = 0 where it gives −inf).
    """
    check_matching(matching)
    if matching == "reference":
        if n_hit_pred == 0:
            precision = recall = f1 = 0.0
        else:
            precision = n_hit_pred / n_pred
            recall = n_hit_pred / (n_hit_pred + (n_ref - n_hit_ref))
            f1 = 2 * precision * recall / (precision + recall)
    else:
        precision = float(n_hit_pred) / n_pred if n_pred else 0.0
        recall = float(n_hit_ref) / n_ref if n_ref else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0
    os = over_segmentation(precision, recall, n_pred, n_ref)
    return BoundaryScores(
        precision=precision,
        recall=recall,
        f1=f1,
        os=os,
        r_value=r_value(recall, os),
        n_pred=int(n_pred),
        n_ref=int(n_ref),
        n_hit_pred=int(n_hit_pred),
        n_hit_ref=int(n_hit_ref),
    )


def windows(
    pred: np.ndarray, ref: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """For sorted predictions and sorted references of one utterance, each prediction's run
    ``[lo, hi)`` of references ``g`` with ``g − tol <= t <= g + tol`` (float64 as written)."""
    lo = np.searchsorted(ref + tolerance, pred, side="left")
    hi = np.searchsorted(ref - tolerance, pred, side="right")
    return lo, hi


def greedy_match_counts(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Matched pairs per lane of the greedy one-to-one matching (vqwordseg's rule).

    Parameters
    ----------
    lo, hi : np.ndarray
        int64 ``[n_lanes, n_steps]``: per lane (an utterance, or an utterance at one
        threshold) the candidate reference runs ``[lo, hi)`` of its predictions in time order,
        ``lo`` and ``hi`` non-decreasing along a lane. Pad a lane with ``lo = hi = -1``.

    Returns
    -------
    np.ndarray
        int64 ``[n_lanes]`` number of matched predictions.
    """
    n_lanes = lo.shape[0]
    pointer = np.zeros(n_lanes, dtype=np.int64)
    matched = np.zeros(n_lanes, dtype=np.int64)
    for step in range(lo.shape[1]):
        np.maximum(pointer, lo[:, step], out=pointer)
        hit = pointer < hi[:, step]
        pointer += hit
        matched += hit
    return matched


def match_counts(
    preds: Sequence[np.ndarray], refs: Sequence[np.ndarray], tolerance: float, matching: str
) -> tuple[int, int, int, int]:
    """Summed ``(n_pred, n_ref, n_hit_pred, n_hit_ref)`` over paired utterances.

    ``preds[u]`` and ``refs[u]`` are sorted float64 times (or ints) of utterance ``u``; an
    utterance with no predictions still counts its references as missed.
    """
    check_matching(matching)
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} prediction lists for {len(refs)} reference lists")
    n_pred = sum(len(p) for p in preds)
    n_ref = sum(len(r) for r in refs)
    if matching == "reference":
        hit_pred = hit_ref = 0
        for pred, ref in zip(preds, refs, strict=True):
            lo, hi = windows(np.asarray(pred), np.asarray(ref), tolerance)
            hit_pred += int(np.count_nonzero(hi > lo))
            r_lo, r_hi = windows_of_refs(np.asarray(pred), np.asarray(ref), tolerance)
            hit_ref += int(np.count_nonzero(r_hi > r_lo))
        return n_pred, n_ref, hit_pred, hit_ref
    width = max((len(p) for p in preds), default=0)
    lo_all = np.full((len(preds), width), -1, dtype=np.int64)
    hi_all = np.full((len(preds), width), -1, dtype=np.int64)
    for u, (pred, ref) in enumerate(zip(preds, refs, strict=True)):
        lo, hi = windows(np.asarray(pred), np.asarray(ref), tolerance)
        lo_all[u, : len(lo)] = lo
        hi_all[u, : len(hi)] = hi
    matched = int(greedy_match_counts(lo_all, hi_all).sum())
    return n_pred, n_ref, matched, matched


def windows_of_refs(
    pred: np.ndarray, ref: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each reference ``g``, the run ``[lo, hi)`` of sorted predictions ``t`` with
    ``g − tol <= t <= g + tol`` (the same float64 expressions as `windows`)."""
    lo = np.searchsorted(pred, ref - tolerance, side="left")
    hi = np.searchsorted(pred, ref + tolerance, side="right")
    return lo, hi


def score_boundaries(
    preds: Sequence[np.ndarray], refs: Sequence[np.ndarray], tolerance: float, matching: str
) -> BoundaryScores:
    """Score paired per-utterance boundary lists (see the module docstring)."""
    return scores_from_counts(*match_counts(preds, refs, tolerance, matching), matching=matching)


def is_left_out(labels: Sequence[str]) -> bool:
    """Whether the reference leaves an utterance out: a label ``spn`` or one containing ``<``
    (``<unk>``), in its words (or phones) tier."""
    return any(label == "spn" or "<" in label for label in labels)


def reference_boundaries(
    starts: np.ndarray, ends: np.ndarray, labels: Sequence[str]
) -> np.ndarray | None:
    """Reference word boundaries of one utterance, or None when it is left out.

    The sorted set of the start and end times of every non-empty word interval, in seconds
    (first-word onset and last-word offset included; silences count only through their
    neighbours' edges). None when a label is ``spn`` or contains ``<`` (`is_left_out`): such an
    utterance must be left out of the scoring on both sides.
    """
    labels = [str(label) for label in labels]
    if is_left_out(labels):
        return None
    keep = np.array([bool(label) for label in labels], dtype=bool)
    times = np.concatenate(
        [np.asarray(starts, dtype=np.float64)[keep], np.asarray(ends, dtype=np.float64)[keep]]
    )
    return np.unique(times)
