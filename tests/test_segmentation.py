"""Word segmentation: the reference's defects fixed, the vectorised tune against a plain loop,
interval files, the audio list reader and grid files."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lwa_cli.analysis.segmentation import (
    FRAME_PERIOD,
    SegmentationGrid,
    segment,
    tune_layer,
    tune_layers,
)
from lwa_cli.analysis.segmentation.boundaries import (
    is_left_out,
    r_value,
    reference_boundaries,
    score_boundaries,
)
from lwa_cli.data.filelist import read_audio_list
from lwa_cli.data.grid_file import parse_grid, read_grid_file
from lwa_cli.data.intervals import (
    frames_to_intervals,
    read_interval_dir,
    read_intervals,
    score_interval_dirs,
    write_interval_dir,
)
from lwa_cli.errors import LwaError, LwaUsageError


def _vqwordseg_greedy(pred, ref, tol):
    """vqwordseg's nested loop, written out: each prediction takes the first free reference."""
    free = list(ref)
    correct = 0
    for p in pred:
        for i, g in enumerate(free):
            if g - tol <= p <= g + tol:
                correct += 1
                free.pop(i)
                break
    return correct


def _synthetic(seed: int, n_utts: int = 8, dim: int = 5):
    """Piecewise-constant frames with noise and word boundaries every 6-14 frames."""
    rng = np.random.default_rng(seed)
    feats, lengths, refs = [], [], []
    for _ in range(n_utts):
        edges = np.cumsum(rng.integers(6, 15, size=rng.integers(3, 7)))
        t = int(edges[-1]) + int(rng.integers(0, 5))
        means = rng.normal(size=(len(edges) + 1, dim))
        seg = np.searchsorted(edges, np.arange(t), side="right")
        feats.append(means[seg] + 0.3 * rng.normal(size=(t, dim)))
        lengths.append(t)
        refs.append(np.concatenate([[0.0], (edges - 1) * FRAME_PERIOD + 0.01]))
    return np.concatenate(feats).astype(np.float32), np.array(lengths), refs


SMALL_GRID = SegmentationGrid((0.0, 0.05, 0.3, 1.0, 3.0), ("euclidean", "cosine"), (1, 2, 4))


@pytest.mark.parametrize("matching", ["reference", "one-to-one"])
def test_vectorised_tune_equals_a_loop_over_configurations(matching):
    x, lengths, refs = _synthetic(1)
    result = tune_layer(x, lengths, refs, SMALL_GRID, 0.02, matching)
    for index in np.ndindex(SMALL_GRID.shape):
        p, metric, w = (SMALL_GRID.prominences[index[0]], SMALL_GRID.metrics[index[1]],
                        SMALL_GRID.windows[index[2]])  # fmt: skip
        preds = [f * FRAME_PERIOD for f in segment(x, lengths, metric, w, p)]
        s = score_boundaries(preds, refs, 0.02, matching)
        assert (result.precision[index], result.recall[index], result.f1[index]) == (
            s.precision, s.recall, s.f1)
        assert result.n_pred[index] == s.n_pred
    assert result.f1.max() > 0.5


def test_one_to_one_equals_vqwordseg_nested_loop():
    rng = np.random.default_rng(2)
    for _ in range(200):
        ref = np.unique(rng.integers(0, 60, size=rng.integers(0, 12)))
        pred = np.unique(rng.integers(0, 60, size=rng.integers(0, 12)))
        s = score_boundaries([pred], [ref], 2, "one-to-one")
        assert s.n_hit_pred == _vqwordseg_greedy(pred.tolist(), ref.tolist(), 2)


def test_many_to_one_overstates_recall_one_to_one_does_not():
    preds, refs = [np.array([50, 51]) * FRAME_PERIOD], [np.array([1.0, 2.0])]
    ref = score_boundaries(preds, refs, 0.02, "reference")
    one = score_boundaries(preds, refs, 0.02, "one-to-one")
    assert (ref.precision, ref.recall, ref.f1) == (1.0, 2 / 3, 0.8)
    assert (one.precision, one.recall, one.f1) == (0.5, 0.5, 0.5)
    assert one.os == 0.0
    assert one.r_value == pytest.approx(r_value(0.5, 0.0))


def test_utterance_without_peaks_keeps_its_own_references():
    # The reference dropped the empty list, scoring frame 100 against utterance 0: (0, 0, 0).
    preds = [np.array([]), np.array([100]) * FRAME_PERIOD]
    s = score_boundaries(preds, [np.array([1.0]), np.array([2.0])], 0.02, "reference")
    assert (s.precision, s.recall, s.f1) == (1.0, 0.5, pytest.approx(2 / 3))


def test_tune_with_a_flat_utterance_counts_its_references_as_missed():
    x, lengths, refs = _synthetic(3, n_utts=4)
    flat = np.concatenate([x[: lengths[0]], np.full((30, x.shape[1]), x.mean(0))])
    features = np.concatenate([flat, x[lengths[0] :]])
    lengths2 = np.concatenate([[lengths[0], 30], lengths[1:]])
    refs2 = [refs[0], np.array([0.0, 0.3, 0.61]), *refs[1:]]
    result = tune_layer(features, lengths2, refs2, SMALL_GRID)
    assert np.all(result.n_utts_without_peaks >= 1)
    full = score_boundaries(
        [f * FRAME_PERIOD for f in segment(features, lengths2, "cosine", 2, 0.3)], refs2, 0.02,
        "reference",
    )
    assert result.f1[2, 1, 1] == full.f1
    assert full.n_ref == sum(len(r) for r in refs2)


def test_left_out_utterance_is_left_out_on_both_sides():
    x, lengths, refs = _synthetic(4, n_utts=5)
    left_out = [refs[0], None, refs[2], refs[3], refs[4]]
    result = tune_layer(x, lengths, left_out, SMALL_GRID)
    assert result.n_left_out == 1 and result.n_utterances == 5
    for index in [(0, 0, 0), (2, 1, 1), (3, 0, 2)]:
        p, metric, w = (SMALL_GRID.prominences[index[0]], SMALL_GRID.metrics[index[1]],
                        SMALL_GRID.windows[index[2]])  # fmt: skip
        frames = segment(x, lengths, metric, w, p)  # z-score still over all five
        kept = [0, 2, 3, 4]
        s = score_boundaries([frames[u] * FRAME_PERIOD for u in kept], [refs[u] for u in kept],
                             0.02, "reference")  # fmt: skip
        assert result.f1[index] == s.f1


def test_reference_boundaries_leave_out_spn_and_unk():
    starts, ends = np.array([0.1, 0.5, 0.5]), np.array([0.5, 0.5, 0.9])
    np.testing.assert_array_equal(
        reference_boundaries(starts, ends, ["a", "", "b"]), [0.1, 0.5, 0.9]
    )
    assert reference_boundaries(starts, ends, ["a", "<unk>", "b"]) is None
    assert reference_boundaries(starts, ends, ["a", "spn", "b"]) is None
    assert is_left_out(["sil", "spn"]) and not is_left_out(["sil", "sp"])


def test_missing_layer_is_an_error():
    x, lengths, refs = _synthetic(5, n_utts=3)
    with pytest.raises(LwaError, match="layer.*T13"):
        tune_layers({"T12": x}, ["T12", "T13"], lengths, refs, SMALL_GRID)
    out = tune_layers({"T1": x, "T2": x[:, ::-1].copy()}, ["T1", "T2"], lengths, refs,
                      SMALL_GRID)  # fmt: skip
    assert set(out) == {"T1", "T2"}


def test_best_is_first_on_ties_and_all_zero_gives_the_first():
    x, lengths, _ = _synthetic(6, n_utts=3)
    result = tune_layer(x, lengths, [np.array([])] * 3, SMALL_GRID)
    assert result.f1.max() == 0 and result.best == (0, 0, 0)


def test_input_validation():
    x, lengths, refs = _synthetic(7, n_utts=3)
    with pytest.raises(LwaError, match="add up"):
        tune_layer(x, lengths + 1, refs, SMALL_GRID)
    with pytest.raises(LwaError, match="reference boundary lists"):
        tune_layer(x, lengths, refs[:2], SMALL_GRID)
    with pytest.raises(LwaUsageError, match="metric"):
        segment(x, lengths, "manhattan", 2, 0.1)
    with pytest.raises(LwaUsageError, match="matching"):
        tune_layer(x, lengths, refs, SMALL_GRID, matching="many")
    with pytest.raises(LwaUsageError, match="window"):
        SegmentationGrid(windows=(0,))
    with pytest.raises(LwaUsageError, match="repeats"):
        SegmentationGrid(prominences=(0.1, 0.1))


def test_constant_dimension_does_not_poison_the_distances():
    x, lengths, refs = _synthetic(8, n_utts=3)
    x[:, 0] = 7.0
    frames = segment(x, lengths, "cosine", 2, 0.1)
    assert all(f.size > 0 for f in frames)


def test_interval_round_trip(tmp_path):
    intervals = {
        "s01_01a_000010-000200": frames_to_intervals(np.array([4, 20, 9]), 40),
        "utt2": frames_to_intervals(np.array([], dtype=np.int64), 12, label="x_"),
    }
    assert intervals["s01_01a_000010-000200"] == [(0, 9, "0_"), (9, 19, "0_"), (19, 41, "0_"),
                                                  (41, 79, "0_")]  # fmt: skip
    assert intervals["utt2"] == [(0, 23, "x_")]
    write_interval_dir(tmp_path / "hyp", intervals)
    assert (tmp_path / "hyp" / "utt2.txt").read_text() == "0 23 x_\n"
    assert read_interval_dir(tmp_path / "hyp") == intervals
    s = score_interval_dirs(tmp_path / "hyp", tmp_path / "hyp", tolerance=2)
    assert (s.boundary.precision, s.boundary.recall, s.boundary.f1) == (1.0, 1.0, 1.0)
    assert s.word_token.f1 == 1.0
    assert s.utt_ids == ("s01_01a_000010-000200", "utt2")


def test_score_interval_dirs_missing_and_empty(tmp_path):
    write_interval_dir(tmp_path / "ref", {"a": [(0, 10, "w"), (10, 30, "v")], "b": [(0, 8, "w")]})
    write_interval_dir(tmp_path / "hyp", {"a": [(0, 11, "0_"), (11, 29, "0_")], "c": [(0, 5, "0_")],
                                          "b": []})  # fmt: skip
    s = score_interval_dirs(tmp_path / "ref", tmp_path / "hyp", tolerance=2)
    assert s.utt_ids == ("a",) and s.missing_ref == ("c",) and s.empty == ("b",)
    assert (s.boundary.n_pred, s.boundary.n_ref, s.boundary.n_hit_pred) == (1, 1, 1)
    assert s.word_token.n_hit_pred == 2


def test_no_hypothesis_boundary_scores_zero_not_a_crash():
    # vqwordseg divides by zero here; lwa reports P = R = F = 0 and OS = n_pred/n_ref - 1.
    s = score_boundaries([np.array([])], [np.array([5, 9])], 2, "one-to-one")
    assert (s.precision, s.recall, s.f1, s.os) == (0.0, 0.0, 0.0, -1.0)
    assert math.isfinite(s.r_value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0 10\n", r"x\.txt:1: expected"), ("0 10 a\n5 x b\n", r"x\.txt:2: start and end"),
     ("0 10 a\n4 3 b\n", r"x\.txt:2: need"), ("0 10 a\n\n2 8 b\n", r"x\.txt:3: intervals out")],
)  # fmt: skip
def test_interval_reader_errors_name_file_and_line(tmp_path, text, message):
    (tmp_path / "x.txt").write_text(text)
    with pytest.raises(LwaError, match=message):
        read_intervals(tmp_path / "x.txt")


def _wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)


def test_audio_list_reader(tmp_path):
    _wav(tmp_path / "wav" / "a.wav", 1.5)
    _wav(tmp_path / "abs.wav", 0.25)
    listing = tmp_path / "list.tsv"
    listing.write_text(f"a\twav/a.wav\n\nb\t{tmp_path / 'abs.wav'}\n")
    got = read_audio_list(listing)
    assert got.utt_ids.tolist() == ["a", "b"]
    assert got.audio_paths.tolist() == [str(tmp_path / "wav" / "a.wav"), str(tmp_path / "abs.wav")]
    np.testing.assert_allclose(got.durations, [1.5, 0.25])
    other = tmp_path / "lists" / "l.tsv"
    other.parent.mkdir()
    other.write_text("a\twav/a.wav\n")
    assert read_audio_list(other, root=tmp_path).durations.tolist() == [1.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [("a wav/a.wav\n", r"list\.tsv:1: expected"), ("a\twav/a.wav\na\twav/a.wav\n",
     r"list\.tsv:2: .*'a' repeats line 1"), ("a\twav/a.wav\nb\tnone.wav\n",
     r"list\.tsv:2: audio file not found"), ("a b\twav/a.wav\n", r"list\.tsv:1: .*white space"),
     ("\n\n", "names no utterance")],
)  # fmt: skip
def test_audio_list_errors_name_file_and_line(tmp_path, text, message):
    _wav(tmp_path / "wav" / "a.wav", 0.5)
    (tmp_path / "list.tsv").write_text(text)
    with pytest.raises(LwaError, match=message):
        read_audio_list(tmp_path / "list.tsv")


def test_grid_file(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text('{"prominence": [0.1, 1], "metric": ["eucli", "cosine"]}')
    grid = read_grid_file(path)
    assert grid.prominences == (0.1, 1.0) and grid.metrics == ("euclidean", "cosine")
    assert grid.windows == SegmentationGrid().windows
    assert list(itertools.islice(np.ndindex(grid.shape), 2)) == [(0, 0, 0), (0, 0, 1)]
    for text, message in [('{"prominence": [0.1,}', r"<grid>:1:\d+: not valid JSON"),
                          ('{"width": [1]}', "unknown key"), ('{"window": [1.5]}', "integers"),
                          ('{"prominence": [-1]}', ">= 0"), ('{"metric": []}', "non-empty"),
                          ('{"metric": ["l1"]}', "unknown metric")]:  # fmt: skip
        with pytest.raises(LwaError, match=message):
            parse_grid(text)
