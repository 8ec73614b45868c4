"""Original fairseq / unilm checkpoints (``.pt``) without fairseq installed.

Reading a checkpoint has three steps, each in its own module:

1. `safe_pickle`: ``torch.load`` with a restricted unpickler (tensors and inert config
   records only; any other global is refused).
2. `fairseq_config`: the model and task configuration becomes a `ModelSpec`; the state dict
   is kept with fairseq names.
3. `fairseq_names`: fairseq names are mapped onto the transformers modules and loaded
   strictly.

This module writes the inverse (`fairseq_model_config`, `write_checkpoint`: a transformers
model in fairseq or unilm format, for the demo models and the tests) and re-exports the
reading API under its historical names.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.fairseq_config import (
    _ACTIVATIONS_BACK,
    _FAMILY_NAMES,
    FINETUNED_PREFIX,
    SKIPPED_PREFIXES,
    FairseqCheckpoint,
    parse_conv_layers,
    read_checkpoint,
    read_checkpoint_file,
    spec_from_config,
)
from lwa_cli.models.fairseq_names import (
    fairseq_name,
    fairseq_state_dict,
    hf_name,
    load_weights,
)
from lwa_cli.models.registry import ModelSpec, spec_from_hf_config
from lwa_cli.models.safe_pickle import (
    RESTRICTED_PICKLE,
    PickledRecord,
    RefusedGlobalError,
    RestrictedUnpickler,
    to_plain,
)

__all__ = [
    "FINETUNED_PREFIX", "RESTRICTED_PICKLE", "SKIPPED_PREFIXES", "FairseqCheckpoint",
    "PickledRecord", "RefusedGlobalError", "RestrictedUnpickler", "fairseq_model_config",
    "fairseq_name", "fairseq_state_dict", "hf_name", "load_weights", "parse_conv_layers",
    "read_checkpoint", "read_checkpoint_file", "spec_from_config", "to_plain",
    "write_checkpoint",
]


def fairseq_model_config(spec: ModelSpec) -> dict[str, Any]:
    """The fairseq/unilm model configuration (plain dict) of an architecture."""
    conv = "[" + ", ".join(f"({d}, {k}, {s})" for d, k, s in spec.conv_layers) + "]"
    cfg: dict[str, Any] = {
        "_name": _FAMILY_NAMES[spec.family],
        "extractor_mode": "default" if spec.conv_norm == "group" else "layer_norm",
        "conv_feature_layers": conv,
        "conv_bias": spec.conv_bias,
        "encoder_layers": spec.n_layers,
        "encoder_embed_dim": spec.hidden_size,
        "encoder_ffn_embed_dim": spec.ffn_dim,
        "encoder_attention_heads": spec.n_heads,
        "activation_fn": _ACTIVATIONS_BACK.get(spec.activation, spec.activation),
        "layer_norm_first": spec.pre_ln,
        "layer_type": "transformer",
        "conv_pos": spec.pos_conv_kernel * spec.pos_conv_depth,
        "conv_pos_groups": spec.pos_conv_groups,
        "pos_conv_depth": spec.pos_conv_depth,
        "encoder_layerdrop": 0.05,
        "dropout": 0.1,
    }
    if spec.family == "wavlm":
        cfg.update(relative_position_embedding=True, num_buckets=spec.num_buckets,
                   max_distance=spec.max_distance, gru_rel_pos=True)
    return cfg


def write_checkpoint(
    path: Path,
    model: torch.nn.Module,
    *,
    normalize: bool,
    style: str = "fairseq",
    config_format: str = "dict",
    weight_norm: str = "old",
    finetuned: bool = False,
    extra_params: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Save a transformers model as an original fairseq or unilm ``.pt`` checkpoint.

    Parameters
    ----------
    path : destination file.
    model : a Wav2Vec2/Hubert/WavLM/Data2VecAudio base model.
    normalize : the task's normalize flag to record.
    style : ``fairseq`` (``cfg.model``/``cfg.task``) or ``unilm`` (WavLM's flat ``cfg`` dict).
    config_format : fairseq style only: ``dict`` (nested dicts), ``namespace`` (``cfg`` whose
        model and task are `argparse.Namespace` objects) or ``args`` (old top-level ``args``).
    weight_norm : positional-conv weight-norm names, ``old`` or ``new`` (parametrizations).
    finetuned : nest the encoder under ``w2v_encoder.w2v_model.`` as a CTC model would.
    extra_params : more parameters to store as they are (pre-training heads, CTC head).
    """
    spec = spec_from_hf_config(model.config, name="export", normalize_input=normalize)
    state = fairseq_state_dict(
        model, weight_norm=weight_norm, prefix=FINETUNED_PREFIX if finetuned else ""
    )
    for key, value in (extra_params or {}).items():
        state[key] = value.detach().cpu().clone()
    model_cfg = fairseq_model_config(spec)
    task_cfg = {"_name": "audio_pretraining", "normalize": normalize, "sample_rate": 16000}
    if style == "unilm":
        flat = {k: v for k, v in model_cfg.items() if k != "_name"}
        ckpt: dict[str, Any] = {"cfg": {**flat, "normalize": normalize}, "model": state}
    elif style == "fairseq":
        if finetuned:
            model_cfg = {"_name": "wav2vec_ctc", "w2v_path": "pretrained.pt",
                         "w2v_args": {"model": model_cfg, "task": task_cfg}}
        if config_format == "dict":
            cfg: Any = {"model": model_cfg, "task": task_cfg}
            ckpt = {"args": None, "cfg": cfg, "model": state}
        elif config_format == "namespace":
            cfg = {"model": _namespace(model_cfg), "task": argparse.Namespace(**task_cfg)}
            ckpt = {"args": None, "cfg": cfg, "model": state}
        elif config_format == "args":
            flat = {k: v for k, v in {**model_cfg, **task_cfg}.items() if k != "_name"}
            args = argparse.Namespace(arch=model_cfg["_name"], task=task_cfg["_name"], **flat)
            ckpt = {"args": args, "model": state}
        else:
            raise LwaError(f"unknown config_format {config_format!r} (dict, namespace, args).")
        ckpt.update(optimizer_history=[], extra_state={"epoch": 1}, last_optimizer_state=None)
    else:
        raise LwaError(f"unknown checkpoint style {style!r} (fairseq, unilm).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def _namespace(cfg: Mapping[str, Any]) -> argparse.Namespace:
    """A nested `argparse.Namespace` of a nested dict."""
    return argparse.Namespace(
        **{k: _namespace(v) if isinstance(v, Mapping) else v for k, v in cfg.items()}
    )
