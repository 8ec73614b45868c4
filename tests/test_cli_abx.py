"""`lwa abx` end to end on the demo corpus, against the ZeroSpeech reference on its frames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.analyses import result_tag
from lwa_cli.data.abx_items import items_from_alignments, write_item_file
from lwa_cli.pipeline.abx import ABXOptions
from lwa_cli.pipeline.results import UNSET, options_of
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.alignments import load_alignments
from lwa_cli.workspace.features import FeatureFile
from tests.abx_oracle import lwa_score, oracle_scores, write_inputs
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"
FP = 0.02


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("abx-cli")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    lwa(ws, "demo", "models", str(root / "m"))
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "16")
    lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
        "dev-clean", "--span", "frame", "--layer", "T1-T2")
    return root, ws


@pytest.fixture(scope="module")
def demo_inputs(built):
    """The sample's T2 frames per utterance and its items, written for the reference."""
    root, ws = built
    with FeatureFile(ws / "features" / M / "dev-clean" / "sample-1" / "frame.h5") as f:
        names, unit_rows = f.unit_rows()
        lengths = unit_rows[:, names.index("features/T2")]
        x = f.features("T2")[...]
        units = f.units()
    with h5py.File(ws / "samples" / "dev-clean" / "frame-1.h5") as s:
        utt_ids = s["utterances/id"].asstr()[...][units].tolist()
    parts = np.split(x, np.cumsum(lengths)[:-1])
    feats = dict(zip(utt_ids, parts, strict=True))
    items = items_from_alignments(load_alignments(Workspace(ws), "dev-clean"), utt_ids)
    out = root / "oracle"
    write_inputs(out, feats, items)
    return out, feats, items


def test_abx_equals_the_reference_on_demo_frames(built, demo_inputs):
    root, ws = built
    out, _, items = demo_inputs
    records = lwa_json(ws, "abx", "--model", M, "--layer", "T2", "--max-size-group", "1000",
                       "--max-x-across", "100")
    assert [(r["speakers"], r["layer"]) for r in records] == [("within", "T2"),
                                                              ("across", "T2")]
    expected = oracle_scores(out, speaker="all", context="within", distance="angular",
                             pooling="none", frame_period=FP, max_size_group=1000,
                             max_x_across=100, seed=0)
    for r in records:
        assert r["error_rate"] == pytest.approx(expected[f"{r['speakers']}-within"], abs=1e-6)
        assert r["score"] == pytest.approx(100 * r["error_rate"])
        assert 5 < r["score"] < 60 and r["n_tokens"] > 500 and r["n_speakers"] >= 2
    assert len(items) >= records[0]["n_tokens"]
    again = lwa_json(ws, "abx", "--model", M, "--layer", "T2", "--max-size-group", "1000",
                     "--max-x-across", "100")
    assert all(r["cached"] for r in again)


@pytest.mark.parametrize("speaker,context,distance,pooling", [
    ("within", "any", "euclidean", "mean"), ("across", "any", "angular", "mean"),
    ("across", "within", "euclidean", "none")])
def test_demo_frames_with_the_references_subsampling(demo_inputs, speaker, context, distance,
                                                     pooling):
    out, feats, items = demo_inputs
    kw = dict(speaker=speaker, context=context, distance=distance, pooling=pooling,
              frame_period=FP, max_size_group=10, max_x_across=5, seed=0)
    expected = oracle_scores(out, **kw)[f"{speaker}-{context}"]
    assert lwa_score(out, feats, items, **kw) == pytest.approx(expected, abs=1e-6)


def test_item_file_with_files_the_sample_lacks(built, demo_inputs, tmp_path):
    root, ws = built
    out, _, items = demo_inputs
    extra = type(items)(*(np.concatenate([getattr(items, f), v]) for f, v in (
        ("file", ["1-2-3", "1-2-3"]), ("onset", [0.0, 0.1]), ("offset", [0.1, 0.2]),
        ("phone", ["aa", "b"]), ("prev", ["SIL", "aa"]), ("next", ["b", "SIL"]),
        ("speaker", ["1", "1"]))))
    path = write_item_file(extra, tmp_path / "mine.item")
    result = lwa(ws, "abx", "--model", M, "--layer", "T1", "--speaker", "within",
                 "--items", str(path), quiet=False)
    assert "2 item(s) name 1 file(s) that frame sample '1' lacks (e.g. 1-2-3)" in result.output
    record = lwa_json(ws, "abx", "--model", M, "--layer", "T1", "--speaker", "within",
                      "--items", str(path))[0]
    assert record["n_items_missing_file"] == 2 and record["cached"]
    assert record["file"] != lwa_json(ws, "abx", "--model", M, "--layer", "T1", "--speaker",
                                      "within")[0]["file"]  # its own result variant


def test_too_few_items_is_a_clear_error(built, demo_inputs, tmp_path):
    root, ws = built
    _, _, items = demo_inputs
    two = type(items)(*(getattr(items, f)[:2] for f in ("file", "onset", "offset", "phone",
                                                        "prev", "next", "speaker")))
    path = write_item_file(two, tmp_path / "two.item")
    result = lwa(ws, "abx", "--model", M, "--layer", "T1", "--speaker", "across", "--items",
                 str(path), code=1, quiet=False)
    assert "layer T1: no ABX cell for speaker=across, context=within" in result.output


def test_bad_option_names_the_option(built):
    _, ws = built
    result = lwa(ws, "abx", "--model", M, "--context", "all", code=2, quiet=False)
    assert "--context all is not one of within, any" in result.output


def test_result_tags_name_the_condition_and_non_default_settings():
    within = ABXOptions(speaker="within", context="within", distance="angular", pooling="none",
                        max_size_group=10, max_x_across=UNSET, seed=0, items=None)
    assert result_tag("abx", options_of(within)) == "within-within"
    assert "max_x_across" not in options_of(within)
    across = ABXOptions(speaker="across", context="any", distance="euclidean", pooling="mean",
                        max_size_group=4, max_x_across=3, seed=2, items="dev-clean")
    assert (result_tag("abx", options_of(across))
            == "across-any-euclidean-pool-mean-g4-x3-seed2-items-dev-clean")
    assert result_tag("abx", options_of(replace(across, max_x_across=5, seed=0, items=None,
                                                max_size_group=10, distance="angular",
                                                pooling="none"))) == "across-any"
