"""The all-words sample of the linguistic-attribute CCA: vocabulary, per-word cap, seeds, and
subsets packed by whole word (lwa_cli.data.sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from lwa_cli.data.sampling import (
    UNK,
    allwords_vocabulary,
    pack_words,
    sample_allwords_tokens,
)
from lwa_cli.errors import LwaUsageError


def test_vocabulary_is_oracle_union_within_split_in_split_order() -> None:
    semantic = ["dog", "run", "zebra", UNK]
    syntactic = ["the", "run", "of"]
    split_words = ["the", UNK, "of", "cat", "run", "dog", "the"]  # count order, one repeat
    assert allwords_vocabulary([semantic, syntactic], split_words) == ["the", "of", "run", "dog"]
    assert allwords_vocabulary([semantic], split_words) == ["run", "dog"]
    assert allwords_vocabulary([syntactic], split_words[::-1]) == ["the", "run", "of"]
    with pytest.raises(LwaUsageError, match="at least one oracle"):
        allwords_vocabulary([], split_words)


def _labels(rng: np.random.Generator) -> np.ndarray:
    counts = {"a": 3, "b": 250, "c": 40, "d": 7, UNK: 30, "e": 1}
    labels = np.array([w for w, c in counts.items() for _ in range(c)])
    return labels[rng.permutation(labels.size)]


def test_cap_per_word_vocabulary_only_and_sorted() -> None:
    labels = _labels(np.random.default_rng(5))
    picked = sample_allwords_tokens(labels, ["b", "c", "a", "e", "zzz", UNK], 20,
                                    np.random.default_rng(0))
    assert np.all(np.diff(picked) > 0)
    words, counts = np.unique(labels[picked], return_counts=True)
    assert dict(zip(words.tolist(), counts.tolist(), strict=True)) == {
        "a": 3, "b": 20, "c": 20, "e": 1}
    with pytest.raises(LwaUsageError, match="at least 1"):
        sample_allwords_tokens(labels, ["a"], 0, np.random.default_rng(0))


def test_seed_reproducibility() -> None:
    labels = _labels(np.random.default_rng(5))
    vocab = ["b", "c", "d"]
    first = sample_allwords_tokens(labels, vocab, 10, np.random.default_rng(7))
    np.testing.assert_array_equal(
        sample_allwords_tokens(labels, vocab, 10, np.random.default_rng(7)), first)
    assert not np.array_equal(
        sample_allwords_tokens(labels, vocab, 10, np.random.default_rng(8)), first)


def test_first_fit_by_whole_word_with_inclusive_bound() -> None:
    # Word totals A 6, B 5, C 4, D 11 (> bound), E 1 with max 10, placed in order A..E:
    # A→0, B→1 (6+5 > 10), C→0 (6+4 = 10 ≤ 10; the reference's strict < put it in 1),
    # D→2 alone (longer than the bound), E→1 (0 is full, 5+1 ≤ 10).
    labels = np.array(["C", "A", "B", "D", "A", "E", "C", "B"])
    durations = np.array([2.0, 3.0, 5.0, 11.0, 3.0, 1.0, 2.0, 0.0])
    subset = pack_words(labels, durations, 10.0, order=["A", "B", "C", "D", "E"])
    np.testing.assert_array_equal(subset, [0, 0, 1, 2, 0, 1, 0, 1])
    # Without an order, words are placed by first appearance: C, A, B, D, E.
    # C→0 (4), A→0 (10), B→1, D→2, E→1.
    np.testing.assert_array_equal(pack_words(labels, durations, 10.0), [0, 0, 1, 2, 0, 1, 0, 1])
    # Bound 4: C fills 0 exactly, A, B and D are each longer than 4 and get their own subset,
    # and E no longer fits in 0 (4+1 > 4): a new subset, never one of the oversized ones.
    np.testing.assert_array_equal(pack_words(labels, durations, 4.0), [0, 1, 2, 3, 1, 4, 0, 2])


def test_random_packing_keeps_words_whole_and_subsets_under_the_bound() -> None:
    rng = np.random.default_rng(3)
    words = np.array([f"w{i}" for i in range(300)])
    labels = words[rng.integers(0, words.size, size=5000)]
    durations = rng.uniform(0.1, 0.8, size=labels.size)
    bound = 60.0
    subset = pack_words(labels, durations, bound)
    for word in np.unique(labels):
        assert np.unique(subset[labels == word]).size == 1
    loads = np.bincount(subset, weights=durations)
    assert np.bincount(np.searchsorted(np.unique(labels), labels), weights=durations).max() < bound
    assert loads.max() <= bound
    # Ids are dense in creation order; first fit of small items wastes little room.
    assert set(subset.tolist()) == set(range(loads.size))
    assert loads.size <= int(np.ceil(durations.sum() / bound)) + 2


def test_pack_words_validates_inputs() -> None:
    labels, durations = np.array(["a", "b"]), np.array([1.0, 2.0])
    with pytest.raises(LwaUsageError, match="positive"):
        pack_words(labels, durations, 0)
    with pytest.raises(LwaUsageError, match="2 labels but 1 durations"):
        pack_words(labels, durations[:1], 5)
    with pytest.raises(LwaUsageError, match="finite and non-negative"):
        pack_words(labels, np.array([1.0, -1.0]), 5)
    with pytest.raises(LwaUsageError, match="misses 1 word"):
        pack_words(labels, durations, 5, order=["a"])
    assert pack_words(np.array([], dtype=str), np.array([]), 5).size == 0
