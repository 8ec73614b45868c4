"""Storage of named data samples (utterances for frame spans, segments for token spans)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lwa_cli.data.alignments import Segments
from lwa_cli.errors import LwaError
from lwa_cli.workspace.core import Workspace, atomic_h5, json_attr, open_h5
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import array_digest
from lwa_cli.workspace.results import remove_dependent_results
from lwa_cli.workspace.tables import read_columns, write_columns

KIND = "sample"
SAMPLE_KINDS = ("frame", "phone", "word", "wordsim", "allwords", "utt")  # utt: workspace/sts.py
# Feature files that an extraction from a sample of each kind writes (see features.py).
SPANS_OF_KIND = {"frame": ("frame", "frame-local"), "phone": ("phone",), "word": ("word",),
                 "wordsim": ("wordsim",), "allwords": ("allwords",), "utt": ("utt",)}


@dataclass(frozen=True)
class Sample:
    """A named sample: its utterances and, for token kinds, the sampled segments in order."""

    split: str
    kind: str
    name: str
    seed: int
    utt_ids: np.ndarray
    audio_paths: np.ndarray
    durations: np.ndarray
    tokens: Segments | None = None  # utt_index points into utt_ids
    subset: np.ndarray | None = None  # subset id per token
    params: dict = field(default_factory=dict)

    @property
    def n_subsets(self) -> int:
        return 0 if self.subset is None or len(self.subset) == 0 else int(self.subset.max()) + 1

    @property
    def fingerprint(self) -> str:
        """A content hash: features record it, so a replaced sample is never mixed up."""
        arrays = [self.utt_ids, np.asarray(self.durations, dtype=np.float64)]
        if self.tokens is not None:
            arrays += [np.asarray(self.tokens.utt_index, dtype=np.int64),
                       np.asarray(self.tokens.start, dtype=np.float64),
                       np.asarray(self.tokens.end, dtype=np.float64), self.tokens.label]
        return array_digest(*arrays)


def sample_exists(ws: Workspace, split: str, kind: str, name: str) -> bool:
    return ws.sample_path(split, kind, name).is_file()


def sample_fingerprint(ws: Workspace, split: str, kind: str, name: str) -> str | None:
    """The stored sample's content fingerprint (None when there is no such sample)."""
    path = ws.sample_path(split, kind, name)
    if not path.is_file():
        return None
    with open_h5(path, KIND) as f:
        return str(f.attrs["fingerprint"])


def save_sample(ws: Workspace, sample: Sample, *, alignments: dict[str, str]) -> None:
    """Store a sample; `alignments` maps each source split to its alignments' fingerprint.

    The caller holds the sample's write lock (see `replace_sample_lock`).
    """
    path = ws.ensure().sample_path(sample.split, sample.kind, sample.name)
    with atomic_h5(path, KIND, split=sample.split, sample_kind=sample.kind, name=sample.name,
                   seed=sample.seed, params=sample.params, alignments=alignments,
                   fingerprint=sample.fingerprint) as f:
        write_columns(f, "utterances", {"id": sample.utt_ids, "audio_path": sample.audio_paths,
                                        "duration": sample.durations})
        if sample.tokens is not None:
            tok = sample.tokens
            write_columns(f, "tokens", {"utt_index": tok.utt_index, "start": tok.start,
                                        "end": tok.end, "label": tok.label,
                                        "subset": sample.subset})


def require_sample(ws: Workspace, split: str, kind: str, name: str) -> Path:
    """The path of an existing sample, or an error naming the command that makes it."""
    path = ws.sample_path(split, kind, name)
    if not path.is_file() and kind == "utt":
        raise LwaError(f"no utt sample {name!r} for split {split} in {ws.root}; utt samples "
                       f"are made by `lwa prepare-sts --from DIR_OR_TSV --name {name}` (split "
                       "sts)")
    if not path.is_file():
        have = sorted(f"{p.parent.name}/{p.stem.split('-', 1)[1]}"
                      for p in (ws.root / "samples").glob(f"*/{kind}-*.h5"))
        listed = f" (it has {kind} samples {', '.join(have)}: split/name)" if have else ""
        raise LwaError(
            f"no {kind} sample {name!r} for split {split} in {ws.root}{listed}; run "
            f"`lwa sample {kind} --split {split} --sample {name}` first")
    return path


def load_sample(ws: Workspace, split: str, kind: str, name: str) -> Sample:
    path = require_sample(ws, split, kind, name)
    with open_h5(path, KIND) as f:
        utts = read_columns(f, "utterances")
        tokens = subset = None
        if "tokens" in f:
            cols = read_columns(f, "tokens")
            subset = cols.pop("subset")
            tokens = Segments(**cols)
        return Sample(split=split, kind=kind, name=name, seed=int(f.attrs["seed"]),
                      utt_ids=utts["id"], audio_paths=utts["audio_path"],
                      durations=utts["duration"], tokens=tokens, subset=subset,
                      params=json_attr(f, "params", {}))


def invalidate_features(ws: Workspace, split: str, kind: str, name: str) -> list[str]:
    """Remove every model's features extracted from a sample that is being replaced, and the
    results computed from them; return the workspace paths removed (features first)."""
    removed = []
    features_root = ws.root / "features"
    if features_root.is_dir():
        for model_dir in sorted(p for p in features_root.iterdir() if p.is_dir()):
            sample_dir = model_dir / split / f"sample-{name}"
            if not sample_dir.is_dir():
                continue
            for stem in SPANS_OF_KIND[kind]:
                for path in sorted(sample_dir.glob(f"{stem}.*h5*")):
                    if path.name in (f"{stem}.h5", f"{stem}.h5.partial") or \
                            path.name.startswith(f"{stem}.part-"):
                        with write_lock(path, wait=ws.wait, what="feature file"):
                            path.unlink()
                        removed.append(ws.rel(path))
            if not any(p for p in sample_dir.iterdir() if not p.name.endswith(".lock")):
                shutil.rmtree(sample_dir)
    return removed + remove_dependent_results(ws, removed)
