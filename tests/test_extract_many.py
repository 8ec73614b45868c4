"""`extract_many` / `lwa extract --split A --split B --span x --span y`: every pair, one load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lwa_cli.errors import LwaError
from lwa_cli.models import loading
from lwa_cli.pipeline import extract as extract_mod
from lwa_cli.pipeline.extract import extract_features, extract_many
from lwa_cli.pipeline.prepare import prepare_alignments
from lwa_cli.pipeline.sample import sample_frames, sample_phones, sample_words
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from tests.cli_runner import lwa

W2V = "demo_wav2vec2"


@pytest.fixture
def ws(tmp_path, demo_corpus):
    ws = Workspace(tmp_path / "ws")
    prepare_alignments(ws, demo_corpus.corpus_root, demo_corpus.alignments_root,
                       ["dev-clean", "train-clean"])
    for split in ("dev-clean", "train-clean"):
        sample_frames(ws, split, "1", utterances=3, seed=1)
        sample_words(ws, split, "1", words=4, seed=1)
    return ws


@pytest.fixture
def loads(monkeypatch):
    """Count the model loads of the extraction module."""
    calls = []
    real = loading.load_model

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_mod, "load_model", counted)
    return calls


def test_every_pair_is_extracted_with_one_model_load(ws, demo_models, loads):
    got = extract_many(ws, model=W2V, checkpoint=demo_models[W2V],
                       splits=["dev-clean", "train-clean"], spans=["frame", "word"])
    assert [(s.path.split("/")[-3], s.path.split("/")[-1], s.status) for s in got] == [
        ("dev-clean", "frame.h5", "extracted"), ("dev-clean", "word.h5", "extracted"),
        ("train-clean", "frame.h5", "extracted"), ("train-clean", "word.h5", "extracted")]
    assert loads == [W2V]
    # The files equal one extraction per call (bit for bit).
    with FeatureFile(Path(got[3].path)) as f:
        many = {layer: f.features(layer)[:] for layer in f.layers}
    extract_features(ws, model=W2V, checkpoint=demo_models[W2V], split="train-clean",
                     sample="1", span="word", force=True)
    with FeatureFile(Path(got[3].path)) as f:
        assert f.layers == list(many)
        assert all((f.features(layer)[:] == many[layer]).all() for layer in f.layers)
    loads.clear()
    # A rerun finds every file current and does not load the model at all.
    again = extract_many(ws, model=W2V, checkpoint=demo_models[W2V],
                         splits=["dev-clean", "train-clean"], spans=["frame", "word"])
    assert {s.status for s in again} == {"exists"} and loads == []


def test_a_missing_sample_is_reported_before_anything_runs(ws, demo_models, loads):
    sample_phones(ws, "dev-clean", "1", seed=1, max_subset_seconds=10)
    with pytest.raises(LwaError, match=r"no phone sample '1' for split train-clean.*"
                                       r"lwa sample phone --split train-clean"):
        extract_many(ws, model=W2V, checkpoint=demo_models[W2V],
                     splits=["dev-clean", "train-clean"], spans=["frame", "phone"])
    assert loads == [] and not list(ws.root.glob("features/**/*.h5"))
    with pytest.raises(LwaError, match="no utt sample '1' for split dev-clean"):
        extract_many(ws, model=W2V, checkpoint=demo_models[W2V], splits=["dev-clean"],
                     spans=["word", "utt"])
    assert loads == [] and not list(ws.root.glob("features/**/*.h5"))


def test_cli_repeats_split_and_span_and_prints_a_json_list(ws, demo_models):
    ckpt = str(demo_models[W2V])
    res = lwa(ws.root, "extract", "--model", W2V, "--checkpoint", ckpt, "--split", "dev-clean",
              "--span", "frame", "--span", "word", "--json")
    summaries = json.loads(res.stdout)
    assert [s["path"].rsplit("/", 1)[1] for s in summaries] == ["frame.h5", "word.h5"]
    assert all(s["status"] == "extracted" and s["layers"] == ["T0", "T1", "T2", "T3"]
               for s in summaries)
    one = json.loads(lwa(ws.root, "extract", "--model", W2V, "--checkpoint", ckpt,
                         "--split", "dev-clean", "--span", "word", "--json").stdout)
    assert isinstance(one, dict) and one["status"] == "exists"
    text = lwa(ws.root, "extract", "--model", W2V, "--checkpoint", ckpt, "--split",
               "dev-clean", "--split", "train-clean", "--span", "frame",
               quiet=False).output
    assert text.count("exists and is current") == 1 and text.count("extracted 3 utterance") == 1
    bad = lwa(ws.root, "extract", "--model", W2V, "--checkpoint", ckpt, "--split", "dev-clean",
              "--span", "frame", "--span", "phones", code=2)
    assert "phones" in bad.output and "--span" in bad.output
