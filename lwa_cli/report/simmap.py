"""Heatmaps of `lwa similarity` results: one per (model A, model B, measure, span, split).

`similarity_figures` turns tidy rows (`lwa_cli.report.table.tidy_rows`) into figure
descriptions (pure, JSON-ready); `render_heatmap` draws one (it alone imports matplotlib).
Both axes are in depth l / L (each model's own L), values are averaged over samples, and
each row (a layer of A) marks its best-matching layer of B (the highest similarity, or
the lowest Procrustes distance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lwa_cli.models.layers import layer_sort_key, split_layer
from lwa_cli.report.analyses import display_name
from lwa_cli.report.table import layer_depth, model_geometry

ANALYSIS = "similarity"
_LOWER_IS_CLOSER = {"procrustes"}
_LABELS = {"pwcca": "PWCCA", "cka": "linear CKA", "cka-debiased": "debiased linear CKA",
           "procrustes": "angular Procrustes distance (rad)", "rsa": "RSA (Spearman ρ)",
           "mknn": "mutual k-NN alignment"}


def similarity_figures(rows: Sequence[Mapping[str, Any]],
                       specs: Mapping[str, Mapping[str, Any]] | None = None,
                       names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """A heatmap description per (model, other model, measure, span, split) of the rows."""
    specs = specs or {}
    groups: dict[tuple, dict[tuple[str, str], list[float]]] = {}
    for r in rows:
        if r.get("analysis") != ANALYSIS or split_layer(r.get("other_layer")) is None:
            continue
        key = (r["model"], str(r.get("other_model")), str(r.get("metric")),
               str(r.get("span", "frame")), r["split"])
        groups.setdefault(key, {}).setdefault((r["layer"], r["other_layer"]), []).append(
            float(r["score"]))
    out = []
    for (model, other, measure, span, split), cells in sorted(groups.items()):
        out.append(_heatmap(model, other, measure, span, split, cells, specs, names))
    return out


def _axis(model: str, layers: set[str], spec: Mapping[str, Any] | None
          ) -> tuple[list[str], list[float]]:
    n_conv, n_trans = model_geometry(model, layers, spec)
    ordered = sorted(layers, key=layer_sort_key)
    return ordered, [layer_depth(n, n_conv, n_trans) for n in ordered]


def _heatmap(model: str, other: str, measure: str, span: str, split: str,
             cells: Mapping[tuple[str, str], list[float]], specs, names) -> dict[str, Any]:
    ys, y_depth = _axis(model, {a for a, _ in cells}, specs.get(model))
    xs, x_depth = _axis(other, {b for _, b in cells}, specs.get(other))
    values = np.full((len(ys), len(xs)), np.nan)
    for (a, b), scores in cells.items():
        values[ys.index(a), xs.index(b)] = float(np.mean(scores))
    filled = np.where(np.isnan(values), np.inf if measure in _LOWER_IS_CLOSER else -np.inf,
                      values)
    best = (np.argmin(filled, axis=1) if measure in _LOWER_IS_CLOSER
            else np.argmax(filled, axis=1))
    a_name, b_name = display_name(model, dict(names or {})), display_name(other,
                                                                          dict(names or {}))
    suffix = "" if span == "frame" else f"-{span}"
    return {
        "name": f"{ANALYSIS}-{model}-vs-{other}-{measure}{suffix}", "kind": "heatmap",
        "title": f"{_LABELS.get(measure, measure)}: {a_name} × {b_name} ({split}, {span})",
        "measure": measure, "colorbar": _LABELS.get(measure, measure),
        "y_label": f"{a_name}: depth l / L", "x_label": f"{b_name}: depth l / L",
        "y_layers": ys, "x_layers": xs, "y_depth": y_depth, "x_depth": x_depth,
        "values": [[None if np.isnan(v) else float(v) for v in row] for row in values],
        "best": [xs[int(j)] for j in best],
    }


def _edges(centres: Sequence[float]) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def render_heatmap(figure: Mapping[str, Any], fmt: str = "png", dpi: int = 150) -> bytes:
    """The bytes of one heatmap description in `fmt` (png, pdf, svg)."""
    import io

    import matplotlib
    from matplotlib.figure import Figure

    from lwa_cli.report.figures import _METADATA, _STYLE, plain

    values = np.array([[np.nan if v is None else v for v in row] for row in figure["values"]],
                      dtype=np.float64)
    style = {**_STYLE, "axes.grid": False}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(5.6, 4.6), layout="constrained")
        ax = fig.add_subplot()
        cmap = "viridis_r" if figure["measure"] in _LOWER_IS_CLOSER else "viridis"
        mesh = ax.pcolormesh(_edges(figure["x_depth"]), _edges(figure["y_depth"]), values,
                             cmap=cmap, shading="flat")
        best_x = [figure["x_depth"][figure["x_layers"].index(b)] for b in figure["best"]]
        ax.plot(best_x, figure["y_depth"], linestyle="none", marker="o", markersize=5,
                markerfacecolor="white", markeredgecolor="black",
                label="best-matching layer of B")
        ax.set_xlabel(plain(figure["x_label"]))
        ax.set_ylabel(plain(figure["y_label"]))
        ax.legend(fontsize=7, loc="best", frameon=True)
        fig.colorbar(mesh, ax=ax, label=plain(figure["colorbar"]))
        fig.suptitle(plain(figure["title"]), fontsize=9)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    return buffer.getvalue()
