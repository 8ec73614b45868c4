"""Registry entries of the published Whisper encoders (imported by `models/registry.py`).

Kept apart from the registry's wav2vec 2.0-style entries: a Whisper encoder has two conv
layers at 10 and 20 ms, a pre-LN encoder and 30 s windows (models/whisper.py). Importing this
module does not import torch or transformers.
"""

from __future__ import annotations

from lwa_cli.models.spec import ModelSpec

WHISPER_CLASS = "WhisperAudioModel"
"""lwa's module around transformers' `WhisperEncoder` (models/whisper.py), family ``whisper``."""


def _whisper_entry(name: str, width: int, n_layers: int, n_heads: int, n_mels: int,
                   display: str, source: str) -> ModelSpec:
    """A Whisper encoder (published dims): C1 10 ms, C2 + T0..TL 20 ms, pre-LN, 30 s windows."""
    return ModelSpec(
        name=name, family="whisper", hf_class=WHISPER_CLASS,
        conv_layers=((width, 3, 1), (width, 3, 2)), n_layers=n_layers, hidden_size=width,
        frame_rate_hz=50.0, normalize_input=False, pre_ln=True, conv_norm="none",
        conv_bias=True, n_heads=n_heads, ffn_dim=4 * width, n_mels=n_mels,
        description=f"{display} encoder ({source}; HF openai/{name.replace('_', '-')} "
                    f"or the openai-whisper .pt)",
        display_name=display,
    )


WHISPER_ENTRIES: tuple[ModelSpec, ...] = (
    _whisper_entry("whisper_tiny", 384, 4, 6, 80, "Whisper tiny", "tiny.pt"),
    _whisper_entry("whisper_base", 512, 6, 8, 80, "Whisper base", "base.pt"),
    _whisper_entry("whisper_small", 768, 12, 12, 80, "Whisper small", "small.pt"),
    _whisper_entry("whisper_medium", 1024, 24, 16, 80, "Whisper medium", "medium.pt"),
    _whisper_entry("whisper_large_v2", 1280, 32, 20, 80, "Whisper large-v2", "large-v2.pt"),
    _whisper_entry("whisper_large_v3", 1280, 32, 20, 128, "Whisper large-v3", "large-v3.pt"),
    _whisper_entry("whisper_large_v3_turbo", 1280, 32, 20, 128, "Whisper large-v3-turbo",
                   "large-v3-turbo.pt"),
)
"""The Whisper encoders, smallest first (each gets a ``*_random`` twin in the registry)."""
