"""Registry entries and architecture rules of the encoder families of issue 18.

Families: ``w2v_bert`` (w2v-BERT 2.0, `Wav2Vec2BertModel`: fbank front end, conformer
layers, no conv layers), ``wav2vec2_conformer`` (wav2vec 2.0 conv stack + conformer layers,
relative or rotary position embeddings), ``unispeech_sat`` (the wav2vec2 layout), plus
entries of already supported architectures (MMS, XLS-R 1B/2B, mHuBERT-147) and the frame
arithmetic of models without conv layers other than AV-HuBERT (w2v-BERT; the ``generic``
path of `generic_hf`, whose stride is measured). The architecture values are those of the
published checkpoints' ``config.json``. Importing this module does not import torch; it
reads `registry` inside its functions, since `registry` builds REGISTRY from
`encoder_entries` while it is being imported.

w2v-BERT 2.0 frame count
------------------------
`SeamlessM4TFeatureExtractor` computes 80 log-mel filterbank energies on 25 ms windows
every 10 ms without centring: ``F = 1 + (n - 400) // 160`` frames for ``n >= 400`` samples
(none below). It normalises each bin over the utterance, then stacks 2 consecutive frames
into one 160-dim frame at 20 ms. With its default ``pad_to_multiple_of=2`` an odd ``F``
gains one padding frame whose stacked frame is masked out; lwa leaves that frame out
(it is half padding), so the model's frame count, and the count segment pooling uses, is
``F // 2 = (1 + (n - 400) // 160) // 2``; the first frame needs 560 samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lwa_cli.errors import LwaError

if TYPE_CHECKING:
    from lwa_cli.models.registry import ModelSpec

SAMPLE_RATE = 16000
FBANK_WINDOW = 400
"""Samples in one 25 ms filterbank window (as `registry.FBANK_WINDOW`)."""
FBANK_HOP = 160
"""Samples between filterbank windows, 10 ms (as `registry.FBANK_HOP`)."""

W2V_BERT_STACK = 2
"""Filterbank frames (10 ms) stacked into one w2v-BERT input frame (20 ms)."""
W2V_BERT_MELS = 80
"""Mel bins of w2v-BERT's filterbank (160 = 80 x 2 projection inputs)."""

_W2V_BERT_EXTRA_KEYS = ("feature_projection_input_dim", "position_embeddings_type",
                        "left_max_position_embeddings", "right_max_position_embeddings",
                        "conv_depthwise_kernel_size", "rotary_embedding_base")
_CONFORMER_EXTRA_KEYS = ("position_embeddings_type", "conv_depthwise_kernel_size",
                         "rotary_embedding_base")


def _extra(config: Any, keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Sorted (name, value) pairs of a transformers config's family-specific fields."""
    return tuple(sorted((k, getattr(config, k)) for k in keys))


def conformer_extra(config: Any) -> tuple[tuple[str, Any], ...]:
    """`ModelSpec.hf_extra` of a `Wav2Vec2ConformerConfig` (position embeddings, conv kernel)."""
    return _extra(config, _CONFORMER_EXTRA_KEYS)


def w2v_bert_spec(config: Any, *, name: str, random: bool = False) -> ModelSpec:
    """Describe a `Wav2Vec2BertConfig` as a `ModelSpec` (no conv layers, 20 ms frames).

    Raises
    ------
    LwaError : a projection input other than 80 mel bins x 2 stacked frames.
    """
    from lwa_cli.models.registry import ModelSpec

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
        hf_extra=_extra(config, _W2V_BERT_EXTRA_KEYS),
    )


def w2v_bert_hf_config(spec: ModelSpec) -> Any:
    """The `Wav2Vec2BertConfig` of a w2v-BERT spec (eval settings, no layerdrop)."""
    import transformers

    return transformers.Wav2Vec2BertConfig(
        hidden_size=spec.hidden_size, num_hidden_layers=spec.n_encoder_layers,
        num_attention_heads=spec.n_heads, intermediate_size=spec.ffn_dim,
        hidden_act=spec.activation, layer_norm_eps=1e-5, layerdrop=0.0,
        mask_time_prob=0.05, mask_feature_prob=0.0, **dict(spec.hf_extra),
    )


def measured_stride(spec: ModelSpec) -> int:
    """Samples per output frame measured by the generic path (`generic_hf`)."""
    return int(dict(spec.hf_extra)["stride_samples"])


def frames_without_conv(spec: ModelSpec, n_samples: int) -> int:
    """Output frames of a w2v-BERT (exact, see module doc) or generic model (estimate).

    The generic path knows its stride s and its frame count n1 at 1 s from its probes and
    estimates ``n1 + (n - 16000) // s`` (within a frame); the pipeline always pools on the
    frames the model actually outputs.
    """
    if spec.family == "w2v_bert":
        if n_samples < FBANK_WINDOW:
            return 0
        return (1 + (n_samples - FBANK_WINDOW) // FBANK_HOP) // W2V_BERT_STACK
    extra = dict(spec.hf_extra)
    return max(0, int(extra["frames_at_1s"]) + (n_samples - SAMPLE_RATE)
               // int(extra["stride_samples"]))


def min_samples(spec: ModelSpec) -> int:
    """Shortest waveform that gives one frame (560 samples for w2v-BERT)."""
    if spec.family == "w2v_bert":
        return FBANK_WINDOW + FBANK_HOP * (W2V_BERT_STACK - 1)
    return max(FBANK_WINDOW, measured_stride(spec))


def input_convention(spec: ModelSpec) -> str:
    """One line saying what lwa feeds the model (for `lwa models --check`)."""
    if spec.family == "w2v_bert":
        return ("80-bin log-mel fbank (SeamlessM4TFeatureExtractor), each bin normalised "
                "over the utterance, 2 frames stacked -> 160 dims every 20 ms")
    if spec.family == "avhubert":
        return "26-bin log filterbank, 4 frames stacked -> 104 dims every 40 ms, layer norm"
    if spec.family == "generic":
        extra = dict(spec.hf_extra)
        return (f"the checkpoint's {extra['feature_extractor']} -> {extra['input']} "
                f"(AutoFeatureExtractor), frame period measured "
                f"{1000 * measured_stride(spec) / SAMPLE_RATE:g} ms")
    std = "standardised per utterance" if spec.normalize_input else "not standardised"
    return f"16 kHz waveform, {std}"


def _w2v(name: str, family: str, *, layers: int, hidden: int, heads: int, ffn: int,
         pre_ln: bool, description: str, extra: tuple[tuple[str, Any], ...] = ()) -> ModelSpec:
    """An entry with the standard conv stack (pre-LN: layer-norm convs with biases, normalised
    input; post-LN: group norm in block 1, no biases, raw input)."""
    from lwa_cli.models.registry import STANDARD_CONV, ModelSpec, frame_rate

    return ModelSpec(
        name=name, family=family, hf_class=_HF_CLASS[family], conv_layers=STANDARD_CONV,
        n_layers=layers, hidden_size=hidden, frame_rate_hz=frame_rate(STANDARD_CONV),
        normalize_input=pre_ln, pre_ln=pre_ln, conv_norm="layer" if pre_ln else "group",
        conv_bias=pre_ln, n_heads=heads, ffn_dim=ffn, description=description,
        hf_extra=extra,
    )


_HF_CLASS = {"wav2vec2": "Wav2Vec2Model", "hubert": "HubertModel",
             "unispeech_sat": "UniSpeechSatModel",
             "wav2vec2_conformer": "Wav2Vec2ConformerModel"}
_LARGE = {"layers": 24, "hidden": 1024, "heads": 16, "ffn": 4096}
_BASE = {"layers": 12, "hidden": 768, "heads": 12, "ffn": 3072}
_XL = {"layers": 48, "hidden": 1280, "heads": 16, "ffn": 5120}


def _conformer(name: str, pos: str, description: str) -> ModelSpec:
    extra = (("conv_depthwise_kernel_size", 31), ("position_embeddings_type", pos),
             ("rotary_embedding_base", 10000))
    return _w2v(name, "wav2vec2_conformer", pre_ln=True, description=description,
                extra=extra, **_LARGE)


def _w2v_bert_entry() -> ModelSpec:
    from lwa_cli.models.registry import ModelSpec

    extra = (("conv_depthwise_kernel_size", 31), ("feature_projection_input_dim", 160),
             ("left_max_position_embeddings", 64), ("position_embeddings_type", "relative_key"),
             ("right_max_position_embeddings", 8), ("rotary_embedding_base", 10000))
    return ModelSpec(
        name="w2v_bert_2", family="w2v_bert", hf_class="Wav2Vec2BertModel", conv_layers=(),
        n_layers=24, hidden_size=1024, frame_rate_hz=SAMPLE_RATE / (FBANK_HOP * W2V_BERT_STACK),
        normalize_input=False, pre_ln=True, conv_norm="layer", n_heads=16, ffn_dim=4096,
        pos_conv_kernel=0, pos_conv_groups=0, activation="swish", hf_extra=extra,
        description="w2v-BERT 2.0, 4.5M h in 143+ languages (HF facebook/w2v-bert-2.0; MIT)",
    )


def encoder_entries() -> tuple[ModelSpec, ...]:
    """Issue 18's registry entries (each gets a ``*_random`` twin in `registry.REGISTRY`)."""
    return (
        _w2v_bert_entry(),
        _conformer("wav2vec2_conformer_relpos_large", "relative",
                   "wav2vec 2.0 Conformer Large, relative positions, Libri-Light 60k h "
                   "(HF facebook/wav2vec2-conformer-rel-pos-large; fairseq, Apache-2.0)"),
        _conformer("wav2vec2_conformer_rope_large", "rotary",
                   "wav2vec 2.0 Conformer Large, rotary positions, Libri-Light 60k h "
                   "(HF facebook/wav2vec2-conformer-rope-large; fairseq, Apache-2.0)"),
        _w2v("unispeech_sat_base", "unispeech_sat", pre_ln=False, **_BASE,
             description="UniSpeech-SAT Base, LibriSpeech 960 h "
                         "(HF microsoft/unispeech-sat-base; unilm, MIT)"),
        _w2v("unispeech_sat_base_plus", "unispeech_sat", pre_ln=False, **_BASE,
             description="UniSpeech-SAT Base+, 94k h (HF microsoft/unispeech-sat-base-plus; "
                         "unilm, MIT)"),
        _w2v("unispeech_sat_large", "unispeech_sat", pre_ln=True, **_LARGE,
             description="UniSpeech-SAT Large, 94k h (HF microsoft/unispeech-sat-large; "
                         "unilm, MIT)"),
        _w2v("mms_300m", "wav2vec2", pre_ln=True, **_LARGE,
             description="MMS 300M, ~500k h in 1,400 languages (HF facebook/mms-300m; "
                         "CC-BY-NC 4.0)"),
        _w2v("mms_1b", "wav2vec2", pre_ln=True, **_XL,
             description="MMS 1B, ~500k h in 1,400 languages (HF facebook/mms-1b; CC-BY-NC 4.0)"),
        _w2v("xls_r_1b", "wav2vec2", pre_ln=True, **_XL,
             description="XLS-R 1B, 436k h in 128 languages (HF facebook/wav2vec2-xls-r-1b; "
                         "Apache-2.0)"),
        _w2v("xls_r_2b", "wav2vec2", pre_ln=True, layers=48, hidden=1920, heads=16, ffn=7680,
             description="XLS-R 2B, 436k h in 128 languages (HF facebook/wav2vec2-xls-r-2b; "
                         "Apache-2.0)"),
        _w2v("mhubert_147", "hubert", pre_ln=False, **_BASE,
             description="mHuBERT-147, 90k h in 147 languages (HF utter-project/mHuBERT-147; "
                         "CC-BY-NC-SA 4.0)"),
    )

DISPLAY_NAMES: dict[str, str] = {
    "w2v_bert_2": "w2v-BERT 2.0",
    "wav2vec2_conformer_relpos_large": "wav2vec 2.0 Conformer Large (rel. pos.)",
    "wav2vec2_conformer_rope_large": "wav2vec 2.0 Conformer Large (RoPE)",
    "unispeech_sat_base": "UniSpeech-SAT Base", "unispeech_sat_base_plus": "UniSpeech-SAT Base+",
    "unispeech_sat_large": "UniSpeech-SAT Large", "mms_300m": "MMS 300M", "mms_1b": "MMS 1B",
    "xls_r_1b": "XLS-R 1B", "xls_r_2b": "XLS-R 2B", "mhubert_147": "mHuBERT-147",
}
"""Names papers print for the entries above (merged into `report.analyses.MODEL_NAMES`)."""
