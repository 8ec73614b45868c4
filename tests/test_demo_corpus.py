"""The bundled demo corpus: files, audio format, exact TextGrids, transcripts, copying."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from praatio import textgrid

from lwa_cli.data.phones import PHONES_39, SIL, normalize_phone
from lwa_cli.demo.corpus import (
    DemoCorpus,
    bundled_corpus_path,
    bundled_manifest,
    write_demo_corpus,
)
from lwa_cli.errors import LwaError

SR = 16000
ONE_SAMPLE = 1.0 / SR
VOWELS = {"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"}


@dataclass(frozen=True)
class Utt:
    """One bundled utterance: ids, audio info and its two tiers."""

    split: str
    speaker: str
    utt_id: str
    flac: Path
    frames: int
    words: list[tuple[float, float, str]]
    phones: list[tuple[float, float, str]]


@pytest.fixture(scope="module")
def root() -> Path:
    return bundled_corpus_path()


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return bundled_manifest()


@pytest.fixture(scope="module")
def utts(root: Path) -> list[Utt]:
    """Every utterance, with its TextGrid parsed by praatio."""
    out = []
    for flac in sorted((root / "LibriSpeech").glob("*/*/*/*.flac")):
        split, speaker, chapter = flac.parts[-4:-1]
        grid = root / "alignments" / split / speaker / chapter / f"{flac.stem}.TextGrid"
        tg = textgrid.openTextgrid(str(grid), includeEmptyIntervals=True)
        out.append(
            Utt(
                split=split,
                speaker=speaker,
                utt_id=flac.stem,
                flac=flac,
                frames=sf.info(str(flac)).frames,
                words=[tuple(e) for e in tg.getTier("words").entries],
                phones=[tuple(e) for e in tg.getTier("phones").entries],
            )
        )
    return out


def test_every_bundled_file_matches_manifest_sha256(root: Path, manifest: dict) -> None:
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    }
    assert on_disk == set(manifest["files"])
    assert "README.md" in on_disk
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == digest, rel


def test_layout_counts_and_durations_match_manifest(utts: list[Utt], manifest: dict) -> None:
    assert set(manifest["splits"]) == {"dev-clean", "train-clean-100"}
    for split, info in manifest["splits"].items():
        mine = [u for u in utts if u.split == split]
        assert len(mine) == info["utterances"]
        assert sorted({u.speaker for u in mine}) == sorted(info["speakers"])
        seconds = sum(u.frames for u in mine) / SR
        assert seconds == pytest.approx(info["seconds"], abs=1e-3)
        assert seconds >= 60.0
    # LibriSpeech naming: <speaker>-<chapter>-<utt:04d>, numeric ids.
    for u in utts:
        assert re.fullmatch(r"\d+-\d+-\d{4}", u.utt_id)
        assert u.utt_id.split("-")[:2] == list(u.flac.parts[-3:-1])


def test_every_flac_is_16khz_mono_pcm16(utts: list[Utt]) -> None:
    assert utts
    for u in utts:
        info = sf.info(str(u.flac))
        assert (info.samplerate, info.channels, info.format, info.subtype) == (
            SR,
            1,
            "FLAC",
            "PCM_16",
        ), u.utt_id


def test_tiers_are_contiguous_and_end_at_audio_duration(utts: list[Utt]) -> None:
    for u in utts:
        duration = u.frames / SR
        for tier in (u.words, u.phones):
            assert tier[0][0] == 0.0
            assert all(a[1] == b[0] for a, b in pairwise(tier)), u.utt_id
            assert all(end > start for start, end, _ in tier), u.utt_id
            assert abs(tier[-1][1] - duration) <= ONE_SAMPLE, u.utt_id


def test_word_intervals_cover_exactly_their_phones(utts: list[Utt]) -> None:
    for u in utts:
        starts = {p[0] for p in u.phones}
        ends = {p[1] for p in u.phones}
        for start, end, word in u.words:
            assert start in starts and end in ends, (u.utt_id, word)
            inside = [p for p in u.phones if p[0] >= start and p[1] <= end]
            assert inside and inside[0][0] == start and inside[-1][1] == end
            labels = {p[2] for p in inside}
            if word:
                assert word == word.lower() and "sil" not in labels, (u.utt_id, word)
            else:
                assert labels == {"sil"}, u.utt_id


def test_phone_labels_are_arpabet_with_stress_and_map_to_39_plus_sil(utts: list[Utt]) -> None:
    allowed = set(PHONES_39) | {SIL}
    for u in utts:
        for _, _, label in u.phones:
            assert normalize_phone(label) in allowed, label
            if label == "sil":
                continue
            base = label.rstrip("012").lower()
            # MFA style: upper case, stress digit on vowels only.
            assert label == label.upper()
            assert (label[-1] in "012") == (base in VOWELS), label


def test_silences_are_quiet_where_the_tiers_say(utts: list[Utt]) -> None:
    # Catches any time-scale or offset error between audio and TextGrid: pauses inside an
    # utterance must be far quieter than the phones around them, for every speaker.
    ratios: defaultdict[str, list[float]] = defaultdict(list)
    for u in utts:
        inner = [(s, e) for s, e, lab in u.phones[1:-1] if lab == "sil" and e - s > 0.03]
        if not inner:
            continue
        audio, _ = sf.read(str(u.flac), dtype="float64")
        # Skip 5 ms at each edge: the boundary frames still carry the neighbours' tails.
        sil = np.concatenate([audio[int(s * SR) + 80 : int(e * SR) - 80] for s, e in inner])
        speech = np.concatenate(
            [audio[int(s * SR) : int(e * SR)] for s, e, lab in u.phones if lab != "sil"]
        )
        ratios[u.speaker].append(np.sqrt(np.mean(sil**2) / np.mean(speech**2)))
    assert len(ratios) == 8
    for speaker, values in ratios.items():
        assert np.median(values) < 0.05, speaker


def test_transcripts_equal_word_tiers(root: Path, utts: list[Utt]) -> None:
    by_id = {u.utt_id: u for u in utts}
    seen = set()
    for trans in sorted((root / "LibriSpeech").glob("*/*/*/*.trans.txt")):
        assert trans.name == f"{trans.parts[-3]}-{trans.parts[-2]}.trans.txt"
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt_id, text = line.split(" ", 1)
            assert text == text.upper()
            words = [w for _, _, w in by_id[utt_id].words if w]
            assert text.lower().split() == words, utt_id
            seen.add(utt_id)
    assert seen == set(by_id)


def test_every_split_has_all_39_phones_and_repeated_vocabulary(
    utts: list[Utt], manifest: dict
) -> None:
    vocab = manifest["vocabulary"]
    assert len(vocab) >= 150
    for split in manifest["splits"]:
        mine = [u for u in utts if u.split == split]
        phones = {normalize_phone(p[2]) for u in mine for p in u.phones}
        assert phones == set(PHONES_39) | {SIL}, split
        counts: Counter[str] = Counter()
        speakers: defaultdict[str, set[str]] = defaultdict(set)
        for u in mine:
            for _, _, w in u.words:
                if w:
                    counts[w] += 1
                    speakers[w].add(u.speaker)
        # Every vocabulary word several times per split, from several speakers.
        assert min(counts[w] for w in vocab) >= 3, split
        assert min(len(speakers[w]) for w in vocab) >= 3, split
        assert counts["the"] > 50


def test_benchmark_coverage_recorded(manifest: dict) -> None:
    bench = manifest["benchmarks"]
    assert bench["wordsim353"]["pairs_covered"] >= 50
    assert bench["simlex999"]["pairs_covered"] >= 100


def test_write_demo_corpus_copies_and_is_idempotent(tmp_path: Path, root: Path) -> None:
    dest = tmp_path / "demo"
    (dest / "notes").mkdir(parents=True)
    (dest / "notes" / "keep.txt").write_text("mine")
    corpus = write_demo_corpus(dest)
    assert corpus == DemoCorpus(
        root=dest,
        corpus_root=dest / "LibriSpeech",
        alignments_root=dest / "alignments",
        splits=("dev-clean", "train-clean-100"),
    )
    for tree in ("LibriSpeech", "alignments"):
        src = sorted(p.relative_to(root) for p in (root / tree).rglob("*") if p.is_file())
        got = sorted(p.relative_to(dest) for p in (dest / tree).rglob("*") if p.is_file())
        assert got == src
    sample = next((root / "alignments").rglob("*.TextGrid")).relative_to(root)
    assert (dest / sample).read_bytes() == (root / sample).read_bytes()
    assert (dest / "notes" / "keep.txt").read_text() == "mine"
    assert not list(dest.glob(".lwa-demo-*"))
    # Same content again: accepted without force.
    assert write_demo_corpus(dest) == corpus


def test_write_demo_corpus_refuses_different_content_unless_forced(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    write_demo_corpus(dest)
    victim = next((dest / "LibriSpeech").rglob("*.trans.txt"))
    original = victim.read_bytes()
    victim.write_text("changed\n")
    with pytest.raises(LwaError, match="force"):
        write_demo_corpus(dest)
    assert victim.read_text() == "changed\n"
    write_demo_corpus(dest, force=True)
    assert victim.read_bytes() == original
    # An extra file in a target tree also counts as different content.
    (dest / "alignments" / "extra.TextGrid").write_text("x")
    with pytest.raises(LwaError, match="other content"):
        write_demo_corpus(dest)


def test_write_demo_corpus_rejects_a_file_destination(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(LwaError, match="is a file"):
        write_demo_corpus(target)


@pytest.fixture(scope="module")
def script() -> Any:
    """The generator script as a module (it needs festival only to synthesise)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "make_demo_corpus.py"
    spec = importlib.util.spec_from_file_location("make_demo_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo_corpus"] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def test_script_sentences_use_every_word_and_are_seeded(script: Any, manifest: dict) -> None:
    first = script.deck_sentences(np.random.default_rng(7))
    again = script.deck_sentences(np.random.default_rng(7))
    other = script.deck_sentences(np.random.default_rng(8))
    assert first == again and first != other
    words = Counter(w for sentence in first for w in sentence)
    assert min(words[w] for w in manifest["vocabulary"]) >= 1
    for sentence in first:
        for det, nxt in pairwise(sentence):
            if det == "a":
                assert nxt[0] not in "aeiou", sentence
            if det == "an":
                assert nxt[0] in "aeiou", sentence


def test_script_phone_mapping(script: Any) -> None:
    assert script.festival_phone_label("pau", "0") == "sil"
    assert script.festival_phone_label("ax", "1") == "AH0"
    assert script.festival_phone_label("iy", "1") == "IY1"
    assert script.festival_phone_label("zh", "0") == "ZH"
    with pytest.raises(RuntimeError, match="dx"):
        script.festival_phone_label("dx", "0")


def test_script_align_builds_exact_contiguous_tiers(script: Any, tmp_path: Path) -> None:
    lab = tmp_path / "u.lab"
    lab.write_text(
        "SEG pau 0.200000 0\nSEG k 0.300000 1\nSEG ae 0.450000 1\nSEG t 0.500000 1\n"
        "SEG pau 0.700000 0\nSEG ax 0.750000 0\nSEG pau 0.900000 0\n"
        "WORD cat k ae t\nWORD a ax\n"
    )
    dump = script.read_festival_dump(lab, 1.0)
    n = 14600  # 0.9125 s: the final pause is stretched to the last sample
    got = script.align(dump, ["cat", "a"], n, "u")
    assert got.words == [(0.2, 0.5, "cat"), (0.7, 0.75, "a")]
    assert [p[2] for p in got.phones] == ["sil", "K", "AE1", "T", "sil", "AH0", "sil"]
    assert got.phones[-1] == (0.75, n / 16000, "sil")
    with pytest.raises(RuntimeError, match="changed the words"):
        script.align(dump, ["cat", "the"], n, "u")
    with pytest.raises(RuntimeError, match="audio ends before"):
        script.align(dump, ["cat", "a"], 8000, "u")
    # A playback shift scales every time by the integer rate ratio.
    scaled = script.read_festival_dump(lab, 14545 / 16000)
    assert scaled.segments[0][1] == pytest.approx(0.2 * 14545 / 16000, abs=1e-7)
