"""Frame labelling from a hand-made TextGrid, and `lwa probe phone|word|speaker` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.probe import probe_layer
from lwa_cli.data.frame_labels import frame_labels, frame_segments
from lwa_cli.data.textgrid import read_textgrid
from lwa_cli.errors import LwaError
from lwa_cli.pipeline.probe.data import speaker_split
from tests.cli_runner import lwa, lwa_json
from tests.textgrid_text import long_textgrid

M = "demo_wav2vec2"


def test_frame_labels_from_a_hand_made_textgrid(tmp_path):
    # sil 0–0.05 | HH 0.05–0.09 | AH0 0.09–0.10 | (sp 0.10–0.15 dropped) | L 0.15–0.23
    path = tmp_path / "u.TextGrid"
    path.write_text(long_textgrid([
        ("words", [(0.0, 0.05, ""), (0.05, 0.10, "HUH"), (0.10, 0.15, ""),
                   (0.15, 0.23, "L")]),
        ("phones", [(0.0, 0.05, "sil"), (0.05, 0.09, "HH"), (0.09, 0.10, "AH0"),
                    (0.10, 0.15, "sp"), (0.15, 0.23, "L")])], xmax=0.23))
    phones = read_textgrid(path).phones
    labels, starts, ends = (np.array(v) for v in zip(*phones, strict=True))
    # 20 ms frames; centres 0.01, 0.03, 0.05, 0.07, 0.09, 0.11, 0.13, 0.15, 0.17, 0.19,
    # 0.21, 0.23 (the last lies at the end of L: outside, as is everything after it).
    got = frame_labels(starts, ends, labels, 13, 0.02)
    assert got.tolist() == ["SIL", "SIL", "hh", "hh", "ah", "", "", "l", "l", "l", "l", "",
                            ""]
    # A frame spanning a boundary takes the phone holding its centre (frame 4: 0.08–0.10,
    # centre 0.09 = the start of AH: ah). AH holds no other centre.
    assert frame_segments(starts, ends, 13, 0.02)[4] == 2
    # 10 ms frames (conv layers) see AH twice as finely.
    assert frame_labels(starts, ends, labels, 10, 0.01)[9].item() == "ah"
    with pytest.raises(LwaError, match="time order"):
        frame_segments(starts[::-1], ends[::-1], 5, 0.02)


def test_speaker_split_is_seeded_and_per_speaker():
    speakers = np.array(["a"] * 8 + ["b"] * 4 + ["c"])
    train, evaluation = speaker_split(speakers, 0.25, seed=3)
    assert sorted(speakers[evaluation].tolist()) == ["a", "a", "b"]
    assert sorted(set(speakers[train].tolist())) == ["a", "b"]  # c: one utterance, left out
    assert not set(train) & set(evaluation)
    again = speaker_split(speakers, 0.25, seed=3)
    np.testing.assert_array_equal(again[1], evaluation)
    with pytest.raises(LwaError, match="two utterances"):
        speaker_split(np.array(["a", "b"]), 0.25, 0)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("probe")
    ws = root / "ws"
    lwa(ws, "demo", "corpus", str(root / "c"))
    lwa(ws, "demo", "models", str(root / "m"))
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean", "--split", "train-clean")
    for split in ("dev-clean", "train-clean"):
        lwa(ws, "sample", "frame", "--split", split, "--utterances", "8")
        lwa(ws, "sample", "word", "--split", split, "--words", "12")
        for span in ("frame", "word"):
            lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
                split, "--span", span, "--layer", "T1,T3")
    return ws


def test_probe_phone_end_to_end(demo_ws):
    records = lwa_json(demo_ws, "probe", "phone", "--model", M, "--mdl", "--device", "cpu",
                       "--c-grid", "0.01,1")
    assert [r["layer"] for r in records] == ["T1", "T3"]
    t3 = records[1]
    assert t3["analysis"] == "probe-phone" and t3["score"] == t3["accuracy"]
    assert 0 < t3["majority_accuracy"] < 1 and t3["n_classes"] > 10
    assert t3["n_classes"] <= 39 and t3["with_silence"] is False  # no SIL class
    assert t3["compression"] == pytest.approx(t3["uniform_bits"] / t3["mdl_bits"])
    assert t3["uniform_bits"] == pytest.approx(t3["n_train"] * np.log2(t3["n_classes"]))
    assert t3["c"] in (0.01, 1.0) and t3["backend"] == "sklearn"
    # Rerun: reused; --with-silence: its own result, one class more.
    again = lwa_json(demo_ws, "probe", "phone", "--model", M, "--mdl", "--device", "cpu",
                     "--c-grid", "0.01,1")
    assert all(r["cached"] for r in again)
    assert again[1]["accuracy"] == t3["accuracy"]
    sil = lwa_json(demo_ws, "probe", "phone", "--model", M, "--layer", "T3", "--device",
                   "cpu", "--c-grid", "0.01,1", "--with-silence")
    assert sil[0]["n_classes"] == t3["n_classes"] + 1 and sil[0]["file"] != t3["file"]
    assert sil[0]["n_train"] > t3["n_train"]


def test_probe_word_has_the_control_task(demo_ws):
    records = lwa_json(demo_ws, "probe", "word", "--model", M, "--layer", "T3",
                       "--device", "cpu", "--c-grid", "0.1")
    r = records[0]
    assert r["analysis"] == "probe-word" and r["n_classes"] <= 12
    assert r["selectivity"] == pytest.approx(r["accuracy"] - r["control_accuracy"])


def test_probe_speaker_and_results_and_report(demo_ws, tmp_path):
    records = lwa_json(demo_ws, "probe", "speaker", "--model", M, "--device", "cpu",
                       "--c-grid", "0.1")
    r = records[0]
    assert r["analysis"] == "probe-speaker" and r["n_classes"] >= 2
    assert r["n_train"] + r["n_eval"] <= 8 and r["train_split"] is None
    mlp = lwa_json(demo_ws, "probe", "speaker", "--model", M, "--layer", "T1", "--probe",
                   "mlp", "--device", "cpu", "--hidden", "16")
    assert mlp[0]["probe"] == "mlp" and mlp[0]["file"] != r["file"]
    out = lwa(demo_ws, "results", "--analysis", "probe-speaker", "--format", "csv").stdout
    assert "probe-speaker" in out and "probe=mlp" in out
    lwa(demo_ws, "report", "--out", str(tmp_path / "report"))
    assert (tmp_path / "report" / "probe-phone.png").stat().st_size > 0


def test_probe_refuses_bad_requests(demo_ws):
    res = lwa(demo_ws, "probe", "speaker", "--model", M, "--with-silence", code=2)
    assert "--with-silence applies to the phone task only" in res.output
    res = lwa(demo_ws, "probe", "phone", "--model", M, "--c-grid", "x", code=2)
    assert "--c-grid" in res.output
    res = lwa(demo_ws, "probe", "word", "--model", M, "--train-split", "dev-clean", code=2)
    assert "--train-split dev-clean equals --eval-split" in " ".join(res.output.split())
    assert "scored on the rows it was trained on" in " ".join(res.output.split())
    res = lwa(demo_ws, "probe", "phone", "--model", M, "--eval-split", "test-clean", code=1)
    assert "test-clean" in res.output


def test_probe_layer_rejects_a_nan_layer():
    x = np.ones((6, 2))
    x[2, 0] = np.nan
    with pytest.raises(LwaError, match="training data"):
        probe_layer(x, np.array([0, 1] * 3), np.ones((2, 2)), np.array([0, 1]), ["a", "b"])


def test_report_draws_the_baselines_on_the_accuracy_axis():
    from lwa_cli.report.figdata import analysis_figures
    from lwa_cli.report.table import aggregate, tidy_rows

    records = [{"analysis": "probe-word", "model": "m", "split": "dev-clean", "sample": "1",
                "layer": f"T{i}", "score": 0.5 + i / 10, "accuracy": 0.5 + i / 10,
                "majority_accuracy": 0.1, "control_accuracy": 0.3 + i / 20,
                "selectivity": 0.2 + i / 20, "mdl_bits": 100.0 - i, "probe": "linear"}
               for i in range(3)]
    (fig,) = analysis_figures(aggregate(tidy_rows(records)))
    labels = [p["y_label"] for p in fig["panels"]]
    assert labels[0] == "probe accuracy" and len(labels) == 3  # accuracy, mdl, selectivity
    assert not any("majority" in lab or "control task" in lab for lab in labels)
    score = fig["panels"][0]["series"]
    assert [s["style"] for s in score] == ["solid", "baseline", "baseline"]
    assert score[1]["label"].endswith("majority class") and score[1]["y"] == [0.1] * 3
    assert score[2]["label"].endswith("control task")
    assert score[2]["y"] == pytest.approx([0.3, 0.35, 0.4])


@pytest.mark.parametrize("task, probe, with_silence, tag", [
    ("phone", "linear", False, None), ("phone", "mlp", False, "mlp"),
    ("phone", "linear", True, "sil"), ("phone", "mlp", True, "mlp-sil"),
    ("word", "linear", False, None), ("word", "mlp", False, "mlp"),
    ("speaker", "linear", False, None), ("speaker", "mlp", False, "mlp")])
def test_probe_tags_and_options_are_the_stored_ones(task, probe, with_silence, tag):
    from lwa_cli.analysis.probe.mdl import BLOCKS, UNIFORM_MIX
    from lwa_cli.pipeline.probe import ProbeOptions
    from lwa_cli.pipeline.probe.data import SPEAKER_EVAL_FRACTION
    from lwa_cli.pipeline.results import ResultSpec

    options = ProbeOptions.of(task, probe, True, 3, 0, "train-clean", "dev-clean", [1, 0.1],
                              16, with_silence)
    spec = ResultSpec.build(f"probe-{task}", "m", "dev-clean", "1", {}, options)
    assert spec.tag == tag  # the file names of results stored before the registry
    splits = {"train_split": None if task == "speaker" else "train-clean",
              "eval_split": "dev-clean"}
    silence = {"with_silence": with_silence} if task == "phone" else {}
    assert dict(spec.options) == {
        "probe": probe, "mdl": True, "seed": 3, "max_train": None, **splits,
        "c_grid": [0.1, 1.0] if probe == "linear" else None,
        "hidden": 16 if probe == "mlp" else None, "mdl_blocks": list(BLOCKS),
        "mdl_uniform_mix": UNIFORM_MIX, "control": task == "word",
        "speaker_eval_fraction": SPEAKER_EVAL_FRACTION if task == "speaker" else None,
        **silence}
    assert dict(spec.fields) == {"probe": probe, "mdl": True, "seed": 3, **splits, **silence}
