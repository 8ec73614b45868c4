"""Original fairseq / unilm ``.pt`` (wav2vec 2.0, HuBERT, WavLM, data2vec-audio), loaded into
the matching transformers model (models/fairseq_config.py, models/fairseq_names.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from lwa_cli.models import fairseq
from lwa_cli.models.fingerprints import file_sha256
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel, trained
from lwa_cli.models.hf_families import hf_classes
from lwa_cli.models.spec import ModelSpec

_MAGIC = (b"PK\x03\x04", b"\x80")
"""How a torch file starts: a zip archive (torch >= 1.6), or a pickle (older torch)."""


def detect(path: Path) -> bool:
    """A file that starts as a torch checkpoint does (zip archive or pickle)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(_MAGIC)


def read_spec(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """The architecture in the checkpoint's config; the entry's normalisation if it has none."""
    default = bool(entry.normalize_input) if entry is not None else False
    return fairseq.read_checkpoint(path, name=name, default_normalize=default).spec


def load(path: Path, spec: ModelSpec, device: torch.device) -> LoadedModel:
    """The transformers model of the checkpoint's family with its weights."""
    ckpt = fairseq.read_checkpoint(path, name=spec.name, default_normalize=spec.normalize_input)
    _, model_cls = hf_classes(ckpt.spec.family)
    module = model_cls(ckpt.spec.hf_config(mask_emb="mask_emb" in ckpt.state_dict))
    fairseq.load_weights(module, ckpt.state_dict, path)
    return trained(ckpt.spec, module, path, file_sha256(path), ckpt.style, device)


FORMAT = CheckpointFormat(
    name="fairseq", what="a fairseq/unilm .pt file: a torch zip or pickle", files=(), detect=detect,
    read_spec=read_spec, load=load, fingerprint=file_sha256,
)
