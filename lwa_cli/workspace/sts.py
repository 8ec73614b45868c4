"""Storage of spoken STS sets: utterances, rows (speaker x sentence pair) and their scores.

Layout (see docs/workspace.md)::

    sts/<name>/pairs.h5          the set (kind "sts"), stamped with a content fingerprint
    sts/<name>/audio/<utt>.wav   16 kHz audio decoded from parquet shards (TSV sets reference
                                 their files where they are, by absolute path)

The utterances are also stored as a sample of kind ``utt`` of the pseudo-split ``sts``
(``samples/sts/utt-<name>.h5``), which `lwa extract --split sts --sample <name> --span utt`
reads like any other sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lwa_cli.errors import LwaError, did_you_mean
from lwa_cli.workspace.core import Workspace, atomic_h5, check_name, open_h5
from lwa_cli.workspace.provenance import array_digest
from lwa_cli.workspace.tables import read_columns, write_columns

KIND = "sts"
#: The pseudo-split whose ``utt`` samples hold the utterances of the STS sets.
STS_SPLIT = "sts"


@dataclass(frozen=True)
class StoredSTS:
    """A spoken STS set as stored: utterances (in reading order) and rows.

    ``utt_a`` / ``utt_b`` index `utt_ids`; ``scores`` repeat the pair's similarity on each
    of its rows; ``score_note`` says what the scores are (human judgements or computed).
    """

    name: str
    source: str
    source_kind: str  # "parquet" or "tsv"
    source_fingerprint: str
    score_note: str
    utt_ids: np.ndarray
    utt_speakers: np.ndarray
    audio_paths: np.ndarray
    durations: np.ndarray
    audio_digests: np.ndarray
    pair_ids: np.ndarray
    pair_speakers: np.ndarray
    utt_a: np.ndarray
    utt_b: np.ndarray
    scores: np.ndarray

    @property
    def fingerprint(self) -> str:
        """Content hash over utterances (ids, speakers, audio bytes, durations) and rows."""
        return array_digest(self.utt_ids, self.utt_speakers, self.audio_digests,
                            np.asarray(self.durations, dtype=np.float64), self.pair_ids,
                            self.pair_speakers, np.asarray(self.utt_a, dtype=np.int64),
                            np.asarray(self.utt_b, dtype=np.int64),
                            np.asarray(self.scores, dtype=np.float64))

    @property
    def n_sentence_pairs(self) -> int:
        return int(np.unique(self.pair_ids).size)


def sts_dir(ws: Workspace, name: str):
    return ws.root / "sts" / check_name(name, "STS set name")


def sts_path(ws: Workspace, name: str):
    return sts_dir(ws, name) / "pairs.h5"


def sts_audio_dir(ws: Workspace, name: str):
    return sts_dir(ws, name) / "audio"


def sts_names(ws: Workspace) -> list[str]:
    """Names of the stored STS sets."""
    root = ws.root / "sts"
    return sorted(p.parent.name for p in root.glob("*/pairs.h5")) if root.is_dir() else []


def has_sts(ws: Workspace, name: str) -> bool:
    return sts_path(ws, name).is_file()


def _missing(ws: Workspace, name: str) -> LwaError:
    known = sts_names(ws)
    have = f"; stored sets: {', '.join(known)}" if known else ""
    return LwaError(f"no STS set {name!r} in {ws.root}{did_you_mean(name, known)}{have}; run "
                    f"`lwa prepare-sts --from DIR_OR_TSV --name {name}` first")


def save_sts(ws: Workspace, sts: StoredSTS) -> str:
    """Store a set atomically; the caller holds its write lock. Returns the path."""
    path = sts_path(ws.ensure(), sts.name)
    with atomic_h5(path, KIND, name=sts.name, source=sts.source, source_kind=sts.source_kind,
                   source_fingerprint=sts.source_fingerprint, score_note=sts.score_note,
                   fingerprint=sts.fingerprint) as f:
        write_columns(f, "utterances", {"id": sts.utt_ids, "speaker": sts.utt_speakers,
                                        "audio_path": sts.audio_paths,
                                        "duration": np.asarray(sts.durations, np.float64),
                                        "audio_digest": sts.audio_digests})
        write_columns(f, "pairs", {"pair_id": sts.pair_ids, "speaker": sts.pair_speakers,
                                   "utt_a": np.asarray(sts.utt_a, np.int64),
                                   "utt_b": np.asarray(sts.utt_b, np.int64),
                                   "score": np.asarray(sts.scores, np.float64)})
    return str(path)


def load_sts(ws: Workspace, name: str) -> StoredSTS:
    """A stored set, or an error naming the stored ones and the command that makes it."""
    ws.check()
    path = sts_path(ws, name)
    if not path.is_file():
        raise _missing(ws, name)
    with open_h5(path, KIND) as f:
        utts, pairs = read_columns(f, "utterances"), read_columns(f, "pairs")
        attrs = {k: str(f.attrs[k]) for k in ("source", "source_kind", "source_fingerprint",
                                              "score_note", "fingerprint")}
    sts = StoredSTS(name=name, source=attrs["source"], source_kind=attrs["source_kind"],
                    source_fingerprint=attrs["source_fingerprint"],
                    score_note=attrs["score_note"], utt_ids=utts["id"],
                    utt_speakers=utts["speaker"], audio_paths=utts["audio_path"],
                    durations=utts["duration"], audio_digests=utts["audio_digest"],
                    pair_ids=pairs["pair_id"], pair_speakers=pairs["speaker"],
                    utt_a=pairs["utt_a"], utt_b=pairs["utt_b"], scores=pairs["score"])
    if sts.fingerprint != attrs["fingerprint"]:
        raise LwaError(f"{path} does not match its fingerprint (modified by hand?); run "
                       f"`lwa prepare-sts --from {attrs['source']} --name {name} --force`")
    return sts


def stored_sts_fingerprint(ws: Workspace, name: str) -> str | None:
    """The content fingerprint of a stored set, None when there is none."""
    path = sts_path(ws, name)
    if not path.is_file():
        return None
    with open_h5(path, KIND) as f:
        return str(f.attrs["fingerprint"])


def stored_source_fingerprint(ws: Workspace, name: str) -> str | None:
    """Fingerprint of the source a stored set was read from, None when there is none."""
    path = sts_path(ws, name)
    if not path.is_file():
        return None
    with open_h5(path, KIND) as f:
        return str(f.attrs["source_fingerprint"])
