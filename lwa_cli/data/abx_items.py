"""ABX items: phone tokens with context and speaker, from alignments or a Libri-Light .item file.

An item is one phone token: file (utterance id), onset and offset (s), phone, previous and next
phone, speaker — the columns of Libri-Light's ``.item`` files
(``#file onset offset #phone prev-phone next-phone speaker``, one header line).

Built from prepared alignments (`items_from_alignments`), every token of the 39 phones is an item,
silences are not; a neighbour that is silence, the utterance edge, or a gap left by a dropped
``sp``/``spn`` label is ``SIL`` (as in the ZeroSpeech / Libri-Light item files, whose contexts
include ``SIL``). The speaker is the LibriSpeech speaker id (the utterance id's first field).

Frame selection (`frame_range`) follows the reference implementation exactly: with frame period
T (the layer's, in seconds) and ``step = 1 / T``, an item takes frames
``[max(0, ceil(step·onset − 0.5)), min(n, floor(step·offset − 0.5)))``, i.e. frame i is taken
to sit at time (i + ½)·T and the end index is exclusive; an item whose range is empty (shorter
than about one frame) is skipped, as the reference does. `tokens_for` turns items into
`AbxTokens` over a frame array, in the reference's dataset order (files in the given order,
items in item order within a file) with ids in order of first appearance in the items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.analysis.abx import AbxTokens
from lwa_cli.data.alignments import SplitAlignments
from lwa_cli.data.phones import SIL
from lwa_cli.errors import LwaError

HEADER = "#file onset offset #phone prev-phone next-phone speaker"
_TOUCH = 1e-6  # seconds: segments closer than this are adjacent


@dataclass(frozen=True)
class AbxItems:
    """Items as parallel arrays (str for names, float64 seconds for times)."""

    file: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    phone: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    speaker: np.ndarray

    def __len__(self) -> int:
        return int(self.file.shape[0])


def read_item_file(path: str | Path) -> AbxItems:
    """Read a Libri-Light ``.item`` file (the first line is a header and is skipped)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError as exc:
        raise LwaError(f"items_file={path}: cannot read ({exc.strerror})",
                       params=("items_file",)) from exc
    rows = []
    for number, line in enumerate(lines, start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 7:
            raise LwaError(f"items_file={path}, line {number}: expected 7 columns (file "
                           f"onset offset phone prev next speaker), got {len(fields)}",
                           params=("items_file",))
        rows.append(fields)
    if not rows:
        raise LwaError(f"items_file={path}: no items", params=("items_file",))
    cols = list(zip(*rows, strict=True))
    try:
        onset, offset = np.array(cols[1], np.float64), np.array(cols[2], np.float64)
    except ValueError as exc:
        raise LwaError(f"items_file={path}: onset/offset must be numbers ({exc})",
                       params=("items_file",)) from exc
    return AbxItems(*(np.array(cols[0], str), onset, offset,
                      *(np.array(c, str) for c in cols[3:])))


def write_item_file(items: AbxItems, path: str | Path) -> Path:
    """Write items as a Libri-Light ``.item`` file (times written exactly: ``repr`` of floats)."""
    path = Path(path)
    lines = [HEADER] + [
        f"{f} {float(on)!r} {float(off)!r} {p} {a} {b} {s}"
        for f, on, off, p, a, b, s in zip(items.file, items.onset, items.offset, items.phone,
                                          items.prev, items.next, items.speaker, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def items_from_alignments(aligned: SplitAlignments, utt_ids: Sequence[str]) -> AbxItems:
    """Items of the phone tokens of `utt_ids` (in that order), contexts as in the module doc."""
    where = {str(u): i for i, u in enumerate(aligned.utt_ids)}
    missing = [str(u) for u in utt_ids if str(u) not in where]
    if missing:
        raise LwaError(f"{len(missing)} utterance(s) of the sample are not in the prepared "
                       f"alignments of {aligned.split} (e.g. {missing[0]})")
    ph = aligned.phones
    offsets = np.searchsorted(ph.utt_index, np.arange(len(aligned.utt_ids) + 1), side="left")
    parts: list[tuple] = []
    for utt in utt_ids:
        i = where[str(utt)]
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        labels = ph.label[lo:hi].astype(str)
        start, end = ph.start[lo:hi], ph.end[lo:hi]
        n = hi - lo
        if n == 0:
            continue
        prev = np.full(n, SIL, dtype=object)
        nxt = np.full(n, SIL, dtype=object)
        touch_prev = np.abs(start[1:] - end[:-1]) < _TOUCH
        prev[1:] = np.where(touch_prev, labels[:-1], SIL)
        nxt[:-1] = np.where(touch_prev, labels[1:], SIL)
        keep = labels != SIL
        speaker = str(utt).split("-")[0]
        parts.append((np.full(int(keep.sum()), str(utt)), start[keep], end[keep], labels[keep],
                      prev[keep].astype(str), nxt[keep].astype(str),
                      np.full(int(keep.sum()), speaker)))
    if not parts:
        return AbxItems(*(np.array([], str), np.array([]), np.array([]),
                          *(np.array([], str) for _ in range(4))))
    return AbxItems(*(np.concatenate(c) for c in zip(*parts, strict=True)))


def frame_range(onset: float, offset: float, frame_period: float, n_frames: int) -> tuple[int, int]:
    """The reference's frames ``[start, end)`` of an item (see the module doc)."""
    step = 1 / frame_period
    start = max(0, int(math.ceil(step * onset - 0.5)))
    end = int(min(n_frames, int(math.floor(step * offset - 0.5))))
    return start, end


@dataclass(frozen=True)
class TokenTable:
    """`AbxTokens` plus what was left out: items whose file is absent, empty frame ranges."""

    tokens: AbxTokens
    missing_files: tuple[str, ...]
    n_missing_items: int
    n_empty: int


def tokens_for(items: AbxItems, files: Sequence[str], n_frames: Mapping[str, int],
               row_offset: Mapping[str, int], frame_period: float) -> TokenTable:
    """Tokens of `items` over a frame array holding `files` (in that order).

    `n_frames[f]` is the number of frames of file f and `row_offset[f]` its first row in the
    frame array. Ids are given in order of first appearance in `items` (the reference's).
    """
    phone_id = _first_appearance(items.phone)
    ctx_id = _first_appearance(np.char.add(np.char.add(items.prev.astype(str), "+"),
                                           items.next.astype(str)))
    spk_id = _first_appearance(items.speaker)
    by_file: dict[str, list[int]] = {}
    for k, f in enumerate(items.file.tolist()):
        by_file.setdefault(f, []).append(k)
    present = set(files)
    missing = tuple(sorted(f for f in by_file if f not in present))
    cols: list[list[int]] = [[], [], [], [], []]
    n_empty = 0
    for f in files:
        for k in by_file.get(f, ()):
            s, e = frame_range(items.onset[k], items.offset[k], frame_period, n_frames[f])
            if s >= n_frames[f] or e <= s:
                n_empty += 1
                continue
            for col, v in zip(cols, (row_offset[f] + s, e - s, phone_id[k], ctx_id[k],
                                     spk_id[k]), strict=True):
                col.append(int(v))
    arrays = [np.array(c, dtype=np.int64) for c in cols]
    return TokenTable(AbxTokens(*arrays), missing,
                      sum(len(by_file[f]) for f in missing), n_empty)


def _first_appearance(values: np.ndarray) -> np.ndarray:
    """Integer codes numbered in order of first appearance."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]
