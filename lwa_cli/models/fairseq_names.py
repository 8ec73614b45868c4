"""fairseq/unilm parameter names <-> transformers parameter names, and strict loading.

`hf_name` maps a fairseq/unilm name onto the transformers wav2vec2-family modules,
`load_weights` loads a fairseq-named state dict strictly (unknown, missing or mis-shaped
parameters are errors, listed by name), and `fairseq_name` / `fairseq_state_dict` are the
inverse, for writing checkpoints. Other families (FaST-VGS, AV-HuBERT) reuse `hf_name` for
their wav2vec2-shaped parts.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.registry import spec_from_hf_config

_POS_G = "encoder.pos_conv_embed.conv.weight_g"
_POS_V = "encoder.pos_conv_embed.conv.weight_v"
_L = r"encoder\.layers\.(\d+)\."

_TO_HF: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r) for p, r in [
        (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)",
         r"feature_extractor.conv_layers.\1.conv.\2"),
        (r"feature_extractor\.conv_layers\.(\d+)\.2\.(?:1\.)?(weight|bias)",
         r"feature_extractor.conv_layers.\1.layer_norm.\2"),
        (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
        (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
        (r"mask_emb", "masked_spec_embed"),
        (r"encoder\.pos_conv\.0\.bias", "encoder.pos_conv_embed.conv.bias"),
        (r"encoder\.pos_conv\.0\.(?:weight_g|parametrizations\.weight\.original0)", _POS_G),
        (r"encoder\.pos_conv\.0\.(?:weight_v|parametrizations\.weight\.original1)", _POS_V),
        (r"encoder\.pos_conv\.(\d+)\.0\.(weight|bias)",
         r"encoder.pos_conv_embed.layers.\1.conv.\2"),
        (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
        (_L + r"self_attn\.(k|v|q|out)_proj\.(weight|bias)",
         r"encoder.layers.\1.attention.\2_proj.\3"),
        (_L + r"self_attn\.grep_linear\.(weight|bias)",
         r"encoder.layers.\1.attention.gru_rel_pos_linear.\2"),
        (_L + r"self_attn\.grep_a", r"encoder.layers.\1.attention.gru_rel_pos_const"),
        (_L + r"self_attn\.relative_attention_bias\.weight",
         r"encoder.layers.\1.attention.rel_attn_embed.weight"),
        (_L + r"self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
        (_L + r"fc1\.(weight|bias)", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
        (_L + r"fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
        (_L + r"final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
    ]
]


def hf_name(fairseq_name: str) -> str | None:
    """The transformers parameter name of a fairseq/unilm one, None if unknown.

    The positional-conv weight norm comes out as ``weight_g``/``weight_v``;
    `load_weights` renames it to the model's own (parametrised) names.
    """
    for pattern, replacement in _TO_HF:
        if pattern.fullmatch(fairseq_name):
            return pattern.sub(replacement, fairseq_name)
    return None


def _weight_norm_names(model_keys: set[str]) -> dict[str, str]:
    """How this transformers/torch version names the positional-conv weight norm."""
    new_g = "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
    new_v = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
    if new_g in model_keys:
        return {_POS_G: new_g, _POS_V: new_v}
    return {_POS_G: _POS_G, _POS_V: _POS_V}


def listing(names: list[str], limit: int = 8) -> str:
    """Comma-separated names, shortened after ``limit``."""
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def load_weights(
    model: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    path: Path,
    *,
    rename: dict[str, str] | None = None,
    hint: str = "Is it a wav2vec2/HuBERT/WavLM/data2vec-audio encoder?",
) -> None:
    """Map fairseq-named parameters onto a transformers model and load them (strict).

    Parameters
    ----------
    model : the module to fill (every one of its parameters must be given).
    state_dict : fairseq-named parameters.
    path : the checkpoint, for error messages.
    rename : names used as they are (model name by checkpoint name), tried before `hf_name`;
        for parameters outside the wav2vec2 layout (FaST-VGS's CLS vector, AV-HuBERT's
        audio projection).
    hint : the last sentence of the mismatch error.

    Raises
    ------
    LwaError : unknown parameters, missing parameters or shape mismatches, listed by name.
    """
    model_state = model.state_dict()
    wn = _weight_norm_names(set(model_state))
    extra = rename or {}
    mapped: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        target = extra.get(key) or hf_name(key)
        target = wn.get(target, target) if target else None
        if target is None or target not in model_state:
            unknown.append(key)
        else:
            mapped[target] = value
    missing = sorted(set(model_state) - set(mapped))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown parameters {listing(sorted(unknown))}")
        if missing:
            parts.append(f"missing parameters {listing(missing)}")
        raise LwaError(
            f"checkpoint {path} does not match a {type(model).__name__}: "
            + "; ".join(parts) + ". " + hint
        )
    wrong = [
        f"{k} {tuple(v.shape)} (expected {tuple(model_state[k].shape)})"
        for k, v in mapped.items() if tuple(v.shape) != tuple(model_state[k].shape)
    ]
    if wrong:
        raise LwaError(
            f"checkpoint {path} has parameters of the wrong shape for its configuration: "
            f"{listing(wrong, 4)}."
        )
    model.load_state_dict(mapped, strict=True)



_TO_FAIRSEQ: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r) for p, r in [
        (r"feature_extractor\.conv_layers\.(\d+)\.conv\.(weight|bias)",
         r"feature_extractor.conv_layers.\1.0.\2"),
        (r"feature_projection\.layer_norm\.(weight|bias)", r"layer_norm.\1"),
        (r"feature_projection\.projection\.(weight|bias)", r"post_extract_proj.\1"),
        (r"masked_spec_embed", "mask_emb"),
        (r"encoder\.pos_conv_embed\.conv\.bias", "encoder.pos_conv.0.bias"),
        (r"encoder\.pos_conv_embed\.layers\.(\d+)\.conv\.(weight|bias)",
         r"encoder.pos_conv.\1.0.\2"),
        (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
        (_L + r"attention\.(k|v|q|out)_proj\.(weight|bias)",
         r"encoder.layers.\1.self_attn.\2_proj.\3"),
        (_L + r"attention\.gru_rel_pos_linear\.(weight|bias)",
         r"encoder.layers.\1.self_attn.grep_linear.\2"),
        (_L + r"attention\.gru_rel_pos_const", r"encoder.layers.\1.self_attn.grep_a"),
        (_L + r"attention\.rel_attn_embed\.weight",
         r"encoder.layers.\1.self_attn.relative_attention_bias.weight"),
        (_L + r"layer_norm\.(weight|bias)", r"encoder.layers.\1.self_attn_layer_norm.\2"),
        (_L + r"feed_forward\.intermediate_dense\.(weight|bias)", r"encoder.layers.\1.fc1.\2"),
        (_L + r"feed_forward\.output_dense\.(weight|bias)", r"encoder.layers.\1.fc2.\2"),
        (_L + r"final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
    ]
]
_CONV_NORM = re.compile(r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)")
_WEIGHT_NORM = re.compile(
    r"encoder\.pos_conv_embed\.conv\.(?:weight_(g|v)|parametrizations\.weight\.original([01]))"
)


def fairseq_name(hf_key: str, *, conv_norm: str, weight_norm: str = "old") -> str:
    """The fairseq/unilm name of a transformers parameter (inverse of `hf_name`).

    Parameters
    ----------
    conv_norm : ``group`` (norm module at ``.2``) or ``layer`` (at ``.2.1``, after a transpose).
    weight_norm : ``old`` (``weight_g``/``weight_v``) or ``new`` (torch parametrizations).
    """
    norm = _CONV_NORM.fullmatch(hf_key)
    if norm:
        inner = "2" if conv_norm == "group" else "2.1"
        return f"feature_extractor.conv_layers.{norm.group(1)}.{inner}.{norm.group(2)}"
    wn = _WEIGHT_NORM.fullmatch(hf_key)
    if wn:
        is_g = wn.group(1) == "g" or wn.group(2) == "0"
        if weight_norm == "old":
            return "encoder.pos_conv.0.weight_g" if is_g else "encoder.pos_conv.0.weight_v"
        return f"encoder.pos_conv.0.parametrizations.weight.original{0 if is_g else 1}"
    for pattern, replacement in _TO_FAIRSEQ:
        if pattern.fullmatch(hf_key):
            return pattern.sub(replacement, hf_key)
    raise LwaError(f"transformers parameter {hf_key} has no fairseq name.")


def fairseq_state_dict(
    model: torch.nn.Module, *, weight_norm: str = "old", prefix: str = ""
) -> OrderedDict[str, torch.Tensor]:
    """A transformers model's parameters under fairseq/unilm names (cloned, on CPU)."""
    spec = spec_from_hf_config(model.config, name="export", normalize_input=False)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in model.state_dict().items():
        name = fairseq_name(key, conv_norm=spec.conv_norm, weight_norm=weight_norm)
        out[prefix + name] = value.detach().cpu().clone()
    return out

