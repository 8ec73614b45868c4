"""Task heads of fine-tuned checkpoints (``Wav2Vec2ForCTC``, ``HubertForCTC``…).

A fine-tuned Hugging Face checkpoint holds the encoder (under the base model's prefix, e.g.
``wav2vec2.``) plus a head (``lm_head`` for CTC, ``projector``/``classifier`` for
classification). lwa loads the base model, so the encoder's weights load and the head's are
left out; `head_note` names what was left out, for the user and for the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def head_modules(unexpected_keys: Iterable[str], base_prefix: str) -> list[str]:
    """Top-level module names of the weights the base model did not take (sorted)."""
    names = set()
    for key in unexpected_keys:
        parts = str(key).split(".")
        if parts and parts[0] == base_prefix:
            parts = parts[1:]
        if parts:
            names.add(parts[0])
    return sorted(names)


def head_note(path: Path, config: Any, unexpected_keys: Iterable[str],
              base_prefix: str) -> str | None:
    """One line naming the head a checkpoint has beyond its encoder, or None."""
    heads = head_modules(unexpected_keys, base_prefix)
    if not heads:
        return None
    archs = ", ".join(getattr(config, "architectures", None) or []) or "a fine-tuned model"
    return (f"checkpoint {path} is {archs}: lwa analyses its encoder; the head "
            f"{', '.join(heads)} is not part of any layer and was not loaded.")
