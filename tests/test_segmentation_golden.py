"""Word segmentation against the reference's golden vectors (golden README section 9)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from lwa_cli.analysis.segmentation import (
    FRAME_PERIOD,
    SegmentationGrid,
    moving_mean,
    segment,
    tune_layer,
    zscore_frames,
)
from lwa_cli.analysis.segmentation.boundaries import reference_boundaries, score_boundaries
from lwa_cli.data.intervals import frames_to_intervals, score_intervals
from lwa_cli.data.textgrid import read_textgrid

TOL = 1e-12  # P/R/F/OS/R-value are ratios of integer counts


@pytest.fixture(scope="module")
def gold(golden_dir: Path):
    npz = np.load(golden_dir / "segmentation.npz")
    js = json.loads((golden_dir / "segmentation.json").read_text())
    return npz, js


def _refs(npz) -> list[np.ndarray]:
    flat, off = npz["ref_boundaries_flat"], npz["ref_boundaries_offsets"]
    return [flat[off[i] : off[i + 1]] for i in range(len(off) - 1)]


def _parse(text: str) -> list[tuple[int, int, str]]:
    return [(int(a), int(b), c) for a, b, c in (line.split() for line in text.strip().split("\n"))]


def test_grid_matches_the_reference(gold):
    npz, _ = gold
    grid = SegmentationGrid()
    assert grid.prominences == tuple(npz["grid_prominence"])
    assert grid.windows == tuple(npz["grid_window"])
    assert [{"eucli": "euclidean"}.get(m, m) for m in npz["grid_dist"]] == list(grid.metrics)


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_zscore_is_scipy_bit_for_bit(gold, layer):
    npz, _ = gold
    z = zscore_frames(npz[f"layer{layer}"])
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, npz[f"zscored_layer{layer}"])


def test_zscore_equals_scipy_on_wide_float32():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2000, 768)).astype(np.float32)
    np.testing.assert_array_equal(zscore_frames(x), scipy.stats.zscore(x, axis=0))


def test_moving_mean_cases(gold):
    npz, js = gold
    for name, case in js["average_pooling_cases"].items():
        out = moving_mean(npz[f"{name}_input"], case["n"])
        assert out.dtype == npz[f"{name}_output"].dtype
        np.testing.assert_array_equal(out, npz[f"{name}_output"])


def test_reference_boundaries_from_the_textgrids(gold, golden_dir):
    npz, js = gold
    listed = js["inputs"]["reference_boundaries_s"]
    for u, (utt, expected) in enumerate(zip(js["inputs"]["utterances"], _refs(npz), strict=True)):
        relpath = Path(utt["audio_relpath"]).with_suffix(".TextGrid")
        words = read_textgrid(golden_dir / "segmentation_textgrids" / relpath).words
        labels, starts, ends = zip(*words, strict=True)
        got = reference_boundaries(np.array(starts), np.array(ends), labels)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got, listed[u])


@pytest.mark.parametrize("li", [0, 1, 2])
def test_every_configuration_scores_and_counts(gold, li):
    npz, _ = gold
    layer = int(npz["layers"][li])
    result = tune_layer(npz[f"layer{layer}"], npz["n_frames"], _refs(npz))
    for name in ("precision", "recall", "f1"):
        np.testing.assert_allclose(
            getattr(result, name), npz[f"fixed_empty_{name}"][li], rtol=0, atol=TOL
        )
    np.testing.assert_array_equal(result.n_pred, npz["n_pred_boundaries"][li])
    np.testing.assert_array_equal(result.n_utts_without_peaks, npz["n_utts_without_peaks"][li])
    expected_best = np.unravel_index(int(np.argmax(npz["fixed_empty_f1"][li])), result.f1.shape)
    assert result.best == tuple(int(i) for i in expected_best)


@pytest.mark.parametrize("layer", ["1", "3"])
def test_best_equals_the_reference_where_no_utterance_lost_its_peaks(gold, layer):
    npz, js = gold
    ref = js["harness_best_per_layer"][layer]
    result = tune_layer(npz[f"layer{layer}"], npz["n_frames"], _refs(npz))
    p, metric, w = result.best_config
    assert (p, w) == (ref["prominence"], ref["avg pooling window size"])
    assert metric == {"eucli": "euclidean"}.get(ref["distance metrics"], ref["distance metrics"])
    scores = result.scores_at(result.best)
    assert scores["f1"] == pytest.approx(ref["f1 score"], abs=TOL)
    assert scores["precision"] == pytest.approx(ref["precision"], abs=TOL)
    assert scores["recall"] == pytest.approx(ref["recall"], abs=TOL)


@pytest.mark.parametrize("li", [0, 1, 2])
def test_boundaries_of_every_configuration(gold, li):
    npz, _ = gold
    layer = int(npz["layers"][li])
    grid = SegmentationGrid()
    flat, off = npz["pred_frames_flat"], npz["pred_frames_offsets"]
    for i, p in enumerate(grid.prominences):
        for j, metric in enumerate(grid.metrics):
            for k, w in enumerate(grid.windows):
                got = segment(npz[f"layer{layer}"], npz["n_frames"], metric, w, p)
                o = off[li, i, j, k]
                for u, frames in enumerate(got):
                    np.testing.assert_array_equal(frames, flat[o[u] : o[u + 1]])


def test_misalignment_examples_score_as_corrected(gold):
    npz, js = gold
    refs = _refs(npz)
    for case in js["misalignment_examples"]:
        frames = case["pred_frames_per_utterance"]
        preds = [np.asarray(f, dtype=np.int64) * FRAME_PERIOD for f in frames]
        s = score_boundaries(preds, refs, 0.02, "reference")
        fixed = case["fixed_empty_predictions"]
        assert (s.precision, s.recall, s.f1) == pytest.approx(
            (fixed["precision"], fixed["recall"], fixed["f1"]), abs=TOL
        )


def test_reference_f1_cases(gold):
    _, js = gold
    for case in js["f1_score_cases"]:
        if case["name"] == "misaligned_after_skip":
            continue  # the defect itself: lwa pairs every utterance with its own predictions
        preds = [np.asarray(f, dtype=np.int64) * FRAME_PERIOD for f in case["seqs_pred_frames"]]
        refs = [np.asarray(g, dtype=np.float64) for g in case["seqs_gt"]]
        s = score_boundaries(preds, refs, 0.02, "reference")
        assert (s.precision, s.recall, s.f1) == pytest.approx(
            (case["precision"], case["recall"], case["f1"]), abs=TOL
        ), case["name"]


def test_tolerance_edges_round_as_in_the_reference(gold):
    _, js = gold
    rows = js["f1_score_tolerance_edge_table"]["rows"]
    assert len(rows) == 200
    for g, frame, hit in rows:
        s = score_boundaries([np.array([frame * FRAME_PERIOD])], [np.array([g])], 0.02,
                             "reference")  # fmt: skip
        assert s.n_hit_pred == hit, (g, frame)


@pytest.mark.parametrize("ci", [0, 1])
def test_buckeye_intervals_and_vqwordseg_scores(gold, ci):
    npz, js = gold
    buckeye = js["buckeye"]
    cfg = buckeye["configs"][ci]
    refs = {u["utt_id"]: _parse(u["word_intervals_text"]) for u in buckeye["utterances"]}
    frames = segment(npz[f"buckeye_layer{cfg['layer']}"], npz["buckeye_n_frames"], cfg["dist"],
                     cfg["window"], cfg["prominence"])  # fmt: skip
    hyps = {}
    for utt, n, f in zip(npz["buckeye_utt_ids"], npz["buckeye_n_frames"], frames, strict=True):
        expected = _parse(cfg["hyp_intervals_text"][str(utt)])
        hyps[str(utt)] = frames_to_intervals(f, int(n), label="xxx")
        assert hyps[str(utt)] == expected[:-1]  # the reference writes the last line twice
        assert expected[-1] == expected[-2]
    for hyp_set in (hyps, {u: _parse(t) for u, t in cfg["hyp_intervals_text"].items()}):
        s = score_intervals(refs, hyp_set, tolerance=2)
        v = cfg["vqwordseg"]
        got = (s.boundary.precision, s.boundary.recall, s.boundary.f1, s.boundary.os,
               s.boundary.r_value)  # fmt: skip
        assert got == pytest.approx(
            (v["precision"], v["recall"], v["f_score"], v["os"], v["r_value"]), abs=TOL
        )
        t = v["word_token"]
        assert (s.word_token.precision, s.word_token.recall, s.word_token.f1,
                s.word_token.os) == pytest.approx(
            (t["precision"], t["recall"], t["f_score"], t["os"]), abs=TOL
        )  # fmt: skip
