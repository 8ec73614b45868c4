"""Fingerprints of model weights: what feature files record, so other weights are noticed.

A checkpoint file is its bytes' sha256; a Hugging Face directory the sha256 over its config,
feature-extractor config and weight files; a FaST-VGS directory over ``args.pkl`` and
``best_bundle.pth``; random weights the config, seed and library versions that draw them.
`checkpoint_fingerprint` gives the same value as loading the checkpoint, without loading it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lwa_cli.errors import LwaError
from lwa_cli.models.hf_families import CUSTOM_FAMILIES

HF_WEIGHT_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*.bin", "*.bin.index.json")
"""Weight files of a Hugging Face model directory (hashed into the fingerprint)."""
FASTVGS_FILES = ("args.pkl", "best_bundle.pth")
"""The files of a FaST-VGS(+) checkpoint directory."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise LwaError(f"cannot read checkpoint {path}: {exc}") from None
    return digest.hexdigest()


def _files_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file_sha256(file).encode() + b"\n")
    return digest.hexdigest()


def hf_dir_fingerprint(path: Path) -> str:
    """sha256 over the directory's config, feature-extractor config and weight files."""
    files = {path / "config.json"}
    if (path / "preprocessor_config.json").is_file():
        files.add(path / "preprocessor_config.json")
    for pattern in HF_WEIGHT_PATTERNS:
        files.update(p for p in path.glob(pattern) if p.is_file())
    return _files_digest(sorted(files))


def fastvgs_dir_fingerprint(path: Path) -> str:
    """sha256 over a FaST-VGS directory's ``args.pkl`` and ``best_bundle.pth``."""
    return _files_digest([path / name for name in FASTVGS_FILES])


def checkpoint_fingerprint(path: Path) -> str:
    """The fingerprint of trained weights at `path`, whichever format it is in.

    Raises
    ------
    LwaError : ``path`` is missing, unreadable or in no checkpoint format.
    """
    from lwa_cli.models.formats import detect_format

    path = Path(path)
    return detect_format(path).fingerprint(path)


def random_fingerprint(config: Any, seed: int, family: str | None = None) -> str:
    """sha256 of a config, the seed and the library versions that draw the weights.

    ``family`` is hashed too for lwa's own families (FaST-VGS, AV-HuBERT), whose modules
    differ from the transformers model of the same config.
    """
    import torch
    import transformers

    cfg = {k: v for k, v in config.to_dict().items() if k != "transformers_version"}
    content: dict[str, Any] = {"config": cfg, "seed": int(seed), "torch": torch.__version__,
                               "transformers": transformers.__version__}
    if family in CUSTOM_FAMILIES:
        content["family"] = family
    payload = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
