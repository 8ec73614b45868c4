"""FaST-VGS(+) and AV-HuBERT (audio only) against fixtures made by their own code.

The fixtures (tests/fixtures/models/, made by scripts/make_model_fixtures.py) are tiny
seeded models in each family's released layout; their expected activations were computed
with FaST-VGS-Family's ``Wav2Vec2Model_cls`` on fairseq-fixed, and for AV-HuBERT with
python_speech_features and fairseq-fixed's encoder — not with lwa.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lwa_cli.errors import LwaError
from lwa_cli.features.fbank import frame_count, log_fbank, stack_frames, subsample_frames
from lwa_cli.features.logmel import log_mel
from lwa_cli.features.pooling import mean_pool, segment_bounds
from lwa_cli.models import avhubert, fastvgs
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.fairseq_config import read_checkpoint_file
from lwa_cli.models.loading import load_model, random_fingerprint
from lwa_cli.models.registry import REGISTRY, get_spec

FIX = Path(__file__).parent / "fixtures" / "models"
CASES = {  # name -> (checkpoint, expected layers)
    "fastvgs_tiny": (FIX / "fastvgs_tiny", ["C1", "C4", "C7", "T0", "T1", "T2"]),
    "fastvgs_plus_tiny": (FIX / "fastvgs_plus_tiny", ["C1", "C7", "T0", "T1", "T2", "T3"]),
    "avhubert_tiny": (FIX / "avhubert_tiny.pt", ["T0", "T1", "T2"]),
}


def _fixture_script():
    """scripts/make_model_fixtures.py, for the seeds and waveform the fixtures were made with."""
    spec = importlib.util.spec_from_file_location(
        "make_model_fixtures", Path(__file__).parents[1] / "scripts" / "make_model_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _fixture_script()


def expected(name: str) -> dict[str, np.ndarray]:
    """The fixture's expected activations, with its test waveform regenerated from its seed
    (``wave``; the file does not store it)."""
    with np.load(FIX / f"{name}_expected.npz") as data:
        out = {k: data[k] for k in data.files}
    out["wave"] = MAKER.test_wave(MAKER.SEEDS[name])
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_layers_equal_the_reference_forward(name):
    path, layers = CASES[name]
    exp = expected(name)
    lm = load_model(name, path)
    out = extract_layers(lm, exp["wave"], ["all"])
    assert sorted(out) == sorted(k for k in exp if k != "wave")  # the reference's taps
    for layer in layers:
        assert out[layer].shape == exp[layer].shape, layer
        np.testing.assert_allclose(out[layer], exp[layer], atol=1e-5, rtol=0, err_msg=layer)
    assert lm.spec.n_frames(exp["wave"].size) == exp["T0"].shape[0]


def test_layer_counts_frame_periods_and_sources():
    fv = load_model("fastvgs_tiny", CASES["fastvgs_tiny"][0])
    assert (fv.n_conv, fv.n_layers, fv.spec.n_encoder_layers) == (7, 2, 3)  # layer_use 1
    assert fv.source == "fastvgs" and fv.spec.frame_period_s == pytest.approx(0.02)
    av = load_model("avhubert_tiny", CASES["avhubert_tiny"][0])
    assert (av.n_conv, av.n_layers, av.spec.has_conv_layers) == (0, 2, False)
    assert av.source == "avhubert" and av.spec.frame_period_s == pytest.approx(0.04)
    with pytest.raises(Exception, match="no conv layers"):
        extract_layers(av, expected("avhubert_tiny")["wave"], ["C1"])


def test_registry_entries():
    for name, n in [("fastvgs_coco", 8), ("fastvgs_places", 8), ("fastvgs_plus_coco", 12)]:
        spec = get_spec(name)
        assert (spec.family, spec.n_layers, spec.n_encoder_layers, spec.n_conv) == \
            ("fastvgs", n, 12, 7)
        assert spec.frame_period_s == pytest.approx(0.02) and spec.has_conv_layers
        assert REGISTRY[f"{name}_random"].random
    for name, n in [("avhubert_base_lrs3", 12), ("avhubert_base_lrs3_vc2", 12),
                    ("avhubert_large_lrs3_vc2", 24)]:
        spec = get_spec(name)
        assert (spec.family, spec.n_layers, spec.n_conv, spec.pre_ln) == ("avhubert", n, 0, True)
        assert spec.frame_period_s == pytest.approx(0.04) and not spec.has_conv_layers
        assert f"{name}_random" in REGISTRY


def test_random_twins_differ_from_wav2vec2_of_the_same_config():
    fv, w2v = get_spec("fastvgs_plus_coco_random"), get_spec("wav2vec_base_random")
    assert random_fingerprint(fv.hf_config(), 0, family=fv.family) != \
        random_fingerprint(w2v.hf_config(), 0, family=w2v.family)


def test_fastvgs_key_mapping_is_complete(tmp_path):
    bundle = torch.load(FIX / "fastvgs_tiny" / "best_bundle.pth", weights_only=False)
    params, skipped = fastvgs.audio_state_dict(bundle, tmp_path)
    audio = {k for k in bundle["dual_encoder"] if k.startswith("module.conv1_trm1_trm3.")}
    assert {f"module.conv1_trm1_trm3.{k}" for k in params} | set(skipped) >= audio
    assert any(k.startswith("module.visual_cls_token") for k in skipped)
    assert any(".quantizer." in k for k in skipped) and "cls_token" in params
    module = fastvgs.build(fastvgs.spec_from_args(fastvgs.read_args(FIX / "fastvgs_tiny"),
                                                  name="x", entry=None))
    assert len(params) == len(module.state_dict())  # one checkpoint tensor per parameter
    for change, match in [("drop", "missing parameters"), ("add", "unknown parameters")]:
        d = tmp_path / change
        shutil.copytree(FIX / "fastvgs_tiny", d)
        b = torch.load(d / "best_bundle.pth", weights_only=False)
        if change == "drop":
            del b["dual_encoder"]["module.conv1_trm1_trm3.cls_token"]
        else:
            b["dual_encoder"]["module.conv1_trm1_trm3.extra_head.weight"] = torch.zeros(2)
        torch.save(b, d / "best_bundle.pth")
        with pytest.raises(LwaError, match=match):
            load_model("fastvgs_tiny", d)


def test_avhubert_key_mapping_is_complete(tmp_path):
    ckpt = read_checkpoint_file(CASES["avhubert_tiny"][0])
    assert avhubert.is_checkpoint(ckpt)
    params = avhubert.audio_state_dict(ckpt["model"], tmp_path)
    assert not any(k.startswith(("feature_extractor_video.", "final_proj")) for k in params)
    module = avhubert.build(avhubert.spec_from_checkpoint(ckpt, name="x", path=tmp_path))
    assert len(params) == len(module.state_dict())
    ckpt["model"]["encoder.layers.0.extra.weight"] = torch.zeros(2)
    torch.save(dict(ckpt), tmp_path / "bad.pt")  # plain-dict cfg: omegaconf is not needed
    with pytest.raises(LwaError, match="unknown parameters encoder.layers.0.extra.weight"):
        load_model("avhubert_tiny", tmp_path / "bad.pt")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_args_pkl_is_refused(tmp_path):
    d = tmp_path / "evil"
    shutil.copytree(FIX / "fastvgs_tiny", d)
    with open(d / "args.pkl", "wb") as fh:
        pickle.dump(_Evil(), fh)
    with pytest.raises(LwaError, match=r"refusing to load .*system"):
        load_model("fastvgs_tiny", d)
    with pytest.raises(LwaError, match=r"refusing to load .*system"):
        load_model("fastvgs_coco_random", d)


def test_registry_name_checks_the_architecture():
    with pytest.raises(LwaError, match="is not a fastvgs_coco"):
        load_model("fastvgs_coco", CASES["fastvgs_tiny"][0])
    with pytest.raises(LwaError, match="is not a avhubert_base_lrs3"):
        load_model("avhubert_base_lrs3", CASES["avhubert_tiny"][0])


@pytest.mark.parametrize("n", [401, 1234, 8123, 16001, 16161])
def test_front_end_matches_python_speech_features(n):
    psf = pytest.importorskip("python_speech_features",
                              reason="python_speech_features is a test-only dependency")
    wave = 0.1 * np.random.default_rng(n).standard_normal(n)
    ref = psf.logfbank(wave, samplerate=16000)
    got = log_fbank(wave, 16000)
    assert got.shape == ref.shape == (frame_count(n, 16000), 26)
    assert ref.shape[0] % 4 != 0 or n == 16161  # most lengths leave a partial stack
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    stacked = stack_frames(got, 4)
    pad = -ref.shape[0] % 4
    ref_stacked = np.concatenate([ref, np.zeros((pad, 26))]).reshape(-1, 104)
    np.testing.assert_array_equal(stacked, ref_stacked)
    assert stacked.shape[0] == get_spec("avhubert_base_lrs3").n_frames(n)


def test_segment_pooling_at_40_ms():
    lm = load_model("avhubert_tiny", CASES["avhubert_tiny"][0])
    wave = expected("avhubert_tiny")["wave"]
    t1 = extract_layers(lm, wave, ["T1"])["T1"]
    starts, ends = np.array([0.0, 0.10, 0.3]), np.array([0.09, 0.30, 0.5077])
    b = segment_bounds(starts, ends, len(t1), trim=False, stride=lm.spec.frame_period_s)
    assert b.start.tolist() == [0, 2, 7] and b.end.tolist() == [3, 8, 13]
    pooled = mean_pool(t1, b.start, b.end)
    np.testing.assert_allclose(pooled[1], t1[2:8].mean(axis=0), atol=1e-6)


def test_cca_mel_pairs_every_4th_mel_frame_with_40_ms_frames():
    wave = expected("avhubert_tiny")["wave"]
    mel = log_mel(wave)  # 10 ms frames, 1 + n // 160
    t_frames = get_spec("avhubert_base_lrs3").n_frames(wave.size)
    paired = subsample_frames(mel, 4)
    assert paired.shape[0] == t_frames == 13
    np.testing.assert_array_equal(paired[3], mel[12])
    assert subsample_frames(mel, 2).shape[0] == get_spec("wav2vec_base").n_frames(wave.size) + 1


def test_extract_on_the_demo_corpus(tmp_path):
    from lwa_cli.data.audio import load_audio
    from lwa_cli.demo.corpus import write_demo_corpus
    from lwa_cli.pipeline.extract import extract_features
    from lwa_cli.pipeline.inputs import open_features
    from lwa_cli.pipeline.prepare import prepare_alignments
    from lwa_cli.pipeline.sample import sample_frames, sample_words
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.samples import load_sample

    corpus = write_demo_corpus(tmp_path / "corpus")
    ws = Workspace(tmp_path / "ws")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=2, seed=1)
    sample_words(ws, "dev-clean", "1", words=6, seed=1)
    for name in ("avhubert_tiny", "fastvgs_plus_tiny"):
        path = CASES[name][0]
        lm = load_model(name, path)
        frame = extract_features(ws, model=name, checkpoint=path, split="dev-clean",
                                 sample="1", span="frame", loaded=lm)
        assert frame.layers == [f"T{i}" for i in range(lm.n_layers + 1)]
        word = extract_features(ws, model=name, checkpoint=path, split="dev-clean",
                                sample="1", span="word", layers=["T1"], loaded=lm)
        assert word.status == "extracted"
        smp = load_sample(ws, "dev-clean", "word", "1")
        with open_features(ws, name, "dev-clean", "1", "word") as f:
            unit = int(f.units()[0])
            mine = np.flatnonzero(smp.tokens.utt_index == unit)
            out = extract_layers(lm, load_audio(smp.audio_paths[unit]), ["T1"])["T1"]
            b = segment_bounds(smp.tokens.start[mine], smp.tokens.end[mine], len(out),
                               trim=False, stride=lm.spec.frame_period_s)
            want = mean_pool(out, b.start[b.kept], b.end[b.kept])
            np.testing.assert_allclose(f.features("T1")[: len(want)], want, atol=1e-5)
