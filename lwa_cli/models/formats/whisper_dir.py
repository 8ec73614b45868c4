"""Hugging Face Whisper directory (``config.json`` with ``model_type`` ``whisper``): the
encoder only (models/whisper_hf.py). Comes before the general ``hf_dir`` format."""

from __future__ import annotations

from pathlib import Path

import torch

from lwa_cli.models import whisper_hf
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.spec import ModelSpec


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The encoder with the directory's encoder tensors (decoder and heads left out)."""
    module = whisper_hf.load(path, spec)
    return trained(spec, module, path, whisper_hf.fingerprint(path), "hf", device)


FORMAT = CheckpointFormat(
    name="whisper-hf", what="a Hugging Face Whisper directory", files=("config.json",),
    detect=whisper_hf.detect, read_spec=whisper_hf.read_spec, load=load,
    fingerprint=whisper_hf.fingerprint,
)
