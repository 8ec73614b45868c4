"""`ModelSpec`: the architecture and input convention of one speech model.

A spec describes an architecture completely enough to build the matching transformers model
(`ModelSpec.hf_config`) and to check that a checkpoint is the model it claims to be
(`ModelSpec.arch_differences`). Specs come from registry entries (`models/registry.py`) or
are read from a checkpoint (`models/formats/`). Importing this module does not import torch
or transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SAMPLE_RATE = 16000
"""Input sampling rate (Hz) of every registered model."""

STANDARD_CONV: tuple[tuple[int, int, int], ...] = (
    ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
)
"""(channels, kernel, stride) of the seven conv blocks shared by all families (20 ms frames)."""

AVHUBERT_STACK = 4
"""Filterbank frames (10 ms) stacked into one AV-HuBERT input frame (40 ms)."""

FBANK_WINDOW = 400
"""Samples in one 25 ms filterbank window at 16 kHz (AV-HuBERT's shortest input)."""

FBANK_HOP = 160
"""Samples between filterbank windows (10 ms)."""

W2V_BERT_STACK = 2
"""Filterbank frames (10 ms) stacked into one w2v-BERT input frame (20 ms)."""

W2V_BERT_MELS = 80
"""Mel bins of w2v-BERT's filterbank (160 = 80 x 2 projection inputs)."""

ARCH_FIELDS: tuple[str, ...] = ("family", "conv_layers", "n_layers", "hidden_size", "pre_ln",
                                "hf_extra", "n_mels")
"""Fields a checkpoint must share with the registry entry it is loaded under."""


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and input convention of one speech model.

    Attributes
    ----------
    name : registry name (or the user's name for an unregistered checkpoint).
    family : ``wav2vec2``, ``hubert``, ``wavlm``, ``data2vec``, ``unispeech_sat``,
        ``wav2vec2_conformer``, ``w2v_bert`` (`hf_families.HF_FAMILIES`), ``fastvgs``,
        ``avhubert``, ``whisper`` or ``generic`` (`formats.hf_generic`).
    hf_class : name of the transformers base model class.
    conv_layers : (channels, kernel, stride) of each conv block; empty for a model without
        C layers (AV-HuBERT, w2v-BERT: a filterbank front end; the generic path).
    n_layers : number of transformer layers L exposed as T1..TL (T0..TL exist).
    hidden_size : transformer width.
    frame_rate_hz : output frames per second of the conv stack.
    normalize_input : whether the waveform is standardised before the model.
    pre_ln : whether the encoder is pre-LN (layer norm first, final layer norm at the end).
    conv_norm : ``group`` (group norm in block 1 only) or ``layer`` (layer norm in every block).
    conv_bias : whether the conv blocks have biases.
    n_heads, ffn_dim : attention heads and feed-forward width.
    pos_conv_kernel, pos_conv_groups, pos_conv_depth : positional convolution
        (kernel per layer, groups, number of stacked conv layers).
    num_buckets, max_distance : WavLM relative-position buckets.
    activation : feed-forward activation (transformers name).
    random : weights are random (seeded), not trained.
    description : the published checkpoint this entry stands for.
    display_name : the name papers print (registry entries; empty for a checkpoint's spec).
    encoder_layers : transformer layers the model has when more than it exposes (FaST-VGS:
        12 built, the first 8 trained and exposed); None means ``n_layers``.
    hf_extra : family-specific transformers config values as sorted (name, value) pairs
        (conformer position embeddings, w2v-BERT front end, the generic path's measured
        stride); empty for the wav2vec2/HuBERT/WavLM/data2vec families.
    n_mels : mel bins of a Whisper encoder's input (80 or 128); 0 for other families.
    """

    name: str
    family: str
    hf_class: str
    conv_layers: tuple[tuple[int, int, int], ...]
    n_layers: int
    hidden_size: int
    frame_rate_hz: float
    normalize_input: bool
    pre_ln: bool
    conv_norm: str = "group"
    conv_bias: bool = False
    n_heads: int = 12
    ffn_dim: int = 3072
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    pos_conv_depth: int = 1
    num_buckets: int = 320
    max_distance: int = 800
    activation: str = "gelu"
    random: bool = False
    description: str = ""
    encoder_layers: int | None = None
    display_name: str = ""
    hf_extra: tuple[tuple[str, Any], ...] = ()
    n_mels: int = 0

    @property
    def n_conv(self) -> int:
        """Number of conv blocks (C1..Cn); 0 for a model without conv layers."""
        return len(self.conv_layers)

    @property
    def has_conv_layers(self) -> bool:
        """Whether the model has C layers (and hence a ``frame-local`` representation)."""
        return bool(self.conv_layers)

    @property
    def n_encoder_layers(self) -> int:
        """Transformer layers the model is built with (at least the exposed ones)."""
        return self.encoder_layers if self.encoder_layers is not None else self.n_layers

    @property
    def frame_period_s(self) -> float:
        """Seconds between output frames (0.02 for the conv stack, 0.04 for AV-HuBERT)."""
        return 1.0 / self.frame_rate_hz

    @property
    def receptive_field(self) -> int:
        """Samples that produce one output frame (400 for the standard stack)."""
        if self.family == "w2v_bert":  # W2V_BERT_STACK filterbank windows
            return FBANK_WINDOW + FBANK_HOP * (W2V_BERT_STACK - 1)
        if self.family == "generic":
            return max(FBANK_WINDOW, int(dict(self.hf_extra)["stride_samples"]))
        if not self.conv_layers:
            return FBANK_WINDOW
        if self.family == "whisper":  # any audio gives a frame (zero-padded to 30 s)
            return 1
        field, jump = 1, 1
        for _, kernel, stride in self.conv_layers:
            field += (kernel - 1) * jump
            jump *= stride
        return field

    def n_frames(self, n_samples: int) -> int:
        """Number of output frames for a waveform of ``n_samples`` samples.

        Without conv layers: AV-HuBERT stacks 4 filterbank frames (the last one zero-padded);
        w2v-BERT stacks 2 and leaves out the half-padding frame `SeamlessM4TFeatureExtractor`
        adds to an odd count, ``(1 + (n - 400) // 160) // 2``; the generic path estimates
        ``n1 + (n - 16000) // s`` from its measured stride s and frame count n1 at 1 s
        (within a frame; the pipeline pools on the frames the model outputs). Whisper: 10 ms
        mel, conv2 stride 2, 30 s windows (`lwa_cli.models.whisper`): ``ceil(n / 320)``.
        """
        if self.family == "whisper":
            return max(0, -(-n_samples // 320))
        if self.family == "w2v_bert":
            if n_samples < FBANK_WINDOW:
                return 0
            return (1 + (n_samples - FBANK_WINDOW) // FBANK_HOP) // W2V_BERT_STACK
        if self.family == "generic":
            extra = dict(self.hf_extra)
            return max(0, int(extra["frames_at_1s"])
                       + (n_samples - SAMPLE_RATE) // int(extra["stride_samples"]))
        if not self.conv_layers:  # filterbank frames (last one zero-padded), then stacked
            if n_samples <= 0:
                return 0
            fbank = 1 + max(0, -(-(n_samples - FBANK_WINDOW) // FBANK_HOP))
            return -(-fbank // AVHUBERT_STACK)
        length = n_samples
        for _, kernel, stride in self.conv_layers:
            length = (length - kernel) // stride + 1
        return max(length, 0)

    def arch_differences(self, other: ModelSpec) -> list[str]:
        """Describe the architecture fields (`ARCH_FIELDS`) in which ``other`` differs.

        Returns
        -------
        One ``"field: mine vs other"`` string per differing field; empty when they match.
        """
        out = []
        for field in ARCH_FIELDS:
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                out.append(f"{field} {_show(theirs)} (registry {self.name}: {_show(mine)})")
        return out

    def hf_config(self, *, mask_emb: bool = True) -> Any:
        """Build the transformers config of this architecture (eval settings, no layerdrop).

        Parameters
        ----------
        mask_emb : create the masked-spec embedding parameter (the checkpoint has ``mask_emb``).
        """
        if self.family == "whisper":
            from lwa_cli.models.whisper import whisper_config

            return whisper_config(self)
        from lwa_cli.models.hf_families import build_config

        return build_config(self, mask_emb=mask_emb)


def _show(value: Any) -> str:
    """Short text of a spec field for error messages."""
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return "[" + ", ".join("(" + ",".join(map(str, v)) + ")" for v in value) + "]"
    return str(value)


def frame_rate(conv_layers: tuple[tuple[int, int, int], ...]) -> float:
    """Output frame rate (Hz) of a conv stack at 16 kHz input (25 Hz without one: AV-HuBERT)."""
    if not conv_layers:
        return SAMPLE_RATE / (FBANK_HOP * AVHUBERT_STACK)
    return SAMPLE_RATE / math.prod(stride for _, _, stride in conv_layers)


