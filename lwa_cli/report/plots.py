"""Layer-wise plots of aggregated results: one PNG per analysis (SPEC §9).

Figures are drawn on matplotlib's Agg canvas through `matplotlib.figure.Figure`, never
through pyplot, so no GUI backend is touched and no global figure state is shared. The same
rows always give the same PNG bytes (fixed size, dpi, style and series order; no timestamp).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lwa_cli.report.table import short_variants

TITLES: dict[str, str] = {
    "cca-mel": "CCA with log-mel filterbank features",
    "cca-intra": "CCA with the model's own base layer",
    "cca-inter": "CCA between two models, same layer",
    "cca-phone": "CCA with one-hot phone labels",
    "cca-word": "CCA with one-hot word labels",
    "cca-agwe": "CCA with acoustically grounded word embeddings",
    "cca-glove": "CCA with GloVe word embeddings",
    "cca-semantic": "CCA with semantic attributes (WordNet supersenses)",
    "cca-syntactic": "CCA with syntactic attributes (part-of-speech tags)",
    "mi-phone": "Mutual information with phone labels",
    "mi-word": "Mutual information with word labels",
    "wordsim": "Word similarity of static layer embeddings",
}
"""Plot titles of the analyses `lwa` stores (others get their analysis name)."""

_STYLE = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.dpi": 100,
}
_LINESTYLES = ("-", "--", ":", "-.")
_MANY_TICKS = 16  # beyond this many layer ticks, labels are turned vertical


def plain(text: str) -> str:
    """Text shown literally: a ``$`` would otherwise start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def y_label(analysis: str) -> str:
    """The score's meaning for an analysis."""
    if analysis.startswith("cca-"):
        return "CCA similarity (score)"
    if analysis.startswith("mi-"):
        return "MI(cluster; label) / H(label)"
    if analysis == "wordsim":
        return "Spearman ρ (micro average)"
    return "score"


def series_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Aggregated rows of one analysis, grouped into lines with readable legend labels.

    One line per (model, variant, split); a label names the variant and split only when
    they tell lines of this analysis apart. Lines are in sorted order, points by depth.
    """
    short = short_variants(rows)
    splits = {row["split"] for row in rows}
    lines: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        lines.setdefault((row["model"], row["variant"], row["split"]), []).append(row)
    out: dict[str, list[Mapping[str, Any]]] = {}
    for (model, variant, split) in sorted(lines):
        extras = [short[(rows[0]["analysis"], variant)]]
        if len(splits) > 1:
            extras.append(split)
        extra = ", ".join(e for e in extras if e)
        label = f"{model} ({extra})" if extra else model
        out[label] = sorted(lines[(model, variant, split)], key=lambda r: r["layer_index"])
    return out


def _layer_ticks(rows: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[str]]:
    """Tick positions and labels; models whose positions name different layers share a tick."""
    names: dict[int, list[str]] = {}
    for row in rows:
        at = names.setdefault(row["layer_index"], [])
        if row["layer"] not in at:
            at.append(row["layer"])
    positions = sorted(names)
    return positions, [plain("/".join(names[p])) for p in positions]


def render_plot(rows: Sequence[Mapping[str, Any]], *, normalise_depth: bool = False) -> bytes:
    """PNG bytes of one analysis: mean per layer with a ± std band, one line per series.

    Parameters
    ----------
    rows : aggregated rows (`lwa_cli.report.table.aggregate`) of a single analysis.
    normalise_depth : x is the layer's depth in 0..1 within its model instead of the layer.

    Raises
    ------
    ValueError : `rows` is empty or mixes analyses.
    """
    analyses = {row["analysis"] for row in rows}
    if len(analyses) != 1:
        raise ValueError(f"render_plot needs rows of one analysis, got {sorted(analyses)}")
    analysis = analyses.pop()
    lines = series_of(rows)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(8.0, 4.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        colours = matplotlib.colormaps["tab10"].colors
        for i, (label, points) in enumerate(lines.items()):
            key = "depth" if normalise_depth else "layer_index"
            x = np.array([p[key] for p in points], dtype=np.float64)
            mean = np.array([p["mean"] for p in points], dtype=np.float64)
            std = np.array([p["std"] for p in points], dtype=np.float64)
            colour = colours[i % len(colours)]
            style = _LINESTYLES[(i // len(colours)) % len(_LINESTYLES)]
            ax.plot(x, mean, color=colour, linestyle=style, marker="o", markersize=3.5,
                    linewidth=1.6, label=plain(label))
            ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
        if normalise_depth:
            ax.set_xlabel("normalised depth (0 = first conv layer, 1 = last transformer layer)")
            ax.set_xlim(-0.03, 1.03)
        else:
            positions, labels = _layer_ticks(rows)
            ax.set_xticks(positions, labels, rotation=90 if len(positions) > _MANY_TICKS else 0,
                          fontsize=8 if len(positions) > _MANY_TICKS else 10)
            ax.set_xlabel("layer")
        ax.set_ylabel(y_label(analysis))
        ax.set_title(plain(f"{TITLES.get(analysis, analysis)} [{analysis}]"))
        if len(lines) > 6:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      frameon=False)
        else:
            ax.legend(fontsize=9, loc="best")
        buffer = io.BytesIO()
        # No "Software" entry: the bytes do not change with the matplotlib version.
        fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
