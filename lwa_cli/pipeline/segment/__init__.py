"""`lwa segment tune`: grid-search the training-free word segmentation of each layer.

The frame features of a frame sample are scored against the word boundaries of the
prepared alignments of the same utterances (see `lwa_cli.analysis.segmentation`). One result
per layer is stored through `score_layers` (analysis ``segment``, score = the best boundary
F); it holds the best configuration, its P/R/F/OS/R-value and every configuration's P/R/F,
so `lwa segment apply --from-tune` can reuse the best one on any other frame sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.segmentation import FRAME_PERIOD, TOLERANCE, SegmentationGrid, tune_layer
from lwa_cli.analysis.segmentation.boundaries import check_matching, reference_boundaries
from lwa_cli.data.alignments import Segments, SplitAlignments
from lwa_cli.data.corpus import expand_split
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.models.layers import is_transformer, layer_index
from lwa_cli.pipeline.inputs import open_features, select_layers
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.pipeline.results import (
    ResultSpec,
    artefact_input,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import alignments_fingerprint, has_alignments
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.samples import Sample, load_sample

ANALYSIS = "segment"
_RATE_TOLERANCE = 1e-9  # seconds: frame periods are exact ratios of the sample rate
_SAMPLE_RATE = 16000


@dataclass(frozen=True, kw_only=True)
class SegmentOptions:
    """The options that define a `segment tune` result: the grid, matching and tolerance."""

    prominences: list[float]
    metrics: list[str]
    windows: list[int]
    matching: str = record_field()
    tolerance: float
    frame_period: float = FRAME_PERIOD


def check_tolerance(tolerance: float) -> float:
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise param_error("tolerance", tolerance, "must be a number of seconds >= 0.")
    return float(tolerance)


def layer_frame_period(spec: dict, layer: str) -> float:
    """Seconds between the frames of a layer: conv block k strides by the product of the
    first k strides; T layers (and the last conv block) by the whole stack's."""
    if is_transformer(layer):
        return 1.0 / float(spec["frame_rate_hz"])
    k = layer_index(layer)
    hop = 160 if spec.get("family") == "whisper" else 1  # Whisper's convs stride 10 ms frames
    return float(np.prod([stride for _, _, stride in spec["conv_layers"][:k]])) * hop \
        / _SAMPLE_RATE


def segmentable_layers(features: FeatureFile, layers: Sequence[str] | None,
                       reporter: Reporter = SILENT, *, param: str = "layers") -> list[str]:
    """The requested layers (default: every extracted one at 20 ms frames).

    The segmentation's frame arithmetic (boundary times ``frame × 0.02 s``, the interval
    files' ``2b + 1``) assumes 20 ms frames: a named layer at another rate is a usage error;
    by default such layers are skipped with a warning.
    """
    names = select_layers(features, layers, param=param)
    spec = features.meta["spec"]
    other = [n for n in names if abs(layer_frame_period(spec, n) - FRAME_PERIOD) > _RATE_TOLERANCE]
    if other and layers:
        raise LwaUsageError(
            f"word segmentation needs 20 ms frames; layer(s) {', '.join(other)} of "
            f"{features.path.name} run at {layer_frame_period(spec, other[0]) * 1000:g} ms")
    if other:
        reporter.warn(f"skipping layer(s) {', '.join(other)}: not at 20 ms frames")
    kept = [n for n in names if n not in other]
    if not kept:
        raise LwaUsageError(f"{features.path.name} has no layer at 20 ms frames to segment")
    return kept


def frame_lengths(features: FeatureFile, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample utterance indices (in file order) and each one's frame count in `layer`."""
    names, rows = features.unit_rows()
    dataset = f"features/{layer}"
    if dataset not in names:
        raise LwaError(f"{features.path} has no layer {layer}")
    return features.units().astype(np.int64), rows[:, names.index(dataset)].astype(np.int64)


def _grouped(segments: Segments, n_utts: int) -> np.ndarray:
    """Row offsets of each utterance's segments (segments are grouped by utterance)."""
    return np.searchsorted(segments.utt_index, np.arange(n_utts + 1), side="left")


def utterance_references(aligned: SplitAlignments,
                         utt_ids: Sequence[str]) -> list[np.ndarray | None]:
    """Reference word boundaries (seconds) of each utterance, None for a left-out one.

    An utterance is left out when a word label is ``<unk>`` (or ``spn``): prepared
    alignments drop ``spn`` phones, which MFA aligns to ``<unk>`` words, so the words tier
    alone decides (the reference looked at both tiers).
    """
    where = {str(u): i for i, u in enumerate(aligned.utt_ids)}
    missing = [str(u) for u in utt_ids if str(u) not in where]
    if missing:
        raise LwaError(f"{len(missing)} utterance(s) of the sample are not in the prepared "
                       f"alignments of {aligned.split} (e.g. {missing[0]}); was the sample drawn "
                       "from another corpus?")
    offsets = _grouped(aligned.words, len(aligned.utt_ids))
    refs: list[np.ndarray | None] = []
    for utt in utt_ids:
        i = where[str(utt)]
        w = slice(int(offsets[i]), int(offsets[i + 1]))
        refs.append(reference_boundaries(aligned.words.start[w], aligned.words.end[w],
                                         aligned.words.label[w].tolist()))
    return refs


def _alignments_of(ws: Workspace, smp: Sample) -> tuple[SplitAlignments, dict[str, dict]]:
    """The alignments a sample's references come from, and their provenance entries."""
    split = smp.split
    try:
        members = expand_split(split)
    except LwaUsageError:
        members = ()
    if not any(has_alignments(ws, m) for m in members):
        origin = (f" (the sample was made from the list {smp.params['from_list']})"
                  if smp.params.get("from_list") else "")
        raise LwaError(
            f"split {split} has no prepared alignments{origin}: `segment tune` needs reference "
            "word boundaries. Tune on a prepared LibriSpeech split and apply the best "
            f"configuration here with `lwa segment apply --from-tune --tune-split dev-clean`")
    aligned = load_split(ws, split)
    inputs = {f"alignments:{m}": artefact_input(ws, "alignments", ws.alignments_path(m),
                                                alignments_fingerprint(ws, m))
              for m in members if has_alignments(ws, m)}
    return aligned, inputs


def _nested(values: np.ndarray) -> list:
    """A grid of scores as nested lists [prominence][metric][window], 6 decimals."""
    return np.round(values, 6).tolist()


def run_segment_tune(ws: Workspace, *, model: str, split: str = "dev-clean",
                     sample: str = "1", layers: Sequence[str] | None = None,
                     grid: SegmentationGrid | None = None, matching: str = "reference",
                     tolerance: float = TOLERANCE, force: bool = False,
                     reporter: Reporter = SILENT) -> list[dict]:
    """Score the grid on each layer and store one result per layer (see module doc).

    One layer's frames are in memory at a time (the z-score spans all frames of the sample).
    Utterances with ``<unk>`` are left out of the scoring (their frames still enter the
    z-score, as in the reference) and counted in ``n_left_out``.
    """
    grid = grid or SegmentationGrid()
    check_matching(matching)
    tolerance = check_tolerance(tolerance)
    with open_features(ws, model, split, sample, "frame") as feats:
        names = segmentable_layers(feats, layers, reporter)
        smp = load_sample(ws, split, "frame", sample)
        aligned, align_inputs = _alignments_of(ws, smp)
        units, _ = frame_lengths(feats, names[0])
        refs = utterance_references(aligned, smp.utt_ids[units].tolist())
        n_left_out = sum(r is None for r in refs)
        if n_left_out == len(refs):
            raise LwaError(f"every utterance of frame sample {sample!r} has <unk> words: none "
                           "can be scored")
        if n_left_out:
            reporter.info(f"{n_left_out} of {len(refs)} utterance(s) have <unk> words: left "
                          "out of the scoring")
        n_ref = int(sum(len(r) for r in refs if r is not None))
        options = SegmentOptions(prominences=list(grid.prominences),
                                 metrics=list(grid.metrics), windows=list(grid.windows),
                                 matching=matching, tolerance=tolerance)
        spec = ResultSpec.build(ANALYSIS, model, split, sample,
                                {"features": features_input(ws, feats), **align_inputs},
                                options, {"tolerance_s": tolerance})

        def score(name: str) -> dict:
            _, lengths = frame_lengths(feats, name)
            res = tune_layer(feats.features(name)[...], lengths, refs, grid, tolerance,
                             matching)
            prominence, metric, window = res.best_config
            best = res.scores_at(res.best)
            return {"score": best["f1"], "best_prominence": prominence, "best_metric": metric,
                    "best_window": window, **best, "n_utterances": res.n_utterances,
                    "n_left_out": res.n_left_out,
                    "n_scored": res.n_utterances - res.n_left_out, "n_ref": n_ref,
                    "n_pred": int(res.n_pred[res.best]),
                    "n_utts_without_peaks": int(res.n_utts_without_peaks[res.best]),
                    "grid": {"prominence": list(grid.prominences),
                             "metric": list(grid.metrics), "window": list(grid.windows)},
                    "configs": {"precision": _nested(res.precision),
                                "recall": _nested(res.recall), "f1": _nested(res.f1)}}

        return score_layers(ws, spec, names, score, force=force, reporter=reporter)


__all__: Sequence[str] = ["ANALYSIS", "frame_lengths", "run_segment_tune",
                          "segmentable_layers", "utterance_references"]
