"""`lwa extract`: run a model over a sample, one utterance at a time, and store its layers.

Frame spans store every frame of each utterance; phone/word/wordsim spans store the
mean-pooled frames of each sampled segment (SPEC §4); ``rep="local"`` stores the conv layers
box-averaged to 10 ms together with the aligned log-mel frames. Utterances are processed one
at a time (padding would change group-norm models' outputs) and appended to a resumable
partial file, so memory stays flat and a killed run continues where it stopped.
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lwa_cli import __version__
from lwa_cli.choices import REPS, SPANS
from lwa_cli.data.audio import load_audio
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.features.conv_align import align_local
from lwa_cli.features.logmel import log_mel
from lwa_cli.features.pooling import mean_pool, segment_bounds
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.layers import parse_layers
from lwa_cli.models.loading import LoadedModel, load_model
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import (
    FeatureFile,
    FeatureWriter,
    find_partials,
    find_parts,
    partial_path,
)
from lwa_cli.workspace.samples import Sample, load_sample


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


def _malloc_trim() -> Callable[[], object]:
    """glibc's malloc_trim, or a no-op elsewhere.

    Utterances of different lengths leave torch's freed activations fragmented in glibc's
    heap, so a long run's RSS grows by tens of MB per utterance (a bare transformers loop
    does the same); trimming after each utterance keeps memory flat.
    """
    try:
        return functools.partial(ctypes.CDLL("libc.so.6").malloc_trim, 0)
    except (OSError, AttributeError):
        return lambda: None


release_memory = _malloc_trim()


def feature_stem(span: str, rep: str) -> str:
    """File stem of a span/representation: ``frame``, ``frame-local``, ``phone``, ..."""
    return f"{span}-local" if rep == "local" else span


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
        raise LwaUsageError(f"--shard expects i/n such as 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise LwaUsageError(f"--shard {text}: need 0 <= i < n")
    return i, n


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_layers(span: str, rep: str, layers: list[str]) -> None:
    if rep == "local":
        if span != "frame":
            raise LwaUsageError("--rep local is for the frame span (conv features with mel)")
        bad = [name for name in layers if not name.startswith("C")]
        if bad:
            raise LwaUsageError(f"--rep local stores conv layers only, not {', '.join(bad)}; "
                                "extract T layers with --rep contextualized")
    elif span != "frame":
        bad = [name for name in layers if name.startswith("C") and name != "C7"]
        if bad:
            raise LwaUsageError(f"{span} segments are pooled on the 20 ms frames of C7 and T "
                                f"layers; {', '.join(bad)} run at another rate")


def _work_units(sample: Sample, subset: int | None,
                shard: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Utterance indices to run (sample order) and, for token spans, the selected tokens."""
    tokens = None
    if sample.tokens is None:
        if subset is not None:
            raise LwaUsageError("--subset applies to phone/word/wordsim samples only")
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
                     loaded: LoadedModel | None = None) -> ExtractSummary:
    """Extract the layers of `model` over a sample into the workspace (see module doc).

    `loaded` lets a caller reuse an already loaded model (the API's batch use).
    """
    if span not in SPANS:
        raise LwaUsageError(f"--span must be one of {', '.join(SPANS)}")
    if rep not in REPS:
        raise LwaUsageError(f"--rep must be one of {', '.join(REPS)}")
    if dtype not in ("float32", "float16"):
        raise LwaUsageError("--dtype must be float32 or float16")
    ws.check()
    smp = load_sample(ws, split, span, sample)
    units, tokens = _work_units(smp, subset, shard)
    stem = feature_stem(span, rep)
    path = ws.features_path(model, split, sample, stem, part_name(subset, shard))
    whole = ws.features_path(model, split, sample, stem)
    if not force:
        # A part is done too when the combined file that it went into exists.
        for done in (path, whole):
            if done.exists():
                return _existing(done, layers, rep, len(units))
    lm = loaded or load_model(model, checkpoint, device=device or default_device(), seed=seed)
    default = ["C"] if rep == "local" else ["T"]
    names = parse_layers(list(layers) if layers else default, lm.n_conv, lm.n_layers)
    _check_layers(span, rep, names)
    if force:  # only once the request is known to be valid: a bad one loses nothing
        for p in (path, partial_path(path)):
            p.unlink(missing_ok=True)
    meta = {"model": model, "checkpoint": lm.checkpoint, "fingerprint": lm.fingerprint,
            "spec": asdict(lm.spec), "normalize_input": lm.normalize_input,
            "split": split, "sample": sample, "sample_fingerprint": smp.fingerprint,
            "sample_seed": smp.seed, "span": span, "rep": rep, "layers": names, "dtype": dtype,
            "part": {"subset": subset, "shard": list(shard) if shard else None},
            "units": units.tolist(), "lwa_version": __version__}
    writer = FeatureWriter(path, meta, dtype)
    try:
        done = writer.done_units
        todo = [int(u) for u in units if int(u) not in done]
        if writer.resumed:
            reporter.info(f"resuming {path.name}: {len(units) - len(todo)} of {len(units)} "
                          "utterances already done")
        clipped = dropped = rows = 0
        audio_seconds = 0.0
        t0 = time.perf_counter()
        with reporter.task(f"{model} {stem} {split}", len(todo), "utt") as advance:
            for unit in todo:
                wave = load_audio(smp.audio_paths[unit])
                out = extract_layers(lm, wave, names)
                if smp.tokens is None:
                    block = _frame_rows(out, wave, rep)
                else:
                    block, n_clip, n_drop = _token_rows(smp, tokens, unit, out, span,
                                                        lm.spec.frame_period_s)
                    clipped, dropped = clipped + n_clip, dropped + n_drop
                writer.append(unit, block)
                del out, block
                release_memory()
                rows += writer.last_rows
                audio_seconds += len(wave) / 16000
                advance(1, seconds=len(wave) / 16000)
        wall = time.perf_counter() - t0
        summary = {"clipped_segments": clipped, "dropped_segments": dropped,
                   "audio_seconds": audio_seconds, "wall_seconds": wall}
        if clipped or dropped:
            reporter.warn(f"{clipped} segment(s) ran past their utterance and were clipped; "
                          f"{dropped} were dropped (they start at or after the last frame, "
                          "or end before they start)")
        writer.finish(summary)
    finally:
        writer.close()
    return ExtractSummary(str(path), "resumed" if writer.resumed else "extracted", names,
                          len(units), len(todo), rows, round(audio_seconds, 3), round(wall, 3),
                          clipped, dropped)


def _existing(path: Path, layers: Sequence[str] | None, rep: str, n_units: int) -> ExtractSummary:
    """A complete file is reused when it holds every requested layer; otherwise say so."""
    with FeatureFile(path) as f:
        spec = f.meta["spec"]
        default = ["C"] if rep == "local" else ["T"]
        wanted = parse_layers(list(layers) if layers else default, len(spec["conv_layers"]),
                              spec["n_layers"])
        missing = [name for name in wanted if name not in f.layers]
        if missing:
            raise LwaError(f"{path} exists with layers {', '.join(f.layers)}, not "
                           f"{', '.join(missing)}; add --force to extract it again with the "
                           "layers you ask for")
        return ExtractSummary(str(path), "exists", f.layers, n_units, 0, 0, 0.0, 0.0)


def _frame_rows(out: dict[str, np.ndarray], wave: np.ndarray,
                rep: str) -> dict[str, np.ndarray]:
    """All frames of one utterance per layer (local: aligned to 10 ms with the log-mel)."""
    if rep != "local":
        return {f"features/{name}": arr for name, arr in out.items()}
    mel = log_mel(wave)
    block = {}
    for name, arr in out.items():
        feats, mel_aligned = align_local(name, arr, mel)
        block[f"features/{name}"] = feats
        block[f"mel/{name}"] = mel_aligned.astype(np.float32)
    return block


def _token_rows(smp: Sample, tokens: np.ndarray, unit: int, out: dict[str, np.ndarray],
                span: str, stride: float = 0.02) -> tuple[dict[str, np.ndarray], int, int]:
    """Mean-pooled segments of one utterance per layer, with token index and label rows.

    ``stride`` is the model's frame period in seconds (0.04 for AV-HuBERT).
    """
    assert smp.tokens is not None
    mine = tokens[smp.tokens.utt_index[tokens] == unit]
    n_frames = {arr.shape[0] for arr in out.values()}
    if len(n_frames) != 1:
        raise LwaError(f"layers of {smp.utt_ids[unit]} have different frame counts {n_frames}")
    bounds = segment_bounds(smp.tokens.start[mine], smp.tokens.end[mine], n_frames.pop(),
                            trim=span == "phone", stride=stride)
    keep = bounds.kept
    block = {f"features/{name}": mean_pool(arr, bounds.start[keep], bounds.end[keep])
             for name, arr in out.items()}
    block["rows/token_index"] = mine[keep].astype(np.int64)
    block["rows/label"] = smp.tokens.label[mine[keep]]
    return block, bounds.n_clipped, bounds.n_dropped


def open_features(ws: Workspace, model: str, split: str, sample: str, span: str,
                  rep: str = "contextualized") -> FeatureFile:
    """Open a complete feature file, or say which command makes it."""
    ws.check()
    stem = feature_stem(span, rep)
    path = ws.features_path(model, split, sample, stem)
    if path.is_file():
        return FeatureFile(path)
    directory = path.parent
    if find_parts(directory, stem):
        raise LwaError(f"{stem} features of {model} ({split}, sample {sample}) are in parts; run "
                       f"`lwa combine --model {model} --split {split} --sample {sample} "
                       f"--span {span}{' --rep local' if rep == 'local' else ''}`")
    hint = " (an unfinished run exists: rerun it to resume)" if find_partials(directory, stem) \
        else ""
    raise LwaError(f"no {stem} features of {model} for {split}, sample {sample}{hint}; run "
                   f"`lwa extract --model {model} --checkpoint CKPT --split {split} --sample "
                   f"{sample} --span {span}{' --rep local' if rep == 'local' else ''}`")


def select_layers(features: FeatureFile, layers: Sequence[str] | None) -> list[str]:
    """Parse `--layer` specs against the file's model; default: all layers in the file."""
    have = features.layers
    if not layers:
        return have
    spec = features.meta["spec"]
    wanted = parse_layers(list(layers), len(spec["conv_layers"]), spec["n_layers"])
    missing = [name for name in wanted if name not in have]
    if missing:
        raise LwaUsageError(f"{features.path.name} has no layer {', '.join(missing)} (it has "
                            f"{have[0]}…{have[-1]}); extract them first")
    return wanted
