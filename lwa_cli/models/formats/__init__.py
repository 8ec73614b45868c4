"""Checkpoint formats: one module each, one dispatcher.

Each format module (``hf_generic``, ``hf_dir``, ``fastvgs_dir``, ``avhubert_pt``,
``fairseq_pt``) defines a `CheckpointFormat` ``FORMAT`` with ``detect``, ``read_spec``,
``load`` and ``fingerprint``. `detect_format` tries them in `FORMATS` order, so a more
specific format comes before a more general one: ``fairseq_pt`` takes any torch file, so a
format of ``.pt`` files (AV-HuBERT, or another one) goes before it; ``hf_generic`` takes
the Hugging Face directories whose model type has no family, so it goes before ``hf_dir``.
Adding a format is one module here and one line in `FORMATS`; a new transformers family
read from a Hugging Face directory is instead one entry in `hf_families.HF_FAMILIES`.
"""

from __future__ import annotations

from pathlib import Path

from lwa_cli.errors import LwaError
from lwa_cli.models.formats import (
    avhubert_pt,
    fairseq_pt,
    fastvgs_dir,
    hf_dir,
    hf_generic,
    whisper_dir,
    whisper_openai_pt,
)
from lwa_cli.models.formats.base import CheckpointFormat, LoadedModel

__all__ = ["FORMATS", "CheckpointFormat", "LoadedModel", "detect_format"]

FORMATS: tuple[CheckpointFormat, ...] = (
    whisper_dir.FORMAT,  # model_type whisper; before the generic path claims it
    hf_generic.FORMAT,  # an HF directory of a model type without a family; before hf_dir
    hf_dir.FORMAT,
    fastvgs_dir.FORMAT,
    avhubert_pt.FORMAT,
    whisper_openai_pt.FORMAT,
    fairseq_pt.FORMAT,
)
"""Every checkpoint format, in detection order (the first whose ``detect`` is true wins)."""


def detect_format(path: Path | str) -> CheckpointFormat:
    """The format of the checkpoint at ``path``.

    Raises
    ------
    LwaError : ``path`` does not exist, or is in none of `FORMATS` (the message names it and
        says what a checkpoint should be).
    """
    path = Path(path)
    if not path.exists():
        raise LwaError(f"checkpoint {path} does not exist; check --checkpoint.")
    for fmt in FORMATS:
        if fmt.detect(path):
            return fmt
    kinds = [f for f in FORMATS if bool(f.files) == path.is_dir()] or list(FORMATS)
    if path.is_dir():
        files = ", nor ".join(dict.fromkeys(" + ".join(f.files) for f in kinds))
        wanted = " or ".join(f.what for f in kinds)
        raise LwaError(f"checkpoint directory {path} has no {files}; give {wanted}.")
    raise LwaError(f"cannot read checkpoint {path}: it is none of the checkpoint files lwa "
                   f"reads ({'; '.join(f.what for f in kinds)}).")
