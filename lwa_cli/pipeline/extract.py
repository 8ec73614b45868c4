"""`lwa extract`: run a model over a sample, one utterance at a time, and store its layers.

Frame spans store every frame of each utterance; phone/word/wordsim/allwords spans store the
mean-pooled frames of each sampled segment (SPEC §4); the utt span one mean over all frames
of each utterance; ``rep="local"`` stores the conv layers
box-averaged to 10 ms together with the aligned log-mel frames. Utterances are processed one
at a time (padding would change group-norm models' outputs) and appended to a resumable
partial file, so memory stays flat and a killed run continues where it stopped. Audio is
read ahead and rows are pooled and written behind the forward pass (pipeline/extract_io.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lwa_cli import __version__
from lwa_cli.choices import REPS, SPANS
from lwa_cli.data.audio import load_audio
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.features.logmel import HOP_LENGTH, SAMPLE_RATE
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.layers import is_conv, parse_layers, valid_range
from lwa_cli.models.loading import LoadedModel, load_model
from lwa_cli.models.precision import check_compute_dtype, compute_precision
from lwa_cli.models.registry import ModelSpec
from lwa_cli.pipeline.extract_batch import (
    CERTIFY_UTTERANCES,
    batch_plan,
    check_batch_seconds,
    forward_window,
    precision_check,
    windows,
)
from lwa_cli.pipeline.extract_io import MemoryTrim, WriteBehind, overlap_pays, read_ahead
from lwa_cli.pipeline.extract_reuse import check_model_name, existing_layers, stale_reason
from lwa_cli.pipeline.inputs import feature_stem, resolve_device_name
from lwa_cli.pipeline.rows import SegmentProblems, frame_rows, token_rows, utterance_rows
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import (
    FeatureWriter,
    partial_path,
)
from lwa_cli.workspace.locks import read_lock, write_lock
from lwa_cli.workspace.samples import Sample, load_sample, require_sample, sample_fingerprint


@dataclass(frozen=True)
class ExtractSummary:
    """What one `extract_features` call did."""

    path: str
    status: str  # "extracted", "resumed" or "exists"
    layers: list[str]
    units: int
    units_run: int
    rows: int
    audio_seconds: float
    wall_seconds: float
    clipped_segments: int = 0
    dropped_segments: int = 0
    segment_examples: list[str] = field(default_factory=list)


MEL_RATE_HZ = SAMPLE_RATE / HOP_LENGTH  # log-mel frames per second (10 ms frames)


def part_name(subset: int | None, shard: tuple[int, int] | None) -> str | None:
    """Name of a partial extraction (one subset and/or shard), or None for the whole sample."""
    bits = []
    if subset is not None:
        bits.append(f"subset{subset}")
    if shard is not None:
        bits.append(f"shard{shard[0]}of{shard[1]}")
    return "part-" + "-".join(bits) if bits else None


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """Parse ``i/n`` (0 ≤ i < n)."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise param_error("shard", text, "is not i/n such as 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise param_error("shard", text, "needs 0 <= i < n")
    return i, n


def _check_layers(span: str, rep: str, layers: list[str], spec: ModelSpec) -> None:
    period = f"{spec.frame_period_s * 1000:g} ms"
    if rep == "local":
        if span != "frame":
            raise LwaUsageError("rep='local' is for the frame span (conv features with mel)",
                                params=("rep",))
        if not spec.has_conv_layers:
            none = ("the generic transformers path exposes none (T layers only)"
                    if spec.family == "generic" else f"{spec.name} has none")
            raise LwaUsageError(f"rep='local' stores conv layers, and {none}; "
                                f"its span='frame' file holds the log-mel at its {period} "
                                "frame rate, which `lwa cca mel` pairs with its T layers",
                                params=("rep", "span"))
        bad = [name for name in layers if not is_conv(name)]
        if bad:
            raise LwaUsageError(f"rep='local' stores conv layers only, not {', '.join(bad)}; "
                                "extract T layers with rep='contextualized'", params=("rep",))
    elif span not in ("frame", "utt"):  # utt averages all frames: any layer's rate will do
        last = f"C{spec.n_conv}"
        bad = [name for name in layers if is_conv(name) and name != last]
        if bad:
            rated = f"{last} and T layers" if spec.has_conv_layers else "T layers"
            raise LwaUsageError(f"{span} segments are pooled on the {period} frames of "
                                f"{rated}; {', '.join(bad)} run at another rate")
    if not layers:
        raise LwaUsageError(f"`layers` selects no layer of {spec.name} (it has "
                            f"{valid_range(spec.n_conv, spec.n_layers)})", params=("layers",))


def mel_every(spec: ModelSpec, span: str, rep: str) -> int | None:
    """10 ms log-mel frames per model frame, when a frame file stores the log-mel with its T
    layers (models without conv layers, whose `cca mel` has no local file); else None."""
    if span != "frame" or rep == "local" or spec.has_conv_layers:
        return None
    return round(spec.frame_period_s * MEL_RATE_HZ)


def _work_units(sample: Sample, subset: int | None,
                shard: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Utterance indices to run (sample order) and, for token spans, the selected tokens."""
    tokens = None
    if sample.tokens is None:
        if subset is not None:
            raise LwaUsageError("--subset applies to phone, word, wordsim and allwords samples")
        units = np.arange(len(sample.utt_ids))
    else:
        tokens = np.arange(len(sample.tokens.label))
        if subset is not None:
            if not 0 <= subset < sample.n_subsets:
                raise LwaUsageError(f"--subset {subset}: the sample has subsets 0.."
                                    f"{sample.n_subsets - 1}")
            tokens = tokens[sample.subset == subset]
        units = np.unique(sample.tokens.utt_index[tokens])
    if shard is not None:
        units = units[shard[0]::shard[1]]
        if tokens is not None:
            tokens = tokens[np.isin(sample.tokens.utt_index[tokens], units)]
    return units, tokens


def extract_features(ws: Workspace, *, model: str, checkpoint: Path | None, split: str,
                     sample: str, span: str, rep: str = "contextualized",
                     layers: Sequence[str] | None = None, dtype: str = "float32",
                     device: str | None = None, shard: tuple[int, int] | None = None,
                     subset: int | None = None, force: bool = False, seed: int = 0,
                     reporter: Reporter = SILENT,
                     loaded: LoadedModel | None = None,
                     load: Callable[[], LoadedModel] | None = None,
                     download: bool = False, new_model: bool = False,
                     overlap: bool | None = None, batch_seconds: float | None = None,
                     dtype_compute: str = "float32") -> ExtractSummary:
    """Extract the layers of `model` over a sample into the workspace (see module doc).

    The target file is held under a write lock and the sample under a read lock for the
    whole run, so a second extraction of the same target, or `lwa sample --force` of the
    sample, is refused while this one runs. A complete file is reused when it was extracted
    from the current sample with the same weights and holds the layers asked for; one from
    another checkpoint is refused unless `force`. `loaded` lets a caller reuse an already
    loaded model (the API's batch use), and `load` a shared loader called only when a file
    must be extracted (`extract_many`; the caller checks the model name); `download` lets a
    hub id missing from the local Hugging Face cache be fetched (models/hub.py). A `model`
    name close to a registry name or to a model of the workspace (a likely typo) is refused
    unless `new_model`. `overlap` reads audio ahead and pools and writes behind the forward
    pass in two threads (pipeline/extract_io.py; None: where `overlap_pays`); the file is
    bit-identical either way. `batch_seconds` runs
    certified models in padded batches (pipeline/extract_batch.py; None: on a GPU only, 0:
    off). `dtype_compute` runs the forward passes at float16/bfloat16 (models/precision.py;
    recorded in the meta). The `lwa extract` command first calls
    `extract_io.retain_freed_memory` (process-wide, so not done here): a process that runs
    many extractions on a CPU may do the same (10% faster forward passes on base size).
    """
    if span not in SPANS:
        raise param_error("span", span, f"is not one of {', '.join(SPANS)}")
    if rep not in REPS:
        raise param_error("rep", rep, f"is not one of {', '.join(REPS)}")
    if dtype not in ("float32", "float16"):
        raise param_error("dtype", dtype, "is not one of float32, float16")
    check_batch_seconds(batch_seconds)
    ws.check()
    if loaded is None and load is None:  # before any file or lock is made under the name
        check_model_name(ws, model, checkpoint, new_model, reporter)
    stem = feature_stem(span, rep)
    path = ws.features_path(model, split, sample, stem, part_name(subset, shard))
    whole = ws.features_path(model, split, sample, stem)
    with write_lock(path, wait=ws.wait, what="feature file"), \
            read_lock(ws.sample_path(split, span, sample), wait=ws.wait, what="sample"):
        smp = load_sample(ws, split, span, sample)
        units, tokens = _work_units(smp, subset, shard)
        stale = []
        for done in (path, whole):  # a part is done too when its combined file exists
            if done.exists() and not force:
                reason = stale_reason(done, smp, model, checkpoint, seed, loaded)
                if reason is None:
                    return ExtractSummary(str(done), "exists", existing_layers(done, layers, rep),
                                          len(units), 0, 0, 0.0, 0.0)
                reporter.info(f"{done.name}: stale ({reason}) → extracting again")
                stale.append(done)
        lm = loaded or (load or functools.partial(
            load_model, model, checkpoint, device=resolve_device_name(device), seed=seed,
            download=download))()
        for note in lm.notes:
            reporter.info(note)
        default = ["C"] if rep == "local" else ["T"]
        names = parse_layers(list(layers) if layers else default, lm.n_conv, lm.n_layers)
        _check_layers(span, rep, names, lm.spec)
        check_compute_dtype(dtype_compute, lm.device)
        if force:  # only once the request is known to be valid: a bad one loses nothing
            for p in (path, partial_path(path)):
                p.unlink(missing_ok=True)
        for p in stale:
            p.unlink(missing_ok=True)
        meta = {"model": model, "checkpoint": lm.checkpoint, "fingerprint": lm.fingerprint,
                "spec": asdict(lm.spec), "normalize_input": lm.normalize_input,
                "split": split, "sample": sample, "sample_kind": span,
                "sample_fingerprint": smp.fingerprint, "sample_seed": smp.seed, "span": span,
                "rep": rep, "layers": names, "dtype": dtype,
                "part": {"subset": subset, "shard": list(shard) if shard else None},
                "units": units.tolist(), "lwa_version": __version__}
        # Measured before the file is made: a compute type that deviates beyond rounding
        # falls back to float32, and the meta says what the rows were computed with.
        precision = precision_check(lm, dtype_compute, functools.partial(_certify_waves, smp),
                                    reporter)
        if precision and precision["used"] != "float32":
            meta["dtype_compute"] = precision["used"]
        if mel_every(lm.spec, span, rep):
            meta["mel_every"] = mel_every(lm.spec, span, rep)
        if getattr(lm.module, "lwa_input_rule", None):  # Whisper's windows and padding
            meta["input_rule"] = lm.module.lwa_input_rule
        return _run(ws, lm, smp, units, tokens, path, meta, reporter, overlap, batch_seconds,
                    precision)



def extract_many(ws: Workspace, *, model: str, checkpoint: Path | None,
                 splits: Sequence[str], spans: Sequence[str], sample: str = "1",
                 seed: int = 0, device: str | None = None, download: bool = False,
                 new_model: bool = False, reporter: Reporter = SILENT,
                 **options: Any) -> list[ExtractSummary]:
    """`extract_features` for every (split, span) pair, loading the model at most once.

    Every sample is checked before anything runs, so a missing one is reported before a
    long extraction rather than after it; files that are current are reused without loading
    the model. `options` are the other keywords of `extract_features` (rep, layers, dtype,
    shard, subset, force, overlap, batch_seconds, dtype_compute), the same for every pair.
    Returns one summary per pair, splits outer, spans inner.
    """
    pairs = list(dict.fromkeys((split, span) for split in splits for span in spans))
    if not pairs:
        raise LwaUsageError("give at least one split and one span", params=("splits", "spans"))
    ws.check()
    for split, span in pairs:
        if span not in SPANS:
            raise param_error("span", span, f"is not one of {', '.join(SPANS)}")
        require_sample(ws, split, span, sample)
    check_model_name(ws, model, checkpoint, new_model, reporter)
    load = functools.cache(functools.partial(
        load_model, model, checkpoint, device=resolve_device_name(device), seed=seed,
        download=download))
    return [extract_features(ws, model=model, checkpoint=checkpoint, split=split, sample=sample,
                             span=span, seed=seed, device=device, download=download,
                             reporter=reporter, load=load, **options)
            for split, span in pairs]

def _run(ws: Workspace, lm: LoadedModel, smp: Sample, units: np.ndarray,
         tokens: np.ndarray | None, path: Path, meta: dict,
         reporter: Reporter, overlap: bool | None = None,
         batch_seconds: float | None = None, precision: dict | None = None) -> ExtractSummary:
    """Process the utterances not yet done into the partial file, then move it into place."""
    span, rep, names = meta["span"], meta["rep"], meta["layers"]
    if overlap is None:
        overlap = overlap_pays(lm.device.type, torch.get_num_threads())
    writer = FeatureWriter(path, meta, meta["dtype"])
    try:
        if writer.discarded:
            reporter.info(f"{writer.tmp.name} was from another extraction (other weights, "
                          "sample or options): starting afresh")
        done = writer.done_units
        todo = [int(u) for u in units if int(u) not in done]
        if writer.resumed:
            reporter.info(f"resuming {path.name}: {len(units) - len(todo)} of {len(units)} "
                          "utterances already done")
        problems = SegmentProblems()
        before = _window_counts(lm)

        max_samples, cert = batch_plan(ws, lm, batch_seconds,
                                       functools.partial(_certify_waves, smp), reporter)
        compute = meta.get("dtype_compute", "float32")
        t0 = time.perf_counter()
        seconds = [0.0, 0]  # audio seconds and rows written, updated by the writer
        trim = MemoryTrim()

        def store(unit: int, wave: np.ndarray, out: dict[str, np.ndarray]) -> None:
            if span == "utt":
                block = utterance_rows(out, unit)
            elif smp.tokens is None:
                block = frame_rows(out, wave, rep, meta.get("mel_every"),
                                   getattr(lm.module, "lwa_ten_ms", None))
            else:
                block = token_rows(smp, tokens, unit, out, span, problems,
                                   lm.spec.frame_period_s)
            writer.append(unit, block)
            del out, block
            trim()
            seconds[0] += len(wave) / 16000
            seconds[1] += writer.last_rows

        # parametrize.cached: weight-normed convolutions (wav2vec 2.0's positional conv)
        # compute their weight once for the run instead of once per forward pass (3 ms of
        # a 2 s base-size utterance on 2 CPU cores); the same op on the same weights.
        with reporter.task(f"{meta['model']} {path.stem} {smp.split}", len(todo),
                           "utt") as advance, \
                WriteBehind(store, overlap=overlap) as behind, \
                compute_precision(lm.device, compute), torch.nn.utils.parametrize.cached():
            for window in windows(read_ahead(todo, lambda u: load_audio(smp.audio_paths[u]),
                                             overlap=overlap), max_samples):
                outs = ([extract_layers(lm, window[0][1], names)] if max_samples is None else
                        forward_window(lm, [w for _, w in window], names, max_samples))
                for (unit, wave), out in zip(window, outs, strict=True):
                    behind.submit(unit, wave, out)
                    advance(1, seconds=len(wave) / 16000)
                del outs
        audio_seconds, rows = seconds
        wall = time.perf_counter() - t0
        if problems.clipped or problems.dropped:
            reporter.warn(problems.message())
        for note in getattr(lm.module, "lwa_notes", ()):  # e.g. a fine-tune's decoder
            reporter.info(note)
        window_stats = {k: v - before[k] for k, v in _window_counts(lm).items()}
        if window_stats.get("long_utterances"):
            reporter.info(f"{window_stats['long_utterances']} utterance(s) longer than 30 s "
                          "were encoded in consecutive 30 s windows and joined "
                          f"({window_stats['windows']} windows in all)")
        _check_sample_unchanged(ws, smp)
        writer.finish({"clipped_segments": problems.clipped,
                       "dropped_segments": problems.dropped,
                       "segment_examples": problems.examples,
                       "audio_seconds": audio_seconds, "wall_seconds": wall, **window_stats,
                       "batching": {"max_seconds": (max_samples or 0) / 16000,
                                    "certificate": cert},
                       "dtype_compute": precision})
    finally:
        writer.close()
    return ExtractSummary(str(path), "resumed" if writer.resumed else "extracted", names,
                          len(units), len(todo), rows, round(audio_seconds, 3), round(wall, 3),
                          problems.clipped, problems.dropped, problems.examples)


def _certify_waves(smp: Sample) -> list[np.ndarray]:
    """The sample's first utterances, on which batching and precision are checked."""
    return [load_audio(p) for p in smp.audio_paths[:CERTIFY_UTTERANCES]]


def _window_counts(lm: LoadedModel) -> dict[str, int]:
    """Whisper: utterances longer than one 30 s window and windows encoded (models/whisper)."""
    stats = getattr(lm.module, "lwa_stats", None)
    if not stats:
        return {}
    return {"windows": int(stats["windows"]), "long_utterances": int(stats["long_utterances"])}


def _check_sample_unchanged(ws: Workspace, smp: Sample) -> None:
    """The sample must still be the one extracted from (it is read-locked, but a file can be
    replaced by other means); otherwise nothing is stored."""
    now = sample_fingerprint(ws, smp.split, smp.kind, smp.name)
    if now != smp.fingerprint:
        raise LwaError(f"the {smp.kind} sample {smp.name!r} of {smp.split} was replaced while "
                       "this extraction ran; its features were not stored: rerun the command")
