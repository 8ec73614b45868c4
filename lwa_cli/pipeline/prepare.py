"""`lwa prepare-alignments`: LibriSpeech audio + MFA TextGrids -> per-split alignment files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.data.alignments import SplitAlignments, merge_splits, prepare_split
from lwa_cli.data.corpus import expand_split
from lwa_cli.errors import LwaError
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import has_alignments, load_alignments, save_alignments


@dataclass(frozen=True)
class PrepareSummary:
    """What one split's preparation found."""

    split: str
    status: str  # "prepared" or "exists"
    utterances: int
    phone_segments: int
    word_segments: int
    phone_types: int
    word_types: int
    missing_audio: int
    skipped_bad: int

    @classmethod
    def of(cls, aligned: SplitAlignments, status: str) -> PrepareSummary:
        return cls(split=aligned.split, status=status, utterances=len(aligned.utt_ids),
                   phone_segments=len(aligned.phones.label),
                   word_segments=len(aligned.words.label),
                   phone_types=len(np.unique(aligned.phones.label)),
                   word_types=len(np.unique(aligned.words.label)),
                   missing_audio=len(aligned.missing_audio),
                   skipped_bad=len(aligned.skipped_bad))


def prepare_alignments(ws: Workspace, corpus_root: Path, alignments_root: Path,
                       splits: Sequence[str], *, skip_bad: bool = False,
                       max_mismatch: float = 0.1, force: bool = False,
                       reporter: Reporter = SILENT) -> list[PrepareSummary]:
    """Read the alignments of each split (virtual splits expand to their members) into `ws`.

    A split that is already prepared is left as it is unless `force`. Members of a virtual
    split that are absent from the corpus are skipped with a warning.
    """
    corpus_root, alignments_root = Path(corpus_root), Path(alignments_root)
    for root, what in ((corpus_root, "corpus"), (alignments_root, "alignments")):
        if not root.is_dir():
            raise LwaError(f"{what} directory {root} does not exist")
    real: list[str] = []
    for split in splits:
        members = expand_split(split)
        present = [m for m in members if (corpus_root / m).is_dir()]
        if len(members) > 1:
            if not present:
                raise LwaError(f"none of {', '.join(members)} (split {split}) is in {corpus_root}")
            for m in members:
                if m not in present:
                    reporter.warn(f"{split}: {m} is not in {corpus_root}; using "
                                  f"{', '.join(present)}")
        else:
            present = list(members)
        real.extend(m for m in present if m not in real)
    ws.ensure()
    summaries = []
    for split in real:
        if has_alignments(ws, split) and not force:
            summaries.append(PrepareSummary.of(load_alignments(ws, split), "exists"))
            continue
        n_files = sum(1 for _ in (alignments_root / split).rglob("*.TextGrid")) \
            if (alignments_root / split).is_dir() else None
        with reporter.task(f"alignments {split}", n_files, "utt") as advance:
            aligned = prepare_split(corpus_root, alignments_root, split, skip_bad=skip_bad,
                                    max_mismatch=max_mismatch, progress=advance)
        if aligned.missing_audio:
            reporter.warn(f"{split}: {len(aligned.missing_audio)} alignment(s) have no audio file "
                          f"and were left out (e.g. {aligned.missing_audio[0]})")
        if aligned.skipped_bad:
            reporter.warn(f"{split}: skipped {len(aligned.skipped_bad)} malformed TextGrid(s), "
                          "unreadable audio file(s) or alignment(s) that do not fit their audio "
                          f"(e.g. {aligned.skipped_bad[0]})")
        if len(aligned.utt_ids) == 0:
            raise LwaError(f"{split}: no utterance has both audio and an alignment "
                           f"(corpus {corpus_root}, alignments {alignments_root})")
        save_alignments(ws, aligned, corpus_root=str(corpus_root.resolve()),
                        alignments_root=str(alignments_root.resolve()))
        summaries.append(PrepareSummary.of(aligned, "prepared"))
    return summaries


def load_split(ws: Workspace, split: str, reporter: Reporter = SILENT) -> SplitAlignments:
    """The alignments of a real or virtual split (virtual: the prepared members, merged)."""
    members = expand_split(split)
    present = [m for m in members if has_alignments(ws, m)]
    if not present:
        raise LwaError(
            f"split {split} is not prepared in {ws.root}; run `lwa prepare-alignments "
            f"--corpus ROOT --alignments ALIGN_ROOT --split {split}` first")
    if len(members) == 1:
        return load_alignments(ws, split)
    missing = [m for m in members if m not in present]
    if missing:
        reporter.warn(f"{split}: using {', '.join(present)} ({', '.join(missing)} not prepared)")
    return merge_splits([load_alignments(ws, m) for m in present], split)
