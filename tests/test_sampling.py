"""Sampling rules of SPEC §3: counts per label, bounds, determinism, subsets."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lwa_cli.data.phones import PHONES_39
from lwa_cli.data.sampling import (
    cut_subsets,
    sample_phone_tokens,
    sample_utterances,
    sample_word_tokens,
    sample_wordsim_tokens,
    select_top_words,
    word_train_range,
)
from lwa_cli.errors import LwaUsageError


def make_labels(counts: dict[str, int], seed: int = 0) -> np.ndarray:
    """A shuffled label array with the given count per label."""
    labels = np.concatenate([np.full(n, label) for label, n in counts.items()])
    return np.random.default_rng(seed).permutation(labels)


def counts_of(labels: np.ndarray, idx: np.ndarray) -> Counter:
    return Counter(labels[idx].tolist())


def check_index_array(idx: np.ndarray, n: int) -> None:
    assert idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0), "indices must be sorted and distinct"
    assert idx.size == 0 or (idx[0] >= 0 and idx[-1] < n)


# ---------------------------------------------------------------- utterances


def test_sample_utterances() -> None:
    idx = sample_utterances(100, 10, np.random.default_rng(1))
    check_index_array(idx, 100)
    assert idx.size == 10
    assert np.array_equal(idx, sample_utterances(100, 10, np.random.default_rng(1)))
    assert not np.array_equal(idx, sample_utterances(100, 10, np.random.default_rng(2)))
    assert np.array_equal(sample_utterances(7, 500, np.random.default_rng(0)), np.arange(7))
    assert np.array_equal(sample_utterances(7, 7, np.random.default_rng(0)), np.arange(7))
    with pytest.raises(LwaUsageError):
        sample_utterances(7, 0, np.random.default_rng(0))


# ---------------------------------------------------------------- phones


def test_phone_dev_rule_min_count_200_and_no_sil() -> None:
    counts = {"aa": 250, "ae": 200, "ah": 50, "zh": 1, "SIL": 300}
    labels = make_labels(counts)
    idx = sample_phone_tokens(labels, False, np.random.default_rng(0))
    check_index_array(idx, labels.size)
    assert counts_of(labels, idx) == {"aa": 200, "ae": 200, "ah": 50, "zh": 1}


def test_phone_train_rule_bounds_and_determinism() -> None:
    counts = {"aa": 8000, "ae": 5000, "ah": 2000, "b": 3000, "SIL": 9000}
    labels = make_labels(counts)
    sizes = []
    for seed in range(5):
        idx = sample_phone_tokens(labels, True, np.random.default_rng(seed))
        check_index_array(idx, labels.size)
        got = counts_of(labels, idx)
        assert set(got) == {"aa", "ae", "ah", "b"}
        assert 3000 <= got["aa"] <= 7000
        assert 3000 <= got["ae"] <= 5000
        assert got["ah"] == 2000  # randint(min(3000, 2000), min(7000, 2000))
        assert got["b"] == 3000  # randint(3000, 3000)
        sizes.append((got["aa"], got["ae"]))
    assert len(set(sizes)) == 5  # the number drawn depends on the seed
    first = sample_phone_tokens(labels, True, np.random.default_rng(3))
    again = sample_phone_tokens(labels, True, np.random.default_rng(3))
    assert np.array_equal(first, again)


def test_train_randint_upper_bound_is_inclusive() -> None:
    labels = make_labels({"aa": 3001})
    sizes = {
        sample_phone_tokens(labels, True, np.random.default_rng(seed)).size for seed in range(30)
    }
    assert sizes == {3000, 3001}


def test_all_39_phones_are_sampled_in_dev() -> None:
    labels = make_labels({p: 3 for p in PHONES_39} | {"SIL": 5})
    idx = sample_phone_tokens(labels, False, np.random.default_rng(0))
    assert counts_of(labels, idx) == {p: 3 for p in PHONES_39}


# ---------------------------------------------------------------- words


def test_word_train_range_rule() -> None:
    assert word_train_range(500) == (600, 1200)
    assert word_train_range(350) == (800, 1200)
    assert word_train_range(100) == (600, 1200)


def test_word_dev_rule_min_count_15_and_never_unk() -> None:
    counts = {"the": 40, "of": 15, "cat": 3, "<unk>": 50, "other": 30}
    labels = make_labels(counts)
    top = ["the", "<unk>", "of", "cat", "missing"]
    idx = sample_word_tokens(labels, top, False, np.random.default_rng(0))
    check_index_array(idx, labels.size)
    assert counts_of(labels, idx) == {"the": 15, "of": 15, "cat": 3}


def test_word_train_rule_w500_and_w350() -> None:
    counts = {"a": 1500, "b": 1000, "c": 700, "d": 100}
    labels = make_labels(counts)
    top = list(counts)
    b_sizes_w500, b_sizes_w350 = [], []
    for seed in range(20):
        got = counts_of(labels, sample_word_tokens(labels, top, True, np.random.default_rng(seed)))
        assert 600 <= got["a"] <= 1200
        assert 600 <= got["b"] <= 1000
        assert 600 <= got["c"] <= 700
        assert got["d"] == 100
        b_sizes_w500.append(got["b"])
        got = counts_of(
            labels, sample_word_tokens(labels, top, True, np.random.default_rng(seed), n_words=350)
        )
        assert 800 <= got["a"] <= 1200
        assert 800 <= got["b"] <= 1000
        assert got["c"] == 700  # randint(min(800, 700), min(1200, 700))
        assert got["d"] == 100
        b_sizes_w350.append(got["b"])
    # With W=500 some draws fall below 800, which W=350 never allows.
    assert min(b_sizes_w500) < 800 <= min(b_sizes_w350)
    # W taken from the list length: a 350-word list uses the 800 lower bound.
    top350 = top + [f"w{i}" for i in range(346)]
    got = counts_of(labels, sample_word_tokens(labels, top350, True, np.random.default_rng(0)))
    assert got["b"] >= 800


def test_word_sampling_is_seeded() -> None:
    labels = make_labels({"a": 1500, "b": 1000})
    one = sample_word_tokens(labels, ["a", "b"], True, np.random.default_rng(11))
    two = sample_word_tokens(labels, ["a", "b"], True, np.random.default_rng(11))
    three = sample_word_tokens(labels, ["a", "b"], True, np.random.default_rng(12))
    assert np.array_equal(one, two)
    assert not np.array_equal(one, three)


def test_select_top_words_skips_unk() -> None:
    inv = np.array(["the", "<unk>", "and", "of", "a"])
    assert select_top_words(inv, 3).tolist() == ["the", "and", "of"]
    assert select_top_words(inv, 10).tolist() == ["the", "and", "of", "a"]
    with pytest.raises(LwaUsageError):
        select_top_words(inv, 0)


# ---------------------------------------------------------------- wordsim


def test_wordsim_tokens_up_to_instances_each() -> None:
    counts = {"cat": 10, "dog": 2, "<unk>": 9, "the": 30}
    labels = make_labels(counts)
    vocab = ["dog", "cat", "cat", "<unk>", "unicorn"]
    idx = sample_wordsim_tokens(labels, vocab, 4, np.random.default_rng(0))
    check_index_array(idx, labels.size)
    assert counts_of(labels, idx) == {"cat": 4, "dog": 2}
    with pytest.raises(LwaUsageError):
        sample_wordsim_tokens(labels, vocab, 0, np.random.default_rng(0))


# ---------------------------------------------------------------- subsets


def test_cut_subsets_example() -> None:
    subsets = cut_subsets(np.array([4.0, 4.0, 4.0, 12.0, 1.0, 1.0, 10.0]), 10.0)
    assert subsets.tolist() == [0, 0, 1, 2, 3, 3, 4]
    assert cut_subsets(np.zeros(0), 10.0).tolist() == []


def test_cut_subsets_bound_and_greedy_on_random_durations() -> None:
    durations = np.random.default_rng(5).uniform(0.05, 3.0, size=2000)
    max_seconds = 37.5
    subsets = cut_subsets(durations, max_seconds)
    assert subsets[0] == 0
    assert np.all(np.diff(subsets) >= 0) and np.all(np.diff(subsets) <= 1)
    totals = np.bincount(subsets, weights=durations)
    assert np.all(totals <= max_seconds + 1e-9)
    # Greedy: the first token of the next subset would not have fitted into the previous one.
    starts = np.flatnonzero(np.diff(subsets)) + 1
    assert np.all(totals[:-1] + durations[starts] > max_seconds)
    assert totals.sum() == pytest.approx(durations.sum())


def test_cut_subsets_bad_input() -> None:
    with pytest.raises(LwaUsageError):
        cut_subsets(np.array([1.0]), 0)
    with pytest.raises(LwaUsageError):
        cut_subsets(np.array([1.0, -0.5]), 10)
    with pytest.raises(LwaUsageError):
        cut_subsets(np.array([1.0, np.nan]), 10)
