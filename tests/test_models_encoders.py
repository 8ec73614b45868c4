"""Issue 18 encoder families on tiny seeded checkpoints built here (`save_pretrained`).

Every layer lwa captures equals transformers' own forward with ``output_hidden_states=True``
(1e-5), with the last-layer rule: TL is the raw output of the last layer, before an encoder's
final layer norm (pre-LN UniSpeech-SAT, conformers), so ``layer_norm(TL)`` is transformers'
``last_hidden_state``. Also: w2v-BERT 2.0 frame counts, the generic AutoModel path against
the family path and transformers, its refusals, and CTC heads left out and named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as tf

from lwa_cli.errors import LwaError
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.check import describe_checkpoint
from lwa_cli.models.formats import hf_generic
from lwa_cli.models.formats.base import trained
from lwa_cli.models.loading import load_model
from lwa_cli.models.registry import REGISTRY

TOL = 1e-5
CONV = {"conv_dim": [16, 16], "conv_kernel": [10, 4], "conv_stride": [5, 4]}  # 20 samples
SMALL = {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
         "intermediate_size": 48, "layerdrop": 0.0, "num_conv_pos_embeddings": 8,
         "num_conv_pos_embedding_groups": 2, **CONV}


def _wave(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _save(model: torch.nn.Module, path: Path, extractor=None) -> Path:
    model.save_pretrained(path)
    if extractor is not None:
        extractor.save_pretrained(path)
    return path


def _build(config_cls, model_cls, seed=0, **kw):
    """A seeded model whose layer norms are not the identity (so a missed norm shows)."""
    torch.manual_seed(seed)
    model = model_cls(config_cls(**kw)).eval().requires_grad_(False)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.LayerNorm) and mod.weight is not None:
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0.0, 0.3)
    return model


def _oracle(model, **inputs):
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    return [h[0].numpy() for h in out.hidden_states], out.last_hidden_state[0]


def _max_diffs(got: dict[str, np.ndarray], hidden: list[np.ndarray], n_last: int,
               padded: int = 0) -> list[float]:
    """|lwa - transformers| per layer T0..T(n_last-1); transformers has ``padded`` more
    frames (w2v-BERT's padding frame), otherwise the shapes are equal."""
    for i in range(n_last):
        assert got[f"T{i}"].shape[0] + padded == hidden[i].shape[0]
        assert got[f"T{i}"].shape[1] == hidden[i].shape[1]
    return [float(np.abs(got[f"T{i}"] - hidden[i][: got[f"T{i}"].shape[0]]).max())
            for i in range(n_last)]


FAMILIES = {  # name -> (config class, model class, extra config, pre-LN)
    "unispeech_sat_post": (tf.UniSpeechSatConfig, tf.UniSpeechSatModel,
                           {"do_stable_layer_norm": False, "feat_extract_norm": "group"}, False),
    "unispeech_sat_pre": (tf.UniSpeechSatConfig, tf.UniSpeechSatModel,
                          {"do_stable_layer_norm": True, "feat_extract_norm": "layer",
                           "conv_bias": True}, True),
    "conformer_relpos": (tf.Wav2Vec2ConformerConfig, tf.Wav2Vec2ConformerModel,
                         {"position_embeddings_type": "relative",
                          "conv_depthwise_kernel_size": 5, "feat_extract_norm": "layer",
                          "do_stable_layer_norm": True}, True),
    "conformer_rope": (tf.Wav2Vec2ConformerConfig, tf.Wav2Vec2ConformerModel,
                       {"position_embeddings_type": "rotary", "conv_depthwise_kernel_size": 5,
                        "feat_extract_norm": "layer", "do_stable_layer_norm": True}, True),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_layers_equal_transformers(tmp_path, family):
    config_cls, model_cls, extra, pre_ln = FAMILIES[family]
    model = _build(config_cls, model_cls, **SMALL, **extra)
    lm = load_model(f"tiny_{family}", _save(model, tmp_path / family))
    assert (lm.n_conv, lm.n_layers, lm.spec.pre_ln) == (2, 3, pre_ln)
    wave = _wave(4000)
    got = extract_layers(lm, wave, ["all"])
    hidden, last = _oracle(model, input_values=torch.from_numpy(wave)[None])
    assert max(_max_diffs(got, hidden, 3)) < TOL
    assert got["T0"].shape[0] == lm.spec.n_frames(wave.size) == hidden[0].shape[0]
    for i in (1, 2):  # conv blocks: the feature extractor's own outputs
        assert got[f"C{i}"].shape == (lm.spec.n_frames(wave.size) if i == 2 else
                                      (wave.size - 10) // 5 + 1, 16)
    tl = torch.from_numpy(got["T3"])
    if pre_ln:  # TL before the final layer norm; the norm of it is the model's output
        normed = model.encoder.layer_norm(tl[None])[0]
        assert float((normed - last).abs().max()) < TOL
        assert float((tl - last).abs().max()) > 1e-3
    else:
        assert float((tl - last).abs().max()) < TOL
    random = load_model(f"tiny_{family}_random", tmp_path / family, seed=3)
    assert random.spec.arch_differences(lm.spec) == []
    assert type(random.module) is type(lm.module)


def _w2v_bert(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    model = _build(tf.Wav2Vec2BertConfig, tf.Wav2Vec2BertModel, hidden_size=32,
                   num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
                   layerdrop=0.0, conv_depthwise_kernel_size=5,
                   left_max_position_embeddings=8, right_max_position_embeddings=2)
    return model, _save(model, tmp_path / "w2vbert", tf.SeamlessM4TFeatureExtractor())


@pytest.mark.parametrize("n", [16000, 16160, 560, 719, 33333])
def test_w2v_bert_layers_and_frame_count(tmp_path, n):
    model, path = _w2v_bert(tmp_path)
    lm = load_model("tiny_w2v_bert", path)
    assert (lm.spec.family, lm.n_conv, lm.n_layers, lm.spec.frame_period_s) == (
        "w2v_bert", 0, 3, 0.02)
    wave = _wave(n, seed=n)
    got = extract_layers(lm, wave, ["all"])
    fbank = 1 + (n - 400) // 160
    assert got["T0"].shape == (fbank // 2, 32) == (lm.spec.n_frames(n), 32)
    # transformers on the extractor's default output (an odd fbank count gets a padding
    # frame, masked): the frames lwa keeps are identical.
    inputs = tf.SeamlessM4TFeatureExtractor()(wave, sampling_rate=16000, return_tensors="pt")
    assert inputs["input_features"].shape[1] == -(-fbank // 2)
    hidden, last = _oracle(model, **inputs)
    assert max(_max_diffs(got, hidden, 4, padded=fbank % 2)) < TOL
    # T0 is the feature projection, TL the last conformer layer (no final norm)
    proj = model.feature_projection(tf.SeamlessM4TFeatureExtractor()(
        wave, sampling_rate=16000, return_tensors="pt")["input_features"])[0][0]
    assert float(np.abs(proj.detach().numpy()[: fbank // 2] - got["T0"]).max()) < TOL
    assert float(np.abs(last.numpy()[: fbank // 2] - got["T3"]).max()) < TOL


def test_w2v_bert_frame_arithmetic_and_entry():
    spec = REGISTRY["w2v_bert_2"]
    assert (spec.n_conv, spec.n_layers, spec.hidden_size, spec.frame_rate_hz) == (0, 24, 1024, 50)
    assert [spec.n_frames(n) for n in (399, 400, 559, 560, 16000, 16160)] == [0, 0, 0, 1, 49, 49]
    assert spec.receptive_field == 560
    config = spec.hf_config()
    assert (config.feature_projection_input_dim, config.position_embeddings_type) == (
        160, "relative_key")
    assert REGISTRY["w2v_bert_2_random"].arch_differences(spec) == []


def test_w2v_bert_too_short_and_random_twin(tmp_path):
    _, path = _w2v_bert(tmp_path)
    lm = load_model("tiny_w2v_bert", path)
    with pytest.raises(LwaError, match="560 samples"):
        extract_layers(lm, _wave(559), ["T1"])
    rnd = load_model("tiny_w2v_bert_random", path, seed=1)
    assert rnd.spec.arch_differences(lm.spec) == [] and rnd.spec.random
    assert extract_layers(rnd, _wave(8000), ["T3"])["T3"].shape == (24, 32)


def _hubert_dir(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    model = _build(tf.HubertConfig, tf.HubertModel, **SMALL)
    fe = tf.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=False)
    return model, _save(model, tmp_path / "hubert", fe)


def test_generic_path_equals_the_family_path(tmp_path):
    _, path = _hubert_dir(tmp_path)
    family = load_model("tiny_hubert", path)
    module, spec = hf_generic.measured_spec(path, "tiny_hubert_generic")
    assert (spec.family, spec.n_layers, spec.n_conv, spec.hidden_size) == ("generic", 3, 0, 32)
    extra = dict(spec.hf_extra)
    assert (extra["stride_samples"], extra["input"], extra["model_type"]) == (
        20, "input_values", "hubert")
    assert spec.frame_period_s == 20 / 16000
    generic = trained(spec, module, path, "x", "generic", torch.device("cpu"))
    wave = _wave(3001)
    a = extract_layers(family, wave, ["T"])
    b = extract_layers(generic, wave, ["T"])
    assert list(b) == [f"T{i}" for i in range(4)]
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < TOL
    for n in (3001, 16000, 16019, 20000):  # the estimate is within a frame
        assert abs(spec.n_frames(n) - family.spec.n_frames(n)) <= 1


def test_generic_path_on_a_model_type_without_family(tmp_path):
    config = tf.SEWConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=48, squeeze_factor=2, num_conv_pos_embeddings=8,
                          num_conv_pos_embedding_groups=2, layerdrop=0.0, **CONV)
    torch.manual_seed(0)
    model = tf.SEWModel(config).eval()
    path = _save(model, tmp_path / "sew",
                 tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False))
    lm = load_model("my_sew", path)
    assert (lm.spec.family, lm.source, lm.n_conv, lm.n_layers) == ("generic", "generic", 0, 2)
    assert any("generic transformers path" in note for note in lm.notes)
    wave = _wave(5000)
    got = extract_layers(lm, wave, ["all"])
    x = torch.from_numpy(wave)[None]
    x = (x - x.mean()) / torch.sqrt(x.var() + 1e-7)  # the extractor's do_normalize
    hidden, _ = _oracle(model, input_values=x)
    assert max(_max_diffs(got, hidden, 3)) < TOL
    with pytest.raises(LwaError, match="generic path"):
        load_model("hubert_base", path)  # a registry name is not the generic architecture
    with pytest.raises(LwaError, match="family module"):
        load_model("my_sew_random", path)
    info = describe_checkpoint(path)
    assert (info["family"], info["layers"], info["frame_period_ms"]) == (
        "generic", "T0-T2 (or T, all); the model has no conv layers", 2.5)  # 20 x squeeze 2
    assert "Wav2Vec2FeatureExtractor" in info["input"]


def test_generic_path_refuses_a_padded_input_convention(tmp_path):
    config = tf.WhisperConfig(d_model=16, encoder_layers=1, decoder_layers=1,
                              encoder_attention_heads=2, decoder_attention_heads=2,
                              encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80,
                              vocab_size=64, max_target_positions=16, pad_token_id=0,
                              bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    torch.manual_seed(0)
    path = _save(tf.WhisperModel(config), tmp_path / "whisper", tf.WhisperFeatureExtractor())
    with pytest.raises(LwaError, match="not a constant frame stride"):
        hf_generic.measured_spec(path, "padded")


def test_generic_path_refuses_a_model_without_speech_input(tmp_path):
    torch.manual_seed(0)
    bert = tf.BertModel(tf.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=16, vocab_size=32))
    path = _save(bert, tmp_path / "bert", tf.Wav2Vec2FeatureExtractor())
    with pytest.raises(LwaError, match="takes 'input_ids'"):
        load_model("my_bert", path)


@pytest.mark.parametrize("head", ["Wav2Vec2ForCTC", "HubertForCTC"])
def test_ctc_checkpoints_load_the_encoder_and_name_the_head(tmp_path, head):
    config_cls = tf.Wav2Vec2Config if head.startswith("Wav2Vec2") else tf.HubertConfig
    torch.manual_seed(0)
    model = getattr(tf, head)(config_cls(**SMALL, vocab_size=12)).eval()
    lm = load_model("tiny_ctc", _save(model, tmp_path / head))
    assert len(lm.notes) == 1
    assert head in lm.notes[0] and "lm_head" in lm.notes[0]
    wave = _wave(4000)
    got = extract_layers(lm, wave, ["T"])
    with torch.no_grad():
        hidden = model(torch.from_numpy(wave)[None], output_hidden_states=True).hidden_states
    assert max(float(np.abs(got[f"T{i}"] - hidden[i][0].numpy()).max()) for i in range(4)) < TOL
    info = describe_checkpoint(tmp_path / head)
    assert info["notes"] and head in info["notes"][0]


def test_new_registry_entries_follow_the_published_configs():
    shapes = {n: (REGISTRY[n].n_layers, REGISTRY[n].hidden_size, REGISTRY[n].family)
              for n in ("mms_300m", "mms_1b", "xls_r_1b", "xls_r_2b", "mhubert_147",
                        "unispeech_sat_base", "unispeech_sat_large",
                        "wav2vec2_conformer_rope_large")}
    assert shapes == {
        "mms_300m": (24, 1024, "wav2vec2"), "mms_1b": (48, 1280, "wav2vec2"),
        "xls_r_1b": (48, 1280, "wav2vec2"), "xls_r_2b": (48, 1920, "wav2vec2"),
        "mhubert_147": (12, 768, "hubert"), "unispeech_sat_base": (12, 768, "unispeech_sat"),
        "unispeech_sat_large": (24, 1024, "unispeech_sat"),
        "wav2vec2_conformer_rope_large": (24, 1024, "wav2vec2_conformer")}
    assert "CC-BY-NC" in REGISTRY["mms_1b"].description
    assert "MIT" in REGISTRY["w2v_bert_2"].description
    rope = REGISTRY["wav2vec2_conformer_rope_large"].hf_config()
    assert (rope.position_embeddings_type, type(rope).__name__) == (
        "rotary", "Wav2Vec2ConformerConfig")
    assert REGISTRY["w2v_bert_2"].n_frames(32000) == 99


@pytest.mark.parametrize("first", ["lwa_cli.models.hf_families", "lwa_cli.report.analyses",
                                   "lwa_cli.models.w2v_bert", "lwa_cli.models.formats"])
def test_modules_import_in_any_order(first):
    """The family table, the registry, w2v-BERT's module and the formats import in any order."""
    import subprocess
    import sys

    code = (f"import {first}; from lwa_cli.models.registry import REGISTRY; "
            "assert REGISTRY['w2v_bert_2'].n_frames(16000) == 49")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
