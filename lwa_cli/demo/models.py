"""Tiny seeded checkpoints for the demo and the tests, one per checkpoint format.

* ``demo_wav2vec2``: a wav2vec 2.0 (group-norm conv, post-LN) as a Hugging Face directory;
* ``demo_hubert``: a HuBERT as an original fairseq ``.pt`` (with its pre-training heads);
* ``demo_wavlm``: a WavLM (layer-norm conv, pre-LN) as an original unilm ``.pt``;
* ``demo_whisper``: a Whisper (80 mel bins, width 32, 2 encoder layers, 30 s windows) as a
  Hugging Face `WhisperForConditionalGeneration` directory (its decoder is not loaded).

All use the real seven-block conv kernels and strides (20 ms frames) with few channels,
a width of 32 and 2–3 transformer layers, so that they run in milliseconds. They load back
through ``load_model(name, path)`` under their own (unregistered) names.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from lwa_cli.models import fairseq
from lwa_cli.models.loading import quiet_transformers
from lwa_cli.models.registry import FAMILY_CLASSES, STANDARD_CONV, ModelSpec, frame_rate, hf_classes

TINY_CONV: tuple[tuple[int, int, int], ...] = tuple((32, k, s) for _, k, s in STANDARD_CONV)
"""The standard conv stack with 32 channels."""


def tiny_spec(
    name: str,
    family: str,
    *,
    n_layers: int = 2,
    pre_ln: bool = False,
    conv_norm: str = "group",
    conv_bias: bool = False,
    normalize: bool = False,
) -> ModelSpec:
    """A tiny architecture (width 32, 4 heads) of a family, for demos and tests."""
    data2vec = family == "data2vec"
    return ModelSpec(
        name=name,
        family=family,
        hf_class=FAMILY_CLASSES[family][1],
        conv_layers=TINY_CONV,
        n_layers=n_layers,
        hidden_size=32,
        frame_rate_hz=frame_rate(TINY_CONV),
        normalize_input=normalize,
        pre_ln=pre_ln,
        conv_norm="layer" if data2vec else conv_norm,
        conv_bias=conv_bias,
        n_heads=4,
        ffn_dim=64,
        pos_conv_kernel=5 if data2vec else 16,
        pos_conv_groups=4,
        pos_conv_depth=2 if data2vec else 1,
        num_buckets=32,
        max_distance=64,
    )


def build_model(spec: ModelSpec, seed: int) -> torch.nn.Module:
    """A transformers model of ``spec`` with weights drawn from ``seed`` (eval mode)."""
    _, model_cls = hf_classes(spec.family)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(spec.hf_config(mask_emb=True))
    return model.eval()


def _write_hf_dir(dest: Path, model: Any, normalize: bool) -> Path:
    """Save a model and its feature-extractor config as a Hugging Face directory."""
    from transformers import Wav2Vec2FeatureExtractor

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=normalize,
        return_attention_mask=False,
    ).save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def tiny_whisper(seed: int, *, n_mels: int = 80, width: int = 32, n_layers: int = 2,
                 conditional: bool = True) -> Any:
    """A tiny seeded Whisper (`WhisperForConditionalGeneration`, or `WhisperModel`) with the
    real 30 s window (1500 positions) and a one-layer decoder (eval mode)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperModel

    config = WhisperConfig(
        num_mel_bins=n_mels, d_model=width, encoder_layers=n_layers, encoder_attention_heads=4,
        encoder_ffn_dim=4 * width, decoder_layers=1, decoder_attention_heads=4,
        decoder_ffn_dim=2 * width, vocab_size=64, max_target_positions=16,
        max_source_positions=1500, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1,
    )
    cls = WhisperForConditionalGeneration if conditional else WhisperModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.eval()


def write_whisper_dir(dest: Path, model: Any) -> Path:
    """Save a transformers Whisper model and its `WhisperFeatureExtractor` as a directory."""
    from transformers import WhisperFeatureExtractor

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_transformers():
        model.save_pretrained(str(tmp))
    WhisperFeatureExtractor(feature_size=model.config.num_mel_bins).save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def write_demo_models(dest: Path, seed: int = 0) -> dict[str, Path]:
    """Write the four demo checkpoints into ``dest``.

    Parameters
    ----------
    dest : directory to create (existing demo checkpoints in it are replaced).
    seed : base seed of the weights (each model adds its own offset).

    Returns
    -------
    ``{"demo_wav2vec2": <HF dir>, "demo_hubert": <fairseq .pt>, "demo_wavlm": <unilm .pt>,
    "demo_whisper": <HF dir>}``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    w2v = tiny_spec("demo_wav2vec2", "wav2vec2", n_layers=3)
    out[w2v.name] = _write_hf_dir(dest / w2v.name, build_model(w2v, seed), normalize=False)

    hubert = tiny_spec("demo_hubert", "hubert", n_layers=2)
    hubert_model = build_model(hubert, seed + 1)
    gen = torch.Generator().manual_seed(seed + 1)
    # HuBERT pre-training heads, stored as in a real checkpoint and skipped on loading.
    heads = {
        "final_proj.weight": torch.randn(16, hubert.hidden_size, generator=gen),
        "final_proj.bias": torch.zeros(16),
        "label_embs_concat": torch.randn(10, 16, generator=gen),
    }
    out[hubert.name] = fairseq.write_checkpoint(
        dest / f"{hubert.name}.pt", hubert_model, normalize=False, style="fairseq",
        extra_params=heads,
    )

    wavlm = tiny_spec("demo_wavlm", "wavlm", n_layers=2, pre_ln=True, conv_norm="layer",
                      normalize=True)
    out[wavlm.name] = fairseq.write_checkpoint(
        dest / f"{wavlm.name}.pt", build_model(wavlm, seed + 2), normalize=True, style="unilm",
    )
    out["demo_whisper"] = write_whisper_dir(dest / "demo_whisper", tiny_whisper(seed + 3))
    return out
