"""The rows one utterance adds to a feature file: all frames, or mean-pooled segments.

Segments the reference's frame arithmetic cannot place are clipped or dropped (see
features.pooling); `SegmentProblems` counts them and keeps a few named examples, so the
warning says which utterances and words they were.
"""

from __future__ import annotations

import numpy as np

from lwa_cli.errors import LwaError
from lwa_cli.features.conv_align import align_local
from lwa_cli.features.fbank import subsample_frames
from lwa_cli.features.logmel import log_mel
from lwa_cli.features.pooling import (
    STATUS_CLIPPED,
    STATUS_DROPPED,
    STATUS_OK,
    mean_pool,
    segment_bounds,
)
from lwa_cli.workspace.samples import Sample

MEL_T = "mel/T"
"""Dataset of a model without conv layers' frame file: the log-mel at the model's frame rate
(every ``mel_every``-th 10 ms frame, cut to the T layers' frames), which `cca mel` pairs with
its T layers (the reference's ``all_features_downsampled_by4``)."""


def frame_rows(out: dict[str, np.ndarray], wave: np.ndarray, rep: str,
               mel_every: int | None = None,
               ten_ms: dict[str, tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """All frames of one utterance per layer (local: aligned to 10 ms with the log-mel).

    ``mel_every`` (models without conv layers, contextualized rep) also stores `MEL_T`;
    ``ten_ms`` is the model's 10 ms conv layers for `align_local` (None: C1…C6).
    """
    if rep != "local":
        block = {f"features/{name}": arr for name, arr in out.items()}
        if mel_every:
            n = min(arr.shape[0] for arr in out.values())
            block[MEL_T] = subsample_frames(log_mel(wave), mel_every)[:n].astype(np.float32)
        return block
    mel = log_mel(wave)
    block = {}
    for name, arr in out.items():
        feats, mel_aligned = align_local(name, arr, mel, ten_ms)
        block[f"features/{name}"] = feats
        block[f"mel/{name}"] = mel_aligned.astype(np.float32)
    return block


def utterance_rows(out: dict[str, np.ndarray], unit: int) -> dict[str, np.ndarray]:
    """One row per utterance and layer: the mean over all its frames (the ``utt`` span),
    accumulated in float64, with the utterance's index in the sample."""
    block = {f"features/{name}": arr.mean(axis=0, dtype=np.float64, keepdims=True)
             .astype(np.float32) for name, arr in out.items()}
    block["rows/utt_index"] = np.array([unit], dtype=np.int64)
    return block


class SegmentProblems:
    """Counts of segments clipped to or dropped from their utterance, with a few examples."""

    MAX_EXAMPLES = 5

    def __init__(self) -> None:
        self.clipped = 0
        self.dropped = 0
        self.examples: list[str] = []

    def add(self, utt_id: str, labels: np.ndarray, starts: np.ndarray, ends: np.ndarray,
            status: np.ndarray, n_frames: int) -> None:
        self.clipped += int(np.count_nonzero(status == STATUS_CLIPPED))
        self.dropped += int(np.count_nonzero(status == STATUS_DROPPED))
        for i in np.flatnonzero(status != STATUS_OK):
            if len(self.examples) >= self.MAX_EXAMPLES:
                break
            what = "clipped" if status[i] == STATUS_CLIPPED else "dropped"
            self.examples.append(f"{utt_id} {labels[i]!s} {starts[i]:.2f}-{ends[i]:.2f} s "
                                 f"({what}; {n_frames} frames)")

    def message(self) -> str:
        return (f"{self.clipped} segment(s) ran past their utterance and were clipped; "
                f"{self.dropped} were dropped (they start at or after the last frame, or end "
                f"before they start), e.g. {'; '.join(self.examples)}")


def token_rows(smp: Sample, tokens: np.ndarray, unit: int, out: dict[str, np.ndarray],
                span: str, problems: SegmentProblems,
                stride: float = 0.02) -> dict[str, np.ndarray]:
    """Mean-pooled segments of one utterance per layer, with token index and label rows.

    ``stride`` is the model's frame period in seconds (0.04 for AV-HuBERT).
    """
    assert smp.tokens is not None
    mine = tokens[smp.tokens.utt_index[tokens] == unit]
    n_frames = {arr.shape[0] for arr in out.values()}
    if len(n_frames) != 1:
        raise LwaError(f"layers of {smp.utt_ids[unit]} have different frame counts {n_frames}")
    n = n_frames.pop()
    starts, ends = smp.tokens.start[mine], smp.tokens.end[mine]
    bounds = segment_bounds(starts, ends, n, trim=span == "phone", stride=stride)
    problems.add(str(smp.utt_ids[unit]), smp.tokens.label[mine], starts, ends, bounds.status, n)
    keep = bounds.kept
    block = {f"features/{name}": mean_pool(arr, bounds.start[keep], bounds.end[keep])
             for name, arr in out.items()}
    block["rows/token_index"] = mine[keep].astype(np.int64)
    block["rows/label"] = smp.tokens.label[mine[keep]]
    return block
