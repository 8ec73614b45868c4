"""Hugging Face model directory: ``config.json`` (+ ``preprocessor_config.json``) + weights.

The family comes from ``config.json``'s ``model_type`` through `hf_families.HF_FAMILIES`,
so a new transformers family needs no change here. Read offline, never from the hub.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.fingerprints import hf_dir_fingerprint
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.hf_families import HF_MODEL_TYPES, hf_classes, spec_from_hf_config
from lwa_cli.models.hf_heads import head_note
from lwa_cli.models.spec import ModelSpec

CONFIG_FILE = "config.json"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings inside the block, then restore them.

    lwa draws its own progress bars; the library's (e.g. "Loading weights") would clutter them.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def detect(path: Path) -> bool:
    """A directory with a ``config.json``."""
    return path.is_dir() and (path / CONFIG_FILE).is_file()


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict, or a clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LwaError(f"cannot read {path}: {exc}; is the model directory complete?") from None
    if not isinstance(data, dict):
        raise LwaError(f"{path} is not a JSON object; is the model directory complete?")
    return data


def _config(path: Path) -> tuple[Any, str]:
    """The transformers config of a model directory and its family."""
    model_type = _read_json(path / CONFIG_FILE).get("model_type")
    family = HF_MODEL_TYPES.get(str(model_type))
    if family is None:
        raise LwaError(
            f"{path}/{CONFIG_FILE} has model_type {model_type!r}; lwa supports "
            f"{', '.join(HF_MODEL_TYPES)}."
        )
    config_cls, _ = hf_classes(family)
    try:
        config = config_cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise LwaError(f"cannot read {path}/{CONFIG_FILE}: {exc}") from None
    config.layerdrop = 0.0
    return config, family


def _normalize(path: Path, entry: ModelSpec | None) -> bool:
    """``do_normalize`` of the directory's feature extractor, else the registry's flag."""
    pre = path / "preprocessor_config.json"
    if pre.is_file():
        value = _read_json(pre).get("do_normalize")
        if value is not None:
            return bool(value)
    return bool(entry.normalize_input) if entry is not None else False


def read_spec(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """The architecture of ``config.json``; normalisation from the feature extractor."""
    config, _ = _config(path)
    return spec_from_hf_config(config, name=name, normalize_input=_normalize(path, entry))


def dtype_kwarg() -> dict[str, Any]:
    """``dtype=float32`` under the argument name this transformers version uses."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype": torch.float32} if major >= 5 else {"torch_dtype": torch.float32}


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The family's base model with the directory's weights (every parameter filled)."""
    config, family = _config(path)
    _, model_cls = hf_classes(family)
    try:
        with quiet_transformers():
            module, info = model_cls.from_pretrained(
                str(path), config=config, local_files_only=True, output_loading_info=True,
                **dtype_kwarg(),
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise LwaError(f"cannot load the model in {path}: {exc}") from None
    note = head_note(path, config, info.get("unexpected_keys", []), model_cls.base_model_prefix)
    missing = [k for k in info.get("missing_keys", []) if "masked_spec_embed" not in k]
    mismatched = list(info.get("mismatched_keys", []))
    if missing or mismatched:
        listed = ", ".join(map(str, (missing + mismatched)[:8]))
        raise LwaError(
            f"the weights in {path} do not fill the model of its {CONFIG_FILE} "
            f"(missing or mis-shaped: {listed}); is the directory complete?"
        )
    loaded = trained(spec, module, path, hf_dir_fingerprint(path), "hf", device)
    loaded.notes.extend([note] if note else [])
    return loaded


FORMAT = CheckpointFormat(
    name="hf", what="a Hugging Face model directory (config.json + weights)",
    files=(CONFIG_FILE,), detect=detect, read_spec=read_spec, load=load,
    fingerprint=hf_dir_fingerprint,
)
