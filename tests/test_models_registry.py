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
