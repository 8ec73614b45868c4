"""fairseq/unilm checkpoint configuration: a ``.pt`` file read into a `ModelSpec`.

The model and task configuration (hydra ``cfg.model``/``cfg.task``, old ``args``
namespaces, WavLM's flat ``cfg`` dict, fine-tuned ``w2v_args``) becomes a `ModelSpec`;
the state dict is kept with fairseq names (see `fairseq_names` for the mapping).
`spec_from_config` is shared by every family whose configuration uses fairseq's
wav2vec 2.0 field names (FaST-VGS's ``args.pkl``, AV-HuBERT's ``cfg.model``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.registry import (
    FAMILY_CLASSES,
    STANDARD_CONV,
    ModelSpec,
    frame_rate,
)
from lwa_cli.models.safe_pickle import to_plain, torch_load

FINETUNED_PREFIX = "w2v_encoder.w2v_model."
"""Prefix of the pre-trained encoder inside fine-tuned (CTC / seq2seq) checkpoints."""

# Parameters that only serve pre-training (quantizer, contrastive/cluster heads, EMA teacher)
# or a fine-tuning head: known, and deliberately not loaded.
SKIPPED_PREFIXES: tuple[str, ...] = (
    "quantizer.",
    "project_q.",
    "project_inp.",
    "final_proj.",
    "label_embs_concat",
    "target_glu.",
    "_ema",
    "ema.",
    "w2v_encoder.proj.",
    "w2v_encoder.proj_ln.",
    "decoder.",
)

_MISSING = object()


def read_checkpoint_file(path: Path) -> dict[str, Any]:
    """Unpickle a ``.pt`` file safely (tensors on CPU) and make its config plain data.

    Raises
    ------
    LwaError : unreadable file, a pickled callable outside the allow-list, or not a dict.
    """
    obj = torch_load(path, what="a complete fairseq/unilm .pt file")
    if not isinstance(obj, Mapping):
        raise LwaError(
            f"checkpoint {path} holds a {type(obj).__name__}, not a fairseq/unilm checkpoint "
            "dict with 'model' and 'cfg'/'args'."
        )
    out = dict(obj)
    for key in ("cfg", "args"):
        if key in out:
            out[key] = to_plain(out[key])
    return out


@dataclass(frozen=True)
class FairseqCheckpoint:
    """A fairseq/unilm checkpoint read into plain data.

    Attributes
    ----------
    spec : architecture (named as requested) and the checkpoint's normalize flag.
    normalize : the checkpoint's own normalize flag, None when it has none.
    state_dict : encoder parameters with fairseq names (fine-tuning prefix removed).
    skipped : names of known pre-training/fine-tuning parameters that are not loaded.
    style : ``fairseq`` or ``unilm``.
    """

    spec: ModelSpec
    normalize: bool | None
    state_dict: dict[str, torch.Tensor]
    skipped: tuple[str, ...]
    style: str


def _get(cfg: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    """A config value, treating None, omegaconf's ``???`` and ``${...}`` as absent."""
    value = cfg.get(key, _MISSING)
    if value is None or value is _MISSING or (
        isinstance(value, str) and (value == "???" or value.startswith("${"))
    ):
        return default
    return value


def parse_conv_layers(text: Any) -> tuple[tuple[int, int, int], ...]:
    """Parse fairseq's ``conv_feature_layers`` (e.g. ``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``).

    Only list/tuple literals of integers, ``+`` and ``*`` are evaluated (no ``eval``).
    """
    if isinstance(text, (list, tuple)):
        value: Any = text
    else:
        try:
            value = _eval_literal(ast.parse(str(text), mode="eval").body)
        except (SyntaxError, ValueError) as exc:
            raise LwaError(
                f"cannot read conv_feature_layers {text!r} of the checkpoint: {exc}."
            ) from None
    try:
        layers = tuple((int(d), int(k), int(s)) for d, k, s in value)
    except (TypeError, ValueError):
        raise LwaError(f"conv_feature_layers {text!r} is not a list of (dim, kernel, stride).") \
            from None
    if not layers:
        raise LwaError("conv_feature_layers of the checkpoint is empty.")
    return layers


def _eval_literal(node: ast.AST) -> Any:
    """Evaluate a list/tuple/int expression with ``+`` and ``*`` only."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.List):
        return [_eval_literal(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_eval_literal(e) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _eval_literal(node.left), _eval_literal(node.right)
        return left + right if isinstance(node.op, ast.Add) else left * right
    raise ValueError(f"unsupported expression {ast.dump(node)}")


_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_new",
                "gelu_fast": "gelu_new", "tanh": "tanh", "linear": "linear"}
_ACTIVATIONS_BACK = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_accurate",
                     "gelu_pytorch_tanh": "gelu_accurate", "tanh": "tanh", "linear": "linear"}
_FAMILY_NAMES = {"wav2vec2": "wav2vec2", "hubert": "hubert", "data2vec": "data2vec_audio",
                 "wavlm": "wavlm"}
_DATA2VEC_POS = re.compile(r"encoder\.pos_conv\.(\d+)\.0\.weight")


def _split_config(ckpt: Mapping[str, Any], path: Path) -> tuple[dict, dict, str]:
    """(model config, task config, style) of a checkpoint, fine-tuning unwrapped."""
    cfg, args = ckpt.get("cfg"), ckpt.get("args")
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model_cfg, task_cfg, style = cfg["model"], cfg.get("task") or {}, "fairseq"
    elif isinstance(cfg, dict) and "encoder_layers" in cfg:
        model_cfg, task_cfg, style = cfg, cfg, "unilm"  # WavLM: one flat dict
    elif isinstance(args, dict):
        model_cfg, task_cfg, style = args, args, "fairseq"  # pre-hydra argparse namespace
    else:
        raise LwaError(
            f"checkpoint {path} has no model configuration ('cfg' with 'model', WavLM's flat "
            "'cfg', or 'args'); it is not a fairseq/unilm checkpoint."
        )
    if not isinstance(task_cfg, dict):
        task_cfg = {}
    if "w2v_args" in model_cfg or "w2v_path" in model_cfg:
        inner = model_cfg.get("w2v_args")
        if not isinstance(inner, dict):
            raise LwaError(
                f"fine-tuned checkpoint {path} does not embed its pre-training configuration "
                "(w2v_args); convert it to a Hugging Face directory or use the pre-trained .pt."
            )
        inner_model = inner["model"] if isinstance(inner.get("model"), dict) else inner
        inner_task = inner["task"] if isinstance(inner.get("task"), dict) else inner
        if _get(task_cfg, "normalize", None) is None:
            task_cfg = inner_task
        model_cfg = inner_model
    return model_cfg, task_cfg, style


def _detect_family(model_cfg: Mapping[str, Any], keys: list[str], style: str) -> str:
    """Model family from the config name and the parameter names."""
    name = str(_get(model_cfg, "_name", "") or _get(model_cfg, "arch", "")).lower()
    if style == "unilm" or any("grep_linear" in k or "relative_attention_bias" in k for k in keys):
        return "wavlm"
    if "data2vec" in name or any(_DATA2VEC_POS.fullmatch(k) for k in keys):
        return "data2vec"
    if "hubert" in name or "label_embs_concat" in keys:
        return "hubert"
    if "wav2vec" in name or not name:
        return "wav2vec2"
    raise LwaError(
        f"checkpoint model type {name!r} is not supported; lwa reads wav2vec 2.0, XLSR/XLS-R, "
        "HuBERT, WavLM and data2vec-audio checkpoints."
    )


def spec_from_config(
    model_cfg: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    *,
    family: str,
    name: str,
    normalize: bool,
) -> ModelSpec:
    """Architecture of a fairseq/unilm model config (fairseq defaults for absent keys).

    The data2vec positional convolution (depth, kernel) is read from its weights, which
    are unambiguous, rather than from config keys that changed name between versions.
    """
    mode = _get(model_cfg, "extractor_mode", "default")
    if mode not in ("default", "layer_norm"):
        raise LwaError(f"conv extractor mode {mode!r} is not supported (default, layer_norm).")
    layer_type = _get(model_cfg, "layer_type", "transformer")
    if layer_type != "transformer":
        raise LwaError(f"encoder layer type {layer_type!r} is not supported (transformer only).")
    activation = _get(model_cfg, "activation_fn", "gelu")
    if activation not in _ACTIVATIONS:
        raise LwaError(f"activation {activation!r} of the checkpoint is not supported.")
    hidden = int(_get(model_cfg, "encoder_embed_dim", 768))
    conv = parse_conv_layers(_get(model_cfg, "conv_feature_layers", list(STANDARD_CONV)))
    conv_pos = int(_get(model_cfg, "conv_pos", 128))
    depth = int(_get(model_cfg, "pos_conv_depth", 1))
    if family == "data2vec":
        layer_ids = sorted(int(m.group(1)) for k in state_dict if (m := _DATA2VEC_POS.fullmatch(k)))
        if layer_ids:
            depth = len(layer_ids)
            conv_pos = int(state_dict[f"encoder.pos_conv.{layer_ids[0]}.0.weight"].shape[-1])
        elif depth > 1:
            conv_pos = max(3, conv_pos // depth)
    elif depth != 1:
        raise LwaError(f"a {depth}-layer positional convolution is only supported for data2vec.")
    pre_ln = bool(_get(model_cfg, "layer_norm_first", False))
    conv_norm = "group" if mode == "default" else "layer"
    if family == "data2vec" and (pre_ln or conv_norm != "layer"):
        raise LwaError("data2vec-audio checkpoints must be post-LN with layer-norm conv blocks.")
    if family == "wavlm" and not _get(model_cfg, "gru_rel_pos", True):
        raise LwaError("WavLM checkpoints without gated relative positions are not supported.")
    return ModelSpec(
        name=name,
        family=family,
        hf_class=_hf_class(family),
        conv_layers=conv,
        n_layers=int(_get(model_cfg, "encoder_layers", 12)),
        hidden_size=hidden,
        frame_rate_hz=frame_rate(conv),
        normalize_input=normalize,
        pre_ln=pre_ln,
        conv_norm=conv_norm,
        conv_bias=bool(_get(model_cfg, "conv_bias", False)),
        n_heads=int(_get(model_cfg, "encoder_attention_heads", 12)),
        ffn_dim=int(_get(model_cfg, "encoder_ffn_embed_dim", 3072)),
        pos_conv_kernel=conv_pos,
        pos_conv_groups=int(_get(model_cfg, "conv_pos_groups", 16)),
        pos_conv_depth=depth,
        num_buckets=int(_get(model_cfg, "num_buckets", 320)),
        max_distance=int(_get(model_cfg, "max_distance", 800)),
        activation=_ACTIVATIONS[activation],
    )


def _hf_class(family: str) -> str:
    """transformers base model class name of a family."""
    return FAMILY_CLASSES[family][1]


def _strip_prefix(
    state_dict: Mapping[str, Any], path: Path
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Encoder parameters (fine-tuning prefix removed) and skipped parameter names."""
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise LwaError(f"checkpoint {path} has no 'model' state dict.")
    finetuned = any(str(k).startswith(FINETUNED_PREFIX) for k in state_dict)
    params: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, value in state_dict.items():
        key = str(key)
        if finetuned:
            if key.startswith(FINETUNED_PREFIX):
                key = key[len(FINETUNED_PREFIX):]
            elif not key.startswith(SKIPPED_PREFIXES):
                params[key] = value  # reported as unknown by `load_weights`
                continue
        if key.startswith(SKIPPED_PREFIXES):
            skipped.append(key)
            continue
        if not isinstance(value, torch.Tensor):
            raise LwaError(f"parameter {key} of checkpoint {path} is not a tensor.")
        params[key] = value
    return params, skipped


def read_checkpoint(
    path: Path, *, name: str, default_normalize: bool = False,
    raw: Mapping[str, Any] | None = None,
) -> FairseqCheckpoint:
    """Read a fairseq/unilm ``.pt`` into an architecture and a fairseq-named state dict.

    Parameters
    ----------
    path : the ``.pt`` file.
    name : the model's name in the workspace (becomes ``spec.name``).
    default_normalize : normalize flag used when the checkpoint has none.
    raw : the file already read with `read_checkpoint_file` (it is not read again).
    """
    ckpt = read_checkpoint_file(path) if raw is None else raw
    model_cfg, task_cfg, style = _split_config(ckpt, path)
    params, skipped = _strip_prefix(ckpt.get("model"), path)
    normalize_raw = _get(task_cfg, "normalize", None)
    normalize = None if normalize_raw is None else bool(normalize_raw)
    family = _detect_family(model_cfg, list(params), style)
    spec = spec_from_config(
        model_cfg, params, family=family, name=name,
        normalize=default_normalize if normalize is None else normalize,
    )
    return FairseqCheckpoint(spec, normalize, params, tuple(skipped), style)

