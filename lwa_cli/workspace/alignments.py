"""Storage of prepared alignments: one HDF5 file per real split."""

from __future__ import annotations

import numpy as np

from lwa_cli.data.alignments import Segments, SplitAlignments, inventory
from lwa_cli.workspace.core import Workspace, atomic_h5, json_attr, open_h5
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import array_digest
from lwa_cli.workspace.tables import read_columns, write_columns

KIND = "alignments"


def _segment_columns(seg: Segments) -> dict[str, np.ndarray]:
    return {"utt_index": seg.utt_index, "start": seg.start, "end": seg.end, "label": seg.label}


def save_alignments(ws: Workspace, aligned: SplitAlignments, *, corpus_root: str,
                    alignments_root: str) -> None:
    """Write one split's alignments and its phone/word inventories (counts kept)."""
    path = ws.ensure().alignments_path(aligned.split)
    fingerprint = array_digest(
        aligned.utt_ids, aligned.durations,
        *(getattr(seg, c) for seg in (aligned.phones, aligned.words)
          for c in ("utt_index", "start", "end", "label")))
    with write_lock(path, wait=ws.wait, what="alignments"), \
            atomic_h5(path, KIND, split=aligned.split, corpus_root=corpus_root,
                      fingerprint=fingerprint,
                      alignments_root=alignments_root,
                      missing_audio=list(aligned.missing_audio),
                      skipped_bad=list(aligned.skipped_bad)) as f:
        write_columns(f, "utterances", {"id": aligned.utt_ids, "audio_path": aligned.audio_paths,
                                        "duration": aligned.durations})
        write_columns(f, "phones", _segment_columns(aligned.phones))
        write_columns(f, "words", _segment_columns(aligned.words))
        inv = f.create_group("inventory")
        for name, seg in (("phones", aligned.phones), ("words", aligned.words)):
            labels, counts = inventory(seg.label)
            write_columns(inv, name, {"label": labels, "count": counts})


def has_alignments(ws: Workspace, split: str) -> bool:
    return ws.alignments_path(split).is_file()


def alignments_fingerprint(ws: Workspace, split: str) -> str:
    """Content fingerprint of one real split's alignments (recorded by samples)."""
    with open_h5(ws.alignments_path(split), KIND) as f:
        return str(f.attrs["fingerprint"])


def load_alignments(ws: Workspace, split: str) -> SplitAlignments:
    """Load one real split's alignments written by `save_alignments`."""
    with open_h5(ws.alignments_path(split), KIND) as f:
        utts = read_columns(f, "utterances")
        phones = read_columns(f, "phones")
        words = read_columns(f, "words")
        return SplitAlignments(
            split=split, utt_ids=utts["id"], audio_paths=utts["audio_path"],
            durations=utts["duration"], phones=Segments(**phones), words=Segments(**words),
            missing_audio=tuple(json_attr(f, "missing_audio", [])),
            skipped_bad=tuple(json_attr(f, "skipped_bad", [])))


def load_inventory(ws: Workspace, split: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """The (labels, counts) inventory of `unit` ("phones" or "words") of one real split."""
    with open_h5(ws.alignments_path(split), KIND) as f:
        cols = read_columns(f["inventory"], unit)
    return cols["label"], cols["count"]
