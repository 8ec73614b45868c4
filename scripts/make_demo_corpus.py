#!/usr/bin/env python
"""Make the bundled demo corpus of ``lwa``: synthetic speech with exact alignments.

This script is run ONCE by a developer; its output (``lwa_cli/demo/corpus_data``) is committed,
so users, tests and CI never need festival. It needs, on the machine that runs it::

    apt-get install -y festival festvox-kallpc16k festvox-us-slt-hts

and the project's Python environment (numpy, soundfile, praatio; gensim only for its
WordSim-353/SimLex-999 files, which are read as text).

What it does, deterministically (fixed vocabulary, templates, seed and order):

1. builds simple template sentences from a vocabulary of WordSim-353/SimLex-999 words, one
   shuffled "deck" per (speaker, chapter) in which every vocabulary word occurs exactly once;
2. drives festival in batch mode (one process per speaker) through a generated Scheme script
   that synthesises each sentence, resamples it to 16 kHz and writes the wave plus festival's
   own segment end times, stress and word/segment structure;
3. converts each utterance into LibriSpeech layout (FLAC, transcripts) and an MFA-style long
   TextGrid (tiers ``words`` and ``phones``) whose boundaries are festival's segment times, so
   the alignments are exact by construction; the last interval ends at the audio's last sample;
4. writes ``MANIFEST.json`` (counts, durations, versions, sha256 of every file) and ``README.md``.

Usage::

    python scripts/make_demo_corpus.py [--out lwa_cli/demo/corpus_data] [--festival festival]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from praatio import textgrid

SAMPLE_RATE = 16000
SEED = 20240531
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "lwa_cli" / "demo" / "corpus_data"

# --------------------------------------------------------------------------------------------
# Vocabulary: WordSim-353 / SimLex-999 words chosen (by peeling the pair graph of the two
# benchmarks, WordSim pairs weighted 1.5) so that many benchmark pairs have both words here,
# plus a few words that bring rare phones (zh: television, oy: boy, uh: book/wood).
# Split by how the templates can use them.
# --------------------------------------------------------------------------------------------
COUNT_NOUNS: tuple[str, ...] = tuple(
    """adult announcement arm article baby bank bean body book boy brother car cat chicken child
    coast computer cucumber cup currency dawn day dinner doctor dollar father film forest gain
    glass jaguar job journey laboratory lad lobster loss magician man market meal moon mother
    mouth movie parent planet potato precedent professor profit radio report rooster secretary
    shore shoulder son star steak stock stomach story straw student summer supper task
    television thumb tiger topic vein voyage waist warning wife wizard woman""".split()
)
MASS_NOUNS: tuple[str, ...] = tuple(
    """alcohol aluminum bacon brandy bread breakfast butter cash chemistry coffee cognition energy
    food gin information meat media metal money nature news paper psychology rice science
    seafood space tin vodka whiskey wine wood""".split()
)
ADJECTIVES: tuple[str, ...] = tuple(
    """difficult dumb easy glad happy hard intelligent new old simple sly smart strange stupid
    tough weird""".split()
)
TRANSITIVE_VERBS: tuple[str, ...] = tuple(
    """ask attend borrow drink forget give ignore keep leave possess receive remind retain sell
    send steal take""".split()
)
INTRANSITIVE_VERBS: tuple[str, ...] = tuple("arrive beg come go plead remain".split())

# Function words the templates add; frequent words as in real text.
COUNT_DETERMINERS = ("the", "the", "the", "a", "a", "my", "his", "her", "this", "that", "our")
MASS_DETERMINERS = ("the", "the", "some", "our", "this", "that", "their", "no")
CONJUNCTIONS = ("and", "and", "but", "so", "because", "while")
# Clause templates: {S}/{O}/{P} noun phrases (subject, object, prepositional object),
# {VT}/{VI} verbs, {A} adjective.
CLAUSES: tuple[str, ...] = (
    "{S} will {VT} {O}",
    "{S} can {VT} {O}",
    "{S} did not {VT} {O}",
    "{S} wants to {VT} {O}",
    "{S} could {VT} {O} in {P}",
    "{S} and {S} will {VI}",
    "{S} of {P} could {VI}",
    "{S} would {VI} with {P}",
    "{S} is {A}",
    "{S} was {A}",
    "{S} went to {P}",
    "{S} saw {O} and {P}",
    "you can {VT} {O}",
    "{S} thought {S} was {A}",
)

# --------------------------------------------------------------------------------------------
# Speakers: two festival voices, more speakers from rate/pitch settings. Dev and train
# speakers are disjoint as in LibriSpeech. Each chapter is one deck (every word once).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: a festival voice with its settings, in one split.

    Attributes
    ----------
    split, speaker_id : str
        LibriSpeech split and numeric speaker id.
    chapters : tuple of str
        Numeric chapter ids; one vocabulary deck each.
    voice : str
        Festival voice name.
    tempo : float
        Speaking rate factor (> 1 is faster): kal's ``Duration_Stretch`` is ``1/tempo``, the HTS
        voice gets hts_engine's ``-r tempo``.
    f0_mean_hz : int or None
        Target F0 mean of kal's intonation model. The HTS voice ignores festival's F0 targets
        (and festival ignores hts_engine's ``-fm``), so its pitch is changed by ``shift``.
    shift : float
        Playback factor: festival's 16 kHz wave is resampled (soxr) to ``16000/shift`` Hz and
        the samples are written as 16 kHz, which multiplies pitch and formants by ``shift``
        and divides every time by it (times are scaled by the same integer rate ratio).
    """

    split: str
    speaker_id: str
    chapters: tuple[str, ...]
    voice: str
    tempo: float
    f0_mean_hz: int | None = None
    shift: float = 1.0

    @property
    def resample_hz(self) -> int:
        """The rate the wave is resampled to before its samples are written as 16 kHz."""
        return round(SAMPLE_RATE / self.shift)

    def scheme_settings(self) -> str:
        """Scheme code run after selecting the voice."""
        if self.voice == KAL:
            f0 = self.f0_mean_hz or 105
            return (
                f"(Parameter.set 'Duration_Stretch {1.0 / self.tempo:.4f})\n"
                f"(set! int_lr_params '((target_f0_mean {f0}) (target_f0_std 14) "
                "(model_f0_mean 170) (model_f0_std 34)))\n"
            )
        return (
            "(set! hts_engine_params (append cmu_us_slt_arctic_hts::hts_engine_params "
            f'(list \'("-r" {self.tempo}))))\n'
        )

    def description(self) -> str:
        """Human-readable settings for the manifest."""
        parts = [self.voice, f"tempo {self.tempo}"]
        if self.f0_mean_hz is not None:
            parts.append(f"F0 mean {self.f0_mean_hz} Hz")
        if self.shift != 1.0:
            parts.append(f"playback shift x{self.shift} (pitch and formants)")
        return ", ".join(parts)


KAL = "kal_diphone"
SLT = "cmu_us_slt_arctic_hts"
DEV, TRAIN = "dev-clean", "train-clean-100"
SPEAKERS: tuple[Speaker, ...] = (
    Speaker(DEV, "101", ("1011",), KAL, tempo=1.1, f0_mean_hz=105),
    Speaker(DEV, "102", ("1021",), SLT, tempo=1.15),
    Speaker(DEV, "103", ("1031",), SLT, tempo=1.1, shift=1.1),
    Speaker(TRAIN, "201", ("2011",), KAL, tempo=1.15, f0_mean_hz=125),
    Speaker(TRAIN, "202", ("2021",), SLT, tempo=1.3, shift=0.88),
    Speaker(TRAIN, "203", ("2031",), KAL, tempo=1.05, f0_mean_hz=92),
    Speaker(TRAIN, "204", ("2041",), SLT, tempo=1.05, shift=1.06),
    Speaker(TRAIN, "205", ("2051",), KAL, tempo=1.1, f0_mean_hz=140),
)

# Festival's phone names (radio phone set, lower-case ARPAbet) → MFA-style ARPAbet labels.
VOWELS = frozenset("aa ae ah ao aw ay eh er ey ih iy ow oy uh uw".split())
CONSONANTS = frozenset("b ch d dh f g hh jh k l m n ng p r s sh t th v w y z zh".split())
PHONES_39 = VOWELS | CONSONANTS


def festival_phone_label(name: str, stress: str) -> str:
    """Map a festival segment to an MFA label (``ax`` → ``AH0``, ``pau`` → ``sil``).

    Parameters
    ----------
    name : str
        Festival segment name.
    stress : str
        Festival's stress of the segment's syllable (``"0"``, ``"1"``, ``"2"``).

    Returns
    -------
    str
        Upper-case ARPAbet with a stress digit on vowels, or ``sil``.
    """
    if name == "pau":
        return "sil"
    if name == "ax":
        return "AH0"
    if name in VOWELS:
        if stress not in ("0", "1", "2"):
            raise RuntimeError(f"vowel {name!r} without lexical stress ({stress!r})")
        return name.upper() + stress
    if name in CONSONANTS:
        return name.upper()
    raise RuntimeError(f"festival produced phone {name!r}, which has no ARPAbet-39 mapping")


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------


@dataclass
class _Deck:
    """Shuffled words still to place, by kind."""

    count: list[str]
    mass: list[str]
    adjectives: list[str]
    transitive: list[str]
    intransitive: list[str]

    def nouns_left(self) -> int:
        """Number of nouns not yet placed."""
        return len(self.count) + len(self.mass)


def _shuffled(words: tuple[str, ...], rng: np.random.Generator) -> list[str]:
    """A shuffled copy of ``words``."""
    return [words[i] for i in rng.permutation(len(words))]


def _pop_noun(deck: _Deck, rng: np.random.Generator) -> tuple[str, bool]:
    """Pop a noun (count or mass, in proportion to what is left); returns (noun, is_mass).

    When the deck has no nouns left, a random vocabulary noun is reused so that the last
    verbs and adjectives still get a grammatical sentence.
    """
    if deck.nouns_left() == 0:
        is_mass = bool(rng.random() < len(MASS_NOUNS) / (len(MASS_NOUNS) + len(COUNT_NOUNS)))
        return str(rng.choice(MASS_NOUNS if is_mass else COUNT_NOUNS)), is_mass
    is_mass = bool(rng.random() < len(deck.mass) / deck.nouns_left())
    return (deck.mass.pop() if is_mass else deck.count.pop()), is_mass


def _noun_phrase(deck: _Deck, rng: np.random.Generator, subject: bool) -> list[str]:
    """Pop a noun phrase from the deck: determiner, maybe an adjective or a noun modifier.

    Noun-noun compounds ("the coffee cup") and bare mass nouns keep the share of content
    words high, so that each second of audio carries many vocabulary tokens.
    """
    head, is_mass = _pop_noun(deck, rng)
    words = [head]
    if deck.nouns_left() and rng.random() < 0.4:
        words.insert(0, _pop_noun(deck, rng)[0])
    # Adjectives are scarce: attach them at the rate that spends them with the nouns.
    if deck.adjectives and rng.random() < 1.5 * len(deck.adjectives) / max(deck.nouns_left(), 1):
        words.insert(0, deck.adjectives.pop())
    if is_mass:
        if rng.random() < 0.5:
            return words
        det = str(rng.choice(MASS_DETERMINERS))
        if subject and det == "no":
            det = "the"
    else:
        det = str(rng.choice(COUNT_DETERMINERS))
        if det == "a" and words[0][0] in "aeiou":
            det = "an"
    return [det, *words]


def _clause(deck: _Deck, rng: np.random.Generator) -> list[str]:
    """One clause from a template that the deck can still fill."""
    usable = [
        t
        for t in CLAUSES
        if ("{VT}" not in t or deck.transitive)
        and ("{VI}" not in t or deck.intransitive)
        and ("{A}" not in t or deck.adjectives)
    ]
    # Spend verbs and adjectives at the rate of the nouns: prefer templates that use them.
    with_slot = [t for t in usable if any(s in t for s in ("{VT}", "{VI}", "{A}"))]
    scarce = len(deck.transitive) + len(deck.intransitive) + len(deck.adjectives)
    if with_slot and rng.random() < min(1.0, 2.5 * scarce / max(deck.nouns_left(), 1)):
        usable = with_slot
    template = usable[int(rng.integers(len(usable)))]
    tokens = template.split()
    # Verb and adjective slots first, so that noun phrases cannot take the last adjective.
    slots = {"{VT}": deck.transitive, "{VI}": deck.intransitive, "{A}": deck.adjectives}
    filled = [[slots[t].pop()] if t in slots else [t] for t in tokens]
    words: list[str] = []
    for token, fill in zip(tokens, filled, strict=True):
        if token in ("{S}", "{O}", "{P}"):
            words.extend(_noun_phrase(deck, rng, subject=token == "{S}"))
        else:
            words.extend(fill)
    return words


def deck_sentences(rng: np.random.Generator) -> list[list[str]]:
    """Sentences (word lists) using every vocabulary word once, two clauses each.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all choices (shuffles, templates, determiners).

    Returns
    -------
    list of list of str
        Lower-case words of each sentence.
    """
    deck = _Deck(
        count=_shuffled(COUNT_NOUNS, rng),
        mass=_shuffled(MASS_NOUNS, rng),
        adjectives=_shuffled(ADJECTIVES, rng),
        transitive=_shuffled(TRANSITIVE_VERBS, rng),
        intransitive=_shuffled(INTRANSITIVE_VERBS, rng),
    )
    sentences: list[list[str]] = []

    def left() -> int:
        """Number of deck words not yet placed."""
        return (
            deck.nouns_left() + len(deck.adjectives) + len(deck.transitive) + len(deck.intransitive)
        )

    while left():
        words = _clause(deck, rng)
        if left():
            words += [str(rng.choice(CONJUNCTIONS)), *_clause(deck, rng)]
        sentences.append(words)
    return sentences


# --------------------------------------------------------------------------------------------
# Festival
# --------------------------------------------------------------------------------------------

_SCHEME_PRELUDE = r"""
(define (lwa_dump utt path)
  "Write segment end times, stress and the segments of every word of UTT to PATH."
  (let ((fd (fopen path "w")))
    (mapcar
     (lambda (seg)
       (format fd "SEG %s %.6f %s\n" (item.name seg) (item.feat seg "end")
               (item.feat seg "R:SylStructure.parent.stress")))
     (utt.relation.items utt 'Segment))
    (mapcar
     (lambda (w)
       (format fd "WORD %s" (item.name w))
       (mapcar
        (lambda (syl) (mapcar (lambda (seg) (format fd " %s" (item.name seg)))
                              (item.daughters syl)))
        (item.relation.daughters w 'SylStructure))
       (format fd "\n"))
     (utt.relation.items utt 'Word))
    (fclose fd)))

(define (lwa_say text wav lab)
  (let ((utt (eval (list 'Utterance 'Text text))))
    (utt.synth utt)
    (utt.wave.resample utt 16000)
    (utt.save.wave utt wav 'riff)
    (lwa_dump utt lab)))
"""


def festival_version(festival: str) -> str:
    """The ``festival --version`` line."""
    out = subprocess.run([festival, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def synthesise(festival: str, speaker: Speaker, texts: list[tuple[str, str]], work: Path) -> None:
    """Run one festival process that synthesises ``texts`` ((utt id, text)) into ``work``.

    Writes ``<id>.wav`` and ``<id>.lab`` (festival's timings) for every utterance.
    """
    lines = [_SCHEME_PRELUDE, f"(voice_{speaker.voice})", speaker.scheme_settings()]
    for utt_id, text in texts:
        lines.append(f'(lwa_say "{text}" "{work / utt_id}.wav" "{work / utt_id}.lab")')
    script = work / f"speaker-{speaker.speaker_id}.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([festival, "-b", str(script)], capture_output=True, text=True)
    if proc.returncode != 0 or "SIOD ERROR" in proc.stdout + proc.stderr:
        raise RuntimeError(f"festival failed for speaker {speaker.speaker_id}:\n{proc.stderr}")


@dataclass(frozen=True)
class Alignment:
    """Exact alignment of one utterance.

    Attributes
    ----------
    phones : list of (start, end, label)
        Contiguous phone intervals covering ``[0, duration]``.
    words : list of (start, end, word)
        Word intervals (silences left out), each covering exactly its phones.
    duration : float
        Audio duration in seconds (samples / 16000).
    """

    phones: list[tuple[float, float, str]]
    words: list[tuple[float, float, str]]
    duration: float


@dataclass(frozen=True)
class FestivalDump:
    """What ``lwa_dump`` wrote for one utterance.

    Attributes
    ----------
    segments : list of (name, end, stress)
        Festival segments in order with their end times (s) and syllable stress.
    words : list of (word, segment names)
        Words (lower-case) with the names of their segments.
    """

    segments: list[tuple[str, float, str]]
    words: list[tuple[str, list[str]]]


def read_festival_dump(lab: Path, time_scale: float) -> FestivalDump:
    """Parse the ``SEG``/``WORD`` lines that ``lwa_dump`` wrote to ``lab``.

    Parameters
    ----------
    lab : Path
        The dump file.
    time_scale : float
        Factor from festival's times to times in the 16 kHz file (``resample_hz / 16000``);
        results are rounded to 0.1 microsecond so the TextGrids hold short decimals.
    """
    segs: list[tuple[str, float, str]] = []
    words: list[tuple[str, list[str]]] = []
    for line in lab.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts[0] == "SEG":
            segs.append((parts[1], round(float(parts[2]) * time_scale, 7), parts[3]))
        elif parts[0] == "WORD":
            words.append((parts[1].lower(), parts[2:]))
    return FestivalDump(segments=segs, words=words)


def align(dump: FestivalDump, expected: list[str], n_samples: int, utt_id: str) -> Alignment:
    """Turn festival's segments into phone and word intervals, checking them against the text.

    Parameters
    ----------
    dump : FestivalDump
        Festival's segments and words for the utterance.
    expected : list of str
        The sentence's words (lower-case), which festival must have kept as they are.
    n_samples : int
        Length of the wave; the final silence is stretched to end there.
    utt_id : str
        Utterance id, for error messages.

    Returns
    -------
    Alignment
    """
    segs, words = dump.segments, dump.words
    if [w for w, _ in words] != expected:
        raise RuntimeError(f"festival changed the words of {utt_id}: {words} vs {expected}")
    if segs[0][0] != "pau" or segs[-1][0] != "pau":
        raise RuntimeError(f"{utt_id}: utterance does not start and end with a pause")
    duration = n_samples / SAMPLE_RATE
    if duration < segs[-1][1]:
        raise RuntimeError(f"{utt_id}: audio ends before festival's last segment")
    # Boundaries are festival's own end times; each start is the previous end, so the phone
    # tier is contiguous; the final pause is stretched to the last sample of the audio.
    ends = [end for _, end, _ in segs]
    ends[-1] = duration
    starts = [0.0, *ends[:-1]]
    phones = [
        (start, end, festival_phone_label(name, stress))
        for (name, _, stress), start, end in zip(segs, starts, ends, strict=True)
    ]
    if any(end <= start for start, end, _ in phones):
        raise RuntimeError(f"{utt_id}: festival produced an empty segment")
    spoken = [i for i, (name, _, _) in enumerate(segs) if name != "pau"]
    word_intervals: list[tuple[float, float, str]] = []
    pos = 0
    for word, names in words:
        idx = spoken[pos : pos + len(names)]
        if (
            not names
            or [segs[i][0] for i in idx] != names
            or idx != list(range(idx[0], idx[0] + len(idx)))
        ):
            raise RuntimeError(f"{utt_id}: segments of word {word!r} do not match {names}")
        word_intervals.append((starts[idx[0]], ends[idx[-1]], word))
        pos += len(names)
    if pos != len(spoken):
        raise RuntimeError(f"{utt_id}: {len(spoken) - pos} segments belong to no word")
    return Alignment(phones=phones, words=word_intervals, duration=duration)


def write_textgrid(alignment: Alignment, path: Path) -> None:
    """Save an MFA-style long TextGrid: tiers ``words`` (blank silences) and ``phones``."""
    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=alignment.duration)
    tg.addTier(textgrid.IntervalTier("words", alignment.words, 0.0, alignment.duration))
    tg.addTier(textgrid.IntervalTier("phones", alignment.phones, 0.0, alignment.duration))
    path.parent.mkdir(parents=True, exist_ok=True)
    tg.save(
        str(path),
        format="long_textgrid",
        includeBlankSpaces=True,
        minimumIntervalLength=None,
        reportingMode="error",
    )


# --------------------------------------------------------------------------------------------
# Benchmarks (for the manifest)
# --------------------------------------------------------------------------------------------


def benchmark_pairs() -> dict[str, list[tuple[str, str]]]:
    """Word pairs of WordSim-353 and SimLex-999 as shipped in gensim (read as text)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise RuntimeError("gensim is needed for its benchmark files")
    data = Path(spec.origin).parent / "test" / "test_data"
    pairs: dict[str, list[tuple[str, str]]] = {}
    for name, fname in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        rows = []
        for line in (data / fname).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                a, b = line.split("\t")[:2]
                rows.append((a.lower(), b.lower()))
        pairs[name] = rows
    return pairs


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

README = """# lwa demo corpus (synthetic speech, exact alignments)

Made by `scripts/make_demo_corpus.py` (seed {seed}) with the festival speech synthesiser
({festival}) and its voices `kal_diphone` and `cmu_us_slt_arctic_hts`; further speakers come
from other speaking rates, F0 targets and a playback shift of pitch and formants. To
regenerate (only developers need festival):

    apt-get install -y festival festvox-kallpc16k festvox-us-slt-hts
    python scripts/make_demo_corpus.py

Sentences are grammatical template sentences over {n_words} words of the WordSim-353 and
SimLex-999 benchmarks ({ws_pairs} WordSim-353 and {sl_pairs} SimLex-999 pairs have both words
here). Every chapter uses every vocabulary word at least once, so each word occurs several
times per split and is spoken by several speakers; all 39 phones occur in every split.

| split | speakers | utterances | seconds |
|---|---|---|---|
{table}

- `LibriSpeech/<split>/<speaker>/<chapter>/` - FLAC (16 kHz, mono, 16 bit) and
  `<speaker>-<chapter>.trans.txt`, laid out like LibriSpeech.
- `alignments/<split>/<speaker>/<chapter>/<utt>.TextGrid` - MFA-style long TextGrids, tiers
  `words` (lower-case; blank intervals for silences) and `phones` (ARPAbet with stress digits,
  `sil` for pauses). Boundaries are festival's own segment times, so they are exact by
  construction; the last interval ends at the last audio sample.
- `MANIFEST.json` - speakers and their settings, counts, durations, festival version and the
  sha256 of every other file.

This is synthetic speech from two voices. Numbers computed on it show that the pipeline works
end to end; they are not findings about real speech or about any model.
"""


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, festival: str) -> dict:
    """Generate the whole corpus into ``out`` (replacing it) and return the manifest."""
    rng = np.random.default_rng(SEED)
    version = festival_version(festival)
    if out.exists():
        shutil.rmtree(out)
    speakers_info = []
    token_counts: dict[str, Counter] = {}
    phone_counts: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory(prefix="lwa-demo-") as tmp:
        work = Path(tmp)
        for speaker in SPEAKERS:
            jobs: list[tuple[str, str, str, list[str]]] = []  # chapter, utt id, text, words
            for chapter in speaker.chapters:
                for i, words in enumerate(deck_sentences(rng)):
                    utt_id = f"{speaker.speaker_id}-{chapter}-{i:04d}"
                    jobs.append((chapter, utt_id, " ".join(words), words))
            synthesise(festival, speaker, [(u, t) for _, u, t, _ in jobs], work)
            seconds = 0.0
            for chapter in speaker.chapters:
                rel = Path(speaker.split) / speaker.speaker_id / chapter
                audio_dir = out / "LibriSpeech" / rel
                audio_dir.mkdir(parents=True, exist_ok=True)
                trans = []
                for ch, utt_id, text, words in jobs:
                    if ch != chapter:
                        continue
                    wave, rate = sf.read(work / f"{utt_id}.wav", dtype="int16")
                    if rate != SAMPLE_RATE or wave.ndim != 1:
                        raise RuntimeError(f"{utt_id}: festival wrote {rate} Hz, {wave.shape}")
                    if speaker.resample_hz != SAMPLE_RATE:
                        # Resampled samples are written as 16 kHz: see Speaker.shift.
                        wave = soxr.resample(wave, SAMPLE_RATE, speaker.resample_hz, "VHQ")
                    dump = read_festival_dump(
                        work / f"{utt_id}.lab", speaker.resample_hz / SAMPLE_RATE
                    )
                    # Pad (rarely needed) so the audio reaches festival's last segment end.
                    need = int(np.ceil(dump.segments[-1][1] * SAMPLE_RATE))
                    if wave.size < need:
                        wave = np.concatenate([wave, np.zeros(need - wave.size, np.int16)])
                    alignment = align(dump, words, wave.size, utt_id)
                    sf.write(
                        audio_dir / f"{utt_id}.flac",
                        wave,
                        SAMPLE_RATE,
                        format="FLAC",
                        subtype="PCM_16",
                        compression_level=1.0,
                    )
                    write_textgrid(alignment, out / "alignments" / rel / f"{utt_id}.TextGrid")
                    trans.append(f"{utt_id} {text.upper()}")
                    seconds += alignment.duration
                    token_counts.setdefault(speaker.split, Counter()).update(words)
                    phone_counts.setdefault(speaker.split, Counter()).update(
                        re.sub(r"\d", "", p).lower() for _, _, p in alignment.phones
                    )
                (audio_dir / f"{speaker.speaker_id}-{chapter}.trans.txt").write_text(
                    "\n".join(trans) + "\n", encoding="utf-8"
                )
            speakers_info.append(
                {
                    "split": speaker.split,
                    "speaker": speaker.speaker_id,
                    "chapters": list(speaker.chapters),
                    "voice": speaker.voice,
                    "settings": speaker.description(),
                    "utterances": len(jobs),
                    "seconds": round(seconds, 4),
                }
            )
    vocab = sorted(
        set(COUNT_NOUNS + MASS_NOUNS + ADJECTIVES + TRANSITIVE_VERBS + INTRANSITIVE_VERBS)
    )
    for split, counts in phone_counts.items():
        missing = sorted(PHONES_39 - set(counts))
        if missing:
            raise RuntimeError(f"{split}: phones {missing} never occur; change the vocabulary")
    pairs = benchmark_pairs()
    vocab_set = set(vocab)
    splits = sorted({s.split for s in SPEAKERS})
    table = "\n".join(
        f"| {split} | "
        + ", ".join(sp["speaker"] for sp in speakers_info if sp["split"] == split)
        + f" | {sum(sp['utterances'] for sp in speakers_info if sp['split'] == split)}"
        + f" | {sum(sp['seconds'] for sp in speakers_info if sp['split'] == split):.1f} |"
        for split in splits
    )
    readme = README.format(
        seed=SEED,
        festival=version.removeprefix("festival: "),
        n_words=len(vocab),
        ws_pairs=sum(a in vocab_set and b in vocab_set for a, b in pairs["wordsim353"]),
        sl_pairs=sum(a in vocab_set and b in vocab_set for a, b in pairs["simlex999"]),
        table=table,
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.json")
    manifest = {
        "name": "lwa demo corpus",
        "generator": "scripts/make_demo_corpus.py",
        "seed": SEED,
        "festival": version,
        "voices": sorted({s.voice for s in SPEAKERS}),
        "sample_rate": SAMPLE_RATE,
        "splits": {
            split: {
                "speakers": [s["speaker"] for s in speakers_info if s["split"] == split],
                "utterances": sum(s["utterances"] for s in speakers_info if s["split"] == split),
                "seconds": round(
                    sum(s["seconds"] for s in speakers_info if s["split"] == split), 4
                ),
                "word_tokens": sum(token_counts[split].values()),
                "word_types": len(token_counts[split]),
                "min_instances_per_vocabulary_word": min(token_counts[split][w] for w in vocab),
                "phone_counts": dict(sorted(phone_counts[split].items())),
            }
            for split in splits
        },
        "speakers": speakers_info,
        "vocabulary": vocab,
        "benchmarks": {
            name: {
                "pairs_covered": sum(a in vocab_set and b in vocab_set for a, b in rows),
                "words_covered": len(vocab_set & {w for pair in rows for w in pair}),
            }
            for name, rows in pairs.items()
        },
        "files": {p.relative_to(out).as_posix(): sha256(p) for p in files},
    }
    (out / "MANIFEST.json").write_text(
        json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--festival", default="festival", help="festival executable")
    args = parser.parse_args(argv)
    if shutil.which(args.festival) is None:
        print(
            f"error: {args.festival!r} not found; install it with "
            "'apt-get install festival festvox-kallpc16k festvox-us-slt-hts'",
            file=sys.stderr,
        )
        return 1
    manifest = build(args.out, args.festival)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    for split, info in manifest["splits"].items():
        print(
            f"{split}: {info['utterances']} utterances, {info['seconds']:.1f} s, "
            f"{info['word_tokens']} words, min {info['min_instances_per_vocabulary_word']} "
            "instances per vocabulary word"
        )
    print(f"benchmarks: {manifest['benchmarks']}")
    print(f"total size: {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
