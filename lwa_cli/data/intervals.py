"""Interval files in the ZeroSpeech / kamperh/vqwordseg layout, and their boundary scores.

Layout (vqwordseg ``eval_segmentation.get_intervals_from_dir`` and the writers of
``vq_wordseg.py``): one file ``<utt_id>.txt`` per utterance in one folder; one interval per
line, ``start end label`` separated by white space, ``start``/``end`` integer frames of 10 ms
(``end`` exclusive), in time order. vqwordseg writes labels like ``12_`` (cluster ids joined by
``_``); its ``main()`` maps hypothesis labels through ``int()``, so lwa writes ``0_`` by
default (the reference wrote ``xxx``, which makes that ``main()`` crash). An empty file
means "no intervals": vqwordseg drops such an utterance, and so does `score_intervals`.
Both of vqwordseg's writers (and lwa's) write consecutive intervals that partition the
utterance, and its reader keeps only the ends (the last one is the utterance length), so an
interval that starts before the previous one ends, or intervals out of time order, have no
meaning there: `read_intervals` refuses them at ``file:line``. ``allow_overlap=True`` accepts
overlaps (not disorder) and `overlap_count` says how many there were.

Scoring follows vqwordseg: an interval list becomes a boolean boundary vector of length = the
last ``end``, True at ``end − 1`` of every interval (`boundary_indices`);
``score_boundaries`` then drops the hypothesis' last boundary (the utterance end) and every
reference boundary at or beyond it, and matches greedily one-to-one within ``tolerance``
frames; ``score_word_token_boundaries`` counts a hypothesised word as correct when both its
edges lie within ``tolerance`` of a not yet matched reference word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.analysis.segmentation.boundaries import (
    BoundaryScores,
    greedy_match_counts,
    scores_from_counts,
    windows,
)
from lwa_cli.errors import LwaError

Interval = tuple[int, int, str]

#: Label lwa writes for a hypothesised word: vqwordseg's ``int()``-able cluster form.
DEFAULT_LABEL = "0_"


def check_utt_id(utt_id: str) -> str:
    """An utterance id usable as a file name (non-empty, no white space or path separator)."""
    if not utt_id or any(c.isspace() for c in utt_id) or "/" in utt_id or "\\" in utt_id:
        raise LwaError(f"utterance id {utt_id!r} cannot name an interval file: it must be "
                       "non-empty, without white space or '/'")  # fmt: skip
    return utt_id


def frames_to_intervals(
    boundary_frames: np.ndarray, n_frames: int, label: str = DEFAULT_LABEL
) -> list[Interval]:
    """Intervals in 10 ms frames from boundary frames at 20 ms, as the reference writes them.

    Edges ``[0] + (2·b + 1 for each boundary b) + [2·(T − 1) + 1]`` (the reference's
    ``word_segmentation_buckeye.py``), consecutive pairs as intervals; an utterance without
    boundaries is one interval. The reference also wrote the last line twice, which changes
    no score; lwa writes it once.
    """
    frames = np.sort(np.asarray(boundary_frames, dtype=np.int64))
    if n_frames < 1 or (frames.size and (frames[0] < 0 or frames[-1] >= n_frames - 1)):
        raise LwaError(f"boundary frames {frames.tolist()} do not lie inside an utterance of "
                       f"{n_frames} frames")  # fmt: skip
    edges = [0, *(2 * frames + 1).tolist(), 2 * (n_frames - 1) + 1]
    return [(a, b, label) for a, b in zip(edges[:-1], edges[1:], strict=True)]


#: 10 ms frames per second of the interval files.
FRAMES_PER_SECOND = 100
#: Label of a gap between words in reference interval files.
GAP_LABEL = "sil"


def words_to_intervals(
    starts: np.ndarray, ends: np.ndarray, labels: Sequence[str], duration: float
) -> list[Interval]:
    """Reference intervals in 10 ms frames covering ``[0, duration]`` from word segments.

    Every word onset and offset becomes an edge (``round(t · 100)``), the gaps between
    words (and before the first / after the last) become ``sil`` intervals, so the
    boundary set that vqwordseg reads back (the interval ends) holds every word onset and
    offset, as `reference_boundaries` does for the tuning. Words shorter than half a frame
    vanish (their edges coincide); a label with white space is written with ``_``.
    """
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    s = np.rint(starts * FRAMES_PER_SECOND).astype(np.int64)
    e = np.rint(ends * FRAMES_PER_SECOND).astype(np.int64)
    last = max(int(np.rint(duration * FRAMES_PER_SECOND)), int(e.max(initial=0)), 1)
    edges = np.unique(np.concatenate([[0, last], s, e]))
    word_of = {(int(a), int(b)): "_".join(str(label).split()) or GAP_LABEL
               for a, b, label in zip(s, e, labels, strict=True)}  # fmt: skip
    return [(int(a), int(b), word_of.get((int(a), int(b)), GAP_LABEL))
            for a, b in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip


def write_intervals(path: str | os.PathLike[str], intervals: Sequence[Interval]) -> None:
    """Write one utterance's intervals as ``start end label`` lines."""
    lines = []
    for start, end, label in intervals:
        if not label or any(c.isspace() for c in label):
            raise LwaError(f"interval label {label!r} must be non-empty without white space")
        lines.append(f"{int(start):d} {int(end):d} {label}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def write_interval_dir(
    directory: str | os.PathLike[str], intervals: Mapping[str, Sequence[Interval]]
) -> list[Path]:
    """Write ``<directory>/<utt_id>.txt`` for every utterance; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for utt_id, utt_intervals in intervals.items():
        path = directory / f"{check_utt_id(utt_id)}.txt"
        write_intervals(path, utt_intervals)
        paths.append(path)
    return paths


def read_intervals(path: str | os.PathLike[str], *, allow_overlap: bool = False,
                   ) -> list[Interval]:
    """Read one interval file; errors name ``file:line``. Blank lines are ignored.

    Intervals must be in time order (neither start nor end before the previous one's) and,
    unless `allow_overlap`, must not start before the previous interval ends.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaError(f"cannot read interval file {path} ({exc})") from exc
    intervals: list[Interval] = []
    previous = (0, 0)
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise LwaError(f"{path}:{number}: expected 'start end label', got {line.strip()!r}")
        try:
            start, end = int(fields[0]), int(fields[1])
        except ValueError as exc:
            raise LwaError(f"{path}:{number}: start and end must be integer frames, got "
                           f"{line.strip()!r}") from exc  # fmt: skip
        if not 0 <= start < end:
            raise LwaError(f"{path}:{number}: need 0 <= start < end, got {start} {end}")
        if end < previous[1] or start < previous[0]:
            raise LwaError(f"{path}:{number}: intervals out of time order ({start} {end} after "
                           f"{previous[0]} {previous[1]})")  # fmt: skip
        if start < previous[1] and not allow_overlap:
            raise LwaError(f"{path}:{number}: interval {start} {end} overlaps the previous one "
                           f"({previous[0]} {previous[1]}); interval files partition the "
                           "utterance (fix the file, or pass --allow-overlap to score it as it "
                           "is)")  # fmt: skip
        previous = (start, end)
        intervals.append((start, end, fields[2]))
    return intervals


def overlap_count(intervals: Sequence[Interval]) -> int:
    """How many intervals start before the previous one ends."""
    return sum(1 for (_, end, _), (start, _, _) in zip(intervals[:-1], intervals[1:], strict=True)
               if start < end)


def read_interval_dir(directory: str | os.PathLike[str], *, allow_overlap: bool = False,
                      ) -> dict[str, list[Interval]]:
    """All ``*.txt`` interval files of a folder, by utterance id (file stem), sorted by id."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LwaError(f"interval folder not found: {directory}")
    return {path.stem: read_intervals(path, allow_overlap=allow_overlap)
            for path in sorted(directory.glob("*.txt"))}


def boundary_indices(intervals: Sequence[Interval]) -> tuple[np.ndarray, int]:
    """vqwordseg ``intervals_to_boundaries`` as (sorted unique True indices, vector length)."""
    ends = np.array([end for _, end, _ in intervals], dtype=np.int64)
    return np.unique(ends - 1), int(ends[-1])


def _token_edges(bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vqwordseg ``boundaries_to_intervals``: word (start, end) from sorted boundary indices."""
    ends = bounds + 1
    return np.concatenate([[0], ends[:-1]]), ends


@dataclass(frozen=True)
class IntervalScores:
    """Scores of a hypothesis folder against a reference folder.

    ``boundary`` is vqwordseg's word-boundary block (P, R, F, OS, R-value); ``word_token``
    its word-token block (P, R, F, OS; its R-value is computed the same way, vqwordseg does not
    print one). ``utt_ids`` were scored; ``missing_ref`` have a hypothesis but no reference
    file; ``empty`` have an empty file on either side (dropped, as vqwordseg drops them);
    ``overlaps`` counts the overlapping intervals of the scored files (both sides).
    """

    boundary: BoundaryScores
    word_token: BoundaryScores
    utt_ids: tuple[str, ...]
    missing_ref: tuple[str, ...]
    empty: tuple[str, ...]
    overlaps: int = 0


def _pad(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(lo) for lo, _ in rows), default=0)
    lo_all = np.full((len(rows), width), -1, dtype=np.int64)
    hi_all = np.full((len(rows), width), -1, dtype=np.int64)
    for i, (lo, hi) in enumerate(rows):
        lo_all[i, : len(lo)] = lo
        hi_all[i, : len(hi)] = hi
    return lo_all, hi_all


def score_intervals(
    refs: Mapping[str, Sequence[Interval]],
    hyps: Mapping[str, Sequence[Interval]],
    tolerance: int = 2,
) -> IntervalScores:
    """vqwordseg word-boundary and word-token scores of ``hyps`` against ``refs``.

    Every utterance of ``hyps`` is scored against the same id in ``refs``; one without a
    reference is skipped and listed (vqwordseg warns "files missing"), references without a
    hypothesis are not read, as in vqwordseg.
    """
    if isinstance(tolerance, bool) or int(tolerance) != tolerance or tolerance < 0:
        raise LwaError(f"tolerance must be a whole number of frames >= 0, got {tolerance!r}")
    missing = tuple(u for u in hyps if u not in refs)
    empty = tuple(u for u in hyps if u in refs and (not hyps[u] or not refs[u]))
    scored = tuple(u for u in hyps if u in refs and hyps[u] and refs[u])
    if not scored:
        raise LwaError("no utterance has both a reference and a hypothesis interval file")
    n = {"b_pred": 0, "b_ref": 0, "t_pred": 0, "t_ref": 0}
    boundary_rows, token_rows = [], []
    for utt in scored:
        ref, ref_len = boundary_indices(refs[utt])
        seg, seg_len = boundary_indices(hyps[utt])
        # score_boundaries: drop the hypothesis' last boundary and truncate the reference.
        b_ref, b_seg = ref[ref < seg_len - 1], seg[seg < seg_len - 1]
        n["b_pred"] += len(b_seg)
        n["b_ref"] += len(b_ref)
        boundary_rows.append(windows(b_seg, b_ref, tolerance))
        # score_word_token_boundaries: truncate a longer reference, its last frame a boundary.
        if ref_len > seg_len:
            ref = np.union1d(ref[ref < seg_len], [seg_len - 1])
        r_start, r_end = _token_edges(ref)
        s_start, s_end = _token_edges(seg)
        n["t_pred"] += len(s_start)
        n["t_ref"] += len(r_start)
        lo = np.maximum(np.searchsorted(r_start + tolerance, s_start, side="left"),
                        np.searchsorted(r_end + tolerance, s_end, side="left"))  # fmt: skip
        hi = np.minimum(
            np.searchsorted(np.maximum(0, r_start - tolerance), s_start, side="right"),
            np.searchsorted(r_end - tolerance, s_end, side="right"),
        )
        token_rows.append((lo, hi))
    b_hit = int(greedy_match_counts(*_pad(boundary_rows)).sum())
    t_hit = int(greedy_match_counts(*_pad(token_rows)).sum())
    return IntervalScores(
        boundary=scores_from_counts(n["b_pred"], n["b_ref"], b_hit, b_hit, "one-to-one"),
        word_token=scores_from_counts(n["t_pred"], n["t_ref"], t_hit, t_hit, "one-to-one"),
        utt_ids=scored,
        missing_ref=missing,
        empty=empty,
        overlaps=sum(overlap_count(refs[u]) + overlap_count(hyps[u]) for u in scored),
    )


def score_interval_dirs(
    ref_dir: str | os.PathLike[str], hyp_dir: str | os.PathLike[str], tolerance: int = 2,
    *, allow_overlap: bool = False,
) -> IntervalScores:
    """`score_intervals` of the interval files of two folders (``lwa segment score``)."""
    hyps = read_interval_dir(hyp_dir, allow_overlap=allow_overlap)
    if not hyps:
        raise LwaError(f"no *.txt interval files in {hyp_dir}")
    ref_dir = Path(ref_dir)
    if not ref_dir.is_dir():
        raise LwaError(f"reference interval folder not found: {ref_dir}")
    refs = {u: read_intervals(ref_dir / f"{u}.txt", allow_overlap=allow_overlap) for u in hyps
            if (ref_dir / f"{u}.txt").is_file()}  # fmt: skip
    return score_intervals(refs, hyps, tolerance)
