"""Spoken semantic textual similarity: Spearman rho of utterance-embedding cosines vs humans.

Reference: ``evaluate_spokensts`` of layerwise-analysis (get_scores.py:499-534), after Merkx,
Frank & Ernestus (Interspeech 2021). A sentence pair is read by several speakers, each reading
both sentences (one *row* per speaker). For a pair with rows s = 1..k, every speaker
combination (s, t) gives ``cos(E[a_s], E[b_t]) = a.b / sqrt(|a|^2 |b|^2)`` (the value of
``1 - scipy.spatial.distance.cosine``), k x k values, same-speaker combinations included as in
the reference (``exclude_same_speaker`` drops them). With ``mean=True`` (the reference default)
each pair contributes the mean of its values, against its human score; with ``mean=False``
every value is correlated with its pair's score. rho is ``scipy.stats.spearmanr`` (average
ranks for ties). Pairs are taken in order of first appearance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import spearmanr

from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class STSResult:
    """Spoken STS score of one layer.

    Attributes
    ----------
    rho : float
        Spearman correlation of cosine similarities with the human scores.
    n_pairs : int
        Sentence pairs with at least one speaker combination.
    n_values : int
        Values correlated: ``n_pairs`` with ``mean``, else all combinations.
    n_combinations : int
        Speaker combinations used, all pairs together.
    speakers_per_pair : dict[int, int]
        How many pairs have each number of speakers (the reference expects {4: n_pairs}).
    mode : str
        ``"mean"`` or ``"all"``.
    exclude_same_speaker : bool
        Whether same-speaker combinations were left out.
    """

    rho: float
    n_pairs: int
    n_values: int
    n_combinations: int
    speakers_per_pair: dict[int, int]
    mode: str
    exclude_same_speaker: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``speakers_per_pair`` keys as strings)."""
        out = asdict(self)
        out["speakers_per_pair"] = {str(k): v for k, v in sorted(self.speakers_per_pair.items())}
        return out


def _combinations(
    rows: NDArray[np.intp], speakers: NDArray[np.str_], exclude_same: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row indices (a side, b side) of every speaker combination of one pair."""
    ra, rb = np.meshgrid(rows, rows, indexing="ij")
    ra, rb = ra.ravel(), rb.ravel()
    if exclude_same:
        keep = speakers[ra] != speakers[rb]
        ra, rb = ra[keep], rb[keep]
    return ra, rb


def sts_score(
    embeddings: ArrayLike,
    pair_ids: Sequence[str] | ArrayLike,
    speakers: Sequence[str] | ArrayLike,
    utt_a: ArrayLike,
    utt_b: ArrayLike,
    scores: ArrayLike,
    *,
    mean: bool = True,
    exclude_same_speaker: bool = False,
) -> STSResult:
    """Spearman rho between utterance cosines and human similarity, over speaker combinations.

    Parameters
    ----------
    embeddings : array_like, shape (n_utterances, D)
        One vector per utterance (e.g. the mean over all frames of one layer).
    pair_ids, speakers : sequence of str, shape (n_rows,)
        Per row (one speaker reading one sentence pair): the pair and the speaker.
    utt_a, utt_b : array_like of int, shape (n_rows,)
        Rows of ``embeddings`` holding that speaker's readings of sentence a and b.
    scores : array_like of float, shape (n_rows,)
        The pair's human score, repeated on each of its rows (must agree within a pair).
    mean : bool
        One mean cosine per pair (reference default) instead of every combination.
    exclude_same_speaker : bool
        Leave out the combinations where one speaker read both sentences.

    Returns
    -------
    STSResult

    Raises
    ------
    LwaError
        Mismatched lengths, indices out of range, non-finite or zero embeddings, a pair
        whose rows disagree on the score or repeat a speaker, a pair left without
        combinations, or fewer than 2 values / constant values (rho undefined).
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2:
        raise LwaError(f"utterance embeddings must be 2-D (utterances x dims), got {emb.shape}")
    pid = np.asarray(pair_ids).astype(str)
    spk = np.asarray(speakers).astype(str)
    ia = np.asarray(utt_a, dtype=np.intp)
    ib = np.asarray(utt_b, dtype=np.intp)
    human = np.asarray(scores, dtype=np.float64)
    n_rows = pid.shape[0]
    if pid.ndim != 1 or any(v.shape != (n_rows,) for v in (spk, ia, ib, human)):
        raise LwaError("pair_ids, speakers, utt_a, utt_b and scores must be 1-D of one length")
    if n_rows == 0:
        raise LwaError("no sentence pairs to score")
    for name, idx in (("utt_a", ia), ("utt_b", ib)):
        if idx.min() < 0 or idx.max() >= emb.shape[0]:
            raise LwaError(f"{name} indexes past the {emb.shape[0]} utterance embeddings")
    if not np.isfinite(emb).all() or not np.isfinite(human).all():
        raise LwaError("utterance embeddings or human scores hold NaN or infinite values")
    norm2 = np.einsum("ij,ij->i", emb, emb)
    used = np.union1d(ia, ib)
    if np.any(norm2[used] == 0):
        bad = int(used[norm2[used] == 0][0])
        raise LwaError(f"utterance {bad} has an all-zero embedding; its cosine is undefined")

    _, first, inverse = np.unique(pid, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups in order of first appearance
    rows_of = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(inverse))]
    cos_a: list[NDArray[np.intp]] = []
    cos_b: list[NDArray[np.intp]] = []
    group_of: list[NDArray[np.intp]] = []
    pair_score = np.empty(order.size)
    n_speakers: Counter[int] = Counter()
    for g, u in enumerate(order):
        rows = rows_of[bounds[u] : bounds[u + 1]]
        name = str(pid[rows[0]])
        if np.any(human[rows] != human[rows[0]]):
            raise LwaError(
                f"sentence pair {name!r} has different human scores on its speakers' rows "
                f"({', '.join(f'{s:g}' for s in np.unique(human[rows]))}); fix the input"
            )
        if np.unique(spk[rows]).size != rows.size:
            raise LwaError(f"sentence pair {name!r} lists a speaker twice")
        ra, rb = _combinations(rows, spk, exclude_same_speaker)
        if ra.size == 0:
            raise LwaError(
                f"sentence pair {name!r} has one speaker only, so excluding same-speaker "
                "combinations leaves nothing; keep them or drop single-speaker pairs"
            )
        cos_a.append(ia[ra])
        cos_b.append(ib[rb])
        group_of.append(np.full(ra.size, g))
        pair_score[g] = human[rows[0]]
        n_speakers[int(rows.size)] += 1
    a, b, grp = np.concatenate(cos_a), np.concatenate(cos_b), np.concatenate(group_of)
    cos = np.einsum("ij,ij->i", emb[a], emb[b]) / np.sqrt(norm2[a] * norm2[b])
    if mean:
        values = np.bincount(grp, weights=cos) / np.bincount(grp)
        target = pair_score
    else:
        values, target = cos, pair_score[grp]
    if values.size < 2 or np.ptp(values) == 0 or np.ptp(target) == 0:
        raise LwaError(
            f"Spearman rho is undefined over {values.size} value(s) (fewer than 2, or the "
            "cosines or the human scores are all equal); score more, different sentence pairs"
        )
    return STSResult(
        rho=float(spearmanr(values, target).statistic),
        n_pairs=int(order.size),
        n_values=int(values.size),
        n_combinations=int(cos.size),
        speakers_per_pair=dict(sorted(n_speakers.items())),
        mode="mean" if mean else "all",
        exclude_same_speaker=exclude_same_speaker,
    )
