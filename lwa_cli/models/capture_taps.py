"""Where layer capture reads a model's layers (one `Taps` per model family)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Taps:
    """The modules whose activations are the layers C1..Cn and T0..TL.

    Attributes
    ----------
    conv : conv blocks; block i's output (batch, channels, frames) is C(i+1).
    layers : encoder layers; layer i's output (first element of a tuple) is T(i+1).
    t0 : module whose output is T0 (channels last); None: the input of ``layers[0]``.
    drop_leading : positions before the frames in the T1..TL outputs (FaST-VGS's CLS: 1).
    """

    layers: Sequence[torch.nn.Module]
    conv: Sequence[torch.nn.Module] = field(default_factory=tuple)
    t0: torch.nn.Module | None = None
    drop_leading: int = 0


def standard_taps(module: torch.nn.Module) -> Taps:
    """Taps of a transformers wav2vec2-family base model, or the model's own ``lwa_taps``."""
    own = getattr(module, "lwa_taps", None)
    if own is not None:
        return own()
    return Taps(conv=module.feature_extractor.conv_layers, layers=module.encoder.layers)
