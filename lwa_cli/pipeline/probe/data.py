"""What `lwa probe` trains and scores on: per task, per layer, rows, labels and classes.

- ``phone``: the frames of the frame samples of the train and eval splits (`lwa extract
  --span frame`), each labelled with the phone at its centre (`lwa_cli.data.frame_labels`);
  ``SIL`` frames only with ``with_silence``. Classes: the phones of the training frames; eval
  frames of another phone are dropped and counted.
- ``word``: the mean-pooled word segments of the word samples (`--span word`) of both splits;
  classes: the words present in both (the others are dropped and counted).
- ``speaker``: utterance embeddings (the mean over all frames of each utterance, as
  `--span utt` stores it, accumulated in float64) of the eval split's frame sample; the
  utterances of each speaker (the LibriSpeech id's first field) are split, seeded, into
  training and evaluation utterances; speakers with one utterance are left out.

Training rows beyond ``max_train`` are subsampled (seeded) before fitting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lwa_cli.data.corpus import expand_split
from lwa_cli.data.frame_labels import frame_labels
from lwa_cli.errors import LwaError
from lwa_cli.pipeline.inputs import open_features, select_layers
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.pipeline.results import artefact_input, features_input
from lwa_cli.pipeline.segment import frame_lengths, layer_frame_period
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import alignments_fingerprint, has_alignments
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.samples import load_sample

SILENCE = "SIL"
SPEAKER_EVAL_FRACTION = 0.25
_BLOCK = 65536  # rows read from a feature file at a time


@dataclass
class LayerData:
    """One layer's probe inputs (labels index `classes`)."""

    train_x: np.ndarray
    train_y: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray
    classes: list[str]
    control_types: tuple[np.ndarray, np.ndarray] | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ProbeInputs:
    """The open inputs of one task: provenance entries, layers, and a per-layer loader."""

    inputs: dict[str, dict[str, Any]]
    layers: list[str]
    load: Callable[[str], LayerData]
    stack: ExitStack

    def close(self) -> None:
        self.stack.close()


def read_rows(features: FeatureFile, layer: str, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` (sorted) of a layer, read a block at a time (float32)."""
    ds = features.features(layer)
    out = np.empty((len(rows), ds.shape[1]), dtype=np.float32)
    done = 0
    for start in range(0, ds.shape[0], _BLOCK):
        mine = rows[(rows >= start) & (rows < start + _BLOCK)]
        if len(mine):
            out[done:done + len(mine)] = ds[start:start + _BLOCK][mine - start]
            done += len(mine)
    return out


def cap_rows(rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """At most `max_rows` of `rows` (a seeded random subset, in order); None/0: all."""
    if not max_rows or len(rows) <= max_rows:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))


def _encode(labels: np.ndarray, classes: list[str]) -> np.ndarray:
    return np.searchsorted(np.asarray(classes), labels).astype(np.int64)


def alignment_inputs(ws: Workspace, split: str) -> dict[str, dict[str, str]]:
    """Provenance entries of the prepared alignments a split's labels come from."""
    return {f"alignments:{m}": artefact_input(ws, "alignments", ws.alignments_path(m),
                                              alignments_fingerprint(ws, m))
            for m in expand_split(split) if has_alignments(ws, m)}


def _phone_rows(ws: Workspace, features: FeatureFile, split: str, sample: str,
                reporter: Reporter) -> Callable[[str], np.ndarray]:
    """Per layer, the phone label of every row of a frame file (``""``: none)."""
    smp = load_sample(ws, split, "frame", sample)
    aligned = load_split(ws, split, reporter)
    where = {str(u): i for i, u in enumerate(aligned.utt_ids)}
    offsets = np.searchsorted(aligned.phones.utt_index, np.arange(len(aligned.utt_ids) + 1))
    spec = features.meta["spec"]
    cache: dict[float, np.ndarray] = {}

    def labels(layer: str) -> np.ndarray:
        period = layer_frame_period(spec, layer)
        if period not in cache:
            units, lengths = frame_lengths(features, layer)
            parts = []
            for unit, n in zip(units, lengths, strict=True):
                utt = str(smp.utt_ids[unit])
                if utt not in where:
                    raise LwaError(f"utterance {utt} of frame sample {sample!r} ({split}) is "
                                   "not in the prepared alignments")
                seg = slice(int(offsets[where[utt]]), int(offsets[where[utt] + 1]))
                parts.append(frame_labels(aligned.phones.start[seg], aligned.phones.end[seg],
                                          aligned.phones.label[seg], int(n), period))
            cache[period] = np.concatenate(parts) if parts else np.zeros(0, dtype=str)
        return cache[period]

    return labels


def phone_inputs(ws: Workspace, model: str, layers: Sequence[str] | None, *,
                 train_split: str, eval_split: str, sample: str, with_silence: bool,
                 max_train: int | None, seed: int, reporter: Reporter = SILENT) -> ProbeInputs:
    """Frame-level phone probing inputs (see module doc)."""
    stack = ExitStack()
    try:
        train = stack.enter_context(open_features(ws, model, train_split, sample, "frame"))
        evaluation = stack.enter_context(open_features(ws, model, eval_split, sample,
                                                       "frame"))
        names = select_layers(train, layers)
        select_layers(evaluation, names)
        train_labels = _phone_rows(ws, train, train_split, sample, reporter)
        eval_labels = _phone_rows(ws, evaluation, eval_split, sample, reporter)
        inputs = {"train": features_input(ws, train), "eval": features_input(ws, evaluation),
                  **alignment_inputs(ws, train_split), **alignment_inputs(ws, eval_split)}
    except BaseException:
        stack.close()
        raise
    skip = {""} if with_silence else {"", SILENCE}

    def load(layer: str) -> LayerData:
        tl, el = train_labels(layer), eval_labels(layer)
        classes = sorted(set(np.unique(tl).tolist()) - skip)
        known = np.isin(tl, classes)
        rows = cap_rows(np.flatnonzero(known), max_train, seed)
        labelled = ~np.isin(el, list(skip))
        eval_rows = np.flatnonzero(labelled & np.isin(el, classes))
        return LayerData(read_rows(train, layer, rows), _encode(tl[rows], classes),
                         read_rows(evaluation, layer, eval_rows),
                         _encode(el[eval_rows], classes), classes,
                         counts={"n_train_frames": len(tl),
                                 "n_train_unlabelled": int(np.sum(tl == "")),
                                 "n_eval_frames": len(el),
                                 "n_eval_unlabelled": int(np.sum(el == "")),
                                 "n_eval_unknown_class": int(labelled.sum() - len(eval_rows))})

    return ProbeInputs(inputs, names, load, stack)


def word_inputs(ws: Workspace, model: str, layers: Sequence[str] | None, *,
                train_split: str, eval_split: str, sample: str, max_train: int | None,
                seed: int) -> ProbeInputs:
    """Word-identity probing inputs on mean-pooled word segments (see module doc)."""
    stack = ExitStack()
    try:
        train = stack.enter_context(open_features(ws, model, train_split, sample, "word"))
        evaluation = stack.enter_context(open_features(ws, model, eval_split, sample, "word"))
        names = select_layers(train, layers)
        select_layers(evaluation, names)
        tl, el = train.rows("label"), evaluation.rows("label")
        inputs = {"train": features_input(ws, train), "eval": features_input(ws, evaluation)}
    except BaseException:
        stack.close()
        raise
    classes = sorted(set(tl.tolist()) & set(el.tolist()))
    rows = cap_rows(np.flatnonzero(np.isin(tl, classes)), max_train, seed)
    eval_rows = np.flatnonzero(np.isin(el, classes))
    counts = {"n_train_dropped": int(len(tl) - np.isin(tl, classes).sum()),
              "n_eval_dropped": int(len(el) - len(eval_rows))}

    def load(layer: str) -> LayerData:
        return LayerData(read_rows(train, layer, rows), _encode(tl[rows], classes),
                         read_rows(evaluation, layer, eval_rows),
                         _encode(el[eval_rows], classes), classes,
                         control_types=(tl[rows], el[eval_rows]), counts=counts)

    return ProbeInputs(inputs, names, load, stack)


def speaker_split(speakers: np.ndarray, fraction: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, evaluation) utterance indices: per speaker (sorted), a seeded shuffle of
    its utterances, ``max(1, round(fraction · n))`` of them (at most n − 1) for evaluation.
    Speakers with a single utterance are in neither."""
    rng = np.random.default_rng(seed)
    train, evaluation = [], []
    for speaker in np.unique(speakers):
        mine = rng.permutation(np.flatnonzero(speakers == speaker))
        if len(mine) < 2:
            continue
        n_eval = min(len(mine) - 1, max(1, round(fraction * len(mine))))
        evaluation.append(mine[:n_eval])
        train.append(mine[n_eval:])
    if not train:
        raise LwaError("no speaker has two utterances: a speaker probe needs training and "
                       "evaluation utterances of each speaker")
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(evaluation))


def utterance_means(features: FeatureFile, layer: str) -> np.ndarray:
    """The mean frame of each utterance of a frame file (float64 sums), in file order."""
    _, lengths = frame_lengths(features, layer)
    ds = features.features(layer)
    out = np.empty((len(lengths), ds.shape[1]), dtype=np.float64)
    start = 0
    for i, n in enumerate(lengths):
        out[i] = ds[start:start + int(n)].mean(axis=0, dtype=np.float64)
        start += int(n)
    return out


def speaker_inputs(ws: Workspace, model: str, layers: Sequence[str] | None, *,
                   split: str, sample: str, seed: int,
                   eval_fraction: float = SPEAKER_EVAL_FRACTION) -> ProbeInputs:
    """Speaker probing inputs: utterance embeddings of one frame sample (see module doc)."""
    stack = ExitStack()
    try:
        feats = stack.enter_context(open_features(ws, model, split, sample, "frame"))
        names = select_layers(feats, layers)
        units, _ = frame_lengths(feats, names[0])
        utt_ids = load_sample(ws, split, "frame", sample).utt_ids[units]
        inputs = {"features": features_input(ws, feats)}
    except BaseException:
        stack.close()
        raise
    bad = [str(u) for u in utt_ids if "-" not in str(u)]
    if bad:
        stack.close()
        raise LwaError(f"utterance id {bad[0]!r} names no speaker (LibriSpeech ids are "
                       "SPEAKER-CHAPTER-UTTERANCE)")
    speakers = np.array([str(u).split("-", 1)[0] for u in utt_ids])
    train_rows, eval_rows = speaker_split(speakers, eval_fraction, seed)
    classes = sorted(set(speakers[train_rows].tolist()))
    counts = {"n_speakers_left_out": int(len(np.unique(speakers)) - len(classes))}

    def load(layer: str) -> LayerData:
        emb = utterance_means(feats, layer)
        return LayerData(emb[train_rows], _encode(speakers[train_rows], classes),
                         emb[eval_rows], _encode(speakers[eval_rows], classes), classes,
                         counts=counts)

    return ProbeInputs(inputs, names, load, stack)
