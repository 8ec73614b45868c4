"""Model registry and the shared --layer parser."""

from __future__ import annotations

import json

import pytest

from lwa_cli.errors import LwaUsageError
from lwa_cli.models.layers import is_conv, layer_index, layer_names, parse_layers
from lwa_cli.models.registry import (
    REGISTRY,
    STANDARD_CONV,
    get_spec,
    registry_rows,
)

PRETRAINED = [
    "wav2vec_base", "wav2vec_large", "hubert_base", "hubert_large", "wavlm_base",
    "wavlm_base_plus", "wavlm_large", "xlsr53", "xlsr_300m", "data2vec_base", "data2vec_large",
]
OTHER = ["fastvgs_coco", "fastvgs_places", "fastvgs_plus_coco", "avhubert_base_lrs3",
         "avhubert_base_lrs3_vc2", "avhubert_large_lrs3_vc2"]
ENCODERS = ["w2v_bert_2", "wav2vec2_conformer_relpos_large", "wav2vec2_conformer_rope_large",
            "unispeech_sat_base", "unispeech_sat_base_plus", "unispeech_sat_large", "mms_300m",
            "mms_1b", "xls_r_1b", "xls_r_2b", "mhubert_147"]  # issue 18
WHISPER = ["whisper_tiny", "whisper_base", "whisper_small", "whisper_medium", "whisper_large_v2",
           "whisper_large_v3", "whisper_large_v3_turbo"]


def test_registry_has_every_model_and_its_random_twin():
    every = PRETRAINED + OTHER + ENCODERS + WHISPER
    assert set(REGISTRY) == set(every) | {f"{n}_random" for n in every}
    for name in every:
        spec, twin = REGISTRY[name], REGISTRY[f"{name}_random"]
        assert not spec.random and twin.random
        assert spec.arch_differences(twin) == []
        assert twin.normalize_input == spec.normalize_input


@pytest.mark.parametrize("name", PRETRAINED)
def test_entries_share_the_standard_conv_stack_and_20ms_frames(name):
    spec = get_spec(name)
    assert spec.conv_layers == STANDARD_CONV
    assert spec.n_conv == 7
    assert spec.frame_rate_hz == 50.0
    assert spec.receptive_field == 400
    assert spec.n_frames(16000) == 49
    assert spec.n_frames(400) == 1 and spec.n_frames(399) == 0
    large = "large" in name or name.startswith("xlsr")
    assert (spec.n_layers, spec.hidden_size) == ((24, 1024) if large else (12, 768))


def test_families_and_layer_norm_placement():
    fam = {n: REGISTRY[n].family for n in PRETRAINED}
    assert fam["xlsr53"] == fam["xlsr_300m"] == fam["wav2vec_large"] == "wav2vec2"
    assert fam["data2vec_base"] == "data2vec" and fam["hubert_large"] == "hubert"
    pre_ln = {n for n in PRETRAINED if REGISTRY[n].pre_ln}
    # data2vec-audio Large is post-LN; all other large models are pre-LN.
    assert pre_ln == {"wav2vec_large", "hubert_large", "wavlm_large", "xlsr53", "xlsr_300m"}
    normalized = {n for n in PRETRAINED if REGISTRY[n].normalize_input}
    assert normalized == pre_ln | {"data2vec_base", "data2vec_large"}


@pytest.mark.parametrize("name", ["wav2vec_base", "wav2vec_large", "hubert_large", "wavlm_base",
                                  "data2vec_large"])
def test_hf_config_of_an_entry_has_its_architecture(name):
    spec = REGISTRY[name]
    config = spec.hf_config()
    assert config.num_hidden_layers == spec.n_layers
    assert config.hidden_size == spec.hidden_size
    assert list(config.conv_kernel) == [k for _, k, _ in STANDARD_CONV]
    assert list(config.conv_stride) == [s for _, _, s in STANDARD_CONV]
    assert config.layerdrop == 0.0
    if spec.family == "data2vec":
        assert (config.conv_pos_kernel_size, config.num_conv_pos_embeddings) == (19, 5)
    else:
        assert config.do_stable_layer_norm == spec.pre_ln
        assert config.feat_extract_norm == spec.conv_norm


@pytest.mark.parametrize("name", PRETRAINED + ENCODERS)
def test_every_hf_family_reads_back_the_config_it_builds(name):
    """An entry's transformers config, read back through its `HF_FAMILIES` entry, is the
    entry's architecture (family-specific values in hf_extra included)."""
    from lwa_cli.models.hf_families import spec_from_hf_config

    spec = REGISTRY[name]
    config = spec.hf_config()
    back = spec_from_hf_config(config, name=name, normalize_input=spec.normalize_input)
    assert spec.arch_differences(back) == []
    assert (back.hf_extra, back.n_heads, back.ffn_dim) == (
        spec.hf_extra, spec.n_heads, spec.ffn_dim)
    assert back.n_frames(16000) == spec.n_frames(16000) == 49


def test_arch_differences_names_the_field():
    base, large = REGISTRY["wav2vec_base"], REGISTRY["wav2vec_large"]
    diffs = base.arch_differences(large)
    assert {d.split()[0] for d in diffs} == {"n_layers", "hidden_size", "pre_ln"}
    assert "hidden_size 1024 (registry wav2vec_base: 768)" in diffs


def test_get_spec_and_rows():
    assert get_spec("no_such_model") is None
    rows = registry_rows()
    assert [r["name"] for r in rows] == list(REGISTRY)
    row = rows[0]
    assert row["name"] == "wav2vec_base" and row["layers"] == "C1-C7, T0-T12"
    assert row["conv_layers"][0] == [512, 10, 5]
    json.dumps(rows)  # plain data for --json


# ------------------------------------------------------------------ layer parser


def test_layer_names_and_helpers():
    assert layer_names(2, 3) == ["C1", "C2", "T0", "T1", "T2", "T3"]
    assert is_conv("C3") and not is_conv("T3")
    assert layer_index("T12") == 12


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["T4"], ["T4"]),
        (["C3"], ["C3"]),
        (["T0-T3"], ["T0", "T1", "T2", "T3"]),
        (["t2-4"], ["T2", "T3", "T4"]),
        (["C"], ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]),
        (["T"], [f"T{i}" for i in range(13)]),
        (["T5,C2", "T1", "T5"], ["C2", "T1", "T5"]),
        ([" T12 , c1-C2 "], ["C1", "C2", "T12"]),
        (["all"], layer_names(7, 12)),
        ([], layer_names(7, 12)),
    ],
)
def test_parse_layers(specs, expected):
    assert parse_layers(specs, 7, 12) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("T13", "out of range"),
        ("C8", "out of range"),
        ("C0", "out of range"),
        ("T10-T14", "out of range"),
        ("X1", "not a layer"),
        ("C1-T3", "mixes conv and transformer"),
        ("T5-T2", "empty range"),
        ("T1,,T2", "empty item"),
    ],
)
def test_parse_layers_errors_name_the_valid_range(spec, fragment):
    with pytest.raises(LwaUsageError) as err:
        parse_layers([spec], 7, 12, model="wav2vec_base")
    assert fragment in str(err.value)
    if fragment in ("out of range", "not a layer"):
        assert "C1-C7, T0-T12" in str(err.value) and "wav2vec_base" in str(err.value)


# ------------------------------------------------------------------ issue 18: published configs

# name -> (layers, width, heads, ffn, pre_ln (do_stable_layer_norm), conv_norm
# (feat_extract_norm), conv_bias, normalize_input (do_normalize / fairseq task.normalize),
# activation (hidden_act)), each checked against the source in the comment above it.
PUBLISHED = {
    # huggingface.co/facebook/mms-300m config.json (fine-tunes record it as _name_or_path) and
    # preprocessor_config.json; fairseq examples/mms/MODEL_CARD.md (300M and 1B variants).
    "mms_300m": (24, 1024, 16, 4096, True, "layer", True, True, "gelu"),
    # huggingface.co/facebook/mms-1b config.json (48 x 1280, ffn 5120; as facebook/mms-1b-all)
    # and preprocessor_config.json ("do_normalize": true); heads as XLS-R 1B.
    "mms_1b": (48, 1280, 16, 5120, True, "layer", True, True, "gelu"),
    # huggingface.co/facebook/wav2vec2-xls-r-1b config.json (as recorded by its fine-tunes).
    "xls_r_1b": (48, 1280, 16, 5120, True, "layer", True, True, "gelu"),
    # huggingface.co/facebook/wav2vec2-xls-r-2b config.json (hidden 1920, intermediate 7680,
    # 16 heads); 48 layers per the XLS-R paper (arXiv 2111.09296).
    "xls_r_2b": (48, 1920, 16, 7680, True, "layer", True, True, "gelu"),
    # huggingface.co/utter-project/mHuBERT-147 config.json (commit 606e0f5: group norm,
    # do_stable_layer_norm false, conv_bias false, 768/3072) and preprocessor_config.json
    # ("do_normalize": true); github utter-project/fairseq
    # examples/mHuBERT-147/config/pretrain/mhubert147_base.yaml (task.normalize: true).
    "mhubert_147": (12, 768, 12, 3072, False, "group", False, True, "gelu"),
    # github facebookresearch/fairseq examples/wav2vec/config/pretraining/
    # wav2vec2_conformer_large_librivox.yaml (layer_norm extractor, layer_norm_first,
    # conv_bias, normalize: true, 24 x 1024, ffn 4096, 16 heads); hidden_act "swish": the Hub
    # configs of facebook/wav2vec2-conformer-{rel-pos,rope}-large and transformers'
    # convert_wav2vec2_conformer_original_pytorch_checkpoint_to_pytorch.py.
    "wav2vec2_conformer_relpos_large": (24, 1024, 16, 4096, True, "layer", True, True, "swish"),
    "wav2vec2_conformer_rope_large": (24, 1024, 16, 4096, True, "layer", True, True, "swish"),
    # huggingface.co/microsoft/unispeech-sat-{base,base-plus} config.json (group, post-LN,
    # conv_bias false, 768/3072/12 heads). do_normalize could not be read (kept as it was).
    "unispeech_sat_base": (12, 768, 12, 3072, False, "group", False, False, "gelu"),
    "unispeech_sat_base_plus": (12, 768, 12, 3072, False, "group", False, False, "gelu"),
    # huggingface.co/microsoft/unispeech-sat-large config.json after "change config" (dde3cc4):
    # layer norm, do_stable_layer_norm true, conv_bias false, 1024/4096/16 heads.
    "unispeech_sat_large": (24, 1024, 16, 4096, True, "layer", False, True, "gelu"),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_issue18_entries_pin_the_published_config(name):
    spec = REGISTRY[name]
    got = (spec.n_layers, spec.hidden_size, spec.n_heads, spec.ffn_dim, spec.pre_ln,
           spec.conv_norm, spec.conv_bias, spec.normalize_input, spec.activation)
    assert got == PUBLISHED[name]
    assert spec.conv_layers == STANDARD_CONV  # conv_dim/kernel/stride of every config above
    assert REGISTRY[f"{name}_random"].activation == spec.activation


def test_issue18_conformer_and_w2v_bert_extras_match_their_configs():
    # Conformers: conv_depthwise_kernel_size 31 (fairseq ConformerWav2Vec2EncoderLayer
    # default), position_embeddings_type from the Hub configs, rotary_embedding_base 10000.
    for name, positions in (("wav2vec2_conformer_relpos_large", "relative"),
                            ("wav2vec2_conformer_rope_large", "rotary")):
        assert dict(REGISTRY[name].hf_extra) == {
            "conv_depthwise_kernel_size": 31, "position_embeddings_type": positions,
            "rotary_embedding_base": 10000}
    # huggingface.co/facebook/w2v-bert-2.0 config.json (as recorded by its fine-tunes):
    # 24 x 1024, 16 heads, intermediate 4096, hidden_act swish, feature_projection_input_dim
    # 160, relative_key positions with left 64 / right 8, conv_depthwise_kernel_size 31.
    w2v = REGISTRY["w2v_bert_2"]
    assert (w2v.n_layers, w2v.hidden_size, w2v.n_heads, w2v.ffn_dim, w2v.activation) == (
        24, 1024, 16, 4096, "swish")
    extra = dict(w2v.hf_extra)
    assert (extra["feature_projection_input_dim"], extra["position_embeddings_type"],
            extra["left_max_position_embeddings"], extra["right_max_position_embeddings"],
            extra["conv_depthwise_kernel_size"]) == (160, "relative_key", 64, 8, 31)
    rope = REGISTRY["wav2vec2_conformer_rope_large"].hf_config()
    assert (rope.hidden_act, rope.conv_bias, rope.do_stable_layer_norm) == ("swish", True, True)
    assert REGISTRY["unispeech_sat_large"].hf_config().conv_bias is False


# name -> (encoder layers, d_model, encoder heads, encoder_ffn_dim, num_mel_bins): the Hub
# config.json of openai/whisper-{tiny,base,small,medium,large-v2,large-v3,large-v3-turbo}
# (as recorded by their fine-tunes). large-v3-turbo: encoder_layers 32, decoder_layers 4 —
# the registry exposes the 32 encoder layers.
WHISPER_PUBLISHED = {
    "whisper_tiny": (4, 384, 6, 1536, 80), "whisper_base": (6, 512, 8, 2048, 80),
    "whisper_small": (12, 768, 12, 3072, 80), "whisper_medium": (24, 1024, 16, 4096, 80),
    "whisper_large_v2": (32, 1280, 20, 5120, 80), "whisper_large_v3": (32, 1280, 20, 5120, 128),
    "whisper_large_v3_turbo": (32, 1280, 20, 5120, 128),
}


@pytest.mark.parametrize("name", list(WHISPER_PUBLISHED))
def test_whisper_entries_pin_the_published_dims(name):
    spec = REGISTRY[name]
    width = WHISPER_PUBLISHED[name][1]
    assert (spec.n_layers, spec.hidden_size, spec.n_heads, spec.ffn_dim,
            spec.n_mels) == WHISPER_PUBLISHED[name]
    assert spec.conv_layers == ((width, 3, 1), (width, 3, 2)) and spec.pre_ln
    # openai/whisper whisper/__init__.py _MODELS names the .pt files; HF ids are openai/...
    hub = "openai/" + name.replace("_", "-")
    assert hub in spec.description and f"{name[len('whisper_'):].replace('_', '-')}.pt" in \
        spec.description


# Hub ids and licences in the descriptions. Sources: the Hub cards' licence tags (mms-300m,
# mms-1b: cc-by-nc-4.0, also fairseq examples/mms/README.md "code and model weights ... CC-BY-NC
# 4.0"; wav2vec2-xls-r-1b/-2b and wav2vec2-conformer-*-large: apache-2.0; w2v-bert-2.0: mit;
# mHuBERT-147: cc-by-nc-sa-4.0); UniSpeech-SAT: the HF cards carry no licence, the
# github microsoft/UniSpeech LICENSE is CC BY-SA 3.0 (not unilm's MIT).
LICENCES = {
    "mms_300m": ("facebook/mms-300m", "CC-BY-NC 4.0"),
    "mms_1b": ("facebook/mms-1b", "CC-BY-NC 4.0"),
    "xls_r_1b": ("facebook/wav2vec2-xls-r-1b", "Apache-2.0"),
    "xls_r_2b": ("facebook/wav2vec2-xls-r-2b", "Apache-2.0"),
    "mhubert_147": ("utter-project/mHuBERT-147", "CC-BY-NC-SA 4.0"),
    "w2v_bert_2": ("facebook/w2v-bert-2.0", "MIT"),
    "wav2vec2_conformer_relpos_large": ("facebook/wav2vec2-conformer-rel-pos-large", "Apache-2.0"),
    "wav2vec2_conformer_rope_large": ("facebook/wav2vec2-conformer-rope-large", "Apache-2.0"),
    "unispeech_sat_base": ("microsoft/unispeech-sat-base;", "CC-BY-SA 3.0"),
    "unispeech_sat_base_plus": ("microsoft/unispeech-sat-base-plus", "CC-BY-SA 3.0"),
    "unispeech_sat_large": ("microsoft/unispeech-sat-large", "CC-BY-SA 3.0"),
}


@pytest.mark.parametrize("name", list(LICENCES))
def test_issue18_descriptions_name_hub_id_and_licence(name):
    hub, licence = LICENCES[name]
    description = REGISTRY[name].description
    assert hub in description and licence in description
    assert "MIT" not in description or name == "w2v_bert_2"
