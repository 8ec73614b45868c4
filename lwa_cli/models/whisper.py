"""The Whisper encoder: architecture, input features, 30 s windows and layer capture.

Input (as the model was trained): each consecutive 30 s window of the utterance (the last one
shorter) goes through transformers' `WhisperFeatureExtractor`: zero-padded to 30 s, log-mel
(n_fft 400, hop 160, 80 or 128 bins as the checkpoint says), ``max(x, max - 8)``, ``(x + 4) / 4``
— 3000 mel frames of 10 ms per window. The encoder runs on each window alone; of its outputs
only the frames that belong to the audio are kept and the windows are concatenated:

* ``C1`` = GELU(conv1) (kernel 3, stride 1, padding 1): 10 ms frames, ``ceil(samples / 160)``
  per window; frame ``i`` is centred on sample ``160 i`` (the mel frame's centre).
* ``C2`` = GELU(conv2) (kernel 3, stride 2, padding 1) and ``T0`` (C2 + positional
  embedding = the input of layer 1), ``T1…TL`` (raw layer outputs; ``TL`` before the encoder's
  final layer norm, lwa's rule for pre-LN models): 20 ms frames, ``ceil(samples / 320)`` per
  window, frame ``j`` centred on sample ``320 j``.

As a window is 480000 samples (a multiple of 320), an utterance of ``n`` samples has exactly
``ceil(n / 320)`` frames (``ceil(n / 160)`` for C1), however many windows it takes. The
decoder of a checkpoint is never loaded (`whisper_hf`, `whisper_pt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.capture_taps import EnoughLayersError, run_hooked
from lwa_cli.models.layers import is_conv, layer_index, layer_sort_key
from lwa_cli.models.spec import SAMPLE_RATE, ModelSpec
from lwa_cli.models.whisper_entries import WHISPER_CLASS

HOP = 160
"""Samples between mel frames (10 ms)."""
SAMPLES_PER_FRAME = 2 * HOP
"""Samples between C2/T frames (20 ms: conv2 has stride 2)."""
N_FFT = 400
LOCAL_TEN_MS: dict[str, tuple[int, int]] = {"C1": (1, 1)}
"""`--rep local`: C1 is at 10 ms already, one frame per log-mel frame (box 1, hop 1); C2 is
at 20 ms and pairs with every other log-mel frame, like the T layers."""


def frames_kept(n_samples: int, layer: str = "T") -> int:
    """Frames of a layer that belong to ``n_samples`` of audio: ``ceil(n / 160)`` for C1,
    ``ceil(n / 320)`` for C2 and the T layers (any number of windows)."""
    step = HOP if layer == "C1" else SAMPLES_PER_FRAME
    return -(-int(n_samples) // step) if n_samples > 0 else 0


def whisper_config(spec: ModelSpec, max_source_positions: int = 1500) -> Any:
    """The transformers `WhisperConfig` of an encoder architecture (eval settings)."""
    from transformers import WhisperConfig

    return WhisperConfig(
        num_mel_bins=spec.n_mels, d_model=spec.hidden_size, encoder_layers=spec.n_layers,
        encoder_attention_heads=spec.n_heads, encoder_ffn_dim=spec.ffn_dim,
        max_source_positions=max_source_positions, activation_function=spec.activation,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0,
        scale_embedding=False,
    )


def spec_from_dims(*, name: str, n_mels: int, width: int, n_layers: int, n_heads: int,
                   ffn_dim: int, description: str = "", random: bool = False) -> ModelSpec:
    """A Whisper encoder's `ModelSpec`: C1 (10 ms), C2 (20 ms), pre-LN layers, no input norm."""
    return ModelSpec(
        name=name, family="whisper", hf_class=WHISPER_CLASS,
        conv_layers=((width, 3, 1), (width, 3, 2)), n_layers=n_layers, hidden_size=width,
        frame_rate_hz=SAMPLE_RATE / SAMPLES_PER_FRAME, normalize_input=False, pre_ln=True,
        conv_norm="none", conv_bias=True, n_heads=n_heads, ffn_dim=ffn_dim, activation="gelu",
        n_mels=n_mels, description=description, random=random,
    )


def spec_from_config(config: Any, *, name: str) -> ModelSpec:
    """The `ModelSpec` of a transformers `WhisperConfig` (encoder part)."""
    if str(config.activation_function) != "gelu":
        raise LwaError(f"Whisper config of {name} has activation {config.activation_function!r}"
                       "; lwa reads GELU encoders (all published Whisper models).")
    return spec_from_dims(name=name, n_mels=int(config.num_mel_bins),
                          width=int(config.d_model), n_layers=int(config.encoder_layers),
                          n_heads=int(config.encoder_attention_heads),
                          ffn_dim=int(config.encoder_ffn_dim))


class WhisperAudioModel(torch.nn.Module):
    """transformers' `WhisperEncoder` with lwa's input features, windows and layer capture.

    Attributes
    ----------
    encoder : the `WhisperEncoder` (its parameters carry the checkpoint's names).
    feature_extractor : the `WhisperFeatureExtractor` that makes each window's log-mel.
    lwa_notes : what loading left out (a fine-tune's decoder and heads), for the user.
    lwa_stats : utterances, windows and utterances longer than one window encoded so far.
    lwa_ten_ms : the 10 ms conv layers for `--rep local` (`LOCAL_TEN_MS`).
    """

    def __init__(self, config: Any, feature_extractor: Any | None = None) -> None:
        super().__init__()
        from transformers import WhisperFeatureExtractor
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        config.encoder_layerdrop = 0.0
        self.config = config
        self.encoder = WhisperEncoder(config)
        self.window_frames = 2 * int(config.max_source_positions)  # 10 ms mel frames
        self.window_samples = self.window_frames * HOP
        if self.window_samples % SAMPLE_RATE:
            raise LwaError(f"Whisper config has max_source_positions "
                           f"{config.max_source_positions}; lwa needs whole-second windows "
                           "(a multiple of 50; the published models have 1500 = 30 s).")
        fe = feature_extractor or WhisperFeatureExtractor(
            feature_size=int(config.num_mel_bins), sampling_rate=SAMPLE_RATE, hop_length=HOP,
            chunk_length=self.window_samples // SAMPLE_RATE, n_fft=N_FFT)
        if (int(fe.feature_size), int(fe.n_samples), int(fe.hop_length)) != \
                (int(config.num_mel_bins), self.window_samples, HOP):
            raise LwaError(f"the Whisper feature extractor makes {fe.feature_size} mel bins of "
                           f"{fe.n_samples} samples (hop {fe.hop_length}); the encoder expects "
                           f"{config.num_mel_bins} bins of {self.window_samples} samples "
                           f"(hop {HOP}): is preprocessor_config.json from this model?")
        self.feature_extractor = fe
        self.lwa_ten_ms = LOCAL_TEN_MS  # `--rep local` pairing (features/conv_align.py)
        self.lwa_notes: list[str] = []
        self.lwa_stats = {"utterances": 0, "windows": 0, "long_utterances": 0}

    @property
    def lwa_input_rule(self) -> str:
        """The input convention and padding rule, as recorded in each feature file."""
        seconds = self.window_samples / SAMPLE_RATE
        return (f"WhisperFeatureExtractor log-mel ({self.config.num_mel_bins} bins, n_fft "
                f"{N_FFT}, hop {HOP}) of each consecutive {seconds:g} s window of the "
                f"utterance, zero-padded to {seconds:g} s; per window the frames of its audio "
                "are kept (C1: ceil(samples/160); C2, T0-TL: ceil(samples/320)) and the "
                "windows concatenated")

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        """Encoder output (after the final layer norm) of padded log-mel windows."""
        return self.encoder(input_features=input_features).last_hidden_state

    def window_features(self, chunk: np.ndarray) -> torch.Tensor:
        """The (1, n_mels, 3000) float32 log-mel of one window of at most 30 s.

        The feature extractor runs on the window zero-padded only to ``n + 560`` samples (the
        audio's frames and at least one frame of zeros: ``max(-10, max - 8)`` after the log
        floor, as every later frame of the 30 s padding), and that last all-zero frame is
        repeated to 3000 frames: the log-mel of the window zero-padded to 30 s, without
        transforming the silence (equal to it to float rounding; see the tests).
        """
        length = min(self.window_samples, chunk.size + N_FFT + 2 * HOP)
        # The log-mel is float32 whatever `--dtype-compute` runs the encoder at (its torch
        # STFT would otherwise run under the autocast and return bfloat16).
        with torch.autocast("cpu", enabled=False):
            out = self.feature_extractor(chunk, sampling_rate=SAMPLE_RATE, return_tensors="np",
                                         padding="max_length", max_length=length,
                                         truncation=True)
        feats = np.asarray(out["input_features"], dtype=np.float32)
        missing = self.window_frames - feats.shape[-1]
        if missing > 0:
            feats = np.pad(feats, ((0, 0), (0, 0), (0, missing)), mode="edge")
        return torch.from_numpy(np.ascontiguousarray(feats))

    def lwa_extract(self, wave: np.ndarray, wanted: Sequence[str],
                    device: torch.device) -> dict[str, np.ndarray]:
        """The requested layers of one utterance, window by window (see the module doc).

        Raises
        ------
        LwaError : not a 1-D finite float waveform, or empty.
        """
        arr = _check_wave(wave)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        n_windows = 0
        for start in range(0, arr.size, self.window_samples):
            chunk = arr[start:start + self.window_samples]
            feats = self.window_features(chunk).to(device)
            captured = self._capture(feats, wanted)
            for name in wanted:
                parts[name].append(captured[name][:frames_kept(chunk.size, name)])
            n_windows += 1
        self.lwa_stats["utterances"] += 1
        self.lwa_stats["windows"] += n_windows
        self.lwa_stats["long_utterances"] += int(n_windows > 1)
        return {name: np.concatenate(parts[name]) for name in wanted}

    def _capture(self, feats: torch.Tensor, wanted: Sequence[str]) -> dict[str, np.ndarray]:
        """Run the encoder on one window with hooks; stop after the deepest wanted layer."""
        enc = self.encoder
        conv_ids = [layer_index(n) for n in wanted if is_conv(n)]
        trans_ids = [layer_index(n) for n in wanted if not is_conv(n)]
        last = max(wanted, key=layer_sort_key)  # the deepest wanted layer
        got: dict[str, np.ndarray] = {}

        def keep(name: str, tensor: torch.Tensor, channels_first: bool) -> None:
            out = tensor.detach()[0]
            out = out.transpose(0, 1) if channels_first else out
            got[name] = out.to(device="cpu", dtype=torch.float32).contiguous().numpy().copy()
            if name == last:
                raise EnoughLayersError

        def first(out: Any) -> torch.Tensor:
            return out[0] if isinstance(out, (tuple, list)) else out

        gelu = torch.nn.functional.gelu
        handles = []
        if 1 in conv_ids:  # GELU(conv1) is conv2's input
            handles.append(enc.conv2.register_forward_pre_hook(
                lambda _m, args: keep("C1", args[0], True)))
        if 2 in conv_ids:  # the encoder applies the same GELU to conv2's output
            handles.append(enc.conv2.register_forward_hook(
                lambda _m, _a, out: keep("C2", gelu(out), True)))
        if 0 in trans_ids:
            handles.append(enc.layers[0].register_forward_pre_hook(
                lambda _m, args, kwargs: keep(
                    "T0", args[0] if args else kwargs["hidden_states"], False),
                with_kwargs=True))
        for i in (i for i in trans_ids if i > 0):
            handles.append(enc.layers[i - 1].register_forward_hook(
                lambda _m, _a, out, name=f"T{i}": keep(name, first(out), False)))
        return run_hooked(lambda: enc(input_features=feats), handles, wanted, got,
                          "the Whisper encoder")


def _check_wave(wave: np.ndarray) -> np.ndarray:
    """A validated 1-D float32 waveform."""
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise LwaError(f"expected a mono waveform (1-D), got an array of shape {arr.shape}; "
                       "mix or select one channel first.")
    if not np.issubdtype(arr.dtype, np.floating):
        raise LwaError(f"expected a float waveform, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise LwaError("waveform has 0 samples; Whisper needs at least one.")
    if not np.all(np.isfinite(arr)):
        raise LwaError("waveform contains NaN or infinite samples; check the audio file.")
    return np.ascontiguousarray(arr, dtype=np.float32)


def build(spec: ModelSpec, max_source_positions: int = 1500,
          feature_extractor: Any | None = None) -> WhisperAudioModel:
    """An (untrained) Whisper encoder of ``spec``'s architecture (weights from the global RNG)."""
    return WhisperAudioModel(whisper_config(spec, max_source_positions), feature_extractor)

