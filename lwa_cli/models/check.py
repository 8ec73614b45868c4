"""`lwa models --check`: what lwa would do with a checkpoint, without extracting anything.

Registered formats are read for their architecture only (no weights loaded); a model type
without a family goes through the generic path, which loads it and runs its probes
(`generic_hf`) since its layers and frame period are measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lwa_cli.models import generic_hf, hub
from lwa_cli.models.fingerprints import is_fastvgs_dir
from lwa_cli.models.layers import valid_range
from lwa_cli.models.registry import ModelSpec
from lwa_cli.models.registry_encoders import input_convention


def _format(path: Path) -> str:
    """The checkpoint format of an existing path."""
    if is_fastvgs_dir(path):
        return "FaST-VGS(+) directory (args.pkl + best_bundle.pth)"
    if path.is_dir():
        kind = generic_hf.model_type(path)
        return f"Hugging Face directory (model_type {kind})"
    return "fairseq/unilm/AV-HuBERT checkpoint file (.pt, restricted unpickler)"


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
    from lwa_cli.models.loading import _checkpoint_architecture

    path, hub_id = hub.resolve_checkpoint(checkpoint)
    notes: list[str] = []
    if path.is_dir() and not is_fastvgs_dir(path) and generic_hf.applies(path):
        _, spec = generic_hf.load(path, name)
        path_kind = "generic (AutoModel + AutoFeatureExtractor, output_hidden_states)"
    else:
        spec = _checkpoint_architecture(path, name, None)
        path_kind = f"family module ({spec.family})"
    if path.is_dir():
        notes += _head_notes(path)
    return {
        "checkpoint": str(checkpoint),
        "resolved": str(path),
        "hub_commit": hub_id.commit if hub_id else None,
        "format": _format(path),
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
