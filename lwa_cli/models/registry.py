"""The model registry: every supported speech model and its architecture, in one place.

A `ModelSpec` describes an architecture completely enough to build the matching
transformers model (`hf_config`) and to check that a checkpoint is the model it claims
to be (`arch_differences`). Registry entries are the published pre-trained models the
reference toolkit analyses; `*_random` entries have the same architecture with seeded
random weights. Importing this module does not import torch or transformers, so that
`lwa models` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

SAMPLE_RATE = 16000
"""Input sampling rate (Hz) of every registered model."""

STANDARD_CONV: tuple[tuple[int, int, int], ...] = (
    ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
)
"""(channels, kernel, stride) of the seven conv blocks shared by all families (20 ms frames)."""

# family -> (transformers config class, transformers base model class)
FAMILY_CLASSES: dict[str, tuple[str, str]] = {
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "hubert": ("HubertConfig", "HubertModel"),
    "wavlm": ("WavLMConfig", "WavLMModel"),
    "data2vec": ("Data2VecAudioConfig", "Data2VecAudioModel"),
    # FaST-VGS's audio branch is a wav2vec2 model plus a CLS vector (models/fastvgs.py);
    # AV-HuBERT's audio path a filterbank front end and a pre-LN wav2vec2 encoder
    # (models/avhubert.py). Both are configured through a Wav2Vec2Config.
    "fastvgs": ("Wav2Vec2Config", "FastVgsAudioModel"),
    "avhubert": ("Wav2Vec2Config", "AvHubertAudioModel"),
}

CUSTOM_FAMILIES = ("fastvgs", "avhubert")
"""Families built by lwa's own modules around transformers parts (not a transformers class)."""

AVHUBERT_STACK = 4
"""Filterbank frames (10 ms) stacked into one AV-HuBERT input frame (40 ms)."""

FBANK_WINDOW = 400
"""Samples in one 25 ms filterbank window at 16 kHz (AV-HuBERT's shortest input)."""

FBANK_HOP = 160
"""Samples between filterbank windows (10 ms)."""

# transformers `config.model_type` -> family
HF_MODEL_TYPES: dict[str, str] = {
    "wav2vec2": "wav2vec2",
    "hubert": "hubert",
    "wavlm": "wavlm",
    "data2vec-audio": "data2vec",
}

ARCH_FIELDS: tuple[str, ...] = ("family", "conv_layers", "n_layers", "hidden_size", "pre_ln",
                                 "n_mels")
"""Fields a checkpoint must share with the registry entry it is loaded under."""


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and input convention of one speech model.

    Attributes
    ----------
    name : registry name (or the user's name for an unregistered checkpoint).
    family : ``wav2vec2``, ``hubert``, ``wavlm``, ``data2vec``, ``fastvgs`` or ``avhubert``.
    hf_class : name of the transformers base model class.
    conv_layers : (channels, kernel, stride) of each conv block; empty for AV-HuBERT, whose
        front end is a filterbank (no C layers).
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
    encoder_layers : transformer layers the model has when more than it exposes (FaST-VGS:
        12 built, the first 8 trained and exposed); None means ``n_layers``.
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
        """Number of output frames for a waveform of ``n_samples`` samples."""
        if self.family == "whisper":  # 10 ms mel, conv2 stride 2, 30 s windows: models/whisper
            return max(0, -(-n_samples // 320))
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
        import transformers

        if self.family == "whisper":
            from lwa_cli.models.whisper import whisper_config

            return whisper_config(self)
        config_name, _ = FAMILY_CLASSES[self.family]
        config_cls = getattr(transformers, config_name)
        # AV-HuBERT has no conv stack; its config's (unused) conv fields keep their defaults.
        dims, kernels, strides = zip(*(self.conv_layers or STANDARD_CONV), strict=True)
        kwargs: dict[str, Any] = {
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.n_encoder_layers,
            "num_attention_heads": self.n_heads,
            "intermediate_size": self.ffn_dim,
            "hidden_act": self.activation,
            "feat_extract_activation": "gelu",
            "conv_dim": list(dims),
            "conv_kernel": list(kernels),
            "conv_stride": list(strides),
            "conv_bias": self.conv_bias,
            "num_conv_pos_embedding_groups": self.pos_conv_groups,
            "layer_norm_eps": 1e-5,
            "layerdrop": 0.0,
            "mask_time_prob": 0.05 if mask_emb else 0.0,
            "mask_feature_prob": 0.0,
        }
        if self.family == "data2vec":
            # transformers names the number of stacked positional conv layers
            # `num_conv_pos_embeddings` for data2vec-audio.
            kwargs["conv_pos_kernel_size"] = self.pos_conv_kernel
            kwargs["num_conv_pos_embeddings"] = self.pos_conv_depth
        else:
            kwargs["num_conv_pos_embeddings"] = self.pos_conv_kernel
            kwargs["feat_extract_norm"] = self.conv_norm
            kwargs["do_stable_layer_norm"] = self.pre_ln
        if self.family == "hubert":
            kwargs["feat_proj_layer_norm"] = True
        if self.family == "wavlm":
            kwargs["num_buckets"] = self.num_buckets
            kwargs["max_bucket_distance"] = self.max_distance
        return config_cls(**kwargs)


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


def hf_classes(family: str) -> tuple[Any, Any]:
    """The transformers (config class, base model class) of a family."""
    import transformers

    config_name, model_name = FAMILY_CLASSES[family]
    return getattr(transformers, config_name), getattr(transformers, model_name)


def spec_from_hf_config(
    config: Any, *, name: str, normalize_input: bool, random: bool = False
) -> ModelSpec:
    """Describe the architecture of a transformers config as a `ModelSpec`.

    Parameters
    ----------
    config : a Wav2Vec2/Hubert/WavLM/Data2VecAudio config.
    name : the model's name in the workspace.
    normalize_input : whether the waveform is standardised for this checkpoint.
    random : the weights are random.
    """
    family = HF_MODEL_TYPES[config.model_type]
    conv = tuple(
        (int(d), int(k), int(s))
        for d, k, s in zip(config.conv_dim, config.conv_kernel, config.conv_stride, strict=True)
    )
    if family == "data2vec":
        pos = {
            "pos_conv_kernel": int(config.conv_pos_kernel_size),
            "pos_conv_depth": int(config.num_conv_pos_embeddings),
            "conv_norm": "layer",
            "pre_ln": False,
        }
    else:
        pos = {
            "pos_conv_kernel": int(config.num_conv_pos_embeddings),
            "pos_conv_depth": 1,
            "conv_norm": str(config.feat_extract_norm),
            "pre_ln": bool(config.do_stable_layer_norm),
        }
    extra = {}
    if family == "wavlm":
        extra = {
            "num_buckets": int(config.num_buckets),
            "max_distance": int(config.max_bucket_distance),
        }
    return ModelSpec(
        name=name,
        family=family,
        hf_class=FAMILY_CLASSES[family][1],
        conv_layers=conv,
        n_layers=int(config.num_hidden_layers),
        hidden_size=int(config.hidden_size),
        frame_rate_hz=frame_rate(conv),
        normalize_input=bool(normalize_input),
        conv_bias=bool(config.conv_bias),
        n_heads=int(config.num_attention_heads),
        ffn_dim=int(config.intermediate_size),
        pos_conv_groups=int(config.num_conv_pos_embedding_groups),
        activation=str(config.hidden_act),
        random=random,
        **pos,
        **extra,
    )


def _entry(
    name: str,
    family: str,
    *,
    large: bool,
    normalize: bool,
    pre_ln: bool,
    conv_norm: str,
    conv_bias: bool,
    description: str,
) -> ModelSpec:
    """One registry entry of the standard base (12×768) or large (24×1024) shape."""
    data2vec = family == "data2vec"
    return ModelSpec(
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
    )


_PRETRAINED: tuple[ModelSpec, ...] = (
    _entry("wav2vec_base", "wav2vec2", large=False, normalize=False, pre_ln=False,
           conv_norm="group", conv_bias=False,
           description="wav2vec 2.0 Base, LibriSpeech 960 h (fairseq wav2vec_small.pt)"),
    _entry("wav2vec_large", "wav2vec2", large=True, normalize=True, pre_ln=True,
           conv_norm="layer", conv_bias=True,
           description="wav2vec 2.0 Large, Libri-Light 60k h (fairseq wav2vec_vox_new.pt)"),
    _entry("hubert_base", "hubert", large=False, normalize=False, pre_ln=False,
           conv_norm="group", conv_bias=False,
           description="HuBERT Base, LibriSpeech 960 h (fairseq hubert_base_ls960.pt)"),
    _entry("hubert_large", "hubert", large=True, normalize=True, pre_ln=True,
           conv_norm="layer", conv_bias=True,
           description="HuBERT Large, Libri-Light 60k h (fairseq hubert_large_ll60k.pt)"),
    _entry("wavlm_base", "wavlm", large=False, normalize=False, pre_ln=False,
           conv_norm="group", conv_bias=False,
           description="WavLM Base, LibriSpeech 960 h (unilm WavLM-Base.pt)"),
    _entry("wavlm_base_plus", "wavlm", large=False, normalize=False, pre_ln=False,
           conv_norm="group", conv_bias=False,
           description="WavLM Base+, 94k h (unilm WavLM-Base+.pt)"),
    _entry("wavlm_large", "wavlm", large=True, normalize=True, pre_ln=True,
           conv_norm="layer", conv_bias=False,
           description="WavLM Large, 94k h (unilm WavLM-Large.pt)"),
    _entry("xlsr53", "wav2vec2", large=True, normalize=True, pre_ln=True,
           conv_norm="layer", conv_bias=True,
           description="XLSR-53, 56k h in 53 languages (fairseq xlsr_53_56k.pt)"),
    _entry("xlsr_300m", "wav2vec2", large=True, normalize=True, pre_ln=True,
           conv_norm="layer", conv_bias=True,
           description="XLS-R 300M, 436k h in 128 languages (fairseq xlsr2_300m.pt)"),
    _entry("data2vec_base", "data2vec", large=False, normalize=True, pre_ln=False,
           conv_norm="layer", conv_bias=False,
           description="data2vec-audio Base, LibriSpeech 960 h (fairseq audio_base_ls.pt)"),
    _entry("data2vec_large", "data2vec", large=True, normalize=True, pre_ln=False,
           conv_norm="layer", conv_bias=False,
           description="data2vec-audio Large, Libri-Light 60k h (fairseq vox_pretrained.pt)"),
)


def _fastvgs_entry(name: str, *, n_exposed: int, description: str) -> ModelSpec:
    """A FaST-VGS(+) audio branch: post-LN wav2vec 2.0 Base (12 layers) with a CLS vector."""
    return ModelSpec(
        name=name, family="fastvgs", hf_class=FAMILY_CLASSES["fastvgs"][1],
        conv_layers=STANDARD_CONV, n_layers=n_exposed, hidden_size=768,
        frame_rate_hz=frame_rate(STANDARD_CONV), normalize_input=True, pre_ln=False,
        conv_norm="group", conv_bias=False, description=description,
        encoder_layers=None if n_exposed == 12 else 12,
    )


def _avhubert_entry(name: str, *, large: bool, description: str) -> ModelSpec:
    """AV-HuBERT on audio alone: filterbank front end, pre-LN encoder, 40 ms frames."""
    return ModelSpec(
        name=name, family="avhubert", hf_class=FAMILY_CLASSES["avhubert"][1], conv_layers=(),
        n_layers=24 if large else 12, hidden_size=1024 if large else 768,
        frame_rate_hz=frame_rate(()), normalize_input=True, pre_ln=True, conv_norm="layer",
        n_heads=16 if large else 12, ffn_dim=4096 if large else 3072, description=description,
    )


_OTHER: tuple[ModelSpec, ...] = (
    _fastvgs_entry("fastvgs_coco", n_exposed=8,
                   description="FaST-VGS, SpokenCOCO (FaST-VGS-Family fast-vgs-coco/); T0-T8"),
    _fastvgs_entry("fastvgs_places", n_exposed=8,
                   description="FaST-VGS, Places (FaST-VGS-Family fast-vgs-places/); T0-T8"),
    _fastvgs_entry("fastvgs_plus_coco", n_exposed=12,
                   description="FaST-VGS+, SpokenCOCO (FaST-VGS-Family fast-vgs-plus-coco/)"),
    _avhubert_entry("avhubert_base_lrs3", large=False,
                    description="AV-HuBERT Base, LRS3 433 h, audio only "
                                "(av_hubert base_lrs3_iter5.pt)"),
    _avhubert_entry("avhubert_base_lrs3_vc2", large=False,
                    description="AV-HuBERT Base, LRS3 + VoxCeleb2, audio only "
                                "(av_hubert base_vox_iter5.pt)"),
    _avhubert_entry("avhubert_large_lrs3_vc2", large=True,
                    description="AV-HuBERT Large, LRS3 + VoxCeleb2, audio only "
                                "(av_hubert large_vox_iter5.pt)"),
)


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
    )


_WHISPER: tuple[ModelSpec, ...] = (
    _whisper_entry("whisper_tiny", 384, 4, 6, 80, "Whisper tiny", "tiny.pt"),
    _whisper_entry("whisper_base", 512, 6, 8, 80, "Whisper base", "base.pt"),
    _whisper_entry("whisper_small", 768, 12, 12, 80, "Whisper small", "small.pt"),
    _whisper_entry("whisper_medium", 1024, 24, 16, 80, "Whisper medium", "medium.pt"),
    _whisper_entry("whisper_large_v2", 1280, 32, 20, 80, "Whisper large-v2", "large-v2.pt"),
    _whisper_entry("whisper_large_v3", 1280, 32, 20, 128, "Whisper large-v3", "large-v3.pt"),
    _whisper_entry("whisper_large_v3_turbo", 1280, 32, 20, 128, "Whisper large-v3-turbo",
                   "large-v3-turbo.pt"),
)


def _random_variant(spec: ModelSpec) -> ModelSpec:
    """The ``*_random`` twin of a pre-trained entry."""
    return replace(
        spec,
        name=f"{spec.name}_random",
        random=True,
        description=f"{spec.name} architecture with seeded random weights",
    )


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for base in _PRETRAINED + _OTHER + _WHISPER
    for spec in (base, _random_variant(base))
}
"""All registered models by name, each pre-trained entry followed by its ``*_random`` twin."""


def get_spec(name: str) -> ModelSpec | None:
    """The registry entry called ``name``, or None for an unregistered name."""
    return REGISTRY.get(name)


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
