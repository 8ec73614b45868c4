"""Exact batching: several utterances in one padded forward pass, certified per model.

Padding with an attention mask leaves the valid frames of a model unchanged only when no
module mixes information across time outside the masked attention: wav2vec 2.0 base's conv
encoder normalises each channel over the whole (padded) time axis with a group norm, so
zero padding changes every frame (fairseq #3227); batch norm in a positional conv does the
same. Rather than trusting the architecture, `certify` runs a few utterances both ways
and compares every layer (max |Δ| ≤ `tolerance`, 1e-4 in float32); only a model that
passes is run batched (`extract_batch`), others one utterance at a time.

`buckets` groups utterances of similar length so that padding stays small.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.capture import capture, extract_layers, prepare_input
from lwa_cli.models.layers import is_conv, layer_index, parse_layers
from lwa_cli.models.loading import LoadedModel

#: Max |Δ| per layer between batched and single-utterance outputs (float32 compute).
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Certificate:
    """Whether a model's batched outputs equal its single-utterance outputs.

    ``max_delta`` is the max |Δ| per layer over the certificate utterances; ``reason``
    says why a model is refused (empty when it passes).
    """

    fingerprint: str
    ok: bool
    tolerance: float
    max_delta: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    utterances: int = 0
    device: str = "cpu"


def frame_counts(loaded: LoadedModel, n_samples: int) -> dict[str, int]:
    """Valid frames of every conv block (``C i``) and of the transformer (``T``) for a
    waveform of `n_samples` samples (each conv: ``(n - kernel) // stride + 1``)."""
    counts: dict[str, int] = {}
    n = n_samples
    for i, (_, kernel, stride) in enumerate(loaded.spec.conv_layers, start=1):
        n = (n - kernel) // stride + 1
        counts[f"C{i}"] = n
    counts["T"] = n
    return counts


def unbatchable_reason(loaded: LoadedModel) -> str | None:
    """Why a model cannot take a padded batch at all (before any certificate), or None."""
    module = loaded.module
    if hasattr(module, "lwa_extract"):  # Whisper: every window is already padded to 30 s
        return f"{loaded.name} encodes its own 30 s windows, one utterance at a time"
    if hasattr(module, "lwa_inputs") or hasattr(module, "lwa_taps"):
        return f"{loaded.name} prepares its own inputs (no padded batch with a mask)"
    if getattr(getattr(module, "config", None), "model_type", None) is None:
        return f"{loaded.name} is not a transformers model taking an attention mask"
    return None


def extract_batch(loaded: LoadedModel, waves: Sequence[np.ndarray],
                  layers: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Run several waveforms in one zero-padded forward pass with an attention mask.

    Each waveform is standardised alone (when the model asks for it) before padding; the
    returned arrays hold its valid frames only, as `extract_layers` returns them. Equal to
    one-at-a-time extraction only for a model that `certify` passes.
    """
    if not waves:
        return []
    reason = unbatchable_reason(loaded)
    if reason:
        raise LwaError(reason)
    wanted = parse_layers(list(layers), loaded.n_conv, loaded.n_layers, model=loaded.name)
    xs = [prepare_input(w, loaded.normalize_input, loaded.device,
                        loaded.spec.receptive_field)[0] for w in waves]
    longest = max(len(x) for x in xs)
    batch = torch.zeros(len(xs), longest, dtype=torch.float32, device=loaded.device)
    mask = torch.zeros(len(xs), longest, dtype=torch.long, device=loaded.device)
    for i, x in enumerate(xs):
        batch[i, : len(x)] = x
        mask[i, : len(x)] = 1
    inputs = {"input_values": batch, "attention_mask": mask}

    def to_cpu(t: torch.Tensor, channels_first: bool, _drop: int) -> torch.Tensor:
        t = t.transpose(1, 2) if channels_first else t
        return t.to(device="cpu", dtype=torch.float32).contiguous().clone()

    with warnings.catch_warnings():  # torch's note on WavLM's mask types; same result
        warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")
        captured = capture(loaded, inputs, wanted, to_cpu)
    out = []
    for i, x in enumerate(xs):
        counts = frame_counts(loaded, len(x))
        out.append({name: captured[name][i, : counts[name if is_conv(name) else "T"]]
                    .numpy().copy() for name in wanted})
    return out


def certify(loaded: LoadedModel, waves: Sequence[np.ndarray],
            tolerance: float = TOLERANCE) -> Certificate:
    """Run `waves` (a few utterances of different lengths) batched and one at a time, and
    compare every layer of the model; the certificate passes when each max |Δ| ≤ tolerance.
    """
    if len(waves) < 2:
        raise ValueError(f"certify needs at least 2 waveforms of different lengths, got "
                         f"{len(waves)}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    common = {"fingerprint": loaded.fingerprint, "tolerance": tolerance,
              "utterances": len(waves), "device": str(loaded.device.type)}
    reason = unbatchable_reason(loaded)
    if reason:
        return Certificate(ok=False, reason=reason, **common)
    names = parse_layers(["all"], loaded.n_conv, loaded.n_layers, model=loaded.name)
    waves = distinct_lengths(waves, loaded.spec.receptive_field)
    batched = extract_batch(loaded, waves, names)
    delta: dict[str, float] = {}
    for wave, got in zip(waves, batched, strict=True):
        alone = extract_layers(loaded, wave, names)
        for name in names:
            if alone[name].shape != got[name].shape:
                return Certificate(ok=False, reason=(
                    f"{name} has {got[name].shape[0]} frames batched, "
                    f"{alone[name].shape[0]} alone"), **common)
            d = float(np.max(np.abs(alone[name].astype(np.float64) - got[name]), initial=0.0))
            delta[name] = max(delta.get(name, 0.0), d)
    bad = [n for n in names if not delta[n] <= tolerance]  # NaN fails too
    if not bad:
        return Certificate(ok=True, max_delta=delta, **common)
    first = bad[0]
    why = (f"padding changes its outputs: max |Δ| {delta[first]:.2g} > {tolerance:g} at "
           f"{first} ({len(bad)} of {len(names)} layers)")
    if loaded.spec.conv_norm == "group":
        why += "; its conv encoder's group norm normalises over time, padding included"
    elif is_conv(first) or layer_index(first) == 0:
        why += "; a module before the transformer sees the padding"
    return Certificate(ok=False, max_delta=delta, reason=why, **common)


def distinct_lengths(waves: Sequence[np.ndarray], min_samples: int,
                     step: int = 4000) -> list[np.ndarray]:
    """The waves, the k-th of equal length to an earlier one cut by k × `step` samples
    (0.25 s), so that a batch of them is really padded (equal lengths would hide a
    padding-sensitive model)."""
    out: list[np.ndarray] = []
    for k, wave in enumerate(waves):
        if any(len(w) == len(wave) for w in out):
            wave = wave[: max(min_samples, len(wave) - k * step)]
        out.append(wave)
    if len({len(w) for w in out}) < 2:
        raise ValueError("certify needs waveforms of at least 2 different lengths")
    return out


def buckets(lengths: Sequence[int], max_samples: int) -> list[list[int]]:
    """Group positions of `lengths` into batches of similar length.

    Positions are sorted by length (stable) and cut so that each batch's padded size
    (``len(batch) * longest``) stays within `max_samples`; a longer utterance is a batch
    of its own. Returns lists of positions, each sorted, batches in order of length.
    """
    if max_samples < 1:
        raise ValueError(f"max_samples must be positive, got {max_samples}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > max_samples:
            out.append(sorted(current))
            current = []
        current.append(i)
    if current:
        out.append(sorted(current))
    return out
