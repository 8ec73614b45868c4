"""The Whisper encoder: HF directories and openai-whisper ``.pt`` files against their oracles.

Oracles: transformers' own `WhisperEncoder` forward (``output_hidden_states=True``) and the
openai-whisper package's `AudioEncoder` on the same tiny seeded weights. Lengths 1 s, 29.99 s,
30 s, 30.5 s and 65 s check the frame counts and the joins of the 30 s windows.
"""

from __future__ import annotations

import importlib
import os
import pickle
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from lwa_cli.demo.models import tiny_whisper, write_whisper_dir
from lwa_cli.errors import LwaError
from lwa_cli.features.conv_align import align_local
from lwa_cli.features.pooling import mean_pool, segment_bounds
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.loading import load_model
from lwa_cli.models.registry import REGISTRY
from lwa_cli.models.whisper import LOCAL_TEN_MS, frames_kept
from lwa_cli.models.whisper_pt import write_checkpoint

SR = 16000
ATOL = 1e-5


def wave_of(seconds: float, seed: int = 0) -> np.ndarray:
    """A seeded noise + tone waveform of ``seconds`` (rounded to whole samples)."""
    n = int(round(seconds * SR))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    return (0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def hf80(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A tiny WhisperForConditionalGeneration (80 mel bins, 3 layers) saved as a directory."""
    model = tiny_whisper(11, n_layers=3)
    path = write_whisper_dir(tmp_path_factory.mktemp("w80") / "whisper80", model)
    return path, model


def hf_reference(encoder: torch.nn.Module, wave: np.ndarray, n_mels: int) -> tuple:
    """transformers' hidden states and last hidden state of a <= 30 s waveform."""
    from transformers import WhisperFeatureExtractor

    fe = WhisperFeatureExtractor(feature_size=n_mels)
    feats = torch.from_numpy(fe(wave, sampling_rate=SR, return_tensors="np")["input_features"])
    with torch.inference_mode():
        out = encoder(feats, output_hidden_states=True)
        c1 = torch.nn.functional.gelu(encoder.conv1(feats))
        c2 = torch.nn.functional.gelu(encoder.conv2(c1))
    return feats, out.hidden_states, out.last_hidden_state, c1[0].T, c2[0].T


@pytest.mark.parametrize("n_mels,conditional", [(80, True), (128, False)])
def test_every_layer_equals_transformers_forward(tmp_path, n_mels, conditional):
    model = tiny_whisper(5, n_mels=n_mels, n_layers=2, conditional=conditional)
    path = write_whisper_dir(tmp_path / f"w{n_mels}", model)
    loaded = load_model("my_whisper", path)
    assert loaded.spec.family == "whisper" and loaded.spec.n_mels == n_mels
    assert (loaded.n_conv, loaded.n_layers, loaded.spec.frame_rate_hz) == (2, 2, 50.0)
    wave = wave_of(1.0)
    out = extract_layers(loaded, wave, ["all"])
    assert list(out) == ["C1", "C2", "T0", "T1", "T2"]
    encoder = model.get_encoder() if conditional else model.encoder
    _, hidden, last, c1, c2 = hf_reference(encoder, wave, n_mels)
    assert out["C1"].shape == (100, 32) and out["T2"].shape == (50, 32)
    np.testing.assert_allclose(out["C1"], c1[:100].numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(out["C2"], c2[:50].numpy(), atol=ATOL, rtol=0)
    for i in range(2):  # hidden_states[i] is the input of layer i+1: T0, T1
        np.testing.assert_allclose(out[f"T{i}"], hidden[i][0, :50].numpy(), atol=ATOL, rtol=0)
    # TL is the raw last layer: transformers' last hidden state is its final layer norm.
    normed = encoder.layer_norm(torch.from_numpy(out["T2"])).detach().numpy()
    np.testing.assert_allclose(normed, last[0, :50].numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(normed, hidden[2][0, :50].numpy(), atol=ATOL, rtol=0)
    assert np.abs(out["T2"] - normed).max() > 0.1  # the rule matters
    # Only the encoder is in memory; the decoder is named in a note.
    names = [n for n, _ in loaded.module.named_parameters()]
    assert names and all(n.startswith("encoder.") for n in names)
    prefix = "model.decoder" if conditional else "decoder"
    assert len(loaded.module.lwa_notes) == 1 and f"{prefix} (" in loaded.module.lwa_notes[0]


def test_registry_whisper_entries_and_arch_check(hf80):
    expected = {"whisper_tiny": (384, 4, 80), "whisper_base": (512, 6, 80),
                "whisper_small": (768, 12, 80), "whisper_medium": (1024, 24, 80),
                "whisper_large_v2": (1280, 32, 80), "whisper_large_v3": (1280, 32, 128),
                "whisper_large_v3_turbo": (1280, 32, 128)}
    for name, (width, layers, mels) in expected.items():
        for n in (name, f"{name}_random"):
            spec = REGISTRY[n]
            assert (spec.hidden_size, spec.n_layers, spec.n_mels, spec.n_conv) == \
                (width, layers, mels, 2)
            assert spec.ffn_dim == 4 * width and spec.n_frames(16000) == 50
    assert "Whisper small" in REGISTRY["whisper_small"].description
    with pytest.raises(LwaError, match="is not a whisper_tiny"):
        load_model("whisper_tiny", hf80[0])
    rand = load_model("whisper_tiny_random", None, seed=3)
    out = extract_layers(rand, wave_of(0.5), ["C1", "T4"])
    assert out["C1"].shape == (50, 384) and out["T4"].shape == (25, 384)
    again = load_model("whisper_tiny_random", None, seed=3)
    assert again.fingerprint == rand.fingerprint
    np.testing.assert_array_equal(extract_layers(again, wave_of(0.5), ["T4"])["T4"], out["T4"])


def openai_whisper():
    """The openai-whisper package (the `dev` extra), the oracle of the `.pt` format."""
    whisper = pytest.importorskip("whisper", reason="openai-whisper (the dev extra) is needed "
                                  "as the oracle: pip install --no-deps openai-whisper "
                                  "more-itertools tiktoken")
    importlib.import_module("whisper.audio")
    importlib.import_module("whisper.model")
    return whisper


def _openai_model(seed: int, n_mels: int = 80):
    """openai-whisper's own `Whisper` with tiny dims and seeded weights."""
    whisper_model = openai_whisper().model
    ModelDimensions, Whisper = whisper_model.ModelDimensions, whisper_model.Whisper  # noqa: N806

    dims = ModelDimensions(n_mels=n_mels, n_audio_ctx=1500, n_audio_state=32, n_audio_head=4,
                           n_audio_layer=2, n_vocab=64, n_text_ctx=16, n_text_state=32,
                           n_text_head=4, n_text_layer=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Whisper(dims)
        for p in model.parameters():  # openai inits LayerNorms to 1/0: perturb them all
            p.data.add_(0.05 * torch.randn_like(p))
    return model.eval(), dims


def test_openai_pt_equals_openai_audio_encoder(tmp_path):
    whisper = openai_whisper()
    model, dims = _openai_model(2)
    path = tmp_path / "tiny.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    loaded = load_model("oa", path)
    assert loaded.source == "openai-whisper" and loaded.n_layers == 2
    assert "decoder (" in loaded.module.lwa_notes[0]
    wave = wave_of(2.0, seed=4)
    out = extract_layers(loaded, wave, ["all"])
    enc = model.encoder
    feats = loaded.module.window_features(wave)
    # The input convention is openai's: pad to 30 s, then its log-mel.
    oa_mel = whisper.audio.log_mel_spectrogram(whisper.audio.pad_or_trim(torch.from_numpy(wave)))
    np.testing.assert_allclose(feats[0].numpy(), oa_mel.numpy(), atol=1e-6, rtol=0)
    got: dict[str, np.ndarray] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:  # hooks must return None
        got[name] = tensor[0].numpy().copy()

    hooks = [enc.blocks[0].register_forward_pre_hook(lambda _m, args: keep("T0", args[0]))]
    for i, block in enumerate(enc.blocks):
        hooks.append(block.register_forward_hook(
            lambda _m, _a, o, i=i: keep(f"T{i + 1}", o)))
    with torch.inference_mode():
        final = enc(feats)
        c1 = torch.nn.functional.gelu(enc.conv1(feats))
        got["C1"], got["C2"] = c1[0].T.numpy(), torch.nn.functional.gelu(enc.conv2(c1))[0].T.numpy()
    for h in hooks:
        h.remove()
    for name in out:
        n = out[name].shape[0]
        assert n == (100 * 2 if name == "C1" else 50 * 2)
        np.testing.assert_allclose(out[name], got[name][:n], atol=ATOL, rtol=0, err_msg=name)
    np.testing.assert_allclose(enc.ln_post(torch.from_numpy(out["T2"])).detach().numpy(),
                               final[0, :100].numpy(), atol=ATOL, rtol=0)


def test_pt_path_equals_hf_path(tmp_path, hf80):
    path, model = hf80
    hf = load_model("w", path)
    decoder = {"decoder.token_embedding.weight": torch.zeros(64, 32)}
    pt = write_checkpoint(hf.module, tmp_path / "w.pt", extra=decoder)
    from_pt = load_model("w", pt)
    assert from_pt.spec == hf.spec and from_pt.fingerprint != hf.fingerprint
    assert from_pt.module.lwa_notes == ["w.pt: the encoder was loaded; not loaded (ignored): "
                                        "decoder (1 tensors)"]
    wave = wave_of(1.3, seed=2)
    a, b = extract_layers(hf, wave, ["all"]), extract_layers(from_pt, wave, ["all"])
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_written_pt_has_openai_whisper_names(tmp_path, hf80):
    # The written names are openai-whisper's: its AudioEncoder takes them strictly.
    audio_encoder = openai_whisper().model.AudioEncoder
    pt = write_checkpoint(load_model("w", hf80[0]).module, tmp_path / "w.pt")
    raw = torch.load(pt, weights_only=True)
    oa = audio_encoder(80, 1500, 32, 4, 3)
    enc_state = {k[len("encoder."):]: v for k, v in raw["model_state_dict"].items()
                 if k.startswith("encoder.")}
    oa.load_state_dict(enc_state, strict=True)
    assert raw["dims"]["n_audio_layer"] == 3 and raw["dims"]["n_mels"] == 80


@pytest.mark.parametrize("seconds,windows", [(1.0, 1), (29.99, 1), (30.0, 1), (30.5, 2),
                                             (65.0, 3)])
def test_frame_counts_and_window_joins(hf80, seconds, windows):
    loaded = load_model("w", hf80[0])
    wave = wave_of(seconds, seed=7)
    n = wave.size
    before = dict(loaded.module.lwa_stats)
    out = extract_layers(loaded, wave, ["C1", "C2", "T3"])
    assert out["C1"].shape[0] == frames_kept(n, "C1") == -(-n // 160)
    assert out["C2"].shape[0] == out["T3"].shape[0] == frames_kept(n) == -(-n // 320)
    assert out["T3"].shape[0] == loaded.spec.n_frames(n)
    assert {"1.0": 50, "29.99": 1500, "30.0": 1500, "30.5": 1525, "65.0": 3250}[str(seconds)] \
        == out["T3"].shape[0]
    stats = loaded.module.lwa_stats
    assert stats["windows"] - before["windows"] == windows
    assert stats["long_utterances"] - before["long_utterances"] == int(windows > 1)
    # Each window is encoded alone: the joined frames are the windows' own frames.
    for k in range(windows):
        alone = extract_layers(loaded, wave[k * 480000:(k + 1) * 480000], ["C1", "T3"])
        np.testing.assert_array_equal(out["T3"][k * 1500:k * 1500 + alone["T3"].shape[0]],
                                      alone["T3"])
        np.testing.assert_array_equal(out["C1"][k * 3000:k * 3000 + alone["C1"].shape[0]],
                                      alone["C1"])


def test_pooling_of_a_word_across_a_window_boundary(hf80):
    loaded = load_model("w", hf80[0])
    wave = wave_of(30.5, seed=9)
    t = extract_layers(loaded, wave, ["T2"])["T2"]
    first = extract_layers(loaded, wave[:480000], ["T2"])["T2"]
    second = extract_layers(loaded, wave[480000:], ["T2"])["T2"]
    bounds = segment_bounds([29.9], [30.2], t.shape[0], trim=False, stride=0.02)
    assert (bounds.start[0], bounds.end[0], bounds.n_clipped) == (1495, 1510, 0)
    pooled = mean_pool(t, bounds.start, bounds.end)
    expected = np.concatenate([first[1495:1500], second[:10]]).mean(axis=0, dtype=np.float64)
    np.testing.assert_allclose(pooled[0], expected, atol=1e-6)
    # A word that ends at the utterance's end keeps its last (partial-window) frame.
    end = segment_bounds([30.3], [30.5], t.shape[0], trim=False, stride=0.02)
    assert (end.start[0], end.end[0], end.status[0]) == (1515, 1525, 0)


def test_local_rep_pairs_c1_at_10ms_and_c2_at_20ms():
    rng = np.random.default_rng(0)
    n = 16000 + 100  # 1.00625 s: C1 101 frames (ceil), the log-mel 1 + n // 160 = 101
    mel = rng.standard_normal((1 + n // 160, 80))
    c1 = rng.standard_normal((-(-n // 160), 8)).astype(np.float32)
    c2 = rng.standard_normal((-(-n // 320), 8)).astype(np.float32)
    feats, paired = align_local("C1", c1, mel, LOCAL_TEN_MS)
    np.testing.assert_array_equal(feats, c1)
    np.testing.assert_array_equal(paired, mel[:101])
    feats, paired = align_local("C2", c2, mel, LOCAL_TEN_MS)
    assert feats.shape[0] == paired.shape[0] == 51
    np.testing.assert_array_equal(paired, mel[::2][:51].astype(np.float32))
    # The wav2vec 2.0 table would box-average C1 by 79 frames: not Whisper's pairing.
    assert align_local("C1", c1, mel)[0].shape[0] == 1


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_openai_pt_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"dims": {"n_mels": 80, "payload": _Evil(marker)}, "model_state_dict": {}}, path,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(LwaError, match="refusing to load checkpoint .*could run code"):
        load_model("evil", path)
    assert not marker.exists()


@pytest.mark.parametrize("seconds", [0.01, 1.0, 29.99, 30.0])
def test_window_features_equal_the_extractor_padded_to_30s(hf80, seconds):
    from transformers import WhisperFeatureExtractor

    loaded = load_model("w", hf80[0])
    wave = wave_of(seconds, seed=3)
    full = WhisperFeatureExtractor(feature_size=80)(wave, sampling_rate=SR,
                                                    return_tensors="np")["input_features"]
    mine = loaded.module.window_features(wave).numpy()
    assert mine.shape == full.shape == (1, 80, 3000)
    np.testing.assert_allclose(mine, full, atol=1e-6, rtol=0)
    assert "zero-padded to 30 s" in loaded.module.lwa_input_rule


def test_sharded_safetensors_and_bin_directories_load_the_same_encoder(tmp_path, hf80):
    import shutil

    path, model = hf80
    sharded = tmp_path / "sharded"
    model.save_pretrained(str(sharded), max_shard_size="100KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    binary = tmp_path / "bin"
    binary.mkdir()
    shutil.copy(path / "config.json", binary / "config.json")
    torch.save(model.state_dict(), binary / "pytorch_model.bin")
    wave = wave_of(0.7, seed=5)
    ref = extract_layers(load_model("w", path), wave, ["all"])
    for other in (sharded, binary):
        loaded = load_model("w", other)
        assert "model.decoder (" in loaded.module.lwa_notes[0]
        got = extract_layers(loaded, wave, ["all"])
        for name in ref:
            np.testing.assert_array_equal(got[name], ref[name])


def test_random_twin_of_a_whisper_checkpoint_and_incomplete_weights(tmp_path, hf80):
    path, model = hf80
    trained = extract_layers(load_model("w", path), wave_of(0.5), ["T3"])["T3"]
    rand = load_model("w_random", path, seed=1)
    assert rand.source == "random" and rand.spec.n_layers == 3 and rand.spec.n_mels == 80
    out = extract_layers(rand, wave_of(0.5), ["T3"])["T3"]
    assert out.shape == trained.shape and np.abs(out - trained).max() > 0.1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((path / "config.json").read_text())
    state = {k: v for k, v in model.state_dict().items() if "encoder.layers.2." not in k}
    torch.save(state, broken / "pytorch_model.bin")
    with pytest.raises(LwaError, match="missing, unexpected or mis-shaped: layers.2"):
        load_model("w", broken)


def test_whisper_layer_periods_for_segmentation():
    from dataclasses import asdict as as_dict

    from lwa_cli.pipeline.segment import layer_frame_period

    spec = as_dict(REGISTRY["whisper_small"])
    assert layer_frame_period(spec, "C1") == pytest.approx(0.01)
    assert layer_frame_period(spec, "C2") == layer_frame_period(spec, "T12") == \
        pytest.approx(0.02)
    assert REGISTRY["whisper_small"].receptive_field == 1
    assert REGISTRY["whisper_small"].n_frames(1) == 1
    assert layer_frame_period(as_dict(REGISTRY["wav2vec_base"]), "C1") == pytest.approx(5 / SR)
