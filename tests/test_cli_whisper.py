"""The demo Whisper through the CLI: extraction (frame, local, phone, word) and cca mel /
phone / word, plus `cca inter` against the demo wav2vec 2.0 (both at 20 ms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lwa_cli.demo.models import write_demo_models
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.samples import load_sample
from tests.cli_runner import lwa, lwa_json

SPLIT = "dev-clean"
W = "demo_whisper"
OUTPUT: dict[str, str] = {}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("whisper_cli")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    write_demo_models(root / "m", seed=0)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", SPLIT)
    lwa(ws, "sample", "frame", "--split", SPLIT, "--utterances", "6")
    lwa(ws, "sample", "word", "--split", SPLIT, "--words", "8")
    lwa(ws, "sample", "phone", "--split", SPLIT)
    ckpt = str(root / "m" / W)
    for span, rep in (("frame", "contextualized"), ("frame", "local"), ("word", "contextualized"),
                      ("phone", "contextualized")):
        OUTPUT[f"{span}-{rep}"] = lwa(ws, "extract", "--model", W, "--checkpoint", ckpt,
                                      "--split", SPLIT, "--span", span, "--rep", rep,
                                      quiet=False).output
    w2v = str(root / "m" / "demo_wav2vec2")
    lwa(ws, "extract", "--model", "demo_wav2vec2", "--checkpoint", w2v, "--split", SPLIT,
        "--span", "frame")
    return ws


def _frames(ws: Path, stem: str) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """Meta, rows per dataset and unit, and the utterances' sample counts of a feature file."""
    path = Workspace(ws).features_path(W, SPLIT, "1", stem)
    with FeatureFile(path) as f:
        meta, (names, rows), units = f.meta, f.unit_rows(), f.units()
        summary = f.summary
    smp = load_sample(Workspace(ws), SPLIT, "frame", "1")
    samples = np.array([sf.info(str(smp.audio_paths[u])).frames for u in units])
    meta["summary"] = summary
    return meta, {n: rows[:, i] for i, n in enumerate(names)}, samples


def test_frame_files_hold_the_audio_frames_and_the_padding_rule(ws):
    meta, rows, samples = _frames(ws, "frame")
    assert meta["spec"]["family"] == "whisper" and meta["layers"] == ["T0", "T1", "T2"]
    assert "zero-padded to 30 s" in meta["input_rule"] and "ceil(samples/320)" in \
        meta["input_rule"]
    np.testing.assert_array_equal(rows["features/T2"], -(-samples // 320))
    assert meta["summary"]["windows"] == len(samples)  # demo utterances are under 30 s
    assert meta["summary"]["long_utterances"] == 0
    local, lrows, lsamples = _frames(ws, "frame-local")
    assert local["layers"] == ["C1", "C2"]
    # C1 at 10 ms pairs 1:1 with the log-mel (1 + n // 160 frames); C2 with every other one.
    np.testing.assert_array_equal(lrows["features/C1"], -(-lsamples // 160))
    np.testing.assert_array_equal(lrows["mel/C1"], lrows["features/C1"])
    np.testing.assert_array_equal(lrows["features/C2"], -(-lsamples // 320))
    np.testing.assert_array_equal(lrows["mel/C2"], lrows["features/C2"])


def test_cca_mel_phone_word_and_inter_run_on_the_demo_whisper(ws):
    mel = {r["layer"]: r for r in lwa_json(ws, "cca", "mel", "--model", W)}
    assert list(mel) == ["C1", "C2", "T1", "T2"]
    _, lrows, _ = _frames(ws, "frame-local")
    assert mel["C1"]["n"] == int(lrows["features/C1"].sum())
    assert mel["C2"]["n"] == mel["T1"]["n"] == int(lrows["features/C2"].sum())
    for exp in ("phone", "word"):
        rows = lwa_json(ws, "cca", exp, "--model", W)
        assert [r["layer"] for r in rows] == ["T0", "T1", "T2"]
        assert all(0.0 < r["score"] <= 1.0 for r in rows)
    inter = lwa_json(ws, "cca", "inter", "--model", "demo_wav2vec2", "--other-model", W)
    assert [r["layer"] for r in inter] == ["T0", "T1", "T2"]  # the layers both models have
    assert all(0.0 <= r["score"] <= 1.0 for r in inter)
    assert all(0.0 < r["score"] <= 1.0 for r in mel.values())


def test_extract_names_the_ignored_decoder(ws):
    for output in OUTPUT.values():
        assert "the encoder was loaded; not loaded (ignored): model.decoder (28 tensors)" \
            in output
