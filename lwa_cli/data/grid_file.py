"""Reading a segmentation grid (``lwa segment tune --grid FILE``) from a JSON file.

Format: one JSON object with up to three keys, each a non-empty list; a key left out keeps
the default axis of `SegmentationGrid`::

    {"prominence": [0.01, 0.1, 0.3], "metric": ["cosine"], "window": [1, 2, 4]}

``metric`` values are ``euclidean`` or ``cosine`` (``eucli``, the reference's name, is
accepted). The loop order stays prominence ▸ metric ▸ window, in the order given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lwa_cli.analysis.segmentation import SegmentationGrid, check_metric
from lwa_cli.errors import LwaError, LwaUsageError

_KEYS = ("prominence", "metric", "window")


def parse_grid(text: str, source: str = "<grid>") -> SegmentationGrid:
    """Parse grid JSON text; errors name ``source`` (and ``line:column`` for bad JSON)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LwaError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise LwaError(f"{source}: expected a JSON object with keys {', '.join(_KEYS)}")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise LwaError(f"{source}: unknown key(s) {', '.join(unknown)}; use {', '.join(_KEYS)}")
    default = SegmentationGrid()
    axes: dict[str, tuple] = {
        "prominence": default.prominences, "metric": default.metrics, "window": default.windows,
    }  # fmt: skip
    for key in _KEYS:
        if key not in data:
            continue
        values = data[key]
        if not isinstance(values, list) or not values:
            raise LwaError(f"{source}: '{key}' must be a non-empty list")
        try:
            if key == "prominence":
                if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                    raise LwaUsageError(f"prominences must be numbers, got {values}")
                axes[key] = tuple(float(v) for v in values)
            elif key == "metric":
                if any(not isinstance(v, str) for v in values):
                    raise LwaUsageError(f"metrics must be strings, got {values}")
                axes[key] = tuple(check_metric(v) for v in values)
            else:
                if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
                    raise LwaUsageError(f"windows must be integers, got {values}")
                axes[key] = tuple(values)
        except LwaUsageError as exc:
            raise LwaError(f"{source}: {exc}") from exc
    try:
        return SegmentationGrid(axes["prominence"], axes["metric"], axes["window"])
    except LwaUsageError as exc:
        raise LwaError(f"{source}: {exc}") from exc


def read_grid_file(path: str | os.PathLike[str]) -> SegmentationGrid:
    """Read a grid JSON file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LwaError(f"cannot read the grid file {path} ({exc})") from exc
    return parse_grid(text, str(path))
