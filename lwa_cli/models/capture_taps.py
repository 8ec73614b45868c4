"""Where layer capture reads a model's layers (one `Taps` per model family)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lwa_cli.errors import LwaError


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


class EnoughLayersError(Exception):
    """Raised from a hook once every requested layer is captured (ends the forward)."""


def run_hooked(forward: Callable[[], Any], handles: Sequence[Any], wanted: Sequence[str],
               captured: dict[str, np.ndarray], model: str) -> dict[str, np.ndarray]:
    """Run ``forward`` (inference mode) until a hook raises `EnoughLayersError`, then remove
    the hooks; the ``wanted`` layers of ``captured`` in that order.

    Raises
    ------
    LwaError : a wanted layer was not captured (the message names ``model``).
    """
    try:
        with torch.inference_mode():
            forward()
    except EnoughLayersError:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [n for n in wanted if n not in captured]
    if missing:
        raise LwaError(f"{model} did not produce layers {', '.join(missing)}.")
    return {name: captured[name] for name in wanted}
