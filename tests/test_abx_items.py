"""ABX items: built from a hand-made TextGrid, .item files, and the reference's frame convention."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.data.abx_items import (
    AbxItems,
    frame_range,
    items_from_alignments,
    read_item_file,
    tokens_for,
    write_item_file,
)
from lwa_cli.data.alignments import Segments, SplitAlignments
from lwa_cli.data.textgrid import read_textgrid
from lwa_cli.errors import LwaError
from tests.textgrid_text import long_textgrid

# 84-1-0000: silence, "hh ah", spoken noise, "l", silence, "ow" up to the utterance's end.
UTT_A = {"words": [(0.1, 0.3, "HA"), (0.3, 0.5, "<unk>"), (0.5, 0.6, "L"), (0.7, 0.8, "OH")],
         "phones": [(0, 0.1, "sil"), (0.1, 0.2, "HH"), (0.2, 0.3, "AH0"), (0.3, 0.5, "spn"),
                    (0.5, 0.6, "L"), (0.6, 0.7, "sil"), (0.7, 0.8, "OW1")]}
# 85-2-0000: a word from time 0 with no silence around it.
UTT_B = {"words": [(0, 0.3, "CAT")],
         "phones": [(0, 0.1, "K"), (0.1, 0.2, "AE1"), (0.2, 0.3, "T")]}


def _aligned(tmp_path: Path) -> SplitAlignments:
    parts = []
    for i, (utt, tiers) in enumerate((("84-1-0000", UTT_A), ("85-2-0000", UTT_B))):
        path = tmp_path / f"{utt}.TextGrid"
        path.write_text(long_textgrid(list(tiers.items()), tiers["phones"][-1][1]))
        phones = read_textgrid(path).phones
        labels, starts, ends = zip(*phones, strict=True)
        parts.append(Segments(np.full(len(phones), i, np.int32), np.array(starts),
                              np.array(ends), np.array(labels)))
    seg = Segments(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("utt_index", "start", "end", "label")))
    return SplitAlignments("dev-clean", np.array(["84-1-0000", "85-2-0000"]),
                           np.array(["a", "b"]), np.array([0.8, 0.3]), seg, seg, (), ())


def test_items_from_a_textgrid_with_edges_silences_and_noise(tmp_path):
    items = items_from_alignments(_aligned(tmp_path), ["85-2-0000", "84-1-0000"])
    rows = list(zip(items.file, items.phone, items.prev, items.next, items.speaker,
                    strict=True))
    assert rows == [
        ("85-2-0000", "k", "SIL", "ae", "85"),  # utterance start without silence → SIL
        ("85-2-0000", "ae", "k", "t", "85"),
        ("85-2-0000", "t", "ae", "SIL", "85"),  # utterance end → SIL
        ("84-1-0000", "hh", "SIL", "ah", "84"),  # after a silence interval
        ("84-1-0000", "ah", "hh", "SIL", "84"),  # before the gap of a dropped spn
        ("84-1-0000", "l", "SIL", "SIL", "84"),  # between the spn gap and a silence
        ("84-1-0000", "ow", "SIL", "SIL", "84"),
    ]
    np.testing.assert_allclose(items.onset, [0, 0.1, 0.2, 0.1, 0.2, 0.5, 0.7])
    np.testing.assert_allclose(items.offset, [0.1, 0.2, 0.3, 0.2, 0.3, 0.6, 0.8])


def test_items_refuse_utterances_outside_the_alignments(tmp_path):
    with pytest.raises(LwaError, match="1 utterance\\(s\\).*e.g. 9-9-9"):
        items_from_alignments(_aligned(tmp_path), ["84-1-0000", "9-9-9"])


def test_item_file_round_trip_and_bad_lines(tmp_path):
    items = items_from_alignments(_aligned(tmp_path), ["84-1-0000"])
    back = read_item_file(write_item_file(items, tmp_path / "a.item"))
    for field in ("file", "phone", "prev", "next", "speaker"):
        assert getattr(back, field).tolist() == getattr(items, field).tolist()
    np.testing.assert_array_equal(back.onset, items.onset)  # times written exactly
    (tmp_path / "bad.item").write_text("#header\nf 0.1 0.2 a b c\n")
    with pytest.raises(LwaError, match="bad.item, line 2: expected 7 columns"):
        read_item_file(tmp_path / "bad.item")


def test_frame_range_is_the_references_convention():
    # step = 1/T; start = ceil(step·on − ½), end = floor(step·off − ½) (exclusive), clipped.
    assert frame_range(0.1, 0.2, 0.02, 100) == (5, 9)
    assert frame_range(0.0, 0.05, 0.02, 100) == (0, 2)
    assert frame_range(0.011, 0.029, 0.02, 100) == (1, 0)  # shorter than a frame: empty
    assert frame_range(1.9, 3.0, 0.02, 100) == (95, 100)
    for on, off in ((0.123, 0.456), (0.31, 0.5)):
        step = 1 / 0.02
        assert frame_range(on, off, 0.02, 1000) == (math.ceil(step * on - 0.5),
                                                    math.floor(step * off - 0.5))


def test_tokens_count_missing_files_and_short_items():
    items = AbxItems(np.array(["u1", "u1", "u2", "gone"]), np.array([0.0, 0.1, 0.0, 0.0]),
                     np.array([0.1, 0.105, 0.1, 0.1]), np.array(["a", "b", "a", "a"]),
                     np.array(["SIL"] * 4), np.array(["SIL"] * 4), np.array(["1", "1", "2", "3"]))
    table = tokens_for(items, ["u2", "u1"], {"u1": 10, "u2": 8}, {"u2": 0, "u1": 8}, 0.02)
    assert table.missing_files == ("gone",) and table.n_missing_items == 1
    assert table.n_empty == 1  # u1's 5 ms "b"
    tok = table.tokens
    # Files in the given order; ids in order of first appearance in the items.
    assert tok.start.tolist() == [0, 8] and tok.length.tolist() == [4, 4]
    assert tok.phone.tolist() == [0, 0] and tok.speaker.tolist() == [1, 0]
