"""Load a model by name: a Hugging Face directory, a fairseq/unilm ``.pt``, or random weights.

Everything is offline: a checkpoint is a local path, never a hub name. The returned
model is in eval mode, without layerdrop and without gradients, on the requested device.
For a registry name the checkpoint's architecture must match the registry entry; any
other name takes the architecture from the checkpoint (demo models, users' fine-tuned
variants). ``*_random`` names build the architecture (from the registry entry, or from a
checkpoint's configuration when one is given) with weights drawn from a recorded seed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from lwa_cli.errors import LwaError
from lwa_cli.models import avhubert, fairseq, fastvgs, whisper, whisper_hf, whisper_pt
from lwa_cli.models.fingerprints import (
    fastvgs_dir_fingerprint,
    file_sha256,
    hf_dir_fingerprint,
    random_fingerprint,
)
from lwa_cli.models.registry import (
    HF_MODEL_TYPES,
    REGISTRY,
    ModelSpec,
    get_spec,
    hf_classes,
    spec_from_hf_config,
)


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
    source : ``hf``, ``fairseq``, ``unilm`` or ``random``.
    seed : the seed of random weights (None for trained weights).
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


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings inside the block, then restore them.

    lwa draws its own progress bars; the library's (e.g. "Loading weights") would clutter them.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


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
) -> LoadedModel:
    """Load ``model_name`` from ``checkpoint`` (or random weights for ``*_random``).

    Parameters
    ----------
    model_name : registry name or any other name for an unregistered checkpoint.
    checkpoint : Hugging Face model directory or fairseq/unilm ``.pt``; optional for
        ``*_random`` names (then the registry entry gives the architecture).
    device : ``cpu``, ``cuda[:i]`` or ``auto``.
    seed : seed of random weights (``*_random`` names only).

    Raises
    ------
    LwaError : missing/unreadable checkpoint, unsupported model, architecture that does not
        match the registry entry, unknown name without checkpoint.
    """
    entry = get_spec(model_name)
    is_random = model_name.endswith("_random")
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
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise LwaError(f"checkpoint {path} does not exist; check --checkpoint.")
    if is_random:
        spec = _checkpoint_architecture(path, model_name, entry)
        return _random_model(entry or spec, dev, seed, checkpoint_spec=spec)
    try:
        if fastvgs.is_checkpoint_dir(path):
            loaded = _load_fastvgs(path, model_name, entry)
        elif whisper_hf.detect(path):  # Whisper: models/whisper_hf.py
            spec = whisper_hf.read_spec(path, model_name, entry)
            _check_matches(entry, spec, path)
            loaded = _loaded(model_name, spec, whisper_hf.load(path, spec),
                             whisper_hf.fingerprint(path), str(path), "hf")
        elif path.is_dir():
            loaded = _load_hf_dir(path, model_name, entry)
        else:
            loaded = _load_fairseq(path, model_name, entry)
    except _CORRUPT_FILE_ERRORS as exc:
        raise LwaError(f"cannot read checkpoint {path}: it is corrupt or truncated "
                       f"({type(exc).__name__}: {exc}); download or copy it again") from None
    return _finish(loaded, dev)


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


def _finish(loaded: LoadedModel, device: torch.device) -> LoadedModel:
    """Eval mode, no layerdrop, no grad, on ``device``."""
    module = loaded.module
    if hasattr(module.config, "layerdrop"):
        module.config.layerdrop = 0.0
    module.eval()
    module.requires_grad_(False)
    loaded.module = module.to(device)
    loaded.device = device
    return loaded


# ------------------------------------------------------------------ Hugging Face directory


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict, or a clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LwaError(f"cannot read {path}: {exc}; is the model directory complete?") from None
    if not isinstance(data, dict):
        raise LwaError(f"{path} is not a JSON object; is the model directory complete?")
    return data


def _hf_config(path: Path) -> tuple[Any, str]:
    """The transformers config of a model directory and its family."""
    if not (path / "config.json").is_file():
        raise LwaError(
            f"checkpoint directory {path} has no config.json; give a Hugging Face model "
            "directory (config.json + weights) or a fairseq/unilm .pt file."
        )
    model_type = _read_json(path / "config.json").get("model_type")
    family = HF_MODEL_TYPES.get(str(model_type))
    if family is None:
        raise LwaError(
            f"{path}/config.json has model_type {model_type!r}; lwa supports "
            f"{', '.join(HF_MODEL_TYPES)}."
        )
    config_cls, _ = hf_classes(family)
    try:
        config = config_cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise LwaError(f"cannot read {path}/config.json: {exc}") from None
    config.layerdrop = 0.0
    return config, family


def _hf_normalize(path: Path, entry: ModelSpec | None) -> bool:
    """``do_normalize`` of the directory's feature extractor, else the registry's flag."""
    pre = path / "preprocessor_config.json"
    if pre.is_file():
        value = _read_json(pre).get("do_normalize")
        if value is not None:
            return bool(value)
    return bool(entry.normalize_input) if entry is not None else False


def _dtype_kwarg() -> dict[str, Any]:
    """``dtype=float32`` under the argument name this transformers version uses."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype": torch.float32} if major >= 5 else {"torch_dtype": torch.float32}


def _load_hf_dir(path: Path, name: str, entry: ModelSpec | None) -> LoadedModel:
    """Load a Hugging Face model directory offline into the family's base model."""
    config, family = _hf_config(path)
    normalize = _hf_normalize(path, entry)
    spec = spec_from_hf_config(config, name=name, normalize_input=normalize)
    _check_matches(entry, spec, path)
    _, model_cls = hf_classes(family)
    try:
        with quiet_transformers():
            module, info = model_cls.from_pretrained(
                str(path), config=config, local_files_only=True, output_loading_info=True,
                **_dtype_kwarg(),
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise LwaError(f"cannot load the model in {path}: {exc}") from None
    missing = [k for k in info.get("missing_keys", []) if "masked_spec_embed" not in k]
    mismatched = list(info.get("mismatched_keys", []))
    if missing or mismatched:
        listed = ", ".join(map(str, (missing + mismatched)[:8]))
        raise LwaError(
            f"the weights in {path} do not fill the model of its config.json "
            f"(missing or mis-shaped: {listed}); is the directory complete?"
        )
    return LoadedModel(
        name=name, spec=spec, module=module, normalize_input=normalize,
        fingerprint=hf_dir_fingerprint(path), checkpoint=str(path),
        n_conv=spec.n_conv, n_layers=spec.n_layers, device=torch.device("cpu"), source="hf",
    )


# ------------------------------------------------------------------ fairseq / unilm .pt


def _load_fairseq(path: Path, name: str, entry: ModelSpec | None) -> LoadedModel:
    """Load an original fairseq/unilm checkpoint into the matching transformers model."""
    default_normalize = bool(entry.normalize_input) if entry is not None else False
    raw = fairseq.read_checkpoint_file(path)
    if avhubert.is_checkpoint(raw):
        spec = avhubert.spec_from_checkpoint(raw, name=name, path=path)
        _check_matches(entry, spec, path)
        module, spec = avhubert.load(path, raw, name)
        return _loaded(name, spec, module, file_sha256(path), str(path), "avhubert")
    if whisper_pt.is_checkpoint(raw):  # openai-whisper .pt: models/whisper_pt.py
        spec = whisper_pt.spec_from_checkpoint(raw, name=name, path=path)
        _check_matches(entry, spec, path)
        module = whisper_pt.load(path, spec, raw=raw)
        return _loaded(name, spec, module, file_sha256(path), str(path), "openai-whisper")
    ckpt = fairseq.read_checkpoint(path, name=name, default_normalize=default_normalize, raw=raw)
    _check_matches(entry, ckpt.spec, path)
    _, model_cls = hf_classes(ckpt.spec.family)
    config = ckpt.spec.hf_config(mask_emb="mask_emb" in ckpt.state_dict)
    module = model_cls(config)
    fairseq.load_weights(module, ckpt.state_dict, path)
    return LoadedModel(
        name=name, spec=ckpt.spec, module=module, normalize_input=ckpt.spec.normalize_input,
        fingerprint=file_sha256(path), checkpoint=str(path), n_conv=ckpt.spec.n_conv,
        n_layers=ckpt.spec.n_layers, device=torch.device("cpu"), source=ckpt.style,
    )


def _loaded(name: str, spec: ModelSpec, module: torch.nn.Module, fingerprint: str,
            checkpoint: str, source: str) -> LoadedModel:
    """A `LoadedModel` of trained weights (on CPU until `_finish`)."""
    return LoadedModel(
        name=name, spec=spec, module=module, normalize_input=spec.normalize_input,
        fingerprint=fingerprint, checkpoint=checkpoint, n_conv=spec.n_conv,
        n_layers=spec.n_layers, device=torch.device("cpu"), source=source,
    )


# ------------------------------------------------------------------ FaST-VGS directory


def _load_fastvgs(path: Path, name: str, entry: ModelSpec | None) -> LoadedModel:
    """Load a FaST-VGS(+) checkpoint directory (``args.pkl`` + ``best_bundle.pth``)."""
    spec = fastvgs.spec_from_args(fastvgs.read_args(path), name=name, entry=entry)
    _check_matches(entry, spec, path)
    module, spec = fastvgs.load(path, name, entry)
    return _loaded(name, spec, module, fastvgs_dir_fingerprint(path), str(path), "fastvgs")


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


def _checkpoint_architecture(path: Path, name: str, entry: ModelSpec | None) -> ModelSpec:
    """Architecture and normalize flag of a checkpoint, checked against ``entry``."""
    if fastvgs.is_checkpoint_dir(path):
        spec = fastvgs.spec_from_args(fastvgs.read_args(path), name=name, entry=entry)
    elif whisper_hf.detect(path):
        spec = whisper_hf.read_spec(path, name, entry)
    elif path.is_dir():
        config, _ = _hf_config(path)
        spec = spec_from_hf_config(config, name=name, normalize_input=_hf_normalize(path, entry))
    else:
        default = bool(entry.normalize_input) if entry is not None else False
        raw = fairseq.read_checkpoint_file(path)
        if avhubert.is_checkpoint(raw):
            spec = avhubert.spec_from_checkpoint(raw, name=name, path=path)
        elif whisper_pt.is_checkpoint(raw):
            spec = whisper_pt.spec_from_checkpoint(raw, name=name, path=path)
        else:
            spec = fairseq.read_checkpoint(path, name=name, default_normalize=default,
                                           raw=raw).spec
    _check_matches(entry, spec, path)
    return replace(spec, random=True)


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
    return _finish(loaded, device)
