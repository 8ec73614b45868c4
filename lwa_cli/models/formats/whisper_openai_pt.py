"""openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``): the encoder only
(models/whisper_pt.py). Comes before the general ``fairseq_pt`` format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from lwa_cli.models import whisper_pt
from lwa_cli.models.fingerprints import file_sha256
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.spec import ModelSpec


def detect(path: Path) -> bool:
    """A torch zip file holding ``dims`` and ``model_state_dict`` (tensors memory-mapped)."""
    return path.is_file() and zipfile.is_zipfile(path) and whisper_pt.detect(path)


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The encoder with the file's ``encoder.*`` tensors (the decoder left out)."""
    module = whisper_pt.load(path, spec)
    return trained(spec, module, path, file_sha256(path), "openai-whisper", device)


FORMAT = CheckpointFormat(
    name="whisper-openai", what="an openai-whisper .pt file", files=(), detect=detect,
    read_spec=whisper_pt.read_spec, load=load, fingerprint=file_sha256,
)
