"""AV-HuBERT used on audio alone, read from its released fairseq ``.pt``.

The checkpoint is a fairseq file (``cfg.model._name == "av_hubert"``, ``cfg.task`` with
``stack_order_audio`` and ``normalize``). Audio path, as the reference runs it: 26 log mel
filterbank energies every 10 ms (`lwa_cli.features.fbank`), 4 frames stacked to 104 values
per 40 ms frame, a layer norm over each frame (no affine), then ``feature_extractor_audio.proj``
Linear(104 -> D) = **T0**; a zero video half is concatenated (2D), ``layer_norm`` (2D),
``post_extract_proj`` Linear(2D -> D), and a pre-LN wav2vec2 transformer encoder whose raw
layer outputs are T1..TL. There are no conv layers. The video branch, the mask embedding and
the pre-training heads are known and not loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2EncoderStableLayerNorm

from lwa_cli.errors import LwaError
from lwa_cli.features.fbank import log_fbank, stack_frames
from lwa_cli.models.capture_taps import Taps
from lwa_cli.models.fairseq_config import _get, spec_from_config
from lwa_cli.models.fairseq_names import load_weights
from lwa_cli.models.registry import AVHUBERT_STACK, SAMPLE_RATE, ModelSpec

MODEL_NAME = "av_hubert"
AUDIO_DIM = 26 * AVHUBERT_STACK

# Checkpoint names outside the wav2vec2 layout, by the module's own names.
_RENAME = {
    "feature_extractor_audio.proj.weight": "audio_proj.weight",
    "feature_extractor_audio.proj.bias": "audio_proj.bias",
    "layer_norm.weight": "layer_norm.weight",
    "layer_norm.bias": "layer_norm.bias",
    "post_extract_proj.weight": "post_extract_proj.weight",
    "post_extract_proj.bias": "post_extract_proj.bias",
}
# Known and deliberately not loaded: video front end, masking, pre-training heads.
_SKIPPED = ("feature_extractor_video.", "mask_emb", "final_proj.", "label_embs_concat",
            "target_glu.", "decoder.", "encoder_proj.")


class AvHubertAudioModel(torch.nn.Module):
    """AV-HuBERT's audio path: projection, zero video half, LN, projection, pre-LN encoder."""

    def __init__(self, config: Any, audio_dim: int = AUDIO_DIM) -> None:
        super().__init__()
        dim = int(config.hidden_size)
        config._attn_implementation = "eager"  # the encoder runs outside a PreTrainedModel
        self.config = config
        self.audio_proj = torch.nn.Linear(audio_dim, dim)
        self.layer_norm = torch.nn.LayerNorm(2 * dim, eps=config.layer_norm_eps)
        self.post_extract_proj = torch.nn.Linear(2 * dim, dim)
        self.encoder = Wav2Vec2EncoderStableLayerNorm(config)

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        """Encoder output for stacked, normalised features (batch, frames, 104)."""
        audio = self.audio_proj(input_features)
        fused = torch.cat([audio, torch.zeros_like(audio)], dim=-1)
        hidden = self.post_extract_proj(self.layer_norm(fused))
        return self.encoder(hidden)[0]

    def lwa_taps(self) -> Taps:
        """T0 = the audio projection, T1..TL = encoder layers; no conv layers."""
        return Taps(layers=self.encoder.layers, t0=self.audio_proj)

    def lwa_inputs(self, wave: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        """Log filterbank (float64 -> float32), stacked by 4, layer norm per frame."""
        feats = log_fbank(np.asarray(wave, dtype=np.float64), SAMPLE_RATE).astype(np.float32)
        stacked = torch.from_numpy(stack_frames(feats, AVHUBERT_STACK)).to(device)
        normed = torch.nn.functional.layer_norm(stacked, stacked.shape[1:])
        return {"input_features": normed.unsqueeze(0)}


def build(spec: ModelSpec) -> AvHubertAudioModel:
    """An (untrained) AV-HuBERT audio path of ``spec``'s architecture."""
    return AvHubertAudioModel(replace(spec, family="wav2vec2").hf_config(mask_emb=False))


def is_checkpoint(ckpt: Mapping[str, Any]) -> bool:
    """Whether an unpickled fairseq checkpoint is an AV-HuBERT model."""
    cfg = ckpt.get("cfg")
    model = cfg.get("model") if isinstance(cfg, Mapping) else None
    return isinstance(model, Mapping) and _get(model, "_name", "") == MODEL_NAME


def spec_from_checkpoint(ckpt: Mapping[str, Any], *, name: str, path: Path) -> ModelSpec:
    """Architecture of an AV-HuBERT checkpoint (audio path only)."""
    model_cfg = ckpt["cfg"]["model"]
    task_cfg = ckpt["cfg"].get("task") or {}
    fuse = _get(model_cfg, "modality_fuse", "concat")
    stack = int(_get(task_cfg, "stack_order_audio", AVHUBERT_STACK))
    audio_dim = int(_get(model_cfg, "audio_feat_dim", AUDIO_DIM))
    sub_layers = int(_get(model_cfg, "sub_encoder_layers", 0))
    if fuse != "concat" or stack != AVHUBERT_STACK or audio_dim != AUDIO_DIM or sub_layers:
        raise LwaError(
            f"AV-HuBERT checkpoint {path} has modality_fuse {fuse!r}, stack_order_audio {stack}, "
            f"audio_feat_dim {audio_dim}, sub_encoder_layers {sub_layers}; lwa reads the "
            "released configuration (concat, 4, 104, 0)."
        )
    if not bool(_get(task_cfg, "normalize", True)):
        raise LwaError(f"AV-HuBERT checkpoint {path} has normalize false; lwa needs true.")
    base = spec_from_config(model_cfg, {}, family="wav2vec2", name=name, normalize=True)
    if not base.pre_ln:
        raise LwaError(f"AV-HuBERT checkpoint {path} is post-LN; lwa reads pre-LN encoders.")
    return replace(base, family="avhubert", hf_class="AvHubertAudioModel", conv_layers=(),
                   frame_rate_hz=SAMPLE_RATE / (160 * AVHUBERT_STACK), conv_norm="layer",
                   conv_bias=False)


def audio_state_dict(state: Any, path: Path) -> dict[str, torch.Tensor]:
    """Parameters of the audio path (fairseq names), the known others left out."""
    if not isinstance(state, Mapping) or not state:
        raise LwaError(f"checkpoint {path} has no 'model' state dict.")
    params = {}
    for raw, value in state.items():
        key = str(raw)
        if key.startswith(_SKIPPED):
            continue
        if not isinstance(value, torch.Tensor):
            raise LwaError(f"parameter {raw} of checkpoint {path} is not a tensor.")
        params[key] = value
    return params


def load(
    path: Path, ckpt: Mapping[str, Any], name: str
) -> tuple[AvHubertAudioModel, ModelSpec]:
    """Build the audio path of an unpickled AV-HuBERT checkpoint and load its weights."""
    spec = spec_from_checkpoint(ckpt, name=name, path=path)
    module = build(spec)
    load_weights(module, audio_state_dict(ckpt.get("model"), path), path, rename=_RENAME,
                 hint="Is it an AV-HuBERT checkpoint?")
    return module, spec
