"""`lwa segment tune|apply|reference|score` and `lwa sample frame --from-list` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.segmentation import SegmentationGrid, segment, tune_layer
from lwa_cli.analysis.segmentation.boundaries import reference_boundaries
from lwa_cli.choices import SEGMENT_MATCHINGS, SEGMENT_METRICS
from lwa_cli.data.intervals import read_interval_dir, score_interval_dirs, words_to_intervals
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import load_alignments
from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"
GRID = {"prominence": [0.0, 0.1, 0.3, 1.0], "metric": ["euclidean", "cosine"],
        "window": [1, 2, 4]}


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_corpus, demo_models) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("segment")
    ws = root / "ws"
    (root / "c").symlink_to(demo_corpus.root)
    (root / "m").symlink_to(demo_models[M].parent)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "6")
    lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
        "dev-clean", "--span", "frame", "--layer", "T1-T2")
    (root / "grid.json").write_text(json.dumps(GRID))
    return root, ws


def tune(ws: Path, root: Path, *args: str) -> list[dict]:
    return lwa_json(ws, "segment", "tune", "--model", M, "--grid", str(root / "grid.json"),
                    *args)


def test_choices_match_the_numerics():
    from lwa_cli.analysis.segmentation import METRICS
    from lwa_cli.analysis.segmentation.boundaries import MATCHINGS

    assert SEGMENT_MATCHINGS == MATCHINGS and SEGMENT_METRICS == METRICS


def test_tune_scores_every_layer_stores_and_reuses(built):
    root, ws = built
    records = tune(ws, root)
    assert [r["layer"] for r in records] == ["T1", "T2"]
    assert not any(r["cached"] for r in records)
    # The stored numbers are those of the numerics on the stored features and alignments.
    with FeatureFile(ws / "features" / M / "dev-clean" / "sample-1" / "frame.h5") as f:
        names, unit_rows = f.unit_rows()
        lengths = unit_rows[:, names.index("features/T2")]
        x = f.features("T2")[...]
        units = f.units()
    aligned = load_alignments(Workspace(ws), "dev-clean")
    import h5py

    with h5py.File(ws / "samples" / "dev-clean" / "frame-1.h5") as s:
        utt_ids = s["utterances/id"].asstr()[...][units]
    refs = []
    for u in utt_ids:
        i = int(np.flatnonzero(aligned.utt_ids == u)[0])
        w = aligned.words.utt_index == i
        refs.append(reference_boundaries(aligned.words.start[w], aligned.words.end[w],
                                         aligned.words.label[w].tolist()))
    grid = SegmentationGrid(tuple(GRID["prominence"]), tuple(GRID["metric"]),
                            tuple(GRID["window"]))
    expected = tune_layer(x, lengths, refs, grid)
    t2 = records[1]
    assert t2["score"] == t2["f1"] == pytest.approx(float(expected.f1.max()), abs=1e-12)
    assert (t2["best_prominence"], t2["best_metric"], t2["best_window"]) == \
        expected.best_config
    assert t2["n_utterances"] == 6 and t2["n_left_out"] == 0 and t2["matching"] == "reference"
    assert np.array(t2["configs"]["f1"]).shape == (4, 2, 3)
    assert np.allclose(t2["configs"]["recall"], expected.recall, atol=1e-6)
    assert -10 < t2["r_value"] <= 1 and 0 < t2["precision"] <= 1
    # A rerun reuses both layers; another matching is its own (tagged) result.
    rerun = tune(ws, root)
    assert all(r["cached"] for r in rerun)
    assert [r["score"] for r in rerun] == [r["score"] for r in records]
    one = tune(ws, root, "--matching", "one-to-one", "--layer", "T2")
    assert not one[0]["cached"] and one[0]["matching"] == "one-to-one"
    assert one[0]["file"].endswith("T2.one-to-one.json")
    assert (ws / "results" / "segment" / M / "dev-clean" / "sample-1" / "T2.json").is_file()
    # The table names the best configuration of every layer.
    table = lwa(ws, "segment", "tune", "--model", M, "--grid", str(root / "grid.json")).stdout
    assert "T1" in table and "T2" in table and "reused" in table


def test_apply_from_tune_writes_intervals_that_score_reads(built):
    root, ws = built
    best = tune(ws, root, "--layer", "T2")[0]
    hyp, ref = root / "hyp", root / "ref"
    summary = lwa_json(ws, "segment", "apply", "--model", M, "--split", "dev-clean",
                       "--layer", "T2", "--from-tune", "--out", str(hyp))
    assert summary["utterances"] == 6 and summary["config"]["source"]["kind"] == "tune"
    assert summary["config"]["prominence"] == best["best_prominence"]
    doc = json.loads((hyp / "segmentation.json").read_text())
    with FeatureFile(ws / "features" / M / "dev-clean" / "sample-1" / "frame.h5") as f:
        names, unit_rows = f.unit_rows()
        lengths = unit_rows[:, names.index("features/T2")]
        bounds = segment(f.features("T2")[...], lengths, best["best_metric"],
                         best["best_window"], best["best_prominence"])
    assert [u["boundary_frames"] for u in doc["utterances"].values()] == \
        [b.tolist() for b in bounds]
    intervals = read_interval_dir(hyp)
    assert len(intervals) == 6
    first = next(iter(doc["utterances"]))
    assert intervals[first][-1][1] == 2 * (doc["utterances"][first]["n_frames"] - 1) + 1
    # The same configuration given explicitly gives the same files.
    lwa(ws, "segment", "apply", "--model", M, "--split", "dev-clean", "--layer", "T2",
        "--prominence", str(best["best_prominence"]), "--metric", best["best_metric"],
        "--window", str(best["best_window"]), "--out", str(root / "hyp2"))
    assert read_interval_dir(root / "hyp2") == intervals
    # Reference intervals of the aligned words; `segment score` reads both folders.
    assert lwa_json(ws, "segment", "reference", "--split", "dev-clean", "--out",
                    str(ref))["utterances"] == 6
    scores = lwa_json(ws, "segment", "score", "--ref", str(ref), "--hyp", str(hyp))
    direct = score_interval_dirs(ref, hyp, 2)
    assert scores["boundary"]["f1"] == direct.boundary.f1 > 0
    assert scores["word_token"]["recall"] == direct.word_token.recall
    assert scores["utterances"] == 6 and scores["missing_ref"] == []
    assert "word boundaries" in lwa(ws, "segment", "score", "--ref", str(ref), "--hyp",
                                    str(hyp)).stdout
    # An existing folder is replaced only with --force.
    res = lwa(ws, "segment", "apply", "--model", M, "--split", "dev-clean", "--layer", "T2",
              "--from-tune", "--out", str(hyp), code=1)
    assert "--force" in res.output
    lwa(ws, "segment", "apply", "--model", M, "--split", "dev-clean", "--layer", "T2",
        "--from-tune", "--out", str(hyp), "--force")


def test_words_to_intervals_cover_the_utterance():
    got = words_to_intervals(np.array([0.105, 0.5]), np.array([0.4, 0.9]), ["a", "b"], 1.0)
    assert got == [(0, 10, "sil"), (10, 40, "a"), (40, 50, "sil"), (50, 90, "b"),
                   (90, 100, "sil")]


def test_from_list_sample_extracts_and_applies_a_tuned_configuration(built):
    root, ws = built
    tune(ws, root, "--layer", "T1")
    flacs = sorted((root / "c" / "LibriSpeech" / "dev-clean").rglob("*.flac"))[:3]
    listing = root / "other.tsv"
    listing.write_text("".join(f"s01_{i:02d}\t{p}\n" for i, p in enumerate(flacs)))
    smp = lwa_json(ws, "sample", "frame", "--split", "other", "--from-list", str(listing))
    assert smp["utterances"] == 3
    import h5py

    with h5py.File(ws / "samples" / "other" / "frame-1.h5") as f:
        params = json.loads(f.attrs["params"])
    assert params["from_list"] == str(listing.resolve()) and len(params["list_fingerprint"]) == 16
    # The same request again reuses it; a changed list needs --force.
    lwa(ws, "sample", "frame", "--split", "other", "--from-list", str(listing))
    two = lwa_json(ws, "sample", "frame", "--split", "other", "--sample", "2", "--from-list",
                   str(listing), "--utterances", "2", "--seed", "3")
    assert two["utterances"] == 2
    listing.write_text(listing.read_text() + f"s01_99\t{flacs[0]}\n")
    res = lwa(ws, "sample", "frame", "--split", "other", "--from-list", str(listing), code=1)
    assert "--force" in res.output
    lwa(ws, "sample", "frame", "--split", "other", "--from-list", str(listing), "--force")
    lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split", "other",
        "--span", "frame", "--layer", "T1")
    out = root / "other-hyp"
    summary = lwa_json(ws, "segment", "apply", "--model", M, "--split", "other", "--layer",
                       "T1", "--from-tune", "--tune-split", "dev-clean", "--out", str(out))
    assert summary["config"]["source"]["split"] == "dev-clean"
    assert sorted(read_interval_dir(out)) == ["s01_00", "s01_01", "s01_02", "s01_99"]
    # No alignments: tuning there is refused with what to do instead.
    res = lwa(ws, "segment", "tune", "--model", M, "--split", "other", code=1)
    assert "--from-tune --tune-split" in res.output


@pytest.mark.parametrize("text, needle", [
    ("a\n", ":1: expected 'utt_id<TAB>audio path'"),
    ("a\tmissing.flac\n", ":1: audio file not found"),
])
def test_bad_list_file(built, tmp_path, text, needle):
    _, ws = built
    listing = tmp_path / "bad.tsv"
    listing.write_text(text)
    res = lwa(ws, "sample", "frame", "--split", "bad", "--from-list", str(listing), code=1)
    assert needle in res.output
    res = lwa(ws, "sample", "frame", "--split", "bad", "--from-list", str(tmp_path / "no.tsv"),
              code=1)
    assert "not found" in res.output


def test_bad_input(built, tmp_path):
    root, ws = built
    apply = ["segment", "apply", "--model", M, "--split", "dev-clean"]
    res = lwa(ws, "segment", "tune", "--model", M, "--layer", "T3", code=2)
    assert "no layer T3" in res.output
    res = lwa(ws, *apply, "--layer", "T3", "--from-tune", "--out", str(tmp_path / "o"), code=2)
    assert "no layer T3" in res.output
    res = lwa(ws, *apply, "--layer", "T1", "--out", str(tmp_path / "o"), code=2)
    assert "--from-tune" in res.output
    res = lwa(ws, *apply, "--layer", "T1", "--from-tune", "--window", "2", "--out",
              str(tmp_path / "o"), code=2)
    assert "leave out" in res.output
    res = lwa(ws, *apply, "--layer", "T1", "--from-tune", "--tolerance", "0.05", "--out",
              str(tmp_path / "o"), code=1)
    assert "no segment tune result" in res.output
    res = lwa(ws, *apply, "--layer", "T1", "--prominence", "0.1", "--metric", "manhattan",
              "--window", "2", "--out", str(tmp_path / "o"), code=2)
    assert "unknown metric" in res.output
    res = lwa(ws, "segment", "tune", "--model", M, "--matching", "greedy", code=2)
    assert "unknown matching" in res.output
    bad_grid = tmp_path / "grid.json"
    bad_grid.write_text('{"window": [0]}')
    res = lwa(ws, "segment", "tune", "--model", M, "--grid", str(bad_grid), code=1)
    assert "grid.json" in res.output and "window" in res.output
    res = lwa(ws, "segment", "score", "--ref", str(tmp_path / "none"), "--hyp",
              str(tmp_path / "none"), code=1)
    assert "not found" in res.output


def test_stale_tune_result_is_refused_and_report_shows_segment(built, tmp_path):
    root, ws = built
    best = tune(ws, root, "--layer", "T1")[0]
    path = Path(best["file"])
    saved = path.read_text()
    record = json.loads(saved)
    record["inputs"]["features"]["fingerprint"] = "0" * 16  # as if the features changed
    path.write_text(json.dumps(record))
    try:
        res = lwa(ws, "segment", "apply", "--model", M, "--split", "dev-clean", "--layer",
                  "T1", "--from-tune", "--out", str(tmp_path / "o"), code=1)
        assert "stale" in res.output and "segment tune" in res.output
    finally:
        path.write_text(saved)
    lwa(ws, "report", "--out", str(tmp_path / "report"))
    with (tmp_path / "report" / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    seg = [r for r in rows if r["analysis"] == "segment"]
    assert {r["layer"] for r in seg} == {"T1", "T2"}
    assert all(float(r["r_value"]) <= 1 for r in seg)
