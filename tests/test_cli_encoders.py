"""Issue 18 encoders through the CLI: extraction and analyses on tiny seeded checkpoints.

A small demo workspace (dev-clean, 4 utterances, 3 words); checkpoints from
tests/encoder_checkpoints.py: a w2v-BERT 2.0 directory (no conv layers, 20 ms), a rotary
wav2vec2-conformer read from a fake Hugging Face cache by hub id, and a SEW model (no family
module: the generic path, 20 ms after its squeeze). Each is extracted (frame and word spans)
and run through ``cca mel`` and ``cca word``; ``lwa models`` lists the entries and
``--check`` describes a checkpoint. Every analysis on every family:
tests/test_families_every_analysis.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa, lwa_json
from tests.encoder_checkpoints import COMMIT, hub_snapshot, offline_hub, write_checkpoints


@pytest.fixture(scope="module")
def env(tmp_path_factory, demo_corpus):
    root = tmp_path_factory.mktemp("enc")
    with offline_hub(root):
        ckpts = write_checkpoints(root, ("tiny_w2v_bert", "tiny_conformer", "tiny_sew"))
        ws = root / "ws"
        (root / "c").symlink_to(demo_corpus.root)
        lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"),
            "--alignments", str(root / "c" / "alignments"), "--split", "dev-clean")
        lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "4")
        lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "3")
        for name, ckpt in ckpts.items():
            for span in ("frame", "word"):
                lwa(ws, "extract", "--model", name, "--checkpoint", ckpt, "--split",
                    "dev-clean", "--span", span)
        lwa(ws, "extract", "--model", "tiny_conformer", "--checkpoint", "org/tiny-conformer",
            "--split", "dev-clean", "--span", "frame", "--rep", "local", "--layer", "C1,C7")
        yield ws, ckpts, root


@pytest.mark.parametrize("name", ["tiny_w2v_bert", "tiny_conformer", "tiny_sew"])
def test_extract_and_analyses(env, name):
    ws, ckpts, _ = env
    frame = ws / "features" / name / "dev-clean" / "sample-1" / "frame.h5"
    with FeatureFile(frame) as f:
        family = f.meta["spec"]["family"]
        assert f.layers == ["T0", "T1", "T2"]
        assert f.meta["spec"]["frame_rate_hz"] == 50.0
    assert family == {"tiny_w2v_bert": "w2v_bert", "tiny_conformer": "wav2vec2_conformer",
                      "tiny_sew": "generic"}[name]
    mel = lwa_json(ws, "cca", "mel", "--model", name)
    has_conv = name == "tiny_conformer"  # its C layers come from the frame-local file
    assert [r["layer"] for r in mel] == (["C1", "C7"] if has_conv else []) + ["T1", "T2"]
    assert all(0 < r["score"] <= 1 and r["dims"][1] == 80 for r in mel)
    word = lwa_json(ws, "cca", "word", "--model", name)
    assert [r["layer"] for r in word] == ["T0", "T1", "T2"] and all(r["n"] > 0 for r in word)


def test_generic_and_hub_provenance(env):
    ws, _, _ = env
    base = ws / "features"
    with FeatureFile(base / "tiny_sew" / "dev-clean" / "sample-1" / "frame.h5") as f:
        extra = dict(map(tuple, f.meta["spec"]["hf_extra"]))
        assert (extra["model_type"], extra["stride_samples"]) == ("sew", 320)
        assert "generic transformers path" in f.meta["spec"]["description"]
    with FeatureFile(base / "tiny_conformer" / "dev-clean" / "sample-1" / "frame.h5") as f:
        assert f.meta["checkpoint"] == f"org/tiny-conformer@{COMMIT}"
    res = lwa(ws, "extract", "--model", "tiny_conformer", "--checkpoint", "org/tiny-conformer",
              "--split", "dev-clean", "--span", "frame", "--json")
    assert json.loads(res.stdout)["status"] == "exists"


def test_models_lists_and_checks(env):
    ws, ckpts, root = env
    names = {r["name"] for r in lwa_json(ws, "models")}
    assert {"w2v_bert_2", "w2v_bert_2_random", "mms_1b", "xls_r_2b", "mhubert_147",
            "unispeech_sat_base_plus", "wav2vec2_conformer_relpos_large"} <= names
    info = lwa_json(ws, "models", "--check", ckpts["tiny_w2v_bert"])
    assert (info["family"], info["layers"], info["frame_period_ms"]) == (
        "w2v_bert", "T0-T2 (or T, all); the model has no conv layers", 20.0)
    assert "SeamlessM4TFeatureExtractor" in info["input"]
    hub = lwa_json(ws, "models", "--check", "org/tiny-conformer")
    assert (hub["family"], hub["hub_commit"], hub["n_conv"]) == (
        "wav2vec2_conformer", COMMIT, 7)
    table = lwa(ws, "models", "--check", ckpts["tiny_sew"]).stdout
    assert "generic" in table and "frame period measured 20 ms" in table
    shutil.rmtree(hub_snapshot(root))
    res = lwa(ws, "models", "--check", "org/tiny-conformer", code=1)
    assert "hf download org/tiny-conformer" in res.output
