"""w2v-BERT 2.0 (`Wav2Vec2BertModel`) with lwa's input and layer taps.

Input: the 80-bin log-mel filterbank of `SeamlessM4TFeatureExtractor` (its own numpy
code: 25 ms windows every 10 ms, each bin normalised over the utterance), 2 frames stacked
into 160 values every 20 ms; the half-padding frame the extractor adds to an odd frame count
is left out (frame count: `ModelSpec.n_frames`). Layers: **T0** is the feature projection's
output (layer norm, Linear(160 -> D)), **T1…TL** the raw outputs of the conformer layers;
there are no conv layers and the encoder has no final layer norm, so TL is the last layer's
output as transformers returns it. A checkpoint's adapter or intermediate FFN (fine-tuned
models) runs after the encoder and is not part of any layer.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

from lwa_cli.models.capture_taps import Taps
from lwa_cli.models.spec import SAMPLE_RATE, W2V_BERT_MELS, W2V_BERT_STACK


def feature_extractor() -> SeamlessM4TFeatureExtractor:
    """The released w2v-BERT 2.0 front end (80 mel bins, stride 2, 16 kHz)."""
    return SeamlessM4TFeatureExtractor(feature_size=W2V_BERT_MELS, num_mel_bins=W2V_BERT_MELS,
                                       stride=W2V_BERT_STACK, sampling_rate=SAMPLE_RATE)


def input_features(wave: np.ndarray) -> torch.Tensor:
    """(1, F // 2, 160) float32 model input of a mono 16 kHz waveform (no padding frame)."""
    out = feature_extractor()(np.asarray(wave, dtype=np.float32), sampling_rate=SAMPLE_RATE,
                              pad_to_multiple_of=None, return_attention_mask=False,
                              return_tensors="pt")
    return out["input_features"].to(torch.float32)


class W2vBertModel(Wav2Vec2BertModel):
    """`Wav2Vec2BertModel` that computes its own input and names its layers for capture."""

    def lwa_taps(self) -> Taps:
        """T0 = the feature projection output, T1..TL = conformer layers; no conv layers."""
        return Taps(layers=self.encoder.layers, t0=self.feature_projection)

    def lwa_inputs(self, wave: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        """The stacked, normalised filterbank of one utterance (see module doc)."""
        return {"input_features": input_features(wave).to(device)}
