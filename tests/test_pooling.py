"""Segment bounds (golden/segment_idx.json) and mean pooling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lwa_cli.features.pooling import (
    STATUS_CLIPPED,
    STATUS_DROPPED,
    STATUS_OK,
    mean_pool,
    segment_bounds,
)


@pytest.fixture(scope="module")
def golden_cases(golden_dir):
    cases = json.loads((golden_dir / "segment_idx.json").read_text())["cases"]
    assert len(cases) == 52
    return cases


def _expected(case: dict) -> tuple[int, int, int]:
    """What lwa must return for a golden record: (start, end, status)."""
    n = case["n_frames"]
    if case["error"] is not None:
        assert case["error"] == "AssertionError"
        return 0, 0, STATUS_DROPPED
    idx = case["indices"]
    assert idx == list(range(idx[0], idx[-1] + 1))  # the reference returns a range
    s, e = idx[0], idx[-1] + 1
    if e > n:  # the reference runs past the utterance: lwa clips
        return s, n, STATUS_CLIPPED
    return s, e, STATUS_OK


def test_golden_records_one_by_one(golden_cases):
    n_ok = n_clipped = n_dropped = 0
    for case in golden_cases:
        got = segment_bounds(
            [case["start_time"]], [case["end_time"]], case["n_frames"], trim=case["offset"]
        )
        want = _expected(case)
        assert (int(got.start[0]), int(got.end[0]), int(got.status[0])) == want, case["note"]
        n_ok += want[2] == STATUS_OK
        n_clipped += want[2] == STATUS_CLIPPED
        n_dropped += want[2] == STATUS_DROPPED
    # One record runs past the utterance (without trim; trimming brings it back inside),
    # 4 fail the reference's assertion.
    assert (n_ok, n_clipped, n_dropped) == (47, 1, 4)


@pytest.mark.parametrize("trim", [False, True])
def test_golden_records_vectorised(golden_cases, trim):
    cases = [c for c in golden_cases if c["offset"] == trim]
    got = segment_bounds(
        [float(c["start_time"]) for c in cases],
        [float(c["end_time"]) for c in cases],
        np.array([c["n_frames"] for c in cases]),
        trim=trim,
    )
    want = np.array([_expected(c) for c in cases])
    np.testing.assert_array_equal(got.start, want[:, 0])
    np.testing.assert_array_equal(got.end, want[:, 1])
    np.testing.assert_array_equal(got.status, want[:, 2])
    assert got.n_clipped == (0 if trim else 1) and got.n_dropped == 2
    assert got.kept.sum() == len(cases) - 2


def test_float64_rounding_of_quotients():
    # 0.14/0.02 = 7.000000000000001 -> ceil 8; 0.58/0.02 = 28.999999999999996 -> floor 28.
    got = segment_bounds([0.06, 0.58], [0.14, 0.94], 100, trim=False)
    np.testing.assert_array_equal(got.start, [3, 28])
    np.testing.assert_array_equal(got.end, [8, 47])


def test_empty_input():
    got = segment_bounds([], [], 10, trim=True)
    assert got.start.shape == got.end.shape == got.status.shape == (0,)
    assert got.start.dtype == np.int64 and got.status.dtype == np.int8
    assert got.n_clipped == 0 and got.n_dropped == 0


def test_one_frame_segments():
    # Inside one frame, zero length, last frame of the utterance: always exactly one frame.
    got = segment_bounds([0.031, 0.04, 0.99, 0.0], [0.035, 0.04, 1.0, 0.0], 50, trim=True)
    np.testing.assert_array_equal(got.end - got.start, [1, 1, 1, 1])
    np.testing.assert_array_equal(got.start, [1, 2, 49, 0])
    assert np.all(got.status == STATUS_OK)


def test_mixed_statuses_and_per_segment_lengths():
    starts = [0.10, 0.92, 1.00, 0.50, 0.30, -0.05, float("nan"), 0.0]
    ends = [0.20, 1.03, 1.05, 0.40, 0.52, 0.04, 0.5, 0.0]
    n_frames = [100, 50, 50, 100, 20, 100, 100, 0]
    got = segment_bounds(starts, ends, n_frames, trim=False)
    np.testing.assert_array_equal(
        got.status,
        [
            STATUS_OK,  # plain
            STATUS_CLIPPED,  # e = 52 > n + 1 -> clipped to 50
            STATUS_DROPPED,  # starts at the utterance end, runs past it
            STATUS_DROPPED,  # end before start
            STATUS_CLIPPED,  # e = 27 with n = 20
            STATUS_CLIPPED,  # negative start -> 0
            STATUS_DROPPED,  # NaN time
            STATUS_DROPPED,  # empty utterance
        ],
    )
    np.testing.assert_array_equal(got.start, [5, 46, 0, 0, 15, 0, 0, 0])
    np.testing.assert_array_equal(got.end, [10, 50, 0, 0, 20, 2, 0, 0])
    assert got.n_clipped == 3 and got.n_dropped == 4
    # Every kept segment lies inside its utterance and is non-empty.
    k = got.kept
    assert np.all(got.start[k] < got.end[k])
    assert np.all(got.end[k] <= np.array(n_frames)[k])


def test_trim_never_empties_a_segment():
    # floor((d + 1) / 3) from both ends leaves >= 1 frame for every length d >= 0.
    d = np.arange(0, 60)
    # Ends half a frame before frame d's end, so that ceil() gives exactly d.
    ends = np.where(d == 0, 0.0, (d - 0.5) * 0.02)
    got = segment_bounds(np.zeros(d.size), ends, 1000, trim=True)
    assert np.all(got.status == STATUS_OK)
    kept = got.end - got.start
    np.testing.assert_array_equal(kept, np.maximum(d - 2 * ((d + 1) // 3), 1))


def test_matches_scalar_formula_on_random_segments():
    rng = np.random.default_rng(7)
    n = 400
    starts = np.round(rng.uniform(0, 9.5, 2000), 2)
    ends = starts + np.round(rng.uniform(0, 0.8, 2000), 2)
    for trim in (False, True):
        got = segment_bounds(starts, ends, n, trim=trim)
        for i in range(starts.size):
            s = math.floor(float(starts[i]) / 0.02)
            e = math.ceil(float(ends[i]) / 0.02)
            if trim:
                k = (e - s + 1) // 3
                s, e = s + k, e - k
            e = s + 1 if e == s else e
            e = n if e == n + 1 else e
            want = (s, min(e, n))
            if s >= n:
                assert got.status[i] == STATUS_DROPPED
            else:
                assert (got.start[i], got.end[i]) == want
                assert got.status[i] == (STATUS_CLIPPED if e > n else STATUS_OK)


def test_bad_shapes_refused():
    with pytest.raises(ValueError, match="equal length"):
        segment_bounds([0.1, 0.2], [0.3], 10, trim=False)
    with pytest.raises(ValueError, match="non-negative"):
        segment_bounds([0.1], [0.3], -1, trim=False)
    with pytest.raises(ValueError, match="stride"):
        segment_bounds([0.1], [0.3], 10, trim=False, stride=0.0)


def test_mean_pool_matches_naive_mean():
    rng = np.random.default_rng(3)
    feats = rng.normal(5.0, 2.0, size=(300, 16)).astype(np.float32)
    start = np.array([0, 10, 299, 5, 0])
    end = np.array([1, 40, 300, 6, 300])
    got = mean_pool(feats, start, end)
    assert got.dtype == np.float32 and got.shape == (5, 16)
    want = np.stack(
        [feats[s:e].astype(np.float64).mean(0) for s, e in zip(start, end, strict=True)]
    )
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(got[0], feats[0])


def test_mean_pool_with_segment_bounds():
    feats = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    b = segment_bounds([0.92, 1.0, 0.0], [1.03, 1.01, 0.08], 50, trim=False)
    pooled = mean_pool(feats, b.start[b.kept], b.end[b.kept])
    np.testing.assert_allclose(pooled, [feats[46:50].mean(0), feats[0:4].mean(0)])


def test_mean_pool_no_segments():
    got = mean_pool(np.ones((4, 2), dtype=np.float32), [], [])
    assert got.shape == (0, 2)


@pytest.mark.parametrize(("start", "end"), [([0], [0]), ([3], [2]), ([-1], [2]), ([0], [11])])
def test_mean_pool_rejects_bad_bounds(start, end):
    with pytest.raises(ValueError, match="outside"):
        mean_pool(np.zeros((10, 2), dtype=np.float32), start, end)


def test_mean_pool_rejects_1d_features():
    with pytest.raises(ValueError, match="2-D"):
        mean_pool(np.zeros(10), [0], [1])
