"""A small spoken-STS set from the demo corpus, with *computed* (not human) similarities.

The demo corpus has no human sentence-similarity judgements, and every sentence is read by
exactly one synthetic speaker (163 utterances, 163 distinct transcripts), so a pair is two
sentences read by the same speaker, one row per pair, like one speaker's row of the spoken STS
data. Its score is the word-overlap Jaccard index of the two transcripts scaled to 0-5,
``5 * |A & B| / |A | B|`` over their sets of lower-cased words. It exists to run ``lwa sts``
end to end; a correlation with it says nothing about semantics. With one speaker per pair,
``exclude_same_speaker`` leaves no combinations on this set.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lwa_cli.data.corpus import find_audio, read_transcripts
from lwa_cli.data.sts import MANIFEST_COLUMNS
from lwa_cli.errors import LwaError, LwaUsageError

#: What the scores of this set are, for reports.
SCORE_NOTE = "computed: 5 x word-overlap Jaccard of the two transcripts (not human judgements)"


@dataclass(frozen=True)
class DemoSTSPair:
    """Two utterances of one speaker and their computed similarity (0-5)."""

    pair_id: str
    speaker: str
    utt_a: str
    utt_b: str
    score: float


def jaccard_score(text_a: str, text_b: str) -> float:
    """``5 * |A & B| / |A | B|`` over the lower-cased word sets (0 when both are empty)."""
    a, b = set(text_a.lower().split()), set(text_b.lower().split())
    union = a | b
    return 5.0 * len(a & b) / len(union) if union else 0.0


def build_demo_sts_pairs(
    utterances: Sequence[tuple[str, str, str]],
    *,
    max_pairs_per_speaker: int | None = None,
    seed: int = 0,
) -> list[DemoSTSPair]:
    """Pairs of sentences read by the same speaker, scored by `jaccard_score`.

    Parameters
    ----------
    utterances : sequence of (utt_id, speaker, transcript)
    max_pairs_per_speaker : int, optional
        Keep at most this many of a speaker's pairs, drawn by a numpy Generator seeded with
        ``seed`` (speakers in sorted order); by default all ``k (k - 1) / 2`` pairs.

    Returns
    -------
    list of DemoSTSPair
        Sorted by speaker, then utterance ids; ``pair_id`` is ``"<utt_a>+<utt_b>"``.
    """
    if max_pairs_per_speaker is not None and max_pairs_per_speaker < 1:
        raise LwaUsageError(
            f"max_pairs_per_speaker must be at least 1, got {max_pairs_per_speaker}"
        )
    by_speaker: dict[str, list[tuple[str, str]]] = {}
    for utt_id, speaker, text in utterances:
        by_speaker.setdefault(speaker, []).append((utt_id, text))
    rng = np.random.default_rng(seed)
    pairs: list[DemoSTSPair] = []
    for speaker in sorted(by_speaker):
        combos = list(itertools.combinations(sorted(by_speaker[speaker]), 2))
        if max_pairs_per_speaker is not None and len(combos) > max_pairs_per_speaker:
            keep = np.sort(rng.choice(len(combos), size=max_pairs_per_speaker, replace=False))
            combos = [combos[i] for i in keep]
        for (ua, ta), (ub, tb) in combos:
            pairs.append(DemoSTSPair(f"{ua}+{ub}", speaker, ua, ub, jaccard_score(ta, tb)))
    return pairs


def write_demo_sts_manifest(
    corpus_root: str | Path,
    manifest: str | Path,
    *,
    split: str = "dev-clean",
    max_pairs_per_speaker: int | None = 40,
    seed: int = 0,
) -> list[DemoSTSPair]:
    """Write a spoken-STS TSV manifest over one split of a LibriSpeech-layout corpus.

    Audio paths are written relative to the manifest's directory, as
    `lwa_cli.data.sts.read_sts_manifest` reads them. Use the bundled corpus
    (`lwa_cli.demo.corpus.bundled_corpus_path` / ``"LibriSpeech"``) or a copy of it.

    Returns
    -------
    list of DemoSTSPair
        The rows written, in file order.

    Raises
    ------
    LwaError
        The split has no transcribed audio, or fewer than 2 utterances of any speaker.
    """
    manifest = Path(manifest)
    audio = find_audio(corpus_root, split)
    texts = read_transcripts(corpus_root, split)
    utts = [(u, u.split("-")[0], texts[u]) for u in sorted(audio) if u in texts]
    pairs = build_demo_sts_pairs(utts, max_pairs_per_speaker=max_pairs_per_speaker, seed=seed)
    if not pairs:
        raise LwaError(f"split {split} of {corpus_root} has no speaker with two utterances")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    base = manifest.parent.resolve()

    def rel(utt: str) -> str:
        return Path(os.path.relpath(Path(audio[utt]).resolve(), base)).as_posix()

    lines = ["\t".join(MANIFEST_COLUMNS)]
    for p in pairs:
        lines.append("\t".join([p.pair_id, p.speaker, rel(p.utt_a), rel(p.utt_b), repr(p.score)]))
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pairs
