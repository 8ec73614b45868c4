"""Alignments of a split as flat arrays: utterances, phone segments and word segments.

`prepare_split` reads every TextGrid of a real LibriSpeech split, pairs it with its audio file
and returns one `SplitAlignments`; `merge_splits` joins real splits into a virtual one
(``train-clean``, ``train``); `inventory` counts labels for the phone and word inventories.
Nothing here writes files: the workspace module stores these dataclasses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.data.audio import audio_duration
from lwa_cli.data.corpus import find_alignments, find_audio
from lwa_cli.data.textgrid import Interval, MalformedTextGridError, read_textgrid
from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class Segments:
    """Time segments (phones or words) of a split, one row per segment.

    Rows are grouped by utterance (in ``utt_ids`` order) and in time order within one.

    Attributes
    ----------
    utt_index : np.ndarray
        int32 index into `SplitAlignments.utt_ids`.
    start, end : np.ndarray
        float64 seconds.
    label : np.ndarray
        numpy unicode labels (phones: the 39 + ``SIL``; words: lower-case, ``<unk>`` kept).
    """

    utt_index: np.ndarray
    start: np.ndarray
    end: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return int(self.utt_index.shape[0])


@dataclass(frozen=True)
class SplitAlignments:
    """Utterances of one (real or merged) split with their phone and word segments.

    Attributes
    ----------
    split : str
        Split name.
    utt_ids : np.ndarray
        Utterance ids (str), sorted.
    audio_paths : np.ndarray
        Absolute audio paths (str), aligned with ``utt_ids``.
    durations : np.ndarray
        float64 seconds, from the audio file header.
    phones, words : Segments
        Segments of the included utterances.
    missing_audio : tuple of str
        Utterance ids that have an alignment but no audio file (not included).
    skipped_bad : tuple of str
        Paths of malformed TextGrids (and unreadable audio files) skipped with ``skip_bad``.
    """

    split: str
    utt_ids: np.ndarray
    audio_paths: np.ndarray
    durations: np.ndarray
    phones: Segments
    words: Segments
    missing_audio: tuple[str, ...]
    skipped_bad: tuple[str, ...]


_EMPTY_SEGMENTS = Segments(
    utt_index=np.zeros(0, dtype=np.int32),
    start=np.zeros(0, dtype=np.float64),
    end=np.zeros(0, dtype=np.float64),
    label=np.zeros(0, dtype="<U1"),
)


def _segments_of(utt_index: int, intervals: list[Interval]) -> Segments:
    """Compact arrays for one utterance's intervals (lists of tuples cost ~10x the memory)."""
    if not intervals:
        return _EMPTY_SEGMENTS
    labels, starts, ends = zip(*intervals, strict=True)
    return Segments(
        utt_index=np.full(len(intervals), utt_index, dtype=np.int32),
        start=np.asarray(starts, dtype=np.float64),
        end=np.asarray(ends, dtype=np.float64),
        label=np.asarray(labels, dtype=np.str_),
    )


def _concat_segments(parts: Sequence[Segments]) -> Segments:
    """Concatenate `Segments` (utterance indices are taken as they are)."""
    parts = [_EMPTY_SEGMENTS, *parts]  # so that no parts gives empty, correctly typed arrays
    return Segments(
        utt_index=np.concatenate([p.utt_index for p in parts]).astype(np.int32, copy=False),
        start=np.concatenate([p.start for p in parts]).astype(np.float64, copy=False),
        end=np.concatenate([p.end for p in parts]).astype(np.float64, copy=False),
        label=np.concatenate([p.label for p in parts]).astype(np.str_, copy=False),
    )


def prepare_split(
    corpus_root: str | os.PathLike[str],
    align_root: str | os.PathLike[str],
    split: str,
    *,
    skip_bad: bool = False,
    max_mismatch: float = 0.1,
    progress: Callable[[int], object] | None = None,
) -> SplitAlignments:
    """Read the alignments and audio durations of one real split.

    Parameters
    ----------
    corpus_root : path-like
        LibriSpeech root holding ``<split>/<speaker>/<chapter>/<utt>.flac``.
    align_root : path-like
        Alignment root holding ``<split>/.../<utt>.TextGrid``.
    split : str
        A real split name (see `lwa_cli.data.corpus.SPLITS`).
    skip_bad : bool
        Skip (and record) malformed TextGrids, unreadable audio files and alignments that do
        not fit their audio instead of failing.
    max_mismatch : float
        Largest allowed difference in seconds between where a TextGrid ends and the length
        of its audio; more means the alignment belongs to another recording.
    progress : callable, optional
        Called with ``1`` after each TextGrid is handled (the total is the number of
        TextGrids, ``len(find_alignments(align_root, split))``).

    Returns
    -------
    SplitAlignments
        Utterances that have both an alignment and audio, sorted by id.

    Raises
    ------
    LwaError
        A split directory is missing, there are no TextGrids, no aligned utterance has audio,
        or (without ``skip_bad``) a TextGrid is malformed or an audio file unreadable.
    """
    alignment_files = find_alignments(align_root, split)
    audio_files = find_audio(corpus_root, split)
    if not alignment_files:
        raise LwaError(
            f"no TextGrid files found under {Path(align_root).expanduser().absolute() / split}; "
            "check the alignment root"
        )

    utt_ids: list[str] = []
    audio_paths: list[str] = []
    durations: list[float] = []
    word_parts: list[Segments] = []
    phone_parts: list[Segments] = []
    missing_audio: list[str] = []
    skipped_bad: list[str] = []

    for utt_id, tg_path in alignment_files.items():  # sorted by utterance id
        audio_path = audio_files.get(utt_id)
        try:
            if audio_path is None:
                missing_audio.append(utt_id)
                continue
            try:
                alignment = read_textgrid(tg_path)
            except MalformedTextGridError:
                if not skip_bad:
                    raise
                skipped_bad.append(str(tg_path))
                continue
            try:
                duration = audio_duration(audio_path)
            except LwaError:
                if not skip_bad:
                    raise
                skipped_bad.append(str(audio_path))
                continue
            try:
                _check_fit(tg_path, alignment.end, audio_path, duration, max_mismatch)
            except LwaError:
                if not skip_bad:
                    raise
                skipped_bad.append(str(tg_path))
                continue
            word_parts.append(_segments_of(len(utt_ids), alignment.words))
            phone_parts.append(_segments_of(len(utt_ids), alignment.phones))
            utt_ids.append(utt_id)
            audio_paths.append(str(audio_path))
            durations.append(duration)
        finally:
            if progress is not None:
                progress(1)

    if not utt_ids:
        raise LwaError(
            f"none of the {len(alignment_files)} aligned utterances of split {split!r} could be "
            f"used ({len(missing_audio)} without audio under "
            f"{Path(corpus_root).expanduser().absolute() / split}, {len(skipped_bad)} skipped "
            "as bad); check that the corpus and alignment roots belong together"
        )

    return SplitAlignments(
        split=split,
        utt_ids=np.asarray(utt_ids, dtype=np.str_),
        audio_paths=np.asarray(audio_paths, dtype=np.str_),
        durations=np.asarray(durations, dtype=np.float64),
        phones=_concat_segments(phone_parts),
        words=_concat_segments(word_parts),
        missing_audio=tuple(missing_audio),
        skipped_bad=tuple(skipped_bad),
    )


def _check_fit(tg_path: Path, end: float, audio_path: Path, duration: float,
               max_mismatch: float) -> None:
    """An alignment must end where its audio ends (within `max_mismatch` seconds)."""
    if abs(end - duration) > max_mismatch:
        raise LwaError(
            f"{tg_path} ends at {end:.2f} s but its audio {audio_path} lasts {duration:.2f} s "
            f"(more than --max-mismatch {max_mismatch:g} s apart): the alignment does not belong "
            "to this recording; fix it, or pass --skip-bad to leave such utterances out")


def _reindex(segments: Sequence[Segments], offsets: np.ndarray, rank: np.ndarray) -> Segments:
    """Concatenate per-part segments, map their utterance indices through ``rank`` and regroup.

    A stable sort on the new utterance index keeps each utterance's segments in time order.
    """
    joined = _concat_segments(segments)
    shifted = np.concatenate(
        [s.utt_index.astype(np.int64) + off for s, off in zip(segments, offsets, strict=True)]
    )
    new_index = rank[shifted] if shifted.size else shifted
    order = np.argsort(new_index, kind="stable")
    return Segments(
        utt_index=new_index[order].astype(np.int32),
        start=joined.start[order],
        end=joined.end[order],
        label=joined.label[order],
    )


def merge_splits(parts: Sequence[SplitAlignments], name: str) -> SplitAlignments:
    """Join real splits into one (a virtual split such as ``train-clean``).

    Parameters
    ----------
    parts : sequence of SplitAlignments
        The constituent splits.
    name : str
        Name of the merged split.

    Returns
    -------
    SplitAlignments
        Utterances re-sorted by id, segments re-indexed and grouped by utterance; the
        missing/skipped records are concatenated.

    Raises
    ------
    LwaError
        If ``parts`` is empty or an utterance id occurs in two parts.
    """
    if not parts:
        raise LwaError(f"cannot build split {name!r}: none of its constituent splits is prepared")
    utt_ids = np.concatenate([p.utt_ids for p in parts]).astype(np.str_)
    unique, counts = np.unique(utt_ids, return_counts=True)
    if np.any(counts > 1):
        dup = unique[counts > 1]
        raise LwaError(
            f"cannot build split {name!r}: utterance {dup[0]} occurs in more than one of "
            f"{', '.join(p.split for p in parts)} ({dup.size} duplicates)"
        )
    order = np.argsort(utt_ids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    offsets = np.cumsum([0] + [p.utt_ids.size for p in parts[:-1]])
    return SplitAlignments(
        split=name,
        utt_ids=utt_ids[order],
        audio_paths=np.concatenate([p.audio_paths for p in parts]).astype(np.str_)[order],
        durations=np.concatenate([p.durations for p in parts]).astype(np.float64)[order],
        phones=_reindex([p.phones for p in parts], offsets, rank),
        words=_reindex([p.words for p in parts], offsets, rank),
        missing_audio=tuple(u for p in parts for u in p.missing_audio),
        skipped_bad=tuple(s for p in parts for s in p.skipped_bad),
    )


def inventory(labels: np.ndarray, exclude: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Count labels, most frequent first.

    Parameters
    ----------
    labels : np.ndarray
        Segment labels (str).
    exclude : sequence of str
        Labels left out of the inventory (e.g. ``("SIL",)``).

    Returns
    -------
    (labels, counts) : tuple of np.ndarray
        Distinct labels and their int64 counts, sorted by count (descending), ties by label
        (ascending) so the order is deterministic.
    """
    unique, counts = np.unique(np.asarray(labels, dtype=np.str_), return_counts=True)
    if len(exclude):
        keep = ~np.isin(unique, np.asarray(list(exclude), dtype=np.str_))
        unique, counts = unique[keep], counts[keep]
    # np.unique sorts labels ascending, so a stable sort on -count breaks ties by label.
    order = np.argsort(-counts, kind="stable")
    return unique[order], counts[order].astype(np.int64)
