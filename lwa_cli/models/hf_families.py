"""Model families built from transformers classes: one table entry per family.

`HF_FAMILIES` maps a transformers ``config.model_type`` to an `HfFamily`: the lwa family
name, its transformers config and base model classes, how a config becomes a `ModelSpec`
(`HfFamily.read_spec`) and how a spec becomes config keyword arguments
(`HfFamily.config_kwargs`). Adding a transformers family is one entry here (plus its
functions when the conv-stack ones below do not fit, and ``module_class`` when lwa computes
the model's input itself, as for w2v-BERT's filterbank). A model type without an entry goes
through the generic path (`formats.hf_generic`). lwa's own families (FaST-VGS, AV-HuBERT)
are configured as the family named in `CUSTOM_FAMILIES`. Importing this module does not
import torch or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lwa_cli.errors import LwaError
from lwa_cli.models.spec import (
    FBANK_HOP,
    SAMPLE_RATE,
    STANDARD_CONV,
    W2V_BERT_MELS,
    W2V_BERT_STACK,
    ModelSpec,
    frame_rate,
)


@dataclass(frozen=True)
class HfFamily:
    """One transformers model family.

    Attributes
    ----------
    family : lwa's family name (``ModelSpec.family``).
    config_class, model_class : names of the transformers config and base model classes.
    read_spec : ``(config, name=, normalize_input=, random=) -> ModelSpec``.
    config_kwargs : ``(spec, mask_emb) -> dict`` of the config class's keyword arguments.
    module_class : ``package.module.Class`` of lwa's subclass of ``model_class`` that is
        built and loaded instead (its own input and layer taps); empty: ``model_class``.
    input_convention : what lwa feeds the model, one line (`lwa models --check`); empty:
        the 16 kHz waveform.
    """

    family: str
    config_class: str
    model_class: str
    read_spec: Callable[..., ModelSpec]
    config_kwargs: Callable[[ModelSpec, bool], dict[str, Any]]
    module_class: str = ""
    input_convention: str = ""


# ------------------------------------------------------------------ conv-stack families


def _conv_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    """Config arguments every conv-stack family shares."""
    # AV-HuBERT has no conv stack; its config's (unused) conv fields keep their defaults.
    dims, kernels, strides = zip(*(spec.conv_layers or STANDARD_CONV), strict=True)
    return {
        "hidden_size": spec.hidden_size,
        "num_hidden_layers": spec.n_encoder_layers,
        "num_attention_heads": spec.n_heads,
        "intermediate_size": spec.ffn_dim,
        "hidden_act": spec.activation,
        "feat_extract_activation": "gelu",
        "conv_dim": list(dims),
        "conv_kernel": list(kernels),
        "conv_stride": list(strides),
        "conv_bias": spec.conv_bias,
        "num_conv_pos_embedding_groups": spec.pos_conv_groups,
        "layer_norm_eps": 1e-5,
        "layerdrop": 0.0,
        "mask_time_prob": 0.05 if mask_emb else 0.0,
        "mask_feature_prob": 0.0,
    }


def _wav2vec2_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    return {**_conv_kwargs(spec, mask_emb), "num_conv_pos_embeddings": spec.pos_conv_kernel,
            "feat_extract_norm": spec.conv_norm, "do_stable_layer_norm": spec.pre_ln}


def _hubert_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    return {**_wav2vec2_kwargs(spec, mask_emb), "feat_proj_layer_norm": True}


def _wavlm_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    return {**_wav2vec2_kwargs(spec, mask_emb), "num_buckets": spec.num_buckets,
            "max_bucket_distance": spec.max_distance}


def _data2vec_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    # transformers names the number of stacked positional conv layers
    # `num_conv_pos_embeddings` for data2vec-audio.
    return {**_conv_kwargs(spec, mask_emb), "conv_pos_kernel_size": spec.pos_conv_kernel,
            "num_conv_pos_embeddings": spec.pos_conv_depth}


def _wav2vec2_fields(config: Any) -> dict[str, Any]:
    return {"pos_conv_kernel": int(config.num_conv_pos_embeddings), "pos_conv_depth": 1,
            "conv_norm": str(config.feat_extract_norm),
            "pre_ln": bool(config.do_stable_layer_norm)}


def _wavlm_fields(config: Any) -> dict[str, Any]:
    return {**_wav2vec2_fields(config), "num_buckets": int(config.num_buckets),
            "max_distance": int(config.max_bucket_distance)}


def _data2vec_fields(config: Any) -> dict[str, Any]:
    return {"pos_conv_kernel": int(config.conv_pos_kernel_size),
            "pos_conv_depth": int(config.num_conv_pos_embeddings), "conv_norm": "layer",
            "pre_ln": False}


def _conv_reader(family: str, model_class: str,
                 fields: Callable[[Any], dict[str, Any]]) -> Callable[..., ModelSpec]:
    """``read_spec`` of a conv-stack family whose own fields ``fields`` reads."""

    def read_spec(config: Any, *, name: str, normalize_input: bool,
                  random: bool = False) -> ModelSpec:
        conv = tuple((int(d), int(k), int(s)) for d, k, s in
                     zip(config.conv_dim, config.conv_kernel, config.conv_stride, strict=True))
        return ModelSpec(
            name=name, family=family, hf_class=model_class, conv_layers=conv,
            n_layers=int(config.num_hidden_layers), hidden_size=int(config.hidden_size),
            frame_rate_hz=frame_rate(conv), normalize_input=bool(normalize_input),
            conv_bias=bool(config.conv_bias), n_heads=int(config.num_attention_heads),
            ffn_dim=int(config.intermediate_size),
            pos_conv_groups=int(config.num_conv_pos_embedding_groups),
            activation=str(config.hidden_act), random=random, **fields(config),
        )

    return read_spec


def _conv_family(family: str, config_class: str, model_class: str,
                 fields: Callable[[Any], dict[str, Any]],
                 kwargs: Callable[[ModelSpec, bool], dict[str, Any]]) -> HfFamily:
    return HfFamily(family, config_class, model_class,
                    _conv_reader(family, model_class, fields), kwargs)


def _extra(config: Any, keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """`ModelSpec.hf_extra`: sorted (name, value) pairs of a config's family-specific fields."""
    return tuple(sorted((k, getattr(config, k)) for k in keys))


def _with_extra(spec: ModelSpec, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, **dict(spec.hf_extra)}


_CONFORMER_KEYS = ("position_embeddings_type", "conv_depthwise_kernel_size",
                   "rotary_embedding_base")


def _conformer_fields(config: Any) -> dict[str, Any]:
    # transformers' conformer encoder is pre-LN; its config need not say so.
    return {"pos_conv_kernel": int(config.num_conv_pos_embeddings), "pos_conv_depth": 1,
            "conv_norm": str(config.feat_extract_norm),
            "pre_ln": bool(getattr(config, "do_stable_layer_norm", True)),
            "hf_extra": _extra(config, _CONFORMER_KEYS)}


def _conformer_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    return _with_extra(spec, _wav2vec2_kwargs(spec, mask_emb))


# ------------------------------------------------------------------ w2v-BERT (no conv stack)

_W2V_BERT_KEYS = ("feature_projection_input_dim", "position_embeddings_type",
                  "left_max_position_embeddings", "right_max_position_embeddings",
                  "conv_depthwise_kernel_size", "rotary_embedding_base")


def _w2v_bert_spec(config: Any, *, name: str, normalize_input: bool = False,
                   random: bool = False) -> ModelSpec:
    """A `Wav2Vec2BertConfig` as a `ModelSpec`: no conv layers, 20 ms frames, raw input.

    Raises
    ------
    LwaError : a projection input other than 80 mel bins x 2 stacked frames.
    """
    dim = int(config.feature_projection_input_dim)
    if dim != W2V_BERT_MELS * W2V_BERT_STACK:
        raise LwaError(f"w2v-BERT config {name}: feature_projection_input_dim is {dim}; lwa "
                       f"reads the released front end ({W2V_BERT_MELS} mel bins x "
                       f"{W2V_BERT_STACK} stacked frames = 160).")
    return ModelSpec(
        name=name, family="w2v_bert", hf_class="Wav2Vec2BertModel", conv_layers=(),
        n_layers=int(config.num_hidden_layers), hidden_size=int(config.hidden_size),
        frame_rate_hz=SAMPLE_RATE / (FBANK_HOP * W2V_BERT_STACK), normalize_input=False,
        pre_ln=True, conv_norm="layer", n_heads=int(config.num_attention_heads),
        ffn_dim=int(config.intermediate_size), pos_conv_kernel=0, pos_conv_groups=0,
        activation=str(config.hidden_act), random=random,
        hf_extra=_extra(config, _W2V_BERT_KEYS),
    )


def _w2v_bert_kwargs(spec: ModelSpec, mask_emb: bool) -> dict[str, Any]:
    return _with_extra(spec, {
        "hidden_size": spec.hidden_size, "num_hidden_layers": spec.n_encoder_layers,
        "num_attention_heads": spec.n_heads, "intermediate_size": spec.ffn_dim,
        "hidden_act": spec.activation, "layer_norm_eps": 1e-5, "layerdrop": 0.0,
        "mask_time_prob": 0.05 if mask_emb else 0.0, "mask_feature_prob": 0.0,
    })


HF_FAMILIES: dict[str, HfFamily] = {
    "wav2vec2": _conv_family("wav2vec2", "Wav2Vec2Config", "Wav2Vec2Model", _wav2vec2_fields,
                             _wav2vec2_kwargs),
    "hubert": _conv_family("hubert", "HubertConfig", "HubertModel", _wav2vec2_fields,
                           _hubert_kwargs),
    "wavlm": _conv_family("wavlm", "WavLMConfig", "WavLMModel", _wavlm_fields, _wavlm_kwargs),
    "data2vec-audio": _conv_family("data2vec", "Data2VecAudioConfig", "Data2VecAudioModel",
                                   _data2vec_fields, _data2vec_kwargs),
    "unispeech-sat": _conv_family("unispeech_sat", "UniSpeechSatConfig", "UniSpeechSatModel",
                                  _wav2vec2_fields, _wav2vec2_kwargs),
    "wav2vec2-conformer": _conv_family("wav2vec2_conformer", "Wav2Vec2ConformerConfig",
                                       "Wav2Vec2ConformerModel", _conformer_fields,
                                       _conformer_kwargs),
    "wav2vec2-bert": HfFamily("w2v_bert", "Wav2Vec2BertConfig", "Wav2Vec2BertModel",
                              _w2v_bert_spec, _w2v_bert_kwargs,
                              module_class="lwa_cli.models.w2v_bert.W2vBertModel",
                              input_convention="80-bin log-mel fbank "
                              "(SeamlessM4TFeatureExtractor), each bin normalised over the "
                              "utterance, 2 frames stacked -> 160 dims every 20 ms"),
}
"""transformers ``config.model_type`` -> family; a new transformers family adds one entry."""

CUSTOM_FAMILIES: dict[str, tuple[str, str]] = {
    # FaST-VGS's audio branch is a wav2vec2 model plus a CLS vector (models/fastvgs.py);
    # AV-HuBERT's audio path a filterbank front end and a pre-LN wav2vec2 encoder
    # (models/avhubert.py). Both are configured through a Wav2Vec2Config.
    "fastvgs": ("wav2vec2", "FastVgsAudioModel"),
    "avhubert": ("wav2vec2", "AvHubertAudioModel"),
}
"""lwa's own families -> (the transformers family whose config they use, their module class)."""

HF_MODEL_TYPES: dict[str, str] = {t: f.family for t, f in HF_FAMILIES.items()}
"""transformers ``config.model_type`` -> lwa family."""

_BY_FAMILY: dict[str, HfFamily] = {f.family: f for f in HF_FAMILIES.values()}

FAMILY_CLASSES: dict[str, tuple[str, str]] = {
    **{f.family: (f.config_class, f.model_class) for f in HF_FAMILIES.values()},
    **{name: (_BY_FAMILY[base].config_class, cls)
       for name, (base, cls) in CUSTOM_FAMILIES.items()},
}
"""family -> (transformers config class, base model class) names."""


def family_entry(family: str) -> HfFamily:
    """The `HfFamily` that configures ``family`` (lwa's own families: their base family)."""
    base = CUSTOM_FAMILIES[family][0] if family in CUSTOM_FAMILIES else family
    return _BY_FAMILY[base]


def hf_classes(family: str) -> tuple[Any, Any]:
    """The transformers config class and the module class of a family (lwa's subclass of the
    base model class where the family has one, `HfFamily.module_class`)."""
    import importlib

    import transformers

    config_name, model_name = FAMILY_CLASSES[family]
    subclass = _BY_FAMILY[family].module_class if family in _BY_FAMILY else ""
    if subclass:
        module, _, name = subclass.rpartition(".")
        return getattr(transformers, config_name), getattr(importlib.import_module(module), name)
    return getattr(transformers, config_name), getattr(transformers, model_name)


def build_config(spec: ModelSpec, *, mask_emb: bool = True) -> Any:
    """The transformers config of ``spec`` (eval settings, no layerdrop)."""
    import transformers

    entry = family_entry(spec.family)
    return getattr(transformers, entry.config_class)(**entry.config_kwargs(spec, mask_emb))


def spec_from_hf_config(
    config: Any, *, name: str, normalize_input: bool, random: bool = False
) -> ModelSpec:
    """Describe the architecture of a transformers config as a `ModelSpec`.

    Parameters
    ----------
    config : a config of a family in `HF_FAMILIES` (by its ``model_type``).
    name : the model's name in the workspace.
    normalize_input : whether the waveform is standardised for this checkpoint.
    random : the weights are random.
    """
    return HF_FAMILIES[config.model_type].read_spec(
        config, name=name, normalize_input=normalize_input, random=random)
