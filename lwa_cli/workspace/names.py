"""Names a workspace holds: its models, splits, samples and a model's stored layers.

What "not found" errors list and what shell completion proposes. Read from the directory
layout (and, for layers, the feature files' attributes) without loading any data; a path
that is not a workspace has no names (completion must never fail).
"""

from __future__ import annotations

from pathlib import Path

from lwa_cli.workspace.core import MARKER, Workspace, json_attr, open_h5
from lwa_cli.workspace.features import KIND as FEATURES_KIND

__all__ = ["feature_models", "result_models", "stored_layers", "stored_models",
           "stored_samples", "stored_splits"]


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def _is_workspace(ws: Workspace) -> bool:
    return (ws.root / MARKER).is_file()


def feature_models(ws: Workspace) -> list[str]:
    """Models with at least one complete feature file."""
    if not _is_workspace(ws):
        return []
    root = ws.root / "features"
    return [m for m in _subdirs(root) if next((root / m).glob("*/sample-*/*.h5"), None)]


def result_models(ws: Workspace) -> list[str]:
    """Models with at least one stored result (of any analysis)."""
    if not _is_workspace(ws):
        return []
    root = ws.results_dir()
    return sorted({m for a in _subdirs(root) for m in _subdirs(root / a)})


def stored_models(ws: Workspace) -> list[str]:
    """Models with features or results, sorted."""
    return sorted({*feature_models(ws), *result_models(ws)})


def stored_splits(ws: Workspace) -> list[str]:
    """Splits with prepared alignments or drawn samples (``sts`` among them when prepared)."""
    if not _is_workspace(ws):
        return []
    prepared = {p.stem for p in (ws.root / "alignments").glob("*.h5")}
    if next((ws.root / "sts").glob("*/pairs.h5"), None):  # `lwa prepare-sts`
        prepared.add("sts")
    return sorted(prepared | set(_subdirs(ws.root / "samples")))


def stored_samples(ws: Workspace, split: str | None = None) -> list[str]:
    """Sample names drawn (of `split`, or of any split)."""
    if not _is_workspace(ws):
        return []
    splits = [split] if split else _subdirs(ws.root / "samples")
    names = set()
    for s in splits:
        for path in (ws.root / "samples" / s).glob("*-*.h5"):
            names.add(path.stem.split("-", 1)[1])
    return sorted(names)


def stored_layers(ws: Workspace, model: str) -> list[str]:
    """The layers of `model`'s feature files (union, in layer order), [] when none."""
    from lwa_cli.models.layers import layer_sort_key

    if not _is_workspace(ws) or not model:
        return []
    layers: set[str] = set()
    for path in sorted((ws.root / "features" / model).glob("*/sample-*/*.h5")):
        try:
            with open_h5(path, FEATURES_KIND) as f:
                layers.update(str(name) for name in json_attr(f, "meta", {}).get("layers", []))
        except Exception:  # noqa: BLE001 - a broken or foreign file proposes nothing
            continue
    return sorted(layers, key=layer_sort_key)
