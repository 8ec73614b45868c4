"""Checkpoint format: a Hugging Face directory of a Whisper model (encoder only).

A directory whose ``config.json`` has ``model_type`` ``whisper``: a `WhisperModel`,
`WhisperForConditionalGeneration` (an ASR fine-tune) or a bare `WhisperEncoder`. Only the
encoder's tensors are read (``model.encoder.*`` / ``encoder.*``; safetensors files are opened
lazily, so the decoder's weights never enter memory); the other tensors (decoder, ``proj_out``)
are named in a note. ``preprocessor_config.json``, when present, configures the feature
extractor (it must agree with the encoder's mel bins and 30 s windows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models.fingerprints import hf_dir_fingerprint
from lwa_cli.models.spec import ModelSpec
from lwa_cli.models.whisper import WhisperAudioModel, spec_from_config

PREFIXES = ("model.encoder.", "encoder.", "")
"""Where the encoder's tensors live in a WhisperForConditionalGeneration, a WhisperModel and
a bare WhisperEncoder checkpoint."""


def detect(path: Path) -> bool:
    """Whether ``path`` is a Hugging Face directory of a Whisper model."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "whisper"
    except (OSError, ValueError, AttributeError):
        return False


def _config(path: Path) -> Any:
    from transformers import WhisperConfig

    try:
        return WhisperConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise LwaError(f"cannot read {path}/config.json: {exc}") from None


def read_spec(path: Path, name: str, entry: ModelSpec | None = None) -> ModelSpec:
    """The encoder architecture of the directory (``entry`` is checked by the caller)."""
    return spec_from_config(_config(Path(path)), name=name)


def fingerprint(path: Path) -> str:
    """sha256 over config, feature-extractor config and weight files (as any HF directory)."""
    return hf_dir_fingerprint(Path(path))


def _weight_files(path: Path) -> list[Path]:
    """The directory's weight files: safetensors (sharded or not) first, else ``.bin``."""
    for index, single in (("model.safetensors.index.json", "model.safetensors"),
                          ("pytorch_model.bin.index.json", "pytorch_model.bin")):
        if (path / index).is_file():
            weight_map = json.loads((path / index).read_text(encoding="utf-8"))["weight_map"]
            return sorted({path / f for f in weight_map.values()})
        if (path / single).is_file():
            return [path / single]
    raise LwaError(f"{path} has no model.safetensors or pytorch_model.bin; is the model "
                   "directory complete?")


def _read_tensors(files: Iterable[Path]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Encoder tensors (checkpoint names) and the names of all the others, file by file."""
    wanted: dict[str, torch.Tensor] = {}
    others: list[str] = []
    for file in files:
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), framework="pt") as fh:
                keys = list(fh.keys())
                prefix = _prefix(keys)
                for key in keys:
                    if key.startswith(prefix) and (prefix or _is_encoder_key(key)):
                        wanted[key[len(prefix):]] = fh.get_tensor(key)
                    else:
                        others.append(key)
        else:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            prefix = _prefix(list(state))
            for key, value in state.items():
                if key.startswith(prefix) and (prefix or _is_encoder_key(key)):
                    wanted[key[len(prefix):]] = value.clone()
                else:
                    others.append(key)
            del state
    return wanted, others


def _prefix(keys: list[str]) -> str:
    """The prefix of the encoder's tensors among ``keys`` (see `PREFIXES`)."""
    for prefix in PREFIXES:
        if f"{prefix}conv1.weight" in keys:
            return prefix
    return PREFIXES[0]


def _is_encoder_key(key: str) -> bool:
    """A bare encoder's tensor name (no prefix)."""
    return key.split(".")[0] in ("conv1", "conv2", "embed_positions", "layers", "layer_norm")


def ignored_note(path: Path, others: list[str]) -> str | None:
    """The note naming what a checkpoint holds besides the encoder (decoder, heads)."""
    if not others:
        return None
    groups: dict[str, int] = {}
    for key in others:
        parts = key.split(".")
        head = ".".join(parts[:2]) if parts[0] == "model" and len(parts) > 1 else parts[0]
        groups[head] = groups.get(head, 0) + 1
    named = ", ".join(f"{k} ({n} tensors)" for k, n in sorted(groups.items()))
    return f"{path.name}: the encoder was loaded; not loaded (ignored): {named}"


def load(path: Path, spec: ModelSpec, device: torch.device | str = "cpu") -> WhisperAudioModel:
    """The encoder of the directory with its weights (on ``device``; eval mode is the caller's).

    Raises
    ------
    LwaError : incomplete directory, missing or mis-shaped encoder tensors.
    """
    from transformers import WhisperFeatureExtractor

    path = Path(path)
    config = _config(path)
    fe = None
    if (path / "preprocessor_config.json").is_file():
        try:
            fe = WhisperFeatureExtractor.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, TypeError) as exc:
            raise LwaError(f"cannot read {path}/preprocessor_config.json: {exc}") from None
    with torch.random.fork_rng(devices=[]):  # initial weights are all replaced below
        module = WhisperAudioModel(config, fe)
    state, others = _read_tensors(_weight_files(path))
    load_encoder_state(module, state, path)
    note = ignored_note(path, others)
    if note:
        module.lwa_notes.append(note)
    return module.to(device)


def load_encoder_state(module: WhisperAudioModel, state: dict[str, torch.Tensor],
                       path: Path) -> None:
    """Load encoder tensors (transformers names, no prefix) strictly, with a clear error."""
    own = module.encoder.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shaped = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shaped:
        listed = ", ".join((missing + unexpected + shaped)[:8])
        raise LwaError(f"the encoder weights in {path} do not fit its config (missing, "
                       f"unexpected or mis-shaped: {listed}); is the checkpoint complete?")
    module.encoder.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
