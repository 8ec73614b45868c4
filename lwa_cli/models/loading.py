"""Load a model by name: trained weights from a checkpoint in any format, or random weights.

A checkpoint is a local path or a hub id ``org/name[@revision]`` resolved offline in the local
Hugging Face cache (`hub`; fetched only with ``download=True``). Its format (Hugging Face
directory, fairseq/unilm ``.pt``, FaST-VGS directory, AV-HuBERT ``.pt``, or a Hugging Face
directory of another encoder through the generic path) is recognised by
`formats.detect_format`. The returned model is in eval mode, without layerdrop and without
gradients, on the requested device. For a registry name the checkpoint's architecture must
match the registry entry; any other name takes the architecture from the checkpoint (demo
models, users' fine-tuned variants). ``*_random`` names build the architecture (from the
registry entry, or from a checkpoint's configuration when one is given) with weights drawn
from a recorded seed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models import avhubert, fastvgs, hub, whisper
from lwa_cli.models.fingerprints import random_fingerprint
from lwa_cli.models.formats import detect_format
from lwa_cli.models.formats.base import LoadedModel, finish
from lwa_cli.models.formats.hf_dir import quiet_transformers
from lwa_cli.models.hf_families import hf_classes
from lwa_cli.models.registry import REGISTRY, get_spec
from lwa_cli.models.spec import ModelSpec

__all__ = ["LoadedModel", "build_module", "load_model", "quiet_transformers",
           "random_fingerprint", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device from ``cpu``, ``cuda[:i]`` or ``auto`` (cuda when available).

    Raises
    ------
    LwaError : cuda asked for but not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LwaError(f"--device {device} is not a device (cpu, cuda, cuda:1, auto): {exc}") \
            from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LwaError(f"--device {device}: no CUDA GPU is available; use --device cpu.")
    return dev


def load_model(
    model_name: str,
    checkpoint: Path | str | None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    download: bool = False,
) -> LoadedModel:
    """Load ``model_name`` from ``checkpoint`` (or random weights for ``*_random``).

    Parameters
    ----------
    model_name : registry name or any other name for an unregistered checkpoint.
    checkpoint : a checkpoint in one of `formats.FORMATS` (Hugging Face model directory,
        fairseq/unilm ``.pt``, FaST-VGS directory, AV-HuBERT ``.pt``), or a hub id
        ``org/name[@revision]`` in the local Hugging Face cache (`hub`); optional for
        ``*_random`` names (then the registry entry gives the architecture).
    device : ``cpu``, ``cuda[:i]`` or ``auto``.
    seed : seed of random weights (``*_random`` names only).
    download : a hub id not in the local Hugging Face cache may be fetched.

    Raises
    ------
    LwaError : missing/unreadable checkpoint, unsupported model, architecture that does not
        match the registry entry, unknown name without checkpoint.
    """
    entry = get_spec(model_name)
    dev = resolve_device(device)
    if checkpoint is None:
        if entry is None:
            raise LwaError(
                f"model {model_name!r} is not in the registry; pass --checkpoint PATH "
                f"(a Hugging Face directory or a fairseq/unilm .pt) or use one of: "
                f"{', '.join(REGISTRY)}."
            )
        if not entry.random:
            raise LwaError(
                f"model {model_name} needs --checkpoint PATH (a Hugging Face directory or the "
                f"original .pt: {entry.description}); lwa never downloads models."
            )
        return _random_model(entry, dev, seed, checkpoint_spec=None)
    path, hub_id = hub.resolve_checkpoint(checkpoint, download=download)
    fmt = detect_format(path)
    try:
        spec = fmt.read_spec(path, model_name, entry)
        _check_matches(entry, spec, path)
        if model_name.endswith("_random"):
            spec = replace(spec, random=True)
            return _random_model(entry or spec, dev, seed, checkpoint_spec=spec)
        loaded = fmt.load(path, spec, dev)
    except _CORRUPT_FILE_ERRORS as exc:
        raise LwaError(f"cannot read checkpoint {path}: it is corrupt or truncated "
                       f"({type(exc).__name__}: {exc}); download or copy it again") from None
    if hub_id is not None:  # the snapshot's repo and commit identify the weights
        loaded.fingerprint = hub.hub_fingerprint(hub_id, loaded.fingerprint)
        loaded.checkpoint = hub_id.label
    return loaded


def _corrupt_file_errors() -> tuple[type[BaseException], ...]:
    """What the weight-file readers raise on a damaged file (not on a wrong request)."""
    import pickle
    import zipfile

    errors: list[type[BaseException]] = [EOFError, pickle.UnpicklingError, zipfile.BadZipFile]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:  # transformers without safetensors: nothing more to catch
        pass
    return tuple(errors)


_CORRUPT_FILE_ERRORS = _corrupt_file_errors()


def _check_matches(entry: ModelSpec | None, spec: ModelSpec, path: Path) -> None:
    """Refuse a checkpoint whose architecture is not the registry entry's."""
    if entry is None:
        return
    diffs = entry.arch_differences(spec)
    if diffs:
        raise LwaError(
            f"checkpoint {path} is not a {entry.name}: it has {'; '.join(diffs)}. "
            "Pass the right --checkpoint, or a --model name outside the registry to use it as is."
        )


# ------------------------------------------------------------------ random weights


def build_module(spec: ModelSpec) -> torch.nn.Module:
    """An untrained module of ``spec``'s architecture (weights from the global RNG)."""
    if spec.family == "fastvgs":
        return fastvgs.build(spec)
    if spec.family == "avhubert":
        return avhubert.build(spec)
    if spec.family == "whisper":
        return whisper.build(spec)
    _, model_cls = hf_classes(spec.family)
    return model_cls(spec.hf_config(mask_emb=True))


def _random_model(
    entry: ModelSpec, device: torch.device, seed: int, *, checkpoint_spec: ModelSpec | None
) -> LoadedModel:
    """Build an architecture with weights drawn from ``seed`` (global RNG left untouched)."""
    spec = replace(checkpoint_spec or entry, name=entry.name, random=True)
    config = spec.hf_config(mask_emb=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        module = build_module(spec)
    loaded = LoadedModel(
        name=spec.name, spec=spec, module=module, normalize_input=spec.normalize_input,
        fingerprint=random_fingerprint(config, seed, family=spec.family),
        checkpoint=f"random:{int(seed)}",
        n_conv=spec.n_conv, n_layers=spec.n_layers, device=torch.device("cpu"),
        source="random", seed=int(seed),
    )
    return finish(loaded, device)
