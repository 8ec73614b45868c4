"""The analysis commands end to end through the CLI on a small demo workspace."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.cli import cca as cli_cca
from lwa_cli.pipeline import cca as pipeline_cca
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"


@pytest.fixture(scope="module")
def ws(tmp_path_factory, demo_corpus, demo_models) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    ws = root / "ws"
    (root / "c").symlink_to(demo_corpus.root)
    (root / "m").symlink_to(demo_models[M].parent)
    lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"), "--alignments",
        str(root / "c" / "alignments"), "--split", "dev-clean", "--split", "train-clean")
    lwa(ws, "sample", "frame", "--split", "dev-clean", "--utterances", "8")
    for split in ("dev-clean", "train-clean"):
        lwa(ws, "sample", "phone", "--split", split)
        lwa(ws, "sample", "word", "--split", split, "--words", "20")
    lwa(ws, "sample", "wordsim", "--split", "train-clean", "--instances", "3")
    ckpt = str(root / "m" / M)
    ext = ["extract", "--model", M, "--checkpoint", ckpt]
    lwa(ws, *ext, "--split", "dev-clean", "--span", "frame")
    lwa(ws, *ext, "--split", "dev-clean", "--span", "frame", "--rep", "local", "--layer",
        "C1,C4,C7")
    for split in ("dev-clean", "train-clean"):
        for span in ("phone", "word"):
            lwa(ws, *ext, "--split", split, "--span", span)
    lwa(ws, *ext, "--split", "train-clean", "--span", "wordsim")
    lwa(ws, "extract", "--model", "demo_hubert", "--checkpoint", str(root / "m" /
        "demo_hubert.pt"), "--split", "dev-clean", "--span", "frame")
    return ws


def test_cli_lists_match_the_pipeline():
    assert cli_cca.EXPERIMENTS == pipeline_cca.EXPERIMENTS
    assert cli_cca.METRICS == __import__("lwa_cli.analysis.cca", fromlist=["METRICS"]).METRICS


def test_cca_mel_scores_conv_and_transformer_layers(ws):
    records = lwa_json(ws, "cca", "mel", "--model", M)
    by_layer = {r["layer"]: r for r in records}
    assert list(by_layer) == ["C1", "C4", "C7", "T1", "T2", "T3"]
    for r in records:
        assert 0 < r["score"] < 1 and len(r["trial_scores"]) == 3
        assert r["dims"][1] == 80
    # C1 runs at 10 ms, C7 and T layers at 20 ms: twice the points.
    assert 1.9 < by_layer["C1"]["n"] / by_layer["C7"]["n"] < 2.1
    assert by_layer["T1"]["n"] == by_layer["C7"]["n"]
    stored = ws / "results" / "cca-mel" / M / "dev-clean" / "sample-1" / "T2.json"
    assert json.loads(stored.read_text())["score"] == by_layer["T2"]["score"]
    # A rerun reuses the stored results (and still describes every layer); --force
    # recomputes them identically (seeded).
    rerun = lwa_json(ws, "cca", "mel", "--model", M)
    assert [r["layer"] for r in rerun] == list(by_layer) and all(r["cached"] for r in rerun)
    assert [r["score"] for r in rerun] == [r["score"] for r in records]
    assert not any(r["cached"] for r in records)
    again = lwa_json(ws, "cca", "mel", "--model", M, "--layer", "T2", "--force")
    assert again[0]["score"] == by_layer["T2"]["score"]


def test_cca_intra_inter_and_metrics(ws):
    intra = lwa_json(ws, "cca", "intra", "--model", M)
    assert [r["layer"] for r in intra] == ["T1", "T2", "T3"]
    inter = lwa_json(ws, "cca", "inter", "--model", M, "--other-model", "demo_hubert")
    assert [r["layer"] for r in inter] == ["T0", "T1", "T2"]  # hubert has 2 layers
    cka = lwa_json(ws, "cca", "intra", "--model", M, "--metric", "cka", "--layer", "T1")
    assert 0 < cka[0]["score"] <= 1
    same = lwa_json(ws, "cca", "intra", "--model", M, "--metric", "cka", "--layer", "T1",
                    "--base-layer", "T1")
    assert same == []  # the base layer itself is not scored against itself
    # --base-layer reads any case: t2 is T2 (same result file, reused).
    lower = lwa_json(ws, "cca", "intra", "--model", M, "--metric", "cka", "--layer", "T1",
                     "--base-layer", "t2")
    upper = lwa_json(ws, "cca", "intra", "--model", M, "--metric", "cka", "--layer", "T1",
                     "--base-layer", "T2")
    assert lower[0]["base_layer"] == upper[0]["base_layer"] == "T2"
    assert upper[0]["cached"] and upper[0]["score"] == lower[0]["score"]
    res = lwa(ws, "cca", "inter", "--model", M, code=2)
    assert "--other-model" in res.output


def test_cca_phone_word_and_embedding_maps(ws, tmp_path):
    phone = lwa_json(ws, "cca", "phone", "--model", M, "--layer", "T1")
    assert phone[0]["dims"] == [32, 39]
    word = lwa_json(ws, "cca", "word", "--model", M, "--layer", "T1")
    assert word[0]["dims"] == [32, 20]
    # A GloVe-style text file that lacks vectors for some words: those segments are dropped.
    with h5py.File(ws / "samples" / "dev-clean" / "word-1.h5") as f:
        words = sorted(set(f["tokens/label"].asstr()[...]))
    rng = np.random.default_rng(0)
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} " + " ".join(f"{v:.5f}" for v in rng.normal(size=12)) + "\n"
                            for w in words[3:]))
    summary = lwa_json(ws, "embeddings", "glove", "--path", str(path))
    assert summary[0]["words"] == len(words) - 3
    glove = lwa_json(ws, "cca", "glove", "--model", M, "--layer", "T1")
    assert glove[0]["dims"] == [32, 12] and glove[0]["segments_dropped"] > 0
    res = lwa(ws, "cca", "agwe", "--model", M, code=1)
    assert "lwa embeddings agwe" in res.output
    gz = tmp_path / "agwe.txt.gz"
    lines = path.read_text().splitlines()
    with gzip.open(gz, "wt") as f:  # word2vec text with a "V D" header, gzipped
        f.write(f"{len(lines)} 12\n" + "\n".join(lines) + "\n")
    lwa(ws, "embeddings", "agwe", "--path", str(gz))
    agwe = lwa_json(ws, "cca", "agwe", "--model", M, "--layer", "T1")
    assert agwe[0]["dims"] == [32, 12] and 0 < agwe[0]["score"] < 1


def test_missing_features_say_which_extract_makes_them(ws):
    res = lwa(ws, "cca", "word", "--model", "nobody", code=2)  # a model the workspace lacks
    assert M in res.output.split("it has features of ")[1].split(" (")[0]
    assert "lwa extract --model nobody" in res.output and "--span word" in res.output
    res = lwa(ws, "cca", "nonsense", "--model", M, code=2)
    assert "unknown CCA experiment" in res.output


def test_mi_is_seeded_and_stored_per_iteration(ws):
    first = lwa_json(ws, "mi", "phone", "--model", M, "--layer", "T2", "--clusters", "20")
    again = lwa_json(ws, "mi", "phone", "--model", M, "--layer", "T2", "--clusters", "20",
                     "--force")
    other = lwa_json(ws, "mi", "phone", "--model", M, "--layer", "T2", "--clusters", "20",
                     "--iter", "1")
    assert first[0]["score"] == again[0]["score"]
    assert other[0]["score"] != first[0]["score"] and 0 < other[0]["score"] < 1
    files = sorted(p.name for p in (ws / "results" / "mi-phone" / M / "dev-clean" /
                                    "sample-1").glob("*.json"))
    assert files == ["T2.iter0-k20.json", "T2.iter1-k20.json"]
    train_only = lwa_json(ws, "mi", "word", "--model", M, "--layer", "T1", "--clusters", "10",
                          "--eval-split", "none")
    assert train_only[0]["path"] == "train" and train_only[0]["split"] == "train-clean"
    res = lwa(ws, "mi", "word", "--model", M, "--clusters", "100000", code=1)
    assert "clusters" in res.output


def test_wordsim_and_report(ws, tmp_path):
    records = lwa_json(ws, "wordsim", "--model", M)
    assert [r["layer"] for r in records] == ["T0", "T1", "T2", "T3"]
    bench = records[0]["benchmarks"]
    assert set(bench) == {"wordsim353", "simlex999"}
    assert 0 < bench["wordsim353"]["pairs_kept"] < bench["wordsim353"]["pairs_total"] == 353
    custom = tmp_path / "mine.tsv"
    custom.write_text("bird\tcat\t3\ncar\tbird\t1\nbad line\n")
    res = lwa(ws, "wordsim", "--model", M, "--benchmark", f"mine={custom}", code=1)
    assert "mine.tsv:3" in res.output
    out = tmp_path / "report"
    summary = lwa_json(ws, "report", "--out", str(out))
    assert (out / "index.html").is_file() and (out / "results.csv").is_file()
    assert {"cca-mel", "wordsim"} <= {r["analysis"] for r in summary["rows"]}


def test_models_command_lists_the_registry(ws):
    rows = lwa_json(ws, "models")
    names = {r["name"] for r in rows}
    assert {"wav2vec_base", "hubert_large", "wavlm_base_plus", "xlsr_300m",
            "data2vec_base_random"} <= names


def test_nan_features_are_an_error_naming_layer_and_file(ws):
    src = ws / "features" / M / "dev-clean" / "sample-1" / "phone.h5"
    dst_dir = ws / "features" / "nanmodel" / "dev-clean" / "sample-1"
    dst_dir.mkdir(parents=True)
    dst = dst_dir / "phone.h5"
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        f["features/T1"][3, 0] = np.nan
    res = lwa(ws, "cca", "phone", "--model", "nanmodel", "--layer", "T1", code=1)
    assert "NaN" in res.output and "T1" in res.output and "nanmodel" in res.output
    assert not list((ws / "results" / "cca-phone").glob("nanmodel/**/*.json"))
