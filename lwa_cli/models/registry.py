"""The model registry: every supported speech model, its architecture and display name.

Registry entries are the published pre-trained models the reference toolkit analyses, each a
`ModelSpec` (`models/spec.py`) with the name papers print (``display_name``); `*_random`
entries have the same architecture with seeded random weights. Importing this module does
not import torch or transformers, so that `lwa models` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from lwa_cli.models.hf_families import (  # noqa: F401  (re-exported: older import paths)
    CUSTOM_FAMILIES,
    FAMILY_CLASSES,
    HF_MODEL_TYPES,
    hf_classes,
    spec_from_hf_config,
)
from lwa_cli.models.spec import (  # noqa: F401  (re-exported: older import paths)
    ARCH_FIELDS,
    AVHUBERT_STACK,
    FBANK_HOP,
    FBANK_WINDOW,
    SAMPLE_RATE,
    STANDARD_CONV,
    W2V_BERT_STACK,
    ModelSpec,
    frame_rate,
)
from lwa_cli.models.whisper_entries import WHISPER_ENTRIES


def _entry(
    name: str,
    display_name: str,
    family: str,
    *,
    large: bool,
    normalize: bool,
    pre_ln: bool,
    conv_norm: str,
    conv_bias: bool,
    description: str,
    shape: tuple[int, int, int, int] | None = None,
    hf_extra: tuple[tuple[str, Any], ...] = (),
) -> ModelSpec:
    """One registry entry of the standard base (12×768) or large (24×1024) shape, or of
    ``shape`` = (layers, width, heads, feed-forward width) when given."""
    data2vec = family == "data2vec"
    spec = ModelSpec(
        name=name,
        family=family,
        hf_class=FAMILY_CLASSES[family][1],
        conv_layers=STANDARD_CONV,
        n_layers=24 if large else 12,
        hidden_size=1024 if large else 768,
        frame_rate_hz=frame_rate(STANDARD_CONV),
        normalize_input=normalize,
        pre_ln=pre_ln,
        conv_norm=conv_norm,
        conv_bias=conv_bias,
        n_heads=16 if large else 12,
        ffn_dim=4096 if large else 3072,
        # data2vec-audio stacks 5 positional conv layers of kernel 95 // 5 = 19
        pos_conv_kernel=19 if data2vec else 128,
        pos_conv_depth=5 if data2vec else 1,
        description=description,
        display_name=display_name,
        hf_extra=tuple(sorted(hf_extra)),
    )
    if shape is None:
        return spec
    layers, width, heads, ffn = shape
    return replace(spec, n_layers=layers, hidden_size=width, n_heads=heads, ffn_dim=ffn)


# Post-LN base models (group-norm conv, raw waveform) and pre-LN large ones (layer-norm conv,
# standardised waveform); data2vec is post-LN with layer-norm conv and standardised input.
_BASE = {"large": False, "normalize": False, "pre_ln": False, "conv_norm": "group",
         "conv_bias": False}
_LARGE = {"large": True, "normalize": True, "pre_ln": True, "conv_norm": "layer",
          "conv_bias": True}
_DATA2VEC = {"normalize": True, "pre_ln": False, "conv_norm": "layer", "conv_bias": False}

_PRETRAINED: tuple[ModelSpec, ...] = (
    _entry("wav2vec_base", "wav2vec 2.0 Base", "wav2vec2", **_BASE,
           description="wav2vec 2.0 Base, LibriSpeech 960 h (fairseq wav2vec_small.pt)"),
    _entry("wav2vec_large", "wav2vec 2.0 Large", "wav2vec2", **_LARGE,
           description="wav2vec 2.0 Large, Libri-Light 60k h (fairseq wav2vec_vox_new.pt)"),
    _entry("hubert_base", "HuBERT Base", "hubert", **_BASE,
           description="HuBERT Base, LibriSpeech 960 h (fairseq hubert_base_ls960.pt)"),
    _entry("hubert_large", "HuBERT Large", "hubert", **_LARGE,
           description="HuBERT Large, Libri-Light 60k h (fairseq hubert_large_ll60k.pt)"),
    _entry("wavlm_base", "WavLM Base", "wavlm", **_BASE,
           description="WavLM Base, LibriSpeech 960 h (unilm WavLM-Base.pt)"),
    _entry("wavlm_base_plus", "WavLM Base+", "wavlm", **_BASE,
           description="WavLM Base+, 94k h (unilm WavLM-Base+.pt)"),
    _entry("wavlm_large", "WavLM Large", "wavlm", **{**_LARGE, "conv_bias": False},
           description="WavLM Large, 94k h (unilm WavLM-Large.pt)"),
    _entry("xlsr53", "XLSR-53", "wav2vec2", **_LARGE,
           description="XLSR-53, 56k h in 53 languages (fairseq xlsr_53_56k.pt)"),
    _entry("xlsr_300m", "XLS-R 300M", "wav2vec2", **_LARGE,
           description="XLS-R 300M, 436k h in 128 languages (fairseq xlsr2_300m.pt)"),
    _entry("data2vec_base", "data2vec Base", "data2vec", large=False, **_DATA2VEC,
           description="data2vec-audio Base, LibriSpeech 960 h (fairseq audio_base_ls.pt)"),
    _entry("data2vec_large", "data2vec Large", "data2vec", large=True, **_DATA2VEC,
           description="data2vec-audio Large, Libri-Light 60k h (fairseq vox_pretrained.pt)"),
)


def _fastvgs_entry(name: str, display_name: str, *, n_exposed: int,
                   description: str) -> ModelSpec:
    """A FaST-VGS(+) audio branch: post-LN wav2vec 2.0 Base (12 layers) with a CLS vector."""
    return ModelSpec(
        name=name, family="fastvgs", hf_class=FAMILY_CLASSES["fastvgs"][1],
        conv_layers=STANDARD_CONV, n_layers=n_exposed, hidden_size=768,
        frame_rate_hz=frame_rate(STANDARD_CONV), normalize_input=True, pre_ln=False,
        conv_norm="group", conv_bias=False, description=description,
        encoder_layers=None if n_exposed == 12 else 12, display_name=display_name,
    )


def _avhubert_entry(name: str, display_name: str, *, large: bool,
                    description: str) -> ModelSpec:
    """AV-HuBERT on audio alone: filterbank front end, pre-LN encoder, 40 ms frames."""
    return ModelSpec(
        name=name, family="avhubert", hf_class=FAMILY_CLASSES["avhubert"][1], conv_layers=(),
        n_layers=24 if large else 12, hidden_size=1024 if large else 768,
        frame_rate_hz=frame_rate(()), normalize_input=True, pre_ln=True, conv_norm="layer",
        n_heads=16 if large else 12, ffn_dim=4096 if large else 3072, description=description,
        display_name=display_name,
    )


_OTHER: tuple[ModelSpec, ...] = (
    _fastvgs_entry("fastvgs_coco", "FaST-VGS (COCO)", n_exposed=8,
                   description="FaST-VGS, SpokenCOCO (FaST-VGS-Family fast-vgs-coco/); T0-T8"),
    _fastvgs_entry("fastvgs_places", "FaST-VGS (Places)", n_exposed=8,
                   description="FaST-VGS, Places (FaST-VGS-Family fast-vgs-places/); T0-T8"),
    _fastvgs_entry("fastvgs_plus_coco", "FaST-VGS+ (COCO)", n_exposed=12,
                   description="FaST-VGS+, SpokenCOCO (FaST-VGS-Family fast-vgs-plus-coco/)"),
    _avhubert_entry("avhubert_base_lrs3", "AV-HuBERT Base (LRS3)", large=False,
                    description="AV-HuBERT Base, LRS3 433 h, audio only "
                                "(av_hubert base_lrs3_iter5.pt)"),
    _avhubert_entry("avhubert_base_lrs3_vc2", "AV-HuBERT Base (LRS3+VC2)", large=False,
                    description="AV-HuBERT Base, LRS3 + VoxCeleb2, audio only "
                                "(av_hubert base_vox_iter5.pt)"),
    _avhubert_entry("avhubert_large_lrs3_vc2", "AV-HuBERT Large (LRS3+VC2)", large=True,
                    description="AV-HuBERT Large, LRS3 + VoxCeleb2, audio only "
                                "(av_hubert large_vox_iter5.pt)"),
)


_XL = (48, 1280, 16, 5120)
_CONFORMER = (("conv_depthwise_kernel_size", 31), ("rotary_embedding_base", 10000))

def _conformer(short: str, shown: str, positions: str, hf_id: str) -> ModelSpec:
    """A wav2vec 2.0 Conformer Large (Libri-Light 60k h) with ``positions`` embeddings; its
    feed-forward activation is swish (``hidden_act`` of the published config)."""
    spec = _entry(f"wav2vec2_conformer_{short}_large", f"wav2vec 2.0 Conformer Large ({shown})",
                  "wav2vec2_conformer", **_LARGE,
                  hf_extra=(*_CONFORMER, ("position_embeddings_type", positions)),
                  description=f"wav2vec 2.0 Conformer Large, {positions} positions, Libri-Light "
                              f"60k h (HF facebook/wav2vec2-conformer-{hf_id}-large; fairseq, "
                              "Apache-2.0)")
    return replace(spec, activation="swish")


def _unispeech_sat(size: str, shown: str, hours: str, hf_id: str) -> ModelSpec:
    """A UniSpeech-SAT model (microsoft/UniSpeech, whose LICENSE is CC-BY-SA 3.0; the HF cards
    name none): the wav2vec2 layout, post-LN base, pre-LN large without conv biases."""
    return _entry(f"unispeech_sat_{size}", f"UniSpeech-SAT {shown}", "unispeech_sat",
                  **({**_LARGE, "conv_bias": False} if size == "large" else _BASE),
                  description=f"UniSpeech-SAT {shown}, {hours} (HF microsoft/{hf_id}; "
                              "microsoft/UniSpeech, CC-BY-SA 3.0)")


_ENCODERS: tuple[ModelSpec, ...] = (
    _conformer("relpos", "rel. pos.", "relative", "rel-pos"),
    _conformer("rope", "RoPE", "rotary", "rope"),
    _unispeech_sat("base", "Base", "LibriSpeech 960 h", "unispeech-sat-base"),
    _unispeech_sat("base_plus", "Base+", "94k h", "unispeech-sat-base-plus"),
    _unispeech_sat("large", "Large", "94k h", "unispeech-sat-large"),
    _entry("mms_300m", "MMS 300M", "wav2vec2", **_LARGE,
           description="MMS 300M, ~500k h in 1,400 languages (HF facebook/mms-300m; "
                       "CC-BY-NC 4.0)"),
    _entry("mms_1b", "MMS 1B", "wav2vec2", **_LARGE, shape=_XL,
           description="MMS 1B, ~500k h in 1,400 languages (HF facebook/mms-1b; CC-BY-NC 4.0)"),
    _entry("xls_r_1b", "XLS-R 1B", "wav2vec2", **_LARGE, shape=_XL,
           description="XLS-R 1B, 436k h in 128 languages (HF facebook/wav2vec2-xls-r-1b; "
                       "Apache-2.0)"),
    _entry("xls_r_2b", "XLS-R 2B", "wav2vec2", **_LARGE, shape=(48, 1920, 16, 7680),
           description="XLS-R 2B, 436k h in 128 languages (HF facebook/wav2vec2-xls-r-2b; "
                       "Apache-2.0)"),
    # mHuBERT-147 is a post-LN base model trained on standardised waveforms (normalize: true).
    _entry("mhubert_147", "mHuBERT-147", "hubert", **{**_BASE, "normalize": True},
           description="mHuBERT-147, 90k h in 147 languages (HF utter-project/mHuBERT-147; "
                       "CC-BY-NC-SA 4.0)"),
)
"""Issue 18's encoders with a conv stack (the published checkpoints' config.json values)."""


def _w2v_bert_entry() -> ModelSpec:
    """w2v-BERT 2.0: filterbank front end (2 stacked frames, 20 ms), conformer layers."""
    extra = (("conv_depthwise_kernel_size", 31), ("feature_projection_input_dim", 160),
             ("left_max_position_embeddings", 64), ("position_embeddings_type", "relative_key"),
             ("right_max_position_embeddings", 8), ("rotary_embedding_base", 10000))
    return ModelSpec(
        name="w2v_bert_2", family="w2v_bert", hf_class=FAMILY_CLASSES["w2v_bert"][1],
        conv_layers=(), n_layers=24, hidden_size=1024,
        frame_rate_hz=SAMPLE_RATE / (FBANK_HOP * W2V_BERT_STACK), normalize_input=False,
        pre_ln=True, conv_norm="layer", n_heads=16, ffn_dim=4096, pos_conv_kernel=0,
        pos_conv_groups=0, activation="swish", hf_extra=extra, display_name="w2v-BERT 2.0",
        description="w2v-BERT 2.0, 4.5M h in 143+ languages (HF facebook/w2v-bert-2.0; MIT)",
    )


def _random_variant(spec: ModelSpec) -> ModelSpec:
    """The ``*_random`` twin of a pre-trained entry."""
    return replace(
        spec,
        name=f"{spec.name}_random",
        random=True,
        description=f"{spec.name} architecture with seeded random weights",
        display_name=f"{spec.display_name}, random init",
    )


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for base in _PRETRAINED + (_w2v_bert_entry(), *_ENCODERS) + _OTHER + WHISPER_ENTRIES
    for spec in (base, _random_variant(base))
}
"""All registered models by name, each pre-trained entry followed by its ``*_random`` twin."""


def get_spec(name: str) -> ModelSpec | None:
    """The registry entry called ``name``, or None for an unregistered name."""
    return REGISTRY.get(name)


DEMO_DISPLAY_NAMES: dict[str, str] = {
    "demo_wav2vec2": "demo wav2vec 2.0", "demo_hubert": "demo HuBERT",
    "demo_whisper": "demo Whisper",
}
"""Display names of the demo models (`lwa_cli/demo/models.py`), which are not registered."""


def display_names() -> dict[str, str]:
    """Registry name (and demo model name) -> the name papers print."""
    names = {name: spec.display_name for name, spec in REGISTRY.items()}
    return {**names, **DEMO_DISPLAY_NAMES}


def layer_choices(name: str | None) -> list[str]:
    """Layer names ``--layer`` accepts for model ``name``, for shell completion.

    The groups (``all``, ``C`` when the model has conv layers, ``T``) and then C1..Cn, T0..TL
    of the registry entry; for an unknown name (or None) those of the registry's largest
    architecture, since the checkpoint that will define it is not read while completing.
    """
    from lwa_cli.models.layers import layer_names

    spec = REGISTRY.get(name) if name else None
    specs = [spec] if spec is not None else list(REGISTRY.values())
    n_conv = max(s.n_conv for s in specs)
    n_layers = max(s.n_layers for s in specs)
    groups = ["all", "C", "T"] if n_conv else ["all", "T"]
    return groups + layer_names(n_conv, n_layers)


def registry_rows() -> list[dict[str, Any]]:
    """The registry as plain rows (for a table or ``--json``), in registry order."""
    rows = []
    for spec in REGISTRY.values():
        row = asdict(spec)
        row["conv_layers"] = [list(c) for c in spec.conv_layers]
        row["n_conv"] = spec.n_conv
        row["has_conv_layers"] = spec.has_conv_layers
        row["frame_period_s"] = spec.frame_period_s
        convs = f"C1-C{spec.n_conv}, " if spec.n_conv else ""
        row["layers"] = f"{convs}T0-T{spec.n_layers}"
        rows.append(row)
    return rows
