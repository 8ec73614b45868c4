"""ABX numerics: equal to the ZeroSpeech reference (zerospeech-libriabx2) and hand-checked cases."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from lwa_cli.analysis.abx import AbxInputError, AbxTokens, abx_score, aggregate
from lwa_cli.analysis.abx.dtw import dtw_normalized
from lwa_cli.data.abx_items import AbxItems
from tests.abx_oracle import lwa_score, oracle_scores, write_inputs

FP = 0.02


def synthetic(seed: int, n_files: int = 8, n_spk: int = 4, n_phones: int = 4, n_tok: int = 18,
              dim: int = 6) -> tuple[dict[str, np.ndarray], AbxItems]:
    """Utterances of phone tokens: each phone a prototype, each speaker a shift, plus noise."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_phones, dim))
    shift = rng.normal(size=(n_spk, dim)) * 0.5
    feats, cols = {}, [[] for _ in range(7)]
    names = [f"p{i}" for i in range(n_phones)]
    for f in range(n_files):
        s = f % n_spk
        name = f"{s}-{f}"
        seq = rng.integers(0, n_phones, n_tok)
        durs = rng.integers(1, 7, n_tok) * FP
        x = rng.normal(size=(int(round((durs.sum() + 0.1) / FP)) + 2, dim)) * 0.8 + shift[s]
        t = 0.05
        for k in range(n_tok):
            on, off = t, t + durs[k]
            x[int(on / FP):int(off / FP) + 1] += protos[seq[k]]
            for col, v in zip(cols, (name, on, off, names[seq[k]],
                                     names[seq[k - 1]] if k else "SIL",
                                     names[seq[k + 1]] if k + 1 < n_tok else "SIL", str(s)),
                              strict=True):
                col.append(v)
            t = off
        feats[name] = x
    return feats, AbxItems(np.array(cols[0]), np.array(cols[1]), np.array(cols[2]),
                           *(np.array(c) for c in cols[3:]))


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("abx")
    feats, items = synthetic(0)
    write_inputs(root, feats, items)
    return root, feats, items


CONDITIONS = list(itertools.product(("within", "across"), ("within", "any"),
                                    ("angular", "euclidean"), ("none", "mean")))


@pytest.mark.parametrize("speaker,context,distance,pooling", CONDITIONS)
def test_equal_to_reference_without_subsampling(synth, speaker, context, distance, pooling):
    root, feats, items = synth
    kw = dict(speaker=speaker, context=context, distance=distance, pooling=pooling,
              frame_period=FP, max_size_group=1000, max_x_across=100, seed=0)
    expected = oracle_scores(root, **kw)[f"{speaker}-{context}"]
    got = lwa_score(root, feats, items, **kw)
    assert 0.01 < got < 0.6  # a real, non-trivial error rate
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("speaker,context,pooling,group,across",
                         [("within", "any", "none", 3, 2), ("across", "within", "none", 1, 1),
                          ("across", "any", "mean", 3, 2)])
def test_subsampling_draws_are_the_references(synth, speaker, context, pooling, group, across):
    """Same items order and seed → the very same random draws, hence the same number."""
    root, feats, items = synth
    kw = dict(speaker=speaker, context=context, distance="angular", pooling=pooling,
              frame_period=FP, max_size_group=group, max_x_across=across, seed=7)
    expected = oracle_scores(root, **kw)[f"{speaker}-{context}"]
    assert lwa_score(root, feats, items, **kw) == pytest.approx(expected, abs=1e-6)
    full = lwa_score(root, feats, items, **{**kw, "max_size_group": 1000, "max_x_across": 100})
    assert abs(full - expected) > 1e-6  # the subsampling did change the number


def test_kl_distance_runs_on_positive_features():
    rng = np.random.default_rng(1)
    frames = np.abs(rng.normal(size=(40, 5))) + 0.1
    tokens = AbxTokens(np.arange(0, 40, 2), np.full(20, 2), np.arange(20) % 2,
                       np.zeros(20, np.int64), np.zeros(20, np.int64))
    res = abx_score(frames, tokens, distance="kl", speaker="within")
    assert 0 <= res.error_rate <= 1 and res.n_cells == 2


def _brute_dtw(d: np.ndarray) -> float:
    """The reference's Cython `_dtw` transcribed literally (float32 costs)."""
    n, m = d.shape
    cost = np.zeros((n, m), np.float32)
    cost[0, 0] = d[0, 0]
    for i in range(1, n):
        cost[i, 0] = d[i, 0] + cost[i - 1, 0]
    for j in range(1, m):
        cost[0, j] = d[0, j] + cost[0, j - 1]
    for i in range(1, n):
        for j in range(1, m):
            cost[i, j] = d[i, j] + min(cost[i - 1, j], cost[i - 1, j - 1], cost[i, j - 1])
    i, j, path = n - 1, m - 1, 1
    while i > 0 and j > 0:
        up, left, diag = cost[i - 1, j], cost[i, j - 1], cost[i - 1, j - 1]
        if diag <= left and diag <= up:
            i, j = i - 1, j - 1
        elif left <= up:
            j -= 1
        else:
            i -= 1
        path += 1
    path += j if i == 0 else 0
    path += i if j == 0 else 0
    return float(np.float32(float(cost[n - 1, m - 1]) / path))


def test_batched_dtw_equals_the_reference_loop_with_ragged_lengths_and_ties():
    rng = np.random.default_rng(3)
    # Quantised distances make ties on the backtracking path common.
    dist = (rng.integers(0, 4, size=(200, 7, 9)) / 4).astype(np.float32)
    lx, ly = rng.integers(1, 8, 200), rng.integers(1, 10, 200)
    got = dtw_normalized(torch.from_numpy(dist), torch.from_numpy(lx), torch.from_numpy(ly))
    want = [_brute_dtw(dist[p, :lx[p], :ly[p]]) for p in range(200)]
    np.testing.assert_array_equal(got.numpy(), np.array(want, np.float32))


def test_hand_computed_within_speaker_cell():
    """One speaker, phones 0 and 1, 1-frame tokens: every triple counted by hand."""
    frames = np.array([[1, 0], [1, 0.1], [0, 1], [1, 0.05]], float)  # a a b a
    tokens = AbxTokens(np.arange(4), np.ones(4, np.int64), np.array([0, 0, 1, 0]),
                       np.zeros(4, np.int64), np.zeros(4, np.int64))
    res = abx_score(frames, tokens, speaker="within", context="any")
    # Cell (A=0, B=1): X=A has 3 tokens, every (x, a≠x) pair is closer than b → error 0;
    # cell (A=1, B=0) needs two A tokens and has one, so it is not scored.
    assert res.error_rate == 0.0 and res.n_cells == 1


def test_aggregation_order_contexts_then_speakers_then_pairs():
    keys = np.array([[0, 0, 1], [0, 0, 1], [1, 0, 1], [0, 1, 0]])
    errors = np.array([0.0, 1.0, 0.2, 0.4])
    # (a=0,b=1): speaker 0 mean 0.5, speaker 1 0.2 → 0.35; (1,0): 0.4 → mean 0.375.
    res = aggregate(keys, errors)
    assert res.error_rate == pytest.approx(0.375) and res.n_phone_pairs == 2
    assert res.n_speakers == 2


def test_too_few_items_names_the_condition():
    frames = np.eye(3)
    tokens = AbxTokens(np.arange(3), np.ones(3, np.int64), np.array([0, 1, 2]),
                       np.zeros(3, np.int64), np.zeros(3, np.int64))
    with pytest.raises(AbxInputError, match="no ABX cell for speaker=within, context=within"):
        abx_score(frames, tokens, speaker="within")
    with pytest.raises(AbxInputError, match="said by another speaker"):
        abx_score(frames, tokens, speaker="across")


def test_nan_features_are_refused():
    frames = np.ones((4, 2))
    frames[2, 1] = np.nan
    tokens = AbxTokens(np.arange(4), np.ones(4, np.int64), np.array([0, 0, 1, 1]),
                       np.zeros(4, np.int64), np.zeros(4, np.int64))
    with pytest.raises(AbxInputError, match="1 frame\\(s\\) with NaN"):
        abx_score(frames, tokens)


def test_bad_options_name_the_parameter():
    tokens = AbxTokens(*(np.zeros(1, np.int64),) * 5)
    for kw, name in (({"speaker": "all"}, "speaker"), ({"pooling": "hamming"}, "pooling"),
                     ({"max_size_group": 0}, "max_size_group")):
        with pytest.raises(ValueError, match=name):
            abx_score(np.ones((1, 2)), tokens, **kw)


def test_seeded_draws_are_reproducible_and_seed_dependent(synth):
    root, feats, items = synth
    kw = dict(speaker="across", context="any", distance="angular", pooling="mean",
              frame_period=FP, max_size_group=2, max_x_across=1)
    a = lwa_score(root, feats, items, seed=1, **kw)
    assert lwa_score(root, feats, items, seed=1, **kw) == a
    assert lwa_score(root, feats, items, seed=2, **kw) != a
    assert random.Random(1).random() == random.Random(1).random()  # no global state used
