"""`lwa models --check`: what lwa would do with a checkpoint, without extracting anything.

The checkpoint's format (`formats.detect_format`) reads its architecture only (no weights
loaded); a model type without a family goes through the generic path, which loads it and
runs its probes (`formats.hf_generic`) since its layers and frame period are measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lwa_cli.models import hub
from lwa_cli.models.formats import detect_format, hf_generic
from lwa_cli.models.hf_families import family_entry
from lwa_cli.models.layers import valid_range
from lwa_cli.models.spec import SAMPLE_RATE, ModelSpec


def input_convention(spec: ModelSpec) -> str:
    """One line saying what lwa feeds the model."""
    if spec.family == "avhubert":
        return "26-bin log filterbank, 4 frames stacked -> 104 dims every 40 ms, layer norm"
    if spec.family == "generic":
        extra = dict(spec.hf_extra)
        return (f"the checkpoint's {extra['feature_extractor']} -> {extra['input']} "
                f"(AutoFeatureExtractor), frame period measured "
                f"{1000 * int(extra['stride_samples']) / SAMPLE_RATE:g} ms")
    own = family_entry(spec.family).input_convention  # an HF family's own front end
    if own:
        return own
    std = "standardised per utterance" if spec.normalize_input else "not standardised"
    return f"16 kHz waveform, {std}"


def _head_notes(path: Path) -> list[str]:
    """A note when a Hugging Face directory's architecture is a fine-tuned head model."""
    import json

    try:
        archs = json.loads((path / "config.json").read_text(encoding="utf-8")).get(
            "architectures") or []
    except (OSError, ValueError, AttributeError):
        return []
    heads = [a for a in archs if not str(a).endswith("Model")]
    if not heads:
        return []
    return [f"{', '.join(heads)}: lwa loads the encoder; the task head is not loaded"]


def describe_checkpoint(checkpoint: Path | str, name: str = "checked") -> dict[str, Any]:
    """Family, format, layers, frame period and input convention of a checkpoint.

    Parameters
    ----------
    checkpoint : a path (HF directory, .pt, FaST-VGS directory) or a cached hub id.
    name : the model name the description uses.

    Raises
    ------
    LwaError : the checkpoint cannot be found or read, or lwa cannot handle it (the reason).
    """
    path, hub_id = hub.resolve_checkpoint(checkpoint)
    fmt = detect_format(path)
    spec = fmt.read_spec(path, name, None)
    notes: list[str] = []
    if fmt is hf_generic.FORMAT:
        path_kind = "generic (AutoModel + AutoFeatureExtractor, output_hidden_states)"
    else:
        path_kind = f"family module ({spec.family})"
    if path.is_dir():
        notes += _head_notes(path)
    return {
        "checkpoint": str(checkpoint),
        "resolved": str(path),
        "hub_commit": hub_id.commit if hub_id else None,
        "format": fmt.what,
        "family": spec.family,
        "path": path_kind,
        "model_class": spec.hf_class,
        "layers": valid_range(spec.n_conv, spec.n_layers),
        "n_conv": spec.n_conv,
        "n_layers": spec.n_layers,
        "hidden_size": spec.hidden_size,
        "frame_period_ms": round(spec.frame_period_s * 1000, 6),
        "input": input_convention(spec),
        "last_layer": _last_layer_rule(spec),
        "notes": notes,
    }


def _last_layer_rule(spec: ModelSpec) -> str:
    """What TL is for this model."""
    if spec.family == "generic":
        return "TL = the last hidden state transformers returns (may include a final norm)"
    if spec.pre_ln:
        return "TL = raw output of the last layer, before the encoder's final layer norm"
    return "TL = raw output of the last layer"
