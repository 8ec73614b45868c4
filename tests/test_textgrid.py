"""Reading MFA TextGrids in the long and short text formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from lwa_cli.data.textgrid import MalformedTextGridError, UtteranceAlignment, read_textgrid
from lwa_cli.errors import LwaError
from tests.textgrid_text import long_textgrid, short_textgrid

WORDS = [(0.0, 0.1, ""), (0.1, 0.5, "HELLO"), (0.5, 0.8, "<unk>"), (0.8, 1.0, "")]
PHONES = [
    (0.0, 0.1, "sil"),
    (0.1, 0.2, "HH"),
    (0.2, 0.3, "AH0"),
    (0.3, 0.4, "L"),
    (0.4, 0.5, "OW1"),
    (0.5, 0.8, "spn"),
    (0.8, 0.9, "sp"),
    (0.9, 1.0, ""),
]


EXPECTED = UtteranceAlignment(
    words=[("hello", 0.1, 0.5), ("<unk>", 0.5, 0.8)],
    phones=[
        ("SIL", 0.0, 0.1),
        ("hh", 0.1, 0.2),
        ("ah", 0.2, 0.3),
        ("l", 0.3, 0.4),
        ("ow", 0.4, 0.5),
    ],
)


@pytest.mark.parametrize("writer", [long_textgrid, short_textgrid])
def test_both_text_formats_read_the_same(tmp_path: Path, writer) -> None:
    path = tmp_path / "u.TextGrid"
    path.write_text(writer([("words", WORDS), ("phones", PHONES)]), encoding="utf-8")
    result = read_textgrid(path)
    assert result == EXPECTED
    assert all(isinstance(t, float) for _, s, e in result.phones for t in (s, e))


def test_utf16_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "u16.TextGrid"
    path.write_bytes(long_textgrid([("words", WORDS), ("phones", PHONES)]).encode("utf-16"))
    assert read_textgrid(path) == EXPECTED


def test_tier_names_are_case_insensitive_and_mfa2_speaker_prefix(tmp_path: Path) -> None:
    path = tmp_path / "a.TextGrid"
    path.write_text(long_textgrid([("Phones", PHONES), ("WORDS", WORDS)]))
    assert read_textgrid(path) == EXPECTED
    path = tmp_path / "b.TextGrid"
    path.write_text(short_textgrid([("84 - words", WORDS), ("84 - phones", PHONES)]))
    assert read_textgrid(path) == EXPECTED


def test_missing_tier_names_the_file_and_tier(tmp_path: Path) -> None:
    path = tmp_path / "only_words.TextGrid"
    path.write_text(long_textgrid([("words", WORDS)]))
    with pytest.raises(MalformedTextGridError) as info:
        read_textgrid(path)
    assert isinstance(info.value, LwaError)
    assert str(path) in str(info.value)
    assert "'phones'" in str(info.value)
    assert info.value.path == str(path)


def test_two_tiers_matching_one_name_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "dup.TextGrid"
    path.write_text(long_textgrid([("words", WORDS), ("a - phones", PHONES), ("phones", PHONES)]))
    with pytest.raises(MalformedTextGridError, match="several tiers match 'phones'"):
        read_textgrid(path)


@pytest.mark.parametrize(
    "text",
    [
        "this is not a TextGrid\n",
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 1\n'
        'tiers? <exists>\nsize = 1\nitem []:\n    item [1]:\n        class = "IntervalTier"\n',
        "",
    ],
    ids=["garbage", "truncated-long", "empty"],
)
def test_unparsable_file_names_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.TextGrid"
    path.write_text(text)
    with pytest.raises(MalformedTextGridError) as info:
        read_textgrid(path)
    assert str(path) in str(info.value)
    assert "--skip-bad" in str(info.value)


def test_overlapping_intervals_are_malformed(tmp_path: Path) -> None:
    path = tmp_path / "overlap.TextGrid"
    bad = [(0.0, 0.6, "HELLO"), (0.5, 1.0, "WORLD")]
    path.write_text(long_textgrid([("words", bad), ("phones", PHONES)]))
    with pytest.raises(MalformedTextGridError, match="overlap"):
        read_textgrid(path)


def test_unknown_phone_label_names_file_and_label(tmp_path: Path) -> None:
    path = tmp_path / "ipa.TextGrid"
    phones = [(0.0, 0.5, "h#"), (0.5, 1.0, "AH0")]
    path.write_text(short_textgrid([("words", WORDS), ("phones", phones)]))
    with pytest.raises(MalformedTextGridError) as info:
        read_textgrid(path)
    assert str(path) in str(info.value)
    assert "'h#'" in str(info.value)


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.TextGrid"
    with pytest.raises(MalformedTextGridError, match="nope.TextGrid"):
        read_textgrid(path)


def test_rounding_noise_at_boundaries_is_accepted(tmp_path: Path) -> None:
    # Aligners that print float64 values write e.g. 0.5000000000000001 then 0.5.
    words = [(0.1, 0.5000000000000001, "HELLO"), (0.5, 0.8, "<unk>")]
    path = tmp_path / "noise.TextGrid"
    path.write_text(long_textgrid([("words", words), ("phones", PHONES)]))
    result = read_textgrid(path)
    assert [w for w, _, _ in result.words] == ["hello", "<unk>"]
    assert result.words[0][2] == pytest.approx(0.5, abs=1e-12)


def test_interval_ending_before_it_starts_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "backwards.TextGrid"
    path.write_text(short_textgrid([("words", [(0.5, 0.2, "HELLO")]), ("phones", PHONES)]))
    with pytest.raises(MalformedTextGridError, match="before it starts"):
        read_textgrid(path)


def test_utf8_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.TextGrid"
    path.write_bytes(short_textgrid([("words", WORDS), ("phones", PHONES)]).encode("utf-8-sig"))
    assert read_textgrid(path) == EXPECTED
