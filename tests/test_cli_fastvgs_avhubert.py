"""FaST-VGS, FaST-VGS+ and AV-HuBERT fixtures through the CLI: extract, then every analysis.

One small demo workspace of dev-clean only (4 utterances, 3 words, 1 wordsim instance); each
fixture model (tests/fixtures/models/) is extracted with two T layers (and two C layers where
it has them) and run through cca mel, intra and word, mi word (fitted and scored on dev-clean)
and wordsim, then the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.features.fbank import subsample_frames
from lwa_cli.features.logmel import log_mel
from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa, lwa_json

FIX = Path(__file__).parent / "fixtures" / "models"
MODELS = {  # name -> (checkpoint, has conv layers, transformer layers)
    "fastvgs_tiny": (FIX / "fastvgs_tiny", True, 2),
    "fastvgs_plus_tiny": (FIX / "fastvgs_plus_tiny", True, 3),
    "avhubert_tiny": (FIX / "avhubert_tiny.pt", False, 2),
}


def ext(name: str) -> list[str]:
    return ["extract", "--model", name, "--checkpoint", str(MODELS[name][0])]


@pytest.fixture(scope="module")
def ws(tmp_path_factory, demo_corpus) -> Path:
    root = tmp_path_factory.mktemp("vgs")
    ws = root / "ws"
    (root / "c").symlink_to(demo_corpus.root)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "4")
    lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "3")
    lwa(ws, "sample", "wordsim", "--split", "dev-clean", "--instances", "1")
    for name, (_, has_conv, _) in MODELS.items():
        lwa(ws, *ext(name), "--split", "dev-clean", "--span", "frame", "--layer", "T0-T2")
        if has_conv:
            lwa(ws, *ext(name), "--split", "dev-clean", "--span", "frame", "--rep", "local",
                "--layer", "C1,C7")
        for span in ("word", "wordsim"):
            lwa(ws, *ext(name), "--split", "dev-clean", "--span", span, "--layer", "T1,T2")
    return ws


@pytest.mark.parametrize("name", list(MODELS))
def test_every_analysis_runs(ws, name):
    has_conv = MODELS[name][1]
    mel = {r["layer"]: r for r in lwa_json(ws, "cca", "mel", "--model", name)}
    assert list(mel) == (["C1", "C7"] if has_conv else []) + ["T1", "T2"]
    for r in mel.values():
        assert 0 < r["score"] <= 1 and r["dims"][1] == 80
    if has_conv:  # 20 ms T layers pair with C7's mel frames
        assert mel["T1"]["n"] == mel["C7"]["n"]
    intra = lwa_json(ws, "cca", "intra", "--model", name)
    assert [r["layer"] for r in intra] == ["T1", "T2"] and all(0 < r["score"] <= 1
                                                             for r in intra)
    word = lwa_json(ws, "cca", "word", "--model", name)
    assert [r["layer"] for r in word] == ["T1", "T2"] and all(r["n"] > 0 for r in word)
    mi = lwa_json(ws, "mi", "word", "--model", name, "--clusters", "4", "--train-split",
                  "dev-clean", "--eval-split", "none")
    assert [r["layer"] for r in mi] == ["T1", "T2"] and all(r["score"] > 0 for r in mi)
    sim = lwa_json(ws, "wordsim", "--model", name, "--split", "dev-clean")
    assert [r["layer"] for r in sim] == ["T1", "T2"]
    assert all(np.isfinite(r["score"]) for r in sim)


@pytest.mark.parametrize("name", list(MODELS))
def test_a_rerun_knows_the_weights_without_loading_them(ws, name):
    """The fingerprint read from the checkpoint equals the one the loader recorded."""
    from lwa_cli.models.fingerprints import checkpoint_fingerprint
    from lwa_cli.workspace.features import FeatureFile

    with FeatureFile(ws / "features" / name / "dev-clean" / "sample-1" / "frame.h5") as f:
        assert f.meta["fingerprint"] == checkpoint_fingerprint(MODELS[name][0])
    res = lwa(ws, *ext(name), "--split", "dev-clean", "--span", "frame", "--layer", "T0-T2",
              "--json")
    assert json.loads(res.stdout)["status"] == "exists"


def test_avhubert_frame_file_holds_the_mel_every_4th_frame(ws):
    """cca mel pairs AV-HuBERT's 40 ms frames with every 4th 10 ms log-mel frame."""
    path = ws / "features" / "avhubert_tiny" / "dev-clean" / "sample-1" / "frame.h5"
    with FeatureFile(path) as f:
        assert f.meta["mel_every"] == 4
        names, rows = f.unit_rows()
        mel, t1 = f.dataset("mel/T")[...], f.features("T1")
        assert rows[:, names.index("mel/T")].tolist() == rows[:, names.index("features/T1")] \
            .tolist()
        assert mel.shape == (t1.shape[0], 80)
        unit = int(f.units()[0])
    from lwa_cli.data.audio import load_audio
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.samples import load_sample

    smp = load_sample(Workspace(ws), "dev-clean", "frame", "1")
    want = subsample_frames(log_mel(load_audio(smp.audio_paths[unit])), 4)
    n0 = int(rows[0, names.index("mel/T")])
    np.testing.assert_allclose(mel[:n0], want[:n0].astype(np.float32))
    assert not (ws / "features" / "avhubert_tiny" / "dev-clean" / "sample-1" /
                "frame-local.h5").exists()
    fastvgs = ws / "features" / "fastvgs_tiny" / "dev-clean" / "sample-1" / "frame.h5"
    with FeatureFile(fastvgs) as f:  # 20 ms models keep their frame file as it was
        assert "mel/T" not in set(f.datasets()) and "mel_every" not in f.meta


def test_avhubert_conv_requests_are_usage_errors(ws):
    res = lwa(ws, *ext("avhubert_tiny"), "--split", "dev-clean", "--span", "frame", "--rep",
              "local", code=2)
    assert "has none" in res.output and "40 ms" in res.output
    res = lwa(ws, *ext("avhubert_tiny"), "--split", "dev-clean", "--span", "word", "--layer",
              "C1", code=2)
    assert "no conv layers" in res.output
    res = lwa(ws, "cca", "mel", "--model", "avhubert_tiny", "--layer", "C1", code=2)
    assert "no conv layers" in res.output
    res = lwa(ws, *ext("fastvgs_tiny"), "--split", "dev-clean", "--span", "word", "--layer",
              "C3", "--force", code=2)
    assert "20 ms frames of C7 and T layers" in res.output


def test_report_depth_of_models_without_conv_layers(ws, tmp_path):
    summary = lwa_json(ws, "report", "--out", str(tmp_path / "report"))
    rows = [r for r in summary["rows"] if r["analysis"] == "cca-intra"]
    depth = {(r["model"], r["layer"]): r["depth"] for r in rows}
    # Transformer depth l / L, L = the exposed layers of the feature file's spec, with or
    # without conv layers: T0..T2 of AV-HuBERT and FaST-VGS (layer_use 1: T0-T2 of 3 built),
    # T0..T3 of FaST-VGS+.
    assert depth[("avhubert_tiny", "T2")] == pytest.approx(1.0)
    assert depth[("avhubert_tiny", "T1")] == pytest.approx(0.5)
    assert depth[("fastvgs_tiny", "T1")] == pytest.approx(1 / 2)
    assert depth[("fastvgs_plus_tiny", "T1")] == pytest.approx(1 / 3)


def test_model_geometry_of_the_new_registry_entries():
    from lwa_cli.report.table import layer_depth, model_geometry

    assert model_geometry("fastvgs_coco", ["T1"]) == (7, 8)  # T9-T12 are not exposed
    assert model_geometry("fastvgs_plus_coco_random", []) == (7, 12)
    assert model_geometry("avhubert_large_lrs3_vc2", ["T3"]) == (0, 24)
    assert layer_depth("T0", 0, 24) == 0.0 and layer_depth("T24", 0, 24) == 1.0
    assert layer_depth("T8", *model_geometry("fastvgs_places", [])) == 1.0
    # unregistered: the feature file's spec gives the geometry; without one, stored layers
    assert model_geometry("mine", ["T2"], {"conv_layers": [], "n_layers": 4}) == (0, 4)
    assert model_geometry("mine", ["T2"], None) == (0, 2)
