"""Corpus layout, split preparation, merging of splits and inventories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from lwa_cli.data.alignments import (
    Segments,
    SplitAlignments,
    inventory,
    merge_splits,
    prepare_split,
)
from lwa_cli.data.corpus import (
    SPLITS,
    VIRTUAL_SPLITS,
    expand_split,
    find_alignments,
    find_audio,
    is_train_split,
    read_transcripts,
)
from lwa_cli.data.textgrid import MalformedTextGridError
from lwa_cli.errors import LwaError, LwaUsageError
from tests.textgrid_text import long_textgrid, short_textgrid

SR = 16000


def textgrid_long(tiers: dict[str, list[tuple[float, float, str]]], xmax: float) -> str:
    return long_textgrid(list(tiers.items()), xmax)


def textgrid_short(tiers: dict[str, list[tuple[float, float, str]]], xmax: float) -> str:
    return short_textgrid(list(tiers.items()), xmax)


UTT_A = {
    "words": [(0, 0.1, ""), (0.1, 0.5, "HELLO"), (0.5, 0.8, "<unk>"), (0.8, 1.0, "")],
    "phones": [
        (0, 0.1, "sil"),
        (0.1, 0.2, "HH"),
        (0.2, 0.3, "AH0"),
        (0.3, 0.4, "L"),
        (0.4, 0.5, "OW1"),
        (0.5, 0.8, "spn"),
        (0.8, 0.9, "sp"),
        (0.9, 1.0, ""),
    ],
}
# utt 1-10-0001: 2 words (the, hello), 7 phones (dh ah SIL hh eh l ow).
UTT_B = {
    "words": [(0, 0.2, "THE"), (0.2, 0.3, ""), (0.3, 0.5, "HELLO")],
    "phones": [
        (0, 0.1, "DH"),
        (0.1, 0.2, "AH0"),
        (0.2, 0.3, "sil"),
        (0.3, 0.35, "HH"),
        (0.35, 0.4, "EH1"),
        (0.4, 0.45, "L"),
        (0.45, 0.5, "OW2"),
    ],
}


def write_audio(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(round(seconds * SR)), dtype=np.float32), SR)


def write_tg(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A dev-clean split: two usable utterances (FLAC + long TG, WAV + short TG), one TextGrid
    without audio, one audio file without a TextGrid, plus a transcript file."""
    audio, align = tmp_path / "LibriSpeech", tmp_path / "alignments"
    write_audio(audio / "dev-clean/1/10/1-10-0000.flac", 1.0)
    write_audio(audio / "dev-clean/1/10/1-10-0001.wav", 0.5)
    write_audio(audio / "dev-clean/2/20/2-20-0001.flac", 0.25)
    (audio / "dev-clean/1/10/1-10.trans.txt").write_text(
        "1-10-0000 HELLO UNKNOWNWORD\n1-10-0001 THE HELLO\n\n"
    )
    write_tg(align / "dev-clean/1/10/1-10-0000.TextGrid", textgrid_long(UTT_A, 1.0))
    write_tg(align / "dev-clean/1/10/1-10-0001.TextGrid", textgrid_short(UTT_B, 0.5))
    write_tg(align / "dev-clean/2/20/2-20-0000.TextGrid", textgrid_short(UTT_B, 0.5))
    return audio, align


# ---------------------------------------------------------------- corpus layout


def test_split_names_and_expansion() -> None:
    assert len(SPLITS) == 7
    assert expand_split("dev-clean") == ("dev-clean",)
    assert expand_split("train-clean") == ("train-clean-100", "train-clean-360")
    assert expand_split("train") == ("train-clean-100", "train-clean-360", "train-other-500")
    assert set(VIRTUAL_SPLITS) == {"train-clean", "train"}
    with pytest.raises(LwaUsageError) as info:
        expand_split("dev")
    assert "dev-clean" in str(info.value) and "train-clean" in str(info.value)
    assert is_train_split("train-other-500") and is_train_split("train")
    assert not is_train_split("dev-other") and not is_train_split("test-clean")
    with pytest.raises(LwaUsageError):
        is_train_split("nonsense")


def test_find_audio_alignments_transcripts(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    audio, align = corpus
    # A WAV next to a FLAC of the same utterance: FLAC wins.
    write_audio(audio / "dev-clean/1/10/1-10-0000.wav", 0.1)
    found = find_audio(audio, "dev-clean")
    assert sorted(found) == ["1-10-0000", "1-10-0001", "2-20-0001"]
    assert found["1-10-0000"].suffix == ".flac" and found["1-10-0001"].suffix == ".wav"
    assert all(p.is_absolute() for p in found.values())
    alignments = find_alignments(align, "dev-clean")
    assert list(alignments) == ["1-10-0000", "1-10-0001", "2-20-0000"]
    assert read_transcripts(audio, "dev-clean") == {
        "1-10-0000": "HELLO UNKNOWNWORD",
        "1-10-0001": "THE HELLO",
    }
    with pytest.raises(LwaError) as info:
        find_audio(audio, "dev-other")
    assert info.value.exit_code == 1 and "dev-other" in str(info.value)


def test_duplicate_textgrid_is_an_error(corpus: tuple[Path, Path]) -> None:
    _, align = corpus
    write_tg(align / "dev-clean/9/9/1-10-0000.TextGrid", textgrid_long(UTT_A, 1.0))
    with pytest.raises(LwaError, match="two TextGrids"):
        find_alignments(align, "dev-clean")


# ---------------------------------------------------------------- prepare_split


def test_prepare_split_counts_and_arrays(corpus: tuple[Path, Path]) -> None:
    audio, align = corpus
    calls: list[int] = []
    result = prepare_split(audio, align, "dev-clean", progress=calls.append)
    assert calls == [1, 1, 1]
    assert result.split == "dev-clean"
    assert result.utt_ids.tolist() == ["1-10-0000", "1-10-0001"]
    assert result.audio_paths.tolist() == [
        str((audio / "dev-clean/1/10/1-10-0000.flac").absolute()),
        str((audio / "dev-clean/1/10/1-10-0001.wav").absolute()),
    ]
    assert result.durations.dtype == np.float64
    np.testing.assert_allclose(result.durations, [1.0, 0.5])
    assert result.missing_audio == ("2-20-0000",)
    assert result.skipped_bad == ()

    phones = result.phones
    assert len(phones) == 12
    assert phones.utt_index.dtype == np.int32 and phones.start.dtype == np.float64
    assert phones.utt_index.tolist() == [0] * 5 + [1] * 7
    assert phones.label.tolist() == ["SIL", "hh", "ah", "l", "ow"] + [
        "dh",
        "ah",
        "SIL",
        "hh",
        "eh",
        "l",
        "ow",
    ]
    np.testing.assert_allclose(phones.start[:5], [0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(phones.end[5:], [0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5])

    words = result.words
    assert len(words) == 4
    assert words.label.tolist() == ["hello", "<unk>", "the", "hello"]
    assert words.utt_index.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(words.start, [0.1, 0.5, 0.0, 0.3])
    np.testing.assert_allclose(words.end, [0.5, 0.8, 0.2, 0.5])


def test_malformed_textgrid_error_and_skip_bad(corpus: tuple[Path, Path]) -> None:
    audio, align = corpus
    bad = align / "dev-clean/2/20/2-20-0001.TextGrid"
    write_tg(bad, "not a textgrid at all\n")
    with pytest.raises(MalformedTextGridError) as info:
        prepare_split(audio, align, "dev-clean")
    assert str(bad) in str(info.value)

    result = prepare_split(audio, align, "dev-clean", skip_bad=True)
    assert result.skipped_bad == (str(bad),)
    assert result.utt_ids.tolist() == ["1-10-0000", "1-10-0001"]
    assert len(result.phones) == 12 and len(result.words) == 4


def test_corrupt_audio_error_and_skip_bad(corpus: tuple[Path, Path]) -> None:
    audio, align = corpus
    broken = audio / "dev-clean/1/10/1-10-0001.wav"
    broken.write_bytes(b"RIFF garbage that is not a wave file")
    with pytest.raises(LwaError, match="1-10-0001.wav"):
        prepare_split(audio, align, "dev-clean")
    result = prepare_split(audio, align, "dev-clean", skip_bad=True)
    assert result.utt_ids.tolist() == ["1-10-0000"]
    assert result.skipped_bad == (str(broken),)
    assert len(result.phones) == 5 and len(result.words) == 2


def test_prepare_split_bad_roots(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    audio, align = corpus
    with pytest.raises(LwaError, match="alignment directory"):
        prepare_split(audio, tmp_path / "nowhere", "dev-clean")
    with pytest.raises(LwaError, match="audio directory"):
        prepare_split(tmp_path / "nowhere", align, "dev-clean")
    with pytest.raises(LwaUsageError):
        prepare_split(audio, align, "train-clean")  # virtual: use merge_splits
    (align / "test-clean").mkdir()
    (audio / "test-clean").mkdir()
    with pytest.raises(LwaError, match="no TextGrid files"):
        prepare_split(audio, align, "test-clean")
    # Alignments whose audio is all missing: the roots do not belong together.
    other_audio = tmp_path / "other"
    (other_audio / "dev-clean").mkdir(parents=True)
    with pytest.raises(LwaError, match="none of the 3 aligned utterances"):
        prepare_split(other_audio, align, "dev-clean")


# ---------------------------------------------------------------- merge_splits


def make_split(name: str, ids: list[str], words: list[list[str]]) -> SplitAlignments:
    """A small SplitAlignments built by hand: word k of utterance u spans [k, k + 1)."""
    utt_index = np.repeat(np.arange(len(ids), dtype=np.int32), [len(w) for w in words])
    start = np.concatenate([np.arange(len(w), dtype=np.float64) for w in words])
    labels = np.array([w for ws in words for w in ws])
    segs = Segments(utt_index, start, start + 1.0, labels)
    return SplitAlignments(
        split=name,
        utt_ids=np.array(ids),
        audio_paths=np.array([f"/a/{i}.flac" for i in ids]),
        durations=np.arange(1, len(ids) + 1, dtype=np.float64),
        phones=segs,
        words=segs,
        missing_audio=(f"{name}-missing",),
        skipped_bad=(),
    )


def test_merge_splits_resorts_and_reindexes() -> None:
    a = make_split("train-clean-100", ["1-1-0000", "3-1-0000"], [["x", "y"], ["z"]])
    b = make_split("train-clean-360", ["2-1-0000"], [["p", "q", "r"]])
    merged = merge_splits([a, b], "train-clean")
    assert merged.split == "train-clean"
    assert merged.utt_ids.tolist() == ["1-1-0000", "2-1-0000", "3-1-0000"]
    assert merged.audio_paths.tolist() == [
        "/a/1-1-0000.flac",
        "/a/2-1-0000.flac",
        "/a/3-1-0000.flac",
    ]
    assert merged.durations.tolist() == [1.0, 1.0, 2.0]
    assert merged.words.label.tolist() == ["x", "y", "p", "q", "r", "z"]
    assert merged.words.utt_index.tolist() == [0, 0, 1, 1, 1, 2]
    assert merged.words.utt_index.dtype == np.int32
    assert merged.words.start.tolist() == [0.0, 1.0, 0.0, 1.0, 2.0, 0.0]
    assert merged.missing_audio == ("train-clean-100-missing", "train-clean-360-missing")
    # Every segment still points at its own utterance.
    for seg_utt, label in zip(merged.words.utt_index, merged.words.label, strict=True):
        owner = {"x": "1-1-0000", "y": "1-1-0000", "z": "3-1-0000"}.get(label, "2-1-0000")
        assert merged.utt_ids[seg_utt] == owner


def test_merge_splits_rejects_duplicates_and_empty() -> None:
    a = make_split("train-clean-100", ["1-1-0000"], [["x"]])
    with pytest.raises(LwaError, match="1-1-0000"):
        merge_splits([a, a], "train")
    with pytest.raises(LwaError):
        merge_splits([], "train")


def test_prepared_splits_merge(corpus: tuple[Path, Path]) -> None:
    audio, align = corpus
    for split, uid in (("train-clean-100", "5-5-0000"), ("train-clean-360", "4-4-0000")):
        spk, ch, _ = uid.split("-")
        write_audio(audio / split / spk / ch / f"{uid}.flac", 1.0)
        write_tg(align / split / spk / ch / f"{uid}.TextGrid", textgrid_long(UTT_A, 1.0))
    parts = [prepare_split(audio, align, s) for s in expand_split("train-clean")]
    merged = merge_splits(parts, "train-clean")
    assert merged.utt_ids.tolist() == ["4-4-0000", "5-5-0000"]
    assert len(merged.phones) == 10 and len(merged.words) == 4
    assert merged.phones.utt_index.tolist() == [0] * 5 + [1] * 5


# ---------------------------------------------------------------- inventory


def test_inventory_order_counts_and_exclude() -> None:
    labels = np.array(["b", "a", "SIL", "c", "a", "b", "SIL", "SIL", "d", "c"])
    names, counts = inventory(labels)
    assert names.tolist() == ["SIL", "a", "b", "c", "d"]
    assert counts.tolist() == [3, 2, 2, 2, 1]
    assert counts.dtype == np.int64
    names, counts = inventory(labels, exclude=("SIL", "d"))
    assert names.tolist() == ["a", "b", "c"]
    assert counts.tolist() == [2, 2, 2]
    names, counts = inventory(np.array([], dtype=str))
    assert names.size == 0 and counts.size == 0


def test_unk_is_counted_in_word_inventory(corpus: tuple[Path, Path]) -> None:
    audio, align = corpus
    result = prepare_split(audio, align, "dev-clean")
    names, counts = inventory(result.words.label)
    assert dict(zip(names.tolist(), counts.tolist(), strict=True)) == {
        "hello": 2,
        "<unk>": 1,
        "the": 1,
    }
    assert names.tolist() == ["hello", "<unk>", "the"]
