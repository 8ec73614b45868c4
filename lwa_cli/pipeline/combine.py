"""`lwa combine`: merge the shard/subset parts of an extraction into one feature file."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lwa_cli.errors import LwaError
from lwa_cli.pipeline.inputs import feature_stem
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile, FeatureWriter, find_partials, find_parts
from lwa_cli.workspace.locks import read_lock, write_lock
from lwa_cli.workspace.samples import load_sample

# Fields that must agree between parts (everything but what names the part itself).
_MUST_MATCH = ("model", "fingerprint", "sample_fingerprint", "span", "rep", "layers", "dtype")


@dataclass(frozen=True)
class CombineSummary:
    path: str
    parts: int
    units: int
    rows: int


def combine_features(ws: Workspace, *, model: str, split: str, sample: str, span: str,
                     rep: str = "contextualized", keep_parts: bool = False,
                     reporter: Reporter = SILENT) -> CombineSummary:
    """Merge all parts into ``<stem>.h5`` (rows in sample order for frame spans).

    Refuses, saying what is missing, unless the parts come from the same model and sample
    and together cover every utterance (frame) or every segment (token spans) exactly once.
    """
    ws.check()
    stem = feature_stem(span, rep)
    out_path = ws.features_path(model, split, sample, stem)
    with write_lock(out_path, wait=ws.wait, what="feature file"), \
            read_lock(ws.sample_path(split, span, sample), wait=ws.wait, what="sample"):
        return _combine(ws, model, split, sample, span, stem, out_path, keep_parts, reporter)


def _combine(ws: Workspace, model: str, split: str, sample: str, span: str, stem: str,
             out_path, keep_parts: bool, reporter: Reporter) -> CombineSummary:
    directory = ws.features_dir(model, split, sample)
    parts = find_parts(directory, stem)
    if not parts and out_path.is_file():
        reporter.info(f"{out_path.name} is already complete; nothing to combine")
        with FeatureFile(out_path) as done:
            unit_rows = done.unit_rows()[1]
        return CombineSummary(str(out_path), 0, len(unit_rows), int(unit_rows[:, 0].sum()))
    if not parts:
        unfinished = find_partials(directory, stem)
        hint = (f"; unfinished: {', '.join(p.name for p in unfinished)} (rerun those "
                "`lwa extract` commands)") if unfinished else ""
        raise LwaError(f"no finished parts of {stem} in {directory}{hint}")
    smp = load_sample(ws, split, span, sample)
    files = [FeatureFile(p) for p in parts]
    try:
        ref = files[0].meta
        for f in files[1:]:
            for key in _MUST_MATCH:
                if f.meta.get(key) != ref.get(key):
                    raise LwaError(f"{f.path.name} differs from {files[0].path.name} in {key}; "
                                   "re-extract it with the same model, sample and options")
        if ref["sample_fingerprint"] != smp.fingerprint:
            raise LwaError(f"the parts were extracted from an older {span} sample {sample!r}; "
                           "extract them again")
        _check_coverage(files, smp, span, ref)
        meta = {k: v for k, v in ref.items() if k not in ("part", "units")}
        meta["part"] = None
        meta["combined_from"] = [p.name for p in parts]
        # Rows in the order one unsharded run writes them: utterances in sample order and,
        # within an utterance (whose tokens several subsets may share), tokens in sample
        # order — the CCA's seeded splits depend on row order.
        pieces: dict[int, list[tuple[FeatureFile, np.ndarray, np.ndarray]]] = {}
        names = files[0].unit_rows()[0]
        for f in files:
            f_names, unit_rows = f.unit_rows()
            if f_names != names:
                raise LwaError(f"{f.path.name} holds other datasets than {files[0].path.name}; "
                               "re-extract it with the same options")
            offsets = np.vstack([np.zeros(len(names), np.int64), np.cumsum(unit_rows, axis=0)])
            for j, unit in enumerate(f.units()):
                pieces.setdefault(int(unit), []).append((f, offsets[j], offsets[j + 1]))
        writer = FeatureWriter(out_path, meta, ref["dtype"])
        rows = 0
        try:
            with reporter.task(f"combine {stem}", len(pieces), "utt") as advance:
                for unit in sorted(pieces):
                    block = {n: np.concatenate([f.read(n, lo[k], hi[k])
                                                for f, lo, hi in pieces[unit]])
                             for k, n in enumerate(names)}
                    if "rows/token_index" in block:
                        order = np.argsort(block["rows/token_index"], kind="stable")
                        block = {n: v[order] for n, v in block.items()}
                    writer.append(unit, block)
                    rows += len(next(iter(block.values())))
                    advance(1)
            summary = {key: sum(f.summary.get(key, 0) for f in files)
                       for key in ("clipped_segments", "dropped_segments", "audio_seconds",
                                   "wall_seconds")}
            writer.finish(summary)
        finally:
            writer.close()
    finally:
        for f in files:
            f.close()
    if not keep_parts:
        for p in parts:
            p.unlink()
    return CombineSummary(str(out_path), len(parts), len(pieces), rows)


def _check_coverage(files: list[FeatureFile], smp, span: str, ref: dict) -> None:
    """Every utterance (frame) or segment (tokens) exactly once, else say what is missing."""
    if span in ("frame", "utt"):
        expected = np.arange(len(smp.utt_ids))
        got = np.concatenate([np.asarray(f.meta["units"], dtype=np.int64) for f in files])
        what = "utterances"
    else:
        expected = np.arange(len(smp.tokens.label))
        got = np.concatenate([_planned_tokens(f, smp) for f in files])
        what = "segments"
    counts = np.bincount(got, minlength=len(expected))
    missing, twice = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
    if len(twice):
        raise LwaError(f"{len(twice)} {what} appear in more than one part; remove the "
                       "overlapping part files (parts of different --shard n or --subset runs)")
    if len(missing):
        cover = f"the parts cover {len(expected) - len(missing)} of {len(expected)} {what}"
        absent = missing_parts([f.meta["part"] for f in files], smp.n_subsets)
        if not absent:  # parts of different --shard n: no single part is missing
            raise LwaError(f"{cover}; the parts come from runs with different --shard n or "
                           "--subset choices: extract the rest, or remove the parts and "
                           "extract with one sharding")
        names = ", ".join(_part_label(p) for p in absent)
        commands = "; ".join(f"`{_extract_command(ref, p)}`" for p in absent[:3])
        more = f" (and {len(absent) - 3} more like them)" if len(absent) > 3 else ""
        raise LwaError(f"{cover}: missing {names}; make them with {commands}{more}, then "
                       "combine again")


Part = tuple[int | None, tuple[int, int] | None]  # (subset, (i, n) shard)


def missing_parts(parts: list[dict], n_subsets: int) -> list[Part]:
    """The parts that the recorded ``{"subset": j, "shard": [i, n]}`` of the present parts
    imply but that are absent: every shard ``i`` of ``0..n-1`` of each sharding, and every
    subset ``0..n_subsets-1`` once any part is a subset."""
    by_subset: dict[int | None, list[dict]] = {}
    for part in parts:
        by_subset.setdefault(part.get("subset"), []).append(part)
    subsets = sorted(by_subset, key=lambda s: -1 if s is None else s)
    if any(s is not None for s in by_subset):
        subsets = list(range(n_subsets))
    out: list[Part] = []
    for subset in subsets:
        present = by_subset.get(subset, [])
        if not present:
            out.append((subset, None))
            continue
        if any(p.get("shard") is None for p in present):
            continue  # a whole run of this subset
        shards = {tuple(p["shard"]) for p in present}
        for n in sorted({n for _, n in shards}):
            out.extend((subset, (i, n)) for i in range(n) if (i, n) not in shards)
    return out


def _part_label(part: Part) -> str:
    subset, shard = part
    bits = ([f"subset {subset}"] if subset is not None else []) + \
        ([f"shard {shard[0]}/{shard[1]}"] if shard is not None else [])
    return " ".join(bits)


def _layer_ranges(layers: list[str]) -> list[str]:
    """``T0 T1 T2 C3`` as ``T0-T2 C3`` (runs of consecutive layers as ranges)."""
    out: list[list] = []
    for name in layers:
        match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
        if match and out and out[-1][0] == match[1] and out[-1][2] == int(match[2]) - 1:
            out[-1][2] = int(match[2])
        else:
            out.append([match[1], int(match[2]), int(match[2])] if match else [name, None, None])
    return [p if lo is None else f"{p}{lo}" if lo == hi else f"{p}{lo}-{p}{hi}"
            for p, lo, hi in out]


def _extract_command(meta: dict, part: Part) -> str:
    """The `lwa extract` command line that makes one part with the other parts' options."""
    subset, shard = part
    words = ["lwa extract", f"--model {meta['model']}"]
    if meta.get("checkpoint"):
        words.append(f"--checkpoint {meta['checkpoint']}")
    words += [f"--split {meta['split']}", f"--sample {meta['sample']}", f"--span {meta['span']}"]
    if meta.get("rep", "contextualized") != "contextualized":
        words.append(f"--rep {meta['rep']}")
    words += [f"--layer {layer}" for layer in _layer_ranges(meta.get("layers", []))]
    if meta.get("dtype", "float32") != "float32":
        words.append(f"--dtype {meta['dtype']}")
    if subset is not None:
        words.append(f"--subset {subset}")
    if shard is not None:
        words.append(f"--shard {shard[0]}/{shard[1]}")
    return " ".join(words)


def _planned_tokens(f: FeatureFile, smp) -> np.ndarray:
    """Tokens a part was asked to cover (dropped segments count as covered)."""
    part = f.meta["part"]
    tokens = np.arange(len(smp.tokens.label))
    if part.get("subset") is not None:
        tokens = tokens[smp.subset == part["subset"]]
    units = np.asarray(f.meta["units"], dtype=np.int64)
    return tokens[np.isin(smp.tokens.utt_index[tokens], units)]
