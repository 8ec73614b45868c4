"""FaST-VGS(+) checkpoint directory: ``args.pkl`` + ``best_bundle.pth`` (models/fastvgs.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from lwa_cli.models import fastvgs
from lwa_cli.models.fingerprints import FASTVGS_FILES, fastvgs_dir_fingerprint
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.spec import ModelSpec


def detect(path: Path) -> bool:
    """A directory with ``args.pkl`` and ``best_bundle.pth``."""
    return path.is_dir() and all((path / name).is_file() for name in FASTVGS_FILES)


def read_spec(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """The audio branch's architecture from ``args.pkl``."""
    return fastvgs.spec_from_args(fastvgs.read_args(path), name=name, entry=entry)


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The audio branch with the bundle's weights."""
    module, spec = fastvgs.load(path, spec.name, None)
    return trained(spec, module, path, fastvgs_dir_fingerprint(path), "fastvgs", device)


FORMAT = CheckpointFormat(
    name="fastvgs", what="a FaST-VGS directory (args.pkl + best_bundle.pth)",
    files=FASTVGS_FILES, detect=detect, read_spec=read_spec, load=load,
    fingerprint=fastvgs_dir_fingerprint,
)
