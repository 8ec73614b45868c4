"""Draw the figure descriptions of `figdata` as PNG, PDF or SVG bytes.

Figures are drawn through `matplotlib.figure.Figure` on a non-GUI canvas, never through
pyplot, so no backend is touched and no global figure state is shared. Output is
deterministic: fixed sizes, fonts and series order, no timestamps or software version in
the file, a fixed SVG id salt.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

FORMATS = ("png", "pdf", "svg")
"""Image formats `render` writes."""

_STYLE = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "lwa",  # SVG element ids from a fixed salt, not a random one
    "svg.fonttype": "none",
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, as journals ask
}
_METADATA = {"png": {"Software": None},
             "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             "svg": {"Creator": None, "Date": None}}
_PANEL_SIZE = {"profile": (7.0, 2.2), "analysis": (5.6, 3.2), "overview": (2.8, 2.1)}
_CONV_WIDTH = 0.45  # width of a conv panel relative to the transformer panel


def plain(text: str) -> str:
    """Text shown literally: a ``$`` would otherwise start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _nan(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _draw_panel(ax: Any, panel: Mapping[str, Any], colours: tuple) -> None:
    if not panel["series"]:
        ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center",
                color="0.5")
        ax.set_xticks([])
    for s in panel["series"]:
        x, y, std = _nan(s["x"]), _nan(s["y"]), _nan(s["std"])
        colour = colours[s["colour"] % len(colours)]
        dashed = s["style"] == "dashed"
        # More lines than colours: later rounds of the colour cycle are dash-dotted, dotted.
        solid = ("-", "-.", ":")[(s["colour"] // len(colours)) % 3]
        if s["style"] == "baseline":  # a baseline of the score (figdata._overlay_series)
            ax.plot(x, y, color=colour, linestyle=(":", "-.", "--")[s.get("dash", 0) % 3],
                    linewidth=1.1, alpha=0.8,
                    label=plain(s["label"]))
            continue
        # NaN breaks the line: no segment is drawn across a layer without a result.
        ax.plot(x, y, color=colour, linestyle="--" if dashed else solid,
                marker="o" if not dashed else "x", markersize=3, linewidth=1.4,
                label=plain(s["label"]))
        if np.isfinite(std).any():
            ax.fill_between(x, y - std, y + std, color=colour, alpha=0.18, linewidth=0)
    for b in panel["baselines"]:
        ax.axhline(b["value"], color="0.35", linestyle=":", linewidth=1.2,
                   label=plain(b["label"]))
    if panel["ylim"]:
        ax.set_ylim(*panel["ylim"])
    if panel["block"] == "conv":
        ticks = sorted({v for s in panel["series"] for v in s["x"]})
        ax.set_xticks(ticks, [f"C{int(t)}" for t in ticks], fontsize=7)
    elif panel.get("x_label", "").startswith("transformer depth"):
        ax.set_xlim(-0.03, 1.03)
    else:
        ticks = sorted({v for s in panel["series"] for v in s["x"]})
        if ticks:
            ax.set_xticks(ticks[::math.ceil(len(ticks) / 7)])
    ax.set_xlabel(plain(panel["x_label"]))
    ax.set_ylabel(plain(panel["y_label"]))
    if panel["title"]:
        ax.set_title(plain(panel["title"]), fontsize=9)


def render(figure: Mapping[str, Any], fmt: str = "png", dpi: int = 300) -> bytes:
    """The bytes of one figure description (`lwa_cli.report.figdata`) in `fmt`.

    Raises
    ------
    ValueError : an unknown format or a non-positive dpi.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, not {dpi}")
    rows, cols = figure["grid"]
    kind = figure["kind"]
    width, height = _PANEL_SIZE[kind]
    conv_split = kind == "analysis" and cols == 2
    ratios = [_CONV_WIDTH, 1.0] if conv_split else [1.0] * cols
    with matplotlib.rc_context(_STYLE):
        fig_width = max(width * sum(ratios), 6.0 if kind == "overview" else 0.0)
        fig = Figure(figsize=(fig_width, height * rows + 0.6), layout="constrained")
        grid = fig.add_gridspec(rows, cols, width_ratios=ratios)
        colours = matplotlib.colormaps["tab10"].colors
        axes = {}
        for panel in figure["panels"]:
            share = axes.get((panel["row"], 0)) if kind != "profile" and conv_split else None
            ax = fig.add_subplot(grid[panel["row"], panel["col"]], sharey=share)
            axes[(panel["row"], panel["col"])] = ax
            _draw_panel(ax, panel, colours)
        _legends(fig, figure, axes)
        fig.suptitle(plain(figure["title"]), fontsize=11)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    return buffer.getvalue()


def _legends(fig: Figure, figure: Mapping[str, Any], axes: Mapping[tuple[int, int], Any]
             ) -> None:
    """A legend per panel row (profile, analysis) or one for the whole grid (overview)."""
    if figure["kind"] == "overview":
        handles: dict[str, Any] = {}
        for ax in axes.values():
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        if handles:
            # As many columns as fit the figure's width (7 pt text: ~0.055 in a character,
            # plus the line sample), so that no label runs off the page.
            longest = max(len(label) for label in handles) * 0.055 + 0.6
            fits = int(fig.get_figwidth() // longest)
            fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                       ncol=max(1, min(3, len(handles), fits)), fontsize=7, frameon=False)
        return
    for (row, col), ax in sorted(axes.items()):
        last = max(c for r, c in axes if r == row)
        if col == last and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      frameon=False)
