"""`lwa abx`: phone ABX error rate (%) of each layer's frame features, per condition.

The items are the phone tokens of the frame sample's utterances, built from the prepared
alignments (`lwa_cli.data.abx_items.items_from_alignments`), or the lines of a Libri-Light
``.item`` file (``--items``; its times and phones as given, lines naming utterances the sample
lacks left out and counted). Each layer's frames are cut into tokens with the layer's own frame
period by the reference's time convention (`lwa_cli.data.abx_items.frame_range`), and each
requested condition (speaker within/across × context within/any) is scored by
`lwa_cli.analysis.abx.abx_score` and stored as its own result variant (tag and ``speakers`` /
``context`` / ``pooling`` fields). Lower is better.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.analysis.abx import CONTEXT_MODES, POOLINGS, AbxInputError, abx_score
from lwa_cli.analysis.abx.dtw import DISTANCES
from lwa_cli.data.abx_items import AbxItems, items_from_alignments, read_item_file, tokens_for
from lwa_cli.data.corpus import expand_split
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.inputs import open_features, resolve_device_name, select_layers
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.pipeline.results import (
    UNSET,
    ResultSpec,
    artefact_input,
    derived_input,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.pipeline.segment import frame_lengths, layer_frame_period
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import alignments_fingerprint, has_alignments
from lwa_cli.workspace.samples import load_sample

ANALYSIS = "abx"
SPEAKER_CHOICES = ("within", "across", "both")


@dataclass(frozen=True, kw_only=True)
class ABXOptions:
    """The options that define one ABX result (one speaker condition).

    ``max_x_across`` is `UNSET` for the within-speaker condition (it draws no other
    speaker); ``items`` is the stem of a Libri-Light ``.item`` file, None for the items built
    from the alignments (the file's content is an input of the result).
    """

    speaker: str  # within | across (stored in records as ``speakers``)
    context: str = record_field()
    distance: str = record_field()
    pooling: str = record_field()
    max_size_group: int
    max_x_across: object
    seed: int
    items: str | None


def _check(speaker: str, context: str, distance: str, pooling: str, max_size_group: int,
           max_x_across: int) -> None:
    for param, value, allowed in (("speaker", speaker, SPEAKER_CHOICES),
                                  ("context", context, CONTEXT_MODES),
                                  ("distance", distance, DISTANCES),
                                  ("pooling", pooling, POOLINGS)):
        if value not in allowed:
            raise param_error(param, value, f"is not one of {', '.join(allowed)}")
    for param, value in (("max_size_group", max_size_group), ("max_x_across", max_x_across)):
        if value < 1:
            raise param_error(param, value, "must be >= 1")


def _items(ws: Workspace, split: str, utt_ids: Sequence[str], items_file: Path | None,
           reporter: Reporter) -> tuple[AbxItems, dict[str, dict]]:
    """The items and their provenance entries (alignments, or the .item file's content)."""
    if items_file is not None:
        items = read_item_file(items_file)
        digest = hashlib.sha256(Path(items_file).read_bytes()).hexdigest()[:16]
        return items, {"items": derived_input(digest, f"item file {Path(items_file).name}")}
    members = [m for m in expand_split(split) if has_alignments(ws, m)]
    if not members:
        raise LwaError(f"split {split} has no prepared alignments: `lwa abx` builds its items "
                       "from them (run `lwa prepare-alignments`), or give a Libri-Light "
                       "`items_file`", params=("items_file",))
    items = items_from_alignments(load_split(ws, split, reporter), utt_ids)
    inputs = {f"alignments:{m}": artefact_input(ws, "alignments", ws.alignments_path(m),
                                                alignments_fingerprint(ws, m))
              for m in members}
    return items, inputs


def run_abx(ws: Workspace, *, model: str, split: str = "dev-clean", sample: str = "1",
            layers: Sequence[str] | None = None, speaker: str = "both",
            context: str = "within", distance: str = "angular", pooling: str = "none",
            max_size_group: int = 10, max_x_across: int = 5, seed: int = 0,
            device: str = "auto", items_file: Path | None = None, force: bool = False,
            reporter: Reporter = SILENT) -> list[dict]:
    """ABX error rate (%) per layer and speaker condition; one result per (layer, condition).

    Records come back condition by condition (within before across), layers in order.
    """
    _check(speaker, context, distance, pooling, max_size_group, max_x_across)
    dev = resolve_device_name(device)
    speakers = ("within", "across") if speaker == "both" else (speaker,)
    with open_features(ws, model, split, sample, "frame") as feats:
        names = select_layers(feats, layers)
        smp = load_sample(ws, split, "frame", sample)
        units, _ = frame_lengths(feats, names[0])
        files = [str(u) for u in smp.utt_ids[units]]
        items, item_inputs = _items(ws, split, files, items_file, reporter)
        spec_meta = feats.meta["spec"]
        cache: dict[str, tuple] = {}

        def layer_tokens(name: str):
            if name not in cache:
                cache.clear()
                _, lengths = frame_lengths(feats, name)
                offsets = np.concatenate([[0], np.cumsum(lengths)])
                period = layer_frame_period(spec_meta, name)
                table = tokens_for(items, files, dict(zip(files, lengths.tolist(), strict=True)),
                                   dict(zip(files, offsets[:-1].tolist(), strict=True)), period)
                if table.missing_files:
                    reporter.warn(
                        f"{table.n_missing_items} item(s) name {len(table.missing_files)} "
                        f"file(s) that frame sample {sample!r} lacks (e.g. "
                        f"{table.missing_files[0]}): left out")
                if len(table.tokens) == 0:
                    raise LwaError(f"no ABX item falls in the frames of sample {sample!r} "
                                   f"(layer {name})")
                cache[name] = (feats.features(name)[...], table, period)
            return cache[name]

        records = []
        for spk in speakers:
            options = ABXOptions(
                speaker=spk, context=context, distance=distance, pooling=pooling,
                max_size_group=max_size_group,
                max_x_across=max_x_across if spk == "across" else UNSET, seed=seed,
                items=None if items_file is None else Path(items_file).stem)
            spec = ResultSpec.build(ANALYSIS, model, split, sample,
                                    {"features": features_input(ws, feats), **item_inputs},
                                    options, {"speakers": spk})

            def score(name: str, spk: str = spk) -> dict:
                frames, table, period = layer_tokens(name)
                try:
                    res = abx_score(frames, table.tokens, speaker=spk, context=context,
                                    distance=distance, pooling=pooling,
                                    max_size_group=max_size_group, max_x_across=max_x_across,
                                    seed=seed, device=dev)
                except AbxInputError as exc:
                    raise LwaError(f"layer {name}: {exc}") from exc
                return {"score": 100.0 * res.error_rate, "error_rate": res.error_rate,
                        "n_tokens": len(table.tokens), "n_items_too_short": table.n_empty,
                        "n_items_missing_file": table.n_missing_items,
                        "n_cells": res.n_cells, "n_phone_pairs": res.n_phone_pairs,
                        "n_speakers": res.n_speakers, "frame_period_s": period,
                        "device": dev}

            records += score_layers(ws, spec, names, score, force=force, reporter=reporter)
        return records
