"""Acoustic word discrimination: same-different average precision over word tokens.

Every unordered pair of the N tokens is a trial, "same" when the two labels (word types) are
equal (Carlin et al., Interspeech 2011; the fixed-dimensional form of Levin et al. 2013 and
Kamper et al. 2016). Sweeping a threshold over the pair distances, ascending, gives a
precision-recall curve of the "same" class; the score is its average precision

    AP = (1/P) * sum_k precision@k * m_k,

P the number of same pairs and m_k = 1 for a same pair, and the precision-recall breakeven
(PRB): precision made non-increasing from the right, k* = first argmin |recall - precision|,
PRB = (recall + precision) / 2 at k*. Without ties this is exactly kamperh/speech_dtw
``samediff.average_precision`` on ``pdist`` distances.

**Tie rule.** Pairs at exactly the same float64 distance form one threshold, as in
scikit-learn's ``average_precision_score``: a group's same pairs all get the group's final
precision, and the precision-recall points are the group ends. The result is independent of
any sort order. samediff instead ranks tied pairs in ``np.argsort`` order, so its AP on tied
data depends on the numpy version; the bounds of every possible order (same pairs first or
last inside each tie group) are returned as ``ap_ties_max`` / ``ap_ties_min``.

**Memory.** The N(N-1)/2 distances are never held at once. The same-pair distances (one
small matrix per word type, P values in all) are kept sorted, with their distinct values
u_1 < ... < u_m. The different-pair distances are then computed in row blocks of the upper
triangle; each block is sorted and only the counts of its values below / at each u_j are
kept. That is all AP needs, exactly. The PRB crossing lies between two consecutive u_j; when
more than one different pair falls strictly inside that gap, a second blockwise pass collects
just those distances, whose tie structure fixes the exact breakeven. Memory is O(P + block),
time two passes of an (N x N x D) float64 matrix product.

Distances (float64): cosine ``1 - clip(x.y / (|x| |y|), -1, 1)``, scipy's formula; euclidean
``sqrt(max(|x|^2 + |y|^2 - 2 x.y, 0))``. Dot products come from BLAS, so values can differ from
``scipy.spatial.distance.pdist`` in the last bit; exactly representable data (e.g. small
integers) gives identical values and identical tie groups. The same-pair distances are always
computed type by type with one fixed block plan; the different-pair values may differ in the
last bit with ``block_rows`` (BLAS kernels depend on the block shape), which can only matter for
pairs whose distances are mathematically equal, i.e. duplicated vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lwa_cli.analysis.awd.same_different import (
    average_precisions,
    breakeven,
    count_groups,
    same_different_ap,
)
from lwa_cli.errors import LwaError, LwaUsageError

__all__ = ["AWDResult", "awd_score", "same_different_ap", "select_awd_tokens"]

Distance = Literal["cosine", "euclidean"]
DISTANCES: tuple[str, ...] = ("cosine", "euclidean")
SPEAKER_PAIRS = ("all", "different", "same")
"""Which same-word pairs are positives (`awd_score`'s ``speaker_pairs``)."""
TIE_RULE = "grouped: one threshold per distinct float64 distance (scikit-learn rule)"
#: Distances per block when ``block_rows`` is not given (32 MiB of float64).
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class AWDResult:
    """Same-different scores of one set of token embeddings.

    Attributes
    ----------
    ap, prb : float
        Average precision and precision-recall breakeven under the grouped tie rule.
    ap_ties_min, ap_ties_max : float
        AP with the same pairs ranked last / first inside every tie group: the range of
        order-dependent (argsort) implementations. All three are equal when no two pairs
        share a distance; the grouped ``ap`` always lies between the bounds.
    n_tokens, n_types : int
        Tokens and distinct labels.
    n_types_paired : int
        Labels with at least two tokens (the others give only different pairs).
    n_pairs, n_same_pairs : int
        N(N-1)/2 and P.
    n_mixed_tie_groups : int
        Distinct distances shared by a same and a different pair.
    distance : str
        ``"cosine"`` or ``"euclidean"``.
    mvn : bool
        Whether each dimension was standardised over the tokens first.
    tie_rule : str
        The tie rule, in words.
    """

    ap: float
    prb: float
    ap_ties_min: float
    ap_ties_max: float
    n_tokens: int
    n_types: int
    n_types_paired: int
    n_pairs: int
    n_same_pairs: int
    n_mixed_tie_groups: int
    distance: str
    mvn: bool
    tie_rule: str = TIE_RULE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of all fields."""
        return asdict(self)


def _prepare(embeddings: ArrayLike, distance: str, mvn: bool) -> NDArray[np.float64]:
    """Validated float64 copy, standardised per dimension when ``mvn``."""
    if distance not in DISTANCES:
        raise LwaUsageError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
    x = np.array(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise LwaError(f"embeddings must be a 2-D (tokens x dims) array, got shape {x.shape}")
    if x.shape[0] < 2:
        raise LwaError(f"same-different evaluation needs at least 2 tokens, got {x.shape[0]}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise LwaError(f"embedding of token {bad} has NaN or infinite values; re-extract it")
    if mvn:
        x -= x.mean(axis=0)
        std = x.std(axis=0)
        # A constant dimension is 0 after centring; it carries nothing, so leave it at 0
        # instead of dividing by 0 (eval_samediff.py --mvn would produce NaN there).
        x /= np.where(std > 0, std, 1.0)
    if distance == "cosine":
        zero = np.flatnonzero(~x.any(axis=1))
        if zero.size:
            raise LwaError(
                f"token {int(zero[0])} has an all-zero embedding{' after MVN' if mvn else ''}; "
                "its cosine distance is undefined, drop it or use distance='euclidean'"
            )
    return x


def _distance_block(
    xr: NDArray[np.float64],
    nr: NDArray[np.float64],
    xc: NDArray[np.float64],
    nc: NDArray[np.float64],
    distance: str,
) -> NDArray[np.float64]:
    """Distances rows x columns; ``nr``/``nc`` are norms (cosine) or squared norms."""
    d = xr @ xc.T
    if distance == "cosine":
        d /= np.multiply.outer(nr, nc)
        np.clip(d, -1.0, 1.0, out=d)
        np.subtract(1.0, d, out=d)
    else:
        d *= -2.0
        d += nr[:, None]
        d += nc[None, :]
        np.maximum(d, 0.0, out=d)
        np.sqrt(d, out=d)
    return d


def _aux(x: NDArray[np.float64], distance: str) -> NDArray[np.float64]:
    sq = np.einsum("ij,ij->i", x, x)
    return np.sqrt(sq) if distance == "cosine" else sq


def _upper_blocks(
    x: NDArray[np.float64], aux: NDArray[np.float64], distance: str, block_rows: int | None
) -> Iterator[tuple[int, int, NDArray[np.float64], NDArray[np.bool_]]]:
    """Row blocks of the strict upper triangle: ``(r0, r1, D, upper)``, where ``D[i, c]`` is
    the distance of rows ``r0 + i`` and ``r0 + 1 + c`` and ``upper`` marks ``c >= i``."""
    n = x.shape[0]
    r0 = 0
    while r0 < n - 1:
        width = n - 1 - r0
        rows = block_rows if block_rows is not None else max(1, _BLOCK_ELEMENTS // width)
        r1 = min(r0 + rows, n - 1)
        d = _distance_block(x[r0:r1], aux[r0:r1], x[r0 + 1 :], aux[r0 + 1 :], distance)
        upper = np.arange(width)[None, :] >= np.arange(r1 - r0)[:, None]
        yield r0, r1, d, upper
        r0 = r1


def _same_distances(
    x: NDArray[np.float64],
    aux: NDArray[np.float64],
    codes: NDArray[np.intp],
    distance: str,
    speakers: NDArray[np.intp] | None = None,
    same_speaker: bool = False,
) -> NDArray[np.float64]:
    """All same-pair distances, sorted, computed one word type at a time (default block plan,
    so that the values never depend on the caller's ``block_rows``). With `speakers`, only
    the pairs whose two tokens have the same (``same_speaker``) or different speakers."""
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True])
    parts = []
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        if b - a < 2:
            continue
        idx = order[a:b]
        for r0, r1, d, upper in _upper_blocks(x[idx], aux[idx], distance, None):
            if speakers is not None:
                spk = speakers[idx]
                upper = upper & ((spk[r0:r1, None] == spk[None, r0 + 1:]) == same_speaker)
            parts.append(d[upper])
    out = np.concatenate(parts) if parts else np.empty(0)
    out.sort()
    return out


def awd_score(
    embeddings: ArrayLike,
    labels: Sequence[Any] | ArrayLike,
    *,
    distance: Distance = "cosine",
    mvn: bool = False,
    block_rows: int | None = None,
    speakers: Sequence[Any] | ArrayLike | None = None,
    speaker_pairs: str = "all",
) -> AWDResult:
    """Same-different AP and PRB of word-token embeddings, in flat memory.

    Parameters
    ----------
    embeddings : array_like, shape (N, D)
        One vector per token (e.g. mean-pooled word segments of one layer); read as float64.
    labels : sequence, shape (N,)
        Word type of each token; tokens with equal labels form the same pairs.
    distance : {"cosine", "euclidean"}
    mvn : bool
        Standardise each dimension over the N tokens first (mean 0, population std 1).
    block_rows : int, optional
        Rows of the distance matrix per block; by default about 4M distances per block.
        The result does not depend on it.
    speakers : sequence, shape (N,), optional
        Speaker of each token; needed unless ``speaker_pairs="all"``.
    speaker_pairs : {"all", "different", "same"}
        Which same-word pairs are the positives: all, only those of two different speakers,
        or only those of one speaker (the AWD literature's speaker conditions). Different-word
        pairs are always all negatives; the excluded same-word pairs are left out.

    Returns
    -------
    AWDResult

    Raises
    ------
    LwaError
        Bad shapes, non-finite values, a zero vector under cosine, or no same pair.
    LwaUsageError
        Unknown ``distance`` or ``block_rows`` < 1.
    """
    if block_rows is not None and block_rows < 1:
        raise LwaUsageError(f"block_rows must be at least 1, got {block_rows}")
    x = _prepare(embeddings, distance, mvn)
    lab = np.asarray(labels)
    if lab.shape != (x.shape[0],):
        raise LwaError(f"{x.shape[0]} embeddings but labels of shape {lab.shape}")
    _, codes, type_counts = np.unique(lab, return_inverse=True, return_counts=True)
    codes = codes.astype(np.intp)
    aux = _aux(x, distance)
    if speaker_pairs not in SPEAKER_PAIRS:
        raise LwaUsageError(f"speaker_pairs must be one of {', '.join(SPEAKER_PAIRS)}, got "
                            f"{speaker_pairs!r}")
    spk = None
    if speaker_pairs != "all":
        if speakers is None or np.asarray(speakers).shape != (x.shape[0],):
            raise LwaError(f"speaker_pairs={speaker_pairs!r} needs one speaker per token")
        spk = np.unique(np.asarray(speakers), return_inverse=True)[1].reshape(-1)
    same = _same_distances(x, aux, codes, distance, spk, speaker_pairs == "same")
    if same.size == 0 and speaker_pairs != "all":
        raise LwaError(f"no same-word pair from {speaker_pairs} speakers, so AP is undefined")
    if same.size == 0:
        raise LwaError(
            "no two tokens share a label, so there is no same pair and AP is undefined; "
            "sample several tokens per word"
        )
    last = same[-1]

    def different(lo: float, hi: float, closed: bool) -> Iterator[NDArray[np.float64]]:
        for r0, r1, d, upper in _upper_blocks(x, aux, distance, block_rows):
            keep = upper & (codes[r0:r1, None] != codes[None, r0 + 1 :])
            keep &= (d <= hi) if closed else (d < hi)
            if lo > -np.inf:
                keep &= d > lo
            yield d[keep]

    u, groups = count_groups(same, different(-np.inf, float(last), closed=True))
    ap, ap_min, ap_max = average_precisions(groups)

    def gap_values(lo: float, hi: float) -> NDArray[np.float64]:
        return np.concatenate(list(different(lo, hi, closed=False)))

    prb = breakeven(groups, u, gap_values)
    n = x.shape[0]
    return AWDResult(
        ap=ap,
        prb=prb,
        ap_ties_min=ap_min,
        ap_ties_max=ap_max,
        n_tokens=n,
        n_types=int(type_counts.size),
        n_types_paired=int(np.count_nonzero(type_counts >= 2)),
        n_pairs=n * (n - 1) // 2,
        n_same_pairs=int(same.size),
        n_mixed_tie_groups=int(np.count_nonzero(groups.neg_le > groups.neg_lt)),
        distance=distance,
        mvn=mvn,
    )


def select_awd_tokens(
    words: Sequence[str] | ArrayLike,
    durations: ArrayLike | None = None,
    *,
    min_chars: int = 0,
    min_seconds: float = 0.0,
    max_per_word: int | None = None,
    seed: int = 0,
) -> NDArray[np.intp]:
    """Token filter of the AWE literature: word length, duration, and a cap per word type.

    Parameters
    ----------
    words : sequence of str, shape (N,)
        Word of each token.
    durations : array_like of float, shape (N,), optional
        Token durations in seconds; required when ``min_seconds > 0``.
    min_chars : int
        Keep words of at least this many characters (Carlin et al.'s Switchboard set: 6).
    min_seconds : float
        Keep tokens at least this long (Carlin et al.: 0.5 s).
    max_per_word : int, optional
        Keep at most this many tokens of each word, drawn without replacement by a numpy
        Generator seeded with ``seed``, words visited in sorted order.

    Returns
    -------
    ndarray of intp
        Indices of the kept tokens, ascending.
    """
    w = np.asarray(words).astype(str)
    if w.ndim != 1:
        raise LwaError(f"words must be 1-D, got shape {w.shape}")
    if min_chars < 0 or min_seconds < 0:
        raise LwaUsageError("min_chars and min_seconds must not be negative")
    if max_per_word is not None and max_per_word < 1:
        raise LwaUsageError(f"max_per_word must be at least 1, got {max_per_word}")
    keep = np.char.str_len(w) >= min_chars
    if min_seconds > 0:
        if durations is None:
            raise LwaUsageError("min_seconds needs the token durations")
        dur = np.asarray(durations, dtype=np.float64)
        if dur.shape != w.shape:
            raise LwaError(f"{w.size} words but durations of shape {dur.shape}")
        keep &= dur >= min_seconds
    kept = np.flatnonzero(keep)
    if max_per_word is None:
        return kept
    rng = np.random.default_rng(seed)
    order = kept[np.argsort(w[kept], kind="stable")]  # tokens grouped by word, sorted words
    bounds = np.flatnonzero(np.r_[True, w[order][1:] != w[order][:-1], True])
    chosen = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[a:b]
        if members.size > max_per_word:
            members = rng.choice(members, size=max_per_word, replace=False)
        chosen.append(members)
    return np.sort(np.concatenate(chosen)) if chosen else kept
