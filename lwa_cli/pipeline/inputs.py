"""What every analysis step reads: feature files, their layers, the compute device.

`open_features` opens a complete, current feature file (or says which command makes it),
`select_layers` resolves `--layer` against it, `resolve_device_name` turns ``auto`` into a
device; `feature_stem` names a span/representation's file. Kept apart from
`lwa_cli.pipeline.extract` so an analysis step does not import the extraction machinery.
"""

from __future__ import annotations

from collections.abc import Sequence

from lwa_cli.errors import LwaError, LwaUsageError, did_you_mean
from lwa_cli.models.layers import parse_layers
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile, find_partials, find_parts
from lwa_cli.workspace.names import feature_models
from lwa_cli.workspace.samples import sample_fingerprint


def feature_stem(span: str, rep: str) -> str:
    """File stem of a span/representation: ``frame``, ``frame-local``, ``phone``, ..."""
    return f"{span}-local" if rep == "local" else span


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device_name(device: str | None) -> str:
    """``auto`` (or None) → cuda when a GPU is available, else cpu; other names as given."""
    return default_device() if device in (None, "", "auto") else device


def open_features(ws: Workspace, model: str, split: str, sample: str, span: str,
                  rep: str = "contextualized") -> FeatureFile:
    """Open a complete feature file, or say which command makes it."""
    ws.check()
    stem = feature_stem(span, rep)
    path = ws.features_path(model, split, sample, stem)
    if path.is_file():
        features = FeatureFile(path)
        kind = features.meta.get("sample_kind", span)
        if features.meta.get("sample_fingerprint") != sample_fingerprint(ws, split, kind, sample):
            features.close()
            raise LwaError(f"{path} was extracted from an older {kind} sample {sample!r} of "
                           f"{split}, not the current one; run the `lwa extract` that makes it "
                           "again (it re-extracts stale features)")
        return features
    directory = path.parent
    if find_parts(directory, stem):
        raise LwaError(f"{stem} features of {model} ({split}, sample {sample}) are in parts; run "
                       f"`lwa combine --model {model} --split {split} --sample {sample} "
                       f"--span {span}{' --rep local' if rep == 'local' else ''}`")
    hint = " (an unfinished run exists: rerun it to resume)" if find_partials(directory, stem) \
        else ""
    if not hint and model not in (have := feature_models(ws)):
        raise LwaUsageError(
            f"no features of model {model!r} in {ws.root}{did_you_mean(model, have)}; "
            f"{_have_models(have)} (to add it: `lwa extract --model {model} --checkpoint CKPT "
            f"--split {split} --sample {sample} --span {span}"
            f"{' --rep local' if rep == 'local' else ''}`)")
    raise LwaError(f"no {stem} features of {model} for {split}, sample {sample}{hint}; run "
                   f"`lwa extract --model {model} --checkpoint CKPT --split {split} --sample "
                   f"{sample} --span {span}{' --rep local' if rep == 'local' else ''}`")


def _have_models(have: Sequence[str]) -> str:
    return f"it has features of {', '.join(have)}" if have else "it has no features yet"


def select_layers(features: FeatureFile, layers: Sequence[str] | None, *,
                  param: str = "layers") -> list[str]:
    """Parse layer specs against the file's model; default: all layers in the file.

    Errors name `param`, the caller's parameter (see `lwa_cli.models.layers.parse_layers`).
    """
    have = features.layers
    if not layers:
        return have
    spec = features.meta["spec"]
    wanted = parse_layers(list(layers), len(spec["conv_layers"]), spec["n_layers"],
                          model=features.meta.get("model"), param=param)
    missing = [name for name in wanted if name not in have]
    if missing:
        raise LwaUsageError(f"{features.path.name} has no layer {', '.join(missing)} (it has "
                            f"{have[0]}…{have[-1]}); extract them first")
    return wanted
