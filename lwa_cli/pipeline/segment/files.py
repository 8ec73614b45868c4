"""`lwa segment apply` and `lwa segment reference`: interval files in the vqwordseg layout.

``apply`` segments every utterance of any frame sample (LibriSpeech, or a corpus sampled with
``lwa sample frame --from-list``) with one configuration, given on the command line or taken
from the stored `segment tune` result of that layer, and writes ``DIR/<utt_id>.txt`` per
utterance plus ``DIR/segmentation.json`` (configuration, provenance, boundary frames).
``reference`` writes the word intervals of a LibriSpeech sample's prepared alignments in the
same layout, so ``lwa segment score`` can check a hypothesis folder against them
(`lwa_cli.data.intervals.score_interval_dirs`, with the tolerance in frames from
`interval_tolerance_frames`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lwa_cli import __version__
from lwa_cli.analyses import result_tag
from lwa_cli.analysis.segmentation import FRAME_PERIOD, TOLERANCE, check_metric, segment
from lwa_cli.analysis.segmentation.boundaries import is_left_out
from lwa_cli.data.intervals import (
    FRAMES_PER_SECOND,
    frames_to_intervals,
    words_to_intervals,
    write_interval_dir,
)
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.pipeline.inputs import open_features
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.pipeline.results import features_input
from lwa_cli.pipeline.segment import (
    ANALYSIS,
    frame_lengths,
    segmentable_layers,
)
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.core import write_json_atomic
from lwa_cli.workspace.provenance import FreshnessChecker
from lwa_cli.workspace.results import load_result
from lwa_cli.workspace.samples import load_sample

JSON_NAME = "segmentation.json"


@dataclass(frozen=True)
class IntervalsSummary:
    """What one `apply` or `reference` call wrote."""

    out: str
    json: str
    utterances: int
    boundaries: int
    config: dict[str, Any]
    left_out: int = 0  # reference: utterances without a file (<unk> words)
    without_boundaries: int = 0  # apply: utterances segmented as one word


def _clear_out(out: Path, force: bool) -> None:
    """Interval files of an earlier run would be scored with the new ones: refuse them
    unless `force`, which removes them first."""
    if out.exists() and not out.is_dir():
        raise LwaError(f"--out {out} is a file, not a folder")
    old = sorted(out.glob("*.txt")) if out.is_dir() else []
    if old and not force:
        raise LwaError(f"{out} already holds {len(old)} interval file(s); pass --force to "
                       "replace them or choose another --out folder")
    for path in old:
        path.unlink()
    (out / JSON_NAME).unlink(missing_ok=True)


def tuned_config(ws: Workspace, *, model: str, split: str, sample: str, layer: str,
                 matching: str = "reference",
                 tolerance: float = TOLERANCE) -> tuple[float, str, int, dict]:
    """(prominence, metric, window, record) of a layer's stored `segment tune` result.

    Raises LwaError when there is none, or when its inputs changed since it was computed.
    """
    # the tag `segment tune` gave the result (lwa_cli.analyses.result_tag of its options)
    tag = result_tag(ANALYSIS, {"matching": matching, "tolerance": tolerance})
    record = load_result(ws, ANALYSIS, model, split, sample, layer, tag)
    how = (f"`lwa segment tune --model {model} --split {split} --sample {sample} "
           f"--layer {layer}" + (f" --matching {matching}" if matching != "reference" else "")
           + (f" --tolerance {tolerance:g}" if tolerance != TOLERANCE else "") + "`")
    if record is None:
        raise LwaError(f"no segment tune result for {model} {layer} ({split}, sample {sample}"
                       f"{', ' + tag if tag else ''}); run {how} first, or name the tuned "
                       "sample with --tune-split/--tune-sample")
    reason = FreshnessChecker(ws).stale_reason(record)
    if reason:
        raise LwaError(f"the segment tune result for {model} {layer} ({split}, sample "
                       f"{sample}) is stale ({reason}); run {how} again")
    return (float(record["best_prominence"]), str(record["best_metric"]),
            int(record["best_window"]), record)


def run_segment_apply(ws: Workspace, *, model: str, split: str, sample: str, layer: str,
                      out: Path, prominence: float | None = None, metric: str | None = None,
                      window: int | None = None, from_tune: bool = False,
                      tune_split: str | None = None, tune_sample: str | None = None,
                      matching: str = "reference", tolerance: float = TOLERANCE,
                      force: bool = False, reporter: Reporter = SILENT) -> IntervalsSummary:
    """Segment every utterance of a frame sample with one layer and configuration.

    The configuration is ``prominence``/``metric``/``window``, or with ``from_tune`` the best
    one of the layer's stored tune result of ``tune_split``/``tune_sample`` (default: this
    split and sample) for ``matching``/``tolerance``.
    """
    given = [v is not None for v in (prominence, metric, window)]
    if from_tune and any(given):
        raise LwaUsageError("`from_tune` takes the configuration from the tune result; leave "
                            "out `prominence`, `metric` and `window`", params=_CONFIG)
    if not from_tune and not all(given):
        raise LwaUsageError("give `prominence`, `metric` and `window`, or `from_tune`",
                            params=_CONFIG)
    out = Path(out)
    with open_features(ws, model, split, sample, "frame") as feats:
        names = segmentable_layers(feats, [layer], param="layer")
        if len(names) != 1:
            raise param_error("layer", layer, f"names {len(names)} layers; apply one layer")
        name = names[0]
        source: dict[str, Any] = {"kind": "options"}
        if from_tune:
            prominence, metric, window, record = tuned_config(
                ws, model=model, split=tune_split or split, sample=tune_sample or sample,
                layer=name, matching=matching, tolerance=tolerance)
            source = {"kind": "tune", "file": ws.rel(Path(record["file"])),
                      "split": record["split"], "sample": record["sample"],
                      "f1": record["f1"], "matching": record.get("matching"),
                      "provenance": record["provenance"]}
            reporter.info(f"{name}: tuned configuration prominence {prominence:g}, {metric}, "
                          f"window {window} (F {record['f1']:.4f} on {record['split']})")
        metric = check_metric(str(metric))
        if not (np.isfinite(prominence) and prominence >= 0):
            raise param_error("prominence", prominence, "must be a finite number >= 0")
        if int(window) < 1:
            raise param_error("window", window, "must be at least 1")
        config = {"layer": name, "prominence": float(prominence), "metric": metric,
                  "window": int(window), "source": source}
        units, lengths = frame_lengths(feats, name)
        smp = load_sample(ws, split, "frame", sample)
        utt_ids = [str(u) for u in smp.utt_ids[units]]
        bounds = segment(feats.features(name)[...], lengths, metric, int(window),
                         float(prominence))
        _clear_out(out, force)
        write_interval_dir(out, {u: frames_to_intervals(b, int(n)) for u, b, n
                                 in zip(utt_ids, bounds, lengths, strict=True)})
        doc = {"model": model, "split": split, "sample": sample, **config,
               "frame_period": FRAME_PERIOD, "features": features_input(ws, feats),
               "lwa_version": __version__,
               "utterances": {u: {"n_frames": int(n), "boundary_frames": b.tolist()}
                              for u, b, n in zip(utt_ids, bounds, lengths, strict=True)}}
    write_json_atomic(out / JSON_NAME, doc)
    empty = sum(1 for b in bounds if len(b) == 0)
    if empty:
        reporter.warn(f"{empty} of {len(bounds)} utterance(s) got no boundary (one interval "
                      "each): the prominence may be too high")
    return IntervalsSummary(str(out), str(out / JSON_NAME), len(utt_ids),
                            int(sum(len(b) for b in bounds)), config,
                            without_boundaries=empty)


def write_reference_intervals(ws: Workspace, *, split: str, sample: str, out: Path,
                              force: bool = False,
                              reporter: Reporter = SILENT) -> IntervalsSummary:
    """Word intervals (10 ms frames, gaps labelled ``sil``) of a frame sample's utterances.

    Utterances with ``<unk>`` words get no file, as `segment tune` leaves them out, so
    `segment score` skips them (listed as without a reference).
    """
    ws.check()
    smp = load_sample(ws, split, "frame", sample)
    aligned = load_split(ws, split, reporter)
    where = {str(u): i for i, u in enumerate(aligned.utt_ids)}
    missing = [str(u) for u in smp.utt_ids if str(u) not in where]
    if missing:
        raise LwaError(f"{len(missing)} utterance(s) of frame sample {sample!r} are not in the "
                       f"prepared alignments of {split} (e.g. {missing[0]})")
    words = aligned.words
    offsets = np.searchsorted(words.utt_index, np.arange(len(aligned.utt_ids) + 1))
    intervals, left_out, boundaries = {}, 0, 0
    for utt in smp.utt_ids:
        i = where[str(utt)]
        rows = slice(int(offsets[i]), int(offsets[i + 1]))
        labels = words.label[rows].tolist()
        if is_left_out(labels):
            left_out += 1
            continue
        intervals[str(utt)] = words_to_intervals(words.start[rows], words.end[rows], labels,
                                                 float(aligned.durations[i]))
        boundaries += len(intervals[str(utt)]) - 1
    if not intervals:
        raise LwaError(f"every utterance of frame sample {sample!r} has <unk> words")
    out = Path(out)
    _clear_out(out, force)
    write_interval_dir(out, intervals)
    config = {"split": split, "sample": sample, "frames_per_second": 100,
              "left_out": left_out}
    write_json_atomic(out / JSON_NAME, {**config, "kind": "reference",
                                        "utterances": sorted(intervals),
                                        "lwa_version": __version__})
    if left_out:
        reporter.info(f"{left_out} utterance(s) with <unk> words got no reference file")
    return IntervalsSummary(str(out), str(out / JSON_NAME), len(intervals), boundaries,
                            config, left_out=left_out)


def summary_dict(summary: IntervalsSummary) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(summary)))


_CONFIG = ("from_tune", "prominence", "metric", "window")


def interval_tolerance_frames(tolerance: float) -> tuple[int, str | None]:
    """A tolerance in seconds as the interval files' 10 ms frames, and a note if any.

    Every ``--tolerance`` is in seconds. ``segment score`` took 10 ms frames before, so a
    whole number ≥ 1 (``2``: no word-boundary tolerance is a second or more) is still read
    as frames, with a note that says so (None otherwise); the note names the parameter
    ``tolerance`` as errors do.

    Raises
    ------
    LwaUsageError : a negative or non-finite tolerance, a fraction of a second that is not a
        whole number of 10 ms frames, or one of a second or more that is not whole.
    """
    value = float(tolerance)
    if not (np.isfinite(value) and value >= 0):
        raise param_error("tolerance", tolerance, "must be a number of seconds >= 0.")
    if value >= 1:
        if not value.is_integer():
            raise param_error("tolerance", tolerance, "is a second or more; give seconds, "
                              "e.g. tolerance=0.02 for ±20 ms.")
        frames = int(value)
        seconds = frames / FRAMES_PER_SECOND
        return frames, (f"tolerance={value:g} is read as {frames} frames of 10 ms "
                        f"(±{seconds:g} s), the old unit; the unit is seconds now: give "
                        f"tolerance={seconds:g}")
    frames = round(value * FRAMES_PER_SECOND)
    if abs(frames - value * FRAMES_PER_SECOND) > 1e-6:
        raise param_error("tolerance", tolerance, "is not a whole number of 10 ms frames "
                          "(the interval files' unit); e.g. 0.02 for ±20 ms.")
    return frames, None

