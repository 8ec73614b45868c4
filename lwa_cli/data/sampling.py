"""Seeded sampling of utterances and segment tokens (SPEC §3), as pure index functions.

Every function takes a ``numpy.random.Generator`` and returns indices in ascending order:
utterance indices, or row indices into a `Segments` table (whose rows are grouped by
utterance, so a sorted sample keeps each utterance's tokens together for extraction).

Count rules, as in the reference (``codes/prepare/create_data_samples.py`` of
ankitapasad/layerwise-analysis):

- phones (the 39, no ``SIL``): dev/test ``min(count, 200)``; train
  ``randint(min(3000, count), min(7000, count))``.
- words (top W, no ``<unk>``): dev/test ``min(count, 15)``; train
  ``randint(min(lo, count), min(1200, count))`` with ``lo = 800`` when ``W == 350`` and
  ``lo = 600`` otherwise. The reference defines ``lo`` only for W = 500 (600) and W = 350
  (800) and fails for any other W; lwa uses 600 for every W other than 350.
- ``randint`` is Python's ``random.randint``: both bounds inclusive. lwa draws it with
  ``Generator.integers(lo, hi, endpoint=True)``.

Where lwa differs from the reference, on purpose:

- Bounds are per token, exactly as the formulas read. The reference overwrote its running
  ``min_cnt``/``max_cnt`` inside the loop, so one rare token lowered the bounds of every token
  after it in the inventory order; the SPEC formula does not carry that over.
- Subsets never exceed ``max_seconds`` (SPEC); the reference closed a subset only after the
  token that pushed it past the threshold, so its subsets ran over by one token.
- Random streams differ (the reference used Python's ``random`` and numpy's global state), so
  the same seed does not give the reference's sample; the distribution is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lwa_cli.data.phones import PHONES_39
from lwa_cli.errors import LwaUsageError

#: The unknown-word label of the alignments: counted, never sampled.
UNK = "<unk>"

#: Phone tokens per phone on dev/test splits.
PHONE_DEV_COUNT = 200
#: Inclusive (low, high) bounds of phone tokens per phone on train splits.
PHONE_TRAIN_RANGE = (3000, 7000)
#: Word tokens per word on dev/test splits.
WORD_DEV_COUNT = 15
#: Upper bound of word tokens per word on train splits.
WORD_TRAIN_MAX = 1200


def word_train_range(n_words: int) -> tuple[int, int]:
    """Inclusive (low, high) bounds of train word tokens per word for a top-``n_words`` list.

    ``(800, 1200)`` for 350 words, ``(600, 1200)`` otherwise (the reference's default W=500).
    """
    return (800 if n_words == 350 else 600), WORD_TRAIN_MAX


def _indices_by_label(labels: np.ndarray, wanted: Sequence[str]) -> list[np.ndarray]:
    """Row indices of each wanted label (empty array for absent labels), ascending."""
    unique, inverse = np.unique(np.asarray(labels, dtype=np.str_), return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=unique.size))))
    position = {label: i for i, label in enumerate(unique.tolist())}
    empty = np.zeros(0, dtype=np.int64)
    groups = []
    for label in wanted:
        i = position.get(label)
        groups.append(empty if i is None else order[bounds[i] : bounds[i + 1]].astype(np.int64))
    return groups


def _draw(
    groups: list[np.ndarray],
    rng: np.random.Generator,
    *,
    cap: int | None = None,
    train_range: tuple[int, int] | None = None,
) -> np.ndarray:
    """Draw from each group, in order: ``min(n, cap)`` or ``randint(min(lo,n), min(hi,n))``."""
    chosen = []
    for group in groups:
        n = group.size
        if train_range is not None:
            lo, hi = train_range
            size = int(rng.integers(min(lo, n), min(hi, n), endpoint=True))
        else:
            assert cap is not None
            size = min(n, cap)
        if size:
            chosen.append(rng.choice(group, size=size, replace=False))
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen))


def _unique_in_order(words: Sequence[str]) -> list[str]:
    """Words without repeats and without ``<unk>``, first occurrence order kept."""
    return [w for w in dict.fromkeys(str(w) for w in words) if w != UNK]


def sample_utterances(n_utts: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n`` distinct utterances at random (all of them when ``n >= n_utts``).

    Returns
    -------
    np.ndarray
        Sorted int64 utterance indices.

    Raises
    ------
    LwaUsageError
        If ``n`` is smaller than 1.
    """
    if n < 1:
        raise LwaUsageError(f"the number of utterances to sample must be at least 1, got {n}")
    if n >= n_utts:
        return np.arange(n_utts, dtype=np.int64)
    return np.sort(rng.choice(n_utts, size=n, replace=False)).astype(np.int64)


def sample_phone_tokens(labels: np.ndarray, is_train: bool, rng: np.random.Generator) -> np.ndarray:
    """Sample phone segments: per phone of `PHONES_39` (no ``SIL``), in that order.

    dev/test: ``min(count, 200)``; train: ``randint(min(3000, count), min(7000, count))``
    inclusive. Phones absent from ``labels`` contribute nothing.

    Returns
    -------
    np.ndarray
        Sorted int64 row indices into ``labels``.
    """
    groups = _indices_by_label(labels, PHONES_39)
    if is_train:
        return _draw(groups, rng, train_range=PHONE_TRAIN_RANGE)
    return _draw(groups, rng, cap=PHONE_DEV_COUNT)


def sample_word_tokens(
    labels: np.ndarray,
    top_words: Sequence[str],
    is_train: bool,
    rng: np.random.Generator,
    *,
    n_words: int | None = None,
) -> np.ndarray:
    """Sample word segments of the top-W words, in ``top_words`` order (``<unk>`` never).

    Parameters
    ----------
    labels : np.ndarray
        Word segment labels of the split.
    top_words : sequence of str
        The top-W word list (see `select_top_words`).
    is_train : bool
        Train rule ``randint(min(lo, count), min(1200, count))`` (inclusive) instead of the
        dev/test rule ``min(count, 15)``.
    rng : np.random.Generator
        Random source.
    n_words : int, optional
        The W that was asked for, which picks ``lo`` (800 for 350, else 600); defaults to
        ``len(top_words)``. Pass it when the vocabulary had fewer than W words.

    Returns
    -------
    np.ndarray
        Sorted int64 row indices into ``labels``.
    """
    groups = _indices_by_label(labels, _unique_in_order(top_words))
    if is_train:
        w = len(top_words) if n_words is None else n_words
        return _draw(groups, rng, train_range=word_train_range(w))
    return _draw(groups, rng, cap=WORD_DEV_COUNT)


def sample_wordsim_tokens(
    labels: np.ndarray, vocabulary: Sequence[str], instances: int, rng: np.random.Generator
) -> np.ndarray:
    """Sample up to ``instances`` random segments of every vocabulary word present in ``labels``.

    Words are matched exactly (alignment words are lower-case); absent words and ``<unk>`` are
    skipped.

    Returns
    -------
    np.ndarray
        Sorted int64 row indices into ``labels``.

    Raises
    ------
    LwaUsageError
        If ``instances`` is smaller than 1.
    """
    if instances < 1:
        raise LwaUsageError(f"the number of instances per word must be at least 1, got {instances}")
    groups = _indices_by_label(labels, _unique_in_order(vocabulary))
    return _draw(groups, rng, cap=instances)


def cut_subsets(durations: np.ndarray, max_seconds: float) -> np.ndarray:
    """Cut tokens, in order, into consecutive subsets of summed duration ≤ ``max_seconds``.

    Each subset takes as many following tokens as fit; a single token longer than
    ``max_seconds`` forms a subset of its own.

    Parameters
    ----------
    durations : np.ndarray
        Token durations in seconds (non-negative), in sample order.
    max_seconds : float
        Largest summed duration of a subset (> 0).

    Returns
    -------
    np.ndarray
        int64 subset id (0, 1, …, non-decreasing) of each token.

    Raises
    ------
    LwaUsageError
        If ``max_seconds`` is not positive or a duration is negative or not finite.
    """
    durations = np.asarray(durations, dtype=np.float64).reshape(-1)
    if not max_seconds > 0:
        raise LwaUsageError(f"the subset duration limit must be positive, got {max_seconds}")
    if durations.size and not (np.all(np.isfinite(durations)) and durations.min() >= 0):
        raise LwaUsageError("segment durations must be finite and non-negative")
    cumulative = np.concatenate(([0.0], np.cumsum(durations)))
    subset = np.empty(durations.size, dtype=np.int64)
    start, subset_id = 0, 0
    # One searchsorted per subset: the loop runs (total duration / max_seconds) times.
    while start < durations.size:
        stop = int(np.searchsorted(cumulative, cumulative[start] + max_seconds, side="right")) - 1
        stop = max(stop, start + 1)
        subset[start:stop] = subset_id
        start, subset_id = stop, subset_id + 1
    return subset


def select_top_words(inventory_labels: np.ndarray, n_words: int) -> np.ndarray:
    """The first ``n_words`` words of a count-ordered inventory, leaving out ``<unk>``.

    Parameters
    ----------
    inventory_labels : np.ndarray
        Word labels ordered by train count (see `lwa_cli.data.alignments.inventory`).
    n_words : int
        W (>= 1). Fewer are returned when the inventory is smaller.

    Raises
    ------
    LwaUsageError
        If ``n_words`` is smaller than 1.
    """
    if n_words < 1:
        raise LwaUsageError(f"the number of words must be at least 1, got {n_words}")
    labels = np.asarray(inventory_labels, dtype=np.str_)
    return labels[labels != UNK][:n_words]


# All-words sample (`lwa sample allwords`, the vocabulary of the linguistic-attribute CCA)
#
# Compared with the reference (``AllWrdSegments`` of ``create_data_samples.py`` and
# ``save_word_lst`` of ``prep_linguistic_attributes.py``), on purpose:
#
# - The vocabulary keeps the split's word order (the caller passes the count-ordered inventory)
#   instead of Python set iteration order, which changed with PYTHONHASHSEED; and it is the
#   union of the *chosen* oracles (the reference always took semantic ∪ syntactic).
# - Instances are drawn with a seeded Generator, not numpy's unseeded global state.
# - Tokens are stored in segment order (grouped by utterance, for extraction) with a subset id
#   each; the reference listed each subset's words in insertion order and each word's
#   instances in draw order. The CCA does not depend on row order beyond its seeded splits.
# - A subset never holds more than ``max_seconds`` (``≤``; the reference packed a word only
#   while ``dur + tot < thresh``, strictly). A word whose instances alone exceed the bound gets
#   a new subset of its own, as in the reference (whose "first empty subset" is always new).


def allwords_vocabulary(
    oracle_vocabularies: Sequence[Sequence[str]], split_words: Sequence[str]
) -> list[str]:
    """Words of the chosen oracles (their union) that occur in the split, ``<unk>`` never.

    Parameters
    ----------
    oracle_vocabularies : sequence of sequences of str
        The words of each chosen oracle (e.g. semantic and syntactic).
    split_words : sequence of str
        The split's words in the order to keep: pass the count-ordered inventory
        (`lwa_cli.data.alignments.inventory`: most frequent first, ties by label), so the
        vocabulary is ordered the same way. Repeats are ignored.

    Returns
    -------
    list of str
        The vocabulary, in ``split_words`` order.

    Raises
    ------
    LwaUsageError
        If no oracle vocabulary is given.
    """
    if len(oracle_vocabularies) == 0:
        raise LwaUsageError("the all-words vocabulary needs at least one oracle")
    known = {str(w) for words in oracle_vocabularies for w in words}
    return [w for w in _unique_in_order(split_words) if w in known]


def sample_allwords_tokens(
    labels: np.ndarray, vocabulary: Sequence[str], instances: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to ``instances`` random segments of each vocabulary word, drawn in vocabulary order.

    The rule of `sample_wordsim_tokens` (the same cap-per-word draw), named for the all-words
    sample. Returns sorted int64 row indices into ``labels``.
    """
    return sample_wordsim_tokens(labels, vocabulary, instances, rng)


def pack_words(
    labels: np.ndarray,
    durations: np.ndarray,
    max_seconds: float,
    order: Sequence[str] | None = None,
) -> np.ndarray:
    """Assign tokens to subsets by whole word: first-fit bin packing of words by duration.

    Words are placed one by one (in ``order``, else in order of first appearance in
    ``labels``): a word goes to the first subset (creation order) whose summed duration plus
    the word's total stays ≤ ``max_seconds``, else to a new subset. A word whose total alone
    exceeds ``max_seconds`` gets a new subset of its own (nothing else joins it). All
    instances of a word therefore share one subset.

    Parameters
    ----------
    labels : np.ndarray
        Word label of each sampled token.
    durations : np.ndarray
        Duration of each token in seconds (finite, ≥ 0).
    max_seconds : float
        Largest summed duration of a subset (> 0).
    order : sequence of str, optional
        Packing order of the words; must list every word of ``labels`` (repeats ignored).

    Returns
    -------
    np.ndarray
        int64 subset id (0, 1, … in creation order) of each token.

    Raises
    ------
    LwaUsageError
        Bad ``max_seconds`` or durations, mismatched lengths, or an ``order`` that misses a
        word of ``labels``.
    """
    labels = np.asarray(labels, dtype=np.str_).reshape(-1)
    durations = np.asarray(durations, dtype=np.float64).reshape(-1)
    if not max_seconds > 0:
        raise LwaUsageError(f"the subset duration limit must be positive, got {max_seconds}")
    if labels.shape != durations.shape:
        raise LwaUsageError(f"{labels.size} labels but {durations.size} durations")
    if durations.size and not (np.all(np.isfinite(durations)) and durations.min() >= 0):
        raise LwaUsageError("segment durations must be finite and non-negative")
    unique, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    totals = np.bincount(inverse, weights=durations, minlength=unique.size)
    if order is None:
        word_order = np.argsort(first, kind="stable")
    else:
        position = {w: i for i, w in enumerate(unique.tolist())}
        listed = [position[w] for w in dict.fromkeys(str(w) for w in order) if w in position]
        if len(listed) != unique.size:
            missing = sorted(set(unique.tolist()) - {unique[i] for i in listed})
            raise LwaUsageError(f"the packing order misses {len(missing)} word(s) of the "
                                f"sample, e.g. {missing[0]!r}")
        word_order = np.asarray(listed, dtype=np.int64)
    subset_of_word = np.empty(unique.size, dtype=np.int64)
    loads = np.zeros(0, dtype=np.float64)
    for w in word_order:
        total = totals[w]
        fits = np.flatnonzero(loads + total <= max_seconds) if total <= max_seconds else ()
        if len(fits):
            s = int(fits[0])
            loads[s] += total
        else:
            s = loads.size
            loads = np.append(loads, total)
        subset_of_word[w] = s
    return subset_of_word[inverse]
