"""Extraction, resume and combine on the demo corpus with the tiny demo models."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lwa_cli.data.audio import load_audio
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.features.conv_align import align_local
from lwa_cli.features.logmel import log_mel
from lwa_cli.features.pooling import mean_pool, segment_bounds
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.loading import load_model
from lwa_cli.pipeline import extract as extract_mod
from lwa_cli.pipeline.combine import combine_features
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.pipeline.inputs import open_features
from lwa_cli.pipeline.prepare import prepare_alignments
from lwa_cli.pipeline.sample import sample_frames, sample_phones, sample_words
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import partial_path
from lwa_cli.workspace.samples import load_sample

W2V = "demo_wav2vec2"


@pytest.fixture(scope="module")
def env(tmp_path_factory, demo_corpus, demo_models):
    root = tmp_path_factory.mktemp("extract")
    corpus, models = demo_corpus, demo_models
    ws = Workspace(root / "ws")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=5, seed=1)
    sample_phones(ws, "dev-clean", "1", seed=1, max_subset_seconds=30)
    sample_words(ws, "dev-clean", "1", words=20, seed=1)
    loaded = load_model(W2V, models[W2V], device="cpu")
    return ws, models, loaded


def test_frame_rows_equal_a_direct_forward_of_each_utterance_alone(env):
    ws, models, lm = env
    summary = extract_features(ws, model=W2V, checkpoint=models[W2V], split="dev-clean",
                               sample="1", span="frame", loaded=lm)
    assert summary.status == "extracted" and summary.layers == ["T0", "T1", "T2", "T3"]
    smp = load_sample(ws, "dev-clean", "frame", "1")
    with open_features(ws, W2V, "dev-clean", "1", "frame") as f:
        assert f.meta["fingerprint"] == lm.fingerprint
        assert f.meta["sample_fingerprint"] == smp.fingerprint
        names, rows = f.unit_rows()
        offsets = np.concatenate([[0], np.cumsum(rows[:, 0])])
        for pos, unit in enumerate(f.units()):
            direct = extract_layers(lm, load_audio(smp.audio_paths[unit]), ["T0", "T3"])
            for layer in ("T0", "T3"):
                got = f.features(layer)[offsets[pos]:offsets[pos + 1]]
                np.testing.assert_allclose(got, direct[layer], atol=1e-5)


def test_token_rows_are_mean_pooled_segments(env):
    ws, models, lm = env
    extract_features(ws, model=W2V, checkpoint=models[W2V], split="dev-clean", sample="1",
                     span="phone", layers=["T2"], loaded=lm)
    smp = load_sample(ws, "dev-clean", "phone", "1")
    with open_features(ws, W2V, "dev-clean", "1", "phone") as f:
        tokens = f.rows("token_index")
        assert sorted(tokens.tolist()) == list(range(len(smp.tokens.label)))
        assert f.rows("label").tolist() == smp.tokens.label[tokens].tolist()
        unit = int(f.units()[0])
        mine = np.flatnonzero(smp.tokens.utt_index == unit)
        out = extract_layers(lm, load_audio(smp.audio_paths[unit]), ["T2"])["T2"]
        b = segment_bounds(smp.tokens.start[mine], smp.tokens.end[mine], len(out), trim=True)
        expected = mean_pool(out, b.start[b.kept], b.end[b.kept])
        np.testing.assert_allclose(f.features("T2")[: len(expected)], expected, atol=1e-5)


def test_local_rep_stores_box_averaged_conv_and_aligned_mel(env):
    ws, models, lm = env
    extract_features(ws, model=W2V, checkpoint=models[W2V], split="dev-clean", sample="1",
                     span="frame", rep="local", layers=["C1", "C7"], loaded=lm)
    smp = load_sample(ws, "dev-clean", "frame", "1")
    with open_features(ws, W2V, "dev-clean", "1", "frame", "local") as f:
        unit = int(f.units()[0])
        wave = load_audio(smp.audio_paths[unit])
        raw = extract_layers(lm, wave, ["C1", "C7"])
        for layer in ("C1", "C7"):
            feats, mel = align_local(layer, raw[layer], log_mel(wave))
            n = len(feats)
            np.testing.assert_allclose(f.features(layer)[:n], feats, atol=1e-5)
            np.testing.assert_allclose(f.mel(layer)[:n], mel, atol=1e-6)
        # C1 runs at 10 ms: about twice the rows of C7 (20 ms).
        assert 1.9 < f.features("C1").shape[0] / f.features("C7").shape[0] < 2.1


def test_resume_after_a_kill_skips_finished_utterances(env, monkeypatch):
    ws, models, lm = env
    calls = []
    real = extract_mod.extract_layers

    def dying(loaded, wave, layers):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # a kill in the middle of utterance 3
        return real(loaded, wave, layers)

    monkeypatch.setattr(extract_mod, "extract_layers", dying)
    kwargs = dict(model=W2V, checkpoint=models[W2V], split="dev-clean", sample="1",
                  span="word", layers=["T1"], dtype="float16", loaded=lm)
    path = ws.features_path(W2V, "dev-clean", "1", "word", "part-shard0of1")
    with pytest.raises(KeyboardInterrupt):
        extract_features(ws, shard=(0, 1), **kwargs)
    assert partial_path(path).exists() and not path.exists()
    with pytest.raises(LwaError, match="unfinished"):
        combine_features(ws, model=W2V, split="dev-clean", sample="1", span="word")
    monkeypatch.setattr(extract_mod, "extract_layers", real)
    counted = []
    monkeypatch.setattr(extract_mod, "extract_layers",
                        lambda *a: counted.append(1) or real(*a))
    summary = extract_features(ws, shard=(0, 1), **kwargs)
    assert summary.status == "resumed" and summary.units_run == summary.units - 2
    assert len(counted) == summary.units_run
    smp = load_sample(ws, "dev-clean", "word", "1")
    with h5py.File(path) as f:
        assert f["features/T1"].dtype == np.float16
        assert f["units/index"][...].tolist() == np.unique(smp.tokens.utt_index).tolist()
        assert sorted(f["rows/token_index"][...].tolist()) == list(range(len(smp.tokens.label)))
    path.unlink()


def test_shards_combine_to_the_unsharded_file_and_missing_shards_are_refused(env):
    ws, models, lm = env
    kwargs = dict(model=W2V, checkpoint=models[W2V], split="dev-clean", sample="1",
                  span="word", layers=["T1", "T3"], loaded=lm)
    extract_features(ws, **kwargs)
    whole = ws.features_path(W2V, "dev-clean", "1", "word")
    with h5py.File(whole) as f:
        reference = f["features/T3"][...]
        ref_tokens = f["rows/token_index"][...]
    whole.rename(whole.with_suffix(".bak"))
    extract_features(ws, shard=(0, 3), **kwargs)
    extract_features(ws, shard=(2, 3), **kwargs)
    with pytest.raises(LwaError, match=r"segments: missing shard 1/3; make them with `lwa extract"):
        combine_features(ws, model=W2V, split="dev-clean", sample="1", span="word")
    extract_features(ws, shard=(1, 3), **kwargs)
    summary = combine_features(ws, model=W2V, split="dev-clean", sample="1", span="word")
    assert summary.parts == 3
    with open_features(ws, W2V, "dev-clean", "1", "word") as f:
        # Same rows in the same order as the unsharded run (the CCA splits depend on it).
        np.testing.assert_array_equal(f.rows("token_index"), ref_tokens)
        np.testing.assert_array_equal(f.features("T3")[...], reference)


def test_combine_refuses_parts_of_another_model(env):
    ws, models, lm = env
    whole = ws.features_path(W2V, "dev-clean", "1", "phone")
    whole.unlink(missing_ok=True)  # parts are only extracted while no combined file exists
    kwargs = dict(split="dev-clean", sample="1", span="phone", layers=["T1"])
    extract_features(ws, model=W2V, checkpoint=models[W2V], subset=0, loaded=lm, **kwargs)
    other = load_model("demo_hubert", models["demo_hubert"])
    # Same workspace model name, other weights: the fingerprints differ.
    extract_features(ws, model=W2V, checkpoint=models["demo_hubert"], subset=1, loaded=other,
                     **kwargs)
    with pytest.raises(LwaError, match="differs .* in fingerprint"):
        combine_features(ws, model=W2V, split="dev-clean", sample="1", span="phone")


def test_bad_requests_are_usage_errors(env):
    ws, models, lm = env
    base = dict(model=W2V, checkpoint=models[W2V], split="dev-clean", sample="1", loaded=lm)
    with pytest.raises(LwaUsageError, match="valid layers"):
        extract_features(ws, span="frame", layers=["T9"], **base)
    with pytest.raises(LwaUsageError, match="valid layers"):  # --force with a bad request
        extract_features(ws, span="frame", layers=["T9"], force=True, **base)
    assert ws.features_path(W2V, "dev-clean", "1", "frame").is_file()  # nothing was lost
    with pytest.raises(LwaUsageError, match="local"):
        extract_features(ws, span="phone", rep="local", **base)
    with pytest.raises(LwaUsageError, match="subset"):
        extract_features(ws, span="frame", subset=0, **base)
    with pytest.raises(LwaError, match="lwa sample word"):
        extract_features(ws, span="wordsim", **{**base, "sample": "nope"})
    with pytest.raises(LwaError, match="lwa extract --model"):
        open_features(ws, W2V, "dev-clean", "1", "wordsim")
