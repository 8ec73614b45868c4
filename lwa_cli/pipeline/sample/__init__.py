"""`lwa sample`: draw named, seeded samples of utterances or segments from prepared splits."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lwa_cli.data import sampling
from lwa_cli.data.alignments import Segments, SplitAlignments
from lwa_cli.data.corpus import SPLITS, expand_split, is_train_split
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.prepare import load_split
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import alignments_fingerprint, has_alignments, load_inventory
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.samples import (
    Sample,
    invalidate_features,
    load_sample,
    sample_exists,
    save_sample,
)

DEFAULT_MAX_SUBSET_SECONDS = 10000.0


def _existing(ws: Workspace, split: str, kind: str, name: str, seed: int, request: dict,
              force: bool, reporter: Reporter) -> Sample | None:
    """An existing sample drawn with the same seed and options is reused (a rerun is a no-op).

    Replacing one drawn differently needs `force`, and then drops the features extracted
    from it, since they would no longer match.
    """
    if not sample_exists(ws, split, kind, name):
        return None
    if not force:
        old = load_sample(ws, split, kind, name)
        if old.seed == seed and all(old.params.get(k) == v for k, v in request.items()):
            reporter.info(f"{kind} sample {name!r} of {split} exists (same seed and options)")
            return old
        raise LwaError(
            f"{kind} sample {name!r} of {split} exists with other options or seed; features "
            "extracted from it would no longer match. Use --force to replace it (this deletes "
            "those features) or pick another --sample name")
    removed = invalidate_features(ws, split, kind, name)
    if removed:
        n_results = sum(1 for r in removed if r.startswith("results"))
        reporter.warn(f"removed {len(removed) - n_results} feature file(s) extracted from the "
                      f"old sample and {n_results} result(s) computed from them: "
                      + ", ".join(removed))
    return None


def _locked(kind: str):
    """Run a sampling function under the sample's write lock (one writer; refused while an
    extraction reads the sample)."""
    def wrap(func):
        @functools.wraps(func)
        def run(ws: Workspace, split: str, name: str, *args, **kwargs):
            path = ws.ensure().sample_path(split, kind, name)
            with write_lock(path, wait=ws.wait, what=f"{kind} sample"):
                return func(ws, split, name, *args, **kwargs)
        return run
    return wrap


def _save(ws: Workspace, sample: Sample) -> Sample:
    """Store a new sample with the fingerprints of the alignments it was drawn from."""
    members = [m for m in expand_split(sample.split) if has_alignments(ws, m)]
    save_sample(ws, sample, alignments={m: alignments_fingerprint(ws, m) for m in members})
    return sample


def _token_sample(aligned: SplitAlignments, segments: Segments, picked: np.ndarray, *,
                  kind: str, name: str, seed: int, max_subset_seconds: float,
                  params: dict) -> Sample:
    """Build a token sample from segment indices, keeping only the utterances it needs."""
    if len(picked) == 0:
        raise LwaError(f"the {kind} sample of {aligned.split} would be empty")
    utt_of_token = segments.utt_index[picked]
    used, remap = np.unique(utt_of_token, return_inverse=True)
    tokens = Segments(utt_index=remap.astype(np.int32), start=segments.start[picked],
                      end=segments.end[picked], label=segments.label[picked])
    subset = sampling.cut_subsets(tokens.end - tokens.start, max_subset_seconds)
    return Sample(split=aligned.split, kind=kind, name=name, seed=seed,
                  utt_ids=aligned.utt_ids[used], audio_paths=aligned.audio_paths[used],
                  durations=aligned.durations[used], tokens=tokens, subset=subset,
                  params={**params, "max_subset_seconds": max_subset_seconds})


def train_inventory(ws: Workspace, split: str, unit: str,
                    reporter: Reporter = SILENT) -> tuple[np.ndarray, np.ndarray]:
    """Phone or word inventory ordered by count over the prepared train splits.

    Falls back to the split at hand (with a warning) when no train split is prepared.
    """
    train = [s for s in SPLITS if is_train_split(s) and has_alignments(ws, s)]
    sources = train or list(expand_split(split))
    if not train:
        reporter.warn(f"no train split is prepared: the {unit} inventory comes from {split}")
    totals: dict[str, int] = {}
    for source in sources:
        if not has_alignments(ws, source):
            continue
        labels, counts = load_inventory(ws, source, unit)
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
            totals[label] = totals.get(label, 0) + int(count)
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))  # as `inventory` orders
    return (np.array([k for k, _ in ordered], dtype=str),
            np.array([c for _, c in ordered], dtype=np.int64))


@_locked("frame")
def sample_frames(ws: Workspace, split: str, name: str, *, utterances: int = 500, seed: int = 0,
                  force: bool = False, reporter: Reporter = SILENT) -> Sample:
    """Sample `utterances` random utterances of `split` for frame-level extraction."""
    if utterances < 1:
        raise param_error("utterances", utterances, "must be at least 1")
    request = {"utterances": utterances}
    if old := _existing(ws, split, "frame", name, seed, request, force, reporter):
        return old
    aligned = load_split(ws, split, reporter)
    picked = sampling.sample_utterances(len(aligned.utt_ids), utterances,
                                        np.random.default_rng(seed))
    if utterances > len(aligned.utt_ids):
        reporter.warn(f"{split} has {len(aligned.utt_ids)} utterances; using all of them")
    sample = Sample(split=split, kind="frame", name=name, seed=seed,
                    utt_ids=aligned.utt_ids[picked], audio_paths=aligned.audio_paths[picked],
                    durations=aligned.durations[picked], params=request)
    return _save(ws, sample)


@_locked("phone")
def sample_phones(ws: Workspace, split: str, name: str, *, seed: int = 0,
                  max_subset_seconds: float = DEFAULT_MAX_SUBSET_SECONDS, force: bool = False,
                  reporter: Reporter = SILENT) -> Sample:
    """Sample phone segments of the 39 phones (SPEC §3 count rules for dev and train)."""
    _check_subset_seconds(max_subset_seconds)
    request = {"max_subset_seconds": max_subset_seconds}
    if old := _existing(ws, split, "phone", name, seed, request, force, reporter):
        return old
    aligned = load_split(ws, split, reporter)
    picked = sampling.sample_phone_tokens(aligned.phones.label, is_train_split(split),
                                          np.random.default_rng(seed))
    sample = _token_sample(aligned, aligned.phones, picked, kind="phone", name=name, seed=seed,
                           max_subset_seconds=max_subset_seconds, params={})
    return _save(ws, sample)


@_locked("word")
def sample_words(ws: Workspace, split: str, name: str, *, words: int = 500, seed: int = 0,
                 max_subset_seconds: float = DEFAULT_MAX_SUBSET_SECONDS, force: bool = False,
                 reporter: Reporter = SILENT) -> Sample:
    """Sample segments of the top `words` words of the train inventory (SPEC §3)."""
    if words < 1:
        raise param_error("words", words, "must be at least 1")
    _check_subset_seconds(max_subset_seconds)
    request = {"words": words, "max_subset_seconds": max_subset_seconds}
    if old := _existing(ws, split, "word", name, seed, request, force, reporter):
        return old
    aligned = load_split(ws, split, reporter)
    labels, _ = train_inventory(ws, split, "words", reporter)
    top = sampling.select_top_words(labels, words)
    if len(top) < words:
        reporter.warn(f"the inventory has {len(top)} words; sampling all of them")
    picked = sampling.sample_word_tokens(aligned.words.label, top, is_train_split(split),
                                         np.random.default_rng(seed), n_words=words)
    sample = _token_sample(aligned, aligned.words, picked, kind="word", name=name, seed=seed,
                           max_subset_seconds=max_subset_seconds,
                           params={"words": words, "vocabulary": top.tolist()})
    return _save(ws, sample)


@_locked("wordsim")
def sample_wordsim(ws: Workspace, split: str, name: str, *,
                   benchmarks: Mapping[str, Path] | None = None, instances: int = 200,
                   seed: int = 0, max_subset_seconds: float = DEFAULT_MAX_SUBSET_SECONDS,
                   force: bool = False, reporter: Reporter = SILENT) -> Sample:
    """Sample up to `instances` instances of every word of the word-similarity benchmarks.

    The benchmarks are WordSim-353 and SimLex-999 (shipped with gensim) plus any
    ``NAME=PATH`` files given.
    """
    from lwa_cli.analysis.wordsim import builtin_benchmark, read_benchmark

    if instances < 1:
        raise param_error("instances", instances, "must be at least 1")
    _check_subset_seconds(max_subset_seconds)
    if not is_train_split(split):
        reporter.warn(f"word-similarity embeddings are usually sampled from train, not {split}")
    pairs = {n: builtin_benchmark(n) for n in ("wordsim353", "simlex999")}
    pairs.update({n: read_benchmark(p) for n, p in (benchmarks or {}).items()})
    request = {"instances": instances, "benchmarks": sorted(pairs),
               "max_subset_seconds": max_subset_seconds}
    if old := _existing(ws, split, "wordsim", name, seed, request, force, reporter):
        return old
    vocabulary = sorted({w for ps in pairs.values() for a, b, _ in ps for w in (a, b)})
    aligned = load_split(ws, split, reporter)
    picked = sampling.sample_wordsim_tokens(aligned.words.label, vocabulary, instances,
                                            np.random.default_rng(seed))
    sample = _token_sample(aligned, aligned.words, picked, kind="wordsim", name=name, seed=seed,
                           max_subset_seconds=max_subset_seconds,
                           params={"instances": instances, "benchmarks": sorted(pairs)})
    return _save(ws, sample)


def _check_subset_seconds(value: float) -> None:
    if not value > 0:
        raise param_error("max_subset_seconds", value, "must be positive")


def sample_summary(sample: Sample) -> dict:
    """Counts that describe a sample, for tables and --json."""
    out = {"split": sample.split, "kind": sample.kind, "sample": sample.name,
           "seed": sample.seed, "utterances": len(sample.utt_ids),
           "seconds": round(float(np.sum(sample.durations)), 3)}
    if sample.tokens is not None:
        out.update(tokens=len(sample.tokens.label),
                   types=len(np.unique(sample.tokens.label)), subsets=sample.n_subsets,
                   token_seconds=round(float(np.sum(sample.tokens.end - sample.tokens.start)),
                                       3))
    return out


__all__: Sequence[str] = ["sample_frames", "sample_phones", "sample_words", "sample_wordsim",
                          "sample_summary", "train_inventory"]
