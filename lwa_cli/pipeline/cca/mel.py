"""`cca mel` for models without conv layers (AV-HuBERT): T layers vs the log-mel at their rate.

Such a model has no ``frame-local`` file (nothing to box-average); instead its ``frame`` file
stores the log-mel subsampled to the model's frame period (`rows.MEL_T`: every 4th 10 ms
frame at 40 ms, the reference's ``all_features_downsampled_by4``), cut to the T layers'
frames. Models with conv layers keep the ``frame-local`` pairing (``mel/C7``).
"""

from __future__ import annotations

from collections.abc import Sequence

from lwa_cli.errors import LwaError
from lwa_cli.models.layers import parse_layers
from lwa_cli.models.registry import get_spec
from lwa_cli.pipeline.inputs import select_layers
from lwa_cli.pipeline.rows import MEL_T
from lwa_cli.pipeline.views import RowSubset, aligned_frames
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile


def without_conv_layers(ws: Workspace, model: str, split: str, sample: str) -> bool:
    """Whether `model` has no conv layers: read from its frame file's architecture when there
    is one (unregistered names too), else from the registry; False when unknown."""
    path = ws.features_path(model, split, sample, "frame")
    if path.is_file():
        with FeatureFile(path) as f:
            return not f.meta["spec"]["conv_layers"]
    spec = get_spec(model)
    return spec is not None and not spec.has_conv_layers


def mel_layers(frame: FeatureFile, layers: Sequence[str] | None) -> list[str]:
    """T layers to pair with `MEL_T` (default: T1…TL of the file, as for conv models)."""
    if MEL_T not in set(frame.datasets()):
        raise LwaError(f"{frame.path} has no log-mel ({MEL_T}) for cca mel: it was extracted "
                       "by an older lwa; extract it again with `lwa extract ... --span frame "
                       "--force`")
    if not layers:
        return [n for n in frame.layers if n != "T0"]
    spec = frame.meta["spec"]
    parse_layers(list(layers), 0, spec["n_layers"])  # C layers: "the model has no conv layers"
    return select_layers(frame, layers)


def mel_views(frame: FeatureFile, layer: str) -> tuple[RowSubset, RowSubset]:
    """A T layer's frames and the log-mel frames stored with them, utterance by utterance."""
    return aligned_frames(frame, f"features/{layer}", frame, MEL_T)
