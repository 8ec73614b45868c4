"""What every checkpoint format provides, and the model it loads.

A format is a module in this package with ``detect``, ``read_spec``, ``load`` and
``fingerprint`` (see `CheckpointFormat`); ``formats.FORMATS`` lists them in detection order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lwa_cli.models.spec import ModelSpec


@dataclass
class LoadedModel:
    """A model ready for layer capture.

    Attributes
    ----------
    name : the model's name in the workspace.
    spec : architecture of the loaded model (``spec.name == name``).
    module : the transformers base model (eval, no grad, on ``device``).
    normalize_input : standardise each waveform before the model.
    fingerprint : sha256 identifying the weights (file, HF directory, or config + seed).
    checkpoint : the checkpoint path, or ``random:<seed>``.
    n_conv, n_layers : numbers of conv blocks and transformer layers.
    device : where the module lives.
    source : ``hf``, ``generic``, ``fairseq``, ``unilm``, ``fastvgs``, ``avhubert`` or
        ``random``.
    seed : the seed of random weights (None for trained weights).
    notes : what the user should know (a fine-tuned head left out, the generic path used).
    """

    name: str
    spec: ModelSpec
    module: torch.nn.Module
    normalize_input: bool
    fingerprint: str
    checkpoint: str
    n_conv: int
    n_layers: int
    device: torch.device
    source: str
    seed: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckpointFormat:
    """One checkpoint format: how to recognise, describe, load and identify it.

    Attributes
    ----------
    name : short name (``hf``, ``fairseq``, ``fastvgs``, ``avhubert``).
    what : what such a checkpoint is, for messages ("a fairseq/unilm .pt file").
    files : for a directory format, the files that identify it; empty for a file format.
    detect : ``(path) -> bool``: whether ``path`` is in this format (cheap: no weights read).
    read_spec : ``(path, name, entry) -> ModelSpec``: the architecture the checkpoint holds,
        named ``name``; ``entry`` is the registry entry of that name (or None), whose
        defaults (e.g. input normalisation) apply where the checkpoint is silent.
    load : ``(path, spec, device) -> LoadedModel``: the trained model of ``spec`` (as
        `read_spec` gave it), eval mode, no gradients, on ``device``.
    fingerprint : ``(path) -> str``: sha256 of the weights, the same value `load` records.
    """

    name: str
    what: str
    files: tuple[str, ...]
    detect: Callable[[Path], bool]
    read_spec: Callable[[Path, str, ModelSpec | None], ModelSpec]
    load: Callable[[Path, ModelSpec, torch.device], LoadedModel]
    fingerprint: Callable[[Path], str]


def finish(loaded: LoadedModel, device: torch.device) -> LoadedModel:
    """Eval mode, no layerdrop, no grad, on ``device``."""
    module = loaded.module
    if hasattr(module.config, "layerdrop"):
        module.config.layerdrop = 0.0
    module.eval()
    module.requires_grad_(False)
    loaded.module = module.to(device)
    loaded.device = device
    return loaded


def trained(spec: ModelSpec, module: torch.nn.Module, path: Path, fingerprint: str,
            source: str, device: torch.device) -> LoadedModel:
    """The `LoadedModel` of trained weights read from ``path``, finished on ``device``."""
    loaded = LoadedModel(
        name=spec.name, spec=spec, module=module, normalize_input=spec.normalize_input,
        fingerprint=fingerprint, checkpoint=str(path), n_conv=spec.n_conv,
        n_layers=spec.n_layers, device=torch.device("cpu"), source=source,
    )
    return finish(loaded, device)
