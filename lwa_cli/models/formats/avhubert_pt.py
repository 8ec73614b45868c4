"""AV-HuBERT ``.pt`` (fairseq, ``cfg.model._name == "av_hubert"``), audio path only
(models/avhubert.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models import avhubert
from lwa_cli.models.fairseq_config import read_checkpoint_file
from lwa_cli.models.fingerprints import file_sha256
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.spec import ModelSpec


def detect(path: Path) -> bool:
    """A torch zip file whose config names AV-HuBERT (tensors are memory-mapped, not read)."""
    if not (path.is_file() and zipfile.is_zipfile(path)):
        return False
    try:
        return avhubert.is_checkpoint(read_checkpoint_file(path))
    except LwaError:  # unreadable: the fairseq format reports why
        return False


def read_spec(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """The audio path's architecture from the checkpoint's config."""
    return avhubert.spec_from_checkpoint(read_checkpoint_file(path), name=name, path=path)


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The audio path with the checkpoint's weights."""
    module, spec = avhubert.load(path, read_checkpoint_file(path), spec.name)
    return trained(spec, module, path, file_sha256(path), "avhubert", device)


FORMAT = CheckpointFormat(
    name="avhubert", what="an AV-HuBERT .pt file", files=(), detect=detect,
    read_spec=read_spec, load=load, fingerprint=file_sha256,
)
